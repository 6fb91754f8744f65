//! A small iterative NTT core (32-bit word, N = 2^A ≤ 1024): one [`Butterfly32`], twiddle
//! ROMs, two RAM banks and an address generator that walks `hesim_sw::ring`'s loops exactly:
//!
//! ```text
//! forward (CT):  t = N/2, groups = 1   … t = 1,   groups = N/2   (twiddle W[groups + i])
//! inverse (GS÷2): t = 1,  groups = N/2 … t = N/2, groups = 1     (twiddle W⁻[groups + i])
//! butterfly b of a stage: i = b / t, j = 2·i·t + b mod t, pair (j, j + t)
//! ```
//!
//! **Banks.** Coefficient `a` lives in bank `parity(a)` (xor of its address bits) at index
//! `a >> 1`. A pair (j, j + t) differs in exactly one bit, so its two coefficients are always
//! in different banks: each bank serves one read and one write per cycle and the core issues a
//! butterfly every cycle within a stage.
//!
//! **Stages.** Butterflies of one stage touch disjoint pairs; between stages the core waits
//! for the pipeline to drain ([`STAGE_DRAIN`] cycles), so each stage reads only finished
//! results. A transform takes `log2 N · (N/2 + 1 + STAGE_DRAIN)` cycles.
//!
//! **Host port** (while `busy` is low): `write_enable` + `address` + `write_data` load a
//! coefficient; `read_data` shows the coefficient at `address` one cycle later. A `start`
//! pulse (with `inverse`) runs the whole transform in place; `busy` stays high until the last
//! result is written.

use std::collections::BTreeMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rust_hdl::prelude::*;
use serde::{Deserialize, Serialize};

use hesim_sw::ring::NttPlan;

use crate::HwError;
use crate::butterfly::{BUTTERFLY_LATENCY, Butterfly32};
use crate::emit::write_all_atomically;
use crate::rtl_sim::{ClockedSim, RtlSimError};

/// Idle cycles between the last issue of a stage and the first issue of the next: the bank
/// read (1) and butterfly (7) latencies minus the edge the next stage's first read needs.
pub const STAGE_DRAIN: u64 = BUTTERFLY_LATENCY as u64;

/// Clock cycles of one transform of size `n`, from the `start` edge until `busy` falls.
pub fn transform_cycles(n: usize) -> u64 {
    u64::from(n.trailing_zeros()) * (n as u64 / 2 + 1 + STAGE_DRAIN)
}

/// Twiddle tables of one (N, q): values and 32-bit Shoup quotients, forward and inverse, in
/// the golden model's order (`W[i] = ψ^bitrev(i)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwiddleTables {
    /// The modulus, odd, below 2^31.
    pub q: u64,
    /// Forward twiddles.
    pub forward: Vec<u64>,
    /// Their Shoup quotients `⌊w·2^32/q⌋`.
    pub forward_shoup: Vec<u64>,
    /// Inverse twiddles.
    pub inverse: Vec<u64>,
    /// Their Shoup quotients.
    pub inverse_shoup: Vec<u64>,
}

impl TwiddleTables {
    /// The golden model's tables for `plan`; the 32-bit Shoup quotients are the top halves of
    /// its 64-bit ones. Errors unless q < 2^31.
    pub fn from_plan(plan: &NttPlan) -> Result<Self, HwError> {
        let q = plan.modulus().value();
        if q >> 31 != 0 {
            return Err(HwError::OutOfRange {
                parameter: "NTT core modulus q",
                value: q,
                allowed: "odd q < 2^31 (32-bit word)",
            });
        }
        let top_half = |v: &[u64]| v.iter().map(|&s| s >> 32).collect();
        Ok(TwiddleTables {
            q,
            forward: plan.twiddles().to_vec(),
            forward_shoup: top_half(plan.twiddles_shoup()),
            inverse: plan.inv_twiddles().to_vec(),
            inverse_shoup: top_half(plan.inv_twiddles_shoup()),
        })
    }
}

fn rom<const A: usize>(values: &[u64]) -> SyncROM<Bits<32>, A> {
    let map: BTreeMap<Bits<A>, Bits<32>> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (Bits::from(i as u64), Bits::from(v)))
        .collect();
    SyncROM::new(map)
}

