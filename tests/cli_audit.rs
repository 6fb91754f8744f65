//! Issue #17's re-audit: deliberate user mistakes across every subcommand (bad paths, bad
//! numbers, NaN/inf/negative/huge values, unknown names, contradictory or ignored options,
//! unwritable outputs, directories where files go, empty files, wrong formats). Each must exit 2
//! with a message that says what is wrong, where, and how to fix it: no panic, no abort, no
//! hang, and nothing written. The independent reference is the promise itself (the README's
//! "bad input" contract), checked case by case; the cases are kept cheap (every one fails
//! before any long computation), so the whole table runs in seconds.
//!
//! Every command runs in a scratch folder holding the files of [`scratch`], with its address
//! space capped at 4 GB (`ulimit -v`) and `HESIM_DATA` pointing at an empty folder; after each
//! one the folder must be exactly as it was (no partial or stray output).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one case may run before it counts as a hang (all take well under a second).
const HANG: Duration = Duration::from_secs(60);

/// `(arguments, fragments the message must hold)`. In arguments, `{root}` is the repository
/// root; relative paths name the files of [`scratch`] (`nope*` never exists).
type Case = (&'static [&'static str], &'static [&'static str]);

const SMALL: &str = "{root}/traces/fixtures/valid/small.jsonl";

