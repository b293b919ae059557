#!/usr/bin/env bash
# The generated app against the generated Keycloak realm, for real: bearer
# JWTs the realm would issue are accepted by role, everything else refused.
#
#   tests/toolset/check_keycloak.sh WORKSPACE
#
# WORKSPACE holds the run's backlog (pipelines/examples will do, or a
# workspace tests/toolset/generate.sh filled); it is not modified. In a copy
# of it the script makes a fresh RSA key pair (outside the copy), writes the
# public key into keycloak.json, runs fastapi_gen, mqtt_client and
# otel_instrument (the modules app/main.py imports) and keycloak_admin through
# the host CLI, then tests/toolset/checks/keycloak_jwt.py starts the app under
# uvicorn configured from keycloak/realm-export.json and mints tokens with
# PyJWT: admin and maintainer may POST, viewer may GET but not POST (403);
# another issuer, another audience, another key, an expired token, HS256 with
# the public key and no token are 401. One evidence line per assertion.
#
# Environment:
#   TD_VENV     virtualenv to use (default: ${TMPDIR:-/tmp}/td-venv, as
#               check_artifacts.sh); fastapi, uvicorn, pyjwt and cryptography
#               are installed into it when missing
#   TD_HOST     the taylordash binary (default: target/debug/taylordash)
#   TD_PLUGINS  the components (default: target/plugins, `cargo xtask build-plugins`)
#   TD_KEYCLOAK_KEY, TD_KEYCLOAK_OUTPUT
#               check what a run already made instead (tests/toolset/combinations.sh):
#               WORKSPACE's keycloak/realm-export.json, made from a keycloak.json
#               holding this private key's public half, and keycloak_admin's JSON
#               output in that run; the app's tools are invoked only when WORKSPACE
#               has no app/main.py
# Exit status: 0 = passed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src=$(cd "${1:?usage: check_keycloak.sh WORKSPACE}" && pwd) || exit 2
venv=${TD_VENV:-${TMPDIR:-/tmp}/td-venv}
py=$venv/bin/python
host=${TD_HOST:-$root/target/debug/taylordash}
plugins=${TD_PLUGINS:-$root/target/plugins}
tools=(fastapi_gen mqtt_client otel_instrument keycloak_admin)

fail() { echo "FAIL  $*"; exit 1; }
[[ -x "$host" ]] || fail "no host binary $host (cargo build -p taylordash, or set TD_HOST)"
for t in "${tools[@]}"; do
  [[ -f "$plugins/$t.wasm" ]] || fail "no component $plugins/$t.wasm (cargo xtask build-plugins, or set TD_PLUGINS)"
done
[[ -f "$src/backlog.yaml" || -f "$src/backlog.yml" || -f "$src/backlog.json" ]] || fail "$src has no backlog.yaml/.yml/.json"

if [[ ! -x "$py" ]]; then
  echo "== creating $venv"
  python3 -m venv "$venv" || fail "cannot create $venv"
fi
if ! "$py" -c 'import fastapi, uvicorn, jwt, cryptography' 2>/dev/null; then
  echo "== installing fastapi uvicorn pyjwt cryptography into $venv"
  "$py" -m pip install -q --disable-pip-version-check fastapi uvicorn pyjwt cryptography || fail "pip install failed"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/td-keycloak.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ws=$tmp/ws
mkdir -p "$ws" "$tmp/keys"
cp -r "$src/." "$ws/"

if [[ -n "${TD_KEYCLOAK_KEY:-}" ]]; then
  [[ -f "$ws/keycloak/realm-export.json" ]] || fail "TD_KEYCLOAK_KEY is set but $src has no keycloak/realm-export.json"
  cp "$TD_KEYCLOAK_KEY" "$tmp/keys/private.pem"
  cp "${TD_KEYCLOAK_OUTPUT:?TD_KEYCLOAK_OUTPUT: keycloak_admin output of the run}" "$tmp/keycloak_admin.json"
  echo "ok  the run's realm export keycloak/realm-export.json and keycloak_admin's output in that run"
  if [[ -f "$ws/app/main.py" ]]; then tools=(); else tools=(fastapi_gen mqtt_client otel_instrument); fi
else
# The key pair Keycloak would import: the private key stays outside the workspace.
"$py" - "$tmp/keys" <<'PY' || fail "cannot make the RSA key pair"
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
open(f"{sys.argv[1]}/private.pem", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
open(f"{sys.argv[1]}/public.pem", "wb").write(key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
PY
"$py" - "$tmp/keys/public.pem" "$ws/keycloak.json" <<'PY' || fail "cannot write keycloak.json"
import json, sys
config = {"issuer_base": "http://127.0.0.1:8080", "public_key_pem": open(sys.argv[1]).read()}
open(sys.argv[2], "w").write(json.dumps(config, indent=2) + "\n")
PY
echo "ok  key pair: 2048-bit RSA, public key in keycloak.json, private key outside the workspace"
fi

for t in ${tools[@]+"${tools[@]}"}; do
  if ! "$host" --plugins-dir "$plugins" invoke "$t" --input '{}' --workspace "$ws" > "$tmp/$t.json" 2> "$tmp/$t.log"; then
    cat "$tmp/$t.log"; cat "$tmp/$t.json"
    fail "taylordash invoke $t"
  fi
  echo "ok  taylordash invoke $t: $("$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join(f"{k}: {v}" for k, v in d.items() if k in ("realm_export","issuer","audience","roles","clients","key_provider","package","token_env","module")) or "ok")' "$tmp/$t.json")"
done

cd "$ws" && "$py" -B "$here/checks/keycloak_jwt.py" "$tmp/keys/private.pem" "$tmp/keycloak_admin.json"
