#!/usr/bin/env bash
# Makes `haproxy` available for the local topology (`npm run stack:local`), its drills, the
# scale benchmark and the rolling-restart test: quiet and quick when it is installed already,
# else `apt-get update` + `apt-get install -y haproxy` (as root or through passwordless sudo).
# Prints the binary's path on stdout; exits 1 with the reason when it cannot be installed.
# Called by .ci/run and by the test itself, so a fresh machine needs nothing by hand.
set -euo pipefail

found() { command -v haproxy 2>/dev/null || { [[ -x /usr/sbin/haproxy ]] && echo /usr/sbin/haproxy; }; }

if path=$(found); then
  printf '%s\n' "$path"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root() { sudo -n "$@"; }
else
  echo "ensure-haproxy: haproxy is not installed and this user cannot install it (needs root or passwordless sudo): apt-get install -y haproxy" >&2
  exit 1
fi
command -v apt-get >/dev/null 2>&1 ||
  { echo "ensure-haproxy: haproxy is not installed and there is no apt-get; install HAProxy (>= 2.2) yourself" >&2; exit 1; }

echo "ensure-haproxy: installing haproxy with apt-get" >&2
log=$(mktemp)
if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 ||
  ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy \
    </dev/null >>"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "ensure-haproxy: apt-get could not install haproxy (output above)" >&2
  exit 1
fi
rm -f "$log"
path=$(found) || { echo "ensure-haproxy: apt-get installed haproxy but no binary was found" >&2; exit 1; }
printf '%s\n' "$path"
