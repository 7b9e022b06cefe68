#!/usr/bin/env bash
# Formatting and lints, as `make lint` and `make test` (first) run them: the whole tree
# formatted as rustfmt.toml says, and clippy with every warning an error, over every target
# of the server side (the `app` crate with its `ssr` feature, the server, the benchmark) and
# over the browser side (`frontend`, which builds `app` with `hydrate`; checked for the host,
# which reads the same code as the WASM build without a second standard library).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain.sh
source scripts/toolchain.sh
status=0
echo "[lint] cargo fmt --check"
cargo fmt --all --check || status=1
echo "[lint] cargo clippy (server side)"
cargo clippy -p app -p server -p bench --all-targets --color never -- -D warnings || status=1
echo "[lint] cargo clippy (browser side)"
cargo clippy -p frontend --lib --color never -- -D warnings || status=1
exit $status
