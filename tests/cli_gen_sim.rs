//! `hesim trace gen` feeds `hesim sim`: a trace generated for a 32-bit word runs on the 32-bit
//! `default` preset, and the wide-prime default trace is refused with exit 2 and a hint.

mod common;
use common::hesim;

#[test]
fn generated_lenet_runs_on_the_default_preset_when_its_primes_fit_the_word() {
    let dir = tempfile::tempdir().unwrap();
    let narrow = dir.path().join("lenet32.jsonl");
    let wide = dir.path().join("lenet.jsonl");
    let (narrow, wide) = (narrow.to_str().unwrap(), wide.to_str().unwrap());

    let (code, _, err) = hesim(&[
        "trace",
        "gen",
        "--net",
        "lenet",
        "--word-bits",
        "32",
        "--out",
        narrow,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = hesim(&["sim", "--arch", "default", "--trace", narrow, "--json"]);
    assert_eq!(code, 0, "{err}");
    let result: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(result["cycles"].as_u64().unwrap() > 0, "{out}");

    let (code, _, err) = hesim(&["trace", "gen", "--net", "lenet", "--out", wide]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = hesim(&["sim", "--arch", "default", "--trace", wide]);
    assert_eq!(code, 2);
    assert!(err.contains("--word-bits"), "{err}");
}
