//! Simulation speed: the LeNet `spencnn` trace of hesim-sw (what `hesim trace gen --net lenet`
//! writes; random weights do not change the trace's shape) and a synthetic CNN trace of ~3,000
//! ops on one design point — target ≤ 5 ms — and a 100,000-op trace from
//! `hesim_traces::synthetic` (with bootstraps) — target ≤ 200 ms. Both lower and schedule (what one sweep point costs without a cache); the
//! `engine` rows reuse a lowered program (what a sweep costs per point with [`Simulator`]).

use criterion::{Criterion, criterion_group, criterion_main};
use hesim_sim::{Arch, ArchLoader, EngineOptions, LowerOptions, engine, lower, simulate};
use hesim_sw::nn;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);

    // hesim-sw's default chain has a 60-bit special prime: 64-bit words.
    let mut wide = ArchLoader::new("default").unwrap();
    wide.set("word_bits=64").unwrap();
    let wide = wide.build().unwrap();
    let arch = Arch::preset("default").unwrap();
    let net = nn::Network::builtin("lenet").unwrap();
    let params = nn::Params::random(&net, 1).unwrap();
    let packing = nn::Packing::parse("spencnn", 0.0).unwrap();
    let lenet = nn::build(&net, &params, packing, &nn::HeParams::default()).unwrap();
    g.bench_function(
        format!("simulate/lenet-spencnn-{}/default-64bit", lenet.ops.len()),
        |b| {
            b.iter(|| simulate(&wide, &lenet.header, &lenet.ops).unwrap().cycles);
        },
    );

    let (h, ops) = hesim_sim::pattern::cnn_trace(3000);
    g.bench_function(format!("simulate/cnn-{}/default", ops.len()), |b| {
        b.iter(|| simulate(&arch, &h, &ops).unwrap().cycles);
    });
    let prog = lower::lower(&h, &ops, LowerOptions::from_arch(&arch)).unwrap();
    g.bench_function(format!("engine/cnn-{}/default", ops.len()), |b| {
        b.iter(|| {
            engine::run(&arch, &prog, EngineOptions::default())
                .unwrap()
                .cycles
        });
    });

    // Lee et al.'s ResNet-20 with every bootstrap expanded, on every preset (target: ≤ 50 ms
    // each). A design with a recipe runs its own; `f1`, `default` and `fpga` run the recipe
    // whose primes fit their words (CraterLake's 28-bit, SHARP's 36-bit), and `f1`'s NTT unit
    // is allowed N = 2^16 (the program needs 2^14 slots; F1 stops at N = 2^14): this measures
    // the simulator, not the design.
    let presets = [
        ("sharp", "sharp"),
        ("ark", "ark"),
        ("bts", "bts"),
        ("craterlake", "craterlake"),
        ("f1", "craterlake"),
        ("default", "craterlake"),
        ("fpga", "sharp"),
    ];
    for (preset, design) in presets {
        use hesim_traces::bootstrap::{RecipeOptions, expand_ops, recipe};
        let r = recipe(design, &RecipeOptions::default()).unwrap();
        let wts = nn::resnet_lee::LeeWeights::random(1);
        let p = nn::resnet_lee::build(&wts, &r.header, &r.params)
            .unwrap()
            .program;
        let ops = expand_ops(&p.header, &p.ops).unwrap();
        let mut a = ArchLoader::new(preset).unwrap();
        if Arch::preset(preset).unwrap().ntt.max_log_n < p.header.log_n {
            a.set(&format!("ntt.max_log_n={}", p.header.log_n)).unwrap();
        }
        let a = a.build().unwrap();
        g.bench_function(
            format!("simulate/resnet20-lee-expanded-{}/{preset}", ops.len()),
            |b| {
                b.iter(|| simulate(&a, &p.header, &ops).unwrap().cycles);
            },
        );
    }

    let sharp = Arch::preset("sharp").unwrap();
    let h = hesim_traces::synthetic::header();
    let ops = hesim_traces::synthetic::generate(100_000, 7);
    g.bench_function(format!("simulate/synthetic-{}/sharp", ops.len()), |b| {
        b.iter(|| simulate(&sharp, &h, &ops).unwrap().cycles);
    });
    let prog = lower::lower(&h, &ops, LowerOptions::from_arch(&sharp)).unwrap();
    g.bench_function(format!("engine/synthetic-{}/sharp", ops.len()), |b| {
        b.iter(|| {
            engine::run(&sharp, &prog, EngineOptions::default())
                .unwrap()
                .cycles
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
