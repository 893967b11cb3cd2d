#!/usr/bin/env bash
# Private PostgreSQL and Redis servers for tests and drills that stop, freeze or kill a server.
# The shared servers (5432, 6379) are never touched: each private server lives in a directory the
# caller gives, listens on 127.0.0.1:<port>, and every later command finds it through that
# directory alone (its pidfile), so a stale or foreign pid is never signalled.
#
#   stores.sh redis start DIR PORT      redis-server without persistence (a restart is empty)
#   stores.sh postgres start DIR PORT   initdb once (user postgres, trust auth), then start;
#                                       runs as the `postgres` user when called as root
#   stores.sh KIND stop DIR             clean stop (thaws first); does nothing when not running
#   stores.sh KIND pids DIR             the server's processes (postgres: postmaster + children)
#   stores.sh KIND freeze DIR           SIGSTOP every process: a hung server, sockets stay open
#   stores.sh KIND thaw DIR             SIGCONT every process
#   stores.sh KIND kill DIR             SIGKILL every process: a crash, no clean shutdown
#
# `start` is idempotent (a running server is left as it is). Used by service/test/support/stores.ts
# and the fault drills; see docs/operations.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly HOST=127.0.0.1
readonly WAIT_SECONDS="${PLINTH_STORES_WAIT_SECONDS:-60}"
# shellcheck source=scripts/lib/servers.sh
source "$ROOT/scripts/lib/servers.sh"

say() { printf 'stores: %s\n' "$*"; }
die() {
  printf 'stores: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# alive <pid> <comm>: the pid runs and is the expected program (a recycled pid is not ours).
alive() {
  [[ -n $1 && "$(cat "/proc/$1/comm" 2>/dev/null || true)" == "$2"* ]]
}

# ---------------------------------------------------------------- Redis

redis_pid() {
  local pid
  pid=$(cat "$1/redis.pid" 2>/dev/null || true)
  if alive "$pid" redis-server; then printf '%s\n' "$pid"; fi
}

redis_start() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if [[ -n $(redis_pid "$dir") ]]; then
    say "redis: already running in $dir"
    return
  fi
  command -v redis-server >/dev/null 2>&1 || die "redis-server is not installed"
  # No RDB/AOF: a restart after stop or kill starts empty, as a replaced cache node does.
  # noeviction: Bull loses jobs when keys are evicted (docs/architecture.md).
  redis-server --bind "$HOST" --port "$port" --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" --dir "$dir" --save '' --appendonly no \
    --maxmemory-policy noeviction || die "redis-server did not start; see $dir/redis.log"
  wait_until "redis on $HOST:$port" redis_answers "$port"
  say "redis: running on $HOST:$port (dir $dir)"
}

redis_pids() { redis_pid "$1"; }

redis_stop() {
  local dir=$1 pid
  pid=$(redis_pid "$dir")
  if [[ -z $pid ]]; then
    say "redis: not running in $dir"
    return
  fi
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid"
  wait_gone "redis (pid $pid)" "$pid"
  say "redis: stopped (pid $pid)"
}

# ---------------------------------------------------------------- PostgreSQL

pg_postmaster() {
  local pid
  pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null || true)
  if alive "$pid" postgres; then printf '%s\n' "$pid"; fi
}

postgres_start() {
  local dir=$1 port=$2 bin
  bin=$(pg_bindir)
  [[ -n $bin ]] || die "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
  mkdir -p "$dir"
  if [[ -n $(pg_postmaster "$dir") ]]; then
    say "postgres: already running in $dir"
    return
  fi
  if is_root; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user to run PostgreSQL"
    chown postgres: "$dir"
    as_pg test -x "$dir" ||
      die "the postgres user cannot reach $dir (every parent directory must be searchable by it)"
  fi
  chmod 700 "$dir"
  if [[ ! -s $dir/data/PG_VERSION ]]; then
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale \
      --no-sync >"$dir/initdb.log" 2>&1 || die "initdb failed; see $dir/initdb.log"
  fi
  as_pg mkdir -p "$dir/run"
  # fsync=off: a throw-away cluster; a killed postmaster still recovers every committed
  # transaction from the WAL in the page cache (only an OS crash could lose them).
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t "$WAIT_SECONDS" \
    -o "-p $port -c listen_addresses=$HOST -k $dir/run -c fsync=off" start >/dev/null ||
    die "PostgreSQL did not start; see $dir/postgres.log"
  say "postgres: running on $HOST:$port (dir $dir)"
}

# The postmaster first, then its children (backends and auxiliary processes).
postgres_pids() {
  local main
  main=$(pg_postmaster "$1")
  [[ -n $main ]] || return 0
  printf '%s\n' "$main"
  pgrep -P "$main" || true
}

postgres_stop() {
  local dir=$1 bin main
  main=$(pg_postmaster "$dir")
  if [[ -z $main ]]; then
    say "postgres: not running in $dir"
    return
  fi
  signal_all postgres "$dir" CONT
  bin=$(pg_bindir)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t "$WAIT_SECONDS" stop >/dev/null ||
    die "PostgreSQL did not stop; see $dir/postgres.log"
  say "postgres: stopped (pid $main)"
}

# ---------------------------------------------------------------- signals

wait_gone() {
  local what=$1 pid=$2 deadline=$((SECONDS + WAIT_SECONDS))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || die "$what did not exit within ${WAIT_SECONDS}s"
    sleep 0.05
  done
}

# signal_all <kind> <dir> <SIGNAL>: the main process is stopped first so that it forks no new
# child (and its children are not re-parented) while they are listed and signalled.
signal_all() {
  local kind=$1 dir=$2 sig=$3 main pid children
  main=$("${kind}_pids" "$dir" | head -n 1)
  if [[ -z $main ]]; then
    say "$kind: not running in $dir"
    return
  fi
  kill -STOP "$main" 2>/dev/null || true
  children=$("${kind}_pids" "$dir" | tail -n +2)
  for pid in $children "$main"; do
    kill "-$sig" "$pid" 2>/dev/null || true
  done
  # A killed process that was stopped is reaped only once continued; a thawed one runs again.
  [[ $sig == STOP ]] || kill -CONT "$main" 2>/dev/null || true
  if [[ $sig == KILL ]]; then wait_gone "$kind (pid $main)" "$main"; fi
  say "$kind: sent SIG$sig to pid $main and its children"
}

main() {
  [[ $# -ge 3 ]] || usage
  local kind=$1 cmd=$2 dir=$3
  [[ $kind == redis || $kind == postgres ]] || usage
  case $cmd in
  start)
    [[ $# -eq 4 && $4 =~ ^[0-9]+$ ]] || usage
    "${kind}_start" "$dir" "$4"
    ;;
  stop) "${kind}_stop" "$dir" ;;
  pids) "${kind}_pids" "$dir" ;;
  freeze) signal_all "$kind" "$dir" STOP ;;
  thaw) signal_all "$kind" "$dir" CONT ;;
  kill) signal_all "$kind" "$dir" KILL ;;
  *) usage ;;
  esac
}

main "$@"
