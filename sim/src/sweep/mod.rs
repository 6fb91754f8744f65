//! Design-space sweeps: many architectures × workloads, resumable, shardable, mergeable.
//!
//! - [`spec`]: the sweep file (base preset, axes, workloads, constraints).
//! - [`grid`]: enumerates points in a fixed order and names each by `point_id`, the blake3 of
//!   its canonical resolved configuration (architecture TOML + workload identity).
//! - [`area`]: silicon area of a point (F1 per-unit figures + hw butterfly width scaling).
//! - [`fpga`]: LUT/FF/DSP/BRAM/URAM of a point on an FPGA (hw's synthesized unit table) and
//!   whether it fits the device, for sweeps that name one (`[fpga] device = "u280"`).
//! - [`run`]: simulates the points of one shard in parallel; each result lands atomically in
//!   `points/<point_id>/{resolved.toml,result.json}`, so a killed run resumes where it was.
//! - [`merge`]: checks shards against the grid and writes the tidy `results.csv` and
//!   `manifest.json`.
//!
//! Workloads reach this module as traces: `net × packing` workloads are compiled by the CLI
//! (this crate does not depend on the compiler), which hands [`grid::Workload`]s in.

pub mod area;
pub mod fpga;
pub mod grid;
pub mod merge;
pub mod record;
pub mod run;
pub mod spec;

use std::path::PathBuf;

pub use area::{AreaBreakdown, AreaModel, ButterflyCost};
pub use fpga::{
    FpgaDevice, FpgaError, FpgaModel, FpgaResources, FpgaUnitCost, FpgaUnitKind, FpgaUsage,
};
pub use grid::{Grid, GridFile, Point, Workload};
pub use merge::{MergeOptions, MergeSummary, merge};
pub use record::{PointRecord, SCHEMA_VERSION};
pub use run::{Progress, RunOptions, RunSummary, Shard, run};
pub use spec::{Axis, Constraints, SweepSpec, WorkloadSpec};

/// Errors of sweeps.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    #[error("{origin}: {message}")]
    Spec { origin: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("axis `{key}` = {value}: {source}")]
    Axis {
        key: String,
        value: String,
        source: Box<crate::ArchError>,
    },
    #[error("base architecture: {0}")]
    Base(Box<crate::ArchError>),
    #[error("point {index} ({axes}): {message}")]
    Point {
        index: usize,
        axes: String,
        message: String,
    },
    #[error("workload {label}: {source}")]
    Workload {
        label: String,
        source: Box<crate::SimError>,
    },
    #[error("{path}: not a valid {what}: {message}")]
    Corrupt {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    #[error("--shard-count 0: a sweep needs at least one shard (1 runs the whole grid)")]
    NoShards,
    #[error(
        "--shard-index {index} is out of range for --shard-count {count} (indices are 0-based: \
         0..={last})",
        last = count - 1
    )]
    BadShard { index: usize, count: usize },
    #[error(
        "{dir} already holds a different sweep (grid {found}, this one is {expected}); use \
         another --out directory"
    )]
    OtherSweep {
        dir: PathBuf,
        found: String,
        expected: String,
    },
    #[error(
        "the directories hold different sweeps: {first} has grid {first_hash} but {other} has \
         {other_hash} (same spec and traces give the same grid; `net` workloads compiled with \
         random weights differ between machines: share the trace files)"
    )]
    GridMismatch {
        first: PathBuf,
        first_hash: String,
        other: PathBuf,
        other_hash: String,
    },
    #[error(
        "{missing} of {total} points have no result (first: {listed}); run the missing shards \
         again (finished points are kept) or pass --allow-partial"
    )]
    Incomplete {
        missing: usize,
        total: usize,
        listed: String,
    },
}

impl SweepError {
    fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SweepError {
        let path = path.into();
        move |source| SweepError::Io { path, source }
    }
}

/// A temporary file in `path`'s folder, to be written and then renamed onto `path` (so the
/// file is either absent or complete). It gets the mode an ordinary `create` would (0666 less
/// the umask), not a temporary file's private 0600, so others sharing a results folder can
/// read it.
pub fn temp_file_beside(path: &std::path::Path) -> Result<tempfile::NamedTempFile, SweepError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir).map_err(SweepError::io(dir))
}

/// Checks, before a command computes anything, that each of `paths` can be written: none is
/// an existing directory, and a file can be created in the nearest existing folder on its
/// way. Commands with several outputs call it first so that a doomed run leaves none of them
/// behind (a partial set of outputs).
pub fn check_writable(paths: &[&std::path::Path]) -> Result<(), SweepError> {
    for &path in paths {
        if path.is_dir() {
            return Err(SweepError::io(path)(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory, not a file; remove it or choose another output path",
            )));
        }
        let Some(folder) = path
            .ancestors()
            .skip(1)
            .map(|a| {
                if a.as_os_str().is_empty() {
                    std::path::Path::new(".")
                } else {
                    a
                }
            })
            .find(|a| a.exists())
        else {
            continue;
        };
        if !folder.is_dir() {
            return Err(SweepError::io(folder)(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "is a file, so no output can be written below it",
            )));
        }
        temp_file_beside(&folder.join("probe"))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through [`temp_file_beside`] and a rename.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), SweepError> {
    use std::io::Write;
    let mut tmp = temp_file_beside(path)?;
    tmp.write_all(bytes).map_err(SweepError::io(path))?;
    tmp.persist(path)
        .map_err(|e| SweepError::io(path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests;
