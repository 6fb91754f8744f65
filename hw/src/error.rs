//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while emitting, checking or synthesizing a design.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HwError {
    /// A word width that has no butterfly.
    #[error("unsupported width {bits}: the butterfly exists for --width 32 and --width 64")]
    UnsupportedWidth {
        /// The requested width.
        bits: u32,
    },
    /// A variant that is not shipped.
    #[error(
        "unsupported variant `{name}`: use `shoup` (Shoup reduction, any odd q) or \
         `special-prime` (shift-add reduction for the fixed prime 2^31 − 2^19 + 1 or \
         2^61 − 2^26 + 1)"
    )]
    UnsupportedVariant {
        /// The requested variant.
        name: String,
    },
    /// A synthesis family that is not supported.
    #[error("unsupported family `{name}`: use xc7, xcup or ice40")]
    UnsupportedFamily {
        /// The requested family.
        name: String,
    },
    /// An NTT size the core does not support.
    #[error("unsupported NTT size 2^{log_n}: the core supports --log-n 4 ..= 10 (N = 16 … 1024)")]
    UnsupportedNttSize {
        /// The requested log2 N.
        log_n: u32,
    },
    /// An NTT-unit shape the generator cannot build.
    #[error("cannot build an NTT unit with N = 2^{log_n}, P = {lanes}: {constraint}")]
    UnsupportedNttUnit {
        /// The requested log2 N.
        log_n: u32,
        /// The requested number of butterflies.
        lanes: u32,
        /// The constraint it breaks.
        constraint: &'static str,
    },
    /// A simulator `check` does not run.
    #[error("unknown simulator `{name}`: use --simulators both, icarus or verilator")]
    UnsupportedSimulator {
        /// The requested simulator.
        name: String,
    },
    /// A device `fit` does not know.
    #[error("unknown device `{name}`: the devices hesim knows are u280")]
    UnknownDevice {
        /// The requested device.
        name: String,
    },
    /// A prime size no built multiplier word holds.
    #[error(
        "no unit word holds {bits}-bit primes: the Shoup multiplier is built for the 32-bit \
         word (primes of 1 ..= 31 bits) and the 64-bit word (1 ..= 62 bits); use --word 1 ..= 62"
    )]
    UnbuildableWord {
        /// The requested prime size.
        bits: u32,
    },
    /// Not even the smallest unit fits the device's share.
    #[error("no NTT unit of the table fits the unit share of {device}")]
    NothingFits {
        /// The device.
        device: &'static str,
    },
    /// A unit table to be completed was made by another yosys.
    #[error(
        "the unit table was synthesized by {table} but {installed} is installed: rows from \
         two versions are not comparable; regenerate the whole table without --missing"
    )]
    YosysMismatch {
        /// The table's yosys.
        table: String,
        /// The installed yosys.
        installed: String,
    },
    /// A required external program is not installed.
    #[error("`{program}` not found on PATH: install it with `apt-get install -y {package}`")]
    ToolMissing {
        /// The program looked for.
        program: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// An external program failed.
    #[error("`{command}` failed (exit status {status}):\n{output}")]
    ToolFailed {
        /// The command line.
        command: String,
        /// Its exit status, or `signal` when killed.
        status: String,
        /// The tail of its stdout and stderr.
        output: String,
    },
    /// The design broke a structural or lint rule.
    #[error("{check} failed:\n{details}")]
    DesignRule {
        /// The rule.
        check: &'static str,
        /// The tool's complaint.
        details: String,
    },
    /// An external program's output lacked the line the flow parses.
    #[error("could not find `{expected}` in the output of `{command}`:\n{output}")]
    UnexpectedOutput {
        /// The command line.
        command: String,
        /// What was looked for.
        expected: &'static str,
        /// The tail of the output.
        output: String,
    },
    /// A design directory lacks a file or holds a malformed one.
    #[error("{path}: {reason}")]
    BadDesignDir {
        /// The offending file or directory.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The golden model rejected a parameter (a bug in vector generation).
    #[error("golden model: {0}")]
    Golden(String),
    /// A parameter outside its supported range.
    #[error("{parameter} = {value} is out of range: {allowed}")]
    OutOfRange {
        /// The parameter's name as on the command line.
        parameter: &'static str,
        /// The value given.
        value: u64,
        /// The accepted range.
        allowed: &'static str,
    },
    /// A report could not be serialized (cannot happen for the crate's plain data types).
    #[error("serializing {what}: {source}")]
    Serialize {
        /// What was being written.
        what: &'static str,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// A vector count outside the supported range.
    #[error("vector count {count} is out of range: use 1 ..= {max} per mode")]
    BadVectorCount {
        /// The requested count.
        count: usize,
        /// The largest supported count.
        max: usize,
    },
    /// The rust-hdl simulation kernel failed.
    #[error(transparent)]
    Simulation(#[from] crate::rtl_sim::RtlSimError),
}

impl HwError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> HwError {
        let path = path.into();
        move |source| HwError::Io { path, source }
    }
}
