#!/usr/bin/env bash
# The commands the README tells a user to type, run as typed, each checked for what the README
# says it does. `make test` runs this after the Rust tests and before Playwright (whose suite
# then runs against the release build made here), so a README command that breaks fails the
# run. Prints a line per check and closes with "commands: N passed, N failed".
#
#   scripts/check-commands.sh            every check
#   scripts/check-commands.sh run watch  only the checks named
#
# Checks (in this order; each one's output is in target/commands/NAME.log):
#   release   `make release`: target/release/chat, and target/release/chat with the site in
#             target/site/
#   cli       the `target/release/chat agent …` and `chat canned …` lines
#   deploy    the deploy section: the one file (target/release/chat) copied to an empty
#             directory and started as the systemd unit starts it (its time to serve); the
#             first run's setup link; pages, assets (compressed), widget; the Metrics and
#             Reports, REST API and webhook signature lines; the SQLite backup line while it runs; SIGTERM stops it
#   postgres  `createdb chat` and `DATABASE_URL=postgres://… chat agent add --admin alice`
#   nodes     two nodes on one PostgreSQL database and one Redis that takes only TLS and a
#             password, with REDIS_CA_FILE (the "Several nodes" lines)
#   run       `make run` serves the page and /healthz on http://127.0.0.1:3000
#   agent     `make agent NAME=alice ADMIN=1`, the password piped as a script would
#   watch     `make watch` serves, and reloads the page after a change under public/
#   pictures  `end2end/serve.sh` and `node end2end/screenshots.cjs` (into a scratch folder)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

logs=$root/target/commands
rm -rf "$logs"
mkdir -p "$logs"
work=$(mktemp -d)
password='readme-pass-1'

log() { printf '\033[1;34m[commands]\033[0m %s\n' "$*"; }

