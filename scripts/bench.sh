#!/usr/bin/env bash
# Benchmarks: end-to-end throughput and AWS API calls through moto; `bulkops serve` on the
# embedded store and in AWS mode on moto (rows/s, CPU, memory); every function's cold start
# under a Runtime API stub; release binary sizes.
# Prints the Markdown tables of the README's performance section.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --workspace --bins --quiet
source scripts/moto.sh
target/release/bench
echo
target/release/bench_local
echo
target/release/bench_staged
echo
target/release/bench_startup
echo
echo "| function binary (release, stripped, $(uname -m)) | size |"
echo "|---|---|"
for bin in submit query cancel processor dead_letter splitter; do
  printf '| %s | %s KiB |\n' "$bin" "$(( $(stat -c %s "target/release/$bin") / 1024 ))"
done
