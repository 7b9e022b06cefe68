#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests, then the Playwright suite against
# a freshly built site. Prints one closing line with the totals.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain.sh
source scripts/toolchain.sh
lib_args=()
[ -n "$CHAT_LIB_CARGO_ARGS" ] && lib_args=("--lib-cargo-args=$CHAT_LIB_CARGO_ARGS")

log() { printf '\033[1;34m[test]\033[0m %s\n' "$*"; }
started=$(date +%s)
mkdir -p target
rust_log=target/rust-tests.log

log "Rust unit and integration tests"
# The storage tests make a database each on a throwaway PostgreSQL: start from none.
[ -z "${CHAT_TEST_POSTGRES_URL:-}" ] && scripts/postgres.sh reset
# The cluster tests take a Redis database each from a throwaway Redis: start from none.
[ -z "${CHAT_TEST_REDIS_URL:-}" ] && scripts/redis.sh reset
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

log "Building the site for the browser tests"
cargo leptos build "${lib_args[@]}"

log "Playwright"
set +e
(cd end2end && npx playwright test)
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

log "Rust: $rust_passed passed, $rust_failed failed; Playwright: $e2e_passed passed, $e2e_failed failed, $e2e_skipped skipped; $(( $(date +%s) - started ))s"
echo "tests: $((rust_passed + e2e_passed)) passed, $((rust_failed + e2e_failed)) failed, $e2e_skipped skipped"
[ "$rust_status" -eq 0 ] && [ "$e2e_status" -eq 0 ] && [ "$e2e_skipped" -eq 0 ]
