#!/usr/bin/env bash
# The third deployment on one machine, on loopback: a Mosquitto, an
# S3-compatible server (moto, from PyPI), a database on the local PostgreSQL,
# two workers that share no filesystem path with the orchestrators (each its
# own --cache-dir; blobs through S3), and two orchestrators on one journal —
# one drives the seed flow, the other stands by to take it over.
#
#   bash deploy/fleet/try-it.sh            # from the repository, after `cargo xtask build-plugins`
#
# Environment: TAYLORDASH (the binary; default target/debug/taylordash),
# PG_ADMIN (default postgres://postgres@127.0.0.1:5432/postgres),
# TD_VENV (moto's venv; default /tmp/td-venv, made by tests/toolset/moto_venv.sh).
# Prints `runs show` of the run from PostgreSQL; exits with the run's code.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=${TAYLORDASH:-$root/target/debug/taylordash}
pg_admin=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
[ -x "$bin" ] || { echo "try-it: no $bin (cargo build -p taylordash, or set TAYLORDASH)" >&2; exit 2; }
[ -f target/plugins/planner.wasm ] || { echo "try-it: no plugins in target/plugins (cargo xtask build-plugins)" >&2; exit 2; }
bash tests/toolset/moto_venv.sh
venv=${TD_VENV:-/tmp/td-venv}

state=$(mktemp -d "${TMPDIR:-/tmp}/td-fleet.XXXXXX")
chmod 755 "$state"
pids=()
db="td_fleet_$(date +%s)_$$"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "try-it: nothing listens on $1" >&2; return 1; }

# The broker.
mq_port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mq_port" > "$state/mosquitto.conf"
mosquitto -c "$state/mosquitto.conf" >"$state/mosquitto.log" 2>&1 & pids+=($!)
wait_port "$mq_port"
# The object store, with one bucket.
s3_port=$(free_port)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >"$state/moto.log" 2>&1 & pids+=($!)
wait_port "$s3_port"
"$venv/bin/python" -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$s3_port', aws_access_key_id='x', aws_secret_access_key='x', region_name='us-east-1').create_bucket(Bucket='td-fleet')"
# The journal.
psql -q "$pg_admin" -c "CREATE DATABASE $db"

# What every process shares (fleet.env.example, with loopback values).
export TAYLORDASH_JOURNAL="${pg_admin%/*}/$db"
export TAYLORDASH_LEASE_TTL=5s
export TAYLORDASH_BUS_KEY_FILE="$state/bus.key"
export AWS_ENDPOINT_URL="http://127.0.0.1:$s3_port" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=taylordash AWS_SECRET_ACCESS_KEY=secret
export TAYLORDASH_PLUGINS_DIR="$root/target/plugins"
export TAYLORDASH_POLICY="$state/policy.yaml"
unset TAYLORDASH_BROKER TAYLORDASH_RUNS_DIR OTEL_EXPORTER_OTLP_ENDPOINT
broker="mqtt://127.0.0.1:$mq_port"
python3 -c 'import secrets; print(secrets.token_hex(32))' > "$state/bus.key"
chmod 600 "$state/bus.key"
printf 'principals: { %s: admin }\nplugins:\n  bash_runner:\n    grants:\n      exec: { programs: [python3] }\n' "$(id -un)" > "$state/policy.yaml"

# Two workers, each with only its own cache directory.
for w in 1 2; do
  mkdir -p "$state/worker$w"
  (cd "$state/worker$w" && TAYLORDASH_RUNS_DIR="$state/worker$w/runs" exec "$bin" worker --broker "$broker" \
      --cache-dir "$state/worker$w/cache" --cache-size 1GiB --artifacts s3://td-fleet/blobs) >"$state/worker$w.log" 2>&1 &
  pids+=($!)
done
for w in 1 2; do
  for _ in $(seq 100); do grep -q ready "$state/worker$w.log" && break; sleep 0.1; done
done

# The seed flow's inputs, in the first orchestrator's workspace.
ws="$state/orchestrator-a/workspace"
mkdir -p "$ws"
cp pipelines/examples/{backlog.yaml,failures.json,snapshot.json} "$ws/"
echo '{"commands": [{"program": "python3", "args": ["-c", "print(\"1 passed\")"]}]}' > "$ws/bash_runner.json"

# Orchestrator A drives the run; B stands by on the same journal.
export TAYLORDASH_RUNS_DIR="$state/orchestrator-a/runs"
"$bin" run pipelines/orchestration_flow.yaml --workspace "$ws" --broker "$broker" --workers 0 \
    --artifacts s3://td-fleet/blobs >"$state/a.out" 2>"$state/a.err" & a=$!
pids+=($a)
run_id=""
for _ in $(seq 300); do run_id=$(head -1 "$state/a.out" 2>/dev/null || true); [ -n "$run_id" ] && break; sleep 0.05; done
[ -n "$run_id" ] || { cat "$state/a.err" >&2; exit 1; }
echo "try-it: orchestrator A drives $run_id"
TAYLORDASH_RUNS_DIR="$state/orchestrator-a/runs" "$bin" resume "$run_id" --standby --broker "$broker" --workers 0 \
    --artifacts s3://td-fleet/blobs >"$state/b.out" 2>"$state/b.err" & pids+=($!)
b=$!
set +e
wait "$a"; code=$?
wait "$b"; standby=$?
set -e
echo "try-it: orchestrator A exited $code; the standby exited $standby: $(tail -1 "$state/b.err")"
"$bin" runs list
"$bin" runs show "$run_id"
exit "$code"
