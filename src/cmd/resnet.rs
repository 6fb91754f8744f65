//! `trace gen --net resnet20 | bootstrap`: ResNet-20 with bootstrapping under the multiplexed
//! and SpENCNN packings (hesim's network description, or Lee et al.'s exact program), and
//! standalone bootstrap traces.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use hesim_sw::boot;
use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::network::resnet20_grouped;
use hesim_sw::nn::{self, CompileOptions, Params, Program, ReluApprox, resnet_lee};
use hesim_traces::{BootstrapParams, Header, Hoisting, Op, OpName, TraceStats, TraceWriter};

use super::nn::GenArgs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HoistingArg {
    None,
    Single,
    Double,
}

/// Largest `--act-degree`: far above the degrees used in the literature, and it keeps the
/// activation's coefficient and op counts small before anything is built.
const MAX_ACT_DEGREE: usize = 1023;

/// Which ResNet-20 program `--net resnet20` builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ResnetVariant {
    /// Lee et al.'s exact program (ICML'22): multiplexed parallel convolution, option-A
    /// shortcuts, AppReLU with a depth-14 composite sign (15/15/27), sparse bootstraps.
    Lee,
    /// hesim's own: one polynomial activation, projection shortcuts, full-slot bootstraps,
    /// `--packing multiplexed|hyphen-recon|spencnn|dense|group`.
    Hesim,
}

/// Options of `--net resnet20` and `--net bootstrap`.
#[derive(Debug, Args)]
pub struct BootArgs {
    /// ResNet-20 program (resnet20).
    #[arg(long, value_enum, default_value_t = ResnetVariant::Hesim)]
    pub variant: ResnetVariant,
    /// Write bootstraps expanded into primitive ops (ModRaise, CoeffToSlot, EvalMod,
    /// SlotToCoeff) instead of single `bootstrap` ops (resnet20, bootstrap).
    #[arg(long)]
    pub expand_boot: bool,
    /// Degree of the ResNet-20 activation polynomial (1 to 1023).
    #[arg(long, default_value_t = 15)]
    pub act_degree: usize,
    /// ResNet-20 activations as AESPA's degree-2 Hermite ReLU (the activation HyPHEN uses)
    /// instead of the degree --act-degree Chebyshev interpolant.
    #[arg(long, conflicts_with = "act_degree")]
    pub aespa: bool,
    /// Groups of the grouped block convolutions (resnet20 --packing spencnn; at least 1).
    #[arg(long, default_value_t = multiplexed::SPENCNN_GROUPS)]
    pub groups: usize,
    /// Kernel taps removed by sub-block pruning in each grouped layer (resnet20 --packing
    /// spencnn).
    #[arg(long, default_value_t = multiplexed::SPENCNN_PRUNED_TAPS)]
    pub pruned_taps: usize,
    /// Limbs of the modulus chain [default: 40 for resnet20 --variant hesim; the bootstrap's
    /// level budget + 17 for --variant lee (Lee et al.'s 16 levels after each bootstrap: 33
    /// with the default bootstrap); 25 for helr, which leaves 8 levels after the default
    /// 16-level bootstrap].
    #[arg(long)]
    pub limbs: Option<u32>,
    /// log2 of the ring degree N (bootstrap, helr).
    #[arg(long, default_value_t = 16)]
    pub log_n: u32,
    /// Levels left after the bootstrap (bootstrap; counted as `--recipe` counts L_eff: the
    /// refreshed ciphertext has this plus 1 limbs).
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
    /// A design's bootstrapping recipe (sharp, ark, bts, craterlake, f1): its chain, digits and
    /// bootstrap parameters, documented in `hesim_traces::bootstrap::recipe`; replaces
    /// --boot-log-n, --cts-levels, --stc-levels, --eval-mod-degree, --double-angle, --hoisting
    /// and --key-reuse (bootstrap).
    #[arg(long)]
    pub recipe: Option<String>,
    /// Slots bootstrapped under --recipe (a power of two up to N/2; fewer is sparse-slot
    /// bootstrapping).
    #[arg(long)]
    pub slots: Option<u64>,
    /// Key-switching digits under --recipe (default: the design's).
    #[arg(long)]
    pub dnum: Option<u32>,
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
            baby_step: 0,
            double_prime_scaling: false,
            eval_mod_range: hesim_traces::LEGACY_EVAL_MOD_RANGE,
        }
    }

    /// The multiplexed options and the groups of the block convs under `packing`.
    fn resnet_options(&self, packing: &str) -> Result<(MuxOptions, usize)> {
        let (groups, pruned_taps) = match packing {
            "multiplexed" | "dense" | multiplexed::hyphen::NAME => (1, 0),
            "spencnn" => (self.groups, self.pruned_taps),
            "group" => (self.groups, 0),
            other => bail!(
                "unknown resnet20 packing `{other}`: use multiplexed, hyphen-recon, spencnn, \
                 dense or group"
            ),
        };
        if self.groups == 0 {
            bail!("--groups 0: the grouped convolutions need at least 1 group (default 4)");
        }
        if !(1..=MAX_ACT_DEGREE).contains(&self.act_degree) {
            bail!(
                "--act-degree {} is outside 1..={MAX_ACT_DEGREE} (the activation polynomials of \
                 the literature have degree ≤ 27)",
                self.act_degree
            );
        }
        if self.pruned_taps > 8 {
            bail!(
                "--pruned-taps {} is too many: at most 8 of the 9 taps (the centre stays)",
                self.pruned_taps
            );
        }
        let mut o = MuxOptions {
            pruned_taps,
            hybrid: packing == multiplexed::hyphen::NAME,
            allow_insecure: self.allow_insecure,
            ..MuxOptions::default()
        };
        o.limbs = self.limbs.unwrap_or(o.limbs);
        o.boot = self.params(1 << (o.log_n - 1));
        Ok((o, groups))
    }
}

