//! The precomputed state of a parameter set: primes, NTT plans, canonical scales, and the
//! tables of rescaling and hybrid key switching (ModUp / ModDown by fast basis conversion).
//!
//! Polynomials are flat `Vec<u64>`s of `limbs × N` residues in NTT form (limb i at
//! `[i·N, (i+1)·N)`). A polynomial at level ℓ holds the limbs of q_0 … q_{ℓ−1}; an *extended*
//! polynomial (key-switching basis) also holds p_0 … p_{k−1} after them.

use num_complex::Complex64;

use super::{CkksError, Encoder, ParamShape, ParamsBuilder};
use crate::ring::{
    BasisConverter, GaloisPermutation, Modulus, NttPlan, RnsBasis, ntt_primes_excluding,
};

/// A fast basis conversion between two sets of limbs, named by global modulus index.
#[derive(Clone, Debug)]
struct LimbConversion {
    from: Vec<usize>,
    to: Vec<usize>,
    converter: BasisConverter,
}

impl LimbConversion {
    fn new(moduli: &[Modulus], from: Vec<usize>, to: Vec<usize>) -> Result<Self, CkksError> {
        let basis = |idx: &[usize]| RnsBasis::new(idx.iter().map(|&i| moduli[i]).collect());
        let converter = BasisConverter::new(&basis(&from)?, &basis(&to)?);
        Ok(Self {
            from,
            to,
            converter,
        })
    }

    /// Converts coefficient-form limbs. A single source limb (α = 1 digits, one special prime)
    /// needs no CRT weights: the conversion is exact reduction x mod t, which is what the
    /// general formula gives with (B/b)=1, at a third of the cost.
    fn convert(&self, moduli: &[Modulus], input: &[&[u64]], output: &mut [&mut [u64]]) {
        if let [single] = input {
            for (out, &t) in output.iter_mut().zip(&self.to) {
                let m = &moduli[t];
                for (o, &x) in out.iter_mut().zip(*single) {
                    *o = m.reduce(x);
                }
            }
        } else {
            self.converter.convert_into(input, output);
        }
    }
}

/// Constants of ModDown's rounding and exact conversion.
#[derive(Clone, Debug)]
struct ModDownRounding {
    /// ⌊P/2⌋ mod p_j.
    half_p_mod_p: Vec<u64>,
    /// ⌊P/2⌋ mod q_i.
    half_p_mod_q: Vec<u64>,
    /// (P/p_j)^{-1} mod p_j with Shoup quotient.
    p_hat_inv: Vec<(u64, u64)>,
    /// P mod q_i with Shoup quotient.
    p_mod_q: Vec<(u64, u64)>,
}

impl ModDownRounding {
    fn new(moduli: &[Modulus], levels: usize) -> Result<Self, CkksError> {
        let special = &moduli[levels..];
        let basis = RnsBasis::new(special.to_vec())?;
        let half: num_bigint::BigUint = basis.product() >> 1u32;
        let reduce = |m: &Modulus| -> u64 {
            (&half % num_bigint::BigUint::from(m.value()))
                .try_into()
                .expect("residue fits in u64")
        };
        let product_mod = |m: &Modulus, skip: Option<usize>| -> u64 {
            special
                .iter()
                .enumerate()
                .filter(|(j, _)| Some(*j) != skip)
                .fold(1, |acc, (_, p)| m.mul(acc, m.reduce(p.value())))
        };
        let mut p_hat_inv = Vec::with_capacity(special.len());
        for (j, m) in special.iter().enumerate() {
            let inv = m.inv(product_mod(m, Some(j)))?;
            p_hat_inv.push((inv, m.shoup(inv)));
        }
        Ok(Self {
            half_p_mod_p: special.iter().map(reduce).collect(),
            half_p_mod_q: moduli[..levels].iter().map(reduce).collect(),
            p_hat_inv,
            p_mod_q: moduli[..levels]
                .iter()
                .map(|m| {
                    let v = product_mod(m, None);
                    (v, m.shoup(v))
                })
                .collect(),
        })
    }
}

