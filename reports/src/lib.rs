//! hesim's plotted reports, drawn from result files only (never during a simulation).
//!
//! [`report`] reads a results directory — `results.json` files written by `hesim sim --out`
//! (with their `resolved.toml`) and `results.csv` + `manifest.json` written by `hesim sweep` —
//! and draws, as SVG and PNG:
//! - latency per network and packing, stacked by op kind and by layer;
//! - the SpENCNN (and group) speedup over dense per network, with the paper's speedups marked;
//! - unit utilisation per layer of each run, and a Gantt chart from a `--timeline` file;
//! - the area–latency Pareto front of a sweep;
//! - a roofline of the layers (compute- vs memory-bound);
//! - accuracy vs sub-block sparsity before and after fine-tuning (`finetune.json` from
//!   `hesim finetune`);
//!
//! then writes `index.html` and `index.md` showing every figure with a short table.
//! Text uses an embedded DejaVu Sans (`assets/`, Bitstream Vera licence), so no system font
//! library is needed.

mod charts;
mod load;
mod page;

use std::path::{Path, PathBuf};

pub use charts::{packing_comparison, pareto_front, peak_ops_per_cycle, register_font, validation};
pub use load::{FinetuneCurve, FinetunePoint, Inputs, Run, SweepRow, SweepTable};

/// SpENCNN's published overall speedups (Ran et al., "SpENCNN", ICML 2023, PMLR v202, as
/// quoted in `../shared/docs/spencnn.md`): network and factor.
pub const PAPER_SPEEDUPS: [(&str, f64); 4] = [
    ("lenet", 8.37),
    ("vgg5", 12.11),
    ("hefnet", 19.26),
    ("resnet20", 1.87),
];

/// Errors of report generation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error(
        "{dir}: no results found (expected results.json from `hesim sim --out DIR`, \
         results.csv from `hesim sweep` or finetune.json from `hesim finetune`)"
    )]
    NoResults { dir: PathBuf },
    #[error("drawing {figure}: {message}")]
    Draw { figure: String, message: String },
}

/// Options of [`report`].
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// A timeline JSON (`hesim sim --timeline FILE`) to draw as a Gantt chart.
    pub timeline: Option<PathBuf>,
}

/// One drawn figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// File stem: `<name>.svg` and `<name>.png`.
    pub name: String,
    pub title: String,
    /// One-line explanation for the index.
    pub caption: String,
    /// Series drawn (bar stacks, point sets, lines), for tests.
    pub series: Vec<String>,
    /// Markdown table summarising the figure's data.
    pub table: String,
}

/// What [`report`] wrote.
#[derive(Clone, Debug)]
pub struct Report {
    pub figures: Vec<Figure>,
    pub index_html: PathBuf,
    pub index_md: PathBuf,
}

/// Draws every figure the inputs under `results` allow into `out`, plus the index pages.
pub fn report(results: &Path, out: &Path, opts: &ReportOptions) -> Result<Report, ReportError> {
    let inputs = load::discover(results)?;
    let timeline = match &opts.timeline {
        Some(p) => Some((p.clone(), load::timeline(p)?)),
        None => None,
    };
    if inputs.runs.is_empty()
        && inputs.sweeps.is_empty()
        && inputs.curves.is_empty()
        && timeline.is_none()
    {
        return Err(ReportError::NoResults {
            dir: results.to_owned(),
        });
    }
    std::fs::create_dir_all(out).map_err(|source| ReportError::Io {
        path: out.to_owned(),
        source,
    })?;
    register_font();
    let mut figures = Vec::new();
    if !inputs.runs.is_empty() {
        figures.push(charts::latency_by_kind(&inputs.runs, out)?);
        figures.push(charts::latency_by_layer(&inputs.runs, out)?);
        if let Some(f) = charts::speedup(&inputs.runs, out)? {
            figures.push(f);
        }
        for run in &inputs.runs {
            figures.push(charts::utilization(run, out)?);
        }
        if let Some(f) = charts::roofline(&inputs.runs, out)? {
            figures.push(f);
        }
    }
    if let Some((path, entries)) = &timeline {
        figures.push(charts::gantt(path, entries, out)?);
    }
    for (i, sweep) in inputs.sweeps.iter().enumerate() {
        figures.push(charts::pareto(sweep, i, out)?);
    }
    for (i, curve) in inputs.curves.iter().enumerate() {
        figures.push(charts::accuracy_vs_sparsity(curve, i, out)?);
    }
    let (index_html, index_md) = page::write(results, out, &figures, &inputs)?;
    Ok(Report {
        figures,
        index_html,
        index_md,
    })
}

/// Writes `bytes` via a temporary file and a rename: the sweep's implementation, so every
/// output of hesim is written the same way.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    hesim_sim::sweep::write_atomically(path, bytes).map_err(|e| match e {
        hesim_sim::sweep::SweepError::Io { path, source } => ReportError::Io { path, source },
        other => ReportError::Input {
            path: path.to_owned(),
            message: other.to_string(),
        },
    })
}
