//! The `fpga` preset's NTT and automorphism units are the ones `hesim verilog fit --device
//! u280 --word 54` chooses from the committed unit area table (not an estimate), and the fit
//! stays within the stated share of the U280.

use hesim_hw::area::unit_area_table;
use hesim_hw::fit::{U280, UNIT_SHARE, fit};
use hesim_sim::ArchLoader;
use hesim_sim::arch::NttAlgorithm;

#[test]
fn fpga_preset_uses_the_fitted_units() {
    let preset = ArchLoader::new("fpga")
        .and_then(|l| l.build())
        .expect("fpga preset");
    let chosen = fit(U280, preset.word_bits, &unit_area_table()).expect("a unit fits");
    assert_eq!(preset.ntt.algorithm, NttAlgorithm::Radix2);
    assert_eq!(
        (
            preset.ntt.units,
            preset.ntt.lanes,
            u64::from(preset.ntt.latency_cycles)
        ),
        (
            chosen.ntt_units,
            chosen.ntt.lanes,
            chosen.ntt.latency_cycles
        ),
        "sim/presets/fpga.toml [ntt] differs from `hesim verilog fit --device u280 --word 54`"
    );
    assert_eq!(
        (
            preset.automorphism.units,
            preset.automorphism.lanes,
            u64::from(preset.automorphism.latency_cycles)
        ),
        (
            1,
            chosen.automorphism.lanes,
            chosen.automorphism.latency_cycles
        ),
        "sim/presets/fpga.toml [automorphism] differs from the fit"
    );
    assert_eq!(preset.ntt.max_log_n, chosen.ntt.log_n);
}

/// The chosen units use at most the stated share of every U280 resource, and one more NTT unit
/// would not fit (the fit is the largest).
#[test]
fn fit_is_the_largest_within_the_share() {
    let table = unit_area_table();
    for word in [31, 54] {
        let chosen = fit(U280, word, &table).expect("a unit fits");
        let used = chosen.used;
        let within = |used: u64, total: u64| used as f64 <= UNIT_SHARE * total as f64;
        assert!(within(used.lut, U280.lut) && within(used.ff, U280.ff));
        assert!(within(used.dsp, U280.dsp) && within(used.bram, U280.bram));
        assert!(within(used.uram, U280.uram));
        let n = &chosen.ntt.cells;
        let exceeds = !within(used.lut + n.lut, U280.lut)
            || !within(used.ff + n.ff, U280.ff)
            || !within(used.dsp + n.dsp, U280.dsp)
            || !within(used.bram + n.bram, U280.bram)
            || !within(used.uram + n.uram, U280.uram);
        assert!(
            exceeds,
            "word {word}: another {}-lane unit still fits",
            chosen.ntt.lanes
        );
    }
}
