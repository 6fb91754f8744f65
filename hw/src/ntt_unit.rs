//! The parametric NTT unit: P unified butterflies in parallel (P = 1 … 64, a power of two),
//! N = 2^4 … 2^16, 32- or 64-bit word (Shoup multiplier, any odd q below the word's bound),
//! forward (Cooley–Tukey) and inverse (Gentleman–Sande with the fused ÷2), bit-exact with
//! `hesim_sw::ring::NttPlan::{forward_golden, inverse_golden}`.
//!
//! **Algorithm: constant geometry (Pease).** Stage k keeps the data permuted by an address
//! rotation: forward stages read the pair (j, j + N/2) and write (2j, 2j + 1); inverse stages
//! read (2j, 2j + 1) and write (j, j + N/2). After log2 N stages the rotation is the identity,
//! so the result sits in the golden model's order (bit-reversed after the forward transform,
//! natural after the inverse). In stage k the pair of index j takes the twiddle
//! `W[m + (j mod m)]`, m the stage's group count (forward: 2^k; inverse: N/2^(k+1)), exactly
//! the golden loop's twiddle for that pair. Every stage reads one buffer and writes the other
//! (ping-pong halves of each bank).
//!
//! **Banks (conflict-free for P reads and P writes per cycle).** 2P banks; coefficient a lives
//! in bank `(a mod 2P) xor (P·a_{n−1})` at row `a >> (log2 P + 1)` (a_{n−1} the top address
//! bit). In cycle c of a stage the P butterflies take j = cP … cP + P − 1:
//!
//! ```text
//! halves   (j, j + N/2):  x_i in bank i xor hP,  y_i in bank i xor (1−h)P,   h = c mod 2
//!                          rows c/2 (lower) and N/(4P) + c/2 (upper)
//! adjacent (2j, 2j + 1):  x_i in bank 2i xor gP, y_i in bank (2i+1) xor gP,  g = [c ≥ N/(4P)]
//!                          row c in every bank
//! ```
//!
//! so each cycle touches every bank exactly once for reading and once for writing, and the
//! routing network is one half-swap and one interleave per side (2:1 and 4:1 multiplexers, no
//! crossbar). Needs N ≥ 4P.
//!
//! **Twiddles: ROMs, not on-the-fly.** Each lane has a forward and an inverse ROM of
//! N/P + log2 P entries (w and its Shoup quotient): entry r holds `W[P·r + lane]`, and the
//! log2 P stages with fewer groups than lanes (m < P, where lane i needs `W[m + (i mod m)]`
//! all stage long) get one extra entry each. All lanes read the same address each cycle
//! (`m/P + (c mod m/P)`, or `N/P + log2 m`), so the ROMs hold each twiddle once (2N words in
//! all). On-the-fly generation would need a second modular multiplier per lane (ψ-power
//! chains, the hardcaml ZPrize design) and a reseeding pattern per stage; a lane's ROM is
//! N/P words, which block RAM holds cheaply for every size this unit supports.
//!
//! **Timing.** One butterfly per lane per cycle (II = 1): a stage issues N/(2P) cycles, so a
//! transform issues `(N/2)·log2 N / P` cycles, the radix-2 formula of `hesim-sim`. A result is
//! readable [`ISSUE_TO_VISIBLE`] cycles after its issue; stage k+1's first cycle needs stage
//! k's cycle N/(4P) (both patterns), so stages follow back to back when N/(4P) ≥
//! [`ISSUE_TO_VISIBLE`] and are otherwise separated by the difference ([`NttUnitConfig::stage_gap`]).
//! The pipeline then drains once ([`NttUnitConfig::pipeline_fill`]).
//!
//! **Host port** (while `busy` is low): `write_enable` + `address` + `write_data` load a
//! coefficient; `read_data` shows the coefficient at `address` one cycle later. A `start`
//! pulse (with `inverse`) runs the transform; `busy` stays high until the last result is
//! written. The host port moves one word per cycle: it exists to load and check a limb, not to
//! feed the unit at its transform rate.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rust_hdl::prelude::*;
use serde::{Deserialize, Serialize};

use hesim_sw::ring::{Modulus, NttPlan, RingError, ntt_moduli};

use crate::butterfly::{BUTTERFLY_LATENCY, Butterfly32, Butterfly64};
use crate::emit::write_all_atomically;
use crate::rtl_sim::{ClockedSim, RtlSimError};
use crate::{HwError, Width};

/// Smallest and largest log2 N (the golden model starts at 16 points; the unit's counters and
/// host address are 16 bits wide).
pub const LOG_N_RANGE: std::ops::RangeInclusive<u32> = 4..=16;
/// Largest number of butterflies.
pub const MAX_LANES: u32 = 64;

/// Width of every index, counter and bank address in the unit.
const INDEX_BITS: usize = 16;
type Index = Bits<INDEX_BITS>;

/// Edges from a cycle's issue to the write-back of its results: the bank and twiddle reads
/// (1) and the butterfly.
const WRITE_DELAY: usize = 1 + BUTTERFLY_LATENCY;
// Kernels index arrays only with literals and loop variables, hence `[7]` below.
const _: () = assert!(WRITE_DELAY == 8, "update the literal write-back index");

/// Cycles from a cycle's issue until a read issued then sees its results: the write-back
/// edge follows [`WRITE_DELAY`] edges after the issue, and banks read before they write.
pub const ISSUE_TO_VISIBLE: u64 = WRITE_DELAY as u64 + 1;

/// A buildable NTT unit shape: N = 2^`log_n`, `lanes` butterflies, `width`-bit word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NttUnitConfig {
    /// log2 N.
    pub log_n: u32,
    /// Butterflies per cycle, P.
    pub lanes: u32,
    /// Datapath word.
    pub width: Width,
}

