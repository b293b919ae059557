#!/usr/bin/env bash
# The seed's Specialist Agent Combinations (pipelines/combination_*.yaml,
# verbatim) run by the taylordash binary on the embedded broker, one after
# another in ONE workspace, as a team would build one service — and every
# artifact checked by the software that would consume it:
#
#   1. architecture_contracts + security_rbac + scribe_docs (sequential_execution):
#      the hand-over (openapi.yaml, event_schemas, realm_export, conf_snippets)
#      exists before scribe_docs starts;
#        traefik    conf_snippets/traefik/dynamic.yml against Traefik's published
#                   JSON Schema, HSTS values (check_traefik.sh)
#        mosquitto  the real Mosquitto serves the generated TLS listener: a client
#                   with the CA publishes, plaintext and another CA are refused
#                   (check_mosquitto_tls.sh)
#        mkdocs     `mkdocs build --strict` of the docs scribe_docs wrote
#   2. backend_dev + observability + qa_tests (parallel_execution) on 1's
#      contracts (its shared_context): the suite (bash_runner, exec granted the
#      venv's python) passes, and it started only after the other agents built
#      (the journal's dataflow_wait event);
#        keycloak   the app built here accepts bearer JWTs of 1's realm by role and
#                   refuses other issuers, audiences and keys (check_keycloak.sh)
#   3. infra_compose + observability (sequential_handoff): its outputs
#      (docker-compose.yml, health_scripts, instrumentation, dashboards);
#        compose    `docker-compose config -q`, every depends_on service_healthy,
#                   the health scripts against the app under uvicorn (check_healthcheck.sh)
#   (4. context7_mcp + backend_dev runs in host/tests/context7.rs against the
#       Context7 stand-in.)
#
#   tests/toolset/combinations.sh     (TD_VENV, TD_HOST, TD_PLUGINS as ci.sh)
# Exit status: 0 when every run completed and every check passed.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=${TD_VENV:-${TMPDIR:-/tmp}/td-venv}
py=$venv/bin/python
host=${TD_HOST:-${CARGO_TARGET_DIR:-$root/target}/debug/taylordash}
plugins=${TD_PLUGINS:-$root/target/plugins}
export TD_VENV=$venv TD_HOST=$host TD_PLUGINS=$plugins
work=$(mktemp -d "${TMPDIR:-/tmp}/td-combinations.XXXXXX")
trap 'rm -rf "$work"' EXIT
ws=$work/ws
mkdir -p "$ws" "$work/keys"
[[ -x "$py" ]] || { echo "combinations.sh: no virtualenv $venv (tests/toolset/check_artifacts.sh makes it)" >&2; exit 2; }

cp pipelines/examples/backlog.yaml pipelines/examples/failures.json pipelines/examples/snapshot.json "$ws/"
echo '{"commands": [{"program": "'"$py"'", "args": ["-B", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"]}]}' \
  > "$ws/bash_runner.json"
# The realm's signing key: keycloak_admin puts the public half in the export,
# the keycloak check signs tokens with the private half.
"$py" - "$work/keys" "$ws/keycloak.json" <<'PY'
import json, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
open(f"{sys.argv[1]}/private.pem", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
json.dump({"issuer_base": "http://127.0.0.1:8080", "public_key_pem": public.decode()}, open(sys.argv[2], "w"), indent=2)
PY
cat > "$work/policy.yaml" <<EOF
principals: { combinations-ci: admin }
plugins:
  bash_runner:
    quotas: { timeout: 120s }
    grants:
      exec: { programs: [$py], timeout: 110s }
    max_role_to_grant: maintainer
EOF

failures=0
run() { # run COMBINATION: the run must complete
  local name=$1 log=$work/$1.log
  echo "== $name"
  if "$host" --plugins-dir "$plugins" --policy "$work/policy.yaml" --as combinations-ci --runs-dir "$work/runs" \
       run "pipelines/$name.yaml" --broker embedded --workspace "$ws" > "$log" 2>&1; then
    grep -E '^(run |summary)' "$log" | tail -1
  else
    cat "$log"; echo "FAIL  $name did not complete" >&2; exit 1
  fi
}
check() { # check NAME CMD...: one more real consumer
  local name=$1; shift
  if "$@" > "$work/check.log" 2>&1; then
    printf 'PASS  %-9s %s\n' "$name" "$(grep -v '^\s*$' "$work/check.log" | tail -1)"
  else
    printf 'FAIL  %-9s\n' "$name"; sed 's/^/          /' "$work/check.log" | tail -30
    failures=$((failures + 1))
  fi
}
# journal RUN_LOG SQL: one value from the journal of the run a log names.
journal() {
  local id
  id=$(grep -o 'run-[0-9a-f]\{12\}' "$1" | head -1)
  "$py" - "$work/runs/$id/journal.sqlite" "$2" <<'PY'
import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print(row[0])
PY
}

run combination_architecture_contracts_security_rbac_scribe_docs
check traefik tests/toolset/check_traefik.sh "$ws"
check mosquitto tests/toolset/check_mosquitto_tls.sh "$ws"
check mkdocs "$venv/bin/mkdocs" build --strict -f "$ws/mkdocs.yml" -d "$work/site"
journal "$work/combination_architecture_contracts_security_rbac_scribe_docs.log" \
  "select output from tasks where tool = 'keycloak_admin'" > "$work/keycloak_admin.json"

run combination_backend_dev_observability_qa_tests
waits=$(journal "$work/combination_backend_dev_observability_qa_tests.log" "select data from events where kind = 'dataflow_wait'")
suite=$("$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["passed"], r["failed"], r["errors"])' "$ws/reports/bash_runner.json")
if [[ "$waits" == *'"tool":"bash_runner"'* && "$suite" =~ ^[1-9][0-9]*\ 0\ 0$ ]]; then
  printf 'PASS  %-9s %s\n' "suite" "passed/failed/errors: $suite, after the join: $waits"
else
  printf 'FAIL  %-9s %s\n' "suite" "passed/failed/errors: $suite; dataflow_wait: ${waits:-none}"; failures=$((failures + 1))
fi
check keycloak env TD_KEYCLOAK_KEY="$work/keys/private.pem" TD_KEYCLOAK_OUTPUT="$work/keycloak_admin.json" \
  tests/toolset/check_keycloak.sh "$ws"

run combination_infra_compose_observability
check compose tests/toolset/check_healthcheck.sh "$ws"

[[ $failures -eq 0 ]] || { echo "combinations: $failures check(s) failed" >&2; exit 1; }
echo "== combinations: 3 runs completed, every check passed"