/// A parameter set with its primes and precomputed tables.
#[derive(Debug)]
pub struct Context {
    shape: ParamShape,
    n: usize,
    /// q_0 … q_{L−1}, then p_0 … p_{k−1}.
    moduli: Vec<Modulus>,
    plans: Vec<NttPlan>,
    encoder: Encoder,
    /// Canonical scale of each level (index = active limbs; index 0 unused).
    scales: Vec<f64>,
    /// `rescale_inv[ℓ][i]` = q_{ℓ−1}^{-1} mod q_i (with Shoup quotient), i < ℓ − 1.
    rescale_inv: Vec<Vec<(u64, u64)>>,
    /// P^{-1} mod q_i with Shoup quotient.
    p_inv: Vec<(u64, u64)>,
    /// Rounding and exact-conversion constants of ModDown.
    rounding: ModDownRounding,
    /// P → q_i conversion for ModDown at level ℓ: `mod_down[ℓ − 1]`.
    mod_down: Vec<LimbConversion>,
    /// `mod_up[ℓ − 1][j]`: digit j's active limbs → the rest of Q_ℓ and P.
    mod_up: Vec<Vec<LimbConversion>>,
}

impl Context {
    /// Picks the primes and builds the tables. q_i of equal bit size are distinct and the largest
    /// NTT-friendly primes below 2^bits; special primes avoid the chain's primes.
    pub fn new(builder: &ParamsBuilder) -> Result<Self, CkksError> {
        let shape = builder.check()?;
        let n = 1usize << shape.log_n;
        let mut chosen: Vec<u64> = Vec::new();
        let pick = |bits: u32, chosen: &mut Vec<u64>| -> Result<u64, CkksError> {
            let prime = ntt_primes_excluding(bits, 1, n, chosen)?[0];
            chosen.push(prime);
            Ok(prime)
        };
        let mut primes = Vec::new();
        for &b in shape.q_bits.iter().chain(&shape.p_bits) {
            primes.push(pick(b, &mut chosen)?);
        }
        let moduli: Vec<Modulus> = primes
            .iter()
            .map(|&q| Modulus::new(q))
            .collect::<Result<_, _>>()?;
        let plans = moduli
            .iter()
            .map(|m| NttPlan::new(n, m))
            .collect::<Result<_, _>>()?;
        let encoder = Encoder::new(n, shape.slots)?;
        let levels = shape.q_bits.len();
        let special = shape.p_bits.len();

        let mut scales = vec![0.0; levels + 1];
        scales[1] = 2f64.powi(shape.log_scale as i32);
        for level in 2..=levels {
            scales[level] = (scales[level - 1] * primes[level - 1] as f64).sqrt();
        }

        let mut rescale_inv = vec![Vec::new(); levels + 1];
        for (level, table) in rescale_inv.iter_mut().enumerate().skip(2) {
            let dropped = primes[level - 1];
            for m in &moduli[..level - 1] {
                let inv = m.inv(dropped)?;
                table.push((inv, m.shoup(inv)));
            }
        }
        let p_indices: Vec<usize> = (levels..levels + special).collect();
        let mut p_inv = Vec::with_capacity(levels);
        for m in &moduli[..levels] {
            let p_mod = p_indices
                .iter()
                .fold(1, |acc, &i| m.mul(acc, m.reduce(primes[i])));
            let inv = m.inv(p_mod)?;
            p_inv.push((inv, m.shoup(inv)));
        }
        let rounding = ModDownRounding::new(&moduli, levels)?;
        let mut mod_down = Vec::with_capacity(levels + 1);
        let mut mod_up = Vec::with_capacity(levels + 1);
        let alpha = shape.alpha();
        for level in 1..=levels {
            mod_down.push(LimbConversion::new(
                &moduli,
                p_indices.clone(),
                (0..level).collect(),
            )?);
            let mut digits = Vec::new();
            for start in (0..level).step_by(alpha.max(1)) {
                let digit: Vec<usize> = (start..(start + alpha).min(level)).collect();
                let targets: Vec<usize> = (0..level)
                    .filter(|i| !digit.contains(i))
                    .chain(p_indices.iter().copied())
                    .collect();
                digits.push(LimbConversion::new(&moduli, digit, targets)?);
            }
            mod_up.push(digits);
        }
        Ok(Self {
            shape,
            n,
            moduli,
            plans,
            encoder,
            scales,
            rescale_inv,
            p_inv,
            rounding,
            mod_down,
            mod_up,
        })
    }

