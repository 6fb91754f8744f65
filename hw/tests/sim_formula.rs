//! The cycles of one transform of the NTT unit, measured in rust-hdl simulation, equal what
//! `hesim-sim` charges for the same unit: its radix-2 model (`sim/src/engine.rs`,
//! `NttAlgorithm::Radix2`: ⌈(N/2)·log2 N / lanes⌉ busy cycles per limb) plus the unit's
//! pipeline latency, the value `hesim verilog fit` writes as `ntt.latency_cycles`.

use std::sync::Arc;

use hesim_hw::Width;
use hesim_hw::ntt_unit::{NttUnit32, NttUnitConfig, simulate_unit_transform, unit_plan};
use hesim_hw::rtl_sim::ClockedSim;
use hesim_sim::ArchLoader;
use hesim_sim::result::Unit;
use hesim_traces::{Header, Op, OpKind};

/// Busy cycles per limb NTT that the simulator charges an architecture with one radix-2 NTT
/// unit of `lanes` butterflies, measured through its public API: a rescale (whose lowering is
/// all limb (I)NTTs plus element-wise work) divided by its limb-transform count.
fn sim_cycles_per_limb(log_n: u32, lanes: u32) -> u64 {
    let mut loader = ArchLoader::new("default").expect("preset");
    for setting in [
        "ntt.algorithm=radix2".to_string(),
        "ntt.units=1".to_string(),
        "clusters=1".to_string(),
        format!("ntt.lanes={lanes}"),
    ] {
        loader.set(&setting).expect("setting");
    }
    let arch = loader.build().expect("architecture");
    let header = Header::new(
        log_n,
        1 << (log_n - 1),
        vec![25; 3],
        vec![25],
        1,
        25,
        "t",
        "t",
        "t",
    );
    let layer: Arc<str> = Arc::from("l");
    let ops = vec![
        Op::new(0, OpKind::Input, vec![], 2, layer.clone()),
        Op::new(1, OpKind::Rescale, vec![0], 1, layer.clone()),
        Op::new(2, OpKind::Output, vec![1], 1, layer),
    ];
    let result = hesim_sim::simulate(&arch, &header, &ops).expect("simulates");
    let busy = result
        .units
        .iter()
        .find(|u| u.unit == Unit::Ntt)
        .expect("NTT unit stats")
        .busy_cycles;
    let limbs = result.counts.total.ntt;
    assert!(
        limbs > 0 && busy % limbs == 0,
        "{busy} busy cycles for {limbs} limbs"
    );
    busy / limbs
}

/// No stage gaps at these shapes (N/(4P) ≥ the issue-to-visible delay), so the unit issues
/// back to back exactly as the simulator's model assumes.
#[test]
fn measured_transform_cycles_equal_the_simulator_formula() {
    for (log_n, lanes) in [(7, 1), (7, 2), (8, 4)] {
        let config = NttUnitConfig::new(log_n, lanes, Width::W32).expect("shape");
        assert_eq!(config.stage_gap(), 0, "{config}");
        let plan = unit_plan(config, 31).expect("plan");
        let mut sim =
            ClockedSim::new(NttUnit32::new(config, &plan), |u| &mut u.clock).expect("sim");
        let input: Vec<u64> = (0..plan.n() as u64).collect();
        let (_, measured) = simulate_unit_transform(&mut sim, &input, false).expect("runs");
        let per_limb = sim_cycles_per_limb(log_n, lanes);
        assert_eq!(
            per_limb,
            (1u64 << log_n) / 2 * u64::from(log_n) / u64::from(lanes)
        );
        assert_eq!(
            measured,
            per_limb + config.latency_cycles(),
            "{config}: measured {measured}, simulator {per_limb} + latency {}",
            config.latency_cycles()
        );
    }
}
