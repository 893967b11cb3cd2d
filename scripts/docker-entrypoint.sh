#!/bin/sh
# Entry point of the one production image (Dockerfile): the first argument names the process.
#   service (default) | worker | migrate | seed | any other command, run as given.
# `exec` makes node PID 1, so the orchestrator's SIGTERM reaches its shutdown handler directly.
set -eu

cd "$(dirname "$0")/.."

case "${1:-service}" in
service) exec node dist/service/src/server.js ;;
worker) exec node dist/worker/src/main.js ;;
migrate) exec node dist/service/src/db/migrate.js ;;
seed) exec node dist/service/src/db/seed.js ;;
*) exec "$@" ;;
esac
