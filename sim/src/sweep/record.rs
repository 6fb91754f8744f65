//! One point's result (`points/<point_id>/result.json`) and its row in the tidy CSV.

use serde::{Deserialize, Serialize};
use toml::Value;

use super::SweepError;
use super::area::AreaBreakdown;
use super::fpga::FpgaUsage;
use super::grid::WorkloadInfo;
use crate::result::{Bound, SimResult, Unit};

/// Version of `result.json` and of the `results.csv` columns. Bump on any change (2: the
/// `fpga_*` columns).
pub const SCHEMA_VERSION: u32 = 2;

/// The resource columns, after the area ones; empty when the sweep names no FPGA.
const FPGA_COLUMNS: [&str; 13] = [
    "fpga_device",
    "fpga_unit_word",
    "fpga_lut",
    "fpga_ff",
    "fpga_dsp",
    "fpga_bram",
    "fpga_uram",
    "fpga_lut_pct",
    "fpga_ff_pct",
    "fpga_dsp_pct",
    "fpga_bram_pct",
    "fpga_uram_pct",
    "fpga_fits",
];

/// The stored result of one design point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointRecord {
    pub schema_version: u32,
    pub point_id: String,
    pub point_index: usize,
    pub arch_hash: String,
    pub tool_version: String,
    pub workload: WorkloadInfo,
    /// Axis keys and values, in axis order.
    pub axes: Vec<(String, Value)>,
    pub area: AreaBreakdown,
    /// Resources on the sweep's FPGA (sweeps that name one).
    #[serde(default)]
    pub fpga: Option<FpgaUsage>,
    /// The simulation (`None` when the design cannot run the workload, see `error`).
    pub result: Option<SimResult>,
    /// Why the design cannot run the workload (word too small for the primes, N too large).
    pub error: Option<String>,
    /// Wall-clock seconds the simulation took (kept out of the CSV so that it is reproducible).
    pub sim_seconds: f64,
}

impl PointRecord {
    /// Reads a `result.json`.
    pub fn load(path: &std::path::Path) -> Result<Self, SweepError> {
        let text = std::fs::read_to_string(path).map_err(SweepError::io(path))?;
        serde_json::from_str(&text).map_err(|e| SweepError::Corrupt {
            path: path.to_owned(),
            what: "point result (result.json)",
            message: e.to_string(),
        })
    }

    /// `results.csv` header for a sweep with these axis keys.
    pub fn csv_header(axis_keys: &[String]) -> Vec<String> {
        let mut h: Vec<String> = [
            "schema_version",
            "point_id",
            "point_index",
            "arch_hash",
            "tool_version",
            "workload",
            "network",
            "packing",
            "sparsity",
            "trace_blake3",
            "trace_ops",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        h.extend(axis_keys.iter().cloned());
        h.extend(
            [
                "status",
                "error",
                "cycles",
                "latency_ms",
                "clock_ghz",
                "area_mm2",
                "area_ntt_mm2",
                "area_automorphism_mm2",
                "area_elementwise_mm2",
                "area_bconv_mm2",
                "area_inner_product_mm2",
                "area_regfile_mm2",
                "area_scratchpad_mm2",
                "area_noc_mm2",
                "area_hbm_phy_mm2",
            ]
            .iter()
            .chain(&FPGA_COLUMNS)
            .chain(&[
                "tasks",
                "hbm_read_bytes",
                "hbm_write_bytes",
                "key_bytes",
                "plaintext_bytes",
                "spill_bytes",
                "peak_live_bytes",
                "scratchpad_bytes",
                "layers",
                "memory_bound_layers",
            ])
            .map(|s| s.to_string()),
        );
        h.extend(Unit::ALL.iter().map(|u| format!("{u}_utilization")));
        h
    }

    /// This record's CSV row, in [`PointRecord::csv_header`] order.
    pub fn csv_row(&self) -> Vec<String> {
        let w = &self.workload;
        let mut r = vec![
            self.schema_version.to_string(),
            self.point_id.clone(),
            self.point_index.to_string(),
            self.arch_hash.clone(),
            self.tool_version.clone(),
            w.label.clone(),
            w.network.clone(),
            w.packing.clone(),
            w.sparsity.map(|s| s.to_string()).unwrap_or_default(),
            w.trace_blake3.clone(),
            w.ops.to_string(),
        ];
        r.extend(self.axes.iter().map(|(_, v)| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }));
        let a = &self.area;
        let status = if self.result.is_some() {
            "ok"
        } else {
            "infeasible"
        };
        r.push(status.into());
        r.push(self.error.clone().unwrap_or_default());
        let res = self.result.as_ref();
        let opt = |f: &dyn Fn(&SimResult) -> String| res.map(f).unwrap_or_default();
        r.push(opt(&|s| s.cycles.to_string()));
        r.push(opt(&|s| s.time_ms.to_string()));
        r.push(opt(&|s| s.clock_ghz.to_string()));
        for v in [
            a.total_mm2,
            a.ntt_mm2,
            a.automorphism_mm2,
            a.elementwise_mm2,
            a.bconv_mm2,
            a.inner_product_mm2,
            a.regfile_mm2,
            a.scratchpad_mm2,
            a.noc_mm2,
            a.hbm_phy_mm2,
        ] {
            r.push(format!("{v:.6}"));
        }
        match &self.fpga {
            Some(f) => {
                let u = &f.used;
                r.push(f.device.clone());
                r.push(f.unit_word_bits.to_string());
                r.extend([u.lut, u.ff, u.dsp, u.bram, u.uram].map(|n| n.to_string()));
                r.extend(f.percent.map(|p| format!("{p:.2}")));
                r.push(f.fits.to_string());
            }
            None => r.extend(FPGA_COLUMNS.map(|_| String::new())),
        }
        r.push(opt(&|s| s.trace.tasks.to_string()));
        r.push(opt(&|s| s.memory.hbm_read_bytes.to_string()));
        r.push(opt(&|s| s.memory.hbm_write_bytes.to_string()));
        r.push(opt(&|s| s.memory.key_bytes.to_string()));
        r.push(opt(&|s| s.memory.plaintext_bytes.to_string()));
        r.push(opt(&|s| s.memory.spill_bytes.to_string()));
        r.push(opt(&|s| s.memory.peak_live_bytes.to_string()));
        r.push(opt(&|s| s.memory.scratchpad_bytes.to_string()));
        r.push(opt(&|s| s.layers.len().to_string()));
        r.push(opt(&|s| {
            s.layers
                .iter()
                .filter(|l| l.bound == Bound::Memory)
                .count()
                .to_string()
        }));
        for u in Unit::ALL {
            r.push(opt(&|s| {
                s.units
                    .iter()
                    .find(|x| x.unit == u)
                    .map(|x| format!("{:.6}", x.utilization))
                    .unwrap_or_else(|| "0".into())
            }));
        }
        r
    }
}
