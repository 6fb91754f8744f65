//! Residue number system: CRT reconstruction (for tests and decoding) and fast basis conversion.

use super::{Modulus, RingError};
use num_bigint::{BigInt, BigUint};

/// Pairwise coprime moduli q_0 … q_{k−1} with product Q and the CRT constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RnsBasis {
    moduli: Vec<Modulus>,
    product: BigUint,
    /// Q / q_i.
    hats: Vec<BigUint>,
    /// (Q / q_i)^{-1} mod q_i with its Shoup quotient.
    hat_inv: Vec<(u64, u64)>,
}

impl RnsBasis {
    /// Builds the basis; errors if it is empty or two moduli share a factor.
    pub fn new(moduli: Vec<Modulus>) -> Result<Self, RingError> {
        if moduli.is_empty() {
            return Err(RingError::EmptyBasis);
        }
        for (i, a) in moduli.iter().enumerate() {
            for b in &moduli[..i] {
                if gcd(a.value(), b.value()) != 1 {
                    return Err(RingError::NotCoprime {
                        a: b.value(),
                        b: a.value(),
                    });
                }
            }
        }
        let product: BigUint = moduli.iter().map(|m| BigUint::from(m.value())).product();
        let hats: Vec<BigUint> = moduli.iter().map(|m| &product / m.value()).collect();
        let hat_inv = moduli
            .iter()
            .zip(&hats)
            .map(|(m, hat)| {
                let inv = m.inv(biguint_mod(hat, m))?;
                Ok((inv, m.shoup(inv)))
            })
            .collect::<Result<_, RingError>>()?;
        Ok(Self {
            moduli,
            product,
            hats,
            hat_inv,
        })
    }

    /// The moduli, in order.
    pub fn moduli(&self) -> &[Modulus] {
        &self.moduli
    }

    /// Number of moduli.
    pub fn len(&self) -> usize {
        self.moduli.len()
    }

