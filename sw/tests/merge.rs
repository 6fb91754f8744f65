//! Coefficient merging (`nn::merge`) under the multiplexed packing: the merged program's slot
//! interpreter equals the plaintext network with the *original* parameters (`nn::forward`,
//! naive layers that share no code with the packing or the pass), and each merged activation
//! costs one level fewer.

mod common;
use common::equals_plaintext;

use hesim_sw::nn::merge::merge_coefficients;
use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::network::{hemet, hemet_with, resnet20, squeezenet_cifar_with};
use hesim_sw::nn::{LayerKind, Params, ReluApprox};

fn aespa() -> LayerKind {
    LayerKind::Relu {
        approx: ReluApprox::Aespa,
    }
}

fn merged() -> MuxOptions {
    MuxOptions {
        merge_coefficients: true,
        ..MuxOptions::default()
    }
}

/// AESPA's quadratic (leading coefficient ≠ 1) merged into the convs, the concat's readers
/// and the final linear layer: still the plaintext network within 1e-9, on SqueezeNet-CIFAR,
/// HEMET's network and under `hyphen-recon`.
#[test]
fn merged_programs_equal_the_plaintext_network() {
    let squeeze = squeezenet_cifar_with(&aespa());
    let p = equals_plaintext(&squeeze, &merged(), 41);
    // 44 levels unmerged need a bootstrap on the default chain (39 usable), 35 merged do not
    assert_eq!(multiplexed::bootstraps(&p), 0);
    let params = Params::random(&squeeze, 41).unwrap();
    let unmerged = multiplexed::build(&squeeze, &params, &MuxOptions::default()).unwrap();
    assert!(multiplexed::bootstraps(&unmerged) > 0);
    let act = p.layers.iter().find(|l| l.name == "f3e3a").unwrap();
    assert_eq!(act.detail, "monic degree 2 polynomial (merged), 1 levels");
    let net = hemet_with(&aespa());
    equals_plaintext(&net, &merged(), 41);
    let hybrid = MuxOptions {
        hybrid: true,
        ..merged()
    };
    equals_plaintext(&net, &hybrid, 41);
}

/// A quadratic with p(0) = 0 (zero slots stay zero) lets each Fire module's expand convs
/// write into the concat's layout, so the concat is a sum: the mask merged into theirs. Still
/// the plaintext network within 1e-9 (the coefficients keep nested activations in range).
#[test]
fn concats_written_in_place_equal_the_plaintext_network() {
    let zero_at_zero = LayerKind::Poly {
        coefficients: vec![0.0, 1.0, 0.1],
    };
    for net in [
        squeezenet_cifar_with(&zero_at_zero),
        hemet_with(&zero_at_zero),
    ] {
        let p = equals_plaintext(&net, &merged(), 43);
        let cat = p.layers.iter().find(|l| l.name == "f1cat").unwrap();
        assert!(cat.detail.contains("written in place"), "{}", cat.detail);
        let e3 = p.layers.iter().find(|l| l.name == "f1e3").unwrap();
        assert!(
            e3.detail
                .ends_with("written at channel 64 of the concat's layout")
        );
    }
}

/// HEMET's network fits the default chain without bootstrapping, so the trace depth is the
/// levels it consumes: merging saves one per activation on the longest path (act1, the
/// squeeze and expand activations of Fire 1 and 2, act2, act3: 7) and one per Fire module's
/// concat (2).
#[test]
fn merging_saves_one_level_per_activation_and_concat_on_the_path() {
    let net = hemet();
    let params = Params::random(&net, 1).unwrap();
    let depth = |opts: &MuxOptions| {
        let p = multiplexed::build(&net, &params, opts).unwrap();
        assert_eq!(multiplexed::bootstraps(&p), 0);
        p.analyze().stats.depth
    };
    let before = depth(&MuxOptions::default());
    let after = depth(&merged());
    assert_eq!(before - after, 9, "{before} → {after}");
}

/// An activation some residual add reads keeps its coefficient (the add's other operand is
/// not scaled); one only a conv reads is merged, the factor landing in that conv.
#[test]
fn activations_read_by_residual_adds_are_not_merged() {
    let net = resnet20(ReluApprox::Aespa);
    let params = Params::random(&net, 1).unwrap();
    let merge = merge_coefficients(&net, &params).unwrap();
    let at = |name: &str| net.layer_index(name).unwrap();
    assert!(merge.is_merged(at("s1b1a1")));
    assert!(!merge.is_merged(at("s1b1a2")));
    let a1 = merge
        .activations
        .iter()
        .find(|a| a.layer == at("s1b1a1"))
        .unwrap();
    assert_eq!(a1.into, vec![at("s1b1c2")]);
    // the conv absorbed exactly the coefficient
    let (w0, _) = params.affine(at("s1b1c2"));
    let (w1, _) = merge.params.affine(at("s1b1c2"));
    let a = a1.coefficient;
    assert!(a != 1.0);
    assert!((w1.get(5) - a * w0.get(5)).abs() < 1e-15);
}
