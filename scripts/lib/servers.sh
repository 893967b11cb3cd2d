# shellcheck shell=bash
# Helpers shared by services.sh and stores.sh for running and probing PostgreSQL and Redis.
# Sourced, not executed; the caller defines `die` and WAIT_SECONDS.

is_root() { [[ $(id -u) -eq 0 ]]; }

# The newest installed PostgreSQL server binaries (Debian keeps them off PATH), or PG_BIN.
pg_bindir() {
  local dir
  if [[ -n ${PG_BIN:-} ]]; then
    printf '%s\n' "$PG_BIN"
    return
  fi
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
    sort -V | tail -n 1)
  if [[ -n $dir && -x $dir/initdb ]]; then
    printf '%s\n' "$dir"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  elif command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
    pg_config --bindir
  fi
}

# Runs a command as the user that owns the PostgreSQL data: `postgres` when we are root
# (PostgreSQL refuses to run as root).
as_pg() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# wait_until <what> <command...>: polls the command until it succeeds or WAIT_SECONDS pass.
wait_until() {
  local what=$1
  shift
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@"; do
    ((SECONDS < deadline)) || die "$what did not become ready within ${WAIT_SECONDS}s"
    sleep 0.2
  done
}

# redis_answers <port>: a Redis on 127.0.0.1:<port> answers PING (bash's /dev/tcp, no client
# needed). A "-NOAUTH" reply is still a Redis: its password is the URL's business.
redis_answers() {
  local reply
  # A subshell, so a refused connection cannot disturb this shell's descriptors or `set -e`.
  reply=$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 line <&3 || exit 1
    printf '%s' "$line"
  ) || return 1
  [[ $reply == +PONG* || $reply == -NOAUTH* ]]
}
