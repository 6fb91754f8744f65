//! Silicon area of a design point, in mm² at F1's 14/12 nm node.
//!
//! Each unit's area is a per-unit figure scaled by what the architecture sets (lanes, units,
//! clusters, capacity, bandwidth, word width). The per-unit figures are meant to be the rows of
//! F1's area/TDP table (Feldmann et al., "F1: A Fast and Programmable Accelerator for Fully
//! Homomorphic Encryption", MICRO'21, arXiv 2109.05371, 14/12 nm, 1 GHz, 128-lane 32-bit
//! functional units).
//!
//! **What is confirmed and what is recalled.** Tags as in `../shared/docs/accelerators.md`.
//! * Confirmed [S-F1]: the 151.4 mm² total (§1.1 there; an F1 explainer's scorecard) and the
//!   structure the rows describe: 16 clusters of 1 NTT + 1 automorphism + 2 multiply + 2 add FUs
//!   and a 512 KB register file each, a 64 MB scratchpad in 16 banks, three 16×16 crossbars
//!   (24 TB/s) and HBM2 at 1 TB/s (two stacks in the explainer's die sketch).
//! * Recalled [R], not checked against the table: every per-component figure below. The stored
//!   copy of the paper (https://ar5iv.labs.arxiv.org/html/2109.05371) could only be searched by
//!   its opening, and no other stored source quotes the rows (searched Nov 2026).
//! * Two checks bear on the recalled figures. (1) They add up to the confirmed total: a cluster
//!   is 2.27 + 0.58 + 2·0.25 + 2·0.03 + 0.56 = 3.97 mm², and 16·3.97 + 48.09 + 10.02 + 29.80 =
//!   151.43 mm². A wrong split with the right sum would pass this. (2) CraterLake's 256 MB
//!   register file is 41% of its 472.3 mm² [S-CL], 0.756 mm²/MB, against 48.09/64 = 0.751 here:
//!   independent support for the SRAM figure only (test below).
//!
//! Scaling rules:
//!
//! | unit | F1 figure [R] | scales with |
//! |---|---|---|
//! | NTT (four-step) | 2.27 mm² per 128-lane unit at N = 2^14 | lanes × `max_log_n`/14 × m(w) |
//! | NTT (radix-2) | 2.27 / (64·14) mm² per butterfly | lanes (butterflies) × m(w) |
//! | automorphism | 0.58 mm² per 128 lanes | lanes × w/32 |
//! | modular multiplier | 0.25 mm² per 128 lanes | lanes × m(w) |
//! | modular adder | 0.03 mm² per 128 lanes | lanes × w/32 |
//! | base-conv / inner-product MAC | (0.25 + 0.03)/128 mm² per MAC | MACs × m(w) |
//! | vector register file | 0.56 mm² per cluster (512 KB feeding 128 lanes) | lanes/128 per cluster |
//! | scratchpad SRAM | 48.09 mm² per 64 MB | MiB |
//! | on-chip network | 10.02 mm² for 24 TB/s at 1 GHz (three 16×16 crossbars) | bytes/cycle |
//! | HBM PHY | 29.80 mm² for two HBM2 PHYs (1 TB/s) | ⌈GB/s ÷ 512⌉ PHYs |
//!
//! m(w) is the multiplier-width scaling (w/32)^α. α comes from hesim-hw's synthesized butterfly
//! area table (the CLI passes it in, [`AreaModel::from_butterflies`]); without one it is 2, the
//! schoolbook multiplier's quadratic growth ([`AreaModel::quadratic`]).
//!
//! Cross-check: the `f1` preset reproduces F1's 151.4 mm² (by construction, see above);
//! CraterLake (same 14/12 nm node, 472.3 mm² published, not used for any constant) is an
//! independent check of the whole model, reported by a test. 7 nm designs (SHARP, ARK) are
//! reported at 14/12 nm-equivalent area: no process scaling.

use serde::{Deserialize, Serialize};

