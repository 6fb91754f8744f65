//! `hesim trace hemet`: README's HEMET regression table is the command's output, and HEMET's
//! parameter sets above the HE standard's 128-bit bound are refused unless --allow-insecure.

mod common;
use common::hesim;

/// README's HEMET section holds the current output of `hesim trace hemet`: a change to the
/// networks, the multiplexed packing or the merging pass that moves a level or a count must
/// paste the new tables there (and revisit the explanations below them).
#[test]
fn readme_hemet_table_is_the_command_output() {
    let (code, table, err) = hesim(&["trace", "hemet"]);
    assert_eq!(code, 0, "{err}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(table.trim()),
        "README.md's HEMET table differs from `hesim trace hemet`; paste its output:\n{table}"
    );
    // HEMET's own totals (the sums of its code's arrays) are in it
    for needle in [
        "| total | 15 | 44 | 31 | 139180 |",
        "| total | 12 | 34 | 25 | 214116 |",
    ] {
        assert!(table.contains(needle), "{needle}\n{table}");
    }
}

/// `remove_fire34_merge` (N = 2^13, 720 bits > 218) is refused with the set, its log QP and
/// the bound, exit 2 and nothing printed; with --allow-insecure it runs; the secure
/// `remove_fire34` (840 ≤ 881 at 2^15) needs no opt-in.
#[test]
fn insecure_hemet_parameter_sets_need_the_opt_in() {
    let (code, out, err) = hesim(&["trace", "hemet", "--variant", "remove_fire34_merge"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    for needle in [
        "remove_fire34_merge",
        "720 bits",
        "218 bits",
        "--allow-insecure",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let (code, out, err) = hesim(&[
        "trace",
        "hemet",
        "--variant",
        "remove_fire34_merge",
        "--allow-insecure",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("`remove_fire34_merge`: 10 levels at N = 2^13"),
        "{out}"
    );
    let (code, out, err) = hesim(&["trace", "hemet", "--variant", "remove_fire34"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("`remove_fire34`: 12 levels at N = 2^15"),
        "{out}"
    );
    let (code, out, err) = hesim(&["trace", "hemet", "--json", "--variant", "remove_fire34"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let insecure: Vec<&str> = json["variants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["secure"] == false)
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        insecure,
        [
            "remove_fire4",
            "remove_fire34_merge",
            "remove_fire34_merge_eager",
            "remove_fire1234"
        ]
    );
    assert!(json["chosen"].as_str().unwrap().contains("hemet needs 34"));
    assert_eq!(json["tables"][1]["merged"]["depth"], 25);
    let (code, _, err) = hesim(&["trace", "hemet", "--variant", "fire9"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown HEMET variant `fire9`"), "{err}");
}
