//! Finding and running the external EDA tools (yosys, Icarus Verilog, Verilator).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::HwError;

/// An external program the flow runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tool {
    /// Yosys (synthesis, latch checks).
    Yosys,
    /// Icarus Verilog compiler.
    Iverilog,
    /// Icarus Verilog runtime.
    Vvp,
    /// Verilator (lint, simulation).
    Verilator,
    /// The C++ compiler `verilator --binary` builds with.
    Cxx,
    /// `make`, which drives that build.
    Make,
}

impl Tool {
    /// The program name.
    pub fn program(self) -> &'static str {
        match self {
            Tool::Yosys => "yosys",
            Tool::Iverilog => "iverilog",
            Tool::Vvp => "vvp",
            Tool::Verilator => "verilator",
            Tool::Cxx => "g++",
            Tool::Make => "make",
        }
    }

    /// The Debian package that provides it.
    pub fn package(self) -> &'static str {
        match self {
            Tool::Yosys => "yosys",
            Tool::Iverilog | Tool::Vvp => "iverilog",
            Tool::Verilator => "verilator",
            Tool::Cxx => "g++",
            Tool::Make => "make",
        }
    }

    /// The program's path, or [`HwError::ToolMissing`] naming the package to install.
    pub fn locate(self) -> Result<PathBuf, HwError> {
        let missing = HwError::ToolMissing {
            program: self.program(),
            package: self.package(),
        };
        let path = std::env::var_os("PATH").ok_or(missing)?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(self.program()))
            .find(|candidate| candidate.is_file())
            .ok_or(HwError::ToolMissing {
                program: self.program(),
                package: self.package(),
            })
    }

    /// Runs the tool with `args` in `cwd`; returns stdout + stderr, or
    /// [`HwError::ToolFailed`] with the output's tail when it exits non-zero.
    pub fn run(self, args: &[&str], cwd: &Path) -> Result<String, HwError> {
        let program = self.locate()?;
        let command = format!("{} {}", self.program(), args.join(" "));
        let output = Command::new(&program)
            .args(args)
            .current_dir(cwd)
            .output()
            .map_err(HwError::io(&program))?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        if output.status.success() {
            Ok(text)
        } else {
            let status = output
                .status
                .code()
                .map_or_else(|| "signal".into(), |c| c.to_string());
            Err(HwError::ToolFailed {
                command,
                status,
                output: tail(&text),
            })
        }
    }
}

/// The last lines of a tool's output, enough to see the error.
pub(crate) fn tail(text: &str) -> String {
    const LINES: usize = 40;
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LINES)..].join("\n")
}
