#!/bin/sh
# The Python environment of the MCP tests: target/mcp-venv with the pinned
# packages of tests/mcp/requirements.txt. Idempotent and quick when done:
# the venv is created once, and pip runs only when requirements.txt is newer
# than the stamp it leaves.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/target/mcp-venv"
req="$root/tests/mcp/requirements.txt"
stamp="$venv/.requirements.stamp"
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$root/target"
    python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$req" -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    touch "$stamp"
fi
