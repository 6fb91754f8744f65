#!/usr/bin/env bash
# Runs every fuzz target, one at a time, for RUNS executions each (default 10^7, issue #17's
# bar), and appends one summary line per target to LOG. Resumable: a target that already
# finished on the same code (the last commit touching what that target executes) is skipped,
# so the script can be restarted after an interruption or a fix.
#
#   fuzz/run_all.sh                       # every target, fastest first
#   fuzz/run_all.sh trace_sim mnist       # only these, in this order
#   RUNS=100000 LOG=/tmp/probe.log fuzz/run_all.sh   # a short probe (exec/s of each target)
#   WORKERS=2 fuzz/run_all.sh network_structured      # RUNS split over 2 processes (2 cores)
#
# Without a sanitizer (`-s none`): every crate of the workspace denies `unsafe_code`, so
# AddressSanitizer has nothing of ours to check, and libFuzzer's malloc limit needs the
# sanitizer's malloc hooks. Memory is bounded instead by `ulimit -v` (4 GB address space: an
# allocation beyond it fails and aborts, which libFuzzer reports as a crash) and
# `-rss_limit_mb`. Overflow checks and debug assertions stay on (cargo fuzz's default build).
# Run it in the background at the lowest priority, e.g.
#   nohup nice -n 19 fuzz/run_all.sh > /tmp/fuzz.out 2>&1 &
set -u
cd "$(dirname "$0")"

RUNS=${RUNS:-10000000}
LOG=${LOG:-runs.log}
MEMORY_KB=${MEMORY_KB:-4000000}
# Wall-clock seconds one input may take before libFuzzer calls it a hang (generous: the
# fuzzer runs at nice 19 beside builds, and the slowest honest input takes well under 1 s).
TIMEOUT=${TIMEOUT:-300}
# Largest input (bytes): libFuzzer's own default when no seed is larger. Without it the
# largest seed sets the limit and inputs of 64 KB of sweep axes cost 100 times more per run
# while reaching nothing a 4 KB one cannot (ranges reach every cap in a few bytes).
MAX_LEN=${MAX_LEN:-4096}
# Processes per target, each running RUNS / WORKERS inputs on the shared corpus folder
# (libFuzzer reloads the folder, so each sees what the others found); the summary line sums
# their executions. One per free core; the default leaves a core for everything else.
WORKERS=${WORKERS:-1}
if [ $((RUNS % WORKERS)) != 0 ]; then
    echo "RUNS=$RUNS is not a multiple of WORKERS=$WORKERS" >&2
    exit 2
fi
# Fastest first, so the most targets finish early.
ALL="mnist sweep_spec sweep_structured safetensors bootstrap_params trace_validate network_toml
network_structured onnx onnx_structured trace_structured trace_sim arch_toml arch_structured"
TARGETS=${*:-$ALL}

# The code a target's run exercises: the library crates it calls into and the fuzz crate
# itself. Keyed per target, so a change to the network compiler (sw) does not invalidate the
# runs of the trace, architecture and sweep targets, which never call it.
# Tests, benches and documentation inside those crates are not executed, so they do not count.
NOT_EXECUTED=":(top,exclude)*.md :(top,exclude)*/tests/* :(top,exclude)*/benches/*"
code_paths_of() {
    case $1 in
        mnist | safetensors | onnx | onnx_structured | network_toml | network_structured)
            echo "../traces ../sw src fuzz_targets/$1.rs Cargo.toml Cargo.lock $NOT_EXECUTED" ;;
        *) echo "../traces ../sim src fuzz_targets/$1.rs Cargo.toml Cargo.lock $NOT_EXECUTED" ;;
    esac
}
code_commit_of() {
    # shellcheck disable=SC2046 # word splitting of the paths is intended
    local commit
    commit=$(git log -1 --format=%h -- $(code_paths_of "$1"))
    # shellcheck disable=SC2046
    if ! git diff --quiet HEAD -- $(code_paths_of "$1"); then
        commit="$commit-dirty"
    fi
    echo "$commit"
}

