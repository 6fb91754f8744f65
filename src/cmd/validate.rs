//! `hesim validate`: the simulator's validation table (benchmarks.md: bootstrapping, HELR,
//! Lee et al.'s ResNet-20, LoLa-CIFAR on each design's preset under its own recipe) with sensitivity rows, as Markdown,
//! CSV, JSON and an SVG figure. It wires the generators (hesim-traces recipes, hesim-sw
//! workloads, hesim-sim patterns) to `hesim_sim::validate`, which runs and formats.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use hesim_sim::validate::{self, BOOTSTRAP_DESIGNS, Case, Sensitivity};
use hesim_sw::boot::{self, RecipeOptions};
use hesim_sw::nn::resnet_lee;
use hesim_sw::workloads::{self, HelrOptions};
use hesim_traces::{BootstrapParams, Op, OpKind};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Print the rows as JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
    /// Also write validation.csv, validation.md and the figure validation.svg / .png into this
    /// directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write each row's workload trace into this directory as `DESIGN-WORKLOAD.jsonl`
    /// (per-layer and per-unit detail: `hesim sim --arch DESIGN --trace FILE`).
    #[arg(long)]
    pub traces: Option<PathBuf>,
}

/// HELR as the benchmark runs it: `batch` samples, 32 iterations, reported per iteration.
fn helr_case(design: &str, batch: u64) -> Result<Case> {
    let r = boot::recipe(design, &RecipeOptions::default())?;
    let opts = HelrOptions {
        batch,
        ..HelrOptions::default()
    };
    let t = workloads::helr(&r.header, &r.params, &opts)
        .with_context(|| format!("helr{batch} under the {design} recipe"))?;
    Ok(validate::case(
        design,
        &format!("helr{batch}"),
        t.header,
        t.ops,
        opts.iterations,
    ))
}

/// Slots of every bootstrap in the SNU group's GPU ResNet-20 (`scale-snu/cheddar-ae`
/// `unittest/ResNet.cpp`: `PrepareBoot(1 << 14, ...)` only), where Lee et al.'s layout period
/// gives 2^14, 2^13 and 2^12 in stages 1, 2 and 3.
const CHEDDAR_RESNET_SLOTS: u64 = 1 << 14;

/// Lee et al.'s ResNet-20 (random weights: the op sequence does not depend on them) under the
/// design's recipe: its chain sets how often the level planner bootstraps.
fn resnet_case(design: &str) -> Result<Case> {
    let r = boot::recipe(design, &RecipeOptions::default())?;
    let built = resnet_lee::build(&resnet_lee::LeeWeights::random(1), &r.header, &r.params)
        .with_context(|| format!("resnet20 under the {design} recipe"))?;
    let p = built.program;
    Ok(validate::case(design, "resnet20", p.header, p.ops, 1))
}

