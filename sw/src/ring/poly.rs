//! Polynomials of Z_Q[X]/(X^N + 1) in RNS form, with the representation (coefficient or NTT)
//! tracked in the type (`RnsPoly<Coeff>`, `RnsPoly<Ntt>`).
//!
//! Storage is one flat `Vec<u64>`, limb-major: limb i (residues mod q_i) is
//! `data[i·N .. (i+1)·N]`. In NTT form each limb is in the bit-reversed NTT order of
//! [`NttPlan`] (slot k = evaluation at ψ_i^{2·bitrev(k)+1}).

use std::marker::PhantomData;
use std::sync::Arc;

use super::{Modulus, NttPlan, RingError, RnsBasis, bit_reverse};

mod sealed {
    pub trait Sealed {}
}

/// Marker trait of the two representations.
pub trait Representation: sealed::Sealed + Clone + Copy + std::fmt::Debug + Send + Sync {}

/// Coefficient representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coeff;
/// NTT (evaluation) representation, bit-reversed order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ntt;

impl sealed::Sealed for Coeff {}
impl sealed::Sealed for Ntt {}
impl Representation for Coeff {}
impl Representation for Ntt {}

/// The ring degree and the ordered moduli of a polynomial, with one shared NTT plan per modulus.
///
/// Plans are `Arc`s, so sub-contexts ([`RnsContext::prefix`], [`RnsContext::from_plans`]) are
/// cheap and share tables.
#[derive(Debug)]
pub struct RnsContext {
    n: usize,
    moduli: Vec<Modulus>,
    plans: Vec<Arc<NttPlan>>,
}

impl PartialEq for RnsContext {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.moduli == other.moduli
    }
}
impl Eq for RnsContext {}

impl RnsContext {
    /// Builds NTT plans of size `n` for every modulus (primes ≡ 1 mod 2n).
    pub fn new(n: usize, moduli: &[Modulus]) -> Result<Arc<Self>, RingError> {
        let plans = moduli
            .iter()
            .map(|m| NttPlan::new(n, m).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_plans(plans)
    }

    /// A context over existing plans (all of one size), in the given order.
    pub fn from_plans(plans: Vec<Arc<NttPlan>>) -> Result<Arc<Self>, RingError> {
        let first = plans.first().ok_or(RingError::EmptyBasis)?;
        let n = first.n();
        if let Some(p) = plans.iter().find(|p| p.n() != n) {
            return Err(RingError::LengthMismatch {
                what: "NTT plan size in an RNS context",
                expected: n,
                found: p.n(),
            });
        }
        let moduli = plans.iter().map(|p| *p.modulus()).collect();
        Ok(Arc::new(Self { n, moduli, plans }))
    }

    /// Ring degree N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of limbs (moduli).
    pub fn len(&self) -> usize {
        self.moduli.len()
    }

    /// Always false: a context has at least one modulus.
    pub fn is_empty(&self) -> bool {
        self.moduli.is_empty()
    }

    /// The moduli, in limb order.
    pub fn moduli(&self) -> &[Modulus] {
        &self.moduli
    }

    /// The NTT plans, in limb order.
    pub fn plans(&self) -> &[Arc<NttPlan>] {
        &self.plans
    }

    /// The context of the first `len` limbs (sharing plans); errors if `len` is 0 or too big.
    pub fn prefix(&self, len: usize) -> Result<Arc<Self>, RingError> {
        if len == 0 || len > self.len() {
            return Err(RingError::LengthMismatch {
                what: "prefix length of an RNS context",
                expected: self.len(),
                found: len,
            });
        }
        Self::from_plans(self.plans[..len].to_vec())
    }

    /// The CRT basis of the moduli (big-integer constants; for tests and decoding).
    pub fn basis(&self) -> Result<RnsBasis, RingError> {
        RnsBasis::new(self.moduli.clone())
    }
}

/// The NTT-domain index map of the Galois automorphism X ↦ X^g:
/// `out[k] = in[perm[k]]` (a pure permutation, the same for every limb).
///
/// Slot k holds a(ψ^{e_k}) with e_k = 2·bitrev(k)+1, and σ_g(a)(ψ^e) = a(ψ^{g·e}), so
/// perm\[k\] = bitrev((g·e_k mod 2N − 1)/2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaloisPermutation {
    g: u64,
    perm: Vec<u32>,
}

impl GaloisPermutation {
    /// Precomputes the map for ring degree `n` (power of two ≤ 2^31); `g` odd and below 2n.
    pub fn new(g: u64, n: usize) -> Result<Self, RingError> {
        check_galois(g, n)?;
        let log_n = n.trailing_zeros();
        let two_n = 2 * n as u64;
        let perm = (0..n)
            .map(|k| {
                let e = (2 * bit_reverse(k, log_n) as u64 + 1) * g % two_n;
                bit_reverse(((e - 1) / 2) as usize, log_n) as u32
            })
            .collect();
        Ok(Self { g, perm })
    }

    /// The Galois element g.
    pub fn element(&self) -> u64 {
        self.g
    }

    /// The index map: `out[k] = in[map()[k]]`.
    pub fn map(&self) -> &[u32] {
        &self.perm
    }

