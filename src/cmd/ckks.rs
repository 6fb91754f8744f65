//! `hesim ckks bootstrap`: real CKKS bootstrapping of random encrypted vectors on the CPU,
//! running the same expanded op sequence the simulator costs.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use hesim_sw::ckks::bootstrap::{self, BootstrapReport};
use hesim_sw::ckks::latency;
use hesim_sw::ckks::{Context, ParamsBuilder, Sampler, SecretKey};
use hesim_traces::{BootstrapParams, Hoisting};

#[derive(Debug, Subcommand)]
pub enum CkksCommand {
    /// Bootstrap random encrypted vectors for real and report precision, time per phase, key
    /// bytes and peak memory.
    #[command(after_help = "Examples:\n  \
        hesim ckks bootstrap --log-n 11 --allow-insecure --trials 2\n  \
        hesim ckks bootstrap --log-n 12 --slots 256 --recipe min-ks --allow-insecure --json\n  \
        hesim ckks bootstrap --log-n 16 --trials 10 --json   # 128-bit set, minutes per trial")]
    Bootstrap(BootstrapArgs),
    /// Thread CPU time of the basic ops (ct × ct with relinearisation, rotation, rescale,
    /// plaintext multiply, add) at the top level of a chain of a 60-bit q_0 and 50-bit primes:
    /// the side of the comparison with `benches/peers/openfhe_ckks.py ops`.
    #[command(after_help = "Examples:\n  \
        hesim ckks ops --log-n 12 --limbs 3 --allow-insecure\n  \
        hesim ckks ops --log-n 16 --limbs 25 --dnum 3 --reps 10 --json   # the OpenFHE peer's chain")]
    Ops(OpsArgs),
}

#[derive(Debug, Args)]
pub struct OpsArgs {
    /// log2 of the ring degree N.
    #[arg(long, default_value_t = 16)]
    log_n: u32,
    /// Ciphertext primes: a 60-bit q_0, then 50-bit primes.
    #[arg(long, default_value_t = 25)]
    limbs: usize,
    /// Key-switching digits; the special primes are 60-bit, as many as the widest digit needs
    /// (OpenFHE's HYBRID rule).
    #[arg(long, default_value_t = 3)]
    dnum: usize,
    /// Timed calls per op (after one warm-up).
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// Slots the timed rotation moves by.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    rotate_step: i64,
    /// Steps to make rotation keys for, comma-separated (default: --rotate-step). Rotating by
    /// a step without a key is an error.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    rotation_keys: Option<Vec<i64>>,
    /// Accept parameters without a 128-bit security bound (small N, tests).
    #[arg(long)]
    allow_insecure: bool,
    #[arg(long)]
    json: bool,
}

/// How the DFT stages use rotation keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Recipe {
    /// Baby-step rotations of a stage share one ModUp (single hoisting).
    Hoisted,
    /// Every rotation does its own key switch.
    NoHoist,
    /// ARK's minimum key switching: three rotation keys per DFT stage.
    MinKs,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// log2 of the ring degree N (128-bit security with h = 192 needs 16 for this chain).
    #[arg(long, default_value_t = 16)]
    log_n: u32,
    /// Slots bootstrapped (a power of two up to N/2; fewer = sparse packing). Default: N/2.
    #[arg(long)]
    slots: Option<u64>,
    #[arg(long, value_enum, default_value_t = Recipe::Hoisted)]
    recipe: Recipe,
    /// Merged radix-2 stages of CoeffToSlot and of SlotToCoeff (one level each).
    #[arg(long, default_value_t = bootstrap::recipe(2).cts_levels)]
    dft_levels: u32,
    /// EvalMod's range K: the ModRaise overflow |I| it reduces. 25 is Lee et al.'s value for
    /// h = 192 (the overflow's standard deviation is √(h/12) = 4, and N = 2^16 coefficients
    /// reach 4.5σ ≈ 18 per bootstrap, beyond the 16 that suffices for h = 64; |I| ≥ 25 is a
    /// 6σ event, ≈ 3·10⁻⁵ per bootstrap).
    #[arg(long, default_value_t = bootstrap::recipe(2).eval_mod_range)]
    eval_mod_range: u32,
    /// Degree of EvalMod's Chebyshev cosine (63 with 3 double angles approximates K = 25's
    /// cosine to 2^−41; Lee et al.'s 59 with 2 double angles to 2^−19).
    #[arg(long, default_value_t = bootstrap::recipe(2).eval_mod_degree)]
    eval_mod_degree: u32,
    /// Double-angle steps after the cosine.
    #[arg(long, default_value_t = bootstrap::recipe(2).double_angle)]
    double_angle: u32,
    /// Levels left after the bootstrap, counted as `--recipe` and `trace gen --net bootstrap`
    /// count L_eff: the refreshed ciphertext has this plus 1 limbs, the chain the recipe's
    /// budget plus this plus 1 (at least 1).
    #[arg(long, default_value_t = bootstrap::LEVELS_AFTER)]
    levels_after: u32,
    /// Hamming weight of the sparse ternary secret.
    #[arg(long, default_value_t = 192)]
    hamming_weight: usize,
    #[arg(long, default_value_t = 10)]
    trials: usize,
    /// Accept parameters without a 128-bit security bound (small N, tests).
    #[arg(long)]
    allow_insecure: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(command: CkksCommand) -> Result<ExitCode> {
    match command {
        CkksCommand::Bootstrap(args) => run_bootstrap(&args),
        CkksCommand::Ops(args) => run_ops(&args),
    }
}