/// The table's cases and sensitivities.
fn plan() -> Result<(Vec<Case>, Vec<Sensitivity>)> {
    let mut cases = Vec::new();
    for design in BOOTSTRAP_DESIGNS {
        cases.push(validate::bootstrap_case(design, &RecipeOptions::default())?);
    }
    for design in BOOTSTRAP_DESIGNS {
        for batch in [256, 1024] {
            cases.push(helr_case(design, batch)?);
        }
    }
    for design in BOOTSTRAP_DESIGNS {
        cases.push(resnet_case(design)?);
    }
    // The `fpga` preset is the U280 fit of hesim-hw's synthesized units (`hesim verilog fit`).
    // FAB and Poseidon publish speed-ups only, no absolute latency and no recipe, so its rows
    // are predictions of SHARP's programs (the benchmark set's parameters, HE² Table IV).
    let fpga_source = "prediction: U280 fit of hesim-hw's units, SHARP's recipe; FAB/Poseidon \
                       publish speed-ups only";
    for workload in ["bootstrap", "resnet20"] {
        let sharp = cases
            .iter()
            .find(|c| c.design == "sharp" && c.workload == workload)
            .expect("planned above");
        let fpga = validate::case("fpga", workload, sharp.header.clone(), sharp.ops.clone(), 1);
        cases.push(Case {
            source: fpga_source.to_owned(),
            ..fpga
        });
    }
    let (h, ops) = hesim_sim::pattern::lola_cifar_trace();
    cases.push(validate::case("f1", "lola-cifar", h, ops, 1));

    let index = |design: &str, workload: &str| {
        cases
            .iter()
            .position(|c| c.design == design && c.workload == workload)
            .expect("planned above")
    };
    let sharp = index("sharp", "bootstrap");
    let set = |case: usize, change: &str, sets: &[&str]| Sensitivity {
        case,
        change: change.to_owned(),
        sets: sets.iter().map(|s| (*s).to_owned()).collect(),
        trace: None,
    };
    let recipe_trace = |design: &str, change: &dyn Fn(&mut boot::Recipe)| -> Result<_> {
        let mut r = boot::recipe(design, &RecipeOptions::default())?;
        change(&mut r);
        let program = boot::bootstrap_program(&r.header, &r.params, false)?;
        Ok(Some((r.header, program.ops)))
    };
    let mut sens = vec![
        set(
            sharp,
            "no OF-Limb (plaintexts loaded whole)",
            &["policy.of_limb=false"],
        ),
        set(
            sharp,
            "no on-chip key generation",
            &["policy.evk_prng=false"],
        ),
        set(
            sharp,
            "keys streamed (no on-chip key cache)",
            &["policy.key_storage=streamed"],
        ),
        set(sharp, "no key prefetch", &["policy.key_prefetch=false"]),
        set(
            sharp,
            "no DPS unit (rescale pairs run apart)",
            &["policy.double_prime_unit=false"],
        ),
        set(
            sharp,
            "inter-cluster network 9 TB/s",
            &["noc.bandwidth_bytes_per_cycle=9000"],
        ),
        set(sharp, "HBM 2 TB/s", &["hbm.bandwidth_gb_s=2000"]),
    ];
    sens.push(Sensitivity {
        trace: recipe_trace("sharp", &|r| {
            r.params.eval_mod_degree = 59;
            r.params.double_angle = 2;
        })?,
        ..set(
            sharp,
            "EvalMod of Lee et al. (degree 59, 2 double angles)",
            &[],
        )
    });
    sens.push(Sensitivity {
        trace: recipe_trace("sharp", &|r| r.params.baby_step = 0)?,
        ..set(sharp, "BSGS baby step chosen for fewest rotations", &[])
    });
    sens.push(Sensitivity {
        trace: recipe_trace("sharp", &|r| r.params.slots = 1 << 12)?,
        ..set(sharp, "sparse bootstrap, 2^12 slots", &[])
    });
    let ark = index("ark", "bootstrap");
    sens.push(set(
        ark,
        "keys streamed (no on-chip key cache)",
        &["policy.key_storage=streamed"],
    ));
    let bts = index("bts", "bootstrap");
    sens.push(set(
        bts,
        "keys cached on chip",
        &["policy.key_storage=on_chip"],
    ));
    let cl = index("craterlake", "bootstrap");
    let limbs32 = boot::recipe(
        "craterlake",
        &RecipeOptions {
            limbs: Some(32),
            ..RecipeOptions::default()
        },
    )?;
    let program = boot::bootstrap_program(&limbs32.header, &limbs32.params, false)?;
    sens.push(Sensitivity {
        trace: Some((limbs32.header, program.ops)),
        ..set(cl, "chain of 32 limbs instead of budget + 9", &[])
    });
    sens.push(set(
        sharp,
        "scratchpad 192 MiB instead of 188.8 (room for one more full key)",
        &["scratchpad.capacity_mib=192"],
    ));
    let sharp_resnet = index("sharp", "resnet20");
    let case = &cases[sharp_resnet];
    let widened: Vec<Op> = case
        .ops
        .iter()
        .map(|op| match &op.kind {
            OpKind::Bootstrap(p) => {
                let mut op = op.clone();
                op.kind = OpKind::Bootstrap(BootstrapParams {
                    slots: p.slots.max(CHEDDAR_RESNET_SLOTS),
                    ..*p
                });
                op
            }
            _ => op.clone(),
        })
        .collect();
    sens.push(Sensitivity {
        trace: Some((case.header.clone(), widened)),
        ..set(
            sharp_resnet,
            "every bootstrap on 2^14 slots (Cheddar's GPU ResNet-20)",
            &[],
        )
    });
    let f1 = index("f1", "lola-cifar");
    sens.push(set(f1, "keys streamed", &["policy.key_storage=streamed"]));
    Ok((cases, sens))
}

pub fn run(args: ValidateArgs) -> Result<ExitCode> {
    let (cases, sens) = plan()?;
    let rows = validate::run(&cases, &sens)?;
    if let Some(dir) = &args.traces {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for c in &cases {
            let path = dir.join(format!("{}-{}.jsonl", c.design, c.workload));
            super::resnet::check_and_write(&path, &c.header, &c.ops)?;
        }
    }
    let markdown = validate::to_markdown(&rows);
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        super::write_atomic(
            &dir.join("validation.csv"),
            validate::to_csv(&rows).as_bytes(),
        )?;
        super::write_atomic(&dir.join("validation.md"), markdown.as_bytes())?;
        let figure_rows: Vec<(String, f64, Option<f64>)> = rows
            .iter()
            .filter(|r| r.change.is_none())
            .map(|r| {
                (
                    format!("{} {}", r.design, r.workload),
                    r.simulated_ms,
                    r.published_ms,
                )
            })
            .collect();
        hesim_reports::register_font();
        hesim_reports::validation(&figure_rows, dir)?;
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        out!("{markdown}");
    }
    Ok(ExitCode::SUCCESS)
}
