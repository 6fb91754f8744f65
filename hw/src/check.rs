//! `hesim verilog check`: yosys latch/driver checks, Verilator lint, and the self-checking
//! testbench under Icarus Verilog and Verilator.

use std::path::Path;

use crate::HwError;
use crate::automorphism::{
    AUTOMORPHISM_DESIGN_FILE, AUTOMORPHISM_MANIFEST_FILE, AUTOMORPHISM_TESTBENCH_FILE,
    AUTOMORPHISM_VECTORS_FILE, AutomorphismManifest,
};
use crate::emit::{DESIGN_FILE, Manifest, TESTBENCH_FILE, TOP_MODULE, VECTORS_FILE};
use crate::ntt_core::{
    NTT_DESIGN_FILE, NTT_MANIFEST_FILE, NTT_TESTBENCH_FILE, NTT_VECTORS_FILE, NttManifest,
};
use crate::ntt_unit::{
    UNIT_DESIGN_FILE, UNIT_MANIFEST_FILE, UNIT_TESTBENCH_FILE, UNIT_VECTORS_FILE, UnitManifest,
};
use crate::tools::{Tool, tail};

/// Outcome of one simulator run of the testbench.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulationResult {
    /// `icarus` or `verilator`.
    pub simulator: &'static str,
    /// Vectors whose outputs matched.
    pub passed: usize,
    /// Mismatching, missing or unexpected results, plus one if the latency differs.
    pub failed: usize,
    /// The testbench's summary lines (per mode, latency, total).
    pub summary: Vec<String>,
}

/// Everything `check` established about a design directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// What the directory holds, e.g. `32-bit shoup butterfly, ..., 6810 vectors`.
    pub design: String,
    /// Passes every simulator must report: vectors (butterfly) or coefficients (NTT core).
    pub expected_passes: usize,
    /// One entry per simulator.
    pub simulations: Vec<SimulationResult>,
}

impl CheckReport {
    /// Whether every simulator passed every vector.
    pub fn all_passed(&self) -> bool {
        self.simulations
            .iter()
            .all(|s| s.failed == 0 && s.passed == self.expected_passes)
    }
}

/// The files of one design directory.
#[derive(Clone, Copy, Debug)]
struct DesignFiles {
    design: &'static str,
    testbench: &'static str,
    vectors: &'static str,
}

/// Which simulators run a directory's testbench.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Simulators {
    /// Icarus Verilog and Verilator (the default).
    #[default]
    Both,
    /// Only Icarus Verilog.
    Icarus,
    /// Only Verilator (N = 2^16 testbenches run for hours under Icarus).
    Verilator,
}

impl Simulators {
    /// Parses `both`, `icarus` or `verilator`.
    pub fn parse(name: &str) -> Result<Self, HwError> {
        match name {
            "both" => Ok(Simulators::Both),
            "icarus" => Ok(Simulators::Icarus),
            "verilator" => Ok(Simulators::Verilator),
            _ => Err(HwError::UnsupportedSimulator {
                name: name.to_string(),
            }),
        }
    }
}

/// Runs every check on `dir` (a butterfly, NTT-core, NTT-unit or automorphism directory): latches, lint, Icarus,
/// Verilator.
pub fn check_dir(dir: &Path) -> Result<CheckReport, HwError> {
    check_dir_with(dir, Simulators::Both)
}

