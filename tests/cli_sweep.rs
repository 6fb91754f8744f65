//! `hesim sweep` end to end through the binary: a run killed with SIGKILL mid-way and restarted
//! ends with exactly the grid's points, none lost or duplicated and none redone; sharded runs
//! merge to the single-process table; bad shard flags and incomplete merges fail clearly.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn hesim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hesim"))
}

/// A synthetic CNN trace written with the simulator's pattern generator.
fn write_trace(dir: &Path, name: &str, ops: usize) -> PathBuf {
    let (h, ops) = hesim_sim::pattern::cnn_trace(ops);
    let path = dir.join(name);
    let mut w = hesim_traces::create(&path, &h).unwrap();
    for op in &ops {
        w.write_op(op).unwrap();
    }
    w.finish().unwrap();
    path
}

/// A spec of `lanes × bandwidths × 2` points over two synthetic traces.
fn write_spec(dir: &Path, lanes: &[u32], bandwidths: usize) -> PathBuf {
    write_trace(dir, "a.jsonl", 400);
    write_trace(dir, "b.jsonl", 250);
    let lanes: Vec<String> = lanes.iter().map(|l| l.to_string()).collect();
    let spec = format!(
        "name = \"kill-test\"\nbase = \"default\"\n\
         [[axis]]\nkey = \"ntt.lanes\"\nvalues = [{}]\n\
         [[axis]]\nkey = \"hbm.bandwidth_gb_s\"\nrange = {{ start = 100, step = 10, stop = {} }}\n\
         [[workload]]\ntrace = \"a.jsonl\"\n[[workload]]\ntrace = \"b.jsonl\"\n",
        lanes.join(", "),
        100 + 10 * (bandwidths - 1)
    );
    let path = dir.join("spec.toml");
    std::fs::write(&path, spec).unwrap();
    path
}

fn finished_points(out: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(out.join("points")) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("result.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

fn grid_ids(out: &Path) -> Vec<String> {
    let grid: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("grid.json")).unwrap()).unwrap();
    let mut ids: Vec<String> = grid["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["point_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// SIGKILL (no chance to clean up) part way through, then the same command again: the final
/// result set is exactly the grid, each point once, and the restart simulated only the points
/// the killed run had not finished.
#[test]
fn killed_sweep_resumes_to_exactly_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), &[64, 128, 256, 512], 200);
    let out = dir.path().join("out");
    let mut child = hesim()
        .args([
            "sweep",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some, but not all, points have landed.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = finished_points(&out).len();
        if n >= 20 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the sweep ended ({status}) before it could be killed; make it bigger");
        }
        assert!(Instant::now() < deadline, "no progress after 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let before = finished_points(&out);
    let grid = grid_ids(&out);
    assert_eq!(grid.len(), 4 * 200 * 2);
    assert!(
        before.len() < grid.len(),
        "killed after {} of {} points: too late to test resuming",
        before.len(),
        grid.len()
    );

    let again = hesim()
        .args([
            "sweep",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--json"])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    // Points in flight at the kill may have landed between our listing and the kill.
    let done_at_start = summary["already_done"].as_u64().unwrap() as usize;
    assert!(done_at_start >= before.len());
    assert_eq!(
        done_at_start + summary["ran"].as_u64().unwrap() as usize,
        grid.len()
    );
    assert_eq!(finished_points(&out), grid);

    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut rows: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(rows.len(), grid.len());
    rows.sort();
    rows.dedup();
    assert_eq!(
        rows.len(),
        grid.len(),
        "a point appears twice in results.csv"
    );
}

/// Three shards run as separate processes and merged give the single-process table byte for
/// byte; merging two of three fails listing the missing points.
#[test]
fn shards_merge_to_the_single_process_table() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), &[128, 512], 5);
    let single = dir.path().join("single");
    let st = hesim()
        .args([
            "sweep",
            spec.to_str().unwrap(),
            "--out",
            single.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let mut shard_dirs = Vec::new();
    for i in 0..3 {
        let d = dir.path().join(format!("shard-{i}"));
        let st = hesim()
            .args([
                "sweep",
                spec.to_str().unwrap(),
                "--out",
                d.to_str().unwrap(),
            ])
            .args(["--shard-index", &i.to_string(), "--shard-count", "3"])
            .status()
            .unwrap();
        assert!(st.success());
        shard_dirs.push(d);
    }
    let merged = dir.path().join("merged");
    let partial = hesim()
        .args(["sweep", "merge"])
        .args(shard_dirs[..2].iter().map(|d| d.to_str().unwrap()))
        .args(["--out", merged.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(partial.status.code(), Some(1));
    let err = String::from_utf8_lossy(&partial.stderr);
    assert!(err.contains("points have no result"), "{err}");
    assert!(
        !merged.join("results.csv").exists(),
        "no partial output without --allow-partial"
    );

    let ok = hesim()
        .args(["sweep", "merge"])
        .args(shard_dirs.iter().map(|d| d.to_str().unwrap()))
        .args(["--out", merged.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let a = std::fs::read_to_string(single.join("results.csv")).unwrap();
    let b = std::fs::read_to_string(merged.join("results.csv")).unwrap();
    assert_eq!(a.lines().count(), 2 * 5 * 2 + 1);
    assert_eq!(a, b);
}

#[test]
fn shard_index_out_of_range_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), &[128], 1);
    let out = hesim()
        .args(["sweep", spec.to_str().unwrap(), "--out"])
        .arg(dir.path().join("o"))
        .args(["--shard-index", "4", "--shard-count", "4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--shard-index 4 is out of range"), "{err}");
    assert!(
        !dir.path().join("o").exists(),
        "nothing written for bad flags"
    );
}

#[test]
fn dry_run_lists_the_shard_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), &[128, 256], 3);
    let out = hesim()
        .args(["sweep", spec.to_str().unwrap(), "--out"])
        .arg(dir.path().join("o"))
        .args(["--dry-run", "--shard-index", "1", "--shard-count", "2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 6, "{text}");
    assert!(
        rows.iter()
            .all(|r| r.split('\t').next().unwrap().parse::<usize>().unwrap() % 2 == 1)
    );
    assert!(!dir.path().join("o").exists());
}

/// SIGINT stops the run cleanly: exit 130, the finished points are all in the shard table and
/// the run manifest says it was interrupted; running again finishes the rest.
#[test]
fn sigint_flushes_finished_points() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), &[64, 128, 256, 512], 200);
    let out = dir.path().join("out");
    let mut child = hesim()
        .args([
            "sweep",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while finished_points(&out).len() < 20 {
        assert!(child.try_wait().unwrap().is_none(), "ended before SIGINT");
        assert!(Instant::now() < deadline, "no progress after 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let done = finished_points(&out);
    assert!(done.len() < 1600, "SIGINT came too late to test");
    let csv = std::fs::read_to_string(out.join("shard-0-of-1.csv")).unwrap();
    assert_eq!(
        csv.lines().count() - 1,
        done.len(),
        "every finished point is in the table"
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("manifest-shard-0-of-1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["interrupted"], true);
    assert_eq!(
        manifest["remaining"].as_u64().unwrap() as usize,
        1600 - done.len()
    );
    let again = hesim()
        .args([
            "sweep",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(finished_points(&out).len(), 1600);
}
