#!/usr/bin/env bash
# Measures vanban against the tools offices use today (docxtpl + LibreOffice, the typst
# command line) on the same input, in one run, and prints one table. See bench/README.md.
# Installs what it needs from the package registries; run it as root on a Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
need_apt=()
command -v soffice >/dev/null || need_apt+=(libreoffice-writer-nogui)
command -v pdftotext >/dev/null || need_apt+=(poppler-utils)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
python3 -c "import docxtpl" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check docxtpl

# The typst command line at the version vanban embeds, built once into bench/.tools.
typst_version=$(grep -A1 '^name = "typst"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
export TYPST="$PWD/bench/.tools/bin/typst"
if ! "$TYPST" --version 2>/dev/null | grep -q "$typst_version"; then
  echo "building typst-cli $typst_version (about 10 minutes on 2 cores) ..."
  cargo install --quiet typst-cli --version "$typst_version" --locked --root bench/.tools
fi

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
RUNS=${RUNS:-7} python3 bench/compare.py "$work"
