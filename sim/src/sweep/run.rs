//! Running one shard of a sweep: rayon over the pending points, each result written atomically
//! to `points/<point_id>/`, so that a killed run loses at most the points in flight and a
//! restart redoes none of the finished ones.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::grid::{Grid, GridFile, Point, Workload};
use super::record::{PointRecord, SCHEMA_VERSION};
use super::{SweepError, write_atomically};
use crate::EngineOptions;

/// Which slice of the grid this process runs: points whose canonical position `p` has
/// `p mod count == index` (round robin, so shards get similar work).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Checks `index < count` (0-based, as Slurm array and Kubernetes Indexed Job indices are).
    pub fn new(index: usize, count: usize) -> Result<Self, SweepError> {
        if count == 0 {
            return Err(SweepError::NoShards);
        }
        if index >= count {
            return Err(SweepError::BadShard { index, count });
        }
        Ok(Self { index, count })
    }

    /// The whole grid.
    pub fn all() -> Self {
        Self { index: 0, count: 1 }
    }

    pub fn owns(&self, point: &Point) -> bool {
        point.index % self.count == self.index
    }

    fn file_stem(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

/// How a run reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on stderr (for terminals).
    Bar,
    /// A line on stderr every so often (for batch jobs, where bars are hidden).
    Log {
        every: Duration,
    },
    Quiet,
}

impl Progress {
    /// A bar if stderr is a terminal, else a log line every 10 s.
    pub fn auto() -> Self {
        if std::io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Log {
                every: Duration::from_secs(10),
            }
        }
    }
}

/// Options of [`run`].
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads (0 = one per core).
    pub jobs: usize,
    pub shard: Shard,
    /// Simulate points again even if they have a result.
    pub force: bool,
    pub progress: Progress,
    pub tool_version: String,
    pub git_commit: String,
}

/// What a run did; also written as `manifest-shard-I-of-N.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub tool_version: String,
    pub git_commit: String,
    pub host: String,
    pub sweep: String,
    pub spec_hash: String,
    pub grid_hash: String,
    pub shard: Shard,
    pub jobs: usize,
    /// Points of the whole grid and of this shard.
    pub grid_points: usize,
    pub assigned: usize,
    /// Assigned points that already had a result when the run started.
    pub already_done: usize,
    /// Points simulated by this run.
    pub ran: usize,
    /// Of those, designs that cannot run their workload.
    pub infeasible: usize,
    /// Assigned points still without a result (non-zero after an interruption).
    pub remaining: usize,
    pub interrupted: bool,
    pub started_unix_s: f64,
    pub finished_unix_s: f64,
    pub wall_seconds: f64,
    /// `ran` per minute of wall time.
    pub points_per_minute: f64,
}

