//! CNN → HE program commands: `trace gen`, `trace table` (and `infer`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use hesim_sw::nn::{self, BUILTINS, HeParams, Network, Packing, Params, Program};
use hesim_traces::{OpName, TraceStats};

#[derive(Debug, Args)]
pub struct NetArgs {
    /// Network: lenet, vgg5, hefnet, or a TOML file.
    #[arg(long)]
    pub net: String,
    /// Packing: dense, group or spencnn.
    #[arg(long, default_value = "spencnn")]
    pub packing: String,
    /// Fraction of each conv layer's weights removed by sub-block pruning (spencnn only).
    #[arg(long, default_value_t = 0.0)]
    pub sparsity: f64,
    /// `random`, `checkpoint` (the built-in network's SpENCNN checkpoint under the data root), or
    /// a safetensors file.
    #[arg(long, default_value = "random")]
    pub weights: String,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Output trace (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub boot: super::resnet::BootArgs,
}

#[derive(Debug, Args)]
pub struct TableArgs {
    /// Sparsity of the spencnn rows.
    #[arg(long, default_value_t = 0.5)]
    pub sparsity: f64,
    /// Also write the table as CSV (one row per network, packing and layer).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Also write the markdown tables to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

pub fn load_network(name: &str) -> Result<Network> {
    if name.ends_with(".toml") || Path::new(name).exists() {
        return Ok(Network::load(Path::new(name))?);
    }
    Ok(Network::builtin(name)?)
}

fn checkpoint_for(net: &Network) -> Result<PathBuf> {
    let file = match net.name.as_str() {
        "lenet" => "lenet_specnn.safetensors",
        "hefnet" => "hefnet_specnn.safetensors",
        other => bail!(
            "no checkpoint for network `{other}`: only lenet and hefnet have one; use --weights \
             random or a safetensors file"
        ),
    };
    Ok(nn::data_root().join("models").join(file))
}

pub fn load_params(net: &Network, weights: &str, seed: u64) -> Result<Params> {
    Ok(match weights {
        "random" => Params::random(net, seed)?,
        "checkpoint" => Params::from_safetensors(net, &checkpoint_for(net)?)?,
        path => Params::from_safetensors(net, Path::new(path))?,
    })
}

pub fn build(args: &NetArgs) -> Result<(Network, Params, Program)> {
    let net = load_network(&args.net)?;
    let params = load_params(&net, &args.weights, args.seed)?;
    let packing = Packing::parse(&args.packing, args.sparsity)?;
    if args.sparsity > 0.0 && !matches!(packing, Packing::Spencnn { .. }) {
        bail!(
            "--sparsity applies to the spencnn packing only (got --packing {})",
            args.packing
        );
    }
    let program = nn::build(&net, &params, packing, &HeParams::default())
        .with_context(|| format!("cannot compile {} under {}", net.name, args.packing))?;
    Ok((net, params, program))
}

pub fn generate(args: GenArgs) -> Result<ExitCode> {
    if let Some(code) = super::resnet::generate(&args)? {
        return Ok(code);
    }
    let (net, _, program) = build(&args.net)?;
    let analysis = program.analyze();
    if !analysis.is_valid() {
        bail!(
            "internal error: the generated program is not a valid trace: {:?}",
            analysis.violations.first()
        );
    }
    program.write_trace_file(&args.out)?;
    let s = &analysis.stats;
    println!(
        "{}: {} under {} ({} weights): {} ops, {} rotate, {} mul_plain, {} key switches, depth {}",
        args.out.display(),
        net.name,
        args.net.packing,
        args.net.weights,
        s.ops,
        s.count(OpName::Rotate),
        s.count(OpName::MulPlain),
        s.key_switches,
        s.depth
    );
    for note in &program.substitutions {
        println!("note: {note}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The columns of the op-count table.
const COLUMNS: [OpName; 5] = [
    OpName::Rotate,
    OpName::MulPlain,
    OpName::Mul,
    OpName::Add,
    OpName::Rescale,
];

struct Row {
    network: String,
    packing: String,
    layer: String,
    counts: Vec<u64>,
    key_switches: u64,
    depth: Option<u32>,
}

fn rows_of(net: &str, packing: &str, s: &TraceStats) -> Vec<Row> {
    let mut rows = vec![Row {
        network: net.into(),
        packing: packing.into(),
        layer: "total".into(),
        counts: COLUMNS.iter().map(|&c| s.count(c)).collect(),
        key_switches: s.key_switches,
        depth: Some(s.depth),
    }];
    for l in &s.by_layer {
        rows.push(Row {
            network: net.into(),
            packing: packing.into(),
            layer: l.layer.clone(),
            counts: COLUMNS
                .iter()
                .map(|c| l.by_kind.get(c).copied().unwrap_or(0))
                .collect(),
            key_switches: l.key_switches,
            depth: None,
        });
    }
    rows
}

pub fn table(args: TableArgs) -> Result<ExitCode> {
    let mut rows = Vec::new();
    for net in BUILTINS {
        for packing in ["dense", "group", "spencnn"] {
            let sparsity = if packing == "spencnn" {
                args.sparsity
            } else {
                0.0
            };
            let na = NetArgs {
                net: net.into(),
                packing: packing.into(),
                sparsity,
                weights: "random".into(),
                seed: 1,
            };
            let (_, _, program) = build(&na)?;
            let label = if packing == "spencnn" {
                format!("spencnn@{sparsity}")
            } else {
                packing.into()
            };
            rows.extend(rows_of(net, &label, &program.analyze().stats));
        }
    }
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.as_str()).collect();
    let mut csv = format!(
        "network,packing,layer,{},key_switches,depth\n",
        names.join(",")
    );
    for r in &rows {
        let counts: Vec<String> = r.counts.iter().map(u64::to_string).collect();
        let depth = r.depth.map_or(String::new(), |d| d.to_string());
        writeln!(
            csv,
            "{},{},{},{},{},{depth}",
            r.network,
            r.packing,
            r.layer,
            counts.join(","),
            r.key_switches
        )?;
    }
    let mut md = String::new();
    writeln!(
        md,
        "| network | packing | #rotate | #mul_plain | #mul | #add | #rescale | #key switches | depth |"
    )?;
    writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in rows.iter().filter(|r| r.layer == "total") {
        let c = &r.counts;
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.network,
            r.packing,
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            r.key_switches,
            r.depth.unwrap_or(0)
        )?;
    }
    writeln!(md, "\nPer layer (#rotate / #mul_plain / #key switches):\n")?;
    for net in BUILTINS {
        let layers: Vec<&Row> = rows
            .iter()
            .filter(|r| r.network == net && r.layer != "total")
            .collect();
        let packings: Vec<String> = {
            let mut p: Vec<String> = layers.iter().map(|r| r.packing.clone()).collect();
            p.dedup();
            p
        };
        let mut order: Vec<String> = Vec::new();
        for r in &layers {
            if !order.contains(&r.layer) {
                order.push(r.layer.clone());
            }
        }
        writeln!(md, "**{net}**\n\n| layer | {} |", packings.join(" | "))?;
        writeln!(md, "|---|{}", "---:|".repeat(packings.len()))?;
        for layer in &order {
            let cells: Vec<String> = packings
                .iter()
                .map(|p| {
                    layers
                        .iter()
                        .find(|r| &r.packing == p && &r.layer == layer)
                        .map_or("–".into(), |r| {
                            format!("{} / {} / {}", r.counts[0], r.counts[1], r.key_switches)
                        })
                })
                .collect();
            writeln!(md, "| {layer} | {} |", cells.join(" | "))?;
        }
        writeln!(md)?;
    }
    if let Some(p) = &args.csv {
        write_atomic(p, &csv)?;
    }
    if let Some(p) = &args.markdown {
        write_atomic(p, &md)?;
    }
    print!("{md}");
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::fs::write(tmp.path(), text).with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
