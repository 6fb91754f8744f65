//! CKKS bootstrapping as a trace: the ONE bootstrap op sequence that the software stack
//! (`sw::ckks` executes it, `sw::nn` emits it) and the simulator (it lowers a `bootstrap` op
//! through it) share. A `bootstrap` op is expanded into the primitive
//! ops of the packed bootstrapping of Cheon–Han–Kim–Kim–Song / Bossuat et al.:
//!
//! 1. **ModRaise**: one `mod_raise` op from the input level to the top of the chain. For sparse
//!    packing (slots < N/2) it is followed by the sub-sum: log2(N/2/slots) rotations by
//!    slots·2^j and adds.
//! 2. **CoeffToSlot**: a homomorphic DFT over log2(slots) radix-2 butterfly stages merged into
//!    `cts_levels` BSGS linear transforms (largest strides first). A merged stage of b bits at
//!    stride σ has the 2^(b+1)−1 diagonals k·σ, |k| < 2^b; with n1 baby steps (the power of two
//!    minimising rotations, ties to the smaller) the diagonal k = j·n1 + i (0 ≤ i < n1) costs
//!    one `mul_plain`; there are n1−1 baby rotations (by i·σ) and one giant rotation per
//!    non-zero j (by j·n1·σ); one `rescale` per stage. The ModRaise normalisation constant is
//!    folded into these plaintext matrices.
//! 3. **EvalMod**: for full packing a `conjugate` splits real and imaginary parts (`add`, `sub`;
//!    the ½ is folded into CoeffToSlot, and the ·(−i) of the imaginary part and the final ·i
//!    are free monomial multiplications, recorded in [`Expansion::imaginary`]); sparse packing
//!    merges them instead (below). Then per part the Chebyshev interpolant of degree
//!    `eval_mod_degree` of cos(2π(K·y − ¼)/2^r) (K = `eval_mod_range`), evaluated by BSGS (see
//!    [`poly::eval_poly`]), and r = `double_angle` steps cos 2θ = 2cos²θ − 1; the parts are
//!    added back.
//! 4. **SlotToCoeff**: the inverse DFT in `stc_levels` BSGS stages (smallest strides first).
//!
//! Level use is exactly [`BootstrapParams::level_budget`] when eval_mod_degree + 1 is a power
//! of two: cts + stc + (⌈log2(d+1)⌉ + 1) + r; otherwise the slack is dropped by a free
//! `level_down` at the end. **Double-prime scaling** (SHARP's DPS) makes every rescale of
//! CoeffToSlot and EvalMod two `rescale` ops (two limbs per level).
//!
//! **Sparse slots** (n = slots < N/2): the ModRaise sub-sum folds the N/(2n) copies, the DFTs
//! cover log2(n) radix-2 stages (fewer or narrower merged stages, fewer diagonals), and EvalMod
//! runs once: CoeffToSlot's last stage writes the real and imaginary parts into 2n real slots
//! (`conjugate` + `add`), SlotToCoeff's first stage takes them back and one rotation by n adds
//! the halves (as the SNU group's Cheddar `BootContext::Boot` and Lattigo do).
//!
//! **Baby steps**: `baby_step` 0 picks the BSGS split minimising rotations; a recipe may fix it
//! (SHARP: 4, the largest whose baby-step ciphertexts fit on chip).
//!
//! **Hoisting**: `none` gives every rotation its own key switch; `single` and `double` put the
//! baby-step rotations of a stage in one hoist group (one shared ModUp). The trace format has no
//! way to say that a rotation's ModDown is deferred, so in the expanded form `double` emits the
//! same ops as `single`; the single-op form keeps `hoisting = double` for the simulator's own
//! lowering. **Key reuse** (ARK's minimum key switching): baby steps become a chain of
//! rotations by σ and giant steps a Horner chain by n1·σ (plus one final rotation by jmin·n1·σ
//! when jmin ≠ 0), so a stage needs three rotation keys instead of n1 − 1 + #giants.

pub mod emit;
pub mod poly;
pub mod recipe;

use std::collections::HashMap;

