//! Sweep tests on small synthetic CNN traces (`pattern::cnn_trace`).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::*;
use crate::pattern::cnn_trace;

const SPEC: &str = r#"
name = "test"
base = "default"
[[axis]]
key = "ntt.lanes"
values = [128, 512]
[[axis]]
key = "hbm.bandwidth_gb_s"
range = { start = 256, stop = 1024, factor = 2 }
[[workload]]
trace = "a.jsonl"
[[workload]]
trace = "b.jsonl"
"#;

fn spec(text: &str) -> SweepSpec {
    SweepSpec::parse(text, "test.toml", Path::new("/nonexistent")).unwrap()
}

fn workloads(spec: &SweepSpec) -> Vec<Workload> {
    spec.workloads
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let (h, ops) = cnn_trace(120 + 60 * i);
            Workload::from_ops(w.clone(), h, ops).unwrap()
        })
        .collect()
}

fn opts(shard: Shard) -> RunOptions {
    RunOptions {
        jobs: 2,
        shard,
        force: false,
        progress: Progress::Quiet,
        tool_version: "test".into(),
        git_commit: "test".into(),
    }
}

fn merge_opts(allow_partial: bool) -> MergeOptions {
    MergeOptions {
        allow_partial,
        tool_version: "test".into(),
        git_commit: "test".into(),
        command: "test".into(),
    }
}

fn result_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("points"))
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .join("result.json")
                .is_file()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    ids.sort();
    ids
}

/// Points come out axis-major (first axis slowest), workloads innermost, with distinct ids that
/// do not depend on the run.
#[test]
fn enumeration_order_and_ids() {
    let s = spec(SPEC);
    let w = workloads(&s);
    let g = Grid::build(&s, &w, &AreaModel::quadratic()).unwrap();
    assert_eq!(g.points.len(), 2 * 3 * 2);
    let first: Vec<(i64, i64, usize)> = g
        .points
        .iter()
        .take(4)
        .map(|p| {
            (
                p.axis_values[0].as_integer().unwrap(),
                p.axis_values[1].as_integer().unwrap(),
                p.workload,
            )
        })
        .collect();
    assert_eq!(
        first,
        [(128, 256, 0), (128, 256, 1), (128, 512, 0), (128, 512, 1)]
    );
    assert_eq!(g.points[0].arch.ntt.lanes, 128);
    assert_eq!(g.points[11].arch.hbm.bandwidth_gb_s, 1024.0);
    let mut ids: Vec<&str> = g.points.iter().map(|p| p.point_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), g.points.len(), "ids are distinct");
    let again = Grid::build(&s, &workloads(&s), &AreaModel::quadratic()).unwrap();
    assert_eq!(again.grid_hash, g.grid_hash);
    // Same design, same workload → same id, even from another spec.
    let other = spec(&SPEC.replace("values = [128, 512]", "values = [512]"));
    let g2 = Grid::build(&other, &workloads(&other), &AreaModel::quadratic()).unwrap();
    assert_eq!(g2.points[0].point_id, g.points[6].point_id);
    assert_ne!(g2.grid_hash, g.grid_hash);
}

/// The resolved configuration is valid architecture input and gives back the point's design.
#[test]
fn resolved_toml_is_valid_input() {
    let s = spec(SPEC);
    let g = Grid::build(&s, &workloads(&s), &AreaModel::quadratic()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = &g.points[5];
    let path = dir.path().join("resolved.toml");
    std::fs::write(&path, g.resolved_toml(p)).unwrap();
    let arch = crate::ArchLoader::new(path.to_str().unwrap())
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(&arch, p.arch.as_ref());
}

#[test]
fn bad_axis_key_and_value_are_named() {
    let s = spec(&SPEC.replace("key = \"ntt.lanes\"", "key = \"ntt.lane\""));
    let err = Grid::build(&s, &workloads(&s), &AreaModel::quadratic())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ntt.lane") && err.contains("unknown key"),
        "{err}"
    );
    let s = spec(&SPEC.replace("values = [128, 512]", "values = [128, 0]"));
    let err = Grid::build(&s, &workloads(&s), &AreaModel::quadratic())
        .unwrap_err()
        .to_string();
    assert!(err.contains("`ntt.lanes` = 0 must be at least 1"), "{err}");
}

