//! FPGA resources of a design point: LUT, FF, DSP, block RAM and UltraRAM, the budget FPGA
//! designs are held to (mm², [`super::area`], means nothing on a fixed device).
//!
//! The per-unit counts are rows of hesim-hw's synthesized unit table (`hw/area/unit_table.json`,
//! yosys `synth_xilinx -family xcup -uram` of the NTT unit with P butterflies and the
//! automorphism unit with P lanes at N = 2^16); the CLI passes them in with the device totals
//! (`hesim_hw::fit::fpga_model`), as it passes the butterfly table to [`super::AreaModel`]. A
//! design's use is `clusters × (ntt.units × row(ntt.lanes) + automorphism.units ×
//! row(automorphism.lanes))` on the narrowest unit word that holds `word_bits`-bit primes. The
//! units may take [`FpgaModel::unit_share`] of every device resource; the rest is left for what
//! the table does not hold (element-wise units, base conversion, HBM controllers, the shell), so
//! a point *fits* when every resource is within that share: the rule `hesim verilog fit` uses.

use serde::{Deserialize, Serialize};

use crate::arch::Arch;

/// Counts of the FPGA resources a budget is kept in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FpgaResources {
    /// 6-input LUTs.
    pub lut: u64,
    /// Flip-flops.
    pub ff: u64,
    /// DSP slices.
    pub dsp: u64,
    /// Block RAMs (36 Kb; yosys's RAMB18 cells counted as whole ones, conservative).
    pub bram: u64,
    /// UltraRAMs.
    pub uram: u64,
}

impl FpgaResources {
    /// `self + times · other`.
    pub fn plus(self, other: FpgaResources, times: u64) -> FpgaResources {
        FpgaResources {
            lut: self.lut + times * other.lut,
            ff: self.ff + times * other.ff,
            dsp: self.dsp + times * other.dsp,
            bram: self.bram + times * other.bram,
            uram: self.uram + times * other.uram,
        }
    }

    /// Each resource as a percentage of `total`'s, in field order.
    pub fn percent_of(&self, total: &FpgaResources) -> [f64; 5] {
        let pct = |used: u64, all: u64| 100.0 * used as f64 / all.max(1) as f64;
        [
            pct(self.lut, total.lut),
            pct(self.ff, total.ff),
            pct(self.dsp, total.dsp),
            pct(self.bram, total.bram),
            pct(self.uram, total.uram),
        ]
    }

    /// Whether every resource is at most `share` of `total`'s.
    pub fn within(&self, total: &FpgaResources, share: f64) -> bool {
        let ok = |used: u64, all: u64| used as f64 <= share * all as f64;
        ok(self.lut, total.lut)
            && ok(self.ff, total.ff)
            && ok(self.dsp, total.dsp)
            && ok(self.bram, total.bram)
            && ok(self.uram, total.uram)
    }
}

/// A device's totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FpgaDevice {
    /// Name in sweep specs and on the command line (`u280`).
    pub name: String,
    pub totals: FpgaResources,
    /// Where the totals come from.
    pub source: String,
}

/// Which unit a row costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FpgaUnitKind {
    Ntt,
    Automorphism,
}

impl std::fmt::Display for FpgaUnitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FpgaUnitKind::Ntt => "NTT",
            FpgaUnitKind::Automorphism => "automorphism",
        })
    }
}

/// A design the model has no synthesized units for.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FpgaError {
    #[error(
        "no synthesized {unit} unit with {lanes} lanes at N = 2^{log_n} on the {word_bits}-bit \
         word in {table}; it has {unit} lanes {available:?} (set the lanes to one of them)"
    )]
    NoUnit {
        unit: FpgaUnitKind,
        lanes: u32,
        log_n: u32,
        word_bits: u32,
        table: String,
        available: Vec<u32>,
    },
    #[error(
        "no synthesized unit word holds {prime_bits}-bit primes at N = 2^{log_n} in {table} \
         (the 32-bit word holds up to 31 bits, the 64-bit word up to 62)"
    )]
    NoWord {
        prime_bits: u32,
        log_n: u32,
        table: String,
    },
}

/// One synthesized unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FpgaUnitCost {
    pub unit: FpgaUnitKind,
    pub log_n: u32,
    /// Butterflies (NTT) or lanes (automorphism) per cycle.
    pub lanes: u32,
    /// The unit's datapath word (32 or 64).
    pub word_bits: u32,
    /// The largest prime the word holds, in bits (31 or 62).
    pub max_prime_bits: u32,
    pub resources: FpgaResources,
}

/// The resource model: a device, the units' share of it and the synthesized units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FpgaModel {
    pub device: FpgaDevice,
    /// Share of every resource the NTT and automorphism units may use.
    pub unit_share: f64,
    pub units: Vec<FpgaUnitCost>,
    /// Where the rows come from (recorded in manifests).
    pub source: String,
}

/// One design's resources on the model's device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FpgaUsage {
    pub device: String,
    /// The unit word the design's primes need.
    pub unit_word_bits: u32,
    pub used: FpgaResources,
    /// `used` as % of the device, in [`FpgaResources`] field order (LUT, FF, DSP, BRAM, URAM).
    pub percent: [f64; 5],
    /// Every resource within the unit share.
    pub fits: bool,
}