    /// Always false (a basis has at least one modulus); present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.moduli.is_empty()
    }

    /// Q = Π q_i.
    pub fn product(&self) -> &BigUint {
        &self.product
    }

    /// Residues of a non-negative integer: `[x mod q_0, …]`.
    pub fn decompose(&self, x: &BigUint) -> Vec<u64> {
        self.moduli.iter().map(|m| biguint_mod(x, m)).collect()
    }

    /// Residues of a signed integer (negative x maps to Q-complement residues).
    pub fn decompose_signed(&self, x: &BigInt) -> Vec<u64> {
        let residues = self.decompose(x.magnitude());
        if x.sign() == num_bigint::Sign::Minus {
            residues
                .iter()
                .zip(&self.moduli)
                .map(|(&r, m)| m.neg(r))
                .collect()
        } else {
            residues
        }
    }

    /// CRT reconstruction: the unique x in `[0, Q)` with x ≡ residues\[i\] (mod q_i).
    ///
    /// # Panics
    /// If `residues.len()` differs from the basis size.
    pub fn reconstruct(&self, residues: &[u64]) -> BigUint {
        assert_eq!(residues.len(), self.len(), "one residue per modulus");
        let sum: BigUint = residues
            .iter()
            .zip(&self.moduli)
            .zip(self.hat_inv.iter().zip(&self.hats))
            .map(|((&r, m), (&(w, ws), hat))| hat * m.mul_shoup(r, w, ws))
            .sum();
        sum % &self.product
    }

    /// Centered CRT lift: the unique x in (−Q/2, Q/2] congruent to the residues.
    ///
    /// # Panics
    /// If `residues.len()` differs from the basis size.
    pub fn lift_centered(&self, residues: &[u64]) -> BigInt {
        let x = self.reconstruct(residues);
        if &x + &x > self.product {
            BigInt::from(x) - BigInt::from(self.product.clone())
        } else {
            BigInt::from(x)
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// x mod m for a big integer, by Horner over its 64-bit digits.
fn biguint_mod(x: &BigUint, m: &Modulus) -> u64 {
    x.iter_u64_digits().rev().fold(0u64, |acc, digit| {
        m.reduce_u128((u128::from(acc) << 64) | u128::from(digit))
    })
}

/// Fast (approximate) basis conversion from basis B = {b_0 … b_{k−1}} to target moduli
/// {t_0 … t_{l−1}} (HPS / BEHZ "FastBConv").
///
/// For input residues x_i = x mod b_i of x in `[0, B)`, output j is
/// `Σ_i [x_i · (B/b_i)^{-1}]_{b_i} · (B/b_i) mod t_j`, which equals **(x + u·B) mod t_j** for
/// one integer 0 ≤ u < k shared by all targets (u = ⌊Σ_i y_i / b_i⌋ with y_i the bracketed
/// terms). The error u·B is what hybrid key switching tolerates; the tests check the bound
/// against exact big-integer CRT.
#[derive(Clone, Debug)]
pub struct BasisConverter {
    from: Vec<Modulus>,
    to: Vec<Modulus>,
    /// (B/b_i)^{-1} mod b_i with Shoup quotient.
    hat_inv: Vec<(u64, u64)>,
    /// `hat_mod[j][i]` = (B/b_i) mod t_j.
    hat_mod: Vec<Vec<u64>>,
}

/// Full products of residues below 2^62 are at most (2^62 − 1)^2 < 2^124; 16 of them plus a
/// carried-over residue below 2^62 stay below 2^128 (16·(2^124 − 2^63 + 1) + 2^62 < 2^128), so
/// a u128 accumulator is reduced every 16 terms.
const LAZY_TERMS: usize = 16;
const _: () = assert!(super::MAX_MODULUS_BITS <= 62, "re-derive LAZY_TERMS");

impl BasisConverter {
    /// Precomputes the conversion constants from `from` to the moduli of `to`.
    pub fn new(from: &RnsBasis, to: &RnsBasis) -> Self {
        let hat_mod = to
            .moduli
            .iter()
            .map(|t| from.hats.iter().map(|hat| biguint_mod(hat, t)).collect())
            .collect();
        Self {
            from: from.moduli.clone(),
            to: to.moduli.clone(),
            hat_inv: from.hat_inv.clone(),
            hat_mod,
        }
    }

    /// Source moduli.
    pub fn from_moduli(&self) -> &[Modulus] {
        &self.from
    }

    /// Target moduli.
    pub fn to_moduli(&self) -> &[Modulus] {
        &self.to
    }

    /// Converts limbs (`input[i]` = coefficients mod b_i, all of one length) into fresh target
    /// limbs, one per target modulus. See [`BasisConverter::convert_into`].
    pub fn convert(&self, input: &[&[u64]]) -> Vec<Vec<u64>> {
        let n = input.first().map_or(0, |l| l.len());
        let mut out = vec![vec![0; n]; self.to.len()];
        let mut refs: Vec<&mut [u64]> = out.iter_mut().map(Vec::as_mut_slice).collect();
        self.convert_into(input, &mut refs);
        out
    }

    /// Converts limbs into caller-provided target limbs (coefficient-wise; the representation
    /// must be the coefficient form, values in `[0, b_i)`).
    ///
    /// # Panics
    /// If the limb counts differ from the bases or the limbs have different lengths.
    pub fn convert_into(&self, input: &[&[u64]], output: &mut [&mut [u64]]) {
        assert_eq!(
            input.len(),
            self.from.len(),
            "one input limb per source modulus"
        );
        assert_eq!(
            output.len(),
            self.to.len(),
            "one output limb per target modulus"
        );
        let n = input.first().map_or(0, |l| l.len());
        assert!(
            input.iter().all(|l| l.len() == n) && output.iter().all(|l| l.len() == n),
            "all limbs must have the same length"
        );
        let scaled: Vec<Vec<u64>> = input
            .iter()
            .zip(&self.from)
            .zip(&self.hat_inv)
            .map(|((limb, m), &(w, ws))| limb.iter().map(|&x| m.mul_shoup(x, w, ws)).collect())
            .collect();
        let mut acc = vec![0u128; n];
        for ((out, t), hats) in output.iter_mut().zip(&self.to).zip(&self.hat_mod) {
            acc.fill(0);
            for (chunk_start, ys) in scaled.chunks(LAZY_TERMS).enumerate() {
                if chunk_start > 0 {
                    for a in acc.iter_mut() {
                        *a = u128::from(t.reduce_u128(*a));
                    }
                }
                let hat_chunk = &hats[chunk_start * LAZY_TERMS..];
                for (y, &h) in ys.iter().zip(hat_chunk) {
                    let h = u128::from(h);
                    for (a, &v) in acc.iter_mut().zip(y) {
                        *a += u128::from(v) * h;
                    }
                }
            }
            for (o, &a) in out.iter_mut().zip(&acc) {
                *o = t.reduce_u128(a);
            }
        }
    }
}
