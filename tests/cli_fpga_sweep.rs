//! `hesim sweep sweeps/fpga-lanes.toml`: every point's U280 resources are the committed yosys
//! unit table's rows (read here straight from `hw/area/unit_table.json`, not through the
//! model), its device percentages are against the AMD data sheet's totals, and the fits flag
//! flips where the units outgrow half of a resource, at the P that `hesim verilog fit` (and so
//! the `fpga` preset) chose. A spec naming an unknown device or an unsynthesized unit is exit 2.

use std::collections::BTreeMap;

mod common;

use common::hesim;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sweeps/fpga-lanes.toml");
const TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/hw/area/unit_table.json");
/// AMD Alveo U280 data sheet (DS963), XCU280: LUT, FF, DSP, BRAM (36 Kb), URAM.
const U280_TOTALS: [u64; 5] = [1_304_000, 2_607_000, 9_024, 2_016, 960];
const RESOURCES: [&str; 5] = ["LUT", "FF", "DSP", "BRAM", "URAM"];

/// The committed row of one N = 2^16, 64-bit unit, as [LUT, FF, DSP, BRAM, URAM].
fn table_row(table: &serde_json::Value, unit: &str, lanes: u64) -> [u64; 5] {
    let row = table["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| {
            e["unit"] == unit && e["log_n"] == 16 && e["lanes"] == lanes && e["width"] == "64"
        })
        .unwrap_or_else(|| panic!("no {unit} row with {lanes} lanes"));
    RESOURCES.map(|r| row.get(r).and_then(|v| v.as_u64()).unwrap_or(0))
}

#[test]
fn fpga_sweep_points_carry_the_table_rows_and_the_fit_flag() {
    let out = tempfile::tempdir().unwrap();
    let (code, _, err) = hesim(&["sweep", SPEC, "--out", out.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(TABLE).unwrap()).unwrap();
    let preset = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sim/presets/fpga.toml"
    ))
    .unwrap();
    // The preset's automorphism unit (the sweep varies only the NTT lanes).
    let automorphism_lanes = 32;
    assert!(
        preset.contains("[automorphism]\nunits = 1\nlanes = 32"),
        "{preset}"
    );
    let automorphism = table_row(&table, "automorphism", automorphism_lanes);

    let mut reader = csv::Reader::from_path(out.path().join("results.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let mut fits_by_lanes = BTreeMap::new();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        let col = |name: &str| {
            let i = header.iter().position(|h| h == name).unwrap_or_else(|| {
                panic!("no column {name}");
            });
            record[i].to_string()
        };
        assert_eq!(col("status"), "ok");
        assert!(col("latency_ms").parse::<f64>().unwrap() > 0.0);
        assert_eq!(col("fpga_device"), "u280");
        assert_eq!(col("fpga_unit_word"), "64");
        let lanes: u64 = col("ntt.lanes").parse().unwrap();
        let ntt = table_row(&table, "ntt", lanes);
        let mut fits = true;
        for (i, name) in RESOURCES.iter().enumerate() {
            let expected = ntt[i] + automorphism[i];
            let lower = name.to_lowercase();
            assert_eq!(
                col(&format!("fpga_{lower}")).parse::<u64>().unwrap(),
                expected,
                "P = {lanes}: {name}"
            );
            let pct: f64 = col(&format!("fpga_{lower}_pct")).parse().unwrap();
            let share = 100.0 * expected as f64 / U280_TOTALS[i] as f64;
            assert!(
                (pct - share).abs() < 0.006,
                "P = {lanes}: {name} {pct} vs {share}"
            );
            fits &= 2 * expected <= U280_TOTALS[i];
        }
        assert_eq!(col("fpga_fits"), fits.to_string(), "P = {lanes}");
        fits_by_lanes.insert(lanes, fits);
        rows += 1;
    }
    assert_eq!(rows, fits_by_lanes.len() * 2, "two workloads per design");
    // The flag flips once, after the P that `verilog fit` chose for the preset.
    let fitting: Vec<u64> = fits_by_lanes
        .iter()
        .filter(|f| *f.1)
        .map(|f| *f.0)
        .collect();
    let largest = *fitting.last().expect("some P fits");
    assert!(fits_by_lanes.values().any(|f| !f), "{fits_by_lanes:?}");
    assert!(fits_by_lanes.iter().all(|(&p, &f)| f == (p <= largest)));
    assert!(
        preset.contains(&format!("lanes = {largest} ")),
        "fit chose P = {largest}"
    );
}

#[test]
fn fpga_sweep_bad_device_or_unit_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(SPEC).unwrap();
    let run = |text: String| {
        let path = dir.path().join("spec.toml");
        std::fs::write(&path, text).unwrap();
        let out = dir.path().join("out");
        hesim(&[
            "sweep",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (code, _, err) = run(spec.replace("device = \"u280\"", "device = \"u250\""));
    assert_eq!(code, 2);
    assert!(err.contains("unknown device `u250`"), "{err}");
    let (code, _, err) = run(spec.replace("stop = 64", "stop = 128"));
    assert_eq!(code, 2);
    assert!(
        err.contains("no synthesized NTT unit with 128 lanes") && err.contains("ntt.lanes = 128"),
        "{err}"
    );
    // Refused after the workloads were compiled: not even the trace cache is left behind.
    assert!(!dir.path().join("out").exists());
}
