//! Measured speedups dense → group → spencnn on the CPU reference path (`sw::ckks`): each
//! built-in network runs one encrypted inference per packing at the same parameters (N = 2^14,
//! the default chain), timed in thread CPU time so other work on a shared machine barely moves
//! it. Every decrypted result is checked against the network computed directly.
//!
//! Weights: the SpENCNN checkpoints for LeNet and HEFNet (under `HESIM_DATA`, random when
//! missing), random for VGG-5 (no checkpoint exists). Inputs are deterministic pseudo-random
//! pixels: the op sequence, hence the time, does not depend on them.
//!
//! Run: `cargo run --release -p hesim-sw --example nn_speedup [sparsity]` (≈ 6 CPU-minutes and
//! up to 12 GiB of memory: VGG-5's fully connected layers have ~30,000 plaintext diagonals).

use cpu_time::ThreadTime;
use hesim_sw::nn::encrypted::EncryptedRunner;
use hesim_sw::nn::{self, HeParams, Network, Packing, Params};

fn params(net: &Network) -> Params {
    let Some(path) = nn::checkpoint_path(&net.name) else {
        return Params::random(net, 1).expect("built-in network");
    };
    Params::from_safetensors(net, &path).unwrap_or_else(|e| {
        eprintln!("{e}: using random weights");
        Params::random(net, 1).expect("built-in network")
    })
}

/// CPU seconds of one encrypted inference, after checking it against the direct network.
fn encrypted_seconds(net: &Network, params: &Params, packing: Packing) -> f64 {
    let program = nn::build(net, params, packing, &HeParams::default()).expect("program");
    // No plaintext cache: every operand is encoded at its use, for every packing alike.
    let runner = EncryptedRunner::new(&program, 0).expect("keys");
    let input = nn::synthetic_input(net.input.len(), 0);
    let start = ThreadTime::now();
    let got = runner.infer(&program, &input).expect("inference");
    let seconds = start.elapsed().as_secs_f64();
    let want = nn::forward(net, params, &program.pruned, &input);
    let error = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        error < 1e-2,
        "{} {}: logit error {error}",
        net.name,
        packing.name()
    );
    seconds
}

fn main() {
    let sparsity: f64 = std::env::args()
        .nth(1)
        .map_or(0.5, |s| s.parse().expect("sparsity is a number"));
    println!(
        "| network | dense s | group s | spencnn@{sparsity} s | speedup group | speedup spencnn | paper |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, paper) in [("lenet", 8.37), ("vgg5", 12.11), ("hefnet", 19.26)] {
        let net = Network::builtin(name).expect("built-in network");
        let params = params(&net);
        let [dense, group, spencnn] = [
            Packing::Dense,
            Packing::Group,
            Packing::Spencnn { sparsity },
        ]
        .map(|p| encrypted_seconds(&net, &params, p));
        println!(
            "| {name} | {dense:.1} | {group:.1} | {spencnn:.1} | {:.2}× | {:.2}× | {paper}× |",
            dense / group,
            dense / spencnn
        );
    }
}