    /// Applies the permutation to one NTT-form limb.
    ///
    /// # Panics
    /// If the slices do not both have length N.
    pub fn apply(&self, input: &[u64], output: &mut [u64]) {
        assert!(
            input.len() == self.perm.len() && output.len() == self.perm.len(),
            "limb length"
        );
        for (o, &src) in output.iter_mut().zip(&self.perm) {
            *o = input[src as usize];
        }
    }
}

fn check_galois(g: u64, n: usize) -> Result<(), RingError> {
    if !n.is_power_of_two() || g.is_multiple_of(2) || g >= 2 * n as u64 {
        return Err(RingError::InvalidGaloisElement { g, n });
    }
    Ok(())
}

/// Coefficient-form automorphism of one limb: a_i X^i ↦ a_i X^{i·g mod 2N}, negated when
/// i·g mod 2N ≥ N (X^N = −1).
///
/// # Panics
/// If the slices differ in length. `g` must have been checked (odd, below 2N).
pub fn automorphism_coeff_limb(input: &[u64], output: &mut [u64], g: u64, m: &Modulus) {
    let n = input.len();
    assert_eq!(output.len(), n, "limb length");
    let two_n = 2 * n as u64;
    for (i, &a) in input.iter().enumerate() {
        let e = (i as u64 * g % two_n) as usize;
        if e < n {
            output[e] = a;
        } else {
            output[e - n] = m.neg(a);
        }
    }
}

/// A polynomial over the RNS basis of its [`RnsContext`], in representation `R`.
///
/// All residues are fully reduced. Binary operations require both operands to have equal
/// contexts (same N and moduli) and panic otherwise: level bookkeeping belongs to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RnsPoly<R: Representation> {
    ctx: Arc<RnsContext>,
    data: Vec<u64>,
    repr: PhantomData<R>,
}

impl<R: Representation> RnsPoly<R> {
    /// The zero polynomial.
    pub fn zero(ctx: &Arc<RnsContext>) -> Self {
        Self {
            ctx: ctx.clone(),
            data: vec![0; ctx.len() * ctx.n],
            repr: PhantomData,
        }
    }

    /// Wraps flat limb-major data (`limbs × N` values, each reduced mod its limb's modulus).
    pub fn from_flat(ctx: &Arc<RnsContext>, data: Vec<u64>) -> Result<Self, RingError> {
        let expected = ctx.len() * ctx.n;
        if data.len() != expected {
            return Err(RingError::LengthMismatch {
                what: "flat RNS polynomial data (limbs × N)",
                expected,
                found: data.len(),
            });
        }
        for (limb, (chunk, m)) in data.chunks_exact(ctx.n).zip(&ctx.moduli).enumerate() {
            if let Some(index) = chunk.iter().position(|&v| v >= m.value()) {
                return Err(RingError::UnreducedValue {
                    limb,
                    index,
                    value: chunk[index],
                    modulus: m.value(),
                });
            }
        }
        Ok(Self {
            ctx: ctx.clone(),
            data,
            repr: PhantomData,
        })
    }

    /// The context (N and moduli).
    pub fn context(&self) -> &Arc<RnsContext> {
        &self.ctx
    }

    /// Ring degree N.
    pub fn n(&self) -> usize {
        self.ctx.n
    }

    /// Number of limbs.
    pub fn limb_count(&self) -> usize {
        self.ctx.len()
    }

    /// Limb i (residues mod q_i).
    pub fn limb(&self, i: usize) -> &[u64] {
        &self.data[i * self.ctx.n..(i + 1) * self.ctx.n]
    }

    /// Mutable limb i; values written must stay below q_i.
    pub fn limb_mut(&mut self, i: usize) -> &mut [u64] {
        let n = self.ctx.n;
        &mut self.data[i * n..(i + 1) * n]
    }

