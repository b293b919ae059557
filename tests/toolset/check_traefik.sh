#!/usr/bin/env bash
# Check the Traefik v3 dynamic configuration that traefik_hsts wrote into a
# workspace (conf_snippets/traefik/dynamic.yml):
#
#   tests/toolset/check_traefik.sh WORKSPACE
#
# checks/traefik_schema.py validates it against Traefik's published JSON
# Schema for the file provider (tests/toolset/schemas/, from SchemaStore),
# asserts the HSTS headers, TLS options and references the schema leaves
# open, and shows that broken copies (stsSeconds removed, below a year, a
# string, a misspelt key, minVersion TLS 1.0) are reported. One line per
# assertion. Environment:
#   TD_VENV   virtualenv with jsonschema and pyyaml (default: ${TMPDIR:-/tmp}/td-venv,
#             what tests/toolset/check_artifacts.sh creates; created here
#             with those two packages when missing)
# Exit status: 0 when every assertion passed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ws=$(cd "${1:?usage: check_traefik.sh WORKSPACE}" && pwd)
venv=${TD_VENV:-${TMPDIR:-/tmp}/td-venv}
py=$venv/bin/python
file=conf_snippets/traefik/dynamic.yml

if ! "$py" -c 'import jsonschema, yaml' 2>/dev/null; then
  echo "== installing jsonschema pyyaml into $venv" >&2
  [[ -x "$py" ]] || python3 -m venv "$venv" || { echo "FAIL  venv       cannot create $venv"; exit 100; }
  "$py" -m pip install -q --disable-pip-version-check jsonschema pyyaml >&2 \
    || { echo "FAIL  venv       pip install jsonschema pyyaml failed"; exit 100; }
fi
[[ -f "$ws/$file" ]] || { echo "FAIL  file       $ws/$file is missing (run the traefik_hsts tool)"; exit 1; }

"$py" "$here/checks/traefik_schema.py" "$ws"
