#!/usr/bin/env bash
# A throwaway Redis server on loopback for the cluster tests and benchmarks, from Debian's
# `redis-server` package (scripts/setup.sh installs it). Idempotent: starts the server
# unless it runs, then prints its URL. Nothing is saved to disk: the tests start it empty.
#
#   scripts/redis.sh [start]    start if needed; print the URL
#   scripts/redis.sh secure     start if needed a second one that takes only TLS and a password
#                               (its certificate signed by a CA made here); print its URL, then
#                               the CA's certificate file
#   scripts/redis.sh stop
#   scripts/redis.sh reset      stop both (the next start is empty)
#   CHAT_REDIS_PORT             another server beside the default one (the secure one: port + 1)
set -euo pipefail

# Below Linux's ephemeral ports (32768–60999): a test's outgoing loopback connection once held
# 56380 when the TLS server started, and it could not listen (docs/traps.md).
port=${CHAT_REDIS_PORT:-26379}
dir=/tmp/chat-test-redis-$port
secure_port=$((port + 1))
secure_dir=/tmp/chat-test-redis-$secure_port
password=chat-test-password

# The secure server's certificate for 127.0.0.1, signed by a throwaway CA (2 days).
make_certificates() {
  # Reused while good for another hour (they live in /tmp across runs).
  [ -f "$secure_dir/server.crt" ] && openssl x509 -checkend 3600 -noout -in "$secure_dir/server.crt" >/dev/null 2>&1 &&
    openssl x509 -checkend 3600 -noout -in "$secure_dir/ca.crt" >/dev/null 2>&1 && return 0
  (
    cd "$secure_dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj "/CN=chat test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
      -subj "/CN=127.0.0.1" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt 2>/dev/null
  )
}

secure_ping() {
  redis-cli --tls --cacert "$secure_dir/ca.crt" -h 127.0.0.1 -p "$secure_port" \
    -a "$password" --no-auth-warning ping >/dev/null 2>&1
}

stop_secure() {
  if [ -f "$secure_dir/redis.pid" ]; then
    kill "$(cat "$secure_dir/redis.pid")" 2>/dev/null || true
    for _ in $(seq 50); do secure_ping || break; sleep 0.1; done
    rm -f "$secure_dir/redis.pid"
  fi
}
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
  secure)
    if ! secure_ping; then
      mkdir -p "$secure_dir"
      make_certificates
      redis-server --bind 127.0.0.1 --port 0 --tls-port "$secure_port" \
        --tls-cert-file "$secure_dir/server.crt" --tls-key-file "$secure_dir/server.key" \
        --tls-ca-cert-file "$secure_dir/ca.crt" --tls-auth-clients no --requirepass "$password" \
        --dir "$secure_dir" --save '' --appendonly no --databases 1000 --daemonize yes \
        --pidfile "$secure_dir/redis.pid" --logfile "$secure_dir/redis.log"
      for _ in $(seq 50); do secure_ping && break; sleep 0.1; done
      secure_ping || { echo "redis.sh: the TLS redis-server did not start; see $secure_dir/redis.log" >&2; exit 1; }
    fi
    echo "rediss://:$password@127.0.0.1:$secure_port"
    echo "$secure_dir/ca.crt"
    ;;
  stop|reset)
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 || break; sleep 0.1; done
    stop_secure
    ;;
  *)
    echo "usage: $0 [start|secure|stop|reset]" >&2
    exit 2
    ;;
esac