impl NttUnitConfig {
    /// Checks the shape: P a power of two in 1 ..= 64, log2 N in 4 ..= 16, N ≥ 4P.
    pub fn new(log_n: u32, lanes: u32, width: Width) -> Result<Self, HwError> {
        let reject = |constraint: &'static str| HwError::UnsupportedNttUnit {
            log_n,
            lanes,
            constraint,
        };
        if !lanes.is_power_of_two() || lanes > MAX_LANES {
            return Err(reject("P (--lanes) must be a power of two in 1 ..= 64"));
        }
        if !LOG_N_RANGE.contains(&log_n) {
            return Err(reject("log2 N (--log-n) must be in 4 ..= 16"));
        }
        if (1u64 << log_n) < 4 * u64::from(lanes) {
            return Err(reject(
                "N must be at least 4P (each bank holds at least one row per ping-pong half)",
            ));
        }
        Ok(Self {
            log_n,
            lanes,
            width,
        })
    }

    /// N.
    pub fn n(self) -> u64 {
        1 << self.log_n
    }

    fn lane_bits(self) -> u32 {
        self.lanes.trailing_zeros()
    }

    /// Issue cycles of one stage, N/(2P).
    pub fn stage_cycles(self) -> u64 {
        self.n() / (2 * u64::from(self.lanes))
    }

    /// N/(4P): how far into a stage its successor's first inputs are produced.
    fn quarter(self) -> u64 {
        self.stage_cycles() / 2
    }

    /// Idle cycles between stages: none when N/(4P) ≥ [`ISSUE_TO_VISIBLE`].
    pub fn stage_gap(self) -> u64 {
        ISSUE_TO_VISIBLE.saturating_sub(self.quarter())
    }

    /// Issue cycles of a transform, `(N/2)·log2 N / P` (`hesim-sim`'s radix-2 limb cycles).
    pub fn issue_cycles(self) -> u64 {
        u64::from(self.log_n) * self.stage_cycles()
    }

    /// Cycles from the last issue until `busy` falls: the last results are written at the
    /// edge that lowers `busy`, so a host read issued once `busy` is low sees them.
    pub fn pipeline_fill(self) -> u64 {
        WRITE_DELAY as u64
    }

    /// Cycles of a transform beyond its issue cycles: the start cycle, the stage gaps and the
    /// pipeline drain. This is the unit's latency in `hesim-sim`'s terms (`ntt.latency_cycles`,
    /// added once to the busy cycles of a task).
    pub fn latency_cycles(self) -> u64 {
        1 + u64::from(self.log_n - 1) * self.stage_gap() + self.pipeline_fill()
    }

    /// Cycles from the `start` edge until `busy` is seen low.
    pub fn transform_cycles(self) -> u64 {
        self.issue_cycles() + self.latency_cycles()
    }

    /// Words per bank (both ping-pong halves).
    pub fn bank_depth(self) -> u64 {
        self.n() / u64::from(self.lanes)
    }

    /// Entries of each lane's twiddle ROM per direction.
    pub fn twiddle_rom_depth(self) -> u64 {
        self.bank_depth() + u64::from(self.lane_bits())
    }
}

impl std::fmt::Display for NttUnitConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "N = 2^{}, P = {}, {}-bit word",
            self.log_n, self.lanes, self.width
        )
    }
}

/// Bits needed to address `depth` words.
fn address_bits(depth: u64) -> usize {
    (64 - (depth - 1).leading_zeros()).max(1) as usize
}

/// Verilog that marks the address bits above `used` as deliberately unused (Verilator's
/// `*unused*` convention), or nothing when all 16 are used.
fn unused_address_bits(port: &str, used: usize) -> String {
    if used >= INDEX_BITS {
        return String::new();
    }
    format!(
        "wire [{}:0] unused_{port}_high = {port}[{}:{used}];\n",
        INDEX_BITS - 1 - used,
        INDEX_BITS - 1
    )
}

/// One bank: simple dual-port RAM (one synchronous read, one write per cycle, read before
/// write), written as plain Verilog so yosys infers block RAM, with a Rust model of the same
/// behaviour. Its depth is a run-time parameter, which rust-hdl's `RAM` widget cannot have.
#[derive(LogicBlock, Debug)]
pub struct BankRam<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Row read at the next edge.
    pub read_address: Signal<In, Index>,
    /// The row addressed at the previous edge.
    pub read_data: Signal<Out, Bits<W>>,
    /// Write `write_data` to `write_address` at the next edge.
    pub write_enable: Signal<In, Bit>,
    /// Row written.
    pub write_address: Signal<In, Index>,
    /// Word written.
    pub write_data: Signal<In, Bits<W>>,
    _words: Vec<u64>,
}

impl<const W: usize> BankRam<W> {
    /// A bank of `depth` words (a power of two ≤ 2^16), initially zero.
    pub fn new(depth: u64) -> Self {
        Self {
            clock: Default::default(),
            read_address: Default::default(),
            read_data: Default::default(),
            write_enable: Default::default(),
            write_address: Default::default(),
            write_data: Default::default(),
            _words: vec![0; depth as usize],
        }
    }

    /// The stored words (the Rust model's state), for tests that inspect a bank directly.
    pub fn words(&self) -> &[u64] {
        &self._words
    }

    fn row(&self, address: Index) -> usize {
        (address.to_u64() as usize) & (self._words.len() - 1)
    }
}

impl<const W: usize> Logic for BankRam<W> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let read = self.row(self.read_address.val());
            self.read_data.next = Bits::from(self._words[read]);
            if self.write_enable.val() {
                let write = self.row(self.write_address.val());
                self._words[write] = self.write_data.val().to_u64();
            }
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        let depth = self._words.len() as u64;
        let bits = address_bits(depth);
        Verilog::Custom(format!(
            "reg [{high}:0] mem [0:{last}];\n{unused_read}{unused_write}\
             initial read_data = {W}'h0;\n\n\
             always @(posedge clock) begin\n   \
             if (write_enable) mem[write_address[{ab}:0]] <= write_data;\n   \
             read_data <= mem[read_address[{ab}:0]];\nend\n",
            high = W - 1,
            last = depth - 1,
            ab = bits - 1,
            unused_read = unused_address_bits("read_address", bits),
            unused_write = unused_address_bits("write_address", bits),
        ))
    }
}

