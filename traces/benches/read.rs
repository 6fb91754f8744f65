//! Reading speed of the canonical JSONL encoding: a 1,000,000-op synthetic trace, streamed from
//! a file as `hesim trace` does, once just parsing and once parsing + full validation and stats.
//! Target (issue #2): ≥ 2 M ops/s in release on a 2-core machine.

use std::fs::File;
use std::io::BufReader;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hesim_traces::{TraceReader, synthetic};

const OPS: usize = 1_000_000;

fn bench_read(c: &mut Criterion) {
    let ops = synthetic::generate(OPS, 7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.jsonl");
    let mut w = hesim_traces::create(&path, &synthetic::header()).unwrap();
    for op in &ops {
        w.write_op(op).unwrap();
    }
    w.finish().unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    eprintln!("trace: {} ops, {:.1} MB", ops.len(), bytes as f64 / 1e6);

    let open = || {
        TraceReader::new(BufReader::with_capacity(
            1 << 20,
            File::open(&path).unwrap(),
        ))
    };
    let mut group = c.benchmark_group("trace_read");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ops.len() as u64));
    group.bench_function("parse/1M", |b| {
        b.iter(|| {
            open()
                .unwrap()
                .map(|op| op.unwrap().level as u64)
                .sum::<u64>()
        });
    });
    group.bench_function("parse+validate+stats/1M", |b| {
        b.iter(|| {
            let a = hesim_traces::analyze(open().unwrap()).unwrap();
            assert!(a.is_valid());
            a.stats.ops
        });
    });
    group.finish();
}

criterion_group!(benches, bench_read);
criterion_main!(benches);
