//! Per-design bootstrapping recipes: design → (chain [`Header`], [`BootstrapParams`]). Workload
//! generators (HELR, ResNet-20) take a recipe's header and parameters as inputs; the simulator's
//! validation runs each design's own recipe. Every number is the design's published one
//! (`../shared/docs/benchmarks.md` §2, tags there) or one of the stated assumptions below, each
//! used for every design alike:
//!
//! - **A1 EvalMod**: where a design's EvalMod is not published, the SNU group's GPU library's
//!   (CHED `BootParameter.cpp`): an even cosine polynomial of degree 30 and 3 double angles
//!   (with the leaves' scalar level: 9 levels).
//! - **A2 output level**: the benchmark's L_eff = 8 levels after bootstrapping (its definition,
//!   benchmarks.md §1), i.e. a ciphertext of 8 + 1 limbs; a design whose chain is not published
//!   gets budget + 9 limbs.
//!
//! Chains follow the papers' convention: "L" is the top level, so the chain has L + 1 limbs (ARK:
//! L = 23, 24 = dnum · α = 4 · 6 limbs; SHARP: L = 35, 36 = 3 · 12; BTS: L = 27, 28 limbs).
//! - **A3 prime width**: where only the word is published, the widest primes (at most 60 bits in
//!   a 64-bit word, the usual ~60-bit RNS primes) that keep log QP within the 128-bit bound.
//! - **A4 digits**: where dnum is not published, dnum 3 with k = ⌈limbs/3⌉ special primes.
//! - **A5 DFT split**: where CtS/StC levels are not published, Lattigo's and Cheddar's default
//!   4 / 3.

use super::{BootError, max_log_qp};
use crate::{BootstrapParams, Header, Hoisting};

/// The designs with a recipe.
pub const RECIPES: [&str; 5] = ["sharp", "ark", "bts", "craterlake", "f1"];

/// A design's bootstrapping setting.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    pub design: &'static str,
    /// The chain the design runs (full-slot ring; `params.slots` may be sparse).
    pub header: Header,
    pub params: BootstrapParams,
    /// Levels the application has after a bootstrap (the benchmark's L_eff; one limb more).
    pub levels_after: u32,
    /// Where each number comes from, one line each.
    pub notes: Vec<&'static str>,
}

impl Recipe {
    /// The level a bootstrap refreshes to: the top of the chain minus the budget.
    pub fn out_level(&self) -> u32 {
        self.header.max_level() - self.params.level_budget()
    }
}

/// What a user may change in a recipe (`None` keeps the design's value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecipeOptions {
    /// Slots bootstrapped (sparse packing when below N/2).
    pub slots: Option<u64>,
    /// Limbs of the chain (L).
    pub limbs: Option<u32>,
    /// Key-switching digits.
    pub dnum: Option<u32>,
    /// Levels left for the application (L_eff): the bootstrap refreshes to L_eff + 1 limbs.
    pub levels_after: Option<u32>,
    /// Skip the 128-bit security check (F1's published chain does not meet it).
    pub allow_insecure: bool,
}

/// A design's published (or assumed) numbers before options apply.
struct Spec {
    log_n: u32,
    /// Limbs of the chain; `None`: budget + `levels_after` + 1 (A2).
    limbs: Option<u32>,
    /// Prime width; `None`: A3 in a word of `word_bits`.
    prime_bits: Option<u32>,
    word_bits: u32,
    dnum: u32,
    /// Special primes; `None`: ⌈limbs/dnum⌉.
    special: Option<u32>,
    params: BootstrapParams,
    levels_after: u32,
    notes: Vec<&'static str>,
}

/// A1: CHED's EvalMod.
const EVAL_MOD_DEGREE: u32 = 30;
const DOUBLE_ANGLE: u32 = 3;
/// A2: the benchmark's levels after bootstrapping.
const LEVELS_AFTER: u32 = 8;

fn params(slots: u64, cts: u32, stc: u32) -> BootstrapParams {
    BootstrapParams {
        slots,
        cts_levels: cts,
        stc_levels: stc,
        eval_mod_degree: EVAL_MOD_DEGREE,
        double_angle: DOUBLE_ANGLE,
        hoisting: Hoisting::None,
        key_reuse: false,
        baby_step: 0,
        double_prime_scaling: false,
        eval_mod_range: crate::LEGACY_EVAL_MOD_RANGE,
    }
}

