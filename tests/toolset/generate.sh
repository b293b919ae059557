#!/usr/bin/env bash
# Run the toolset's components on a workspace, stage by stage, as the
# orchestration flow (pipelines/orchestration_flow.yaml) orders them: each
# tool through `taylordash invoke --add-only`, with the input keys the
# orchestrator adds (`task`, `previous`) so the tools see what a run gives them.
#
#   tests/toolset/generate.sh WORKSPACE [--build]
#
# WORKSPACE must hold the run's inputs (backlog.yaml, failures.json,
# snapshot.json; `pipelines/examples` has them). `--build` builds the
# components and the host first. Environment:
#   CARGO_TARGET_DIR  where cargo builds (default: target/)
#   TD_HOST           the taylordash binary (default: $CARGO_TARGET_DIR/debug/taylordash)
#   TD_PLUGINS        the components (default: target/plugins, what
#                     `cargo xtask build-plugins` and `cargo xtask test` build)
# bash_runner is not run here (`taylordash invoke` grants no exec); the
# gates are (their reports land in WORKSPACE/reports/); minio_uploader needs
# an http grant and a server: tests/toolset/check_minio_upload.sh runs it.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
ws=${1:?usage: generate.sh WORKSPACE [--build]}
target=${CARGO_TARGET_DIR:-$root/target}
plugins=${TD_PLUGINS:-$root/target/plugins}
host=${TD_HOST:-$target/debug/taylordash}

tools=(planner adr_writer
       fastapi_gen mqtt_client tsdb_adapter minio_client
       openapi_gen jsonschema_lint
       otel_instrument prom_rules grafana_panels
       pytest_asyncio
       contract_compliance security_check observability_check
       mkdocs_writer adr_manager)

if [[ "${2:-}" == "--build" ]]; then
  (cd "$root" && cargo xtask build-plugins && cargo build -p taylordash)
fi

for t in "${tools[@]}"; do
  [[ -f "$plugins/$t.wasm" ]] || { echo "generate.sh: no component $plugins/$t.wasm (run with --build)" >&2; exit 2; }
done
[[ -x "$host" ]] || { echo "generate.sh: no host binary $host (run with --build)" >&2; exit 2; }

previous='null'
invoke() { # invoke STAGE AGENT TOOL [extra-input-json] [bare]
  local stage=$1 agent=$2 tool=$3 extra=${4:-'{}'} bare=${5:-}
  local input
  if [[ -n "$bare" ]]; then
    # planner and jsonschema_lint deny unknown input keys: they get their own inputs only.
    input=$extra
  else
  input=$(python3 -c 'import json,sys
extra = json.loads(sys.argv[5])
task = {"run_id": "generate-sh", "task_id": f"{sys.argv[1]}/{sys.argv[2]}/{sys.argv[3]}#1", "stage": sys.argv[1],
        "agent": sys.argv[2], "tool": sys.argv[3], "attempt": 1, "trace_id": "0" * 31 + "1", "span_id": "0" * 15 + "1"}
previous = json.loads(sys.argv[4])
print(json.dumps({**extra, "task": task, **({"previous": previous} if previous is not None else {})}))' \
    "$stage" "$agent" "$tool" "$previous" "$extra")
  fi
  echo "== $stage/$agent/$tool" >&2
  local out
  if ! out=$("$host" invoke "$plugins/$tool.wasm" --input "$input" --workspace "$ws" --add-only 2>"$ws/.generate-$tool.log"); then
    cat "$ws/.generate-$tool.log" >&2
    echo "$out"
    return 1
  fi
  previous=$out
  echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("   ", ", ".join(f"{k}: {len(v) if isinstance(v,(list,dict)) else v}" for k,v in d.items() if k != "model"))' >&2
}

gate() { # gate NAME: a gate's input as the orchestrator builds it; its report into reports/
  local name=$1
  echo "== validation/gate/$name" >&2
  local input='{"gate":"'"$name"'","stage":"validation","attempt":1,"files":[],"outputs":{},"task":{"run_id":"generate-sh"}}'
  local out
  out=$("$host" invoke "$plugins/$name.wasm" --input "$input" --workspace "$ws" --out "$ws/.gates" 2>"$ws/.generate-$name.log") || {
    cat "$ws/.generate-$name.log" >&2; return 1; }
  echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("    passed:", d["passed"], "findings:", len(d["findings"])); [print("     ", f["file"], f["location"], f["message"]) for f in d["findings"]]' >&2
  echo "$out" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["passed"] else 1)'
}

# planning
previous='null'; invoke planning project_manager planner '{"backlog":"backlog.yaml","failures":"failures.json","snapshot":"snapshot.json"}' bare >/dev/null
invoke planning project_manager adr_writer '{"backlog":"backlog.yaml","failures":"failures.json","snapshot":"snapshot.json"}' >/dev/null
# execution (three agents; run one after the other here, each from the backlog)
previous='null'
for t in fastapi_gen mqtt_client tsdb_adapter minio_client; do invoke execution backend_dev "$t" >/dev/null; done
previous='null'; invoke execution architecture_contracts openapi_gen >/dev/null
schemas=$(cd "$ws" && ls schemas/events/*.schema.json)
for s in $schemas; do
  stem=$(basename "$s" .schema.json)
  docs=$(cd "$ws" && python3 -c 'import json,glob,sys; print(json.dumps(sorted(glob.glob("schemas/events/examples/*.json"))))')
  invoke execution architecture_contracts jsonschema_lint '{"schema":"'"$s"'","documents":'"$docs"',"check_formats":true}' bare >/dev/null
  break  # its report file is fixed (jsonschema_lint.json): one schema per workspace
done
previous='null'
for t in otel_instrument prom_rules grafana_panels; do invoke execution observability "$t" >/dev/null; done
# validation (bash_runner needs an exec grant: see check_artifacts.sh and validation.yaml)
previous='null'; invoke validation qa_tests pytest_asyncio >/dev/null
status=0
for g in contract_compliance security_check observability_check; do gate "$g" || status=1; done
# documentation
previous='null'
for t in mkdocs_writer adr_manager; do invoke documentation scribe_docs "$t" >/dev/null; done
rm -f "$ws"/.generate-*.log
exit $status
