use std::fmt;
use std::path::PathBuf;

/// A named validation rule. Every [`Violation`] cites one, so a user can look it up and a test
/// can check that a malformed trace is rejected for the right reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// The line is not valid JSON.
    Syntax,
    /// Valid JSON that does not have the shape of a header, op or end record.
    Schema,
    /// The first line is not a header, or a header appears later.
    HeaderPlacement,
    /// The header's format name or version is not one this reader understands.
    HeaderVersion,
    /// The header's parameters contradict each other (slots vs N, dnum vs chain, ...).
    HeaderConsistency,
    /// An operand id that no earlier op defined.
    UseBeforeDefine,
    /// An id defined twice.
    DuplicateId,
    /// The op has the wrong number of operands for its kind.
    Arity,
    /// An operand is at a different level than the op requires.
    LevelMismatch,
    /// A level is 0 or above the modulus chain.
    LevelRange,
    /// `rescale` must drop exactly one limb; `level_down` must drop at least one; `mod_raise`
    /// must raise at least one.
    LevelDrop,
    /// A rotation step is 0 or not within (-slots, slots).
    RotationRange,
    /// Rotations of one hoist group must share one source ciphertext.
    HoistGroup,
    /// A ciphertext of the wrong size (degree 2 vs 3) for the op, e.g. relin of a fresh one.
    CiphertextSize,
    /// An `output` value used as an operand.
    OutputUse,
    /// A key switch (relin, rotate, conjugate, bootstrap) but no special primes in the header.
    KeySwitchPrimes,
    /// Bootstrap parameters that do not fit the header's chain or slots.
    BootstrapParams,
    /// The file ended without its end record (it was cut short).
    Truncated,
    /// The end record disagrees with the ops read, or lines follow it.
    EndRecord,
}

impl Rule {
    /// The kebab-case name printed in messages.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Syntax => "syntax",
            Rule::Schema => "schema",
            Rule::HeaderPlacement => "header-placement",
            Rule::HeaderVersion => "header-version",
            Rule::HeaderConsistency => "header-consistency",
            Rule::UseBeforeDefine => "use-before-define",
            Rule::DuplicateId => "duplicate-id",
            Rule::Arity => "arity",
            Rule::LevelMismatch => "level-mismatch",
            Rule::LevelRange => "level-range",
            Rule::LevelDrop => "level-drop",
            Rule::RotationRange => "rotation-range",
            Rule::HoistGroup => "hoist-group",
            Rule::CiphertextSize => "ciphertext-size",
            Rule::OutputUse => "output-use",
            Rule::KeySwitchPrimes => "key-switch-primes",
            Rule::BootstrapParams => "bootstrap-params",
            Rule::Truncated => "truncated",
            Rule::EndRecord => "end-record",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule at one line (1-based) of a trace.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: [{rule}] {message}")]
pub struct Violation {
    pub line: u64,
    pub rule: Rule,
    pub message: String,
}

impl Violation {
    pub(crate) fn new(line: u64, rule: Rule, message: impl Into<String>) -> Self {
        Self {
            line,
            rule,
            message: message.into(),
        }
    }
}

/// Errors of reading or writing traces.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("I/O error after line {line}: {source}")]
    Io { line: u64, source: std::io::Error },
    #[error(transparent)]
    Invalid(#[from] Violation),
    #[error("cannot write op {id}: {reason}")]
    Write { id: u32, reason: String },
}

impl TraceError {
    /// The violation behind this error, if it is one (as opposed to an I/O failure).
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            TraceError::Invalid(v) => Some(v),
            _ => None,
        }
    }
}
