//! Arithmetic modulo one word-sized odd modulus q < 2^62.
//!
//! Two reduction methods, as in SEAL and the hardware model:
//! * **Barrett** for products of two variable operands: [`Modulus::mul`] with a shifted
//!   64-bit constant ⌊2^(bits+62) / q⌋ (three 64×64 products in all), and
//!   [`Modulus::reduce_u128`] for any 128-bit value (sums of products) with ⌊2^128 / q⌋.
//! * **Shoup** ([`Modulus::mul_shoup`]) for products by a known constant w, with the
//!   precomputed quotient w' = ⌊w · 2^64 / q⌋ ([`Modulus::shoup`]). Twiddle factors use this form.
//!
//! Unless a function says otherwise, operands must be fully reduced (in `[0, q)`) and results
//! are fully reduced. The `_lazy` variants document their wider ranges.

use super::RingError;

/// Largest supported modulus width in bits.
///
/// Every range this module documents holds for q < 2^62: lazy values below 4q fit a word
/// (4q < 2^64), Shoup's lazy product stays below 2q < 2^63, and the product Barrett of
/// [`Modulus::mul`] needs a second correction only at 62 bits (derivation there). Callers that
/// sum full products in a `u128` get 16 of them per accumulation (16 · (2^62 − 1)^2 < 2^128);
/// a caller that wants more (e.g. CKKS key switching with up to 63 digits) must bound its own
/// moduli below 2^61 (63 · 2^122 < 2^128).
pub const MAX_MODULUS_BITS: u32 = 62;

/// An odd modulus 3 ≤ q < 2^62 with its Barrett constant.
///
/// Primality is not required for the arithmetic; the NTT checks it separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Modulus {
    q: u64,
    bits: u32,
    /// High and low words of ⌊2^128 / q⌋. The high word equals ⌊2^64 / q⌋.
    barrett_hi: u64,
    barrett_lo: u64,
    /// ⌊2^(bits + 62) / q⌋ < 2^63, the constant of the product Barrett in [`Modulus::mul`].
    product_barrett: u64,
}

#[inline(always)]
fn mul_hi(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) >> 64) as u64
}

impl Modulus {
    /// Creates a modulus; errors unless q is odd, at least 3 and below 2^62.
    pub fn new(q: u64) -> Result<Self, RingError> {
        if q < 3 {
            return Err(RingError::InvalidModulus {
                q,
                reason: "too small",
            });
        }
        if q.is_multiple_of(2) {
            return Err(RingError::InvalidModulus { q, reason: "even" });
        }
        if q >> MAX_MODULUS_BITS != 0 {
            return Err(RingError::InvalidModulus {
                q,
                reason: "wider than 62 bits",
            });
        }
        // q odd and > 1 never divides 2^128, so ⌊(2^128 − 1)/q⌋ = ⌊2^128/q⌋.
        let ratio = u128::MAX / u128::from(q);
        let bits = 64 - q.leading_zeros();
        Ok(Self {
            q,
            bits,
            barrett_hi: (ratio >> 64) as u64,
            barrett_lo: ratio as u64,
            product_barrett: ((1u128 << (bits + 62)) / u128::from(q)) as u64,
        })
    }

    /// The modulus q.
    #[inline(always)]
    pub fn value(&self) -> u64 {
        self.q
    }

    /// Bit length of q (⌈log2(q + 1)⌉).
    #[inline(always)]
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// (a + b) mod q for a, b in `[0, q)`; result in `[0, q)`.
    #[inline(always)]
    pub fn add(&self, a: u64, b: u64) -> u64 {
        debug_assert!(a < self.q && b < self.q);
        let s = a + b;
        if s >= self.q { s - self.q } else { s }
    }

    /// (a − b) mod q for a, b in `[0, q)`; result in `[0, q)`.
    #[inline(always)]
    pub fn sub(&self, a: u64, b: u64) -> u64 {
        debug_assert!(a < self.q && b < self.q);
        if a >= b { a - b } else { a + self.q - b }
    }

