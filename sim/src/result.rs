//! The simulator's result types: what a run reports, in a shape the sweep and report crates
//! read back (`serde` both ways).
//!
//! Units of measure are in the field names. Cycles are of the architecture's logic clock.
//! A *unit* here is a class of functional units aggregated over clusters (all NTT units of the
//! machine are one [`Unit::Ntt`]); its busy cycles are the cycles during which that class was
//! streaming work, so utilisation = busy / total cycles ≤ 1.

use std::collections::BTreeMap;

use hesim_traces::OpName;
use serde::{Deserialize, Serialize};

use crate::lower::LowerCounts;

/// A class of functional units (or a memory port) the engine schedules work on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Limb NTT/INTT units.
    Ntt,
    /// Automorphism (permutation) units.
    Automorphism,
    /// Dedicated base-conversion MAC array (if the design has one).
    Bconv,
    /// Dedicated key-switch inner-product unit (if the design has one).
    InnerProduct,
    /// Element-wise modular multipliers.
    Mul,
    /// Element-wise modular adders.
    Add,
    /// On-chip generator of evaluation keys' uniform halves (with `policy.evk_prng`).
    Prng,
    /// Inter-cluster network (limb-wise ↔ coefficient-wise redistribution).
    Noc,
    /// Scratchpad/register-file port to the units.
    Scratchpad,
    /// Off-chip memory (HBM) port.
    Hbm,
}

impl Unit {
    pub const ALL: [Unit; 10] = [
        Unit::Ntt,
        Unit::Automorphism,
        Unit::Bconv,
        Unit::InnerProduct,
        Unit::Mul,
        Unit::Add,
        Unit::Prng,
        Unit::Noc,
        Unit::Scratchpad,
        Unit::Hbm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Ntt => "ntt",
            Unit::Automorphism => "automorphism",
            Unit::Bconv => "bconv",
            Unit::InnerProduct => "inner_product",
            Unit::Mul => "mul",
            Unit::Add => "add",
            Unit::Prng => "prng",
            Unit::Noc => "noc",
            Unit::Scratchpad => "scratchpad",
            Unit::Hbm => "hbm",
        }
    }

    /// Compute units (everything but the two memory ports).
    pub fn is_compute(self) -> bool {
        !matches!(self, Unit::Scratchpad | Unit::Hbm)
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Busy cycles per unit (units with no work are left out).
pub type UnitCycles = BTreeMap<Unit, u64>;

/// One simulation: a trace on an architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimResult {
    /// Architecture name (`Arch::name`).
    pub arch: String,
    pub trace: TraceSummary,
    pub clock_ghz: f64,
    /// Cycles from the first op's start to the last op's end.
    pub cycles: u64,
    /// `cycles` at `clock_ghz`, in milliseconds.
    pub time_ms: f64,
    /// Per unit: busy cycles and utilisation over the whole run, in [`Unit::ALL`] order.
    pub units: Vec<UnitStats>,
    /// Per op kind (kinds present in the trace, in `OpName` order).
    pub by_kind: Vec<KindStats>,
    /// Per layer, in order of first appearance in the trace.
    pub layers: Vec<LayerStats>,
    pub memory: MemoryStats,
    /// The lowering counts (limb NTTs, automorphisms, ... per op kind).
    pub counts: LowerCounts,
    /// Per-task timeline (only when asked for: it has one entry per scheduled task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEntry>>,
}

/// The trace a result belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSummary {
    pub network: String,
    pub packing: String,
    pub generator: String,
    pub log_n: u32,
    pub slots: u64,
    /// L: limbs of the full modulus chain.
    pub limbs: u32,
    /// Key-switching digits and special primes used by the lowering.
    pub dnum: u32,
    pub special_primes: u32,
    pub ops: u64,
    /// Scheduled tasks (ops, plus hoist-group ModUps and expanded bootstrap steps).
    pub tasks: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitStats {
    pub unit: Unit,
    pub busy_cycles: u64,
    /// busy_cycles / total cycles.
    pub utilization: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindStats {
    pub kind: OpName,
    pub ops: u64,
    /// Cycles by which ops of this kind pushed the program's end forward when they were
    /// scheduled (see [`LayerStats::critical_cycles`]); over all kinds these sum to `cycles`,
    /// so they make a latency breakdown.
    pub critical_cycles: u64,
    pub busy_cycles: UnitCycles,
    pub hbm_bytes: u64,
}

/// Whether a layer's time is dominated by off-chip traffic or by a compute unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The busiest compute unit has more busy cycles than the HBM port.
    Compute,
    /// The HBM port is busier than every compute unit.
    Memory,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    pub layer: String,
    pub ops: u64,
    /// First cycle any of the layer's work (compute or transfer) started.
    pub start_cycle: u64,
    /// Last cycle any of it ended.
    pub end_cycle: u64,
    /// Cycles by which this layer's ops extended the program's end when scheduled (ops are
    /// scheduled in trace order; each op that finishes after every earlier one adds the
    /// difference). Sums to `SimResult::cycles` over layers: the latency breakdown.
    pub critical_cycles: u64,
    pub busy_cycles: UnitCycles,
    /// busy cycles / (end_cycle − start_cycle) per unit.
    pub utilization: BTreeMap<Unit, f64>,
    /// Off-chip bytes moved (read + written) for this layer.
    pub hbm_bytes: u64,
    /// Bytes moved between scratchpad and units.
    pub onchip_bytes: u64,
    /// Modular arithmetic operations (each NTT butterfly = 1 multiply + 2 add/subs, each MAC =
    /// 2), the roofline's "ops".
    pub mod_ops: u64,
    /// mod_ops / hbm_bytes (`None` when the layer moved no off-chip bytes).
    pub ops_per_byte: Option<f64>,
    pub bound: Bound,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Scratchpad capacity of the architecture.
    pub scratchpad_bytes: u64,
    /// Largest resident ciphertext working set.
    pub peak_live_bytes: u64,
    pub hbm_read_bytes: u64,
    pub hbm_write_bytes: u64,
    /// Key-switch key bytes read.
    pub key_bytes: u64,
    /// Plaintext bytes read.
    pub plaintext_bytes: u64,
    /// Program inputs read and outputs written.
    pub io_bytes: u64,
    /// Ciphertext bytes written out because the working set exceeded the scratchpad.
    pub spill_bytes: u64,
    /// Spilled ciphertext bytes read back.
    pub reload_bytes: u64,
    /// Bytes between scratchpad and units.
    pub onchip_bytes: u64,
    /// Key-switch keys found in / missing from the on-chip key cache (`on_chip` policy only).
    pub key_cache_hits: u64,
    pub key_cache_misses: u64,
}

/// One scheduled task, for Gantt charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Trace op id the task belongs to.
    pub op: u32,
    pub kind: OpName,
    pub layer: String,
    pub start_cycle: u64,
    pub end_cycle: u64,
    /// Busy cycles per unit; each unit is busy from `start_cycle` (the HBM port from
    /// `hbm_start_cycle`).
    pub busy_cycles: UnitCycles,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hbm_start_cycle: Option<u64>,
}
