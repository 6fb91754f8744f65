//! The automorphism unit: σ_g on one NTT-form limb (the golden model's bit-reversed slot
//! order), any odd Galois element g < 2N, P lanes (P = 2 … 64, a power of two), N = 2^4 …
//! 2^16; equal to `hesim_sw::ring::GaloisPermutation::apply`.
//!
//! **Why one input row per output row.** Slot k holds a(ψ^{2u+1}) with u = bitrev(k), and
//! σ_g reads slot `bitrev(g·u + (g−1)/2 mod N)`. The P outputs of row t (k = tP … tP + P − 1)
//! have u = U_t + bitrev_p(i)·N/P (U_t = bitrev(t) over log2(N/P) bits), so their sources
//! u' = A_t + (g·bitrev_p(i) mod P)·N/P with A_t = g·U_t + (g−1)/2 mod N share their low
//! log2(N/P) bits: they are exactly the P coefficients of one input row,
//! R_t = bitrev(A_t mod N/P), permuted across lanes. So the unit reads one row per cycle and
//! writes one row per cycle: N/P cycles per limb, `hesim-sim`'s automorphism formula.
//!
//! **Lane network: a log-stage swap network (as in ARK), not F1's permute–transpose–permute.**
//! Coefficient x sits in bank `bitrev_p(x mod P)`, so in bank coordinates the data of bank ι
//! goes to output bank o with ι = g·o + a_t (mod P), a_t = A_t >> log2(N/P). Multiplying by an
//! odd g and adding a_t is triangular in the bits (bit j of the result is o_j xor a function of
//! the lower bits of o), so log2 P stages of 2×2 swaps route it, LSB first: stage j swaps the
//! pair that differs in bit j when bit j of `g·v + a_t` is set, v the pair's low j bits (its
//! destination bits, already in place). P/2 · log2 P switches, no crossbar, no conflicts.
//!
//! **Host port** as in [`crate::ntt_unit`]: one word per cycle, `start` with `galois` = g,
//! `busy` until the permuted limb is written.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rust_hdl::prelude::*;
use serde::{Deserialize, Serialize};

use hesim_sw::ring::GaloisPermutation;

use crate::emit::write_all_atomically;
use crate::rtl_sim::{ClockedSim, RtlSimError};
use crate::{HwError, Width};

type Index = Bits<16>;

/// Switch stages the kernel is written for (log2 of the largest P).
const MAX_STAGES: usize = 6;

/// A buildable automorphism unit: N = 2^`log_n`, `lanes` words per cycle, `width`-bit word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AutomorphismConfig {
    /// log2 N.
    pub log_n: u32,
    /// Lanes, P.
    pub lanes: u32,
    /// Datapath word.
    pub width: Width,
}

impl AutomorphismConfig {
    /// Checks the shape: P a power of two in 2 ..= 64, log2 N in 4 ..= 16, N ≥ 4P.
    pub fn new(log_n: u32, lanes: u32, width: Width) -> Result<Self, HwError> {
        let reject = |constraint: &'static str| HwError::UnsupportedNttUnit {
            log_n,
            lanes,
            constraint,
        };
        if !lanes.is_power_of_two() || !(2..=1 << MAX_STAGES).contains(&lanes) {
            return Err(reject(
                "P (--lanes) must be a power of two in 2 ..= 64 (one lane needs no network)",
            ));
        }
        if !(4..=16).contains(&log_n) {
            return Err(reject("log2 N (--log-n) must be in 4 ..= 16"));
        }
        if (1u64 << log_n) < 4 * u64::from(lanes) {
            return Err(reject("N must be at least 4P"));
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

    /// Cycles per limb, N/P (`hesim-sim`'s automorphism formula).
    pub fn issue_cycles(self) -> u64 {
        self.n() / u64::from(self.lanes)
    }

    /// Cycles beyond the issue cycles from the `start` edge until `busy` is seen low: the
    /// start cycle and the pipeline (product, row address, read and network, write).
    pub fn latency_cycles(self) -> u64 {
        1 + PIPELINE_DRAIN
    }

    /// Cycles from the `start` edge until `busy` is seen low.
    pub fn transform_cycles(self) -> u64 {
        self.issue_cycles() + self.latency_cycles()
    }
}

/// Edges after the last issue's until its row is written (read address, then read and
/// network): the edge that lowers `busy`.
const PIPELINE_DRAIN: u64 = 2;

impl std::fmt::Display for AutomorphismConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "N = 2^{}, P = {}, {}-bit word",
            self.log_n, self.lanes, self.width
        )
    }
}

