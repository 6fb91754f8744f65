//! A reader that closes the pipe early (`hesim trace table | head -1`) ends hesim quietly with
//! status 0, as `cat` does, instead of a "failed printing to stdout" panic.

use std::io::Read as _;
use std::process::{Command, Stdio};

#[test]
fn closed_stdout_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hesim"))
        .args(["trace", "table"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