# --- processes started in the background: each in its own process group, stopped by its check --
groups=()
start_group() {
  # start_group VAR LOG CMD...: runs CMD in a session of its own (so one signal reaches make,
  # cargo-leptos and the server alike), output to LOG; its pid (= its group) goes into VAR.
  local var=$1 out=$2
  shift 2
  setsid "$@" >"$out" 2>&1 </dev/null &
  groups+=($!)
  printf -v "$var" '%s' $!
}
stop_group() {
  # stop_group PID: SIGTERM to the whole group (make, cargo-leptos, the server), then SIGKILL
  # after 30 s; returns the leader's exit status.
  local pid=$1 status killed=0
  kill -TERM -- "-$pid" 2>/dev/null
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "process group $pid still running 30 s after SIGTERM: killed" >&2
    kill -KILL -- "-$pid" 2>/dev/null
    killed=1
  fi
  wait "$pid" 2>/dev/null
  status=$?
  # Whatever the leader left behind in its group goes too; then the group is forgotten (its
  # number may be given to another process later).
  kill -KILL -- "-$pid" 2>/dev/null
  local kept=() g
  for g in "${groups[@]}"; do [ "$g" = "$pid" ] || kept+=("$g"); done
  groups=("${kept[@]}")
  [ "$killed" -eq 0 ] || return 137
  return "$status"
}
own_redis=""
stop_all() {
  # Each check's subshell calls this as it ends, however it ends: its background process
  # groups, and the Redis it started (check_nodes).
  for pid in "${groups[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  [ -z "$own_redis" ] || CHAT_REDIS_PORT=$own_redis scripts/redis.sh stop
  return 0
}
cleanup() {
  rm -rf "$work" "$root/public/$watch_asset"
}
watch_asset=watch-check.txt
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- small helpers --------------------------------------------------------------------
wait_http() {
  # wait_http URL SECONDS [PID]: until URL answers 200; fails early if PID has exited.
  local url=$1 seconds=$2 pid=${3:-}
  local deadline=$((SECONDS + seconds))
  while [ $SECONDS -lt $deadline ]; do
    curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "exited before $url answered" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "$url did not answer within $seconds s" >&2
  return 1
}
port_free() {
  # port_free PORT: fails, saying so, when something already listens there.
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    echo "port $1 is already in use: stop whatever listens there and run again" >&2
    return 1
  fi
}
expect_in() {
  # expect_in WHAT HAYSTACK NEEDLE: fails with both shown when NEEDLE is missing.
  if ! grep -qF -- "$3" <<<"$2"; then
    printf '%s: expected %q in:\n%s\n' "$1" "$3" "$2" >&2
    return 1
  fi
}
expect_site() {
  # expect_site BASE: the page, the bundle it names (its script, WebAssembly and styles:
  # versioned names from the `chat` binary's own site, a customer's bundle on a customer's
  # page; plain names from a directory, under `make watch`), and the widget are served. The
  # names the page loads are left in site_js, site_wasm and site_css.
  local base=$1 page
  page=$(curl -fsS "$base/") || return 1
  expect_in "the page" "$page" '<title>' || return 1
  site_js=$(grep -oE '/pkg/[A-Za-z0-9._-]+\.js' <<<"$page" | head -n 1)
  site_wasm=$(grep -oE '/pkg/[A-Za-z0-9._-]+\.wasm' <<<"$page" | head -n 1)
  site_css=$(grep -oE '/pkg/[A-Za-z0-9._-]+\.css' <<<"$page" | head -n 1)
  if [ -z "$site_js" ] || [ -z "$site_wasm" ] || [ -z "$site_css" ]; then
    printf 'the page names no script, WebAssembly or styles under /pkg/:\n%s\n' "$page" >&2
    return 1
  fi
  expect_in "/healthz" "$(curl -fsS "$base/healthz")" ok || return 1
  curl -fsS -o "$work/chat.wasm" "$base$site_wasm" || return 1
  [ "$(head -c 4 "$work/chat.wasm" | od -An -tx1 | tr -d ' ')" = 0061736d ] ||
    { echo "$site_wasm is not WebAssembly" >&2; return 1; }
  curl -fsS -o /dev/null "$base$site_js" || return 1
  curl -fsS -o /dev/null "$base$site_css" || return 1
  expect_in "/widget.js" "$(curl -fsS "$base/widget.js")" support-chat || return 1
  expect_in "the widget's page" "$(curl -fsS "$base/widget")" "$site_wasm" || return 1
}
expect_built_in_site() {
  # expect_built_in_site BASE: after expect_site, what the `chat` binary's own site adds: a
  # customer's page loads the customers' bundle and the first run's page the agents', under
  # versioned names, sent compressed and cached as immutable.
  local base=$1 setup headers
  [[ $site_wasm =~ ^/pkg/customer\.[0-9a-f]{16}\.wasm$ ]] ||
    { echo "a customer's page loads $site_wasm, not the customers' bundle" >&2; return 1; }
  setup=$(curl -fsS "$base/setup") || return 1
  grep -qE '/pkg/chat\.[0-9a-f]{16}\.wasm' <<<"$setup" ||
    { printf "the first run's page names no versioned agents' bundle:\n%s\n" "$setup" >&2; return 1; }
  headers=$(curl -fsS -H 'Accept-Encoding: gzip, br' -D - -o /dev/null "$base$site_wasm") || return 1
  expect_in "the WebAssembly, compressed" "$headers" 'content-encoding: br' || return 1
  expect_in "the WebAssembly, cached" "$headers" 'immutable' || return 1
}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
postgres_url() {
  # The PostgreSQL server the tests use: CHAT_TEST_POSTGRES_URL when given (as for the Rust
  # tests), else the throwaway one of scripts/postgres.sh, started if needed.
  if [ -n "${CHAT_TEST_POSTGRES_URL:-}" ]; then echo "$CHAT_TEST_POSTGRES_URL"; else scripts/postgres.sh start; fi
}
fresh_database() {
  # fresh_database NAME: an empty database NAME on that server; prints its URL.
  local url
  url=$(postgres_url) || return 1
  "$pg_bin/dropdb" --if-exists --maintenance-db="$url" "$1" && "$pg_bin/createdb" --maintenance-db="$url" "$1" || return 1
  echo "${url%/*}/$1"
}
drop_database() {
  "$pg_bin/dropdb" --maintenance-db="$(postgres_url)" "$1"
}

# --- the checks -------------------------------------------------------------------------
check_release() {
  make release || return 1
  [ -x target/release/chat ] || { echo "no target/release/chat" >&2; return 1; }
  # The site, and the compressed copies that went into the binary with it.
  for f in site/pkg/chat.{js,wasm,css}{,.br} site-customer/pkg/chat.{js,wasm}{,.br}; do
    [ -s "target/$f" ] || { echo "no target/$f" >&2; return 1; }
  done
  ls -l target/release/chat target/site/pkg/ target/site-customer/pkg/
}

