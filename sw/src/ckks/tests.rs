//! End-to-end tests: every operation's decryption is compared with the same computation in f64
//! on the cleartext slot vectors (the independent reference).

use std::sync::Arc;

use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::*;

pub(crate) struct Setup {
    pub ctx: Arc<Context>,
    pub sk: SecretKey,
    pub pk: PublicKey,
    pub eval: Evaluator,
    pub sampler: Sampler,
}

pub(crate) fn setup(builder: ParamsBuilder, steps: &[i64], seed: u64) -> Setup {
    let ctx = Arc::new(Context::new(&builder).unwrap());
    let mut sampler = Sampler::from_seed_insecure(seed);
    let sk = SecretKey::generate(&ctx, &mut sampler);
    let pk = PublicKey::generate(&sk, &mut sampler);
    let relin = RelinKey::generate(&sk, &mut sampler);
    let galois = GaloisKeys::for_steps_with(&sk, steps, true, &mut sampler);
    let eval = Evaluator::new(Arc::clone(&ctx), Some(relin), galois);
    Setup {
        ctx,
        sk,
        pk,
        eval,
        sampler,
    }
}

pub(crate) fn random_slots(rng: &mut ChaCha20Rng, slots: usize) -> Vec<Complex64> {
    (0..slots)
        .map(|_| Complex64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
        .collect()
}

pub(crate) fn max_error(a: &[Complex64], b: &[Complex64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).norm())
        .fold(0.0, f64::max)
}

impl Setup {
    pub fn encrypt(&mut self, values: &[Complex64]) -> Ciphertext {
        let level = self.ctx.max_level();
        let pt = self
            .ctx
            .encode(values, level, self.ctx.scale_at(level))
            .unwrap();
        self.pk.encrypt(&pt, &mut self.sampler)
    }
}

/// Small insecure sets exercising hybrid key switching with several digits and special primes.
fn small_sets() -> Vec<ParamsBuilder> {
    vec![
        ParamsBuilder::new(10, vec![50, 36, 36, 36], 36)
            .special_primes(vec![50])
            .allow_insecure(true),
        ParamsBuilder::new(10, vec![50, 36, 36, 36, 36], 36)
            .special_primes(vec![45, 45])
            .dnum(3)
            .allow_insecure(true),
        ParamsBuilder::new(10, vec![50, 36, 36, 36], 36)
            .special_primes(vec![58, 58, 58])
            .dnum(1)
            .allow_insecure(true),
        ParamsBuilder::new(10, vec![50, 36, 36, 36], 36)
            .special_primes(vec![55])
            .slots(64)
            .allow_insecure(true),
    ]
}

