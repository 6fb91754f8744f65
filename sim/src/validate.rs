//! The validation table (`hesim validate`): each design's preset runs each benchmark workload
//! under the design's own recipe, beside the published latency when one is given; sensitivity
//! rows change one assumption each. Nothing is calibrated: a row reports what the model predicts.

use std::fmt::Write as _;

use hesim_traces::{Header, Op};
use serde::{Deserialize, Serialize};

use crate::{Arch, ArchLoader, SimError, SimResult, simulate};

/// One workload on one design.
#[derive(Clone, Debug)]
pub struct Case {
    /// The preset (a design name).
    pub design: String,
    /// `bootstrap`, `helr256`, `resnet20`, ...
    pub workload: String,
    pub header: Header,
    pub ops: Vec<Op>,
    /// The simulated time is divided by this (HELR: iterations, to report ms per iteration).
    pub per: u32,
    /// Published latency in ms (per `per`), when one is given to hesim.
    pub published_ms: Option<f64>,
    /// Where the published number and the workload's parameters come from.
    pub source: String,
}

/// One assumption changed on a case: `--set` assignments on its preset, or another trace.
#[derive(Clone, Debug)]
pub struct Sensitivity {
    /// Index of the case in the list passed to [`run`].
    pub case: usize,
    pub change: String,
    pub sets: Vec<String>,
    /// A replacement trace (a workload-side assumption), else the case's own.
    pub trace: Option<(Header, Vec<Op>)>,
}

/// A result row; times and HBM bytes are per `Case::per` (per HELR iteration).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub design: String,
    pub workload: String,
    /// The baseline row's `None`; a sensitivity row's changed assumption.
    pub change: Option<String>,
    pub simulated_ms: f64,
    pub published_ms: Option<f64>,
    pub error_pct: Option<f64>,
    pub busiest_unit: String,
    pub busiest_utilization: f64,
    pub hbm_key_bytes: u64,
    pub hbm_plaintext_bytes: u64,
    pub hbm_io_bytes: u64,
    pub hbm_spill_reload_bytes: u64,
    pub ops: u64,
    pub source: String,
}

/// Errors of a validation run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidateError {
    #[error("{design} × {workload}: {source}")]
    Simulate {
        design: String,
        workload: String,
        source: Box<SimError>,
    },
    #[error("{design} × {workload}: {source}")]
    Arch {
        design: String,
        workload: String,
        source: Box<crate::ArchError>,
    },
}

fn row(case: &Case, change: Option<String>, r: &SimResult) -> Row {
    let ms = r.time_ms / f64::from(case.per.max(1));
    let busiest = r
        .units
        .iter()
        .max_by(|a, b| a.utilization.total_cmp(&b.utilization));
    let m = &r.memory;
    let per = u64::from(case.per.max(1));
    Row {
        design: case.design.clone(),
        workload: case.workload.clone(),
        change,
        simulated_ms: ms,
        published_ms: case.published_ms,
        error_pct: case.published_ms.map(|p| (ms - p) / p * 100.0),
        busiest_unit: busiest
            .map(|u| u.unit.as_str().to_owned())
            .unwrap_or_default(),
        busiest_utilization: busiest.map_or(0.0, |u| u.utilization),
        hbm_key_bytes: m.key_bytes / per,
        hbm_plaintext_bytes: m.plaintext_bytes / per,
        hbm_io_bytes: m.io_bytes / per,
        hbm_spill_reload_bytes: (m.spill_bytes + m.reload_bytes) / per,
        ops: r.trace.ops,
        source: case.source.clone(),
    }
}

fn arch(case: &Case, sets: &[String]) -> Result<Arch, ValidateError> {
    let wrap = |source| ValidateError::Arch {
        design: case.design.clone(),
        workload: case.workload.clone(),
        source: Box::new(source),
    };
    let mut l = ArchLoader::new(&case.design).map_err(wrap)?;
    for s in sets {
        l.set(s).map_err(wrap)?;
    }
    l.build().map_err(wrap)
}

fn sim(case: &Case, arch: &Arch, header: &Header, ops: &[Op]) -> Result<SimResult, ValidateError> {
    simulate(arch, header, ops).map_err(|source| ValidateError::Simulate {
        design: case.design.clone(),
        workload: case.workload.clone(),
        source: Box::new(source),
    })
}

/// Simulates every case on its design's preset, then every sensitivity: baseline rows first,
/// in case order, then sensitivity rows.
pub fn run(cases: &[Case], sensitivities: &[Sensitivity]) -> Result<Vec<Row>, ValidateError> {
    let mut rows = Vec::with_capacity(cases.len() + sensitivities.len());
    for case in cases {
        let r = sim(case, &arch(case, &[])?, &case.header, &case.ops)?;
        rows.push(row(case, None, &r));
    }
    for s in sensitivities {
        let case = &cases[s.case];
        let (header, ops) = s
            .trace
            .as_ref()
            .map_or((&case.header, &case.ops[..]), |(h, o)| (h, &o[..]));
        let r = sim(case, &arch(case, &s.sets)?, header, ops)?;
        rows.push(row(case, Some(s.change.clone()), &r));
    }
    Ok(rows)
}

