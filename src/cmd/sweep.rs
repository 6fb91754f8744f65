//! `hesim sweep`: run a design-space sweep (or one shard of it) and merge shards.
//!
//! The simulator crate runs traces; this layer compiles `net × packing × sparsity` workloads
//! into traces with hesim-sw (once per workload, cached in `OUT/traces/`) and wires signals,
//! progress and provenance.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hesim_sim::sweep::{
    self, AreaModel, ButterflyCost, Grid, MergeOptions, Progress, RunOptions, Shard, SweepSpec,
    Workload, WorkloadSpec,
};

use hesim_sw::nn::{CompileOptions, HeParams, Program};

use super::nn::load_with_params;

/// Exit code of a run stopped by SIGINT/SIGTERM (128 + SIGINT), finished points kept.
const EXIT_INTERRUPTED: u8 = 130;
/// Exit code of a merge with missing points.
const EXIT_INCOMPLETE: u8 = 1;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Merge shard directories into results.csv + manifest.json; fails listing missing points.
    #[command(after_help = "Examples:\n  \
        hesim sweep merge out/shard-0 out/shard-1 --out out/merged\n  \
        hesim sweep merge out/shard-* --out out/merged --allow-partial")]
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The sweep specification (TOML; see sim/README.md).
    #[arg(required = true)]
    pub spec: Option<PathBuf>,
    /// Output directory (created; a killed run resumes in it).
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// Worker threads (0 = one per core; SLURM_CPUS_PER_TASK is a good value on clusters).
    #[arg(long, default_value_t = 0, value_parser = super::parse_jobs)]
    pub jobs: usize,
    /// This process's shard, 0-based (e.g. $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX).
    #[arg(long, default_value_t = 0, requires = "shard_count")]
    pub shard_index: usize,
    /// Number of shards; points are dealt round robin in the canonical order.
    #[arg(long, default_value_t = 1)]
    pub shard_count: usize,
    /// List this shard's points (index, id, workload, axes) without running anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Simulate points again even if they already have a result.
    #[arg(long)]
    pub force: bool,
    /// Print the run summary (timings, points per minute) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Directories written by `hesim sweep ... --out DIR` (one per shard).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where results.csv and manifest.json go.
    #[arg(long)]
    pub out: PathBuf,
    /// Write what exists even if points are missing (they are listed in the manifest).
    #[arg(long)]
    pub allow_partial: bool,
}

pub fn run(args: SweepArgs) -> Result<ExitCode> {
    match args.command {
        Some(SweepCommand::Merge(m)) => merge(m),
        None => run_sweep(args.run),
    }
}

/// The tool version recorded in results.
pub fn tool_version() -> String {
    format!("hesim {}", env!("CARGO_PKG_VERSION"))
}

/// The git commit of the source tree this binary was built from (`unknown` outside a checkout).
pub fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR")])
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The area model: F1 per-unit areas, with the multiplier-width exponent fitted to hesim-hw's
/// committed butterfly area table (Xilinx 7-series synthesis, the Shoup rows: any-modulus
/// butterflies like the modelled accelerators'), see `hesim_sim::sweep::area`.
pub fn area_model() -> AreaModel {
    let table = hesim_hw::area_table();
    let costs: Vec<ButterflyCost> = table
        .entries
        .iter()
        .filter(|e| e.family == hesim_hw::Family::Xc7 && e.variant == hesim_hw::Variant::Shoup)
        .map(|e| ButterflyCost {
            word_bits: e.width.bits(),
            luts: e.cells.lut,
            dsps: e.cells.dsp,
        })
        .collect();
    AreaModel::from_butterflies(&costs, &format!("xc7, {}", table.yosys))
}

