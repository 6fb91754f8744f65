//! The emitted Verilog passes the golden vectors under Icarus Verilog and Verilator, is lint
//! clean (`verilator --lint-only -Wall`) and has no latches (yosys), for both widths, both
//! variants (Shoup, special-prime) and all three modes; and the flow reports failures when a
//! vector is wrong.
//!
//! Default: 2,000 random vectors per width, variant and mode (+ edge cases) to keep CI short; the full
//! run is `HESIM_HW_VERILOG_VECTORS=100000 cargo test --release -p hesim-hw --test verilog_flow`.
//! Needs yosys, iverilog and verilator: fails under `CI=true` when one is missing, skips
//! otherwise.

mod common;

use hesim_hw::check::check_dir;
use hesim_hw::emit::{VECTORS_FILE, write_design_dir};
use hesim_hw::tools::Tool;
use hesim_hw::vectors::{Mode, generate};
use hesim_hw::{HwError, Variant, Width};

const TOOLS: [Tool; 6] = [
    Tool::Yosys,
    Tool::Iverilog,
    Tool::Vvp,
    Tool::Verilator,
    Tool::Cxx,
    Tool::Make,
];

fn verilog_matches_golden(width: Width, variant: Variant, seed: u64) {
    if !common::tools_available(&TOOLS) {
        return;
    }
    let per_mode = common::count_from_env("HESIM_HW_VERILOG_VECTORS", 2_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let vectors = generate(width, variant, per_mode, seed).expect("vectors");
    let manifest = write_design_dir(dir.path(), width, variant, &vectors, seed).expect("written");
    let report = check_dir(dir.path()).expect("checks run");
    assert_eq!(report.simulations.len(), 2);
    for sim in &report.simulations {
        eprintln!(
            "{width}-bit {variant} {}: {} passed, {} failed",
            sim.simulator, sim.passed, sim.failed
        );
        for line in &sim.summary {
            eprintln!("  {line}");
        }
        assert_eq!(
            (sim.passed, sim.failed),
            (manifest.vectors, 0),
            "{}",
            sim.simulator
        );
        for mode in Mode::ALL {
            let count = manifest.vectors_per_mode[mode.index()];
            assert!(count > per_mode);
            let expected = format!("{}: {count} passed, 0 failed", mode.name());
            assert!(
                sim.summary.contains(&expected),
                "{}: {:?}",
                sim.simulator,
                sim.summary
            );
        }
    }
    assert!(report.all_passed());
}

#[test]
fn verilog_32_passes_icarus_and_verilator() {
    verilog_matches_golden(Width::W32, Variant::Shoup, 0x0032);
}

#[test]
fn verilog_64_passes_icarus_and_verilator() {
    verilog_matches_golden(Width::W64, Variant::Shoup, 0x0064);
}

#[test]
fn verilog_special_prime_32_passes_icarus_and_verilator() {
    verilog_matches_golden(Width::W32, Variant::SpecialPrime, 0x5032);
}

#[test]
fn verilog_special_prime_64_passes_icarus_and_verilator() {
    verilog_matches_golden(Width::W64, Variant::SpecialPrime, 0x5064);
}

/// A corrupted expected value makes both simulators report exactly one failure.
#[test]
fn testbench_reports_a_wrong_vector() {
    if !common::tools_available(&TOOLS) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vectors = generate(Width::W32, Variant::Shoup, 20, 5).expect("vectors");
    vectors[3].x_out = (vectors[3].x_out + 1) % vectors[3].q;
    write_design_dir(dir.path(), Width::W32, Variant::Shoup, &vectors, 5).expect("written");
    let report = check_dir(dir.path()).expect("checks run");
    for sim in &report.simulations {
        assert_eq!(
            (sim.passed, sim.failed),
            (vectors.len() - 1, 1),
            "{}",
            sim.simulator
        );
    }
    assert!(!report.all_passed());
}

/// A directory without a manifest is a clear error, not a panic.
#[test]
fn check_rejects_a_directory_without_a_design() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = check_dir(dir.path()).expect_err("no design");
    assert!(matches!(err, HwError::BadDesignDir { .. }), "{err}");
    assert!(err.to_string().contains("hesim verilog butterfly"), "{err}");
    assert!(!dir.path().join(VECTORS_FILE).exists());
}
