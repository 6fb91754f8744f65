//! Bootstrapping on the CPU: the expanded bootstrap of [`hesim_traces::bootstrap`] — the op
//! sequence the simulator costs — run op by op on real ciphertexts by [`execute_profiled`],
//! with its plaintexts computed from the expansion's records.
//!
//! **Scales.** The input enters at level 1 (scale Δ_in) and decrypts to m. ModRaise gives
//! t = m + q_0·I at the top level, labelled with the canonical scale Δ_R of that level, so its
//! slots hold decode(t)/Δ_R. CoeffToSlot multiplies by P·D^{−1} (see [`super::dft`]) and by
//! Δ_R·n/(K·q_0·N) spread evenly over its stages: after the sub-sum (×N/2n for n slots) and
//! the real/imaginary split (×2) the slots hold the coefficients y = t/(K·q_0) ∈ [−1, 1] in
//! bit-reversed order. EvalMod's Chebyshev cosine and double angles give sin(2π·t/q_0) ≈
//! 2π·m/q_0 slot-wise. SlotToCoeff multiplies by D·P and q_0/(2π·Δ_in), so the output's slots
//! are the input's on the canonical scale of the output level.
//!
//! **Real/imaginary split.** Full packing: `re = v + conj(v)` is real; `im = v − conj(v)` is i
//! times a real vector, so the executor multiplies it by −i, and the imaginary branch's EvalMod
//! result by +i before the final add (monomials X^{±N/2}: no key switch, no level; the
//! expansion records where, see [`Payloads::imaginary_power`]). Sparse packing merges the parts
//! into 2n real slots instead; the ±i sit in two stages' diagonals
//! ([`PlainSource::Diagonal`]'s `merged_parts`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hesim_traces::bootstrap::{self as shared, Emitter, Expansion, PlainSource, Transform};
use hesim_traces::{BootstrapParams, Header, Op, OpKind, ValueId};
use num_complex::Complex64;

use super::dft::{Diagonals, merged_stage};
use super::{
    Ciphertext, CkksError, Context, Evaluator, GaloisKeys, ParamsBuilder, Payloads, RelinKey,
    Sampler, SecretDistribution, SecretKey, execute_profiled,
};

/// The payloads of one expanded bootstrap: DFT diagonals (computed once per merged stage),
/// EvalMod's constants and the split's powers of i.
#[derive(Debug)]
pub struct BootstrapPayloads {
    full_slots: usize,
    slots: usize,
    stages: HashMap<(Transform, u32), Diagonals>,
    plains: HashMap<u32, PlainSource>,
    constants: HashMap<ValueId, f64>,
    imaginary: HashMap<ValueId, u32>,
}

impl BootstrapPayloads {
    /// Payloads for `expansion` of a bootstrap with EvalMod range `eval_mod_range` (K) run in
    /// `ctx`: the bootstrap input has scale `input_scale` and ModRaise goes to `raised_level`.
    pub fn new(
        ctx: &Context,
        expansion: &Expansion,
        eval_mod_range: u32,
        input_scale: f64,
        raised_level: usize,
    ) -> Self {
        let k = f64::from(eval_mod_range);
        let q0 = ctx.q_primes()[0] as f64;
        let ring_degree = ctx.n() as f64;
        let mut stages = HashMap::new();
        let mut slots = 0;
        for source in expansion.plains.values() {
            let PlainSource::Diagonal {
                transform,
                stage,
                stages: count,
                log_slots,
                bits,
                stride,
                ..
            } = *source
            else {
                continue;
            };
            slots = 1usize << log_slots;
            stages.entry((transform, stage)).or_insert_with(|| {
                let n = slots as f64;
                let total = match transform {
                    Transform::CoeffToSlot => {
                        ctx.scale_at(raised_level) * n / (k * q0 * ring_degree)
                    }
                    Transform::SlotToCoeff => q0 / (2.0 * std::f64::consts::PI * input_scale),
                };
                let factor = total.powf(1.0 / f64::from(count));
                let inverse = transform == Transform::CoeffToSlot;
                merged_stage(slots, bits, stride as usize, inverse, factor)
            });
        }
        Self {
            full_slots: ctx.n() / 2,
            slots,
            stages,
            plains: expansion.plains.clone(),
            constants: expansion.constants.clone(),
            imaginary: expansion.imaginary.clone(),
        }
    }
}

