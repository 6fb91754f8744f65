//! SqueezeNet-CIFAR (CHET's and HEMET's network: Fire modules, i.e. channel concatenation)
//! under the multiplexed packing against the plaintext network (`nn::forward`, naive
//! convolutions and concatenation on C×H×W arrays that share no code with the packing).

mod common;
use common::equals_plaintext;

use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::network::{squeezenet_cifar, squeezenet_cifar_with};
use hesim_sw::nn::{LayerKind, Params, ReluApprox, Shape};

/// The Fire modules' widths: 128 channels at 16×16 after Fire 1 and 2, 256 at 8×8 after Fire
/// 3 and 4, 10 logits; the activations are HEMET's x².
#[test]
fn squeezenet_cifar_has_chets_shape() {
    let net = squeezenet_cifar();
    let shapes = net.shapes().unwrap();
    let at = |name: &str| shapes[net.layer_index(name).unwrap()];
    assert_eq!(at("f1cat"), Shape::new(128, 16, 16));
    assert_eq!(at("f2cat"), Shape::new(128, 16, 16));
    assert_eq!(at("f4cat"), Shape::new(256, 8, 8));
    assert_eq!(shapes.last(), Some(&Shape::new(10, 1, 1)));
    assert!(matches!(
        &net.layers[net.layer_index("act1").unwrap()].kind,
        LayerKind::Poly { coefficients } if coefficients == &[0.0, 0.0, 1.0]
    ));
}

/// With AESPA activations (random weights keep the logits in range; eight nested x² would
/// not), the packed program equals the plaintext network: every concat moves its parts'
/// channels into the layout of the joined tensor.
#[test]
fn squeezenet_cifar_equals_plaintext() {
    let net = squeezenet_cifar_with(&LayerKind::Relu {
        approx: ReluApprox::Aespa,
    });
    let p = equals_plaintext(&net, &MuxOptions::default(), 21);
    let cat = p.layers.iter().find(|l| l.name == "f3cat").unwrap();
    assert!(
        cat.detail.starts_with("128 + 128 channels moved into 256"),
        "{}",
        cat.detail
    );
    assert!(multiplexed::bootstraps(&p) > 0);
    // the built-in (x²) compiles too
    let x2 = squeezenet_cifar();
    let params = Params::random(&x2, 1).unwrap();
    let program = multiplexed::build(&x2, &params, &MuxOptions::default()).unwrap();
    assert!(program.analyze().is_valid());
}

/// `hyphen-recon` (a reconstruction from HyPHEN's abstracts) applies to SqueezeNet-CIFAR too
/// (`hesim trace compare` has its row): the program equals the plaintext network as well.
#[test]
fn squeezenet_cifar_under_hyphen_recon_equals_plaintext() {
    let net = squeezenet_cifar_with(&LayerKind::Relu {
        approx: ReluApprox::Aespa,
    });
    let hybrid = MuxOptions {
        hybrid: true,
        ..MuxOptions::default()
    };
    let p = equals_plaintext(&net, &hybrid, 22);
    assert!(
        p.header
            .packing
            .contains("reconstruction from the abstracts"),
        "{}",
        p.header.packing
    );
}
