//! The report renders from result files: every expected figure exists as well-formed SVG and as
//! a PNG of the right size, and each figure draws the series its data calls for (checked
//! against the input data, and each series' legend label is in the SVG).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use hesim_sim::sweep::{self, AreaModel, Grid, MergeOptions, Progress, RunOptions, Shard};
use hesim_sim::{Arch, EngineOptions, SimResult, Simulator};

/// A synthetic CNN trace relabelled as `lenet` under `packing`.
fn simulate(packing: &str, ops: usize, timeline: bool) -> SimResult {
    let (mut h, ops) = hesim_sim::pattern::cnn_trace(ops);
    h.network = "lenet".into();
    h.packing = packing.into();
    let sim = Simulator::new(h, ops);
    sim.run(
        &Arch::preset("default").unwrap(),
        EngineOptions { timeline },
    )
    .unwrap()
}

fn write_run(dir: &Path, r: &SimResult) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("results.json"), serde_json::to_vec(r).unwrap()).unwrap();
    std::fs::write(
        dir.join("resolved.toml"),
        Arch::preset("default").unwrap().to_toml(),
    )
    .unwrap();
}

fn write_sweep(root: &Path) {
    let spec_dir = root.join("spec");
    std::fs::create_dir_all(&spec_dir).unwrap();
    let (h, ops) = hesim_sim::pattern::cnn_trace(150);
    let trace = spec_dir.join("t.jsonl");
    let mut w = hesim_traces::create(&trace, &h).unwrap();
    for op in &ops {
        w.write_op(op).unwrap();
    }
    w.finish().unwrap();
    let spec = sweep::SweepSpec::parse(
        "name = \"t\"\nbase = \"default\"\n[[axis]]\nkey = \"ntt.lanes\"\nvalues = [128, 256, 512]\n\
         [[axis]]\nkey = \"hbm.bandwidth_gb_s\"\nvalues = [256, 1024]\n[[workload]]\ntrace = \"t.jsonl\"\n",
        "t.toml",
        &spec_dir,
    )
    .unwrap();
    let workloads: Vec<_> = spec
        .workloads
        .iter()
        .map(|w| sweep::Workload::from_file(w.clone(), &trace).unwrap())
        .collect();
    let grid = Grid::build(&spec, &workloads, &AreaModel::quadratic()).unwrap();
    let out = root.join("sweep");
    let opts = RunOptions {
        jobs: 1,
        shard: Shard::all(),
        force: false,
        progress: Progress::Quiet,
        tool_version: "t".into(),
        git_commit: "t".into(),
    };
    sweep::run(&grid, &workloads, &out, &opts, &AtomicBool::new(false)).unwrap();
    let m = MergeOptions {
        allow_partial: false,
        tool_version: "t".into(),
        git_commit: "t".into(),
        command: "t".into(),
    };
    sweep::merge(std::slice::from_ref(&out), &out, &m).unwrap();
}

fn check_svg(path: &Path, series: &[String]) {
    let svg = std::fs::read_to_string(path).unwrap();
    assert!(svg.trim_start().starts_with("<svg"), "{}", path.display());
    assert!(svg.trim_end().ends_with("</svg>"), "{}", path.display());
    assert_eq!(svg.matches("<svg").count(), 1);
    for s in series {
        // Legend labels are clipped to 28 characters.
        let shown: String = s.chars().take(27).collect();
        let escaped = shown
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(
            svg.contains(&escaped),
            "series {s:?} has no label in {}",
            path.display()
        );
    }
}

fn check_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (1100, 620));
    assert!(
        bytes.len() > 5_000,
        "{} is suspiciously small",
        path.display()
    );
}