/// Reverses the low `bits` bits of a 16-bit index (zero above), as plain Verilog wiring.
#[derive(LogicBlock, Debug)]
pub struct BitReverse {
    /// The index.
    pub value: Signal<In, Index>,
    /// Its low `bits` bits reversed.
    pub reversed: Signal<Out, Index>,
    _bits: usize,
}

impl BitReverse {
    /// Reverses `bits` (0 ..= 16) bits.
    pub fn new(bits: u32) -> Self {
        Self {
            value: Default::default(),
            reversed: Default::default(),
            _bits: bits as usize,
        }
    }
}

impl Logic for BitReverse {
    fn update(&mut self) {
        let bits = self._bits;
        let x = self.value.val().to_u64() & ((1u64 << bits) - 1);
        let reversed = if bits == 0 {
            0
        } else {
            x.reverse_bits() >> (64 - bits)
        };
        self.reversed.next = Bits::from(reversed);
    }

    fn connect(&mut self) {
        self.reversed.connect();
    }

    fn hdl(&self) -> Verilog {
        let bits = self._bits;
        let mut text = String::new();
        if bits < 16 {
            text.push_str(&format!(
                "wire [{}:0] unused_value_high = value[15:{bits}];\n",
                15 - bits
            ));
        }
        let reversed: Vec<String> = (0..bits).map(|i| format!("value[{i}]")).collect();
        let body = match (bits, reversed.is_empty()) {
            (16, _) => format!("{{{}}}", reversed.join(", ")),
            (_, true) => "16'h0".to_string(),
            _ => format!("{{{}'h0, {}}}", 16 - bits, reversed.join(", ")),
        };
        text.push_str(&format!("always @(*) reversed = {body};\n"));
        Verilog::Custom(text)
    }
}

/// The automorphism unit for `W`-bit words.
#[derive(LogicBlock)]
pub struct AutomorphismUnit<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Host: write `write_data` to slot `address` (ignored while busy).
    pub write_enable: Signal<In, Bit>,
    /// Host: slot address for loads and reads.
    pub address: Signal<In, Index>,
    /// Host: the value to load.
    pub write_data: Signal<In, Bits<W>>,
    /// Host: the permuted limb's slot at the `address` of the previous cycle.
    pub read_data: Signal<Out, Bits<W>>,
    /// Start (one-cycle pulse, ignored while busy).
    pub start: Signal<In, Bit>,
    /// With `start`: the Galois element g (odd, below 2N).
    pub galois: Signal<In, Bits<32>>,
    /// A permutation is running.
    pub busy: Signal<Out, Bit>,
    banks: Vec<crate::ntt_unit::BankRam<W>>,
    bank_ids: Vec<Constant<Index>>,
    /// Bit-reversal of the host address's lane bits, of the row counter, and of A_t's row bits.
    host_lane_reverse: BitReverse,
    row_reverse: BitReverse,
    source_reverse: BitReverse,
    /// `mask_bits[6v + b]`: all ones if bit b of v is set (g·v as a sum of shifted g).
    mask_bits: Vec<Constant<Index>>,
    /// g·v mod 2^16 for v < P/2.
    galois_multiples: Vec<Signal<Local, Index>>,
    /// (g·v + a_t) mod P; stage j reads only bit j of entry v < 2^j, the lower bits route
    /// earlier stages of other pairs, hence the `unused` in the name for the linter.
    route_unused_low: Vec<Signal<Local, Index>>,
    /// Stage j's inputs at `wires[j·P + z]`, the network output at `wires[6P + z]`.
    wires: Vec<Signal<Local, Bits<W>>>,
    _switches: [usize; MAX_STAGES],
    _passes: [usize; MAX_STAGES],
    zero: Constant<Index>,
    one: Constant<Index>,
    lane_mask: Constant<Index>,
    lane_shift: Constant<Index>,
    n_mask: Constant<Index>,
    row_mask: Constant<Index>,
    row_bits: Constant<Index>,
    output_offset: Constant<Index>,
    last_row: Constant<Index>,
    drain_cycles: Constant<Index>,
    running: DFF<Bit>,
    issuing: DFF<Bit>,
    pause: DFF<Index>,
    row: DFF<Index>,
    galois_low: DFF<Index>,
    galois_half: DFF<Index>,
    /// g·U_t (16×16 → 32 bits); A_t needs its low 16 bits only.
    product: DFF<Bits<32>>,
    unused_product_high: Signal<Local, Bits<16>>,
    unused_galois_high: Signal<Local, Bits<16>>,
    product_valid: DFF<Bit>,
    product_row: DFF<Index>,
    source: Signal<Local, Index>,
    read_valid: DFF<Bit>,
    read_row: DFF<Index>,
    read_shift: DFF<Index>,
    host_bank: Signal<Local, Index>,
    host_bank_q: DFF<Index>,
    host_address: Signal<Local, Index>,
}