impl Payloads for BootstrapPayloads {
    /// Every plaintext of a bootstrap is complex ([`Payloads::complex_plaintext`]).
    fn plaintext(&self, id: u32) -> &[f64] {
        panic!("plaintext {id} of a bootstrap is a complex DFT diagonal")
    }

    fn constant(&self, op: ValueId) -> f64 {
        *self
            .constants
            .get(&op)
            .unwrap_or_else(|| panic!("the expansion recorded no constant for op {op}"))
    }

    /// Diagonal k·stride of its merged stage, replicated over the full slots (sparse packing
    /// repeats the n slots) and rotated by −giant_shift for the BSGS giant step. A stage that
    /// merges real and imaginary parts has period 2n: the diagonal, then the diagonal times −i
    /// (CoeffToSlot) or +i (SlotToCoeff) ([`PlainSource::Diagonal`]).
    fn complex_plaintext(&self, id: u32) -> Option<Vec<Complex64>> {
        let PlainSource::Diagonal {
            transform,
            stage,
            stride,
            diagonal,
            giant_shift,
            merged_parts,
            ..
        } = *self.plains.get(&id)?
        else {
            return None;
        };
        let values = self
            .stages
            .get(&(transform, stage))?
            .get(&(diagonal * stride))?;
        let n = self.slots as i64;
        let (period, twist) = match (merged_parts, transform) {
            (false, _) => (n, Complex64::new(1.0, 0.0)),
            (true, Transform::CoeffToSlot) => (2 * n, Complex64::new(0.0, -1.0)),
            (true, Transform::SlotToCoeff) => (2 * n, Complex64::new(0.0, 1.0)),
        };
        Some(
            (0..self.full_slots as i64)
                .map(|p| {
                    let q = (p - giant_shift).rem_euclid(period);
                    if q < n {
                        values[q as usize]
                    } else {
                        values[(q - n) as usize] * twist
                    }
                })
                .collect(),
        )
    }

    fn imaginary_power(&self, op: ValueId) -> u32 {
        self.imaginary.get(&op).copied().unwrap_or(0)
    }
}

/// The trace header of a context (what the expansion's parameter check reads).
pub fn header_of(ctx: &Context) -> Header {
    let shape = ctx.shape();
    Header::new(
        shape.log_n,
        shape.slots as u64,
        shape.q_bits.clone(),
        shape.p_bits.clone(),
        shape.dnum as u32,
        shape.log_scale,
        "bootstrap",
        "expanded",
        concat!("hesim-sw ", env!("CARGO_PKG_VERSION")),
    )
}

/// One bootstrap recipe made runnable for one key: the expanded program, its payloads and the
/// keys it needs (relinearisation, and exactly the rotations and conjugation it performs).
#[derive(Debug)]
pub struct Bootstrapper {
    eval: Evaluator,
    ops: Vec<Op>,
    payloads: BootstrapPayloads,
    input: ValueId,
    output: ValueId,
    output_level: usize,
    key_bytes: usize,
}

impl Bootstrapper {
    /// Expands `params` for the secret key's context (full-slot: sparse packing is the
    /// recipe's slot count) and generates the keys it uses.
    pub fn new(
        sk: &SecretKey,
        params: &BootstrapParams,
        sampler: &mut Sampler,
    ) -> Result<Self, CkksError> {
        let ctx = sk.context();
        let (expansion, output_level) = expand(ctx, params)?;
        let relin = RelinKey::generate(sk, sampler);
        let galois = GaloisKeys::for_ops(sk, &expansion.ops, sampler);
        let key_bytes = relin.bytes() + galois.bytes();
        let eval = Evaluator::new(Arc::clone(ctx), Some(relin), galois);
        Ok(Self::with_evaluator(
            expansion,
            output_level,
            params,
            eval,
            key_bytes,
        ))
    }

