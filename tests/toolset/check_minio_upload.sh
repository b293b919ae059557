#!/usr/bin/env bash
# End-to-end check of the minio_uploader component against a real
# S3-compatible server: moto's server mode (from PyPI) on a free loopback
# port, with SigV4 verification switched on (an IAM user and key are made
# first, then moto's auth is enforced), so a badly signed request fails.
#
#   tests/toolset/check_minio_upload.sh
#
# Uploads a small workspace through `taylordash invoke` with a policy that
# grants the plugin only `http: ["127.0.0.1:PORT"]`, fetches every object back
# with boto3 and compares bytes, SHA-256, ETag (MD5) and Content-Type; then
# checks that a wrong secret fails naming SignatureDoesNotMatch (without
# echoing the secret), that an ungranted port is refused and that a stopped
# server is a retryable failure. Environment:
#   TD_VENV     a virtualenv with boto3 and moto[server] (default: /tmp/td-venv,
#               created when missing)
#   TAYLORDASH  the taylordash binary (default: ./target/debug/taylordash)
#   PLUGIN      the component (default:
#               ${CARGO_TARGET_DIR:-target}/wasm32-wasip2/plugin/minio_uploader.wasm)
# Exits non-zero on any mismatch.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=${TD_VENV:-/tmp/td-venv}
td=${TAYLORDASH:-./target/debug/taylordash}
plugin=${PLUGIN:-${CARGO_TARGET_DIR:-target}/wasm32-wasip2/plugin/minio_uploader.wasm}

fail() { echo "check_minio_upload: FAIL: $*" >&2; exit 1; }
[[ -x $td ]] || fail "no taylordash binary at $td (cargo build -p taylordash, or set TAYLORDASH)"
[[ -f $plugin ]] || fail "no component at $plugin (cargo build -p minio_uploader --target wasm32-wasip2 --profile plugin, or set PLUGIN)"

TD_VENV=$venv bash "$root/tests/toolset/moto_venv.sh"
py=$venv/bin/python

tmp=$(mktemp -d)
moto_pid=
cleanup() {
    if [[ -n $moto_pid ]]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# moto on a free loopback port.
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
moto_pid=$!
endpoint=http://127.0.0.1:$port
for _ in $(seq 100); do
    "$py" -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/')" 2>/dev/null && break
    kill -0 "$moto_pid" 2>/dev/null || { cat "$tmp/moto.log" >&2; fail "moto_server exited"; }
    sleep 0.2
done

# An IAM user allowed s3:*, its key, then signatures enforced from here on.
export AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap AWS_DEFAULT_REGION=us-east-1
"$py" - "$endpoint" >"$tmp/keys.json" <<'EOF'
import json, sys, urllib.request
import boto3
endpoint = sys.argv[1]
iam = boto3.client("iam", endpoint_url=endpoint)
iam.create_user(UserName="uploader")
iam.put_user_policy(UserName="uploader", PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="uploader")["AccessKey"]
urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                              headers={"Content-Type": "text/plain"}))
json.dump({"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}, sys.stdout)
EOF
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

# The workspace: text, a name needing URI encoding, 200 KB of binary, hidden
# files (skipped) and the credentials file (never uploaded).
ws=$tmp/ws
mkdir -p "$ws/docs/api" "$ws/.git" "$ws/creds" "$ws/dashboards"
printf 'openapi: 3.1.0\ninfo:\n  title: TaylorDash\n  version: 0.1.0\npaths: {}\n' >"$ws/openapi.yaml"
printf '# TaylorDash\n\nThe artifacts of one run.\n' >"$ws/docs/index.md"
printf '# Projects API (v1+beta)\n' >"$ws/docs/api/projects v1+beta.md"
printf '{"panels": []}\n' >"$ws/dashboards/api.json"
"$py" -c 'import random, sys; r = random.Random(7); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(200_000)))' >"$ws/dashboards/blob.bin"
printf 'ref: refs/heads/main\n' >"$ws/.git/HEAD"
printf 'SECRET=1\n' >"$ws/.env"
cp "$tmp/keys.json" "$ws/creds/s3.json"
secret=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["secret_key"])' "$tmp/keys.json")
access=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["access_key"])' "$tmp/keys.json")

policy() {
    printf 'principals: { me: admin }\nplugins:\n  minio_uploader:\n    grants:\n      http: ["127.0.0.1:%s"]\n' "$1" >"$tmp/policy.yaml"
}
invoke() { # JSON input; sets rc, out ($tmp/out.json), err ($tmp/err.txt)
    set +e
    "$td" --policy "$tmp/policy.yaml" --as me invoke "$plugin" --input "$1" --workspace "$ws" --out "$tmp/staged" \
        >"$tmp/out.json" 2>"$tmp/err.txt"
    rc=$?
    set -e
}
policy "$port"

# 1. The whole workspace, credentials from the file, bucket created.
invoke "{\"endpoint\": \"$endpoint\", \"bucket\": \"taylordash-artifacts\", \"region\": \"us-east-1\",
         \"credentials_file\": \"creds/s3.json\", \"prefix\": \"run-e2e\", \"create_bucket\": true}"
[[ $rc -eq 0 ]] || { cat "$tmp/err.txt" >&2; fail "upload of the workspace exited $rc"; }
cp "$tmp/out.json" "$tmp/out1.json"
sed 's/^/  log: /' "$tmp/err.txt"

# 2. Listed files, inline keys, the bucket already there.
invoke "{\"endpoint\": \"$endpoint\", \"bucket\": \"taylordash-artifacts\", \"access_key\": \"$access\",
         \"secret_key\": \"$secret\", \"prefix\": \"listed\", \"files\": [\"openapi.yaml\", \"docs/api/projects v1+beta.md\"],
         \"create_bucket\": true}"
