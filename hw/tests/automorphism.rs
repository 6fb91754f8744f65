//! The automorphism unit equals `hesim_sw::ring::GaloisPermutation` (the golden automorphism
//! of an NTT-form limb) in rust-hdl simulation: every odd g at N = 2^10, in N/P cycles per limb
//! plus the documented latency.

use hesim_hw::Width;
use hesim_hw::automorphism::{
    AutomorphismConfig, AutomorphismUnit, load_limb, run_automorphism, simulate_automorphism,
};
use hesim_hw::rtl_sim::ClockedSim;
use hesim_sw::ring::GaloisPermutation;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn golden(input: &[u64], g: u64) -> Vec<u64> {
    let permutation = GaloisPermutation::new(g, input.len()).expect("odd g < 2N");
    let mut output = vec![0; input.len()];
    permutation.apply(input, &mut output);
    output
}

/// Every odd g < 2N on one random limb: the banks' contents after each run, plus the host read
/// path for a few elements.
fn every_odd_element<const W: usize>(log_n: u32, lanes: u32, width: Width) {
    let config = AutomorphismConfig::new(log_n, lanes, width).expect("shape");
    let n = config.n();
    let mut sim =
        ClockedSim::new(AutomorphismUnit::<W>::new(config), |u| &mut u.clock).expect("sim");
    let mut rng = ChaCha20Rng::seed_from_u64(n + u64::from(lanes));
    let input: Vec<u64> = (0..n).map(|_| rng.random_range(0..1u64 << 31)).collect();
    for g in [3, 2 * n - 1, 5 * 5 * 5 % (2 * n)] {
        let (got, cycles) = simulate_automorphism(&mut sim, &input, g).expect("runs");
        assert_eq!(got, golden(&input, g), "{config}, g = {g}, host port");
        assert_eq!(cycles, config.transform_cycles(), "{config}");
    }
    load_limb(&mut sim, &input).expect("loads");
    for g in (1..2 * n).step_by(2) {
        let cycles = run_automorphism(&mut sim, g, n).expect("runs");
        assert_eq!(cycles, config.transform_cycles(), "{config}, g = {g}");
        assert_eq!(
            sim.uut().output_limb(),
            golden(&input, g),
            "{config}, g = {g}"
        );
    }
}

#[test]
fn automorphism_p8_every_odd_element_n1024() {
    every_odd_element::<32>(10, 8, Width::W32);
}

#[test]
fn automorphism_p2_p64_small() {
    every_odd_element::<32>(6, 2, Width::W32);
    every_odd_element::<64>(8, 64, Width::W64);
}
