//! The parametric NTT unit equals `hesim_sw::ring`'s golden forward and inverse NTTs in
//! rust-hdl simulation, for P ∈ {1, 4} (and more) at small N, in the documented cycle count.

mod common;

use hesim_hw::Width;
use hesim_hw::ntt_unit::{
    NttUnit32, NttUnit64, NttUnitConfig, NttUnitPorts, simulate_unit_transform, unit_plan,
};
use hesim_hw::rtl_sim::ClockedSim;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn unit_matches_golden<U: NttUnitPorts>(
    config: NttUnitConfig,
    bits: u32,
    unit: impl Fn(&hesim_sw::ring::NttPlan) -> U,
) {
    let plan = unit_plan(config, bits).expect("plan");
    let q = plan.modulus().value();
    let mut sim = ClockedSim::new(unit(&plan), U::clock_port).expect("sim");
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(config.log_n * 100 + config.lanes));
    for round in 0..2 {
        let input: Vec<u64> = (0..plan.n()).map(|_| rng.random_range(0..q)).collect();
        let mut expected = input.clone();
        plan.forward_golden(&mut expected);
        let (got, cycles) = simulate_unit_transform(&mut sim, &input, false).expect("runs");
        assert_eq!(got, expected, "forward, {config}, round {round}");
        assert_eq!(
            cycles,
            config.transform_cycles(),
            "forward cycles, {config}"
        );
        let mut expected = input.clone();
        plan.inverse_golden(&mut expected);
        let (got, cycles) = simulate_unit_transform(&mut sim, &input, true).expect("runs");
        assert_eq!(got, expected, "inverse, {config}, round {round}");
        assert_eq!(
            cycles,
            config.transform_cycles(),
            "inverse cycles, {config}"
        );
    }
}

fn check32(log_n: u32, lanes: u32) {
    let config = NttUnitConfig::new(log_n, lanes, Width::W32).expect("shape");
    unit_matches_golden(config, 31, |plan| NttUnit32::new(config, plan));
}

#[test]
fn unit_32_p1_matches_golden_model() {
    check32(4, 1);
    check32(6, 1);
}

#[test]
fn unit_32_p4_matches_golden_model() {
    check32(4, 4);
    check32(7, 4);
}

#[test]
fn unit_32_p2_p8_matches_golden_model() {
    check32(5, 2);
    check32(6, 8);
}

#[test]
fn unit_64_matches_golden_model() {
    for lanes in [1, 4] {
        let config = NttUnitConfig::new(5, lanes, Width::W64).expect("shape");
        unit_matches_golden(config, 62, |plan| NttUnit64::new(config, plan));
    }
}

/// Shapes `log_n:lanes:width` from `HESIM_HW_UNIT_SHAPES` (comma-separated), or `default`.
fn shapes_from_env(default: &str) -> Vec<NttUnitConfig> {
    let text = std::env::var("HESIM_HW_UNIT_SHAPES").unwrap_or_else(|_| default.to_string());
    text.split(',')
        .map(|shape| {
            let fields: Vec<u32> = shape
                .split(':')
                .map(|f| f.trim().parse().expect("log_n:lanes:width"))
                .collect();
            let [log_n, lanes, width] = fields[..] else {
                panic!("shape `{shape}` is not log_n:lanes:width");
            };
            NttUnitConfig::new(log_n, lanes, Width::from_bits(width).expect("32 or 64"))
                .expect("buildable shape")
        })
        .collect()
}

/// The emitted unit passes forward and inverse transforms from the golden model under Icarus
/// and Verilator, lint clean and latch free, in the documented cycle count. CI: N = 2^6 with
/// P = 1 and 4. The documented large run (see hw/README.md):
/// `HESIM_HW_UNIT_SHAPES=12:1:32,12:8:32,12:32:32 cargo test --release -p hesim-hw --test ntt_unit verilog`.
#[test]
fn unit_verilog_matches_golden_model() {
    use hesim_hw::check::check_dir;
    use hesim_hw::ntt_unit::write_unit_dir;
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
    let transforms = common::count_from_env("HESIM_HW_UNIT_TRANSFORMS", 2);
    for config in shapes_from_env("6:1:32,6:4:32") {
        let dir = tempfile::tempdir().expect("temp dir");
        let bits = config.width.max_modulus_bits();
        let manifest = write_unit_dir(dir.path(), config, bits, transforms, 5).expect("written");
        let report = check_dir(dir.path()).expect("checks run");
        for sim in &report.simulations {
            eprintln!("{config} {}: {:?}", sim.simulator, sim.summary);
            assert_eq!(
                (sim.passed, sim.failed),
                (transforms << config.log_n, 0),
                "{config}, {}",
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
}
