//! The CKKS canonical embedding: slot vectors ⇄ real polynomial coefficients.
//!
//! A plaintext polynomial m(X) ∈ R[X]/(X^N + 1) holds `slots` complex values
//! z_j = m(ζ^{5^j}), ζ = e^{iπ/N}, j < slots. With `slots` < N/2 (sparse packing) only every
//! `gap = N / (2·slots)`-th coefficient is used, i.e. m is a polynomial in Y = X^gap, and the
//! rotation X → X^{5^k} rotates the `slots` values cyclically. The transform is the "special FFT"
//! of Cheon–Han–Kim–Kim–Song (HEAAN): an O(n log n) butterfly network whose twiddles follow the
//! powers of 5, so slot order matches the Galois group used by rotations.

use num_complex::Complex64;

use super::CkksError;

/// Converts between slot vectors and scaled polynomial coefficients for one ring degree and
/// slot count.
#[derive(Clone, Debug)]
pub struct Encoder {
    n: usize,
    slots: usize,
    /// 5^j mod 2N for j < slots.
    rot_group: Vec<usize>,
    /// e^{2πik/(2N)} for k ≤ 2N.
    roots: Vec<Complex64>,
}

impl Encoder {
    /// An encoder for ring degree `n` (a power of two ≥ 4) and `slots` (a power of two ≤ n/2).
    pub fn new(n: usize, slots: usize) -> Result<Self, CkksError> {
        if !n.is_power_of_two() || n < 4 {
            return Err(CkksError::InvalidRingDegree { n });
        }
        if !slots.is_power_of_two() || slots > n / 2 {
            return Err(CkksError::InvalidSlotCount { slots, max: n / 2 });
        }
        let m = 2 * n;
        let mut rot_group = Vec::with_capacity(slots);
        let mut power = 1usize;
        for _ in 0..slots {
            rot_group.push(power);
            power = power * 5 % m;
        }
        let roots = (0..=m)
            .map(|k| {
                let angle = 2.0 * std::f64::consts::PI * k as f64 / m as f64;
                Complex64::new(angle.cos(), angle.sin())
            })
            .collect();
        Ok(Self {
            n,
            slots,
            rot_group,
            roots,
        })
    }

    /// Ring degree N.
    pub fn ring_degree(&self) -> usize {
        self.n
    }

    /// Number of complex slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Coefficients (length N, rounded to integers, held in f64) of the polynomial whose slots
    /// are `values · scale`. Missing trailing slots are zero.
    pub fn encode(&self, values: &[Complex64], scale: f64) -> Result<Vec<f64>, CkksError> {
        if values.len() > self.slots {
            return Err(CkksError::TooManyValues {
                given: values.len(),
                slots: self.slots,
            });
        }
        let mut work = vec![Complex64::new(0.0, 0.0); self.slots];
        work[..values.len()].copy_from_slice(values);
        self.special_fft_inverse(&mut work);
        let gap = self.n / (2 * self.slots);
        let mut coeffs = vec![0.0; self.n];
        for (i, z) in work.iter().enumerate() {
            coeffs[i * gap] = (z.re * scale).round();
            coeffs[(i + self.slots) * gap] = (z.im * scale).round();
        }
        Ok(coeffs)
    }

    /// Like [`Encoder::encode`] for real slot values (imaginary parts zero).
    pub fn encode_real(&self, values: &[f64], scale: f64) -> Result<Vec<f64>, CkksError> {
        let complex: Vec<Complex64> = values.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        self.encode(&complex, scale)
    }

    /// Slot values of the polynomial with coefficients `coeffs` (length N), divided by `scale`.
    /// Coefficients off the sparse-packing grid are ignored (they carry no slot information).
    pub fn decode(&self, coeffs: &[f64], scale: f64) -> Vec<Complex64> {
        debug_assert_eq!(coeffs.len(), self.n);
        let gap = self.n / (2 * self.slots);
        let mut work: Vec<Complex64> = (0..self.slots)
            .map(|i| {
                Complex64::new(
                    coeffs[i * gap] / scale,
                    coeffs[(i + self.slots) * gap] / scale,
                )
            })
            .collect();
        self.special_fft(&mut work);
        work
    }

    /// Evaluates the packed polynomial at the slot roots: `work[i]` holds coefficient pair i on
    /// input and slot i on output.
    fn special_fft(&self, work: &mut [Complex64]) {
        let size = work.len();
        bit_reverse(work);
        let m = 2 * self.n;
        let mut len = 2;
        while len <= size {
            let half = len / 2;
            let quarter_period = 4 * len;
            for block in work.chunks_exact_mut(len) {
                let (lo, hi) = block.split_at_mut(half);
                for j in 0..half {
                    let idx = (self.rot_group[j] % quarter_period) * (m / quarter_period);
                    let u = lo[j];
                    let v = hi[j] * self.roots[idx];
                    lo[j] = u + v;
                    hi[j] = u - v;
                }
            }
            len *= 2;
        }
    }

