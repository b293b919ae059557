#!/usr/bin/env bash
# Check a workspace the toolset generated (tests/toolset/generate.sh) with the
# tools real projects use, not string matching:
#
#   pytest       the generated suite passes against the generated app
#   mutation     ...and fails once one endpoint is broken (DELETE stops deleting)
#   openapi      openapi-spec-validator accepts openapi.yaml
#   mkdocs       `mkdocs build --strict` succeeds
#   promql       rules.yml and dashboard.json parse, every PromQL query parses
#   postgres     the migrations apply (twice) to a fresh database, and
#                app/repository_pg.py works against it (dropped afterwards)
#   mqtt         app/events.py publishes every example event to Mosquitto
#   s3           app/storage.py signs like botocore and round-trips on moto
#   fixture      tests/toolset/fixtures/example matches the generators' output
#                (when WORKSPACE was generated from pipelines/examples)
#
#   tests/toolset/check_artifacts.sh WORKSPACE
#
# Environment:
#   TD_VENV    virtualenv to create or reuse (default: ${TMPDIR:-/tmp}/td-venv)
#   TD_SKIP    checks to skip, space-separated (e.g. "postgres mqtt s3")
#   PGHOST, PGPORT, PGUSER, PGDATABASE   the PostgreSQL server and a database
#              to connect to for CREATE DATABASE (default 127.0.0.1, 5432,
#              postgres, test; trust or .pgpass authentication)
# Exit status: the number of failed checks (0: all passed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ws=$(cd "${1:?usage: check_artifacts.sh WORKSPACE}" && pwd)
venv=${TD_VENV:-${TMPDIR:-/tmp}/td-venv}
py=$venv/bin/python
skip=" ${TD_SKIP:-} "
pghost=${PGHOST:-127.0.0.1}
pgport=${PGPORT:-5432}
pguser=${PGUSER:-postgres}
pgdb=${PGDATABASE:-test}
pytest_args=(-B -m pytest -q -p no:cacheprovider -o asyncio_default_fixture_loop_scope=function)

