#!/usr/bin/env bash
# Check healthcheck_gen's output with its real consumers: docker-compose
# and the generated app served by uvicorn.
#
#   compose   `docker-compose config -q` accepts docker-compose.yml (the
#             `${VAR:?}` secrets set to dummy values for the check)
#   healthy   in `docker-compose config`'s resolved output every depends_on
#             condition is service_healthy and names a service with a healthcheck
#   secrets   without the secrets `docker-compose config` refuses the file, naming one
#   api-up    sh health_scripts/check_api.sh exits 0 against the app under uvicorn
#   api-down  ...and non-zero, with a one-line reason, once the app is stopped
#   pg-up     sh health_scripts/check_postgres.sh exits 0 against a PostgreSQL server
#             (PGHOST, PGPORT, PGUSER, PGDATABASE as check_artifacts.sh: 127.0.0.1, 5432, postgres, test)
#   mqtt-up   sh health_scripts/check_mqtt.sh exits 0 against a local mosquitto
#             (MQTT CONNECT/CONNACK), non-zero once it is stopped
#   scripts   every health script parses (`sh -n`); the others exit non-zero,
#             with one line, against a port nothing listens on
#
#   tests/toolset/check_healthcheck.sh WORKSPACE
#
# When WORKSPACE holds no docker-compose.yml, it is generated first: the
# example inputs (pipelines/examples) copied in if it has no backlog, then
# fastapi_gen, mqtt_client, tsdb_adapter, minio_client, otel_instrument,
# prom_rules, grafana_panels and healthcheck_gen invoked through the host CLI
# (`taylordash invoke --add-only`).
#
# Environment:
#   TD_VENV         virtualenv with fastapi/uvicorn (default ${TMPDIR:-/tmp}/td-venv;
#                   created by tests/toolset/check_artifacts.sh when missing)
#   TD_HOST         the taylordash binary (default: target/debug/taylordash)
#   TD_PLUGINS      the components (default: target/plugins)
#   DOCKER_COMPOSE  the compose command (default: docker-compose)
# Exit status: the number of failed checks (0: all passed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ws_arg=${1:?usage: check_healthcheck.sh WORKSPACE}
mkdir -p "$ws_arg"
ws=$(cd "$ws_arg" && pwd)
venv=${TD_VENV:-${TMPDIR:-/tmp}/td-venv}
host=${TD_HOST:-${CARGO_TARGET_DIR:-$root/target}/debug/taylordash}
plugins=${TD_PLUGINS:-$root/target/plugins}
compose_cmd=${DOCKER_COMPOSE:-docker-compose}

