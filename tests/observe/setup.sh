#!/usr/bin/env bash
# tests/observe/setup.sh: installs what the observability tests need: the OTLP receiver's
# venv (target/observe-venv, PyPI opentelemetry-proto) and, for the browser check (browser.mjs),
# playwright-core, pinned in package-lock.json, into tests/observe/node_modules.
# playwright-core downloads no browser: browser.mjs drives the machine's Chromium ($CHROMIUM or /usr/bin/chromium).
# Idempotent and fast when done.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# ---- python: target/observe-venv <- requirements.txt (the OTLP receiver's protobuf types) ----
command -v python3 >/dev/null || { echo "tests/observe/setup.sh: python3 not found; install Python 3.11+" >&2; exit 1; }
venv="$root/target/observe-venv"
stamp="$venv/.requirements-stamp"
if [ ! -x "$venv/bin/python" ] || [ ! -e "$stamp" ] || [ "$here/requirements.txt" -nt "$stamp" ]; then
  [ -x "$venv/bin/python" ] || { mkdir -p "$root/target"; python3 -m venv "$venv"; }
  echo "tests/observe/setup.sh: pip install into target/observe-venv: $(grep -v '^#' "$here/requirements.txt" | tr '\n' ' ')"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  touch "$stamp"
fi

# ---- node: tests/observe/node_modules <- package-lock.json ----

command -v npm >/dev/null || { echo "tests/observe/setup.sh: npm not found; install Node 20+ with npm" >&2; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ] || [ "$here/package-lock.json" -nt "$here/node_modules" ]; then
  echo "tests/observe/setup.sh: npm ci in tests/observe: $(grep -o '"playwright-core": *"[^"]*"' "$here/package.json")"
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
  touch "$here/node_modules"
fi
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || echo "tests/observe/setup.sh: warning: no Chromium at $chromium (apt-get install chromium, or set CHROMIUM)" >&2