/// One lane's twiddle ROM for one direction: `(w, w_shoup)` pairs, synchronous read. The
/// Verilog loads its contents with `$readmemh` from [`TwiddleRom::file`] (written next to the
/// design), which yosys, Icarus and Verilator all read far faster than one `initial`
/// assignment per entry.
#[derive(LogicBlock, Debug)]
pub struct TwiddleRom<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Entry read at the next edge.
    pub address: Signal<In, Index>,
    /// Twiddle of the entry addressed at the previous edge.
    pub w: Signal<Out, Bits<W>>,
    /// Its Shoup quotient for the word, `⌊w·2^W/q⌋`.
    pub w_shoup: Signal<Out, Bits<W>>,
    _entries: Vec<(u64, u64)>,
    _file: String,
}

impl<const W: usize> TwiddleRom<W> {
    /// A ROM holding `entries`, loaded in Verilog from `file`.
    pub fn new(entries: Vec<(u64, u64)>, file: String) -> Self {
        Self {
            clock: Default::default(),
            address: Default::default(),
            w: Default::default(),
            w_shoup: Default::default(),
            _entries: entries,
            _file: file,
        }
    }

    /// The file name and `$readmemh` contents: one line per entry, w then w_shoup.
    pub fn file(&self) -> (String, String) {
        let digits = W / 4;
        let text = self
            ._entries
            .iter()
            .map(|(w, s)| format!("{w:0digits$x}{s:0digits$x}\n"))
            .collect();
        (self._file.clone(), text)
    }
}

impl<const W: usize> Logic for TwiddleRom<W> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let (w, w_shoup) = self
                ._entries
                .get(self.address.val().to_u64() as usize)
                .copied()
                .unwrap_or((0, 0));
            self.w.next = Bits::from(w);
            self.w_shoup.next = Bits::from(w_shoup);
        }
    }

    fn connect(&mut self) {
        self.w.connect();
        self.w_shoup.connect();
    }

    fn hdl(&self) -> Verilog {
        let depth = self._entries.len() as u64;
        let bits = address_bits(depth);
        Verilog::Custom(format!(
            "reg [{wide}:0] rom [0:{last}];\n{unused}\
             initial begin\n   $readmemh(\"{file}\", rom);\n   w = {W}'h0;\n   w_shoup = {W}'h0;\nend\n\n\
             always @(posedge clock) begin\n   \
             w <= rom[address[{ab}:0]][{wide}:{W}];\n   w_shoup <= rom[address[{ab}:0]][{high}:0];\nend\n",
            wide = 2 * W - 1,
            high = W - 1,
            last = depth - 1,
            ab = bits - 1,
            file = self._file,
            unused = unused_address_bits("address", bits),
        ))
    }
}

/// Twiddles of one lane and direction in ROM order: entry r is `table[P·r + lane]`, then one
/// entry per stage with m = 2^s < P groups: `table[m + lane mod m]`.
fn lane_twiddles(
    table: &[u64],
    shoup: &[u64],
    lane: usize,
    lanes: usize,
    shoup_shift: u32,
) -> Vec<(u64, u64)> {
    let entry = |index: usize| (table[index], shoup[index] >> shoup_shift);
    let regular = (0..table.len() / lanes).map(|r| entry(lanes * r + lane));
    let early = (0..lanes.trailing_zeros()).map(|s| {
        let m = 1usize << s;
        entry(m + lane % m)
    });
    regular.chain(early).collect()
}

fn constant(value: u64) -> Constant<Index> {
    Constant::new(Bits::from(value))
}

