#!/usr/bin/env bash
# tests/mcp/setup.sh: installs what the MCP test drivers (client.py, client.mjs) need.
# Idempotent and fast when done. Two blocks: python (target/mcp-venv), then node (tests/mcp/node).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/tests/mcp"

# ---- python: target/mcp-venv <- tests/mcp/requirements.txt ----
command -v python3 >/dev/null || { echo "tests/mcp/setup.sh: python3 not found; install Python 3.11+" >&2; exit 1; }
venv="$root/target/mcp-venv"
stamp="$venv/.requirements-stamp"
if [ ! -x "$venv/bin/python" ] || [ "$here/requirements.txt" -nt "$stamp" ] || [ ! -e "$stamp" ]; then
  [ -x "$venv/bin/python" ] || { mkdir -p "$root/target"; python3 -m venv "$venv"; }
  echo "tests/mcp/setup.sh: pip install into target/mcp-venv: $(tr '\n' ' ' < "$here/requirements.txt")"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  touch "$stamp"
fi

# ---- node: tests/mcp/node/node_modules <- tests/mcp/node/package-lock.json ----
command -v npm >/dev/null || { echo "tests/mcp/setup.sh: npm not found; install Node 20+ with npm" >&2; exit 1; }
node_dir="$here/node"
if [ ! -d "$node_dir/node_modules" ] || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules" ]; then
  echo "tests/mcp/setup.sh: npm ci in tests/mcp/node: $(grep -o '"@modelcontextprotocol/sdk": *"[^"]*"' "$node_dir/package.json")"
  npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error
  touch "$node_dir/node_modules"
fi