fn spec(design: &str) -> Option<Spec> {
    Some(match design {
        "sharp" => Spec {
            log_n: 16,
            limbs: Some(36),
            prime_bits: Some(36),
            word_bits: 36,
            dnum: 3,
            special: Some(12),
            params: BootstrapParams {
                key_reuse: true,
                baby_step: 4,
                double_prime_scaling: true,
                ..params(1 << 15, 3, 3)
            },
            levels_after: LEVELS_AFTER,
            notes: vec![
                "SHARP (ISCA'23) as HE² re-implements it [READ-2nd HE2 Table II]: N = 2^16, \
                 full slots, 36-bit primes, L = 35, L_eff = 8, dnum 3, α = k = 12",
                "L = 35 is the top level, so the chain has L + 1 = 36 limbs (levels 0..35) and \
                 dnum · α = 3 · 12 = 36, the convention of ARK's L = 23 (24 = 4 · 6 limbs) and \
                 BTS's L = 27 (28 limbs); L_eff = 8 levels is a 9-limb ciphertext",
                "FFT-like CtS / StC in 3 + 3 stages, Min-KS BSGS with baby step 4, no hoisting \
                 [READ-2nd HE2 §III-D, §VI-A, Fig. 5]",
                "double-prime scaling: each CtS level drops 2 limbs (H-IDFT at 35, 33, 31) \
                 [Falcon notes]; EvalMod (A1) assumed double-prime too, StC single: \
                 2·(3 + 9) + 3 = 27 = 35 − 8 levels, exactly the published L_eff",
                "EvalMod: A1 (CHED degree 30 + 3 double angles), not SHARP's published number",
            ],
        },
        "ark" => Spec {
            log_n: 16,
            limbs: Some(24),
            prime_bits: None,
            word_bits: 64,
            dnum: 4,
            special: Some(6),
            params: BootstrapParams {
                key_reuse: true,
                ..params(1 << 15, 3, 3)
            },
            levels_after: LEVELS_AFTER,
            notes: vec![
                "ARK (MICRO'22) [READ-2nd BJL quoting ARK Table III]: N = 2^16, L = 23 (24 \
                 limbs), dnum 4, α = k = 6, 64-bit words",
                "Min-KS BSGS (inter-operation key reuse) [accelerators.md §1.2]",
                "bootstrapping recipe not found: CtS / StC 3 / 3 (the common assumption, \
                 benchmarks.md §2) and A1 EvalMod: 15 levels, 9 limbs left",
                "prime width: A3",
            ],
        },
        "bts" => Spec {
            log_n: 17,
            limbs: Some(28),
            prime_bits: None,
            word_bits: 64,
            dnum: 1,
            special: Some(28),
            params: params(1 << 16, 5, 5),
            levels_after: LEVELS_AFTER,
            notes: vec![
                "BTS (ISCA'22) [READ-2nd BTS-N §3.4]: N = 2^17, L = 27 (28 limbs), dnum 1, \
                 α = k = 28, 64-bit words, Han–Ki bootstrapping with L_boot = 19",
                "CtS / StC split not found: 5 / 5, what L_boot = 19 leaves after the A1 EvalMod's \
                 9 levels",
                "prime width: A3",
            ],
        },
        "craterlake" => Spec {
            log_n: 16,
            limbs: None,
            prime_bits: Some(28),
            word_bits: 28,
            dnum: 3,
            special: None,
            params: params(1 << 15, 4, 3),
            levels_after: LEVELS_AFTER,
            notes: vec![
                "CraterLake (ISCA'22) [S-CL]: N = 2^16, 28-bit words; its own bootstrap \
                 parameters are not in any stored source",
                "A2 chain (budget + 9 limbs), A4 digits, A5 CtS / StC 4 / 3, A1 EvalMod",
            ],
        },
        "f1" => Spec {
            log_n: 14,
            limbs: Some(25),
            prime_bits: Some(32),
            word_bits: 32,
            dnum: 3,
            special: None,
            params: params(2, 1, 1),
            levels_after: LEVELS_AFTER,
            notes: vec![
                "F1 (MICRO'21) [S-F1]: non-packed CKKS bootstrapping (HEAAN) at Lmax = 24, \
                 N = 2^14, 32-bit words [RECALLED]: 25 limbs; below the 128-bit bound only \
                 with allow_insecure",
                "non-packed taken as 2 slots (the fewest the expansion takes), CtS / StC 1 / 1, \
                 A1 EvalMod, A4 digits",
            ],
        },
        _ => return None,
    })
}