use crate::{BootstrapParams, Header, Hoisting, Op, OpKind, ValueId};

pub use emit::{Ct, Emitter, PlainSource, Transform};
pub use poly::{Basis, chebyshev_interpolant, eval_poly, poly_depth};
pub use recipe::{RECIPES, Recipe, RecipeOptions, recipe};

/// Errors of bootstrap expansion and parameter checks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    #[error("bootstrap parameters: {field} = {value} is not allowed: {reason}")]
    Params {
        field: &'static str,
        value: u64,
        reason: String,
    },
    #[error(
        "log QP = {log_qp} bits exceeds the 128-bit bound of {bound} bits for N = 2^{log_n}; \
         use fewer levels"
    )]
    Insecure { log_n: u32, log_qp: u32, bound: u32 },
    #[error("unknown bootstrap recipe {name:?}; the recipes are: {available}")]
    UnknownRecipe { name: String, available: String },
}

/// Bootstrapping parameters in the style of Bossuat et al. (Eurocrypt'21) and Lattigo's default
/// set: CoeffToSlot in 4 levels, SlotToCoeff in 3, a degree-31 cosine interpolant, 3 double
/// angles, single hoisting.
pub fn default_params(slots: u64) -> BootstrapParams {
    BootstrapParams {
        slots,
        cts_levels: 4,
        stc_levels: 3,
        eval_mod_degree: 31,
        double_angle: 3,
        hoisting: Hoisting::Single,
        key_reuse: false,
        baby_step: 0,
        double_prime_scaling: false,
        eval_mod_range: crate::LEGACY_EVAL_MOD_RANGE,
    }
}

/// 128-bit bound on log2(QP) for a uniform ternary secret — the one table hesim checks
/// parameters against: the HE standard's (Albrecht et al. 2018, Table 1, classical) for
/// N = 2^10..2^15 (27/54/109/218/438/881), and twice the previous value for 2^16 and 2^17 (the
/// table's bound doubles with N; 1762 is slightly below the 1772 of OpenFHE's extended table,
/// so it is conservative).
pub fn max_log_qp(log_n: u32) -> Option<u32> {
    match log_n {
        10 => Some(27),
        11 => Some(54),
        12 => Some(109),
        13 => Some(218),
        14 => Some(438),
        15 => Some(881),
        16 => Some(1762),
        // Twice 2^16's again (the same extrapolation), for BTS's N = 2^17.
        17 => Some(3524),
        _ => None,
    }
}

/// Word size of the chains built here: 28-bit primes fit every simulator preset
/// (CraterLake-like words are 28 bits).
pub const PRIME_BITS: u32 = 28;
/// Key-switching digits of the chains built here.
pub const DNUM: u32 = 3;

/// A header for a bootstrappable program: `limbs` 28-bit primes, ⌈limbs/dnum⌉ special primes,
/// dnum 3, scale 2^28, full slots; checked against the 128-bit bound unless `allow_insecure`.
pub fn header(
    log_n: u32,
    limbs: u32,
    network: &str,
    packing: &str,
    allow_insecure: bool,
) -> Result<Header, BootError> {
    if limbs == 0 || limbs as usize > crate::MAX_PRIMES {
        return Err(BootError::Params {
            field: "limbs",
            value: u64::from(limbs),
            reason: format!("must be between 1 and {} primes", crate::MAX_PRIMES),
        });
    }
    if !(1..=32).contains(&log_n) {
        return Err(BootError::Params {
            field: "log_n",
            value: u64::from(log_n),
            reason: "must be between 1 and 32".into(),
        });
    }
    // Both at most 4096 primes here, so no product below overflows.
    let special = limbs.div_ceil(DNUM);
    let log_qp = (limbs + special) * PRIME_BITS;
    if !allow_insecure {
        let bound = max_log_qp(log_n).ok_or(BootError::Params {
            field: "log_n",
            value: u64::from(log_n),
            reason: "no 128-bit bound is known for this ring degree; pass allow_insecure".into(),
        })?;
        if log_qp > bound {
            return Err(BootError::Insecure {
                log_n,
                log_qp,
                bound,
            });
        }
    }
    Ok(Header::new(
        log_n,
        1 << (log_n - 1),
        vec![PRIME_BITS; limbs as usize],
        vec![PRIME_BITS; special as usize],
        DNUM,
        PRIME_BITS,
        network,
        packing,
        concat!("hesim-traces ", env!("CARGO_PKG_VERSION")),
    ))
}