check_cli() {
  # The Agents section's lines, with the built binary, on the default database path
  # (./data/chat.db) in a scratch directory.
  local dir=$work/cli out
  mkdir -p "$dir" && cd "$dir" || return 1
  ln -s "$root/target" target
  local PASSWORD=$password
  printf '%s\n' "$PASSWORD" | target/release/chat agent add --admin alice || return 1
  printf '%s\n' "$PASSWORD" | target/release/chat agent add bob || return 1
  out=$(target/release/chat agent list) || return 1
  [ "$out" = $'alice\tadmin\nbob' ] || { printf 'agent list said:\n%s\n' "$out" >&2; return 1; }
  target/release/chat agent remove bob || return 1
  out=$(target/release/chat agent list) || return 1
  [ "$out" = $'alice\tadmin' ] || { printf 'after remove, agent list said:\n%s\n' "$out" >&2; return 1; }
  printf '%s' 'Refunds take 3 to 5 working days.' | target/release/chat canned add refund || return 1
  out=$(target/release/chat canned list) || return 1
  [ "$out" = $'/refund\tRefunds take 3 to 5 working days.' ] || { printf 'canned list said:\n%s\n' "$out" >&2; return 1; }
  target/release/chat canned remove refund || return 1
  [ -z "$(target/release/chat canned list)" ] || return 1
  [ -f data/chat.db ] || { echo "no ./data/chat.db (the default database)" >&2; return 1; }
}

