#!/usr/bin/env bash
# DOCX fill: vanban (warm and one-shot, benches/docx.rs) against docxtpl filling the same exported
# templates with the same contexts in one Python process (bench/docxtpl_fill.py).
# Needs: cargo, python3 with docxtpl and python-docx (pip install docxtpl python-docx).
# Usage: bench/docx-vs-docxtpl.sh [RUNS]   (default 100 for vanban, 30 for docxtpl)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-100}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
./target/release/vanban templates export "$work/templates" > /dev/null
./target/release/vanban render samples/dam-ha-2024-h1.toml --format docx --out "$work/out" \
  --dump-context "$work/contexts" > /dev/null

echo "== vanban"
VANBAN_BENCH_RUNS="$runs" cargo bench --quiet --bench docx
echo
echo "== docxtpl"
python3 bench/docxtpl_fill.py "$work/templates" "$work/contexts" "$work/out/2024-h1" \
  "$(( runs < 30 ? runs : 30 ))"