/// The NTT core for N = 2^A; `B = A − 1` is the bank index width (rust-hdl cannot derive it).
#[derive(LogicBlock)]
pub struct NttCore32<const A: usize, const B: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Host: write `write_data` to coefficient `address` (ignored while busy).
    pub write_enable: Signal<In, Bit>,
    /// Host: coefficient address for loads and reads.
    pub address: Signal<In, Bits<A>>,
    /// Host: the coefficient to load.
    pub write_data: Signal<In, Bits<32>>,
    /// Host: coefficient at the `address` of the previous cycle.
    pub read_data: Signal<Out, Bits<32>>,
    /// Start a transform (one-cycle pulse, ignored while busy).
    pub start: Signal<In, Bit>,
    /// With `start`: inverse (GS with ÷2 per stage) instead of forward (CT).
    pub inverse: Signal<In, Bit>,
    /// A transform is running.
    pub busy: Signal<Out, Bit>,
    bank0: RAM<Bits<32>, B>,
    bank1: RAM<Bits<32>, B>,
    twiddle: SyncROM<Bits<32>, A>,
    twiddle_shoup: SyncROM<Bits<32>, A>,
    inv_twiddle: SyncROM<Bits<32>, A>,
    inv_twiddle_shoup: SyncROM<Bits<32>, A>,
    modulus: Constant<Bits<32>>,
    half_n: Constant<Bits<A>>,
    last_butterfly: Constant<Bits<A>>,
    drain_cycles: Constant<Bits<4>>,
    // rust-hdl emits integer literals as 32-bit constants (a Verilator WIDTH warning in narrower
    // expressions), so the few constants the sequencer needs are typed signals.
    zero: Constant<Bits<A>>,
    one: Constant<Bits<A>>,
    drain_zero: Constant<Bits<4>>,
    drain_one: Constant<Bits<4>>,
    butterfly: Butterfly32,
    // Control.
    running: DFF<Bit>,
    mode_inverse: DFF<Bit>,
    issuing: DFF<Bit>,
    drain: DFF<Bits<4>>,
    counter: DFF<Bits<A>>,
    group: DFF<Bits<A>>,
    groups: DFF<Bits<A>>,
    span: DFF<Bits<A>>,
    span_mask: DFF<Bits<A>>,
    // Issue side (combinational).
    low: Signal<Local, Bits<A>>,
    high: Signal<Local, Bits<A>>,
    low_parity: Signal<Local, Bit>,
    // One cycle after issue: bank data valid.
    read_valid: DFF<Bit>,
    read_swapped: DFF<Bit>,
    host_parity: DFF<Bit>,
    low_delay: [DFF<Bits<A>>; 8],
    // Write-back (combinational).
    write_low: Signal<Local, Bits<A>>,
    write_high: Signal<Local, Bits<A>>,
    write_swapped: Signal<Local, Bit>,
    /// Bit 0 of a pair's high address only selects the bank, which the low address's parity
    /// already decides; Verilator's `*unused*` convention marks it as deliberately dropped.
    unused_high_bit: Signal<Local, Bit>,
}

// rust-hdl's RAM and ROM widgets do not implement Debug.
impl<const A: usize, const B: usize> std::fmt::Debug for NttCore32<A, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NttCore32")
            .field("n", &(1usize << A))
            .field("q", &self.modulus.val())
            .field("busy", &self.busy.val())
            .finish_non_exhaustive()
    }
}

