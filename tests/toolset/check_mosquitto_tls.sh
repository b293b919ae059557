#!/usr/bin/env bash
# Check the Mosquitto TLS listener that mosquitto_tls wrote into a workspace
# (conf_snippets/mosquitto/) with the real broker and clients:
#
#   tests/toolset/check_mosquitto_tls.sh WORKSPACE
#
#   certs       openssl: server.crt verifies against ca.crt, its SANs hold
#               localhost and 127.0.0.1, server.key is its key, ca.crt is a CA
#   conf        the generated mosquitto.conf: TLS listener 8883, tls_version
#               tlsv1.2, require_certificate false, allow_anonymous false,
#               password_file and acl_file
#   broker      the REAL mosquitto starts with that conf (paths and port
#               rewritten into a temp dir, a free loopback port; the password
#               file made with mosquitto_passwd for the ACL's users)
#   strict      Python's ssl with VERIFY_X509_STRICT and hostname checking
#               completes a handshake trusting ca.crt
#   deliver     a subscriber (reader user) receives what the publisher user
#               publishes, both over TLS trusting ca.crt (by IP and by name)
#   acl         the reader's own publish on the topic is not delivered
#   plaintext   a plaintext MQTT client on the same port is refused
#   other-ca    a client trusting another CA (made here by openssl) is refused
#   anonymous   a client without credentials is refused
#   password    a client with a wrong password is refused
#
# One line per assertion; mosquitto is stopped at exit. Needs mosquitto,
# mosquitto_pub, mosquitto_sub, mosquitto_passwd, openssl and python3.
# Exit status: the number of failed assertions (0: all passed).
set -uo pipefail

ws=$(cd "${1:?usage: check_mosquitto_tls.sh WORKSPACE}" && pwd)
src=$ws/conf_snippets/mosquitto
failures=0
pass() { printf 'PASS  %-10s %s\n' "$1" "$2"; }
fail() { printf 'FAIL  %-10s %s\n' "$1" "$2"; failures=$((failures + 1)); }

for f in mosquitto.conf acl ca.crt server.crt server.key; do
  [[ -f "$src/$f" ]] || { fail files "$src/$f is missing (run the mosquitto_tls tool)"; exit 1; }