    /// The checked parameter shape.
    pub fn shape(&self) -> &ParamShape {
        &self.shape
    }

    /// Ring degree N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.shape.slots
    }

    /// Top level (number of chain primes L).
    pub fn max_level(&self) -> usize {
        self.shape.q_bits.len()
    }

    /// Number of special primes k.
    pub fn special_count(&self) -> usize {
        self.shape.p_bits.len()
    }

    /// The chain primes q_0 … q_{L−1}.
    pub fn q_primes(&self) -> Vec<u64> {
        self.moduli[..self.max_level()]
            .iter()
            .map(Modulus::value)
            .collect()
    }

    /// The special primes p_0 … p_{k−1}.
    pub fn p_primes(&self) -> Vec<u64> {
        self.moduli[self.max_level()..]
            .iter()
            .map(Modulus::value)
            .collect()
    }

    /// Exact log2 of Q·P.
    pub fn log_qp(&self) -> f64 {
        self.moduli.iter().map(|m| (m.value() as f64).log2()).sum()
    }

    /// The canonical scale of ciphertexts at `level`: Δ_1 = 2^log_scale and
    /// Δ_ℓ = √(Δ_{ℓ−1} · q_{ℓ−1}), so that rescaling a product at Δ_ℓ² lands exactly on
    /// Δ_{ℓ−1}. Defined bottom-up, the schedule stays near 2^log_scale at every level.
    pub fn scale_at(&self, level: usize) -> f64 {
        self.scales[level]
    }

    /// The encoder (slots ⇄ coefficients).
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    pub(crate) fn modulus(&self, index: usize) -> &Modulus {
        &self.moduli[index]
    }

    /// Global modulus indices of a polynomial's limbs at `level`, with the special primes when
    /// `extended`.
    pub(crate) fn limb_moduli(&self, level: usize, extended: bool) -> Vec<usize> {
        let special = if extended {
            self.max_level()..self.moduli.len()
        } else {
            0..0
        };
        (0..level).chain(special).collect()
    }

    pub(crate) fn ntt(&self, modulus: usize, limb: &mut [u64]) {
        self.plans[modulus].forward(limb);
    }

    pub(crate) fn intt(&self, modulus: usize, limb: &mut [u64]) {
        self.plans[modulus].inverse(limb);
    }

    /// Residues (NTT form) of integer-valued coefficients at `level` (with P if `extended`).
    pub(crate) fn coefficients_to_ntt(
        &self,
        coeffs: &[f64],
        level: usize,
        extended: bool,
    ) -> Result<Vec<u64>, CkksError> {
        let magnitude = coeffs.iter().fold(0.0f64, |m, c| m.max(c.abs()));
        if magnitude >= 2f64.powi(126) || !magnitude.is_finite() {
            return Err(CkksError::EncodingOverflow { magnitude });
        }
        let limbs = self.limb_moduli(level, extended);
        let mut out = vec![0u64; limbs.len() * self.n];
        let small = magnitude < 2f64.powi(62);
        for (chunk, &mi) in out.chunks_exact_mut(self.n).zip(&limbs) {
            let m = &self.moduli[mi];
            if small {
                for (o, &c) in chunk.iter_mut().zip(coeffs) {
                    *o = m.reduce_i64(c as i64);
                }
            } else {
                let q = i128::from(m.value());
                for (o, &c) in chunk.iter_mut().zip(coeffs) {
                    *o = (c as i128).rem_euclid(q) as u64;
                }
            }
            self.ntt(mi, chunk);
        }
        Ok(out)
    }

    /// Small signed integer coefficients (secrets, errors) in NTT form over the given limbs.
    pub(crate) fn small_to_ntt(&self, coeffs: &[i64], limbs: &[usize]) -> Vec<u64> {
        let mut out = vec![0u64; limbs.len() * self.n];
        for (chunk, &mi) in out.chunks_exact_mut(self.n).zip(limbs) {
            let m = &self.moduli[mi];
            for (o, &c) in chunk.iter_mut().zip(coeffs) {
                *o = m.reduce_i64(c);
            }
            self.ntt(mi, chunk);
        }
        out
    }

    /// Centered integer values (as f64) of an NTT-form polynomial at `level`, by Garner's
    /// mixed-radix reconstruction with balanced digits (exact for |x| ≪ Q, no big integers).
    pub(crate) fn ntt_to_centered(&self, poly: &[u64], level: usize) -> Vec<f64> {
        let n = self.n;
        let mut coeff = poly[..level * n].to_vec();
        for (i, limb) in coeff.chunks_exact_mut(n).enumerate() {
            self.intt(i, limb);
        }
        // inverses[i][j] = q_j^{-1} mod q_i for j < i.
        let inverses: Vec<Vec<u64>> = (0..level)
            .map(|i| {
                (0..i)
                    .map(|j| {
                        self.moduli[i]
                            .inv(self.moduli[j].value())
                            .expect("distinct primes are coprime")
                    })
                    .collect()
            })
            .collect();
        let mut digits = vec![0i64; level];
        (0..n)
            .map(|c| {
                for i in 0..level {
                    let m = &self.moduli[i];
                    let mut t = coeff[i * n + c];
                    for j in 0..i {
                        t = m.mul(m.sub(t, m.reduce_i64(digits[j])), inverses[i][j]);
                    }
                    digits[i] = m.center(t);
                }
                let mut value = 0.0;
                for i in (0..level).rev() {
                    value = value * self.moduli[i].value() as f64 + digits[i] as f64;
                }
                value
            })
            .collect()
    }

    /// ModRaise of one NTT-form polynomial: its q_0 limb, read as centered integers in
    /// (−q_0/2, q_0/2], becomes a polynomial over q_0 … q_{level−1} (NTT form). Decryption
    /// then gives the old plaintext plus q_0·I for a small integer polynomial I.
    pub(crate) fn mod_raise_poly(&self, poly: &[u64], level: usize) -> Vec<u64> {
        let n = self.n;
        let mut base = poly[..n].to_vec();
        self.intt(0, &mut base);
        let q0 = &self.moduli[0];
        let centered: Vec<i64> = base.iter().map(|&x| q0.center(x)).collect();
        let limbs: Vec<usize> = (0..level).collect();
        self.small_to_ntt(&centered, &limbs)
    }

    /// Multiplies an NTT-form polynomial at `level` by the monomial X^(power·N/2), i.e. every
    /// slot by i^power (ζ_j^(N/2) = i for every slot root): exact, no noise, no level.
    pub(crate) fn mul_imaginary_unit(&self, poly: &mut [u64], level: usize, power: u32) {
        let n = self.n;
        let mut monomial = vec![0i64; n];
        match power % 4 {
            0 => return,
            1 => monomial[n / 2] = 1,
            2 => monomial[0] = -1,
            _ => monomial[n / 2] = -1,
        }
        let limbs: Vec<usize> = (0..level).collect();
        let factor = self.small_to_ntt(&monomial, &limbs);
        for (i, (limb, f)) in poly
            .chunks_exact_mut(n)
            .zip(factor.chunks_exact(n))
            .enumerate()
            .take(level)
        {
            let m = &self.moduli[i];
            for (x, &y) in limb.iter_mut().zip(f) {
                *x = m.mul(*x, y);
            }
        }
    }

    /// Divides an NTT-form polynomial at `level` by its last prime with rounding, in place;
    /// the result has `level − 1` limbs.
    pub(crate) fn rescale_poly(&self, poly: &mut Vec<u64>, level: usize) {
        let n = self.n;
        let last_index = level - 1;
        let mut last = poly[last_index * n..level * n].to_vec();
        self.intt(last_index, &mut last);
        let q_last = self.moduli[last_index].value();
        let half = q_last / 2;
        let mut t = vec![0u64; n];
        for (i, limb) in poly[..last_index * n].chunks_exact_mut(n).enumerate() {
            let m = &self.moduli[i];
            let q_last_mod = m.reduce(q_last);
            for (tv, &v) in t.iter_mut().zip(&last) {
                // The centered representative of v, reduced mod q_i.
                *tv = if v > half {
                    m.sub(m.reduce(v), q_last_mod)
                } else {
                    m.reduce(v)
                };
            }
            self.ntt(i, &mut t);
            let (inv, inv_shoup) = self.rescale_inv[level][i];
            for (x, &tv) in limb.iter_mut().zip(&t) {
                *x = m.mul_shoup(m.sub(*x, tv), inv, inv_shoup);
            }
        }
        poly.truncate(last_index * n);
    }

    /// ModUp of an NTT-form polynomial at `level`: for each key-switching digit, the digit's
    /// residues extended to all of Q_ℓ ∪ P (NTT form, `level + k` limbs).
    pub(crate) fn mod_up(&self, poly: &[u64], level: usize) -> Vec<Vec<u64>> {
        let n = self.n;
        let k = self.special_count();
        let mut coeff = poly[..level * n].to_vec();
        for (i, limb) in coeff.chunks_exact_mut(n).enumerate() {
            self.intt(i, limb);
        }
        let big_l = self.max_level();
        // Position of a global modulus index inside an extended polynomial at this level.
        let position = |mi: usize| if mi < big_l { mi } else { level + (mi - big_l) };
        self.mod_up[level - 1]
            .iter()
            .map(|conv| {
                let mut ext = vec![0u64; (level + k) * n];
                let mut limbs: Vec<Option<&mut [u64]>> =
                    ext.chunks_exact_mut(n).map(Some).collect();
                for &d in &conv.from {
                    let limb = limbs[d].take().expect("digit limbs are distinct");
                    limb.copy_from_slice(&poly[d * n..(d + 1) * n]);
                }
                let input: Vec<&[u64]> = conv
                    .from
                    .iter()
                    .map(|&d| &coeff[d * n..(d + 1) * n])
                    .collect();
                let mut outputs: Vec<&mut [u64]> = conv
                    .to
                    .iter()
                    .map(|&t| {
                        limbs[position(t)]
                            .take()
                            .expect("targets are distinct from the digit")
                    })
                    .collect();
                conv.convert(&self.moduli, &input, &mut outputs);
                for (limb, &t) in outputs.iter_mut().zip(&conv.to) {
                    self.ntt(t, limb);
                }
                ext
            })
            .collect()
    }

    /// ModDown of an NTT-form extended polynomial (`level + k` limbs) to Q_ℓ: round(x / P).
    ///
    /// Rounding, not flooring: a floor leaves a bias of ½ on every coefficient, and the
    /// all-ones polynomial is ≈ N/π in the slots near the root 1 (times |s| for c_1), which
    /// alone costs ~4 bits of precision at N = 2^14. So x' = x + ⌊P/2⌋ is converted, and for
    /// k ≥ 2 the fast conversion's u·P overshoot is removed (HPS: u = ⌊Σ y_j / p_j⌋ in f64), making
    /// the conversion exact.
    pub(crate) fn mod_down(&self, mut ext: Vec<u64>, level: usize) -> Vec<u64> {
        let n = self.n;
        let k = self.special_count();
        let big_l = self.max_level();
        let r = &self.rounding;
        let mut p_part: Vec<Vec<u64>> = (0..k)
            .map(|j| {
                let mut limb = ext[(level + j) * n..(level + j + 1) * n].to_vec();
                self.intt(big_l + j, &mut limb);
                let m = &self.moduli[big_l + j];
                let half = r.half_p_mod_p[j];
                for x in &mut limb {
                    *x = m.add(*x, half);
                }
                limb
            })
            .collect();
        let overshoot: Option<Vec<u64>> = (k >= 2).then(|| {
            let mut sum = vec![0.0f64; n];
            for (j, limb) in p_part.iter().enumerate() {
                let m = &self.moduli[big_l + j];
                let (w, ws) = r.p_hat_inv[j];
                let inv_p = 1.0 / m.value() as f64;
                for (acc, &x) in sum.iter_mut().zip(limb) {
                    *acc += m.mul_shoup(x, w, ws) as f64 * inv_p;
                }
            }
            sum.iter().map(|v| v.floor() as u64).collect()
        });
        let mut converted: Vec<Vec<u64>> = vec![vec![0u64; n]; level];
        {
            let input: Vec<&[u64]> = p_part.iter_mut().map(|v| &v[..]).collect();
            let mut refs: Vec<&mut [u64]> =
                converted.iter_mut().map(|v| v.as_mut_slice()).collect();
            self.mod_down[level - 1].convert(&self.moduli, &input, &mut refs);
        }
        ext.truncate(level * n);
        for (i, (limb, mut conv)) in ext.chunks_exact_mut(n).zip(converted).enumerate() {
            let m = &self.moduli[i];
            let half = r.half_p_mod_q[i];
            match &overshoot {
                Some(u) => {
                    let (p_mod, p_shoup) = r.p_mod_q[i];
                    for (c, &ui) in conv.iter_mut().zip(u) {
                        let fix = m.add(m.mul_shoup(ui, p_mod, p_shoup), half);
                        *c = m.sub(*c, fix);
                    }
                }
                None => {
                    for c in conv.iter_mut() {
                        *c = m.sub(*c, half);
                    }
                }
            }
            self.ntt(i, &mut conv);
            let (inv, inv_shoup) = self.p_inv[i];
            for (x, &c) in limb.iter_mut().zip(&conv) {
                *x = m.mul_shoup(m.sub(*x, c), inv, inv_shoup);
            }
        }
        ext
    }

    /// The NTT-domain permutation of the automorphism X ↦ X^g.
    pub(crate) fn galois_permutation(&self, galois_element: usize) -> GaloisPermutation {
        GaloisPermutation::new(galois_element as u64, self.n)
            .expect("rotation and conjugation elements are odd and below 2N")
    }

    /// Galois element of a left rotation by `step` slots (5^step mod 2N, step taken mod slots).
    pub fn rotation_element(&self, step: i64) -> usize {
        let slots = self.slots() as i64;
        let normalized = step.rem_euclid(slots) as u64;
        let two_n = 2 * self.n as u64;
        let mut g = 1u64;
        for _ in 0..normalized {
            g = g * 5 % two_n;
        }
        g as usize
    }

    /// Galois element of complex conjugation (2N − 1).
    pub fn conjugation_element(&self) -> usize {
        2 * self.n - 1
    }

    /// Slot values of an NTT-form plaintext polynomial at `level` and `scale`.
    pub(crate) fn decode_poly(&self, poly: &[u64], level: usize, scale: f64) -> Vec<Complex64> {
        let coeffs = self.ntt_to_centered(poly, level);
        self.encoder.decode(&coeffs, scale)
    }
}