impl<const A: usize, const B: usize> NttCore32<A, B> {
    /// A core for `tables` (N = 2^A entries each, q < 2^31).
    pub fn new(tables: &TwiddleTables) -> Self {
        assert!(
            B + 1 == A && (2..=10).contains(&A),
            "NttCore32<A, A-1> with 2 ≤ A ≤ 10"
        );
        let n = 1usize << A;
        assert!(tables.forward.len() == n && tables.inverse.len() == n);
        Self {
            clock: Default::default(),
            write_enable: Default::default(),
            address: Default::default(),
            write_data: Default::default(),
            read_data: Default::default(),
            start: Default::default(),
            inverse: Default::default(),
            busy: Default::default(),
            bank0: Default::default(),
            bank1: Default::default(),
            twiddle: rom(&tables.forward),
            twiddle_shoup: rom(&tables.forward_shoup),
            inv_twiddle: rom(&tables.inverse),
            inv_twiddle_shoup: rom(&tables.inverse_shoup),
            modulus: Constant::new(Bits::from(tables.q)),
            half_n: Constant::new(Bits::from(n as u64 / 2)),
            last_butterfly: Constant::new(Bits::from(n as u64 / 2 - 1)),
            drain_cycles: Constant::new(Bits::from(STAGE_DRAIN)),
            zero: Constant::new(Bits::from(0)),
            one: Constant::new(Bits::from(1)),
            drain_zero: Constant::new(Bits::from(0)),
            drain_one: Constant::new(Bits::from(1)),
            butterfly: Default::default(),
            running: Default::default(),
            mode_inverse: Default::default(),
            issuing: Default::default(),
            drain: Default::default(),
            counter: Default::default(),
            group: Default::default(),
            groups: Default::default(),
            span: Default::default(),
            span_mask: Default::default(),
            low: Default::default(),
            high: Default::default(),
            low_parity: Default::default(),
            read_valid: Default::default(),
            read_swapped: Default::default(),
            host_parity: Default::default(),
            low_delay: Default::default(),
            write_low: Default::default(),
            write_high: Default::default(),
            write_swapped: Default::default(),
            unused_high_bit: Default::default(),
        }
    }
}