macro_rules! ntt_unit {
    ($(#[$doc:meta])* $name:ident, width: $w:tt, butterfly: $butterfly:ty) => {
        $(#[$doc])*
        #[derive(LogicBlock)]
        pub struct $name {
            /// Clock.
            pub clock: Signal<In, Clock>,
            /// Host: write `write_data` to coefficient `address` (ignored while busy).
            pub write_enable: Signal<In, Bit>,
            /// Host: coefficient address for loads and reads.
            pub address: Signal<In, Index>,
            /// Host: the coefficient to load.
            pub write_data: Signal<In, Bits<$w>>,
            /// Host: coefficient at the `address` of the previous cycle.
            pub read_data: Signal<Out, Bits<$w>>,
            /// Start a transform (one-cycle pulse, ignored while busy).
            pub start: Signal<In, Bit>,
            /// With `start`: inverse (GS with ÷2 per stage) instead of forward (CT).
            pub inverse: Signal<In, Bit>,
            /// A transform is running.
            pub busy: Signal<Out, Bit>,
            banks: Vec<BankRam<$w>>,
            bank_ids: Vec<Constant<Index>>,
            lanes: Vec<$butterfly>,
            forward_twiddles: Vec<TwiddleRom<$w>>,
            inverse_twiddles: Vec<TwiddleRom<$w>>,
            modulus: Constant<Bits<$w>>,
            // Shape constants (rust-hdl emits bare integers as 32-bit literals, a Verilator
            // WIDTH warning in 16-bit expressions).
            zero: Constant<Index>,
            one: Constant<Index>,
            lane_count: Constant<Index>,
            lane_mask: Constant<Index>,
            top_bit: Constant<Index>,
            row_shift: Constant<Index>,
            quarter: Constant<Index>,
            set_offset: Constant<Index>,
            result_offset: Constant<Index>,
            last_cycle: Constant<Index>,
            last_stage: Constant<Index>,
            early_base: Constant<Index>,
            first_blocks: Constant<Index>,
            all_blocks: Constant<Index>,
            last_groups: Constant<Index>,
            stage_gap: Constant<Index>,
            drain_cycles: Constant<Index>,
            // Sequencer.
            running: DFF<Bit>,
            mode_inverse: DFF<Bit>,
            issuing: DFF<Bit>,
            finishing: DFF<Bit>,
            pause: DFF<Index>,
            cycle: DFF<Index>,
            stage: DFF<Index>,
            groups: DFF<Index>,
            blocks: DFF<Index>,
            log_groups: DFF<Index>,
            // Issue (combinational).
            read_set: Signal<Local, Index>,
            lower_address: Signal<Local, Index>,
            upper_address: Signal<Local, Index>,
            adjacent_address: Signal<Local, Index>,
            twiddle_address: Signal<Local, Index>,
            host_flip: Signal<Local, Index>,
            host_bank: Signal<Local, Index>,
            host_address: Signal<Local, Index>,
            // One cycle after issue: bank and ROM data valid.
            read_valid: DFF<Bit>,
            read_odd: DFF<Bit>,
            read_upper: DFF<Bit>,
            host_bank_q: DFF<Index>,
            // Write-back: the issue's cycle and destination half, delayed with the data.
            cycle_delay: [DFF<Index>; WRITE_DELAY],
            set_delay: [DFF<Bit>; WRITE_DELAY],
            write_cycle: Signal<Local, Index>,
            write_set: Signal<Local, Index>,
            write_lower: Signal<Local, Index>,
            write_upper: Signal<Local, Index>,
            write_adjacent: Signal<Local, Index>,
        }

        // rust-hdl's blocks do not implement Debug.
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("lanes", &self.lanes.len())
                    .field("banks", &self.banks.len())
                    .field("busy", &self.busy.val())
                    .finish_non_exhaustive()
            }
        }

        impl $name {
            /// The unit for `config` (its width must be this type's) with `plan`'s twiddles.
            pub fn new(config: NttUnitConfig, plan: &NttPlan) -> Self {
                assert_eq!(config.width.bits(), $w, "unit width");
                assert_eq!(plan.log_n(), config.log_n, "plan size");
                let lanes = config.lanes as usize;
                let p = u64::from(config.lanes);
                let n = config.n();
                let stage_cycles = config.stage_cycles();
                // The golden quotients are ⌊w·2^64/q⌋; a 32-bit word takes the top half.
                let shoup_shift = 64 - $w;
                let rom = |table: &[u64], shoup: &[u64], lane, direction| {
                    TwiddleRom::new(
                        lane_twiddles(table, shoup, lane, lanes, shoup_shift),
                        format!("twiddles_{direction}_{lane}.hex"),
                    )
                };
                Self {
                    clock: Default::default(),
                    write_enable: Default::default(),
                    address: Default::default(),
                    write_data: Default::default(),
                    read_data: Default::default(),
                    start: Default::default(),
                    inverse: Default::default(),
                    busy: Default::default(),
                    banks: (0..2 * lanes).map(|_| BankRam::new(config.bank_depth())).collect(),
                    bank_ids: (0..2 * p).map(constant).collect(),
                    lanes: (0..lanes).map(|_| Default::default()).collect(),
                    forward_twiddles: (0..lanes)
                        .map(|i| rom(plan.twiddles(), plan.twiddles_shoup(), i, "forward"))
                        .collect(),
                    inverse_twiddles: (0..lanes)
                        .map(|i| rom(plan.inv_twiddles(), plan.inv_twiddles_shoup(), i, "inverse"))
                        .collect(),
                    modulus: Constant::new(Bits::from(plan.modulus().value())),
                    zero: constant(0),
                    one: constant(1),
                    lane_count: constant(p),
                    lane_mask: constant(2 * p - 1),
                    top_bit: constant(n / 2),
                    row_shift: constant(u64::from(config.lane_bits()) + 1),
                    quarter: constant(config.quarter()),
                    set_offset: constant(stage_cycles),
                    result_offset: constant(if config.log_n % 2 == 1 { stage_cycles } else { 0 }),
                    last_cycle: constant(stage_cycles - 1),
                    last_stage: constant(u64::from(config.log_n) - 1),
                    // Only read when m < P, so never for P = 1 (where N/P may not fit).
                    early_base: constant(if p > 1 { n / p } else { 0 }),
                    first_blocks: constant(u64::from(p == 1)),
                    all_blocks: constant(stage_cycles),
                    last_groups: constant(n / 2),
                    stage_gap: constant(config.stage_gap()),
                    drain_cycles: constant(config.pipeline_fill()),
                    running: Default::default(),
                    mode_inverse: Default::default(),
                    issuing: Default::default(),
                    finishing: Default::default(),
                    pause: Default::default(),
                    cycle: Default::default(),
                    stage: Default::default(),
                    groups: Default::default(),
                    blocks: Default::default(),
                    log_groups: Default::default(),
                    read_set: Default::default(),
                    lower_address: Default::default(),
                    upper_address: Default::default(),
                    adjacent_address: Default::default(),
                    twiddle_address: Default::default(),
                    host_flip: Default::default(),
                    host_bank: Default::default(),
                    host_address: Default::default(),
                    read_valid: Default::default(),
                    read_odd: Default::default(),
                    read_upper: Default::default(),
                    host_bank_q: Default::default(),
                    cycle_delay: Default::default(),
                    set_delay: Default::default(),
                    write_cycle: Default::default(),
                    write_set: Default::default(),
                    write_lower: Default::default(),
                    write_upper: Default::default(),
                    write_adjacent: Default::default(),
                }
            }
        }

        impl $name {
            /// The `$readmemh` files of every twiddle ROM (name, contents).
            pub fn rom_files(&self) -> Vec<(String, String)> {
                self.forward_twiddles
                    .iter()
                    .chain(&self.inverse_twiddles)
                    .map(TwiddleRom::file)
                    .collect()
            }
        }

        impl Logic for $name {
            #[hdl_gen]
            fn update(&mut self) {
                dff_setup!(
                    self, clock, running, mode_inverse, issuing, finishing, pause, cycle, stage,
                    groups, blocks, log_groups, read_valid, read_odd, read_upper, host_bank_q
                );
                for i in 0..WRITE_DELAY {
                    self.cycle_delay[i].clock.next = self.clock.val();
                    self.set_delay[i].clock.next = self.clock.val();
                }
                for i in 1..WRITE_DELAY {
                    self.cycle_delay[i].d.next = self.cycle_delay[i - 1].q.val();
                    self.set_delay[i].d.next = self.set_delay[i - 1].q.val();
                }
                for i in 0..self.banks.len() {
                    self.banks[i].clock.next = self.clock.val();
                }
                for i in 0..self.lanes.len() {
                    self.lanes[i].clock.next = self.clock.val();
                    self.forward_twiddles[i].clock.next = self.clock.val();
                    self.inverse_twiddles[i].clock.next = self.clock.val();
                }

                // Issue: the rows of this cycle's pairs in the buffer the stage reads.
                self.read_set.next = self.zero.val();
                if self.stage.q.val().get_bit(0) {
                    self.read_set.next = self.set_offset.val();
                }
                self.lower_address.next = (self.cycle.q.val() >> 1) | self.read_set.val();
                self.upper_address.next =
                    ((self.cycle.q.val() >> 1) + self.quarter.val()) | self.read_set.val();
                self.adjacent_address.next = self.cycle.q.val() | self.read_set.val();
                if self.groups.q.val() < self.lane_count.val() {
                    self.twiddle_address.next = self.early_base.val() + self.log_groups.q.val();
                } else {
                    self.twiddle_address.next = self.blocks.q.val()
                        | (self.cycle.q.val() & (self.blocks.q.val() - self.one.val()));
                }
                for i in 0..self.lanes.len() {
                    self.forward_twiddles[i].address.next = self.twiddle_address.val();
                    self.inverse_twiddles[i].address.next = self.twiddle_address.val();
                }
                // Host: coefficient a is in bank (a mod 2P) xor P·a_{n-1}, row a >> log2(2P).
                self.host_flip.next = self.zero.val();
                if (self.address.val() & self.top_bit.val()) != self.zero.val() {
                    self.host_flip.next = self.lane_count.val();
                }
                self.host_bank.next =
                    (self.address.val() & self.lane_mask.val()) ^ self.host_flip.val();
                self.host_address.next = self.address.val() >> self.row_shift.val();
                self.host_bank_q.d.next = self.host_bank.val();
                // `p` is bound to P by a one-iteration loop: rust-hdl evaluates array indices
                // with loop variables only.
                for p in (self.lanes.len())..(self.lanes.len() + 1) {
                    for i in 0..self.lanes.len() {
                        if !self.running.q.val() {
                            self.banks[i].read_address.next =
                                self.host_address.val() | self.result_offset.val();
                            self.banks[i + p].read_address.next =
                                self.host_address.val() | self.result_offset.val();
                        } else if self.mode_inverse.q.val() {
                            self.banks[i].read_address.next = self.adjacent_address.val();
                            self.banks[i + p].read_address.next = self.adjacent_address.val();
                        } else if self.cycle.q.val().get_bit(0) {
                            self.banks[i].read_address.next = self.upper_address.val();
                            self.banks[i + p].read_address.next = self.lower_address.val();
                        } else {
                            self.banks[i].read_address.next = self.lower_address.val();
                            self.banks[i + p].read_address.next = self.upper_address.val();
                        }
                    }
                }
                self.read_valid.d.next = self.running.q.val() & self.issuing.q.val();
                self.read_odd.d.next = self.cycle.q.val().get_bit(0);
                self.read_upper.d.next = self.cycle.q.val() >= self.quarter.val();
                self.cycle_delay[0].d.next = self.cycle.q.val();
                self.set_delay[0].d.next = !self.stage.q.val().get_bit(0);

                // Read: route the banks to the butterflies (halves or adjacent pattern).
                for p in (self.lanes.len())..(self.lanes.len() + 1) {
                    for i in 0..self.lanes.len() {
                        self.lanes[i].valid.next = self.read_valid.q.val();
                        self.lanes[i].inverse.next = self.mode_inverse.q.val();
                        self.lanes[i].halve.next = self.mode_inverse.q.val();
                        self.lanes[i].q.next = self.modulus.val();
                        if self.mode_inverse.q.val() {
                            self.lanes[i].w.next = self.inverse_twiddles[i].w.val();
                            self.lanes[i].w_shoup.next = self.inverse_twiddles[i].w_shoup.val();
                            if self.read_upper.q.val() {
                                self.lanes[i].x.next =
                                    self.banks[(2 * i + p) % (2 * p)].read_data.val();
                                self.lanes[i].y.next =
                                    self.banks[(2 * i + 1 + p) % (2 * p)].read_data.val();
                            } else {
                                self.lanes[i].x.next = self.banks[2 * i].read_data.val();
                                self.lanes[i].y.next = self.banks[2 * i + 1].read_data.val();
                            }
                        } else {
                            self.lanes[i].w.next = self.forward_twiddles[i].w.val();
                            self.lanes[i].w_shoup.next = self.forward_twiddles[i].w_shoup.val();
                            if self.read_odd.q.val() {
                                self.lanes[i].x.next = self.banks[i + p].read_data.val();
                                self.lanes[i].y.next = self.banks[i].read_data.val();
                            } else {
                                self.lanes[i].x.next = self.banks[i].read_data.val();
                                self.lanes[i].y.next = self.banks[i + p].read_data.val();
                            }
                        }
                    }
                }
                self.read_data.next = self.banks[0].read_data.val();
                for i in 0..self.banks.len() {
                    if self.host_bank_q.q.val() == self.bank_ids[i].val() {
                        self.read_data.next = self.banks[i].read_data.val();
                    }
                }

                // Write-back: the butterfly results into the other buffer (adjacent pattern
                // forward, halves pattern inverse), or a host load while idle.
                self.write_cycle.next = self.cycle_delay[7].q.val();
                self.write_set.next = self.zero.val();
                if self.set_delay[7].q.val() {
                    self.write_set.next = self.set_offset.val();
                }
                self.write_lower.next = (self.write_cycle.val() >> 1) | self.write_set.val();
                self.write_upper.next =
                    ((self.write_cycle.val() >> 1) + self.quarter.val()) | self.write_set.val();
                self.write_adjacent.next = self.write_cycle.val() | self.write_set.val();
                for i in 0..self.banks.len() {
                    self.banks[i].write_enable.next = false;
                    self.banks[i].write_address.next = self.host_address.val();
                    self.banks[i].write_data.next = self.write_data.val();
                    if self.write_enable.val()
                        & !self.running.q.val()
                        & (self.host_bank.val() == self.bank_ids[i].val())
                    {
                        self.banks[i].write_enable.next = true;
                    }
                }
                for p in (self.lanes.len())..(self.lanes.len() + 1) {
                    for i in 0..self.lanes.len() {
                        if self.lanes[i].valid_out.val() {
                            if self.mode_inverse.q.val() {
                                if self.write_cycle.val().get_bit(0) {
                                    self.banks[i + p].write_enable.next = true;
                                    self.banks[i + p].write_address.next = self.write_lower.val();
                                    self.banks[i + p].write_data.next = self.lanes[i].x_out.val();
                                    self.banks[i].write_enable.next = true;
                                    self.banks[i].write_address.next = self.write_upper.val();
                                    self.banks[i].write_data.next = self.lanes[i].y_out.val();
                                } else {
                                    self.banks[i].write_enable.next = true;
                                    self.banks[i].write_address.next = self.write_lower.val();
                                    self.banks[i].write_data.next = self.lanes[i].x_out.val();
                                    self.banks[i + p].write_enable.next = true;
                                    self.banks[i + p].write_address.next = self.write_upper.val();
                                    self.banks[i + p].write_data.next = self.lanes[i].y_out.val();
                                }
                            } else if self.write_cycle.val() >= self.quarter.val() {
                                self.banks[(2 * i + p) % (2 * p)].write_enable.next = true;
                                self.banks[(2 * i + p) % (2 * p)].write_address.next =
                                    self.write_adjacent.val();
                                self.banks[(2 * i + p) % (2 * p)].write_data.next =
                                    self.lanes[i].x_out.val();
                                self.banks[(2 * i + 1 + p) % (2 * p)].write_enable.next = true;
                                self.banks[(2 * i + 1 + p) % (2 * p)].write_address.next =
                                    self.write_adjacent.val();
                                self.banks[(2 * i + 1 + p) % (2 * p)].write_data.next =
                                    self.lanes[i].y_out.val();
                            } else {
                                self.banks[2 * i].write_enable.next = true;
                                self.banks[2 * i].write_address.next = self.write_adjacent.val();
                                self.banks[2 * i].write_data.next = self.lanes[i].x_out.val();
                                self.banks[2 * i + 1].write_enable.next = true;
                                self.banks[2 * i + 1].write_address.next =
                                    self.write_adjacent.val();
                                self.banks[2 * i + 1].write_data.next = self.lanes[i].y_out.val();
                            }
                        }
                    }
                }

                // Sequencing.
                self.busy.next = self.running.q.val();
                if !self.running.q.val() {
                    if self.start.val() {
                        self.running.d.next = true;
                        self.issuing.d.next = true;
                        self.finishing.d.next = false;
                        self.mode_inverse.d.next = self.inverse.val();
                        self.cycle.d.next = self.zero.val();
                        self.stage.d.next = self.zero.val();
                        if self.inverse.val() {
                            self.groups.d.next = self.last_groups.val();
                            self.blocks.d.next = self.all_blocks.val();
                            self.log_groups.d.next = self.last_stage.val();
                        } else {
                            self.groups.d.next = self.one.val();
                            self.blocks.d.next = self.first_blocks.val();
                            self.log_groups.d.next = self.zero.val();
                        }
                    }
                } else if self.issuing.q.val() {
                    self.cycle.d.next = self.cycle.q.val() + self.one.val();
                    if self.cycle.q.val() == self.last_cycle.val() {
                        self.cycle.d.next = self.zero.val();
                        if self.stage.q.val() == self.last_stage.val() {
                            self.issuing.d.next = false;
                            self.finishing.d.next = true;
                            self.pause.d.next = self.drain_cycles.val();
                        } else {
                            self.stage.d.next = self.stage.q.val() + self.one.val();
                            if self.mode_inverse.q.val() {
                                self.groups.d.next = self.groups.q.val() >> 1;
                                self.blocks.d.next = self.blocks.q.val() >> 1;
                                self.log_groups.d.next = self.log_groups.q.val() - self.one.val();
                            } else {
                                self.groups.d.next = self.groups.q.val() << 1;
                                if (self.groups.q.val() << 1) == self.lane_count.val() {
                                    self.blocks.d.next = self.one.val();
                                } else {
                                    self.blocks.d.next = self.blocks.q.val() << 1;
                                }
                                self.log_groups.d.next = self.log_groups.q.val() + self.one.val();
                            }
                            if self.stage_gap.val() != self.zero.val() {
                                self.issuing.d.next = false;
                                self.pause.d.next = self.stage_gap.val();
                            }
                        }
                    }
                } else if self.pause.q.val() > self.one.val() {
                    self.pause.d.next = self.pause.q.val() - self.one.val();
                } else if self.finishing.q.val() {
                    self.running.d.next = false;
                } else {
                    self.issuing.d.next = true;
                }
            }
        }
    };
}

