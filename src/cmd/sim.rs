//! `hesim sim`: one trace on one architecture.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};

use super::write_atomic;
use clap::Args;
use hesim_sim::engine::{self, EngineOptions};
use hesim_sim::{Arch, ArchLoader, LowerCounts, LowerOptions, SimResult};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    hesim sim --arch craterlake --trace boot.jsonl\n  \
    hesim sim --arch sharp --set hbm.bandwidth_gb_s=2000 --set policy.key_storage=streamed --trace lenet.jsonl --json\n  \
    hesim sim --arch my-design.toml --trace lenet.jsonl --out runs/lenet-mine --timeline runs/lenet-mine/timeline.json\n  \
    hesim sim --arch f1 --trace lenet.jsonl --count-only\n\n\
    Presets: default, f1, craterlake, sharp, ark, bts, fpga (sim/presets/*.toml, sources in comments).\n\
    An architecture file either starts with `preset = \"NAME\"` and overrides some keys, or sets \
    every key (like the resolved.toml that --out writes).")]
pub struct SimArgs {
    /// Architecture: a preset name or a TOML file.
    #[arg(long, default_value = "default")]
    arch: String,
    /// Override one key, e.g. `--set ntt.lanes=1024` (repeatable; applied in order).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// The trace file (JSON Lines), streamed and validated while it is lowered.
    #[arg(long)]
    trace: PathBuf,
    /// Print the full result as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Write results.json, resolved.toml and manifest.json into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Only lower the trace and print the unit-work counts (no timing, so no --out or
    /// --timeline).
    #[arg(long, conflicts_with_all = ["out", "timeline"])]
    count_only: bool,
    /// Write the per-task timeline (JSON, for Gantt charts) to this file.
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
}

pub fn run(args: SimArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let outputs: Vec<PathBuf> = args
        .timeline
        .iter()
        .cloned()
        .chain(args.out.iter().flat_map(|dir| {
            ["results.json", "resolved.toml", "manifest.json"].map(|f| dir.join(f))
        }))
        .collect();
    hesim_sim::sweep::check_writable(&outputs.iter().map(PathBuf::as_path).collect::<Vec<_>>())
        .context("cannot write the outputs")?;
    let mut loader = ArchLoader::new(&args.arch)?;
    for s in &args.sets {
        loader.set(s)?;
    }
    let arch = loader.build()?;
    let t0 = Instant::now();
    let prog = hesim_sim::lower_file(&args.trace, LowerOptions::from_arch(&arch))
        .with_context(|| format!("cannot simulate {}", args.trace.display()))?;
    let lower_ms = t0.elapsed().as_secs_f64() * 1e3;

    if args.count_only {
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&prog.counts)?);
        } else {
            print_counts(&prog.counts);
        }
        return Ok(ExitCode::SUCCESS);
    }

    let t1 = Instant::now();
    let options = EngineOptions {
        timeline: args.timeline.is_some(),
    };
    let mut result = engine::run(&arch, &prog, options)
        .with_context(|| format!("cannot simulate {} on {}", args.trace.display(), arch.name))?;
    let simulate_ms = t1.elapsed().as_secs_f64() * 1e3;
    let timeline = result.timeline.take();

    if let Some(path) = &args.timeline {
        write_atomic(path, &serde_json::to_vec(&timeline.unwrap_or_default())?)?;
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        let resolved = arch.to_toml();
        let manifest = serde_json::json!({
            "tool": "hesim",
            "version": env!("CARGO_PKG_VERSION"),
            "git_commit": git_commit(),
            "config_hash": format!("{:016x}", fnv1a(resolved.as_bytes())),
            "arch": arch.name,
            "trace": args.trace,
            "command_line": std::env::args().collect::<Vec<_>>(),
            "timings_ms": {
                "lower": lower_ms,
                "simulate": simulate_ms,
                "total": started.elapsed().as_secs_f64() * 1e3,
            },
        });
        write_atomic(
            &dir.join("results.json"),
            &serde_json::to_vec_pretty(&result)?,
        )?;
        write_atomic(&dir.join("resolved.toml"), resolved.as_bytes())?;
        write_atomic(
            &dir.join("manifest.json"),
            &serde_json::to_vec_pretty(&manifest)?,
        )?;
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_result(&arch, &result);
    }
    Ok(ExitCode::SUCCESS)
}

/// FNV-1a 64: a stable (not cryptographic) fingerprint of the resolved configuration.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The commit of the source tree hesim was built from, if git and the tree are still there.
fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn print_counts(c: &LowerCounts) {
    if let Some(p) = &c.params {
        outln!(
            "N = 2^{}, L = {} limbs, dnum {} (alpha {}, k {} special primes)",
            p.log_n,
            p.max_level,
            p.dnum,
            p.alpha,
            p.k
        );
    }
    outln!(
        "ops {}  tasks {}  key switches {}  hoist groups {}  bootstraps {}",
        c.ops,
        c.tasks,
        c.key_switches,
        c.hoist_groups,
        c.bootstraps
    );
    outln!("\nunit work in limb vectors (N coefficients each):");
    outln!(
        "  {:<11} {:>8} {:>10} {:>10} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "kind",
        "ops",
        "(i)ntt",
        "automorph",
        "bconv_pairs",
        "ks_mul",
        "mul",
        "add",
        "key_limbs",
        "plain"
    );
    let row = |name: &str, ops: u64, w: &hesim_sim::Work| {
        outln!(
            "  {:<11} {:>8} {:>10} {:>10} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10}",
            name,
            ops,
            w.ntt,
            w.automorphism,
            w.bconv,
            w.ks_mul,
            w.mul,
            w.add + w.ks_add,
            w.key_limbs,
            w.plain_limbs
        );
    };
    for (kind, k) in &c.by_kind {
        row(kind.as_str(), k.ops, &k.work);
    }
    row("total", c.ops, &c.total);
}

fn print_result(arch: &Arch, r: &SimResult) {
    let t = &r.trace;
    outln!(
        "{} on {}: {} cycles = {:.4} ms at {} GHz",
        t.network,
        arch.name,
        r.cycles,
        r.time_ms,
        r.clock_ghz
    );
    outln!(
        "trace: N = 2^{}, {} slots, {} limbs, dnum {}, k {}; {} ops -> {} tasks",
        t.log_n,
        t.slots,
        t.limbs,
        t.dnum,
        t.special_primes,
        t.ops,
        t.tasks
    );
    outln!("\nunits:");
    for u in r.units.iter().filter(|u| u.busy_cycles > 0) {
        outln!(
            "  {:<13} busy {:>14} cycles  {:>5.1}%",
            u.unit,
            u.busy_cycles,
            u.utilization * 100.0
        );
    }
    let pct = |c: u64| {
        if r.cycles == 0 {
            0.0
        } else {
            c as f64 * 100.0 / r.cycles as f64
        }
    };
    outln!("\nlatency by op kind (critical cycles; they sum to the total):");
    for k in &r.by_kind {
        outln!(
            "  {:<11} {:>8} ops  {:>14} cycles  {:>5.1}%",
            k.kind.as_str(),
            k.ops,
            k.critical_cycles,
            pct(k.critical_cycles)
        );
    }
    outln!("\nlayers:");
    outln!(
        "  {:<16} {:>8} {:>14} {:>6} {:>10} {:>12} {:>8}  busiest unit",
        "layer",
        "ops",
        "critical",
        "%",
        "bound",
        "HBM MB",
        "ops/B"
    );
    for l in &r.layers {
        let busiest = l
            .utilization
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(u, f)| format!("{u} {:.0}%", f * 100.0))
            .unwrap_or_default();
        outln!(
            "  {:<16} {:>8} {:>14} {:>5.1}% {:>10} {:>12.2} {:>8} {}",
            l.layer,
            l.ops,
            l.critical_cycles,
            pct(l.critical_cycles),
            format!("{:?}", l.bound).to_lowercase(),
            l.hbm_bytes as f64 / 1e6,
            l.ops_per_byte.map_or("-".into(), |x| format!("{x:.1}")),
            busiest
        );
    }
    let m = &r.memory;
    let mb = |b: u64| b as f64 / 1e6;
    outln!(
        "\nmemory: HBM read {:.1} MB (keys {:.1}, plaintexts {:.1}, inputs/outputs {:.1}, reloads {:.1}), \
         written {:.1} MB (spills {:.1}); on chip {:.1} MB; peak live {:.1} of {:.1} MB; key cache {} hits / {} misses",
        mb(m.hbm_read_bytes),
        mb(m.key_bytes),
        mb(m.plaintext_bytes),
        mb(m.io_bytes),
        mb(m.reload_bytes),
        mb(m.hbm_write_bytes),
        mb(m.spill_bytes),
        mb(m.onchip_bytes),
        mb(m.peak_live_bytes),
        mb(m.scratchpad_bytes),
        m.key_cache_hits,
        m.key_cache_misses
    );
}
