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
    check_program(net, &params, &program, seed);
}

/// `hear` through the registry, as the CLI compiles it (HEAR's own parameters).
fn check_hear(net: &Network, seed: u64) {
    let params = Params::random(net, seed).unwrap();
    let options = nn::CompileOptions::default();
    let program = nn::strategy("hear", &options)
        .unwrap()
        .compile(net, &params)
        .unwrap();
    assert_eq!(program.header.log_n, 14, "{}: HEAR's N = 2^14", net.name);
    assert_eq!(
        program.header.q_bits[0], 33,
        "{}: HEAR's 33-bit q0",
        net.name
    );
    check_program(net, &params, &program, seed);
}

fn check_program(net: &Network, params: &Params, program: &nn::Program, seed: u64) {
    let packing = &program.header.packing;
    let analysis = program.analyze();
    assert!(
        analysis.is_valid(),
        "{} {}: invalid program: {:?}",
        net.name,
        packing,
        &analysis.violations[..analysis.violations.len().min(5)]
    );
    let x = input_for(net, seed + 1);
    let want = nn::forward(net, params, &program.pruned, &x);
    let got = slots::infer(program, &x);
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "{} {} output {i}: slots {g} vs direct {w}",
            net.name,
            packing
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
    check_hear(&net, 7);
}

#[test]
fn vgg5_all_packings_match_direct() {
    let net = nn::network::vgg5();
    for p in [
        Packing::Dense,
        Packing::Group,
        Packing::Spencnn { sparsity: 0.5 },
    ] {
        check(&net, p, 11);
    }
    check_hear(&net, 11);
}

#[test]
fn hefnet_all_packings_match_direct() {
    let net = nn::network::hefnet();
    for p in [
        Packing::Dense,
        Packing::Group,
        Packing::Spencnn { sparsity: 0.5 },
    ] {
        check(&net, p, 13);
    }
    check_hear(&net, 13);
}

/// Four small networks from the TOML format: strided and padded convs, grouped convs in a
/// multi-ciphertext layout, batch norm, affine and quadratic activations, a residual add, a
/// network ending in a conv, and a graph with a branch (projection shortcut read by name),
/// an AESPA activation and global average pooling.
const SMALL_NETS: [&str; 4] = [
    r#"
name = "small-a"
input = [3, 12, 12]
[[layers]]
type = "conv"
out = 8
kernel = 3
pad = 1
[[layers]]
type = "batchnorm"
[[layers]]
type = "poly"
coefficients = [0.1, 0.5, -0.25]
[[layers]]
type = "conv"
out = 8
kernel = 3
stride = 2
groups = 2
[[layers]]
type = "avgpool"
kernel = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 5
"#,
    r#"
name = "small-b"
input = [16, 16, 16]
[[layers]]
type = "conv"
name = "stem"
out = 32
kernel = 3
pad = 1
groups = 4
[[layers]]
type = "poly"
name = "act"
coefficients = [0.0, 1.0, 0.5]
[[layers]]
type = "conv"
out = 32
kernel = 3
pad = 1
groups = 8
bias = false
[[layers]]
type = "residual"
from = "act"
[[layers]]
type = "avgpool"
kernel = 4
[[layers]]
type = "conv"
out = 16
kernel = 1
groups = 4
[[layers]]
type = "relu"
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 7
"#,
    r#"
name = "small-c"
input = [2, 9, 7]
[[layers]]
type = "conv"
out = 6
kernel = 2
[[layers]]
type = "poly"
coefficients = [0.2, -1.5]
[[layers]]
type = "avgpool"
kernel = 2
[[layers]]
type = "conv"
out = 4
kernel = 3
pad = 1
groups = 2
"#,
    r#"
name = "small-d"
input = [4, 8, 8]
[[layers]]
type = "conv"
out = 8
kernel = 3
pad = 1
[[layers]]
type = "relu"
name = "x"
approx = "aespa"
[[layers]]
type = "conv"
name = "sc"
input = "x"
out = 16
kernel = 1
stride = 2
[[layers]]
type = "conv"
name = "c1"
input = "x"
out = 16
kernel = 3
stride = 2
pad = 1
[[layers]]
type = "poly"
coefficients = [0.1, 0.9, 0.2]
[[layers]]
type = "conv"
out = 16
kernel = 3
pad = 1
groups = 2
[[layers]]
type = "residual"
from = "sc"
[[layers]]
type = "global_avgpool"
[[layers]]
type = "linear"
out = 3
"#,
];

#[test]
fn small_toml_networks_match_direct() {
    for (i, text) in SMALL_NETS.iter().enumerate() {
        let net = Network::from_toml(text, "test").unwrap();
        for p in [
            Packing::Dense,
            Packing::Group,
            Packing::Spencnn { sparsity: 0.3 },
        ] {
            check(&net, p, 100 + i as u64);
        }
        check_hear(&net, 100 + i as u64);
    }
}

/// Grouped layers under `group` need fewer rotations and products than under `dense` (the
/// point of HE-group convolution), and pruning removes more.
#[test]
fn group_and_pruning_reduce_work() {
    use hesim_traces::OpName;
    for name in nn::BUILTINS {
        let net = Network::builtin(name).unwrap();
        let params = Params::random(&net, 3).unwrap();
        let stats = |p| {
            let s = nn::build(&net, &params, p, &HeParams::default())
                .unwrap()
                .analyze()
                .stats;
            (s.count(OpName::Rotate), s.count(OpName::MulPlain))
        };
        let (d, g, s) = (
            stats(Packing::Dense),
            stats(Packing::Group),
            stats(Packing::Spencnn { sparsity: 0.5 }),
        );
        assert!(g.0 < d.0 && g.1 < d.1, "{name}: group {g:?} vs dense {d:?}");
        assert!(
            s.0 <= g.0 && s.1 < g.1,
            "{name}: spencnn {s:?} vs group {g:?}"
        );
    }
}
