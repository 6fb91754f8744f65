//! `hesim verilog check`: yosys latch/driver checks, Verilator lint, and the self-checking
//! testbench under Icarus Verilog and Verilator.

use std::path::Path;

use crate::HwError;
use crate::emit::{DESIGN_FILE, Manifest, TESTBENCH_FILE, TOP_MODULE};
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
    /// The directory's manifest.
    pub manifest: Manifest,
    /// One line per simulator.
    pub simulations: Vec<SimulationResult>,
}

impl CheckReport {
    /// Whether every simulator passed every vector.
    pub fn all_passed(&self) -> bool {
        self.simulations
            .iter()
            .all(|s| s.failed == 0 && s.passed == self.manifest.vectors)
    }
}

/// Runs every check on `dir`: latches, lint, Icarus, Verilator.
pub fn check_dir(dir: &Path) -> Result<CheckReport, HwError> {
    let manifest = Manifest::read(dir)?;
    for file in [DESIGN_FILE, TESTBENCH_FILE, crate::emit::VECTORS_FILE] {
        if !dir.join(file).is_file() {
            return Err(HwError::BadDesignDir {
                path: dir.join(file),
                reason: "missing; regenerate the directory with `hesim verilog butterfly`".into(),
            });
        }
    }
    yosys_structural_check(dir)?;
    verilator_lint(dir)?;
    let simulations = vec![simulate_icarus(dir)?, simulate_verilator(dir)?];
    Ok(CheckReport {
        manifest,
        simulations,
    })
}

/// yosys `proc` followed by assertions: no latch cells, no undriven or multiply driven wires.
pub fn yosys_structural_check(dir: &Path) -> Result<(), HwError> {
    let script = format!(
        "read_verilog {DESIGN_FILE}; hierarchy -check -top {TOP_MODULE}; proc; flatten; \
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
pub fn verilator_lint(dir: &Path) -> Result<(), HwError> {
    Tool::Verilator
        .run(
            &[
                "--lint-only",
                "-Wall",
                "-Wno-DECLFILENAME",
                "--top-module",
                TOP_MODULE,
                DESIGN_FILE,
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
pub fn simulate_icarus(dir: &Path) -> Result<SimulationResult, HwError> {
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
            TESTBENCH_FILE,
            DESIGN_FILE,
        ],
        dir,
    )?;
    let output = Tool::Vvp.run(&["-n", &binary_arg], dir)?;
    parse_summary("icarus", "vvp -n tb.vvp", &output)
}

/// Builds the testbench with `verilator --binary` (timing support, Verilator ≥ 5) and runs it.
pub fn simulate_verilator(dir: &Path) -> Result<SimulationResult, HwError> {
    let build = tempfile::tempdir().map_err(HwError::io(std::env::temp_dir()))?;
    let mdir = build.path().to_string_lossy().into_owned();
    Tool::Verilator.run(
        &[
            "--binary",
            "-j",
            "2",
            "-O2",
            "--top-module",
            "tb",
            "-Wno-DECLFILENAME",
            "--Mdir",
            &mdir,
            "-o",
            "tb_sim",
            TESTBENCH_FILE,
            DESIGN_FILE,
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
                || l.starts_with("missing")
                || l.starts_with("mismatch")
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
