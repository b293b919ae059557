#!/usr/bin/env bash
# sdk/python/build.sh: the Python SDK's venv, native tests and example components.
#   sdk/python/build.sh            venv + pytest + build every examples/<tool>/<tool>.py
#   sdk/python/build.sh test       venv + pytest only
#   sdk/python/build.sh hello      venv + build examples/hello only
# Venv: target/py-sdk-venv (requirements-dev.txt + this package, editable).
# Components: target/py-plugins/<tool>.wasm (override with PY_PLUGINS_DIR).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/py-sdk-venv"
stamp="$venv/.requirements-stamp"
out="${PY_PLUGINS_DIR:-$root/target/py-plugins}"

command -v python3 >/dev/null || { echo "build.sh: python3 not found; install Python 3.10+" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ] || [ ! -e "$stamp" ] || [ "$here/requirements-dev.txt" -nt "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
  [ -x "$venv/bin/python" ] || { mkdir -p "$root/target"; python3 -m venv "$venv"; }
  echo "build.sh: pip install into target/py-sdk-venv: $(grep -v '^#' "$here/requirements-dev.txt" | tr '\n' ' ')+ taylordash-sdk (editable)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements-dev.txt" -e "$here"
  touch "$stamp"
fi

what="${1:-all}"
if [ "$what" = all ] || [ "$what" = test ]; then
  (cd "$here" && "$venv/bin/python" -m pytest -q)
fi
[ "$what" = test ] && exit 0

mkdir -p "$out"
for dir in "$here"/examples/*/; do
  tool="$(basename "$dir")"
  [ "$what" = all ] || [ "$what" = "$tool" ] || continue
  "$venv/bin/taylordash-sdk" build "$dir/$tool.py" -o "$out/$tool.wasm"
done