# Seed folders and dictionary of each byte-level target (as in README.md).
seeds_of() {
    case $1 in
        trace_validate | trace_sim)
            echo "../traces/fixtures/valid ../traces/fixtures/invalid ../tests/fixtures/robustness" ;;
        arch_toml) echo "../sim/presets seeds/arch_toml" ;;
        network_toml) echo "seeds/network_toml ../tests/fixtures/robustness" ;;
        sweep_spec) echo "../sweeps ../tests/fixtures/robustness" ;;
        safetensors) echo "../tests/fixtures/robustness" ;;
        onnx) echo "../tests/fixtures/onnx" ;;
        *) echo "" ;;
    esac
}
dict_of() {
    case $1 in
        trace_validate | trace_sim) echo "-dict=dicts/trace.dict" ;;
        arch_toml) echo "-dict=dicts/arch.dict" ;;
        network_toml) echo "-dict=dicts/network.dict" ;;
        sweep_spec) echo "-dict=dicts/sweep.dict" ;;
        safetensors) echo "-dict=dicts/safetensors.dict" ;;
        onnx) echo "-dict=dicts/onnx.dict" ;;
        *) echo "" ;;
    esac
}

mkdir -p logs
# Built once here; the targets then run the binaries, so an edit made while the campaign
# runs cannot slip into a run labelled with an older commit.
cargo +nightly fuzz build -s none || exit 1
bin=target/x86_64-unknown-linux-gnu/release
for target in $TARGETS; do
    code_commit=$(code_commit_of "$target")
    # A finished run counts if it ran on any commit whose code for this target is identical.
    done_on=""
    for logged in $(grep "^$target [0-9a-f]* runs=$RUNS .* result=ok" "$LOG" 2>/dev/null | cut -d' ' -f2); do
        # shellcheck disable=SC2046
        if [ "${code_commit%-dirty}" = "$code_commit" ] &&
            git diff --quiet "$logged" HEAD -- $(code_paths_of "$target") 2>/dev/null; then
            done_on=$logged
            break
        fi
    done
    if [ -n "$done_on" ]; then
        echo "skip $target: done on $done_on (same code as $code_commit)"
        continue
    fi
    mkdir -p "corpus/$target" "artifacts/$target"
    out="logs/$target-$code_commit.log"
    echo "$(date -u +%FT%TZ) start $target on $code_commit ($WORKERS workers)" | tee -a "$out"
    pids=""
    for worker in $(seq 1 "$WORKERS"); do
        worker_out=$out
        if [ "$WORKERS" != 1 ]; then
            worker_out="logs/$target-$code_commit.w$worker.log"
            : >"$worker_out" # fresh, so the totals below are this run's
        fi
        # shellcheck disable=SC2046 # word splitting of the seed folders is intended
        (
            ulimit -v "$MEMORY_KB"
            "$bin/$target" "corpus/$target" $(seeds_of "$target") $(dict_of "$target") \
                -rss_limit_mb=4096 -timeout="$TIMEOUT" -max_len="$MAX_LEN" \
                -runs=$((RUNS / WORKERS)) -print_final_stats=1 \
                -artifact_prefix="artifacts/$target/"
        ) >>"$worker_out" 2>&1 &
        pids="$pids $!"
    done
    runs=0 rate=0 rss=0 result=ok
    worker=0
    for pid in $pids; do
        worker=$((worker + 1))
        wait "$pid"
        status=$?
        worker_out=$out
        [ "$WORKERS" = 1 ] || worker_out="logs/$target-$code_commit.w$worker.log"
        stat_of() { grep -o "stat::$1:[[:space:]]*[0-9]*" "$worker_out" | tail -1 | grep -o '[0-9]*$'; }
        worker_runs=$(stat_of number_of_executed_units || echo 0)
        runs=$((runs + worker_runs))
        rate=$((rate + $(stat_of average_exec_per_sec || echo 0)))
        worker_rss=$(stat_of peak_rss_mb || echo 0)
        [ "$worker_rss" -gt "$rss" ] && rss=$worker_rss
        # libFuzzer's run count includes the corpus replay, so a short probe can exceed -runs.
        if [ "$status" != 0 ] || ! grep -q "^Done $worker_runs runs" "$worker_out" ||
            [ "$worker_runs" -lt $((RUNS / WORKERS)) ]; then
            artifact=$(grep -o 'artifacts/[^ ]*' "$worker_out" | tail -1)
            result="FAIL(worker $worker exit $status ${artifact:-no artifact})"
        fi
    done
    echo "$target $code_commit runs=$RUNS executed=$runs exec_per_s=$rate peak_rss_mb=$rss workers=$WORKERS finished=$(date -u +%FT%TZ) result=$result" |
        tee -a "$LOG"
done
