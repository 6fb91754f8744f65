//! Every hand-written malformed fixture is rejected for the rule and at the line it was written
//! to break, and the valid fixture passes. The expectations are written by hand next to each
//! file name, independent of the validator's code.

use std::path::{Path, PathBuf};

use hesim_traces::{Rule, TraceError};

fn fixture(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir)
        .join(name)
}

/// (file, [(rule it breaks, 1-based line that breaks it)])
const INVALID: &[(&str, &[(Rule, u64)])] = &[
    ("syntax.jsonl", &[(Rule::Syntax, 3)]),
    // cut mid-line: the last line does not parse and the end record is missing
    (
        "syntax-cut-mid-line.jsonl",
        &[(Rule::Syntax, 3), (Rule::Truncated, 3)],
    ),
    ("schema-unknown-op.jsonl", &[(Rule::Schema, 3)]),
    ("schema-unknown-field.jsonl", &[(Rule::Schema, 3)]),
    ("schema-rotate-without-step.jsonl", &[(Rule::Schema, 3)]),
    ("schema-wrong-scheme.jsonl", &[(Rule::Schema, 1)]),
    (
        "header-placement-missing-header.jsonl",
        &[(Rule::HeaderPlacement, 1)],
    ),
    ("header-version-wrong.jsonl", &[(Rule::HeaderVersion, 1)]),
    (
        "header-consistency-slots.jsonl",
        &[(Rule::HeaderConsistency, 1)],
    ),
    (
        "header-consistency-dnum.jsonl",
        &[(Rule::HeaderConsistency, 1)],
    ),
    ("use-before-define.jsonl", &[(Rule::UseBeforeDefine, 3)]),
    ("duplicate-id.jsonl", &[(Rule::DuplicateId, 3)]),
    ("arity.jsonl", &[(Rule::Arity, 3)]),
    ("level-mismatch-binary.jsonl", &[(Rule::LevelMismatch, 4)]),
    ("level-mismatch-plain.jsonl", &[(Rule::LevelMismatch, 3)]),
    ("level-range-zero.jsonl", &[(Rule::LevelRange, 2)]),
    ("level-range-above-chain.jsonl", &[(Rule::LevelRange, 2)]),
    ("level-drop-rescale-two.jsonl", &[(Rule::LevelDrop, 3)]),
    ("level-drop-out-of-levels.jsonl", &[(Rule::LevelDrop, 3)]),
    ("rotation-range.jsonl", &[(Rule::RotationRange, 3)]),
    ("rotation-range-zero.jsonl", &[(Rule::RotationRange, 3)]),
    ("hoist-group.jsonl", &[(Rule::HoistGroup, 5)]),
    (
        "ciphertext-size-relin-fresh.jsonl",
        &[(Rule::CiphertextSize, 3)],
    ),
    (
        "ciphertext-size-rotate-unrelinearised.jsonl",
        &[(Rule::CiphertextSize, 4)],
    ),
    ("output-use.jsonl", &[(Rule::OutputUse, 4)]),
    ("key-switch-primes.jsonl", &[(Rule::KeySwitchPrimes, 3)]),
    ("bootstrap-params.jsonl", &[(Rule::BootstrapParams, 3)]),
    // issue #17: parameters that wrapped the level budget, or expanded without bound
    (
        "bootstrap-params-cts-levels-u32-wrap.jsonl",
        &[(Rule::BootstrapParams, 3)],
    ),
    (
        "bootstrap-params-eval-mod-degree-2pow30.jsonl",
        &[(Rule::BootstrapParams, 3)],
    ),
    (
        "bootstrap-params-stc-levels-100.jsonl",
        &[(Rule::BootstrapParams, 3)],
    ),
    (
        "bootstrap-params-zero-stages.jsonl",
        &[(Rule::BootstrapParams, 3)],
    ),
    (
        "bootstrap-params-zero-stages-rescale.jsonl",
        &[(Rule::BootstrapParams, 3)],
    ),
    // issue #17: levels far above the chain (they once sized the per-level counts)
    ("level-range-4e9.jsonl", &[(Rule::LevelRange, 2)]),
    ("level-range-1e9.jsonl", &[(Rule::LevelRange, 2)]),
    // issue #17: the same verdict whichever parser (fast scanner or serde) reads the line
    ("syntax-control-byte-fast-shape.jsonl", &[(Rule::Syntax, 2)]),
    (
        "syntax-control-byte-serde-shape.jsonl",
        &[(Rule::Syntax, 2)],
    ),
    (
        "schema-negative-zero-id-fast-shape.jsonl",
        &[(Rule::Schema, 2)],
    ),
    (
        "schema-negative-zero-id-serde-shape.jsonl",
        &[(Rule::Schema, 2)],
    ),
    ("truncated-no-end.jsonl", &[(Rule::Truncated, 3)]),
    ("truncated-empty.jsonl", &[(Rule::Truncated, 1)]),
    ("end-record-count.jsonl", &[(Rule::EndRecord, 3)]),
    ("end-record-content-after.jsonl", &[(Rule::EndRecord, 4)]),
];

/// All violations of a file: header errors come back from `open`, op errors from `analyze`.
fn violations(path: &Path) -> Vec<(Rule, u64)> {
    match hesim_traces::open(path) {
        Err(TraceError::Invalid(v)) => vec![(v.rule, v.line)],
        Err(e) => panic!("{}: unexpected error {e}", path.display()),
        Ok(reader) => {
            let analysis = hesim_traces::analyze(reader).expect("no I/O error");
            analysis
                .violations
                .iter()
                .map(|v| (v.rule, v.line))
                .collect()
        }
    }
}

#[test]
fn every_malformed_fixture_breaks_exactly_its_rule_at_its_line() {
    let on_disk = std::fs::read_dir(fixture("invalid", "")).unwrap().count();
    assert_eq!(
        on_disk,
        INVALID.len(),
        "every fixture file has an expectation"
    );
    let mut distinct = std::collections::BTreeSet::new();
    for &(name, expected) in INVALID {
        let found = violations(&fixture("invalid", name));
        assert_eq!(found, expected, "{name}");
        distinct.extend(expected.iter().map(|&(rule, _)| rule));
    }
    assert!(
        distinct.len() >= 15,
        "{} distinct rules covered",
        distinct.len()
    );
}

#[test]
fn the_valid_fixture_passes_with_the_counts_written_in_it() {
    let analysis =
        hesim_traces::analyze(hesim_traces::open(fixture("valid", "small.jsonl")).unwrap())
            .unwrap();
    assert!(analysis.is_valid(), "{:?}", analysis.violations);
    let s = &analysis.stats;
    assert_eq!(s.ops, 20);
    // relin, two rotations, one conjugation
    assert_eq!(s.key_switches, 4);
    // steps {1, -3} and the conjugation key
    assert_eq!(s.galois_keys, 3);
    assert_eq!(s.hoist_groups, 1);
    assert_eq!(s.hoisted_rotations, 2);
    // three rescales on the path input → conv1 → act1 → fc
    assert_eq!(s.depth, 3);
    let layers: Vec<&str> = s.by_layer.iter().map(|l| l.layer.as_str()).collect();
    assert_eq!(layers, ["in", "conv1", "act1", "fc", "out"]);
}