fn bad(field: &'static str, value: u64, reason: String) -> BootError {
    BootError::Params {
        field,
        value,
        reason,
    }
}

/// The recipe of `design` with `options` applied; checked (slots, digits, chain fit, 128-bit
/// bound unless `allow_insecure`).
pub fn recipe(design: &str, options: &RecipeOptions) -> Result<Recipe, BootError> {
    let (design, spec) = RECIPES
        .iter()
        .find(|&&d| d == design)
        .and_then(|&d| spec(d).map(|s| (d, s)))
        .ok_or_else(|| BootError::UnknownRecipe {
            name: design.to_owned(),
            available: RECIPES.join(", "),
        })?;
    let mut p = spec.params;
    let half = 1u64 << (spec.log_n - 1);
    if let Some(slots) = options.slots {
        if !slots.is_power_of_two() || !(2..=half).contains(&slots) {
            return Err(bad(
                "slots",
                slots,
                format!("must be a power of two from 2 to N/2 = {half}"),
            ));
        }
        p.slots = slots;
        let log_slots = slots.trailing_zeros();
        p.cts_levels = p.cts_levels.min(log_slots);
        p.stc_levels = p.stc_levels.min(log_slots);
    }
    let dnum = options.dnum.unwrap_or(spec.dnum);
    let levels_after = options.levels_after.unwrap_or(spec.levels_after);
    // In u64: a `levels_after` or `limbs` near u32::MAX must not wrap into a small chain.
    let needed = u64::from(p.level_budget()) + u64::from(levels_after) + 1;
    let limbs = options.limbs.or(spec.limbs).map_or(needed, u64::from);
    if limbs == 0 || limbs > crate::MAX_PRIMES as u64 {
        let field = if options.limbs.is_some() {
            "limbs"
        } else {
            "l_eff"
        };
        let value = if options.limbs.is_some() {
            limbs
        } else {
            u64::from(levels_after)
        };
        return Err(bad(
            field,
            value,
            format!(
                "needs a chain of {limbs} limbs; a trace holds 1 to {} primes",
                crate::MAX_PRIMES
            ),
        ));
    }
    let limbs = limbs as u32;
    if dnum == 0 || dnum > limbs {
        return Err(bad(
            "dnum",
            u64::from(dnum),
            format!("must be between 1 and the chain's {limbs} limbs"),
        ));
    }
    if levels_after == 0 || u64::from(levels_after) + 1 >= u64::from(limbs) {
        return Err(bad(
            "l_eff",
            u64::from(levels_after),
            format!("must be between 1 and L − 1 = {}", limbs.saturating_sub(2)),
        ));
    }
    if needed > u64::from(limbs) {
        return Err(bad(
            "limbs",
            u64::from(limbs),
            format!(
                "the {design} bootstrap consumes {} limbs and L_eff = {levels_after} levels need \
                 {} more: the chain needs at least {needed}",
                p.level_budget(),
                levels_after + 1
            ),
        ));
    }
    let special = match (options.dnum, spec.special) {
        (None, Some(k)) => k,
        _ => limbs.div_ceil(dnum),
    };
    let bound = max_log_qp(spec.log_n);
    let prime_bits = spec.prime_bits.unwrap_or_else(|| {
        let fit = bound.map_or(60, |b| b / (limbs + special));
        fit.min(60).min(spec.word_bits)
    });
    let log_qp = (limbs + special) * prime_bits;
    if !options.allow_insecure {
        match bound {
            Some(bound) if log_qp > bound => {
                return Err(BootError::Insecure {
                    log_n: spec.log_n,
                    log_qp,
                    bound,
                });
            }
            None => {
                return Err(bad(
                    "log_n",
                    u64::from(spec.log_n),
                    "no 128-bit bound is known for this ring degree; pass allow_insecure".into(),
                ));
            }
            _ => {}
        }
    }
    let header = Header::new(
        spec.log_n,
        half,
        vec![prime_bits; limbs as usize],
        vec![prime_bits; special as usize],
        dnum,
        prime_bits,
        "bootstrap",
        design,
        concat!("hesim-traces ", env!("CARGO_PKG_VERSION"), " recipe"),
    );
    super::check(&p, &header)?;
    Ok(Recipe {
        design,
        header,
        params: p,
        levels_after,
        notes: spec.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::{bootstrap_program, check};
    use crate::{Analyzer, Op, OpName};

    fn count(ops: &[Op], name: OpName) -> usize {
        ops.iter().filter(|o| o.kind.name() == name).count()
    }

    fn valid(header: &Header, ops: &[Op]) {
        let mut a = Analyzer::new(header.clone());
        for (i, op) in ops.iter().enumerate() {
            a.check(i as u64 + 2, op);
        }
        let a = a.finish();
        assert!(
            a.is_valid(),
            "{:?}",
            &a.violations[..a.violations.len().min(3)]
        );
    }

    /// The published chains come out as published (benchmarks.md §2): SHARP L = 35, i.e. 36 ×
    /// 36-bit limbs (3 digits of α = 12) with 12 special primes and exactly L_eff = 8 levels (9
    /// limbs) left; ARK 24 + 6, BTS 28 + 28 at N = 2^17 with L_boot = 19, both also 8 levels
    /// left; A3 widths by hand: ⌊1762 / 30⌋ = 58, min(60, ⌊3524 / 56⌋ = 62) = 60.
    #[test]
    fn published_chains() {
        let o = RecipeOptions::default();
        let s = recipe("sharp", &o).unwrap();
        assert_eq!((s.header.max_level(), s.header.p_bits.len()), (36, 12));
        assert_eq!((s.header.q_bits[0], s.header.dnum), (36, 3));
        assert_eq!(s.params.level_budget(), 27);
        assert_eq!(s.out_level(), 9);
        let a = recipe("ark", &o).unwrap();
        assert_eq!((a.header.max_level(), a.header.p_bits.len()), (24, 6));
        assert_eq!((a.header.q_bits[0], a.header.dnum), (58, 4));
        assert_eq!(a.out_level(), 9);
        let b = recipe("bts", &o).unwrap();
        assert_eq!((b.header.log_n, b.header.max_level()), (17, 28));
        assert_eq!((b.header.p_bits.len(), b.header.q_bits[0]), (28, 60));
        assert_eq!(b.params.level_budget(), 19);
        assert_eq!(b.out_level(), 9);
        let c = recipe("craterlake", &o).unwrap();
        assert_eq!(c.header.max_level(), 16 + 9);
        assert!(matches!(recipe("f1", &o), Err(BootError::Insecure { .. })));
        let f = recipe(
            "f1",
            &RecipeOptions {
                allow_insecure: true,
                ..o
            },
        )
        .unwrap();
        assert_eq!(f.header.log_n, 14);
    }

    /// SHARP's expansion by hand: 3 stages of 5 bits (strides 1, 32, 1024) per DFT, 63
    /// diagonals each (6 · 63 = 378 `mul_plain`); Min-KS with n1 = 4: j ∈ [−8, 7], 3 baby
    /// rotations by σ, 15 Horner rotations by 4σ and a final one by −32σ, which is the identity
    /// (−2^15 ≡ 0) at σ = 1024: 2 · (3 · 18 + 2) = 112 rotations, plus 1 conjugation. With
    /// double-prime scaling CtS and EvalMod rescale twice as often as without, StC (3) not.
    #[test]
    fn sharp_expansion_by_hand() {
        let s = recipe("sharp", &RecipeOptions::default()).unwrap();
        let x = bootstrap_program(&s.header, &s.params, true).unwrap();
        valid(&s.header, &x.ops);
        assert_eq!(count(&x.ops, OpName::MulPlain), 378);
        assert_eq!(count(&x.ops, OpName::Rotate), 112);
        assert_eq!(count(&x.ops, OpName::Conjugate), 1);
        let steps: std::collections::BTreeSet<i32> = x
            .ops
            .iter()
            .filter_map(|o| match o.kind {
                crate::OpKind::Rotate { step, .. } => Some(step),
                _ => None,
            })
            .collect();
        let want = [-1024, -32, 1, 4, 32, 128, 1024, 4096];
        assert_eq!(steps.into_iter().collect::<Vec<_>>(), want);
        let single = BootstrapParams {
            double_prime_scaling: false,
            ..s.params
        };
        let y = bootstrap_program(&s.header, &single, true).unwrap();
        assert_eq!(
            count(&x.ops, OpName::Rescale),
            2 * count(&y.ops, OpName::Rescale) - 3
        );
        let last = x.ops.iter().rev().nth(1).unwrap();
        assert_eq!(last.level, 9);
        assert_ne!(
            last.kind.name(),
            OpName::LevelDown,
            "the budget is used exactly"
        );
    }

    /// Sparse slots cost less, by hand: SHARP at 2^12 slots has 3 sub-sum rotations (2^12, 2^13,
    /// 2^14), 3 stages of 4 bits (31 diagonals: 6 · 31 = 186 `mul_plain`), real and imaginary
    /// parts merged into 2^13 real slots (one conjugation, ONE EvalMod: half the full-slot
    /// bootstrap's relinearisations), one rotation by 2^12 after SlotToCoeff folding the halves
    /// back, and the same level budget.
    #[test]
    fn sparse_slots_by_hand() {
        let o = RecipeOptions {
            slots: Some(1 << 12),
            ..RecipeOptions::default()
        };
        let s = recipe("sharp", &o).unwrap();
        let x = bootstrap_program(&s.header, &s.params, true).unwrap();
        valid(&s.header, &x.ops);
        assert_eq!(count(&x.ops, OpName::MulPlain), 186);
        assert_eq!(count(&x.ops, OpName::Conjugate), 1);
        let subsum = x
            .ops
            .iter()
            .filter(|o| &*o.layer == "mod_raise" && o.kind.name() == OpName::Rotate)
            .count();
        assert_eq!(subsum, 3);
        let fold: Vec<&Op> = x
            .ops
            .iter()
            .filter(|o| &*o.layer == "slot_to_coeff" && o.kind.name() == OpName::Rotate)
            .collect();
        let fold = fold.last().unwrap();
        assert!(matches!(
            fold.kind,
            crate::OpKind::Rotate { step: 4096, .. }
        ));
        assert_eq!(s.params.level_budget(), 27);
        let full = recipe("sharp", &RecipeOptions::default()).unwrap();
        let y = bootstrap_program(&full.header, &full.params, true).unwrap();
        assert_eq!(
            2 * count(&x.ops, OpName::Relin),
            count(&y.ops, OpName::Relin)
        );
        assert!(count(&x.ops, OpName::MulPlain) < count(&y.ops, OpName::MulPlain));
    }

    /// Bad input names the parameter and its bound.
    #[test]
    fn bad_options_name_the_parameter() {
        let o = RecipeOptions::default();
        let err = |o: RecipeOptions| recipe("sharp", &o).unwrap_err().to_string();
        let e = err(RecipeOptions {
            slots: Some(1 << 16),
            ..o
        });
        assert!(e.contains("slots") && e.contains("32768"), "{e}");
        let e = err(RecipeOptions {
            levels_after: Some(35),
            ..o
        });
        assert!(e.contains("l_eff") && e.contains("34"), "{e}");
        let e = err(RecipeOptions { dnum: Some(0), ..o });
        assert!(e.contains("dnum"), "{e}");
        let e = err(RecipeOptions {
            limbs: Some(30),
            ..o
        });
        assert!(e.contains("limbs") && e.contains("36"), "{e}");
        let e = recipe("tpu", &o).unwrap_err().to_string();
        assert!(e.contains("sharp, ark"), "{e}");
        let mut p = recipe("sharp", &o).unwrap();
        p.params.baby_step = 3;
        assert!(check(&p.params, &p.header).is_err());
    }
}
