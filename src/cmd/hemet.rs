//! `hesim trace hemet`: the HEMET regression table (issue #16 item 2) — per block, the levels
//! and PMult / rotation counts of hesim's compiled `squeezenet-cifar` and `hemet` beside HEMET's
//! code and figure, and HEMET's parameter sets against the 128-bit bound.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use hesim_sw::nn::hemet::{self, BLOCKS, Measured, Reference, VARIANTS, Variant};
use hesim_sw::nn::multiplexed::{self, MuxOptions};
use hesim_sw::nn::{Network, Params};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct HemetArgs {
    /// Print JSON instead of the markdown tables.
    #[arg(long)]
    json: bool,
    /// Also write the markdown tables to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Check one of HEMET's own parameter sets (a function of its code, e.g. remove_fire34)
    /// and say whether hesim's program for its network fits that chain.
    #[arg(long)]
    variant: Option<String>,
    /// Use a HEMET parameter set above the HE standard's 128-bit bound.
    #[arg(long)]
    allow_insecure: bool,
}

/// One block of one network: HEMET's numbers and hesim's, generic and merged.
#[derive(Debug, Serialize)]
struct Row {
    block: &'static str,
    hemet_levels: &'static str,
    hemet_pmult: u64,
    hemet_rot: u64,
    /// Levels left to the end of the network where the block runs (no bootstrap counted).
    levels: String,
    levels_merged: String,
    pmult: u64,
    rot: u64,
    bootstraps: u64,
}

/// One network: its blocks and totals.
#[derive(Debug, Serialize)]
struct Table {
    network: String,
    /// HEMET's function (parameter set) for this network.
    hemet_variant: &'static str,
    rows: Vec<Row>,
    generic: Totals,
    merged: Totals,
}

/// One compiled program's totals over its blocks.
#[derive(Debug, Serialize)]
struct Totals {
    /// Levels from input to output, as if the program never bootstrapped.
    depth: u32,
    pmult: u64,
    rot: u64,
    bootstraps: u64,
}

impl Totals {
    fn of(blocks: &[Measured], depth: u32) -> Self {
        Self {
            depth,
            pmult: blocks.iter().map(|m| m.pmult).sum(),
            rot: blocks.iter().map(|m| m.rot).sum(),
            bootstraps: blocks.iter().map(|m| m.bootstraps).sum(),
        }
    }
}

/// The network of HEMET's `variant`, if hesim builds it.
fn network_of(variant: &str) -> Option<&'static str> {
    match variant {
        "squeeze" => Some("squeezenet-cifar"),
        v if v.starts_with("remove_fire34") => Some("hemet"),
        _ => None,
    }
}

/// The levels a block runs at, counted as levels left to the end of the network.
fn level_range(m: &Measured, total: u32) -> String {
    let top = total - m.entry_depth + 1;
    if m.levels <= 1 {
        top.to_string()
    } else {
        format!("{}–{top}", top + 1 - m.levels)
    }
}

fn compile(name: &str, merge: bool) -> Result<(Vec<Measured>, u32)> {
    let net = Network::builtin(name)?;
    let params = Params::random(&net, 1)?;
    let opts = MuxOptions {
        merge_coefficients: merge,
        ..MuxOptions::default()
    };
    let program = multiplexed::build(&net, &params, &opts)
        .with_context(|| format!("cannot compile {name} under multiplexed"))?;
    Ok(hemet::measure(&program))
}

fn table(name: &str, hemet_variant: &'static str) -> Result<Table> {
    let (generic, depth) = compile(name, false)?;
    let (merged, depth_merged) = compile(name, true)?;
    let baseline = name == "squeezenet-cifar";
    let rows: Vec<Row> = BLOCKS
        .iter()
        .zip(generic.iter().zip(&merged))
        .map(|(b, (g, m))| {
            let reference: Reference = if baseline { b.baseline } else { b.hemet };
            Row {
                block: b.name,
                hemet_levels: reference.levels,
                hemet_pmult: reference.pmult,
                hemet_rot: reference.rot,
                levels: level_range(g, depth),
                levels_merged: level_range(m, depth_merged),
                pmult: g.pmult,
                rot: g.rot,
                bootstraps: g.bootstraps,
            }
        })
        .collect();
    Ok(Table {
        network: name.into(),
        hemet_variant,
        generic: Totals::of(&generic, depth),
        merged: Totals::of(&merged, depth_merged),
        rows,
    })
}

