//! Issue #17's reproducers as a user meets them. Every bad input must exit 2 with a message
//! that says what is wrong, where and how to fix it: no panic, no allocation abort, no partial
//! output. Each command runs with its address space capped at 4 GB (`ulimit -v`), so a
//! runaway allocation fails the test (as an abort) instead of exhausting the machine. The
//! inputs are the reproducers themselves, kept as fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Exit code, stdout and stderr of `hesim ARGS...` under a 4 GB `ulimit -v`, with `env` set.
fn hesim_limited(args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 022 && ulimit -v 4000000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_hesim"))
        .args(args)
        .envs(env.iter().map(|&(k, v)| (k, v)))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn trace_fixture(name: &str) -> String {
    fixture_path(&format!("traces/fixtures/invalid/{name}"))
}

fn fixture(name: &str) -> String {
    fixture_path(&format!("tests/fixtures/robustness/{name}"))
}

fn fixture_path(relative: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    assert!(p.exists(), "{}", p.display());
    p.to_str().unwrap().to_owned()
}

/// Runs `args` and checks: exit 2, no panic, every fragment in the message.
fn rejects(args: &[&str], env: &[(&str, &Path)], fragments: &[&str]) -> String {
    let (code, stdout, stderr) = hesim_limited(args, env);
    assert_eq!(
        code, 2,
        "{args:?}: exit {code}\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "{args:?}: no {f:?} in: {stderr}");
    }
    stderr
}

#[test]
fn levels_far_above_the_chain_are_a_level_range_error_without_allocating() {
    for name in ["level-range-4e9.jsonl", "level-range-1e9.jsonl"] {
        let t = trace_fixture(name);
        rejects(
            &["trace", "validate", &t],
            &[],
            &["[level-range]", "outside 1..=2", ":2:"],
        );
        rejects(&["trace", "stats", &t], &[], &["[level-range]"]);
        rejects(&["sim", "--trace", &t], &[], &["level-range"]);
    }
    let t = fixture("level-range-2444444444-expanded-bootstrap.jsonl");
    rejects(
        &["sim", "--trace", &t, "--set", "word_bits=64"],
        &[],
        &["level-range", "2444444444"],
    );
}

#[test]
fn crafted_bootstrap_parameters_are_rejected_by_validate_and_sim() {
    let cases = [
        (
            "bootstrap-params-cts-levels-u32-wrap.jsonl",
            "28",
            "`cts_levels` = 4294967295",
        ),
        (
            "bootstrap-params-eval-mod-degree-2pow30.jsonl",
            "28",
            "`eval_mod_degree` = 1073741824",
        ),
        ("bootstrap-params-zero-stages.jsonl", "36", "`slots` = 1"),
        (
            "bootstrap-params-zero-stages-rescale.jsonl",
            "36",
            "`slots` = 1",
        ),
        ("bootstrap-params-stc-levels-100.jsonl", "36", "`slots` = 1"),
    ];
    for (name, word_bits, field) in cases {
        let t = trace_fixture(name);
        rejects(
            &["trace", "validate", &t],
            &[],
            &["[bootstrap-params]", field, ":3:"],
        );
        rejects(
            &[
                "sim",
                "--trace",
                &t,
                "--set",
                &format!("word_bits={word_bits}"),
            ],
            &[],
            &["bootstrap-params", field],
        );
    }
}

/// The fast scanner and serde give the same verdict: each pair differs only in which parser
/// reads the bad line.
#[test]
fn control_bytes_and_negative_zero_are_rejected_by_either_parser() {
    for (name, rule) in [
        ("syntax-control-byte-fast-shape.jsonl", "[syntax]"),
        ("syntax-control-byte-serde-shape.jsonl", "[syntax]"),
        ("schema-negative-zero-id-fast-shape.jsonl", "[schema]"),
        ("schema-negative-zero-id-serde-shape.jsonl", "[schema]"),
    ] {
        rejects(
            &["trace", "validate", &trace_fixture(name)],
            &[],
            &[rule, ":2:"],
        );
    }
}

#[test]
fn extreme_architecture_numbers_are_rejected_naming_the_key() {
    let t = fixture_path("traces/fixtures/valid/small.jsonl");
    for (set, key) in [
        (
            "hbm.latency_ns=1e20",
            "`hbm.latency_ns` = 100000000000000000000",
        ),
        ("hbm.bandwidth_gb_s=1e-300", "`hbm.bandwidth_gb_s`"),
        (
            "scratchpad.bandwidth_bytes_per_cycle=1e-15",
            "`scratchpad.bandwidth_bytes_per_cycle`",
        ),
        ("clock_ghz=nan", "`clock_ghz` = NaN"),
        (
            "ntt.lanes=4294967295",
            "`ntt.lanes` = 4294967295 must be at most",
        ),
    ] {
        rejects(
            &["sim", "--trace", &t, "--set", "word_bits=64", "--set", set],
            &[],
            &[key, "must be"],
        );
    }
    rejects(
        &[
            "sim",
            "--trace",
            &t,
            "--set",
            "word_bits=64",
            "--set",
            "policy.dnum=1000",
        ],
        &[],
        &["`policy.dnum` = 1000", "5-limb chain"],
    );
}

#[test]
fn mnist_header_dimensions_that_overflow_are_an_error() {
    let data = PathBuf::from(fixture("mnist-idx-overflow"));
    rejects(
        &[
            "infer",
            "--weights",
            "random",
            "--images",
            "1",
            "--backend",
            "plain",
        ],
        &[("HESIM_DATA", &data)],
        &["t10k-images-idx3-ubyte.gz", "the header announces"],
    );
}

#[test]
fn nan_weights_are_rejected_naming_the_tensor() {
    let empty = tempfile::tempdir().unwrap();
    rejects(
        &[
            "infer",
            "--images",
            "5",
            "--backend",
            "plain",
            "--weights",
            &fixture("lenet-nan-weights.safetensors"),
        ],
        &[("HESIM_DATA", empty.path())],
        &["tensor `conv1.weight` holds NaN at index 0", "finite"],
    );
}

#[test]
fn oversized_networks_are_rejected_before_allocating_and_leave_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jsonl");
    let out_s = out.to_str().unwrap();
    for (net, fragments) in [
        (
            "net-linear-out-1e12.toml",
            &["layer `linear2`", "more than 67108864 weights"][..],
        ),
        (
            "net-input-shape-overflow.toml",
            &[
                "layer `input`",
                "1×4294967296×4294967296",
                "more than 16777216 elements",
            ][..],
        ),
    ] {
        rejects(
            &["trace", "gen", "--net", &fixture(net), "--out", out_s],
            &[],
            fragments,
        );
        assert!(!out.exists(), "{net}: partial output");
    }
}