impl<const A: usize, const B: usize> Logic for NttCore32<A, B> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            running,
            mode_inverse,
            issuing,
            drain,
            counter,
            group,
            groups,
            span,
            span_mask,
            read_valid,
            read_swapped,
            host_parity
        );
        self.bank0.read_clock.next = self.clock.val();
        self.bank0.write_clock.next = self.clock.val();
        self.bank1.read_clock.next = self.clock.val();
        self.bank1.write_clock.next = self.clock.val();
        self.twiddle.clock.next = self.clock.val();
        self.twiddle_shoup.clock.next = self.clock.val();
        self.inv_twiddle.clock.next = self.clock.val();
        self.inv_twiddle_shoup.clock.next = self.clock.val();
        self.butterfly.clock.next = self.clock.val();
        for i in 0..8 {
            self.low_delay[i].clock.next = self.clock.val();
        }

        // Address of butterfly `counter`: j = 2·i·t + (b mod t), i.e. b with a zero inserted
        // at bit log2(t); its partner is j + t.
        self.low.next = ((self.counter.q.val() & !self.span_mask.q.val()) << 1)
            | (self.counter.q.val() & self.span_mask.q.val());
        self.high.next = self.low.val() | self.span.q.val();
        self.low_parity.next = self.low.val().xor();

        // Bank reads: the issued pair while running, the host address otherwise.
        if self.running.q.val() {
            if self.low_parity.val() {
                self.bank1.read_address.next = self.low.val().get_bits::<B>(1);
                self.bank0.read_address.next = self.high.val().get_bits::<B>(1);
            } else {
                self.bank0.read_address.next = self.low.val().get_bits::<B>(1);
                self.bank1.read_address.next = self.high.val().get_bits::<B>(1);
            }
        } else {
            self.bank0.read_address.next = self.address.val().get_bits::<B>(1);
            self.bank1.read_address.next = self.address.val().get_bits::<B>(1);
        }
        self.twiddle.address.next = self.groups.q.val() | self.group.q.val();
        self.twiddle_shoup.address.next = self.groups.q.val() | self.group.q.val();
        self.inv_twiddle.address.next = self.groups.q.val() | self.group.q.val();
        self.inv_twiddle_shoup.address.next = self.groups.q.val() | self.group.q.val();
        self.read_valid.d.next = self.issuing.q.val();
        self.read_swapped.d.next = self.low_parity.val();
        self.host_parity.d.next = self.address.val().xor();
        self.low_delay[0].d.next = self.low.val();
        for i in 1..8 {
            self.low_delay[i].d.next = self.low_delay[i - 1].q.val();
        }
        if self.host_parity.q.val() {
            self.read_data.next = self.bank1.read_data.val();
        } else {
            self.read_data.next = self.bank0.read_data.val();
        }

        // Butterfly, one cycle after issue (bank and ROM data are registered).
        self.butterfly.valid.next = self.read_valid.q.val();
        self.butterfly.inverse.next = self.mode_inverse.q.val();
        self.butterfly.halve.next = self.mode_inverse.q.val();
        self.butterfly.q.next = self.modulus.val();
        if self.read_swapped.q.val() {
            self.butterfly.x.next = self.bank1.read_data.val();
            self.butterfly.y.next = self.bank0.read_data.val();
        } else {
            self.butterfly.x.next = self.bank0.read_data.val();
            self.butterfly.y.next = self.bank1.read_data.val();
        }
        if self.mode_inverse.q.val() {
            self.butterfly.w.next = self.inv_twiddle.data.val();
            self.butterfly.w_shoup.next = self.inv_twiddle_shoup.data.val();
        } else {
            self.butterfly.w.next = self.twiddle.data.val();
            self.butterfly.w_shoup.next = self.twiddle_shoup.data.val();
        }

        // Write-back of the butterfly results (or a host load while idle).
        self.write_low.next = self.low_delay[7].q.val();
        self.write_high.next = self.low_delay[7].q.val() | self.span.q.val();
        self.write_swapped.next = self.write_low.val().xor();
        self.unused_high_bit.next = self.high.val().get_bit(0) ^ self.write_high.val().get_bit(0);
        self.bank0.write_enable.next = false;
        self.bank1.write_enable.next = false;
        self.bank0.write_address.next = self.address.val().get_bits::<B>(1);
        self.bank1.write_address.next = self.address.val().get_bits::<B>(1);
        self.bank0.write_data.next = self.write_data.val();
        self.bank1.write_data.next = self.write_data.val();
        if self.butterfly.valid_out.val() {
            self.bank0.write_enable.next = true;
            self.bank1.write_enable.next = true;
            if self.write_swapped.val() {
                self.bank1.write_address.next = self.write_low.val().get_bits::<B>(1);
                self.bank1.write_data.next = self.butterfly.x_out.val();
                self.bank0.write_address.next = self.write_high.val().get_bits::<B>(1);
                self.bank0.write_data.next = self.butterfly.y_out.val();
            } else {
                self.bank0.write_address.next = self.write_low.val().get_bits::<B>(1);
                self.bank0.write_data.next = self.butterfly.x_out.val();
                self.bank1.write_address.next = self.write_high.val().get_bits::<B>(1);
                self.bank1.write_data.next = self.butterfly.y_out.val();
            }
        } else if self.write_enable.val() & !self.running.q.val() {
            if self.address.val().xor() {
                self.bank1.write_enable.next = true;
            } else {
                self.bank0.write_enable.next = true;
            }
        }

        // Sequencing.
        self.busy.next = self.running.q.val();
        if !self.running.q.val() {
            if self.start.val() {
                self.running.d.next = true;
                self.issuing.d.next = true;
                self.mode_inverse.d.next = self.inverse.val();
                self.counter.d.next = self.zero.val();
                self.group.d.next = self.zero.val();
                if self.inverse.val() {
                    self.groups.d.next = self.half_n.val();
                    self.span.d.next = self.one.val();
                    self.span_mask.d.next = self.zero.val();
                } else {
                    self.groups.d.next = self.one.val();
                    self.span.d.next = self.half_n.val();
                    self.span_mask.d.next = self.last_butterfly.val();
                }
            }
        } else if self.issuing.q.val() {
            self.counter.d.next = self.counter.q.val() + self.one.val();
            if (self.counter.q.val() & self.span_mask.q.val()) == self.span_mask.q.val() {
                self.group.d.next = self.group.q.val() + self.one.val();
            }
            if self.counter.q.val() == self.last_butterfly.val() {
                self.issuing.d.next = false;
                self.drain.d.next = self.drain_cycles.val();
            }
        } else if self.drain.q.val() != self.drain_zero.val() {
            self.drain.d.next = self.drain.q.val() - self.drain_one.val();
        } else {
            // Stage done: next stage or finished.
            self.counter.d.next = self.zero.val();
            self.group.d.next = self.zero.val();
            if self.mode_inverse.q.val() {
                if self.groups.q.val() == self.one.val() {
                    self.running.d.next = false;
                } else {
                    self.issuing.d.next = true;
                    self.groups.d.next = self.groups.q.val() >> 1;
                    self.span.d.next = self.span.q.val() << 1;
                    self.span_mask.d.next = (self.span_mask.q.val() << 1) | self.one.val();
                }
            } else if self.groups.q.val() == self.half_n.val() {
                self.running.d.next = false;
            } else {
                self.issuing.d.next = true;
                self.groups.d.next = self.groups.q.val() << 1;
                self.span.d.next = self.span.q.val() >> 1;
                self.span_mask.d.next = self.span_mask.q.val() >> 1;
            }
        }
    }
}

