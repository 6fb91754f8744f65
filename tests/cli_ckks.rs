//! `hesim ckks bootstrap`: a real bootstrap at a small insecure N (precision measured against
//! the f64 slot values inside the command), `hesim ckks ops` at a small N, and bad input exits 2
//! without output.

mod common;
use common::hesim;

#[test]
fn bootstrap_small_ring_reports_precision_and_phases() {
    let (code, out, err) = hesim(&[
        "ckks",
        "bootstrap",
        "--log-n",
        "10",
        "--slots",
        "128",
        "--hamming-weight",
        "64",
        "--levels-after",
        "1",
        "--trials",
        "1",
        "--allow-insecure",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    // 2^5 of headroom q_0/Δ is meant for N = 2^16; at N = 2^10 the message coefficients are
    // 2^3 larger relative to q_0 and the sine's curvature costs ≈ 2 bits. Keys and noise are
    // fresh randomness each run: 12 runs gave worst 12.6–13.5 bits, mean 13.6–14.6 (a bound of
    // 13 on the worst slot failed 1 run in 12), so the bounds sit a margin below both; a broken
    // bootstrap gives a few bits at most.
    assert!(r["worst_bits"].as_f64().unwrap() >= 12.0, "{r}");
    assert!(r["mean_bits"].as_f64().unwrap() >= 13.0, "{r}");
    assert!(r["mean_bits"].as_f64().unwrap() > r["worst_bits"].as_f64().unwrap());
    // `--levels-after` counts L_eff as the recipes do: 1 level to compute on, 2 limbs after
    // the bootstrap, on the chain `trace gen --net bootstrap` builds for the same recipe.
    assert_eq!(r["output_level"], 2, "{r}");
    assert_eq!(r["levels_after"], 1, "{r}");
    let limbs = r["q_bits"].as_array().unwrap().len();
    assert_eq!(
        limbs as u64,
        r["params"]["level_budget"].as_u64().unwrap() + 2,
        "{r}"
    );
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("boot.jsonl");
    let p = &r["params"];
    let flag = |key: &str| p[key].to_string();
    let (cts, stc, degree, angles) = (
        flag("cts_levels"),
        flag("stc_levels"),
        flag("eval_mod_degree"),
        flag("double_angle"),
    );
    let (code, _, err) = hesim(&[
        "trace",
        "gen",
        "--net",
        "bootstrap",
        "--log-n",
        "10",
        "--levels-after",
        "1",
        "--cts-levels",
        &cts,
        "--stc-levels",
        &stc,
        "--eval-mod-degree",
        &degree,
        "--double-angle",
        &angles,
        "--allow-insecure",
        "--out",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&trace).unwrap();
    let header: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        header["q_bits"].as_array().unwrap().len(),
        limbs,
        "{header}"
    );
    for phase in ["mod_raise", "coeff_to_slot", "eval_mod", "slot_to_coeff"] {
        assert!(
            r["phase_seconds"][phase].as_f64().unwrap() >= 0.0,
            "{phase}"
        );
    }
    assert!(r["key_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn bootstrap_bad_input_exits_2_without_output() {
    let cases: [&[&str]; 7] = [
        // Slots not a power of two dividing N/2, more than N/2, none.
        &["--log-n", "10", "--slots", "96", "--allow-insecure"],
        &["--log-n", "10", "--slots", "1024", "--allow-insecure"],
        &["--log-n", "10", "--slots", "0", "--allow-insecure"],
        // The recipe's level budget does not fit the chain (no level left).
        &["--log-n", "10", "--levels-after", "0", "--allow-insecure"],
        // No 128-bit bound for a sparse secret at N = 2^10 without the opt-in.
        &["--log-n", "10"],
        &["--log-n", "10", "--trials", "0", "--allow-insecure"],
        // An EvalMod range of 0 covers no overflow.
        &["--log-n", "10", "--eval-mod-range", "0", "--allow-insecure"],
    ];
    for args in cases {
        let mut all = vec!["ckks", "bootstrap"];
        all.extend_from_slice(args);
        let (code, out, err) = hesim(&all);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?} printed {out}");
        assert!(err.contains("error"), "{args:?}: {err}");
    }
}

#[test]
fn ops_small_ring_times_the_five_ops() {
    let (code, out, err) = hesim(&[
        "ckks",
        "ops",
        "--log-n",
        "10",
        "--limbs",
        "3",
        "--reps",
        "2",
        "--allow-insecure",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["limbs"], 3);
    // The widest digit (one 60-bit prime) needs one 60-bit special prime.
    assert_eq!(r["special_primes"], 1);
    for op in ["mul_relin", "rotate", "rescale", "mul_plain", "add"] {
        let ms = &r["ops"][op];
        assert!(
            ms["min_ms"].as_f64().unwrap() <= ms["median_ms"].as_f64().unwrap(),
            "{op}"
        );
    }
}

#[test]
fn ops_bad_input_exits_2_without_output() {
    let cases: [&[&str]; 4] = [
        &[
            "--log-n",
            "10",
            "--limbs",
            "3",
            "--reps",
            "0",
            "--allow-insecure",
        ],
        // A rotation by a step without a key: the library's MissingRotationKey, named.
        &[
            "--log-n",
            "10",
            "--limbs",
            "3",
            "--rotate-step",
            "3",
            "--rotation-keys",
            "1,2",
            "--allow-insecure",
        ],
        &["--log-n", "10", "--limbs", "0", "--allow-insecure"],
        // No 128-bit bound holds at N = 2^10 for 25 primes without the opt-in.
        &["--log-n", "10"],
    ];
    for args in cases {
        let mut all = vec!["ckks", "ops"];
        all.extend_from_slice(args);
        let (code, out, err) = hesim(&all);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?} printed {out}");
        assert!(err.contains("error"), "{args:?}: {err}");
        if args.contains(&"--rotation-keys") {
            assert!(
                err.contains("no rotation key for step 3") && err.contains("[1, 2]"),
                "{err}"
            );
        }
    }
}
