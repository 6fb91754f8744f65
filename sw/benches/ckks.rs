//! CKKS per-operation latency at N = 2^14 on the SEAL peer's chain C1 (docs/peer-seal.md:
//! q = [60, 40×6] bits, one 60-bit special prime, i.e. dnum = 7, scale 2^40), single thread,
//! fresh top-level ciphertexts (7 limbs). In-place forms are timed on an untimed copy, as in
//! the SEAL measurement. Peer script: `benches/peers/seal_ckks.py` (repo root).
//!
//! Times are **thread CPU time** (`CLOCK_THREAD_CPUTIME_ID`), not wall time: the project's
//! machine is shared by several builders, and on a busy 2-core machine wall time measures the
//! scheduler. The SEAL script reports the same clock (`time.thread_time_ns`). On an idle machine
//! both clocks agree for these single-threaded ops.
//!
//! Run: `cargo bench -p hesim-sw --bench ckks -- --sample-size 10 --measurement-time 2 --warm-up-time 1`

use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hesim_sw::ckks::{
    Context, Evaluator, GaloisKeys, ParamsBuilder, PublicKey, RelinKey, Sampler, SecretKey,
};

/// Thread CPU time in nanoseconds.
struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = f64;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }

    fn end(&self, start: Self::Intermediate) -> f64 {
        start.elapsed().as_nanos() as f64
    }

    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }

    fn zero(&self) -> f64 {
        0.0
    }

    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

/// Formats nanoseconds as ns / µs / ms / s ("cpu" marks the clock).
struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (divisor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns cpu"),
            t if t < 1e6 => (1e3, "µs cpu"),
            t if t < 1e9 => (1e6, "ms cpu"),
            _ => (1e9, "s cpu"),
        };
        values.iter_mut().for_each(|v| *v /= divisor);
        unit
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        _throughput: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "ns cpu"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench_ckks(c: &mut Criterion<ThreadCpuTime>) {
    let mut q_bits = vec![60];
    q_bits.extend([40; 6]);
    let builder = ParamsBuilder::new(14, q_bits, 40)
        .special_primes(vec![60])
        .dnum(7);
    let ctx = Arc::new(Context::new(&builder).expect("C1 is a valid 128-bit set"));
    let mut sampler = Sampler::from_os();
    let sk = SecretKey::generate(&ctx, &mut sampler);
    let pk = PublicKey::generate(&sk, &mut sampler);
    let relin = RelinKey::generate(&sk, &mut sampler);
    let galois = GaloisKeys::for_steps_with(&sk, &[1, 7], true, &mut sampler);
    let eval = Evaluator::new(Arc::clone(&ctx), Some(relin), galois);
    let top = ctx.max_level();
    let scale = 2f64.powi(40);
    let values = |seed: u64| -> Vec<f64> {
        (0..ctx.slots() as u64)
            .map(|i| ((i.wrapping_mul(seed) % 2001) as f64 / 1000.0) - 1.0)
            .collect()
    };
    let (x, y) = (values(7919), values(104_729));
    let px = ctx.encode_real(&x, top, scale).expect("encode");
    let py = ctx.encode_real(&y, top, scale).expect("encode");
    let cx = pk.encrypt(&px, &mut sampler);
    let cy = pk.encrypt(&py, &mut sampler);
    let product = eval.mul_relin(&cx, &cy).expect("mul");
    let size3 = eval.mul(&cx, &cy).expect("mul");

    let mut group = c.benchmark_group("ckks_c1");
    group.bench_function("add", |b| {
        b.iter_batched_ref(
            || cx.clone(),
            |ct| eval.add_assign(ct, black_box(&cy)),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("mul_plain", |b| {
        b.iter_batched_ref(
            || cx.clone(),
            |ct| eval.mul_plain_assign(ct, black_box(&py)),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("mul_no_relin", |b| {
        b.iter(|| eval.mul(black_box(&cx), black_box(&cy)));
    });
    group.bench_function("relinearize", |b| {
        b.iter(|| eval.relinearize(black_box(&size3)));
    });
    group.bench_function("mul_relin", |b| {
        b.iter(|| eval.mul_relin(black_box(&cx), black_box(&cy)));
    });
    group.bench_function("rescale", |b| {
        b.iter_batched_ref(
            || product.clone(),
            |ct| eval.rescale_assign(ct),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("rotate_1", |b| b.iter(|| eval.rotate(black_box(&cx), 1)));
    group.bench_function("rotate_7", |b| b.iter(|| eval.rotate(black_box(&cx), 7)));
    group.bench_function("conjugate", |b| b.iter(|| eval.conjugate(black_box(&cx))));
    group.bench_function("rotate_hoisted_1_7", |b| {
        b.iter(|| eval.rotate_hoisted(black_box(&cx), &[1, 7]));
    });
    group.bench_function("encode", |b| {
        b.iter(|| ctx.encode_real(black_box(&x), top, scale));
    });
    group.bench_function("encrypt_pk", |b| {
        b.iter(|| pk.encrypt(black_box(&px), &mut sampler));
    });
    group.bench_function("decrypt", |b| b.iter(|| sk.decrypt(black_box(&cx))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench_ckks
}
criterion_main!(benches);