use crate::arch::{Arch, NttAlgorithm};

// F1's per-component areas (mm², 14/12 nm, 128 lanes, 32-bit words), one per row of F1's
// area/TDP table. All are recalled [R], not checked against the table; see the module doc.

/// [R] F1 table, NTT FU row (one 128-lane four-step unit).
const F1_NTT_MM2: f64 = 2.27;
/// [R] The N of F1's NTT unit, 2^14 (accelerators.md §1.1).
const F1_NTT_LOG_N: f64 = 14.0;
/// [R] F1 table, automorphism FU row.
const F1_AUTOMORPHISM_MM2: f64 = 0.58;
/// [R] F1 table, multiply FU row (one of the two per cluster).
const F1_MUL_MM2: f64 = 0.25;
/// [R] F1 table, add FU row (one of the two per cluster).
const F1_ADD_MM2: f64 = 0.03;
/// [R] F1 table, vector register file row (512 KB [S-F1], one per cluster).
const F1_REGFILE_MM2: f64 = 0.56;
/// F1's vector width; 128 lanes is [R] in accelerators.md.
const F1_LANES: f64 = 128.0;
/// F1's word width, 32 bits ([R] in accelerators.md; CraterLake's 28 bits "vs 32-bit in F1"
/// is [S-CL]).
const F1_WORD_BITS: f64 = 32.0;
/// [R] F1 table, scratchpad row: 48.09 mm² for the 64 MB in 16 banks [S-F1]. CraterLake's
/// register file density (41% of 472.3 mm² for 256 MB [S-CL]) agrees to 1%.
const F1_SCRATCHPAD_MM2_PER_MIB: f64 = 48.09 / 64.0;
/// [R] F1 table, on-chip network row: 10.02 mm² for three 16×16 crossbars, 24 TB/s [S-F1] at
/// 1 GHz.
const F1_NOC_MM2_PER_BYTE_PER_CYCLE: f64 = 10.02 / 24_000.0;
/// [R] F1 table, memory interface row: 29.80 mm² for two HBM2 PHYs.
const F1_HBM_PHY_MM2: f64 = 29.80 / 2.0;
/// Where the per-unit figures come from, as recorded in manifests.
const F1_SOURCE: &str =
    "F1 (MICRO'21) per-unit areas (recalled; they sum to the published 151.4 mm²)";
/// Bandwidth of one HBM2 PHY: F1's 1 TB/s [S-F1] over its two PHYs.
const HBM_PHY_GB_S: f64 = 512.0;

/// One synthesized butterfly: its word width and resource counts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ButterflyCost {
    pub word_bits: u32,
    pub luts: u64,
    pub dsps: u64,
}

/// Area of each part of a design, mm².
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AreaBreakdown {
    pub ntt_mm2: f64,
    pub automorphism_mm2: f64,
    pub elementwise_mm2: f64,
    pub bconv_mm2: f64,
    pub inner_product_mm2: f64,
    pub regfile_mm2: f64,
    pub scratchpad_mm2: f64,
    pub noc_mm2: f64,
    pub hbm_phy_mm2: f64,
    pub total_mm2: f64,
}

/// The area model: F1's per-unit figures and a multiplier-width exponent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AreaModel {
    /// α in m(w) = (w/32)^α.
    pub multiplier_width_exponent: f64,
    /// Where α came from (recorded in manifests).
    pub source: String,
}

impl AreaModel {
    /// α = 2: a schoolbook multiplier's area grows with the square of its width.
    pub fn quadratic() -> Self {
        Self {
            multiplier_width_exponent: 2.0,
            source: format!("{F1_SOURCE}; multiplier area ∝ width² (schoolbook)"),
        }
    }

