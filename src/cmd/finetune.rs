//! `hesim finetune`: sub-block pruning at fixed masks, then fine-tuning (hesim-train).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use hesim_sw::nn::{self, Params};
use hesim_train::{FinetuneConfig, MnistSplit, Model, Progress};

/// The curve file `hesim finetune` writes beside its checkpoints, and `hesim report` plots.
pub const CURVE_FILE: &str = "finetune.json";

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// Network to fine-tune (an MNIST network: lenet or a 1×28×28 TOML file).
    #[arg(long, default_value = "lenet")]
    pub net: String,
    /// Sub-block sparsity in [0, 1), or a comma-separated list (then --out is a directory).
    #[arg(
        long,
        allow_negative_numbers = true,
        value_delimiter = ',',
        required = true
    )]
    pub sparsity: Vec<f64>,
    /// The fine-tuned checkpoint (safetensors); with several sparsities, a directory that
    /// receives `NET-sS.safetensors` per sparsity and the curve `finetune.json`.
    #[arg(long)]
    pub out: PathBuf,
    /// Passes over the training images.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Seed of the training-image order (the only randomness).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Starting weights: `checkpoint` (the network's SpENCNN checkpoint under the data root), a
    /// safetensors file, or `random` (seed 0; training from scratch).
    #[arg(long, default_value = "checkpoint")]
    pub weights: String,
    /// Images per optimiser step.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Peak Adam learning rate (cosine decay to zero).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Use only the first N training images (quick runs).
    #[arg(long)]
    pub train_images: Option<usize>,
    /// Use only the first N evaluation images (quick runs).
    #[arg(long)]
    pub eval_images: Option<usize>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where the checkpoint of sparsity `s` goes.
fn checkpoint_out(args: &FinetuneArgs, net: &str, s: f64) -> PathBuf {
    if args.sparsity.len() == 1 {
        args.out.clone()
    } else {
        args.out.join(format!("{net}-s{s:.2}.safetensors"))
    }
}