    /// The bootstrapper of an expansion, running with `eval`'s keys (which cover its
    /// rotations; `key_bytes` is what they hold).
    fn with_evaluator(
        expansion: Expansion,
        output_level: usize,
        params: &BootstrapParams,
        eval: Evaluator,
        key_bytes: usize,
    ) -> Self {
        let ctx = eval.context();
        let input = expansion
            .ops
            .iter()
            .find(|op| op.kind == OpKind::Input)
            .map(|op| op.id)
            .expect("the program has an input");
        let output = expansion
            .ops
            .iter()
            .find(|op| op.kind == OpKind::Output)
            .map(|op| op.id)
            .expect("the program has an output");
        let payloads = BootstrapPayloads::new(
            ctx,
            &expansion,
            params.eval_mod_range,
            ctx.scale_at(1),
            ctx.max_level(),
        );
        Self {
            eval,
            ops: expansion.ops,
            payloads,
            input,
            output,
            output_level,
            key_bytes,
        }
    }

    /// Refreshes `ct` (any level, canonical scale): it is brought to level 1 and bootstrapped
    /// to [`Bootstrapper::output_level`]. Returns the result and the thread CPU time per phase
    /// (`mod_raise`, `coeff_to_slot`, `eval_mod`, `slot_to_coeff`).
    pub fn bootstrap(
        &self,
        ct: &Ciphertext,
    ) -> Result<(Ciphertext, Vec<(String, Duration)>), CkksError> {
        let input = self.eval.level_down(ct, 1)?;
        let mut profile = Vec::new();
        let mut outputs = execute_profiled(
            &self.eval,
            &self.ops,
            HashMap::from([(self.input, input)]),
            &self.payloads,
            &mut profile,
        )?;
        profile.retain(|(layer, _)| layer != "input" && layer != "output");
        let out = outputs
            .remove(&self.output)
            .expect("execute returns every output");
        Ok((out, profile))
    }

    /// The level bootstrapped ciphertexts come out at.
    pub fn output_level(&self) -> usize {
        self.output_level
    }

    /// Bytes of the relinearisation and Galois keys.
    pub fn key_bytes(&self) -> usize {
        self.key_bytes
    }

    /// The expanded program (for counting its ops).
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The evaluator with the bootstrap's keys.
    pub fn evaluator(&self) -> &Evaluator {
        &self.eval
    }
}

/// The bootstrappers of a program — one per distinct parameter set of its `bootstrap` ops —
/// and one set of keys that they and the program share, for
/// [`super::execute_with_bootstraps`]: a relinearisation key and a Galois key for every
/// rotation the program or any bootstrap expansion performs, each sized for the highest level
/// it is used at ([`GaloisKeys::for_ops`]). Sharing matters at N = 2^16: ResNet-20 bootstraps
/// at three slot counts whose DFTs rotate by mostly the same steps (≈ 3.7 GB of keys each
/// apart).
#[derive(Debug)]
pub struct Bootstrappers {
    by_params: HashMap<BootstrapParams, Bootstrapper>,
    relin: Arc<RelinKey>,
    galois: Arc<GaloisKeys>,
}

impl Bootstrappers {
    /// Bootstrappers for every parameter set of a `bootstrap` op in `ops`, and the keys for
    /// them and for `ops` themselves.
    pub fn for_program<'a>(
        sk: &SecretKey,
        ops: impl IntoIterator<Item = &'a Op>,
        sampler: &mut Sampler,
    ) -> Result<Self, CkksError> {
        let ctx = sk.context();
        let ops: Vec<&Op> = ops.into_iter().collect();
        let mut expansions: Vec<(BootstrapParams, Expansion, usize)> = Vec::new();
        for op in &ops {
            if let OpKind::Bootstrap(params) = &op.kind
                && !expansions.iter().any(|(p, ..)| p == params)
            {
                let (expansion, output_level) = expand(ctx, params)?;
                expansions.push((*params, expansion, output_level));
            }
        }
        let relin = Arc::new(RelinKey::generate(sk, sampler));
        let rotations = ops
            .iter()
            .copied()
            .chain(expansions.iter().flat_map(|(_, e, _)| &e.ops));
        let galois = Arc::new(GaloisKeys::for_ops(sk, rotations, sampler));
        let key_bytes = relin.bytes() + galois.bytes();
        let by_params = expansions
            .into_iter()
            .map(|(params, expansion, output_level)| {
                let eval =
                    Evaluator::sharing(Arc::clone(ctx), Some(Arc::clone(&relin)), galois.clone());
                let boot =
                    Bootstrapper::with_evaluator(expansion, output_level, &params, eval, key_bytes);
                (params, boot)
            })
            .collect();
        Ok(Self {
            by_params,
            relin,
            galois,
        })
    }

    /// The bootstrapper for `params`, if the program has a `bootstrap` op with them.
    pub fn get(&self, params: &BootstrapParams) -> Option<&Bootstrapper> {
        self.by_params.get(params)
    }

    /// An evaluator with the shared keys, to run the program.
    pub fn evaluator(&self, context: &Arc<Context>) -> Evaluator {
        Evaluator::sharing(
            Arc::clone(context),
            Some(Arc::clone(&self.relin)),
            Arc::clone(&self.galois),
        )
    }

    /// Bytes of all the keys (each shared key once).
    pub fn key_bytes(&self) -> usize {
        self.relin.bytes() + self.galois.bytes()
    }

    /// Number of distinct recipes.
    pub fn len(&self) -> usize {
        self.by_params.len()
    }

    /// Whether the program has no `bootstrap` op.
    pub fn is_empty(&self) -> bool {
        self.by_params.is_empty()
    }
}

