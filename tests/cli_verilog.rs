//! The `hesim verilog` commands as a user runs them: exit codes, messages, files written.

mod common;
use common::hesim;

#[test]
fn butterfly_writes_a_design_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bf");
    let out_arg = out.to_str().unwrap();
    let (code, stdout, stderr) = hesim(&[
        "verilog",
        "butterfly",
        "--width",
        "32",
        "--vectors",
        "10",
        "--seed",
        "3",
        "--out",
        out_arg,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("latency 7 cycles, II 1"), "{stdout}");
    for file in ["butterfly.v", "tb.v", "vectors.hex", "manifest.json"] {
        assert!(out.join(file).is_file(), "{file} written");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporaries left: {leftovers:?}");
}

/// The special-prime variant writes a directory for its fixed prime (2^31 − 2^19 + 1).
#[test]
fn special_prime_butterfly_writes_a_design_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sp");
    let (code, stdout, stderr) = hesim(&[
        "verilog",
        "butterfly",
        "--width",
        "32",
        "--variant",
        "special-prime",
        "--vectors",
        "10",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("32-bit special-prime butterfly for q = 2146959361, latency 7 cycles"),
        "{stdout}"
    );
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"fixed_modulus\": 2146959361"),
        "{manifest}"
    );
    let tb = std::fs::read_to_string(out.join("tb.v")).unwrap();
    assert!(
        !tb.contains(".w_shoup("),
        "no Shoup ports on the special-prime design"
    );
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bf");
    let out_arg = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["--width", "48"], "unsupported width 48"),
        (
            vec!["--width", "32", "--variant", "montgomery"],
            "unsupported variant `montgomery`: use `shoup`",
        ),
        (
            vec!["--width", "32", "--vectors", "0"],
            "vector count 0 is out of range",
        ),
    ] {
        let mut full = vec!["verilog", "butterfly", "--out", out_arg];
        full.extend(args);
        let (code, _, stderr) = hesim(&full);
        assert_eq!(code, 2, "{full:?}: {stderr}");
        assert!(stderr.contains(needle), "{full:?}: {stderr}");
        assert!(!out.exists(), "{full:?}: nothing written");
    }
    let (code, _, stderr) = hesim(&["verilog", "ntt", "--log-n", "11", "--out", out_arg]);
    assert_eq!(code, 2);
    assert!(stderr.contains("supports --log-n 4 ..= 10"), "{stderr}");
    let (code, _, stderr) = hesim(&[
        "verilog",
        "ntt",
        "--log-n",
        "10",
        "--modulus-bits",
        "40",
        "--out",
        out_arg,
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--modulus-bits = 40 is out of range"),
        "{stderr}"
    );
    assert!(!out.exists());
    let (code, _, stderr) = hesim(&["verilog", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("manifest.json"), "{stderr}");
    let (code, _, stderr) = hesim(&[
        "verilog",
        "check",
        dir.path().to_str().unwrap(),
        "--simulators",
        "modelsim",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("use --simulators both, icarus or verilator"),
        "{stderr}"
    );
    let (code, _, stderr) = hesim(&["verilog", "synth", out_arg, "--family", "ecp5"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("use xc7, xcup or ice40"), "{stderr}");
}

/// The NTT unit, automorphism unit and fit reject shapes they cannot build with exit 2 and the
/// constraint, writing nothing.
#[test]
fn unbuildable_units_exit_2_with_the_constraint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("unit");
    let out_arg = out.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["ntt-unit", "--lanes", "12"],
            "P (--lanes) must be a power of two in 1 ..= 64",
        ),
        (
            vec!["ntt-unit", "--lanes", "128"],
            "P (--lanes) must be a power of two in 1 ..= 64",
        ),
        (
            vec!["ntt-unit", "--log-n", "17"],
            "log2 N (--log-n) must be in 4 ..= 16",
        ),
        (
            vec!["ntt-unit", "--log-n", "6", "--lanes", "32"],
            "N must be at least 4P",
        ),
        (vec!["ntt-unit", "--width", "54"], "unsupported width 54"),
        (
            vec!["ntt-unit", "--modulus-bits", "40"],
            "--modulus-bits = 40 is out of range",
        ),
        (
            vec!["automorphism", "--lanes", "1"],
            "P (--lanes) must be a power of two in 2 ..= 64",
        ),
        (
            vec!["fit", "--word", "70"],
            "no unit word holds 70-bit primes",
        ),
        (vec!["fit", "--device", "vu9p"], "unknown device `vu9p`"),
    ] {
        let mut full = vec!["verilog"];
        full.extend(args);
        full.extend(["--out", out_arg]);
        let (code, _, stderr) = hesim(&full);
        assert_eq!(code, 2, "{full:?}: {stderr}");
        assert!(stderr.contains(needle), "{full:?}: {stderr}");
        assert!(!out.exists(), "{full:?}: nothing written");
    }
}

/// The fit fragment is an architecture `hesim sim --arch` accepts (the `fpga` preset with the
/// fitted units).
#[test]
fn fit_writes_a_fragment_the_simulator_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fit.toml");
    let (code, stdout, stderr) = hesim(&[
        "verilog",
        "fit",
        "--device",
        "u280",
        "--word",
        "54",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("butterflies (64-bit word)"), "{stdout}");
    let arch = hesim_sim::ArchLoader::new(out.to_str().unwrap())
        .and_then(|l| l.build())
        .expect("the fragment loads");
    assert_eq!(arch.word_bits, 54);
    assert_eq!(arch.ntt.algorithm, hesim_sim::arch::NttAlgorithm::Radix2);
    assert!(arch.ntt.lanes.is_power_of_two() && arch.ntt.lanes <= 64);
}
