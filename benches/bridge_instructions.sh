#!/usr/bin/env bash
# Instructions per span of rows J1 (our `tracing` layer) and J2 (tracing-opentelemetry + the
# SDK's batch processor), counted by callgrind on the calling thread and on all threads. Each
# row runs for SMALL and LARGE spans (same warm-up); the difference over LARGE - SMALL spans
# leaves start-up and shutdown out. Like benches/instructions.sh, the same build gives the same
# count on a busy or a quiet machine.
#
#   benches/bridge_instructions.sh          # needs valgrind
#   SMALL=10000 LARGE=30000 benches/bridge_instructions.sh J1
set -euo pipefail
cd "$(dirname "$0")/.."
small=${SMALL:-10000}
large=${LARGE:-30000}
rows=("$@")
[ ${#rows[@]} -eq 0 ] && rows=(J1 J2)
exe=$(cargo bench -q -p langfuse-benches --bench bridge_instructions --no-run --message-format=json \
  | grep -oE '"executable":"[^"]*bridge_instructions[^"]*"' | tail -1 | cut -d'"' -f4)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Prints "<main thread> <all threads>" instructions for one run.
count() {
  local dir="$out/$1-$2"
  mkdir -p "$dir"
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/cg.out" \
    "$exe" "$1" "$2" > "$dir/stdout" 2> "$dir/log"
  local main all=0 n
  main=$(grep -hE '^(summary|totals):' "$dir"/cg.out-01 | head -1 | awk '{print $2}')
  for f in "$dir"/cg.out-*; do
    n=$(grep -hE '^(summary|totals):' "$f" | head -1 | awk '{print $2}')
    all=$((all + n))
  done
  echo "$main $all"
}
for row in "${rows[@]}"; do
  read -r m1 a1 < <(count "$row" "$small")
  read -r m2 a2 < <(count "$row" "$large")
  spans=$((large - small))
  echo "$row: $(((m2 - m1) / spans)) instructions per span on the calling thread," \
    "$(((a2 - a1) / spans)) on all threads (callgrind, $small vs $large spans)"
done
