//! The `circulant` packing (block-circulant weights in the frequency domain, Falcon /
//! PrivCirNet reconstructed): the slot interpreter against the plaintext network computed
//! directly (naive convolution) with the *projected* weights, within 1e-9; the projection
//! against the properties of a least-squares projection; the modes' op counts.

use hesim_sw::nn::circulant::{self, BLOCKS, CirculantOptions, Mode};
use hesim_sw::nn::weights::{LayerParams, Tensor};
use hesim_sw::nn::{self, CompileOptions, Network, NnError, Params, Program};
use hesim_sw::slots;
use hesim_traces::OpKind;

const MODES: [Mode; 2] = [Mode::Falcon, Mode::PrivCirNet];

/// conv → conv → pool → 1×1 conv (no activation between: PrivCirNet stays in the frequency
/// domain), flatten → linear → linear (again), a dense classifier (3 classes); 8 input
/// channels, so the first conv is circulant too.
const CHAIN: &str = r#"
name = "cir-chain"
input = [8, 8, 8]
[[layers]]
type = "conv"
out = 16
kernel = 3
pad = 1
[[layers]]
type = "poly"
coefficients = [0.1, 0.5, 0.25]
[[layers]]
type = "conv"
out = 16
kernel = 3
pad = 1
groups = 2
[[layers]]
type = "avgpool"
kernel = 2
[[layers]]
type = "conv"
out = 8
kernel = 1
[[layers]]
type = "poly"
coefficients = [0.0, 1.0, 0.5]
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 16
[[layers]]
type = "linear"
out = 8
[[layers]]
type = "poly"
coefficients = [0.2, 0.8, 0.1]
[[layers]]
type = "linear"
out = 3
"#;

fn input_for(net: &Network, seed: u64) -> Vec<f64> {
    (0..net.input.len())
        .map(|i| 0.5 * (nn::weights::uniform(seed, i as u64) + 1.0))
        .collect()
}

fn compile(net: &Network, params: &Params, block: usize, mode: Mode) -> Program {
    let options = CompileOptions {
        circulant: CirculantOptions::new(block, mode).unwrap(),
        ..CompileOptions::default()
    };
    nn::strategy("circulant", &options)
        .unwrap()
        .compile(net, params)
        .unwrap()
}

/// The program under every block size and mode equals the network with projected weights.
fn check(net: &Network, seed: u64) {
    let params = Params::random(net, seed).unwrap();
    let x = input_for(net, seed + 1);
    for block in BLOCKS {
        let projected = circulant::project(net, &params, block).unwrap();
        let want = nn::forward(net, &projected, &nn::PruneMasks::new(), &x);
        let unprojected = nn::forward(net, &params, &nn::PruneMasks::new(), &x);
        assert!(
            want.iter()
                .zip(&unprojected)
                .any(|(a, b)| (a - b).abs() > 1e-6),
            "{} b = {block}: the projection changed nothing",
            net.name
        );
        for mode in MODES {
            let program = compile(net, &params, block, mode);
            let label = &program.header.packing;
            let analysis = program.analyze();
            assert!(analysis.is_valid(), "{} {label}: invalid program", net.name);
            let got = slots::infer(&program, &x);
            assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                    "{} {label} output {i}: slots {g} vs projected network {w}",
                    net.name
                );
            }
        }
    }
}

#[test]
fn lenet_matches_the_projected_network() {
    check(&nn::network::lenet(), 7);
}

#[test]
fn chain_matches_the_projected_network() {
    check(&Network::from_toml(CHAIN, "test").unwrap(), 21);
}

fn weights(params: &Params, layer: usize) -> Vec<f64> {
    params.weight_values(layer)
}

