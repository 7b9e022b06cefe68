#!/usr/bin/env bash
# The release build of `make release` (scripts/release.sh build) and `make run`
# (scripts/release.sh serve): cargo-leptos with `--precompress`, which builds the site,
# compresses it, and only then the `chat` binary that embeds it (docs/traps.md, "cargo-leptos
# builds the site and the server side by side"). One after the other, a fresh build would
# leave a core idle through most of the WebAssembly's compile: so the binary is built here
# beside it first, into target/release, while cargo-leptos builds the WebAssembly into
# target/front. When cargo-leptos reaches the binary, cargo waits for that build's lock on
# target/ and finds every crate made: only `bundle` compiles again, with the whole site.
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
# The very build cargo-leptos makes of the binary (its package, binary, features, and the
# environment of scripts/toolchain.sh): anything less selects other features of some crates
# (`cargo build -p server --lib` did, for a crate the proc-macros use, and so every crate
# above it was compiled twice). What it embeds of the site is whatever is there yet: the
# site's files change after, so cargo-leptos's own build runs bundle/build.rs again.
LEPTOS_SITE_ROOT=target/site cargo build --release -p bundle --bin chat --no-default-features \
  >target/release-early.log 2>&1 &
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
