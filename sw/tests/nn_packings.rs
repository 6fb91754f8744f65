//! The slot interpreter against the plaintext network computed directly (naive convolution):
//! the packings must compute exactly the network (within 1e-9, relative to the value's size),
//! and every program must be a valid trace.

use hesim_sw::nn::{self, HeParams, Network, Packing, Params};
use hesim_sw::slots;

fn input_for(net: &Network, seed: u64) -> Vec<f64> {
    (0..net.input.len())
        .map(|i| 0.5 * (nn::weights::uniform(seed, i as u64) + 1.0))
        .collect()
}

fn check(net: &Network, packing: Packing, seed: u64) {
    let params = Params::random(net, seed).unwrap();
    let program = nn::build(net, &params, packing, &HeParams::default()).unwrap();
    let analysis = program.analyze();
    assert!(
        analysis.is_valid(),
        "{} {}: invalid program: {:?}",
        net.name,
        packing.name(),
        &analysis.violations[..analysis.violations.len().min(5)]
    );
    let x = input_for(net, seed + 1);
    let want = nn::forward(net, &params, &program.pruned, &x);
    let got = slots::infer(&program, &x);
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "{} {} output {i}: slots {g} vs direct {w}",
            net.name,
            packing.name()
        );
    }
}

#[test]
fn lenet_all_packings_match_direct() {
    let net = nn::network::lenet();
    for p in [
        Packing::Dense,
        Packing::Group,
        Packing::Spencnn { sparsity: 0.5 },
    ] {
        check(&net, p, 7);
    }
}
