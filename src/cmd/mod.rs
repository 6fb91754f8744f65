//! One module per subcommand group.

pub mod ckks;
pub mod demo;
pub mod finetune;
pub mod gen_options;
pub mod hemet;
pub mod nn;
pub mod nn_compare;
pub mod report;
pub mod resnet;
pub mod sim;
pub mod sweep;
pub mod trace;
pub mod validate;
pub mod verilog;
pub mod workloads;

use std::io::Write as _;
use std::path::Path;

use anyhow::Context;

/// Most worker threads a command starts (`--jobs`): more only add threads and address space,
/// not cores, and thousands fail to start.
pub const MAX_JOBS: usize = 1024;

/// Parses `--jobs`: 0 (one per core) to [`MAX_JOBS`].
pub fn parse_jobs(text: &str) -> Result<usize, String> {
    let jobs: usize = text.parse().map_err(|e| format!("{e}"))?;
    if jobs > MAX_JOBS {
        return Err(format!("at most {MAX_JOBS} worker threads"));
    }
    Ok(jobs)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a failed run leaves no
/// partial file (the sweep's implementation, shared by every subcommand).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    hesim_sim::sweep::write_atomically(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `text` with control characters other than newline and tab written as `\u{..}` escapes, so
/// that names read from files (layer names, paths) cannot send terminal escape sequences.
pub fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Writes to stdout. A reader that went away (`hesim sim … | head`) ends the process with
/// status 0, as `cat` and `grep` do: every file output is written atomically before printing,
/// so nothing partial is left. Any other write error is reported with exit code 2.
/// Control characters from file contents are escaped ([`escape_controls`]).
pub fn write_stdout(args: std::fmt::Arguments) {
    let text = escape_controls(&args.to_string());
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(i32::from(crate::EXIT_BAD_INPUT));
    }
}