fn markdown(tables: &[Table]) -> String {
    let mut s = String::new();
    for t in tables {
        let hemet_levels = hemet::variant(t.hemet_variant).map_or(0, Variant::levels);
        let _ = writeln!(
            s,
            "{} (HEMET's `{}`):\n\n| block | HEMET levels | hesim levels | hesim levels, merged | \
             HEMET PMult | hesim PMult | HEMET Rot | hesim Rot | hesim bootstraps |\n\
             |---|---|---|---|---|---|---|---|---|",
            t.network, t.hemet_variant
        );
        for r in &t.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.block,
                r.hemet_levels,
                r.levels,
                r.levels_merged,
                r.hemet_pmult,
                r.pmult,
                r.hemet_rot,
                r.rot,
                r.bootstraps
            );
        }
        let _ = writeln!(
            s,
            "| total | {hemet_levels} | {} | {} | {} | {} | {} | {} | {} |\n\nMerged, the \
             program runs {} PMults, {} rotations and {} bootstraps.\n",
            t.generic.depth,
            t.merged.depth,
            t.rows.iter().map(|r| r.hemet_pmult).sum::<u64>(),
            t.generic.pmult,
            t.rows.iter().map(|r| r.hemet_rot).sum::<u64>(),
            t.generic.rot,
            t.generic.bootstraps,
            t.merged.pmult,
            t.merged.rot,
            t.merged.bootstraps
        );
    }
    if let [base, hemet] = tables {
        // "levels 34 vs 44 (holds; merged 25 vs 31, holds)": generic, then merged
        let clause = |what: &str, count: fn(&Totals) -> u64, hemet_more: bool| {
            let side = |ours: &Totals, theirs: &Totals| {
                let (ours, theirs) = (count(ours), count(theirs));
                let holds = if hemet_more {
                    ours > theirs
                } else {
                    ours < theirs
                };
                let verdict = if holds { "holds" } else { "does not hold" };
                (ours, theirs, verdict)
            };
            let (g, m) = (
                side(&hemet.generic, &base.generic),
                side(&hemet.merged, &base.merged),
            );
            format!(
                "{what} {} vs {} ({}; merged {} vs {}, {})",
                g.0, g.1, g.2, m.0, m.1, m.2
            )
        };
        let _ = writeln!(
            s,
            "HEMET's direction (hemet: fewer levels, more PMults and rotations than \
             squeezenet-cifar) in hesim: {}, {}, {}.\n",
            clause("levels", |t| u64::from(t.depth), false),
            clause("PMults", |t| t.pmult, true),
            clause("rotations", |t| t.rot, true),
        );
    }
    let _ = writeln!(
        s,
        "HEMET's parameter sets (SEAL, `sec_level_type::none`):\n\n| function | N | primes | \
         log QP | 128-bit bound | secure | levels |\n|---|---|---|---|---|---|---|"
    );
    for v in &VARIANTS {
        let _ = writeln!(
            s,
            "| {} | 2^{} | {} | {} | {} | {} | {} |",
            v.name,
            v.log_n,
            v.primes.len(),
            v.log_qp(),
            v.bound(),
            if v.is_secure() { "yes" } else { "no" },
            v.levels()
        );
    }
    s
}

/// The fit of hesim's program for the network of HEMET's `variant` on that variant's chain.
fn variant_line(v: &Variant, tables: &[Table]) -> String {
    let Some(t) = network_of(v.name).and_then(|n| tables.iter().find(|t| t.network == n)) else {
        return format!(
            "`{}`: {} levels at N = 2^{}; hesim has no network for it (only squeeze → \
             squeezenet-cifar and remove_fire34* → hemet)",
            v.name,
            v.levels(),
            v.log_n
        );
    };
    let fits = |depth: u32| {
        if depth <= v.levels() {
            "fits".to_string()
        } else {
            format!("needs {} more levels: bootstraps", depth - v.levels())
        }
    };
    format!(
        "`{}`: {} levels at N = 2^{}; hesim's {} needs {} ({}), {} merged ({})",
        v.name,
        v.levels(),
        v.log_n,
        t.network,
        t.generic.depth,
        fits(t.generic.depth),
        t.merged.depth,
        fits(t.merged.depth)
    )
}

/// One of HEMET's parameter sets, for `--json`.
#[derive(Debug, Serialize)]
struct VariantRow {
    name: &'static str,
    log_n: u32,
    primes: usize,
    log_qp: u32,
    bound: u32,
    secure: bool,
    levels: u32,
}

/// The whole `--json` output.
#[derive(Debug, Serialize)]
struct Report {
    tables: Vec<Table>,
    variants: Vec<VariantRow>,
    /// `--variant`'s fit line, if one was given.
    chosen: Option<String>,
}

pub fn run(args: HemetArgs) -> Result<ExitCode> {
    let chosen = args
        .variant
        .as_deref()
        .map(|name| -> Result<&Variant> {
            let v = hemet::variant(name)?;
            v.check(args.allow_insecure)?;
            Ok(v)
        })
        .transpose()?;
    let tables = vec![
        table("squeezenet-cifar", "squeeze")?,
        table("hemet", "remove_fire34")?,
    ];
    let chosen = chosen.map(|v| variant_line(v, &tables));
    let mut text = markdown(&tables);
    if let Some(line) = &chosen {
        text.push_str(&format!("\n{line}\n"));
    }
    if let Some(path) = &args.markdown {
        super::write_atomic(path, text.as_bytes())?;
    }
    if args.json {
        let variants = VARIANTS
            .iter()
            .map(|v| VariantRow {
                name: v.name,
                log_n: v.log_n,
                primes: v.primes.len(),
                log_qp: v.log_qp(),
                bound: v.bound(),
                secure: v.is_secure(),
                levels: v.levels(),
            })
            .collect();
        let report = Report {
            tables,
            variants,
            chosen,
        };
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}
