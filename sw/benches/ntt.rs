//! NTT forward/inverse: hesim's `NttPlan` (fast path and golden reference) against `tfhe-ntt`
//! 0.7 on the same prime and N, single thread.
//!
//! Run: `cargo bench -p hesim-sw --bench ntt -- --sample-size 10 --measurement-time 1 --warm-up-time 0.5`
//! Ids: `ntt_forward/<impl>/<prime bits>/<N>`, `ntt_inverse/...`; `<impl>` is `hesim`,
//! `tfhe-ntt` or `golden`. The tfhe-ntt inverse includes its `normalize` (×N^{-1}) so both
//! sides compute the same result.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hesim_sw::ring::{Modulus, NttPlan, ntt_primes};

const LOG_NS: [u32; 5] = [12, 13, 14, 15, 16];
const PRIME_BITS: [u32; 2] = [30, 60];

fn input(n: usize, q: u64) -> Vec<u64> {
    // A cheap deterministic spread of residues; NTT timing does not depend on the values.
    (0..n as u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % q)
        .collect()
}

fn bench_ntt(c: &mut Criterion) {
    for (name, inverse) in [("ntt_forward", false), ("ntt_inverse", true)] {
        let mut group = c.benchmark_group(name);
        for bits in PRIME_BITS {
            for log_n in LOG_NS {
                let n = 1usize << log_n;
                let q = ntt_primes(bits, 1, n).expect("prime exists")[0];
                let plan = NttPlan::new(n, &Modulus::new(q).expect("valid")).expect("plan");
                let peer = tfhe_ntt::prime64::Plan::try_new(n, q).expect("tfhe-ntt plan");
                let mut buf = input(n, q);
                let id = |imp: &str| BenchmarkId::new(imp, format!("{bits}/{n}"));
                if inverse {
                    group.bench_function(id("hesim"), |b| {
                        b.iter(|| plan.inverse(black_box(&mut buf)));
                    });
                    group.bench_function(id("tfhe-ntt"), |b| {
                        b.iter(|| {
                            peer.inv(black_box(&mut buf));
                            peer.normalize(&mut buf);
                        });
                    });
                    group.bench_function(id("golden"), |b| {
                        b.iter(|| plan.inverse_golden(black_box(&mut buf)));
                    });
                } else {
                    group.bench_function(id("hesim"), |b| {
                        b.iter(|| plan.forward(black_box(&mut buf)));
                    });
                    group.bench_function(id("tfhe-ntt"), |b| {
                        b.iter(|| peer.fwd(black_box(&mut buf)));
                    });
                    group.bench_function(id("golden"), |b| {
                        b.iter(|| plan.forward_golden(black_box(&mut buf)));
                    });
                }
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_ntt
}
criterion_main!(benches);