/// Runs the points of `opts.shard` that have no result yet, writing to `out`. Stops starting
/// new points once `cancel` is set (the CLI sets it on SIGINT/SIGTERM); points in flight finish
/// and are written. Also writes `grid.json`, `shard-I-of-N.csv` and the run manifest.
pub fn run(
    grid: &Grid,
    workloads: &[Workload],
    out: &Path,
    opts: &RunOptions,
    cancel: &AtomicBool,
) -> Result<RunSummary, SweepError> {
    let started = Instant::now();
    let started_unix_s = unix_now();
    let points_dir = out.join("points");
    std::fs::create_dir_all(&points_dir).map_err(SweepError::io(&points_dir))?;
    let grid_file = grid.to_file();
    match GridFile::load(out) {
        Ok(existing) if existing.grid_hash != grid.grid_hash => {
            return Err(SweepError::OtherSweep {
                dir: out.to_owned(),
                found: existing.grid_hash,
                expected: grid.grid_hash.clone(),
            });
        }
        Ok(_) => {}
        Err(SweepError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            grid_file.save(out)?;
        }
        Err(e) => return Err(e),
    }

    let assigned: Vec<&Point> = grid.points.iter().filter(|p| opts.shard.owns(p)).collect();
    let done = |p: &Point| points_dir.join(&p.point_id).join("result.json").is_file();
    let pending: Vec<&Point> = assigned
        .iter()
        .copied()
        .filter(|p| opts.force || !done(p))
        .collect();
    let already_done = assigned.len() - pending.len();

    let bar = match opts.progress {
        Progress::Bar => indicatif::ProgressBar::new(pending.len() as u64).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40.cyan/blue} {pos}/{len} points  {per_sec}  eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        _ => indicatif::ProgressBar::hidden(),
    };
    let finished = AtomicUsize::new(0);
    let infeasible = AtomicUsize::new(0);
    let last_log = Mutex::new(Instant::now());
    let first_error: Mutex<Option<SweepError>> = Mutex::new(None);
    let failed = AtomicBool::new(false);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| SweepError::Io {
            path: out.to_owned(),
            source: std::io::Error::other(e),
        })?;
    pool.install(|| {
        pending.par_iter().for_each(|p| {
            if cancel.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
                return;
            }
            match run_point(grid, workloads, &points_dir, p, &opts.tool_version) {
                Ok(ok) => {
                    if !ok {
                        infeasible.fetch_add(1, Ordering::Relaxed);
                    }
                    let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
                    bar.inc(1);
                    if let Progress::Log { every } = opts.progress
                        && let Ok(mut last) = last_log.try_lock()
                        && last.elapsed() >= every
                    {
                        *last = Instant::now();
                        log_line(n, pending.len(), started.elapsed());
                    }
                }
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    if let Ok(mut slot) = first_error.lock() {
                        slot.get_or_insert(e);
                    }
                }
            }
        });
    });
    bar.finish_and_clear();
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let ran = finished.load(Ordering::Relaxed);
    let wall = started.elapsed();
    if matches!(opts.progress, Progress::Log { .. }) && !pending.is_empty() {
        log_line(ran, pending.len(), wall);
    }

    // The shard's table: every assigned point that has a result, in canonical order.
    let mut records = Vec::new();
    for p in &assigned {
        let path = points_dir.join(&p.point_id).join("result.json");
        if path.is_file() {
            records.push(PointRecord::load(&path)?);
        }
    }
    let keys: Vec<String> = grid.spec.axes.iter().map(|a| a.key.clone()).collect();
    write_csv(
        &out.join(format!("{}.csv", opts.shard.file_stem())),
        &keys,
        &records,
    )?;
    let interrupted = cancel.load(Ordering::Relaxed) && records.len() < assigned.len();
    let summary = RunSummary {
        tool_version: opts.tool_version.clone(),
        git_commit: opts.git_commit.clone(),
        host: hostname(),
        sweep: grid.spec.name.clone(),
        spec_hash: grid.spec_hash.clone(),
        grid_hash: grid.grid_hash.clone(),
        shard: opts.shard,
        jobs: pool.current_num_threads(),
        grid_points: grid.points.len(),
        assigned: assigned.len(),
        already_done,
        ran,
        infeasible: infeasible.load(Ordering::Relaxed),
        remaining: assigned.len() - records.len(),
        interrupted,
        started_unix_s,
        finished_unix_s: unix_now(),
        wall_seconds: wall.as_secs_f64(),
        points_per_minute: if wall.as_secs_f64() > 0.0 {
            ran as f64 / wall.as_secs_f64() * 60.0
        } else {
            0.0
        },
    };
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
    write_atomically(
        &out.join(format!("manifest-{}.json", opts.shard.file_stem())),
        json.as_bytes(),
    )?;
    Ok(summary)
}

/// Simulates one point and stores it; `Ok(false)` when the design cannot run the workload.
fn run_point(
    grid: &Grid,
    workloads: &[Workload],
    points_dir: &Path,
    p: &Point,
    tool_version: &str,
) -> Result<bool, SweepError> {
    let workload = &workloads[p.workload];
    let t = Instant::now();
    let outcome = workload.simulator.run(&p.arch, EngineOptions::default());
    let sim_seconds = t.elapsed().as_secs_f64();
    let (result, error) = match outcome {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let ok = result.is_some();
    let record = PointRecord {
        schema_version: SCHEMA_VERSION,
        point_id: p.point_id.clone(),
        point_index: p.index,
        arch_hash: p.arch_hash.clone(),
        tool_version: tool_version.to_owned(),
        workload: workload.info.clone(),
        axes: grid
            .spec
            .axes
            .iter()
            .zip(p.axis_values.iter())
            .map(|(a, v)| (a.key.clone(), v.clone()))
            .collect(),
        area: (*p.area).clone(),
        fpga: p.fpga.as_deref().cloned(),
        result,
        error,
        sim_seconds,
    };
    let dir = points_dir.join(&p.point_id);
    std::fs::create_dir_all(&dir).map_err(SweepError::io(&dir))?;
    write_atomically(&dir.join("resolved.toml"), grid.resolved_toml(p).as_bytes())?;
    let json = serde_json::to_vec(&record).map_err(|e| SweepError::Io {
        path: dir.join("result.json"),
        source: std::io::Error::other(e),
    })?;
    // Written last: its presence marks the point finished.
    write_atomically(&dir.join("result.json"), &json)?;
    Ok(ok)
}

/// Writes a tidy CSV (header + one row per record) atomically.
pub fn write_csv(
    path: &Path,
    axis_keys: &[String],
    records: &[PointRecord],
) -> Result<(), SweepError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| SweepError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(e),
    };
    w.write_record(PointRecord::csv_header(axis_keys))
        .map_err(csv_err)?;
    for r in records {
        w.write_record(r.csv_row()).map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| SweepError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    write_atomically(path, &bytes)
}

fn log_line(done: usize, total: usize, elapsed: Duration) {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let eta = (total - done.min(total)) as f64 / rate.max(1e-9);
    eprintln!(
        "sweep: {done}/{total} points ({:.1}%), {rate:.0} points/s, eta {eta:.0} s",
        100.0 * done as f64 / total.max(1) as f64
    );
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
