#!/usr/bin/env bash
# tests/mcp/selftest.sh: runs both drivers (client.py, client.mjs) against fixture_server.py over
# stdio and streamable HTTP (bearer token) and checks every line they print. Exit 1 on a mismatch.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup.sh"
PY="$here/../../target/mcp-venv/bin/python"
tmp="$(mktemp -d)"
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

mkdir "$tmp/dir" && echo hi > "$tmp/dir/a.txt"
"$PY" "$here/fixture_server.py" http --token s3cret > "$tmp/url" 2> "$tmp/server.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
url="$(head -1 "$tmp/url")"
[ -n "$url" ] || { echo "selftest: fixture HTTP server did not start"; cat "$tmp/server.log"; exit 1; }

cat > "$tmp/steps.json" <<EOF
[{"op":"list_tools"},
 {"op":"call","tool":"ls","arguments":{"path":"$tmp/dir"}},
 {"op":"copy","from":"$tmp/dir/a.txt","to":"$tmp/dir/b.txt"},
 {"op":"call","tool":"ls","arguments":{"path":"$tmp/dir"}},
 {"op":"remove","path":"$tmp/dir/b.txt"},
 {"op":"sleep","ms":10},
 {"op":"call","tool":"slow","arguments":{"steps":3,"delay_ms":100},"progress":true},
 {"op":"call","tool":"stats"},
 {"op":"call","tool":"slow","arguments":{"steps":30,"delay_ms":100},"progress":true,"cancel_after_ms":500},
 {"op":"sleep","ms":300},
 {"op":"call","tool":"stats"},
 {"op":"call","tool":"toggle_extra"},
 {"op":"wait_list_changed","timeout_s":5},
 {"op":"list_tools"},
 {"op":"call","tool":"toggle_extra"},
 {"op":"wait_list_changed","timeout_s":5},
 {"op":"wait_list_changed","timeout_s":0.3},
 {"op":"call","tool":"nope"},
 {"op":"call","tool":"slow","arguments":{"steps":1,"delay_ms":3000},"timeout_s":0.5}]
EOF
echo '[{"op":"list_tools"},{"op":"call","tool":"crash"},{"op":"list_tools"}]' > "$tmp/crash.json"
echo '[{"op":"list_tools"}]' > "$tmp/list.json"

run() { # run NAME STEPS DRIVER-ARGS...: record the driver's lines and exit code
  local name="$1" steps="$2"; shift 2
  set +e
  timeout 120 "$@" < "$steps" > "$tmp/$name.out" 2> "$tmp/$name.err"
  echo $? > "$tmp/$name.rc"
  set -e
}
py=("$PY" "$here/client.py")
mjs=(node "$here/client.mjs")
fixture=("$PY" "$here/fixture_server.py" stdio)
run py-stdio        "$tmp/steps.json" "${py[@]}" stdio -- "${fixture[@]}"
run py-stdio-legacy "$tmp/steps.json" "${py[@]}" --mode legacy stdio -- "${fixture[@]}"
run py-http         "$tmp/steps.json" "${py[@]}" http "$url" --token s3cret
run py-http-legacy  "$tmp/steps.json" "${py[@]}" --mode legacy http "$url" --token s3cret
run ts-stdio        "$tmp/steps.json" "${mjs[@]}" stdio -- "${fixture[@]}"
run ts-http         "$tmp/steps.json" "${mjs[@]}" http "$url" --token s3cret
for d in py ts; do
  if [ $d = py ]; then drv=("${py[@]}"); else drv=("${mjs[@]}"); fi
  run $d-401       "$tmp/list.json"  "${drv[@]}" http "$url"
  run $d-403       "$tmp/list.json"  "${drv[@]}" http "$url" --token s3cret --header 'Origin: http://evil.example'
  run $d-crash     "$tmp/crash.json" "${drv[@]}" stdio -- "${fixture[@]}"
  run $d-boolschema "$tmp/list.json" "${drv[@]}" stdio -- "${fixture[@]}" --bool-schema
done

"$PY" - "$tmp" <<'EOF'
import json, sys
tmp = sys.argv[1]
passed, failed = 0, 0

