//! `hesim`: the command line. It only parses, wires the crates together and prints; the work
//! lives in the library crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!` that ends the process quietly when stdout is closed (`hesim … | head`) instead
/// of panicking; see [`cmd::write_stdout`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cmd::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` with the same broken-pipe handling as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::cmd::write_stdout(format_args!($($arg)*)) };
}

mod cmd;

/// Exit code for bad input (a malformed file, an impossible parameter): the user can fix it.
const EXIT_BAD_INPUT: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "hesim",
    version,
    about = "HE accelerator hardware/software co-design simulator",
    long_about = "hesim turns CNNs into CKKS programs under SpENCNN-style packings, emits them as \
                  HE-op traces, simulates the traces on accelerator models, generates and checks \
                  the Verilog of an NTT butterfly, and sweeps and plots design spaces.",
    after_help = "Examples:\n  \
        hesim demo\n  \
        hesim trace validate traces/fixtures/valid/small.jsonl\n  \
        hesim trace stats traces/fixtures/valid/small.jsonl --json"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with HE-op trace files (validate, stats).
    #[command(subcommand)]
    Trace(cmd::trace::TraceCommand),
    /// Encrypted (or slot-interpreted) CNN inference on the MNIST test set or synthetic inputs.
    #[command(after_help = "Examples:\n  \
        hesim infer --net lenet --packing spencnn --images 100\n  \
        hesim infer --net lenet --packing dense --images 10 --json\n  \
        hesim infer --net lenet --packing spencnn --images 500 --offset 500 --jobs 2\n  \
        hesim infer --net vgg5 --weights random --packing dense --images 1 --json\n  \
        hesim infer --net lenet --packing spencnn --sparsity 0.5 --backend plain --images 10000")]
    Infer(cmd::nn::InferArgs),
    /// Sub-block pruning with fixed masks, then fine-tuning on MNIST (candle on the CPU); writes
    /// a checkpoint that `hesim infer --weights FILE` reads.
    #[command(after_help = "Examples:\n  \
        hesim finetune --net lenet --sparsity 0.5 --out lenet-s0.5.safetensors\n  \
        hesim finetune --net lenet --sparsity 0,0.25,0.5,0.75,0.9 --out finetune-curve\n  \
        hesim infer --net lenet --packing spencnn --sparsity 0.5 --weights lenet-s0.5.safetensors \
        --offset 5000 --images 500")]
    Finetune(cmd::finetune::FinetuneArgs),
    /// Sweep a design space (architecture axes × workloads); `sweep merge` joins shards.
    #[command(after_help = "Examples:\n  \
        hesim sweep sweeps/demo.toml --out sweep-out --jobs 2\n  \
        hesim sweep sweeps/demo.toml --out sweep-out --dry-run\n  \
        hesim sweep sweeps/demo.toml --out shard-3 --shard-index 3 --shard-count 8\n  \
        hesim sweep merge shard-* --out merged")]
    Sweep(cmd::sweep::SweepArgs),
    /// Draw the report (SVG + PNG figures, index.html, index.md) from result files.
    #[command(after_help = "Examples:\n  \
        hesim report hesim-demo --out hesim-demo/report\n  \
        hesim report runs/ --out report --timeline runs/lenet/timeline.json")]
    Report(cmd::report::ReportArgs),
    /// The main job on embedded defaults: LeNet traces (3 packings), simulation, a 72-point
    /// sweep, the Verilog butterfly and the report. No network, data or yosys needed.
    #[command(after_help = "Examples:\n  \
        hesim demo\n  \
        hesim demo --out /tmp/demo --jobs 2")]
    Demo(cmd::demo::DemoArgs),
    /// Simulate a trace on an accelerator architecture (preset or TOML, with overrides).
    Sim(cmd::sim::SimArgs),
    /// Real CKKS on the CPU: bootstrap random encrypted vectors and report precision and time.
    #[command(subcommand)]
    Ckks(cmd::ckks::CkksCommand),
    /// The simulator's validation table: each design's preset on the benchmark workloads under
    /// its own recipe, against the published latencies, with sensitivity rows.
    #[command(after_help = "Examples:\n  \
        hesim validate\n  \
        hesim validate --json\n  \
        hesim validate --out validation")]
    Validate(cmd::validate::ValidateArgs),
    /// Emit, check and synthesize the rust_hdl NTT butterfly (Verilog, Icarus, Verilator, yosys).
    #[command(subcommand)]
    Verilog(cmd::verilog::VerilogCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Trace(c) => cmd::trace::run(c),
        Command::Infer(a) => cmd::nn::infer(a),
        Command::Finetune(a) => cmd::finetune::run(a),
        Command::Sweep(c) => cmd::sweep::run(c),
        Command::Report(a) => cmd::report::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Sim(a) => cmd::sim::run(a),
        Command::Validate(a) => cmd::validate::run(a),
        Command::Verilog(c) => cmd::verilog::run(c),
        Command::Ckks(c) => cmd::ckks::run(c),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", error_message(&err));
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// The error and its causes joined by ": ", each cause once: many library errors already
/// print their source in their own message, and `{:#}` would repeat it. Control characters
/// (from file contents such as layer names) are escaped so they cannot drive the terminal.
fn error_message(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    cmd::escape_controls(&message)
}