check_deploy() {
  # "copy target/release/chat to the host" (that one file, into an empty directory) and
  # `./chat` there, as typed (no setting at all: port 3000, ./data/chat.db). On its empty
  # database it prints the first admin's setup link, which creates alice (as the setup page
  # would send it). Then the systemd unit: WorkingDirectory, LEPTOS_SITE_ADDR, DATABASE_URL.
  local srv=$work/srv/chat port=3298 pid status started link token
  mkdir -p "$srv" || return 1
  cp target/release/chat "$srv/chat" || return 1
  cd "$srv" || return 1
  port_free 3000 || return 1
  start_group pid "$work/deploy-bare.log" env -u LEPTOS_SITE_ROOT -u LEPTOS_SITE_ADDR -u DATABASE_URL ./chat
  wait_http "http://127.0.0.1:3000/healthz" 30 "$pid" || { cat "$work/deploy-bare.log"; return 1; }
  expect_site "http://127.0.0.1:3000" || return 1
  link=$(grep -o 'http://127\.0\.0\.1:3000/setup#[A-Za-z0-9_-]*' "$work/deploy-bare.log") ||
    { echo "no setup link in the log:" >&2; cat "$work/deploy-bare.log"; return 1; }
  expect_built_in_site "http://127.0.0.1:3000" || return 1
  token=${link#*#}
  expect_in "the first admin, made with the link" "$(curl -sS -H 'Content-Type: application/json' \
    -H 'Origin: http://127.0.0.1:3000' -d "{\"token\":\"$token\",\"name\":\"alice\",\"password\":\"$password\"}" \
    http://127.0.0.1:3000/setup/admin)" '"admin":true' || return 1
  stop_group "$pid" || { cat "$work/deploy-bare.log"; return 1; }
  [ -f data/chat.db ] || { echo "no ./data/chat.db" >&2; return 1; }
  expect_in "agent list after the setup" "$(./chat agent list)" $'alice\tadmin' || return 1
  port_free $port || return 1
  local METRICS_TOKEN
  METRICS_TOKEN=$(openssl rand -hex 16) || return 1
  started=$(date +%s%N)
  LEPTOS_SITE_ADDR=127.0.0.1:$port DATABASE_URL=sqlite://$srv/data/chat.db \
    TRUST_FORWARDED_FOR=true METRICS_TOKEN=$METRICS_TOKEN start_group pid "$work/deploy-server.log" "$srv/chat"
  # How long from the start to serving, polled every 10 ms.
  for _ in $(seq 3000); do
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/deploy-server.log"; return 1; }
    sleep 0.01
  done
  wait_http "http://127.0.0.1:$port/healthz" 1 "$pid" || { cat "$work/deploy-server.log"; return 1; }
  log "deploy: the copied chat binary served $(( ($(date +%s%N) - started) / 1000000 )) ms after it was started"
  expect_site "http://127.0.0.1:$port" || return 1
  # Its site comes from inside it, compressed.
  expect_built_in_site "http://127.0.0.1:$port" || return 1
  # alice exists: no link this time.
  if grep -q '/setup#' "$work/deploy-server.log"; then
    echo "a setup link although an admin exists" >&2; return 1
  fi
  # The Metrics paragraph's curl line (on this check's port), and a scrape without the token.
  expect_in "/metrics" "$(curl -fsS -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$port/metrics")" \
    'chat_connections{' || return 1
  expect_in "/metrics without the token" \
    "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")" 401 || return 1
  # The Reports paragraph's two curl lines (on this check's port): alice logs in, then
  # today's report as CSV.
  local day
  day=$(date -u +%F)
  curl -fsS -c "$work/cookies.txt" -H 'Content-Type: application/json' \
    -d "{\"name\": \"alice\", \"password\": \"$password\"}" "http://127.0.0.1:$port/session" >/dev/null || return 1
  expect_in "the report" \
    "$(curl -fsS -b "$work/cookies.txt" "http://127.0.0.1:$port/reports?from=$day&to=$day&format=days.csv&lang=en")" \
    "Day,Conversations,Resolved,Customer messages,Agent messages" || return 1
  # The REST API paragraph's curl lines (on this check's port), with a token made as the
  # console makes it (alice's cookie); conversation 42 does not exist here: its refusal, in
  # the API's words. And the OpenAPI document.
  local TOKEN
  TOKEN=$(curl -fsS -b "$work/cookies.txt" -H 'Content-Type: application/json' \
    -d '{"name": "readme", "write": true}' "http://127.0.0.1:$port/api-tokens" |
    sed -n 's/.*"token":"\(lct_[A-Za-z0-9_-]*\)".*/\1/p')
  [ -n "$TOKEN" ] || { echo "no API token made" >&2; return 1; }
  expect_in "the API's queued conversations" \
    "$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/api/v1/conversations?status=queued")" \
    '"conversations":[]' || return 1
  expect_in "the API's message to a conversation that is not there" \
    "$(curl -sS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
      -d '{"text": "Your parcel left the depot today.", "bot": "Parcel bot", "client_id": "crm-4711"}' \
      "http://127.0.0.1:$port/api/v1/conversations/42/messages")" '"code":"unknown_conversation"' || return 1
  expect_in "the OpenAPI document" "$(curl -fsS "http://127.0.0.1:$port/api/v1/openapi.json")" \
    '"/api/v1/conversations/{id}/messages"' || return 1
  # The Webhooks paragraph's shell line computes what the server signs: the value the unit
  # test of webhooks::sign asserts for the same secret, timestamp and body.
  local TIMESTAMP=1700000000 BODY='{"a":1}' SECRET=secret
  expect_in "a webhook's signature by openssl" \
    "$(printf '%s.%s' "$TIMESTAMP" "$BODY" | openssl dgst -sha256 -hmac "$SECRET")" \
    49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686 || return 1
  # The backup line of the Storage paragraph, while the server runs.
  sqlite3 data/chat.db ".backup backup.db" || return 1
  expect_in "the backup" "$(DATABASE_URL=sqlite://backup.db ./chat agent list)" alice || return 1
  # And the files' line after it (the directory is made at the server's start).
  tar -czf attachments.tgz -C data attachments || return 1
  expect_in "the files' backup" "$(tar -tzf attachments.tgz)" attachments/ || return 1
  # SIGTERM (the unit's KillSignal) stops it, cleanly.
  stop_group "$pid"
  status=$?
  cat "$work/deploy-server.log"
  [ "$status" -eq 0 ] || { echo "the server exited with $status on SIGTERM" >&2; return 1; }
}

check_postgres() {
  # `createdb chat`, against the test server (the name is the check's own).
  local db
  db=$(fresh_database chat_readme) || return 1
  printf '%s\n' "$password" | DATABASE_URL=$db target/release/chat agent add --admin alice || return 1
  expect_in "agent list on PostgreSQL" "$(DATABASE_URL=$db target/release/chat agent list)" $'alice\tadmin' || return 1
  drop_database chat_readme
}