#[test]
fn resnet_options_that_divide_by_zero_or_explode_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jsonl");
    let out_s = out.to_str().unwrap();
    rejects(
        &[
            "trace",
            "gen",
            "--net",
            "resnet20",
            "--packing",
            "spencnn",
            "--groups",
            "0",
            "--out",
            out_s,
        ],
        &[],
        &["--groups 0", "at least 1"],
    );
    rejects(
        &[
            "trace",
            "gen",
            "--net",
            "resnet20",
            "--packing",
            "multiplexed",
            "--act-degree",
            "1000000000",
            "--out",
            out_s,
        ],
        &[],
        &["--act-degree 1000000000", "1..=1023"],
    );
    assert!(!out.exists());
}

#[test]
fn sweep_grids_too_large_to_enumerate_are_rejected_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for (spec, count) in [
        (
            "sweep-grid-overflow.toml",
            "70000 (ntt.lanes) × 70000 (automorphism.lanes)",
        ),
        (
            "sweep-grid-1e9.toml",
            "1000 (ntt.lanes) × 1000 (automorphism.lanes)",
        ),
    ] {
        let out = dir.path().join(spec);
        rejects(
            &[
                "sweep",
                &fixture(spec),
                "--out",
                out.to_str().unwrap(),
                "--dry-run",
            ],
            &[],
            &[count, "above the cap of 1000000"],
        );
        assert!(!out.exists(), "{spec}: partial output");
    }
    rejects(
        &[
            "sweep",
            &fixture("sweep-grid-1e9.toml"),
            "--out",
            dir.path().join("s").to_str().unwrap(),
            "--shard-count",
            "0",
        ],
        &[],
        &["--shard-count 0", "at least one shard"],
    );
}

