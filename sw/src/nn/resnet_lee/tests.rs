//! Lee et al.'s ResNet-20 against (1) its network description run by the one plaintext
//! forward pass `nn::forward` (slot interpreter, bootstraps as the identity), (2) op counts
//! derived by hand from the loops of Lee et al.'s code (`cnn_seal.cpp`), (3) their bootstrap
//! placement and slot counts.

use std::collections::BTreeMap;

use hesim_traces::{BootstrapParams, Header, OpName};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::nn::activation::chebyshev_value;
use crate::{boot, slots};

/// N = 2^16, the default 16-level bootstrap and `limbs` 28-bit limbs (33: 17 after a
/// bootstrap, i.e. Lee et al.'s 16 remaining levels).
fn setup(limbs: u32) -> (Header, BootstrapParams) {
    let header = boot::header(16, limbs, "resnet20", "lee", true).expect("header");
    (header, boot::default_params(1 << 15))
}

#[test]
fn slot_program_equals_the_plaintext_network() {
    let (header, recipe) = setup(33);
    let net = resnet20_lee();
    let params = Params::random(&net, 1).unwrap();
    let wts = LeeWeights::from_network(&net, &params).unwrap();
    let built = build(&wts, &header, &recipe).expect("builds");
    let analysis = built.program.analyze();
    assert!(analysis.is_valid(), "{:?}", analysis.violations.first());
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let input: Vec<f64> = (0..3 * 32 * 32)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let want = crate::nn::forward(&net, &params, &PruneMasks::new(), &input);
    let got = slots::infer(&built.program, &input);
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 1e-3 && scale < 1e6, "logits {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-9 * scale, "got {got:?}, want {want:?}");
    }
}

/// Rotations (Lee's `memory_save_rotate` calls) and plaintext multiplies of one multiplexed
/// convolution from the loops of `multiplexed_parallel_convolution_seal`: 8 tap rotations (the
/// centre tap is not rotated); per batch i9 < q = ⌈c_o/p_i⌉, 9 weight products, 2·log2 k_i
/// channel-sum rotations plus log2 t_i (or t_i − 1 when t_i is not a power of two); one
/// rotation per output channel except channel 0 (step 0) and one mask product each; p_o − 1
/// copy rotations.
fn conv(k_in: usize, t_in: usize, p_in: usize, c_out: usize, p_out: usize) -> (u64, u64) {
    let q = c_out.div_ceil(p_in);
    let t_sum = if t_in.is_power_of_two() {
        t_in.ilog2() as usize
    } else {
        t_in - 1
    };
    let rot = 8 + q * (2 * k_in.ilog2() as usize + t_sum) + (c_out - 1) + (p_out - 1);
    ((rot) as u64, (9 * q + c_out) as u64)
}

