"""The generated app validates bearer JWTs of the Keycloak realm keycloak_admin
exported. Run from the workspace root (fastapi_gen's app/, keycloak_admin's
keycloak/realm-export.json):

    keycloak_jwt.py PRIVATE_KEY_PEM KEYCLOAK_ADMIN_OUTPUT_JSON

The issuer, audience and public key come from keycloak/realm-export.json (not
from this script): the issuer from the realm's frontend URL and name, the
audience from the API client's audience mapper, the key from the realm's
`publicKey`. The app runs under uvicorn on a free loopback port with its OIDC
environment set to those; tokens are minted with PyJWT, signed by the test's
private key (the one Keycloak would import). One evidence line per assertion;
exit status 0 = every assertion held.
"""
import atexit
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

private_pem = open(sys.argv[1], "rb").read()
tool_output = json.load(open(sys.argv[2], encoding="utf-8"))
checks = 0


def ok(line: str) -> None:
    global checks
    checks += 1
    print(f"ok  {line}", flush=True)


def fail(line: str) -> None:
    print(f"FAIL {line}", flush=True)
    sys.exit(1)


# --- 1. what the realm export says ------------------------------------------------
realm = json.load(open(tool_output["realm_export"], encoding="utf-8"))
issuer = f"{realm['attributes']['frontendUrl'].rstrip('/')}/realms/{realm['realm']}"
api_clients = [c for c in realm["clients"] if not c.get("publicClient")]
if len(api_clients) != 1:
    fail(f"expected one confidential (API) client, found {[c['clientId'] for c in api_clients]}")
api = api_clients[0]
audiences = [m["config"]["included.client.audience"] for m in api["protocolMappers"] if m["protocolMapper"] == "oidc-audience-mapper"]
role_claims = [m["config"]["claim.name"] for m in api["protocolMappers"] if m["protocolMapper"] == "oidc-usermodel-realm-role-mapper"]
if audiences != [api["clientId"]] or role_claims != ["realm_access.roles"]:
    fail(f"API client mappers: audience {audiences}, realm roles claim {role_claims}")
audience = audiences[0]
public_pem = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(
    realm["publicKey"][i:i + 64] for i in range(0, len(realm["publicKey"]), 64)) + "\n-----END PUBLIC KEY-----\n"
exported_key = serialization.load_pem_public_key(public_pem.encode())
private_key = serialization.load_pem_private_key(private_pem, password=None)
if exported_key.public_numbers() != private_key.public_key().public_numbers():
    fail("the realm's publicKey is not the test key pair's public key")
roles = [r["name"] for r in realm["roles"]["realm"]]
if roles != ["admin", "maintainer", "viewer"]:
    fail(f"realm roles {roles}")
providers = realm["components"]["org.keycloak.keys.KeyProvider"]
if [p["providerId"] for p in providers] != ["rsa"]:
    fail(f"key providers {[p['providerId'] for p in providers]}")
dashboard = next(c for c in realm["clients"] if c.get("publicClient"))
if dashboard["attributes"].get("pkce.code.challenge.method") != "S256":
    fail("the dashboard client does not require PKCE S256")
if (tool_output["issuer"], tool_output["audience"]) != (issuer, audience):
    fail(f"keycloak_admin said issuer {tool_output['issuer']}, audience {tool_output['audience']}; the export says {issuer}, {audience}")
ok(f"realm export: realm {realm['realm']}, issuer {issuer}, audience {audience}, roles {', '.join(roles)}, "
   f"{exported_key.key_size}-bit key (provider rsa) = the test key pair's, dashboard PKCE S256")

# --- 2. the app, configured from the export ----------------------------------------
settings_py = open("app/settings.py", encoding="utf-8").read()
env_name = dict(re.findall(r'^(OIDC_\w+_ENV) = "(\w+)"$', settings_py, re.M))
if {"OIDC_ISSUER_ENV", "OIDC_AUDIENCE_ENV", "OIDC_PUBLIC_KEY_ENV"} - env_name.keys():
    fail(f"app/settings.py names no OIDC environment variables (found {sorted(env_name)})")
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()
env = {k: v for k, v in os.environ.items()
       if not k.endswith("_API_TOKEN") and k not in ("DATABASE_URL", "MQTT_URL") and "_OIDC_" not in k}
env.update({
    env_name["OIDC_ISSUER_ENV"]: issuer,
    env_name["OIDC_AUDIENCE_ENV"]: audience,
    env_name["OIDC_PUBLIC_KEY_ENV"]: public_pem,
    "PYTHONDONTWRITEBYTECODE": "1",
})
log = open(os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), "uvicorn.log"), "wb")
server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
                           "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT)


