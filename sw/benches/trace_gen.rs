//! Generating each built-in network's trace (program build + trace serialisation to memory)
//! must take < 100 ms.

use criterion::{Criterion, criterion_group, criterion_main};
use hesim_sw::nn::{self, BUILTINS, HeParams, Network, Packing, Params};

fn trace_gen(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_gen");
    group.sample_size(10);
    for name in BUILTINS {
        let net = Network::builtin(name).expect("built-in");
        let params = Params::random(&net, 1).expect("random weights");
        for packing in [
            Packing::Dense,
            Packing::Group,
            Packing::Spencnn { sparsity: 0.5 },
        ] {
            group.bench_function(format!("{name}/{}", packing.name()), |b| {
                b.iter(|| {
                    let program =
                        nn::build(&net, &params, packing, &HeParams::default()).expect("builds");
                    program
                        .write_trace(Vec::with_capacity(1 << 22))
                        .expect("writes")
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, trace_gen);
criterion_main!(benches);
