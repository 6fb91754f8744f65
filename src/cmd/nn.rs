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
    /// Choose primes that fit this hardware word size (e.g. 32 for the `default` preset), as
    /// `hesim sweep` does; without it the CKKS reference path's default primes (up to 60 bits)
    /// are used.
    #[arg(long, value_parser = clap::value_parser!(u32).range(20..=64))]
    pub word_bits: Option<u32>,
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

pub fn build(args: &NetArgs, he: &HeParams) -> Result<(Network, Params, Program)> {
    let net = load_network(&args.net)?;
    let params = load_params(&net, &args.weights, args.seed)?;
    let packing = Packing::parse(&args.packing, args.sparsity)?;
    if args.sparsity > 0.0 && !matches!(packing, Packing::Spencnn { .. }) {
        bail!(
            "--sparsity applies to the spencnn packing only (got --packing {})",
            args.packing
        );
    }
    let program = nn::build(&net, &params, packing, he)
        .with_context(|| format!("cannot compile {} under {}", net.name, args.packing))?;
    Ok((net, params, program))
}

pub fn generate(args: GenArgs) -> Result<ExitCode> {
    if let Some(code) = super::resnet::generate(&args)? {
        return Ok(code);
    }
    let he = args
        .word_bits
        .map_or_else(HeParams::default, super::sweep::he_params_for_word);
    let (net, _, program) = build(&args.net, &he)?;
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
    for l in &program.layers {
        println!("  {:<10} {:<9} {}", l.name, l.kind, l.detail);
    }
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
            let (_, _, program) = build(&na, &HeParams::default())?;
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
        super::write_atomic(p, csv.as_bytes())?;
    }
    if let Some(p) = &args.markdown {
        super::write_atomic(p, md.as_bytes())?;
    }
    print!("{md}");
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct InferArgs {
    /// Network (only lenet has a test set: MNIST).
    #[arg(long, default_value = "lenet")]
    pub net: String,
    /// Packing: dense, group or spencnn.
    #[arg(long, default_value = "spencnn")]
    pub packing: String,
    /// Sub-block pruning sparsity (spencnn only).
    #[arg(long, default_value_t = 0.0)]
    pub sparsity: f64,
    /// `checkpoint` (default), `random` or a safetensors file.
    #[arg(long, default_value = "checkpoint")]
    pub weights: String,
    /// Number of test images.
    #[arg(long, default_value_t = 1000)]
    pub images: usize,
    /// Skip the first N test images (to split long encrypted runs).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// `ckks` (encrypted), `slots` (exact slot interpreter) or `plain` (direct network).
    #[arg(long, default_value = "ckks")]
    pub backend: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn infer(args: InferArgs) -> Result<ExitCode> {
    use hesim_sw::nn::encrypted::EncryptedRunner;
    use hesim_sw::nn::mnist::Mnist;
    use std::time::Instant;

    if args.net != "lenet" {
        bail!(
            "`hesim infer` needs a test set: only --net lenet (MNIST) is supported, got {}",
            args.net
        );
    }
    let na = NetArgs {
        net: args.net.clone(),
        packing: args.packing.clone(),
        sparsity: args.sparsity,
        weights: args.weights.clone(),
        seed: 1,
    };
    let (net, params, program) = build(&na, &HeParams::default())?;
    let data = nn::data_root().join("data/mnist");
    let mnist = Mnist::load_test(&data, args.images).with_context(|| {
        format!(
            "MNIST test set not found under {} (set HESIM_DATA)",
            data.display()
        )
    })?;
    let n = mnist.images.len();
    let stats = program.analyze().stats;
    let setup = Instant::now();
    let mut runner = match args.backend.as_str() {
        "ckks" => Some(EncryptedRunner::new(&program)?),
        "slots" | "plain" => None,
        other => bail!("unknown backend `{other}`: use ckks, slots or plain"),
    };
    let setup_s = setup.elapsed().as_secs_f64();
    let bar = indicatif::ProgressBar::new(n as u64);
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images, {elapsed} elapsed, eta {eta} {msg}",
        )
        .expect("valid template"),
    );
    let (mut correct, mut agree, mut max_err) = (0usize, 0usize, 0.0f64);
    let start = Instant::now();
    for (i, (img, &label)) in mnist.images.iter().zip(&mnist.labels).enumerate() {
        let want = nn::forward(&net, &params, &program.pruned, img);
        let got = match (&mut runner, args.backend.as_str()) {
            (Some(r), _) => r.infer(&program, img)?,
            (None, "slots") => hesim_sw::slots::infer(&program, img),
            _ => want.clone(),
        };
        let pred = nn::argmax(&got);
        correct += usize::from(pred == label as usize);
        agree += usize::from(pred == nn::argmax(&want));
        max_err = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(max_err, f64::max);
        bar.inc(1);
        bar.set_message(format!(
            "accuracy {:.2}%",
            100.0 * correct as f64 / (i + 1) as f64
        ));
    }
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64() / n.max(1) as f64;
    let accuracy = correct as f64 / n.max(1) as f64;
    let agreement = agree as f64 / n.max(1) as f64;
    if args.json {
        let out = serde_json::json!({
            "network": net.name, "packing": args.packing, "sparsity": args.sparsity,
            "weights": params.source, "backend": args.backend, "images": n, "offset": args.offset,
            "correct": correct, "agree": agree,
            "accuracy": accuracy, "agreement": agreement, "max_logit_error": max_err,
            "seconds_per_image": secs, "setup_seconds": setup_s,
            "header": program.header, "ops": stats,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} / {} (sparsity {}) on {} MNIST test images, backend {}:",
            net.name, args.packing, args.sparsity, n, args.backend
        );
        println!("  accuracy {:.2}% ({correct}/{n})", 100.0 * accuracy);
        println!(
            "  agreement with plaintext predictions {:.2}% ({agree}/{n})",
            100.0 * agreement
        );
        println!("  max logit error {max_err:.3e}");
        println!("  seconds per image {secs:.3} (key generation and payloads {setup_s:.1} s)");
        println!(
            "  ops: {} rotate, {} mul_plain, {} mul, {} add, {} rescale, {} key switches, depth {}",
            stats.count(OpName::Rotate),
            stats.count(OpName::MulPlain),
            stats.count(OpName::Mul),
            stats.count(OpName::Add),
            stats.count(OpName::Rescale),
            stats.key_switches,
            stats.depth
        );
    }
    Ok(ExitCode::SUCCESS)
}
