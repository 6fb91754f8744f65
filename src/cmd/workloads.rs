//! `trace gen --net helr`: the accelerator benchmark workloads of `hesim_sw::workloads`, on a
//! chain of 28-bit primes built from `--log-n` and `--limbs` and the bootstrap recipe of the
//! `--cts-levels` ... `--key-reuse` options.

use anyhow::{Context, Result, bail};
use clap::Args;
use hesim_sw::boot;
use hesim_sw::workloads::{self, HelrOptions};
use hesim_traces::{Header, Op};

use super::nn::GenArgs;

/// Chain length of `--net helr` without `--limbs`: the default 16-level bootstrap plus 9, so 8
/// levels (one 5-level iteration) remain after each bootstrap, the field's L_eff = 8.
const HELR_DEFAULT_LIMBS: u32 = 25;

/// Options of `--net helr`.
#[derive(Debug, Args)]
pub struct HelrArgs {
    /// Samples per HELR iteration (the benchmarks use 256 and 1024); a multiple of the samples
    /// one ciphertext holds (slots / --features).
    #[arg(long, default_value_t = 1024)]
    pub batch: u64,
    /// HELR training iterations.
    #[arg(long, default_value_t = 32)]
    pub iterations: u32,
    /// HELR slots per sample (features padded to a power of two).
    #[arg(long, default_value_t = 256)]
    pub features: u64,
    /// Bootstrap HELR's weight ciphertext on all slots instead of the --features slots its
    /// period allows.
    #[arg(long)]
    pub full_slot_boot: bool,
}

/// Generates HELR; returns its header, ops and a one-line summary of the plan.
pub fn helr(args: &GenArgs) -> Result<(Header, Vec<Op>, String)> {
    let b = &args.boot;
    if !(2..=17).contains(&b.log_n) {
        bail!(
            "--log-n {} is out of bounds: HELR needs a ring degree 2^2 ..= 2^17",
            b.log_n
        );
    }
    let limbs = b.limbs.unwrap_or(HELR_DEFAULT_LIMBS);
    let header = boot::header(b.log_n, limbs, "helr", "han-et-al", b.allow_insecure)
        .context("--log-n / --limbs")?;
    let recipe = b.params(header.slots);
    let h = &args.helr;
    let opts = HelrOptions {
        batch: h.batch,
        features: h.features,
        iterations: h.iterations,
        sparse_boot: !h.full_slot_boot,
    };
    let t = workloads::helr(&header, &recipe, &opts)?;
    let ops = if b.expand_boot {
        boot::expand_ops(&t.header, &t.ops)?
    } else {
        t.ops
    };
    let note = format!(
        "helr: {} iterations of {} ciphertexts, {} per bootstrap; bootstraps: {} on {} slots, \
         {}-level budget",
        opts.iterations,
        t.ciphertexts,
        t.iterations_per_bootstrap,
        t.bootstraps,
        t.boot.slots,
        t.boot.level_budget()
    );
    Ok((t.header, ops, note))
}
