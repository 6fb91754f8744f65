//! `hesim verilog fit`: the largest NTT and automorphism units (from the committed unit area
//! table) that fit a device's share of resources, written as an architecture fragment that
//! `hesim sim --arch` reads on top of the `fpga` preset. The resource accounting is
//! `hesim_sim::sweep::FpgaModel`'s, the one FPGA sweeps use ([`fpga_model`]).

use std::fmt::Write;

use hesim_sim::sweep::{FpgaDevice, FpgaModel, FpgaResources, FpgaUnitCost, FpgaUnitKind};
use serde::Serialize;

use crate::area::{UnitAreaEntry, UnitAreaTable, UnitKind, unit_area_table};
use crate::{HwError, Width};

/// An FPGA's resource totals.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Device {
    /// Name on the command line.
    pub name: &'static str,
    /// 6-input LUTs.
    pub lut: u64,
    /// Flip-flops.
    pub ff: u64,
    /// DSP slices.
    pub dsp: u64,
    /// 36 Kb block RAMs.
    pub bram: u64,
    /// UltraRAMs (288 Kb).
    pub uram: u64,
    /// Where the totals come from.
    pub source: &'static str,
}

/// AMD Alveo U280 (XCU280).
pub const U280: Device = Device {
    name: "u280",
    lut: 1_304_000,
    ff: 2_607_000,
    dsp: 9_024,
    bram: 2_016,
    uram: 960,
    source: "AMD Alveo U280 data sheet (DS963), XCU280: 1,304K LUTs, 2,607K registers, \
             9,024 DSP slices, 2,016 36 Kb block RAMs, 960 UltraRAMs",
};

impl Device {
    /// The totals as the simulator's resource counts.
    pub fn totals(&self) -> FpgaResources {
        FpgaResources {
            lut: self.lut,
            ff: self.ff,
            dsp: self.dsp,
            bram: self.bram,
            uram: self.uram,
        }
    }
}

/// Devices `fit` knows.
pub const DEVICES: [Device; 1] = [U280];

/// Share of every device resource the NTT and automorphism units may take; the rest is for
/// the element-wise multipliers and adders, base conversion, HBM controllers and the shell.
pub const UNIT_SHARE: f64 = 0.5;

/// Clock written into the fragment: an assumption (FAB's reported 300 MHz on the U280, the
/// `fpga` preset's clock); open tools give no U280 timing.
pub const ASSUMED_CLOCK_GHZ: f64 = 0.3;

/// The ring size the table's units are built for (the simulator's N = 2^16).
pub const FIT_LOG_N: u32 = 16;

/// Looks a device up by name.
pub fn device(name: &str) -> Result<Device, HwError> {
    DEVICES
        .iter()
        .find(|d| d.name == name)
        .copied()
        .ok_or_else(|| HwError::UnknownDevice {
            name: name.to_string(),
        })
}

/// The narrowest word with N = 2^16 NTT rows in `table` that holds primes of `word_bits` bits:
/// 32 (q < 2^31) or 64 (q < 2^62).
pub fn word_for(word_bits: u32, table: &UnitAreaTable) -> Result<Width, HwError> {
    Width::ALL
        .into_iter()
        .filter(|w| {
            table
                .entries
                .iter()
                .any(|e| e.unit == UnitKind::Ntt && e.width == *w && e.log_n == FIT_LOG_N)
        })
        .find(|w| (1..=w.max_modulus_bits()).contains(&word_bits))
        .ok_or(HwError::UnbuildableWord { bits: word_bits })
}

/// The resource model of FPGA sweeps for `device`: the rows of `table` (the committed one in
/// [`fpga_model`]) and [`UNIT_SHARE`].
pub fn fpga_model_from(device: Device, table: &UnitAreaTable) -> FpgaModel {
    let units = table
        .entries
        .iter()
        .map(|e| FpgaUnitCost {
            unit: match e.unit {
                UnitKind::Ntt => FpgaUnitKind::Ntt,
                UnitKind::Automorphism => FpgaUnitKind::Automorphism,
            },
            log_n: e.log_n,
            lanes: e.lanes,
            word_bits: e.width.bits(),
            max_prime_bits: e.width.max_modulus_bits(),
            resources: FpgaResources {
                lut: e.cells.lut,
                ff: e.cells.ff,
                dsp: e.cells.dsp,
                bram: e.cells.bram,
                uram: e.cells.uram,
            },
        })
        .collect();
    FpgaModel {
        device: FpgaDevice {
            name: device.name.into(),
            totals: device.totals(),
            source: device.source.into(),
        },
        unit_share: UNIT_SHARE,
        units,
        source: format!(
            "hw/area/unit_table.json ({}, synth_xilinx -family xcup -uram)",
            table.yosys
        ),
    }
}

/// [`fpga_model_from`] the committed unit table, for the device named `name`.
pub fn fpga_model(name: &str) -> Result<FpgaModel, HwError> {
    Ok(fpga_model_from(device(name)?, &unit_area_table()))
}

/// A chosen configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fit {
    /// The device.
    pub device: Device,
    /// Primes' bit size (the architecture's `word_bits`).
    pub word_bits: u32,
    /// The unit word that holds them.
    pub width: Width,
    /// NTT units.
    pub ntt_units: u32,
    /// The NTT unit's row.
    pub ntt: UnitAreaEntry,
    /// The automorphism unit's row (one unit).
    pub automorphism: UnitAreaEntry,
    /// Resources of all the units together.
    pub used: FpgaResources,
}