/// Projection is idempotent (bit for bit: the pairwise mean of b equal values is exact), and the
/// residual `W − P(W)` is orthogonal to every block-circulant matrix (what makes the mean along
/// wrapped diagonals the least-squares projection), checked on LeNet's linear1 (32×32) against
/// block-circulant matrices built directly from first rows.
#[test]
fn projection_is_the_least_squares_projection() {
    let net = nn::network::lenet();
    let params = Params::random(&net, 5).unwrap();
    let li = net.layer_index("linear1").unwrap();
    for block in BLOCKS {
        let once = circulant::project(&net, &params, block).unwrap();
        let twice = circulant::project(&net, &once, block).unwrap();
        for l in 0..net.layers.len() {
            if matches!(once.layers[l], LayerParams::Affine { .. }) {
                assert_eq!(
                    weights(&once, l),
                    weights(&twice, l),
                    "b = {block}: layer {l}"
                );
            }
        }
        let (w, p) = (weights(&params, li), weights(&once, li));
        let residual: Vec<f64> = w.iter().zip(&p).map(|(a, b)| a - b).collect();
        assert!(residual.iter().any(|r| r.abs() > 1e-3), "b = {block}");
        // a block-circulant 32×32 matrix from random first rows: block (I, J) row i, column
        // s is row_{I,J}[(s − i) mod b]
        for trial in 0..4u64 {
            let rows: Vec<f64> = (0..32 * 32 / block)
                .map(|k| nn::weights::uniform(100 + trial, k as u64))
                .collect();
            let mut dot = 0.0;
            for o in 0..32 {
                for i in 0..32 {
                    let (bo, bi, r, s) = (o / block, i / block, o % block, i % block);
                    let c = rows[(bo * (32 / block) + bi) * block + (s + block - r) % block];
                    dot += residual[o * 32 + i] * c;
                }
            }
            assert!(dot.abs() < 1e-12, "b = {block}: <W − P(W), C> = {dot}");
        }
        // a block-circulant matrix is its own projection
        let circulant_params = {
            let mut p = params.clone();
            let rows: Vec<f64> = (0..32 * 32 / block)
                .map(|k| nn::weights::uniform(7, k as u64))
                .collect();
            let c: Vec<f64> = (0..32 * 32)
                .map(|k| {
                    let (o, i) = (k / 32, k % 32);
                    let (bo, bi, r, s) = (o / block, i / block, o % block, i % block);
                    rows[(bo * (32 / block) + bi) * block + (s + block - r) % block]
                })
                .collect();
            let LayerParams::Affine { bias, .. } = &params.layers[li] else {
                unreachable!()
            };
            p.layers[li] = LayerParams::Affine {
                weight: Tensor::Exact(c.into()),
                bias: bias.clone(),
            };
            p
        };
        let projected = circulant::project(&net, &circulant_params, block).unwrap();
        assert_eq!(
            weights(&projected, li),
            weights(&circulant_params, li),
            "b = {block}"
        );
    }
}

fn rotations(program: &Program, layer: &str) -> usize {
    program
        .ops
        .iter()
        .filter(|o| {
            matches!(o.kind, OpKind::Rotate { .. })
                && (&*o.layer == layer
                    || o.layer
                        .strip_prefix(layer)
                        .is_some_and(|rest| rest == ".dft" || rest == ".spectral"))
        })
        .count()
}

fn depth(program: &Program) -> u32 {
    program.ops.iter().map(|o| o.level).max().unwrap_or(0)
        - program.ops.iter().map(|o| o.level).min().unwrap_or(0)
}

/// PrivCirNet's mode skips the inverse DFT / DFT pairs between circulant layers that only
/// pooling separates (two on the chain network) and the client computes the input's DFT: five
/// levels fewer than Falcon's, and fewer rotations. On LeNet the first layer is dense (one
/// input channel) and every circulant layer is followed by an activation, so the two modes are
/// the same program.
#[test]
fn privcirnet_leaves_the_frequency_domain_less_often() {
    let chain = Network::from_toml(CHAIN, "test").unwrap();
    let params = Params::random(&chain, 3).unwrap();
    for block in BLOCKS {
        let falcon = compile(&chain, &params, block, Mode::Falcon);
        let privcirnet = compile(&chain, &params, block, Mode::PrivCirNet);
        assert_eq!(depth(&falcon), depth(&privcirnet) + 5, "b = {block}");
        assert_eq!(
            privcirnet.header.packing,
            format!("circulant-b{block}-privcirnet-client-dft")
        );
        assert!(
            privcirnet.count(|k| matches!(k, OpKind::Rotate { .. }))
                < falcon.count(|k| matches!(k, OpKind::Rotate { .. })),
            "b = {block}"
        );
    }
    let lenet = nn::network::lenet();
    let params = Params::random(&lenet, 3).unwrap();
    let (falcon, privcirnet) = (
        compile(&lenet, &params, 4, Mode::Falcon),
        compile(&lenet, &params, 4, Mode::PrivCirNet),
    );
    assert_eq!(falcon.ops, privcirnet.ops);
}

/// Per-layer rotations and the program depth against `dense`, printed for the report
/// (`cargo test --release -p hesim-sw --test circulant -- --nocapture`).
#[test]
fn op_counts_against_dense() {
    let net = nn::network::lenet();
    let params = Params::random(&net, 3).unwrap();
    let options = CompileOptions::default();
    let dense = nn::strategy("dense", &options)
        .unwrap()
        .compile(&net, &params)
        .unwrap();
    for block in BLOCKS {
        let program = compile(&net, &params, block, Mode::Falcon);
        for layer in ["conv2", "linear1", "linear2"] {
            println!(
                "lenet {layer}: dense {} rotations, circulant b = {block} {}",
                rotations(&dense, layer),
                rotations(&program, layer)
            );
        }
        println!(
            "lenet depth: dense {}, circulant b = {block} {}",
            depth(&dense),
            depth(&program)
        );
    }
}

/// A block size outside {2, 4, 8} is refused; a hidden layer the block does not divide is
/// refused with the layer's name; the first and last layers stay dense instead.
#[test]
fn bad_blocks_are_refused() {
    for block in [0, 1, 3, 16] {
        assert!(matches!(
            CirculantOptions::new(block, Mode::Falcon),
            Err(NnError::Option { .. })
        ));
    }
    let net = Network::from_toml(
        r#"
name = "odd"
input = [1, 6, 6]
[[layers]]
type = "conv"
out = 12
kernel = 3
[[layers]]
type = "conv"
name = "mid"
out = 12
kernel = 1
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 10
"#,
        "test",
    )
    .unwrap();
    let params = Params::random(&net, 1).unwrap();
    match circulant::project(&net, &params, 8) {
        Err(NnError::Unsupported { layer, message }) => {
            assert_eq!(layer, "mid");
            assert!(message.contains("12"), "{message}");
        }
        other => panic!("expected an error for `mid`, got {other:?}"),
    }
    let dense_edges = circulant::circulant_layers(&net, 4).unwrap();
    assert_eq!(dense_edges, vec![false, true, false, false]);
}

