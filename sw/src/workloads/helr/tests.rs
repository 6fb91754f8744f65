//! HELR against a hand count of Han et al.'s iteration (derived below from the algorithm, not
//! from the generator) and the trace rules.

use hesim_traces::{Analysis, Analyzer, BootstrapParams, Header, OpKind, OpName};

use super::*;
use crate::boot;
use crate::workloads::WorkloadError;

/// N = 2^16 (2^15 slots), 28-bit primes, `limbs` limbs; the test recipe is the default
/// bootstrap (budget 4 + 3 + 5 + 3 + 1 = 16 levels).
fn setup(limbs: u32) -> (Header, BootstrapParams) {
    let header = boot::header(16, limbs, "helr", "test", true).expect("header");
    (header, boot::default_params(1 << 15))
}

fn analyze(t: &HelrTrace) -> Analysis {
    let mut a = Analyzer::new(t.header.clone());
    for (i, op) in t.ops.iter().enumerate() {
        a.check(i as u64 + 2, op);
    }
    let a = a.finish();
    assert!(a.is_valid(), "{:?}", a.violations.first());
    a
}

/// Op counts of one iteration on n data ciphertexts, f = 256 features (log f = 8) and
/// 2^15 / 256 = 128 samples per ciphertext (log 128 = 7), by hand:
/// - per ciphertext, inner product: mul + relin + rescale (z·v); 8 rotations and 8 adds
///   (sum over the sample's 256 slots); mul_plain + rescale (mask); 8 rotations and 8 adds
///   (replicate back);
/// - per ciphertext, sigmoid: level_down z to L−1, mul_const + rescale (γc3·z); mul + relin +
///   rescale (ip·γc3z); mul + relin + rescale (ip²); add_const (+c1/c3); mul + relin + rescale
///   (product); level_down z to L−3, mul_const + rescale (γc0·z); add;
/// - gradient: n − 1 adds (ciphertexts), 7 rotations + 7 adds (samples);
/// - update: level_down v, add (w⁺ = v + grad), mul_const (1−η), level_down w, mul_const (η),
///   add, rescale, level_down w⁺.
///
/// Totals: input n, mul 4n, relin 4n, rotate 16n + 7, mul_plain n, mul_const 2n + 2,
/// add_const n, rescale 7n + 1, add 16n + n + (n − 1) + 7 + 2 = 18n + 8, level_down 2n + 3.
fn per_iteration(n: u64) -> Vec<(OpName, u64)> {
    vec![
        (OpName::Input, n),
        (OpName::Mul, 4 * n),
        (OpName::Relin, 4 * n),
        (OpName::Rotate, 16 * n + 7),
        (OpName::MulPlain, n),
        (OpName::MulConst, 2 * n + 2),
        (OpName::AddConst, n),
        (OpName::Rescale, 7 * n + 1),
        (OpName::Add, 18 * n + 8),
        (OpName::LevelDown, 2 * n + 3),
    ]
}

/// A 22-limb chain leaves 22 − 16 = 6 limbs after a bootstrap: one 5-level iteration per
/// bootstrap. Three iterations: two merged bootstraps (add, bootstrap, conjugate, sub, add
/// each), plus the two weight inputs and one output.
#[test]
fn op_counts_match_the_hand_derivation() {
    let (header, recipe) = setup(22);
    for (batch, n) in [(256, 2), (1024, 8)] {
        let opts = HelrOptions {
            batch,
            iterations: 3,
            ..HelrOptions::default()
        };
        let t = helr(&header, &recipe, &opts).expect("helr");
        assert_eq!(
            (t.ciphertexts, t.iterations_per_bootstrap, t.bootstraps),
            (n, 1, 2)
        );
        let s = analyze(&t).stats;
        let mut want: std::collections::BTreeMap<OpName, u64> = per_iteration(n)
            .into_iter()
            .map(|(k, c)| (k, 3 * c))
            .collect();
        *want.get_mut(&OpName::Input).unwrap() += 2;
        *want.get_mut(&OpName::Add).unwrap() += 2 * 2;
        want.insert(OpName::Output, 1);
        want.insert(OpName::Bootstrap, 2);
        want.insert(OpName::Conjugate, 2);
        want.insert(OpName::Sub, 2);
        let got: std::collections::BTreeMap<OpName, u64> =
            s.by_kind.iter().map(|(k, c)| (*k, *c)).collect();
        assert_eq!(got, want, "batch {batch}");
        // key switches per iteration: the rotations and relinearisations (135 + 32 for
        // HELR1024), plus one conjugation per bootstrap
        assert_eq!(s.key_switches, 3 * (16 * n + 7 + 4 * n) + 2);
    }
}

/// The bootstrap frequency follows from the level budget: 40 limbs leave 24, so
/// ⌊(24 − 1)/5⌋ = 4 iterations per bootstrap and 32 iterations need ⌈32/4⌉ − 1 = 7; the
/// bootstrap is sparse (256 slots) unless asked otherwise, and its expansion is a valid trace.
#[test]
fn bootstraps_follow_the_level_budget_and_are_sparse() {
    let (header, recipe) = setup(40);
    let t = helr(&header, &recipe, &HelrOptions::default()).expect("helr");
    assert_eq!((t.iterations_per_bootstrap, t.bootstraps), (4, 7));
    let boots: Vec<&BootstrapParams> = t
        .ops
        .iter()
        .filter_map(|op| match &op.kind {
            OpKind::Bootstrap(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(boots.len(), 7);
    assert!(boots.iter().all(|p| p.slots == 256));
    let expanded = boot::expand_ops(&t.header, &t.ops).expect("expands");
    let mut a = Analyzer::new(t.header.clone());
    for (i, op) in expanded.iter().enumerate() {
        a.check(i as u64 + 2, op);
    }
    assert!(a.finish().is_valid());

    let full = HelrOptions {
        sparse_boot: false,
        iterations: 5,
        ..HelrOptions::default()
    };
    let t = helr(&header, &recipe, &full).expect("helr");
    assert_eq!(t.boot.slots, 1 << 15);
    assert_eq!(t.bootstraps, 1);
}

#[test]
fn bad_options_name_the_parameter_and_bound() {
    let (header, recipe) = setup(22);
    let bad_batch = HelrOptions {
        batch: 100,
        ..HelrOptions::default()
    };
    let err = helr(&header, &recipe, &bad_batch).unwrap_err();
    assert!(
        matches!(
            err,
            WorkloadError::Param {
                parameter: "batch",
                value: 100,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("multiple of the 128 samples"),
        "{err}"
    );
    let (short, _) = setup(21);
    let err = helr(&short, &recipe, &HelrOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            WorkloadError::Param {
                parameter: "limbs",
                value: 21,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("at least 22 ("), "{err}");
    let odd = HelrOptions {
        features: 200,
        ..HelrOptions::default()
    };
    assert!(matches!(
        helr(&header, &recipe, &odd).unwrap_err(),
        WorkloadError::Param {
            parameter: "features",
            ..
        }
    ));
}