    /// Iterator over the limbs.
    pub fn limbs(&self) -> std::slice::ChunksExact<'_, u64> {
        self.data.chunks_exact(self.ctx.n)
    }

    /// Flat limb-major data.
    pub fn as_flat(&self) -> &[u64] {
        &self.data
    }

    /// Consumes the polynomial, returning its flat data.
    pub fn into_flat(self) -> Vec<u64> {
        self.data
    }

    fn assert_compatible(&self, other: &Self) {
        assert!(
            Arc::ptr_eq(&self.ctx, &other.ctx) || self.ctx == other.ctx,
            "RNS polynomials over different contexts ({} vs {} limbs)",
            self.ctx.len(),
            other.ctx.len()
        );
    }

    fn zip_limbs_mut(&mut self, other: &Self, f: impl Fn(&Modulus, &mut u64, u64)) {
        self.assert_compatible(other);
        let n = self.ctx.n;
        for ((a, b), m) in self
            .data
            .chunks_exact_mut(n)
            .zip(other.data.chunks_exact(n))
            .zip(&self.ctx.moduli)
        {
            for (x, &y) in a.iter_mut().zip(b) {
                f(m, x, y);
            }
        }
    }

    /// self += other (limb-wise mod q_i).
    pub fn add_assign(&mut self, other: &Self) {
        self.zip_limbs_mut(other, |m, x, y| *x = m.add(*x, y));
    }

    /// self −= other.
    pub fn sub_assign(&mut self, other: &Self) {
        self.zip_limbs_mut(other, |m, x, y| *x = m.sub(*x, y));
    }

    /// self = −self.
    pub fn neg_assign(&mut self) {
        let n = self.ctx.n;
        for (limb, m) in self.data.chunks_exact_mut(n).zip(&self.ctx.moduli) {
            for x in limb {
                *x = m.neg(*x);
            }
        }
    }

    /// Multiplies by an integer constant (reduced mod each q_i; Shoup product).
    pub fn mul_scalar_assign(&mut self, scalar: u64) {
        let scalars: Vec<u64> = self.ctx.moduli.iter().map(|m| m.reduce(scalar)).collect();
        self.mul_scalars_assign(&scalars);
    }

    /// Multiplies limb i by `scalars[i]` (each in `[0, q_i)`; Shoup product).
    ///
    /// # Panics
    /// If there is not one scalar per limb.
    pub fn mul_scalars_assign(&mut self, scalars: &[u64]) {
        assert_eq!(scalars.len(), self.ctx.len(), "one scalar per limb");
        let n = self.ctx.n;
        for ((limb, m), &s) in self
            .data
            .chunks_exact_mut(n)
            .zip(&self.ctx.moduli)
            .zip(scalars)
        {
            let ss = m.shoup(s);
            for x in limb {
                *x = m.mul_shoup(*x, s, ss);
            }
        }
    }

    /// Removes the last limb (its residues are discarded; no rescaling).
    pub fn drop_last_limb(&mut self) -> Result<(), RingError> {
        if self.ctx.len() < 2 {
            return Err(RingError::NoLimbToDrop);
        }
        self.ctx = self.ctx.prefix(self.ctx.len() - 1)?;
        self.data.truncate(self.ctx.len() * self.ctx.n);
        Ok(())
    }
}

impl RnsPoly<Coeff> {
    /// The polynomial with small signed integer coefficients (`coeffs.len()` must be N).
    pub fn from_i64(ctx: &Arc<RnsContext>, coeffs: &[i64]) -> Result<Self, RingError> {
        if coeffs.len() != ctx.n {
            return Err(RingError::LengthMismatch {
                what: "coefficients of a polynomial (N)",
                expected: ctx.n,
                found: coeffs.len(),
            });
        }
        let data = ctx
            .moduli
            .iter()
            .flat_map(|m| coeffs.iter().map(move |&c| m.reduce_i64(c)))
            .collect();
        Ok(Self {
            ctx: ctx.clone(),
            data,
            repr: PhantomData,
        })
    }

    /// Forward NTT of every limb (fast path).
    pub fn to_ntt(mut self) -> RnsPoly<Ntt> {
        let n = self.ctx.n;
        for (limb, plan) in self.data.chunks_exact_mut(n).zip(&self.ctx.plans) {
            plan.forward(limb);
        }
        RnsPoly {
            ctx: self.ctx,
            data: self.data,
            repr: PhantomData,
        }
    }

    /// The Galois automorphism X ↦ X^g in coefficient form (index map with sign).
    pub fn automorphism(&self, g: u64) -> Result<Self, RingError> {
        check_galois(g, self.ctx.n)?;
        let mut out = Self::zero(&self.ctx);
        let n = self.ctx.n;
        for ((src, dst), m) in self
            .data
            .chunks_exact(n)
            .zip(out.data.chunks_exact_mut(n))
            .zip(&self.ctx.moduli)
        {
            automorphism_coeff_limb(src, dst, g, m);
        }
        Ok(out)
    }
}

impl RnsPoly<Ntt> {
    /// Inverse NTT of every limb (fast path, includes N^{-1}).
    pub fn to_coeff(mut self) -> RnsPoly<Coeff> {
        let n = self.ctx.n;
        for (limb, plan) in self.data.chunks_exact_mut(n).zip(&self.ctx.plans) {
            plan.inverse(limb);
        }
        RnsPoly {
            ctx: self.ctx,
            data: self.data,
            repr: PhantomData,
        }
    }

    /// Pointwise product self ·= other (Barrett), i.e. the negacyclic product.
    pub fn mul_assign(&mut self, other: &Self) {
        self.zip_limbs_mut(other, |m, x, y| *x = m.mul(*x, y));
    }

    /// The Galois automorphism X ↦ X^g in NTT form (pure index permutation).
    pub fn automorphism(&self, g: u64) -> Result<Self, RingError> {
        Ok(self.automorphism_with(&GaloisPermutation::new(g, self.ctx.n)?))
    }

    /// The automorphism with a precomputed permutation (e.g. reused across many polynomials).
    ///
    /// # Panics
    /// If the permutation was built for another N.
    pub fn automorphism_with(&self, perm: &GaloisPermutation) -> Self {
        let mut out = Self::zero(&self.ctx);
        let n = self.ctx.n;
        for (src, dst) in self.data.chunks_exact(n).zip(out.data.chunks_exact_mut(n)) {
            perm.apply(src, dst);
        }
        out
    }
}
