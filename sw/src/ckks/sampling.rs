//! Randomness for keys and encryption: a ChaCha20 CSPRNG seeded from the OS, ternary secrets and
//! the discrete Gaussian error of the HE standard (σ = 3.2, tails cut at 6σ as in SEAL).

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Standard deviation of the error distribution (HE standard).
pub const ERROR_STD_DEV: f64 = 3.2;
/// Largest |error| sampled: ⌊6σ⌋.
pub const ERROR_BOUND: i64 = 19;

/// The CSPRNG every key and encryption draws from.
#[derive(Debug)]
pub struct Sampler {
    rng: ChaCha20Rng,
    /// P(|x| ≤ k) · 2^64 for k = 0 ..= ERROR_BOUND (cumulative distribution table).
    gaussian_cdt: Vec<u64>,
}

impl Sampler {
    /// A sampler seeded from the operating system's entropy source.
    pub fn from_os() -> Self {
        Self::with_rng(ChaCha20Rng::from_os_rng())
    }

    /// A reproducible sampler. Only for tests and benchmarks: keys from a known seed are not secret.
    pub fn from_seed_insecure(seed: u64) -> Self {
        Self::with_rng(ChaCha20Rng::seed_from_u64(seed))
    }

    fn with_rng(rng: ChaCha20Rng) -> Self {
        // Weights of |x| = k: ρ(0) for k = 0, 2ρ(k) otherwise, ρ(k) = exp(−k²/2σ²).
        let weights: Vec<f64> = (0..=ERROR_BOUND)
            .map(|k| {
                let rho = (-((k * k) as f64) / (2.0 * ERROR_STD_DEV * ERROR_STD_DEV)).exp();
                if k == 0 { rho } else { 2.0 * rho }
            })
            .collect();
        let total: f64 = weights.iter().sum();
        let mut cumulative = 0.0;
        let mut gaussian_cdt: Vec<u64> = weights
            .iter()
            .map(|w| {
                cumulative += w / total;
                // 2^64 · P, saturating at u64::MAX for the last entry.
                (cumulative * 18_446_744_073_709_551_616.0).min(u64::MAX as f64) as u64
            })
            .collect();
        *gaussian_cdt.last_mut().expect("table is non-empty") = u64::MAX;
        Self { rng, gaussian_cdt }
    }

    /// Uniform ternary coefficients in {−1, 0, 1}.
    pub fn ternary(&mut self, n: usize) -> Vec<i64> {
        (0..n).map(|_| self.rng.random_range(-1..=1)).collect()
    }

    /// Sparse ternary coefficients: exactly `hamming_weight` of the `n` are ±1 (uniform positions
    /// and signs), the rest 0. Bootstrapping needs a small weight: the ModRaise overflow I is a
    /// sum of h + 1 terms in (−½, ½), so |I| stays below EvalMod's range K only for small h.
    ///
    /// # Panics
    /// If `hamming_weight > n` (the parameter check rejects such sets first).
    pub fn sparse_ternary(&mut self, n: usize, hamming_weight: usize) -> Vec<i64> {
        assert!(
            hamming_weight <= n,
            "Hamming weight {hamming_weight} > N = {n}"
        );
        let mut out = vec![0i64; n];
        // Partial Fisher–Yates: the first h entries of a random permutation are the support.
        let mut positions: Vec<usize> = (0..n).collect();
        for i in 0..hamming_weight {
            let j = self.rng.random_range(i..n);
            positions.swap(i, j);
            out[positions[i]] = if self.rng.next_u32() & 1 == 1 { 1 } else { -1 };
        }
        out
    }

    /// Discrete Gaussian coefficients (σ = 3.2, |x| ≤ 19).
    pub fn gaussian(&mut self, n: usize) -> Vec<i64> {
        (0..n)
            .map(|_| {
                let u = self.rng.next_u64();
                let magnitude = self.gaussian_cdt.partition_point(|&c| c < u) as i64;
                if magnitude != 0 && self.rng.next_u32() & 1 == 1 {
                    -magnitude
                } else {
                    magnitude
                }
            })
            .collect()
    }

    /// Uniform values in `[0, q)`, appended to `out`.
    pub fn uniform_mod(&mut self, q: u64, n: usize, out: &mut Vec<u64>) {
        out.extend((0..n).map(|_| self.rng.random_range(0..q)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moments of the discrete Gaussian against the analytic values of the truncated
    /// distribution (mean 0, variance ≈ σ² = 10.24), and the support bound.
    #[test]
    fn gaussian_moments_and_support() {
        let mut sampler = Sampler::from_seed_insecure(7);
        let samples = sampler.gaussian(200_000);
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<i64>() as f64 / n;
        let variance = samples
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((variance - 10.24).abs() < 0.2, "variance {variance}");
        assert!(samples.iter().all(|x| x.abs() <= ERROR_BOUND));
        // A value near 3σ appears, so the tails are not cut too short.
        assert!(samples.iter().any(|x| x.abs() >= 10));
    }

    /// Ternary coefficients are in {−1, 0, 1}, each about a third of the time.
    #[test]
    fn ternary_distribution() {
        let mut sampler = Sampler::from_seed_insecure(8);
        let samples = sampler.ternary(90_000);
        for v in -1..=1 {
            let count = samples.iter().filter(|&&x| x == v).count();
            assert!((count as f64 - 30_000.0).abs() < 900.0, "{v}: {count}");
        }
        assert!(samples.iter().all(|x| (-1..=1).contains(x)));
    }

    /// A sparse secret has exactly h non-zero ±1 coefficients, both signs, spread over the ring.
    #[test]
    fn sparse_ternary_weight() {
        let mut sampler = Sampler::from_seed_insecure(9);
        let s = sampler.sparse_ternary(4096, 192);
        assert_eq!(s.iter().filter(|&&x| x != 0).count(), 192);
        assert!(s.iter().all(|x| (-1..=1).contains(x)));
        let positives = s.iter().filter(|&&x| x == 1).count();
        assert!((60..=132).contains(&positives), "{positives} of 192 are +1");
        assert!(s[..2048].iter().any(|&x| x != 0) && s[2048..].iter().any(|&x| x != 0));
        assert_eq!(
            sampler
                .sparse_ternary(16, 16)
                .iter()
                .filter(|&&x| x != 0)
                .count(),
            16
        );
    }

    /// OS seeding gives different streams.
    #[test]
    fn os_seeded_streams_differ() {
        let a = Sampler::from_os().gaussian(64);
        let b = Sampler::from_os().ternary(64);
        let c = Sampler::from_os().ternary(64);
        assert!(a.len() == 64 && b != c);
    }
}
