//! `hesim verilog`: emit the rust_hdl butterfly as Verilog with golden vectors, check it under
//! yosys / Icarus / Verilator, and synthesize it for area.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use hesim_hw::area::{
    TABLE_FAMILIES, UnitAreaTable, complete_unit_table, regenerate_area_table,
    regenerate_unit_table, synth_dir, unit_area_table, unit_table_shapes,
};
use hesim_hw::automorphism::{AutomorphismConfig, write_automorphism_dir};
use hesim_hw::check::{Simulators, check_dir_with};
use hesim_hw::emit::write_design_dir;
use hesim_hw::fit::{device, fit};
use hesim_hw::ntt_core::write_ntt_dir;
use hesim_hw::ntt_unit::{NttUnitConfig, write_unit_dir};
use hesim_hw::vectors::{fresh_seed, generate};
use hesim_hw::{Family, Variant, Width, area_table};

#[derive(Debug, Subcommand)]
pub enum VerilogCommand {
    /// Write the unified NTT butterfly's Verilog, a self-checking testbench and test vectors
    /// computed by the golden model (hesim_sw::ring) into a directory.
    #[command(after_help = "Examples:\n  \
        hesim verilog butterfly --width 32 --out build/bf32\n  \
        hesim verilog butterfly --width 64 --vectors 100000 --seed 7 --out build/bf64\n  \
        hesim verilog butterfly --width 32 --variant special-prime --out build/sp32")]
    Butterfly {
        /// Datapath word: 32 (odd q < 2^31) or 64 (odd q < 2^62).
        #[arg(long)]
        width: u32,
        /// Modular reduction: `shoup` (Shoup quotient, q an input) or `special-prime` (shift-add
        /// for the fixed prime 2^31 − 2^19 + 1 at 32 bits, 2^61 − 2^26 + 1 at 64 bits).
        #[arg(long, default_value = "shoup")]
        variant: String,
        /// Random vectors per mode (forward, inverse, inverse with ÷2), plus edge cases.
        #[arg(long, default_value_t = 10_000)]
        vectors: usize,
        /// Seed of the vector generator (ChaCha20); drawn from the OS when absent.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory (created if missing; existing design files are replaced).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the iterative NTT core (32-bit word, one butterfly, twiddle ROMs, two RAM banks)
    /// for N = 2^log-n and the largest NTT prime below 2^modulus-bits, with a testbench and
    /// forward/inverse transforms computed by the golden model.
    #[command(after_help = "Example:\n  \
        hesim verilog ntt --log-n 10 --out build/ntt1024 && hesim verilog check build/ntt1024")]
    Ntt {
        /// log2 N, 4 ..= 10.
        #[arg(long, default_value_t = 10)]
        log_n: u32,
        /// Bit size of the prime (≤ 31).
        #[arg(long, default_value_t = 30)]
        modulus_bits: u32,
        /// Random transforms to check (even: forward, odd: inverse).
        #[arg(long, default_value_t = 4)]
        transforms: usize,
        /// Seed of the input generator (ChaCha20); drawn from the OS when absent.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the parametric NTT unit (P butterflies, 2P banks, per-lane twiddle ROMs) for
    /// N = 2^log-n and the largest NTT prime below 2^modulus-bits, with a self-checking
    /// testbench and forward/inverse transforms computed by the golden model.
    #[command(after_help = "Examples:\n  \
        hesim verilog ntt-unit --log-n 12 --lanes 8 --out build/unit && hesim verilog check build/unit\n  \
        hesim verilog ntt-unit --log-n 16 --lanes 32 --width 64 --transforms 2 --out build/unit64")]
    NttUnit {
        /// log2 N, 4 ..= 16 (and N ≥ 4P).
        #[arg(long, default_value_t = 12)]
        log_n: u32,
        /// Butterflies per cycle P: a power of two, 1 ..= 64.
        #[arg(long, default_value_t = 8)]
        lanes: u32,
        /// Datapath word: 32 (odd q < 2^31) or 64 (odd q < 2^62).
        #[arg(long, default_value_t = 32)]
        width: u32,
        /// Bit size of the prime (default: the word's largest, 31 or 62).
        #[arg(long)]
        modulus_bits: Option<u32>,
        /// Random transforms to check (even: forward, odd: inverse).
        #[arg(long, default_value_t = 2)]
        transforms: usize,
        /// Seed of the input generator (ChaCha20); drawn from the OS when absent.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the automorphism unit (P lanes, log-stage swap network) for N = 2^log-n with a
    /// self-checking testbench: random limbs permuted by random odd Galois elements (the
    /// first is 2N − 1), expected slots from the golden model.
    #[command(after_help = "Example:\n  \
        hesim verilog automorphism --log-n 16 --lanes 16 --cases 100 --out build/auto && hesim verilog check build/auto")]
    Automorphism {
        /// log2 N, 4 ..= 16 (and N ≥ 4P).
        #[arg(long, default_value_t = 10)]
        log_n: u32,
        /// Lanes P: a power of two, 2 ..= 64.
        #[arg(long, default_value_t = 8)]
        lanes: u32,
        /// Datapath word: 32 or 64.
        #[arg(long, default_value_t = 32)]
        width: u32,
        /// Galois elements (limbs) to check.
        #[arg(long, default_value_t = 4)]
        cases: usize,
        /// Seed of the generator (ChaCha20); drawn from the OS when absent.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the committed area table of the NTT and automorphism units (N = 2^16, xcup), or
    /// regenerate it with yosys (long: one synthesis per row).
    #[command(after_help = "Examples:\n  \
        hesim verilog unit-table\n  \
        hesim verilog unit-table --regenerate hw/area/unit_table.json\n  \
        nice -n 15 hesim verilog unit-table --regenerate hw/area/unit_table.json --missing")]
    UnitTable {
        /// Synthesize every row and write the table to this file (after each row).
        #[arg(long)]
        regenerate: Option<PathBuf>,
        /// Keep the rows FILE already has and synthesize only the missing ones (resumes an
        /// interrupted run, adds rows after the grid grows).
        #[arg(long, requires = "regenerate")]
        missing: bool,
    },
    /// Choose the largest NTT and automorphism units that fit half of a device (from the
    /// committed unit table) and write an architecture fragment for `hesim sim --arch`.
    #[command(after_help = "Example:\n  \
        hesim verilog fit --device u280 --word 54 --out fpga-fit.toml && \
        hesim sim --trace t.jsonl --arch fpga-fit.toml")]
    Fit {
        /// Target device: u280.
        #[arg(long, default_value = "u280")]
        device: String,
        /// Prime size in bits (the architecture's word_bits); picks the 32-bit unit for ≤ 31,
        /// the 64-bit unit for ≤ 62.
        #[arg(long, default_value_t = 54)]
        word: u32,
        /// The fragment to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a design directory: yosys latch/driver checks, verilator --lint-only -Wall, and
    /// the testbench under Icarus Verilog and Verilator. Exit 2 on any failure.
    #[command(after_help = "Examples:\n  \
        hesim verilog check build/bf32\n  \
        hesim verilog check build/auto16 --simulators verilator")]
    Check {
        /// Directory written by `hesim verilog butterfly`.
        dir: PathBuf,
        /// Which simulators run the testbench: both, icarus or verilator.
        #[arg(long, default_value = "both")]
        simulators: String,
    },
    /// Synthesize a design directory with yosys and write DIR/area_<family>.json.
    #[command(after_help = "Examples:\n  \
        hesim verilog synth build/bf32\n  \
        hesim verilog synth build/bf64 --family ice40")]
    Synth {
        /// Directory written by `hesim verilog butterfly`.
        dir: PathBuf,
        /// Target: xc7 (DSP48E1), xcup (DSP48E2) or ice40 (SB_MAC16).
        #[arg(long, default_value = "xc7")]
        family: String,
    },
    /// Print the committed area table (what `sim` uses), or regenerate it with yosys.
    #[command(after_help = "Examples:\n  \
        hesim verilog area-table\n  \
        hesim verilog area-table --regenerate hw/area/area_table.json")]
    AreaTable {
        /// Synthesize every shipped variant (xc7, ice40) and write the table to this file.
        #[arg(long)]
        regenerate: Option<PathBuf>,
    },
}

pub fn run(cmd: VerilogCommand) -> Result<ExitCode> {
    match cmd {
        VerilogCommand::Butterfly {
            width,
            variant,
            vectors,
            seed,
            out,
        } => {
            let width = Width::from_bits(width)?;
            let variant = Variant::parse(&variant)?;
            let seed = seed.unwrap_or_else(fresh_seed);
            let vectors = generate(width, variant, vectors, seed)?;
            let manifest = write_design_dir(&out, width, variant, &vectors, seed)?;
            let modulus = manifest
                .fixed_modulus
                .map(|q| format!(" for q = {q}"))
                .unwrap_or_default();
            outln!(
                "{}: {}-bit {} butterfly{modulus}, latency {} cycles, II {}, {} vectors \
                 (forward {}, inverse {}, inverse_half {}), seed {}",
                out.display(),
                width,
                variant,
                manifest.latency,
                manifest.initiation_interval,
                manifest.vectors,
                manifest.vectors_per_mode[0],
                manifest.vectors_per_mode[1],
                manifest.vectors_per_mode[2],
                seed
            );
            Ok(ExitCode::SUCCESS)
        }
        VerilogCommand::Ntt {
            log_n,
            modulus_bits,
            transforms,
            seed,
            out,
        } => {
            let seed = seed.unwrap_or_else(fresh_seed);
            let m = write_ntt_dir(&out, log_n, modulus_bits, transforms, seed)?;
            outln!(
                "{}: NTT core N = {}, q = {}, {} transforms, {} cycles per transform, seed {}",
                out.display(),
                1u64 << m.log_n,
                m.q,
                m.transforms,
                m.cycles_per_transform,
                seed
            );
            Ok(ExitCode::SUCCESS)
        }
        VerilogCommand::NttUnit {
            log_n,
            lanes,
            width,
            modulus_bits,
            transforms,
            seed,
            out,
        } => {
            let width = Width::from_bits(width)?;
            let config = NttUnitConfig::new(log_n, lanes, width)?;
            let bits = modulus_bits.unwrap_or_else(|| width.max_modulus_bits());
            let seed = seed.unwrap_or_else(fresh_seed);
            let m = write_unit_dir(&out, config, bits, transforms, seed)?;
            outln!(
                "{}: NTT unit {}, q = {}, {} transforms; {} issue cycles ((N/2)·log2 N / P), \
                 {} idle cycles between stages, {} cycles per transform; seed {}",
                out.display(),
                m.config,
                m.q,
                m.transforms,
                m.issue_cycles,
                config.stage_gap(),
                m.cycles_per_transform,
                seed
            );
            Ok(ExitCode::SUCCESS)
        }
        VerilogCommand::Automorphism {
            log_n,
            lanes,
            width,
            cases,
            seed,
            out,
        } => {
            let config = AutomorphismConfig::new(log_n, lanes, Width::from_bits(width)?)?;
            let seed = seed.unwrap_or_else(fresh_seed);
            let m = write_automorphism_dir(&out, config, cases, seed)?;
            outln!(
                "{}: automorphism unit {}, {} Galois elements, {} cycles per limb (N/P = {}); seed {}",
                out.display(),
                m.config,
                m.galois.len(),
                m.cycles_per_limb,
                config.issue_cycles(),
                seed
            );
            Ok(ExitCode::SUCCESS)
        }
        VerilogCommand::UnitTable {
            regenerate,
            missing,
        } => {
            let table = match &regenerate {
                Some(path) => {
                    // Before minutes of synthesis, not after.
                    hesim_sim::sweep::check_writable(&[path.as_path()])
                        .context("cannot write the unit table")?;
                    let mut rows = 0;
                    let save = |partial: &UnitAreaTable| {
                        rows += 1;
                        eprintln!("synthesized row {rows}; saved {}", path.display());
                        partial.save(path)
                    };
                    if missing {
                        let text = std::fs::read_to_string(path)
                            .with_context(|| format!("reading {}", path.display()))?;
                        let existing: UnitAreaTable =
                            serde_json::from_str(&text).with_context(|| {
                                format!("{} is not a unit area table", path.display())
                            })?;
                        complete_unit_table(existing, &unit_table_shapes(), save)?
                    } else {
                        regenerate_unit_table(&unit_table_shapes(), save)?
                    }
                }
                None => unit_area_table(),
            };
            print_table(
                &format!("{} (synth_xilinx -family xcup -uram)", table.yosys),
                "unit          log_n lanes word limb_cycles latency     LUT      FF   DSP BRAM URAM",
                table.entries.iter().map(|e| {
                    format!(
                        "{:<13} {:>5} {:>5} {:>4} {:>11} {:>7} {:>7} {:>7} {:>5} {:>4} {:>4}",
                        e.unit.name(),
                        e.log_n,
                        e.lanes,
                        e.width.to_string(),
                        e.limb_cycles,
                        e.latency_cycles,
                        e.cells.lut,
                        e.cells.ff,
                        e.cells.dsp,
                        e.cells.bram,
                        e.cells.uram
                    )
                }),
                regenerate.as_deref(),
            );
            Ok(ExitCode::SUCCESS)
        }
        VerilogCommand::Fit {
            device: name,
            word,
            out,
        } => {
            let table = unit_area_table();
            let chosen = fit(device(&name)?, word, &table)?;
            let tmp = out.with_extension("toml.tmp");
            std::fs::write(&tmp, chosen.fragment(&table.yosys))?;
            std::fs::rename(&tmp, &out)?;
            outln!(
                "{}: {} NTT unit(s) of {} butterflies ({}-bit word), automorphism {} lanes; \
                 LUT {}, FF {}, DSP {}, BRAM {}, URAM {} of {}",
                out.display(),
                chosen.ntt_units,
                chosen.ntt.lanes,
                chosen.width,
                chosen.automorphism.lanes,
                chosen.used.lut,
                chosen.used.ff,
                chosen.used.dsp,
                chosen.used.bram,
                chosen.used.uram,
                chosen.device.name
            );
            Ok(ExitCode::SUCCESS)
        }
        VerilogCommand::Check { dir, simulators } => {
            let report = check_dir_with(&dir, Simulators::parse(&simulators)?)?;
            outln!("{}: {}", dir.display(), report.design);
            outln!("yosys proc: no latches, every wire driven once");
            outln!("verilator --lint-only -Wall: clean");
            for sim in &report.simulations {
                for line in &sim.summary {
                    outln!("  {}: {line}", sim.simulator);
                }
                outln!(
                    "{}: {} passed, {} failed",
                    sim.simulator,
                    sim.passed,
                    sim.failed
                );
            }
            if !report.all_passed() {
                bail!(
                    "{}: not every vector passed in every simulator (expected {} passes each)",
                    dir.display(),
                    report.expected_passes
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        VerilogCommand::Synth { dir, family } => {
            let family = Family::parse(&family)?;
            let report = synth_dir(&dir, family)?;
            let c = report.cells;
            outln!(
                "{} ({}): LUT {}, FF {}, DSP {}, CARRY {}, BRAM {} -> {}",
                family,
                report.yosys,
                c.lut,
                c.ff,
                c.dsp,
                c.carry,
                c.bram,
                dir.join(format!("area_{family}.json")).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        VerilogCommand::AreaTable { regenerate } => {
            let table = match &regenerate {
                Some(path) => {
                    hesim_sim::sweep::check_writable(&[path.as_path()])
                        .context("cannot write the area table")?;
                    let table = regenerate_area_table(&TABLE_FAMILIES)?;
                    table.save(path)?;
                    table
                }
                None => area_table(),
            };
            print_table(
                &table.yosys,
                "width variant       family latency II   LUT    FF  DSP CARRY BRAM",
                table.entries.iter().map(|e| {
                    format!(
                        "{:>5} {:<13} {:<6} {:>7} {:>2} {:>5} {:>5} {:>4} {:>5} {:>4}",
                        e.width.to_string(),
                        e.variant.to_string(),
                        e.family.to_string(),
                        e.latency,
                        e.initiation_interval,
                        e.cells.lut,
                        e.cells.ff,
                        e.cells.dsp,
                        e.cells.carry,
                        e.cells.bram
                    )
                }),
                regenerate.as_deref(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints a synthesis table: the yosys that made it, a header, one line per row, and the file
/// it was just written to.
fn print_table(
    yosys: &str,
    header: &str,
    rows: impl Iterator<Item = String>,
    written: Option<&Path>,
) {
    outln!("{yosys}");
    outln!("{header}");
    for row in rows {
        outln!("{row}");
    }
    if let Some(path) = written {
        outln!("wrote {}", path.display());
    }
}
