#!/usr/bin/env bash
# Instructions per call of row A (`#[observe] fn add`, nested, input and output captured,
# through the real pipeline) and of the off paths E0–E3, counted by callgrind: unlike timings,
# the same build gives the same count on a busy or a quiet machine, so it compares two
# versions of the hot path exactly.
#
#   benches/instructions.sh              # row A (needs valgrind, on PATH on the project's machines)
#   benches/instructions.sh A E0 E1 E3   # several rows; E − E0 is the cost of `#[observe]` when off
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p langfuse-benches --bin instructions
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rows=("$@")
[ ${#rows[@]} -eq 0 ] && rows=(A)
for row in "${rows[@]}"; do
  valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
    --toggle-collect='*instructions::measured*' "${CARGO_TARGET_DIR:-target}/release/instructions" "$row" \
    > "$out/stdout" 2> "$out/log"
  total=$(grep -oE 'Collected : [0-9]+' "$out/log" | grep -oE '[0-9]+')
  calls=$(grep -oE '^calls: [0-9]+' "$out/stdout" | grep -oE '[0-9]+')
  echo "$row: $((total / calls)) instructions per call ($total over $calls calls, callgrind)"
done
