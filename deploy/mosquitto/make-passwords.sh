#!/usr/bin/env bash
# Create the Mosquitto password file for the users of ./acl.
#
#   make-passwords.sh [PASSWORD_FILE]     (default: /etc/mosquitto/taylordash/passwd)
#
# Passwords come from TD_MQTT_ORCHESTRATOR_PASSWORD, TD_MQTT_WORKER_PASSWORD
# and TD_MQTT_MONITOR_PASSWORD. A user whose variable is unset or empty gets a
# random password, printed once on stdout: store it, the file keeps only a hash.
#
# The file is replaced as a whole, mode 0600. Run as root, it is given to the
# user the broker drops privileges to (MOSQUITTO_USER, default `mosquitto`),
# which must be able to read it. Send SIGHUP to a running broker to reload it.
#
# Note: `mosquitto_passwd -b` takes the password as an argument, so it is
# visible in the process list while each call runs; run this on the broker's
# host, not on a machine shared with untrusted users.
set -euo pipefail

out="${1:-/etc/mosquitto/taylordash/passwd}"

if ! command -v mosquitto_passwd >/dev/null 2>&1; then
  echo "make-passwords.sh: mosquitto_passwd not found (install the mosquitto package)" >&2
  exit 1
fi

# A random password: 24 bytes from the kernel, URL- and shell-safe base64.
random_password() {
  head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

dir="$(dirname -- "$out")"
# Before the umask: the broker's user must be able to enter the directory.
mkdir -p -- "$dir"
umask 077
# Build next to the target and move it into place, so a failure never leaves
# a half-written password file for the broker to load.
tmp="$(mktemp -- "$dir/.passwd.XXXXXX")"
trap 'rm -f -- "$tmp"' EXIT

create=(-c)
for user in orchestrator worker monitor; do
  var="TD_MQTT_$(echo "$user" | tr '[:lower:]' '[:upper:]')_PASSWORD"
  password="${!var:-}"
  if [ -z "$password" ]; then
    password="$(random_password)"
    echo "$user: $password"
  fi
  mosquitto_passwd "${create[@]}" -b "$tmp" "$user" "$password"
  create=()
done

chmod 0600 "$tmp"
if [ "$(id -u)" -eq 0 ]; then
  owner="${MOSQUITTO_USER:-mosquitto}"
  if id -u "$owner" >/dev/null 2>&1; then
    chown "$owner": "$tmp"
  else
    echo "make-passwords.sh: no user '$owner' to own $out; the broker must run as root to read it" >&2
  fi
fi
mv -f -- "$tmp" "$out"
trap - EXIT
echo "wrote $out" >&2