#[rustfmt::skip]
const CASES: &[Case] = &[
    // ---- trace validate / stats
    (&["trace", "validate", "nope.jsonl"], &["cannot open nope.jsonl", "No such file"]),
    (&["trace", "validate", "empty"], &["empty:1", "the file is empty", "starts with a header"]),
    (&["trace", "validate", "adir"], &["cannot open adir", "directory", ".jsonl"]),
    (&["trace", "validate", "bin"], &["bin:1", "[syntax]"]),
    (&["trace", "validate", "afile"], &["afile:1", "not valid JSON"]),
    (&["trace", "validate", "headerless.jsonl"], &["headerless.jsonl:1", "[header-placement]"]),
    (&["trace", "validate", "{root}/traces/fixtures/invalid/schema-unknown-op.jsonl"], &["[schema]", ":3:", "unknown variant `fma`"]),
    (&["trace", "validate", "{root}/traces/fixtures/invalid/duplicate-id.jsonl"], &["[duplicate-id]"]),
    (&["trace", "validate", "{root}/traces/fixtures/invalid/use-before-define.jsonl"], &["[use-before-define]"]),
    (&["trace", "validate", "{root}/traces/fixtures/invalid/truncated-no-end.jsonl"], &["[truncated]"]),
    (&["trace", "validate", "{root}/traces/fixtures/invalid/header-version-wrong.jsonl"], &["version"]),
    (&["trace", "validate", "small.jsonl", "other.jsonl"], &["unexpected argument", "other.jsonl"]),
    (&["trace", "validate"], &["required", "<FILE>"]),
    (&["trace", "stats", "nope.jsonl"], &["cannot open nope.jsonl"]),
    (&["trace", "stats", "empty"], &["the file is empty"]),
    (&["trace", "stats", "adir", "--json"], &["cannot open adir", "directory"]),
    (&["trace", "stats", "{root}/traces/fixtures/invalid/level-range-4e9.jsonl"], &["[level-range]", "4000000000"]),
    (&["trace", "nope"], &["unrecognized subcommand", "nope"]),
    (&["trace"], &["Usage"]),
    // ---- trace gen: networks, files, outputs
    (&["trace", "gen", "--net", "nope", "--out", "x.jsonl"], &["unknown network `nope`", "lenet"]),
    (&["trace", "gen", "--net", "nope.toml", "--out", "x.jsonl"], &["nope.toml"]),
    (&["trace", "gen", "--net", "empty.toml", "--out", "x.jsonl"], &["empty.toml", "missing field `input`"]),
    (&["trace", "gen", "--net", "adir", "--out", "x.jsonl"], &["adir", "directory"]),
    (&["trace", "gen", "--net", "net-unknown-layer.toml", "--out", "x.jsonl"], &["net-unknown-layer.toml", "nope"]),
    (&["trace", "gen", "--net", "net-zero-channels.toml", "--out", "x.jsonl"], &["layer `input`", "0×28×28", "empty"]),
    (&["trace", "gen", "--net", "net-nan-eps.toml", "--out", "x.jsonl"], &["eps", "NaN"]),
    (&["trace", "gen", "--net", "net-inf-coefficient.toml", "--out", "x.jsonl"], &["coefficient", "inf"]),
    (&["trace", "gen", "--net", "{root}/tests/fixtures/robustness/net-linear-out-1e12.toml", "--out", "x.jsonl"], &["linear2", "more than 67108864 weights"]),
    (&["trace", "gen", "--net", "lenet", "--packing", "nope", "--out", "x.jsonl"], &["unknown packing `nope`", "dense"]),
    (&["trace", "gen", "--net", "lenet", "--out", "afile/x.jsonl"], &["cannot write afile/x.jsonl", "Not a directory"]),
    (&["trace", "gen", "--net", "lenet", "--out", "adir"], &["cannot write adir", "directory"]),
    (&["trace", "gen", "--net", "lenet", "--out", "nope-dir/x.jsonl"], &["nope-dir/x.jsonl"]),
    (&["trace", "gen", "--net", "lenet"], &["required", "--out"]),
    (&["trace", "gen", "--out", "x.jsonl"], &["required", "--net"]),
    // ---- trace gen: numbers
    (&["trace", "gen", "--net", "lenet", "--sparsity=nan", "--out", "x.jsonl"], &["--sparsity NaN", "[0, 1)"]),
    (&["trace", "gen", "--net", "lenet", "--sparsity=inf", "--out", "x.jsonl"], &["--sparsity inf", "[0, 1)"]),
    (&["trace", "gen", "--net", "lenet", "--sparsity=1", "--out", "x.jsonl"], &["--sparsity 1", "[0, 1)"]),
    (&["trace", "gen", "--net", "lenet", "--sparsity", "-0.5", "--out", "x.jsonl"], &["--sparsity -0.5", "[0, 1)"]),
    (&["trace", "gen", "--net", "lenet", "--sparsity", "abc", "--out", "x.jsonl"], &["'abc'", "--sparsity"]),
    (&["trace", "gen", "--net", "lenet", "--packing", "dense", "--sparsity", "0.5", "--out", "x.jsonl"], &["--sparsity applies to the spencnn packing"]),
    (&["trace", "gen", "--net", "lenet", "--word-bits", "0", "--out", "x.jsonl"], &["'0'", "20..=64"]),
    (&["trace", "gen", "--net", "lenet", "--word-bits", "1000", "--out", "x.jsonl"], &["'1000'", "20..=64"]),
    (&["trace", "gen", "--net", "lenet", "--seed", "-1", "--out", "x.jsonl"], &["'-1'"]),
    (&["trace", "gen", "--net", "lenet", "--seed", "99999999999999999999", "--out", "x.jsonl"], &["--seed", "too large"]),
    (&["trace", "gen", "--net", "lenet", "--weights", "nope.safetensors", "--out", "x.jsonl"], &["cannot read nope.safetensors"]),
    (&["trace", "gen", "--net", "lenet", "--weights", "empty", "--out", "x.jsonl"], &["weights empty", "not a safetensors file"]),
    (&["trace", "gen", "--net", "lenet", "--weights", "adir", "--out", "x.jsonl"], &["cannot read adir", "directory"]),
    (&["trace", "gen", "--net", "lenet", "--weights", "{root}/tests/fixtures/robustness/lenet-nan-weights.safetensors", "--out", "x.jsonl"], &["conv1.weight", "NaN"]),
    (&["trace", "gen", "--net", "vgg5", "--weights", "checkpoint", "--out", "x.jsonl"], &["no checkpoint for network `vgg5`", "--weights random"]),
    // ---- trace gen: options the chosen network would ignore
    (&["trace", "gen", "--net", "lenet", "--limbs", "12", "--out", "x.jsonl"], &["--limbs 12 has no effect on --net lenet", "--net helr", "drop it"]),
    (&["trace", "gen", "--net", "lenet", "--dnum", "4", "--out", "x.jsonl"], &["--dnum 4 has no effect", "--net bootstrap --recipe"]),
    (&["trace", "gen", "--net", "lenet", "--cts-levels", "3", "--out", "x.jsonl"], &["--cts-levels 3 has no effect on --net lenet"]),
    (&["trace", "gen", "--net", "lenet", "--variant", "lee", "--out", "x.jsonl"], &["--variant lee has no effect on --net lenet", "--net resnet20 --variant lee"]),
    (&["trace", "gen", "--net", "lenet", "--batch", "256", "--out", "x.jsonl"], &["--batch 256 has no effect", "--net helr"]),
    (&["trace", "gen", "--net", "lenet", "--expand-boot", "--out", "x.jsonl"], &["--expand-boot has no effect on --net lenet"]),
    (&["trace", "gen", "--net", "lenet", "--log-n", "12", "--out", "x.jsonl"], &["--log-n 12 has no effect on --net lenet"]),
    (&["trace", "gen", "--net", "lenet", "--act-degree", "7", "--out", "x.jsonl"], &["--act-degree 7 has no effect on --net lenet", "--net resnet20"]),
    (&["trace", "gen", "--net", "lenet", "--recipe", "sharp", "--out", "x.jsonl"], &["--recipe sharp has no effect on --net lenet", "--net bootstrap --recipe"]),
    (&["trace", "gen", "--net", "bootstrap", "--slots", "4", "--out", "x.jsonl"], &["--slots 4 has no effect on --net bootstrap:", "--net bootstrap --recipe"]),
    (&["trace", "gen", "--net", "bootstrap", "--dnum", "0", "--out", "x.jsonl"], &["--dnum 0 has no effect on --net bootstrap:"]),
    (&["trace", "gen", "--net", "bootstrap", "--limbs", "12", "--out", "x.jsonl"], &["--limbs 12", "--levels-after"]),
    (&["trace", "gen", "--net", "bootstrap", "--sparsity=0.5", "--out", "x.jsonl"], &["--sparsity 0.5 has no effect on --net bootstrap"]),
    (&["trace", "gen", "--net", "bootstrap", "--weights", "w.safetensors", "--out", "x.jsonl"], &["--weights w.safetensors has no effect on --net bootstrap"]),
    (&["trace", "gen", "--net", "bootstrap", "--word-bits", "32", "--out", "x.jsonl"], &["--word-bits 32 has no effect on --net bootstrap"]),
    (&["trace", "gen", "--net", "bootstrap", "--recipe", "sharp", "--cts-levels", "3", "--out", "x.jsonl"], &["--cts-levels 3 has no effect on --net bootstrap --recipe"]),
    (&["trace", "gen", "--net", "bootstrap", "--recipe", "sharp", "--log-n", "15", "--out", "x.jsonl"], &["--log-n 15 has no effect on --net bootstrap --recipe"]),
    (&["trace", "gen", "--net", "helr", "--packing", "group", "--out", "x.jsonl"], &["--packing group has no effect on --net helr"]),
    (&["trace", "gen", "--net", "helr", "--levels-after", "3", "--out", "x.jsonl"], &["--levels-after 3 has no effect on --net helr"]),
    (&["trace", "gen", "--net", "resnet20", "--log-n", "12", "--out", "x.jsonl"], &["--log-n 12 has no effect on --net resnet20:", "--variant lee"]),
    (&["trace", "gen", "--net", "resnet20", "--sparsity", "0.5", "--out", "x.jsonl"], &["--sparsity 0.5", "--pruned-taps"]),
    (&["trace", "gen", "--net", "resnet20", "--packing", "multiplexed", "--groups", "3", "--out", "x.jsonl"], &["--groups 3 has no effect on resnet20 under --packing multiplexed"]),
    (&["trace", "gen", "--net", "resnet20", "--packing", "group", "--pruned-taps", "2", "--out", "x.jsonl"], &["--pruned-taps 2 has no effect on resnet20 under --packing group"]),
    (&["trace", "gen", "--net", "resnet20", "--variant", "lee", "--act-degree", "3", "--out", "x.jsonl"], &["--act-degree 3 has no effect on --net resnet20 --variant lee"]),
    (&["trace", "gen", "--net", "resnet20", "--variant", "lee", "--no-bootstrap", "--out", "x.jsonl"], &["--no-bootstrap has no effect on --net resnet20 --variant lee"]),
    (&["trace", "gen", "--net", "lenet", "--aespa", "--out", "x.jsonl"], &["--aespa has no effect on --net lenet", "--net resnet20"]),
    (&["trace", "gen", "--net", "resnet20", "--packing", "hyphen-recon", "--groups", "3", "--out", "x.jsonl"], &["--groups 3 has no effect on resnet20 under --packing hyphen-recon"]),
    (&["trace", "gen", "--net", "resnet20", "--merge-coefficients", "--out", "x.jsonl"], &["--merge-coefficients has no effect on --net resnet20"]),
    (&["trace", "gen", "--net", "hemet", "--packing", "hear", "--merge-coefficients", "--out", "x.jsonl"], &["--merge-coefficients applies to the multiplexed and hyphen-recon packings", "--packing hear"]),
    (&["trace", "hemet", "--variant", "remove_fire4"], &["`remove_fire4`", "900 bits", "881 bits", "--allow-insecure"]),
    (&["trace", "hemet", "--variant", "squeezenet"], &["unknown HEMET variant `squeezenet`", "remove_fire34"]),
    (&["trace", "hemet", "--markdown", "adir"], &["adir"]),
    // ---- trace gen: out-of-range workload parameters
    (&["trace", "gen", "--net", "resnet20", "--packing", "spencnn", "--groups", "0", "--out", "x.jsonl"], &["--groups 0", "at least 1"]),
    (&["trace", "gen", "--net", "resnet20", "--packing", "multiplexed", "--act-degree", "1000000000", "--out", "x.jsonl"], &["--act-degree 1000000000", "1..=1023"]),
    (&["trace", "gen", "--net", "resnet20", "--packing", "spencnn", "--pruned-taps", "100", "--out", "x.jsonl"], &["--pruned-taps 100", "at most 8"]),
    (&["trace", "gen", "--net", "resnet20", "--packing", "bogus", "--out", "x.jsonl"], &["unknown resnet20 packing `bogus`"]),
    (&["trace", "gen", "--net", "resnet20", "--variant", "nope", "--out", "x.jsonl"], &["'nope'", "lee, hesim"]),
    (&["trace", "gen", "--net", "bootstrap", "--log-n", "0", "--out", "x.jsonl"], &["--log-n 0", "2..=17"]),
    (&["trace", "gen", "--net", "bootstrap", "--log-n", "100", "--out", "x.jsonl"], &["--log-n 100", "2..=17"]),
    (&["trace", "gen", "--net", "bootstrap", "--cts-levels", "0", "--out", "x.jsonl"], &["cts_levels = 0", "between 1 and log2(slots)"]),
    (&["trace", "gen", "--net", "bootstrap", "--cts-levels", "4294967295", "--out", "x.jsonl"], &["cts_levels = 4294967295", "between 1 and log2(slots)"]),
    (&["trace", "gen", "--net", "bootstrap", "--stc-levels", "100", "--out", "x.jsonl"], &["stc_levels = 100", "log2(slots) = 15"]),
    (&["trace", "gen", "--net", "bootstrap", "--eval-mod-degree", "1", "--out", "x.jsonl"], &["eval_mod_degree = 1"]),
    (&["trace", "gen", "--net", "bootstrap", "--eval-mod-degree", "1073741824", "--out", "x.jsonl"], &["eval_mod_degree = 1073741824", "between 2 and 4095"]),
    (&["trace", "gen", "--net", "bootstrap", "--double-angle", "100", "--out", "x.jsonl"], &["128-bit bound", "fewer levels"]),
    (&["trace", "gen", "--net", "bootstrap", "--levels-after", "4294967000", "--allow-insecure", "--out", "x.jsonl"], &["levels_after = 4294967000", "4096 primes"]),
    (&["trace", "gen", "--net", "bootstrap", "--recipe", "sharp", "--limbs", "4294967295", "--allow-insecure", "--out", "x.jsonl"], &["limbs = 4294967295", "4096 primes"]),
    (&["trace", "gen", "--net", "bootstrap", "--recipe", "sharp", "--levels-after", "4294967295", "--allow-insecure", "--out", "x.jsonl"], &["l_eff = 4294967295", "L − 1 = 34"]),
    (&["trace", "gen", "--net", "bootstrap", "--recipe", "sharp", "--levels-after", "5000", "--allow-insecure", "--out", "x.jsonl"], &["l_eff = 5000"]),
    (&["trace", "gen", "--net", "helr", "--limbs", "4294967295", "--allow-insecure", "--out", "x.jsonl"], &["limbs = 4294967295", "4096 primes"]),
    (&["trace", "gen", "--net", "resnet20", "--variant", "lee", "--limbs", "4294967295", "--allow-insecure", "--out", "x.jsonl"], &["limbs = 4294967295", "4096 primes"]),
    (&["trace", "gen", "--net", "resnet20", "--limbs", "0", "--out", "x.jsonl"], &["limbs = 0", "between 1 and 4096"]),
    (&["trace", "gen", "--net", "bootstrap", "--levels-after", "100000", "--out", "x.jsonl"], &["levels_after = 100000", "4096 primes"]),
    (&["trace", "gen", "--net", "bootstrap", "--levels-after", "100", "--out", "x.jsonl"], &["128-bit bound", "fewer levels"]),
    (&["trace", "gen", "--net", "bootstrap", "--hoisting", "nope", "--out", "x.jsonl"], &["'nope'", "none, single, double"]),
    (&["trace", "gen", "--net", "bootstrap", "--expand-boot", "--hoisting", "double", "--out", "x.jsonl"], &["cannot be expanded", "--hoisting single"]),
    (&["trace", "gen", "--net", "bootstrap", "--recipe", "nope", "--out", "x.jsonl"], &["unknown bootstrap recipe \"nope\"", "sharp, ark"]),
    (&["trace", "gen", "--net", "bootstrap", "--recipe", "sharp", "--slots", "3", "--out", "x.jsonl"], &["slots = 3", "power of two"]),
    (&["trace", "gen", "--net", "bootstrap", "--recipe", "sharp", "--slots", "0", "--out", "x.jsonl"], &["slots = 0"]),
    (&["trace", "gen", "--net", "bootstrap", "--recipe", "sharp", "--dnum", "1000", "--out", "x.jsonl"], &["dnum = 1000", "36 limbs"]),
    (&["trace", "gen", "--net", "helr", "--batch", "0", "--out", "x.jsonl"], &["batch = 0", "multiple of the 128 samples"]),
    (&["trace", "gen", "--net", "helr", "--iterations", "0", "--out", "x.jsonl"], &["iterations = 0", "between 1 and 10000"]),
    (&["trace", "gen", "--net", "helr", "--features", "4294967295", "--out", "x.jsonl"], &["features = 4294967295", "power of two"]),
    (&["trace", "gen", "--net", "helr", "--log-n", "30", "--out", "x.jsonl"], &["--log-n 30"]),
    (&["trace", "gen", "--net", "resnet20", "--variant", "lee", "--cts-levels", "4294967295", "--out", "x.jsonl"], &["cts_levels = 4294967295", "between 1 and log2(slots)"]),
    (&["trace", "gen", "--net", "bootstrap", "--double-angle", "4294967295", "--allow-insecure", "--out", "x.jsonl"], &["level_budget", "use fewer stages or double angles"]),
    // ---- sim
    (&["sim", "--trace", "nope.jsonl"], &["cannot simulate nope.jsonl", "No such file"]),
    (&["sim", "--trace", "adir"], &["cannot open adir", "directory"]),
    (&["sim", "--trace", "empty"], &["the file is empty"]),
    (&["sim", "--trace", "{root}/traces/fixtures/invalid/level-range-4e9.jsonl"], &["level-range"]),
    (&["sim", "--trace", SMALL], &["60-bit primes", "--set word_bits=60"]),
    (&["sim", "--trace", SMALL, "--arch", "nope"], &["unknown preset \"nope\"", "default, f1"]),
    (&["sim", "--trace", SMALL, "--arch", "nope.toml"], &["nope.toml"]),
    (&["sim", "--trace", SMALL, "--arch", "empty.toml"], &["empty.toml", "add `preset = \"default\"`"]),
    (&["sim", "--trace", SMALL, "--arch", "adir"], &["adir", "directory"]),
    (&["sim", "--trace", SMALL, "--arch", "arch-bad-toml.toml"], &["arch-bad-toml.toml", "not valid TOML", "line 2"]),
    (&["sim", "--trace", SMALL, "--arch", "arch-unknown-preset.toml"], &["unknown preset \"nope\""]),
    (&["sim", "--trace", SMALL, "--arch", "arch-unknown-key.toml"], &["arch-unknown-key.toml", "unknown key `foo`"]),
    (&["sim", "--trace", SMALL, "--arch", "arch-wrong-type.toml"], &["clock_ghz", "the string \"fast\""]),
    (&["sim", "--trace", SMALL, "--set", "nope=1"], &["--set nope=1", "unknown key `nope`", "known keys"]),
    (&["sim", "--trace", SMALL, "--set", "ntt.lanes"], &["--set ntt.lanes", "KEY=VALUE"]),
    (&["sim", "--trace", SMALL, "--set", "=5"], &["KEY=VALUE"]),
    (&["sim", "--trace", SMALL, "--set", "ntt=5"], &["`ntt` must be a table"]),
    (&["sim", "--trace", SMALL, "--set", "ntt.lanes=abc"], &["`ntt.lanes` must be an integer", "\"abc\""]),
    (&["sim", "--trace", SMALL, "--set", "ntt.lanes=1.0"], &["`ntt.lanes` must be an integer", "1.0"]),
    (&["sim", "--trace", SMALL, "--set", "ntt.lanes=0"], &["`ntt.lanes` = 0", "at least 1"]),
    (&["sim", "--trace", SMALL, "--set", "ntt.lanes=-1"], &["`ntt.lanes` = -1"]),
    (&["sim", "--trace", SMALL, "--set", "ntt.lanes=4294967295"], &["`ntt.lanes` = 4294967295", "at most"]),
    (&["sim", "--trace", SMALL, "--set", "clock_ghz=nan"], &["`clock_ghz` = NaN", "between 0.001 and 100"]),
    (&["sim", "--trace", SMALL, "--set", "clock_ghz=inf"], &["`clock_ghz` = inf"]),
    (&["sim", "--trace", SMALL, "--set", "clock_ghz=-1"], &["`clock_ghz` = -1"]),
    (&["sim", "--trace", SMALL, "--set", "word_bits=1000"], &["`word_bits` = 1000", "at most 64"]),
    (&["sim", "--trace", SMALL, "--set", "hbm.bandwidth_gb_s=1e-300"], &["`hbm.bandwidth_gb_s`", "1 MB/s to 1 PB/s"]),
    (&["sim", "--trace", SMALL, "--set", "hbm.latency_ns=1e20"], &["`hbm.latency_ns`", "up to 1 ms"]),
    (&["sim", "--trace", SMALL, "--set", "scratchpad.capacity_mib=0"], &["`scratchpad.capacity_mib` = 0"]),
    (&["sim", "--trace", SMALL, "--set", "policy.key_storage=nope"], &["`policy.key_storage`", "streamed` or `on_chip"]),
    (&["sim", "--trace", SMALL, "--set", "policy.hoisting=nope"], &["`policy.hoisting` must be a boolean"]),
    (&["sim", "--trace", SMALL, "--set", "word_bits=64", "--set", "policy.dnum=1000"], &["`policy.dnum` = 1000", "5-limb chain"]),
    (&["sim", "--trace", SMALL, "--set", "word_bits=64", "--out", "afile"], &["afile", "is a file"]),
    (&["sim", "--trace", SMALL, "--set", "word_bits=64", "--out", "manifest-dir"], &["manifest.json", "is a directory"]),
    (&["sim", "--trace", SMALL, "--set", "word_bits=64", "--timeline", "adir"], &["adir", "is a directory"]),
    (&["sim", "--trace", SMALL, "--set", "word_bits=64", "--timeline", "afile/t.json"], &["afile", "is a file"]),
    (&["sim", "--trace", SMALL, "--set", "word_bits=64", "--count-only", "--timeline", "t.json"], &["'--count-only' cannot be used with '--timeline"]),
    (&["sim", "--trace", SMALL, "--set", "word_bits=64", "--count-only", "--out", "run"], &["'--count-only' cannot be used with '--out"]),
    (&["sim"], &["required", "--trace"]),
    // ---- sweep
    (&["sweep", "nope.toml", "--out", "s", "--dry-run"], &["nope.toml", "No such file"]),
    (&["sweep", "adir", "--out", "s", "--dry-run"], &["adir", "directory"]),
    (&["sweep", "empty", "--out", "s", "--dry-run"], &["empty", "missing field `base`"]),
    (&["sweep", "sweep-no-workload.toml", "--out", "s", "--dry-run"], &["no workloads", "[[workload]]"]),
    (&["sweep", "sweep-unknown-field.toml", "--out", "s", "--dry-run"], &["unknown field `unknown_field`"]),
    (&["sweep", "sweep-unknown-key.toml", "--out", "s", "--dry-run"], &["axis `nope`", "unknown key `nope`"]),
    (&["sweep", "sweep-unknown-base.toml", "--out", "s", "--dry-run"], &["unknown preset \"nope\""]),
    (&["sweep", "sweep-empty-axis.toml", "--out", "s", "--dry-run"], &["axis `ntt.lanes` has no values"]),
    (&["sweep", "sweep-duplicate-value.toml", "--out", "s", "--dry-run"], &["value 1 appears twice"]),
    (&["sweep", "sweep-duplicate-axis.toml", "--out", "s", "--dry-run"], &["axis `ntt.lanes` appears twice"]),
    (&["sweep", "sweep-backward-range.toml", "--out", "s", "--dry-run"], &["needs start ≤ stop", "10 and 1"]),
    (&["sweep", "sweep-zero-step.toml", "--out", "s", "--dry-run"], &["`step` must be positive, got 0"]),
    (&["sweep", "sweep-nan-step.toml", "--out", "s", "--dry-run"], &["`step` must be positive, got NaN"]),
    (&["sweep", "sweep-factor-one.toml", "--out", "s", "--dry-run"], &["factor > 1"]),
    (&["sweep", "sweep-step-and-factor.toml", "--out", "s", "--dry-run"], &["exactly one of `step` or `factor`"]),
    (&["sweep", "sweep-huge-range.toml", "--out", "s", "--dry-run"], &["more than 100000 values"]),
    (&["sweep", "sweep-nan-value.toml", "--out", "s", "--dry-run"], &["`clock_ghz` = NaN"]),
    (&["sweep", "sweep-array-value.toml", "--out", "s", "--dry-run"], &["must be a number, string or boolean"]),
    (&["sweep", "sweep-zero-lanes.toml", "--out", "s", "--dry-run"], &["axis `ntt.lanes` = 0", "at least 1"]),
    (&["sweep", "sweep-empty-packing.toml", "--out", "s", "--dry-run"], &["workload 1", "empty `packing`"]),
    (&["sweep", "sweep-bad-sparsity.toml", "--out", "s", "--dry-run"], &["workload 1: sparsity 2", "[0, 1)"]),
    (&["sweep", "sweep-trace-and-net.toml", "--out", "s", "--dry-run"], &["exactly one of `trace"]),
    (&["sweep", "sweep-missing-trace.toml", "--out", "s", "--dry-run"], &["nope.jsonl", "No such file"]),
    (&["sweep", "sweep-unknown-net.toml", "--out", "s", "--dry-run"], &["unknown network `nope`"]),
    (&["sweep", "{root}/tests/fixtures/robustness/sweep-grid-1e9.toml", "--out", "s", "--dry-run"], &["above the cap of 1000000"]),
    (&["sweep", "{root}/sweeps/demo.toml", "--out", "s", "--shard-index", "5", "--shard-count", "2"], &["--shard-index 5", "0..=1"]),
    (&["sweep", "{root}/sweeps/demo.toml", "--out", "s", "--shard-count", "0"], &["--shard-count 0", "at least one shard"]),
    (&["sweep", "{root}/sweeps/demo.toml", "--out", "afile"], &["afile"]),
    (&["sweep", "sweep-unknown-net.toml", "--out", "s", "--jobs", "100000"], &["'100000'", "at most 1024 worker threads"]),
    (&["demo", "--out", "d", "--jobs", "5000"], &["'5000'", "at most 1024 worker threads"]),
    (&["sweep", "merge", "nope", "--out", "m"], &["nope/grid.json", "No such file"]),
    (&["sweep", "merge", "afile", "--out", "m"], &["afile/grid.json"]),
    (&["sweep", "merge", "adir", "--out", "m"], &["adir/grid.json"]),
    (&["sweep", "merge", "--out", "m"], &["required", "<DIRS>"]),
    // ---- report
    (&["report", "nope", "--out", "r"], &["nope", "does not exist"]),
    (&["report", "afile", "--out", "r"], &["afile", "is a file, not a directory"]),
    (&["report", "adir", "--out", "r"], &["adir", "no results found", "hesim sim --out DIR"]),
    (&["report", "adir", "--out", "r", "--timeline", "nope.json"], &["nope.json"]),
    (&["report", "adir", "--out", "r", "--timeline", "empty"], &["not a timeline", "hesim sim --timeline FILE"]),
    // ---- infer
    (&["infer", "--net", "nope", "--inputs", "synthetic", "--backend", "plain"], &["unknown network `nope`"]),
    (&["infer", "--net", "lenet", "--inputs", "synthetic", "--backend", "plain"], &["lenet checkpoint", "is missing", "HESIM_DATA", "--weights random"]),
    (&["infer", "--net", "lenet", "--weights", "random", "--inputs", "nope", "--backend", "plain"], &["unknown --inputs `nope`", "mnist or synthetic"]),
    (&["infer", "--net", "lenet", "--inputs", "synthetic", "--backend", "nope"], &["unknown backend `nope`", "ckks, slots or plain"]),
    (&["infer", "--net", "lenet", "--inputs", "synthetic", "--images", "0", "--backend", "plain"], &["--images must be at least 1"]),
    (&["infer", "--net", "lenet", "--weights", "random", "--inputs", "synthetic", "--backend", "plain", "--jobs", "70000"], &["'70000'", "1..=1024"]),
    (&["infer", "--net", "lenet", "--weights", "random", "--inputs", "synthetic", "--backend", "plain", "--jobs", "2000"], &["'2000'", "1..=1024"]),
    (&["infer", "--net", "lenet", "--inputs", "synthetic", "--backend", "plain", "--jobs", "0"], &["'0'", "--jobs"]),
    (&["infer", "--net", "lenet", "--inputs", "synthetic", "--backend", "plain", "--weights", "nope.st"], &["cannot read nope.st"]),
    (&["infer", "--net", "lenet", "--inputs", "synthetic", "--backend", "plain", "--weights", "afile"], &["weights afile", "not a safetensors file"]),
    (&["infer", "--net", "lenet", "--inputs", "synthetic", "--images", "5", "--backend", "plain", "--weights", "{root}/tests/fixtures/robustness/lenet-nan-weights.safetensors"], &["tensor `conv1.weight` holds NaN"]),
    (&["infer", "--net", "lenet", "--weights", "random", "--inputs", "synthetic", "--backend", "plain", "--sparsity=-1"], &["--sparsity -1", "[0, 1)"]),
    (&["infer", "--net", "lenet", "--weights", "random", "--inputs", "synthetic", "--backend", "plain", "--packing", "nope"], &["unknown packing `nope`"]),
    (&["infer", "--net", "lenet", "--weights", "random", "--images", "1", "--backend", "plain"], &["cannot load the MNIST test set", "HESIM_DATA"]),
    // ---- finetune
    (&["finetune", "--net", "nope", "--out", "x.st", "--sparsity", "0.5"], &["unknown network `nope`"]),
    (&["finetune", "--net", "vgg5", "--out", "x.st", "--sparsity", "0.5"], &["vgg5", "MNIST network"]),
    (&["finetune", "--net", "lenet", "--out", "x.st", "--sparsity", "0.5", "--epochs", "0"], &["--epochs must be at least 1"]),
    (&["finetune", "--net", "lenet", "--out", "x.st", "--sparsity", "0.5", "--batch", "0"], &["batch size must be at least 1"]),
    (&["finetune", "--net", "lenet", "--out", "x.st", "--sparsity", "0.5", "--lr=nan"], &["learning rate NaN", "positive"]),
    (&["finetune", "--net", "lenet", "--out", "x.st", "--sparsity", "0.5", "--lr=-1"], &["learning rate -1"]),
    (&["finetune", "--net", "lenet", "--out", "x.st", "--sparsity=1.5"], &["sparsity 1.5", "[0, 1)"]),
    (&["finetune", "--net", "lenet", "--out", "x.st", "--sparsity", "0.1,abc"], &["'abc'", "--sparsity"]),
    (&["finetune", "--net", "lenet", "--out", "adir", "--sparsity", "0.5", "--weights", "random"], &["adir", "is a directory"]),
    (&["finetune", "--net", "lenet", "--out", "x.st", "--sparsity", "0.5", "--weights", "random"], &["cannot load MNIST", "HESIM_DATA"]),
    (&["finetune", "--net", "lenet", "--out", "x.st", "--sparsity", "0.5"], &["lenet checkpoint", "HESIM_DATA"]),
    (&["finetune", "--net", "lenet", "--out", "x.st"], &["required", "--sparsity"]),
    // ---- ckks
    (&["ckks", "bootstrap", "--log-n", "0"], &["N = 1", "2^4..=2^17"]),
    (&["ckks", "bootstrap", "--log-n", "100"], &["2^4..=2^17"]),
    (&["ckks", "bootstrap", "--slots", "3"], &["slots = 3", "power of two"]),
    (&["ckks", "bootstrap", "--recipe", "nope"], &["'nope'", "hoisted, no-hoist, min-ks"]),
    (&["ckks", "bootstrap", "--dft-levels", "0"], &["cts_levels = 0"]),
    (&["ckks", "bootstrap", "--eval-mod-range=-1"], &["'-1'", "--eval-mod-range"]),
    (&["ckks", "bootstrap", "--eval-mod-degree", "0"], &["eval_mod_degree = 0", "between 2 and 4095"]),
    (&["ckks", "bootstrap", "--levels-after", "0"], &["--levels-after 0", "at least 1"]),
    (&["ckks", "bootstrap", "--levels-after", "1000"], &["more than 256"]),
    (&["ckks", "bootstrap", "--levels-after", "100"], &["128-bit bound", "--allow-insecure"]),
    (&["ckks", "bootstrap", "--levels-after", "4294967295", "--allow-insecure"], &["--levels-after is too large"]),
    (&["ckks", "bootstrap", "--hamming-weight", "0"], &["Hamming weight 0"]),
    (&["ckks", "bootstrap", "--trials", "0"], &["--trials must be at least 1"]),
    (&["ckks", "bootstrap", "--log-n", "10"], &["Hamming weight 192", "--allow-insecure"]),
    (&["ckks", "ops", "--limbs", "0"], &["--limbs", "at least 1"]),
    (&["ckks", "ops", "--limbs", "100000"], &["more than 256", "use fewer levels"]),
    (&["ckks", "ops", "--limbs", "100000", "--allow-insecure"], &["more than 256"]),
    (&["ckks", "ops", "--limbs", "200"], &["128-bit bound", "--allow-insecure"]),
    (&["ckks", "ops", "--reps", "0"], &["--reps", "at least 1"]),
    (&["ckks", "ops", "--rotate-step", "0"], &["--rotate-step 0"]),
    (&["ckks", "ops", "--rotation-keys", "1,x"], &["'x'", "--rotation-keys"]),
    (&["ckks", "ops", "--rotate-step", "5", "--rotation-keys", "1"], &["--rotate-step 5", "--rotation-keys"]),
    // ---- verilog
    (&["verilog", "butterfly", "--width", "16", "--out", "v"], &["unsupported width 16", "--width 32"]),
    (&["verilog", "butterfly", "--width", "32", "--variant", "nope", "--out", "v"], &["nope"]),
    (&["verilog", "butterfly", "--width", "32", "--vectors", "0", "--out", "v"], &["vector count 0", "1 ..= 2000000"]),
    (&["verilog", "butterfly", "--width", "32", "--out", "afile"], &["afile"]),
    (&["verilog", "ntt", "--log-n", "30", "--out", "v"], &["2^30", "--log-n 4 ..= 10"]),
    (&["verilog", "ntt", "--modulus-bits", "40", "--out", "v"], &["--modulus-bits = 40", "..= 31"]),
    (&["verilog", "ntt", "--transforms", "0", "--out", "v"], &["--transforms = 0", "1 ..= 1000"]),
    (&["verilog", "ntt-unit", "--lanes", "3", "--out", "v"], &["P = 3", "power of two"]),
    (&["verilog", "ntt-unit", "--log-n", "4", "--lanes", "64", "--out", "v"], &["N must be at least 4P"]),
    (&["verilog", "ntt-unit", "--width", "64", "--modulus-bits", "63", "--out", "v"], &["--modulus-bits = 63", "..= 62"]),
    (&["verilog", "automorphism", "--lanes", "1", "--out", "v"], &["P = 1", "2 ..= 64"]),
    (&["verilog", "automorphism", "--cases", "0", "--out", "v"], &["--cases = 0", "1 ..= 1000"]),
    (&["verilog", "check", "nope"], &["nope/manifest.json", "hesim verilog butterfly --out"]),
    (&["verilog", "check", "afile"], &["afile/manifest.json"]),
    (&["verilog", "synth", "adir", "--family", "nope"], &["unsupported family `nope`", "xc7, xcup or ice40"]),
    (&["verilog", "synth", "nope"], &["nope/butterfly.v", "hesim verilog butterfly --out DIR"]),
    (&["verilog", "area-table", "--regenerate", "adir"], &["cannot write the area table", "adir", "is a directory"]),
    (&["verilog", "unit-table", "--regenerate", "afile/unit.json"], &["cannot write the unit table", "afile", "is a file"]),
    // ---- demo, validate, top level
    (&["demo", "--out", "afile"], &["afile"]),
    (&["demo", "--out", "afile/x"], &["afile/x"]),
    (&["validate", "--out", "afile"], &["afile"]),
    (&["validate", "--traces", "afile"], &["afile"]),
    (&["nope"], &["unrecognized subcommand 'nope'"]),
    (&["sim", "--trace", SMALL, "--bogus-flag"], &["unexpected argument '--bogus-flag'"]),
];

