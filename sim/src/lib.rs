//! hesim's cycle-approximate HE accelerator model.
//!
//! - [`arch`]: architecture descriptions (TOML presets + overrides), checked key by key.
//! - [`lower`]: every trace op at its level → unit work (limb NTTs, automorphisms, base
//!   conversions, element-wise ops, key/plaintext loads); all cost formulas live there.
//! - [`engine`]: list scheduling of that work on the units, HBM and scratchpad.
//! - [`result`]: the [`SimResult`] a run reports (per unit, op kind, layer; bytes; timeline).
//! - [`pattern`]: the bootstrap op pattern and synthetic workloads.
//!
//! Entry points: [`simulate`] for a trace in memory, [`simulate_file`] to stream one from disk,
//! and [`Simulator`] to run many architectures on one trace (it lowers once per lowering
//! option set and reuses it).

pub mod arch;
pub mod engine;
pub mod lower;
pub mod pattern;
pub mod result;
pub mod sweep;
pub mod validate;

use std::path::Path;
use std::sync::{Arc, Mutex};

use hesim_traces::{Analyzer, Header, Op, TraceError, Violation};
use rustc_hash::FxHashMap;

pub use arch::{Arch, ArchError, ArchLoader};
pub use engine::EngineOptions;
pub use lower::{LowerCounts, LowerOptions, LoweredProgram, Work};
pub use result::{
    Bound, KindStats, LayerStats, MemoryStats, SimResult, TimelineEntry, TraceSummary, Unit,
    UnitStats,
};

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    #[error(transparent)]
    Arch(#[from] ArchError),
    #[error("trace: {0}")]
    Trace(#[from] TraceError),
    #[error("the trace is not valid ({count} violation(s)); first: {first}")]
    InvalidTrace { count: u64, first: Violation },
    #[error(
        "op {op} uses value {value}, which no earlier op defines (check the trace with \
         `hesim trace validate`)"
    )]
    UndefinedValue { op: u32, value: u32 },
    #[error(
        "the trace has {prime_bits}-bit primes but architecture {arch} has {word_bits}-bit words \
         (`word_bits`): use `--set word_bits={prime_bits}` or a trace with smaller primes \
         (`hesim trace gen --word-bits N`)"
    )]
    WordTooSmall {
        arch: String,
        word_bits: u32,
        prime_bits: u32,
    },
    #[error(
        "the trace has N = 2^{log_n} but architecture {arch}'s NTT unit supports at most \
         N = 2^{max_log_n} (`ntt.max_log_n`)"
    )]
    RingTooLarge {
        arch: String,
        log_n: u32,
        max_log_n: u32,
    },
    #[error(
        "`policy.dnum` = {dnum} of architecture {arch} is more key-switching digits than the \
         trace's {limbs}-limb chain has limbs: use `--set policy.dnum=N` with N ≤ {limbs} \
         (0 keeps the trace's dnum)"
    )]
    DnumTooLarge { arch: String, dnum: u32, limbs: u32 },
    #[error(
        "on architecture {arch} this trace could take up to {cycles:.3e} cycles and move \
         {bytes:.3e} bytes, beyond the 2^62 the simulator counts exactly: raise the slowest \
         rate (`hbm.bandwidth_gb_s`, `scratchpad.bandwidth_bytes_per_cycle`, lanes) or \
         simulate a shorter trace"
    )]
    CountOverflow {
        arch: String,
        cycles: f64,
        bytes: f64,
    },
    #[error("bootstrap: {message}")]
    Bootstrap { message: String },
    #[error(
        "the program was lowered with {lowered:?} but the architecture asks for {wanted:?}; \
         lower it again with `LowerOptions::from_arch`"
    )]
    OptionsMismatch {
        lowered: LowerOptions,
        wanted: LowerOptions,
    },
}

/// Simulates a trace held in memory on one architecture.
pub fn simulate(arch: &Arch, header: &Header, ops: &[Op]) -> Result<SimResult, SimError> {
    simulate_with(arch, header, ops, EngineOptions::default())
}

/// [`simulate`] with engine options (e.g. a timeline).
pub fn simulate_with(
    arch: &Arch,
    header: &Header,
    ops: &[Op],
    options: EngineOptions,
) -> Result<SimResult, SimError> {
    let prog = lower::lower(header, ops, LowerOptions::from_arch(arch))?;
    engine::run(arch, &prog, options)
}

/// Streams, validates and lowers a trace file in one pass (the ops themselves are not kept).
pub fn lower_file(path: &Path, options: LowerOptions) -> Result<LoweredProgram, SimError> {
    let mut reader = hesim_traces::open(path)?;
    let header = reader.header().clone();
    let mut analyzer = Analyzer::new(header.clone());
    let mut lowerer = lower::Lowerer::new(&header, options);
    let mut lower_error = None;
    while let Some(item) = reader.next() {
        match item {
            Ok(op) => {
                analyzer.check(reader.line(), &op);
                // The lowerer only ever sees ops the validator accepted: after the first
                // violation the run fails anyway, and an op that broke a rule (a bootstrap
                // with crafted parameters, ...) must not reach the cost model.
                if lower_error.is_none()
                    && analyzer.violation_count() == 0
                    && let Err(e) = lowerer.push(&op)
                {
                    lower_error = Some(e);
                }
            }
            Err(TraceError::Invalid(v)) => analyzer.report(v),
            Err(e) => return Err(e.into()),
        }
    }
    let analysis = analyzer.finish();
    if let Some(first) = analysis.violations.first() {
        return Err(SimError::InvalidTrace {
            count: analysis.violation_count,
            first: first.clone(),
        });
    }
    if let Some(e) = lower_error {
        return Err(e);
    }
    Ok(lowerer.finish())
}

/// Simulates a trace file on one architecture.
pub fn simulate_file(
    arch: &Arch,
    path: &Path,
    options: EngineOptions,
) -> Result<SimResult, SimError> {
    let prog = lower_file(path, LowerOptions::from_arch(arch))?;
    engine::run(arch, &prog, options)
}

/// One trace, many architectures: lowers once per [`LowerOptions`] (dnum, hoisting) and runs
/// the engine per architecture. Shareable across threads.
#[derive(Debug)]
pub struct Simulator {
    header: Header,
    ops: Vec<Op>,
    lowered: Mutex<FxHashMap<LowerOptions, Arc<LoweredProgram>>>,
}

impl Simulator {
    pub fn new(header: Header, ops: Vec<Op>) -> Self {
        Self {
            header,
            ops,
            lowered: Mutex::new(FxHashMap::default()),
        }
    }

    /// The lowered program for `options` (lowered on first use).
    pub fn lowered(&self, options: LowerOptions) -> Result<Arc<LoweredProgram>, SimError> {
        if let Some(p) = self
            .lowered
            .lock()
            .ok()
            .and_then(|m| m.get(&options).cloned())
        {
            return Ok(p);
        }
        let prog = Arc::new(lower::lower(&self.header, &self.ops, options)?);
        if let Ok(mut m) = self.lowered.lock() {
            m.insert(options, prog.clone());
        }
        Ok(prog)
    }

    pub fn run(&self, arch: &Arch, options: EngineOptions) -> Result<SimResult, SimError> {
        let prog = self.lowered(LowerOptions::from_arch(arch))?;
        engine::run(arch, &prog, options)
    }
}
