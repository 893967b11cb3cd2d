#!/usr/bin/env bash
# `npm run services:up|down|status`: makes PostgreSQL and Redis reachable for dev and tests.
#
# For each of PostgreSQL and Redis, `up` picks the first that works:
#   1. reuse: something already answers on PG_PORT / REDIS_PORT (a CI service, a distro package,
#      a compose stack): use it and never touch it;
#   2. docker: a Docker engine and `docker compose` are available: start that service from
#      docker-compose.yml;
#   3. local: start the installed binaries (installed with apt-get when missing, as root or
#      through passwordless sudo) on a data directory this script owns, outside /root because
#      PostgreSQL runs as the `postgres` user (it refuses to run as root).
# `down` stops only what `up` started (recorded in marker files under PLINTH_SERVICES_DIR), never
# a server it reused. See docs/operations.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly HOST=127.0.0.1
readonly PG_PORT="${PG_PORT:-5432}"
readonly REDIS_PORT="${REDIS_PORT:-6379}"
readonly STATE_DIR="${PLINTH_SERVICES_DIR:-/var/tmp/plinth-services}"
# auto (reuse, else docker, else local) | docker | local. Forcing a mode never skips reuse.
readonly MODE="${PLINTH_SERVICES_MODE:-auto}"
readonly WAIT_SECONDS="${PLINTH_SERVICES_WAIT_SECONDS:-60}"
readonly COMPOSE_FILE="$ROOT/docker-compose.yml"

say() { printf 'services: %s\n' "$*"; }
die() {
  printf 'services: error: %s\n' "$*" >&2
  exit 1
}

# shellcheck source=scripts/lib/servers.sh
source "$ROOT/scripts/lib/servers.sh"

# True when a TCP connection to HOST:$1 succeeds (bash's /dev/tcp, so no extra tool is needed).
port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

pg_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$HOST" -p "$PG_PORT" -t 2
  else
    port_open "$PG_PORT"
  fi
}

redis_ready() { redis_answers "$REDIS_PORT"; }

docker_available() {
  command -v docker >/dev/null 2>&1 &&
    timeout 15 docker info >/dev/null 2>&1 &&
    docker compose version >/dev/null 2>&1
}

compose() {
  PG_PORT="$PG_PORT" REDIS_PORT="$REDIS_PORT" docker compose -f "$COMPOSE_FILE" "$@"
}

# True when we are root or have passwordless sudo (a hosted CI runner's user has it).
can_be_root() { is_root || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; }

# Runs a command as root; call only after can_be_root succeeded.
as_root() {
  if is_root; then "$@"; else sudo -n "$@"; fi
}

