//! Typed errors of the CKKS layer: each variant says what was wrong, with the values involved.

use hesim_traces::{OpName, ValueId};
use thiserror::Error;

/// Everything that can go wrong when building parameters, encoding, or evaluating.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum CkksError {
    /// The ring degree is not a supported power of two.
    #[error("ring degree N = {n} is not a power of two in 2^4..=2^17")]
    InvalidRingDegree { n: usize },
    /// The slot count is not a power of two at most N/2.
    #[error("slot count {slots} must be a power of two no larger than N/2 = {max}")]
    InvalidSlotCount { slots: usize, max: usize },
    /// A parameter set is malformed (empty chain, bad dnum, bad scale, ...).
    #[error("invalid CKKS parameters: {reason}")]
    InvalidParams { reason: String },
    /// log2(QP) exceeds the HE-standard bound for 128-bit security with ternary secrets.
    #[error(
        "insecure parameters: log2(QP) = {log_qp} bits exceeds the HE-standard 128-bit bound of \
         {max_log_qp} bits for N = 2^{log_n}; use fewer or smaller primes, a larger N, or \
         insecure parameters for tests (`--allow-insecure`, `allow_insecure(true)` in the \
         API)"
    )]
    InsecureParams {
        log_n: u32,
        log_qp: u32,
        max_log_qp: u32,
    },
    /// The HE standard gives no 128-bit bound for this ring degree.
    #[error(
        "no HE-standard 128-bit security bound is known for N = 2^{log_n} (bounds exist for \
         2^10..=2^16); use such an N or insecure parameters for tests (`--allow-insecure`, \
         `allow_insecure(true)` in the API)"
    )]
    NoSecurityBound { log_n: u32 },
    /// No 128-bit bound is known for a sparse secret of this weight at this ring degree.
    #[error(
        "no 128-bit security bound is known for a sparse secret of Hamming weight \
         {hamming_weight} at N = 2^{log_n} (bounds exist for h ≥ 192 at N = 2^15 and 2^16); use \
         such a set or insecure parameters for tests (`--allow-insecure`, \
         `allow_insecure(true)` in the API)"
    )]
    NoSparseSecurityBound { log_n: u32, hamming_weight: usize },
    /// More slot values than the encoder has slots.
    #[error("{given} values do not fit in {slots} slots")]
    TooManyValues { given: usize, slots: usize },
    /// A scaled coefficient is too large to represent (|x| ≥ 2^126).
    #[error(
        "encoding overflow: a coefficient of magnitude {magnitude:e} does not fit; lower the scale or the values"
    )]
    EncodingOverflow { magnitude: f64 },
    /// The operation needs a prime to drop but the ciphertext is at the last level.
    #[error("{op} needs a level to consume but the operand has only {level} limb(s) left")]
    OutOfLevels { op: &'static str, level: usize },
    /// A level outside 1..=L was requested.
    #[error("level {level} does not exist: levels (active limbs) run from 1 to {max}")]
    InvalidLevel { level: usize, max: usize },
    /// A requested level is above the operand's current level.
    #[error("cannot raise a ciphertext from level {from} to level {to}: levels only go down")]
    LevelTooHigh { from: usize, to: usize },
    /// A bootstrap recipe does not fit the parameter set (or is malformed).
    #[error("bootstrap: {field} = {value} is not allowed: {reason}")]
    InvalidBootstrap {
        field: &'static str,
        value: u64,
        reason: String,
    },
    /// ModRaise was asked to go to a level below the operand's.
    #[error("mod_raise goes up the chain, but was asked to go from level {from} down to {to}")]
    ModRaiseDown { from: usize, to: usize },
    /// Two operands are at different levels.
    #[error(
        "{op}: operands are at different levels ({left} vs {right} limbs); bring them to the same level first"
    )]
    LevelMismatch {
        op: &'static str,
        left: usize,
        right: usize,
    },
    /// Two operands have different scales.
    #[error(
        "{op}: operands have different scales (2^{left_log2:.4} vs 2^{right_log2:.4}); rescale or adjust first"
    )]
    ScaleMismatch {
        op: &'static str,
        left_log2: f64,
        right_log2: f64,
    },
    /// An operation that expects a size-2 ciphertext got another size (or the reverse).
    #[error("{op} expects a ciphertext of {expected} polynomials, got {found}")]
    CiphertextSize {
        op: &'static str,
        expected: usize,
        found: usize,
    },
    /// No relinearisation key was generated.
    #[error(
        "relinearisation needs a relinearisation key; generate one with KeyGenerator::relin_key"
    )]
    MissingRelinKey,
    /// No Galois key for this rotation step.
    #[error(
        "no rotation key for step {step} (slots = {slots}); generate keys for the steps the program uses with GaloisKeys::for_steps"
    )]
    MissingRotationKey { step: i64, slots: usize },
    /// A Galois key made for lower levels than the ciphertext's.
    #[error(
        "the key for {automorphism} serves ciphertexts of up to {key_level} limbs, this one has \
         {level}; generate keys with GaloisKeys::for_ops over the ops that use them"
    )]
    KeyLevel {
        automorphism: String,
        level: usize,
        key_level: usize,
    },
    /// No Galois key for conjugation.
    #[error("no conjugation key; generate it with GaloisKeys::for_steps(.., conjugate = true)")]
    MissingConjugationKey,
    /// The executor met an op it cannot run.
    #[error("op {id}: `{op}` is not supported by the CKKS executor")]
    UnsupportedOp { id: ValueId, op: OpName },
    /// The executor met an operand that is not defined (or was already consumed by its last use).
    #[error(
        "op {id}: no bootstrapping keys for its parameters; build them with \
         Bootstrappers::for_program over the whole trace"
    )]
    MissingBootstrapKeys { id: ValueId },
    #[error("op {id}: operand {operand} is not defined")]
    UndefinedValue { id: ValueId, operand: ValueId },
    /// An `input` op has no ciphertext supplied by the caller.
    #[error("input {id} was not supplied")]
    MissingInput { id: ValueId },
    /// The trace's level for an op disagrees with what the executor computed.
    #[error("op {id} (`{op}`): trace says level {expected}, executor reached level {found}")]
    TraceLevel {
        id: ValueId,
        op: OpName,
        expected: u32,
        found: usize,
    },
    /// An op has the wrong number of operands.
    #[error("op {id} (`{op}`): expected {expected} operand(s), got {found}")]
    Arity {
        id: ValueId,
        op: OpName,
        expected: usize,
        found: usize,
    },
    /// An error of the ring layer (moduli, primes, NTT).
    #[error("ring arithmetic: {0}")]
    Ring(#[from] crate::ring::RingError),
}

impl From<hesim_traces::bootstrap::BootError> for CkksError {
    fn from(err: hesim_traces::bootstrap::BootError) -> Self {
        match err {
            hesim_traces::bootstrap::BootError::Params {
                field,
                value,
                reason,
            } => Self::InvalidBootstrap {
                field,
                value,
                reason,
            },
            other => Self::InvalidBootstrap {
                field: "params",
                value: 0,
                reason: other.to_string(),
            },
        }
    }
}