/// Levels a program gets between bootstraps on the 128-bit N = 2^16 chain of [`chain`],
/// counted as the recipes count L_eff (`hesim_traces::bootstrap::chain_limbs`): the recipe's
/// budget of 16 plus these plus 1 is 22 limbs, the most that fits log QP ≤ 1553.
pub const LEVELS_AFTER: u32 = 5;

/// The recipe `hesim ckks bootstrap` measures by default and encrypted programs bootstrap
/// with: CoeffToSlot / SlotToCoeff in 3 levels each, hoisted baby steps, a degree-63
/// Chebyshev cosine with 3 double angles, EvalMod range K = 25 (Lee et al.'s for h = 192).
pub fn recipe(slots: u64) -> BootstrapParams {
    BootstrapParams {
        cts_levels: 3,
        stc_levels: 3,
        eval_mod_degree: 63,
        double_angle: 3,
        eval_mod_range: 25,
        ..shared::default_params(slots)
    }
}

/// The chain bootstrapping runs on: `limbs` ciphertext primes (a 60-bit q_0, then 50-bit
/// primes), dnum 3 with ⌈limbs/3⌉ special primes of 55 bits (at N = 2^16 and 22 limbs
/// log QP = 1550 ≤ 1553), message scale 2^55 (the canonical schedule then settles at ≈ 2^50
/// within a few levels: q_0/Δ = 2^5 is the headroom EvalMod's sine keeps linear, and each bit
/// less of it is a bit more precision), a sparse ternary secret of `hamming_weight`.
pub fn chain(log_n: u32, limbs: usize, hamming_weight: usize) -> ParamsBuilder {
    let mut q_bits = vec![60];
    q_bits.extend(vec![50; limbs.saturating_sub(1)]);
    let dnum = 3.min(limbs.max(1));
    ParamsBuilder::new(log_n, q_bits, 55)
        .special_primes(vec![55; limbs.div_ceil(dnum).max(1)])
        .dnum(dnum)
        .secret(SecretDistribution::SparseTernary { hamming_weight })
}

/// The standalone expanded bootstrap for `ctx`: input at level 1, ModRaise to the top, output
/// at top − level budget. Checks that the context is full-slot and the recipe fits its chain.
pub fn expand(ctx: &Context, params: &BootstrapParams) -> Result<(Expansion, usize), CkksError> {
    if ctx.slots() != ctx.n() / 2 {
        return Err(CkksError::InvalidBootstrap {
            field: "context slots",
            value: ctx.slots() as u64,
            reason: format!(
                "bootstrapping runs in a full-slot context (N/2 = {}); set the recipe's slots for \
                 sparse packing instead",
                ctx.n() / 2
            ),
        });
    }
    let header = header_of(ctx);
    shared::check(params, &header).map_err(CkksError::from)?;
    let top = ctx.max_level() as u32;
    let output_level = top - params.level_budget();
    let mut e = Emitter::new(header.slots, 0, 0, 0);
    e.set_layer("input");
    let x = e.input(1);
    let y = shared::expand(&mut e, x, params, header.log_n, top, output_level, true);
    e.set_layer("output");
    e.output(y);
    Ok((e.into(), output_level as usize))
}

