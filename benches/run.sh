#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md (A–I and the allocation counts) and prints the tables.
#   benches/run.sh                 # the whole suite, about 5 minutes on 2 vCPUs
#   benches/run.sh --bench hot_path  # extra arguments go to `cargo bench`
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p langfuse-benches "$@"
cargo run --release --quiet -p langfuse-benches --bin bench-report | tee target/langfuse-bench/report.md