/// Runs one transform of `input` (N values in `[0, q)`) in rust-hdl's simulator: load, start,
/// wait for `busy` to fall, read back. Returns the result and the cycles from start to done.
pub fn simulate_transform<const A: usize, const B: usize>(
    sim: &mut ClockedSim<NttCore32<A, B>>,
    input: &[u64],
    inverse: bool,
) -> Result<(Vec<u64>, u64), RtlSimError> {
    for (address, &value) in input.iter().enumerate() {
        let core = sim.uut();
        core.write_enable.next = true;
        core.address.next = Bits::from(address as u64);
        core.write_data.next = Bits::from(value);
        sim.cycle()?;
    }
    sim.uut().write_enable.next = false;
    sim.uut().start.next = true;
    sim.uut().inverse.next = inverse;
    sim.cycle()?;
    sim.uut().start.next = false;
    let mut cycles = 1;
    // Bounded: a core that never finishes fails the comparison instead of hanging.
    while sim.uut().busy.val() && cycles <= 4 * transform_cycles(input.len()) {
        sim.cycle()?;
        cycles += 1;
    }
    let mut output = Vec::with_capacity(input.len());
    for address in 0..input.len() {
        // The bank read registers `address` at this edge; `read_data` shows it right after.
        sim.uut().address.next = Bits::from(address as u64);
        sim.cycle()?;
        output.push(sim.uut().read_data.val().to_u64());
    }
    Ok((output, cycles))
}

/// The NTT design file name.
pub const NTT_DESIGN_FILE: &str = "ntt.v";
/// The NTT testbench file name.
pub const NTT_TESTBENCH_FILE: &str = "tb_ntt.v";
/// The NTT vector file name: per transform, N inputs then N expected outputs.
pub const NTT_VECTORS_FILE: &str = "ntt_vectors.hex";
/// The NTT manifest file name.
pub const NTT_MANIFEST_FILE: &str = "ntt_manifest.json";

/// What an NTT design directory holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NttManifest {
    /// log2 N.
    pub log_n: u32,
    /// The prime.
    pub q: u64,
    /// Transforms in the vector file; even ones are forward, odd ones inverse.
    pub transforms: usize,
    /// Cycles from `start` to `busy` falling, plus the start cycle.
    pub cycles_per_transform: u64,
    /// Seed of the ChaCha20 generator that drew the inputs.
    pub seed: u64,
    /// Where the expected outputs come from.
    pub golden_model: String,
}