#[test]
fn operations_match_f64_on_small_sets() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    for builder in small_sets() {
        let mut s = setup(builder, &[1, 5, -3], 5);
        let slots = s.ctx.slots();
        let top = s.ctx.max_level();
        let x = random_slots(&mut rng, slots);
        let y = random_slots(&mut rng, slots);
        let cx = s.encrypt(&x);
        let cy = s.encrypt(&y);
        let check = |name: &str, got: Vec<Complex64>, want: Vec<Complex64>| {
            let err = max_error(&got, &want);
            assert!(err < 1e-6, "{name}: max error {err} (slots {slots})");
        };
        // sk encryption round trip.
        let pt = s.ctx.encode(&x, top, s.ctx.scale_at(top)).unwrap();
        let sk_ct = s.sk.encrypt(&pt, &mut s.sampler);
        check("sk encrypt", s.sk.decrypt_decode(&sk_ct), x.clone());
        check("pk encrypt", s.sk.decrypt_decode(&cx), x.clone());
        let sum: Vec<_> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
        check(
            "add",
            s.sk.decrypt_decode(&s.eval.add(&cx, &cy).unwrap()),
            sum,
        );
        let diff: Vec<_> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
        check(
            "sub",
            s.sk.decrypt_decode(&s.eval.sub(&cx, &cy).unwrap()),
            diff,
        );
        let prod: Vec<_> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
        let py = s.ctx.encode(&y, top, s.ctx.scale_at(top)).unwrap();
        let mp = s
            .eval
            .rescale(&s.eval.mul_plain(&cx, &py).unwrap())
            .unwrap();
        assert_eq!(mp.level(), top - 1);
        assert!((mp.scale() / s.ctx.scale_at(top - 1) - 1.0).abs() < 1e-12);
        check("mul_plain", s.sk.decrypt_decode(&mp), prod.clone());
        let m3 = s.eval.mul(&cx, &cy).unwrap();
        check("mul (size 3)", s.sk.decrypt_decode(&m3), prod.clone());
        let mr = s.eval.rescale(&s.eval.relinearize(&m3).unwrap()).unwrap();
        check("mul+relin+rescale", s.sk.decrypt_decode(&mr), prod.clone());
        for step in [1i64, 5, -3] {
            let want: Vec<_> = (0..slots)
                .map(|j| x[(j as i64 + step).rem_euclid(slots as i64) as usize])
                .collect();
            check(
                "rotate",
                s.sk.decrypt_decode(&s.eval.rotate(&cx, step).unwrap()),
                want,
            );
        }
        let hoisted = s.eval.rotate_hoisted(&cx, &[1, 0, 5]).unwrap();
        for (ct, step) in hoisted.iter().zip([1usize, 0, 5]) {
            let want: Vec<_> = (0..slots).map(|j| x[(j + step) % slots]).collect();
            check("hoisted", s.sk.decrypt_decode(ct), want);
        }
        let conj: Vec<_> = x.iter().map(|z| z.conj()).collect();
        check(
            "conjugate",
            s.sk.decrypt_decode(&s.eval.conjugate(&cx).unwrap()),
            conj,
        );
        let c = 0.37;
        let ac: Vec<_> = x.iter().map(|z| z + c).collect();
        check(
            "add_const",
            s.sk.decrypt_decode(&s.eval.add_const(&cx, c).unwrap()),
            ac,
        );
        let mc = s.eval.mul_const(&cx, -1.5, s.ctx.scale_at(top)).unwrap();
        let mc = s.eval.rescale(&mc).unwrap();
        let want: Vec<_> = x.iter().map(|z| z * -1.5).collect();
        check("mul_const", s.sk.decrypt_decode(&mc), want);
        let down = s.eval.level_down(&cx, 1).unwrap();
        assert_eq!(down.level(), 1);
        assert_eq!(down.scale(), s.ctx.scale_at(1));
        check("level_down", s.sk.decrypt_decode(&down), x.clone());
    }
}

fn small_setup(steps: &[i64]) -> Setup {
    let builder = ParamsBuilder::new(10, vec![50, 36, 36, 36], 36)
        .special_primes(vec![45, 45])
        .dnum(2)
        .allow_insecure(true);
    setup(builder, steps, 21)
}

/// Running out of levels, mismatched levels or scales, missing keys and wrong sizes are typed
/// errors.
#[test]
fn errors_are_typed() {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let mut s = small_setup(&[1]);
    let x = random_slots(&mut rng, s.ctx.slots());
    let ct = s.encrypt(&x);
    let bottom = s.eval.level_down(&ct, 1).unwrap();
    assert_eq!(
        s.eval.rescale(&bottom).unwrap_err(),
        CkksError::OutOfLevels {
            op: "rescale",
            level: 1
        }
    );
    assert_eq!(
        s.eval.add(&ct, &bottom).unwrap_err(),
        CkksError::LevelMismatch {
            op: "add",
            left: 4,
            right: 1
        }
    );
    assert!(matches!(
        s.eval.mul(&ct, &bottom),
        Err(CkksError::LevelMismatch { .. })
    ));
    let dropped = s.eval.drop_to_level(&ct, 3).unwrap();
    let rescaled = s.eval.rescale(&s.eval.mul(&ct, &ct).unwrap()).unwrap();
    assert!(matches!(
        s.eval.add(&dropped, &rescaled),
        Err(CkksError::ScaleMismatch { .. })
    ));
    assert_eq!(
        s.eval.rotate(&ct, 2).unwrap_err(),
        CkksError::MissingRotationKey {
            step: 2,
            slots: 512
        }
    );
    // Step 1 − slots is step 1: its key serves.
    assert!(s.eval.rotate(&ct, 1 - 512).is_ok());
    let no_keys = Evaluator::new(Arc::clone(&s.ctx), None, GaloisKeys::default());
    assert_eq!(
        no_keys.conjugate(&ct).unwrap_err(),
        CkksError::MissingConjugationKey
    );
    let m3 = no_keys.mul(&ct, &ct).unwrap();
    assert_eq!(
        no_keys.relinearize(&m3).unwrap_err(),
        CkksError::MissingRelinKey
    );
    assert!(matches!(
        s.eval.rotate(&m3, 1),
        Err(CkksError::CiphertextSize {
            expected: 2,
            found: 3,
            ..
        })
    ));
    let too_many = random_slots(&mut rng, s.ctx.slots() + 1);
    assert!(matches!(
        s.ctx.encode(&too_many, 4, 1e10),
        Err(CkksError::TooManyValues { .. })
    ));
    assert!(matches!(
        s.eval.level_down(&ct, 5),
        Err(CkksError::LevelTooHigh { from: 4, to: 5 })
    ));
    assert_eq!(
        s.ctx.encode(&x, 0, 1e10).unwrap_err(),
        CkksError::InvalidLevel { level: 0, max: 4 }
    );
    assert_eq!(
        s.ctx.encode(&x, 5, 1e10).unwrap_err(),
        CkksError::InvalidLevel { level: 5, max: 4 }
    );
}

