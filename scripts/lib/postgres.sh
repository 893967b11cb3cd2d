# shellcheck shell=bash
# Helpers shared by services.sh and stores.sh for running the installed PostgreSQL binaries.
# Sourced, not executed.

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
