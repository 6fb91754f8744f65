//! HELR: encrypted logistic-regression training (Han et al., AAAI'19) as the SNU group runs it
//! for the accelerator benchmarks (`scale-snu/cheddar-ae`, `unittest/HELR.cpp`), as a trace.
//!
//! **Packing.** Each sample is `features` = f slots (MNIST padded to 256); a ciphertext holds
//! slots/f samples (128 at 2^15 slots), so a batch is batch·f/slots ciphertexts (HELR256: 2,
//! HELR1024: 8). The weight ciphertexts w and v hold the f weights replicated in every f-slot
//! block, one copy per sample.
//!
//! **One iteration** (start level L, 5 levels):
//! 1. inner product, per data ciphertext z: `z·v` (L−1); rotate-and-sum over the f slots of a
//!    sample (log2 f rotations by +2^i); a 0/1 mask keeping slot 0 of each block (L−2);
//!    rotate-and-sum back (log2 f rotations by −2^i) so every slot of a block holds its
//!    sample's ip = z·v;
//! 2. sigmoid and gradient terms, per ciphertext: γ·σ(ip)·z with the degree-3
//!    σ(x) ≈ 0.5 − 0.0843·x + 0.0002·x³ written as (ip² + c1/c3)·(ip·(γc3·z)) + γc0·z:
//!    γc3·z (L−2), ip·that (L−3), ip² (L−3), their product (L−4), γc0·z (L−4), one add;
//! 3. gradient: the ciphertexts' terms summed, then rotate-and-sum over the samples
//!    (log2(slots/f) rotations by f·2^i), which also leaves the result replicated per block;
//! 4. Nesterov update: w⁺ = v + gradient (L−4), v⁺ = (1−η)·w⁺ + η·w (one rescale, L−5),
//!    w⁺ brought to L−5.
//!
//! z is brought down to the level each constant product needs before multiplying (cheaper
//! than multiplying at the top and dropping limbs after).
//!
//! **Bootstrapping.** w and v are bootstrapped together as one ciphertext v + i·w ("merge two
//! real"): add (the ·i is a monomial multiplication, free, folded into the add), one
//! `bootstrap`, `conjugate`, then w = i·(conj − b) (`sub`) and v = b + conj (`add`); the
//! factor 2 is folded into the next iteration's constants. A bootstrap happens before an
//! iteration whenever fewer than 5 levels remain above level 1, so the number of iterations
//! per bootstrap is ⌊(levels after bootstrap − 1)/5⌋ with levels after bootstrap = chain length
//! − the recipe's level budget; there is no bootstrap after the last iteration.
//!
//! **Sparse-slot bootstrap.** The weight ciphertext is periodic with period f (the same f
//! weights in every block: the inner product needs a copy per sample, and the sample-sum
//! rotations restore the replication every iteration). A slot vector of period f is the
//! encoding of a plaintext in the subring Z[X^(N/2f)], so an f-slot sparse bootstrap refreshes
//! it exactly: its DFTs span log2 f radix-2 stages instead of log2(slots) (smaller diagonals at
//! the same level budget), after a ModRaise sub-sum of log2(N/2/f) rotations. The SNU
//! artifact does the same (`PrepareBoot(f, ...)`, "f = 256; // equal to num slots").
//! `sparse_boot = false` keeps the recipe's slot count instead.

use std::collections::HashMap;

use hesim_traces::{BootstrapParams, Header, Op, ValueId};

use super::WorkloadError;
use crate::boot::{self, Ct, Emitter};

/// Levels one iteration consumes (inner product 2, sigmoid 2, update 1).
pub const LEVELS_PER_ITERATION: u32 = 5;
/// σ(x) ≈ C0 + C1·x + C3·x³ (the SNU artifact's coefficients, `ExampleOps.h`).
pub const SIGMOID_C0: f64 = 0.5;
pub const SIGMOID_C1: f64 = -0.0843;
pub const SIGMOID_C3: f64 = 0.0002;
/// Nesterov momentum schedule: α_0 (the artifact's `alpha0`).
const NESTEROV_ALPHA0: f64 = 0.01;
/// Bounds that keep a trace to a sensible size.
const MAX_CIPHERTEXTS: u64 = 4096;
const MAX_ITERATIONS: u32 = 10_000;