/// Per layer (rotate ops, mul_plain), by hand:
/// - stem 3→16 on (k 1, t 3, p 8) → p 2: 8 + 2·2 + 15 + 1 = 28, 2·9 + 16 = 34;
/// - stage 1 (k 1, t 16, p 2): 8 + 8·4 + 15 + 1 = 56, 88;
/// - s2b1c1 (k 1, t 16, p 2) → 32 ch, p 4: 8 + 16·4 + 31 + 3 = 106, 176;
/// - stage 2 (k 2, t 8, p 4): 8 + 8·5 + 31 + 3 = 82, 104;
/// - s3b1c1 (k 2, t 8, p 4) → 64 ch, p 8: 8 + 16·5 + 63 + 7 = 158, 208;
/// - stage 3 (k 4, t 4, p 8): 8 + 8·6 + 63 + 7 = 126, 136;
/// - down-sampling (`multiplexed_parallel_downsampling_seal`): k_i·t_i masked rotations (no
///   step is 0: every one includes −k_o²h_ow_o·t_i/8) + p_o − 1: s2 16 + 3 = 19, s3 16 + 7 = 23;
///   16 products each;
/// - average pooling: log2 8 + log2 8 = 6, then k·t = 16 masked rotations of which (s, u) =
///   (0, 0) has step 0: 21 rotations, 16 products;
/// - FC 64→10: 73 diagonals, rotation by 63 − s (s = 63 is the identity): 72 calls, 73
///   products; the steps 34–55 and 57–61 (27 of them) have no key and take two rotations: 99.
///
/// Totals: 1,803 rotation calls, 1,830 rotate ops (key switches), 2,267 plaintext multiplies,
/// which confirms `hyphen-mpcnn.md` §6.2.
#[test]
fn linear_layer_op_counts_match_lee_et_al_code() {
    let (header, recipe) = setup(33);
    let built = build(&LeeWeights::random(2), &header, &recipe).expect("builds");
    let stats = built.program.analyze().stats;
    let mut want: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    want.insert("conv1".into(), conv(1, 3, 8, 16, 2));
    for stage in 1..=3 {
        for block in 1..=3 {
            for c in 1..=2 {
                let counts = match (stage, block, c) {
                    (1, _, _) => conv(1, 16, 2, 16, 2),
                    (2, 1, 1) => conv(1, 16, 2, 32, 4),
                    (2, _, _) => conv(2, 8, 4, 32, 4),
                    (3, 1, 1) => conv(2, 8, 4, 64, 8),
                    _ => conv(4, 4, 8, 64, 8),
                };
                want.insert(format!("s{stage}b{block}c{c}"), counts);
            }
        }
    }
    want.insert("s2b1ds".into(), (16 + 3, 16));
    want.insert("s3b1ds".into(), (16 + 7, 16));
    want.insert("pool".into(), (6 + 15, 16));
    want.insert("fc".into(), (72 + 27, 73));
    assert_eq!(want["s1b1c1"], (56, 88));
    assert_eq!(want["s2b1c1"], (106, 176));
    assert_eq!(want["s3b2c1"], (126, 136));
    let got: BTreeMap<String, (u64, u64)> = stats
        .by_layer
        .iter()
        .filter(|l| want.contains_key(&l.layer))
        .map(|l| {
            let n = |k| l.by_kind.get(&k).copied().unwrap_or(0);
            (l.layer.clone(), (n(OpName::Rotate), n(OpName::MulPlain)))
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(stats.count(OpName::Rotate), 1830);
    assert_eq!(stats.count(OpName::MulPlain), 2267);
}

/// With 16 levels after a bootstrap the planner reproduces Lee et al.'s placement: 18
/// bootstraps (one before each block ReLU, none for the stem), on the period of the layout:
/// 2^14 slots in stage 1, 2^13 in stage 2, 2^12 in stage 3; 19 AppReLUs of depth 14.
#[test]
fn eighteen_sparse_bootstraps_and_depth_14_relus() {
    let (header, recipe) = setup(33);
    let built = build(&LeeWeights::random(3), &header, &recipe).expect("builds");
    let want: Vec<u64> = [1 << 14, 1 << 13, 1 << 12]
        .iter()
        .flat_map(|&s| std::iter::repeat_n(s, 6))
        .collect();
    assert_eq!(built.bootstrap_slots, want);
    let relus = built
        .program
        .layers
        .iter()
        .filter(|l| l.kind == "relu")
        .count();
    assert_eq!(relus, 19);
    for (d, c) in SIGN_DEGREES.iter().zip(&LeeWeights::random(3).sign) {
        assert_eq!(depth_of(c), (*d as u32 + 1).next_power_of_two().ilog2());
    }
    assert_eq!(RELU_DEPTH, 14);
}

/// The odd evaluator against Clenshaw on a few points, at the optimal depth with the number
/// of ct×ct products that Lee et al.'s cost formula (`upgrade_oddbaby`: f[n][d] + 2^(l−1) +
/// m − 2, evaluated separately by a script over their recursion) gives: 8 for degree 15
/// (l = 2, m = 4), 10 for degree 27 (l = 3, m = 5).
#[test]
fn odd_chebyshev_matches_clenshaw_at_optimal_depth() {
    for (degree, depth, products) in [(15, 4, 8), (27, 5, 10)] {
        odd_case(degree, depth, products);
    }
}

fn odd_case(degree: usize, depth: u32, products: usize) {
    let c = sign_component(degree);
    let mut e = Emitter::new(8, 0, 0, 0);
    let x = e.input(20);
    let y = odd_chebyshev(&mut e, x, &c);
    assert_eq!(x.level - y.level, depth);
    let muls = e
        .ops
        .iter()
        .filter(|op| op.kind.name() == OpName::Mul)
        .count();
    assert_eq!(muls, products, "degree {degree}");
    let xs = [-1.0, -0.7, -0.1, 0.0, 0.05, 0.3, 0.9, 1.0];
    let mut vals: std::collections::HashMap<u32, Vec<f64>> = std::collections::HashMap::new();
    for op in &e.ops {
        let a = |k: usize| vals[&op.args[k]].clone();
        let v: Vec<f64> = match op.kind.name() {
            OpName::Input => xs.to_vec(),
            OpName::Mul => a(0).iter().zip(a(1)).map(|(p, q)| p * q).collect(),
            OpName::Add => a(0).iter().zip(a(1)).map(|(p, q)| p + q).collect(),
            OpName::Sub => a(0).iter().zip(a(1)).map(|(p, q)| p - q).collect(),
            OpName::MulConst => a(0).iter().map(|p| p * e.constants[&op.id]).collect(),
            OpName::AddConst => a(0).iter().map(|p| p + e.constants[&op.id]).collect(),
            _ => a(0),
        };
        vals.insert(op.id, v);
    }
    for (got, &x) in vals[&y.id].iter().zip(&xs) {
        assert!((got - chebyshev_value(&c, x)).abs() < 1e-12, "{x}: {got}");
    }
}

/// A chain leaving 9 limbs (SHARP-like L_eff = 8) bootstraps between the sign components too;
/// one leaving fewer than 6 is refused with the bound.
#[test]
fn short_chains_bootstrap_more_or_are_refused() {
    let (header, recipe) = setup(25);
    let built = build(&LeeWeights::random(4), &header, &recipe).expect("builds");
    assert!(built.program.analyze().is_valid());
    assert!(built.bootstrap_slots.len() > 18);
    let (header, recipe) = setup(21);
    let err = build(&LeeWeights::random(4), &header, &recipe).unwrap_err();
    assert!(
        err.to_string().contains("limbs = 21 is out of bounds"),
        "{err}"
    );
}
