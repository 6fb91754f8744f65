//! `hesim trace compare`: one table of every packing on LeNet, ResNet-20, ResNet-18,
//! SqueezeNet-CIFAR and HEMET's network (issue #16 item 4): op counts, depth and simulated latency per architecture, or why a
//! packing does not apply.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use hesim_sw::nn::circulant::{self, CirculantOptions, Mode};
use hesim_sw::nn::{self, CompileOptions, PACKINGS, Program};
use hesim_traces::OpName;
use serde::Serialize;

use super::nn::{load_with_params, resnet20_program};
use super::sweep::he_params_for_word;

/// The networks of the comparison: `resnet20` has its default degree-15 activation,
/// `resnet20-aespa` AESPA's degree-2 one (HyPHEN's activation).
const NETWORKS: [&str; 6] = [
    "lenet",
    "resnet20",
    "resnet20-aespa",
    "resnet18",
    "squeezenet-cifar",
    "hemet",
];

/// Sparsity of the `spencnn` rows of the networks compiled on N = 2^14 (ResNet-20's spencnn is
/// SpENCNN's grouped, tap-pruned variant instead).
const SPENCNN_SPARSITY: f64 = 0.5;

/// Block size of the `circulant` rows.
const COMPARE_BLOCK: usize = 4;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Networks (lenet, resnet20, resnet20-aespa, resnet18, squeezenet-cifar, hemet;
    /// repeatable) [default: all].
    #[arg(long = "net")]
    nets: Vec<String>,
    /// Architectures to simulate on (presets or TOML files; repeatable) [default: sharp and
    /// default].
    #[arg(long = "arch")]
    archs: Vec<String>,
    /// Print JSON (one object per network and packing) instead of the markdown table.
    #[arg(long)]
    json: bool,
    /// Also write the markdown table to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also draw, per architecture, each packing's latency over the network's fastest packing
    /// into DIR/packings-<arch>.svg and .png.
    #[arg(long, value_name = "DIR")]
    plot: Option<PathBuf>,
}

/// One network under one packing.
#[derive(Debug, Serialize)]
struct Row {
    network: String,
    packing: String,
    /// Why the packing does not apply (the compiler's error), or `None`.
    not_applicable: Option<String>,
    rotations: u64,
    key_switches: u64,
    mul_plain: u64,
    mul: u64,
    bootstraps: u64,
    depth: u32,
    /// Simulated latency per architecture, in the order given.
    latency_ms: Vec<(String, f64)>,
}

/// `net` compiled under `packing` for a machine with `word_bits`-bit words, random weights
/// (seed 1). ResNet-20 is hesim's description; `group` and `spencnn` use its grouped variant
/// (as `hesim trace table` does).
fn compile(
    net: &str,
    packing: &str,
    circulant: CirculantOptions,
    word_bits: u32,
) -> Result<Program> {
    let resnet20 = match net {
        "resnet20" => Some(nn::network::RESNET20_ACTIVATION),
        "resnet20-aespa" => Some(nn::ReluApprox::Aespa),
        _ => None,
    };
    if let Some(activation) = &resnet20
        && !matches!(packing, "hear" | circulant::NAME)
    {
        return Ok(resnet20_program(packing, activation.clone())?.1);
    }
    let (network, params) = match resnet20 {
        Some(activation) => {
            let net = nn::network::resnet20(activation);
            let params = nn::Params::random(&net, 1)?;
            (net, params)
        }
        None => load_with_params(net, "random", 1)?,
    };
    let sparsity = if packing == "spencnn" {
        SPENCNN_SPARSITY
    } else {
        0.0
    };
    let options = CompileOptions {
        sparsity,
        he: he_params_for_word(word_bits),
        circulant,
        ..CompileOptions::default()
    };
    Ok(nn::strategy(packing, &options)?.compile(&network, &params)?)
}

/// The rows of each network: every packing, `spencnn` at [`SPENCNN_SPARSITY`] off ResNet-20,
/// `circulant` with block 4 in both modes.
fn variants(net: &str) -> Vec<(String, &'static str, CirculantOptions)> {
    let mut out = Vec::new();
    for packing in PACKINGS {
        if packing == circulant::NAME {
            for mode in [Mode::Falcon, Mode::PrivCirNet] {
                let options = CirculantOptions {
                    block: COMPARE_BLOCK,
                    mode,
                };
                out.push((options.label(), packing, options));
            }
            continue;
        }
        let label = if packing == "spencnn" && !net.starts_with("resnet20") {
            format!("spencnn@{SPENCNN_SPARSITY}")
        } else {
            packing.to_string()
        };
        out.push((label, packing, CirculantOptions::default()));
    }
    out
}

