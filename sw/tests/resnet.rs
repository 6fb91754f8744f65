//! ResNet-20 and a small network under the multiplexed packing against the plaintext network:
//! the packed program, run on the exact slot interpreter (bootstrap = identity on slots), must
//! give the logits of `nn::forward` (naive convolutions on C×H×W arrays, which share no code
//! with the packings) within 1e-9.

mod common;
use common::equals_plaintext;

use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::network::{resnet20, resnet20_grouped, resnet20_lee};
use hesim_sw::nn::{self, Network, Params, ReluApprox};
use hesim_sw::slots;
use hesim_traces::OpName;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn chebyshev(degree: usize) -> ReluApprox {
    ReluApprox::Chebyshev { degree }
}

/// The baseline multiplexed packing with degree-15 activations and the default bootstrap.
#[test]
fn multiplexed_equals_plaintext() {
    let p = equals_plaintext(&resnet20(chebyshev(15)), &MuxOptions::default(), 1);
    assert!(
        multiplexed::bootstraps(&p) > 0,
        "ResNet-20 must need bootstrapping"
    );
}

/// SpENCNN on the multiplexed layout (4 groups, 3 pruned taps), whose reference drops the
/// pruned taps.
#[test]
fn spencnn_equals_plaintext() {
    let opts = MuxOptions {
        pruned_taps: 3,
        ..MuxOptions::default()
    };
    let p = equals_plaintext(&resnet20_grouped(chebyshev(15), 4).unwrap(), &opts, 2);
    assert!(!p.pruned.is_empty());
}

/// A low-degree activation (quadratic) and 8 groups without pruning also agree, and the
/// grouped packing needs fewer rotations and plaintext multiplies than the dense one.
#[test]
fn quadratic_and_eight_groups_equal_plaintext() {
    let opts = MuxOptions::default();
    let d = equals_plaintext(&resnet20(chebyshev(2)), &opts, 3);
    let g = equals_plaintext(&resnet20_grouped(chebyshev(2), 8).unwrap(), &opts, 3);
    let (sd, sg) = (d.analyze().stats, g.analyze().stats);
    assert!(sg.count(OpName::Rotate) < sd.count(OpName::Rotate));
    assert!(sg.count(OpName::MulPlain) < sd.count(OpName::MulPlain));
}

/// A user network that is not ResNet: 8×8 input, batch norm folded, a quadratic and an AESPA
/// activation, a stride-2 conv, global pooling and a linear layer.
#[test]
fn small_toml_network_equals_plaintext() {
    let net = Network::from_toml(
        r#"
name = "small-mux"
input = [2, 8, 8]
[[layers]]
type = "conv"
out = 4
kernel = 3
pad = 1
[[layers]]
type = "batchnorm"
[[layers]]
type = "poly"
coefficients = [0.1, 0.5, 0.2]
[[layers]]
type = "conv"
out = 8
kernel = 3
stride = 2
pad = 1
[[layers]]
type = "relu"
approx = "aespa"
[[layers]]
type = "global_avgpool"
[[layers]]
type = "linear"
out = 3
"#,
        "small-mux",
    )
    .unwrap();
    let opts = MuxOptions {
        allow_insecure: true,
        log_n: 12,
        boot: hesim_sw::boot::default_params(1 << 11),
        ..MuxOptions::default()
    };
    equals_plaintext(&net, &opts, 4);
}

/// Layers the layout cannot pack are errors naming the layer, not wrong programs.
#[test]
fn unsupported_layers_name_the_layer() {
    let net = Network::from_toml(
        "input = [1, 8, 8]\n[[layers]]\ntype = \"flatten\"\nname = \"p\"\n",
        "t",
    )
    .unwrap();
    let params = Params::random(&net, 1).unwrap();
    let e = multiplexed::build(&net, &params, &MuxOptions::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("`p`") && text.contains("not supported"),
        "{text}"
    );
}

/// ResNet-20 with Lee et al.'s AppReLU on Lee's chain (16 levels after each bootstrap, one
/// more limb for the input scaling by 1/B that Lee folds into the weights): the level planner
/// places no more bootstraps than Lee et al.'s 18, and the program still computes the network.
#[test]
fn apprelu_resnet20_needs_at_most_lees_eighteen_bootstraps() {
    let boot = hesim_sw::boot::default_params(1 << 15);
    let lee_limbs = boot.level_budget() + 1 + 2 + 14;
    let opts = MuxOptions {
        limbs: lee_limbs + 1,
        ..MuxOptions::default()
    };
    let net = resnet20(ReluApprox::AppRelu { bound: 40.0 });
    let p = equals_plaintext(&net, &opts, 5);
    let n = multiplexed::bootstraps(&p);
    assert!((1..=18).contains(&n), "{n} bootstraps");
}

