#!/bin/sh
# Entry point of the one production image (Dockerfile): the first argument names the process.
#   service (default) | worker | migrate | seed | any other command, run as given.
# `exec` makes node PID 1, so the orchestrator's SIGTERM reaches its shutdown handler directly.
# The long-running processes load OpenTelemetry first (--import); it stays off unless OTEL_*
# names an exporter (docs/observability.md).
set -eu

cd "$(dirname "$0")/.."

case "${1:-service}" in
service) exec node --import ./dist/service/src/tracing.js dist/service/src/server.js ;;
worker) exec node --import ./dist/service/src/tracing.js dist/worker/src/main.js ;;
migrate) exec node dist/service/src/db/migrate.js ;;
seed) exec node dist/service/src/db/seed.js ;;
*) exec "$@" ;;
esac
