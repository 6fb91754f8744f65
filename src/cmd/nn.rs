//! CNN → HE program commands: `trace gen`, `trace table` (and `infer`).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use hesim_sw::ckks::BOOTSTRAP_LAYER;
use hesim_sw::ckks::bootstrap as ckks_bootstrap;
use hesim_sw::nn::circulant::{self, CirculantOptions};
use hesim_sw::nn::multiplexed::{self, MuxOptions, SPENCNN_GROUPS, SPENCNN_PRUNED_TAPS};
use hesim_sw::nn::network::resnet20_grouped;
use hesim_sw::nn::{self, BUILTINS, CompileOptions, HeParams, Network, Params, Program};
use hesim_traces::{OpName, TraceStats};

#[derive(Debug, Args)]
pub struct NetArgs {
    /// Network: lenet, vgg5, hefnet, resnet18 (ImageNet; multiplexed), squeezenet-cifar and
    /// hemet (multiplexed, hyphen-recon), a TOML file, an ONNX file (weights from its initializers), or the
    /// bootstrapped workloads resnet20, helr and bootstrap.
    #[arg(long)]
    pub net: String,
    /// Packing: dense, group, spencnn, hear, multiplexed, hyphen-recon (CAConv / RAConv
    /// alternation: a reconstruction from HyPHEN's abstracts, not HyPHEN's published
    /// algorithm) or circulant (block-circulant weights in the frequency domain: a
    /// reconstruction of Falcon / PrivCirNet, Falcon's code is not public).
    #[arg(long, default_value = "spencnn")]
    pub packing: String,
    /// Block size of the circulant packing: 2, 4 or 8 (default 4).
    #[arg(long)]
    pub block: Option<usize>,
    /// Mode of the circulant packing: falcon (a DFT and an inverse DFT around every circulant
    /// layer, the default) or privcirnet (frequency domain kept between circulant layers; the
    /// client computes the input's DFT when the first layer is circulant).
    #[arg(long)]
    pub mode: Option<String>,
    /// Fraction of each conv layer's weights removed by sub-block pruning (spencnn only).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    pub sparsity: f64,
    /// `random`, `checkpoint` (the built-in network's SpENCNN checkpoint under the data root), or
    /// a safetensors file.
    #[arg(long, default_value = "random")]
    pub weights: String,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Never bootstrap (multiplexed): a network deeper than the chain is an error instead.
    #[arg(long)]
    pub no_bootstrap: bool,
    /// Coefficient merging (multiplexed, hyphen-recon; HEMET's): a quadratic activation read
    /// only by conv / linear layers (through pooling and concats) has its leading coefficient
    /// folded into their weights and costs one level instead of two; a concat of conv outputs
    /// (multiplexed) is written in place by the convs, saving its mask's level. The diagonal
    /// packings always fold the coefficient (as their tensor factor).
    #[arg(long)]
    pub merge_coefficients: bool,
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
    #[command(flatten)]
    pub helr: super::workloads::HelrArgs,
}

#[derive(Debug, Args)]
pub struct TableArgs {
    /// Sparsity of the spencnn rows.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.5)]
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
    let path = nn::checkpoint_path(&net.name).with_context(|| {
        format!(
            "no checkpoint for network `{}`: only lenet and hefnet have one; use --weights \
             random or a safetensors file",
            net.name
        )
    })?;
    if !path.exists() {
        bail!(
            "the {} checkpoint {} is missing: set HESIM_DATA to the folder holding models/, or \
             use --weights random or a safetensors file",
            net.name,
            path.display()
        );
    }
    Ok(path)
}

pub fn load_params(net: &Network, weights: &str, seed: u64) -> Result<Params> {
    Ok(match weights {
        "random" => Params::random(net, seed)?,
        "checkpoint" => Params::from_safetensors(net, &checkpoint_for(net)?)?,
        path => Params::from_safetensors(net, Path::new(path))?,
    })
}

