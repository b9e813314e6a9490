#!/usr/bin/env bash
# Starts (or reuses) a private PostgreSQL cluster on loopback for the tests and the
# benchmarks, and prints its admin URL. Installs PostgreSQL from apt when missing.
#
#   tests/postgres.sh start DIR [PORT]   # prints postgres://postgres@127.0.0.1:PORT/postgres
#   tests/postgres.sh stop DIR
#
# DIR must be reachable by the `postgres` user when run as root (e.g. under /tmp).
set -euo pipefail

action=${1:?start or stop}
dir=${2:?cluster directory}
port=${3:-55432}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin=$(pg_bin)
if [[ -z "$bin" && "$action" == start ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bin=$(pg_bin)
fi
[[ -n "$bin" ]] || { echo "postgres.sh: PostgreSQL is not installed" >&2; exit 1; }

# initdb and the server refuse to run as root.
as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
start)
  mkdir -p "$dir/sock"
  [[ $(id -u) == 0 ]] && chown -R postgres: "$dir"
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions >&2
  fi
  if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c max_connections=300" start >&2
  fi
  echo "postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  if [[ -f "$dir/data/PG_VERSION" ]]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  fi
  ;;
*)
  echo "usage: $0 start|stop DIR [PORT]" >&2
  exit 2
  ;;
esac
