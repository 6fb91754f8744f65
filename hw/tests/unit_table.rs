//! The committed unit area table (`hw/area/unit_table.json`, what `hesim verilog fit` reads)
//! covers the sweep's grid, and its small drift-check rows equal a fresh yosys synthesis of the
//! current NTT and automorphism units (the N = 2^16 rows take minutes each; regenerate them
//! with `hesim verilog unit-table --regenerate hw/area/unit_table.json`).

mod common;

use hesim_hw::Width;
use hesim_hw::area::{
    DRIFT_CHECK_SHAPES, Family, UnitKind, share_identical_modules, synthesize_unit,
    unit_area_table, unit_table_shapes,
};
use hesim_hw::automorphism::{AutomorphismConfig, automorphism_verilog};
use hesim_hw::ntt_unit::{NttUnitConfig, unit_files, unit_plan};
use hesim_hw::tools::Tool;

#[test]
fn committed_unit_table_covers_the_grid() {
    let table = unit_area_table();
    for (unit, log_n, lanes, width) in unit_table_shapes() {
        let row = table
            .get(unit, log_n, lanes, width)
            .unwrap_or_else(|| panic!("no row for {} 2^{log_n} P={lanes} {width}", unit.name()));
        assert_eq!(row.family, Family::Xcup);
        assert!(row.cells.lut > 0 && row.cells.ff > 0, "{row:?}");
        // Every NTT lane holds one Shoup butterfly, which needs DSPs.
        if unit == UnitKind::Ntt {
            assert!(row.cells.dsp >= u64::from(lanes), "{row:?}");
        }
    }
}

/// Identical per-lane modules collapse to one definition (what makes a 64-lane synthesis take
/// one lane's time), while modules that differ (each lane's twiddle ROM) stay apart.
#[test]
fn sharing_keeps_one_module_per_distinct_text() {
    let count = |text: &str| text.lines().filter(|l| l.starts_with("module ")).count();
    let config = NttUnitConfig::new(6, 4, Width::W32).expect("shape");
    let plan = unit_plan(config, 31).expect("plan");
    let design = &unit_files(config, &plan)[0].1;
    let shared = share_identical_modules(design);
    assert!(
        count(&shared) < count(design),
        "{} -> {}",
        count(design),
        count(&shared)
    );
    for lane in 1..4 {
        assert!(
            !shared.contains(&format!("module top$lanes${lane}(")),
            "lane {lane} kept"
        );
        assert!(shared.contains(&format!("module top$forward_twiddles${lane}(")));
    }
    assert_eq!(
        shared.matches(" lanes$").count(),
        design.matches(" lanes$").count()
    );
    let automorphism = automorphism_verilog(AutomorphismConfig::new(6, 4, Width::W32).unwrap());
    assert!(count(&share_identical_modules(&automorphism)) <= count(&automorphism));
}

/// One drift-check row against a fresh yosys run (one test per row, so each stays short).
fn drift_row_matches_yosys(index: usize) {
    if !common::tools_available(&[Tool::Yosys]) {
        return;
    }
    let (unit, log_n, lanes, width) = DRIFT_CHECK_SHAPES[index];
    let fresh = synthesize_unit(unit, log_n, lanes, width, Family::Xcup).expect("yosys");
    let table = unit_area_table();
    let committed = table.get(unit, log_n, lanes, width).expect("committed row");
    assert_eq!(
        &fresh,
        committed,
        "hw/area/unit_table.json drifted from the design at {} 2^{log_n} P={lanes} {width}; \
         regenerate it with `hesim verilog unit-table --regenerate hw/area/unit_table.json`",
        unit.name()
    );
}

#[test]
fn unit_table_ntt_drift_row_matches_yosys() {
    assert_eq!(DRIFT_CHECK_SHAPES[0].0, UnitKind::Ntt);
    drift_row_matches_yosys(0);
}

#[test]
fn unit_table_automorphism_drift_row_matches_yosys() {
    assert_eq!(DRIFT_CHECK_SHAPES[1].0, UnitKind::Automorphism);
    drift_row_matches_yosys(1);
}
