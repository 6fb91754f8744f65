//! A real RNS-CKKS (Cheon–Kim–Kim–Song with the full-RNS variant and hybrid key switching) on
//! top of the golden arithmetic of [`crate::ring`].
//!
//! * [`params`]: parameter builder, HE-standard security check, hesim's default set.
//! * [`encoder`]: canonical embedding (special FFT) between slots and coefficients.
//! * [`sampling`]: ChaCha20 CSPRNG seeded from the OS, ternary and discrete Gaussian samplers.
//! * [`executor`]: runs a trace's ops on ciphertexts with caller-supplied plaintext payloads.
//! * [`precision`]: the precision report (each op against f64, in bits).
//! * [`latency`]: per-operation thread CPU time at one parameter set (`hesim ckks ops`).
//!
//! Core types: [`Context`] (primes, NTT plans, canonical scales, key-switching tables),
//! [`SecretKey`] / [`PublicKey`] (encryption, decryption), [`RelinKey`], [`GaloisKeys`] (only
//! the rotation steps a program needs), [`Evaluator`] (the homomorphic ops), [`Plaintext`],
//! [`Ciphertext`]. Key switching is hybrid: dnum digits of α = ⌈L/dnum⌉ primes, k special
//! primes, ModUp by fast basis conversion, inner product with the key, rounded ModDown.

pub mod bootstrap;
mod context;
mod error;
mod evaluator;
mod keys;

pub mod dft;
pub mod encoder;
pub mod executor;
pub mod latency;
pub mod params;
pub mod precision;
pub mod sampling;

pub use context::Context;
pub use encoder::Encoder;
pub use error::CkksError;
pub use evaluator::{Automorphism, Evaluator};
pub use executor::{
    BOOTSTRAP_LAYER, MapPayloads, Payloads, execute, execute_profiled, execute_with_bootstraps,
};
pub use keys::{Ciphertext, GaloisKeys, Plaintext, PublicKey, RelinKey, SecretKey};
pub use params::{
    ParamShape, ParamsBuilder, SecretDistribution, default_builder, max_log_qp_128_sparse,
};
pub use sampling::Sampler;

#[cfg(test)]
mod tests;
