#!/usr/bin/env bash
# Regenerate the golden outputs of the Rust adr_manager over every case:
#   cases/<case>/workspace/...    the input (the `seed` case's ADRs come from adr_writer)
#   cases/<case>/expected.json    what `taylordash invoke adr_manager` prints
#   cases/<case>/expected_index.md the docs/adr/index.md it writes
# The Python and JS ports must reproduce both byte for byte; host/tests/languages.rs
# checks that the Rust tool still does.
# Usage: TAYLORDASH=target/debug/taylordash bash tests/guests/adr_manager/make_cases.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
td="${TAYLORDASH:-$root/target/debug/taylordash}"
plugins="$root/target/plugins"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

# The seed case: planner + adr_writer over the example inputs.
seed="$here/cases/seed/workspace"
rm -rf "$here/cases/seed"; mkdir -p "$seed" "$tmp/seed"
cp "$root"/pipelines/examples/{backlog.yaml,failures.json,snapshot.json} "$tmp/seed/"
"$td" --plugins-dir "$plugins" invoke adr_writer --input '{"failures":"failures.json","snapshot":"snapshot.json"}' --workspace "$tmp/seed" --out "$tmp/seed" >/dev/null 2>&1
mkdir -p "$seed/docs"; cp -r "$tmp/seed/docs/adr" "$seed/docs/"

for case in "$here"/cases/*/; do
  out="$tmp/out-$(basename "$case")"; mkdir -p "$out"
  "$td" --plugins-dir "$plugins" invoke adr_manager --input '{}' --workspace "$case/workspace" --out "$out" > "$case/expected.json" 2>/dev/null
  cp "$out/docs/adr/index.md" "$case/expected_index.md"
  echo "$(basename "$case"): $(wc -c < "$case/expected.json") bytes of JSON, $(wc -l < "$case/expected_index.md") index lines"
done
