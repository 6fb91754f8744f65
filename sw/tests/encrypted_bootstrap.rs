//! A network deeper than the chain, compiled by the multiplexed packing with bootstraps placed
//! by the planner, run encrypted (`nn::encrypted::EncryptedRunner`: real CKKS, every
//! `bootstrap` op executed through `ckks::execute_with_bootstraps`) at a small insecure ring,
//! against the plaintext network (`nn::forward`, naive convolutions on C×H×W arrays) — the
//! path `hesim infer --net resnet20 --packing multiplexed` runs at N = 2^16; and the same
//! network under `hyphen-recon` (CAConv / RAConv pairs, reconstructed from HyPHEN's abstracts).

use hesim_sw::ckks::bootstrap::{LEVELS_AFTER, recipe};
use hesim_sw::nn::encrypted::{EncryptedRunner, RunnerOptions};
use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::{self, Network, Params, Program};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Six conv + quadratic pairs on a 2×8×8 input (about 2 levels each, so 12 levels on a chain
/// that leaves 5 after a bootstrap, plus the last limb), global pooling and a linear layer, at N = 2^11 with the
/// recipe `hesim ckks bootstrap` measures. The decrypted logits match the plaintext network's
/// within 2^−14 of the largest logit (measured: 2^−21) and the argmax agrees.
#[test]
fn deep_network_runs_encrypted_with_bootstraps() {
    run_deep_network(false);
}

/// The same under `hyphen-recon`: two conv pairs run as CAConv (a mask and a replication on
/// real ciphertexts) and RAConv (rescaled per-tap partial sums rotated before the copy sum).
#[test]
fn deep_network_runs_encrypted_under_hyphen_recon() {
    let program = run_deep_network(true);
    let pairs = program
        .layers
        .iter()
        .filter(|l| l.detail.starts_with("CAConv"))
        .count();
    assert_eq!(pairs, 2, "{:?}", program.layers);
}

/// Builds the network (`hybrid`: under `hyphen-recon`), runs it encrypted and checks it.
fn run_deep_network(hybrid: bool) -> Program {
    let mut text = String::from("name = \"deep\"\ninput = [2, 8, 8]\n");
    for i in 0..6 {
        text.push_str(&format!(
            "[[layers]]\ntype = \"conv\"\nname = \"c{i}\"\nout = 4\nkernel = 3\npad = 1\n\
             [[layers]]\ntype = \"poly\"\nname = \"a{i}\"\ncoefficients = [0.05, 0.6, 0.1]\n"
        ));
    }
    text.push_str(
        "[[layers]]\ntype = \"global_avgpool\"\n[[layers]]\ntype = \"linear\"\nout = 3\n",
    );
    let net = Network::from_toml(&text, "deep").unwrap();
    let log_n = 11;
    let boot = recipe(1 << (log_n - 1));
    let opts = MuxOptions {
        allow_insecure: true,
        log_n,
        limbs: hesim_sw::boot::chain_limbs(&boot, LEVELS_AFTER).unwrap(),
        boot,
        hybrid,
        ..MuxOptions::default()
    };
    let params = Params::random(&net, 3).unwrap();
    let program = multiplexed::build(&net, &params, &opts).unwrap();
    let bootstraps = multiplexed::bootstraps(&program);
    assert!(bootstraps >= 1, "six pairs need a bootstrap");
    let runner = EncryptedRunner::with_options(
        &program,
        &RunnerOptions {
            allow_insecure: true,
            ..RunnerOptions::default()
        },
    )
    .unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let input: Vec<f64> = (0..net.input.len())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let want = nn::forward(&net, &params, &program.pruned, &input);
    let mut profile = Vec::new();
    let got = runner
        .infer_profiled(&program, &input, &mut profile)
        .unwrap();
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let error = nn::max_abs_error(&got, &want);
    println!(
        "{bootstraps} bootstraps: logits {got:?} vs {want:?}, max error 2^{:.1} of {scale:.3}",
        error.log2()
    );
    assert!(scale > 1e-2, "logits are not negligible: {want:?}");
    assert!(error <= scale * 2f64.powi(-14), "max error {error:e}");
    assert_eq!(nn::argmax(&got), nn::argmax(&want));
    assert!(
        profile
            .iter()
            .any(|(layer, _)| layer == hesim_sw::ckks::BOOTSTRAP_LAYER),
        "the bootstraps ran"
    );
    program
}
