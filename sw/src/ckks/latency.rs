//! Per-operation latency at one parameter set, as a user of the evaluator sees it: fresh
//! public-key encryptions at the top level, one warm-up call, then the median and minimum
//! thread CPU time of `reps` calls (thread CPU time because the machines this runs on are
//! shared; on an idle machine it equals wall time for these single-threaded calls). In-place
//! forms are timed on an untimed copy. The peer that times the same ops at the same chain is
//! `benches/peers/openfhe_ckks.py ops`.

use std::sync::Arc;

use cpu_time::ThreadTime;
use rand::{Rng, SeedableRng};

use super::{
    Ciphertext, CkksError, Context, Evaluator, GaloisKeys, PublicKey, RelinKey, Sampler, SecretKey,
};

/// The median and fastest of an op's timed calls.
#[derive(Clone, Debug, PartialEq)]
pub struct OpLatency {
    /// `mul_relin` (ct × ct and relinearisation), `rotate` (by [`RotationSetup::step`]), `rescale`,
    /// `mul_plain`, `add`.
    pub name: &'static str,
    pub median_seconds: f64,
    pub min_seconds: f64,
}

/// The rotation [`measure`] times and the steps it makes keys for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationSetup {
    /// Slots the timed rotation moves by.
    pub step: i64,
    /// Steps with a rotation key; a `step` without one is [`CkksError::MissingRotationKey`].
    pub key_steps: Vec<i64>,
}

impl Default for RotationSetup {
    /// A rotation by one slot with its key.
    fn default() -> Self {
        Self {
            step: 1,
            key_steps: vec![1],
        }
    }
}

/// Times the five basic ops of `ctx` at its top level, `reps` calls each (at least one).
pub fn measure(
    ctx: &Arc<Context>,
    reps: usize,
    rotation: &RotationSetup,
    sampler: &mut Sampler,
) -> Result<Vec<OpLatency>, CkksError> {
    let sk = SecretKey::generate(ctx, sampler);
    let pk = PublicKey::generate(&sk, sampler);
    let relin = RelinKey::generate(&sk, sampler);
    let galois = GaloisKeys::for_steps_with(&sk, &rotation.key_steps, false, sampler);
    let eval = Evaluator::new(Arc::clone(ctx), Some(relin), galois);
    let top = ctx.max_level();
    let scale = ctx.scale_at(top);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let mut values = || -> Vec<f64> {
        (0..ctx.slots())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect()
    };
    let px = ctx.encode_real(&values(), top, scale)?;
    let py = ctx.encode_real(&values(), top, scale)?;
    let cx = pk.encrypt(&px, sampler);
    let cy = pk.encrypt(&py, sampler);
    let product = eval.mul_relin(&cx, &cy)?;
    let reps = reps.max(1);
    let mut rows = Vec::new();
    rows.push(time("mul_relin", reps, || {
        eval.mul_relin(&cx, &cy).map(drop)
    })?);
    rows.push(time("rotate", reps, || {
        eval.rotate(&cx, rotation.step).map(drop)
    })?);
    rows.push(time_in_place("rescale", reps, &product, |ct| {
        eval.rescale_assign(ct)
    })?);
    rows.push(time_in_place("mul_plain", reps, &cx, |ct| {
        eval.mul_plain_assign(ct, &py)
    })?);
    rows.push(time_in_place("add", reps, &cx, |ct| {
        eval.add_assign(ct, &cy)
    })?);
    Ok(rows)
}

fn time(
    name: &'static str,
    reps: usize,
    mut call: impl FnMut() -> Result<(), CkksError>,
) -> Result<OpLatency, CkksError> {
    call()?;
    let mut seconds = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = ThreadTime::now();
        call()?;
        seconds.push(started.elapsed().as_secs_f64());
    }
    Ok(summary(name, seconds))
}

fn time_in_place(
    name: &'static str,
    reps: usize,
    source: &Ciphertext,
    mut call: impl FnMut(&mut Ciphertext) -> Result<(), CkksError>,
) -> Result<OpLatency, CkksError> {
    call(&mut source.clone())?;
    let mut seconds = Vec::with_capacity(reps);
    for _ in 0..reps {
        let mut ct = source.clone();
        let started = ThreadTime::now();
        call(&mut ct)?;
        seconds.push(started.elapsed().as_secs_f64());
    }
    Ok(summary(name, seconds))
}

fn summary(name: &'static str, mut seconds: Vec<f64>) -> OpLatency {
    seconds.sort_by(f64::total_cmp);
    OpLatency {
        name,
        median_seconds: seconds[seconds.len() / 2],
        min_seconds: seconds[0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ckks::ParamsBuilder;

    /// Every op is timed once per rep, in the documented order, with min ≤ median (the
    /// structure only: speed is a documented command, not a test).
    #[test]
    fn measures_the_five_ops() {
        let builder = ParamsBuilder::new(10, vec![60, 50, 50], 50)
            .special_primes(vec![60])
            .dnum(3)
            .allow_insecure(true);
        let ctx = Arc::new(Context::new(&builder).unwrap());
        let rows = measure(
            &ctx,
            3,
            &RotationSetup::default(),
            &mut Sampler::from_seed_insecure(5),
        )
        .unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            ["mul_relin", "rotate", "rescale", "mul_plain", "add"]
        );
        assert!(rows.iter().all(|r| r.min_seconds <= r.median_seconds));
    }

    /// A rotation by a step without a key is the typed error, before any timing.
    #[test]
    fn a_step_without_a_key_is_a_typed_error() {
        let builder = ParamsBuilder::new(10, vec![60, 50], 50)
            .special_primes(vec![60])
            .dnum(2)
            .allow_insecure(true);
        let ctx = Arc::new(Context::new(&builder).unwrap());
        let rotation = RotationSetup {
            step: 3,
            key_steps: vec![1, 2],
        };
        let err = measure(&ctx, 1, &rotation, &mut Sampler::from_seed_insecure(5)).unwrap_err();
        assert!(
            matches!(err, CkksError::MissingRotationKey { step: 3, .. }),
            "{err}"
        );
    }
}