    /// α fitted (least squares in log-log) to synthesized butterflies of different widths. The
    /// cost of a butterfly is the geometric mean of its LUT and DSP counts, so both resources
    /// weigh in whatever their absolute sizes. Needs two different widths; otherwise falls back
    /// to [`AreaModel::quadratic`] and says so in `source`.
    pub fn from_butterflies(costs: &[ButterflyCost], table_source: &str) -> Self {
        let pts: Vec<(f64, f64)> = costs
            .iter()
            .filter(|c| c.word_bits > 0 && c.luts > 0 && c.dsps > 0)
            .map(|c| {
                let cost = ((c.luts as f64) * (c.dsps as f64)).sqrt();
                ((c.word_bits as f64).ln(), cost.ln())
            })
            .collect();
        let n = pts.len() as f64;
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if pts.len() < 2 || sxx <= 1e-12 {
            let mut m = Self::quadratic();
            m.source += " (the butterfly table has fewer than two widths)";
            return m;
        }
        let alpha = sxy / sxx;
        Self {
            multiplier_width_exponent: alpha,
            source: format!(
                "{F1_SOURCE}; multiplier area ∝ width^{alpha:.2} fitted to the hesim-hw butterfly \
                 area table ({table_source})"
            ),
        }
    }

    fn mul_scale(&self, word_bits: u32) -> f64 {
        (word_bits as f64 / F1_WORD_BITS).powf(self.multiplier_width_exponent)
    }

