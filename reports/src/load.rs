//! Finding and reading result files.

use std::path::{Path, PathBuf};

use hesim_sim::{Arch, ArchLoader, SimResult, TimelineEntry};

use crate::ReportError;

/// Folders a results tree may contain that hold no report inputs (and may be large).
const SKIP_DIRS: [&str; 2] = ["points", "traces"];
const MAX_DEPTH: usize = 4;

/// One simulation (`results.json` from `hesim sim --out`), with its architecture if the
/// `resolved.toml` beside it is readable.
#[derive(Clone, Debug)]
pub struct Run {
    pub path: PathBuf,
    pub label: String,
    pub result: SimResult,
    pub arch: Option<Arch>,
}

/// One row of a sweep's `results.csv` (the columns the report uses).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    pub point_id: String,
    pub workload: String,
    pub area_mm2: f64,
    /// `None` for infeasible points.
    pub latency_ms: Option<f64>,
    /// `key = value` of the axes.
    pub design: String,
}

/// A merged sweep (`results.csv` + `manifest.json`).
#[derive(Clone, Debug)]
pub struct SweepTable {
    pub path: PathBuf,
    pub name: String,
    pub axes: Vec<String>,
    pub rows: Vec<SweepRow>,
}

/// One sparsity of an accuracy curve (`finetune.json` from `hesim finetune`).
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct FinetunePoint {
    pub network: String,
    pub sparsity: f64,
    /// Accuracy of the unpruned starting checkpoint on the evaluation images.
    pub checkpoint_accuracy: f64,
    /// After sub-block pruning, before fine-tuning.
    pub pruned_accuracy: f64,
    pub finetuned_accuracy: f64,
    pub eval_images: usize,
    pub eval_offset: usize,
    /// Which images trained and which evaluated.
    pub split: String,
}

/// An accuracy-vs-sparsity curve.
#[derive(Clone, Debug)]
pub struct FinetuneCurve {
    pub path: PathBuf,
    pub points: Vec<FinetunePoint>,
}

/// Everything found under a results directory.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub runs: Vec<Run>,
    pub sweeps: Vec<SweepTable>,
    pub curves: Vec<FinetuneCurve>,
}

fn input_err(path: &Path, message: impl Into<String>) -> ReportError {
    ReportError::Input {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Walks `dir` (depth ≤ 4, skipping `points/` and `traces/`) for `results.json`,
/// `results.csv` and `finetune.json` files, in sorted path order.
pub fn discover(dir: &Path) -> Result<Inputs, ReportError> {
    if !dir.exists() {
        return Err(input_err(
            dir,
            "does not exist; give the folder of `hesim sim --out` or `hesim sweep` results",
        ));
    }
    if !dir.is_dir() {
        return Err(input_err(
            dir,
            "is a file, not a directory; give the folder that holds the results",
        ));
    }
    let mut files = Vec::new();
    walk(dir, 0, &mut files)?;
    files.sort();
    let mut inputs = Inputs::default();
    for f in files {
        match f.file_name().and_then(|n| n.to_str()) {
            Some("results.json") => inputs.runs.push(read_run(&f)?),
            Some("results.csv") => inputs.sweeps.push(read_sweep(&f)?),
            Some("finetune.json") => inputs.curves.push(read_curve(&f)?),
            _ => {}
        }
    }
    // Labels must tell runs apart: network/packing, plus the architecture if it differs.
    let archs: std::collections::BTreeSet<&str> =
        inputs.runs.iter().map(|r| r.result.arch.as_str()).collect();
    let multi_arch = archs.len() > 1;
    for r in &mut inputs.runs {
        if multi_arch {
            r.label = format!("{} @{}", r.label, r.result.arch);
        }
    }
    Ok(inputs)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), ReportError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ReportError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            let skip = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| SKIP_DIRS.contains(&n) || n.starts_with('.'));
            if !skip && depth < MAX_DEPTH {
                walk(&p, depth + 1, out)?;
            }
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn read_run(path: &Path) -> Result<Run, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_owned(),
        source,
    })?;
    let result: SimResult = serde_json::from_str(&text)
        .map_err(|e| input_err(path, format!("not a `hesim sim` result: {e}")))?;
    let resolved = path.with_file_name("resolved.toml");
    let arch = resolved
        .to_str()
        .filter(|_| resolved.is_file())
        .and_then(|p| ArchLoader::new(p).ok())
        .and_then(|l| l.build().ok());
    let label = format!("{}/{}", result.trace.network, result.trace.packing);
    Ok(Run {
        path: path.to_owned(),
        label,
        result,
        arch,
    })
}

fn read_curve(path: &Path) -> Result<FinetuneCurve, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut points: Vec<FinetunePoint> = serde_json::from_str(&text)
        .map_err(|e| input_err(path, format!("not a `hesim finetune` curve: {e}")))?;
    if points.is_empty() {
        return Err(input_err(path, "the curve has no points"));
    }
    points.sort_by(|a, b| a.sparsity.total_cmp(&b.sparsity));
    Ok(FinetuneCurve {
        path: path.to_owned(),
        points,
    })
}

fn read_sweep(path: &Path) -> Result<SweepTable, ReportError> {
    let manifest_path = path.with_file_name("manifest.json");
    let manifest: serde_json::Value = std::fs::read_to_string(&manifest_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let axes: Vec<String> = manifest["axes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let name = manifest["sweep"].as_str().unwrap_or("sweep").to_owned();
    let mut reader = csv::Reader::from_path(path).map_err(|e| input_err(path, e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| input_err(path, e.to_string()))?
        .clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            input_err(
                path,
                format!("no `{name}` column: not a `hesim sweep` table"),
            )
        })
    };
    let (id, workload, area, latency) = (
        col("point_id")?,
        col("workload")?,
        col("area_mm2")?,
        col("latency_ms")?,
    );
    let axis_cols: Vec<(String, usize)> = axes
        .iter()
        .filter_map(|a| headers.iter().position(|h| h == a).map(|i| (a.clone(), i)))
        .collect();
    let mut rows = Vec::new();
    for (n, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| input_err(path, e.to_string()))?;
        let get = |i: usize| rec.get(i).unwrap_or("");
        let area_mm2 = get(area).parse::<f64>().map_err(|_| {
            input_err(
                path,
                format!("row {}: area_mm2 {:?} is not a number", n + 2, get(area)),
            )
        })?;
        rows.push(SweepRow {
            point_id: get(id).to_owned(),
            workload: get(workload).to_owned(),
            area_mm2,
            latency_ms: get(latency).parse().ok(),
            design: axis_cols
                .iter()
                .map(|(k, i)| format!("{k} = {}", get(*i)))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(SweepTable {
        path: path.to_owned(),
        name,
        axes,
        rows,
    })
}

/// Reads a timeline JSON (an array of timeline entries).
pub fn timeline(path: &Path) -> Result<Vec<TimelineEntry>, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| {
        input_err(
            path,
            format!("not a timeline (write one with `hesim sim --timeline FILE`): {e}"),
        )
    })
}
