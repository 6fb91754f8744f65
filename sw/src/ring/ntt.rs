//! Negacyclic NTT over Z_q[X]/(X^N + 1): golden reference and fast path.
//!
//! See the [module docs](super) for the exact conventions (ψ, twiddle order, output order).

use super::{Modulus, RingError, primitive_root_2n};

/// Smallest supported NTT size (log2).
pub const MIN_LOG_N: u32 = 4;
/// Largest supported NTT size (log2).
pub const MAX_LOG_N: u32 = 17;

/// Cooley–Tukey (DIT) butterfly of the forward NTT, fully reduced:
/// `(x + w·y mod q, x − w·y mod q)`.
///
/// Inputs: `x`, `y`, `w` in `[0, q)`, `w_shoup` = `m.shoup(w)`. Outputs: both in `[0, q)`.
/// Steps (the hardware does the same): `t = mul_shoup(y, w, w_shoup)` (Shoup product, one
/// conditional subtraction), then `add(x, t)`, `sub(x, t)`.
#[inline(always)]
pub fn ct_butterfly(x: u64, y: u64, w: u64, w_shoup: u64, m: &Modulus) -> (u64, u64) {
    let t = m.mul_shoup(y, w, w_shoup);
    (m.add(x, t), m.sub(x, t))
}

/// Gentleman–Sande (DIF) butterfly of the inverse NTT, fully reduced, without scaling:
/// `(x + y mod q, (x − y)·w mod q)`.
///
/// Inputs: `x`, `y`, `w` in `[0, q)`, `w_shoup` = `m.shoup(w)`. Outputs: both in `[0, q)`.
/// Steps: `s = add(x, y)`, `d = sub(x, y)`, `t = mul_shoup(d, w, w_shoup)`.
#[inline(always)]
pub fn gs_butterfly(x: u64, y: u64, w: u64, w_shoup: u64, m: &Modulus) -> (u64, u64) {
    let s = m.add(x, y);
    let d = m.sub(x, y);
    (s, m.mul_shoup(d, w, w_shoup))
}

/// Gentleman–Sande butterfly with the fused ÷2 on both outputs:
/// `((x + y)/2 mod q, (x − y)·w/2 mod q)`.
///
/// Inputs/outputs as [`gs_butterfly`]; each output then goes through [`Modulus::half`]
/// (`(v >> 1) + (v odd ? (q+1)/2 : 0)`). Running all log2 N stages with this butterfly scales
/// the inverse NTT by N^{-1}, so no final pass is needed.
#[inline(always)]
pub fn gs_butterfly_half(x: u64, y: u64, w: u64, w_shoup: u64, m: &Modulus) -> (u64, u64) {
    let (s, t) = gs_butterfly(x, y, w, w_shoup, m);
    (m.half(s), m.half(t))
}

/// Reverses the low `bits` bits of `i`.
#[inline]
pub fn bit_reverse(i: usize, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        i.reverse_bits() >> (usize::BITS - bits)
    }
}

/// Precomputed tables for the negacyclic NTT of one size N and one prime q.
///
/// [`NttPlan::forward`]/[`NttPlan::inverse`] are the fast path (`tfhe-ntt` 0.7, AVX-512/AVX2
/// when available); [`NttPlan::forward_golden`]/[`NttPlan::inverse_golden`] are the reference
/// loops built from [`ct_butterfly`]/[`gs_butterfly_half`]. Both give identical outputs
/// (tested), because every output is the unique fully reduced residue.
pub struct NttPlan {
    n: usize,
    log_n: u32,
    modulus: Modulus,
    psi: u64,
    twiddles: Vec<u64>,
    twiddles_shoup: Vec<u64>,
    inv_twiddles: Vec<u64>,
    inv_twiddles_shoup: Vec<u64>,
    n_inv: u64,
    n_inv_shoup: u64,
    fast: tfhe_ntt::prime64::Plan,
}

impl std::fmt::Debug for NttPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NttPlan")
            .field("n", &self.n)
            .field("q", &self.modulus.value())
            .field("psi", &self.psi)
            .finish_non_exhaustive()
    }
}

impl NttPlan {
    /// Builds the plan for size `n` (a power of two in 2^4..=2^17) and prime `modulus` with
    /// q ≡ 1 (mod 2n). ψ is [`primitive_root_2n`]`(q, n)`.
    pub fn new(n: usize, modulus: &Modulus) -> Result<Self, RingError> {
        let bad_degree = RingError::InvalidDegree {
            n,
            min_log: MIN_LOG_N,
            max_log: MAX_LOG_N,
        };
        if !n.is_power_of_two() {
            return Err(bad_degree);
        }
        let log_n = n.trailing_zeros();
        if !(MIN_LOG_N..=MAX_LOG_N).contains(&log_n) {
            return Err(bad_degree);
        }
        let q = modulus.value();
        let psi = primitive_root_2n(q, n)?;
        let psi_inv = modulus.inv(psi)?;
        let mut twiddles = vec![0; n];
        let mut inv_twiddles = vec![0; n];
        let (mut pw, mut pw_inv) = (1u64, 1u64);
        for k in 0..n {
            let idx = bit_reverse(k, log_n);
            twiddles[idx] = pw;
            inv_twiddles[idx] = pw_inv;
            pw = modulus.mul(pw, psi);
            pw_inv = modulus.mul(pw_inv, psi_inv);
        }
        let shoup = |v: &Vec<u64>| v.iter().map(|&w| modulus.shoup(w)).collect::<Vec<_>>();
        let n_inv = modulus.inv(n as u64)?;
        let fast =
            tfhe_ntt::prime64::Plan::try_new(n, q).ok_or(RingError::NotNttFriendly { q, n })?;
        Ok(Self {
            n,
            log_n,
            modulus: *modulus,
            psi,
            twiddles_shoup: shoup(&twiddles),
            inv_twiddles_shoup: shoup(&inv_twiddles),
            twiddles,
            inv_twiddles,
            n_inv,
            n_inv_shoup: modulus.shoup(n_inv),
            fast,
        })
    }