[[ $rc -eq 0 ]] || { cat "$tmp/err.txt" >&2; fail "upload of listed files exited $rc"; }
cp "$tmp/out.json" "$tmp/out2.json"
cat "$tmp/err.txt" "$tmp/out1.json" "$tmp/out2.json" | grep -qF "$secret" && fail "the secret appears in the tool's output or logs"

# Fetch everything back and compare.
"$py" - "$endpoint" "$ws" "$tmp/keys.json" "$tmp/out1.json" "$tmp/out2.json" <<'EOF'
import hashlib, json, os, sys
import boto3
endpoint, ws, keys, out1, out2 = sys.argv[1:]
keys = json.load(open(keys))
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=keys["access_key"], aws_secret_access_key=keys["secret_key"])
types = {".yaml": "application/yaml", ".md": "text/markdown; charset=utf-8", ".json": "application/json",
         ".bin": "application/octet-stream"}
expected = {
    out1: ["dashboards/api.json", "dashboards/blob.bin", "docs/api/projects v1+beta.md", "docs/index.md", "openapi.yaml"],
    out2: ["openapi.yaml", "docs/api/projects v1+beta.md"],
}
prefix = {out1: "run-e2e/", out2: "listed/"}
bad = []
for out, files in expected.items():
    result = json.load(open(out))
    if result["bucket"] != "taylordash-artifacts" or result["endpoint"] != endpoint:
        bad.append(f"{out}: bucket/endpoint {result['bucket']!r} {result['endpoint']!r}")
    got = [u["key"] for u in result["uploaded"]]
    want = [prefix[out] + f for f in files]
    if got != want:
        bad.append(f"{out}: uploaded keys {got}, want {want}")
    for u, f in zip(result["uploaded"], files):
        data = open(os.path.join(ws, f), "rb").read()
        obj = s3.get_object(Bucket="taylordash-artifacts", Key=u["key"])
        body = obj["Body"].read()
        checks = {
            "bytes": body == data,
            "size": u["bytes"] == len(data),
            "sha256": u["sha256"] == hashlib.sha256(data).hexdigest(),
            "etag": u["etag"] == hashlib.md5(data).hexdigest() == obj["ETag"].strip('"'),
            "content-type": obj["ContentType"] == types[os.path.splitext(f)[1]],
        }
        for what, ok in checks.items():
            if not ok:
                bad.append(f"{u['key']}: {what} differs")
        print(f"ok {u['key']}: {len(data)} bytes, sha256 {u['sha256'][:16]}…, {obj['ContentType']}")
listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="taylordash-artifacts")["Contents"])
if any(k.endswith(("creds/s3.json", ".env", "HEAD")) for k in listed):
    bad.append(f"hidden or credentials files were uploaded: {listed}")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
EOF

# 3. A wrong secret: moto rejects the signature; the tool fails (exit 1)
#    naming the key and SignatureDoesNotMatch, and never prints the secret.
invoke "{\"endpoint\": \"$endpoint\", \"bucket\": \"taylordash-artifacts\", \"access_key\": \"$access\",
         \"secret_key\": \"not-the-secret-0123456789\", \"files\": [\"openapi.yaml\"]}"
[[ $rc -eq 1 ]] || { cat "$tmp/err.txt" >&2; fail "a wrong secret exited $rc, want 1"; }
grep -q "key \`openapi.yaml\`.*answered 403 SignatureDoesNotMatch" "$tmp/err.txt" "$tmp/out.json" \
    || { cat "$tmp/err.txt" >&2; fail "a wrong secret did not report 403 SignatureDoesNotMatch for the key"; }
grep -qF "not-the-secret-0123456789" "$tmp/err.txt" "$tmp/out.json" && fail "the wrong secret was echoed"
echo "ok wrong secret: exit 1: $(grep -m1 -o "key \`openapi.yaml\`.*" "$tmp/err.txt" | cut -c1-200)"

# 4. Not granted: the policy names another port; the host refuses the request.
policy $((port == 65535 ? port - 1 : port + 1))
invoke "{\"endpoint\": \"$endpoint\", \"bucket\": \"taylordash-artifacts\", \"credentials_file\": \"creds/s3.json\",
         \"files\": [\"openapi.yaml\"]}"
[[ $rc -ne 0 ]] || fail "an ungranted endpoint was reached"
grep -q "not granted\|refused\|denied" "$tmp/err.txt" || { cat "$tmp/err.txt" >&2; fail "an ungranted endpoint failed without saying so"; }
echo "ok ungranted port: exit $rc: $(grep -m1 "not granted\|refused\|denied" "$tmp/err.txt" | cut -c1-240)"

# 5. The server gone: a transient failure (retryable), not a crash.
kill "$moto_pid"; wait "$moto_pid" 2>/dev/null || true; moto_pid=
policy "$port"
invoke "{\"endpoint\": \"$endpoint\", \"bucket\": \"taylordash-artifacts\", \"credentials_file\": \"creds/s3.json\",
         \"files\": [\"openapi.yaml\"]}"
[[ $rc -eq 1 ]] || { cat "$tmp/err.txt" >&2; fail "an unreachable server exited $rc, want 1"; }
grep -qi "retryable" "$tmp/err.txt" || { cat "$tmp/err.txt" >&2; fail "an unreachable server was not a retryable error"; }
echo "ok server down: exit 1: $(grep -m1 -o "retryable.*" "$tmp/err.txt" | cut -c1-200)"

echo "check_minio_upload: OK ($(stat -c %s "$plugin") byte component, moto on $endpoint)"
