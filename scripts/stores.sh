#!/usr/bin/env bash
# Private PostgreSQL and Redis servers for tests, drills and the local topology: servers that may
# be stopped, frozen or killed, a real streaming replica, TLS. The shared servers (5432, 6379) are
# never touched: each private server lives in a directory the caller gives, listens on
# 127.0.0.1:<port>, and every later command finds it through that directory alone (its pidfile),
# so a stale or foreign pid is never signalled.
#
#   stores.sh redis start DIR PORT [--tls CERTS]
#                       redis-server without persistence (a restart is empty); with --tls it
#                       speaks TLS only on PORT and requires AUTH with the password it keeps in
#                       DIR/redis.password (generated once)
#   stores.sh postgres start DIR PORT [--tls CERTS]
#                       initdb once (user postgres, trust auth, replication allowed), then start
#                       with wal_level=replica; with --tls: ssl=on and TLS connections only.
#                       Runs as the `postgres` user when called as root
#   stores.sh replica start DIR PORT PRIMARY_DIR
#                       a streaming replica of the private primary in PRIMARY_DIR: pg_basebackup
#                       -R once, then start as a hot standby
#   stores.sh replica pause|resume DIR   pg_wal_replay_pause() / pg_wal_replay_resume()
#   stores.sh replica lag DIR           WAL bytes written on the primary, not yet replayed here
#   stores.sh replica sync DIR          wait until it replayed all the primary had written
#   stores.sh certs create DIR          a CA (ca.crt), server.crt for 127.0.0.1 and localhost and
#                                       localhost-only.crt (not for the address), both signed by
#                                       it, and an unrelated CA (wrong-ca.crt)
#   stores.sh KIND stop DIR             clean stop (thaws first); does nothing when not running
#   stores.sh KIND pids DIR             the server's processes (postgres: postmaster + children)
#   stores.sh KIND freeze DIR           SIGSTOP every process: a hung server, sockets stay open
#   stores.sh KIND thaw DIR             SIGCONT every process
#   stores.sh KIND kill DIR             SIGKILL every process: a crash, no clean shutdown
#
# Sets of servers, for the local topology and anything else that wants the app's variables:
#   stores.sh replica-set start DIR PRIMARY_PORT REPLICA_PORT   DIR/primary + DIR/replica
#   stores.sh tls start DIR PG_PORT REDIS_PORT                  DIR/certs, DIR/postgres, DIR/redis
#   stores.sh replica-set|tls env DIR   the app's variables for the set, KEY=value lines
#   stores.sh replica-set|tls stop DIR  stop every server of the set
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
  sed -n '2,38p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed (${2:-needed here})"
}

# alive <pid> <comm>: the pid runs and is the expected program (a recycled pid is not ours).
alive() {
  [[ -n $1 && "$(cat "/proc/$1/comm" 2>/dev/null || true)" == "$2"* ]]
}

