//! The iterative NTT core equals `hesim_sw::ring`'s golden forward and inverse NTTs, in
//! rust-hdl simulation (N = 16, 64) and as Verilog under Icarus and Verilator (N = 1024).

mod common;

use hesim_hw::ntt_core::{NttCore32, TwiddleTables, simulate_transform, transform_cycles};
use hesim_hw::rtl_sim::ClockedSim;
use hesim_sw::ring::{NttPlan, ntt_moduli};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn core_matches_golden<const A: usize, const B: usize>(bits: u32) {
    let n = 1usize << A;
    let modulus = ntt_moduli(bits, 1, n).expect("prime")[0];
    let plan = NttPlan::new(n, &modulus).expect("plan");
    let tables = TwiddleTables::from_plan(&plan).expect("q < 2^31");
    let mut sim = ClockedSim::new(NttCore32::<A, B>::new(&tables), |c| &mut c.clock).expect("sim");
    let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
    for round in 0..3 {
        let input: Vec<u64> = (0..n)
            .map(|_| rng.random_range(0..modulus.value()))
            .collect();
        let mut expected = input.clone();
        plan.forward_golden(&mut expected);
        let (got, cycles) = simulate_transform(&mut sim, &input, false).expect("runs");
        assert_eq!(got, expected, "forward, N = {n}, round {round}");
        assert_eq!(cycles, transform_cycles(n) + 1, "start edge + transform");
        let mut expected_inverse = input.clone();
        plan.inverse_golden(&mut expected_inverse);
        let (got, _) = simulate_transform(&mut sim, &input, true).expect("runs");
        assert_eq!(got, expected_inverse, "inverse, N = {n}, round {round}");
    }
}

#[test]
fn ntt_core_16_matches_golden_model() {
    core_matches_golden::<4, 3>(30);
}

#[test]
fn ntt_core_64_matches_golden_model() {
    core_matches_golden::<6, 5>(31);
}

/// The emitted N = 1024 core passes forward and inverse transforms from the golden model
/// under Icarus and Verilator, lint clean and latch free. Needs yosys, iverilog, verilator
/// (fails under `CI=true` when missing, skips otherwise). `HESIM_HW_NTT_TRANSFORMS` sets the
/// number of transforms (default 2: one forward, one inverse).
#[test]
fn ntt_core_1024_verilog_matches_golden_model() {
    use hesim_hw::check::check_dir;
    use hesim_hw::ntt_core::write_ntt_dir;
    use hesim_hw::tools::Tool;
    if !common::tools_available(&[
        Tool::Yosys,
        Tool::Iverilog,
        Tool::Vvp,
        Tool::Verilator,
        Tool::Cxx,
        Tool::Make,
    ]) {
        return;
    }
    let transforms = common::count_from_env("HESIM_HW_NTT_TRANSFORMS", 2);
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = write_ntt_dir(dir.path(), 10, 30, transforms, 11).expect("written");
    let report = check_dir(dir.path()).expect("checks run");
    for sim in &report.simulations {
        eprintln!("NTT 1024 {}: {:?}", sim.simulator, sim.summary);
        assert_eq!(
            (sim.passed, sim.failed),
            (transforms * 1024, 0),
            "{}",
            sim.simulator
        );
        let cycles = format!(
            "cycles per transform: {} (documented {}), 0 mismatches",
            manifest.cycles_per_transform, manifest.cycles_per_transform
        );
        assert!(sim.summary.contains(&cycles), "{:?}", sim.summary);
    }
    assert!(report.all_passed());
}
