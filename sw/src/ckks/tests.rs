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
