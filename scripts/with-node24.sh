#!/usr/bin/env bash
# Runs a command with Node 24 (what package.json `engines` asks for) first on PATH, so that
# `npm test` works on a machine whose own Node is older:
#
#   bash scripts/with-node24.sh <command> [args...]     # npm test, npm run test:jest, test:nodb
#
# With Node 24 already on PATH it just runs the command. Otherwise it brings Node 24 up the way
# .ci/run does (scripts/ensure-node.sh: the `node@24` npm package, cached in PLINTH_NODE_DIR), or,
# when that cannot be done, stops at once saying which Node is needed and how to get it.
set -uo pipefail

if [[ "$(node -v 2>/dev/null)" != v24.* ]]; then
  # shellcheck source=scripts/ensure-node.sh
  if ! source "$(dirname "${BASH_SOURCE[0]}")/ensure-node.sh" >&2; then
    {
      echo "plinth: this needs Node 24 (package.json engines: >=24 <25); node here is $(node -v 2>/dev/null || echo missing), and Node 24 could not be installed."
      echo "plinth: fix: install Node 24 (e.g. 'nvm install' in this folder, which reads .nvmrc), or"
      echo "plinth:      'source scripts/ensure-node.sh' once the npm registry is reachable; then run the command again."
    } >&2
    exit 1
  fi
fi
exec "$@"
