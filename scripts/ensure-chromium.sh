#!/usr/bin/env bash
# Makes a Chromium that playwright-core can drive available and prints its path: $CHROMIUM_PATH
# or /usr/bin/chromium if present, else Debian's `chromium` package installed with apt-get (as
# root or with passwordless sudo). Used by the queue-board browser test.
set -euo pipefail

if [[ -n "${CHROMIUM_PATH:-}" && -x "$CHROMIUM_PATH" ]]; then
  echo "$CHROMIUM_PATH"
  exit 0
fi
for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [[ -x "$candidate" ]]; then
    echo "$candidate"
    exit 0
  fi
done

if [[ "$(id -u)" == 0 ]]; then
  sudo=()
elif sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "Chromium is missing and cannot be installed without root: apt-get install -y chromium" >&2
  exit 1
fi
# Another process may be installing at the same time: wait for the dpkg lock instead of failing.
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >&2
echo /usr/bin/chromium