#[test]
fn figures_render_with_their_series() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let dense = simulate("dense", 400, false);
    let spencnn = simulate("spencnn", 200, true);
    write_run(&results.join("dense"), &dense);
    write_run(&results.join("spencnn"), &spencnn);
    let timeline = dir.path().join("timeline.json");
    std::fs::write(
        &timeline,
        serde_json::to_vec(spencnn.timeline.as_ref().unwrap()).unwrap(),
    )
    .unwrap();
    write_sweep(&results);
    let out = dir.path().join("report");
    let report = hesim_reports::report(
        &results,
        &out,
        &hesim_reports::ReportOptions {
            timeline: Some(timeline),
        },
    )
    .unwrap();
    let names: Vec<&str> = report.figures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "latency_by_kind",
            "latency_by_layer",
            "speedup",
            "utilization-lenet-dense",
            "utilization-lenet-spencnn",
            "roofline",
            "timeline",
            "pareto"
        ]
    );
    let fig = |n: &str| report.figures.iter().find(|f| f.name == n).unwrap();
    // Series expected from the data itself.
    let kinds_with_time = |r: &SimResult| -> Vec<String> {
        r.by_kind
            .iter()
            .filter(|k| k.critical_cycles > 0)
            .map(|k| k.kind.to_string())
            .collect()
    };
    let mut kinds = kinds_with_time(&dense);
    for k in kinds_with_time(&spencnn) {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    assert_eq!(fig("latency_by_kind").series, kinds);
    let layers: Vec<String> = dense
        .layers
        .iter()
        .filter(|l| {
            l.critical_cycles > 0
                || spencnn
                    .layers
                    .iter()
                    .any(|s| s.layer == l.layer && s.critical_cycles > 0)
        })
        .map(|l| l.layer.clone())
        .collect();
    assert_eq!(fig("latency_by_layer").series.len(), {
        let mut all = layers.clone();
        for l in &spencnn.layers {
            if l.critical_cycles > 0 && !all.contains(&l.layer) {
                all.push(l.layer.clone());
            }
        }
        all.len()
    });
    assert_eq!(fig("speedup").series.len(), 3, "group, spencnn, paper");
    assert_eq!(
        fig("pareto").series.len(),
        2,
        "one workload: its designs and its front"
    );
    assert!(fig("roofline").series.len() >= 2);
    for f in &report.figures {
        check_svg(&out.join(format!("{}.svg", f.name)), &f.series);
        check_png(&out.join(format!("{}.png", f.name)));
    }
    let html = std::fs::read_to_string(&report.index_html).unwrap();
    let md = std::fs::read_to_string(&report.index_md).unwrap();
    for f in &report.figures {
        assert!(html.contains(&format!("src=\"{}.svg\"", f.name)));
        assert!(md.contains(&format!("]({}.svg)", f.name)));
    }
    // The speedup table carries the simulated ratio from the two runs' cycles.
    let ratio = dense.cycles as f64 / spencnn.cycles as f64;
    assert!(md.contains(&format!("{ratio:.2}×")), "{md}");
}

#[test]
fn empty_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = hesim_reports::report(dir.path(), &dir.path().join("o"), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no results found"), "{err}");
}

/// The front keeps exactly the designs no other design beats on both axes (checked against
/// the O(n²) definition).
#[test]
fn pareto_front_matches_the_definition() {
    let pts: Vec<(f64, f64)> = (0..60)
        .map(|i| {
            (
                ((i * 37) % 23) as f64,
                ((i * 17) % 29) as f64 + 0.5 * i as f64,
            )
        })
        .collect();
    let front = hesim_reports::pareto_front(&pts);
    for p in &pts {
        let dominated = pts
            .iter()
            .any(|q| q.0 <= p.0 && q.1 <= p.1 && (q.0 < p.0 || q.1 < p.1));
        let on_front = front.contains(p);
        assert_eq!(on_front, !dominated, "{p:?}");
    }
}

/// A `hesim finetune` curve alone makes a report: the accuracy figure draws the three series
/// and its table lists every sparsity, sorted, in percent.
#[test]
fn a_finetune_curve_draws_accuracy_vs_sparsity() {
    let dir = tempfile::tempdir().unwrap();
    let point = |s: f64, fine: f64, pruned: f64| {
        serde_json::json!({
            "network": "lenet", "sparsity": s, "checkpoint_accuracy": 0.9908,
            "pruned_accuracy": pruned, "finetuned_accuracy": fine, "eval_images": 5000,
            "eval_offset": 5000, "split": "fine-tuned on test images 0–4999",
        })
    };
    let curve = serde_json::json!([
        point(0.5, 0.9858, 0.5664),
        point(0.0, 0.9912, 0.9908),
        point(0.25, 0.9890, 0.70)
    ]);
    let results = dir.path().join("curve");
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(results.join("finetune.json"), curve.to_string()).unwrap();
    let out = dir.path().join("report");
    let report = hesim_reports::report(&results, &out, &Default::default()).unwrap();
    let fig = report
        .figures
        .iter()
        .find(|f| f.name == "accuracy-sparsity")
        .expect("accuracy figure");
    assert_eq!(fig.series.len(), 3);
    let svg = std::fs::read_to_string(out.join("accuracy-sparsity.svg")).unwrap();
    for s in &fig.series {
        assert!(svg.contains(s.as_str()), "legend {s} missing");
    }
    let rows: Vec<&str> = fig.table.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{}", fig.table);
    assert!(
        rows[0].starts_with("| 0.00 | 99.12 | 99.08 | 99.08 |"),
        "{}",
        fig.table
    );
    assert!(
        rows[2].starts_with("| 0.50 | 98.58 | 56.64 | 99.08 |"),
        "{}",
        fig.table
    );
}