impl<const W: usize> std::fmt::Debug for AutomorphismUnit<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutomorphismUnit")
            .field("banks", &self.banks.len())
            .field("busy", &self.busy.val())
            .finish_non_exhaustive()
    }
}

fn constant(value: u64) -> Constant<Index> {
    Constant::new(Bits::from(value))
}

impl<const W: usize> AutomorphismUnit<W> {
    /// The unit for `config` (its width must be `W`).
    pub fn new(config: AutomorphismConfig) -> Self {
        assert_eq!(config.width.bits() as usize, W, "unit width");
        let lanes = config.lanes as usize;
        let lane_bits = config.lane_bits();
        let row_bits = config.log_n - lane_bits;
        let rows = config.issue_cycles();
        let half = lanes / 2;
        let stages = lane_bits as usize;
        Self {
            clock: Default::default(),
            write_enable: Default::default(),
            address: Default::default(),
            write_data: Default::default(),
            read_data: Default::default(),
            start: Default::default(),
            galois: Default::default(),
            busy: Default::default(),
            banks: (0..lanes)
                .map(|_| crate::ntt_unit::BankRam::new(2 * rows))
                .collect(),
            bank_ids: (0..lanes as u64).map(constant).collect(),
            host_lane_reverse: BitReverse::new(lane_bits),
            row_reverse: BitReverse::new(row_bits),
            source_reverse: BitReverse::new(row_bits),
            mask_bits: (0..half * MAX_STAGES)
                .map(|k| {
                    let (v, b) = (k / MAX_STAGES, k % MAX_STAGES);
                    constant(if v >> b & 1 == 1 { 0xffff } else { 0 })
                })
                .collect(),
            galois_multiples: (0..half).map(|_| Default::default()).collect(),
            route_unused_low: (0..half).map(|_| Default::default()).collect(),
            wires: (0..(MAX_STAGES + 1) * lanes)
                .map(|_| Default::default())
                .collect(),
            _switches: std::array::from_fn(|j| if j < stages { half } else { 0 }),
            _passes: std::array::from_fn(|j| if j < stages { 0 } else { lanes }),
            zero: constant(0),
            one: constant(1),
            lane_mask: constant(lanes as u64 - 1),
            lane_shift: constant(u64::from(lane_bits)),
            n_mask: constant(config.n() - 1),
            row_mask: constant(rows - 1),
            row_bits: constant(u64::from(row_bits)),
            output_offset: constant(rows),
            last_row: constant(rows - 1),
            drain_cycles: constant(PIPELINE_DRAIN),
            running: Default::default(),
            issuing: Default::default(),
            pause: Default::default(),
            row: Default::default(),
            galois_low: Default::default(),
            galois_half: Default::default(),
            product: Default::default(),
            unused_product_high: Default::default(),
            unused_galois_high: Default::default(),
            product_valid: Default::default(),
            product_row: Default::default(),
            source: Default::default(),
            read_valid: Default::default(),
            read_row: Default::default(),
            read_shift: Default::default(),
            host_bank: Default::default(),
            host_bank_q: Default::default(),
            host_address: Default::default(),
        }
    }
}