/// [`check_dir`] with a choice of simulators.
pub fn check_dir_with(dir: &Path, simulators: Simulators) -> Result<CheckReport, HwError> {
    let (design, expected_passes, files) = if dir.join(AUTOMORPHISM_MANIFEST_FILE).is_file() {
        let m = AutomorphismManifest::read(dir)?;
        let design = format!(
            "automorphism unit {}, {} Galois elements, {} cycles per limb",
            m.config,
            m.galois.len(),
            m.cycles_per_limb
        );
        let files = DesignFiles {
            design: AUTOMORPHISM_DESIGN_FILE,
            testbench: AUTOMORPHISM_TESTBENCH_FILE,
            vectors: AUTOMORPHISM_VECTORS_FILE,
        };
        (design, m.galois.len() << m.config.log_n, files)
    } else if dir.join(UNIT_MANIFEST_FILE).is_file() {
        let m = UnitManifest::read(dir)?;
        let design = format!(
            "NTT unit {}, q = {}, {} transforms, {} cycles each ({} issue cycles)",
            m.config, m.q, m.transforms, m.cycles_per_transform, m.issue_cycles
        );
        let files = DesignFiles {
            design: UNIT_DESIGN_FILE,
            testbench: UNIT_TESTBENCH_FILE,
            vectors: UNIT_VECTORS_FILE,
        };
        (design, m.transforms << m.config.log_n, files)
    } else if dir.join(NTT_MANIFEST_FILE).is_file() {
        let m = NttManifest::read(dir)?;
        let design = format!(
            "NTT core N = {}, q = {}, {} transforms, {} cycles each",
            1u64 << m.log_n,
            m.q,
            m.transforms,
            m.cycles_per_transform
        );
        let files = DesignFiles {
            design: NTT_DESIGN_FILE,
            testbench: NTT_TESTBENCH_FILE,
            vectors: NTT_VECTORS_FILE,
        };
        (design, m.transforms << m.log_n, files)
    } else {
        let m = Manifest::read(dir)?;
        let modulus = m
            .fixed_modulus
            .map(|q| format!(" for q = {q}"))
            .unwrap_or_default();
        let design = format!(
            "{}-bit {} butterfly{modulus}, latency {}, II {}, {} vectors",
            m.width, m.variant, m.latency, m.initiation_interval, m.vectors
        );
        let files = DesignFiles {
            design: DESIGN_FILE,
            testbench: TESTBENCH_FILE,
            vectors: VECTORS_FILE,
        };
        (design, m.vectors, files)
    };
    for file in [files.design, files.testbench, files.vectors] {
        if !dir.join(file).is_file() {
            return Err(HwError::BadDesignDir {
                path: dir.join(file),
                reason: "missing; regenerate the directory with `hesim verilog`".into(),
            });
        }
    }
    yosys_structural_check(dir, files.design)?;
    verilator_lint(dir, files.design)?;
    let mut simulations = Vec::new();
    if simulators != Simulators::Verilator {
        simulations.push(simulate_icarus(dir, files)?);
    }
    if simulators != Simulators::Icarus {
        simulations.push(simulate_verilator(dir, files)?);
    }
    Ok(CheckReport {
        design,
        expected_passes,
        simulations,
    })
}

/// yosys `proc` followed by assertions: no latch cells, no undriven or multiply driven wires.
pub fn yosys_structural_check(dir: &Path, design: &str) -> Result<(), HwError> {
    let script = format!(
        "read_verilog {design}; hierarchy -check -top {TOP_MODULE}; proc; flatten; \
         check -assert; select -assert-none t:$dlatch t:$adlatch t:$dlatchsr"
    );
    let output = Tool::Yosys
        .run(&["-q", "-p", &script], dir)
        .map_err(|e| match e {
            HwError::ToolFailed { output, .. } => HwError::DesignRule {
                check: "yosys: no latches, every wire driven exactly once",
                details: output,
            },
            other => other,
        })?;
    if output.contains("Latch inferred") {
        return Err(HwError::DesignRule {
            check: "yosys: no latches",
            details: tail(&output),
        });
    }
    Ok(())
}

/// `verilator --lint-only -Wall` on the design; only the file-name rule is waived (rust-hdl
/// names the top module `top`, not after the file).
pub fn verilator_lint(dir: &Path, design: &str) -> Result<(), HwError> {
    Tool::Verilator
        .run(
            &[
                "--lint-only",
                "-Wall",
                "-Wno-DECLFILENAME",
                "--top-module",
                TOP_MODULE,
                design,
            ],
            dir,
        )
        .map_err(|e| match e {
            HwError::ToolFailed { output, .. } => HwError::DesignRule {
                check: "verilator --lint-only -Wall",
                details: output,
            },
            other => other,
        })?;
    Ok(())
}