    /// The area of `arch`, part by part.
    pub fn area(&self, arch: &Arch) -> AreaBreakdown {
        let clusters = arch.clusters as f64;
        let m = self.mul_scale(arch.word_bits);
        let linear = arch.word_bits as f64 / F1_WORD_BITS;
        let per_lane = |mm2: f64| mm2 / F1_LANES;
        let ntt_unit = match arch.ntt.algorithm {
            NttAlgorithm::FourStep => {
                per_lane(F1_NTT_MM2) * arch.ntt.lanes as f64 * arch.ntt.max_log_n as f64
                    / F1_NTT_LOG_N
            }
            NttAlgorithm::Radix2 => {
                F1_NTT_MM2 / (F1_LANES / 2.0 * F1_NTT_LOG_N) * arch.ntt.lanes as f64
            }
        };
        let ntt = clusters * arch.ntt.units as f64 * ntt_unit * m;
        let automorphism = clusters
            * arch.automorphism.units as f64
            * per_lane(F1_AUTOMORPHISM_MM2)
            * arch.automorphism.lanes as f64
            * linear;
        let ew = &arch.elementwise;
        let elementwise = clusters
            * ew.lanes as f64
            * (ew.mul_units as f64 * per_lane(F1_MUL_MM2) * m
                + ew.add_units as f64 * per_lane(F1_ADD_MM2) * linear);
        let mac = per_lane(F1_MUL_MM2 + F1_ADD_MM2) * m;
        let bconv = if arch.bconv.dedicated {
            clusters * arch.bconv.macs_per_cycle as f64 * mac
        } else {
            0.0
        };
        let inner_product = if arch.keyswitch.dedicated_inner_product {
            clusters * arch.keyswitch.inner_product_lanes as f64 * mac
        } else {
            0.0
        };
        let widest_lanes = arch.ntt.lanes.max(ew.lanes).max(arch.automorphism.lanes) as f64;
        let regfile = clusters * F1_REGFILE_MM2 * widest_lanes / F1_LANES;
        let scratchpad = arch.scratchpad.capacity_mib * F1_SCRATCHPAD_MM2_PER_MIB;
        let noc = arch.scratchpad.bandwidth_bytes_per_cycle * F1_NOC_MM2_PER_BYTE_PER_CYCLE;
        let phys = (arch.hbm.bandwidth_gb_s / HBM_PHY_GB_S).ceil().max(1.0);
        let hbm_phy = phys * F1_HBM_PHY_MM2;
        let total = ntt
            + automorphism
            + elementwise
            + bconv
            + inner_product
            + regfile
            + scratchpad
            + noc
            + hbm_phy;
        AreaBreakdown {
            ntt_mm2: ntt,
            automorphism_mm2: automorphism,
            elementwise_mm2: elementwise,
            bconv_mm2: bconv,
            inner_product_mm2: inner_product,
            regfile_mm2: regfile,
            scratchpad_mm2: scratchpad,
            noc_mm2: noc,
            hbm_phy_mm2: hbm_phy,
            total_mm2: total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// F1's published total, 151.4 mm² (MICRO'21; confirmed in a secondary source [S-F1], see
    /// the module doc), from its own preset. The per-unit figures are recalled, not confirmed:
    /// this checks that the preset and the scaling rules compose them back to the confirmed
    /// total, not that the split between units is right.
    #[test]
    fn f1_preset_reproduces_f1_total() {
        let a = AreaModel::quadratic().area(&Arch::preset("f1").unwrap());
        assert!((a.total_mm2 - 151.4).abs() < 0.1, "{a:?}");
    }

    /// The recalled SRAM figure (48.09 mm² per 64 MB) against an independent source: CraterLake's
    /// 256 MB register file is 41% of its 472.3 mm² (ISCA'22, via the secondary summary [S-CL]).
    /// "41%" is rounded, so the model's charge for the `craterlake` preset's 256 MiB must land
    /// within 3% of 0.41 × 472.3 = 193.6 mm².
    #[test]
    fn sram_density_matches_craterlake_register_file_share() {
        let a = AreaModel::quadratic().area(&Arch::preset("craterlake").unwrap());
        let published = 0.41 * 472.3;
        let err = a.scratchpad_mm2 / published - 1.0;
        assert!(
            err.abs() < 0.03,
            "{:.1} mm² vs {published:.1} ({:+.1}%)",
            a.scratchpad_mm2,
            err * 100.0
        );
    }

    /// CraterLake (ISCA'22, same 14/12 nm node) was not used to derive any constant: its
    /// published 472.3 mm² is an independent check. The model lands within 25% (it charges
    /// CraterLake's large CRB at F1's multiplier density); the figure is printed for the README.
    #[test]
    fn craterlake_within_a_quarter_of_published() {
        let a = AreaModel::quadratic().area(&Arch::preset("craterlake").unwrap());
        let err = a.total_mm2 / 472.3 - 1.0;
        println!(
            "craterlake model {:.1} mm² vs 472.3 published ({:+.1}%)",
            a.total_mm2,
            err * 100.0
        );
        assert!(err.abs() < 0.25, "{a:?}");
    }

    /// More lanes, more clusters, more SRAM or more bandwidth never shrink the area.
    #[test]
    fn area_grows_with_resources() {
        let model = AreaModel::quadratic();
        let base = Arch::preset("default").unwrap();
        let a0 = model.area(&base).total_mm2;
        let tweaks: [fn(&mut Arch); 5] = [
            |a| a.ntt.lanes *= 2,
            |a| a.clusters *= 2,
            |a| a.scratchpad.capacity_mib *= 2.0,
            |a| a.hbm.bandwidth_gb_s *= 4.0,
            |a| a.word_bits = 64,
        ];
        for (i, t) in tweaks.iter().enumerate() {
            let mut a = base.clone();
            t(&mut a);
            assert!(model.area(&a).total_mm2 > a0, "tweak {i}");
        }
    }

    /// The exponent fitted to two widths is the log-ratio of their costs.
    #[test]
    fn exponent_from_two_widths() {
        let m = AreaModel::from_butterflies(
            &[
                ButterflyCost {
                    word_bits: 32,
                    luts: 100,
                    dsps: 4,
                },
                ButterflyCost {
                    word_bits: 64,
                    luts: 400,
                    dsps: 16,
                },
            ],
            "test",
        );
        assert!((m.multiplier_width_exponent - 2.0).abs() < 1e-9);
        let one = AreaModel::from_butterflies(
            &[ButterflyCost {
                word_bits: 32,
                luts: 1,
                dsps: 1,
            }],
            "t",
        );
        assert_eq!(one.multiplier_width_exponent, 2.0);
        assert!(one.source.contains("fewer than two widths"));
    }
}