/// A user network deeper than the chain: 12 conv + activation pairs on a 10-level chain. With
/// bootstrapping it compiles (bootstraps placed by the planner) and equals the plaintext
/// network; forbidding bootstraps makes it a levels error naming the first layer that runs out.
#[test]
fn deep_toml_network_gets_bootstraps() {
    let mut text = String::from("name = \"deep\"\ninput = [2, 8, 8]\n");
    for i in 0..12 {
        text.push_str(&format!(
            "[[layers]]\ntype = \"conv\"\nname = \"c{i}\"\nout = 4\nkernel = 3\npad = 1\n\
             [[layers]]\ntype = \"poly\"\nname = \"a{i}\"\ncoefficients = [0.05, 0.6, 0.1]\n"
        ));
    }
    text.push_str(
        "[[layers]]\ntype = \"global_avgpool\"\n[[layers]]\ntype = \"linear\"\nout = 3\n",
    );
    let net = Network::from_toml(&text, "deep").unwrap();
    let boot = hesim_sw::boot::default_params(1 << 11);
    let opts = MuxOptions {
        allow_insecure: true,
        log_n: 12,
        limbs: boot.level_budget() + 10,
        boot,
        ..MuxOptions::default()
    };
    let p = equals_plaintext(&net, &opts, 6);
    assert!(
        multiplexed::bootstraps(&p) >= 2,
        "12 × 3 levels need bootstraps"
    );
    let params = Params::random(&net, 6).unwrap();
    let e = multiplexed::build(
        &net,
        &params,
        &MuxOptions {
            bootstrap: false,
            ..opts
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, nn::NnError::Levels { layer, .. } if layer.starts_with('c') || layer.starts_with('a')),
        "{e}"
    );
}

/// ResNet-20 under the diagonal packings (`dense` on the built-in network, `group` and
/// `spencnn` at 50 % sparsity on its 4-group variant): deeper than any N = 2^14 chain, so the
/// compiler moves it to the bootstrappable chain and the level planner places the bootstraps;
/// the program still computes the network.
#[test]
fn diagonal_packings_bootstrap_resnet20() {
    for (packing, groups, sparsity) in [("dense", 1, 0.0), ("group", 4, 0.0), ("spencnn", 4, 0.5)] {
        let net = resnet20_grouped(nn::network::RESNET20_ACTIVATION, groups).unwrap();
        let params = Params::random(&net, 7).unwrap();
        let options = nn::CompileOptions {
            sparsity,
            ..nn::CompileOptions::default()
        };
        let program = nn::strategy(packing, &options)
            .unwrap()
            .compile(&net, &params)
            .unwrap_or_else(|e| panic!("{packing}: {e}"));
        assert_eq!(program.header.log_n, 16, "{packing}");
        let analysis = program.analyze();
        assert!(
            analysis.is_valid(),
            "{packing}: {:?}",
            &analysis.violations[..analysis.violations.len().min(3)]
        );
        let boots = multiplexed::bootstraps(&program);
        assert!(boots > 0, "{packing}: no bootstraps");
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let input: Vec<f64> = (0..net.input.len())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let want = nn::forward(&net, &params, &program.pruned, &input);
        let got = slots::infer(&program, &input);
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-9 * scale,
                "{packing}: got {got:?}, want {want:?}"
            );
        }
        assert!(scale > 1e-2, "{packing}: negligible logits {want:?}");
        println!("{packing}: {boots} bootstraps, {} ops", program.ops.len());
    }
}

/// Lee et al.'s ResNet-20 is a network description (`resnet20_lee`, compiled to Lee's exact
/// program by `nn::resnet_lee`); the packings of the one compiler refuse its option-A
/// shortcut by name rather than compute something else.
#[test]
fn lee_description_shortcut_is_a_typed_refusal_under_every_packing() {
    let net = resnet20_lee();
    let params = Params::random(&net, 1).unwrap();
    for packing in nn::PACKINGS {
        let e = nn::strategy(packing, &nn::CompileOptions::default())
            .unwrap()
            .compile(&net, &params)
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("s2b1ds") && text.contains("downsample"),
            "{packing}: {text}"
        );
    }
}