    /// (−a) mod q for a in `[0, q)`; result in `[0, q)` (so −0 = 0).
    #[inline(always)]
    pub fn neg(&self, a: u64) -> u64 {
        debug_assert!(a < self.q);
        if a == 0 { 0 } else { self.q - a }
    }

    /// a / 2 mod q (a · 2^{-1}) for a in `[0, q)`; result in `[0, q)`.
    ///
    /// Computed as `(a >> 1) + (a odd ? (q + 1) / 2 : 0)`: the per-stage scaling of the
    /// inverse NTT ([`super::gs_butterfly_half`]).
    #[inline(always)]
    pub fn half(&self, a: u64) -> u64 {
        debug_assert!(a < self.q);
        (a >> 1) + (a & 1) * ((self.q >> 1) + 1)
    }

    /// x mod q for any 64-bit x (Barrett with ⌊2^64 / q⌋, one correction).
    #[inline(always)]
    pub fn reduce(&self, x: u64) -> u64 {
        // qhat ≥ ⌊x/q⌋ − 1, so r ∈ [0, 2q).
        let qhat = mul_hi(x, self.barrett_hi);
        let r = x.wrapping_sub(qhat.wrapping_mul(self.q));
        if r >= self.q { r - self.q } else { r }
    }

    /// x mod q for any 128-bit x (Barrett with the 128-bit constant ⌊2^128 / q⌋).
    ///
    /// The quotient estimate ⌊x · ⌊2^128/q⌋ / 2^128⌋ is computed exactly (all four partial
    /// products with their carries) and is ⌊x/q⌋ or ⌊x/q⌋ − 1, so one correction suffices.
    #[inline(always)]
    pub fn reduce_u128(&self, x: u128) -> u64 {
        let x0 = x as u64;
        let x1 = (x >> 64) as u64;
        let (r1, r0) = (self.barrett_hi, self.barrett_lo);
        // Middle column: hi(x0·r0) + lo(x0·r1) + lo(x1·r0), keep its carries.
        let carry0 = mul_hi(x0, r0);
        let x0r1 = u128::from(x0) * u128::from(r1);
        let x1r0 = u128::from(x1) * u128::from(r0);
        let mid = u128::from(carry0) + u128::from(x0r1 as u64) + u128::from(x1r0 as u64);
        let qhat = x1
            .wrapping_mul(r1)
            .wrapping_add((x0r1 >> 64) as u64)
            .wrapping_add((x1r0 >> 64) as u64)
            .wrapping_add((mid >> 64) as u64);
        let r = x0.wrapping_sub(qhat.wrapping_mul(self.q));
        if r >= self.q { r - self.q } else { r }
    }

    /// a · b mod q (Barrett specialised to products); result in `[0, q)`.
    ///
    /// Input: a · b < 2^(2·bits), which holds for a, b in `[0, q)` and more generally for
    /// a, b < 2^bits (lazily reduced operands in `[0, 2^bits)` are fine).
    ///
    /// With k = bits, s = k − 2 and μ = ⌊2^(k+62) / q⌋ < 2^63: x = a·b < 2^(2k),
    /// x₁ = ⌊x / 2^s⌋ < 2^(k+2) ≤ 2^64, qhat = ⌊x₁ · μ / 2^64⌋. The estimate misses x/q by
    /// E < 2^s/q + x₁/2^64 < 1/2 + 2^(k−62) (q > 2^(k−1)), so x − qhat·q < (1 + E)·q:
    /// below 2q for k ≤ 61 and below 2.5q < 2^64 for k = 62. The remainder is therefore exact
    /// in a word, and two conditional subtractions (the second one only ever fires at 62 bits)
    /// reduce it. Three 64×64 products (x, x₁·μ, qhat·q) instead of the six of
    /// [`Modulus::reduce_u128`].
    #[inline(always)]
    pub fn mul(&self, a: u64, b: u64) -> u64 {
        debug_assert!(
            (u128::from(a) * u128::from(b)) >> (2 * self.bits) == 0,
            "mul operands {a} · {b} exceed 2^(2·{}) for q = {}",
            self.bits,
            self.q
        );
        let x = u128::from(a) * u128::from(b);
        let x1 = (x >> (self.bits - 2)) as u64;
        let qhat = mul_hi(x1, self.product_barrett);
        let r = (x as u64).wrapping_sub(qhat.wrapping_mul(self.q));
        let r = if r >= self.q { r - self.q } else { r };
        if r >= self.q { r - self.q } else { r }
    }

