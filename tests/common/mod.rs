//! Runs the `hesim` binary the way a user does, for the CLI integration tests.

use std::process::Command;

/// Exit code, stdout and stderr of `hesim ARGS...`.
pub fn hesim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hesim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
