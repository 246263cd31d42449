#!/usr/bin/env bash
# Instructions per call of row A (`#[observe] fn add`, nested, input and output captured,
# through the real pipeline) counted by callgrind: unlike timings, the same build gives the
# same count on a busy or a quiet machine, so it compares two versions of the hot path exactly.
#
#   benches/instructions.sh          # needs valgrind (on PATH on the project's machines)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p langfuse-benches --bin instructions
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
  --toggle-collect='*instructions::measured*' target/release/instructions \
  > "$out/stdout" 2> "$out/log"
total=$(grep -oE 'Collected : [0-9]+' "$out/log" | grep -oE '[0-9]+')
calls=$(grep -oE '^calls: [0-9]+' "$out/stdout" | grep -oE '[0-9]+')
echo "A: $((total / calls)) instructions per call ($total over $calls calls, callgrind)"
