//! `hesim sim` as a user runs it: outputs, exit codes, messages.

mod common;
use common::hesim;

use std::path::Path;

use hesim_sim::SimResult;

/// Writes a small synthetic CNN trace (30-bit primes, N = 2^14) into `dir`.
fn cnn_trace(dir: &Path) -> String {
    let (header, ops) = hesim_sim::pattern::cnn_trace(300);
    let path = dir.join("cnn.jsonl");
    let mut w = hesim_traces::create(&path, &header).unwrap();
    for op in &ops {
        w.write_op(op).unwrap();
    }
    w.finish().unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn out_dir_has_results_resolved_config_and_manifest_and_the_config_reruns() {
    let dir = tempfile::tempdir().unwrap();
    let trace = cnn_trace(dir.path());
    let out = dir.path().join("run");
    let timeline = dir.path().join("timeline.json");
    let (code, stdout, stderr) = hesim(&[
        "sim",
        "--arch",
        "default",
        "--set",
        "hbm.bandwidth_gb_s=256",
        "--trace",
        &trace,
        "--out",
        out.to_str().unwrap(),
        "--timeline",
        timeline.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("cycles"), "{stdout}");
    let result: SimResult =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    assert!(result.cycles > 0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["arch"], "default");
    assert!(manifest["config_hash"].as_str().unwrap().len() == 16);
    let tl: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&timeline).unwrap()).unwrap();
    assert_eq!(tl.len() as u64, result.trace.tasks);

    // The resolved config is valid input and reproduces the run (with the override baked in).
    let resolved = out.join("resolved.toml");
    let (code, stdout, stderr) = hesim(&[
        "sim",
        "--arch",
        resolved.to_str().unwrap(),
        "--trace",
        &trace,
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let again: SimResult = serde_json::from_str(&stdout).unwrap();
    assert_eq!(again.cycles, result.cycles);
    let leftovers = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn unknown_key_exits_2_naming_the_key_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let trace = cnn_trace(dir.path());
    let out = dir.path().join("run");
    let (code, stdout, stderr) = hesim(&[
        "sim",
        "--set",
        "ntt.lane=512",
        "--trace",
        &trace,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("unknown key `ntt.lane`"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn word_too_small_for_the_trace_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let trace = cnn_trace(dir.path());
    let (code, _, stderr) = hesim(&["sim", "--arch", "craterlake", "--trace", &trace]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("30-bit primes") && stderr.contains("word_bits"),
        "{stderr}"
    );
}

#[test]
fn count_only_prints_lowering_counts() {
    let dir = tempfile::tempdir().unwrap();
    let trace = cnn_trace(dir.path());
    let (code, stdout, stderr) = hesim(&["sim", "--trace", &trace, "--count-only"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("(i)ntt") && stdout.contains("rotate"),
        "{stdout}"
    );
    assert!(!stdout.contains("cycles"));
}
