//! The precision report: each operation run encrypted on random slot vectors and compared with
//! the same computation in f64 (the independent reference). Precision of one trial is
//! −log2(max |error|) over all slots; the report gives the mean and the worst over the trials.

use std::sync::Arc;

use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::{
    CkksError, Context, Evaluator, GaloisKeys, ParamsBuilder, PublicKey, RelinKey, Sampler,
    SecretKey,
};

/// The rotation steps of the report.
pub const STEPS: [i64; 4] = [1, 7, -3, 4096];
/// Depth of the multiplication chain of the report.
pub const CHAIN_DEPTH: usize = 6;

/// Precision of one operation over the trials.
#[derive(Clone, Debug, PartialEq)]
pub struct PrecisionRow {
    pub operation: String,
    /// Mean over trials of −log2(max abs error).
    pub mean_bits: f64,
    /// Smallest −log2(max abs error) over trials.
    pub worst_bits: f64,
}

fn bits(got: &[Complex64], want: &[Complex64]) -> f64 {
    let err = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).norm())
        .fold(0.0, f64::max);
    -err.log2()
}

/// Runs `trials` trials of every reported operation with fresh random inputs (uniform in
/// [−1, 1] + i[−1, 1]) and fresh public-key encryptions. Keys and encryptions draw from
/// `sampler`; the slot values from `value_seed`.
pub fn measure(
    builder: &ParamsBuilder,
    trials: usize,
    sampler: &mut Sampler,
    value_seed: u64,
) -> Result<(Arc<Context>, Vec<PrecisionRow>), CkksError> {
    let ctx = Arc::new(Context::new(builder)?);
    let sk = SecretKey::generate(&ctx, sampler);
    let pk = PublicKey::generate(&sk, sampler);
    let relin = RelinKey::generate(&sk, sampler);
    let galois = GaloisKeys::for_steps_with(&sk, &STEPS, true, sampler);
    let eval = Evaluator::new(Arc::clone(&ctx), Some(relin), galois);
    let slots = ctx.slots();
    let top = ctx.max_level();
    let mut rng = ChaCha20Rng::seed_from_u64(value_seed);
    let mut names: Vec<String> = vec![
        "add".into(),
        "mul_plain + rescale".into(),
        "mul + relin + rescale".into(),
    ];
    names.extend(STEPS.iter().map(|s| format!("rotate {s}")));
    names.push("conjugate".into());
    names.push(format!("depth-{CHAIN_DEPTH} mul chain"));
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(trials); names.len()];
    for _ in 0..trials {
        let mut random = || -> Vec<Complex64> {
            (0..slots)
                .map(|_| Complex64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
                .collect()
        };
        let (x, y) = (random(), random());
        let encrypt = |values: &[Complex64], sampler: &mut Sampler| -> Result<_, CkksError> {
            Ok(pk.encrypt(&ctx.encode(values, top, ctx.scale_at(top))?, sampler))
        };
        let cx = encrypt(&x, sampler)?;
        let cy = encrypt(&y, sampler)?;
        let mut results = Vec::with_capacity(names.len());

        let sum: Vec<_> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
        results.push(bits(&sk.decrypt_decode(&eval.add(&cx, &cy)?), &sum));
        let prod: Vec<_> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
        let py = ctx.encode(&y, top, ctx.scale_at(top))?;
        let mp = eval.rescale(&eval.mul_plain(&cx, &py)?)?;
        results.push(bits(&sk.decrypt_decode(&mp), &prod));
        let mr = eval.rescale(&eval.mul_relin(&cx, &cy)?)?;
        results.push(bits(&sk.decrypt_decode(&mr), &prod));
        for (ct, &step) in eval.rotate_hoisted(&cx, &STEPS)?.iter().zip(&STEPS) {
            let want: Vec<_> = (0..slots)
                .map(|j| x[(j as i64 + step).rem_euclid(slots as i64) as usize])
                .collect();
            results.push(bits(&sk.decrypt_decode(ct), &want));
        }
        let conj: Vec<_> = x.iter().map(|z| z.conj()).collect();
        results.push(bits(&sk.decrypt_decode(&eval.conjugate(&cx)?), &conj));
        let (mut chain, mut want) = (cx.clone(), x.clone());
        for _ in 0..CHAIN_DEPTH {
            let factor = eval.level_down(&cy, chain.level())?;
            chain = eval.rescale(&eval.mul_relin(&chain, &factor)?)?;
            for (w, b) in want.iter_mut().zip(&y) {
                *w *= b;
            }
        }
        results.push(bits(&sk.decrypt_decode(&chain), &want));
        for (column, value) in samples.iter_mut().zip(results) {
            column.push(value);
        }
    }
    let rows = names
        .into_iter()
        .zip(samples)
        .map(|(operation, s)| PrecisionRow {
            operation,
            mean_bits: s.iter().sum::<f64>() / s.len().max(1) as f64,
            worst_bits: s.iter().copied().fold(f64::INFINITY, f64::min),
        })
        .collect();
    Ok((ctx, rows))
}

/// The report as a Markdown table, headed by the parameter set.
pub fn markdown(ctx: &Context, rows: &[PrecisionRow], trials: usize) -> String {
    let shape = ctx.shape();
    let mut out = format!(
        "N = 2^{}, {} slots, q = {:?} (bits {:?}), special p = {:?} (bits {:?}), dnum = {}, \
         scale 2^{} (canonical per level), log2 QP = {:.1}; {} trials\n\n",
        shape.log_n,
        shape.slots,
        ctx.q_primes(),
        shape.q_bits,
        ctx.p_primes(),
        shape.p_bits,
        shape.dnum,
        shape.log_scale,
        ctx.log_qp(),
        trials
    );
    out.push_str(
        "| operation | mean precision (bits) | worst precision (bits) |\n|---|---:|---:|\n",
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} |\n",
            row.operation, row.mean_bits, row.worst_bits
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At hesim's default set (N = 2^14), every operation keeps ≥ 16 bits of precision in the
    /// worst of 100 trials, measured against f64.
    #[test]
    fn default_set_keeps_16_bits() {
        let mut sampler = Sampler::from_seed_insecure(2026);
        let trials = 100;
        let (ctx, rows) =
            measure(&super::super::default_builder(), trials, &mut sampler, 1).unwrap();
        println!("{}", markdown(&ctx, &rows, trials));
        for row in &rows {
            assert!(
                row.worst_bits >= 16.0,
                "{}: worst {:.2} bits",
                row.operation,
                row.worst_bits
            );
        }
    }
}
