#!/usr/bin/env bash
# hesim's one test command: installs what the tests need on a fresh Debian machine (yosys,
# iverilog, verilator via apt-get when missing), then runs formatting, lints, every test of the
# workspace (in release: the CKKS tests work at N = 2^14), and the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
# g++ and make: verilator --binary compiles the testbench (not dependencies of the verilator package).
for tool in yosys iverilog verilator g++ make; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (apt-get)"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test (release)"
cargo test --workspace --release --locked
echo "==> hesim demo (release)"
demo_out="$(mktemp -d)"
cargo run --release --locked -- demo --out "$demo_out"
rm -rf "$demo_out"