    /// Shoup quotient w' = ⌊w · 2^64 / q⌋ of a constant w in `[0, q)`.
    #[inline]
    pub fn shoup(&self, w: u64) -> u64 {
        debug_assert!(w < self.q);
        ((u128::from(w) << 64) / u128::from(self.q)) as u64
    }

    /// a · w mod q, lazily reduced: result in `[0, 2q)`.
    ///
    /// Input: **any** 64-bit `a`; `w` in `[0, q)`; `w_shoup` = [`Modulus::shoup`]`(w)`.
    /// qhat = hi(a · w'); r = lo(a · w) − lo(qhat · q) (mod 2^64). Since qhat ≥ ⌊a·w/q⌋ − 1,
    /// r < 2q.
    #[inline(always)]
    pub fn mul_shoup_lazy(&self, a: u64, w: u64, w_shoup: u64) -> u64 {
        let qhat = mul_hi(a, w_shoup);
        a.wrapping_mul(w).wrapping_sub(qhat.wrapping_mul(self.q))
    }

    /// a · w mod q with a precomputed Shoup quotient; result in `[0, q)`.
    ///
    /// Input: any 64-bit `a`; `w` in `[0, q)`; `w_shoup` = [`Modulus::shoup`]`(w)`.
    /// This is [`Modulus::mul_shoup_lazy`] followed by one conditional subtraction of q.
    #[inline(always)]
    pub fn mul_shoup(&self, a: u64, w: u64, w_shoup: u64) -> u64 {
        let r = self.mul_shoup_lazy(a, w, w_shoup);
        if r >= self.q { r - self.q } else { r }
    }

    /// base^exp mod q (square-and-multiply) for base in `[0, q)`; 0^0 = 1.
    pub fn pow(&self, base: u64, mut exp: u64) -> u64 {
        debug_assert!(base < self.q);
        let mut acc = 1;
        let mut b = base;
        while exp > 0 {
            if exp & 1 == 1 {
                acc = self.mul(acc, b);
            }
            b = self.mul(b, b);
            exp >>= 1;
        }
        acc
    }

    /// a^{-1} mod q (extended Euclid, works for composite q too); errors when gcd(a, q) ≠ 1.
    ///
    /// `a` may be any 64-bit value; it is reduced first.
    pub fn inv(&self, a: u64) -> Result<u64, RingError> {
        let a_red = self.reduce(a);
        let (mut r0, mut r1) = (i128::from(self.q), i128::from(a_red));
        let (mut t0, mut t1) = (0i128, 1i128);
        while r1 != 0 {
            let quot = r0 / r1;
            (r0, r1) = (r1, r0 - quot * r1);
            (t0, t1) = (t1, t0 - quot * t1);
        }
        if r0 != 1 {
            return Err(RingError::NotInvertible {
                value: a,
                modulus: self.q,
            });
        }
        Ok(t0.rem_euclid(i128::from(self.q)) as u64)
    }

    /// Maps a signed integer to its residue in `[0, q)`.
    #[inline]
    pub fn reduce_i64(&self, x: i64) -> u64 {
        let r = self.reduce(x.unsigned_abs());
        if x < 0 { self.neg(r) } else { r }
    }