impl<const W: usize> AutomorphismUnit<W> {
    /// The permuted limb as the banks hold it (slot k in bank bitrev_p(k mod P), output half,
    /// row k >> p), read from the simulation model without host cycles.
    pub fn output_limb(&self) -> Vec<u64> {
        let lanes = self.banks.len();
        let lane_bits = lanes.trailing_zeros();
        let rows = self.banks[0].words().len() / 2;
        (0..rows * lanes)
            .map(|k| {
                let lane = k % lanes;
                let bank = lane.reverse_bits() >> (usize::BITS - lane_bits);
                self.banks[bank].words()[rows + k / lanes]
            })
            .collect()
    }
}

impl<const W: usize> Logic for AutomorphismUnit<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            running,
            issuing,
            pause,
            row,
            galois_low,
            galois_half,
            product,
            product_valid,
            product_row,
            read_valid,
            read_row,
            read_shift,
            host_bank_q
        );
        for i in 0..self.banks.len() {
            self.banks[i].clock.next = self.clock.val();
        }

        // Stage 1 (issue row t): g·U_t with U_t = bitrev(t).
        self.row_reverse.value.next = self.row.q.val();
        self.product.d.next = self.galois_low.q.val() * self.row_reverse.reversed.val();
        self.product_valid.d.next = self.running.q.val() & self.issuing.q.val();
        self.product_row.d.next = self.row.q.val();
        self.unused_product_high.next = self.product.q.val().get_bits::<16>(16);
        self.unused_galois_high.next = self.galois.val().get_bits::<16>(16);

        // Stage 2: A_t = g·U_t + (g−1)/2 mod N; read input row bitrev(A_t mod N/P) in every
        // bank; a_t = A_t >> log2(N/P) steers the network.
        self.source.next =
            (self.product.q.val().get_bits::<16>(0) + self.galois_half.q.val()) & self.n_mask.val();
        self.source_reverse.value.next = self.source.val() & self.row_mask.val();
        self.read_valid.d.next = self.product_valid.q.val();
        self.read_row.d.next = self.product_row.q.val();
        self.read_shift.d.next = (self.source.val() >> self.row_bits.val()) & self.lane_mask.val();
        // Host: slot a lives in bank bitrev_p(a mod P), row a >> p (input half).
        self.host_lane_reverse.value.next = self.address.val() & self.lane_mask.val();
        self.host_bank.next = self.host_lane_reverse.reversed.val();
        self.host_address.next = self.address.val() >> self.lane_shift.val();
        self.host_bank_q.d.next = self.host_bank.val();
        for i in 0..self.banks.len() {
            if self.running.q.val() {
                self.banks[i].read_address.next = self.source_reverse.reversed.val();
            } else {
                self.banks[i].read_address.next =
                    self.host_address.val() | self.output_offset.val();
            }
        }

        // Stage 3: route (swap network) and write output row t.
        for v in 0..self.galois_multiples.len() {
            self.galois_multiples[v].next = ((self.galois_low.q.val() << 0)
                & self.mask_bits[6 * v].val())
                + ((self.galois_low.q.val() << 1) & self.mask_bits[6 * v + 1].val())
                + ((self.galois_low.q.val() << 2) & self.mask_bits[6 * v + 2].val())
                + ((self.galois_low.q.val() << 3) & self.mask_bits[6 * v + 3].val())
                + ((self.galois_low.q.val() << 4) & self.mask_bits[6 * v + 4].val())
                + ((self.galois_low.q.val() << 5) & self.mask_bits[6 * v + 5].val());
            self.route_unused_low[v].next =
                (self.galois_multiples[v].val() + self.read_shift.q.val()) & self.lane_mask.val();
        }
        // `p` is bound to P by a one-iteration loop: rust-hdl evaluates array indices with loop
        // variables only. Stage j: switch s joins z = (s / 2^j)·2^(j+1) + s mod 2^j and z + 2^j.
        for p in (self.banks.len())..(self.banks.len() + 1) {
            for z in 0..self.banks.len() {
                self.wires[z].next = self.banks[z].read_data.val();
            }
            for s in 0..self._switches[0] {
                if self.route_unused_low[0].val().get_bit(0) {
                    self.wires[p + 2 * s].next = self.wires[2 * s + 1].val();
                    self.wires[p + 2 * s + 1].next = self.wires[2 * s].val();
                } else {
                    self.wires[p + 2 * s].next = self.wires[2 * s].val();
                    self.wires[p + 2 * s + 1].next = self.wires[2 * s + 1].val();
                }
            }
            for z in 0..self._passes[0] {
                self.wires[p + z].next = self.wires[z].val();
            }
            for s in 0..self._switches[1] {
                if self.route_unused_low[s % 2].val().get_bit(1) {
                    self.wires[2 * p + (s / 2) * 4 + s % 2].next =
                        self.wires[p + (s / 2) * 4 + s % 2 + 2].val();
                    self.wires[2 * p + (s / 2) * 4 + s % 2 + 2].next =
                        self.wires[p + (s / 2) * 4 + s % 2].val();
                } else {
                    self.wires[2 * p + (s / 2) * 4 + s % 2].next =
                        self.wires[p + (s / 2) * 4 + s % 2].val();
                    self.wires[2 * p + (s / 2) * 4 + s % 2 + 2].next =
                        self.wires[p + (s / 2) * 4 + s % 2 + 2].val();
                }
            }
            for z in 0..self._passes[1] {
                self.wires[2 * p + z].next = self.wires[p + z].val();
            }
            for s in 0..self._switches[2] {
                if self.route_unused_low[s % 4].val().get_bit(2) {
                    self.wires[3 * p + (s / 4) * 8 + s % 4].next =
                        self.wires[2 * p + (s / 4) * 8 + s % 4 + 4].val();
                    self.wires[3 * p + (s / 4) * 8 + s % 4 + 4].next =
                        self.wires[2 * p + (s / 4) * 8 + s % 4].val();
                } else {
                    self.wires[3 * p + (s / 4) * 8 + s % 4].next =
                        self.wires[2 * p + (s / 4) * 8 + s % 4].val();
                    self.wires[3 * p + (s / 4) * 8 + s % 4 + 4].next =
                        self.wires[2 * p + (s / 4) * 8 + s % 4 + 4].val();
                }
            }
            for z in 0..self._passes[2] {
                self.wires[3 * p + z].next = self.wires[2 * p + z].val();
            }
            for s in 0..self._switches[3] {
                if self.route_unused_low[s % 8].val().get_bit(3) {
                    self.wires[4 * p + (s / 8) * 16 + s % 8].next =
                        self.wires[3 * p + (s / 8) * 16 + s % 8 + 8].val();
                    self.wires[4 * p + (s / 8) * 16 + s % 8 + 8].next =
                        self.wires[3 * p + (s / 8) * 16 + s % 8].val();
                } else {
                    self.wires[4 * p + (s / 8) * 16 + s % 8].next =
                        self.wires[3 * p + (s / 8) * 16 + s % 8].val();
                    self.wires[4 * p + (s / 8) * 16 + s % 8 + 8].next =
                        self.wires[3 * p + (s / 8) * 16 + s % 8 + 8].val();
                }
            }
            for z in 0..self._passes[3] {
                self.wires[4 * p + z].next = self.wires[3 * p + z].val();
            }
            for s in 0..self._switches[4] {
                if self.route_unused_low[s % 16].val().get_bit(4) {
                    self.wires[5 * p + (s / 16) * 32 + s % 16].next =
                        self.wires[4 * p + (s / 16) * 32 + s % 16 + 16].val();
                    self.wires[5 * p + (s / 16) * 32 + s % 16 + 16].next =
                        self.wires[4 * p + (s / 16) * 32 + s % 16].val();
                } else {
                    self.wires[5 * p + (s / 16) * 32 + s % 16].next =
                        self.wires[4 * p + (s / 16) * 32 + s % 16].val();
                    self.wires[5 * p + (s / 16) * 32 + s % 16 + 16].next =
                        self.wires[4 * p + (s / 16) * 32 + s % 16 + 16].val();
                }
            }
            for z in 0..self._passes[4] {
                self.wires[5 * p + z].next = self.wires[4 * p + z].val();
            }
            for s in 0..self._switches[5] {
                if self.route_unused_low[s % 32].val().get_bit(5) {
                    self.wires[6 * p + s].next = self.wires[5 * p + s + 32].val();
                    self.wires[6 * p + s + 32].next = self.wires[5 * p + s].val();
                } else {
                    self.wires[6 * p + s].next = self.wires[5 * p + s].val();
                    self.wires[6 * p + s + 32].next = self.wires[5 * p + s + 32].val();
                }
            }
            for z in 0..self._passes[5] {
                self.wires[6 * p + z].next = self.wires[5 * p + z].val();
            }
            for z in 0..self.banks.len() {
                self.banks[z].write_address.next = self.read_row.q.val() | self.output_offset.val();
                self.banks[z].write_data.next = self.wires[6 * p + z].val();
                self.banks[z].write_enable.next = self.read_valid.q.val();
                if self.write_enable.val()
                    & !self.running.q.val()
                    & (self.host_bank.val() == self.bank_ids[z].val())
                {
                    self.banks[z].write_enable.next = true;
                    self.banks[z].write_address.next = self.host_address.val();
                    self.banks[z].write_data.next = self.write_data.val();
                }
            }
        }
        self.read_data.next = self.banks[0].read_data.val();
        for i in 0..self.banks.len() {
            if self.host_bank_q.q.val() == self.bank_ids[i].val() {
                self.read_data.next = self.banks[i].read_data.val();
            }
        }

        // Sequencing.
        self.busy.next = self.running.q.val();
        if !self.running.q.val() {
            if self.start.val() {
                self.running.d.next = true;
                self.issuing.d.next = true;
                self.row.d.next = self.zero.val();
                self.galois_low.d.next = self.galois.val().get_bits::<16>(0);
                self.galois_half.d.next = self.galois.val().get_bits::<16>(1);
            }
        } else if self.issuing.q.val() {
            self.row.d.next = self.row.q.val() + self.one.val();
            if self.row.q.val() == self.last_row.val() {
                self.issuing.d.next = false;
                self.pause.d.next = self.drain_cycles.val();
            }
        } else if self.pause.q.val() > self.one.val() {
            self.pause.d.next = self.pause.q.val() - self.one.val();
        } else {
            self.running.d.next = false;
        }
    }
}

