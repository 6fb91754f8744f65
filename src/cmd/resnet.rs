//! `trace gen --net resnet20 | bootstrap` and `trace resnet-table`: ResNet-20 with
//! bootstrapping under the multiplexed and SpENCNN packings, and standalone bootstrap traces.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use hesim_sw::boot;
use hesim_sw::nn::Program;
use hesim_sw::nn::resnet::{self, ResnetOptions, ResnetPacking, ResnetWeights};
use hesim_traces::{BootstrapParams, Header, Hoisting, Op, OpName, TraceStats, TraceWriter};

use super::nn::GenArgs;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum HoistingArg {
    None,
    Single,
    Double,
}

/// Options of `--net resnet20` and `--net bootstrap`.
#[derive(Debug, Args)]
pub struct BootArgs {
    /// Write bootstraps expanded into primitive ops (ModRaise, CoeffToSlot, EvalMod,
    /// SlotToCoeff) instead of single `bootstrap` ops (resnet20, bootstrap).
    #[arg(long)]
    pub expand_boot: bool,
    /// Degree of the ResNet-20 activation polynomial.
    #[arg(long, default_value_t = 15)]
    pub act_degree: usize,
    /// Groups of the grouped block convolutions (resnet20 --packing spencnn).
    #[arg(long, default_value_t = 4)]
    pub groups: usize,
    /// Kernel taps removed by sub-block pruning in each grouped layer (resnet20 --packing
    /// spencnn).
    #[arg(long, default_value_t = 3)]
    pub pruned_taps: usize,
    /// Limbs of the modulus chain [default: 40 for resnet20; 25 for helr, which leaves 8
    /// levels after the default 16-level bootstrap].
    #[arg(long)]
    pub limbs: Option<u32>,
    /// log2 of the ring degree N (bootstrap, helr).
    #[arg(long, default_value_t = 16)]
    pub log_n: u32,
    /// Levels left after the bootstrap (bootstrap).
    #[arg(long, default_value_t = 8)]
    pub levels_after: u32,
    /// CoeffToSlot levels.
    #[arg(long, default_value_t = 4)]
    pub cts_levels: u32,
    /// SlotToCoeff levels.
    #[arg(long, default_value_t = 3)]
    pub stc_levels: u32,
    /// Degree of EvalMod's Chebyshev polynomial.
    #[arg(long, default_value_t = 31)]
    pub eval_mod_degree: u32,
    /// Double-angle steps after EvalMod's polynomial.
    #[arg(long, default_value_t = 3)]
    pub double_angle: u32,
    /// Key-switch hoisting of the DFT rotations.
    #[arg(long, value_enum, default_value_t = HoistingArg::Single)]
    pub hoisting: HoistingArg,
    /// ARK-style key reuse in the DFTs (baby and giant steps as rotation chains).
    #[arg(long)]
    pub key_reuse: bool,
    /// Skip the 128-bit security check of the parameters.
    #[arg(long)]
    pub allow_insecure: bool,
}

impl BootArgs {
    pub fn params(&self, slots: u64) -> BootstrapParams {
        BootstrapParams {
            slots,
            cts_levels: self.cts_levels,
            stc_levels: self.stc_levels,
            eval_mod_degree: self.eval_mod_degree,
            double_angle: self.double_angle,
            hoisting: match self.hoisting {
                HoistingArg::None => Hoisting::None,
                HoistingArg::Single => Hoisting::Single,
                HoistingArg::Double => Hoisting::Double,
            },
            key_reuse: self.key_reuse,
        }
    }

    fn resnet_options(&self, packing: &str) -> Result<ResnetOptions> {
        let packing = match packing {
            "multiplexed" => ResnetPacking::Multiplexed,
            "spencnn" => ResnetPacking::Spencnn {
                groups: self.groups,
                pruned_taps: self.pruned_taps,
            },
            other => bail!("unknown resnet20 packing `{other}`: use multiplexed or spencnn"),
        };
        if self.pruned_taps > 8 {
            bail!(
                "--pruned-taps {} is too many: at most 8 of the 9 taps (the centre stays)",
                self.pruned_taps
            );
        }
        let mut o = ResnetOptions::new(packing);
        o.act_degree = self.act_degree;
        o.limbs = self.limbs.unwrap_or(o.limbs);
        o.allow_insecure = self.allow_insecure;
        o.boot = self.params(1 << (o.log_n - 1));
        Ok(o)
    }
}

/// Builds ResNet-20 with random weights (seed) under `packing`.
pub fn build_resnet(args: &BootArgs, packing: &str, seed: u64) -> Result<Program> {
    let opts = args.resnet_options(packing)?;
    let wts = ResnetWeights::random(opts.packing, opts.act_degree, seed);
    resnet::build(&wts, &opts).with_context(|| format!("cannot compile resnet20 under {packing}"))
}

