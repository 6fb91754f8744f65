//! Helpers shared by the integration tests.

// Each test binary compiles this module, and not every one uses every helper.
#![allow(dead_code)]

use hesim_hw::tools::Tool;

/// Whether `tools` are installed. When one is missing: under `CI=true` the test fails with the
/// package to install; otherwise it is skipped with a message.
pub fn tools_available(tools: &[Tool]) -> bool {
    let missing: Vec<String> = tools
        .iter()
        .filter_map(|t| t.locate().err().map(|e| e.to_string()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = missing.join("; ");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but a required tool is missing: {message} (scripts/test.sh installs them)"
    );
    eprintln!("SKIPPED: {message}");
    false
}

/// A count from the environment variable `name`, or `default`.
pub fn count_from_env(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a count")),
        Err(_) => default,
    }
}
