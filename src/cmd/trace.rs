use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use hesim_traces::{Analysis, OpName};

#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Check a trace against the format's rules; exit 2 and name each broken line if it fails.
    #[command(after_help = "Example:\n  hesim trace validate lenet-spencnn.jsonl")]
    Validate {
        /// The trace file (JSON Lines).
        file: PathBuf,
    },
    /// Count a trace's ops by kind, layer and level; key switches, Galois keys, depth.
    #[command(after_help = "Example:\n  hesim trace stats lenet-spencnn.jsonl --json > stats.json")]
    Stats {
        /// The trace file (JSON Lines).
        file: PathBuf,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Compile a CNN to an HE program under a packing and write it as a trace.
    #[command(after_help = "Examples:\n  \
        hesim trace gen --net lenet --packing spencnn --out lenet-spencnn.jsonl\n  \
        hesim trace gen --net hefnet --packing dense --out hefnet-dense.jsonl\n  \
        hesim trace gen --net my-net.toml --packing group --weights random --seed 3 --out my.jsonl\n  \
        hesim trace gen --net lenet --packing spencnn --sparsity 0.25 --weights checkpoint --out l.jsonl\n  \
        hesim trace gen --net resnet20 --variant lee --out resnet20-lee.jsonl   (18 sparse bootstraps)\n  \
        hesim trace gen --net resnet20 --packing multiplexed --out resnet20-mux.jsonl\n  \
        hesim trace gen --net resnet20 --packing spencnn --groups 4 --pruned-taps 3 --out resnet20-sp.jsonl\n  \
        hesim trace gen --net helr --batch 256 --out helr256.jsonl       (32 iterations, 25 limbs)\n  \
        hesim trace gen --net helr --batch 1024 --limbs 40 --iterations 8 --out helr1024.jsonl\n  \
        hesim trace gen --net bootstrap --out boot.jsonl                 (one bootstrap op, N = 2^16)\n  \
        hesim trace gen --net bootstrap --expand-boot --key-reuse --out boot-ops.jsonl")]
    Gen(Box<super::nn::GenArgs>),
    /// Op counts of every built-in network under its packings, ResNet-20 with bootstraps
    /// included (CSV and markdown).
    #[command(after_help = "Example:\n  hesim trace table --csv ops.csv --markdown ops.md")]
    Table(super::nn::TableArgs),
    /// Every packing on LeNet, ResNet-20 and ResNet-18: rotations, key switches, plaintext and
    /// ciphertext multiplies, bootstraps, depth and simulated latency per architecture
    /// (markdown or JSON); packings that do not apply are listed with the compiler's reason.
    #[command(after_help = "Examples:\n  \
        hesim trace compare --markdown compare.md --plot compare-figures\n  \
        hesim trace compare --net lenet --net resnet20 --arch sharp --json")]
    Compare(super::nn_compare::CompareArgs),
    /// The HEMET regression table: per block, the levels and PMult / rotation counts of
    /// squeezenet-cifar and hemet (multiplexed, generic and merged coefficients) beside HEMET's
    /// code and figure; HEMET's parameter sets against the 128-bit bound.
    #[command(after_help = "Examples:\n  \
        hesim trace hemet --markdown hemet.md\n  \
        hesim trace hemet --variant remove_fire34\n  \
        hesim trace hemet --variant remove_fire34_merge --allow-insecure   (N = 2^13: above the bound)")]
    Hemet(super::hemet::HemetArgs),
}

pub fn run(cmd: TraceCommand) -> Result<ExitCode> {
    match cmd {
        TraceCommand::Gen(args) => super::nn::generate(*args),
        TraceCommand::Table(args) => super::nn::table(args),
        TraceCommand::Compare(args) => super::nn_compare::compare(args),
        TraceCommand::Hemet(args) => super::hemet::run(args),
        TraceCommand::Validate { file } => {
            let analysis = analyze(&file)?;
            outln!(
                "{}: valid: {} ops, N = 2^{}, {} slots, {} limbs, network {}, packing {}",
                file.display(),
                analysis.stats.ops,
                analysis.header.log_n,
                analysis.header.slots,
                analysis.header.max_level(),
                analysis.header.network,
                analysis.header.packing
            );
            Ok(ExitCode::SUCCESS)
        }
        TraceCommand::Stats { file, json } => {
            let analysis = analyze(&file)?;
            if json {
                let out = serde_json::json!({
                    "file": file,
                    "header": analysis.header,
                    "stats": analysis.stats,
                });
                outln!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_stats(&analysis);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads and validates a trace; an invalid one is an error listing its violations.
pub fn analyze(file: &PathBuf) -> Result<Analysis> {
    let reader = hesim_traces::open(file).map_err(|e| match e {
        hesim_traces::TraceError::Invalid(v) => anyhow::anyhow!(
            "{} is not a valid trace:\n  {}:{}: [{}] {}",
            file.display(),
            file.display(),
            v.line,
            v.rule,
            v.message
        ),
        // the error names the file already
        other => anyhow::Error::from(other),
    })?;
    let analysis = hesim_traces::analyze(reader)
        .with_context(|| format!("cannot read trace {}", file.display()))?;
    if !analysis.is_valid() {
        let mut msg = format!(
            "{} is not a valid trace ({} violation(s)):",
            file.display(),
            analysis.violation_count
        );
        for v in analysis.violations.iter().take(20) {
            msg.push_str(&format!(
                "\n  {}:{}: [{}] {}",
                file.display(),
                v.line,
                v.rule,
                v.message
            ));
        }
        if analysis.violation_count > 20 {
            msg.push_str(&format!(
                "\n  ... and {} more",
                analysis.violation_count - 20
            ));
        }
        anyhow::bail!(msg);
    }
    Ok(analysis)
}

fn print_stats(a: &Analysis) {
    let s = &a.stats;
    let h = &a.header;
    outln!(
        "trace: network {}, packing {}, N = 2^{}, {} slots, {} + {} primes, dnum {}",
        h.network,
        h.packing,
        h.log_n,
        h.slots,
        h.q_bits.len(),
        h.p_bits.len(),
        h.dnum
    );
    outln!(
        "ops {}  key switches {}  galois keys {}  hoist groups {}  depth {}",
        s.ops,
        s.key_switches,
        s.galois_keys,
        s.hoist_groups,
        s.depth
    );
    outln!("\nby kind:");
    for (k, n) in &s.by_kind {
        outln!("  {:<12} {n:>10}", k.as_str());
    }
    outln!("\nby level:");
    for (l, n) in &s.by_level {
        outln!("  {l:<12} {n:>10}");
    }
    let cols = [
        OpName::Rotate,
        OpName::MulPlain,
        OpName::Mul,
        OpName::Add,
        OpName::Rescale,
    ];
    outln!("\nby layer:");
    out!("  {:<16} {:>8}", "layer", "ops");
    for c in cols {
        out!(" {:>10}", c.as_str());
    }
    outln!(" {:>12}", "key_switches");
    for l in &s.by_layer {
        out!("  {:<16} {:>8}", l.layer, l.ops);
        for c in cols {
            out!(" {:>10}", l.by_kind.get(&c).copied().unwrap_or(0));
        }
        outln!(" {:>12}", l.key_switches);
    }
    let steps: Vec<String> = s.rotation_steps.iter().map(i32::to_string).collect();
    outln!("\nrotation steps ({}): {}", steps.len(), steps.join(" "));
}
