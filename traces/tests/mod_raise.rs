//! The `mod_raise` op kind: wire round trip, validation (it must raise the level) and its
//! effect on depth. Expected values come from the rule as documented in `traces/README.md`.

use hesim_traces::{Rule, TraceReader, analyze};

const HEADER: &str = r#"{"format":"hesim-trace","version":1,"scheme":"ckks","log_n":4,"slots":8,"q_bits":[30,30,30,30],"p_bits":[30],"dnum":1,"log_scale":30,"network":"t","packing":"t","generator":"test"}"#;

fn run(ops: &[&str]) -> hesim_traces::Analysis {
    let mut text = format!("{HEADER}\n");
    for op in ops {
        text.push_str(op);
        text.push('\n');
    }
    text.push_str(&format!("{{\"end\":{{\"ops\":{}}}}}\n", ops.len()));
    analyze(TraceReader::new(text.as_bytes()).unwrap()).unwrap()
}

/// A raise from level 1 to the top is valid, resets the depth, and is counted under its name.
#[test]
fn raise_to_top_is_valid_and_resets_depth() {
    let a = run(&[
        r#"{"id":0,"op":"input","args":[],"level":2,"layer":"l"}"#,
        r#"{"id":1,"op":"rescale","args":[0],"level":1,"layer":"l"}"#,
        r#"{"id":2,"op":"mod_raise","args":[1],"level":4,"layer":"l"}"#,
        r#"{"id":3,"op":"output","args":[2],"level":4,"layer":"l"}"#,
    ]);
    assert!(a.is_valid(), "{:?}", a.violations);
    assert_eq!(a.stats.count(hesim_traces::OpName::ModRaise), 1);
    assert_eq!(a.stats.key_switches, 0);
    // one rescale before the raise; the raise starts a new path
    assert_eq!(a.stats.depth, 1);
}

/// A `mod_raise` that does not go up is a level-drop violation on its line.
#[test]
fn raise_that_does_not_raise_is_rejected() {
    let a = run(&[
        r#"{"id":0,"op":"input","args":[],"level":3,"layer":"l"}"#,
        r#"{"id":1,"op":"mod_raise","args":[0],"level":3,"layer":"l"}"#,
    ]);
    assert_eq!(a.violations.len(), 1, "{:?}", a.violations);
    assert_eq!(a.violations[0].rule, Rule::LevelDrop);
    assert_eq!(a.violations[0].line, 3);
}

/// An unrelinearised operand and stray attributes are rejected like for other kinds.
#[test]
fn raise_needs_a_relinearised_operand_and_no_attributes() {
    let a = run(&[
        r#"{"id":0,"op":"input","args":[],"level":1,"layer":"l"}"#,
        r#"{"id":1,"op":"mul","args":[0,0],"level":1,"layer":"l"}"#,
        r#"{"id":2,"op":"mod_raise","args":[1],"level":4,"layer":"l"}"#,
    ]);
    assert_eq!(a.violations.len(), 1);
    assert_eq!(a.violations[0].rule, Rule::CiphertextSize);
    let b = run(&[
        r#"{"id":0,"op":"input","args":[],"level":1,"layer":"l"}"#,
        r#"{"id":1,"op":"mod_raise","args":[0],"level":4,"step":1,"layer":"l"}"#,
    ]);
    assert_eq!(b.violations.len(), 1);
    assert_eq!(b.violations[0].rule, Rule::Schema);
}