/// The chain for a recipe ([`bootstrap::chain`]): its level budget, `--levels-after` levels
/// and the refreshed ciphertext's last limb.
fn builder(args: &BootstrapArgs, params: &BootstrapParams) -> Result<ParamsBuilder> {
    let limbs = hesim_sw::boot::chain_limbs(params, args.levels_after)
        .context("--levels-after is too large")?;
    Ok(
        bootstrap::chain(args.log_n, limbs as usize, args.hamming_weight)
            .allow_insecure(args.allow_insecure),
    )
}

fn run_bootstrap(args: &BootstrapArgs) -> Result<ExitCode> {
    if args.trials == 0 {
        anyhow::bail!("--trials must be at least 1");
    }
    if args.levels_after == 0 {
        anyhow::bail!(
            "--levels-after 0 leaves no level to compute on after the bootstrap; use at least 1"
        );
    }
    let full = 1u64 << args.log_n.clamp(1, 40).saturating_sub(1);
    let mut params = bootstrap::recipe(args.slots.unwrap_or(full));
    params.cts_levels = args.dft_levels;
    params.stc_levels = args.dft_levels;
    params.eval_mod_degree = args.eval_mod_degree;
    params.double_angle = args.double_angle;
    params.eval_mod_range = args.eval_mod_range;
    params.hoisting = if args.recipe == Recipe::NoHoist {
        Hoisting::None
    } else {
        Hoisting::Single
    };
    params.key_reuse = args.recipe == Recipe::MinKs;
    let ctx = Arc::new(Context::new(&builder(args, &params)?)?);
    bootstrap::expand(&ctx, &params)?;
    let mut sampler = Sampler::from_os();
    let sk = SecretKey::generate(&ctx, &mut sampler);
    let report = bootstrap::measure(&sk, &params, args.trials, &mut sampler, rand_seed())?;
    print_report(args, &ctx, &params, &report);
    Ok(ExitCode::SUCCESS)
}