/// A hand-built trace (every supported op kind, a hoist group) run encrypted equals the same
/// program evaluated in f64 on the cleartext slots.
#[test]
fn executor_matches_f64_program() {
    use hesim_traces::{Op, OpKind, PlainRef};
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let mut s = small_setup(&[1, 3, -2]);
    let slots = s.ctx.slots();
    let real = |rng: &mut ChaCha20Rng| -> Vec<f64> {
        (0..slots).map(|_| rng.random_range(-1.0..1.0)).collect()
    };
    let (x, y, w, b) = (
        real(&mut rng),
        real(&mut rng),
        real(&mut rng),
        real(&mut rng),
    );
    let layer: Arc<str> = Arc::from("test");
    let op = |id, kind, args: Vec<u32>, level| Op::new(id, kind, args, level, Arc::clone(&layer));
    let ops = vec![
        op(0, OpKind::Input, vec![], 4),
        op(1, OpKind::Input, vec![], 4),
        op(
            2,
            OpKind::MulPlain {
                plain: PlainRef { id: 7, level: 4 },
            },
            vec![0],
            4,
        ),
        op(3, OpKind::Rescale, vec![2], 3),
        op(4, OpKind::Mul, vec![0, 1], 4),
        op(5, OpKind::Relin, vec![4], 4),
        op(6, OpKind::Rescale, vec![5], 3),
        op(7, OpKind::Add, vec![3, 6], 3),
        op(
            8,
            OpKind::Rotate {
                step: 1,
                hoist: Some(0),
            },
            vec![7],
            3,
        ),
        op(
            9,
            OpKind::Rotate {
                step: 3,
                hoist: Some(0),
            },
            vec![7],
            3,
        ),
        op(10, OpKind::Conjugate { hoist: Some(0) }, vec![7], 3),
        op(11, OpKind::Add, vec![8, 9], 3),
        op(12, OpKind::Sub, vec![11, 10], 3),
        op(
            13,
            OpKind::AddPlain {
                plain: PlainRef { id: 8, level: 3 },
            },
            vec![12],
            3,
        ),
        op(14, OpKind::MulConst, vec![13], 3),
        op(15, OpKind::Rescale, vec![14], 2),
        op(16, OpKind::AddConst, vec![15], 2),
        op(
            17,
            OpKind::Rotate {
                step: -2,
                hoist: None,
            },
            vec![16],
            2,
        ),
        op(18, OpKind::LevelDown, vec![1], 2),
        op(19, OpKind::Add, vec![17, 18], 2),
        op(20, OpKind::Output, vec![19], 2),
    ];
    let mut payloads = MapPayloads::default();
    payloads.plaintexts.insert(7, w.clone());
    payloads.plaintexts.insert(8, b.clone());
    payloads.constants.insert(14, 0.75);
    payloads.constants.insert(16, -0.25);
    let to_complex = |v: &[f64]| {
        v.iter()
            .map(|&r| Complex64::new(r, 0.0))
            .collect::<Vec<_>>()
    };
    let inputs = [
        (0, s.encrypt(&to_complex(&x))),
        (1, s.encrypt(&to_complex(&y))),
    ]
    .into_iter()
    .collect();
    let outputs = execute(&s.eval, &ops, inputs, &payloads).unwrap();
    assert_eq!(outputs.len(), 1);
    let got = s.sk.decrypt_decode(&outputs[&20]);

    let rot = |v: &[f64], k: i64| -> Vec<f64> {
        (0..slots)
            .map(|j| v[(j as i64 + k).rem_euclid(slots as i64) as usize])
            .collect()
    };
    let v7: Vec<f64> = (0..slots).map(|j| x[j] * w[j] + x[j] * y[j]).collect();
    // Conjugating real slots is the identity.
    let (r1, r3) = (rot(&v7, 1), rot(&v7, 3));
    let v13: Vec<f64> = (0..slots).map(|j| r1[j] + r3[j] - v7[j] + b[j]).collect();
    let v16: Vec<f64> = v13.iter().map(|v| v * 0.75 - 0.25).collect();
    let v17 = rot(&v16, -2);
    let want: Vec<Complex64> = (0..slots)
        .map(|j| Complex64::new(v17[j] + y[j], 0.0))
        .collect();
    let err = max_error(&got, &want);
    assert!(err < 1e-6, "executor max error {err}");

    // A trace level that disagrees with the computation is reported, not ignored.
    let mut bad = ops.clone();
    bad[3].level = 4;
    let inputs = [
        (0, s.encrypt(&to_complex(&x))),
        (1, s.encrypt(&to_complex(&y))),
    ]
    .into_iter()
    .collect();
    assert!(matches!(
        execute(&s.eval, &bad, inputs, &payloads),
        Err(CkksError::TraceLevel { id: 3, .. })
    ));
}

