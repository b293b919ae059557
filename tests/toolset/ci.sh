#!/usr/bin/env bash
# The toolset end to end, for CI:
#   1. build the components and the host, generate the example service from
#      pipelines/examples twice: the two workspaces must be byte-identical;
#   2. check it with real tools (check_artifacts.sh: pytest, a broken
#      endpoint caught, openapi-spec-validator, mkdocs --strict, PromQL,
#      PostgreSQL, Mosquitto, moto); then run the seed's combinations and check
#      what they made (combinations.sh: Keycloak JWTs, Traefik's schema, a TLS
#      Mosquitto, docker-compose, health scripts, the suite after the join), and
#      the quality gates L1-L5 (check_quality_gates.sh: pyflakes, the suite,
#      a load test against the SLO, bandit; a planted shell=True halts the run);
#   3. run the validation stage through the orchestrator (`taylordash run
#      tests/toolset/validation.yaml`) with a policy granting bash_runner the
#      virtualenv's interpreter: the suite passes, the three gates pass;
#   4. the same with the last run's bad event (pipelines/examples/events) in
#      the workspace: contract_compliance fails with its finding and the run
#      fails.
#
#   tests/toolset/ci.sh            (TD_VENV, TD_SKIP, PG* as check_artifacts.sh;
#                                   CARGO_TARGET_DIR as cargo)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
venv=${TD_VENV:-${TMPDIR:-/tmp}/td-venv}
host=${TD_HOST:-$CARGO_TARGET_DIR/debug/taylordash}
plugins=${TD_PLUGINS:-$root/target/plugins}
work=$(mktemp -d "${TMPDIR:-/tmp}/td-ci.XXXXXX")
trap 'rm -rf "$work"' EXIT

fresh() { mkdir -p "$1"; cp pipelines/examples/backlog.yaml pipelines/examples/failures.json pipelines/examples/snapshot.json "$1/"; }

echo "== 1. generate twice"
fresh "$work/a"; fresh "$work/b"
if [[ -z "${TD_HOST:-}" ]]; then tests/toolset/generate.sh "$work/a" --build; else tests/toolset/generate.sh "$work/a"; fi
tests/toolset/generate.sh "$work/b"
if diff -r "$work/a" "$work/b"; then
  echo "byte-identical: $(cd "$work/a" && find . -type f | wc -l) files"
else
  echo "FAIL: the same inputs gave different outputs" >&2; exit 1
fi

echo "== 2. real tools"
TD_VENV=$venv tests/toolset/check_artifacts.sh "$work/a"

echo "== 2b. the seed's combinations, one after another in one workspace, each artifact checked by its consumer"
TD_VENV=$venv TD_HOST=$host TD_PLUGINS=$plugins tests/toolset/combinations.sh

echo "== 2c. quality gates L1-L5 on a generated service, then on one with a planted problem"
TD_VENV=$venv TD_HOST=$host TD_PLUGINS=$plugins tests/toolset/check_quality_gates.sh

echo "== 3. the validation stage through the orchestrator, bash_runner granted exec"
cat > "$work/policy.yaml" <<EOF
principals: { toolset-ci: admin }
plugins:
  bash_runner:
    quotas: { timeout: 120s }
    grants:
      exec: { programs: [$venv/bin/python3], timeout: 110s }
    max_role_to_grant: maintainer
EOF
runner_config='{"commands": [{"program": "'"$venv"'/bin/python3", "args": ["-B", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"]}]}'
run() { "$host" --plugins-dir "$plugins" --policy "$work/policy.yaml" --as toolset-ci --runs-dir "$work/runs" \
          run tests/toolset/validation.yaml --workspace "$1"; }
echo "$runner_config" > "$work/a/bash_runner.json"
run "$work/a" 2>&1 | tee "$work/run-a.log" | grep -E '^\[|^  |^run ' || true
grep -q 'completed$' "$work/run-a.log" || { echo "FAIL: the validation stage did not complete" >&2; exit 1; }
python3 - "$work/a/reports/bash_runner.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["failed"] == 0 and r["passed"] > 0, r
print("bash_runner (exec granted): %d passed, %d failed" % (r["passed"], r["failed"]))
PY

echo "== 4. a bad event example fails contract_compliance"
fresh "$work/c"
cp -r "$work/a/." "$work/c/"
rm -rf "$work/c/reports"
cp -r pipelines/examples/events "$work/c/events"
if run "$work/c" > "$work/run-c.log" 2>&1; then
  echo "FAIL: the run passed with events/project_updated.json missing its trace_id" >&2; exit 1
fi
grep -q 'gate contract_compliance: FAILED' "$work/run-c.log" || { cat "$work/run-c.log"; exit 1; }
grep -o 'events/project_updated.json[^}]*trace_id[^}]*' "$work/run-c.log" | head -1 | sed 's/\\"/"/g; s/^/finding: /'
echo "== toolset CI passed"
