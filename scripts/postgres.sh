#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the tests, from Debian's `postgresql`
# package (scripts/setup.sh installs it). Idempotent: starts the server unless it runs,
# then prints its URL (a superuser `chat`, no password: it listens on 127.0.0.1 only).
# Its data lives in a temporary directory and is not worth keeping: fsync is off, unless
# CHAT_PG_DURABLE=1 (for benchmarks that compare it with SQLite's synchronous commits).
#
#   scripts/postgres.sh [start]    start if needed; print the URL
#   scripts/postgres.sh stop
#   scripts/postgres.sh reset      stop, and forget every database (each test makes its own)
#   CHAT_PG_PORT, CHAT_PG_DIR      another server beside the default one
set -euo pipefail

# Below Linux's ephemeral ports (32768–60999), as scripts/redis.sh's (docs/traps.md).
port=${CHAT_PG_PORT:-25432}
dir=${CHAT_PG_DIR:-/tmp/chat-test-postgres-$port}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "postgres.sh: no PostgreSQL server here; scripts/setup.sh installs Debian's postgresql" >&2; exit 1; }

# PostgreSQL refuses to run as root: as root, run it as the package's `postgres` user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case ${1:-start} in
  start)
    if ! as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      if [ ! -f "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres: "$dir"
        as_owner "$bin/initdb" -D "$dir" -U chat --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
      fi
      durability="-c fsync=off -c synchronous_commit=off"
      [ "${CHAT_PG_DURABLE:-0}" = 1 ] && durability=""
      as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir $durability -c max_connections=200" \
        start >/dev/null
    fi
    echo "postgres://chat@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
    ;;
  reset)
    as_owner "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 [start|stop|reset]" >&2
    exit 2
    ;;
esac
