//! The `hesim trace` commands as a user runs them: exit codes and messages, no panics.

mod common;
use common::hesim;

use std::path::{Path, PathBuf};

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("traces/fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn validate_rejects_each_malformed_fixture_with_exit_2_naming_the_line_and_rule() {
    let files = fixtures("invalid");
    assert!(files.len() >= 15);
    for file in files {
        let path = file.to_str().unwrap();
        let (code, stdout, stderr) = hesim(&["trace", "validate", path]);
        assert_eq!(code, 2, "{path}: {stderr}");
        assert!(
            stdout.is_empty(),
            "{path}: nothing on stdout for an invalid trace"
        );
        assert!(!stderr.contains("panicked"), "{path}: {stderr}");
        // `file:LINE: [rule] message`: the file name stem starts with the rule's name.
        let stem = file.file_stem().unwrap().to_str().unwrap();
        let cited = stderr
            .lines()
            .find_map(|l| l.split_once(": [").map(|(_, rest)| rest.to_owned()))
            .unwrap_or_else(|| panic!("{path}: no `: [rule]` in {stderr}"));
        let rule = cited.split(']').next().unwrap();
        assert!(stem.starts_with(rule), "{path}: cites rule {rule}");
        assert!(
            stderr.contains(&format!("{path}:")) && stderr.contains(" line ")
                || stderr.contains(&format!("{path}:")),
            "{path}: message names the file: {stderr}"
        );
    }
}

#[test]
fn validate_accepts_the_valid_fixture_and_stats_prints_json() {
    for file in fixtures("valid") {
        let path = file.to_str().unwrap();
        let (code, stdout, stderr) = hesim(&["trace", "validate", path]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("valid: 20 ops"), "{stdout}");
        let (code, stdout, _) = hesim(&["trace", "stats", path, "--json"]);
        assert_eq!(code, 0);
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["stats"]["ops"], 20);
        assert_eq!(json["stats"]["by_kind"]["rotate"], 2);
    }
}

#[test]
fn a_missing_file_is_bad_input() {
    let (code, _, stderr) = hesim(&["trace", "stats", "/nonexistent/trace.jsonl"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/trace.jsonl"), "{stderr}");
}

/// README's "Packings side by side" table is the current output of `hesim trace compare`
/// (issue #16 item 4): a change to a packing, the compiler or the simulator that moves a count
/// or a latency must paste the new table there. Every row covers the named networks and
/// packings, and the refused ones give the compiler's reason.
#[test]
fn readme_comparison_table_is_the_compare_output() {
    let dir = tempfile::tempdir().unwrap();
    let figures = dir.path().join("figures");
    let (code, table, err) = hesim(&["trace", "compare", "--plot", figures.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // The figure per architecture names every packing in its legend (each applies somewhere;
    // circulant as its two rows, block 4 in both modes; spencnn pruned off ResNet-20 and
    // unpruned on it, two series, so the legend never passes one program off as the other).
    let series: Vec<String> = hesim_sw::nn::PACKINGS
        .iter()
        .flat_map(|&p| match p {
            "circulant" => vec![
                "circulant-b4-falcon".to_owned(),
                "circulant-b4-privcirnet".to_owned(),
            ],
            "spencnn" => vec!["spencnn".to_owned(), "spencnn@0.5".to_owned()],
            _ => vec![p.to_owned()],
        })
        .collect();
    for arch in ["sharp", "default"] {
        let svg = std::fs::read_to_string(figures.join(format!("packings-{arch}.svg"))).unwrap();
        assert!(figures.join(format!("packings-{arch}.png")).is_file());
        for packing in &series {
            assert!(
                svg.contains(&format!(">\n{packing}\n<")),
                "{arch}: {packing}"
            );
        }
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(table.trim()),
        "README.md's comparison table differs from `hesim trace compare`; paste its output:\n{table}"
    );
    for needle in [
        "| lenet | spencnn@0.5 |",
        "| resnet20 | hyphen-recon |",
        "| resnet20-aespa | multiplexed |",
        "| resnet18 | hyphen-recon |",
        "- lenet / multiplexed: layer `flatten`",
    ] {
        assert!(table.contains(needle), "{needle}: {table}");
    }
    let refused = dir.path().join("refused");
    let (code, _, err) = hesim(&[
        "trace",
        "compare",
        "--net",
        "vgg16",
        "--plot",
        refused.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(!refused.exists(), "a refused comparison draws nothing");
    assert!(
        err.contains("--net vgg16") && err.contains("resnet20-aespa"),
        "{err}"
    );
}
