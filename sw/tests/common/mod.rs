//! Shared by the packing tests: a program on the exact slot interpreter (bootstrap = identity
//! on slots) against the plaintext network (`nn::forward`, naive convolutions on C×H×W arrays
//! that share no code with the packings). Each test binary uses a subset of these helpers,
//! hence the `dead_code` allowance.

use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::{self, Network, Params, Program};
use hesim_sw::slots;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// `net` with random weights from `seed` under the multiplexed layout with `opts`, checked: a
/// valid trace whose slot-interpreter logits equal the plaintext network's within 1e-9 of the
/// largest logit (which is neither negligible nor huge).
pub fn equals_plaintext(net: &Network, opts: &MuxOptions, seed: u64) -> Program {
    let params = Params::random(net, seed).unwrap();
    let program = multiplexed::build(net, &params, opts).expect("builds");
    let analysis = program.analyze();
    assert!(
        analysis.is_valid(),
        "{:?}",
        &analysis.violations[..analysis.violations.len().min(3)]
    );
    let mut rng = ChaCha20Rng::seed_from_u64(seed + 100);
    let input: Vec<f64> = (0..net.input.len())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let want = nn::forward(net, &params, &program.pruned, &input);
    let got = slots::infer(&program, &input);
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 1e-3 && scale < 1e6, "{}: logits {want:?}", net.name);
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-9 * scale,
            "{}: got {got:?}, want {want:?}",
            net.name
        );
    }
    program
}

/// Options on an insecure test ring N = 2^`log_n` (full slots, the default bootstrap for them)
/// with `levels` levels left after a bootstrap.
#[allow(dead_code)]
pub fn test_ring(log_n: u32, levels: u32) -> MuxOptions {
    let boot = hesim_sw::boot::default_params(1 << (log_n - 1));
    MuxOptions {
        allow_insecure: true,
        log_n,
        limbs: boot.level_budget() + levels,
        boot,
        ..MuxOptions::default()
    }
}
