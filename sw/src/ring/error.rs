//! Typed errors of the ring layer.

use thiserror::Error;

/// Everything that can go wrong when building moduli, NTT plans, RNS bases or polynomials.
///
/// Each variant carries the offending values so callers can say what was wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RingError {
    /// The modulus is even, smaller than 3, or wider than 62 bits.
    #[error("invalid modulus {q}: {reason} (a modulus must be odd, at least 3 and below 2^62)")]
    InvalidModulus {
        /// The rejected value.
        q: u64,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// `value` has no inverse modulo `modulus` (they share a factor).
    #[error("{value} is not invertible modulo {modulus} (gcd != 1)")]
    NotInvertible {
        /// The value whose inverse was requested.
        value: u64,
        /// The modulus.
        modulus: u64,
    },
    /// The ring degree is not a power of two in the supported range.
    #[error("unsupported ring degree N = {n}: must be a power of two in 2^{min_log}..=2^{max_log}")]
    InvalidDegree {
        /// The rejected degree.
        n: usize,
        /// log2 of the smallest supported degree.
        min_log: u32,
        /// log2 of the largest supported degree.
        max_log: u32,
    },
    /// `q` cannot carry a negacyclic NTT of size `n` (it must be prime with q ≡ 1 mod 2n).
    #[error(
        "modulus {q} does not support a negacyclic NTT of size {n}: it must be prime with q ≡ 1 (mod {})",
        2 * n
    )]
    NotNttFriendly {
        /// The modulus.
        q: u64,
        /// The NTT size.
        n: usize,
    },
    /// A prime bit size outside the supported range was requested.
    #[error("cannot generate {bits}-bit primes: the bit size must be in {min}..={max}")]
    InvalidPrimeBits {
        /// The requested bit size.
        bits: u32,
        /// Smallest supported bit size for this N.
        min: u32,
        /// Largest supported bit size.
        max: u32,
    },
    /// Not enough NTT-friendly primes of the requested size exist.
    #[error(
        "only {found} of the {requested} requested {bits}-bit primes with q ≡ 1 (mod {}) exist; \
         ask for fewer primes or a larger bit size",
        2 * n
    )]
    NotEnoughPrimes {
        /// Requested bit size.
        bits: u32,
        /// Ring degree (primes are ≡ 1 mod 2n).
        n: usize,
        /// Number of primes requested.
        requested: usize,
        /// Number found.
        found: usize,
    },
    /// An RNS basis needs at least one modulus.
    #[error("an RNS basis needs at least one modulus")]
    EmptyBasis,
    /// Two moduli of an RNS basis share a factor, so CRT does not apply.
    #[error("RNS moduli {a} and {b} are not coprime")]
    NotCoprime {
        /// First modulus.
        a: u64,
        /// Second modulus.
        b: u64,
    },
    /// A slice had the wrong length.
    #[error("{what}: expected length {expected}, got {found}")]
    LengthMismatch {
        /// What was being checked.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// A residue is not reduced modulo its limb's modulus.
    #[error("limb {limb}, coefficient {index}: value {value} is not below the modulus {modulus}")]
    UnreducedValue {
        /// Limb index.
        limb: usize,
        /// Coefficient index within the limb.
        index: usize,
        /// The offending value.
        value: u64,
        /// The limb's modulus.
        modulus: u64,
    },
    /// A Galois element must be odd and below 2N.
    #[error("invalid Galois element {g} for N = {n}: it must be odd and below 2N = {}", 2 * n)]
    InvalidGaloisElement {
        /// The rejected element.
        g: u64,
        /// Ring degree.
        n: usize,
    },
    /// A polynomial with a single limb cannot drop its last limb.
    #[error("cannot drop the last limb of a single-limb polynomial (no levels left)")]
    NoLimbToDrop,
}
