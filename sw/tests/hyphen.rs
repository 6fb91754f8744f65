//! `hyphen-recon` (CAConv / RAConv alternation, a reconstruction from HyPHEN's abstracts, not
//! its published algorithm) against the plaintext network: the packed program, run on the
//! exact slot interpreter (bootstrap = identity on slots), must give the logits of
//! `nn::forward` (naive convolutions on C×H×W arrays, which share no code with the packings)
//! within 1e-9, on ResNet-20, a narrow ResNet-18 whose activations span several ciphertexts,
//! and a user network with gapped layouts and 5×5 kernels.

mod common;
use common::{equals_plaintext, test_ring};

use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::network::{resnet18_shaped, resnet20};
use hesim_sw::nn::{Network, Params, Program, ReluApprox, Shape};
use hesim_traces::OpName;

fn hybrid(opts: MuxOptions) -> MuxOptions {
    MuxOptions {
        hybrid: true,
        ..opts
    }
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
    let p = equals_plaintext(&net, &hybrid(MuxOptions::default()), 1);
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
    let p = equals_plaintext(&net, &hybrid(test_ring(10, 12)), 11);
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
    let p = equals_plaintext(&net, &hybrid(test_ring(12, 8)), 4);
    let detail = |name: &str| &p.layers.iter().find(|l| l.name == name).unwrap().detail;
    assert!(detail("p1").starts_with("CAConv"), "{}", detail("p1"));
    assert!(detail("p2").starts_with("RAConv"), "{}", detail("p2"));
}
