#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md (A–I, the allocation counts and, where valgrind is
# installed, row A in instructions per call) and prints the tables.
#
#   benches/run.sh                    # the whole suite: about 3 minutes on 2 vCPUs (plus the build)
#   benches/run.sh --bench hot_path   # extra arguments go to `cargo bench`
#
# Timings on a 2-vCPU machine are only as good as the machine is quiet: the script waits (at
# most QUIET_WAIT seconds, default 120) for the 1-minute load average to drop below 0.5 and
# records the load before and after in target/langfuse-bench/machine.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/langfuse-bench
mkdir -p "$out"

cargo bench -p langfuse-benches --no-run "$@"

waited=0
while awk '{exit !($1 >= 0.5)}' /proc/loadavg && [ "$waited" -lt "${QUIET_WAIT:-120}" ]; do
  sleep 5
  waited=$((waited + 5))
done
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "rustc: $(rustc -V)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) x $(nproc)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (waited ${waited}s)"
} > "$out/machine.txt"

cargo bench -p langfuse-benches "$@"

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
cat "$out/machine.txt"
cargo run --release --quiet -p langfuse-benches --bin bench-report | tee "$out/report.md"
# Machine-independent: rows A, F, H_300B's call and the off paths in instructions per call
# (skipped where valgrind is missing).
if [ "$#" -eq 0 ] && command -v valgrind > /dev/null; then
  { echo; benches/instructions.sh A F H300 E0 E1 E2 E3; } | tee -a "$out/report.md"
fi