done
for tool in mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd openssl python3; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || { fail tools "$tool not found"; exit 1; }
done
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/td-mosquitto.XXXXXX")
broker=
cleanup() {
  if [[ -n "$broker" ]]; then
    kill "$broker" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$broker" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$broker" 2>/dev/null
  fi
  [[ -n "${TD_KEEP:-}" ]] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
last() { printf '%s\n' "$1" | grep -v '^\s*$' | tail -1; }

# --- the certificates -----------------------------------------------------------
out=$(openssl verify -CAfile "$src/ca.crt" "$src/server.crt" 2>&1)
if [[ $? -eq 0 ]]; then pass certs "openssl verify: $(last "$out" | sed "s|$src/||")"; else fail certs "openssl verify: $(last "$out")"; fi
san=$(openssl x509 -in "$src/server.crt" -noout -ext subjectAltName 2>&1 | tail -n +2 | sed 's/^ *//')
if [[ "$san" == *"DNS:localhost"* && "$san" == *"IP Address:127.0.0.1"* ]]; then pass certs "server.crt SANs: $san"; else fail certs "server.crt SANs lack localhost/127.0.0.1: $san"; fi
if [[ "$(openssl pkey -in "$src/server.key" -pubout 2>/dev/null)" == "$(openssl x509 -in "$src/server.crt" -noout -pubkey 2>/dev/null)" ]]; then
  pass certs "server.key is the key of server.crt ($(openssl x509 -in "$src/server.crt" -noout -text | grep -m1 'Public Key Algorithm' | sed 's/^ *//'))"
else fail certs "server.key does not match server.crt"; fi
bc=$(openssl x509 -in "$src/ca.crt" -noout -ext basicConstraints,keyUsage 2>&1 | grep -v ':$' | sed 's/^ *//' | paste -sd' ')
if [[ "$bc" == *"CA:TRUE"* && "$bc" == *"Certificate Sign"* ]]; then pass certs "ca.crt: $bc; $(openssl x509 -in "$src/ca.crt" -noout -subject)"; else fail certs "ca.crt is not a CA: $bc"; fi

# --- the generated configuration --------------------------------------------------
conf=$src/mosquitto.conf
want=("listener 8883" "allow_anonymous false" "tls_version tlsv1.2" "require_certificate false")
missing=()
for w in "${want[@]}"; do grep -qx "$w" "$conf" || missing+=("$w"); done
for k in cafile certfile keyfile password_file acl_file; do grep -q "^$k /" "$conf" || missing+=("$k"); done
if [[ ${#missing[@]} -eq 0 ]]; then pass conf "mosquitto.conf: ${want[*]/%/;} cafile, certfile, keyfile, password_file, acl_file set"
else fail conf "mosquitto.conf lacks: ${missing[*]}"; fi
grep -q '^listener .*' "$conf" && [[ $(grep -c '^listener ' "$conf") -eq 1 ]] \
  && pass conf "one listener only: no plaintext port is configured" || fail conf "more than one listener: $(grep '^listener ' "$conf" | paste -sd,)"

# --- the broker with that configuration -------------------------------------------
port=$(free_port)
mkdir -p "$tmp/conf"
cp "$src"/* "$tmp/conf/"
# Paths of the generated conf → the temp dir; the listener → the free loopback port.
python3 - "$conf" "$tmp/conf" "$port" > "$tmp/conf/mosquitto.conf" <<'EOF'
import os, sys
conf, dir_, port = sys.argv[1:]
for line in open(conf):
    words = line.split()
    if words and words[0] in ("cafile", "certfile", "keyfile", "password_file", "acl_file"):
        line = f"{words[0]} {os.path.join(dir_, os.path.basename(words[1]))}\n"
    elif words and words[0] == "listener":
        line = f"listener {port} 127.0.0.1\n"
    sys.stdout.write(line)
EOF
# Running as root, mosquitto switches to the `mosquitto` user unless told to stay.
[[ $(id -u) -eq 0 ]] && echo "user root" >> "$tmp/conf/mosquitto.conf"
mapfile -t users < <(awk '$1 == "user" { print $2 }' "$src/acl")
[[ ${#users[@]} -ge 2 ]] || { fail conf "the acl names fewer than two users: ${users[*]:-none}"; exit 1; }
publisher=${users[0]}; reader=${users[1]}
declare -A pw
rm -f "$tmp/conf/passwd"
for u in "${users[@]}"; do
  pw[$u]=$(openssl rand -hex 16)
  if [[ -f "$tmp/conf/passwd" ]]; then mosquitto_passwd -b "$tmp/conf/passwd" "$u" "${pw[$u]}"; else mosquitto_passwd -c -b "$tmp/conf/passwd" "$u" "${pw[$u]}"; fi
done
chmod 600 "$tmp/conf"/*
filter=$(awk '$1 == "topic" && $2 == "write" { print $3; exit }' "$src/acl")
[[ -n "$filter" ]] || { fail conf "the acl grants no topic to $publisher"; exit 1; }
topic=$(printf '%s' "$filter" | sed -e 's/+/check-1/g' -e 's/#/check/g')

"$mosquitto" -c "$tmp/conf/mosquitto.conf" -v > "$tmp/mosquitto.log" 2>&1 &
broker=$!
if wait_port "$port" && kill -0 "$broker" 2>/dev/null; then
  pass broker "mosquitto $("$mosquitto" -h 2>&1 | awk '/version/ {print $3; exit}') listening with the generated conf on 127.0.0.1:$port ($(grep -m1 'Opening ipv4 listen socket' "$tmp/mosquitto.log" | sed 's/^[0-9]*: //'))"
else
  fail broker "mosquitto did not start: $(tail -3 "$tmp/mosquitto.log" | paste -sd' ')"
  exit $failures
fi

# --- a strict TLS handshake (Python's ssl) -------------------------------------------
out=$(python3 - "$port" "$tmp/conf/ca.crt" <<'EOF' 2>&1
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        print(f"{s.version()} {s.cipher()[0]}, peer {dict(x[0] for x in s.getpeercert()['subject'])['commonName']}, hostname localhost verified (VERIFY_X509_STRICT)")
EOF
)
[[ $? -eq 0 ]] && pass strict "$(last "$out")" || fail strict "$(last "$out")"

# --- deliver: reader subscribes, publisher publishes (both trusting ca.crt) ---------
tls=(--cafile "$tmp/conf/ca.crt")
mosquitto_sub -d -h 127.0.0.1 -p "$port" "${tls[@]}" -u "$reader" -P "${pw[$reader]}" -i td-check-sub \
  -t "$filter" -q 1 -C 1 -W 15 -v > "$tmp/sub.out" 2>&1 &
sub=$!
for _ in $(seq 1 100); do grep -q 'Received SUBACK' "$tmp/sub.out" && break; sleep 0.1; done
# The reader may not write: its publish must not reach the subscriber.
mosquitto_pub -h 127.0.0.1 -p "$port" "${tls[@]}" -u "$reader" -P "${pw[$reader]}" -i td-check-forger \
  -t "$topic" -q 1 -m '{"forged": true}' > "$tmp/forge.out" 2>&1
sleep 0.5
message='{"type":"project.created","check":"mosquitto_tls"}'
pub_out=$(mosquitto_pub -h localhost -p "$port" "${tls[@]}" -u "$publisher" -P "${pw[$publisher]}" -i td-check-pub \
  -t "$topic" -q 1 -m "$message" 2>&1); pub_rc=$?
wait "$sub"; sub_rc=$?
got=$(grep -v -e '^Client ' -e '^Subscribed' "$tmp/sub.out" | grep -v '^\s*$' | head -1)
if [[ $pub_rc -eq 0 && $sub_rc -eq 0 && "$got" == "$topic $message" ]]; then
  pass deliver "$publisher → $reader over TLS (ca.crt, by 127.0.0.1 and by localhost): \`$got\`"
else
  fail deliver "pub rc $pub_rc ($(last "$pub_out")), sub rc $sub_rc, got: ${got:-nothing} ($(last "$(cat "$tmp/sub.out")"))"
fi
if [[ "$got" != *forged* ]] && grep -q "Denied PUBLISH from td-check-forger" "$tmp/mosquitto.log"; then
  pass acl "$reader's publish on $topic not delivered; broker: $(grep -m1 'Denied PUBLISH from td-check-forger' "$tmp/mosquitto.log" | sed 's/^[0-9]*: //')"
else
  fail acl "the reader's publish was not denied (got: ${got:-nothing}; $(grep -c 'Denied PUBLISH' "$tmp/mosquitto.log") denials logged)"
fi

# --- refusals ---------------------------------------------------------------------------
refused() { # refused NAME WHAT CMD...: CMD must fail; the broker's log line on it is evidence too
  local name=$1 what=$2; shift 2
  local out before said
  before=$(wc -l < "$tmp/mosquitto.log")
  out=$(timeout 20 "$@" 2>&1)
  local rc=$?
  for _ in $(seq 1 30); do
    said=$(tail -n +$((before + 1)) "$tmp/mosquitto.log" | grep -m1 -E 'OpenSSL Error|not authorised' | sed 's/^[0-9]*: //')
    [[ -n "$said" ]] && break; sleep 0.1
  done
  if [[ $rc -ne 0 ]]; then pass "$name" "$what refused (client exit $rc: $(printf '%s\n' "$out" | grep -v '^\s*$' | tail -1); broker: ${said:-nothing logged})"
  else fail "$name" "$what was NOT refused: $(last "$out")"; fi
}
refused plaintext "plaintext MQTT on the TLS port" \
  mosquitto_pub -h 127.0.0.1 -p "$port" -u "$publisher" -P "${pw[$publisher]}" -i td-check-plain -t "$topic" -q 1 -m plaintext
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Another CA" \
  -addext basicConstraints=critical,CA:TRUE -keyout "$tmp/other-ca.key" -out "$tmp/other-ca.crt" >/dev/null 2>&1 \
  || fail other-ca "openssl could not make another CA"
refused other-ca "a client trusting another CA" \
  mosquitto_pub -h 127.0.0.1 -p "$port" --cafile "$tmp/other-ca.crt" -u "$publisher" -P "${pw[$publisher]}" -i td-check-other -t "$topic" -q 1 -m other
verify=$(openssl s_client -connect "127.0.0.1:$port" -CAfile "$tmp/other-ca.crt" -verify_return_error -servername localhost </dev/null 2>&1 | grep -m1 -E 'verify error|Verify return code' | sed 's/^ *//')
[[ -n "$verify" && "$verify" != *"return code: 0 (ok)"* ]] && pass other-ca "openssl s_client with the other CA: $verify" || fail other-ca "openssl s_client with the other CA: ${verify:-no verdict}"
refused anonymous "a client without credentials" \
  mosquitto_pub -h 127.0.0.1 -p "$port" "${tls[@]}" -i td-check-anon -t "$topic" -q 1 -m anonymous
refused password "a wrong password" \
  mosquitto_pub -h 127.0.0.1 -p "$port" "${tls[@]}" -u "$publisher" -P "not-${pw[$publisher]}" -i td-check-wrong -t "$topic" -q 1 -m wrong

exit $failures
