//! `hyphen-recon` (CAConv / RAConv alternation, a reconstruction from HyPHEN's abstracts, not
//! its published algorithm) against the plaintext network: the packed program, run on the
//! exact slot interpreter (bootstrap = identity on slots), must give the logits of
//! `nn::forward` (naive convolutions on C×H×W arrays, which share no code with the packings)
//! within 1e-9, on ResNet-20, a narrow ResNet-18 whose activations span several ciphertexts,
//! and a user network with gapped layouts and 5×5 kernels.

use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::network::{resnet18_shaped, resnet20};
use hesim_sw::nn::{self, Network, Params, Program, ReluApprox, Shape};
use hesim_sw::slots;
use hesim_traces::OpName;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn hybrid(opts: MuxOptions) -> MuxOptions {
    MuxOptions {
        hybrid: true,
        ..opts
    }
}

fn check(net: &Network, opts: &MuxOptions, seed: u64) -> Program {
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
    assert!(scale > 1e-3 && scale < 1e6, "logits {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-9 * scale,
            "{}: got {got:?}, want {want:?}",
            net.name
        );
    }
    program
}

/// Layers whose report starts with `algorithm`.
fn count(p: &Program, algorithm: &str) -> usize {
    p.layers
        .iter()
        .filter(|l| l.detail.starts_with(algorithm))
        .count()
}

/// ResNet-20 with AESPA activations: the seven blocks without down-sampling alternate CAConv
/// and RAConv (the stem, the stride-2 convs and their blocks' second convs stay Lee et al.'s),
/// the program equals the plaintext network, the header says it is a reconstruction, and it
/// needs fewer rotations than the multiplexed packing of the same network.
#[test]
fn resnet20_equals_plaintext_and_alternates_in_stride_one_blocks() {
    let net = resnet20(ReluApprox::Aespa);
    let p = check(&net, &hybrid(MuxOptions::default()), 1);
    assert_eq!((count(&p, "CAConv"), count(&p, "RAConv")), (7, 7));
    assert!(
        p.header
            .packing
            .contains("reconstruction from the abstracts"),
        "{}",
        p.header.packing
    );
    assert!(multiplexed::bootstraps(&p) > 0);
    let params = Params::random(&net, 1).unwrap();
    let mux = multiplexed::build(&net, &params, &MuxOptions::default()).unwrap();
    let (h, m) = (p.analyze().stats, mux.analyze().stats);
    assert!(
        h.count(OpName::Rotate) < m.count(OpName::Rotate),
        "hyphen-recon {} vs multiplexed {} rotations",
        h.count(OpName::Rotate),
        m.count(OpName::Rotate)
    );
}

/// A narrow ResNet-18 (3×32×32, widths 16/32/64/128) on N = 2^10: stage 1's activations span
/// two ciphertexts with one copy each, so RA tensors hold one channel per ciphertext.
#[test]
fn narrow_resnet18_over_several_ciphertexts_equals_plaintext() {
    let net = resnet18_shaped(Shape::new(3, 32, 32), [16, 32, 64, 128], 10).unwrap();
    let boot = hesim_sw::boot::default_params(1 << 9);
    let opts = hybrid(MuxOptions {
        allow_insecure: true,
        log_n: 10,
        limbs: boot.level_budget() + 12,
        boot,
        ..MuxOptions::default()
    });
    let p = check(&net, &opts, 11);
    assert!(count(&p, "CAConv") >= 4, "{:?}", p.layers);
    let s1 = p.layers.iter().find(|l| l.name == "s1b1c1").unwrap();
    assert!(s1.detail.contains("on 2 ciphertexts"), "{}", s1.detail);
}

/// A user network: a 5×5 pair on a gapped layout (gap 2 after a stride-2 conv, 8 copies),
/// batch norm folded into both convs, an AESPA activation between them, the pair's input also
/// read by the residual add after it.
#[test]
fn gapped_five_by_five_pair_equals_plaintext() {
    let net = Network::from_toml(
        r#"
name = "hyphen-small"
input = [2, 16, 16]
[[layers]]
type = "conv"
out = 4
kernel = 3
stride = 2
pad = 1
[[layers]]
type = "poly"
name = "a0"
coefficients = [0.1, 0.5, 0.2]
[[layers]]
type = "conv"
name = "p1"
out = 4
kernel = 5
pad = 2
[[layers]]
type = "batchnorm"
[[layers]]
type = "relu"
approx = "aespa"
[[layers]]
type = "conv"
name = "p2"
out = 4
kernel = 5
pad = 2
[[layers]]
type = "batchnorm"
[[layers]]
type = "residual"
from = "a0"
[[layers]]
type = "global_avgpool"
[[layers]]
type = "linear"
out = 3
"#,
        "hyphen-small",
    )
    .unwrap();
    let boot = hesim_sw::boot::default_params(1 << 11);
    let opts = hybrid(MuxOptions {
        allow_insecure: true,
        log_n: 12,
        limbs: boot.level_budget() + 8,
        boot,
        ..MuxOptions::default()
    });
    let p = check(&net, &opts, 4);
    let detail = |name: &str| &p.layers.iter().find(|l| l.name == name).unwrap().detail;
    assert!(detail("p1").starts_with("CAConv"), "{}", detail("p1"));
    assert!(detail("p2").starts_with("RAConv"), "{}", detail("p2"));
}
