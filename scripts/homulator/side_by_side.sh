#!/bin/bash
# Homulator (FHE-ACCELE/Homulator, a cycle-level SHARP-like simulator) and hesim side by side on
# one-op traces: HMult and HRotate of Homulator's parameter sets A (N = 2^15, 28 limbs, α = 28,
# dnum 1) and B (N = 2^16, 45 limbs, α = 15, dnum 3) at a few levels (active limbs). hesim runs
# the same op on sim/arch/homulator-sharp.toml, which mirrors Homulator's configuration.
# Homulator's code is not part of this repository: pass a checkout of it (built here with g++ if
# it has no binary yet). Each Homulator point takes minutes; points already in OUT are reused.
#
#   scripts/homulator/side_by_side.sh /path/to/Homulator [OUT_DIR] [POINTS...]
#   POINTS default: {A,B}:{hrotate,hmult}:{4,8} (the table in sim/README.md)
#
# Prints a Markdown table: total cycles and per-unit busy cycles (Homulator: mean over its 4
# clusters; hesim: the unit class's busy cycles), NTT / BConv / EWE (hesim mul + add) / HBM.
set -euo pipefail
homulator=$(cd "$1" && pwd)
out=${2:-homulator-runs}
shift $(( $# >= 2 ? 2 : 1 ))
points=${*:-A:hrotate:4 A:hmult:4 A:hrotate:8 A:hmult:8 B:hrotate:4 B:hmult:4 B:hrotate:8 B:hmult:8}
root=$(cd "$(dirname "$0")/../.." && pwd)
hesim=${HESIM:-$root/target/release/hesim}
arch=$root/sim/arch/homulator-sharp.toml
mkdir -p "$out"
if [ ! -x "$homulator/homulator.run" ]; then
  (cd "$homulator" && nice -n 10 g++ -std=c++17 -O2 -I include src/*.cpp bench_test/*.cpp \
    -o homulator.run)
fi
echo "| set | op | limbs | Homulator total | hesim total | NTT H / h | BConv H / h | EWE H / h | HBM H / h |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for point in $points; do
  IFS=: read -r set op level <<< "$point"
  case $set in
    A) log_n=15; max=28; alpha=28; cfg=config_4_N15.cfg ;;
    B) log_n=16; max=45; alpha=15; cfg=config_4.cfg ;;
    *) echo "unknown parameter set $set (A or B)" >&2; exit 2 ;;
  esac
  log=$out/${set}_${op}_${level}.log
  if ! grep -q 'Completed Simulate' "$log" 2>/dev/null; then
    (cd "$homulator" && nice -n 10 ./homulator.run "config/$cfg" "$op" "$max" "$level" "$alpha") \
      > "$log" 2>&1
  fi
  trace=$out/${set}_${op}_${level}.jsonl
  python3 - "$trace" "$log_n" "$max" "$alpha" "$op" "$level" <<'PY'
import json, sys
path, log_n, top, alpha, op, level = sys.argv[1], *map(int, sys.argv[2:4]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
header = {"format": "hesim-trace", "version": 1, "scheme": "ckks", "log_n": log_n,
          "slots": 2 ** (log_n - 1), "q_bits": [36] * top, "p_bits": [36] * alpha,
          "dnum": -(-top // alpha), "log_scale": 36, "network": op, "packing": "homulator",
          "generator": "scripts/homulator/side_by_side.sh"}
inp = lambda i: {"id": i, "op": "input", "args": [], "level": level, "layer": "input"}
if op == "hmult":
    ops = [inp(0), inp(1),
           {"id": 2, "op": "mul", "args": [0, 1], "level": level, "layer": op},
           {"id": 3, "op": "relin", "args": [2], "level": level, "layer": op},
           {"id": 4, "op": "rescale", "args": [3], "level": level - 1, "layer": op},
           {"id": 5, "op": "output", "args": [4], "level": level - 1, "layer": "output"}]
else:
    ops = [inp(0), {"id": 1, "op": "rotate", "args": [0], "level": level, "layer": op, "step": 1},
           {"id": 2, "op": "output", "args": [1], "level": level, "layer": "output"}]
with open(path, "w") as f:
    for line in [header, *ops, {"end": {"ops": len(ops)}}]:
        f.write(json.dumps(line) + "\n")
PY
  "$hesim" sim --arch "$arch" --trace "$trace" --json > "$out/${set}_${op}_${level}.hesim.json"
  python3 - "$log" "$out/${set}_${op}_${level}.hesim.json" "$set" "$op" "$level" <<'PY'
import json, re, sys
log, sim, s, op, level = sys.argv[1:]
text = open(log).read()
total = int(re.search(r"Total simulated\s+(\d+)", text).group(1))
def mean(unit):
    v = [int(x) for x in re.findall(rf"^{unit}_\(\d+\) :\s+(\d+)", text, re.M)]
    return sum(v) // max(len(v), 1)
r = json.load(open(sim))
busy = {u["unit"]: u["busy_cycles"] for u in r["units"]}
h = lambda *us: sum(busy.get(u, 0) for u in us)
print(f"| {s} | {op} | {level} | {total} | {r['cycles']} | {mean('NTT')} / {h('ntt')} | "
      f"{mean('BCONV')} / {h('bconv')} | {mean('EWE')} / {h('mul', 'add')} | "
      f"{mean('HBM')} / {h('hbm')} |")
PY
done
