//! `hesim trace gen --packing circulant --block B --mode falcon|privcirnet`: valid traces (the
//! trace validator is the reference), the header label and notes, and bad input (a block size
//! outside {2, 4, 8}, a hidden layer the block does not divide, the options on another packing)
//! refused with exit 2 and no trace written.

mod common;
use common::hesim;

/// A conv then a 12-channel 1×1 conv `mid` (8 does not divide 12) and a classifier.
const ODD: &str = r#"
name = "odd"
input = [1, 6, 6]
[[layers]]
type = "conv"
out = 12
kernel = 3
[[layers]]
type = "poly"
coefficients = [0.1, 0.5, 0.25]
[[layers]]
type = "conv"
name = "mid"
out = 12
kernel = 1
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 10
"#;

/// An 8-channel input: the first conv is circulant, so PrivCirNet's client sends its DFT.
const EIGHT: &str = r#"
name = "eight"
input = [8, 6, 6]
[[layers]]
type = "conv"
out = 8
kernel = 3
pad = 1
[[layers]]
type = "poly"
coefficients = [0.1, 0.5, 0.25]
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 10
"#;

fn trace_gen(args: &[&str], out: &std::path::Path) -> (i32, String, String) {
    let mut all = vec!["trace", "gen"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    hesim(&all)
}

#[test]
fn circulant_traces_are_valid_and_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("lenet.jsonl");
    for (block, mode) in [("2", "falcon"), ("8", "privcirnet")] {
        let (code, out, err) = trace_gen(
            &[
                "--net",
                "lenet",
                "--packing",
                "circulant",
                "--block",
                block,
                "--mode",
                mode,
            ],
            &trace,
        );
        assert_eq!(code, 0, "{err}");
        let label = format!("circulant-b{block}-{mode}");
        assert!(
            out.contains("conv2.dft") && out.contains("linear1.spectral"),
            "{out}"
        );
        assert!(
            out.contains(&format!("note: packing {label}: ")) && out.contains("reconstruction"),
            "{out}"
        );
        let (code, out, err) = hesim(&["trace", "validate", trace.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("packing {label}")), "{out}");
    }
    let net = dir.path().join("eight.toml");
    std::fs::write(&net, EIGHT).unwrap();
    let net = net.to_str().unwrap();
    let (code, out, err) = trace_gen(
        &[
            "--net",
            net,
            "--packing",
            "circulant",
            "--mode",
            "privcirnet",
        ],
        &trace,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("circulant-b4-privcirnet-client-dft")
            && out.contains("computes the input's DFT"),
        "{out}"
    );
    assert!(!out.contains("conv1.dft"), "{out}");
}

#[test]
fn bad_circulant_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("bad.jsonl");
    let odd = dir.path().join("odd.toml");
    std::fs::write(&odd, ODD).unwrap();
    let odd = odd.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--net", "lenet", "--packing", "circulant", "--block", "3"],
            &["block size 3", "2, 4 or 8"],
        ),
        (
            &["--net", odd, "--packing", "circulant", "--block", "8"],
            &["`mid`", "block 8 must divide", "(12 and 12)"],
        ),
        (
            &["--net", "lenet", "--packing", "dense", "--block", "4"],
            &["--block and --mode apply to the circulant packing only"],
        ),
        (
            &["--net", "lenet", "--packing", "circulant", "--mode", "lola"],
            &["unknown circulant mode `lola`"],
        ),
    ];
    for (args, needles) in cases {
        let (code, _, err) = trace_gen(args, &trace);
        assert_eq!(code, 2, "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: {err}");
        }
        assert!(!trace.exists(), "{args:?} left a trace");
    }
    // the same network with a block that divides `mid` compiles: the first conv (one input
    // channel) and the classifier (10 classes) stay dense
    let (code, out, err) = trace_gen(
        &["--net", odd, "--packing", "circulant", "--block", "4"],
        &trace,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("mid.spectral") && !out.contains("conv1.dft"),
        "{out}"
    );
}