/// Compiles and runs the testbench with Icarus Verilog.
fn simulate_icarus(dir: &Path, files: DesignFiles) -> Result<SimulationResult, HwError> {
    let build = tempfile::tempdir().map_err(HwError::io(std::env::temp_dir()))?;
    let binary = build.path().join("tb.vvp");
    let binary_arg = binary.to_string_lossy().into_owned();
    Tool::Iverilog.run(
        &[
            "-g2005",
            "-s",
            "tb",
            "-o",
            &binary_arg,
            files.testbench,
            files.design,
        ],
        dir,
    )?;
    let output = Tool::Vvp.run(&["-n", &binary_arg], dir)?;
    parse_summary("icarus", "vvp -n tb.vvp", &output)
}

/// Builds the testbench with `verilator --binary` (timing support, Verilator ≥ 5) and runs it.
fn simulate_verilator(dir: &Path, files: DesignFiles) -> Result<SimulationResult, HwError> {
    // `verilator --binary` compiles C++ with make and g++, which the verilator package does
    // not pull in; name them instead of failing inside the build.
    Tool::Cxx.locate()?;
    Tool::Make.locate()?;
    let build = tempfile::tempdir().map_err(HwError::io(std::env::temp_dir()))?;
    let mdir = build.path().to_string_lossy().into_owned();
    Tool::Verilator.run(
        &[
            "--binary",
            "-j",
            "2",
            "-O2",
            // g++ without optimization: the testbench runs for seconds at most, while the
            // default -Os build costs ~25 % more compile time per design.
            "-MAKEFLAGS",
            "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0",
            "--top-module",
            "tb",
            "-Wno-DECLFILENAME",
            "--Mdir",
            &mdir,
            "-o",
            "tb_sim",
            files.testbench,
            files.design,
        ],
        dir,
    )?;
    let binary = build.path().join("tb_sim");
    let output = std::process::Command::new(&binary)
        .current_dir(dir)
        .output()
        .map_err(HwError::io(&binary))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    parse_summary("verilator", "tb_sim", &text)
}

/// Reads the testbench's `total: N passed, N failed` line and keeps the summary lines.
fn parse_summary(
    simulator: &'static str,
    command: &str,
    output: &str,
) -> Result<SimulationResult, HwError> {
    let unexpected = || HwError::UnexpectedOutput {
        command: command.to_string(),
        expected: "total: N passed, N failed",
        output: tail(output),
    };
    let total = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("total: "))
        .ok_or_else(unexpected)?;
    let (passed, failed) = parse_counts(total).ok_or_else(unexpected)?;
    let summary = output
        .lines()
        .filter(|l| {
            l.contains(" passed, ")
                || l.starts_with("latency")
                || l.starts_with("cycles")
                || l.starts_with("missing")
                || l.starts_with("mismatch")
                || l.starts_with("transform")
        })
        .map(str::to_string)
        .collect();
    Ok(SimulationResult {
        simulator,
        passed,
        failed,
        summary,
    })
}

/// Parses `N passed, M failed`.
fn parse_counts(text: &str) -> Option<(usize, usize)> {
    let (passed, failed) = text.split_once(" passed, ")?;
    let failed = failed.strip_suffix(" failed")?;
    Some((passed.trim().parse().ok()?, failed.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser reads exactly the testbench's summary format and rejects anything else.
    #[test]
    fn summary_parser() {
        assert_eq!(parse_counts("12 passed, 3 failed"), Some((12, 3)));
        assert_eq!(parse_counts("12 passed"), None);
        assert_eq!(parse_counts("x passed, 3 failed"), None);
        let out = "forward: 1 passed, 0 failed\nlatency: 7 cycles\ntotal: 5 passed, 1 failed\n";
        let r = parse_summary("icarus", "vvp", out).expect("parses");
        assert_eq!((r.passed, r.failed), (5, 1));
        assert_eq!(r.summary.len(), 3);
        assert!(parse_summary("icarus", "vvp", "nothing here").is_err());
    }
}
