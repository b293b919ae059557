#!/usr/bin/env bash
# The seed's multi-layer validation through the orchestrator, on real tools:
# `taylordash run pipelines/quality_gates.yaml` generates the example service
# (pipelines/examples) and gates it — L1 lint_check (pyflakes), L2
# contract_compliance, L3 bash_runner (the generated pytest suite), L4
# perf_check (a load test of the app), L5 security_check + security_scan
# (bandit) — with a policy granting the virtualenv's interpreter to the four
# exec tools.
#
#   1. a clean workspace: the run exits 0 and the journal holds every
#      layer's verdict passed (the L4 figures printed);
#   2. a workspace with a planted problem (app/debug.py: an unused import and
#      `subprocess.call(x, shell=True)`): L1 reports the unused import, L5
#      (security_scan) fails with bandit's B602, the run halts in
#      needs_review (exit 1).
#
#   tests/toolset/check_quality_gates.sh
#
# Environment:
#   TD_VENV     the toolset virtualenv (default ${TMPDIR:-/tmp}/td-venv, made by
#               check_artifacts.sh; created here if missing); pyflakes and bandit
#               are installed into it when missing
#   TD_HOST     the taylordash binary (default target/debug/taylordash)
#   TD_PLUGINS  the components (default target/plugins: `cargo xtask build-plugins`)
#   TD_KEEP=1   keep the temporary directory (printed) for inspection
# Every assertion prints one evidence line; exit 0 when all hold.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=${TD_VENV:-${TMPDIR:-/tmp}/td-venv}
py=$venv/bin/python3
host=${TD_HOST:-$root/target/debug/taylordash}
plugins=${TD_PLUGINS:-$root/target/plugins}
work=$(mktemp -d "${TMPDIR:-/tmp}/td-quality.XXXXXX")
if [[ "${TD_KEEP:-}" == 1 ]]; then echo "keeping $work"; else trap 'rm -rf "$work"' EXIT; fi

pass() { echo "PASS  $*"; }
die() { echo "FAIL  $*" >&2; exit 1; }

for t in fastapi_gen mqtt_client tsdb_adapter minio_client openapi_gen jsonschema_lint otel_instrument prom_rules \
         grafana_panels pytest_asyncio bash_runner lint_check contract_compliance perf_check security_check security_scan; do
  [[ -f "$plugins/$t.wasm" ]] || die "no component $plugins/$t.wasm (cargo xtask build-plugins)"
done
[[ -x "$host" ]] || die "no host binary $host (cargo build -p taylordash)"

# --- the virtualenv: the suite's packages, pyflakes, bandit ------------------
if [[ ! -x "$py" ]]; then
  echo "== creating $venv"
  python3 -m venv "$venv"
  "$py" -m pip install -q --disable-pip-version-check fastapi httpx pytest pytest-asyncio jsonschema pyyaml
fi
if ! "$py" -c 'import pyflakes, bandit, httpx, fastapi, pytest' 2>/dev/null; then
  echo "== installing pyflakes bandit into $venv"
  "$py" -m pip install -q --disable-pip-version-check pyflakes bandit httpx fastapi pytest pytest-asyncio
fi
pass "venv      $("$py" -m pyflakes --version | cut -d' ' -f1) pyflakes, bandit $("$py" -m bandit --version 2>/dev/null | head -1 | awk '{print $2}'), $("$py" --version) at $py"

# --- the policy: the interpreter granted to the four exec tools ---------------
{
  echo "principals: { quality-ci: admin }"
  echo "plugins:"
  for t in bash_runner lint_check perf_check security_scan; do
    cat <<EOF2
  $t:
    quotas: { timeout: 120s }
    grants:
      exec: { programs: [$py], timeout: 110s }
    max_role_to_grant: maintainer
EOF2
  done
} > "$work/policy.yaml"

# A workspace: the run's inputs and each exec tool's command naming the interpreter.
fresh() {
  local ws=$1
  mkdir -p "$ws"
  cp pipelines/examples/backlog.yaml pipelines/examples/failures.json pipelines/examples/snapshot.json "$ws/"
  echo '{"commands": [{"program": "'"$py"'", "args": ["-B", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"]}]}' > "$ws/bash_runner.json"
  echo '{"commands": [{"program": "'"$py"'", "args": ["-m", "pyflakes", "."]}]}' > "$ws/lint_check.json"
  echo '{"python": "'"$py"'", "requests": 200, "concurrency": 10}' > "$ws/perf_check.json"
  # No waivers: the generators mark their two reviewed bandit results in the code itself
  # (`# nosec B608` / `# nosec B314`, each with its reason); anything else at medium or above fails.
  echo '{"commands": [{"program": "'"$py"'", "args": ["-m", "bandit", "-f", "json", "-q", "-r", "app"]}], "min_severity": "medium"}' \
    > "$ws/security_scan.json"
}
run() { # run DIR: W=DIR/ws, runs in DIR/runs; prints the exit code
  local rc=0
  "$host" --plugins-dir "$plugins" --policy "$work/policy.yaml" --as quality-ci --runs-dir "$1/runs" \
    run pipelines/quality_gates.yaml --workspace "$1/ws" > "$1/run.log" 2>&1 || rc=$?
  echo "$rc"
}
# journal DIR: the evidence from the run's journal (W/../runs/<id>/journal.sqlite)
journal() {
  local id
  id=$(grep -o 'run-[0-9a-f]\{12\}' "$1/run.log" | head -1)
  [[ -n "$id" ]] || { cat "$1/run.log"; die "no run id in $1/run.log"; }
  "$py" - "$1/runs/$id/journal.sqlite" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
run = db.execute("select id, status, coalesce(error, '') from runs").fetchone()
print(json.dumps({
    "run": {"id": run[0], "status": run[1], "error": run[2][:400]},
    # the last attempt's verdict of each gate
    "gates": {g: {"passed": bool(p), "attempt": a, "report": json.loads(r)}
              for g, p, a, r in db.execute("select gate, passed, attempt, report from gates order by attempt")},
    "tasks": {t: {"status": s, "output": json.loads(o) if o else None}
              for t, s, o in db.execute("select tool, status, output from tasks where agent != 'gate'")},
}))
PY
}
field() { "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$@"; }

