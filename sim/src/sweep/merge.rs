//! Merging shard directories: every point of the grid must have a result in one of them
//! (unless partial output is allowed); the result is `results.csv` (canonical order, one row
//! per point, no timing columns, so equal sweeps give byte-equal tables) and `manifest.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::area::AreaModel;
use super::fpga::FpgaModel;
use super::grid::GridFile;
use super::record::{PointRecord, SCHEMA_VERSION};
use super::run::{RunSummary, write_csv};
use super::{SweepError, write_atomically};

/// Options of [`merge`].
#[derive(Clone, Debug)]
pub struct MergeOptions {
    /// Write what exists even if points are missing.
    pub allow_partial: bool,
    pub tool_version: String,
    pub git_commit: String,
    /// The command line, for the manifest.
    pub command: String,
}

/// `manifest.json` of a merged sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergeSummary {
    pub schema_version: u32,
    pub tool_version: String,
    pub git_commit: String,
    pub command: String,
    pub sweep: String,
    pub spec_hash: String,
    pub grid_hash: String,
    pub axes: Vec<String>,
    pub workloads: Vec<String>,
    pub area_model: AreaModel,
    /// The FPGA resource model, when the sweep names a device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fpga_model: Option<FpgaModel>,
    pub max_area_mm2: Option<f64>,
    /// Designs left out of the grid by the area budget.
    pub excluded_designs: usize,
    pub grid_points: usize,
    pub merged_points: usize,
    pub infeasible_points: usize,
    /// Point ids without a result (only with `allow_partial`).
    pub missing: Vec<String>,
    pub inputs: Vec<PathBuf>,
    /// The run manifests found in the inputs (timings, hosts, commits per shard run).
    pub runs: Vec<RunSummary>,
    /// Sum of the runs' simulated points over the sum of their wall times, per minute.
    pub points_per_minute: f64,
    pub merged_unix_s: f64,
}

/// Merges `dirs` (each written by [`super::run`] for the same grid) into `out`.
pub fn merge(
    dirs: &[PathBuf],
    out: &Path,
    opts: &MergeOptions,
) -> Result<MergeSummary, SweepError> {
    let Some(first) = dirs.first() else {
        return Err(SweepError::Spec {
            origin: "merge".into(),
            message: "no input directories given".into(),
        });
    };
    let grid = GridFile::load(first)?;
    for d in &dirs[1..] {
        let g = GridFile::load(d)?;
        if g.grid_hash != grid.grid_hash {
            return Err(SweepError::GridMismatch {
                first: first.clone(),
                first_hash: grid.grid_hash,
                other: d.clone(),
                other_hash: g.grid_hash,
            });
        }
    }
    let mut records = Vec::with_capacity(grid.points.len());
    let mut missing = Vec::new();
    for (i, gp) in grid.points.iter().enumerate() {
        let found = dirs
            .iter()
            .map(|d| d.join("points").join(&gp.point_id).join("result.json"))
            .find(|p| p.is_file());
        match found {
            Some(path) => {
                let r = PointRecord::load(&path)?;
                if r.point_id != gp.point_id || r.point_index != i {
                    return Err(SweepError::Corrupt {
                        path,
                        what: "point result for this grid",
                        message: format!(
                            "holds point {} (#{}), expected {} (#{i})",
                            r.point_id, r.point_index, gp.point_id
                        ),
                    });
                }
                records.push(r);
            }
            None => missing.push((i, gp)),
        }
    }
    if !missing.is_empty() && !opts.allow_partial {
        let listed = missing
            .iter()
            .take(10)
            .map(|(i, gp)| format!("#{i} {} [{}]", gp.point_id, gp.workload))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SweepError::Incomplete {
            missing: missing.len(),
            total: grid.points.len(),
            listed,
        });
    }
    std::fs::create_dir_all(out).map_err(SweepError::io(out))?;
    write_csv(&out.join("results.csv"), &grid.axes, &records)?;

    let mut runs = Vec::new();
    for d in dirs {
        let entries = std::fs::read_dir(d).map_err(SweepError::io(d))?;
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("manifest-shard-") && n.ends_with(".json"))
            })
            .collect();
        names.sort();
        for path in names {
            let text = std::fs::read_to_string(&path).map_err(SweepError::io(&path))?;
            let run: RunSummary = serde_json::from_str(&text).map_err(|e| SweepError::Corrupt {
                path: path.clone(),
                what: "run manifest",
                message: e.to_string(),
            })?;
            runs.push(run);
        }
    }
    let ran: usize = runs.iter().map(|r| r.ran).sum();
    let wall: f64 = runs.iter().map(|r| r.wall_seconds).sum();
    let summary = MergeSummary {
        schema_version: SCHEMA_VERSION,
        tool_version: opts.tool_version.clone(),
        git_commit: opts.git_commit.clone(),
        command: opts.command.clone(),
        sweep: grid.name.clone(),
        spec_hash: grid.spec_hash.clone(),
        grid_hash: grid.grid_hash.clone(),
        axes: grid.axes.clone(),
        workloads: grid.workloads.iter().map(|w| w.label.clone()).collect(),
        area_model: grid.area_model.clone(),
        fpga_model: grid.fpga_model.clone(),
        max_area_mm2: grid.max_area_mm2,
        excluded_designs: grid.excluded_designs,
        grid_points: grid.points.len(),
        merged_points: records.len(),
        infeasible_points: records.iter().filter(|r| r.result.is_none()).count(),
        missing: missing.iter().map(|(_, gp)| gp.point_id.clone()).collect(),
        inputs: dirs.to_vec(),
        runs,
        points_per_minute: if wall > 0.0 {
            ran as f64 / wall * 60.0
        } else {
            0.0
        },
        merged_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
    };
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
    write_atomically(&out.join("manifest.json"), json.as_bytes())?;
    Ok(summary)
}