/// An op using one value twice (x + x, x·x) and a value used after an in-place consumer
/// must see the right operands (the executor consumes first operands at their last use).
#[test]
fn executor_in_place_operands() {
    use hesim_traces::{Op, OpKind};
    let mut rng = ChaCha20Rng::seed_from_u64(14);
    let mut s = small_setup(&[]);
    let slots = s.ctx.slots();
    let x: Vec<f64> = (0..slots).map(|_| rng.random_range(-1.0..1.0)).collect();
    let layer: Arc<str> = Arc::from("t");
    let op = |id, kind, args: Vec<u32>, level| Op::new(id, kind, args, level, Arc::clone(&layer));
    let ops = vec![
        op(0, OpKind::Input, vec![], 4),
        op(1, OpKind::Add, vec![0, 0], 4),
        op(2, OpKind::AddConst, vec![1], 4),
        op(3, OpKind::Sub, vec![2, 0], 4),
        op(4, OpKind::Mul, vec![3, 3], 4),
        op(5, OpKind::Relin, vec![4], 4),
        op(6, OpKind::Rescale, vec![5], 3),
        op(7, OpKind::Output, vec![6], 3),
    ];
    let mut payloads = MapPayloads::default();
    payloads.constants.insert(2, 0.5);
    let values: Vec<Complex64> = x.iter().map(|&r| Complex64::new(r, 0.0)).collect();
    let inputs = [(0, s.encrypt(&values))].into_iter().collect();
    let out = execute(&s.eval, &ops, inputs, &payloads).unwrap();
    let got = s.sk.decrypt_decode(&out[&7]);
    let want: Vec<Complex64> = x
        .iter()
        .map(|&v| Complex64::new((v + 0.5).powi(2), 0.0))
        .collect();
    assert!(max_error(&got, &want) < 1e-6);
}

/// `mul_plain` operands encoded once (`Payloads::encoded`) give exactly the decryption of
/// encoding at every use (the reference), a cached operand is really used, and one at the wrong
/// scale is ignored.
#[test]
fn executor_uses_pre_encoded_operands_only_when_they_match() {
    use hesim_traces::{Op, OpKind, PlainRef};
    struct Cached {
        inner: MapPayloads,
        encoded: std::collections::HashMap<(u32, usize), Plaintext>,
    }
    impl Payloads for Cached {
        fn plaintext(&self, id: u32) -> &[f64] {
            self.inner.plaintext(id)
        }
        fn constant(&self, op: hesim_traces::ValueId) -> f64 {
            self.inner.constant(op)
        }
        fn encoded(&self, id: u32, level: usize) -> Option<&Plaintext> {
            self.encoded.get(&(id, level))
        }
    }
    let mut rng = ChaCha20Rng::seed_from_u64(15);
    let mut s = small_setup(&[]);
    let slots = s.ctx.slots();
    let mut real = || -> Vec<f64> { (0..slots).map(|_| rng.random_range(-1.0..1.0)).collect() };
    let (x, w, other) = (real(), real(), real());
    let layer: Arc<str> = Arc::from("t");
    let op = |id, kind, args: Vec<u32>, level| Op::new(id, kind, args, level, Arc::clone(&layer));
    let ops = vec![
        op(0, OpKind::Input, vec![], 4),
        op(
            1,
            OpKind::MulPlain {
                plain: PlainRef { id: 7, level: 4 },
            },
            vec![0],
            4,
        ),
        op(2, OpKind::Rescale, vec![1], 3),
        op(3, OpKind::Output, vec![2], 3),
    ];
    let mut inner = MapPayloads::default();
    inner.plaintexts.insert(7, w.clone());
    let values: Vec<Complex64> = x.iter().map(|&r| Complex64::new(r, 0.0)).collect();
    let ct = s.encrypt(&values);
    let ctx = Arc::clone(&s.ctx);
    let run = |payloads: &dyn Payloads| {
        let inputs = [(0, ct.clone())].into_iter().collect();
        let out = execute(&s.eval, &ops, inputs, payloads).unwrap();
        s.sk.decrypt_decode(&out[&3])
    };
    let reference = run(&inner);
    let cached = |values: &[f64], scale: f64| Cached {
        inner: inner.clone(),
        encoded: [((7, 4), ctx.encode_real(values, 4, scale).unwrap())]
            .into_iter()
            .collect(),
    };
    let canonical = ctx.scale_at(4);
    assert_eq!(run(&cached(&w, canonical)), reference);
    assert_ne!(run(&cached(&other, canonical)), reference, "cache not used");
    assert_eq!(run(&cached(&other, 2.0 * canonical)), reference);
}