/// The files every case runs beside.
fn scratch(dir: &Path) {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("empty", "");
    write("empty.toml", "");
    write("afile", "hello\n");
    std::fs::write(dir.join("bin"), (0..=255u8).collect::<Vec<_>>()).unwrap();
    std::fs::create_dir(dir.join("adir")).unwrap();
    std::fs::create_dir_all(dir.join("manifest-dir/manifest.json")).unwrap();
    std::fs::create_dir(dir.join("data")).unwrap();
    write(
        "headerless.jsonl",
        "{\"id\":0,\"op\":\"input\",\"args\":[],\"level\":1,\"layer\":\"x\"}\n",
    );
    write(
        "net-unknown-layer.toml",
        "input = [1, 28, 28]\n[[layers]]\ntype = \"nope\"\n",
    );
    write(
        "net-zero-channels.toml",
        "input = [0, 28, 28]\n[[layers]]\ntype = \"flatten\"\n",
    );
    write(
        "net-nan-eps.toml",
        "input = [1, 8, 8]\n[[layers]]\ntype = \"conv\"\nout = 2\nkernel = 3\n\
         [[layers]]\ntype = \"batchnorm\"\neps = nan\n",
    );
    write(
        "net-inf-coefficient.toml",
        "input = [1, 8, 8]\n[[layers]]\ntype = \"poly\"\ncoefficients = [0.0, inf]\n",
    );
    write("arch-bad-toml.toml", "preset = \"default\"\nclock_ghz = \n");
    write("arch-unknown-preset.toml", "preset = \"nope\"\n");
    write("arch-unknown-key.toml", "preset = \"default\"\nfoo = 1\n");
    write(
        "arch-wrong-type.toml",
        "preset = \"default\"\nclock_ghz = \"fast\"\n",
    );
    let workload = "[[workload]]\nnet = \"lenet\"\npacking = [\"dense\"]\n";
    let axis = |key: &str, body: &str| format!("[[axis]]\nkey = \"{key}\"\n{body}\n");
    let sweep = |name: &str, body: &str| write(name, &format!("base = \"default\"\n{body}"));
    sweep("sweep-no-workload.toml", &axis("ntt.lanes", "values = [1]"));
    sweep(
        "sweep-unknown-field.toml",
        &format!("unknown_field = 3\n{workload}"),
    );
    sweep(
        "sweep-unknown-key.toml",
        &format!("{}{workload}", axis("nope", "values = [1]")),
    );
    write(
        "sweep-unknown-base.toml",
        &format!("base = \"nope\"\n{workload}"),
    );
    for (name, key, body) in [
        ("sweep-empty-axis.toml", "ntt.lanes", "values = []"),
        ("sweep-duplicate-value.toml", "ntt.lanes", "values = [1, 1]"),
        (
            "sweep-backward-range.toml",
            "ntt.lanes",
            "range = { start = 10, stop = 1, step = 1 }",
        ),
        (
            "sweep-zero-step.toml",
            "ntt.lanes",
            "range = { start = 1, stop = 10, step = 0 }",
        ),
        (
            "sweep-nan-step.toml",
            "clock_ghz",
            "range = { start = 1, stop = 10, step = nan }",
        ),
        (
            "sweep-factor-one.toml",
            "ntt.lanes",
            "range = { start = 1, stop = 10, factor = 1 }",
        ),
        (
            "sweep-step-and-factor.toml",
            "ntt.lanes",
            "range = { start = 1, stop = 10, step = 1, factor = 2 }",
        ),
        (
            "sweep-huge-range.toml",
            "ntt.lanes",
            "range = { start = 1, stop = 1000000000000, step = 1 }",
        ),
        ("sweep-nan-value.toml", "clock_ghz", "values = [1.0, nan]"),
        ("sweep-array-value.toml", "ntt.lanes", "values = [[1], [2]]"),
        ("sweep-zero-lanes.toml", "ntt.lanes", "values = [0]"),
    ] {
        sweep(name, &format!("{}{workload}", axis(key, body)));
    }
    sweep(
        "sweep-duplicate-axis.toml",
        &format!(
            "{}{}{workload}",
            axis("ntt.lanes", "values = [1]"),
            axis("ntt.lanes", "values = [2]")
        ),
    );
    sweep(
        "sweep-empty-packing.toml",
        "[[workload]]\nnet = \"lenet\"\npacking = []\n",
    );
    sweep(
        "sweep-bad-sparsity.toml",
        "[[workload]]\nnet = \"lenet\"\npacking = [\"spencnn\"]\nsparsity = 2\n",
    );
    sweep(
        "sweep-trace-and-net.toml",
        "[[workload]]\nnet = \"lenet\"\ntrace = \"x.jsonl\"\npacking = [\"dense\"]\n",
    );
    sweep(
        "sweep-missing-trace.toml",
        "[[workload]]\ntrace = \"nope.jsonl\"\n",
    );
    sweep(
        "sweep-unknown-net.toml",
        "[[workload]]\nnet = \"nope\"\npacking = [\"dense\"]\n",
    );
}