failures=0
pass() { printf 'PASS  %-9s %s\n' "$1" "$2"; }
fail() { printf 'FAIL  %-9s %s\n' "$1" "$2"; failures=$((failures + 1)); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/td-healthcheck.XXXXXX")
uvicorn_pid=
mosquitto_pid=
cleanup() {
  [[ -n "$mosquitto_pid" ]] && kill "$mosquitto_pid" 2>/dev/null
  if [[ -n "$uvicorn_pid" ]] && kill -0 "$uvicorn_pid" 2>/dev/null; then
    kill "$uvicorn_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$uvicorn_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# -- generate ------------------------------------------------------------------
if [[ ! -f "$ws/docker-compose.yml" ]]; then
  [[ -x "$host" ]] || { echo "check_healthcheck.sh: no host binary $host (cargo build -p taylordash)" >&2; exit 2; }
  tools=(fastapi_gen mqtt_client tsdb_adapter minio_client otel_instrument prom_rules grafana_panels healthcheck_gen)
  for t in "${tools[@]}"; do
    [[ -f "$plugins/$t.wasm" ]] || { echo "check_healthcheck.sh: no component $plugins/$t.wasm (cargo xtask build-plugins)" >&2; exit 2; }
  done
  if [[ ! -f "$ws/backlog.yaml" && ! -f "$ws/backlog.json" && ! -f "$ws/backlog.yml" ]]; then
    cp "$root/pipelines/examples/backlog.yaml" "$root/pipelines/examples/failures.json" "$root/pipelines/examples/snapshot.json" "$ws/"
  fi
  for t in "${tools[@]}"; do
    input='{"task":{"run_id":"check-healthcheck","task_id":"execution/infra_compose/'"$t"'#1","stage":"execution","agent":"infra_compose","tool":"'"$t"'","attempt":1}}'
    if ! "$host" invoke "$plugins/$t.wasm" --input "$input" --workspace "$ws" --add-only >"$tmp/$t.json" 2>"$tmp/$t.log"; then
      echo "check_healthcheck.sh: $t failed:" >&2; cat "$tmp/$t.log" >&2; exit 2
    fi
  done
  echo "generated $ws with ${tools[*]}"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("healthcheck_gen:", json.dumps({k: d[k] for k in ("docker_compose","health_scripts","services")}))' "$tmp/healthcheck_gen.json"
fi

# -- compose ---------------------------------------------------------------------
if ! command -v "$compose_cmd" >/dev/null 2>&1; then
  fail compose "no $compose_cmd (apt-get install docker-compose)"
else
  # Dummy values for every `${VAR:?...}` the file requires.
  mapfile -t required < <(grep -o '\${[A-Za-z_][A-Za-z0-9_]*:?' "$ws/docker-compose.yml" | sed 's/^\${//; s/:?$//' | sort -u)
  dummies=()
  for v in "${required[@]}"; do dummies+=("$v=dummy-$v"); done
  if out=$(cd "$ws" && env "${dummies[@]}" "$compose_cmd" -f docker-compose.yml config -q 2>&1); then
    pass compose "$compose_cmd $("$compose_cmd" version --short 2>/dev/null) config -q accepts docker-compose.yml (${#required[@]} required variables set to dummies: ${required[*]})"
  else
    fail compose "$compose_cmd config -q: $(echo "$out" | head -n 3 | tr '\n' ' ')"
  fi
  if (cd "$ws" && env "${dummies[@]}" "$compose_cmd" -f docker-compose.yml config >"$tmp/resolved.yml" 2>"$tmp/resolved.err"); then
    if out=$(python3 "$here/checks/healthcheck_compose.py" "$tmp/resolved.yml" 2>&1); then
      pass healthy "$out"
    else
      fail healthy "$out"
    fi
  else
    fail healthy "docker-compose config: $(head -n 3 "$tmp/resolved.err" | tr '\n' ' ')"
  fi
  # Without the secrets compose must refuse (the `${VAR:?}` references hold).
  if [[ ${#required[@]} -eq 0 ]]; then
    fail secrets "docker-compose.yml requires no variable: where do the secrets come from?"
  elif out=$(cd "$ws" && env $(printf -- '-u %s ' "${required[@]}") "$compose_cmd" -f docker-compose.yml config -q 2>&1); then
    fail secrets "docker-compose config accepted the file without ${required[*]}"
  else
    pass secrets "without ${required[*]} docker-compose config refuses: $(echo "$out" | head -n 1 | sed 's/ interpolating {.*} in / in /')"
  fi
fi

# -- the API health script against the app -----------------------------------
py=$venv/bin/python
if [[ ! -x "$py" ]] || ! "$py" -c 'import fastapi, uvicorn' 2>/dev/null; then
  echo "no virtualenv with fastapi/uvicorn at $venv: creating it with check_artifacts.sh" >&2
  TD_VENV=$venv TD_SKIP="pytest mutation openapi mkdocs promql postgres mqtt s3 fixture" \
    "$here/check_artifacts.sh" "$ws" >/dev/null 2>&1 || true
fi
if [[ ! -x "$py" ]] || ! "$py" -c 'import fastapi, uvicorn' 2>/dev/null; then
  fail api-up "no virtualenv with fastapi and uvicorn at $venv"
  fail api-down "(not run)"
else
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  # The app as compose runs it, minus the services (in-memory repository and publisher).
  (cd "$ws" && exec env -u DATABASE_URL -u MQTT_URL "$py" -m uvicorn app.main:app --host 127.0.0.1 --port "$port" --log-level warning) \
    >"$tmp/uvicorn.log" 2>&1 &
  uvicorn_pid=$!
  ready=
  for _ in $(seq 1 100); do
    if ! kill -0 "$uvicorn_pid" 2>/dev/null; then break; fi
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()' "$port" 2>/dev/null; then ready=1; break; fi
    sleep 0.1
  done
  if [[ -z "$ready" ]]; then
    fail api-up "uvicorn app.main:app did not start: $(tail -n 3 "$tmp/uvicorn.log" | tr '\n' ' ')"
    fail api-down "(not run)"
  else
    if out=$(cd "$ws" && API_URL="http://127.0.0.1:$port" sh health_scripts/check_api.sh 2>&1); then
      pass api-up "uvicorn app.main:app on :$port, sh health_scripts/check_api.sh exit 0: $out"
    else
      fail api-up "check_api.sh exit $? against the running app: $out"
    fi
    kill "$uvicorn_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$uvicorn_pid" 2>/dev/null || break; sleep 0.1; done
    wait "$uvicorn_pid" 2>/dev/null
    uvicorn_pid=
    start=$(date +%s)
    out=$(cd "$ws" && API_URL="http://127.0.0.1:$port" HEALTH_TIMEOUT=2 sh health_scripts/check_api.sh 2>&1)
    rc=$?
    took=$(( $(date +%s) - start ))
    lines=$(printf '%s\n' "$out" | wc -l)
    if [[ $rc -ne 0 && $lines -eq 1 && $took -le 4 ]]; then
      pass api-down "app stopped: check_api.sh exit $rc in ${took}s: $out"
    else
      fail api-down "app stopped: check_api.sh exit $rc, $lines line(s), ${took}s: $out"
    fi
  fi
fi

# -- the PostgreSQL and MQTT scripts against real servers --------------------
pghost=${PGHOST:-127.0.0.1}; pgport=${PGPORT:-5432}; pguser=${PGUSER:-postgres}; pgdb=${PGDATABASE:-test}
if ! command -v pg_isready >/dev/null 2>&1 || ! pg_isready -q -h "$pghost" -p "$pgport" -t 2 2>/dev/null; then
  fail pg-up "no PostgreSQL at $pghost:$pgport (PGHOST/PGPORT) to check check_postgres.sh against"
elif out=$(cd "$ws" && PGHOST=$pghost PGPORT=$pgport PGUSER=$pguser PGDATABASE=$pgdb sh health_scripts/check_postgres.sh 2>&1); then
  pass pg-up "PostgreSQL at $pghost:$pgport: check_postgres.sh exit 0: $out"
else
  fail pg-up "check_postgres.sh against $pghost:$pgport: $out"
fi
if ! command -v mosquitto >/dev/null 2>&1; then
  fail mqtt-up "mosquitto not found (apt-get install mosquitto)"
else
  mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mport" > "$tmp/mosquitto.conf"
  mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
  mosquitto_pid=$!
  for _ in $(seq 1 50); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()' "$mport" 2>/dev/null && break
    sleep 0.1
  done
  up=$(cd "$ws" && MQTT_URL="mqtt://127.0.0.1:$mport" sh health_scripts/check_mqtt.sh 2>&1); up_rc=$?
  kill "$mosquitto_pid" 2>/dev/null; wait "$mosquitto_pid" 2>/dev/null
  down=$(cd "$ws" && MQTT_URL="mqtt://127.0.0.1:$mport" HEALTH_TIMEOUT=2 sh health_scripts/check_mqtt.sh 2>&1); down_rc=$?
  if [[ $up_rc -eq 0 && $down_rc -ne 0 ]]; then
    pass mqtt-up "mosquitto on :$mport: check_mqtt.sh exit 0 ($up); stopped: exit $down_rc ($down)"
  else
    fail mqtt-up "mosquitto on :$mport: exit $up_rc ($up); stopped: exit $down_rc ($down)"
  fi
fi

# -- every script: parses, and reports a dead service in one line ------------
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
bad=()
n=0
for s in "$ws"/health_scripts/*.sh; do
  name=$(basename "$s")
  n=$((n + 1))
  sh -n "$s" 2>"$tmp/syntax" || { bad+=("$name: syntax: $(head -n 1 "$tmp/syntax")"); continue; }
  [[ $name == check_all.sh || $name == check_api.sh ]] && continue
  out=$(cd "$ws" && env -u MQTT_CA_FILE HEALTH_TIMEOUT=2 MQTT_URL="mqtt://127.0.0.1:$dead" PGHOST=127.0.0.1 PGPORT=$dead \
        MINIO_URL="http://127.0.0.1:$dead" PROMETHEUS_URL="http://127.0.0.1:$dead" GRAFANA_URL="http://127.0.0.1:$dead" sh "$s" 2>&1)
  rc=$?
  lines=$(printf '%s\n' "$out" | wc -l)
  if [[ $rc -eq 0 || $lines -ne 1 ]]; then bad+=("$name: exit $rc, $lines line(s) against dead port $dead: $out"); fi
done
if [[ ${#bad[@]} -eq 0 && $n -gt 0 ]]; then
  pass scripts "$n scripts parse (sh -n); each check exits non-zero with one line against dead port $dead"
else
  fail scripts "${bad[*]:-no scripts in $ws/health_scripts}"
fi

exit "$failures"
