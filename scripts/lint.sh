#!/usr/bin/env bash
# Formatting and lints, as `make lint` runs them: the whole tree formatted as rustfmt.toml
# says, and clippy with every warning an error, over every target of the server side (the
# `app` crate with its `ssr` feature, the server, the benchmark) and over the browser side
# (`frontend`, which builds `app` with `hydrate`, and `customer`, which builds it with `csr`
# and without the agents' console; checked for the host, which reads the same code as the
# WASM build without a second standard library).
#
#   scripts/lint.sh                  all three parts: fmt, server, browser
#   scripts/lint.sh fmt browser      only the parts named
#   scripts/lint.sh server-build     the server side's lints while compiling its tests
#
# `server-build` is how `make test` lints the server side: `cargo clippy` checks every
# dependency (metadata only) and then the tests compile every dependency again (code), about
# nine minutes of two cores spent twice on a fresh machine. Here the tests of every target
# (`cargo test --all-targets --no-run`, the targets `cargo clippy --all-targets` reads) are
# compiled with clippy's driver as the workspace's compiler (RUSTC_WORKSPACE_WRAPPER, as
# `cargo clippy` itself sets it): our crates are linted as they are compiled, dependencies
# are compiled once. Warnings do not stop the compile (the tests still run); any warning or
# error from our crates fails this part. scripts/test.sh runs the tests with the same
# wrapper (scripts/toolchain.sh `chat_clippy_wrapper`), so nothing compiles twice.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain.sh
source scripts/toolchain.sh
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(fmt server browser)
status=0
for part in "${parts[@]}"; do
  case $part in
    fmt)
      echo "[lint] cargo fmt --check"
      cargo fmt --all --check || status=1
      ;;
    server)
      echo "[lint] cargo clippy (server side)"
      cargo clippy -p app -p server -p bundle -p bench --all-targets --color never -- -D warnings || status=1
      ;;
    server-build)
      echo "[lint] clippy (server side), compiling the tests"
      chat_clippy_wrapper
      # The compiler's messages as JSON: each one from our crates is printed as rustc
      # renders it and counted; cargo replays a fresh crate's messages, so a second run
      # reports the same.
      set +e
      cargo test -p app -p server -p bundle -p bench --all-targets --no-run --color never \
        --message-format=json |
        python3 -c '
import json, sys
found = 0
seen = set()
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") != "compiler-message":
        continue
    diag = msg["message"]
    # A library'"'"'s finding comes again from its test build: each is counted once.
    rendered = diag.get("rendered") or diag["message"]
    if diag.get("level") in ("warning", "error") and diag.get("spans") and rendered not in seen:
        seen.add(rendered)
        found += 1
        sys.stdout.write(rendered)
print(f"[lint] {found} warnings or errors in our crates")
sys.exit(1 if found else 0)'
      codes=("${PIPESTATUS[@]}")
      set -e
      [ "${codes[0]}" -eq 0 ] || { echo "[lint] the compile failed (status ${codes[0]})"; status=1; }
      [ "${codes[1]}" -eq 0 ] || status=1
      ;;
    browser)
      echo "[lint] cargo clippy (browser side)"
      cargo clippy -p frontend --lib --color never -- -D warnings || status=1
      # The customers' bundle on its own: together with `frontend` its `app` would have the
      # agents' console and hydration too (cargo unites the features a build asks for).
      cargo clippy -p customer --lib --color never -- -D warnings || status=1
      ;;
    *)
      echo "lint.sh: no part '$part' (fmt, server, server-build, browser)" >&2
      exit 2
      ;;
  esac
done
[ "$status" -eq 0 ] || echo "[lint] failed: see the findings above"
exit $status
