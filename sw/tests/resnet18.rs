//! ResNet-18 (ImageNet): the network description against torchvision's published shape, and a
//! narrow ResNet-18-shaped network under the multiplexed packing with activations spread over
//! several ciphertexts against the plaintext network (`nn::forward`, naive convolutions that
//! share no code with the packing).

mod common;
use common::{equals_plaintext, test_ring};

use hesim_sw::nn::multiplexed;
use hesim_sw::nn::network::{resnet18, resnet18_shaped};
use hesim_sw::nn::{LayerKind, Network, Shape};

/// Learnable parameters as PyTorch counts them: conv and linear weights, linear biases, batch
/// norm's γ and β.
fn parameter_count(net: &Network) -> usize {
    let inputs = net.input_shapes().unwrap();
    net.layers
        .iter()
        .zip(&inputs)
        .map(|(l, s)| match &l.kind {
            LayerKind::Conv {
                out,
                kernel,
                groups,
                bias,
                ..
            } => out * s.c / groups * kernel * kernel + if *bias { *out } else { 0 },
            LayerKind::Linear { out, bias } => out * s.c + if *bias { *out } else { 0 },
            LayerKind::BatchNorm { .. } => 2 * s.c,
            _ => 0,
        })
        .sum()
}

/// The built-in has torchvision's ResNet-18 shape: 11,689,512 parameters (torchvision's model
/// card), a 1,000-class output and the published stage maps 56², 28², 14², 7².
#[test]
fn resnet18_has_torchvision_shape() {
    let net = resnet18();
    assert_eq!(parameter_count(&net), 11_689_512);
    let shapes = net.shapes().unwrap();
    let at = |name: &str| shapes[net.layer_index(name).unwrap()];
    assert_eq!(at("act1"), Shape::new(64, 112, 112));
    assert_eq!(at("pool1"), Shape::new(64, 56, 56));
    assert_eq!(at("s1b2a2"), Shape::new(64, 56, 56));
    assert_eq!(at("s2b2a2"), Shape::new(128, 28, 28));
    assert_eq!(at("s3b2a2"), Shape::new(256, 14, 14));
    assert_eq!(at("s4b2a2"), Shape::new(512, 7, 7));
    assert_eq!(shapes.last(), Some(&Shape::new(1000, 1, 1)));
    assert!(
        net.substitutions().iter().all(|s| s.contains("AESPA")),
        "{:?}",
        net.substitutions()
    );
    // an input too small for the stem and the four halvings is a shape error, not a panic
    assert!(resnet18_shaped(Shape::new(3, 2, 2), [4, 8, 16, 32], 10).is_err());
}

/// A narrow ResNet-18 (3×32×32 input, widths 16/32/64/128, 10 classes) on N = 2^10 (512
/// slots), so that its activations span several ciphertexts as ResNet-18's do at N = 2^16:
/// the space-to-depth input 6, the stem output 8, stage 1 two; stages 3 and 4 fit one
/// ciphertext with two copies. The packed program, run on the exact slot interpreter
/// (bootstrap = identity on slots), must give the logits of the plaintext network within
/// 1e-9; the level planner places bootstraps.
#[test]
fn narrow_resnet18_over_several_ciphertexts_equals_plaintext() {
    let net = resnet18_shaped(Shape::new(3, 32, 32), [16, 32, 64, 128], 10).unwrap();
    let program = equals_plaintext(&net, &test_ring(10, 12), 11);
    assert_eq!(
        program.input.cts, 6,
        "12 space-to-depth channels, 2 per ciphertext"
    );
    let stem = program.layers.iter().find(|l| l.name == "conv1").unwrap();
    assert!(
        stem.detail.ends_with("6 → 8 ciphertexts"),
        "{}",
        stem.detail
    );
    assert!(multiplexed::bootstraps(&program) > 0);
}

/// Maps whose sides are not powers of two (a 12×12 input: raster 12, gaps 2 and 4), an
/// activation over four ciphertexts at N = 2^12, average pooling, and a 3×3 global pooling
/// (window sums along the bits of 3) against the plaintext network.
#[test]
fn non_power_of_two_maps_equal_plaintext() {
    let net = Network::from_toml(
        r#"
input = [2, 12, 12]
[[layers]]
type = "conv"
out = 32
kernel = 3
pad = 1
[[layers]]
type = "relu"
approx = "aespa"
[[layers]]
type = "conv"
out = 16
kernel = 3
stride = 2
pad = 1
[[layers]]
type = "batchnorm"
[[layers]]
type = "avgpool"
kernel = 2
[[layers]]
type = "global_avgpool"
[[layers]]
type = "linear"
out = 5
"#,
        "odd-maps",
    )
    .unwrap();
    let program = equals_plaintext(&net, &test_ring(12, 12), 13);
    let conv1 = &program.layers[0];
    assert!(
        conv1.detail.ends_with("1 → 4 ciphertexts"),
        "{}",
        conv1.detail
    );
}