impl NttManifest {
    /// Reads `DIR/ntt_manifest.json`.
    pub fn read(dir: &Path) -> Result<Self, HwError> {
        let path = dir.join(NTT_MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(HwError::io(&path))?;
        serde_json::from_str(&text).map_err(|e| HwError::BadDesignDir {
            path,
            reason: format!("not an NTT manifest: {e}"),
        })
    }
}

/// Smallest and largest supported log2 N (the golden model starts at 16 points; the core's
/// address generator is sized for 1024).
pub const NTT_LOG_N_RANGE: std::ops::RangeInclusive<u32> = 4..=10;

fn core_verilog<const A: usize, const B: usize>(tables: &TwiddleTables) -> String {
    let mut core = NttCore32::<A, B>::new(tables);
    core.connect_all();
    generate_verilog(&core)
}

/// The rust-hdl Verilog of the NTT core for `plan` (N = 16 … 1024, q < 2^31).
pub fn ntt_verilog(plan: &NttPlan) -> Result<String, HwError> {
    let tables = TwiddleTables::from_plan(plan)?;
    Ok(match plan.log_n() {
        4 => core_verilog::<4, 3>(&tables),
        5 => core_verilog::<5, 4>(&tables),
        6 => core_verilog::<6, 5>(&tables),
        7 => core_verilog::<7, 6>(&tables),
        8 => core_verilog::<8, 7>(&tables),
        9 => core_verilog::<9, 8>(&tables),
        10 => core_verilog::<10, 9>(&tables),
        log_n => return Err(HwError::UnsupportedNttSize { log_n }),
    })
}

/// A testbench that loads each transform's input, runs it (even: forward, odd: inverse),
/// checks the cycle count and every output coefficient, and prints `N passed, N failed`.
pub fn ntt_testbench(log_n: u32, transforms: usize) -> String {
    let n = 1usize << log_n;
    let cycles = transform_cycles(n) + 1;
    format!(
        r#"// Self-checking testbench for the hesim iterative NTT core (N = {n}, 32-bit word).
// Vectors (hesim_sw::ring): per transform N inputs then N expected outputs; even transforms
// are forward (CT), odd ones inverse (GS with /2 per stage).
`timescale 1ns/1ps
module tb;
    localparam integer LOG_N = {log_n};
    localparam integer N = {n};
    localparam integer TRANSFORMS = {transforms};
    localparam integer CYCLES = {cycles};

    reg [31:0] data [0:2*N*TRANSFORMS-1];
    reg clock = 1'b0;
    reg write_enable = 1'b0;
    reg [LOG_N-1:0] address = {{LOG_N{{1'b0}}}};
    reg [31:0] write_data = 32'h0;
    reg start = 1'b0;
    reg inverse = 1'b0;
    wire [31:0] read_data;
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
                address = i[LOG_N-1:0];
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
                address = i[LOG_N-1:0];
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
        vectors = NTT_VECTORS_FILE,
    )
}

/// Writes an NTT design directory: N = 2^`log_n`, the largest NTT prime below 2^`bits`,
/// `transforms` random inputs (even forward, odd inverse) with outputs from the golden model.
pub fn write_ntt_dir(
    dir: &Path,
    log_n: u32,
    bits: u32,
    transforms: usize,
    seed: u64,
) -> Result<NttManifest, HwError> {
    if !NTT_LOG_N_RANGE.contains(&log_n) {
        return Err(HwError::UnsupportedNttSize { log_n });
    }
    // NTT primes q ≡ 1 (mod 2N) need more than log2(2N) + 1 bits; the word holds 31.
    if !(log_n + 3..=31).contains(&bits) {
        return Err(HwError::OutOfRange {
            parameter: "--modulus-bits",
            value: u64::from(bits),
            allowed: "log2(N) + 3 ..= 31",
        });
    }
    if !(1..=1000).contains(&transforms) {
        return Err(HwError::OutOfRange {
            parameter: "--transforms",
            value: transforms as u64,
            allowed: "1 ..= 1000",
        });
    }
    let n = 1usize << log_n;
    let golden = |e: hesim_sw::ring::RingError| HwError::Golden(e.to_string());
    let modulus = hesim_sw::ring::ntt_moduli(bits, 1, n).map_err(golden)?[0];
    let plan = NttPlan::new(n, &modulus).map_err(golden)?;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut hex = String::new();
    for k in 0..transforms {
        let input: Vec<u64> = (0..n)
            .map(|_| rng.random_range(0..modulus.value()))
            .collect();
        let mut output = input.clone();
        if k % 2 == 0 {
            plan.forward_golden(&mut output);
        } else {
            plan.inverse_golden(&mut output);
        }
        for v in input.iter().chain(&output) {
            hex.push_str(&format!("{v:08x}\n"));
        }
    }
    let manifest = NttManifest {
        log_n,
        q: modulus.value(),
        transforms,
        cycles_per_transform: transform_cycles(n) + 1,
        seed,
        golden_model: "hesim_sw::ring::NttPlan::{forward_golden, inverse_golden}".into(),
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|source| HwError::Serialize {
        what: "NTT manifest",
        source,
    })?;
    std::fs::create_dir_all(dir).map_err(HwError::io(dir))?;
    write_all_atomically(
        dir,
        &[
            (NTT_DESIGN_FILE, ntt_verilog(&plan)?),
            (NTT_TESTBENCH_FILE, ntt_testbench(log_n, transforms)),
            (NTT_VECTORS_FILE, hex),
            (NTT_MANIFEST_FILE, json + "\n"),
        ],
    )?;
    Ok(manifest)
}
