#!/usr/bin/env bash
# Starts the server for the browser tests: a fresh database in a temporary directory, with
# the agent accounts the tests log in with. By default the release build that `make run`
# serves (`make release` builds it: target/release/chat, with the site inside it, both
# bundles, versioned names, as it is deployed); E2E_BUILD=debug takes the debug build of
# `make build` instead, for a quicker loop while writing tests, with the site read from
# target/site (the agents' bundle only).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:?usage: serve.sh PORT}
server=target/${E2E_BUILD:-release}/chat
[ -x "$server" ] || { echo "serve.sh: no $server (make release builds it)" >&2; exit 1; }
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
if [ "${E2E_BUILD:-release}" = debug ]; then export LEPTOS_SITE_ROOT=target/site; else unset LEPTOS_SITE_ROOT; fi
export LEPTOS_SITE_PKG_DIR=pkg LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_OUTPUT_NAME=chat
# Support is an admin (sees every conversation, manages the team); Amy and Ben are agents.
printf '%s\n' "${E2E_AGENT_PASSWORD:-support-pass-1}" | "$server" agent add --admin Support
# Two more for the console test, which needs agents nobody else has given work to.
printf '%s\n' amy-pass-1 | "$server" agent add Amy
printf '%s\n' ben-pass-1 | "$server" agent add Ben
# Ada answers the customers of the accessibility tests (access.spec.ts), whose conversations
# stay hers.
printf '%s\n' ada-pass-1 | "$server" agent add Ada
# Dot says she is busy and away (team.spec.ts): the queue passes her by meanwhile.
printf '%s\n' dot-pass-1 | "$server" agent add Dot
printf '%s' 'Refunds take 3 to 5 working days.' | "$server" canned add refund
"$server"