/// A network and its parameters. An ONNX file carries its weights (its initializers), so
/// `--weights` keeps its default for it; the import's notes (ReLU substitutes, fused
/// element-wise nodes) go to stderr.
pub fn load_with_params(name: &str, weights: &str, seed: u64) -> Result<(Network, Params)> {
    if !name.ends_with(".onnx") {
        let net = load_network(name)?;
        let params = load_params(&net, weights, seed)?;
        return Ok((net, params));
    }
    if !matches!(weights, "random" | "checkpoint") {
        bail!(
            "--weights {weights}: an ONNX network carries its own weights (its initializers); \
             drop --weights"
        );
    }
    let model = nn::onnx::Model::load(Path::new(name))?;
    let imported = nn::onnx::to_network(&model, &nn::ReluApprox::Quadratic)?;
    for note in &imported.notes {
        eprintln!("note: {}", super::escape_controls(note));
    }
    Ok((imported.network, imported.params))
}

/// The circulant packing's options from `--block` and `--mode` (which apply to it only).
fn circulant_options(args: &NetArgs) -> Result<CirculantOptions> {
    if args.packing != circulant::NAME {
        if args.block.is_some() || args.mode.is_some() {
            bail!(
                "--block and --mode apply to the circulant packing only (got --packing {})",
                args.packing
            );
        }
        return Ok(CirculantOptions::default());
    }
    let defaults = CirculantOptions::default();
    let mode = match &args.mode {
        Some(m) => circulant::Mode::parse(m)?,
        None => defaults.mode,
    };
    Ok(CirculantOptions::new(
        args.block.unwrap_or(defaults.block),
        mode,
    )?)
}

pub fn build(args: &NetArgs, he: &HeParams) -> Result<(Network, Params, Program)> {
    build_with(args, he, MuxOptions::default())
}

/// [`build`] with the multiplexed packing's chain and bootstrap recipe given.
fn build_with(
    args: &NetArgs,
    he: &HeParams,
    mux: MuxOptions,
) -> Result<(Network, Params, Program)> {
    let (net, params) = load_with_params(&args.net, &args.weights, args.seed)?;
    let mut options = CompileOptions {
        sparsity: args.sparsity,
        he: he.clone(),
        mux,
        circulant: circulant_options(args)?,
    };
    options.mux.bootstrap = !args.no_bootstrap;
    options.mux.merge_coefficients = args.merge_coefficients;
    if args.merge_coefficients && !matches!(args.packing.as_str(), "multiplexed" | "hyphen-recon") {
        bail!(
            "--merge-coefficients applies to the multiplexed and hyphen-recon packings (the \
             diagonal ones always fold activation coefficients); got --packing {}",
            args.packing
        );
    }
    if !(0.0..1.0).contains(&args.sparsity) {
        bail!("--sparsity {} must be in [0, 1)", args.sparsity);
    }
    if args.sparsity > 0.0 && args.packing != "spencnn" {
        bail!(
            "--sparsity applies to the spencnn packing only (got --packing {})",
            args.packing
        );
    }
    let program = nn::strategy(&args.packing, &options)?
        .compile(&net, &params)
        .with_context(|| format!("cannot compile {} under {}", net.name, args.packing))?;
    Ok((net, params, program))
}

pub fn generate(args: GenArgs) -> Result<ExitCode> {
    super::gen_options::refuse_unused(&args)?;
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
    let weights = if args.net.net.ends_with(".onnx") {
        "onnx"
    } else {
        &args.net.weights
    };
    outln!(
        "{}: {} under {} ({weights} weights): {} ops, {} rotate, {} mul_plain, {} key switches, depth {}",
        args.out.display(),
        net.name,
        args.net.packing,
        s.ops,
        s.count(OpName::Rotate),
        s.count(OpName::MulPlain),
        s.key_switches,
        s.depth
    );
    for l in &program.layers {
        outln!("  {:<10} {:<9} {}", l.name, l.kind, l.detail);
    }
    for note in &program.substitutions {
        outln!("note: {note}");
    }
    if program.header.packing == multiplexed::hyphen::LABEL {
        outln!("note: packing {}", program.header.packing);
    }
    if program.header.packing.starts_with(circulant::NAME) {
        outln!("note: {}", circulant::note(&program.header.packing));
    }
    Ok(ExitCode::SUCCESS)
}

