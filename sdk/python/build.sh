#!/usr/bin/env bash
# sdk/python/build.sh: the Python SDK's venv, native tests and components.
#   sdk/python/build.sh            venv + pytest + every example + every test guest
#   sdk/python/build.sh test       venv + pytest only
#   sdk/python/build.sh examples   venv + every examples/<tool>/<tool>.py
#   sdk/python/build.sh guests     venv + every tests/guests/python/<name>.py
#   sdk/python/build.sh hello      venv + one example or test guest, by name
# Venv: target/py-sdk-venv (requirements-dev.txt + this package, editable).
# Components: examples into target/py-plugins/<tool>.wasm (PY_PLUGINS_DIR),
# test guests into target/test-plugins/<name>.wasm (PY_TEST_PLUGINS_DIR).
# A component newer than its sources (the module and the .py files beside it,
# requirements.txt), the SDK's sources and the venv is not built again
# (componentize-py takes ~15 s a component); FORCE=1 builds it anyway.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/py-sdk-venv"
stamp="$venv/.requirements-stamp"
out="${PY_PLUGINS_DIR:-$root/target/py-plugins}"
guests_src="$root/tests/guests/python"
guests_out="${PY_TEST_PLUGINS_DIR:-$root/target/test-plugins}"

command -v python3 >/dev/null || { echo "build.sh: python3 not found; install Python 3.10+" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ] || [ ! -e "$stamp" ] || [ "$here/requirements-dev.txt" -nt "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
  [ -x "$venv/bin/python" ] || { mkdir -p "$root/target"; python3 -m venv "$venv"; }
  echo "build.sh: pip install into target/py-sdk-venv: $(grep -v '^#' "$here/requirements-dev.txt" | tr '\n' ' ')+ taylordash-sdk (editable)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements-dev.txt" -e "$here"
  touch "$stamp"
fi

# build MODULE WASM SOURCE...: componentize MODULE into WASM unless WASM is
# newer than every SOURCE (files or directories, searched recursively), the
# SDK and the venv.
build() {
  local module="$1" wasm="$2"
  shift 2
  if [ "${FORCE:-0}" != 1 ] && [ -e "$wasm" ] &&
    [ -z "$(find "$@" "$here/src/taylordash_sdk" "$here/pyproject.toml" "$stamp" -newer "$wasm" \
      -not -name '*.pyc' -not -path '*/__pycache__*' -not -name 'test_*' -print -quit 2>/dev/null)" ]; then
    echo "build.sh: ${wasm#"$root"/} is up to date"
    return
  fi
  mkdir -p "$(dirname "$wasm")"
  "$venv/bin/taylordash-sdk" build "$module" -o "$wasm"
}

what="${1:-all}"
if [ "$what" = all ] || [ "$what" = test ]; then
  (cd "$here" && "$venv/bin/python" -m pytest -q)
fi
[ "$what" = test ] && exit 0

found=0
for dir in "$here"/examples/*/; do
  tool="$(basename "$dir")"
  [ "$what" = all ] || [ "$what" = examples ] || [ "$what" = "$tool" ] || continue
  found=1
  build "$dir/$tool.py" "$out/$tool.wasm" "$dir"
done
for module in "$guests_src"/*.py; do
  [ -e "$module" ] || continue
  name="$(basename "$module" .py)"
  [ "$what" = all ] || [ "$what" = guests ] || [ "$what" = "$name" ] || continue
  found=1
  deps=("$module")
  [ -e "$guests_src/requirements.txt" ] && deps+=("$guests_src/requirements.txt")
  build "$module" "$guests_out/$name.wasm" "${deps[@]}"
done
# componentize-py's pre-initialisation leaves CPython 3.14 bytecode beside the
# modules; examples/ ignores it (sdk/python/.gitignore), tests/guests/ has no such file.
rm -rf "$guests_src/__pycache__"
if [ "$found" = 0 ] && [ "$what" != all ] && [ "$what" != examples ] && [ "$what" != guests ]; then
  echo "build.sh: no example or test guest named \`$what\`" >&2
  exit 2
fi
