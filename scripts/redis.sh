#!/usr/bin/env bash
# A throwaway Redis server on loopback for the cluster tests and benchmarks, from Debian's
# `redis-server` package (scripts/setup.sh installs it). Idempotent: starts the server
# unless it runs, then prints its URL. Nothing is saved to disk: the tests start it empty.
#
#   scripts/redis.sh [start]    start if needed; print the URL
#   scripts/redis.sh stop
#   scripts/redis.sh reset      stop (the next start is empty)
#   CHAT_REDIS_PORT             another server beside the default one
set -euo pipefail

port=${CHAT_REDIS_PORT:-56379}
dir=/tmp/chat-test-redis-$port
command -v redis-server >/dev/null || { echo "redis.sh: no redis-server here; scripts/setup.sh installs Debian's redis-server" >&2; exit 1; }

case ${1:-start} in
  start)
    if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
      mkdir -p "$dir"
      redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
        --databases 1000 --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --maxclients 10000
      for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
      redis-cli -p "$port" ping >/dev/null || { echo "redis.sh: redis-server did not start; see $dir/redis.log" >&2; exit 1; }
    fi
    echo "redis://127.0.0.1:$port"
    ;;
  stop|reset)
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 || break; sleep 0.1; done
    ;;
  *)
    echo "usage: $0 [start|stop|reset]" >&2
    exit 2
    ;;
esac
