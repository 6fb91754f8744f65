//! A `bootstrap` op and the shared expansion of `hesim_traces::bootstrap` (what
//! `hesim trace gen --expand-boot` writes and `sw::ckks` executes) simulate within 5 % of each
//! other on every preset, alone and inside ResNet-20. The independent side is the expanded
//! trace: it is scheduled op by op among its neighbours, while the single op is scheduled as a
//! block in isolation.

use hesim_sim::arch::PRESETS;
use hesim_sim::{Arch, simulate};
use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::{Network, Params};
use hesim_traces::bootstrap::{default_params, expand_ops, standalone};

fn agree(preset: &str, what: &str, single: f64, expanded: f64) {
    let gap = single / expanded - 1.0;
    assert!(
        gap.abs() < 0.05,
        "{preset} {what}: single-op {single} vs expanded {expanded} cycles ({:+.1} %)",
        gap * 100.0
    );
}

#[test]
fn single_op_and_expansion_agree_alone_on_every_preset() {
    for (name, _) in PRESETS {
        let arch = Arch::preset(name).unwrap();
        // The largest ring the preset takes (2^14 is below the 128-bit bound for this chain,
        // so that case is an explicit insecure test parameter).
        let log_n = arch.ntt.max_log_n.min(16);
        let p = default_params(1 << (log_n - 1));
        let (h, single) = standalone(log_n, &p, 4, false, log_n < 16).unwrap();
        let (_, expanded) = standalone(log_n, &p, 4, true, log_n < 16).unwrap();
        let x = simulate(&arch, &h, &single).unwrap();
        let y = simulate(&arch, &h, &expanded).unwrap();
        assert_eq!(x.counts.bootstraps, 1);
        agree(name, "bootstrap", x.cycles as f64, y.cycles as f64);
    }
}

#[test]
fn single_op_and_expansion_agree_inside_resnet20() {
    let opts = MuxOptions::default();
    let net = Network::builtin("resnet20").unwrap();
    let params = Params::random(&net, 1).unwrap();
    let program = multiplexed::build(&net, &params, &opts).unwrap();
    let expanded = expand_ops(&program.header, &program.ops).unwrap();
    let mut ran = 0;
    for (name, _) in PRESETS {
        let arch = Arch::preset(name).unwrap();
        if arch.ntt.max_log_n < opts.log_n {
            continue; // the preset cannot hold N = 2^16 at all (f1)
        }
        let x = simulate(&arch, &program.header, &program.ops).unwrap();
        let y = simulate(&arch, &program.header, &expanded).unwrap();
        assert!(x.counts.bootstraps > 0);
        agree(name, "resnet20", x.cycles as f64, y.cycles as f64);
        ran += 1;
    }
    assert!(ran >= 4, "only {ran} presets hold N = 2^16");
}

/// Each design's own recipe on its own preset (SHARP's double-prime scaling and Min-KS, ARK's
/// Min-KS and OF-Limb, BTS at N = 2^17): the single op and the expansion agree too.
#[test]
fn single_op_and_expansion_agree_under_each_design_recipe() {
    use hesim_traces::bootstrap::{RecipeOptions, bootstrap_program, recipe};
    for design in ["sharp", "ark", "bts", "craterlake"] {
        let arch = Arch::preset(design).unwrap();
        let r = recipe(design, &RecipeOptions::default()).unwrap();
        let single = bootstrap_program(&r.header, &r.params, false).unwrap();
        let expanded = bootstrap_program(&r.header, &r.params, true).unwrap();
        let x = simulate(&arch, &r.header, &single.ops).unwrap();
        let y = simulate(&arch, &r.header, &expanded.ops).unwrap();
        agree(design, "recipe bootstrap", x.cycles as f64, y.cycles as f64);
    }
}
