//! The committed area table (`hw/area/area_table.json`, what `sim` reads) covers every
//! shipped variant and equals a fresh yosys synthesis of the current design.
//!
//! The regeneration needs yosys: it fails under `CI=true` when yosys is missing and is
//! skipped otherwise. On drift, update the file with
//! `cargo run --release -- verilog area-table --regenerate hw/area/area_table.json`.

mod common;

use hesim_hw::area::{TABLE_FAMILIES, synthesize_butterfly};
use hesim_hw::butterfly::BUTTERFLY_LATENCY;
use hesim_hw::tools::Tool;
use hesim_hw::{Family, Variant, Width, area_table};

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

/// One committed row against a fresh yosys run of the current butterfly (one test per row, so
/// each stays short; the 64-bit rows take the longest).
fn committed_row_matches_yosys(width: Width, variant: Variant, family: Family) {
    if !common::tools_available(&[Tool::Yosys]) {
        return;
    }
    let fresh = synthesize_butterfly(width, variant, family).expect("yosys synthesis");
    let committed = area_table();
    assert_eq!(
        Some(&fresh),
        committed.get(width, variant, family),
        "hw/area/area_table.json drifted from the design at {width}/{variant}/{family}; update \
         it with `cargo run --release -- verilog area-table --regenerate hw/area/area_table.json`"
    );
}

macro_rules! row_tests {
    ($($name:ident: $width:expr, $variant:expr, $family:expr;)*) => {$(
        #[test]
        fn $name() {
            committed_row_matches_yosys($width, $variant, $family);
        }
    )*};
}

row_tests! {
    shoup_32_xc7_matches_yosys: Width::W32, Variant::Shoup, Family::Xc7;
    shoup_32_ice40_matches_yosys: Width::W32, Variant::Shoup, Family::Ice40;
    special_prime_32_xc7_matches_yosys: Width::W32, Variant::SpecialPrime, Family::Xc7;
    special_prime_32_ice40_matches_yosys: Width::W32, Variant::SpecialPrime, Family::Ice40;
    shoup_64_xc7_matches_yosys: Width::W64, Variant::Shoup, Family::Xc7;
    shoup_64_ice40_matches_yosys: Width::W64, Variant::Shoup, Family::Ice40;
    special_prime_64_xc7_matches_yosys: Width::W64, Variant::SpecialPrime, Family::Xc7;
    special_prime_64_ice40_matches_yosys: Width::W64, Variant::SpecialPrime, Family::Ice40;
}

/// The row tests above cover the whole committed table.
#[test]
fn row_tests_cover_the_table() {
    assert_eq!(TABLE_FAMILIES, [Family::Xc7, Family::Ice40]);
    assert_eq!(area_table().entries.len(), 8);
}
