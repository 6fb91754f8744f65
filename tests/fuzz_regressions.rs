//! Replays, on stable, every committed fuzz input through the same target bodies `cargo fuzz`
//! runs (`fuzz/src/targets.rs`): the crashes the fuzzers found (`fuzz/regressions/TARGET/`)
//! and each target's seed corpus (the repository's fixtures). Each must return without a
//! panic; see `fuzz/README.md`.

use std::path::Path;

#[path = "../fuzz/src/targets.rs"]
mod targets;

/// Files (not folders) directly in `dir`; none if it does not exist.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_fuzz_input_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let mut replayed = 0;
    for &(name, body) in targets::TARGETS {
        let seeds = targets::SEEDS
            .iter()
            .filter(|(target, _)| *target == name)
            .flat_map(|(_, dirs)| dirs.iter().map(|d| root.join(d)));
        let dirs: Vec<_> = std::iter::once(root.join("fuzz/regressions").join(name))
            .chain(seeds)
            .collect();
        for path in dirs.iter().flat_map(|d| files(d)) {
            let bytes = std::fs::read(&path).unwrap();
            replayed += 1;
            if std::panic::catch_unwind(|| body(&bytes)).is_err() {
                failures.push(format!("{name}: {}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "panicked on:\n{}", failures.join("\n"));
    assert!(replayed >= 50, "only {replayed} inputs replayed");
}

/// Every target (the structure-aware ones have no seed files) on a fixed sample of
/// pseudo-random inputs, so a target that panics on ordinary input fails on stable too.
#[test]
fn every_target_runs_clean_on_sampled_inputs() {
    let mut state = 0x5eed_u64;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for &(name, body) in targets::TARGETS {
        for _ in 0..48 {
            let len = 16 + (next() % 240) as usize;
            let input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if std::panic::catch_unwind(|| body(&input)).is_err() {
                panic!("{name} panicked on {input:?}");
            }
        }
    }
}
