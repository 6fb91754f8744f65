//! The rust-hdl simulation of the butterfly equals the golden model (`hesim_sw::ring`'s
//! butterflies) on random vectors and edge cases, streamed at one input per cycle with the
//! mode changing from input to input.
//!
//! Both variants: Shoup (moduli changing per vector) and special-prime (its fixed q).
//! Default: 10,000 random vectors per width, variant and mode (+ edge cases); set
//! `HESIM_HW_RTL_VECTORS` to change the count.

mod common;

use hesim_hw::butterfly::BUTTERFLY_LATENCY;
use hesim_hw::rtl_sim::stream_butterfly;
use hesim_hw::vectors::{edge_cases, generate};
use hesim_hw::{Variant, Width};

fn rtl_matches_golden(width: Width, variant: Variant, seed: u64) {
    let per_mode = common::count_from_env("HESIM_HW_RTL_VECTORS", 10_000);
    let vectors = generate(width, variant, per_mode, seed).expect("vectors");
    let started = std::time::Instant::now();
    let outcome = stream_butterfly(width, variant, &vectors).expect("simulation runs");
    let rate = outcome.cycles as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "{width}-bit {variant} rust-hdl: passed {:?} failed {:?} (forward, inverse, inverse_half), \
         latency {:?}, {} cycles at {rate:.0} cycles/s",
        outcome.passed, outcome.failed, outcome.observed_latency, outcome.cycles
    );
    assert!(
        outcome.all_passed(),
        "mismatches: {:#?}",
        outcome.mismatches
    );
    assert_eq!(outcome.observed_latency, Some(BUTTERFLY_LATENCY as u64));
    for passed in outcome.passed {
        assert!(
            passed >= per_mode,
            "every mode got its {per_mode} random vectors"
        );
    }
    assert_eq!(outcome.passed.iter().sum::<usize>(), vectors.len());
}

#[test]
fn rtl_32_matches_golden_model() {
    rtl_matches_golden(Width::W32, Variant::Shoup, 0x3232);
}

#[test]
fn rtl_64_matches_golden_model() {
    rtl_matches_golden(Width::W64, Variant::Shoup, 0x6464);
}

#[test]
fn rtl_special_prime_32_matches_golden_model() {
    rtl_matches_golden(Width::W32, Variant::SpecialPrime, 0x5032);
}

#[test]
fn rtl_special_prime_64_matches_golden_model() {
    rtl_matches_golden(Width::W64, Variant::SpecialPrime, 0x5064);
}

/// The comparison can fail: a wrong expected value is reported, not absorbed.
#[test]
fn rtl_comparison_detects_a_wrong_expectation() {
    let mut vectors = edge_cases(Width::W32, Variant::Shoup).expect("edge cases");
    vectors[7].y_out = (vectors[7].y_out + 1) % vectors[7].q;
    let outcome = stream_butterfly(Width::W32, Variant::Shoup, &vectors).expect("simulation runs");
    assert!(!outcome.all_passed());
    assert_eq!(outcome.failed.iter().sum::<usize>(), 1);
    assert!(
        outcome.mismatches[0].starts_with("vector 7 "),
        "{:?}",
        outcome.mismatches
    );
}
