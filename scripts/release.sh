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
# Two WebAssembly bundles, one after the other in target/front (sharing every crate but `app`):
# the customers' first (`--project customer --frontend-only`: its site only, in
# target/site-customer, which bundle/build.rs puts into the binary), then the agents' with the
# binary (`--project chat`). Both modes then serve that binary as `make release` left it (the
# site inside it, as it is deployed).
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
# What the release is built from: a `make run` after a `make release` (or another `make run`
# that built) with none of it changed since serves the binary as it is, rather than have
# cargo-leptos run wasm-bindgen and compress the unchanged site again (about 70 s).
sources=(app frontend customer server bundle style public Cargo.toml Cargo.lock scripts/release.sh scripts/toolchain.sh)
built=target/release/.chat-built
if [ "$mode" = serve ] && [ -x target/release/chat ] && [ -f "$built" ] &&
  [ -z "$(find "${sources[@]}" -newer "$built" -print -quit)" ]; then
  echo "scripts/release.sh: target/release/chat is up to date with the sources: serving it" >&2
  exec target/release/chat
fi
# Both builds below, and any other release build of the binary (`make agent`), with the same
# flags (scripts/toolchain.sh).
export RUSTFLAGS="$CHAT_RELEASE_RUSTFLAGS"
# Marked before the build starts: a source changed while it runs is newer than the mark.
starting=$(mktemp target/.chat-building.XXXXXX)
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
trap 'stop_early; rm -f "$starting"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
lib_args=(${CHAT_LIB_CARGO_ARGS:+"--lib-cargo-args=$CHAT_LIB_CARGO_ARGS"})
cargo leptos build --release --precompress --project customer --frontend-only "${lib_args[@]}"
cargo leptos build --release --precompress --project chat "${lib_args[@]}"
# The binary is up to date with the sources as they were when the build started.
mv "$starting" "$built"
if [ "$mode" = serve ]; then
  trap - EXIT
  exec target/release/chat
fi
