//! The parametric NTT unit equals `hesim_sw::ring`'s golden forward and inverse NTTs in
//! rust-hdl simulation, for P ∈ {1, 4} (and more) at small N, in the documented cycle count.

use hesim_hw::Width;
use hesim_hw::ntt_unit::{
    NttUnit32, NttUnit64, NttUnitConfig, NttUnitPorts, simulate_unit_transform, unit_plan,
};
use hesim_hw::rtl_sim::ClockedSim;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn unit_matches_golden<U: NttUnitPorts>(config: NttUnitConfig, bits: u32, unit: impl Fn(&hesim_sw::ring::NttPlan) -> U) {
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
        assert_eq!(cycles, config.transform_cycles(), "forward cycles, {config}");
        let mut expected = input.clone();
        plan.inverse_golden(&mut expected);
        let (got, cycles) = simulate_unit_transform(&mut sim, &input, true).expect("runs");
        assert_eq!(got, expected, "inverse, {config}, round {round}");
        assert_eq!(cycles, config.transform_cycles(), "inverse cycles, {config}");
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