failures=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/td-check.XXXXXX")
# Checks run in subshells: what to clean up is recorded in files.
cleanup() {
  local p d
  for p in $(cat "$tmp/pids" 2>/dev/null); do
    kill "$p" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  for d in $(cat "$tmp/dbs" 2>/dev/null); do
    psql -h "$pghost" -p "$pgport" -U "$pguser" -d "$pgdb" -qc "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 \
      || echo "warning: could not drop database $d" >&2
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
started() { echo "$1" >> "$tmp/pids"; }

pass() { printf 'PASS  %-9s %s\n' "$1" "$2"; }
fail() { printf 'FAIL  %-9s %s\n' "$1" "$2"; failures=$((failures + 1)); }
skipping() { [[ "$skip" == *" $1 "* ]] && { printf 'SKIP  %-9s (TD_SKIP)\n' "$1"; return 0; }; return 1; }
# check NAME CMD...: run CMD in the workspace; its last output line is the evidence.
check() {
  local name=$1; shift
  skipping "$name" && return
  local out
  if out=$(cd "$ws" && "$@" 2>&1); then
    pass "$name" "$(printf '%s\n' "$out" | grep -v '^\s*$' | tail -1)"
  else
    fail "$name" "$(printf '%s\n' "$out" | grep -v '^\s*$' | tail -1)"
    printf '%s\n' "$out" | tail -25 | sed 's/^/          /'
  fi
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# --- the virtualenv ----------------------------------------------------------
packages=(fastapi httpx pytest pytest-asyncio jsonschema pyyaml mkdocs openapi-spec-validator
          promql-parser paho-mqtt asyncpg "moto[server]" opentelemetry-sdk uvicorn pyjwt cryptography)
if [[ ! -x "$py" ]]; then
  echo "== creating $venv"
  python3 -m venv "$venv" || { echo "cannot create $venv" >&2; exit 100; }
fi
if [[ "$(cat "$venv/.td-packages" 2>/dev/null)" != "${packages[*]}" ]]; then
  echo "== installing ${packages[*]}"
  "$py" -m pip install -q --disable-pip-version-check "${packages[@]}" || { echo "pip install failed" >&2; exit 100; }
  echo "${packages[*]}" > "$venv/.td-packages"
fi
echo "== checking $ws"

# --- the generated test suite, and a broken endpoint --------------------------
check pytest "$py" "${pytest_args[@]}"
mutation() {
  cp -r "$ws/." "$tmp/mutant" && cd "$tmp/mutant" && "$py" "$here/checks/break_endpoint.py" || return 1
  local out
  if out=$("$py" "${pytest_args[@]}" 2>&1); then
    echo "the suite still passes with a broken DELETE handler"; return 1
  fi
  printf '%s\n' "$out" | grep -q '^FAILED tests/test_api.py::test_delete_' || { printf '%s\n' "$out"; return 1; }
  echo "broken DELETE caught: $(printf '%s\n' "$out" | grep '^FAILED' | head -1) ($(printf '%s\n' "$out" | tail -1))"
}
mkdir -p "$tmp/mutant"
check mutation mutation

# --- contracts, docs, observability ------------------------------------------
check openapi "$py" "$here/checks/openapi_validate.py"
check mkdocs "$venv/bin/mkdocs" build --strict -f "$ws/mkdocs.yml" -d "$tmp/site"
check promql "$py" "$here/checks/observability_parse.py"

# --- PostgreSQL ---------------------------------------------------------------
postgres() {
  command -v psql >/dev/null || { echo "psql not found (TD_SKIP=postgres to skip)"; return 1; }
  local db="td_check_$$_$RANDOM"
  echo "$db" >> "$tmp/dbs"
  psql -h "$pghost" -p "$pgport" -U "$pguser" -d "$pgdb" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $db" || return 1
  local f
  for pass_no in 1 2; do
    for f in "$ws"/migrations/*.sql; do
      PGOPTIONS='--client-min-messages=warning' psql -h "$pghost" -p "$pgport" -U "$pguser" -d "$db" -v ON_ERROR_STOP=1 -q -f "$f" \
        || { echo "$f does not apply (pass $pass_no)"; return 1; }
    done
  done
  echo "migrations apply twice to $db"
  "$py" "$here/checks/pg_repository.py" "postgresql://$pguser@$pghost:$pgport/$db?sslmode=disable"
}
check postgres postgres

# --- Mosquitto ------------------------------------------------------------------
mqtt() {
  command -v mosquitto >/dev/null || { echo "mosquitto not found (TD_SKIP=mqtt to skip)"; return 1; }
  local port; port=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$tmp/mosquitto.conf"
  mosquitto -c "$tmp/mosquitto.conf" > "$tmp/mosquitto.log" 2>&1 &
  started $!
  wait_port "$port" || { cat "$tmp/mosquitto.log"; return 1; }
  "$py" "$here/checks/mqtt_publish.py" "$port"
}
check mqtt mqtt

# --- S3-compatible storage (moto) --------------------------------------------------
s3() {
  local port; port=$(free_port)
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$tmp/moto.log" 2>&1 &
  started $!
  wait_port "$port" || { cat "$tmp/moto.log"; return 1; }
  "$py" "$here/checks/s3_storage.py" "$port"
}
check s3 s3

# --- the unit tests' fixture is what the generators make ----------------------------
fixture() {
  local fx="$root/tests/toolset/fixtures/example" stale=0 f
  if ! cmp -s "$ws/backlog.yaml" "$root/pipelines/examples/backlog.yaml"; then
    echo "not generated from pipelines/examples: nothing to compare"; return 0
  fi
  while IFS= read -r f; do
    cmp -s "$fx/$f" "$ws/$f" || { echo "stale: tests/toolset/fixtures/example/$f differs from the generators' $f"; stale=1; }
  done < <(cd "$fx" && find . -type f | sed 's|^\./||' | sort)
  [[ $stale -eq 0 ]] && echo "tests/toolset/fixtures/example matches the generators' output ($(cd "$fx" && find . -type f | wc -l) files)"
  return $stale
}
check fixture fixture

echo "== $failures check(s) failed"
exit "$failures"