/// Loads `input` through the host port (one slot per cycle).
pub fn load_limb<const W: usize>(
    sim: &mut ClockedSim<AutomorphismUnit<W>>,
    input: &[u64],
) -> Result<(), RtlSimError> {
    for (address, &value) in input.iter().enumerate() {
        let unit = sim.uut();
        unit.write_enable.next = true;
        unit.address.next = Bits::from(address as u64);
        unit.write_data.next = Bits::from(value);
        sim.cycle()?;
    }
    sim.uut().write_enable.next = false;
    Ok(())
}

/// Permutes the loaded limb by `galois` and waits until `busy` falls; returns the cycles from
/// the start edge until `busy` is seen low.
pub fn run_automorphism<const W: usize>(
    sim: &mut ClockedSim<AutomorphismUnit<W>>,
    galois: u64,
    n: u64,
) -> Result<u64, RtlSimError> {
    sim.uut().start.next = true;
    sim.uut().galois.next = Bits::from(galois);
    sim.cycle()?;
    sim.uut().start.next = false;
    let mut cycles = 1;
    while sim.uut().busy.val() && cycles <= 4 * n + 16 {
        sim.cycle()?;
        cycles += 1;
    }
    Ok(cycles)
}

/// Loads `input`, permutes it by `galois` and reads the result back through the host port.
/// Returns the result and the cycles from the start edge until `busy` is seen low.
pub fn simulate_automorphism<const W: usize>(
    sim: &mut ClockedSim<AutomorphismUnit<W>>,
    input: &[u64],
    galois: u64,
) -> Result<(Vec<u64>, u64), RtlSimError> {
    load_limb(sim, input)?;
    let cycles = run_automorphism(sim, galois, input.len() as u64)?;
    let mut output = Vec::with_capacity(input.len());
    for address in 0..input.len() {
        sim.uut().address.next = Bits::from(address as u64);
        sim.cycle()?;
        output.push(sim.uut().read_data.val().to_u64());
    }
    Ok((output, cycles))
}

