//! Measured speedups hear → dense → group → spencnn on the CPU reference path (`sw::ckks`): each
//! built-in network runs one encrypted inference per packing, timed in thread CPU time so other
//! work on a shared machine barely moves it. Every decrypted result is checked against the
//! network computed directly. `hear` (SpENCNN's baseline) runs on HEAR's parameters, the others
//! on hesim's default chain (both N = 2^14, one prime per level, one special prime).
//!
//! Weights: the SpENCNN checkpoints for LeNet and HEFNet (under `HESIM_DATA`, random when
//! missing), random for VGG-5 (no checkpoint exists). Inputs are deterministic pseudo-random
//! pixels: the op sequence, hence the time, does not depend on them.
//!
//! Run: `cargo run --release -p hesim-sw --example nn_speedup [sparsity [network...]]`
//! (default 0.5 and all three; ≈ 8 CPU-minutes and up to 12 GiB of memory: VGG-5's fully
//! connected layers have ~30,000 plaintext diagonals).

use cpu_time::ThreadTime;
use hesim_sw::nn::encrypted::EncryptedRunner;
use hesim_sw::nn::{self, CompileOptions, Network, Params};

fn params(net: &Network) -> Params {
    let Some(path) = nn::checkpoint_path(&net.name) else {
        return Params::random(net, 1).expect("built-in network");
    };
    Params::from_safetensors(net, &path).unwrap_or_else(|e| {
        eprintln!("{e}: using random weights");
        Params::random(net, 1).expect("built-in network")
    })
}

/// CPU seconds of one encrypted inference under `packing`, after checking it against the
/// direct network.
fn encrypted_seconds(net: &Network, params: &Params, packing: &str, sparsity: f64) -> f64 {
    let options = CompileOptions {
        sparsity,
        ..CompileOptions::default()
    };
    let program = nn::strategy(packing, &options)
        .and_then(|s| s.compile(net, params))
        .expect("program");
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
    assert!(error < 1e-2, "{} {packing}: logit error {error}", net.name);
    eprintln!(
        "{} {packing}: {seconds:.1} s CPU, logit error {error:.1e}",
        net.name
    );
    seconds
}

fn main() {
    let mut args = std::env::args().skip(1);
    let sparsity: f64 = args
        .next()
        .map_or(0.5, |s| s.parse().expect("sparsity is a number"));
    let nets: Vec<String> = args.collect();
    println!(
        "| network | hear s | dense s | group s | spencnn@{sparsity} s | hear→group | \
         hear→spencnn | paper | dense→group | dense→spencnn |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, paper) in [("lenet", 8.37), ("vgg5", 12.11), ("hefnet", 19.26)] {
        if !nets.is_empty() && !nets.iter().any(|n| n == name) {
            continue;
        }
        let net = Network::builtin(name).expect("built-in network");
        let params = params(&net);
        let [hear, dense, group, spencnn] = [
            ("hear", 0.0),
            ("dense", 0.0),
            ("group", 0.0),
            ("spencnn", sparsity),
        ]
        .map(|(p, s)| encrypted_seconds(&net, &params, p, s));
        println!(
            "| {name} | {hear:.1} | {dense:.1} | {group:.1} | {spencnn:.1} | {:.2}× | {:.2}× | \
             {paper}× | {:.2}× | {:.2}× |",
            hear / group,
            hear / spencnn,
            dense / group,
            dense / spencnn
        );
    }
}