/// Builds hesim's ResNet-20 (the built-in network description with a degree-`--act-degree`
/// Chebyshev ReLU or AESPA's, random weights from `seed`) under `packing`: `multiplexed`,
/// `hyphen-recon` (CAConv / RAConv in the stride-1 blocks, reconstructed from HyPHEN's
/// abstracts), `spencnn` = grouped block convs with pruned taps on the multiplexed layout, or
/// the diagonal packings `dense` and `group` (`--groups` groups) on the same bootstrappable
/// chain.
pub fn build_resnet(args: &BootArgs, packing: &str, seed: u64, bootstrap: bool) -> Result<Program> {
    let (mut opts, groups) = args.resnet_options(packing)?;
    opts.bootstrap = bootstrap;
    let approx = if args.aespa {
        ReluApprox::Aespa
    } else {
        ReluApprox::Chebyshev {
            degree: args.act_degree,
        }
    };
    let net = resnet20_grouped(approx, groups)?;
    let params = Params::random(&net, seed)?;
    let built = if matches!(packing, "dense" | "group") {
        let options = CompileOptions {
            mux: opts,
            ..CompileOptions::default()
        };
        nn::strategy(packing, &options)?.compile(&net, &params)
    } else {
        multiplexed::build(&net, &params, &opts)
    };
    built.with_context(|| format!("cannot compile resnet20 under {packing}"))
}

/// Builds Lee et al.'s ResNet-20 (random weights from `seed`) on a chain of 28-bit primes;
/// returns the program and a summary of its bootstraps.
pub fn build_lee(args: &BootArgs, seed: u64) -> Result<(Program, String)> {
    let recipe = args.params(1 << (args.log_n.max(1) - 1));
    boot::check_on_longest_chain(args.log_n, &recipe)?;
    let limbs = args
        .limbs
        .unwrap_or(recipe.level_budget() + 1 + resnet_lee::CONV_DEPTH + resnet_lee::RELU_DEPTH);
    let header = boot::header(args.log_n, limbs, "resnet20", "lee", args.allow_insecure)
        .context("--log-n / --limbs")?;
    let built = resnet_lee::build(&resnet_lee::LeeWeights::random(seed), &header, &recipe)
        .context("cannot compile resnet20 --variant lee")?;
    let mut by_slots = std::collections::BTreeMap::new();
    for s in &built.bootstrap_slots {
        *by_slots.entry(*s).or_insert(0u32) += 1;
    }
    let split: Vec<String> = by_slots
        .iter()
        .rev()
        .map(|(s, n)| format!("{n} on {s} slots"))
        .collect();
    let note = format!(
        "resnet20 (Lee et al.): {} bootstraps ({}), 19 AppReLUs of depth {}",
        built.bootstrap_slots.len(),
        split.join(", "),
        resnet_lee::RELU_DEPTH
    );
    Ok((built.program, note))
}

/// Writes a trace atomically (temporary file in the target folder, then rename).
fn write_trace(path: &Path, header: &Header, ops: &[Op]) -> Result<()> {
    let tmp = hesim_sim::sweep::temp_file_beside(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
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
    if !(2..=17).contains(&b.log_n) {
        bail!("--log-n {} is outside 2..=17", b.log_n);
    }
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
            let (p, note) = match b.variant {
                ResnetVariant::Hesim => {
                    let bootstrap = !args.net.no_bootstrap;
                    let p = build_resnet(b, &args.net.packing, args.net.seed, bootstrap)?;
                    (p, None)
                }
                ResnetVariant::Lee => {
                    let (p, note) = build_lee(b, args.net.seed)?;
                    (p, Some(note))
                }
            };
            let ops = if b.expand_boot {
                boot::expand_ops(&p.header, &p.ops)?
            } else {
                p.ops.clone()
            };
            (p.header.clone(), ops, note)
        }
        "bootstrap" if b.recipe.is_some() => {
            let name = b.recipe.as_deref().unwrap_or_default();
            let options = boot::RecipeOptions {
                slots: b.slots,
                limbs: b.limbs,
                dnum: b.dnum,
                levels_after: Some(b.levels_after),
                allow_insecure: b.allow_insecure,
            };
            let r = boot::recipe(name, &options).with_context(|| format!("--recipe {name}"))?;
            let program = boot::bootstrap_program(&r.header, &r.params, b.expand_boot)?;
            let note = format!("recipe {name}: {}", r.notes.join("; "));
            (r.header, program.ops, Some(note))
        }
        "bootstrap" => {
            let slots = 1u64 << (b.log_n - 1);
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