/// Checks parameters against a header for a bootstrap that leaves at least one level: the one
/// shared check, [`BootstrapParams::check`], which the trace validator and the simulator call
/// too.
pub fn check(params: &BootstrapParams, header: &Header) -> Result<(), BootError> {
    params.check(header, 1).map_err(|e| BootError::Params {
        field: e.field,
        value: e.value,
        reason: e.reason,
    })
}

/// [`check`] on the longest chain a header holds: the parameters on their own, before a chain
/// is sized from their level budget, so an out-of-range stage count or degree is named rather
/// than the chain it would need.
pub fn check_on_longest_chain(log_n: u32, params: &BootstrapParams) -> Result<(), BootError> {
    let longest = header(log_n, crate::MAX_PRIMES as u32, "longest", "check", true)?;
    check(params, &longest)
}

/// The BSGS split of one merged DFT stage of `bits` radix-2 stages: (n1, jmin, jmax) for the
/// diagonals k = j·n1 + i, |k| < 2^bits, 0 ≤ i < n1. `baby_step` 0 picks the power of two n1
/// minimising rotations (ties to the smaller); otherwise n1 = `baby_step`, capped at 2^bits
/// (more baby steps than diagonals on one side would rotate for nothing).
pub fn bsgs_split(bits: u32, baby_step: u32) -> (i64, i64, i64) {
    let kmax = (1i64 << bits) - 1;
    let split = |n1: i64| ((-kmax).div_euclid(n1), kmax.div_euclid(n1));
    if baby_step > 0 {
        let n1 = i64::from(baby_step).min(kmax + 1);
        let (jmin, jmax) = split(n1);
        return (n1, jmin, jmax);
    }
    let mut best = (i64::MAX, 1, 0, 0);
    let mut n1 = 1i64;
    while n1 <= 2 * (kmax + 1) {
        let (jmin, jmax) = split(n1);
        let rots = (n1 - 1) + (jmax - jmin);
        if rots < best.0 {
            best = (rots, n1, jmin, jmax);
        }
        n1 *= 2;
    }
    (best.1, best.2, best.3)
}

/// Where one merged DFT stage sits: which transform, its index in evaluation order, and the
/// whole DFT's shape (for [`PlainSource::Diagonal`]).
#[derive(Clone, Copy)]
struct StageAt {
    transform: Transform,
    stage: u32,
    stages: u32,
    log_slots: u32,
    /// The stage moves between n complex and 2n real slots (see [`PlainSource::Diagonal`]).
    merged_parts: bool,
}

/// One merged DFT stage: the 2^(bits+1)−1 diagonals at stride `stride`, one level.
fn dft_stage(
    e: &mut Emitter,
    x: Ct,
    bits: u32,
    stride: i64,
    at: StageAt,
    p: &BootstrapParams,
) -> Ct {
    let kmax = (1i64 << bits) - 1;
    let (n1, jmin, jmax) = bsgs_split(bits, p.baby_step);
    let group = (p.hoisting != Hoisting::None && !p.key_reuse && n1 > 2).then(|| e.hoist_group());
    let mut baby = vec![x];
    for i in 1..n1 {
        let r = if p.key_reuse {
            e.rotate(baby[i as usize - 1], stride, None)
        } else {
            e.rotate(x, i * stride, group)
        };
        baby.push(r);
    }
    let giant_sum = |e: &mut Emitter, j: i64| {
        let mut acc = None;
        for i in 0..n1 {
            let k = j * n1 + i;
            if k.abs() <= kmax {
                let source = PlainSource::Diagonal {
                    transform: at.transform,
                    stage: at.stage,
                    stages: at.stages,
                    log_slots: at.log_slots,
                    bits,
                    stride,
                    diagonal: k,
                    giant_shift: j * n1 * stride,
                    merged_parts: at.merged_parts,
                };
                let m = e.mul_plain_of(baby[i as usize], source);
                acc = Some(e.accumulate(acc, m));
            }
        }
        acc.expect("every giant step has a diagonal")
    };
    let total = if p.key_reuse {
        let mut acc = giant_sum(e, jmax);
        for j in (jmin..jmax).rev() {
            let r = e.rotate(acc, n1 * stride, None);
            let g = giant_sum(e, j);
            acc = e.add(r, g);
        }
        e.rotate(acc, jmin * n1 * stride, None)
    } else {
        let mut acc = None;
        for j in jmin..=jmax {
            let g = giant_sum(e, j);
            let r = e.rotate(g, j * n1 * stride, None);
            acc = Some(e.accumulate(acc, r));
        }
        acc.expect("at least one giant step")
    };
    e.rescale(total)
}