ntt_unit! {
    /// The NTT unit on a 32-bit word (odd q < 2^31).
    NttUnit32, width: 32, butterfly: Butterfly32
}

ntt_unit! {
    /// The NTT unit on a 64-bit word (odd q < 2^62, the golden model's bound).
    NttUnit64, width: 64, butterfly: Butterfly64
}

/// The host ports of either unit, so one driver and one testbench serve both widths.
pub trait NttUnitPorts: Block {
    /// The clock input.
    fn clock_port(&mut self) -> &mut Signal<In, Clock>;
    /// Drives the host port for the next edge.
    fn host(&mut self, write: Option<(u64, u64)>, address: u64, start: Option<bool>);
    /// `read_data`.
    fn read_word(&self) -> u64;
    /// `busy`.
    fn is_busy(&self) -> bool;
}

macro_rules! impl_unit_ports {
    ($name:ty) => {
        impl NttUnitPorts for $name {
            fn clock_port(&mut self) -> &mut Signal<In, Clock> {
                &mut self.clock
            }

            fn host(&mut self, write: Option<(u64, u64)>, address: u64, start: Option<bool>) {
                self.write_enable.next = write.is_some();
                let (address, value) = write.unwrap_or((address, 0));
                self.address.next = Bits::from(address);
                self.write_data.next = Bits::from(value);
                self.start.next = start.is_some();
                self.inverse.next = start.unwrap_or(false);
            }

            fn read_word(&self) -> u64 {
                self.read_data.val().to_u64()
            }

            fn is_busy(&self) -> bool {
                self.busy.val()
            }
        }
    };
}