/// Loads every workload of `spec`: trace files as they are, `net` workloads compiled once and
/// cached as `cache/<label>.jsonl` (no cache: compiled in memory) with primes that fit the base
/// architecture's words ([`he_params_for_word`]).
pub fn load_workloads(spec: &SweepSpec, cache: Option<&Path>) -> Result<Vec<Workload>> {
    let word_bits = base_arch(spec)?.word_bits;
    let mut out = Vec::with_capacity(spec.workloads.len());
    for w in &spec.workloads {
        let loaded = match w {
            WorkloadSpec::Trace { path } => Workload::from_file(w.clone(), path)?,
            WorkloadSpec::Net {
                net,
                packing,
                sparsity,
            } => {
                let file = cache.map(|c| c.join(format!("{}.jsonl", w.label().replace('/', "-"))));
                match file {
                    Some(f) if f.is_file() => Workload::from_file(w.clone(), &f)?,
                    _ => {
                        let program = compile(net, packing, sparsity.unwrap_or(0.0), word_bits)
                            .with_context(|| format!("workload {}", w.label()))?;
                        if let Some(f) = &file {
                            if let Some(dir) = f.parent() {
                                std::fs::create_dir_all(dir)
                                    .with_context(|| format!("creating {}", dir.display()))?;
                            }
                            program.write_trace_file(f)?;
                        }
                        Workload::from_ops(w.clone(), program.header, program.ops)?
                    }
                }
            }
        };
        out.push(loaded);
    }
    Ok(out)
}

/// The spec's base architecture with its fixed overrides.
pub fn base_arch(spec: &SweepSpec) -> Result<hesim_sim::Arch> {
    let mut loader = hesim_sim::ArchLoader::new(&spec.base)?;
    for s in &spec.set {
        loader.set(s)?;
    }
    Ok(loader.build()?)
}

/// Compiles a built-in (or TOML) network under a packing for a machine with `word_bits`-bit
/// words: the trained checkpoint if present (else seeded random weights, with a note).
pub fn compile(net: &str, packing: &str, sparsity: f64, word_bits: u32) -> Result<Program> {
    static NOTED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let (weights, note) = default_weights(net);
    if let Some(note) = note
        && let Ok(mut noted) = NOTED.lock()
        && !noted.contains(&note)
    {
        eprintln!("note: {note}");
        noted.push(note);
    }
    let (network, params) = load_with_params(net, &weights, 1)?;
    let options = CompileOptions {
        sparsity,
        he: he_params_for_word(word_bits),
        ..CompileOptions::default()
    };
    Ok(hesim_sw::nn::strategy(packing, &options)?.compile(&network, &params)?)
}

/// hesim-sw's default CKKS parameters (q0 50 bits, ≤ 36-bit rescaling primes, a 60-bit special
/// prime) narrowed so that every prime fits a `word_bits`-bit datapath: q0 and the special
/// prime take the whole word and the rescaling primes (= the scale) two bits less, keeping
/// q0 > scale. On a 32-bit machine: q0 = 32, 30-bit primes, a 32-bit special prime. Only bit
/// sizes reach the trace, so this changes limb counts and security margin, not op structure.
pub fn he_params_for_word(word_bits: u32) -> HeParams {
    let d = HeParams::default();
    HeParams {
        q0_bits: d.q0_bits.min(word_bits),
        max_prime_bits: d.max_prime_bits.min(word_bits.saturating_sub(2)),
        min_prime_bits: d.min_prime_bits.min(word_bits.saturating_sub(2)),
        special_bits: d.special_bits.min(word_bits),
        ..d
    }
}

/// The trained checkpoint of a built-in network if it is under the data root, else seeded
/// random weights (and a note saying so).
pub fn default_weights(net: &str) -> (String, Option<String>) {
    match hesim_sw::nn::checkpoint_path(net) {
        Some(p) if p.is_file() => ("checkpoint".into(), None),
        Some(p) => (
            "random".into(),
            Some(format!(
                "{net}: checkpoint {} not found; using random weights (seed 1): op counts and \
                 latency do not depend on weight values except through spencnn pruning",
                p.display()
            )),
        ),
        None => ("random".into(), None),
    }
}

