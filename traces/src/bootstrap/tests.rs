use std::collections::HashMap;

use crate::{Analyzer, Hoisting, Op, OpKind, OpName};

use super::*;

fn count(ops: &[Op], name: OpName) -> usize {
    ops.iter().filter(|o| o.kind.name() == name).count()
}

fn analyze(header: &Header, ops: &[Op]) -> crate::Analysis {
    let mut a = Analyzer::new(header.clone());
    for (i, op) in ops.iter().enumerate() {
        a.check(i as u64 + 2, op);
    }
    a.finish()
}

fn small_params() -> BootstrapParams {
    BootstrapParams {
        slots: 16,
        cts_levels: 2,
        stc_levels: 2,
        eval_mod_degree: 7,
        double_angle: 1,
        hoisting: Hoisting::Single,
        key_reuse: false,
        baby_step: 0,
        double_prime_scaling: false,
        eval_mod_range: crate::LEGACY_EVAL_MOD_RANGE,
    }
}

/// Op counts of the expansion for N = 2^5 (16 full slots), CtS and StC in 2 levels each,
/// degree-7 EvalMod, 1 double angle, single hoisting, derived by hand:
///
/// * ModRaise: 1 `mod_raise` (full packing: no sub-sum).
/// * DFT stages: log2(16) = 4 radix-2 stages in 2 merged stages of b = 2 bits (strides 1 and
///   4), 2^(b+1) − 1 = 7 diagonals k ∈ [−3, 3] each. BSGS split: n1 = 1 costs 0 + 6 giant
///   rotations, n1 = 2 costs 1 + 3 (j ∈ [−2, 1]), n1 = 4 costs 3 + 1 (tie, the smaller n1
///   wins): n1 = 2. Per stage 7 `mul_plain`, 1 `rescale`, 3 + 3 = 6 `add`s (within the giant
///   sums of 1, 2, 2, 2 terms, then across 4 giants). Rotations: at stride 1 the baby step 1
///   and giants −4, −2, 2 (4); at stride 4 the baby step 4 and giants −16 ≡ 0 (the identity on
///   16 slots: no op), −8, 8 (3). Per DFT 7 rotations; CtS + StC: 14 `rotate`, 28
///   `mul_plain`, 4 `rescale`, 24 `add`. No stage has two baby rotations, so no hoist group.
/// * EvalMod, full packing: 1 `conjugate`, 1 `add` and 1 `sub` to split, 1 `add` to join.
///   Per part, degree 7: m = 3, g = 4; p = q·T_4 + r with q and r of degree 3 (leaves).
///   T_2 = 2T_1² − 1 and T_4 = 2T_2² − 1: 1 mul, 1 relin, 1 rescale, 1 add, 1 add_const each;
///   T_3 = 2T_2·T_1 − T_1: 1 mul, 1 relin, 1 rescale, 1 add, 1 sub. Two leaves: 3 `mul_const`,
///   2 `add`, 1 `rescale`, 1 `add_const` each. q·T_4 + r: 1 mul, 1 relin, 1 rescale, 1 add.
///   One double angle: 1 mul, 1 relin, 1 rescale, 1 add, 1 add_const. Per part: 5 mul, 5
///   relin, 7 rescale, 6 mul_const, 5 add_const, 9 add, 1 sub.
/// * Totals: 1 mod_raise, 14 rotate, 1 conjugate, 28 mul_plain, 10 mul, 10 relin,
///   4 + 14 = 18 rescale, 12 mul_const, 10 add_const, 24 + 18 + 2 = 44 add, 3 sub.
/// * Levels: 2 + 2 + (3 + 1) + 1 = 9 = the level budget, so a 10-limb chain ends at level 1.
#[test]
fn expansion_matches_hand_derivation() {
    let p = small_params();
    assert_eq!(p.level_budget(), 9);
    assert!(
        eval_mod_coefficients(&p).iter().all(|&c| c != 0.0),
        "the derivation assumes no zero Chebyshev coefficient"
    );
    let (h, ops) = standalone(5, &p, 0, true, true).unwrap();
    assert_eq!(h.max_level(), 10);
    let expected = [
        (OpName::ModRaise, 1),
        (OpName::Rotate, 14),
        (OpName::Conjugate, 1),
        (OpName::MulPlain, 28),
        (OpName::Mul, 10),
        (OpName::Relin, 10),
        (OpName::Rescale, 18),
        (OpName::MulConst, 12),
        (OpName::AddConst, 10),
        (OpName::Add, 44),
        (OpName::Sub, 3),
        (OpName::Input, 1),
        (OpName::Output, 1),
        (OpName::Bootstrap, 0),
    ];
    for (name, n) in expected {
        assert_eq!(count(&ops, name), n, "{name}");
    }
    let hoisted = ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Rotate { hoist: Some(_), .. }))
        .count();
    assert_eq!(hoisted, 0);
    let a = analyze(&h, &ops);
    assert!(a.is_valid(), "{:?}", a.violations);
    let out = ops
        .iter()
        .rev()
        .find(|o| o.kind.name() == OpName::Output)
        .unwrap();
    assert_eq!(out.level, 1);
}

