//! The golden model: modular arithmetic, the negacyclic NTT and RNS arithmetic.
//!
//! This module defines, once, the arithmetic the hardware performs; hardware testbenches take
//! their expected values from it and fast paths are tested equal to it.
//!
//! # Conventions (the hardware follows these exactly)
//!
//! **Moduli.** Odd q with 3 ≤ q < 2^62 ([`Modulus`]). NTT moduli are primes with
//! q ≡ 1 (mod 2N) ([`ntt_primes`]). Residues are fully reduced, in `[0, q)`, everywhere in the
//! public API.
//!
//! **ψ.** The primitive 2N-th root of unity of q is [`primitive_root_2n`]`(q, N)`: the chain
//! of Tonelli–Shanks square roots starting at −1 (rule stated there; identical to
//! `tfhe-ntt`'s, and ψ_{2N}² = ψ_N).
//!
//! **Twiddle order.** One table of N entries, `W[i] = ψ^{bitrev(i, log2 N)}` for i in 0..N
//! (entry 0 = 1 is unused), each stored with its Shoup quotient `⌊W[i]·2^64/q⌋`
//! ([`NttPlan::twiddles`], [`NttPlan::twiddles_shoup`]). The inverse table is
//! `W⁻[i] = ψ^{-bitrev(i, log2 N)}` with the same indexing ([`NttPlan::inv_twiddles`]).
//!
//! **Forward NTT** (Cooley–Tukey / DIT, natural order in, bit-reversed order out), in place:
//! ```text
//! t = N
//! for m in 1, 2, 4, …, N/2:            // stage s = log2 m, log2 N stages
//!     t = t / 2
//!     for i in 0..m:                    // twiddle W[m + i]
//!         for j in 2·i·t .. 2·i·t + t:
//!             (a[j], a[j+t]) = ct_butterfly(a[j], a[j+t], W[m+i])
//! ```
//! Output: `a[k] = Σ_j x_j · ψ^{(2·bitrev(k) + 1)·j}`, i.e. slot k holds the evaluation of the
//! input polynomial at ψ^{2·bitrev(k)+1} (checked against a direct evaluation in the tests).
//!
//! **Inverse NTT** (Gentleman–Sande / DIF, bit-reversed in, natural out), the exact mirror:
//! ```text
//! t = 1
//! for m in N/2, N/4, …, 1:
//!     for i in 0..m:                    // twiddle W⁻[m + i]
//!         for j in 2·i·t .. 2·i·t + t:
//!             (a[j], a[j+t]) = gs_butterfly_half(a[j], a[j+t], W⁻[m+i])
//!     t = 2·t
//! ```
//! The N^{-1} scaling is **fused per stage** as ÷2 mod q on both butterfly outputs
//! ([`gs_butterfly_half`]); the alternative (plain [`gs_butterfly`] and one final multiply by
//! N^{-1}, [`NttPlan::inverse_golden_unscaled`] + [`NttPlan::scale_by_n_inv`]) gives the same
//! result bit for bit, since all values are fully reduced.
//!
//! **Butterflies** ([`ct_butterfly`], [`gs_butterfly`], [`gs_butterfly_half`]) take inputs in
//! `[0, q)` and return outputs in `[0, q)`; the Shoup product inside does one conditional
//! subtraction. Lazy ranges appear only in [`Modulus::mul_shoup_lazy`] and inside the fast path.
//!
//! **Fast path.** [`NttPlan::forward`]/[`NttPlan::inverse`] run `tfhe-ntt` 0.7 (same ψ and
//! order, AVX-512 on this machine); chosen because scalar Shoup code is ≈5× slower
//! (docs/hw-ntt.md §5, and the `golden` rows of `cargo bench -p hesim-sw --bench ntt`).

mod error;
mod modulus;
mod ntt;
mod poly;
mod primes;
mod rns;

pub use error::RingError;
pub use modulus::{MAX_MODULUS_BITS, Modulus};
pub use ntt::{
    MAX_LOG_N, MIN_LOG_N, NttPlan, bit_reverse, ct_butterfly, gs_butterfly, gs_butterfly_half,
};
pub use poly::{
    Coeff, GaloisPermutation, Ntt, Representation, RnsContext, RnsPoly, automorphism_coeff_limb,
};
pub use primes::{is_prime, ntt_moduli, ntt_primes, ntt_primes_excluding, primitive_root_2n};

pub use rns::{BasisConverter, RnsBasis};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rns;