def stop() -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


atexit.register(stop)
base = f"http://127.0.0.1:{port}"


def call(method: str, path: str, token: str | None = None, body=None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


for _ in range(150):
    if server.poll() is not None:
        log.close()
        fail("uvicorn exited: " + open(log.name, encoding="utf-8", errors="replace").read()[-2000:])
    try:
        status, openapi = call("GET", "/openapi.json")
        if status == 200:
            break
    except OSError:
        pass
    time.sleep(0.1)
else:
    fail("uvicorn did not answer on port %d" % port)
ok(f"uvicorn app.main:app on 127.0.0.1:{port} with {env_name['OIDC_ISSUER_ENV']}={issuer}, "
   f"{env_name['OIDC_AUDIENCE_ENV']}={audience}, {env_name['OIDC_PUBLIC_KEY_ENV']}=<the realm's publicKey as PEM>")

# A collection to write and read: the first POST without path parameters, its
# body from the schema's required fields.
document = json.loads(openapi)
schemas = document.get("components", {}).get("schemas", {})
collection, body = None, None
for path, item in document["paths"].items():
    post = item.get("post")
    if "{" in path or not post or "get" not in item:
        continue
    ref = post.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
    schema = schemas.get(ref.rsplit("/", 1)[-1])
    if schema is None:
        continue
    samples = {"string": "keycloak check", "integer": 1, "number": 1.5, "boolean": True}
    body = {name: samples.get(schema["properties"][name].get("type"), "keycloak check") for name in schema.get("required", [])}
    collection = path
    break
if collection is None:
    fail("the app has no collection with a GET and a POST to check")


def token(roles=("admin",), iss=issuer, aud=audience, key=private_pem, exp_in=300, **extra) -> str:
    now = int(time.time())
    claims = {"iss": iss, "aud": aud, "sub": "kc-check", "azp": dashboard["clientId"], "typ": "Bearer",
              "iat": now, "exp": now + exp_in, "realm_access": {"roles": list(roles)}, **extra}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "kc-check"})


def expect(what: str, method: str, want: int, tok: str | None, body=None) -> str:
    status, text = call(method, collection, tok, body)
    if status != want:
        fail(f"{what}: {method} {collection} -> {status}, expected {want}: {text[:300]}")
    return text


# --- 3. roles ---------------------------------------------------------------------
created = json.loads(expect("admin", "POST", 201, token(["admin"]), body))
ok(f"admin token: POST {collection} -> 201 (created id {created.get('id')})")
expect("maintainer", "POST", 201, token(["maintainer", "offline_access"]), {**body, **({"name": "keycloak check 2"} if "name" in body else {})})
ok(f"maintainer token: POST {collection} -> 201")
listed = json.loads(expect("viewer", "GET", 200, token(["viewer"])))
ids = [row.get("id") for row in listed] if isinstance(listed, list) else []
if created.get("id") not in ids:
    fail(f"viewer GET does not list the created {created.get('id')}: {ids}")
ok(f"viewer token: GET {collection} -> 200, lists {len(ids)} item(s) including {created.get('id')}")
text = expect("viewer", "POST", 403, token(["viewer"]), body)
ok(f"viewer token: POST {collection} -> 403 ({json.loads(text)['detail']})")
expect("no realm role", "GET", 403, token(["offline_access"]))
ok(f"token without admin/maintainer/viewer: GET {collection} -> 403")

# --- 4. tokens the realm did not issue ----------------------------------------------
other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
now = int(time.time())
signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(
    {"iss": issuer, "aud": audience, "exp": now + 300, "realm_access": {"roles": ["admin"]}}).encode())
hs256_with_public_key = signing_input + "." + b64(hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest())
for what, tok in [
    ("another issuer's token (admin role)", token(iss=issuer.rsplit("/", 1)[0] + "/other")),
    ("another audience's token (admin role)", token(aud=dashboard["clientId"])),
    ("a token signed by another key (admin role)", token(key=other_key)),
    ("an expired token (admin role)", token(exp_in=-120)),
    ("an HS256 token keyed with the realm's public key (admin role)", hs256_with_public_key),
    ("no token", None),
]:
    expect(what, "POST", 401, tok, body)
    expect(what, "GET", 401, tok)
    ok(f"{what}: POST and GET {collection} -> 401")

stop()
ok(f"uvicorn stopped (exit {server.returncode}); {checks + 1} assertions held")