    /// Inverse of [`Encoder::special_fft`].
    fn special_fft_inverse(&self, work: &mut [Complex64]) {
        let size = work.len();
        let m = 2 * self.n;
        let mut len = size;
        while len >= 2 {
            let half = len / 2;
            let quarter_period = 4 * len;
            for block in work.chunks_exact_mut(len) {
                let (lo, hi) = block.split_at_mut(half);
                for j in 0..half {
                    let idx = (quarter_period - self.rot_group[j] % quarter_period)
                        * (m / quarter_period);
                    let u = lo[j] + hi[j];
                    let v = (lo[j] - hi[j]) * self.roots[idx];
                    lo[j] = u;
                    hi[j] = v;
                }
            }
            len /= 2;
        }
        bit_reverse(work);
        let inv = 1.0 / size as f64;
        for z in work.iter_mut() {
            *z *= inv;
        }
    }
}

/// In-place bit-reversal permutation of a power-of-two-length slice.
fn bit_reverse<T>(values: &mut [T]) {
    let n = values.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            values.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    use super::*;

    /// The independent reference: slot j of m is m(ζ^{5^j}), evaluated term by term (O(N²)).
    fn naive_slots(coeffs: &[f64], slots: usize) -> Vec<Complex64> {
        let n = coeffs.len();
        let m = 2 * n;
        let mut exponent = 1usize;
        let mut out = Vec::with_capacity(slots);
        for _ in 0..slots {
            let mut acc = Complex64::new(0.0, 0.0);
            for (k, &c) in coeffs.iter().enumerate() {
                let angle = 2.0 * std::f64::consts::PI * ((k * exponent) % m) as f64 / m as f64;
                acc += Complex64::new(angle.cos(), angle.sin()) * c;
            }
            out.push(acc);
            exponent = exponent * 5 % m;
        }
        out
    }

    fn random_values(rng: &mut ChaCha20Rng, count: usize) -> Vec<Complex64> {
        (0..count)
            .map(|_| Complex64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
            .collect()
    }

    /// Encoding, then evaluating the polynomial naively at ζ^{5^j}, gives back the slots
    /// (within the rounding of the coefficients to integers).
    #[test]
    fn encode_matches_naive_evaluation() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for (n, slots) in [
            (16, 8),
            (64, 32),
            (64, 8),
            (256, 128),
            (1024, 512),
            (1024, 16),
        ] {
            let encoder = Encoder::new(n, slots).unwrap();
            let values = random_values(&mut rng, slots);
            let scale = 2f64.powi(40);
            let coeffs = encoder.encode(&values, scale).unwrap();
            let gap = n / (2 * slots);
            assert!(
                coeffs
                    .iter()
                    .enumerate()
                    .all(|(k, c)| k % gap == 0 || *c == 0.0)
            );
            let evaluated = naive_slots(&coeffs, slots);
            for (z, e) in values.iter().zip(&evaluated) {
                assert!(
                    (z - e / scale).norm() < 1e-9,
                    "n={n} slots={slots}: {z} vs {}",
                    e / scale
                );
            }
        }
    }

    /// Decoding equals the naive evaluation on random (grid-aligned) coefficients.
    #[test]
    fn decode_matches_naive_evaluation() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for (n, slots) in [(16, 8), (128, 64), (128, 16), (2048, 1024)] {
            let encoder = Encoder::new(n, slots).unwrap();
            let gap = n / (2 * slots);
            let coeffs: Vec<f64> = (0..n)
                .map(|k| {
                    if k % gap == 0 {
                        rng.random_range(-1000.0..1000.0)
                    } else {
                        0.0
                    }
                })
                .collect();
            let fast = encoder.decode(&coeffs, 1.0);
            let naive = naive_slots(&coeffs, slots);
            for (f, r) in fast.iter().zip(&naive) {
                assert!((f - r).norm() < 1e-6 * n as f64, "n={n}: {f} vs {r}");
            }
        }
    }

    /// encode∘decode is the identity on slot vectors up to coefficient rounding.
    #[test]
    fn roundtrip_and_bounds() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let encoder = Encoder::new(1 << 14, 1 << 13).unwrap();
        let values = random_values(&mut rng, 1 << 13);
        let scale = 2f64.powi(30);
        let decoded = encoder.decode(&encoder.encode(&values, scale).unwrap(), scale);
        let worst = values
            .iter()
            .zip(&decoded)
            .map(|(a, b)| (a - b).norm())
            .fold(0.0, f64::max);
        assert!(worst < 1e-6, "worst {worst}");
        let too_many = random_values(&mut rng, (1 << 13) + 1);
        assert!(matches!(
            encoder.encode(&too_many, scale),
            Err(CkksError::TooManyValues {
                given: 8193,
                slots: 8192
            })
        ));
        assert!(Encoder::new(1 << 10, 1 << 10).is_err());
        assert!(Encoder::new(1 << 10, 3).is_err());
    }
}
