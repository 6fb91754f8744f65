//! Runs the ops of an HE-op trace on real ciphertexts.
//!
//! The trace carries no payloads: plaintext operands are referenced by id and constants by the
//! id of the op that uses them, and the caller supplies both through [`Payloads`].
//!
//! The entry point (landing with the evaluator) is
//! `execute(&Evaluator, ops, inputs: HashMap<ValueId, Ciphertext>, &dyn Payloads)
//!  -> Result<HashMap<ValueId, Ciphertext>, CkksError>`, returning the values marked `output`.

use std::collections::HashMap;

use hesim_traces::ValueId;

/// The plaintext data a trace refers to.
pub trait Payloads {
    /// Real slot values of plaintext `id` (length ≤ slots). The executor encodes them at the
    /// op's level and at the scale that keeps the computation on the canonical scale schedule.
    fn plaintext(&self, id: u32) -> &[f64];
    /// The scalar of the `add_const` / `mul_const` op whose result id is `op`.
    fn constant(&self, op: ValueId) -> f64;
}

/// [`Payloads`] held in hash maps (tests, small programs).
#[derive(Clone, Debug, Default)]
pub struct MapPayloads {
    pub plaintexts: HashMap<u32, Vec<f64>>,
    pub constants: HashMap<ValueId, f64>,
}

impl Payloads for MapPayloads {
    /// Panics if the plaintext is missing: a program referencing an unknown payload is a bug of
    /// the program builder, not an input error.
    fn plaintext(&self, id: u32) -> &[f64] {
        self.plaintexts
            .get(&id)
            .unwrap_or_else(|| panic!("no payload for plaintext {id}"))
    }

    fn constant(&self, op: ValueId) -> f64 {
        *self
            .constants
            .get(&op)
            .unwrap_or_else(|| panic!("no constant for op {op}"))
    }
}
