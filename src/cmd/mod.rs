//! One module per subcommand group.

pub mod demo;
pub mod nn;
pub mod report;
pub mod resnet;
pub mod sim;
pub mod sweep;
pub mod trace;
pub mod verilog;

use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` through a temporary file and a rename, so a failed run leaves no
/// partial file (the sweep's implementation, shared by every subcommand).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    hesim_sim::sweep::write_atomically(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}
