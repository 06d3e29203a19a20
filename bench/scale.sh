#!/usr/bin/env bash
# Province scale: synthetic periods with N communes (N = 50, 200, 500 by default), rendered
# PDF + DOCX by one `vanban render` process; prints wall time, per-document time and peak RSS
# so the growth of the cost is visible. Usage: bench/scale.sh [N ...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(50 200 500)
printf '%6s %8s %10s %12s %12s\n' N files "wall (s)" "per doc (ms)" "peak RSS (MiB)"
for n in "${sizes[@]}"; do
  python3 bench/gen_province.py "$n" "$work/p$n" >/dev/null
  best=""
  for run in 1 2 3; do
    rm -rf "$work/p$n/out"
    /usr/bin/time -f "%e %M" -o "$work/time" target/release/vanban render "$work/p$n/period.toml" \
      --format both --out "$work/p$n/out" >/dev/null
    read -r wall rss <"$work/time"
    if [ -z "$best" ] || awk "BEGIN{exit !($wall < ${best%% *})}"; then best="$wall $rss"; fi
  done
  read -r wall rss <<<"$best"
  files=$(find "$work/p$n/out" -type f | wc -l)
  docs=$((files / 2))
  awk -v n="$n" -v f="$files" -v w="$wall" -v d="$docs" -v r="$rss" \
    'BEGIN{printf "%6d %8d %10.2f %12.2f %12.0f\n", n, f, w, w*1000/d, r/1024}'
done
echo "(best of 3 runs each; per doc = wall / documents, each document written as PDF and DOCX)"
