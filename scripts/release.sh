#!/usr/bin/env bash
# The release build of `make release` (scripts/release.sh build) and `make run`
# (scripts/release.sh serve): cargo-leptos with `--precompress`, which builds the site,
# compresses it, and only then the `chat` binary that embeds it (docs/traps.md, "cargo-leptos
# builds the site and the server side by side"). One after the other, a fresh build would
# leave a core idle through most of the WebAssembly's compile: so the server's crates
# (everything in the binary but the site) compile here beside it, into target/release, while
# cargo-leptos builds the WebAssembly into target/front. When cargo-leptos reaches the binary,
# cargo waits for that build's lock on target/ and finds the crates made; only `bundle` and
# the embedding crate are left.
#
# The early build's output goes to target/release-early.log: if it fails, cargo-leptos's own
# build of the binary fails the same way, and says why.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/release.sh build|serve}
case $mode in build | serve) ;; *) echo "scripts/release.sh: build or serve, not $mode" >&2; exit 2 ;; esac
# shellcheck source=scripts/toolchain.sh
source scripts/toolchain.sh
mkdir -p target
# The same package, features and environment (scripts/toolchain.sh) as cargo-leptos's build
# of `bundle`, whose crates are these plus the embedding crate (`cargo tree` shows no
# feature of a shared crate that differs).
cargo build --release -p server --lib >target/release-early.log 2>&1 &
early=$!
stop_early() {
  kill "$early" 2>/dev/null || true
  wait "$early" 2>/dev/null || true
}
trap stop_early EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cargo leptos "$mode" --release --precompress \
  ${CHAT_LIB_CARGO_ARGS:+"--lib-cargo-args=$CHAT_LIB_CARGO_ARGS"}
