//! A single-threaded clock driver for rust-hdl blocks.
//!
//! rust-hdl's `Simulation` runs every testbench in its own thread and hands the circuit over a
//! channel at each clock edge, which caps it at a few thousand cycles per second. The kernel it
//! calls per edge is the public `simulate` (update until nothing changes); this driver calls
//! the same kernel directly, one edge after the other, so a pipelined unit can be fed one
//! vector per cycle at a much higher rate with identical semantics.

use rust_hdl::prelude::*;

use crate::butterfly::{
    BUTTERFLY_LATENCY, Butterfly32, Butterfly64, SpecialPrimeButterfly32, SpecialPrimeButterfly64,
};
use crate::vectors::TestVector;
use crate::{Variant, Width};

/// Delta-cycle bound per edge; a well-formed synchronous design settles in a handful.
const MAX_DELTA_CYCLES: usize = 1000;

/// Failure of the rust-hdl simulation kernel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RtlSimError {
    /// The combinational logic did not settle (a loop or oscillation in the design).
    #[error(
        "rust-hdl simulation did not settle within {MAX_DELTA_CYCLES} delta cycles at cycle {cycle}"
    )]
    NoConvergence {
        /// Clock cycle at which the design failed to settle.
        cycle: u64,
    },
}

/// Drives a connected block clock edge by clock edge.
#[derive(Debug)]
pub struct ClockedSim<B: Block> {
    uut: B,
    clock: fn(&mut B) -> &mut Signal<In, Clock>,
    cycle: u64,
}

impl<B: Block> ClockedSim<B> {
    /// Connects `uut` and settles its power-on state; `clock` selects its clock input.
    pub fn new(
        mut uut: B,
        clock: fn(&mut B) -> &mut Signal<In, Clock>,
    ) -> Result<Self, RtlSimError> {
        uut.connect_all();
        let mut sim = Self {
            uut,
            clock,
            cycle: 0,
        };
        sim.settle()?;
        Ok(sim)
    }

    /// The block, to set inputs (`.next`) before [`Self::cycle`] and read outputs after it.
    pub fn uut(&mut self) -> &mut B {
        &mut self.uut
    }

    /// One full clock period: inputs set so far are sampled at the rising edge, and outputs
    /// read afterwards show the registers' new values.
    pub fn cycle(&mut self) -> Result<(), RtlSimError> {
        self.settle()?;
        (self.clock)(&mut self.uut).next = Clock { clk: true };
        self.settle()?;
        (self.clock)(&mut self.uut).next = Clock { clk: false };
        self.settle()?;
        self.cycle += 1;
        Ok(())
    }

    fn settle(&mut self) -> Result<(), RtlSimError> {
        if simulate(&mut self.uut, MAX_DELTA_CYCLES) {
            Ok(())
        } else {
            Err(RtlSimError::NoConvergence { cycle: self.cycle })
        }
    }
}

/// Per-mode result of streaming vectors through a butterfly in rust-hdl's simulator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamOutcome {
    /// Matching results per mode, indexed like `Mode::ALL`.
    pub passed: [usize; 3],
    /// Mismatching or missing results per mode.
    pub failed: [usize; 3],
    /// Clock edges from the first input to its result.
    pub observed_latency: Option<u64>,
    /// Total clock cycles simulated.
    pub cycles: u64,
    /// The first few mismatches, for the failure message.
    pub mismatches: Vec<String>,
}

impl StreamOutcome {
    /// Whether every vector matched and the latency is the documented one.
    pub fn all_passed(&self) -> bool {
        self.failed.iter().all(|&f| f == 0)
            && self.mismatches.is_empty()
            && self.observed_latency == Some(BUTTERFLY_LATENCY as u64)
    }
}

/// The ports of a unified butterfly, so one driver serves both widths.
trait ButterflyPorts: Block {
    fn clock_port(&mut self) -> &mut Signal<In, Clock>;
    fn drive(&mut self, vector: Option<&TestVector>);
    fn result(&self) -> Option<(u64, u64)>;
}