/// Bits of each of `levels` merged stages covering `log_slots` radix-2 stages (balanced, the
/// larger ones first).
pub fn stage_bits(log_slots: u32, levels: u32) -> Vec<u32> {
    (0..levels)
        .map(|s| log_slots / levels + u32::from(s < log_slots % levels))
        .collect()
}

/// A homomorphic DFT in `levels` BSGS stages; CoeffToSlot starts from the largest stride,
/// SlotToCoeff from the smallest. With `merged_parts` CoeffToSlot's last stage and SlotToCoeff's
/// first one move between n complex and 2n real slots.
fn dft(
    e: &mut Emitter,
    x: Ct,
    log_slots: u32,
    levels: u32,
    transform: Transform,
    p: &BootstrapParams,
    merged_parts: bool,
) -> Ct {
    let bits = stage_bits(log_slots, levels);
    let mut strides = Vec::with_capacity(bits.len());
    let mut done = 0;
    for &b in &bits {
        strides.push(1i64 << done);
        done += b;
    }
    let mut order: Vec<usize> = (0..bits.len()).collect();
    if transform == Transform::CoeffToSlot {
        order.reverse();
    }
    order.into_iter().enumerate().fold(x, |v, (stage, s)| {
        let edge = match transform {
            Transform::CoeffToSlot => stage + 1 == levels as usize,
            Transform::SlotToCoeff => stage == 0,
        };
        let at = StageAt {
            transform,
            stage: stage as u32,
            stages: levels,
            log_slots,
            merged_parts: merged_parts && edge,
        };
        dft_stage(e, v, bits[s], strides[s], at, p)
    })
}

/// The coefficients EvalMod evaluates: cos(2π(K·y − ¼)/2^r) on [−1, 1].
pub fn eval_mod_coefficients(p: &BootstrapParams) -> Vec<f64> {
    let scale = f64::from(1u32 << p.double_angle.min(30));
    let k = f64::from(p.eval_mod_range);
    chebyshev_interpolant(
        |y| (2.0 * std::f64::consts::PI * (k * y - 0.25) / scale).cos(),
        p.eval_mod_degree as usize,
    )
}

fn eval_mod(e: &mut Emitter, x: Ct, coeffs: &[f64], p: &BootstrapParams) -> Ct {
    let mut v = eval_poly(e, x, coeffs, Basis::Chebyshev);
    for _ in 0..p.double_angle {
        let s = e.mul_relin_rescale(v, v);
        let s = e.add(s, s);
        v = e.add_const(s, -1.0);
    }
    v
}