# tls_arg <args...>: the CERTS directory of an optional `--tls CERTS`, checked; empty without.
tls_arg() {
  [[ $# -eq 0 ]] && return 0
  [[ $# -eq 2 && $1 == --tls ]] || usage
  [[ -s $2/server.crt && -s $2/server.key && -s $2/ca.crt ]] ||
    die "$2 holds no certificates; create them with: stores.sh certs create $2"
  (cd "$2" && pwd)
}

# ---------------------------------------------------------------- certificates

# A self-signed CA: ECDSA P-256 (quick to make; PostgreSQL, Redis and Node all take it).
make_ca() {
  local dir=$1 name=$2 subject=$3
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -days 3650 -subj "/CN=$subject" -keyout "$dir/$name.key" -out "$dir/$name.crt" \
    -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
    2>/dev/null || die "openssl could not create the CA $dir/$name.crt"
}

# server_cert <dir> <name> <subjectAltName>: a server key and certificate signed by DIR/ca.
server_cert() {
  local dir=$1 name=$2 san=$3
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -subj "/CN=${san#*:}" -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null ||
    die "openssl could not create the key $dir/$name.key"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -sha256 -days 825 -out "$dir/$name.crt" -extfile <(
      printf '%s\n' "subjectAltName=$san" 'basicConstraints=CA:FALSE' \
        'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth'
    ) 2>/dev/null || die "openssl could not sign $dir/$name.crt"
  rm -f "$dir/$name.csr" "$dir/ca.srl"
}

certs_create() {
  local dir=$1
  need openssl "to create test certificates"
  mkdir -p "$dir"
  if [[ -s $dir/server.crt && -s $dir/localhost-only.crt && -s $dir/wrong-ca.crt ]]; then
    say "certs: already in $dir"
    return
  fi
  make_ca "$dir" ca 'Plinth test CA'
  make_ca "$dir" wrong-ca 'Plinth unrelated CA'
  server_cert "$dir" server "IP:$HOST,DNS:localhost"
  # Signed by the right CA for the name only: a client connecting to the address must refuse it.
  server_cert "$dir" localhost-only 'DNS:localhost'
  chmod 600 "$dir"/*.key
  # The certificates are public; readable, so a server run as another user can use them.
  chmod 644 "$dir"/*.crt
  say "certs: CA $dir/ca.crt; server.crt for $HOST and localhost, localhost-only.crt, signed by it; unrelated CA $dir/wrong-ca.crt"
}

# ---------------------------------------------------------------- Redis

redis_pid() {
  local pid
  pid=$(cat "$1/redis.pid" 2>/dev/null || true)
  if alive "$pid" redis-server; then printf '%s\n' "$pid"; fi
}

# redis_tls_answers <port> <certs> <password file>: a TLS Redis answers an authenticated PING.
redis_tls_answers() {
  [[ "$(REDISCLI_AUTH=$(cat "$3") redis-cli --tls --cacert "$2/ca.crt" -h "$HOST" -p "$1" \
    PING 2>/dev/null)" == PONG ]]
}

redis_start() {
  local dir=$1 port=$2 certs
  certs=$(tls_arg "${@:3}")
  mkdir -p "$dir"
  if [[ -n $(redis_pid "$dir") ]]; then
    say "redis: already running in $dir"
    return
  fi
  need redis-server
  printf '%s\n' "$port" >"$dir/redis.port"
  # No RDB/AOF: a restart after stop or kill starts empty, as a replaced cache node does.
  # noeviction: Bull loses jobs when keys are evicted (docs/architecture.md).
  local args=(--bind "$HOST" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    --dir "$dir" --save '' --appendonly no --maxmemory-policy noeviction)
  if [[ -z $certs ]]; then
    redis-server --port "$port" "${args[@]}" ||
      die "redis-server did not start; see $dir/redis.log"
    wait_until "redis on $HOST:$port" redis_answers "$port"
    say "redis: running on $HOST:$port (dir $dir)"
    return
  fi
  need redis-cli "to check a TLS Redis"
  if [[ ! -s $dir/redis.password ]]; then
    (umask 077 && openssl rand -hex 24 >"$dir/redis.password")
  fi
  # Like ElastiCache with transit encryption and an AUTH token: TLS only, no plain port. The
  # password goes in a config file (mode 600), not on the command line that `ps` shows.
  (umask 077 && printf 'requirepass %s\n' "$(cat "$dir/redis.password")" >"$dir/redis.conf")
  redis-server "$dir/redis.conf" --port 0 --tls-port "$port" --tls-cert-file "$certs/server.crt" \
    --tls-key-file "$certs/server.key" --tls-ca-cert-file "$certs/ca.crt" --tls-auth-clients no \
    "${args[@]}" || die "redis-server did not start; see $dir/redis.log"
  wait_until "redis (TLS) on $HOST:$port" redis_tls_answers "$port" "$certs" "$dir/redis.password"
  say "redis: running on $HOST:$port, TLS and AUTH (dir $dir)"
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

pg_server_bindir() {
  local bin
  bin=$(pg_bindir)
  [[ -n $bin ]] || die "PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are not installed"
  printf '%s\n' "$bin"
}

# pg_already_running <label> <dir>: true, and says so, when the server in DIR runs.
pg_already_running() {
  [[ -n $(pg_postmaster "$2") ]] || return 1
  say "$1: already running in $2"
}

# The port a running server in DIR listens on (line 4 of postmaster.pid).
pg_port() {
  [[ -n $(pg_postmaster "$1") ]] || die "no PostgreSQL is running in $1"
  sed -n 4p "$1/data/postmaster.pid"
}

# pg_sql <dir> <sql> [psql -v name=value...]: runs SQL (from stdin, so psql interpolates the
# variables) on the server in DIR and prints the bare result.
pg_sql() {
  local dir=$1 sql=$2 port
  shift 2
  port=$(pg_port "$dir")
  printf '%s\n' "$sql" | "$(pg_bindir)/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$port" \
    -U postgres -d postgres "$@"
}

# Makes DIR the postgres user's (PostgreSQL refuses to run as root) and private.
pg_own_dir() {
  local dir=$1
  mkdir -p "$dir"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user to run PostgreSQL"
    chown postgres: "$dir"
    as_pg test -x "$dir" ||
      die "the postgres user cannot reach $dir (every parent directory must be searchable by it)"
  fi
  chmod 700 "$dir"
}

# pg_run <dir> <port> [postgres -c options...]: starts the cluster in DIR/data and waits for it.
pg_run() {
  local dir=$1 port=$2 bin
  shift 2
  bin=$(pg_bindir)
  as_pg mkdir -p "$dir/run"
  # fsync=off: a throw-away cluster; a killed postmaster still recovers every committed
  # transaction from the WAL in the page cache (only an OS crash could lose them).
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t "$WAIT_SECONDS" \
    -o "-p $port -c listen_addresses=$HOST -k $dir/run -c fsync=off $*" start >/dev/null ||
    die "PostgreSQL did not start; see $dir/postgres.log"
}

# Who may connect, rewritten at every start so a restart can switch TLS on or off. Trust, as the
# shared server; with TLS, plain TCP is refused (as RDS with rds.force_ssl), so a client that
# silently fell back to plain text would fail instead of passing.
pg_write_hba() {
  local dir=$1 tls=$2 tcp=host
  [[ -n $tls ]] && tcp=hostssl
  {
    printf '%s\n' 'local all all trust' 'local replication all trust'
    printf '%s all all %s/32 trust\n' "$tcp" "$HOST"
    printf '%s replication all %s/32 trust\n' "$tcp" "$HOST"
    if [[ -n $tls ]]; then printf 'hostnossl all all 0.0.0.0/0 reject\n'; fi
  } >"$dir/data/pg_hba.conf"
}

postgres_start() {
  local dir=$1 port=$2 bin certs
  certs=$(tls_arg "${@:3}")
  bin=$(pg_server_bindir)
  pg_already_running postgres "$dir" && return
  pg_own_dir "$dir"
  if [[ ! -s $dir/data/PG_VERSION ]]; then
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale \
      --no-sync >"$dir/initdb.log" 2>&1 || die "initdb failed; see $dir/initdb.log"
  fi
  pg_write_hba "$dir" "$certs"
  # wal_keep_size: a replica that was stopped for a while can still catch up (no slot to leak).
  local options=(-c wal_level=replica -c wal_keep_size=256MB)
  if [[ -n $certs ]]; then
    # PostgreSQL wants its key owned by the server's user and private: a copy in DIR.
    install -m 700 -d "$dir/tls"
    install -m 600 "$certs/server.crt" "$certs/server.key" "$dir/tls/"
    if is_root; then chown -R postgres: "$dir/tls"; fi
    options+=(-c ssl=on -c "ssl_cert_file=$dir/tls/server.crt" -c "ssl_key_file=$dir/tls/server.key")
  fi
  pg_run "$dir" "$port" "${options[@]}"
  say "postgres: running on $HOST:$port${certs:+, TLS only} (dir $dir)"
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

# ---------------------------------------------------------------- streaming replica

# The primary a replica was made from (recorded at its base backup).
replica_primary() {
  local primary
  primary=$(cat "$1/primary.dir" 2>/dev/null || true)
  [[ -n $primary ]] || die "$1 holds no replica (start one with: stores.sh replica start $1 PORT PRIMARY_DIR)"
  printf '%s\n' "$primary"
}

replica_start() {
  local dir=$1 port=$2 primary=$3 bin
  bin=$(pg_server_bindir)
  pg_already_running replica "$dir" && return
  primary=$(cd "$primary" && pwd)
  pg_own_dir "$dir"
  if [[ ! -s $dir/data/PG_VERSION ]]; then
    # -R writes standby.signal and primary_conninfo: the copy starts as a streaming replica.
    # -c fast: an immediate checkpoint instead of waiting for the next one.
    as_pg "$bin/pg_basebackup" -h "$HOST" -p "$(pg_port "$primary")" -U postgres -D "$dir/data" \
      -R -X stream -c fast --no-sync >"$dir/basebackup.log" 2>&1 ||
      die "pg_basebackup from $primary failed; see $dir/basebackup.log"
    printf '%s\n' "$primary" >"$dir/primary.dir"
  fi
  pg_run "$dir" "$port" -c hot_standby=on
  say "replica: running on $HOST:$port, streaming from $primary (dir $dir)"
}

replica_pause() {
  pg_sql "$1" 'select pg_wal_replay_pause()' >/dev/null
  # The call only requests it; replay stops at the next record.
  wait_until "replay pause in $1" replica_paused "$1"
  say "replica: replay paused in $1"
}

replica_paused() {
  [[ "$(pg_sql "$1" 'select pg_get_wal_replay_pause_state()')" == paused ]]
}

replica_resume() {
  pg_sql "$1" 'select pg_wal_replay_resume()' >/dev/null
  say "replica: replay resumed in $1"
}

replica_lag() {
  local lsn
  lsn=$(pg_sql "$(replica_primary "$1")" 'select pg_current_wal_lsn()')
  pg_sql "$1" "select greatest(0, pg_wal_lsn_diff(:'lsn', pg_last_wal_replay_lsn()))::bigint" \
    -v "lsn=$lsn"
}

replica_replayed() {
  [[ "$(pg_sql "$1" "select pg_last_wal_replay_lsn() >= :'lsn'::pg_lsn" -v "lsn=$2")" == t ]]
}

replica_sync() {
  local lsn
  lsn=$(pg_sql "$(replica_primary "$1")" 'select pg_current_wal_lsn()')
  wait_until "replay up to $lsn in $1" replica_replayed "$1" "$lsn"
}

# ---------------------------------------------------------------- sets

replica_set_start() {
  local dir=$1
  postgres_start "$dir/primary" "$2"
  replica_start "$dir/replica" "$3" "$dir/primary"
}

replica_set_env() {
  local dir=$1
  printf 'DATABASE_URL=postgres://postgres@%s:%s/postgres\n' "$HOST" "$(pg_port "$dir/primary")"
  printf 'DATABASE_REPLICA_URLS=postgres://postgres@%s:%s/postgres\n' "$HOST" \
    "$(pg_port "$dir/replica")"
}

replica_set_stop() {
  postgres_stop "$1/replica"
  postgres_stop "$1/primary"
}

tls_start() {
  local dir=$1
  certs_create "$dir/certs"
  postgres_start "$dir/postgres" "$2" --tls "$dir/certs"
  redis_start "$dir/redis" "$3" --tls "$dir/certs"
}

tls_env() {
  local dir
  dir=$(cd "$1" && pwd)
  [[ -n $(redis_pid "$dir/redis") ]] || die "no Redis is running in $dir/redis"
  printf 'DATABASE_URL=postgres://postgres@%s:%s/postgres\n' "$HOST" "$(pg_port "$dir/postgres")"
  printf 'DATABASE_SSL=verify-full\nDATABASE_SSL_CA_FILE=%s\n' "$dir/certs/ca.crt"
  printf 'REDIS_URL=rediss://%s:%s\n' "$HOST" "$(cat "$dir/redis/redis.port")"
  printf 'REDIS_AUTH_TOKEN=%s\nREDIS_TLS_CA_FILE=%s\n' "$(cat "$dir/redis/redis.password")" \
    "$dir/certs/ca.crt"
}

tls_stop() {
  redis_stop "$1/redis"
  postgres_stop "$1/postgres"
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

# One server: start, stop and signals; a replica is a PostgreSQL server for all but start.
server_command() {
  local kind=$1 cmd=$2 dir=$3
  shift 3
  local server=$kind
  [[ $kind == replica ]] && server=postgres
  case $cmd in
  start)
    [[ $# -ge 1 && $1 =~ ^[0-9]+$ ]] || usage
    if [[ $kind == replica ]]; then
      [[ $# -eq 2 ]] || usage
      replica_start "$dir" "$1" "$2"
    else
      "${kind}_start" "$dir" "$@"
    fi
    ;;
  stop) "${server}_stop" "$dir" ;;
  pids) "${server}_pids" "$dir" ;;
  freeze) signal_all "$server" "$dir" STOP ;;
  thaw) signal_all "$server" "$dir" CONT ;;
  kill) signal_all "$server" "$dir" KILL ;;
  pause | resume | lag | sync)
    [[ $kind == replica ]] || usage
    "replica_$cmd" "$dir"
    ;;
  *) usage ;;
  esac
}

main() {
  [[ $# -ge 3 ]] || usage
  local kind=$1 cmd=$2 dir=$3
  shift 3
  case $kind in
  redis | postgres | replica) server_command "$kind" "$cmd" "$dir" "$@" ;;
  certs)
    [[ $cmd == create && $# -eq 0 ]] || usage
    certs_create "$dir"
    ;;
  replica-set | tls)
    local set=${kind//-/_}
    case $cmd in
    start)
      [[ $# -eq 2 && $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]] || usage
      "${set}_start" "$dir" "$1" "$2"
      ;;
    env | stop)
      [[ $# -eq 0 ]] || usage
      "${set}_$cmd" "$dir"
      ;;
    *) usage ;;
    esac
    ;;
  *) usage ;;
  esac
}

main "$@"