/// ResNet-20 (residual adds, strided convs, batch norm folded into the inverse DFT, bootstraps
/// placed by the level planner) with block 4: every conv but the stem is circulant, the
/// classifier stays dense.
#[test]
fn resnet20_matches_the_projected_network() {
    // Both activations `hesim trace compare` runs it with: degree 15 and AESPA's degree 2.
    for activation in [nn::network::RESNET20_ACTIVATION, nn::ReluApprox::Aespa] {
        resnet20_check(nn::network::resnet20(activation));
    }
}

fn resnet20_check(net: Network) {
    let params = Params::random(&net, 7).unwrap();
    let projected = circulant::project(&net, &params, 4).unwrap();
    let program = compile(&net, &params, 4, Mode::Falcon);
    assert!(program.analyze().is_valid());
    assert!(program.count(|k| matches!(k, OpKind::Bootstrap(_))) > 0);
    let x: Vec<f64> = (0..net.input.len())
        .map(|i| nn::weights::uniform(8, i as u64))
        .collect();
    let want = nn::forward(&net, &projected, &nn::PruneMasks::new(), &x);
    let got = slots::infer(&program, &x);
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-9 * scale, "got {got:?}, want {want:?}");
    }
}

/// Real CKKS (`nn::encrypted::EncryptedRunner`) at an insecure N = 2^11 (explicit opt-ins) on
/// the bootstrappable chain of the recipe `hesim ckks bootstrap` measures (too deep for an
/// N = 2^11 chain without it; the program fits before a bootstrap is due): two circulant convs
/// (4 → 8 → 8 channels, block 4) and a dense classifier. Under both modes (PrivCirNet's client
/// sends the input's DFT) the decrypted logits match the plaintext network with the projected
/// weights within 2^−10 of the largest logit (measured over 8 runs: 2^−13.1 to 2^−15.5) and the
/// argmax agrees.
#[test]
fn small_network_runs_encrypted() {
    use hesim_sw::ckks::bootstrap::{LEVELS_AFTER, recipe};
    use hesim_sw::nn::encrypted::{EncryptedRunner, RunnerOptions};
    use hesim_sw::nn::multiplexed::MuxOptions;

    let net = Network::from_toml(
        r#"
name = "small-circulant"
input = [4, 8, 8]
[[layers]]
type = "conv"
out = 8
kernel = 3
pad = 1
[[layers]]
type = "poly"
coefficients = [0.05, 0.6, 0.1]
[[layers]]
type = "conv"
out = 8
kernel = 3
pad = 1
[[layers]]
type = "poly"
coefficients = [0.05, 0.6, 0.1]
[[layers]]
type = "global_avgpool"
[[layers]]
type = "linear"
out = 3
"#,
        "test",
    )
    .unwrap();
    let params = Params::random(&net, 3).unwrap();
    let projected = circulant::project(&net, &params, 4).unwrap();
    let log_n = 11;
    let boot = recipe(1 << (log_n - 1));
    for mode in MODES {
        let options = CompileOptions {
            he: nn::HeParams {
                log_n,
                ..nn::HeParams::default()
            },
            mux: MuxOptions {
                allow_insecure: true,
                log_n,
                limbs: hesim_sw::boot::chain_limbs(&boot, LEVELS_AFTER).unwrap(),
                boot,
                ..MuxOptions::default()
            },
            circulant: CirculantOptions::new(4, mode).unwrap(),
            ..CompileOptions::default()
        };
        let program = nn::strategy("circulant", &options)
            .unwrap()
            .compile(&net, &params)
            .unwrap();
        assert_eq!(program.header.log_n, 11);
        let runner = EncryptedRunner::with_options(
            &program,
            &RunnerOptions {
                allow_insecure: true,
                ..RunnerOptions::default()
            },
        )
        .unwrap();
        let x: Vec<f64> = (0..net.input.len())
            .map(|i| nn::weights::uniform(9, i as u64))
            .collect();
        let want = nn::forward(&net, &projected, &nn::PruneMasks::new(), &x);
        let got = runner.infer(&program, &x).unwrap();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let error = nn::max_abs_error(&got, &want);
        println!(
            "{mode:?}: depth {}, logits {got:?} vs {want:?}, max error 2^{:.1} of {scale:.3}",
            program.header.q_bits.len() - 1,
            error.log2()
        );
        assert!(scale > 1e-2, "{mode:?}: negligible logits {want:?}");
        assert!(
            error <= scale * 2f64.powi(-10),
            "{mode:?}: max error {error:e}"
        );
        assert_eq!(nn::argmax(&got), nn::argmax(&want), "{mode:?}");
    }
}