impl FpgaModel {
    /// The narrowest unit word with rows at N = 2^`log_n` whose primes reach `prime_bits`.
    pub fn unit_word(&self, prime_bits: u32, log_n: u32) -> Option<u32> {
        self.units
            .iter()
            .filter(|u| u.log_n == log_n && (1..=u.max_prime_bits).contains(&prime_bits))
            .map(|u| u.word_bits)
            .min()
    }

    /// The row of one unit shape.
    pub fn row(
        &self,
        unit: FpgaUnitKind,
        log_n: u32,
        lanes: u32,
        word_bits: u32,
    ) -> Option<&FpgaUnitCost> {
        self.units.iter().find(|u| {
            u.unit == unit && u.log_n == log_n && u.lanes == lanes && u.word_bits == word_bits
        })
    }

    /// Resources of `units` (kind, lanes, count) on `word_bits`-bit units at N = 2^`log_n`,
    /// against the device and the share.
    pub fn usage_of(
        &self,
        log_n: u32,
        word_bits: u32,
        units: &[(FpgaUnitKind, u32, u64)],
    ) -> Result<FpgaUsage, FpgaError> {
        let mut used = FpgaResources::default();
        for &(unit, lanes, count) in units {
            let row = self.row(unit, log_n, lanes, word_bits).ok_or_else(|| {
                let mut available: Vec<u32> = self
                    .units
                    .iter()
                    .filter(|u| u.unit == unit && u.log_n == log_n && u.word_bits == word_bits)
                    .map(|u| u.lanes)
                    .collect();
                available.sort_unstable();
                FpgaError::NoUnit {
                    unit,
                    lanes,
                    log_n,
                    word_bits,
                    table: self.source.clone(),
                    available,
                }
            })?;
            used = used.plus(row.resources, count);
        }
        Ok(FpgaUsage {
            device: self.device.name.clone(),
            unit_word_bits: word_bits,
            used,
            percent: used.percent_of(&self.device.totals),
            fits: used.within(&self.device.totals, self.unit_share),
        })
    }

    /// The resources of `arch`'s NTT and automorphism units.
    pub fn usage(&self, arch: &Arch) -> Result<FpgaUsage, FpgaError> {
        let log_n = arch.ntt.max_log_n;
        let word = self
            .unit_word(arch.word_bits, log_n)
            .ok_or_else(|| FpgaError::NoWord {
                prime_bits: arch.word_bits,
                log_n,
                table: self.source.clone(),
            })?;
        let clusters = u64::from(arch.clusters);
        self.usage_of(
            log_n,
            word,
            &[
                (
                    FpgaUnitKind::Ntt,
                    arch.ntt.lanes,
                    clusters * u64::from(arch.ntt.units),
                ),
                (
                    FpgaUnitKind::Automorphism,
                    arch.automorphism.lanes,
                    clusters * u64::from(arch.automorphism.units),
                ),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device of 100 of everything and one row per unit kind, 25 of everything (10 URAM).
    fn model() -> FpgaModel {
        let row = |unit, lanes| FpgaUnitCost {
            unit,
            log_n: 16,
            lanes,
            word_bits: 64,
            max_prime_bits: 62,
            resources: FpgaResources {
                lut: 25,
                ff: 25,
                dsp: 25,
                bram: 25,
                uram: 10,
            },
        };
        let hundred = FpgaResources {
            lut: 100,
            ff: 100,
            dsp: 100,
            bram: 100,
            uram: 100,
        };
        FpgaModel {
            device: FpgaDevice {
                name: "test".into(),
                totals: hundred,
                source: "test".into(),
            },
            unit_share: 0.5,
            units: vec![
                row(FpgaUnitKind::Ntt, 8),
                row(FpgaUnitKind::Automorphism, 8),
            ],
            source: "test table".into(),
        }
    }

    /// Units × rows add up, percentages are of the device, and the share is inclusive: 50 of
    /// 100 fits, 75 does not.
    #[test]
    fn usage_adds_rows_and_checks_the_share() {
        let m = model();
        let two = m
            .usage_of(16, 64, &[(FpgaUnitKind::Ntt, 8, 2)])
            .expect("rows");
        assert_eq!(two.used.lut, 50);
        assert_eq!(two.percent[0], 50.0);
        assert!(two.fits);
        let three = m
            .usage_of(
                16,
                64,
                &[
                    (FpgaUnitKind::Ntt, 8, 2),
                    (FpgaUnitKind::Automorphism, 8, 1),
                ],
            )
            .expect("rows");
        assert_eq!((three.used.dsp, three.used.uram), (75, 30));
        assert!(!three.fits);
    }

    #[test]
    fn missing_rows_and_words_are_named() {
        let m = model();
        let err = m
            .usage_of(16, 64, &[(FpgaUnitKind::Ntt, 16, 1)])
            .unwrap_err();
        assert!(
            matches!(&err, FpgaError::NoUnit { lanes: 16, available, .. } if available == &[8])
        );
        assert_eq!(m.unit_word(54, 16), Some(64));
        assert_eq!(m.unit_word(63, 16), None);
        assert_eq!(m.unit_word(54, 15), None);
    }
}
