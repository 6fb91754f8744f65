//! Runs the `hesim` binary the way a user does, for the CLI integration tests. Each test binary
//! uses a subset of these helpers, hence the `dead_code` allowances.

use std::path::Path;
use std::process::Command;

/// Exit code, stdout and stderr of `hesim ARGS...`.
pub fn hesim(args: &[&str]) -> (i32, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_hesim")).args(args))
}

/// [`hesim`] with `HESIM_DATA` set to `data`.
#[allow(dead_code)]
pub fn hesim_with_data(data: &Path, args: &[&str]) -> (i32, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_hesim"))
        .env("HESIM_DATA", data)
        .args(args))
}

fn run(command: &mut Command) -> (i32, String, String) {
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// True when the MNIST test set is present; under `CI=true` a missing set fails loudly.
#[allow(dead_code)]
pub fn have_mnist() -> bool {
    let dir = hesim_sw::nn::data_root().join("data/mnist");
    let present = dir.join("t10k-images-idx3-ubyte.gz").exists();
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "MNIST test set missing under {} (CI=true); set HESIM_DATA",
            dir.display()
        );
        eprintln!("skipping: MNIST test set not under {}", dir.display());
    }
    present
}
