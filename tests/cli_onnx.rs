//! `--net model.onnx` as a user runs it, on the files `scripts/onnx/make_fixtures.py` writes
//! with the PyPI `onnx` package: the SpENCNN LeNet export compiles to the same program as the
//! built-in LeNet with its checkpoint, and each malformed model exits 2 naming the node, with
//! no output file left behind.

mod common;

use common::hesim;

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name);
    assert!(p.exists(), "{}", p.display());
    p.to_str().unwrap().to_owned()
}

/// The op summary line of `trace gen` without the file name and weight label.
fn summary(stdout: &str) -> String {
    let line = stdout.lines().next().unwrap_or_default();
    line.split_once("weights): ")
        .map_or(line, |(_, ops)| ops)
        .to_owned()
}

#[test]
fn the_onnx_lenet_compiles_to_the_builtin_lenet_program() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("onnx.jsonl");
    let (code, stdout, stderr) = hesim(&[
        "trace",
        "gen",
        "--net",
        &fixture("lenet_specnn.onnx"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(onnx weights)"), "{stdout}");
    // The learned activations arrive as Mul/Add nodes and are said to be fused.
    assert_eq!(
        stderr.matches("fused into the polynomial").count(),
        3,
        "{stderr}"
    );
    let builtin = dir.path().join("builtin.jsonl");
    let (code, builtin_stdout, stderr) = hesim(&[
        "trace",
        "gen",
        "--net",
        "lenet",
        "--out",
        builtin.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary(&stdout), summary(&builtin_stdout));
    assert!(summary(&stdout).contains("1737 ops"), "{stdout}");
}

#[test]
fn relu_is_replaced_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.jsonl");
    let (code, stdout, stderr) = hesim(&[
        "trace",
        "gen",
        "--net",
        &fixture("tiny_conv.onnx"),
        "--packing",
        "dense",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("note: relu1: ReLU replaced by"), "{stdout}");
}

#[test]
fn bad_models_exit_2_naming_the_node_and_write_nothing() {
    let cases = [
        (
            "unsupported_op.onnx",
            &["`pool1`", "MaxPool", "supported: Conv"][..],
        ),
        (
            "dynamic_shape.onnx",
            &["`conv1`", "`batch`", "static shapes"],
        ),
        ("cycle.onnx", &["`grow`", "cycle"]),
        ("dangling.onnx", &["`conv2`", "`ghost`", "dangling"]),
        ("residual_mismatch.onnx", &["`shortcut`", "equal shapes"]),
        ("truncated.onnx", &["not a valid ONNX file"]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jsonl");
    for (file, needles) in cases {
        let (code, _, stderr) = hesim(&[
            "trace",
            "gen",
            "--net",
            &fixture(file),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{file}: {stderr}");
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{file}: no {needle} in {stderr}");
        }
        assert!(!out.exists(), "{file} left an output file");
    }
}

#[test]
fn weights_other_than_the_files_own_are_refused() {
    let (code, _, stderr) = hesim(&[
        "infer",
        "--net",
        &fixture("lenet_specnn.onnx"),
        "--weights",
        "other.safetensors",
        "--backend",
        "plain",
        "--images",
        "1",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("carries its own weights"), "{stderr}");
}