/// ModRaise: after raising a level-1 ciphertext to the top, decryption gives the old plaintext
/// plus q_0·I coefficient by coefficient (checked exactly on the centered integers), with
/// |I| ≤ (h + 1)/2 for a sparse secret of weight h (the overflow of h + 1 terms in (−½, ½)).
#[test]
fn mod_raise_adds_multiples_of_q0() {
    let h = 32;
    let builder = ParamsBuilder::new(10, vec![50, 40, 40], 40)
        .special_primes(vec![55])
        .secret(SecretDistribution::SparseTernary { hamming_weight: h })
        .allow_insecure(true);
    let mut s = setup(builder, &[], 21);
    assert_eq!(s.sk.coefficients().iter().filter(|&&c| c != 0).count(), h);
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let values = random_slots(&mut rng, s.ctx.slots());
    let fresh = s.encrypt(&values);
    let low = s.eval.level_down(&fresh, 1).unwrap();
    let raised = s.eval.mod_raise(&low, 3).unwrap();
    assert_eq!((raised.level(), raised.scale()), (3, s.ctx.scale_at(3)));
    let before = s.ctx.ntt_to_centered(&s.sk.decrypt(&low).poly, 1);
    let after = s.ctx.ntt_to_centered(&s.sk.decrypt(&raised).poly, 3);
    let q0 = s.ctx.q_primes()[0] as f64;
    let mut largest = 0.0f64;
    for (b, a) in before.iter().zip(&after) {
        let overflow = (a - b) / q0;
        assert!(
            (overflow - overflow.round()).abs() < 1e-9,
            "{a} − {b} is not a multiple of q0"
        );
        largest = largest.max(overflow.abs());
    }
    assert!(
        largest >= 1.0,
        "the overflow is never zero everywhere for a random c_1"
    );
    assert!(largest <= (h as f64 + 1.0) / 2.0, "|I| = {largest}");
    assert!(matches!(
        s.eval.mod_raise(&raised, 2),
        Err(CkksError::ModRaiseDown { from: 3, to: 2 })
    ));
}

/// Multiplying by i^k (a monomial, no key switch) multiplies every slot by i^k.
#[test]
fn imaginary_unit_multiplies_slots() {
    let mut s = small_setup(&[]);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let values = random_slots(&mut rng, s.ctx.slots());
    let ct = s.encrypt(&values);
    for power in 0..4u32 {
        let mut out = ct.clone();
        s.eval.mul_imaginary_unit_assign(&mut out, power);
        let factor = Complex64::new(0.0, 1.0).powu(power);
        let want: Vec<Complex64> = values.iter().map(|v| v * factor).collect();
        assert!(
            max_error(&s.sk.decrypt_decode(&out), &want) < 1e-6,
            "i^{power}"
        );
    }
}

