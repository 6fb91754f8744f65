//! Speedups dense → spencnn on the CPU reference path (`sw::ckks`).
//!
//! Full encrypted VGG-5 / HEFNet inferences take many minutes per image on this machine, so the
//! latency of each program is *estimated* as Σ (op count × measured latency of that op kind),
//! with every op kind timed on real ciphertexts at the program's own parameters (N = 2^14, its
//! chain) at its top level — `mul_plain` and `add_plain` include encoding the plaintext, as
//! the executor does. LeNet is also run end to end (`hesim infer`) to check the estimate.
//!
//! Run: `cargo run --release -p hesim-sw --example nn_speedup [sparsity]`

use std::sync::Arc;
use std::time::Instant;

use hesim_sw::ckks::{
    Context, Evaluator, GaloisKeys, ParamsBuilder, PublicKey, RelinKey, Sampler, SecretKey,
};
use hesim_sw::nn::{self, HeParams, Network, Packing, Params, Program};
use hesim_traces::OpName;
use num_complex::Complex64;

/// Seconds per op kind at the program's parameters.
fn op_costs(program: &Program, reps: usize) -> Vec<(OpName, f64)> {
    let h = &program.header;
    let builder = ParamsBuilder::new(h.log_n, h.q_bits.clone(), h.log_scale)
        .special_primes(h.p_bits.clone())
        .dnum(h.dnum as usize);
    let ctx = Arc::new(Context::new(&builder).expect("program parameters are valid"));
    let mut sampler = Sampler::from_os();
    let sk = SecretKey::generate(&ctx, &mut sampler);
    let pk = PublicKey::generate(&sk, &mut sampler);
    let relin = RelinKey::generate(&sk, &mut sampler);
    let galois = GaloisKeys::for_steps_with(&sk, &[1], false, &mut sampler);
    let eval = Evaluator::new(Arc::clone(&ctx), Some(relin), galois);
    let level = ctx.max_level();
    let scale = ctx.scale_at(level);
    let values: Vec<Complex64> = (0..ctx.slots())
        .map(|i| Complex64::new((i % 7) as f64 * 0.1, 0.0))
        .collect();
    let pt = ctx.encode(&values, level, scale).unwrap();
    let ct = pk.encrypt(&pt, &mut sampler);
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        t.elapsed().as_secs_f64() / reps as f64
    };
    let real: Vec<f64> = values.iter().map(|c| c.re).collect();
    let encode_mul = time(&mut || {
        let c: Vec<Complex64> = real.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        let p = ctx.encode(&c, level, scale).unwrap();
        std::hint::black_box(eval.mul_plain(&ct, &p).unwrap());
    });
    let add = time(&mut || {
        std::hint::black_box(eval.add(&ct, &ct).unwrap());
    });
    let rotate = time(&mut || {
        std::hint::black_box(eval.rotate(&ct, 1).unwrap());
    });
    let prod = eval.mul_plain(&ct, &pt).unwrap();
    let rescale = time(&mut || {
        std::hint::black_box(eval.rescale(&prod).unwrap());
    });
    let mul = time(&mut || {
        std::hint::black_box(eval.mul(&ct, &ct).unwrap());
    });
    let sq = eval.mul(&ct, &ct).unwrap();
    let relin_t = time(&mut || {
        std::hint::black_box(eval.relinearize(&sq).unwrap());
    });
    vec![
        (OpName::MulPlain, encode_mul),
        (OpName::AddPlain, encode_mul),
        (OpName::Add, add),
        (OpName::AddConst, add),
        (OpName::MulConst, add),
        (OpName::Rotate, rotate),
        (OpName::Rescale, rescale),
        (OpName::Mul, mul),
        (OpName::Relin, relin_t),
    ]
}

fn estimate(program: &Program, costs: &[(OpName, f64)]) -> f64 {
    let stats = program.analyze().stats;
    costs.iter().map(|(k, t)| stats.count(*k) as f64 * t).sum()
}

fn main() {
    let sparsity: f64 = std::env::args()
        .nth(1)
        .map_or(0.5, |s| s.parse().expect("sparsity"));
    let he = HeParams::default();
    println!("| network | sparsity | dense est. s | spencnn est. s | speedup | paper |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, paper) in [("lenet", 8.37), ("vgg5", 12.11), ("hefnet", 19.26)] {
        let net = Network::builtin(name).unwrap();
        let params = Params::random(&net, 1).unwrap();
        let dense = nn::build(&net, &params, Packing::Dense, &he).unwrap();
        let spencnn = nn::build(&net, &params, Packing::Spencnn { sparsity }, &he).unwrap();
        let costs = op_costs(&dense, 3);
        let (td, ts) = (estimate(&dense, &costs), estimate(&spencnn, &costs));
        println!(
            "| {name} | {sparsity} | {td:.1} | {ts:.1} | {:.2}× | {paper}× |",
            td / ts
        );
        for (k, t) in &costs {
            eprintln!("  {name}: {k} {:.2} ms", t * 1e3);
        }
    }
}
