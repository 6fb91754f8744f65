//! Generating each built-in network's trace (program build + trace serialisation to memory)
//! must take < 100 ms: every built-in under the diagonal packings and `hear`, ResNet-20 under
//! every packing that bootstraps (placed by the level planner; `hear` keeps HEAR's fixed chain
//! and refuses ResNet-20 as too deep), and SqueezeNet-CIFAR and HEMET's network under the
//! packings that pack their concats (`multiplexed`, `hyphen-recon`).

use criterion::{Criterion, criterion_group, criterion_main};
use hesim_sw::nn::{self, BUILTINS, CompileOptions, Network, PACKINGS, Params};

fn trace_gen(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_gen");
    group.sample_size(10);
    let cases = BUILTINS
        .iter()
        .flat_map(|&net| ["dense", "group", "spencnn", "hear"].map(|p| (net, p)))
        .chain(
            PACKINGS
                .into_iter()
                .filter(|&p| p != "hear")
                .map(|p| ("resnet20", p)),
        )
        .chain(
            ["squeezenet-cifar", "hemet"]
                .into_iter()
                .flat_map(|net| ["multiplexed", "hyphen-recon"].map(|p| (net, p))),
        );
    for (name, packing) in cases {
        let net = Network::builtin(name).expect("built-in");
        let params = Params::random(&net, 1).expect("random weights");
        let options = CompileOptions {
            sparsity: if packing == "spencnn" && name != "resnet20" {
                0.5
            } else {
                0.0
            },
            ..CompileOptions::default()
        };
        let strategy = nn::strategy(packing, &options).expect("a packing");
        group.bench_function(format!("{name}/{packing}"), |b| {
            b.iter(|| {
                let program = strategy.compile(&net, &params).expect("builds");
                program
                    .write_trace(Vec::with_capacity(1 << 22))
                    .expect("writes")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, trace_gen);
criterion_main!(benches);