#[test]
fn shard_index_must_be_below_count() {
    assert!(Shard::new(1, 2).is_ok());
    let err = Shard::new(2, 2).unwrap_err().to_string();
    assert!(err.contains("0-based") && err.contains("0..=1"), "{err}");
    assert!(Shard::new(0, 0).is_err());
}

/// An area budget leaves out the designs above it (counted, not simulated).
#[test]
fn area_budget_excludes_designs() {
    let s = spec(SPEC);
    let w = workloads(&s);
    let model = AreaModel::quadratic();
    let full = Grid::build(&s, &w, &model).unwrap();
    let mut areas: Vec<f64> = full.points.iter().map(|p| p.area.total_mm2).collect();
    areas.sort_by(f64::total_cmp);
    let budget = areas[areas.len() / 2];
    let limited = spec(&format!("{SPEC}\n[constraints]\nmax_area_mm2 = {budget}\n"));
    let g = Grid::build(&limited, &w, &model).unwrap();
    assert!(g.excluded_designs > 0 && !g.points.is_empty());
    assert!(g.points.iter().all(|p| p.area.total_mm2 <= budget));
    assert_eq!(g.points.len() + 2 * g.excluded_designs, full.points.len());
}

/// A finished point is never simulated again; deleting results makes exactly those run again.
#[test]
fn rerun_only_runs_missing_points() {
    let s = spec(SPEC);
    let w = workloads(&s);
    let g = Grid::build(&s, &w, &AreaModel::quadratic()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let no = AtomicBool::new(false);
    let first = run(&g, &w, dir.path(), &opts(Shard::all()), &no).unwrap();
    assert_eq!((first.ran, first.already_done, first.remaining), (12, 0, 0));
    for p in [&g.points[1], &g.points[7]] {
        std::fs::remove_file(
            dir.path()
                .join("points")
                .join(&p.point_id)
                .join("result.json"),
        )
        .unwrap();
    }
    let second = run(&g, &w, dir.path(), &opts(Shard::all()), &no).unwrap();
    assert_eq!((second.ran, second.already_done), (2, 10));
    let mut want: Vec<String> = g.points.iter().map(|p| p.point_id.clone()).collect();
    want.sort();
    assert_eq!(result_ids(dir.path()), want);
}

/// A cancelled run starts nothing and reports the shard as interrupted; merging then names the
/// missing points.
#[test]
fn cancelled_run_leaves_points_missing() {
    let s = spec(SPEC);
    let w = workloads(&s);
    let g = Grid::build(&s, &w, &AreaModel::quadratic()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(true);
    let r = run(&g, &w, dir.path(), &opts(Shard::all()), &cancel).unwrap();
    assert!(r.interrupted && r.ran == 0 && r.remaining == 12);
    let out = tempfile::tempdir().unwrap();
    let err = merge(&[dir.path().to_owned()], out.path(), &merge_opts(false))
        .unwrap_err()
        .to_string();
    assert!(err.contains("12 of 12 points have no result"), "{err}");
    assert!(err.contains(&g.points[0].point_id), "{err}");
    let partial = merge(&[dir.path().to_owned()], out.path(), &merge_opts(true)).unwrap();
    assert_eq!(partial.missing.len(), 12);
}

/// Two shards run separately and merged give the same table, byte for byte, as one process.
#[test]
fn two_shards_merge_to_the_single_run() {
    let s = spec(SPEC);
    let w = workloads(&s);
    let g = Grid::build(&s, &w, &AreaModel::quadratic()).unwrap();
    let no = AtomicBool::new(false);
    let single = tempfile::tempdir().unwrap();
    run(&g, &w, single.path(), &opts(Shard::all()), &no).unwrap();
    let shards: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, d) in shards.iter().enumerate() {
        let r = run(&g, &w, d.path(), &opts(Shard::new(i, 2).unwrap()), &no).unwrap();
        assert_eq!(r.assigned, 6);
    }
    let out_single = tempfile::tempdir().unwrap();
    let out_sharded = tempfile::tempdir().unwrap();
    merge(
        &[single.path().to_owned()],
        out_single.path(),
        &merge_opts(false),
    )
    .unwrap();
    let dirs: Vec<PathBuf> = shards.iter().map(|d| d.path().to_owned()).collect();
    let m = merge(&dirs, out_sharded.path(), &merge_opts(false)).unwrap();
    assert_eq!(m.runs.len(), 2);
    let a = std::fs::read_to_string(out_single.path().join("results.csv")).unwrap();
    let b = std::fs::read_to_string(out_sharded.path().join("results.csv")).unwrap();
    assert_eq!(a.lines().count(), 13);
    assert_eq!(a, b);
}

/// A design whose words are narrower than the trace's primes is recorded as infeasible with the
/// simulator's reason, not dropped and not a crash.
#[test]
fn infeasible_points_are_recorded() {
    let s = spec(&SPEC.replace(
        "key = \"ntt.lanes\"\nvalues = [128, 512]",
        "key = \"word_bits\"\nvalues = [28, 32]",
    ));
    let w = workloads(&s);
    let g = Grid::build(&s, &w, &AreaModel::quadratic()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &g,
        &w,
        dir.path(),
        &opts(Shard::all()),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(r.infeasible, 6);
    let m = merge(&[dir.path().to_owned()], dir.path(), &merge_opts(false)).unwrap();
    assert_eq!(m.infeasible_points, 6);
    let csv = std::fs::read_to_string(dir.path().join("results.csv")).unwrap();
    assert_eq!(csv.matches(",infeasible,").count(), 6, "{csv}");
    assert!(csv.contains("word_bits"));
}

/// Reusing an output directory for a different grid is refused.
#[test]
fn other_sweep_in_the_same_directory_is_refused() {
    let s = spec(SPEC);
    let w = workloads(&s);
    let g = Grid::build(&s, &w, &AreaModel::quadratic()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(true);
    run(&g, &w, dir.path(), &opts(Shard::all()), &cancel).unwrap();
    let other = spec(&SPEC.replace("values = [128, 512]", "values = [256]"));
    let g2 = Grid::build(&other, &workloads(&other), &AreaModel::quadratic()).unwrap();
    let err = run(&g2, &w, dir.path(), &opts(Shard::all()), &cancel)
        .unwrap_err()
        .to_string();
    assert!(err.contains("different sweep"), "{err}");
}

/// A sweep naming an FPGA gets every point's resources from the model; the model must be for
/// the device the spec names, and a sweep naming none takes no model.
#[test]
fn fpga_resources_follow_the_named_device() {
    let text = "name = \"f\"\nbase = \"default\"\n[fpga]\ndevice = \"test\"\n[[axis]]\n\
                key = \"ntt.lanes\"\nvalues = [128, 256]\n[[workload]]\ntrace = \"a.jsonl\"\n";
    let s = spec(text);
    let arch = crate::Arch::preset("default").unwrap();
    let word = 64;
    let row = |unit, lanes, lut| FpgaUnitCost {
        unit,
        log_n: arch.ntt.max_log_n,
        lanes,
        word_bits: word,
        max_prime_bits: 62,
        resources: FpgaResources {
            lut,
            ..FpgaResources::default()
        },
    };
    let model = FpgaModel {
        device: FpgaDevice {
            name: "test".into(),
            totals: FpgaResources {
                lut: 1000,
                ff: 1,
                dsp: 1,
                bram: 1,
                uram: 1,
            },
            source: "test".into(),
        },
        unit_share: 0.5,
        units: vec![
            row(FpgaUnitKind::Ntt, 128, 100),
            row(FpgaUnitKind::Ntt, 256, 200),
            row(FpgaUnitKind::Automorphism, arch.automorphism.lanes, 7),
        ],
        source: "test".into(),
    };
    let w = workloads(&s);
    let g = Grid::build_on_fpga(&s, &w, &AreaModel::quadratic(), Some(&model)).unwrap();
    let clusters = u64::from(arch.clusters);
    let luts: Vec<u64> = g
        .points
        .iter()
        .map(|p| p.fpga.as_ref().unwrap().used.lut)
        .collect();
    let units = |per: u64, n: u32| per * u64::from(n) * clusters;
    assert_eq!(
        luts,
        [100, 200].map(|l| units(l, arch.ntt.units) + units(7, arch.automorphism.units))
    );
    assert!(Grid::build(&s, &w, &AreaModel::quadratic()).is_err());
    let plain = spec(SPEC);
    let err = Grid::build_on_fpga(
        &plain,
        &workloads(&plain),
        &AreaModel::quadratic(),
        Some(&model),
    )
    .unwrap_err();
    assert!(err.to_string().contains("[fpga] device"), "{err}");
}