apt_install() {
  can_be_root && command -v apt-get >/dev/null 2>&1 || return 1
  say "installing $* with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

ensure_pg_binaries() {
  [[ -n $(pg_bindir) ]] && return
  # Debian's package creates and starts its own "main" cluster, whose pg_hba wants passwords;
  # turning that off first leaves the port to the trust-auth cluster this script creates.
  apt_install postgresql-common ||
    die "PostgreSQL is not installed and cannot be installed here (needs apt-get and root or passwordless sudo).
  Install the PostgreSQL server (e.g. apt-get install postgresql), run Docker, or start
  PostgreSQL yourself on port $PG_PORT; then run this again."
  as_root sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
    /etc/postgresql-common/createcluster.conf
  apt_install postgresql
  [[ -n $(pg_bindir) ]] || die "apt-get installed postgresql but no initdb was found"
}

ensure_redis_binaries() {
  command -v redis-server >/dev/null 2>&1 && return
  apt_install redis-server ||
    die "redis-server is not installed and cannot be installed here (needs apt-get and root or passwordless sudo).
  Install Redis (e.g. apt-get install redis-server), run Docker, or start Redis yourself on
  port $REDIS_PORT; then run this again."
}

start_local_pg() {
  ensure_pg_binaries
  # The distro package may have started a server on the port meanwhile; reuse it then.
  if pg_ready; then
    say "PostgreSQL: reusing the server that started on $HOST:$PG_PORT during installation"
    return
  fi
  local bin dir
  bin=$(pg_bindir)
  dir="$STATE_DIR/pg"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user to run PostgreSQL"
    mkdir -p "$dir"
    chown postgres: "$dir"
    as_pg test -x "$dir" ||
      die "the postgres user cannot reach $dir; set PLINTH_SERVICES_DIR to a directory outside /root"
  else
    mkdir -p "$dir"
  fi
  chmod 700 "$dir"
  if [[ ! -s $dir/data/PG_VERSION ]]; then
    say "PostgreSQL: initialising a cluster in $dir/data (user postgres, trust auth for local connections)"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale \
      >"$dir/initdb.log" 2>&1 || die "initdb failed; see $dir/initdb.log"
  fi
  as_pg mkdir -p "$dir/run"
  say "PostgreSQL: starting $bin/postgres on $HOST:$PG_PORT (data $dir/data, log $dir/postgres.log)"
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t "$WAIT_SECONDS" \
    -o "-p $PG_PORT -c listen_addresses=$HOST -k $dir/run" start >/dev/null ||
    die "PostgreSQL did not start; see $dir/postgres.log"
  printf 'local %s %s\n' "$PG_PORT" "$bin" >"$STATE_DIR/postgres.started"
}

start_local_redis() {
  ensure_redis_binaries
  if redis_ready; then
    say "Redis: reusing the server that started on $HOST:$REDIS_PORT during installation"
    return
  fi
  local dir="$STATE_DIR/redis"
  mkdir -p "$dir"
  say "Redis: starting redis-server on $HOST:$REDIS_PORT (data $dir, log $dir/redis.log)"
  # noeviction: Bull loses jobs when keys are evicted (docs/architecture.md).
  redis-server --bind "$HOST" --port "$REDIS_PORT" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
    --maxmemory-policy noeviction ||
    die "redis-server did not start; see $dir/redis.log"
  printf 'local %s\n' "$REDIS_PORT" >"$STATE_DIR/redis.started"
  wait_until "Redis on $HOST:$REDIS_PORT" redis_ready
}

# up_one <postgres|redis> <label> <port> <ready-check> <local-starter>
up_one() {
  local svc=$1 label=$2 port=$3 ready=$4 start_local=$5
  if "$ready"; then
    if [[ -f $STATE_DIR/$svc.started ]]; then
      say "$label: already running on $HOST:$port (started earlier by this script)"
    else
      say "$label: reusing the server already listening on $HOST:$port"
    fi
    return
  fi
  if port_open "$port"; then
    die "$label: port $port is in use by something that does not answer as $label.
  Stop it, or choose another port (PG_PORT / REDIS_PORT) and point the URLs at it."
  fi
  case $MODE in
  auto | docker)
    if docker_available; then
      say "$label: starting the '$svc' service with docker compose on $HOST:$port"
      compose up -d --wait "$svc"
      printf 'docker %s\n' "$port" >"$STATE_DIR/$svc.started"
      wait_until "$label on $HOST:$port" "$ready"
      return
    fi
    [[ $MODE == docker ]] && die "PLINTH_SERVICES_MODE=docker but no Docker engine with compose answers"
    ;;
  local) ;;
  *) die "PLINTH_SERVICES_MODE must be auto, docker or local (got '$MODE')" ;;
  esac
  "$start_local"
}

# Stops what `up` recorded in <svc>.started, and nothing else.
down_one() {
  local svc=$1 label=$2 marker="$STATE_DIR/$1.started"
  if [[ ! -f $marker ]]; then
    say "$label: not started by this script; leaving it alone"
    return
  fi
  local how port bin
  read -r how port bin <"$marker" || true
  case $how in
  docker)
    say "$label: stopping the '$svc' compose service (its volume keeps the data)"
    compose stop "$svc"
    ;;
  local)
    if [[ $svc == postgres ]]; then
      local data="$STATE_DIR/pg/data"
      if [[ -f $data/postmaster.pid ]]; then
        say "$label: stopping the local server on port $port"
        as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t "$WAIT_SECONDS" stop >/dev/null
      else
        say "$label: the local server on port $port is not running"
      fi
    else
      stop_local_redis "$port"
    fi
    ;;
  *) say "$label: unreadable marker $marker; removing it" ;;
  esac
  rm -f "$marker"
}

stop_local_redis() {
  local port=$1 pidfile="$STATE_DIR/redis/redis.pid" pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  # The pid must still be a redis-server: a stale pidfile must never kill an unrelated process.
  if [[ -z $pid || "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != redis-server ]]; then
    say "Redis: the local server on port $port is not running"
    return
  fi
  say "Redis: stopping the local server on port $port (pid $pid)"
  kill -TERM "$pid"
  local deadline=$((SECONDS + WAIT_SECONDS))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || die "Redis (pid $pid) did not stop within ${WAIT_SECONDS}s"
    sleep 0.2
  done
}

print_urls() {
  say "ready: DATABASE_URL=postgres://postgres@$HOST:$PG_PORT/<database>  REDIS_URL=redis://$HOST:$REDIS_PORT"
}

main() {
  local cmd=${1:-}
  case $cmd in
  up)
    mkdir -p "$STATE_DIR"
    up_one postgres PostgreSQL "$PG_PORT" pg_ready start_local_pg
    up_one redis Redis "$REDIS_PORT" redis_ready start_local_redis
    print_urls
    ;;
  down)
    down_one redis Redis
    down_one postgres PostgreSQL
    ;;
  status)
    local state label port check
    for state in "PostgreSQL $PG_PORT pg_ready" "Redis $REDIS_PORT redis_ready"; do
      read -r label port check <<<"$state"
      if "$check"; then say "$label: up on $HOST:$port"; else say "$label: down on $HOST:$port"; fi
    done
    ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
  esac
}

main "$@"