/// The rows as CSV (one line per row, a header line first).
pub fn to_csv(rows: &[Row]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        // Serialising plain rows into memory cannot fail.
        w.serialize(r).expect("CSV row");
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn mb(bytes: u64) -> String {
    format!("{:.0}", bytes as f64 / 1e6)
}

fn opt(v: Option<f64>, digits: usize, suffix: &str) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}{suffix}"))
}

/// The rows as Markdown: the main table, then the sensitivity table (each row against its
/// case's baseline).
pub fn to_markdown(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| design | workload | simulated | published | error | busiest unit | HBM MB: keys / plaintexts / I/O / spill |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for r in rows.iter().filter(|r| r.change.is_none()) {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} ms | {} | {} | {} {:.0} % | {} / {} / {} / {} |",
            r.design,
            r.workload,
            r.simulated_ms,
            opt(r.published_ms, 2, " ms"),
            opt(r.error_pct, 1, " %"),
            r.busiest_unit,
            r.busiest_utilization * 100.0,
            mb(r.hbm_key_bytes),
            mb(r.hbm_plaintext_bytes),
            mb(r.hbm_io_bytes),
            mb(r.hbm_spill_reload_bytes),
        );
    }
    let sens: Vec<&Row> = rows.iter().filter(|r| r.change.is_some()).collect();
    if !sens.is_empty() {
        let _ = writeln!(
            s,
            "\nSensitivity (one assumption changed per row):\n\n| design | workload | change | simulated | vs baseline | error | busiest unit |\n|---|---|---|---|---|---|---|"
        );
        for r in sens {
            let base = rows
                .iter()
                .find(|b| b.change.is_none() && b.design == r.design && b.workload == r.workload);
            let delta = base.map(|b| (r.simulated_ms / b.simulated_ms - 1.0) * 100.0);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} ms | {} | {} | {} {:.0} % |",
                r.design,
                r.workload,
                r.change.as_deref().unwrap_or_default(),
                r.simulated_ms,
                opt(delta, 1, " %"),
                opt(r.error_pct, 1, " %"),
                r.busiest_unit,
                r.busiest_utilization * 100.0,
            );
        }
    }
    s
}

/// Latencies published for the benchmark set (benchmarks.md §4): (design, workload, ms, source).
/// ARK's and BTS's are held out on purpose: their rows are predictions.
pub const PUBLISHED: [(&str, &str, f64, &str); 7] = [
    (
        "sharp",
        "bootstrap",
        3.12,
        "SHARP ISCA'23 via HE² Table IV [READ-2nd]",
    ),
    (
        "sharp",
        "helr256",
        1.82,
        "SHARP ISCA'23 via HE² Table IV [READ-2nd], per iteration",
    ),
    (
        "sharp",
        "helr1024",
        2.53,
        "SHARP ISCA'23 via HE² Table IV [READ-2nd], per iteration",
    ),
    (
        "sharp",
        "resnet20",
        99.0,
        "SHARP ISCA'23 via HE² Table IV [READ-2nd]",
    ),
    (
        "craterlake",
        "bootstrap",
        3.91,
        "CraterLake ISCA'22 [S-CL], its own parameters",
    ),
    (
        "craterlake",
        "resnet20",
        249.45,
        "CraterLake ISCA'22 [S-CL], its own ResNet-20",
    ),
    ("f1", "lola-cifar", 241.0, "F1 MICRO'21 [S-F1]"),
];

/// The published latency of a design × workload, if one is given.
pub fn published(design: &str, workload: &str) -> Option<(f64, &'static str)> {
    PUBLISHED
        .iter()
        .find(|(d, w, _, _)| *d == design && *w == workload)
        .map(|&(_, _, ms, src)| (ms, src))
}

/// A case for `workload` on `design` with the published number filled in.
pub fn case(design: &str, workload: &str, header: Header, ops: Vec<Op>, per: u32) -> Case {
    let (published_ms, source) =
        published(design, workload).map_or((None, ""), |(m, s)| (Some(m), s));
    Case {
        design: design.to_owned(),
        workload: workload.to_owned(),
        header,
        ops,
        per,
        published_ms,
        source: source.to_owned(),
    }
}

/// The designs with a bootstrap row (F1's recipe is below the 128-bit bound, so it has none).
pub const BOOTSTRAP_DESIGNS: [&str; 4] = ["sharp", "ark", "bts", "craterlake"];

/// One bootstrap under `design`'s recipe (`hesim_traces::bootstrap::recipe`) as a single op.
pub fn bootstrap_case(
    design: &str,
    options: &hesim_traces::bootstrap::RecipeOptions,
) -> Result<Case, hesim_traces::bootstrap::BootError> {
    let r = hesim_traces::bootstrap::recipe(design, options)?;
    let program = hesim_traces::bootstrap::bootstrap_program(&r.header, &r.params, false)?;
    Ok(case(design, "bootstrap", r.header, program.ops, 1))
}
