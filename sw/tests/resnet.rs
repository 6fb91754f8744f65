//! ResNet-20 packings against the plaintext network: the packed program, run on the exact slot
//! interpreter (bootstrap = identity on slots), must give the logits of `resnet::forward`
//! (naive convolutions on C×H×W arrays, which share no code with the packings) within 1e-9.

use hesim_sw::nn::resnet::{self, ResnetOptions, ResnetPacking, ResnetWeights};
use hesim_sw::slots;
use hesim_traces::OpName;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn check(opts: &ResnetOptions, seed: u64) -> hesim_sw::nn::Program {
    let wts = ResnetWeights::random(opts.packing, opts.act_degree, seed);
    let program = resnet::build(&wts, opts).expect("builds");
    let analysis = program.analyze();
    assert!(
        analysis.is_valid(),
        "{:?}",
        &analysis.violations[..analysis.violations.len().min(3)]
    );
    let mut rng = ChaCha20Rng::seed_from_u64(seed + 100);
    let input: Vec<f64> = (0..3 * 32 * 32)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let want = resnet::forward(&wts, &input);
    let got = slots::infer(&program, &input);
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-9 * scale,
            "{:?}: got {got:?}, want {want:?}",
            opts.packing
        );
    }
    assert!(want.iter().all(|v| v.is_finite() && v.abs() < 1e6));
    let peak = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(peak > 1e-2, "logits are not negligible: {want:?}");
    program
}

/// The baseline multiplexed packing with degree-15 activations and the default bootstrap.
#[test]
fn multiplexed_equals_plaintext() {
    let p = check(&ResnetOptions::new(ResnetPacking::Multiplexed), 1);
    assert!(
        resnet::bootstraps(&p) > 0,
        "ResNet-20 must need bootstrapping"
    );
}

/// The SpENCNN packing (4 groups, 3 pruned taps), whose reference drops the pruned taps.
#[test]
fn spencnn_equals_plaintext() {
    let p = check(&ResnetOptions::spencnn(), 2);
    assert!(!p.pruned.is_empty());
}

/// A low-degree activation (quadratic) and 8 groups without pruning also agree, and the
/// grouped packing needs fewer rotations and plaintext multiplies than the dense one.
#[test]
fn quadratic_and_eight_groups_equal_plaintext() {
    let mut dense = ResnetOptions::new(ResnetPacking::Multiplexed);
    dense.act_degree = 2;
    let d = check(&dense, 3);
    let mut grouped = ResnetOptions::new(ResnetPacking::Spencnn {
        groups: 8,
        pruned_taps: 0,
    });
    grouped.act_degree = 2;
    let g = check(&grouped, 3);
    let (sd, sg) = (d.analyze().stats, g.analyze().stats);
    assert!(sg.count(OpName::Rotate) < sd.count(OpName::Rotate));
    assert!(sg.count(OpName::MulPlain) < sd.count(OpName::MulPlain));
}