/// Precision and time of bootstrapping random encrypted vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct BootstrapReport {
    pub trials: usize,
    /// −log2 of the mean |error| over all slots and trials.
    pub mean_bits: f64,
    /// −log2 of the largest |error| over all slots and trials.
    pub worst_bits: f64,
    /// Mean thread CPU seconds per bootstrap by phase, in execution order.
    pub phase_seconds: Vec<(String, f64)>,
    /// Thread CPU seconds to generate the relinearisation and Galois keys.
    pub keygen_seconds: f64,
    pub key_bytes: usize,
    pub rotation_keys: usize,
    pub output_level: usize,
}

/// Bootstraps `trials` fresh public-key encryptions (at level 1) of uniform random slot values
/// in [−1, 1] + i[−1, 1] (n = `params.slots` values, repeated over the full slots for sparse
/// packing) and compares the decryptions with the values in f64 (the independent reference).
/// Keys and encryptions draw from `sampler`, the values from `value_seed`.
pub fn measure(
    sk: &SecretKey,
    params: &BootstrapParams,
    trials: usize,
    sampler: &mut Sampler,
    value_seed: u64,
) -> Result<BootstrapReport, CkksError> {
    use rand::{Rng, SeedableRng};

    let ctx = sk.context();
    let pk = super::PublicKey::generate(sk, sampler);
    let started = cpu_time::ThreadTime::now();
    let boot = Bootstrapper::new(sk, params, sampler)?;
    let keygen_seconds = started.elapsed().as_secs_f64();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(value_seed);
    let n = params.slots as usize;
    let (mut error_sum, mut worst, mut count) = (0.0f64, 0.0f64, 0usize);
    let mut phases: Vec<(String, f64)> = Vec::new();
    for _ in 0..trials {
        let values: Vec<Complex64> = (0..n)
            .map(|_| Complex64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
            .collect();
        let full: Vec<Complex64> = (0..ctx.slots()).map(|j| values[j % n]).collect();
        let ct = pk.encrypt(&ctx.encode(&full, 1, ctx.scale_at(1))?, sampler);
        let (out, profile) = boot.bootstrap(&ct)?;
        for (layer, time) in profile {
            match phases.iter_mut().find(|(l, _)| *l == layer) {
                Some((_, t)) => *t += time.as_secs_f64(),
                None => phases.push((layer, time.as_secs_f64())),
            }
        }
        for (got, want) in sk.decrypt_decode(&out).iter().zip(&full) {
            let err = (got - want).norm();
            error_sum += err;
            worst = worst.max(err);
            count += 1;
        }
    }
    for (_, t) in &mut phases {
        *t /= trials.max(1) as f64;
    }
    Ok(BootstrapReport {
        trials,
        mean_bits: -(error_sum / count.max(1) as f64).log2(),
        worst_bits: -worst.log2(),
        phase_seconds: phases,
        keygen_seconds,
        key_bytes: boot.key_bytes(),
        rotation_keys: boot.evaluator().galois_key_count(),
        output_level: boot.output_level(),
    })
}

#[cfg(test)]
mod tests {
    use hesim_traces::Hoisting;

    use super::*;

    /// A small insecure chain for the tests: q_0 of 60 bits, 50-bit primes (scale 2^50), one
    /// 60-bit special prime per digit (dnum = chain length).
    fn small_context(log_n: u32, limbs: usize, hamming_weight: usize) -> Arc<Context> {
        let mut q = vec![60];
        q.extend(vec![50; limbs - 1]);
        let builder = ParamsBuilder::new(log_n, q, 50)
            .special_primes(vec![60])
            .dnum(limbs)
            .secret(SecretDistribution::SparseTernary { hamming_weight })
            .allow_insecure(true);
        Arc::new(Context::new(&builder).unwrap())
    }

    fn recipe(slots: u64, levels: u32, hoisting: Hoisting, key_reuse: bool) -> BootstrapParams {
        let mut params = shared::default_params(slots);
        params.cts_levels = levels;
        params.stc_levels = levels;
        params.eval_mod_degree = 63;
        params.double_angle = 3;
        params.hoisting = hoisting;
        params.key_reuse = key_reuse;
        params
    }

    /// Every variant of the shared expansion — full and sparse slots, hoisted or not, Min-KS
    /// key reuse, 2 or 3 DFT levels — refreshes random encrypted vectors at N = 2^10..2^11 to
    /// more than 15 bits in the worst slot (the goal is 14), measured against the f64 values.
    #[test]
    fn bootstrap_variants_refresh_ciphertexts() {
        let cases = [
            (10, 512, 3, Hoisting::Single, false),
            (10, 512, 2, Hoisting::None, true),
            (10, 64, 2, Hoisting::Single, false),
            (11, 256, 3, Hoisting::Double, false),
            (11, 1024, 3, Hoisting::None, false),
        ];
        for (log_n, slots, levels, hoisting, key_reuse) in cases {
            let params = recipe(slots, levels, hoisting, key_reuse);
            let ctx = small_context(log_n, params.level_budget() as usize + 2, 64);
            let mut sampler = Sampler::from_seed_insecure(u64::from(log_n) * 1000 + slots);
            let sk = SecretKey::generate(&ctx, &mut sampler);
            let report = measure(&sk, &params, 1, &mut sampler, 7).unwrap();
            println!(
                "N = 2^{log_n}, {slots} slots, {levels} levels, {hoisting:?}, reuse {key_reuse}: \
                 mean {:.1} / worst {:.1} bits, {} rotation keys",
                report.mean_bits, report.worst_bits, report.rotation_keys
            );
            assert_eq!(report.output_level, 2);
            assert!(
                report.worst_bits >= 15.0,
                "worst {:.2} bits",
                report.worst_bits
            );
            assert!(report.mean_bits >= report.worst_bits + 1.0);
            let names: Vec<&str> = report
                .phase_seconds
                .iter()
                .map(|(l, _)| l.as_str())
                .collect();
            assert_eq!(
                names,
                ["mod_raise", "coeff_to_slot", "eval_mod", "slot_to_coeff"]
            );
        }
    }

    /// The EvalMod range must cover the ModRaise overflow I, whose standard deviation is
    /// √(h/12): with h = 512 at N = 2^11 (σ ≈ 6.5, so dozens of the 2048 coefficients exceed
    /// 16) K = 16 breaks slots, and K = 32 (4.9σ) refreshes them to more than 14 bits, measured
    /// against the f64 values. The same keys and input for both.
    #[test]
    fn eval_mod_range_covers_the_overflow_of_heavier_secrets() {
        let mut params = recipe(1024, 3, Hoisting::Single, false);
        let ctx = small_context(11, params.level_budget() as usize + 2, 512);
        let mut worst = Vec::new();
        for range in [16, 32] {
            params.eval_mod_range = range;
            let mut sampler = Sampler::from_seed_insecure(11);
            let sk = SecretKey::generate(&ctx, &mut sampler);
            let report = measure(&sk, &params, 1, &mut sampler, 3).unwrap();
            println!(
                "K = {range}: mean {:.1} / worst {:.1} bits",
                report.mean_bits, report.worst_bits
            );
            worst.push(report.worst_bits);
        }
        assert!(worst[0] < 8.0, "K = 16 kept {:.1} bits", worst[0]);
        assert!(worst[1] >= 14.0, "K = 32 gave {:.1} bits", worst[1]);
    }

    /// A deep program with two `bootstrap` ops — w = ((x²/2)² + ¼)·x, refreshed after x²/2
    /// and after the fourth power — runs end to end through [`execute_with_bootstraps`], and
    /// decrypts to the f64 evaluation of the same formula within 2^−10; without bootstrapping
    /// keys the executor returns a typed error.
    #[test]
    fn traces_with_bootstrap_ops_run_end_to_end() {
        let params = recipe(512, 3, Hoisting::Single, false);
        let ctx = small_context(10, params.level_budget() as usize + 3, 64);
        let out = ctx.max_level() as u32 - params.level_budget();
        let mut e = Emitter::new(512, 0, 0, 0);
        let x = e.input(out);
        let square = e.mul_relin_rescale(x, x);
        let half = e.mul_const(square, 0.5);
        let half = e.rescale(half);
        let refreshed = e.bootstrap(half, params, out);
        let fourth = e.mul_relin_rescale(refreshed, refreshed);
        let shifted = e.add_const(fourth, 0.25);
        let refreshed = e.bootstrap(shifted, params, out);
        let w = e.mul_relin_rescale(refreshed, x);
        e.output(w);
        let program: Expansion = e.into();
        let payloads = super::super::MapPayloads {
            plaintexts: HashMap::new(),
            constants: program.constants.clone(),
        };
        let mut sampler = Sampler::from_seed_insecure(21);
        let sk = SecretKey::generate(&ctx, &mut sampler);
        let boots = Bootstrappers::for_program(&sk, &program.ops, &mut sampler).unwrap();
        assert_eq!(boots.len(), 1);
        let eval = boots.evaluator(&ctx);
        let values: Vec<f64> = (0..512).map(|j| (j as f64 * 0.37).sin()).collect();
        let pt = ctx
            .encode_real(&values, out as usize, ctx.scale_at(out as usize))
            .unwrap();
        let input = program.ops[0].id;
        let inputs = HashMap::from([(input, sk.encrypt(&pt, &mut sampler))]);
        let missing = super::super::execute(&eval, &program.ops, inputs.clone(), &payloads);
        assert!(
            matches!(missing, Err(CkksError::MissingBootstrapKeys { .. })),
            "{missing:?}"
        );
        let mut profile = Vec::new();
        let outputs = super::super::execute_with_bootstraps(
            &eval,
            &program.ops,
            inputs,
            &payloads,
            &boots,
            &mut profile,
        )
        .unwrap();
        let got = sk.decrypt_decode(outputs.values().next().unwrap());
        let worst = values
            .iter()
            .zip(&got)
            .map(|(&v, g)| ((v * v / 2.0).powi(2) + 0.25) * v - g.re)
            .fold(0.0f64, |m, d| m.max(d.abs()));
        println!("two bootstraps: worst error 2^{:.1}", worst.log2());
        assert!(worst < 2f64.powi(-10), "worst error {worst}");
    }

    /// A recipe whose level budget does not fit the chain, a sparse-slot context, and a missing
    /// rotation key are typed errors.
    #[test]
    fn bootstrap_errors_are_typed() {
        let params = recipe(512, 3, Hoisting::Single, false);
        let ctx = small_context(10, params.level_budget() as usize, 64);
        let mut sampler = Sampler::from_seed_insecure(1);
        let sk = SecretKey::generate(&ctx, &mut sampler);
        assert!(matches!(
            Bootstrapper::new(&sk, &params, &mut sampler),
            Err(CkksError::InvalidBootstrap {
                field: "level_budget",
                ..
            })
        ));
        let mut odd = params;
        odd.slots = 96;
        assert!(matches!(
            expand(&ctx, &odd),
            Err(CkksError::InvalidBootstrap { field: "slots", .. })
        ));
        let ctx = small_context(10, params.level_budget() as usize + 1, 64);
        let sk = SecretKey::generate(&ctx, &mut sampler);
        let boot = Bootstrapper::new(&sk, &params, &mut sampler).unwrap();
        let (expansion, _) = expand(&ctx, &params).unwrap();
        let no_keys = Evaluator::new(Arc::clone(&ctx), None, GaloisKeys::default());
        let payloads = BootstrapPayloads::new(
            &ctx,
            &expansion,
            params.eval_mod_range,
            ctx.scale_at(1),
            ctx.max_level(),
        );
        let pt = ctx.encode_real(&[0.5], 1, ctx.scale_at(1)).unwrap();
        let ct = sk.encrypt(&pt, &mut sampler);
        let input = expansion.ops[0].id;
        let result = super::super::execute(
            &no_keys,
            &expansion.ops,
            HashMap::from([(input, ct.clone())]),
            &payloads,
        );
        assert!(
            matches!(result, Err(CkksError::MissingRotationKey { .. })),
            "{result:?}"
        );
        assert!(boot.bootstrap(&ct).is_ok());
    }
}