/// `levels_after` counts levels in the standalone trace as in the recipes (L_eff): SHARP's
/// recipe refreshes to L_eff = 8 levels, 9 limbs, and a standalone trace with the same
/// parameters and `levels_after` 8 ends there too, on a chain of budget + 9 limbs; 0 levels
/// leave the last limb.
#[test]
fn levels_after_counts_levels_like_recipes() {
    let r = recipe("sharp", &RecipeOptions::default()).unwrap();
    assert_eq!((r.levels_after, r.out_level()), (8, 9));
    for expanded in [false, true] {
        let (h, ops) = standalone(16, &r.params, r.levels_after, expanded, true).unwrap();
        assert_eq!(h.max_level(), r.params.level_budget() + 9);
        let out = ops.last().unwrap();
        assert_eq!(out.kind.name(), OpName::Output);
        assert_eq!(out.level, r.out_level());
    }
    let (h, ops) = standalone(16, &r.params, 0, false, true).unwrap();
    assert_eq!(h.max_level(), r.params.level_budget() + 1);
    assert_eq!(ops.last().unwrap().level, 1);
}

/// The default N = 2^16 full-slot expansion is a valid trace that uses exactly the level
/// budget (so the single-op and expanded forms end at the same level), with one hoist group
/// per DFT stage under single hoisting and none under `none`.
#[test]
fn default_expansion_uses_its_budget_and_hoists_per_stage() {
    let mut p = default_params(1 << 15);
    for (hoisting, groups) in [(Hoisting::Single, 7), (Hoisting::None, 0)] {
        p.hoisting = hoisting;
        let (h, ops) = standalone(16, &p, 4, true, false).unwrap();
        let a = analyze(&h, &ops);
        assert!(
            a.is_valid(),
            "{:?}",
            &a.violations[..a.violations.len().min(3)]
        );
        assert_eq!(a.stats.hoist_groups, groups);
        let last = ops.iter().rev().nth(1).unwrap();
        assert_eq!(last.level, h.max_level() - p.level_budget());
        assert_ne!(
            last.kind.name(),
            OpName::LevelDown,
            "the whole budget is used"
        );
        let (h1, ops1) = standalone(16, &p, 4, false, false).unwrap();
        assert_eq!(h1.max_level(), h.max_level());
        assert_eq!(count(&ops1, OpName::Bootstrap), 1);
    }
}