pub fn compare(args: CompareArgs) -> Result<ExitCode> {
    let nets: Vec<String> = if args.nets.is_empty() {
        NETWORKS.iter().map(|s| s.to_string()).collect()
    } else {
        args.nets.clone()
    };
    if let Some(n) = nets.iter().find(|n| !NETWORKS.contains(&n.as_str())) {
        bail!("--net {n}: the comparison covers {}", NETWORKS.join(", "));
    }
    let arch_names: Vec<String> = if args.archs.is_empty() {
        vec!["sharp".into(), "default".into()]
    } else {
        args.archs.clone()
    };
    let archs = arch_names
        .iter()
        .map(|a| Ok(hesim_sim::ArchLoader::new(a)?.build()?))
        .collect::<Result<Vec<_>>>()?;
    let mut rows = Vec::new();
    for net in &nets {
        for (label, packing, circulant) in variants(net) {
            let mut row = Row {
                network: net.clone(),
                packing: label,
                not_applicable: None,
                rotations: 0,
                key_switches: 0,
                mul_plain: 0,
                mul: 0,
                bootstraps: 0,
                depth: 0,
                latency_ms: Vec::new(),
            };
            for arch in &archs {
                let program = match compile(net, packing, circulant, arch.word_bits) {
                    Ok(p) => p,
                    Err(e) => {
                        row.not_applicable = Some(format!("{e:#}"));
                        break;
                    }
                };
                if row.latency_ms.is_empty() {
                    let s = program.analyze().stats;
                    row.rotations = s.count(OpName::Rotate);
                    row.key_switches = s.key_switches;
                    row.mul_plain = s.count(OpName::MulPlain);
                    row.mul = s.count(OpName::Mul);
                    row.bootstraps = s.count(OpName::Bootstrap);
                    row.depth = s.depth;
                }
                let r = hesim_sim::simulate(arch, &program.header, &program.ops)?;
                row.latency_ms.push((arch.name.clone(), r.time_ms));
            }
            if row.not_applicable.is_some() {
                row.latency_ms.clear();
            }
            rows.push(row);
        }
    }
    let md = markdown(&rows, &arch_names)?;
    if let Some(p) = &args.markdown {
        super::write_atomic(p, md.as_bytes())?;
    }
    if let Some(dir) = &args.plot {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        hesim_reports::register_font();
        for arch in &archs {
            let latencies: Vec<(String, String, f64)> = rows
                .iter()
                .filter_map(|r| {
                    let (_, ms) = r.latency_ms.iter().find(|(a, _)| a == &arch.name)?;
                    // One series per row label: LeNet's pruned `spencnn@0.5` and ResNet-20's
                    // unpruned grouped `spencnn` are different programs, not one packing.
                    Some((r.network.clone(), r.packing.clone(), *ms))
                })
                .collect();
            let figure = hesim_reports::packing_comparison(&latencies, &arch.name, dir)?;
            eprintln!(
                "wrote {}",
                dir.join(format!("{}.svg", figure.name)).display()
            );
        }
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        out!("{md}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The rows as a markdown table (applicable packings) and a list of the others with the reason.
fn markdown(rows: &[Row], archs: &[String]) -> Result<String> {
    let mut md = String::new();
    let latency: Vec<String> = archs.iter().map(|a| format!("{a} (ms)")).collect();
    writeln!(
        md,
        "| network | packing | #rotate | #key switches | #mul_plain | #mul | #bootstrap | depth | {} |",
        latency.join(" | ")
    )?;
    writeln!(
        md,
        "|---|---|---:|---:|---:|---:|---:|---:|{}",
        "---:|".repeat(archs.len())
    )?;
    for r in rows.iter().filter(|r| r.not_applicable.is_none()) {
        let ms: Vec<String> = r
            .latency_ms
            .iter()
            .map(|(_, t)| format!("{t:.2}"))
            .collect();
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.network,
            r.packing,
            r.rotations,
            r.key_switches,
            r.mul_plain,
            r.mul,
            r.bootstraps,
            r.depth,
            ms.join(" | ")
        )?;
    }
    let skipped: Vec<&Row> = rows.iter().filter(|r| r.not_applicable.is_some()).collect();
    if !skipped.is_empty() {
        writeln!(md, "\nNot applicable:\n")?;
        for r in skipped {
            let why = r.not_applicable.as_deref().unwrap_or_default();
            // the first line of the compiler's error chain
            let why = why.lines().next().unwrap_or_default();
            writeln!(md, "- {} / {}: {why}", r.network, r.packing)?;
        }
    }
    Ok(md)
}