    /// Centered representative of a in `[0, q)`: the integer in (−q/2, q/2] congruent to a.
    #[inline]
    pub fn center(&self, a: u64) -> i64 {
        debug_assert!(a < self.q);
        if a > self.q / 2 {
            a as i64 - self.q as i64
        } else {
            a as i64
        }
    }

    /// x ← x · y mod q element-wise for every slice x of `targets` (each as long as `y`), with
    /// `y` read once per block: the plaintext multiply of a ciphertext's polynomials. All
    /// operands in `[0, q)`. The result equals [`Modulus::mul`] element by element.
    ///
    /// For q < 2^[`F64_EXACT_MODULUS_BITS`] on a CPU with AVX2 and FMA the products are exact
    /// double-precision arithmetic, four per instruction ([`mul_mod_f64`]); otherwise (wider
    /// moduli, other CPUs) each is [`Modulus::mul`].
    pub fn mul_assign_slices(&self, targets: &mut [&mut [u64]], y: &[u64]) {
        assert!(
            targets.iter().all(|x| x.len() == y.len()),
            "mul_assign_slices: every target must be as long as the multiplier"
        );
        #[cfg(target_arch = "x86_64")]
        if self.bits <= F64_EXACT_MODULUS_BITS
            && let Some(simd) = pulp::x86::V3::try_new()
        {
            let (q, q_inv) = (self.q as f64, 1.0 / self.q as f64);
            simd.vectorize(
                #[inline(always)]
                || {
                    for (block, ys) in y.chunks(BLOCK).enumerate() {
                        for x in targets.iter_mut() {
                            let xs = &mut x[block * BLOCK..block * BLOCK + ys.len()];
                            for (a, &b) in xs.iter_mut().zip(ys) {
                                *a = mul_mod_f64(*a, b, q, q_inv);
                            }
                        }
                    }
                },
            );
            return;
        }
        for (block, ys) in y.chunks(BLOCK).enumerate() {
            for x in targets.iter_mut() {
                let xs = &mut x[block * BLOCK..block * BLOCK + ys.len()];
                for (a, &b) in xs.iter_mut().zip(ys) {
                    *a = self.mul(*a, b);
                }
            }
        }
    }
}

/// Elements of the multiplier per block of [`Modulus::mul_assign_slices`] (4 KiB: it stays in
/// L1 while every target is multiplied by it).
const BLOCK: usize = 512;

/// Widest modulus whose products [`mul_mod_f64`] computes exactly.
pub const F64_EXACT_MODULUS_BITS: u32 = 51;

/// 2^52: an integer 0 ≤ v < 2^52 is the low mantissa bits of the double 2^52 + v.
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// a · b mod q in double precision, exact for q < 2^51 and a, b in `[0, q)`.
///
/// With P = a·b < 2^102: h = fl(a·b) and l = fma(a, b, −h) split P = h + l exactly. The
/// quotient estimate t = round(fl(h · fl(1/q))) has relative error below 3·2^−53 on P/q < 2^51,
/// so it is within 1 of ⌊P/q⌋ (absolute error < 3/4), and P − t·q ∈ [−q, 2q). That value is an
/// integer below 2^53 in magnitude, so fma(−t, q, h) (one rounding of an exactly
/// representable result) and the sum with l are exact; two conditional corrections bring it
/// into [0, q). Integers below 2^52 convert to and from doubles through the mantissa of 2^52.
#[inline(always)]
fn mul_mod_f64(a: u64, b: u64, q: f64, q_inv: f64) -> u64 {
    let to_f64 = |x: u64| f64::from_bits(x | TWO_52.to_bits()) - TWO_52;
    let (a, b) = (to_f64(a), to_f64(b));
    let h = a * b;
    let l = a.mul_add(b, -h);
    let t = (h * q_inv + TWO_52) - TWO_52;
    let r = (-t).mul_add(q, h) + l;
    let r = if r < 0.0 { r + q } else { r };
    let r = if r >= q { r - q } else { r };
    (r + TWO_52).to_bits() ^ TWO_52.to_bits()
}