/// The columns of the op-count table.
const COLUMNS: [OpName; 6] = [
    OpName::Rotate,
    OpName::MulPlain,
    OpName::Mul,
    OpName::Add,
    OpName::Rescale,
    OpName::Bootstrap,
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

/// hesim's ResNet-20 with `activation` and random weights (seed 1) under
/// `multiplexed`, `hyphen-recon`, `spencnn` (grouped block convs, pruned taps, multiplexed
/// layout), or the
/// diagonal `dense` and `group` (grouped block convs) packings with planned bootstraps.
pub(super) fn resnet20_program(
    packing: &str,
    activation: nn::ReluApprox,
) -> Result<(String, Program)> {
    let (groups, pruned_taps) = match packing {
        "spencnn" => (SPENCNN_GROUPS, SPENCNN_PRUNED_TAPS),
        "group" => (SPENCNN_GROUPS, 0),
        _ => (1, 0),
    };
    let net = resnet20_grouped(activation, groups)?;
    let params = Params::random(&net, 1)?;
    let opts = MuxOptions {
        pruned_taps,
        hybrid: packing == multiplexed::hyphen::NAME,
        ..MuxOptions::default()
    };
    let program = if matches!(packing, "dense" | "group") {
        let options = CompileOptions {
            mux: opts,
            ..CompileOptions::default()
        };
        nn::strategy(packing, &options)?.compile(&net, &params)?
    } else {
        multiplexed::build(&net, &params, &opts)?
    };
    Ok((net.name.clone(), program))
}

pub fn table(args: TableArgs) -> Result<ExitCode> {
    let mut rows = Vec::new();
    for net in BUILTINS {
        for packing in ["hear", "dense", "group", "spencnn"] {
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
                no_bootstrap: false,
                block: None,
                mode: None,
                merge_coefficients: false,
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
    // ResNet-20 (bootstrapped): the diagonal packings, multiplexed, and SpENCNN's grouped,
    // tap-pruned variant on the multiplexed layout
    for packing in [
        "dense",
        "group",
        "multiplexed",
        multiplexed::hyphen::NAME,
        "spencnn",
    ] {
        let (net, program) = resnet20_program(packing, nn::network::RESNET20_ACTIVATION)?;
        rows.extend(rows_of(&net, packing, &program.analyze().stats));
    }
    // ResNet-18 (ImageNet): activations over several ciphertexts
    for packing in ["multiplexed", multiplexed::hyphen::NAME] {
        let na = NetArgs {
            net: "resnet18".into(),
            packing: packing.into(),
            sparsity: 0.0,
            weights: "random".into(),
            seed: 1,
            no_bootstrap: false,
            block: None,
            mode: None,
            merge_coefficients: false,
        };
        let (_, _, program) = build(&na, &HeParams::default())?;
        rows.extend(rows_of("resnet18", packing, &program.analyze().stats));
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
        "| network | packing | #rotate | #mul_plain | #mul | #add | #rescale | #bootstrap | \
         #key switches | depth |"
    )?;
    writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in rows.iter().filter(|r| r.layer == "total") {
        let c = &r.counts;
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.network,
            r.packing,
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            r.key_switches,
            r.depth.unwrap_or(0)
        )?;
    }
    writeln!(md, "\nPer layer (#rotate / #mul_plain / #key switches):\n")?;
    for net in BUILTINS.iter().copied().chain(["resnet20", "resnet18"]) {
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
    out!("{md}");
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct InferArgs {
    /// Network: lenet, vgg5, hefnet, a TOML file, an ONNX file (weights from its
    /// initializers), or the bootstrapped workloads resnet20, helr and bootstrap.
    #[arg(long, default_value = "lenet")]
    pub net: String,
    /// Packing: dense, group, spencnn, hear, multiplexed, hyphen-recon (a reconstruction from
    /// HyPHEN's abstracts, not HyPHEN's published algorithm), or lee (Lee et al.'s ResNet-20
    /// program, `--net resnet20` only).
    #[arg(long, default_value = "spencnn")]
    pub packing: String,
    /// Sub-block pruning sparsity (spencnn only).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    pub sparsity: f64,
    /// Block size of the circulant packing (2, 4 or 8; default 4). The plaintext reference is
    /// then the network with the block-circulant projected weights.
    #[arg(long)]
    pub block: Option<usize>,
    /// Mode of the circulant packing: falcon (default) or privcirnet.
    #[arg(long)]
    pub mode: Option<String>,
    /// `checkpoint` (default), `random` or a safetensors file.
    #[arg(long, default_value = "checkpoint")]
    pub weights: String,
    /// Inputs: `mnist` (the test set, for 1×28×28 networks) or `synthetic` (deterministic
    /// uniform [0, 1) pixels: no labels, so only agreement and logit error are measured).
    /// Default: mnist for 1×28×28 networks, synthetic otherwise.
    #[arg(long)]
    pub inputs: Option<String>,
    /// Number of images.
    #[arg(long, default_value_t = 1000)]
    pub images: usize,
    /// Skip the first N images (to split long encrypted runs across machines).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// `ckks` (encrypted), `slots` (exact slot interpreter) or `plain` (direct network).
    #[arg(long, default_value = "ckks")]
    pub backend: String,
    /// Memory for `mul_plain` operands encoded once and shared by every image (MiB); the rest
    /// are encoded at each use. 0 encodes every operand at every use.
    #[arg(long, default_value_t = 2048)]
    pub plaintext_cache_mib: usize,
    /// Images run at once, each on its own thread (default: every core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=super::MAX_JOBS as i64))]
    pub jobs: Option<u16>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--packing lee`: Lee et al.'s ResNet-20 program (`nn::resnet_lee`, the program of
/// `trace gen --net resnet20 --variant lee`).
const LEE_PACKING: &str = "lee";

/// Lee et al.'s ResNet-20 (its network description `resnet20_lee`: option-A shortcuts,
/// AppReLU) compiled with the multiplexed packing's bootstrap recipe on its 128-bit chain: with
/// that chain's levels between bootstraps the planner also bootstraps inside the AppReLUs
/// (72 sparse bootstraps instead of Lee et al.'s 18 on their 33-limb chain).
fn lee_program(args: &InferArgs, mux: &MuxOptions) -> Result<(Network, Params, Program)> {
    if args.net != "resnet20" {
        bail!(
            "--packing lee is Lee et al.'s ResNet-20 program: use it with --net resnet20 (got \
             --net {})",
            args.net
        );
    }
    if args.sparsity != 0.0 {
        bail!("--sparsity applies to the spencnn packing only (got --packing lee)");
    }
    let net = nn::network::resnet20_lee();
    let params = load_params(&net, &args.weights, 1)?;
    let weights = nn::resnet_lee::LeeWeights::from_network(&net, &params)?;
    let header = hesim_sw::boot::header(mux.log_n, mux.limbs, "resnet20", LEE_PACKING, false)?;
    let built = nn::resnet_lee::build(&weights, &header, &mux.boot)
        .context("cannot compile resnet20 under lee")?;
    Ok((net, params, built.program))
}

/// Images to run and, for a real test set, their labels.
struct TestImages {
    source: String,
    images: Vec<Vec<f64>>,
    labels: Option<Vec<u8>>,
}

fn test_images(net: &Network, args: &InferArgs) -> Result<TestImages> {
    let mnist_shaped = net.input == nn::Shape::new(1, 28, 28);
    let kind = args
        .inputs
        .as_deref()
        .unwrap_or(if mnist_shaped { "mnist" } else { "synthetic" });
    match kind {
        "mnist" => {
            if !mnist_shaped {
                bail!(
                    "--inputs mnist needs a 1×28×28 network, `{}` takes {}×{}×{}; use --inputs synthetic",
                    net.name,
                    net.input.c,
                    net.input.h,
                    net.input.w
                );
            }
            let dir = nn::data_root().join("data/mnist");
            let mnist =
                nn::mnist::Mnist::load_test(&dir, args.offset, args.images).with_context(|| {
                    format!(
                        "cannot load the MNIST test set from {} (HESIM_DATA names the folder \
                         holding data/mnist)",
                        dir.display()
                    )
                })?;
            if mnist.images.is_empty() {
                bail!(
                    "--offset {} is past the end of the MNIST test set (10,000 images)",
                    args.offset
                );
            }
            Ok(TestImages {
                source: "MNIST test images".into(),
                images: mnist.images,
                labels: Some(mnist.labels),
            })
        }
        "synthetic" => {
            let images = (args.offset..args.offset + args.images)
                .map(|i| nn::synthetic_input(net.input.len(), i as u64))
                .collect();
            Ok(TestImages {
                source: "synthetic inputs".into(),
                images,
                labels: None,
            })
        }
        other => bail!("unknown --inputs `{other}`: use mnist or synthetic"),
    }
}

/// Progress of a long run as a line on stderr every [`ProgressLog::EVERY`] and at the end,
/// for batch jobs (nohup, Slurm) where a progress bar is hidden.
struct ProgressLog {
    total: usize,
    start: Instant,
    done: AtomicUsize,
    last: Mutex<Instant>,
}

impl ProgressLog {
    const EVERY: Duration = Duration::from_secs(30);

    fn new(total: usize) -> Self {
        let now = Instant::now();
        Self {
            total,
            start: now,
            done: 0.into(),
            last: now.into(),
        }
    }

    fn image_done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if done < self.total && last.elapsed() < Self::EVERY {
            return;
        }
        *last = Instant::now();
        let per_image = self.start.elapsed().as_secs_f64() / done as f64;
        eprintln!(
            "infer: {done}/{} images, {per_image:.2} s/image wall, eta {:.0} s",
            self.total,
            per_image * (self.total - done) as f64
        );
    }
}

/// One image's outcome: the predicted class, the plaintext network's class, the largest logit
/// error and how long the inference took, in wall-clock and in its thread's CPU time (which
/// other processes on a shared machine barely disturb).
struct Outcome {
    predicted: usize,
    plaintext: usize,
    max_error: f64,
    seconds: f64,
    cpu_seconds: f64,
    /// Of which in `bootstrap` ops (encrypted backend).
    bootstrap_cpu_seconds: f64,
}

pub fn infer(args: InferArgs) -> Result<ExitCode> {
    use hesim_sw::nn::encrypted::EncryptedRunner;
    use rayon::prelude::*;

    if !matches!(args.backend.as_str(), "ckks" | "slots" | "plain") {
        bail!(
            "unknown backend `{}`: use ckks, slots or plain",
            args.backend
        );
    }
    if args.images == 0 {
        bail!("--images must be at least 1");
    }
    let na = NetArgs {
        net: args.net.clone(),
        packing: args.packing.clone(),
        sparsity: args.sparsity,
        weights: args.weights.clone(),
        seed: 1,
        no_bootstrap: false,
        block: args.block,
        mode: args.mode.clone(),
        merge_coefficients: false,
    };
    // The multiplexed packing bootstraps with the recipe `hesim ckks bootstrap` measures, on
    // the 128-bit chain it runs on (its budget + 5 levels + 1 limb), under every backend: the same
    // program encrypted and on slots.
    let mux = MuxOptions::default();
    let boot = ckks_bootstrap::recipe(1 << (mux.log_n - 1));
    let mux = MuxOptions {
        limbs: hesim_sw::boot::chain_limbs(&boot, ckks_bootstrap::LEVELS_AFTER)
            .expect("the default recipe's chain fits a u32"),
        boot,
        ..mux
    };
    let (net, params, program) = if args.packing == LEE_PACKING {
        lee_program(&args, &mux)?
    } else {
        build_with(&na, &HeParams::default(), mux)?
    };
    // circulant computes the network with projected weights: that is its plaintext reference
    let params = if args.packing == circulant::NAME {
        circulant::project(&net, &params, circulant_options(&na)?.block)?
    } else {
        params
    };
    let set = test_images(&net, &args)?;
    let n = set.images.len();
    let stats = program.analyze().stats;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("starting the inference threads")?;
    let setup = Instant::now();
    let runner = match args.backend.as_str() {
        "ckks" => Some(EncryptedRunner::new(
            &program,
            args.plaintext_cache_mib.saturating_mul(1 << 20),
        )?),
        _ => None,
    };
    let setup_s = setup.elapsed().as_secs_f64();
    let encoded_once = runner.as_ref().map(|r| r.payloads().encoded_count());
    // A bar on a terminal (indicatif hides it elsewhere); log lines for batch jobs.
    let bar = indicatif::ProgressBar::new(n as u64);
    let log = (!std::io::stderr().is_terminal()).then(|| ProgressLog::new(n));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images, {elapsed} elapsed, eta {eta}",
        )
        .expect("valid template"),
    );
    let start = Instant::now();
    let outcomes: Vec<Outcome> = pool.install(|| {
        set.images
            .par_iter()
            .map(|img| {
                let t = Instant::now();
                let cpu = cpu_time::ThreadTime::now();
                let want = nn::forward(&net, &params, &program.pruned, img);
                let mut profile = Vec::new();
                let got = match (&runner, args.backend.as_str()) {
                    (Some(r), _) => r.infer_profiled(&program, img, &mut profile)?,
                    (None, "slots") => hesim_sw::slots::infer(&program, img),
                    _ => want.clone(),
                };
                bar.inc(1);
                if let Some(log) = &log {
                    log.image_done();
                }
                Ok(Outcome {
                    predicted: nn::argmax(&got),
                    plaintext: nn::argmax(&want),
                    max_error: nn::max_abs_error(&got, &want),
                    seconds: t.elapsed().as_secs_f64(),
                    cpu_seconds: cpu.elapsed().as_secs_f64(),
                    bootstrap_cpu_seconds: profile
                        .iter()
                        .filter(|(layer, _)| layer == BOOTSTRAP_LAYER)
                        .map(|(_, time)| time.as_secs_f64())
                        // `sum` of no f64 is −0.0, which JSON would print for a program
                        // without bootstraps.
                        .fold(0.0, |total, seconds| total + seconds),
                })
            })
            .collect::<Result<_>>()
    })?;
    let wall = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let correct = set.labels.as_ref().map(|labels| {
        outcomes
            .iter()
            .zip(labels)
            .filter(|(o, l)| o.predicted == usize::from(**l))
            .count()
    });
    let agree = outcomes
        .iter()
        .filter(|o| o.predicted == o.plaintext)
        .count();
    let max_err = outcomes.iter().map(|o| o.max_error).fold(0.0, nn::nan_max);
    let latency = outcomes.iter().map(|o| o.seconds).sum::<f64>() / n as f64;
    let cpu_latency = outcomes.iter().map(|o| o.cpu_seconds).sum::<f64>() / n as f64;
    let bootstrap_cpu = outcomes
        .iter()
        .map(|o| o.bootstrap_cpu_seconds)
        .sum::<f64>()
        / n as f64;
    let key_bytes = runner.as_ref().map(EncryptedRunner::key_bytes);
    let peak_rss = super::ckks::peak_rss_bytes();
    let throughput = wall / n as f64;
    let accuracy = correct.map(|c| c as f64 / n as f64);
    let agreement = agree as f64 / n as f64;
    if args.json {
        let out = serde_json::json!({
            "network": net.name, "packing": args.packing, "sparsity": args.sparsity,
            "weights": params.source, "backend": args.backend, "inputs": set.source,
            "images": n, "offset": args.offset, "jobs": jobs,
            "correct": correct, "agree": agree,
            "accuracy": accuracy, "agreement": agreement, "max_logit_error": max_err,
            "seconds_per_image": latency, "cpu_seconds_per_image": cpu_latency,
            "wall_seconds_per_image": throughput,
            "setup_seconds": setup_s, "plaintexts_encoded_once": encoded_once,
            "bootstrap_cpu_seconds_per_image": bootstrap_cpu, "key_bytes": key_bytes,
            "peak_rss_bytes": peak_rss,
            "header": program.header, "ops": stats,
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        outln!(
            "{} / {} (sparsity {}) on {n} {} (offset {}), backend {}, {jobs} jobs:",
            net.name,
            args.packing,
            args.sparsity,
            set.source,
            args.offset,
            args.backend
        );
        match (correct, accuracy) {
            (Some(c), Some(a)) => outln!("  accuracy {:.2}% ({c}/{n})", 100.0 * a),
            _ => outln!("  accuracy: not measured (synthetic inputs have no labels)"),
        }
        outln!(
            "  agreement with plaintext predictions {:.2}% ({agree}/{n})",
            100.0 * agreement
        );
        outln!("  max logit error {max_err:.3e}");
        outln!(
            "  seconds per image {latency:.3} (one inference; {cpu_latency:.3} s CPU), {throughput:.3} \
             wall with {jobs} jobs; key generation and payloads {setup_s:.1} s"
        );
        if let Some(bytes) = key_bytes {
            outln!(
                "  {} bootstraps: {bootstrap_cpu:.1} s CPU per image; keys {:.2} GB; peak RSS {}",
                stats.count(OpName::Bootstrap),
                bytes as f64 / 1e9,
                peak_rss.map_or("unknown".into(), |b| format!("{:.2} GB", b as f64 / 1e9))
            );
        }
        if let Some(count) = encoded_once {
            let total = stats.count(OpName::MulPlain);
            outln!("  mul_plain operands encoded once: {count} (of {total} mul_plain ops)");
        }
        outln!(
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