nodes_redis_port=26399
check_nodes() {
  # Two nodes, one PostgreSQL database, one Redis that takes only TLS and a password, as the
  # README's lines have it (a Redis of this check's own, stopped when the check ends however
  # it ends). An agent logged in on one node receives a message a customer sends on the
  # other: the nodes share who is online and deliver to each other.
  local db redis ca secure a b ok=0
  db=$(fresh_database chat_nodes) || return 1
  port_free 3296 && port_free 3297 && port_free $((nodes_redis_port + 1)) || return 1
  own_redis=$nodes_redis_port
  secure=$(CHAT_REDIS_PORT=$nodes_redis_port scripts/redis.sh secure) || return 1
  redis=$(sed -n 1p <<<"$secure")
  ca=$(sed -n 2p <<<"$secure")
  printf '%s\n' "$password" | DATABASE_URL=$db target/release/chat agent add --admin alice || return 1
  DATABASE_URL=$db REDIS_URL=$redis REDIS_CA_FILE=$ca LEPTOS_SITE_ADDR=127.0.0.1:3296 \
    start_group a "$work/node-a.log" target/release/chat
  DATABASE_URL=$db REDIS_URL=$redis REDIS_CA_FILE=$ca LEPTOS_SITE_ADDR=127.0.0.1:3297 \
    start_group b "$work/node-b.log" target/release/chat
  if wait_http http://127.0.0.1:3296/healthz 30 "$a" && wait_http http://127.0.0.1:3297/healthz 30 "$b" &&
    expect_site http://127.0.0.1:3297; then
    # The tutorial's client library (end2end's socket.io-client). The customer retries while
    # node B has not yet heard that alice is online (presence crosses Redis asynchronously).
    NODE_PATH=$root/end2end/node_modules node -e '
      const { io } = require("socket.io-client");
      const [a, b, password] = process.argv.slice(1);
      const fail = (why) => { console.error(why); process.exit(1); };
      setTimeout(() => fail("node A did not receive the message from node B within 30 s"), 30000);
      const text = "across the nodes " + Date.now();
      const agent = io(a, { reconnection: false, transports: ["websocket"] });
      agent.on("connect", () => agent.emit("login", { name: "alice", role: "agent", password }));
      agent.on("login_error", (e) => fail("alice on node A: " + JSON.stringify(e)));
      agent.on("message", (m) => {
        if (m.from === "nodes-check" && m.message === text) { console.log("alice on node A received:", text); process.exit(0); }
      });
      agent.on("login_success", () => {
        const customer = io(b, { reconnection: false, transports: ["websocket"] });
        const send = () => customer.emit("private_message", { to: "alice", message: text });
        let tries = 0;
        customer.on("connect", () => customer.emit("login", "nodes-check"));
        customer.on("login_error", (e) => fail("the customer on node B: " + JSON.stringify(e)));
        customer.on("login_success", send);
        customer.on("error", (e) => {
          console.log("node B said:", JSON.stringify(e));
          if (++tries < 50) setTimeout(send, 200); else fail("node B kept refusing the message");
        });
      });
    ' http://127.0.0.1:3296 http://127.0.0.1:3297 "$password" || ok=1
  else
    ok=1
  fi
  stop_group "$a"
  stop_group "$b"
  drop_database chat_nodes
  cat "$work/node-a.log" "$work/node-b.log"
  return $ok
}

check_run() {
  # `make run`, as typed (its database in a scratch directory, not the checkout's data/).
  local pid ok=0
  port_free 3000 || return 1
  DATABASE_URL=sqlite://$work/run/chat.db start_group pid "$work/run.log" make run
  wait_http http://127.0.0.1:3000/healthz 900 "$pid" && expect_site http://127.0.0.1:3000 &&
    expect_built_in_site http://127.0.0.1:3000 || ok=1
  stop_group "$pid"
  cat "$work/run.log"
  return $ok
}

