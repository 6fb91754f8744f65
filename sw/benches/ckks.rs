//! CKKS per-operation latency at N = 2^14 on the SEAL peer's chain C1 (docs/peer-seal.md:
//! q = [60, 40×6] bits, one 60-bit special prime, i.e. dnum = 7, scale 2^40), single thread,
//! fresh top-level ciphertexts (7 limbs). In-place forms are timed on an untimed copy, as in
//! the SEAL measurement. Peer script: `benches/peers/seal_ckks.py` (repo root).
//!
//! Run: `cargo bench -p hesim-sw --bench ckks -- --sample-size 10 --measurement-time 2 --warm-up-time 1`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hesim_sw::ckks::{
    Context, Evaluator, GaloisKeys, ParamsBuilder, PublicKey, RelinKey, Sampler, SecretKey,
};

fn bench_ckks(c: &mut Criterion) {
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

criterion_group!(benches, bench_ckks);
criterion_main!(benches);