/// Every path below `dir` with its size (0 for folders), to compare before and after a case.
fn listing(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut all = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            let size = if meta.is_dir() { 0 } else { meta.len() };
            all.insert(path.strip_prefix(dir).unwrap().to_owned(), size);
        }
    }
    all
}

/// Exit code (None if it hung and was killed) and stderr of one case, run in `dir` under a
/// 4 GB address-space cap.
fn run(dir: &Path, args: &[String]) -> (Option<i32>, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("umask 022 && ulimit -v 4000000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_hesim"))
        .args(args)
        .current_dir(dir)
        .env("HESIM_DATA", dir.join("data"))
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (code, reader.join().unwrap())
}

/// Runs `cases` in a scratch folder of their own; returns each case's verdict and, for the
/// ones that fail, a description.
fn audit(cases: &[Case]) -> Vec<(&'static str, Option<String>)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    scratch(dir.path());
    let before = listing(dir.path());
    let mut verdicts = Vec::new();
    for (args, fragments) in cases {
        let args: Vec<String> = args.iter().map(|a| a.replace("{root}", root)).collect();
        let (code, stderr) = run(dir.path(), &args);
        let after = listing(dir.path());
        let verdict = if code.is_none() {
            "hang"
        } else if stderr.contains("panicked") {
            "panic"
        } else if code == Some(0) {
            "exit 0"
        } else if code != Some(2) {
            "abort or other exit"
        } else if after != before {
            "output left behind"
        } else if !(stderr.contains("error: ") || stderr.contains("Usage: hesim")) {
            "message without `error:`"
        } else if !fragments.iter().all(|f| stderr.contains(f)) {
            "message without what, where or how"
        } else {
            "exit 2, clear"
        };
        if verdict == "exit 2, clear" {
            verdicts.push((verdict, None));
            continue;
        }
        let stray: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
        verdicts.push((
            verdict,
            Some(format!(
                "{verdict}: hesim {}\n  exit {code:?}, wants {fragments:?}, new files {stray:?}\n  {}",
                args.join(" "),
                stderr.trim_end().replace('\n', "\n  ")
            )),
        ));
        // Start the next case from the same files.
        for p in stray {
            let path = dir.path().join(p);
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
    verdicts
}

#[test]
fn every_deliberate_mistake_exits_2_with_a_clear_message_and_writes_nothing() {
    // Two halves side by side (the commands are independent; each half has its own folder).
    let (first, second) = CASES.split_at(CASES.len() / 2);
    let verdicts: Vec<_> = std::thread::scope(|s| {
        let other = s.spawn(|| audit(second));
        let mut all = audit(first);
        all.extend(other.join().unwrap());
        all
    });
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for (verdict, _) in &verdicts {
        *tally.entry(verdict).or_default() += 1;
    }
    println!("{} cases: {tally:?}", CASES.len());
    assert!(CASES.len() >= 146, "{} cases", CASES.len());
    let failures: Vec<_> = verdicts.into_iter().filter_map(|(_, f)| f).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