/// `operands` are the modulus inputs the design has (Shoup: `w_shoup` and `q`; a special-prime
/// design has its q built in).
macro_rules! impl_butterfly_ports {
    ($name:ty, operands: [$($field:ident),*]) => {
        impl ButterflyPorts for $name {
            fn clock_port(&mut self) -> &mut Signal<In, Clock> {
                &mut self.clock
            }

            fn drive(&mut self, vector: Option<&TestVector>) {
                self.valid.next = vector.is_some();
                if let Some(v) = vector {
                    let (inverse, halve) = v.mode.controls();
                    self.inverse.next = inverse;
                    self.halve.next = halve;
                    self.x.next = v.x.to_bits();
                    self.y.next = v.y.to_bits();
                    self.w.next = v.w.to_bits();
                    $( self.$field.next = v.$field.to_bits(); )*
                }
            }

            fn result(&self) -> Option<(u64, u64)> {
                self.valid_out
                    .val()
                    .then(|| (self.x_out.val().to_u64(), self.y_out.val().to_u64()))
            }
        }
    };
}

impl_butterfly_ports!(Butterfly32, operands: [w_shoup, q]);
impl_butterfly_ports!(Butterfly64, operands: [w_shoup, q]);
impl_butterfly_ports!(SpecialPrimeButterfly32, operands: []);
impl_butterfly_ports!(SpecialPrimeButterfly64, operands: []);

/// Streams `vectors` through the `width`/`variant` butterfly in rust-hdl's simulator, one per
/// cycle (II = 1), and compares every result with the vector's golden outputs.
pub fn stream_butterfly(
    width: Width,
    variant: Variant,
    vectors: &[TestVector],
) -> Result<StreamOutcome, RtlSimError> {
    match (variant, width) {
        (Variant::Shoup, Width::W32) => stream(Butterfly32::default(), vectors),
        (Variant::Shoup, Width::W64) => stream(Butterfly64::default(), vectors),
        (Variant::SpecialPrime, Width::W32) => stream(SpecialPrimeButterfly32::default(), vectors),
        (Variant::SpecialPrime, Width::W64) => stream(SpecialPrimeButterfly64::default(), vectors),
    }
}

/// How many mismatches [`StreamOutcome::mismatches`] keeps.
const MISMATCHES_KEPT: usize = 5;

fn stream<B: ButterflyPorts>(uut: B, vectors: &[TestVector]) -> Result<StreamOutcome, RtlSimError> {
    let mut sim = ClockedSim::new(uut, B::clock_port)?;
    let mut outcome = StreamOutcome::default();
    let mut next_result = 0;
    // Drain for twice the documented latency so a too-slow pipeline still shows its results.
    let total_cycles = (vectors.len() + 2 * BUTTERFLY_LATENCY) as u64;
    for cycle in 0..total_cycles {
        sim.uut().drive(vectors.get(cycle as usize));
        sim.cycle()?;
        let Some(got) = sim.uut().result() else {
            continue;
        };
        let Some(expected) = vectors.get(next_result) else {
            outcome
                .mismatches
                .push(format!("cycle {cycle}: valid_out without an input"));
            continue;
        };
        if next_result == 0 {
            outcome.observed_latency = Some(cycle + 1);
        }
        let mode = expected.mode.index();
        if got == (expected.x_out, expected.y_out) {
            outcome.passed[mode] += 1;
        } else {
            outcome.failed[mode] += 1;
            if outcome.mismatches.len() < MISMATCHES_KEPT {
                outcome
                    .mismatches
                    .push(format!("vector {next_result} {expected:?}: got {got:?}"));
            }
        }
        next_result += 1;
    }
    for missing in &vectors[next_result.min(vectors.len())..] {
        outcome.failed[missing.mode.index()] += 1;
    }
    outcome.cycles = total_cycles;
    Ok(outcome)
}
