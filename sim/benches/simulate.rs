//! Simulation speed: a LeNet-sized CNN trace (~3,000 ops; synthetic until the nn crate's LeNet
//! `spencnn` trace is on main) on one design point — target ≤ 5 ms — and a 100,000-op trace —
//! target ≤ 200 ms. Both lower and schedule (what one sweep point costs without a cache); the
//! `engine` rows reuse a lowered program (what a sweep costs per point with [`Simulator`]).

use criterion::{Criterion, criterion_group, criterion_main};
use hesim_sim::{Arch, EngineOptions, LowerOptions, engine, lower, simulate};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);

    let arch = Arch::preset("default").unwrap();
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