def check(name, cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {what}")

def load(name):
    lines = [json.loads(l) for l in open(f"{tmp}/{name}.out")]
    return lines, int(open(f"{tmp}/{name}.rc").read())

for name, version in [("py-stdio", "2026-07-28"), ("py-stdio-legacy", "2025-11-25"), ("py-http", "2026-07-28"),
                      ("py-http-legacy", "2025-11-25"), ("ts-stdio", "2025-11-25"), ("ts-http", "2025-11-25")]:
    lines, rc = load(name)
    c = lambda cond, what: check(name, cond, what)
    c(rc == 0 and len(lines) == 20, f"exit 0 and 20 lines, got {rc} and {len(lines)}")
    if len(lines) != 20:
        print(open(f"{tmp}/{name}.out").read(), open(f"{tmp}/{name}.err").read())
        continue
    init, s = lines[0], lines[1:]
    c(init.get("protocolVersion") == version, f"protocolVersion {version}: {init}")
    c(init.get("serverInfo", {}).get("name") == "fixture", f"serverInfo: {init}")
    c(all(l.get("step") == i for i, l in enumerate(s)), "steps numbered in order")
    c(all("error" not in l for l in s[:17]), f"no errors in steps 0-16: {[l for l in s[:17] if 'error' in l]}")
    tools = {t["name"]: t for t in s[0].get("tools", [])}
    c(set(tools) == {"ls", "slow", "toggle_extra", "stats", "crash"}, f"tools: {sorted(tools)}")
    c(tools.get("ls", {}).get("outputSchema", {}).get("required") == ["files"], "ls has its output schema")
    c(s[1].get("structuredContent") == {"files": ["a.txt"]}, f"ls: {s[1]}")
    c(s[2] == {"step": 2, "op": "copy", "ok": True} and s[4].get("ok") and s[5].get("ok"), "file steps ok")
    c(s[3].get("structuredContent") == {"files": ["a.txt", "b.txt"]}, f"ls after copy: {s[3]}")
    c([p["progress"] for p in s[6].get("progress", [])] == [1, 2, 3], f"progress 1,2,3: {s[6]}")
    c(all(p["total"] == 3 and p["message"] for p in s[6].get("progress", [])), "progress total and message")
    c(s[6].get("structuredContent") == {"result": "slept 3x100ms"} and s[6].get("isError") is False, "slow result")
    c(s[8].get("cancelled") is True and 400 <= s[8].get("elapsed_ms", 0) < 2000, f"cancelled: {s[8]}")
    before, after = s[7].get("structuredContent", {}), s[10].get("structuredContent", {})
    c(after.get("cancelled") == before.get("cancelled", -9) + 1, f"server saw the cancel: {before} -> {after}")
    c(after.get("completed") == before.get("completed"), "the cancelled call did not complete")
    c(s[11].get("structuredContent") == {"result": "added"}, f"toggle added: {s[11]}")
    c(s[12].get("arrived") is True, f"list_changed after add: {s[12]}")
    c("extra" in {t["name"] for t in s[13].get("tools", [])}, "extra listed after add")
    c(s[14].get("structuredContent") == {"result": "removed"}, f"toggle removed: {s[14]}")
    c(s[15].get("arrived") is True, f"list_changed after remove: {s[15]}")
    c(s[16].get("arrived") is False and s[16].get("elapsed_ms", 0) >= 250, f"no stray list_changed: {s[16]}")
    c(s[17].get("isError") is True and "nope" in s[17].get("content", [""])[0], f"unknown tool: {s[17]}")
    c(s[18].get("code") == -32001 and "error" in s[18], f"timeout_s: {s[18]}")

for d in ("py", "ts"):
    for status in (401, 403):
        lines, rc = load(f"{d}-{status}")
        check(f"{d}-{status}", rc == 3 and len(lines) == 1 and lines[0].get("op") == "initialize"
              and lines[0].get("http_status") == status and "error" in lines[0], f"rc {rc}, {lines}")
    lines, rc = load(f"{d}-crash")
    check(f"{d}-crash", rc == 3 and len(lines) == 3 and lines[2].get("step") == 1 and "error" in lines[2],
          f"rc {rc}, {lines[1:]}")
    lines, rc = load(f"{d}-boolschema")
    ok = rc == 0 and len(lines) == 2
    if ok and d == "py":
        ls = [t for t in lines[1].get("tools", []) if t["name"] == "ls"]
        ok = bool(ls) and ls[0]["outputSchema"]["properties"].get("model") is True
    elif ok:  # the TS SDK rejects the whole listing; the driver must say so, not hide it
        ok = "error" in lines[1] and "tools" not in lines[1]
    check(f"{d}-boolschema", ok, f"rc {rc}, {lines[1:]}")

print(f"selftest: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
EOF