/// The configuration with the most butterflies per cycle (units × P) whose NTT units and one
/// automorphism unit (lanes = min(max(P, 2), 64)) fit `UNIT_SHARE` of `device`; ties go to
/// fewer, wider units.
pub fn fit(device: Device, word_bits: u32, table: &UnitAreaTable) -> Result<Fit, HwError> {
    let width = word_for(word_bits, table)?;
    let model = fpga_model_from(device, table);
    let mut best: Option<Fit> = None;
    for ntt in table
        .entries
        .iter()
        .filter(|e| e.unit == UnitKind::Ntt && e.width == width && e.log_n == FIT_LOG_N)
    {
        let lanes = ntt.lanes.clamp(2, 64);
        let Some(automorphism) = table.get(UnitKind::Automorphism, FIT_LOG_N, lanes, width) else {
            continue;
        };
        for units in 1..=64u32 {
            let Ok(usage) = model.usage_of(
                FIT_LOG_N,
                width.bits(),
                &[
                    (FpgaUnitKind::Ntt, ntt.lanes, u64::from(units)),
                    (FpgaUnitKind::Automorphism, lanes, 1),
                ],
            ) else {
                break;
            };
            if !usage.fits {
                break;
            }
            let butterflies = units * ntt.lanes;
            let better = best.as_ref().is_none_or(|b| {
                let current = b.ntt_units * b.ntt.lanes;
                butterflies > current || (butterflies == current && ntt.lanes > b.ntt.lanes)
            });
            if better {
                best = Some(Fit {
                    device,
                    word_bits,
                    width,
                    ntt_units: units,
                    ntt: *ntt,
                    automorphism: *automorphism,
                    used: usage.used,
                });
            }
        }
    }
    best.ok_or(HwError::NothingFits {
        device: device.name,
    })
}

impl Fit {
    /// The architecture fragment: the `fpga` preset with this fit's NTT and automorphism
    /// units, word and (assumed) clock.
    pub fn fragment(&self, yosys: &str) -> String {
        let d = &self.device;
        let u = &self.used;
        let share = |used: u64, total: u64| 100.0 * used as f64 / total as f64;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "# Written by `hesim verilog fit --device {} --word {}` from hw/area/unit_table.json\n\
             # ({yosys}, synth_xilinx -family xcup -uram; yosys counts are upper bounds).\n\
             # Device: {}.\n\
             # The NTT and automorphism units may use {:.0} % of every resource; the rest is left \
             for the element-wise\n\
             # units, base conversion, HBM controllers and the shell. Used: LUT {} ({:.1} %), \
             FF {} ({:.1} %), DSP {} ({:.1} %),\n\
             # BRAM {} ({:.1} %), URAM {} ({:.1} %).\n\
             # NTT: {} x {}-butterfly radix-2 unit(s), {}-bit Shoup word, N = 2^{}: {} busy \
             cycles per limb + {} latency\n\
             # (measured in simulation, hw/tests/sim_formula.rs). Automorphism: {} lanes, {} \
             cycles per limb + {}.\n\
             # Clock: {} GHz is an assumption (FAB's reported U280 clock); open tools give no \
             U280 timing.",
            d.name,
            self.word_bits,
            d.source,
            UNIT_SHARE * 100.0,
            u.lut,
            share(u.lut, d.lut),
            u.ff,
            share(u.ff, d.ff),
            u.dsp,
            share(u.dsp, d.dsp),
            u.bram,
            share(u.bram, d.bram),
            u.uram,
            share(u.uram, d.uram),
            self.ntt_units,
            self.ntt.lanes,
            self.width,
            self.ntt.log_n,
            self.ntt.limb_cycles,
            self.ntt.latency_cycles,
            self.automorphism.lanes,
            self.automorphism.limb_cycles,
            self.automorphism.latency_cycles,
            ASSUMED_CLOCK_GHZ,
        );
        let _ = write!(
            text,
            "preset = \"fpga\"\n\
             name = \"fpga-fit-{}\"\n\
             description = \"FPGA ({} fit by hesim verilog fit): {} x radix-2 x{} NTT, {}-lane \
             automorphism, {}-bit word, {} GHz assumed\"\n\
             clock_ghz = {}\n\
             word_bits = {}\n\n\
             [ntt]\n\
             algorithm = \"radix2\"\n\
             units = {}\n\
             lanes = {}\n\
             latency_cycles = {}\n\
             max_log_n = {}\n\
             butterfly_variant = \"shoup\"\n\n\
             [automorphism]\n\
             units = 1\n\
             lanes = {}\n\
             latency_cycles = {}\n",
            d.name,
            d.name,
            self.ntt_units,
            self.ntt.lanes,
            self.automorphism.lanes,
            self.width,
            ASSUMED_CLOCK_GHZ,
            ASSUMED_CLOCK_GHZ,
            self.word_bits,
            self.ntt_units,
            self.ntt.lanes,
            self.ntt.latency_cycles,
            self.ntt.log_n,
            self.automorphism.lanes,
            self.automorphism.latency_cycles,
        );
        text
    }
}