/// Key reuse needs at most three distinct rotation steps per DFT stage (baby stride, giant
/// stride, final jmin shift) instead of one per baby and giant step.
#[test]
fn key_reuse_limits_rotation_keys() {
    let mut p = default_params(1 << 15);
    let plain = standalone(16, &p, 4, true, false).unwrap();
    p.key_reuse = true;
    let reuse = standalone(16, &p, 4, true, false).unwrap();
    let keys = |ops: &[Op]| {
        let a = analyze(&plain.0, ops);
        assert!(a.is_valid());
        a.stats.rotation_steps.len()
    };
    assert!(keys(&reuse.1) <= 3 * 7, "{}", keys(&reuse.1));
    assert!(keys(&plain.1) > keys(&reuse.1));
}

/// Evaluates the value ops of a program on one real number per ciphertext (the slot
/// semantics of one slot).
fn run_scalar(ops: &[Op], constants: &HashMap<u32, f64>, input: f64) -> f64 {
    let mut v: HashMap<u32, f64> = HashMap::new();
    let mut last = 0.0;
    for op in ops {
        let a = |k: usize| v[&op.args[k]];
        let r = match op.kind {
            OpKind::Input => input,
            OpKind::Add => a(0) + a(1),
            OpKind::Sub => a(0) - a(1),
            OpKind::Mul => a(0) * a(1),
            OpKind::Relin | OpKind::Rescale | OpKind::LevelDown => a(0),
            OpKind::MulConst => a(0) * constants[&op.id],
            OpKind::AddConst => a(0) + constants[&op.id],
            ref k => panic!("unexpected {k:?}"),
        };
        v.insert(op.id, r);
        last = r;
    }
    last
}

/// BSGS evaluation equals direct evaluation (Horner in the power basis; the three-term
/// recurrence for Chebyshev) for several degrees, and uses at most m + 1 levels
/// (m = ⌈log2(d+1)⌉), exactly m + 1 when d + 1 is a power of two and d ≥ 7 (for g ≥ 4 the
/// baby steps reach depth log2 g; for g = 2 they stay at depth 0 and one level is saved).
#[test]
fn bsgs_polynomial_matches_direct_evaluation() {
    for d in [1usize, 2, 3, 5, 7, 12, 15, 30, 31, 63] {
        let coeffs: Vec<f64> = (0..=d)
            .map(|i| ((i * 7919) % 13) as f64 / 13.0 - 0.4)
            .collect();
        for basis in [Basis::Power, Basis::Chebyshev] {
            let mut e = Emitter::new(8, 0, 0, 0);
            let x = e.input(100);
            let y = eval_poly(&mut e, x, &coeffs, basis);
            let m = usize::BITS - d.leading_zeros();
            assert!(100 - y.level <= m + 1, "degree {d} {basis:?}");
            if (d + 1).is_power_of_two() && d >= 7 {
                assert_eq!(100 - y.level, m + 1, "degree {d} {basis:?}");
            }
            assert_eq!(poly_depth(&coeffs, basis), 100 - y.level);
            for t in [-0.9, -0.31, 0.0, 0.42, 0.97] {
                let got = run_scalar(&e.ops, &e.constants, t);
                let want = match basis {
                    Basis::Power => coeffs.iter().rev().fold(0.0, |acc, c| acc * t + c),
                    Basis::Chebyshev => {
                        let (mut t0, mut t1) = (1.0, t);
                        let mut s = coeffs[0] + coeffs[1] * t;
                        for c in &coeffs[2..] {
                            let t2 = 2.0 * t * t1 - t0;
                            s += c * t2;
                            (t0, t1) = (t1, t2);
                        }
                        s
                    }
                };
                assert!(
                    (got - want).abs() < 1e-9,
                    "d={d} {basis:?} x={t}: {got} vs {want}"
                );
            }
        }
    }
}