/// HELR options; [`Default`] is HELR1024 as the benchmark runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelrOptions {
    /// Samples per iteration (1,024 or 256 in the benchmarks).
    pub batch: u64,
    /// Slots per sample (features padded to a power of two; 256 for MNIST's 784 → 196 + 1).
    pub features: u64,
    /// Training iterations (32 in the benchmarks).
    pub iterations: u32,
    /// Bootstrap the weight ciphertext on `features` slots (see the module docs).
    pub sparse_boot: bool,
}

impl Default for HelrOptions {
    fn default() -> Self {
        Self {
            batch: 1024,
            features: 256,
            iterations: 32,
            sparse_boot: true,
        }
    }
}

/// A generated HELR program.
#[derive(Clone, Debug)]
pub struct HelrTrace {
    /// The design's header with `network = helr<batch>`, `packing = han-et-al`.
    pub header: Header,
    pub ops: Vec<Op>,
    /// Scalars of the `add_const` / `mul_const` ops, by op id.
    pub constants: HashMap<ValueId, f64>,
    /// Data ciphertexts per iteration.
    pub ciphertexts: u64,
    pub iterations_per_bootstrap: u32,
    pub bootstraps: u32,
    /// The bootstrap parameters the trace uses (the recipe's, with the sparse slot count).
    pub boot: BootstrapParams,
}

fn param(parameter: &'static str, value: u64, bound: String) -> WorkloadError {
    WorkloadError::Param {
        workload: "helr",
        parameter,
        value,
        bound,
    }
}

/// Checks the options against the header and the recipe; returns (ciphertexts per batch,
/// bootstrap parameters, level after a bootstrap).
fn plan(
    header: &Header,
    recipe: &BootstrapParams,
    opts: &HelrOptions,
) -> Result<(u64, BootstrapParams, u32), WorkloadError> {
    let slots = header.slots;
    let f = opts.features;
    if !f.is_power_of_two() || !(2..=slots).contains(&f) {
        return Err(param(
            "features",
            f,
            format!("must be a power of two between 2 and the {slots} slots"),
        ));
    }
    let per_ct = slots / f;
    if opts.batch == 0 || !opts.batch.is_multiple_of(per_ct) {
        return Err(param(
            "batch",
            opts.batch,
            format!(
                "must be a positive multiple of the {per_ct} samples one ciphertext holds \
                 ({slots} slots / {f} features)"
            ),
        ));
    }
    let cts = opts.batch / per_ct;
    if cts > MAX_CIPHERTEXTS {
        return Err(param(
            "batch",
            opts.batch,
            format!(
                "at most {} samples ({MAX_CIPHERTEXTS} ciphertexts of {per_ct})",
                MAX_CIPHERTEXTS * per_ct
            ),
        ));
    }
    if !(1..=MAX_ITERATIONS).contains(&opts.iterations) {
        return Err(param(
            "iterations",
            u64::from(opts.iterations),
            format!("must be between 1 and {MAX_ITERATIONS}"),
        ));
    }
    let mut p = *recipe;
    if opts.sparse_boot {
        p.slots = f;
    }
    boot::check(&p, header).map_err(|source| WorkloadError::Bootstrap {
        workload: "helr",
        source,
    })?;
    let budget = p.level_budget();
    let boot_level = header.max_level() - budget;
    if boot_level < LEVELS_PER_ITERATION + 1 {
        return Err(param(
            "limbs",
            u64::from(header.max_level()),
            format!(
                "at least {} (the {budget}-level bootstrap plus {LEVELS_PER_ITERATION} levels \
                 for one iteration above level 1)",
                budget + LEVELS_PER_ITERATION + 1
            ),
        ));
    }
    Ok((cts, p, boot_level))
}