/// Writes a trace atomically (temporary file in the target folder, then rename).
fn write_trace(path: &Path, header: &Header, ops: &[Op]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let mut w = TraceWriter::new(std::io::BufWriter::new(tmp.as_file()), header)?;
    for op in ops {
        w.write_op(op)?;
    }
    w.finish()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub(super) fn check_and_write(path: &Path, header: &Header, ops: &[Op]) -> Result<TraceStats> {
    let mut a = hesim_traces::Analyzer::new(header.clone());
    for (i, op) in ops.iter().enumerate() {
        a.check(i as u64 + 2, op);
    }
    let analysis = a.finish();
    if !analysis.is_valid() {
        bail!(
            "internal error: the generated trace is not valid: {:?}",
            analysis.violations.first()
        );
    }
    write_trace(path, header, ops)?;
    Ok(analysis.stats)
}

/// Handles `--net resnet20`, `--net bootstrap` and `--net helr`; `None` for every other
/// network.
pub fn generate(args: &GenArgs) -> Result<Option<ExitCode>> {
    let b = &args.boot;
    if b.expand_boot && matches!(b.hoisting, HoistingArg::Double) {
        bail!(
            "--hoisting double cannot be expanded: the trace format has no way to defer a \
             rotation's ModDown, so the expanded ops would be those of --hoisting single; drop \
             --expand-boot to keep the single-op bootstrap (the simulator models double \
             hoisting), or use --hoisting single"
        );
    }
    let (header, ops, note) = match args.net.net.as_str() {
        "resnet20" => {
            if args.net.sparsity != 0.0 || args.net.weights != "random" {
                bail!(
                    "resnet20 takes random weights and prunes whole taps: use --pruned-taps, \
                     not --sparsity or --weights"
                );
            }
            let p = build_resnet(b, &args.net.packing, args.net.seed)?;
            let ops = if b.expand_boot {
                boot::expand_ops(&p.header, &p.ops)?
            } else {
                p.ops.clone()
            };
            (p.header.clone(), ops, None)
        }
        "bootstrap" => {
            let slots = 1u64 << (b.log_n.max(1) - 1);
            let (header, ops) = boot::standalone(
                b.log_n,
                &b.params(slots),
                b.levels_after,
                b.expand_boot,
                b.allow_insecure,
            )?;
            (header, ops, None)
        }
        "helr" => {
            let (header, ops, note) = super::workloads::helr(args)?;
            (header, ops, Some(note))
        }
        _ => return Ok(None),
    };
    let s = check_and_write(&args.out, &header, &ops)?;
    outln!(
        "{}: {} ({}, N = 2^{}, {} limbs): {} ops, {} rotate, {} mul_plain, {} mul, {} bootstrap, \
         {} key switches",
        args.out.display(),
        header.network,
        header.packing,
        header.log_n,
        header.max_level(),
        s.ops,
        s.count(OpName::Rotate),
        s.count(OpName::MulPlain),
        s.count(OpName::Mul),
        s.count(OpName::Bootstrap),
        s.key_switches
    );
    if let Some(note) = note {
        outln!("{note}");
    }
    Ok(Some(ExitCode::SUCCESS))
}

#[derive(Debug, Args)]
pub struct ResnetTableArgs {
    #[command(flatten)]
    pub boot: BootArgs,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the table as CSV (one row per packing and layer).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Also write the markdown table to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

const COLUMNS: [OpName; 4] = [
    OpName::Rotate,
    OpName::MulPlain,
    OpName::Mul,
    OpName::Bootstrap,
];

/// The op-count table of ResNet-20, multiplexed vs spencnn, per layer and total.
pub fn table(args: ResnetTableArgs) -> Result<ExitCode> {
    let packings = ["multiplexed", "spencnn"];
    let stats: Vec<TraceStats> = packings
        .iter()
        .map(|p| Ok(build_resnet(&args.boot, p, args.seed)?.analyze().stats))
        .collect::<Result<_>>()?;
    let layers: Vec<String> = stats[0].by_layer.iter().map(|l| l.layer.clone()).collect();
    let cell = |s: &TraceStats, layer: &str, c: OpName| {
        s.by_layer
            .iter()
            .find(|l| l.layer == layer)
            .and_then(|l| l.by_kind.get(&c).copied())
            .unwrap_or(0)
    };
    let mut md = String::new();
    writeln!(
        md,
        "| layer | multiplexed rot / pmul / cmul / boot | spencnn rot / pmul / cmul / boot |"
    )?;
    writeln!(md, "|---|---:|---:|")?;
    let mut csv = String::from("packing,layer,rotate,mul_plain,mul,bootstrap\n");
    let fmt = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(" / ");
    for layer in layers.iter().chain(std::iter::once(&"total".to_owned())) {
        let row: Vec<Vec<u64>> = stats
            .iter()
            .map(|s| {
                COLUMNS
                    .iter()
                    .map(|&c| {
                        if layer == "total" {
                            s.count(c)
                        } else {
                            cell(s, layer, c)
                        }
                    })
                    .collect()
            })
            .collect();
        let name = if layer == "total" {
            "**total**".to_owned()
        } else {
            layer.clone()
        };
        writeln!(md, "| {name} | {} | {} |", fmt(&row[0]), fmt(&row[1]))?;
        for (p, r) in packings.iter().zip(&row) {
            let v: Vec<String> = r.iter().map(u64::to_string).collect();
            writeln!(csv, "{p},{layer},{}", v.join(","))?;
        }
    }
    if let Some(p) = &args.csv {
        super::write_atomic(p, csv.as_bytes())?;
    }
    if let Some(p) = &args.markdown {
        super::write_atomic(p, md.as_bytes())?;
    }
    out!("{md}");
    Ok(ExitCode::SUCCESS)
}