/// The automorphism-unit design file name.
pub const AUTOMORPHISM_DESIGN_FILE: &str = "automorphism.v";
/// Its testbench file name.
pub const AUTOMORPHISM_TESTBENCH_FILE: &str = "tb_automorphism.v";
/// Its vector file: per case, g, then N inputs, then N expected outputs.
pub const AUTOMORPHISM_VECTORS_FILE: &str = "automorphism_vectors.hex";
/// Its manifest file name.
pub const AUTOMORPHISM_MANIFEST_FILE: &str = "automorphism_manifest.json";

/// What an automorphism-unit design directory holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomorphismManifest {
    /// The unit's shape.
    pub config: AutomorphismConfig,
    /// The Galois elements checked, in order.
    pub galois: Vec<u64>,
    /// Cycles from the start edge until `busy` is seen low.
    pub cycles_per_limb: u64,
    /// Seed of the ChaCha20 generator that drew the inputs and elements.
    pub seed: u64,
    /// Where the expected outputs come from.
    pub golden_model: String,
}

impl AutomorphismManifest {
    /// Reads `DIR/automorphism_manifest.json`.
    pub fn read(dir: &Path) -> Result<Self, HwError> {
        let path = dir.join(AUTOMORPHISM_MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(HwError::io(&path))?;
        serde_json::from_str(&text).map_err(|e| HwError::BadDesignDir {
            path,
            reason: format!("not an automorphism manifest: {e}"),
        })
    }
}

/// The rust-hdl Verilog of the unit for `config`.
pub fn automorphism_verilog(config: AutomorphismConfig) -> String {
    fn emit<const W: usize>(config: AutomorphismConfig) -> String {
        let mut unit = AutomorphismUnit::<W>::new(config);
        unit.connect_all();
        generate_verilog(&unit)
    }
    match config.width {
        Width::W32 => emit::<32>(config),
        Width::W64 => emit::<64>(config),
    }
}

/// A testbench that loads each case's limb, permutes it by the case's g, checks the cycle
/// count and every slot, and prints `N passed, N failed`.
pub fn automorphism_testbench(config: AutomorphismConfig, cases: usize) -> String {
    let n = config.n();
    let w = config.width.bits();
    let cycles = config.transform_cycles();
    let lanes = config.lanes;
    format!(
        r#"// Self-checking testbench for the hesim automorphism unit (N = {n}, P = {lanes}, {w}-bit word).
// Vectors (hesim_sw::ring::GaloisPermutation): per case g, N inputs, N expected outputs.
`timescale 1ns/1ps
module tb;
    localparam integer N = {n};
    localparam integer W = {w};
    localparam integer CASES = {cases};
    localparam integer CYCLES = {cycles};
    localparam integer LINE = 2*N + 1;

    reg [W-1:0] data [0:LINE*CASES-1];
    reg clock = 1'b0;
    reg write_enable = 1'b0;
    reg [15:0] address = 16'h0;
    reg [W-1:0] write_data = {{W{{1'b0}}}};
    reg start = 1'b0;
    reg [31:0] galois = 32'h0;
    wire [W-1:0] read_data;
    wire busy;
    integer k, i, cycles;
    integer passed = 0, failed = 0, cycle_errors = 0;

    top dut(
        .clock(clock), .write_enable(write_enable), .address(address),
        .write_data(write_data), .read_data(read_data), .start(start), .galois(galois),
        .busy(busy)
    );

    always #5 clock = ~clock;

    initial begin
        $readmemh("{vectors}", data);
        for (k = 0; k < CASES; k = k + 1) begin
            for (i = 0; i < N; i = i + 1) begin
                @(negedge clock);
                write_enable = 1'b1;
                address = i[15:0];
                write_data = data[LINE*k + 1 + i];
            end
            @(negedge clock);
            write_enable = 1'b0;
            start = 1'b1;
            galois = data[LINE*k][31:0];
            @(negedge clock);
            start = 1'b0;
            cycles = 1;
            while (busy && cycles <= 4 * CYCLES) begin
                @(negedge clock);
                cycles = cycles + 1;
            end
            if (cycles != CYCLES) begin
                cycle_errors = cycle_errors + 1;
                $display("case %0d took %0d cycles (documented %0d)", k, cycles, CYCLES);
            end
            for (i = 0; i < N; i = i + 1) begin
                address = i[15:0];
                @(negedge clock);
                if (read_data == data[LINE*k + 1 + N + i]) passed = passed + 1;
                else begin
                    failed = failed + 1;
                    if (failed <= 5)
                        $display("mismatch: case %0d (g = %0d) slot %0d: got %h, expected %h",
                            k, galois, i, read_data, data[LINE*k + 1 + N + i]);
                end
            end
        end
        $display("automorphism: %0d passed, %0d failed", passed, failed);
        $display("cycles per limb: %0d (documented %0d), %0d mismatches", cycles, CYCLES, cycle_errors);
        $display("total: %0d passed, %0d failed", passed, failed + cycle_errors);
        $finish;
    end
endmodule
"#,
        vectors = AUTOMORPHISM_VECTORS_FILE,
    )
}

/// Writes an automorphism-unit design directory: `cases` random limbs, each permuted by a
/// random odd g < 2N (the first case g = 2N − 1, conjugation), outputs from the golden model.
pub fn write_automorphism_dir(
    dir: &Path,
    config: AutomorphismConfig,
    cases: usize,
    seed: u64,
) -> Result<AutomorphismManifest, HwError> {
    if !(1..=1000).contains(&cases) {
        return Err(HwError::OutOfRange {
            parameter: "--cases",
            value: cases as u64,
            allowed: "1 ..= 1000",
        });
    }
    let n = config.n();
    let digits = config.width.bits() as usize / 4;
    let limit = 1u64 << (config.width.max_modulus_bits());
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut hex = String::new();
    let mut elements = Vec::with_capacity(cases);
    for case in 0..cases {
        let g = if case == 0 {
            2 * n - 1
        } else {
            2 * rng.random_range(0..n) + 1
        };
        let permutation =
            GaloisPermutation::new(g, n as usize).map_err(|e| HwError::Golden(e.to_string()))?;
        let input: Vec<u64> = (0..n).map(|_| rng.random_range(0..limit)).collect();
        let mut output = vec![0; n as usize];
        permutation.apply(&input, &mut output);
        hex.push_str(&format!("{g:0digits$x}\n"));
        for v in input.iter().chain(&output) {
            hex.push_str(&format!("{v:0digits$x}\n"));
        }
        elements.push(g);
    }
    let manifest = AutomorphismManifest {
        config,
        galois: elements,
        cycles_per_limb: config.transform_cycles(),
        seed,
        golden_model: "hesim_sw::ring::GaloisPermutation::apply".into(),
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|source| HwError::Serialize {
        what: "automorphism manifest",
        source,
    })?;
    std::fs::create_dir_all(dir).map_err(HwError::io(dir))?;
    write_all_atomically(
        dir,
        &[
            (AUTOMORPHISM_DESIGN_FILE, automorphism_verilog(config)),
            (
                AUTOMORPHISM_TESTBENCH_FILE,
                automorphism_testbench(config, cases),
            ),
            (AUTOMORPHISM_VECTORS_FILE, hex),
            (AUTOMORPHISM_MANIFEST_FILE, json + "\n"),
        ],
    )?;
    Ok(manifest)
}