/// `sim --out D` where `D/manifest.json` is a directory, and a `--timeline` that cannot be
/// written: nothing at all is written.
#[test]
fn sim_outputs_are_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = fixture_path("traces/fixtures/valid/small.jsonl");
    let out = dir.path().join("run");
    std::fs::create_dir_all(out.join("manifest.json")).unwrap();
    let timeline = dir.path().join("timeline.json");
    rejects(
        &[
            "sim",
            "--trace",
            &t,
            "--set",
            "word_bits=64",
            "--out",
            out.to_str().unwrap(),
            "--timeline",
            timeline.to_str().unwrap(),
        ],
        &[],
        &["manifest.json", "is a directory"],
    );
    assert!(!timeline.exists());
    assert!(!out.join("results.json").exists());
    assert!(!out.join("resolved.toml").exists());
}

/// A missing file is named once, not once per error layer.
#[test]
fn a_missing_trace_is_named_once() {
    let stderr = rejects(
        &["trace", "validate", "no-such-trace.jsonl"],
        &[],
        &["no-such-trace.jsonl"],
    );
    assert_eq!(stderr.matches("no-such-trace.jsonl").count(), 1, "{stderr}");
}

/// Result files get the mode an ordinary file would (0666 less the umask), so others sharing
/// the results folder can read them.
#[cfg(unix)]
#[test]
fn results_are_readable_by_the_group() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let t = fixture_path("traces/fixtures/valid/small.jsonl");
    let out = dir.path().join("run");
    let (code, _, stderr) = hesim_limited(
        &[
            "sim",
            "--trace",
            &t,
            "--set",
            "word_bits=64",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    for f in ["results.json", "resolved.toml", "manifest.json"] {
        let mode = std::fs::metadata(out.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o044, 0o044, "{f}: mode {mode:o}");
    }
}

#[test]
fn options_that_were_silently_ignored_or_misread_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jsonl");
    let out_s = out.to_str().unwrap();
    rejects(
        &[
            "trace",
            "gen",
            "--net",
            "bootstrap",
            "--limbs",
            "12",
            "--out",
            out_s,
        ],
        &[],
        &["--limbs 12", "--levels-after"],
    );
    rejects(
        &[
            "trace",
            "gen",
            "--net",
            "lenet",
            "--sparsity",
            "-0.5",
            "--out",
            out_s,
        ],
        &[],
        &["sparsity -0.5 must be in [0, 1)"],
    );
    assert!(!out.exists());
}

/// A layer name holding an ESC byte reaches the terminal escaped, not as a control sequence.
#[test]
fn control_bytes_from_a_trace_are_escaped_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("esc.jsonl");
    let small = std::fs::read_to_string(fixture_path("traces/fixtures/valid/small.jsonl")).unwrap();
    std::fs::write(&path, small.replace("\"conv1\"", "\"\\u001b[2Jconv1\"")).unwrap();
    let (code, stdout, stderr) = hesim_limited(&["trace", "stats", path.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\\u{1b}[2Jconv1"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
}

/// `report --out D` where `D/index.html` is a directory: refused before any figure is drawn.
#[test]
fn report_outputs_are_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let t = fixture_path("traces/fixtures/valid/small.jsonl");
    let run = runs.join("small");
    let (code, _, stderr) = hesim_limited(
        &[
            "sim",
            "--trace",
            &t,
            "--set",
            "word_bits=64",
            "--out",
            run.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let out = dir.path().join("report");
    std::fs::create_dir_all(out.join("index.html")).unwrap();
    rejects(
        &[
            "report",
            runs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        &["index.html", "is a directory"],
    );
    let written: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(
        written.len(),
        1,
        "only the directory that was there: {written:?}"
    );
}
