//! HEMET's network (SqueezeNet-CIFAR with Fire 3 and 4 replaced by 3×3 convs) under every
//! packing that applies, against the plaintext network (`nn::forward`, naive convolutions and
//! concatenation on C×H×W arrays that share no code with the packings).

mod common;
use common::equals_plaintext;

use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::network::{hemet, hemet_with, squeezenet_cifar};
use hesim_sw::nn::{CompileOptions, LayerKind, NnError, PACKINGS, Params, ReluApprox, Shape};

/// Fire 1 and 2 as in SqueezeNet-CIFAR, then `conv2` 128→128 and `conv3` 128→256 (3×3) in
/// place of Fire 3 and 4, and the same 256→10 head: two fewer layers of depth per replaced
/// module (squeeze, expand, concat become one conv).
#[test]
fn hemet_replaces_the_deep_fire_modules_by_convs() {
    let net = hemet();
    let shapes = net.shapes().unwrap();
    let at = |name: &str| shapes[net.layer_index(name).unwrap()];
    assert_eq!(at("f2cat"), Shape::new(128, 16, 16));
    assert_eq!(at("pool2"), Shape::new(128, 8, 8));
    assert_eq!(at("conv2"), Shape::new(128, 8, 8));
    assert_eq!(at("conv3"), Shape::new(256, 8, 8));
    assert_eq!(shapes.last(), Some(&Shape::new(10, 1, 1)));
    assert!(net.layer_index("f3sq").is_none() && net.layer_index("f4cat").is_none());
    let squeeze = squeezenet_cifar();
    let prefix = net.layer_index("pool2").unwrap() + 1;
    assert_eq!(net.layers[..prefix], squeeze.layers[..prefix]);
}

/// Under `multiplexed` and `hyphen-recon` (which pairs `conv2`/`conv3` as CAConv → RAConv),
/// the slot interpreter equals the plaintext network within 1e-9. AESPA activations: seven
/// nested x² of random weights leave the logits out of range.
#[test]
fn hemet_equals_plaintext_on_every_packing_that_applies() {
    let net = hemet_with(&LayerKind::Relu {
        approx: ReluApprox::Aespa,
    });
    let mux = equals_plaintext(&net, &MuxOptions::default(), 31);
    // its depth fits the default chain: no bootstrap (SqueezeNet-CIFAR's needs one)
    assert_eq!(multiplexed::bootstraps(&mux), 0);
    let hybrid = MuxOptions {
        hybrid: true,
        ..MuxOptions::default()
    };
    let recon = equals_plaintext(&net, &hybrid, 31);
    assert_eq!(recon.header.packing, multiplexed::hyphen::LABEL);
    // the built-in (x²) compiles too
    let x2 = hemet();
    let params = Params::random(&x2, 1).unwrap();
    let program = multiplexed::build(&x2, &params, &MuxOptions::default()).unwrap();
    assert!(program.analyze().is_valid());
}

/// The diagonal packings cannot pack Fire 1's channel concatenation: each refuses naming the
/// layer and the constraint.
#[test]
fn diagonal_packings_refuse_hemets_concat_by_layer() {
    let net = hemet();
    let params = Params::random(&net, 1).unwrap();
    for packing in PACKINGS {
        if matches!(packing, "multiplexed" | "hyphen-recon") {
            continue;
        }
        let err = hesim_sw::nn::strategy(packing, &CompileOptions::default())
            .unwrap()
            .compile(&net, &params)
            .unwrap_err();
        assert!(
            matches!(&err, NnError::Unsupported { layer, message }
                if layer == "f1cat" && message.contains("concat")),
            "{packing}: {err}"
        );
    }
}