/// Emits the expanded bootstrap of `x` to `out_level` (`top` = chain length, `log_n` of the
/// ring). `phase_layers` tags the phases as layers `mod_raise`, `coeff_to_slot`, `eval_mod`,
/// `slot_to_coeff`; otherwise the emitter's current layer is kept.
#[allow(clippy::too_many_arguments)]
pub fn expand(
    e: &mut Emitter,
    x: Ct,
    p: &BootstrapParams,
    log_n: u32,
    top: u32,
    out_level: u32,
    phase_layers: bool,
) -> Ct {
    let phase = |e: &mut Emitter, name: &str| {
        if phase_layers {
            e.set_layer(name);
        }
    };
    let log_slots = p.slots.trailing_zeros();
    phase(e, "mod_raise");
    let mut v = e.mod_raise(x, top);
    let mut width = p.slots as i64;
    while width < 1 << (log_n - 1) {
        let r = e.rotate(v, width, None);
        v = e.add(v, r);
        width *= 2;
    }
    // The coefficients in the slots are complex pairs (c_i + i·c_{i+n}); EvalMod needs them
    // real. Full packing splits them into two ciphertexts with an EvalMod each; sparse packing
    // (n < N/2) has room for both parts in 2n real slots: CoeffToSlot's last stage writes z and
    // −i·z into the two halves, z + conj(z) holds 2·Re z and 2·Im z, one EvalMod serves both,
    // SlotToCoeff's first stage recombines them (the imaginary half times +i) and a rotation by
    // n adds the halves (Cheddar's `BootContext::Boot`).
    let merged = p.slots < 1 << (log_n - 1);
    phase(e, "coeff_to_slot");
    e.set_rescale_primes(if p.double_prime_scaling { 2 } else { 1 });
    v = dft(
        e,
        v,
        log_slots,
        p.cts_levels,
        Transform::CoeffToSlot,
        p,
        merged,
    );
    phase(e, "eval_mod");
    let coeffs = eval_mod_coefficients(p);
    let conj = e.conjugate(v);
    if merged {
        let real = e.add(v, conj);
        v = eval_mod(e, real, &coeffs, p);
    } else {
        let re = e.add(v, conj);
        let im = e.sub(v, conj);
        e.times_imaginary_unit(im, 3);
        let re = eval_mod(e, re, &coeffs, p);
        let im = eval_mod(e, im, &coeffs, p);
        e.times_imaginary_unit(im, 1);
        v = e.add(re, im);
    }
    e.set_rescale_primes(1);
    phase(e, "slot_to_coeff");
    v = dft(
        e,
        v,
        log_slots,
        p.stc_levels,
        Transform::SlotToCoeff,
        p,
        merged,
    );
    if merged {
        let halves = e.rotate(v, p.slots as i64, None);
        v = e.add(v, halves);
    }
    e.level_to(v, out_level)
}

/// A program with its bootstraps expanded, and what the expansion's plaintexts and constants
/// hold (the program's own plaintexts and constants are not described here: their payloads
/// are the program's).
#[derive(Debug)]
pub struct Expansion {
    pub ops: Vec<Op>,
    /// Payload of every plaintext the expansion emitted, by plaintext id.
    pub plains: HashMap<u32, PlainSource>,
    /// Scalar of every `add_const` / `mul_const` op the expansion emitted, by (new) op id.
    pub constants: HashMap<ValueId, f64>,
    /// Ops whose result is multiplied by i^k afterwards (see [`Emitter::imaginary`]).
    pub imaginary: HashMap<ValueId, u32>,
}

impl From<Emitter> for Expansion {
    fn from(e: Emitter) -> Self {
        Self {
            ops: e.ops,
            plains: e.plains,
            constants: e.constants,
            imaginary: e.imaginary,
        }
    }
}

/// Replaces every `bootstrap` op of `ops` by its expansion, renumbering value ids densely;
/// plaintext ids and hoist groups of the expansion follow the largest ones in `ops`.
pub fn expand_ops(header: &Header, ops: &[Op]) -> Result<Vec<Op>, BootError> {
    Ok(expand_program(header, ops)?.ops)
}