/// The EvalMod interpolant approximates the scaled cosine it is built from (degree 63 on
/// [−1, 1]; K = 16, r = 3): the coefficients are real approximation coefficients.
#[test]
fn eval_mod_interpolant_approximates_the_cosine() {
    let mut p = default_params(1 << 15);
    p.eval_mod_degree = 63;
    let c = eval_mod_coefficients(&p);
    for &y in &[-0.8, -0.1, 0.05, 0.6] {
        let want = (2.0 * std::f64::consts::PI * (16.0 * y - 0.25) / 8.0).cos();
        let (mut t0, mut t1) = (1.0, y);
        let mut s = c[0] + c[1] * y;
        for ck in &c[2..] {
            let t2 = 2.0 * y * t1 - t0;
            s += ck * t2;
            (t0, t1) = (t1, t2);
        }
        assert!((s - want).abs() < 1e-6, "{s} vs {want}");
    }
}

/// Expanding a program replaces each `bootstrap` op and keeps the rest valid and in order.
#[test]
fn expand_ops_rewrites_bootstraps_only() {
    let p = default_params(1 << 15);
    let (h, ops) = standalone(16, &p, 4, false, false).unwrap();
    let expanded = expand_ops(&h, &ops).unwrap();
    let (_, direct) = standalone(16, &p, 4, true, false).unwrap();
    assert_eq!(expanded.len(), direct.len());
    for name in OpName::ALL {
        assert_eq!(count(&expanded, name), count(&direct, name), "{name}");
    }
    assert!(analyze(&h, &expanded).is_valid());
}

/// Bad parameters are errors naming the field, not panics.
#[test]
fn bad_parameters_are_reported() {
    let mut p = default_params(1 << 15);
    p.cts_levels = 0;
    let err = standalone(16, &p, 4, true, false).unwrap_err();
    assert!(err.to_string().contains("cts_levels"), "{err}");
    let p = default_params(3);
    assert!(standalone(16, &p, 4, true, false).is_err());
    let p = default_params(1 << 15);
    let err = standalone(16, &p, 60, true, false).unwrap_err();
    assert!(matches!(err, BootError::Insecure { .. }), "{err}");
}

/// Every plaintext of the expansion says what it holds: per DFT stage of b bits exactly the
/// 2^(b+1) − 1 diagonals |k| < 2^b, each once, with giant_shift = j·n1·stride for the BSGS
/// split of [`bsgs_split`] (derived independently here from k: j = ⌊k / n1⌋).
#[test]
fn every_plaintext_is_a_described_diagonal() {
    let p = small_params();
    let (_, x) = standalone_program(5, &p, 0, true, true).unwrap();
    let plain_ids: Vec<u32> = x
        .ops
        .iter()
        .filter_map(|o| match o.kind {
            OpKind::MulPlain { plain } => Some(plain.id),
            _ => None,
        })
        .collect();
    assert_eq!(plain_ids.len(), 28);
    let mut seen = std::collections::HashSet::new();
    for id in plain_ids {
        let PlainSource::Diagonal {
            transform,
            stage,
            stages,
            log_slots,
            bits,
            stride,
            diagonal,
            giant_shift,
            merged_parts,
        } = x.plains[&id];
        assert_eq!((stages, log_slots, bits), (2, 4, 2));
        assert!(!merged_parts, "full packing splits the parts instead");
        let (n1, _, _) = bsgs_split(bits, 0);
        assert_eq!(giant_shift, diagonal.div_euclid(n1) * n1 * stride);
        assert!(diagonal.abs() < 4);
        // CoeffToSlot starts from the largest stride, SlotToCoeff from the smallest.
        let first_stride = if transform == Transform::CoeffToSlot {
            4
        } else {
            1
        };
        assert_eq!(stride == first_stride, stage == 0);
        assert!(seen.insert((transform, stage, diagonal)));
    }
    assert_eq!(seen.len(), 28);
    // Every constant op has its scalar.
    for o in &x.ops {
        if matches!(o.kind, OpKind::AddConst | OpKind::MulConst) {
            assert!(x.constants.contains_key(&o.id));
        }
    }
}