    /// Ring degree N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// log2 N.
    pub fn log_n(&self) -> u32 {
        self.log_n
    }

    /// The prime q.
    pub fn modulus(&self) -> &Modulus {
        &self.modulus
    }

    /// The primitive 2N-th root ψ (see [`primitive_root_2n`]).
    pub fn psi(&self) -> u64 {
        self.psi
    }

    /// Forward twiddles: `twiddles()[i] = ψ^{bitrev(i, log2 N)}`, i in 0..N (entry 0 unused).
    pub fn twiddles(&self) -> &[u64] {
        &self.twiddles
    }

    /// Shoup quotients of [`NttPlan::twiddles`].
    pub fn twiddles_shoup(&self) -> &[u64] {
        &self.twiddles_shoup
    }

    /// Inverse twiddles: `inv_twiddles()[i] = ψ^{-bitrev(i, log2 N)}` (same indexing).
    pub fn inv_twiddles(&self) -> &[u64] {
        &self.inv_twiddles
    }

    /// Shoup quotients of [`NttPlan::inv_twiddles`].
    pub fn inv_twiddles_shoup(&self) -> &[u64] {
        &self.inv_twiddles_shoup
    }

    /// N^{-1} mod q.
    pub fn n_inv(&self) -> u64 {
        self.n_inv
    }

    fn check_len(&self, a: &[u64]) {
        assert_eq!(
            a.len(),
            self.n,
            "NTT input length must equal N = {}",
            self.n
        );
        debug_assert!(
            a.iter().all(|&x| x < self.modulus.value()),
            "NTT input not reduced"
        );
    }

    /// Fast forward NTT in place (natural order in, bit-reversed order out, values in `[0, q)`).
    ///
    /// # Panics
    /// If `a.len() != N`. Inputs must be in `[0, q)`.
    pub fn forward(&self, a: &mut [u64]) {
        self.check_len(a);
        self.fast.fwd(a);
    }

    /// Fast inverse NTT in place including the N^{-1} scaling (bit-reversed in, natural out).
    ///
    /// # Panics
    /// If `a.len() != N`. Inputs must be in `[0, q)`.
    pub fn inverse(&self, a: &mut [u64]) {
        self.check_len(a);
        self.fast.inv(a);
        self.fast.normalize(a);
    }

    /// Reference forward NTT: the Cooley–Tukey loop of the [module docs](super), one
    /// [`ct_butterfly`] per pair.
    ///
    /// # Panics
    /// If `a.len() != N`. Inputs must be in `[0, q)`.
    pub fn forward_golden(&self, a: &mut [u64]) {
        self.check_len(a);
        let m = &self.modulus;
        let mut t = self.n;
        let mut groups = 1;
        while groups < self.n {
            t >>= 1;
            for i in 0..groups {
                let w = self.twiddles[groups + i];
                let ws = self.twiddles_shoup[groups + i];
                let base = 2 * i * t;
                for j in base..base + t {
                    (a[j], a[j + t]) = ct_butterfly(a[j], a[j + t], w, ws, m);
                }
            }
            groups <<= 1;
        }
    }

    /// Reference inverse NTT with the N^{-1} scaling fused per stage ([`gs_butterfly_half`]).
    ///
    /// # Panics
    /// If `a.len() != N`. Inputs must be in `[0, q)`.
    pub fn inverse_golden(&self, a: &mut [u64]) {
        self.inverse_stages(a, gs_butterfly_half);
    }

    /// Reference inverse NTT **without** scaling ([`gs_butterfly`]): the result is N times the
    /// inverse transform. Multiplying every output by [`NttPlan::n_inv`] (Shoup) gives exactly
    /// [`NttPlan::inverse_golden`] (tested): the "final pass" variant of the scaling.
    ///
    /// # Panics
    /// If `a.len() != N`. Inputs must be in `[0, q)`.
    pub fn inverse_golden_unscaled(&self, a: &mut [u64]) {
        self.inverse_stages(a, gs_butterfly);
    }

    /// Multiplies every entry by N^{-1} (Shoup); the final pass of the unscaled inverse.
    pub fn scale_by_n_inv(&self, a: &mut [u64]) {
        for x in a {
            *x = self.modulus.mul_shoup(*x, self.n_inv, self.n_inv_shoup);
        }
    }

    fn inverse_stages(
        &self,
        a: &mut [u64],
        butterfly: impl Fn(u64, u64, u64, u64, &Modulus) -> (u64, u64),
    ) {
        self.check_len(a);
        let m = &self.modulus;
        let mut t = 1;
        let mut groups = self.n >> 1;
        while groups >= 1 {
            for i in 0..groups {
                let w = self.inv_twiddles[groups + i];
                let ws = self.inv_twiddles_shoup[groups + i];
                let base = 2 * i * t;
                for j in base..base + t {
                    (a[j], a[j + t]) = butterfly(a[j], a[j + t], w, ws, m);
                }
            }
            t <<= 1;
            groups >>= 1;
        }
    }
}
