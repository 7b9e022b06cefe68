#!/usr/bin/env bash
# Runs every test: the lints (scripts/lint.sh); the Rust unit and integration tests; the
# commands the README tells a user to type (scripts/check-commands.sh, which builds the
# release that `make run` serves); then the Playwright suite against that release build.
# Installs what is missing first (scripts/setup.sh). Prints one closing line with the
# totals. Whatever it starts (the throwaway PostgreSQL and Redis, servers) is stopped when it
# ends: passed, failed or interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."

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

# Each phase runs in a process group of its own, waited for in the background: a signal to
# this script (Ctrl-C, or SIGTERM to it alone) stops the phase's whole group at once, where
# bash would otherwise act on it only after the phase ended by itself.
phase="" prebuild=""
run_phase() {
  setsid "$@" &
  phase=$!
  local status=0
  wait "$phase" || status=$?
  phase=""
  return "$status"
}
on_signal() {
  local pid
  for pid in $phase $prebuild; do
    kill -TERM -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

log "Setup: whatever is missing (scripts/setup.sh)"
run_phase scripts/setup.sh toolchain
# shellcheck source=scripts/toolchain.sh
source scripts/toolchain.sh
# On a fresh machine the setup compiles its tools for about 20 minutes: the lints run and
# the tests compile beside it (in a group of their own; output in target/lint.log), using
# the core that one compile's serial stretches leave idle. On a warm machine both are done
# at once. The server side's lints are the tests' own compile, through clippy's driver
# (scripts/lint.sh server-build says why); the tests then run with the same driver, so that
# nothing compiles twice.
rm -f target/lint.status
setsid bash -c 'scripts/lint.sh fmt server-build browser >target/lint.log 2>&1; echo $? >target/lint.status' </dev/null &
prebuild=$!
setup_status=0
run_phase scripts/setup.sh all || setup_status=$?
prebuild_status=0
wait "$prebuild" || prebuild_status=$?
prebuild=""
if [ "$setup_status" -ne 0 ]; then
  log "setup failed (status $setup_status): nothing can be tested"
  echo "tests: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
# A failed compile shows again, in full, in the tests' own run below.
[ "$prebuild_status" -eq 0 ] || log "the lints or compiling the tests beside the setup failed (target/lint.log); the test run says why"

log "Lint (scripts/lint.sh: rustfmt, clippy with warnings as errors)"
lint_passed=0 lint_failed=0
if [ "$(cat target/lint.status 2>/dev/null)" = 0 ]; then
  lint_passed=1
  log "lint passed"
else
  lint_failed=1
  log "LINT FAILED; the end of target/lint.log:"
  # The findings, without the long list of crates compiled (which would push them out).
  grep -v -E '^ *(Compiling|Checking|Fresh|Executable|Finished|Downloaded|Downloading) ' target/lint.log 2>/dev/null |
    tail -n 80 | sed 's/^/    /'
fi

log "Rust unit and integration tests"
# The storage tests make a database each on a throwaway PostgreSQL: start from none.
[ "$own_postgres" = 1 ] && scripts/postgres.sh reset
# The cluster tests take a Redis database each from a throwaway Redis: start from none.
[ "$own_redis" = 1 ] && scripts/redis.sh reset
# --show-output: the chaos test prints its counts (sent, acknowledged, delivered, ...).
rust_status=0
rust_started=$SECONDS
# The driver the tests were compiled with (scripts/lint.sh server-build): nothing recompiles.
chat_clippy_wrapper || log "no clippy driver: the tests compile again with the plain compiler"
run_phase bash -o pipefail -c 'cargo test -p app -p server -p bundle -p bench --color never -- --show-output 2>&1 | tee "$0"' \
  "$rust_log" || rust_status=$?
rust_passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/) s += $i } END { print s + 0 }' "$rust_log")
rust_failed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^failed/) s += $i } END { print s + 0 }' "$rust_log")
if [ "$rust_status" -ne 0 ] && [ "$rust_failed" -eq 0 ]; then
  # The tests did not build or a test binary died: that is a failure the totals must show.
  log "cargo test failed before reporting results (status $rust_status)"
  rust_failed=1
fi

# The README's commands run as a user types them: with the toolchain's own compiler.
unset RUSTC_WORKSPACE_WRAPPER
log "The README's commands (make release, make run, make watch, make agent, chat …)"
rust_seconds=$((SECONDS - rust_started))
commands_status=0
commands_started=$SECONDS
run_phase bash -o pipefail -c 'scripts/check-commands.sh 2>&1 | tee target/commands.log' || commands_status=$?
read -r commands_passed commands_failed < <(awk '/^commands: [0-9]+ passed, [0-9]+ failed$/ { print $2, $4 }' target/commands.log) || true
commands_passed=${commands_passed:-0}
commands_failed=${commands_failed:-1}
[ "$commands_status" -ne 0 ] && [ "$commands_failed" -eq 0 ] && commands_failed=1

commands_seconds=$((SECONDS - commands_started))
e2e_started=$SECONDS
results=end2end/test-results/results.json
rm -f "$results"
e2e_status=0
if grep -q 'ok      release ' target/commands.log; then
  log "Playwright, against the release build"
  run_phase bash -c 'cd end2end && E2E_BUILD=release exec npx playwright test' || e2e_status=$?
else
  # Without this run's release build the suite would test whatever an earlier build left.
  log "Playwright not run: the release build (the README check 'release') did not pass"
  e2e_status=1
fi
e2e_seconds=$((SECONDS - e2e_started))
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

log "Lint: $([ "$lint_passed" = 1 ] && echo passed || echo FAILED); Rust: $rust_passed passed, $rust_failed failed (${rust_seconds} s); README commands: $commands_passed passed, $commands_failed failed (${commands_seconds} s); Playwright: $e2e_passed passed, $e2e_failed failed, $e2e_skipped skipped (${e2e_seconds} s); $(( $(date +%s) - started )) s in all"
echo "tests: $((lint_passed + rust_passed + commands_passed + e2e_passed)) passed, $((lint_failed + rust_failed + commands_failed + e2e_failed)) failed, $e2e_skipped skipped"
[ "$lint_failed" -eq 0 ] && [ "$rust_status" -eq 0 ] && [ "$commands_failed" -eq 0 ] && [ "$e2e_status" -eq 0 ] && [ "$e2e_skipped" -eq 0 ] && [ -z "$leftover" ]
