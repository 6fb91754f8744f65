//! The HE-op trace: the one contract between hesim's software stack and its simulator.
//!
//! A trace is JSON Lines: a [`Header`] line, then one [`Op`] per line in SSA form, then an end
//! record `{"end":{"ops":N}}` that makes truncation detectable. Readers stream it line by line
//! ([`TraceReader`]), so traces larger than memory are fine; [`analyze`] validates and gathers
//! [`TraceStats`] in the same single pass.
//!
//! Levels count *active limbs* (RNS primes of the modulus chain still present), so a fresh
//! ciphertext at the top of a chain of `q_bits.len()` primes has level `q_bits.len()`, and every
//! level is ≥ 1. `rescale` drops exactly one limb.

mod analysis;
pub mod bootstrap;
mod error;
mod fastpath;
mod header;
mod op;
mod reader;
pub mod synthetic;
mod values;
mod writer;

pub use analysis::{Analysis, Analyzer, TraceStats, analyze};
pub use error::{Rule, TraceError, Violation};
pub use header::{FORMAT_NAME, FORMAT_VERSION, Header, MAX_PRIMES, Scheme};
pub use op::{
    BootstrapParams, BootstrapParamsError, Hoisting, LEGACY_EVAL_MOD_RANGE, MAX_BOOTSTRAP_OPS,
    MAX_EVAL_MOD_DEGREE, MAX_EVAL_MOD_RANGE, Op, OpKind, OpName, PlainRef, ValueId,
};
pub use reader::{TraceReader, open};
pub use values::ValueTable;
pub use writer::{TraceWriter, create};