/// Generates `opts.iterations` HELR iterations under the design's `header` and bootstrap
/// `recipe`.
pub fn helr(
    header: &Header,
    recipe: &BootstrapParams,
    opts: &HelrOptions,
) -> Result<HelrTrace, WorkloadError> {
    let (cts, boot_params, boot_level) = plan(header, recipe, opts)?;
    let f = opts.features as i64;
    let log_f = opts.features.trailing_zeros();
    let log_samples = (header.slots / opts.features).trailing_zeros();
    let gamma = 1.0 / opts.batch as f64;
    let mut e = Emitter::new(header.slots, 0, 0, 0);
    e.set_layer("input");
    let mut w = e.input(boot_level);
    let mut v = e.input(boot_level);
    let (mut alpha0, mut alpha1) = (NESTEROV_ALPHA0, nesterov_next(NESTEROV_ALPHA0));
    let mut bootstraps = 0;
    for _ in 0..opts.iterations {
        if v.level < LEVELS_PER_ITERATION + 1 {
            (w, v) = merged_bootstrap(&mut e, w, v, boot_params, boot_level);
            bootstraps += 1;
        }
        let top = v.level;
        e.set_layer("input");
        let data: Vec<Ct> = (0..cts).map(|_| e.input(top)).collect();
        let mut grad = None;
        for &z in &data {
            e.set_layer("inner_product");
            let ip = inner_product(&mut e, z, v, log_f);
            e.set_layer("sigmoid");
            let term = sigmoid_term(&mut e, z, ip, gamma);
            e.set_layer("gradient");
            grad = Some(e.accumulate(grad, term));
        }
        let mut grad = grad.expect("at least one ciphertext");
        for i in 0..log_samples {
            let r = e.rotate(grad, f << i, None);
            grad = e.add(grad, r);
        }
        e.set_layer("update");
        let eta = (1.0 - alpha0) / alpha1;
        (alpha0, alpha1) = (alpha1, nesterov_next(alpha1));
        let v_low = e.level_to(v, grad.level);
        let w_next = e.add(grad, v_low);
        let a = e.mul_const(w_next, 1.0 - eta);
        let w_low = e.level_to(w, grad.level);
        let b = e.mul_const(w_low, eta);
        let sum = e.add(a, b);
        v = e.rescale(sum);
        w = e.level_to(w_next, v.level);
    }
    e.set_layer("output");
    e.output(w);
    let mut header = header.clone();
    header.network = format!("helr{}", opts.batch);
    header.packing = "han-et-al".into();
    Ok(HelrTrace {
        header,
        ops: e.ops,
        constants: e.constants,
        ciphertexts: cts,
        iterations_per_bootstrap: (boot_level - 1) / LEVELS_PER_ITERATION,
        bootstraps,
        boot: boot_params,
    })
}

/// α_(k+1) = (1 + √(1 + 4α_k²))/2.
fn nesterov_next(alpha: f64) -> f64 {
    (1.0 + (1.0 + 4.0 * alpha * alpha).sqrt()) / 2.0
}

/// z·v summed over each sample's f slots and replicated back over them (2 levels).
fn inner_product(e: &mut Emitter, z: Ct, v: Ct, log_f: u32) -> Ct {
    let mut s = e.mul_relin_rescale(z, v);
    for i in 0..log_f {
        let r = e.rotate(s, 1 << i, None);
        s = e.add(s, r);
    }
    let (masked, _) = e.mul_plain(s);
    let mut s = e.rescale(masked);
    for i in 0..log_f {
        let r = e.rotate(s, -(1 << i), None);
        s = e.add(s, r);
    }
    s
}

/// γ·σ(ip)·z = (ip² + c1/c3)·(ip·(γc3·z)) + γc0·z, from ip at L−2 and z at L: result at L−4.
fn sigmoid_term(e: &mut Emitter, z: Ct, ip: Ct, gamma: f64) -> Ct {
    let z_high = e.level_to(z, ip.level + 1);
    let c3z = e.mul_const(z_high, gamma * SIGMOID_C3);
    let c3z = e.rescale(c3z);
    let cubic_part = e.mul_relin_rescale(ip, c3z);
    let square = e.mul_relin_rescale(ip, ip);
    let square = e.add_const(square, SIGMOID_C1 / SIGMOID_C3);
    let odd = e.mul_relin_rescale(square, cubic_part);
    let z_low = e.level_to(z_high, odd.level + 1);
    let c0z = e.mul_const(z_low, gamma * SIGMOID_C0);
    let c0z = e.rescale(c0z);
    e.add(odd, c0z)
}

/// Bootstraps w and v as the one ciphertext v + i·w and splits the result again.
fn merged_bootstrap(e: &mut Emitter, w: Ct, v: Ct, p: BootstrapParams, level: u32) -> (Ct, Ct) {
    e.set_layer("bootstrap");
    let packed = e.add(v, w);
    let b = e.bootstrap(packed, p, level);
    let conj = e.conjugate(b);
    (e.sub(conj, b), e.add(b, conj))
}

#[cfg(test)]
mod tests;