impl_unit_ports!(NttUnit32);
impl_unit_ports!(NttUnit64);

/// Runs one transform of `input` (N values in `[0, q)`) in rust-hdl's simulator: load, start,
/// wait for `busy` to fall, read back. Returns the result and the cycles from the start edge
/// until `busy` is seen low ([`NttUnitConfig::transform_cycles`] when correct).
pub fn simulate_unit_transform<U: NttUnitPorts>(
    sim: &mut ClockedSim<U>,
    input: &[u64],
    inverse: bool,
) -> Result<(Vec<u64>, u64), RtlSimError> {
    for (address, &value) in input.iter().enumerate() {
        sim.uut().host(Some((address as u64, value)), 0, None);
        sim.cycle()?;
    }
    sim.uut().host(None, 0, Some(inverse));
    sim.cycle()?;
    sim.uut().host(None, 0, None);
    let mut cycles = 1;
    // Bounded: a unit that never finishes fails the comparison instead of hanging.
    let bound = 64 * input.len() as u64 * u64::from(input.len().trailing_zeros());
    while sim.uut().is_busy() && cycles <= bound {
        sim.cycle()?;
        cycles += 1;
    }
    let mut output = Vec::with_capacity(input.len());
    for address in 0..input.len() {
        sim.uut().host(None, address as u64, None);
        sim.cycle()?;
        output.push(sim.uut().read_word());
    }
    Ok((output, cycles))
}