/// Rotation keys made from a program hold exactly its distinct steps (and conjugation).
#[test]
fn galois_keys_for_ops_cover_the_program() {
    use hesim_traces::{Op, OpKind};
    let s = small_setup(&[]);
    let layer: Arc<str> = "l".into();
    let rotate = |id, step| {
        Op::new(
            id,
            OpKind::Rotate { step, hoist: None },
            vec![0],
            1,
            layer.clone(),
        )
    };
    let ops = vec![
        Op::new(0, OpKind::Input, vec![], 1, layer.clone()),
        rotate(1, 3),
        rotate(2, -5),
        rotate(3, 3),
        Op::new(
            4,
            OpKind::Conjugate { hoist: None },
            vec![0],
            1,
            layer.clone(),
        ),
    ];
    let mut sampler = Sampler::from_seed_insecure(1);
    let keys = GaloisKeys::for_ops(&s.sk, &ops, &mut sampler);
    assert_eq!(keys.len(), 3);
    // The ops run at level 1: one digit over q_0 and the special primes.
    let per_key = keys.bytes() / 3;
    let special = s.ctx.shape().p_bits.len();
    assert_eq!(per_key, 2 * (1 + special) * s.ctx.n() * 8);
    let without_conj = GaloisKeys::for_ops(&s.sk, &ops[..4], &mut sampler);
    assert_eq!(without_conj.len(), 2);
}

/// A rotation key made for level 2 (of 4) rotates ciphertexts at levels 2 and 1 exactly as a
/// full key does (both compared with the f64 rotation), is smaller, and refuses a level-3
/// ciphertext with a typed error.
#[test]
fn rotation_keys_sized_to_their_level() {
    use hesim_traces::{Op, OpKind};
    let mut s = small_setup(&[3]);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let values = random_slots(&mut rng, s.ctx.slots());
    let rotated: Vec<Complex64> = (0..values.len())
        .map(|j| values[(j + 3) % values.len()])
        .collect();
    let op = Op::new(
        1,
        OpKind::Rotate {
            step: 3,
            hoist: None,
        },
        vec![0],
        2,
        "l".into(),
    );
    let mut sampler = Sampler::from_seed_insecure(2);
    let low = GaloisKeys::for_ops(&s.sk, [&op], &mut sampler);
    let full = GaloisKeys::for_steps_with(&s.sk, &[3], false, &mut sampler);
    assert!(
        low.bytes() < full.bytes(),
        "{} vs {}",
        low.bytes(),
        full.bytes()
    );
    let low_eval = Evaluator::new(Arc::clone(&s.ctx), None, low);
    let top = s.encrypt(&values);
    for level in [2, 1] {
        let ct = s.eval.level_down(&top, level).unwrap();
        let by_low = s.sk.decrypt_decode(&low_eval.rotate(&ct, 3).unwrap());
        let by_full = s.sk.decrypt_decode(&s.eval.rotate(&ct, 3).unwrap());
        for got in [by_low, by_full] {
            let err = max_error(&got, &rotated);
            assert!(err < 1e-6, "level {level}: error {err}");
        }
    }
    let high = s.eval.level_down(&top, 3).unwrap();
    assert!(matches!(
        low_eval.rotate(&high, 3),
        Err(CkksError::KeyLevel {
            level: 3,
            key_level: 2,
            ..
        })
    ));
}

/// x^(2^16) by 16 squarings on the bootstrapping chain (scale 2^55, `bootstrap::chain`), then
/// added to x: each rescaled product is an ulp off its level's canonical scale (Δ_ℓ is a
/// rounded square root), squaring doubles that relative error per level, and after the 16
/// levels the sum's operands would differ by more than the evaluator's 2^−40 match unless the
/// executor puts each rescaled value back on the schedule. Decrypts to the f64 formula.
#[test]
fn deep_squaring_chains_stay_on_the_canonical_scale() {
    let squarings = 16;
    let builder = bootstrap::chain(10, squarings + 2, 64).allow_insecure(true);
    let mut s = setup(builder, &[], 9);
    let mut e = crate::boot::Emitter::new(512, 0, 0, 0);
    let x = e.input(s.ctx.max_level() as u32);
    let mut y = x;
    for _ in 0..squarings {
        y = e.mul_relin_rescale(y, y);
    }
    let sum = e.add(y, x);
    e.output(sum);
    let program: crate::boot::Expansion = e.into();
    let values: Vec<f64> = (0..512).map(|j| 0.9 + 0.1 * (j as f64).sin()).collect();
    let slots: Vec<Complex64> = values.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    let inputs = [(program.ops[0].id, s.encrypt(&slots))]
        .into_iter()
        .collect();
    let outputs = execute(&s.eval, &program.ops, inputs, &MapPayloads::default()).unwrap();
    let got = s.sk.decrypt_decode(outputs.values().next().unwrap());
    for (v, g) in values.iter().zip(&got) {
        let want = v.powi(1 << squarings) + v;
        assert!((g.re - want).abs() < 2f64.powi(-16), "{} vs {want}", g.re);
    }
}
