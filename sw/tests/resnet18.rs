//! ResNet-18 (ImageNet): the network description against torchvision's published shape, and a
//! narrow ResNet-18-shaped network under the multiplexed packing with activations spread over
//! several ciphertexts against the plaintext network (`nn::forward`, naive convolutions that
//! share no code with the packing).

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
