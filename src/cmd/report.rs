//! `hesim report`: figures and index pages from result files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Directory with results: `hesim sim --out` folders (results.json) and/or merged sweeps
    /// (results.csv + manifest.json), searched four levels deep.
    pub results: PathBuf,
    /// Where the figures (SVG + PNG), index.html and index.md go.
    #[arg(long)]
    pub out: PathBuf,
    /// A timeline JSON from `hesim sim --timeline FILE`, drawn as a Gantt chart.
    #[arg(long)]
    pub timeline: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let pages = [args.out.join("index.html"), args.out.join("index.md")];
    hesim_sim::sweep::check_writable(&[&pages[0], &pages[1]]).context("cannot write the report")?;
    let report = hesim_reports::report(
        &args.results,
        &args.out,
        &hesim_reports::ReportOptions {
            timeline: args.timeline,
        },
    )?;
    for f in &report.figures {
        outln!("{}", args.out.join(format!("{}.svg", f.name)).display());
    }
    outln!(
        "report: {} figures; open {}",
        report.figures.len(),
        report.index_html.display()
    );
    Ok(ExitCode::SUCCESS)
}