pub fn run(args: FinetuneArgs) -> Result<ExitCode> {
    for &s in &args.sparsity {
        nn::Packing::parse("spencnn", s).context("--sparsity")?;
    }
    let config = FinetuneConfig {
        epochs: args.epochs,
        batch: args.batch,
        learning_rate: args.lr,
        seed: args.seed,
    };
    config.validate()?;
    let net = super::nn::load_network(&args.net)?;
    hesim_train::check_network(&net)?;
    let params = super::nn::load_params(&net, &args.weights, 0)?;
    let outs: Vec<PathBuf> = args
        .sparsity
        .iter()
        .map(|&s| checkpoint_out(&args, &net.name, s))
        .collect();
    let mut targets: Vec<&Path> = outs.iter().map(PathBuf::as_path).collect();
    let curve_path = args.out.join(CURVE_FILE);
    if args.sparsity.len() > 1 {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        targets.push(&curve_path);
    }
    hesim_sim::sweep::check_writable(&targets).context("cannot write the output")?;
    let dir = nn::data_root().join("data/mnist");
    let data =
        hesim_train::load_mnist(&dir, args.train_images, args.eval_images).with_context(|| {
            format!(
                "cannot load MNIST from {} (HESIM_DATA names the folder holding data/mnist)",
                dir.display()
            )
        })?;
    eprintln!("finetune: {}", data.description);
    let checkpoint_accuracy =
        Model::new(&net, &params, &nn::PruneMasks::new())?.accuracy(&data.eval)?;
    let mut records = Vec::new();
    for (&sparsity, out) in args.sparsity.iter().zip(&outs) {
        let record = finetune_one(&net, &params, &data, &config, sparsity, out).map(|mut r| {
            r["checkpoint_accuracy"] = checkpoint_accuracy.into();
            r
        })?;
        if !args.json {
            print_record(&record);
        }
        records.push(record);
    }
    if args.sparsity.len() > 1 {
        let curve = serde_json::to_string_pretty(&records)?;
        super::write_atomic(&curve_path, curve.as_bytes())?;
        if !args.json {
            outln!("curve: {}", curve_path.display());
        }
    }
    if args.json {
        let out = if records.len() == 1 {
            records.remove(0)
        } else {
            serde_json::Value::Array(records)
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prunes at `sparsity`, fine-tunes, writes the checkpoint and returns the run's record.
fn finetune_one(
    net: &nn::Network,
    params: &Params,
    data: &MnistSplit,
    config: &FinetuneConfig,
    sparsity: f64,
    out: &Path,
) -> Result<serde_json::Value> {
    let start = Instant::now();
    let cpu = cpu_time::ProcessTime::now();
    let masks = hesim_train::sub_block_masks(net, params, sparsity)
        .with_context(|| format!("cannot compute the sub-block masks at sparsity {sparsity}"))?;
    let pruned_weights: usize = masks
        .values()
        .map(|m| m.iter().filter(|&&p| p).count())
        .sum();
    let mut pruned_layers: Vec<&str> = masks
        .keys()
        .map(|&li| net.layers[li].name.as_str())
        .collect();
    pruned_layers.sort_unstable();
    let weights_in_pruned_layers: usize = masks.values().map(Vec::len).sum();
    let mut model = Model::new(net, params, &masks)?;
    let pruned_accuracy = model.accuracy(&data.eval)?;
    eprintln!(
        "finetune: {} at sparsity {sparsity}: {pruned_weights}/{weights_in_pruned_layers} weights \
         of {} pruned, accuracy {:.2}% before fine-tuning",
        net.name,
        if pruned_layers.is_empty() {
            "no layer".into()
        } else {
            pruned_layers.join(", ")
        },
        100.0 * pruned_accuracy
    );
    let batches = data.train.len().div_ceil(config.batch) as u64;
    let bar = indicatif::ProgressBar::new(batches);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} {bar:40} {pos}/{len} batches, {elapsed} elapsed, eta {eta}",
        )
        .expect("valid template"),
    );
    let epochs = config.epochs;
    let logs = hesim_train::finetune(&mut model, data, config, &mut |p| match p {
        Progress::Batch { epoch, done, .. } => {
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
            bar.set_position(done as u64);
        }
        Progress::Epoch(log) => {
            bar.suspend(|| {
                eprintln!(
                    "finetune: epoch {}/{epochs}: loss {:.4}, train accuracy {:.2}%, eval \
                     accuracy {:.2}%, {:.1} s",
                    log.epoch,
                    log.loss,
                    100.0 * log.train_accuracy,
                    100.0 * log.eval_accuracy,
                    log.seconds
                );
            });
            bar.reset();
        }
    })?;
    bar.finish_and_clear();
    let finetuned_accuracy = logs.last().map_or(pruned_accuracy, |l| l.eval_accuracy);
    let metadata = HashMap::from([(
        "hesim".to_owned(),
        format!(
            "hesim finetune --net {} --sparsity {sparsity} --epochs {} --seed {} (from {}); {}",
            net.name, config.epochs, config.seed, params.source, data.description
        ),
    )]);
    let bytes = model.to_safetensors(metadata)?;
    super::write_atomic(out, &bytes)?;
    let wall = start.elapsed().as_secs_f64();
    let cpu_seconds = cpu.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "network": net.name,
        "sparsity": sparsity,
        "weights": params.source,
        "out": out.display().to_string(),
        "split": data.description,
        "split_kind": format!("{:?}", data.kind),
        "train_images": data.train.len(),
        "eval_images": data.eval.len(),
        "eval_offset": data.eval_offset,
        "epochs": config.epochs,
        "batch": config.batch,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
        "pruned_layers": pruned_layers,
        "pruned_weights": pruned_weights,
        "weights_in_pruned_layers": weights_in_pruned_layers,
        "pruned_accuracy": pruned_accuracy,
        "finetuned_accuracy": finetuned_accuracy,
        "epoch_log": logs.iter().map(|l| serde_json::json!({
            "epoch": l.epoch, "loss": l.loss, "train_accuracy": l.train_accuracy,
            "eval_accuracy": l.eval_accuracy, "seconds": l.seconds,
        })).collect::<Vec<_>>(),
        "wall_seconds": wall,
        "cpu_seconds": cpu_seconds,
        "images_per_second": (data.train.len() * config.epochs) as f64 / wall,
    }))
}

fn print_record(r: &serde_json::Value) {
    let pct = |k: &str| 100.0 * r[k].as_f64().unwrap_or(f64::NAN);
    outln!(
        "{} sparsity {}: accuracy {:.2}% fine-tuned, {:.2}% pruned before fine-tuning, {:.2}% \
         unpruned checkpoint ({} evaluation images from offset {}); {} s wall, {} s CPU; wrote {}",
        r["network"].as_str().unwrap_or("?"),
        r["sparsity"],
        pct("finetuned_accuracy"),
        pct("pruned_accuracy"),
        pct("checkpoint_accuracy"),
        r["eval_images"],
        r["eval_offset"],
        r["wall_seconds"]
            .as_f64()
            .map_or("?".into(), |s| format!("{s:.1}")),
        r["cpu_seconds"]
            .as_f64()
            .map_or("?".into(), |s| format!("{s:.1}")),
        r["out"].as_str().unwrap_or("?")
    );
}
