//! `hesim trace gen --net resnet20|bootstrap|helr` feeds `hesim trace validate` and `hesim sim`.
//! References: the trace validator (19 rules), sw/RESNET.md's op counts (8 bootstraps for the
//! 19 activations under both packings; sub-block pruning removes rotations), and the published
//! CraterLake ResNet-20 latency (249.45 ms) as an order-of-magnitude bound.

mod common;
use common::hesim;

fn gen_trace(dir: &std::path::Path, name: &str, args: &[&str]) -> String {
    let path = dir.join(name);
    let path = path.to_str().unwrap().to_owned();
    let mut all = vec!["trace", "gen"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", &path]);
    let (code, _, err) = hesim(&all);
    assert_eq!(code, 0, "{all:?}: {err}");
    let (code, out, err) = hesim(&["trace", "validate", &path]);
    assert_eq!(code, 0, "{path} is invalid: {out}{err}");
    path
}

/// `trace gen` of the TOML network `toml` (written to `dir/name.toml`) under `packing` is exit
/// 2 with every one of `needles` in the message and no trace left.
fn refused(dir: &std::path::Path, name: &str, toml: &str, packing: &str, needles: &[&str]) {
    let net = dir.join(format!("{name}.toml"));
    std::fs::write(&net, toml).unwrap();
    let trace = dir.join(format!("{name}.jsonl"));
    let (code, _, err) = hesim(&[
        "trace",
        "gen",
        "--net",
        net.to_str().unwrap(),
        "--packing",
        packing,
        "--out",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{name}: {err}");
    for n in needles {
        assert!(err.contains(n), "{name}: {err}");
    }
    assert!(!trace.exists(), "{name}: partial output");
}

fn sim_ms(trace: &str) -> f64 {
    let (code, out, err) = hesim(&["sim", "--arch", "craterlake", "--trace", trace, "--json"]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    r["time_ms"].as_f64().unwrap()
}

fn stats(trace: &str) -> serde_json::Value {
    let (code, out, err) = hesim(&["trace", "stats", trace, "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn resnet20_packings_generate_valid_traces_and_spencnn_simulates_faster() {
    let dir = tempfile::tempdir().unwrap();
    let mux = gen_trace(
        dir.path(),
        "mux.jsonl",
        &["--net", "resnet20", "--packing", "multiplexed"],
    );
    let sp = gen_trace(
        dir.path(),
        "sp.jsonl",
        &["--net", "resnet20", "--packing", "spencnn"],
    );
    let (m, s) = (stats(&mux), stats(&sp));
    for st in [&m, &s] {
        // the level planner's optimum (sw/src/nn/levels.rs; sw/ops.md explains 8 → 5)
        assert_eq!(st["stats"]["by_kind"]["bootstrap"], 5, "{st}");
    }
    let rot = |st: &serde_json::Value| st["stats"]["by_kind"]["rotate"].as_u64().unwrap();
    assert!(
        rot(&s) < rot(&m),
        "spencnn {} vs multiplexed {}",
        rot(&s),
        rot(&m)
    );
    // the diagonal packings bootstrap ResNet-20 too (placed by the same level planner)
    let dense = gen_trace(
        dir.path(),
        "dense.jsonl",
        &["--net", "resnet20", "--packing", "dense"],
    );
    assert!(
        stats(&dense)["stats"]["by_kind"]["bootstrap"]
            .as_u64()
            .unwrap()
            > 0
    );
    let (tm, ts) = (sim_ms(&mux), sim_ms(&sp));
    assert!(ts < tm, "spencnn {ts} ms vs multiplexed {tm} ms");
    assert!((10.0..2_500.0).contains(&tm), "multiplexed {tm} ms");
}

#[test]
fn bootstrap_single_op_and_expanded_forms_both_simulate() {
    let dir = tempfile::tempdir().unwrap();
    let single = gen_trace(dir.path(), "boot.jsonl", &["--net", "bootstrap"]);
    let expanded = gen_trace(
        dir.path(),
        "boot-ops.jsonl",
        &["--net", "bootstrap", "--expand-boot"],
    );
    let e = stats(&expanded);
    assert_eq!(e["stats"]["by_kind"]["mod_raise"], 1, "{e}");
    assert!(e["stats"]["by_kind"]["bootstrap"].is_null(), "{e}");
    assert!(e["stats"]["by_kind"]["rotate"].as_u64().unwrap() > 0);
    for t in [&single, &expanded] {
        let ms = sim_ms(t);
        assert!(ms > 0.1 && ms < 100.0, "{t}: {ms} ms");
    }
}

#[test]
fn impossible_resnet_and_bootstrap_options_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jsonl");
    let out = out.to_str().unwrap();
    for (args, needle) in [
        (
            &["--net", "resnet20", "--packing", "bogus"][..],
            "use multiplexed, hyphen-recon, spencnn, dense or group",
        ),
        (
            &["--net", "resnet20", "--sparsity", "0.5"][..],
            "--pruned-taps",
        ),
        (
            &[
                "--net",
                "bootstrap",
                "--expand-boot",
                "--hoisting",
                "double",
            ][..],
            "cannot be expanded",
        ),
        (
            &["--net", "resnet20", "--variant", "lee", "--limbs", "20"][..],
            "limbs = 20 is out of bounds",
        ),
        (
            &["--net", "helr", "--batch", "100"][..],
            "batch = 100 is out of bounds: must be a positive multiple of the 128 samples",
        ),
        (
            &["--net", "helr", "--limbs", "21"][..],
            "limbs = 21 is out of bounds: at least 22",
        ),
    ] {
        let mut all = vec!["trace", "gen"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--out", out]);
        let (code, _, err) = hesim(&all);
        assert_eq!(code, 2, "{all:?}: {err}");
        assert!(err.contains(needle), "{all:?}: {err}");
        assert!(!dir.path().join("x.jsonl").exists(), "{all:?} left a file");
    }
}

/// HELR256 with one iteration per bootstrap (the default 25 limbs): 31 sparse bootstraps for
/// 32 iterations, 39 rotations per iteration (sw/src/workloads/helr/tests.rs derives them).
#[test]
fn helr_generates_a_valid_trace_with_one_bootstrap_per_iteration() {
    let dir = tempfile::tempdir().unwrap();
    let path = gen_trace(
        dir.path(),
        "helr.jsonl",
        &["--net", "helr", "--batch", "256"],
    );
    let s = stats(&path);
    let kinds = &s["stats"]["by_kind"];
    assert_eq!(kinds["bootstrap"], 31, "{kinds}");
    assert_eq!(kinds["rotate"], 32 * 39, "{kinds}");
    assert_eq!(s["header"]["network"], "helr256");
}

/// Lee et al.'s ResNet-20: 18 bootstraps, and the linear layers' 1,830 rotations (key
/// switches) and 2,267 plaintext multiplies that sw/src/nn/resnet_lee/tests.rs derives from
/// their code's loops.
#[test]
fn resnet20_lee_has_eighteen_bootstraps_and_lee_et_al_linear_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = gen_trace(
        dir.path(),
        "lee.jsonl",
        &["--net", "resnet20", "--variant", "lee"],
    );
    let s = stats(&path);
    let kinds = &s["stats"]["by_kind"];
    assert_eq!(kinds["bootstrap"], 18, "{kinds}");
    assert_eq!(kinds["rotate"], 1830, "{kinds}");
    assert_eq!(kinds["mul_plain"], 2267, "{kinds}");
}

/// ResNet-18 on ImageNet (224×224×3) under multiplexed: activations over several ciphertexts
/// (the stem's 64 channels of 112×112 over 32, stage 1 over 8), a valid trace that simulates
/// on sharp; inputs the packing cannot take are exit 2 naming the layer, with no trace left.
#[test]
fn resnet18_imagenet_multiplexed_generates_and_bad_shapes_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r18.jsonl");
    let path = path.to_str().unwrap();
    let (code, out, err) = hesim(&[
        "trace",
        "gen",
        "--net",
        "resnet18",
        "--packing",
        "multiplexed",
        "--out",
        path,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("6 → 32 ciphertexts"), "{out}");
    assert!(out.contains("32 → 8 ciphertexts"), "{out}");
    let (code, out, err) = hesim(&["trace", "validate", path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        stats(path)["stats"]["by_kind"]["bootstrap"]
            .as_u64()
            .unwrap()
            > 0
    );
    let (code, out, err) = hesim(&["sim", "--arch", "sharp", "--trace", path, "--json"]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(r["time_ms"].as_f64().unwrap() > 0.0);

    let bad = |name: &str, toml: &str, needle: &str| {
        refused(dir.path(), name, toml, "multiplexed", &[needle]);
    };
    let tail = "[[layers]]\ntype = \"global_avgpool\"\n[[layers]]\ntype = \"linear\"\nout = 10\n";
    let conv = "[[layers]]\ntype = \"conv\"\nname = \"c\"\nout = 8\nkernel = 3\npad = 1\n";
    bad(
        "oblong",
        &format!("input = [3, 64, 48]\n{conv}{tail}"),
        "square input",
    );
    bad(
        "huge",
        &format!("input = [3, 4096, 4096]\n{conv}{tail}"),
        "more than 16777216 elements",
    );
    bad(
        "wide",
        &format!("input = [1, 256, 256]\n{conv}{tail}"),
        "needs more than 32768 slots",
    );
    bad(
        "pool3",
        &format!(
            "input = [3, 48, 48]\n{conv}[[layers]]\ntype = \"avgpool\"\nname = \"p\"\nkernel = 3\n{tail}"
        ),
        "`p`",
    );
}

/// `hyphen-recon` (CAConv / RAConv, reconstructed from HyPHEN's abstracts): ResNet-20 with
/// AESPA activations and ResNet-18 on ImageNet give valid traces whose header says they are a
/// reconstruction, ResNet-20 with fewer rotations than `multiplexed` (the point of the
/// alternation, `shared/docs/hyphen-mpcnn.md` §3); layers it cannot pack are exit 2 naming the
/// layer and the constraint, with no trace left.
#[test]
fn hyphen_recon_generates_labelled_traces_and_refuses_layers_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let aespa = ["--net", "resnet20", "--aespa", "--packing"];
    let hy = gen_trace(
        dir.path(),
        "hy.jsonl",
        &[&aespa[..], &["hyphen-recon"]].concat(),
    );
    let mux = gen_trace(
        dir.path(),
        "mux.jsonl",
        &[&aespa[..], &["multiplexed"]].concat(),
    );
    let (h, m) = (stats(&hy), stats(&mux));
    assert!(
        h["header"]["packing"]
            .as_str()
            .unwrap()
            .contains("reconstruction from the abstracts, not HyPHEN's published algorithm"),
        "{h}"
    );
    let rot = |st: &serde_json::Value| st["stats"]["by_kind"]["rotate"].as_u64().unwrap();
    assert!(
        rot(&h) < rot(&m),
        "hyphen-recon {} vs multiplexed {}",
        rot(&h),
        rot(&m)
    );
    let r18 = dir.path().join("r18.jsonl");
    let (code, out, err) = hesim(&[
        "trace",
        "gen",
        "--net",
        "resnet18",
        "--packing",
        "hyphen-recon",
        "--out",
        r18.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CAConv") && out.contains("RAConv"), "{out}");
    assert!(out.contains("not HyPHEN's published algorithm"), "{out}");

    let bad = |name: &str, toml: &str, needles: &[&str]| {
        refused(dir.path(), name, toml, "hyphen-recon", needles);
    };
    let tail = "[[layers]]\ntype = \"global_avgpool\"\n[[layers]]\ntype = \"linear\"\nout = 10\n";
    bad(
        "even",
        &format!(
            "input = [3, 16, 16]\n[[layers]]\ntype = \"conv\"\nname = \"c\"\nout = 8\nkernel = 2\n\
             pad = 1\n{tail}"
        ),
        &["`c`", "hyphen-recon", "odd kernel"],
    );
    bad(
        "flatten",
        "input = [3, 16, 16]\n[[layers]]\ntype = \"flatten\"\nname = \"f\"\n[[layers]]\n\
         type = \"linear\"\nout = 10\n",
        &["`f`", "hyphen-recon", "not supported"],
    );
}

/// SqueezeNet-CIFAR (Fire modules: channel concatenation) compiles under the multiplexed
/// packing to a valid trace; the diagonal packings refuse its concat by layer name, exit 2,
/// no trace left.
#[test]
fn squeezenet_cifar_generates_and_diagonal_packings_refuse_its_concat() {
    let dir = tempfile::tempdir().unwrap();
    let path = gen_trace(
        dir.path(),
        "sq.jsonl",
        &["--net", "squeezenet-cifar", "--packing", "multiplexed"],
    );
    assert!(
        stats(&path)["stats"]["by_kind"]["bootstrap"]
            .as_u64()
            .unwrap()
            > 0
    );
    refuses_fire1_concat(dir.path(), "squeezenet-cifar", "dense");
}

/// `trace gen --net net --packing packing` (a diagonal packing) exits 2 naming Fire 1's concat
/// and leaves no trace.
fn refuses_fire1_concat(dir: &std::path::Path, net: &str, packing: &str) {
    let trace = dir.join(format!("{net}-{packing}.jsonl"));
    let (code, _, err) = hesim(&[
        "trace",
        "gen",
        "--net",
        net,
        "--packing",
        packing,
        "--out",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`f1cat`") && err.contains("concat"), "{err}");
    assert!(!trace.exists());
}

/// HEMET's network compiles under `multiplexed` and `hyphen-recon` to valid traces with no
/// bootstrap (its depth fits the chain); `group` refuses Fire 1's concat by layer name, exit
/// 2, no trace left.
#[test]
fn hemet_generates_and_diagonal_packings_refuse_its_concat() {
    let dir = tempfile::tempdir().unwrap();
    for packing in ["multiplexed", "hyphen-recon"] {
        let path = gen_trace(
            dir.path(),
            &format!("{packing}.jsonl"),
            &["--net", "hemet", "--packing", packing],
        );
        let s = stats(&path);
        assert!(s["stats"]["by_kind"].get("bootstrap").is_none(), "{s}");
    }
    refuses_fire1_concat(dir.path(), "hemet", "group");
}

/// `--merge-coefficients` lowers HEMET's depth by one level per activation on its longest
/// path and per Fire concat (7 + 2: it needs no bootstrap either way, so the trace depth is
/// the levels consumed);
/// under a diagonal packing, which always folds the coefficients, it is refused (exit 2).
#[test]
fn merge_coefficients_lowers_hemets_depth_and_is_refused_where_it_does_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let depth = |name: &str, extra: &[&str]| {
        let mut args = vec!["--net", "hemet", "--packing", "multiplexed"];
        args.extend_from_slice(extra);
        stats(&gen_trace(dir.path(), name, &args))["stats"]["depth"]
            .as_u64()
            .unwrap()
    };
    let before = depth("plain.jsonl", &[]);
    let after = depth("merged.jsonl", &["--merge-coefficients"]);
    assert_eq!(before - after, 9, "{before} → {after}");
    let trace = dir.path().join("dense.jsonl");
    let (code, _, err) = hesim(&[
        "trace",
        "gen",
        "--net",
        "lenet",
        "--packing",
        "dense",
        "--merge-coefficients",
        "--out",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--merge-coefficients applies to"), "{err}");
    assert!(!trace.exists());
}