/// The largest NTT prime (q ≡ 1 mod 2N) of `bits` bits and its plan, for a unit of `config`.
pub fn unit_plan(config: NttUnitConfig, bits: u32) -> Result<NttPlan, HwError> {
    let allowed = match config.width {
        Width::W32 => "log2(N) + 3 ..= 31 for the 32-bit word",
        Width::W64 => "log2(N) + 3 ..= 62 for the 64-bit word",
    };
    if !(config.log_n + 3..=config.width.max_modulus_bits()).contains(&bits) {
        return Err(HwError::OutOfRange {
            parameter: "--modulus-bits",
            value: u64::from(bits),
            allowed,
        });
    }
    let golden = |e: RingError| HwError::Golden(e.to_string());
    let n = config.n() as usize;
    let modulus: Modulus = ntt_moduli(bits, 1, n).map_err(golden)?[0];
    NttPlan::new(n, &modulus).map_err(golden)
}

/// The unit's files for `config` with `plan`'s modulus and twiddles: the rust-hdl Verilog
/// ([`UNIT_DESIGN_FILE`]) and the twiddle ROMs' `$readmemh` files it loads.
pub fn unit_files(config: NttUnitConfig, plan: &NttPlan) -> Vec<(String, String)> {
    macro_rules! files {
        ($unit:expr) => {{
            let mut unit = $unit;
            unit.connect_all();
            let mut files = vec![(UNIT_DESIGN_FILE.to_string(), generate_verilog(&unit))];
            files.extend(unit.rom_files());
            files
        }};
    }
    match config.width {
        Width::W32 => files!(NttUnit32::new(config, plan)),
        Width::W64 => files!(NttUnit64::new(config, plan)),
    }
}

/// The NTT-unit design file name.
pub const UNIT_DESIGN_FILE: &str = "ntt_unit.v";
/// The NTT-unit testbench file name.
pub const UNIT_TESTBENCH_FILE: &str = "tb_ntt_unit.v";
/// The vector file: per transform, N inputs then N expected outputs.
pub const UNIT_VECTORS_FILE: &str = "ntt_unit_vectors.hex";
/// The manifest file name.
pub const UNIT_MANIFEST_FILE: &str = "ntt_unit_manifest.json";

/// What an NTT-unit design directory holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitManifest {
    /// The unit's shape.
    pub config: NttUnitConfig,
    /// The prime.
    pub q: u64,
    /// Transforms in the vector file; even ones are forward, odd ones inverse.
    pub transforms: usize,
    /// Issue cycles per transform, `(N/2)·log2 N / P`.
    pub issue_cycles: u64,
    /// Cycles from the start edge until `busy` is seen low.
    pub cycles_per_transform: u64,
    /// Seed of the ChaCha20 generator that drew the inputs.
    pub seed: u64,
    /// Where the expected outputs come from.
    pub golden_model: String,
}