# --- 1. a clean workspace: every layer passes ---------------------------------
echo "== 1. the generated service through the five layers"
fresh "$work/good/ws"
rc=$(run "$work/good")
grep -E '^(run |\[|  gate )' "$work/good/run.log" | cut -c1-200 | sed 's/^/      /' || true
[[ "$rc" == 0 ]] || { cat "$work/good/run.log"; die "run exited $rc, expected 0"; }
journal "$work/good" > "$work/good.json"
pass "exit      $rc, run $(field "$work/good.json" 'd["run"]["id"]') $(field "$work/good.json" 'd["run"]["status"]')"
for g in lint_check contract_compliance perf_check security_check security_scan; do
  [[ $(field "$work/good.json" "d['gates']['$g']['passed']") == True ]] || { field "$work/good.json" "d['gates']['$g']"; die "$g did not pass"; }
done
pass "L1        lint_check passed: $(field "$work/good.json" 'd["gates"]["lint_check"]["report"]["summary"]') [$(field "$work/good.json" '", ".join(c["command"].split("/")[-1] for c in d["gates"]["lint_check"]["report"]["commands"])')]"
pass "L2        contract_compliance passed: $(field "$work/good.json" 'd["gates"]["contract_compliance"]["report"]["summary"]')"
[[ $(field "$work/good.json" 'd["tasks"]["bash_runner"]["status"]') == done ]] || die "bash_runner: $(field "$work/good.json" 'd["tasks"]["bash_runner"]')"
pass "L3        bash_runner (qa_tests): $(field "$work/good.json" '"%(passed)d passed, %(failed)d failed, %(errors)d errors, exit %(exit_code)d" % d["tasks"]["bash_runner"]["output"]')"
pass "L4        perf_check passed: $(field "$work/good.json" '"p50 %(p50_ms)s ms, p95 %(p95_ms)s ms, p99 %(p99_ms)s ms, max %(max_ms)s ms, %(requests)d requests, %(errors)d errors, concurrency %(concurrency)d, %(rps)s req/s" % d["gates"]["perf_check"]["report"]["load"]') vs target $(field "$work/good.json" 'd["gates"]["perf_check"]["report"]["target_p95_ms"]') ms ($(field "$work/good.json" 'd["gates"]["perf_check"]["report"]["targets"][0]["source"]'))"
pass "L5        security_check passed: $(field "$work/good.json" 'd["gates"]["security_check"]["report"]["summary"]')"
pass "L5        security_scan passed: $(field "$work/good.json" 'd["gates"]["security_scan"]["report"]["summary"]')"
[[ $(field "$work/good.json" 'len(d["gates"]["security_scan"]["report"].get("accepted", []))') == 0 ]] || die "security_scan accepted results without a waiver"
pass "L5        security_scan: no waiver; below the threshold: $(field "$work/good.json" '", ".join(sorted(set("%(test_id)s" % f for f in d["gates"]["security_scan"]["report"]["below_threshold"])))')"

# --- 2. a planted problem: L1 reports it, L5 halts the run for review ---------
echo "== 2. a planted problem: app/debug.py"
fresh "$work/bad/ws"
mkdir -p "$work/bad/ws/app"
printf 'import os\nimport subprocess\n\n\ndef run(x):\n    subprocess.call(x, shell=True)\n' > "$work/bad/ws/app/debug.py"
rc=$(run "$work/bad")
grep -E '^(run |\[|  gate )' "$work/bad/run.log" | cut -c1-200 | sed 's/^/      /' || true
[[ "$rc" == 1 ]] || { cat "$work/bad/run.log"; die "run exited $rc, expected 1 (needs_review)"; }
journal "$work/bad" > "$work/bad.json"
status=$(field "$work/bad.json" 'd["run"]["status"]')
[[ "$status" == needs_review ]] || die "run status $status, expected needs_review"
pass "exit      $rc, run $(field "$work/bad.json" 'd["run"]["id"]') $status: $(field "$work/bad.json" 'd["run"]["error"][:110]')…"
l1=$(field "$work/bad.json" '"; ".join("%(file)s:%(location)s %(message)s" % f for f in d["gates"]["lint_check"]["report"]["findings"])')
[[ $(field "$work/bad.json" 'd["gates"]["lint_check"]["passed"]') == False && "$l1" == *"app/debug.py:1:1 'os' imported but unused"* ]] \
  || die "L1 did not report the unused import: $l1"
pass "L1        lint_check FAILED: $l1"
l5=$(field "$work/bad.json" '"; ".join("%(file)s:%(location)s %(test_id)s %(severity)s %(message)s" % f for f in d["gates"]["security_scan"]["report"]["findings"])')
[[ $(field "$work/bad.json" 'd["gates"]["security_scan"]["passed"]') == False && "$l5" == *"app/debug.py:6:5 B602 high"* ]] \
  || die "L5 security_scan did not fail on shell=True: $l5"
pass "L5        security_scan FAILED: $l5"
pass "L5        security_check $(field "$work/bad.json" '"passed" if d["gates"]["security_check"]["passed"] else "FAILED"') (it has no rule for shell=True: bandit is what caught it)"
echo "== quality gates: all checks passed"
