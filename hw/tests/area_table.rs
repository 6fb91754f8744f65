//! The committed area table (`hw/area/area_table.json`, what `sim` reads) covers every
//! shipped variant and equals a fresh yosys synthesis of the current design.
//!
//! The regeneration needs yosys: it fails under `CI=true` when yosys is missing and is
//! skipped otherwise. On drift, update the file with
//! `cargo run --release -- verilog area-table --regenerate hw/area/area_table.json`.

mod common;

use hesim_hw::area::{TABLE_FAMILIES, regenerate_area_table};
use hesim_hw::butterfly::BUTTERFLY_LATENCY;
use hesim_hw::tools::Tool;
use hesim_hw::{Variant, Width, area_table};

#[test]
fn committed_area_table_covers_every_shipped_variant() {
    let table = area_table();
    assert_eq!(
        table.entries.len(),
        Width::ALL.len() * Variant::ALL.len() * TABLE_FAMILIES.len()
    );
    for width in Width::ALL {
        for variant in Variant::ALL {
            for family in TABLE_FAMILIES {
                let entry = table
                    .get(width, variant, family)
                    .unwrap_or_else(|| panic!("no row for {width}/{variant}/{family}"));
                assert_eq!(entry.latency, BUTTERFLY_LATENCY);
                assert!(entry.cells.lut > 0 && entry.cells.ff > 0 && entry.cells.dsp > 0);
            }
        }
    }
}

/// The special-prime variant exists to save multipliers. With n = W/16 limbs, it computes one
/// full product (n² 16×16 partial products); Shoup computes a full product and two low halves
/// (n² + 2·n(n+1)/2). Yosys maps each partial product to one DSP48E1 / SB_MAC16.
#[test]
fn special_prime_rows_use_fewer_dsps_than_shoup() {
    let table = area_table();
    for width in Width::ALL {
        let n = u64::from(width.bits() / 16);
        let (shoup_dsp, special_dsp) = (n * n + n * (n + 1), n * n);
        for family in TABLE_FAMILIES {
            let dsp = |variant| table.get(width, variant, family).expect("row").cells.dsp;
            assert_eq!(dsp(Variant::Shoup), shoup_dsp, "{width}/{family}");
            assert_eq!(dsp(Variant::SpecialPrime), special_dsp, "{width}/{family}");
        }
    }
}

#[test]
fn committed_area_table_matches_yosys() {
    if !common::tools_available(&[Tool::Yosys]) {
        return;
    }
    let fresh = regenerate_area_table(&TABLE_FAMILIES).expect("yosys synthesis");
    let committed = area_table();
    assert_eq!(
        fresh,
        committed,
        "hw/area/area_table.json drifted from the design; fresh table:\n{}\nupdate it with \
         `cargo run --release -- verilog area-table --regenerate hw/area/area_table.json`",
        fresh.to_json()
    );
}