impl UnitManifest {
    /// Reads `DIR/ntt_unit_manifest.json`.
    pub fn read(dir: &Path) -> Result<Self, HwError> {
        let path = dir.join(UNIT_MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(HwError::io(&path))?;
        serde_json::from_str(&text).map_err(|e| HwError::BadDesignDir {
            path,
            reason: format!("not an NTT-unit manifest: {e}"),
        })
    }
}

/// A testbench that loads each transform's input, runs it (even: forward, odd: inverse),
/// checks the cycle count and every output coefficient, and prints `N passed, N failed`.
pub fn unit_testbench(config: NttUnitConfig, transforms: usize) -> String {
    let n = config.n();
    let w = config.width.bits();
    let cycles = config.transform_cycles();
    let lanes = config.lanes;
    format!(
        r#"// Self-checking testbench for the hesim NTT unit (N = {n}, P = {lanes}, {w}-bit word).
// Vectors (hesim_sw::ring): per transform N inputs then N expected outputs; even transforms
// are forward (CT), odd ones inverse (GS with /2 per stage).
`timescale 1ns/1ps
module tb;
    localparam integer N = {n};
    localparam integer W = {w};
    localparam integer TRANSFORMS = {transforms};
    localparam integer CYCLES = {cycles};

    reg [W-1:0] data [0:2*N*TRANSFORMS-1];
    reg clock = 1'b0;
    reg write_enable = 1'b0;
    reg [15:0] address = 16'h0;
    reg [W-1:0] write_data = {{W{{1'b0}}}};
    reg start = 1'b0;
    reg inverse = 1'b0;
    wire [W-1:0] read_data;
    wire busy;
    integer k, i, cycles;
    integer passed_forward = 0, failed_forward = 0;
    integer passed_inverse = 0, failed_inverse = 0;
    integer cycle_errors = 0;

    top dut(
        .clock(clock), .write_enable(write_enable), .address(address),
        .write_data(write_data), .read_data(read_data), .start(start), .inverse(inverse),
        .busy(busy)
    );

    always #5 clock = ~clock;

    initial begin
        $readmemh("{vectors}", data);
        for (k = 0; k < TRANSFORMS; k = k + 1) begin
            for (i = 0; i < N; i = i + 1) begin
                @(negedge clock);
                write_enable = 1'b1;
                address = i[15:0];
                write_data = data[2*N*k + i];
            end
            @(negedge clock);
            write_enable = 1'b0;
            start = 1'b1;
            inverse = (k % 2) == 1;
            @(negedge clock);
            start = 1'b0;
            cycles = 1;
            while (busy && cycles <= 4 * CYCLES) begin
                @(negedge clock);
                cycles = cycles + 1;
            end
            if (cycles != CYCLES) begin
                cycle_errors = cycle_errors + 1;
                $display("transform %0d took %0d cycles (documented %0d)", k, cycles, CYCLES);
            end
            for (i = 0; i < N; i = i + 1) begin
                address = i[15:0];
                @(negedge clock);
                if (read_data == data[2*N*k + N + i]) begin
                    if (inverse) passed_inverse = passed_inverse + 1;
                    else passed_forward = passed_forward + 1;
                end else begin
                    if (inverse) failed_inverse = failed_inverse + 1;
                    else failed_forward = failed_forward + 1;
                    if (failed_forward + failed_inverse <= 5)
                        $display("mismatch: transform %0d coefficient %0d: got %h, expected %h",
                            k, i, read_data, data[2*N*k + N + i]);
                end
            end
        end
        $display("forward: %0d passed, %0d failed", passed_forward, failed_forward);
        $display("inverse: %0d passed, %0d failed", passed_inverse, failed_inverse);
        $display("cycles per transform: %0d (documented %0d), %0d mismatches", cycles, CYCLES, cycle_errors);
        $display("total: %0d passed, %0d failed", passed_forward + passed_inverse,
            failed_forward + failed_inverse + cycle_errors);
        $finish;
    end
endmodule
"#,
        vectors = UNIT_VECTORS_FILE,
    )
}

/// Writes an NTT-unit design directory: the unit for `config` and the largest NTT prime of
/// `bits` bits, `transforms` random inputs (even forward, odd inverse) with outputs from the
/// golden model.
pub fn write_unit_dir(
    dir: &Path,
    config: NttUnitConfig,
    bits: u32,
    transforms: usize,
    seed: u64,
) -> Result<UnitManifest, HwError> {
    if !(1..=1000).contains(&transforms) {
        return Err(HwError::OutOfRange {
            parameter: "--transforms",
            value: transforms as u64,
            allowed: "1 ..= 1000",
        });
    }
    let plan = unit_plan(config, bits)?;
    let q = plan.modulus().value();
    let digits = config.width.bits() as usize / 4;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut hex = String::new();
    for k in 0..transforms {
        let input: Vec<u64> = (0..plan.n()).map(|_| rng.random_range(0..q)).collect();
        let mut output = input.clone();
        if k % 2 == 0 {
            plan.forward_golden(&mut output);
        } else {
            plan.inverse_golden(&mut output);
        }
        for v in input.iter().chain(&output) {
            hex.push_str(&format!("{v:0digits$x}\n"));
        }
    }
    let manifest = UnitManifest {
        config,
        q,
        transforms,
        issue_cycles: config.issue_cycles(),
        cycles_per_transform: config.transform_cycles(),
        seed,
        golden_model: "hesim_sw::ring::NttPlan::{forward_golden, inverse_golden}".into(),
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|source| HwError::Serialize {
        what: "NTT-unit manifest",
        source,
    })?;
    std::fs::create_dir_all(dir).map_err(HwError::io(dir))?;
    let mut files = unit_files(config, &plan);
    files.push((
        UNIT_TESTBENCH_FILE.into(),
        unit_testbench(config, transforms),
    ));
    files.push((UNIT_VECTORS_FILE.into(), hex));
    files.push((UNIT_MANIFEST_FILE.into(), json + "\n"));
    let files: Vec<(&str, String)> = files.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    write_all_atomically(dir, &files)?;
    Ok(manifest)
}