check_agent() {
  local out
  out=$(printf '%s\n' "$password" | DATABASE_URL=sqlite://$work/agent/chat.db make agent NAME=alice ADMIN=1) ||
    { echo "$out"; return 1; }
  expect_in "make agent" "$out" "added admin alice" || return 1
  expect_in "agent list" "$(DATABASE_URL=sqlite://$work/agent/chat.db target/release/chat agent list)" $'alice\tadmin'
}

check_watch() {
  # `make watch` on other ports than `make run` (cargo-leptos reads LEPTOS_SITE_ADDR and
  # LEPTOS_RELOAD_PORT): it serves; a file added under public/ is served and the browser is
  # told to reload (cargo-leptos' live-reload socket). Its debug site goes to a folder of its
  # own: in target/site it would replace the release site the browser tests run against.
  local pid ok=0 token
  port_free 3294 && port_free 3295 || return 1
  LEPTOS_SITE_ROOT=target/site-watch LEPTOS_SITE_ADDR=127.0.0.1:3294 LEPTOS_RELOAD_PORT=3295 \
    DATABASE_URL=sqlite://$work/watch/chat.db \
    start_group pid "$work/watch.log" make watch
  if wait_http http://127.0.0.1:3294/healthz 1200 "$pid" && expect_site http://127.0.0.1:3294; then
    # A page as a browser has it: connected to the reload socket, waiting for the word.
    node --experimental-websocket -e '
      const ws = new WebSocket("ws://127.0.0.1:3295/live_reload");
      const timer = setTimeout(() => { console.error("no reload within 120 s"); process.exit(1); }, 120000);
      ws.onopen = () => console.log("open");
      // cargo-leptos sends {"all":true} for a full reload (and {"css":…} for styles only).
      ws.onmessage = (m) => {
        console.log("reload socket said:", String(m.data));
        let word;
        try { word = JSON.parse(String(m.data)); } catch { return; }
        if (word && word.all === true) { clearTimeout(timer); process.exit(0); }
      };
      ws.onerror = (e) => { console.error("reload socket:", e.message); process.exit(1); };
    ' >"$work/reload.log" 2>&1 &
    local listener=$!
    for _ in $(seq 100); do grep -q open "$work/reload.log" && break; sleep 0.1; done
    # cargo-leptos starts watching files only after its server answers, so a file written
    # at once can go unseen (seen here, once in two runs): write it again, with a new token,
    # every 10 s until one is served (2 minutes at most).
    local served="" attempt
    for attempt in $(seq 12); do
      token="changed $attempt $(date +%s%N)"
      printf '%s\n' "$token" >"public/$watch_asset"
      for _ in $(seq 20); do
        served=$(curl -fsS "http://127.0.0.1:3294/$watch_asset" 2>/dev/null) && [ "$served" = "$token" ] && break 2
        sleep 0.5
      done
    done
    [ "$served" = "$token" ] || { echo "the new file under public/ was not served: $served" >&2; ok=1; }
    wait "$listener" || ok=1
    cat "$work/reload.log"
  else
    ok=1
  fi
  rm -f "public/$watch_asset"
  stop_group "$pid"
  tail -n 40 "$work/watch.log"
  return $ok
}

check_pictures() {
  local pid ok=0
  port_free 3290 || return 1
  E2E_BUILD=release start_group pid "$work/pictures-server.log" end2end/serve.sh 3290
  wait_http http://127.0.0.1:3290/healthz 60 "$pid" || { cat "$work/pictures-server.log"; stop_group "$pid"; return 1; }
  node end2end/screenshots.cjs http://127.0.0.1:3290 "$work/pictures" || ok=1
  for f in widget-en.png widget-zh.png console-profile.png; do
    [ -s "$work/pictures/$f" ] || { echo "no $f" >&2; ok=1; }
  done
  stop_group "$pid"
  return $ok
}

all=(release cli deploy postgres nodes run agent watch pictures)
chosen=("$@")
[ ${#chosen[@]} -eq 0 ] && chosen=("${all[@]}")
passed=0
failed=0
for name in "${chosen[@]}"; do
  declare -F "check_$name" >/dev/null || { echo "no check named $name (${all[*]})" >&2; exit 2; }
  started=$SECONDS
  # Each check in a subshell of its own, from the repository's root; whatever it started in
  # the background is stopped when it ends, however it ends.
  if (cd "$root" && trap stop_all EXIT && "check_$name") >"$logs/$name.log" 2>&1; then
    passed=$((passed + 1))
    log "ok      $name ($((SECONDS - started)) s)"
  else
    failed=$((failed + 1))
    log "FAILED  $name ($((SECONDS - started)) s); the end of target/commands/$name.log:"
    tail -n 30 "$logs/$name.log" | sed 's/^/    /'
  fi
done
echo "commands: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
