#!/usr/bin/env bash
# Starts the debug server built by `cargo leptos build` for the browser tests: a fresh
# database in a temporary directory, with the agent account the tests log in with.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:?usage: serve.sh PORT}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export DATABASE_URL="sqlite://$dir/e2e.db"
export RUST_LOG=${RUST_LOG:-warn}
# Agents' tabs close between tests; their presence must end at once, not after the grace
# period a reload gets (that is tested in server/tests/queue.rs).
export AGENT_GRACE_MS=0
# A hidden agent tab counts as away after 1.5 s rather than a minute (team.spec.ts).
export AGENT_AWAY_MS=1500
# The secret the widget tests' host page signs its user with (widget.spec.ts).
export WIDGET_SECRET=e2e-widget-secret
export LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_OUTPUT_NAME=chat
# Support is an admin (sees every conversation, manages the team); Amy and Ben are agents.
printf '%s\n' "${E2E_AGENT_PASSWORD:-support-pass-1}" | target/debug/server agent add --admin Support
# Two more for the console test, which needs agents nobody else has given work to.
printf '%s\n' amy-pass-1 | target/debug/server agent add Amy
printf '%s\n' ben-pass-1 | target/debug/server agent add Ben
# Ada answers the customers of the accessibility tests (access.spec.ts), whose conversations
# stay hers.
printf '%s\n' ada-pass-1 | target/debug/server agent add Ada
printf '%s' 'Refunds take 3 to 5 working days.' | target/debug/server canned add refund
target/debug/server