/// [`expand_ops`], also returning what the expansion's plaintexts and constants hold.
pub fn expand_program(header: &Header, ops: &[Op]) -> Result<Expansion, BootError> {
    let mut first_plain = 0;
    let mut first_hoist = 0;
    for op in ops {
        match &op.kind {
            OpKind::AddPlain { plain } | OpKind::MulPlain { plain } => {
                first_plain = first_plain.max(plain.id + 1);
            }
            OpKind::Rotate { hoist: Some(h), .. } | OpKind::Conjugate { hoist: Some(h) } => {
                first_hoist = first_hoist.max(h + 1);
            }
            OpKind::Bootstrap(p) => check(p, header)?,
            _ => {}
        }
    }
    let mut e = Emitter::new(header.slots, 0, first_hoist, first_plain);
    let mut map: HashMap<ValueId, Ct> = HashMap::new();
    for op in ops {
        e.set_layer(&op.layer);
        let args: Vec<Ct> = op.args.iter().map(|a| map[a]).collect();
        let result = match &op.kind {
            OpKind::Bootstrap(p) => expand(
                &mut e,
                args[0],
                p,
                header.log_n,
                header.max_level(),
                op.level,
                false,
            ),
            kind => e.push(kind.clone(), args.iter().map(|c| c.id).collect(), op.level),
        };
        map.insert(op.id, result);
    }
    Ok(e.into())
}

/// A standalone trace of one bootstrap at ring degree 2^`log_n` with `params`: one input at
/// level 1, the bootstrap (a single op, or `expanded`), one output. `levels_after` counts
/// levels as the recipes' L_eff does ([`RecipeOptions::levels_after`]): the bootstrap refreshes
/// to `levels_after` + 1 limbs, so the chain has the budget plus `levels_after` + 1 limbs (0
/// leaves a ciphertext on the last limb).
pub fn standalone(
    log_n: u32,
    params: &BootstrapParams,
    levels_after: u32,
    expanded: bool,
    allow_insecure: bool,
) -> Result<(Header, Vec<Op>), BootError> {
    standalone_program(log_n, params, levels_after, expanded, allow_insecure)
        .map(|(h, x)| (h, x.ops))
}

/// Limbs of the chain on which a bootstrap with `params` leaves `levels_after` levels, counted
/// as the recipes count L_eff: the level budget, then L_eff + 1 limbs for the refreshed
/// ciphertext. `None` on overflow.
pub fn chain_limbs(params: &BootstrapParams, levels_after: u32) -> Option<u32> {
    params
        .level_budget()
        .checked_add(levels_after)?
        .checked_add(1)
}

/// [`standalone`], also returning what the expansion's plaintexts and constants hold.
pub fn standalone_program(
    log_n: u32,
    params: &BootstrapParams,
    levels_after: u32,
    expanded: bool,
    allow_insecure: bool,
) -> Result<(Header, Expansion), BootError> {
    let packing = if expanded { "expanded" } else { "single-op" };
    check_on_longest_chain(log_n, params)?;
    let limbs = chain_limbs(params, levels_after)
        .filter(|&limbs| limbs as usize <= crate::MAX_PRIMES)
        .ok_or_else(|| BootError::Params {
            field: "levels_after",
            value: u64::from(levels_after),
            reason: format!(
                "needs a chain longer than the {} primes a trace holds",
                crate::MAX_PRIMES
            ),
        })?;
    let header = header(log_n, limbs, "bootstrap", packing, allow_insecure)?;
    let program = bootstrap_program(&header, params, expanded)?;
    Ok((header, program))
}

/// One bootstrap on `header`'s chain: an input at level 1, the bootstrap (a single op, or
/// `expanded` with its phases as layers) to the top minus the level budget, an output.
pub fn bootstrap_program(
    header: &Header,
    params: &BootstrapParams,
    expanded: bool,
) -> Result<Expansion, BootError> {
    check(params, header)?;
    let top = header.max_level();
    let out_level = top - params.level_budget();
    let mut e = Emitter::new(header.slots, 0, 0, 0);
    e.set_layer("input");
    let x = e.input(1);
    let y = if expanded {
        expand(&mut e, x, params, header.log_n, top, out_level, true)
    } else {
        e.set_layer("bootstrap");
        e.bootstrap(x, *params, out_level)
    };
    e.set_layer("output");
    e.output(y);
    Ok(e.into())
}

#[cfg(test)]
mod tests;