fn run_ops(args: &OpsArgs) -> Result<ExitCode> {
    if args.reps == 0 || args.limbs == 0 || args.dnum == 0 {
        anyhow::bail!("--reps, --limbs and --dnum must be at least 1");
    }
    if args.rotate_step == 0 {
        anyhow::bail!(
            "--rotate-step 0 moves no slot, so there is no rotation (and no key switch) to \
             time; give a nonzero step"
        );
    }
    let mut q_bits = vec![60];
    q_bits.extend(vec![50; args.limbs - 1]);
    let digit = args.limbs.div_ceil(args.dnum.min(args.limbs));
    let widest_digit_bits: u32 = q_bits.iter().take(digit).sum();
    let special = widest_digit_bits.div_ceil(60) as usize;
    let builder = ParamsBuilder::new(args.log_n, q_bits, 50)
        .special_primes(vec![60; special])
        .dnum(args.dnum)
        .allow_insecure(args.allow_insecure);
    let ctx = Arc::new(Context::new(&builder)?);
    let rotation = latency::RotationSetup {
        step: args.rotate_step,
        key_steps: args
            .rotation_keys
            .clone()
            .unwrap_or_else(|| vec![args.rotate_step]),
    };
    let rows = latency::measure(&ctx, args.reps, &rotation, &mut Sampler::from_os()).with_context(
        || {
            format!(
                "--rotate-step {} with rotation keys for steps {:?} (--rotation-keys)",
                rotation.step, rotation.key_steps
            )
        },
    )?;
    let shape = ctx.shape();
    if args.json {
        let ops: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|r| {
                let ms = serde_json::json!({
                    "median_ms": r.median_seconds * 1e3,
                    "min_ms": r.min_seconds * 1e3,
                });
                (r.name.to_string(), ms)
            })
            .collect();
        let value = serde_json::json!({
            "log_n": shape.log_n,
            "limbs": shape.q_bits.len(),
            "special_primes": shape.p_bits.len(),
            "dnum": shape.dnum,
            "log_qp": ctx.log_qp(),
            "reps": args.reps,
            "rotate_step": args.rotate_step,
            "threads": 1,
            "ops": ops,
        });
        outln!("{value:#}");
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "N = 2^{}, {} ciphertext primes (60 + 50-bit), {} special primes of 60 bits, dnum {}, \
         log QP {:.1}; thread CPU time over {} calls at the top level",
        shape.log_n,
        shape.q_bits.len(),
        shape.p_bits.len(),
        shape.dnum,
        ctx.log_qp(),
        args.reps
    );
    for r in &rows {
        outln!(
            "{:10} median {:9.3} ms  min {:9.3} ms",
            r.name,
            r.median_seconds * 1e3,
            r.min_seconds * 1e3
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A value seed from the OS clock (the slot values need not be secret).
fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Peak resident memory of this process (VmHWM), if the OS reports it.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn print_report(
    args: &BootstrapArgs,
    ctx: &Context,
    params: &BootstrapParams,
    report: &BootstrapReport,
) {
    let shape = ctx.shape();
    let total: f64 = report.phase_seconds.iter().map(|(_, s)| s).sum();
    let peak = peak_rss_bytes();
    if args.json {
        let phases: serde_json::Map<String, serde_json::Value> = report
            .phase_seconds
            .iter()
            .map(|(l, s)| (l.clone(), serde_json::json!(s)))
            .collect();
        let value = serde_json::json!({
            "log_n": shape.log_n,
            "slots": params.slots,
            "recipe": format!("{:?}", args.recipe).to_lowercase(),
            "params": {
                "cts_levels": params.cts_levels,
                "stc_levels": params.stc_levels,
                "eval_mod_degree": params.eval_mod_degree,
                "double_angle": params.double_angle,
                "eval_mod_range": params.eval_mod_range,
                "level_budget": params.level_budget(),
            },
            "q_bits": shape.q_bits,
            "p_bits": shape.p_bits,
            "dnum": shape.dnum,
            "log_qp": ctx.log_qp(),
            "hamming_weight": args.hamming_weight,
            "trials": report.trials,
            "mean_bits": report.mean_bits,
            "worst_bits": report.worst_bits,
            "seconds_per_bootstrap": total,
            "phase_seconds": phases,
            "keygen_seconds": report.keygen_seconds,
            "key_bytes": report.key_bytes,
            "rotation_keys": report.rotation_keys,
            "output_level": report.output_level,
            "levels_after": args.levels_after,
            "peak_rss_bytes": peak,
            "threads": 1,
        });
        outln!("{value:#}");
        return;
    }
    outln!(
        "N = 2^{}, {} slots, chain {} × q (q0 {} bits, then {} bits), {} special primes of {} \
         bits, dnum {}, log QP {:.1}, sparse secret h = {}",
        shape.log_n,
        params.slots,
        shape.q_bits.len(),
        shape.q_bits[0],
        shape.q_bits.get(1).copied().unwrap_or(0),
        shape.p_bits.len(),
        shape.p_bits[0],
        shape.dnum,
        ctx.log_qp(),
        args.hamming_weight
    );
    outln!(
        "recipe {:?}: CtS/StC {}/{} levels, EvalMod K = {}, degree {} + {} double angles, \
         budget {} levels, {} left ({} limbs)",
        args.recipe,
        params.cts_levels,
        params.stc_levels,
        params.eval_mod_range,
        params.eval_mod_degree,
        params.double_angle,
        params.level_budget(),
        args.levels_after,
        report.output_level
    );
    outln!(
        "precision over {} trials: mean {:.2} bits, worst {:.2} bits",
        report.trials,
        report.mean_bits,
        report.worst_bits
    );
    let phases: Vec<String> = report
        .phase_seconds
        .iter()
        .map(|(l, s)| format!("{l} {s:.3}"))
        .collect();
    outln!(
        "CPU seconds per bootstrap (one thread): {total:.3} = {}",
        phases.join(" + ")
    );
    outln!(
        "keys: {} rotation/conjugation keys + relinearisation, {:.1} MB, generated in {:.2} s; \
         peak RSS {}",
        report.rotation_keys,
        report.key_bytes as f64 / 1e6,
        report.keygen_seconds,
        peak.map_or("unknown".into(), |b| format!("{:.1} MB", b as f64 / 1e6))
    );
}