fn run_sweep(args: RunArgs) -> Result<ExitCode> {
    let (Some(spec_path), Some(out)) = (args.spec, args.out) else {
        bail!("usage: hesim sweep SPEC.toml --out DIR (see `hesim sweep --help`)");
    };
    let shard = Shard::new(args.shard_index, args.shard_count)?;
    let spec = SweepSpec::load(&spec_path)?;
    let fpga = spec
        .fpga_device
        .as_deref()
        .map(hesim_hw::fit::fpga_model)
        .transpose()
        .with_context(|| format!("{}: [fpga] device", spec_path.display()))?;
    let cache = (!args.dry_run).then(|| out.join("traces"));
    // A spec refused while its grid is built (after the workloads were compiled into the
    // cache) must leave no partial output: remove the folders this run created.
    let created: Vec<PathBuf> = [Some(out.clone()), cache.clone()]
        .into_iter()
        .flatten()
        .filter(|dir| !dir.exists())
        .collect();
    let prepared = load_workloads(&spec, cache.as_deref()).and_then(|workloads| {
        let grid = Grid::build_on_fpga(&spec, &workloads, &area_model(), fpga.as_ref())?;
        Ok((workloads, grid))
    });
    let (workloads, grid) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            for dir in created.iter().rev() {
                let _ = std::fs::remove_dir_all(dir);
            }
            return Err(e);
        }
    };
    let assigned = grid.points.iter().filter(|p| shard.owns(p)).count();
    eprintln!(
        "sweep {:?}: {} points ({} designs × {} workloads{}), {} assigned to shard {}/{}",
        spec.name,
        grid.points.len(),
        grid.points.len() / workloads.len().max(1),
        workloads.len(),
        if grid.excluded_designs > 0 {
            format!(
                "; {} designs over the {} mm² area budget left out",
                grid.excluded_designs,
                spec.constraints.max_area_mm2.unwrap_or(0.0)
            )
        } else {
            String::new()
        },
        assigned,
        shard.index,
        shard.count
    );
    if args.dry_run {
        outln!("index\tpoint_id\tworkload\tarea_mm2\taxes");
        for p in grid.points.iter().filter(|p| shard.owns(p)) {
            outln!(
                "{}\t{}\t{}\t{:.1}\t{}",
                p.index,
                p.point_id,
                grid.workloads[p.workload].label,
                p.area.total_mm2,
                grid.describe(p)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }

    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    // Only one handler per process; a second `set_handler` (tests calling twice) is harmless.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("sweep: interrupted; finishing the points in flight (again to quit now)");
    });
    let opts = RunOptions {
        jobs: args.jobs,
        shard,
        force: args.force,
        progress: Progress::auto(),
        tool_version: tool_version(),
        git_commit: git_commit(),
    };
    let summary = sweep::run(&grid, &workloads, &out, &opts, &cancel)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&summary)?);
    }
    eprintln!(
        "sweep: {} simulated ({} infeasible), {} already done, {} remaining, {:.2} s ({:.0} points/min); {}",
        summary.ran,
        summary.infeasible,
        summary.already_done,
        summary.remaining,
        summary.wall_seconds,
        summary.points_per_minute,
        out.display()
    );
    if summary.interrupted {
        eprintln!("sweep: interrupted; run the same command again to finish");
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if shard.count == 1 && summary.remaining == 0 {
        let m = sweep::merge(
            std::slice::from_ref(&out),
            &out,
            &MergeOptions {
                allow_partial: false,
                tool_version: tool_version(),
                git_commit: git_commit(),
                command: command_line(),
            },
        )?;
        eprintln!(
            "sweep: {} points → {} and {}",
            m.merged_points,
            out.join("results.csv").display(),
            out.join("manifest.json").display()
        );
    } else if shard.count > 1 {
        eprintln!("sweep: shard done; when all are: hesim sweep merge DIR... --out MERGED_DIR");
    }
    Ok(ExitCode::SUCCESS)
}

fn merge(args: MergeArgs) -> Result<ExitCode> {
    let opts = MergeOptions {
        allow_partial: args.allow_partial,
        tool_version: tool_version(),
        git_commit: git_commit(),
        command: command_line(),
    };
    match sweep::merge(&args.dirs, &args.out, &opts) {
        Ok(m) => {
            eprintln!(
                "merged {} of {} points ({} infeasible{}) → {}",
                m.merged_points,
                m.grid_points,
                m.infeasible_points,
                if m.missing.is_empty() {
                    String::new()
                } else {
                    format!(", {} missing", m.missing.len())
                },
                args.out.join("results.csv").display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ sweep::SweepError::Incomplete { .. }) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(EXIT_INCOMPLETE))
        }
        Err(e) => Err(e.into()),
    }
}

fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}
