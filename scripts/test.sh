#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests; the commands the README tells a
# user to type (scripts/check-commands.sh, which builds the release that `make run` serves);
# then the Playwright suite against that release build. Prints one closing line with the
# totals. Whatever it starts (the throwaway PostgreSQL and Redis, servers) is stopped when it
# ends: passed, failed or interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain.sh
source scripts/toolchain.sh

log() { printf '\033[1;34m[test]\033[0m %s\n' "$*"; }
started=$(date +%s)
mkdir -p target
rust_log=target/rust-tests.log

# The throwaway servers this run starts (unless given others), stopped however it ends.
own_postgres=0 own_redis=0
[ -z "${CHAT_TEST_POSTGRES_URL:-}" ] && own_postgres=1
[ -z "${CHAT_TEST_REDIS_URL:-}" ] && own_redis=1
stop_services() {
  [ "$own_postgres" = 1 ] && scripts/postgres.sh stop
  [ "$own_redis" = 1 ] && scripts/redis.sh stop
  return 0
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "Rust unit and integration tests"
# The storage tests make a database each on a throwaway PostgreSQL: start from none.
[ "$own_postgres" = 1 ] && scripts/postgres.sh reset
# The cluster tests take a Redis database each from a throwaway Redis: start from none.
[ "$own_redis" = 1 ] && scripts/redis.sh reset
set +e
# --show-output: the chaos test prints its counts (sent, acknowledged, delivered, ...).
cargo test -p app -p server -p bench --color never -- --show-output 2>&1 | tee "$rust_log"
rust_status=${PIPESTATUS[0]}
set -e
rust_passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/) s += $i } END { print s + 0 }' "$rust_log")
rust_failed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^failed/) s += $i } END { print s + 0 }' "$rust_log")
if [ "$rust_status" -ne 0 ] && [ "$rust_failed" -eq 0 ]; then
  # The tests did not build or a test binary died: that is a failure the totals must show.
  log "cargo test failed before reporting results (status $rust_status)"
  rust_failed=1
fi

log "The README's commands (make release, make run, make watch, make agent, server …)"
set +e
scripts/check-commands.sh 2>&1 | tee target/commands.log
commands_status=${PIPESTATUS[0]}
set -e
read -r commands_passed commands_failed < <(awk '/^commands: [0-9]+ passed, [0-9]+ failed$/ { print $2, $4 }' target/commands.log) || true
commands_passed=${commands_passed:-0}
commands_failed=${commands_failed:-1}
[ "$commands_status" -ne 0 ] && [ "$commands_failed" -eq 0 ] && commands_failed=1

log "Playwright, against the release build"
set +e
(cd end2end && E2E_BUILD=release npx playwright test)
e2e_status=$?
set -e
results=end2end/test-results/results.json
if [ -f "$results" ]; then
  read -r e2e_passed e2e_failed e2e_skipped < <(node -e '
    const s = require(process.argv[1]).stats;
    console.log(s.expected, s.unexpected + s.flaky, s.skipped);' "$PWD/$results")
else
  e2e_passed=0 e2e_failed=1 e2e_skipped=0
fi

stop_services
# Nothing this run started may outlive it.
leftover=$(for f in /tmp/chat-test-redis-*/redis.pid /tmp/chat-test-postgres-*/postmaster.pid; do
  [ -f "$f" ] && pid=$(head -n 1 "$f") && kill -0 "$pid" 2>/dev/null && echo "$pid ($f)"
done || true)
if [ -n "$leftover" ]; then
  log "still running after the tests: $leftover"
  rust_failed=$((rust_failed + 1))
fi

log "Rust: $rust_passed passed, $rust_failed failed; README commands: $commands_passed passed, $commands_failed failed; Playwright: $e2e_passed passed, $e2e_failed failed, $e2e_skipped skipped; $(( $(date +%s) - started ))s"
echo "tests: $((rust_passed + commands_passed + e2e_passed)) passed, $((rust_failed + commands_failed + e2e_failed)) failed, $e2e_skipped skipped"
[ "$rust_status" -eq 0 ] && [ "$commands_failed" -eq 0 ] && [ "$e2e_status" -eq 0 ] && [ "$e2e_skipped" -eq 0 ] && [ -z "$leftover" ]
