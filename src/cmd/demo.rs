//! `hesim demo`: the main job on embedded defaults, with no network, shared data or yosys
//! needed: LeNet traces for the three packings, their simulation on the `default` preset, a
//! small sweep, the Verilog butterfly, and the report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use hesim_sim::sweep::{self, Grid, MergeOptions, Progress, RunOptions, Shard, SweepSpec};
use hesim_sim::{Arch, EngineOptions, SimResult, Simulator};

use super::sweep::{area_model, compile, git_commit, load_workloads, tool_version};

/// The demo's sweep (also in the repository as `sweeps/demo.toml`).
const DEMO_SWEEP: &str = include_str!("../../sweeps/demo.toml");
const PACKINGS: [(&str, f64); 3] = [("dense", 0.0), ("group", 0.0), ("spencnn", 0.5)];

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output directory (traces/, sim/, sweep/, verilog/, report/).
    #[arg(long, default_value = "hesim-demo")]
    pub out: PathBuf,
    /// Worker threads for the sweep (0 = one per core).
    #[arg(long, default_value_t = 0, value_parser = super::parse_jobs)]
    pub jobs: usize,
}

fn trace_name(packing: &str, sparsity: f64) -> String {
    if sparsity > 0.0 {
        format!("lenet-{packing}-s{sparsity}.jsonl")
    } else {
        format!("lenet-{packing}.jsonl")
    }
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let arch = Arch::preset("default")?;

    // 1. LeNet traces, compiled for the default preset's word size, cached by the sweep's names.
    let (weights, _) = super::sweep::default_weights("lenet");
    eprintln!(
        "demo 1/5: compiling LeNet under dense, group and spencnn (sparsity 0.5), {} weights",
        if weights == "checkpoint" {
            "trained checkpoint"
        } else {
            "random (seed 1)"
        }
    );
    let traces = out.join("traces");
    std::fs::create_dir_all(&traces)?;
    let mut programs = Vec::new();
    for (packing, sparsity) in PACKINGS {
        let program = compile("lenet", packing, sparsity, arch.word_bits)?;
        let path = traces.join(trace_name(packing, sparsity));
        program.write_trace_file(&path)?;
        programs.push((packing, path, program));
    }

    // 2. Each trace on the default preset, written as `hesim sim --out` would.
    eprintln!("demo 2/5: simulating on the `default` preset");
    let mut results: Vec<(&str, SimResult)> = Vec::new();
    let mut timeline_path = None;
    for (packing, trace, program) in &programs {
        let dir = out.join("sim").join(format!("lenet-{packing}"));
        std::fs::create_dir_all(&dir)?;
        let want_timeline = *packing == "spencnn";
        let sim = Simulator::new(program.header.clone(), program.ops.clone());
        let mut result = sim.run(
            &arch,
            EngineOptions {
                timeline: want_timeline,
            },
        )?;
        if let Some(t) = result.timeline.take() {
            let p = dir.join("timeline.json");
            super::write_atomic(&p, &serde_json::to_vec(&t)?)?;
            timeline_path = Some(p);
        }
        super::write_atomic(
            &dir.join("results.json"),
            &serde_json::to_vec_pretty(&result)?,
        )?;
        super::write_atomic(&dir.join("resolved.toml"), arch.to_toml().as_bytes())?;
        let manifest = serde_json::json!({
            "tool": tool_version(),
            "git_commit": git_commit(),
            "arch": arch.name,
            "trace": trace,
            "command_line": std::env::args().collect::<Vec<_>>(),
        });
        super::write_atomic(
            &dir.join("manifest.json"),
            &serde_json::to_vec_pretty(&manifest)?,
        )?;
        results.push((packing, result));
    }

    // 3. The sweep (72 points), traces reused from step 1.
    let spec = SweepSpec::parse(DEMO_SWEEP, "sweeps/demo.toml (embedded)", out)?;
    let workloads = load_workloads(&spec, Some(&traces))?;
    let grid = Grid::build(&spec, &workloads, &area_model())?;
    eprintln!(
        "demo 3/5: sweeping {} points ({} designs × {} workloads)",
        grid.points.len(),
        grid.points.len() / workloads.len(),
        workloads.len()
    );
    let sweep_dir = out.join("sweep");
    let opts = RunOptions {
        jobs: args.jobs,
        shard: Shard::all(),
        force: false,
        progress: Progress::Quiet,
        tool_version: tool_version(),
        git_commit: git_commit(),
    };
    let run = sweep::run(
        &grid,
        &workloads,
        &sweep_dir,
        &opts,
        &AtomicBool::new(false),
    )?;
    let merged = sweep::merge(
        std::slice::from_ref(&sweep_dir),
        &sweep_dir,
        &MergeOptions {
            allow_partial: false,
            tool_version: tool_version(),
            git_commit: git_commit(),
            command: "hesim demo".into(),
        },
    )?;

    // 4. The Verilog butterfly (generation and golden vectors; yosys is not needed).
    eprintln!("demo 4/5: writing the Verilog NTT butterfly");
    let verilog_dir = out.join("verilog");
    let width = hesim_hw::Width::W32;
    let vectors = hesim_hw::vectors::generate(width, hesim_hw::Variant::Shoup, 64, 1)?;
    let hw = hesim_hw::emit::write_design_dir(
        &verilog_dir,
        width,
        hesim_hw::Variant::Shoup,
        &vectors,
        1,
    )?;

    // 5. The report, from the files written above.
    eprintln!("demo 5/5: drawing the report");
    let report = hesim_reports::report(
        out,
        &out.join("report"),
        &hesim_reports::ReportOptions {
            timeline: timeline_path,
        },
    )?;

    // Summary.
    let dense_cycles = results
        .iter()
        .find(|(p, _)| *p == "dense")
        .map(|(_, r)| r.cycles)
        .unwrap_or(0);
    outln!("\nLeNet on the `default` preset ({}):", arch.description);
    outln!(
        "{:<10} {:>7} {:>8} {:>10} {:>12} {:>10} {:>9}",
        "packing",
        "ops",
        "rotates",
        "key sw.",
        "cycles",
        "latency",
        "speedup"
    );
    for ((packing, _, program), (_, r)) in programs.iter().zip(&results) {
        let stats = program.analyze().stats;
        outln!(
            "{:<10} {:>7} {:>8} {:>10} {:>12} {:>7.3} ms {:>8.2}×",
            packing,
            stats.ops,
            stats.count(hesim_traces::OpName::Rotate),
            stats.key_switches,
            r.cycles,
            r.time_ms,
            dense_cycles as f64 / r.cycles.max(1) as f64
        );
    }
    outln!(
        "\nsweep: {} points in {:.2} s ({:.0} points/min, {} infeasible); fastest design per workload:",
        merged.merged_points,
        run.wall_seconds,
        run.points_per_minute,
        merged.infeasible_points
    );
    for w in &grid.workloads {
        let best = grid
            .points
            .iter()
            .filter(|p| grid.workloads[p.workload].label == w.label)
            .filter_map(|p| {
                let rec = sweep::PointRecord::load(
                    &sweep_dir
                        .join("points")
                        .join(&p.point_id)
                        .join("result.json"),
                )
                .ok()?;
                Some((rec.result?.time_ms, p))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((ms, p)) = best {
            outln!(
                "  {:<20} {ms:>7.3} ms  {:>6.1} mm²  {}",
                w.label,
                p.area.total_mm2,
                grid.describe(p)
            );
        }
    }
    outln!(
        "verilog: {}-bit {} butterfly, latency {} cycles → {}",
        hw.width,
        hw.variant,
        hw.latency,
        verilog_dir.join(hesim_hw::emit::DESIGN_FILE).display()
    );
    outln!(
        "report: {} figures → {}",
        report.figures.len(),
        report.index_html.display()
    );
    outln!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
