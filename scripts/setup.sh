#!/usr/bin/env bash
# Installs whatever the build and the tests need and is missing. Idempotent, and quick when
# everything is already there. Called by `make run` and `make test`; safe to run by hand.
#
#   scripts/setup.sh           everything (toolchain, cargo-leptos, wasm-bindgen, chromium, postgresql, redis, npm)
#   scripts/setup.sh build     only what building and serving needs
#   scripts/setup.sh toolchain only the Rust toolchain (scripts/test.sh compiles the tests
#                              with it while the rest installs)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
what=${1:-all}

CARGO_LEPTOS_VERSION=0.3.11
# Build tools are compiled once per machine, and on a fresh CI machine that compile is most
# of the run: without LTO and with parallel codegen they build much faster, and run no slower
# for what they do here. The optimisation level is each tool's (tool_in_background):
# wasm-bindgen-cli at 1 (4m15s instead of 5m35s); cargo-leptos at 0, which mostly runs other
# programs (cargo, wasm-bindgen, wasm-opt): 12.4 CPU-minutes to compile instead of 23.4 at
# opt-level 1, and a `cargo leptos build --release` with nothing to compile 29.4 s instead of
# 29.1 (measured 2026-12-03, docs/toolchain.md).
tool_profile=(CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16)
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

apt_updated=0
apt_install() {
  # apt_install PKG...: installs the Debian packages that are not installed yet.
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "setup: please install ${missing[*]} (no apt-get here)" >&2; exit 1; }
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  if [ $apt_updated -eq 0 ]; then
    log "apt-get update"
    $sudo apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- Rust toolchain able to build wasm32 -------------------------------------------------
command -v rustup >/dev/null || { echo "setup: rustup is required (https://rustup.rs)" >&2; exit 1; }
# shellcheck source=scripts/toolchain.sh
. scripts/toolchain.sh
if [ "$CHAT_WASM_MODE" = build-std ]; then
  # No wasm32 std in the active toolchain, and rustup may not be able to download one:
  # Debian's rustc-web ships a recent compiler with its library sources, so std is built
  # for wasm32 with -Zbuild-std, and lld-22 provides wasm-ld.
  # rust-web-clippy and rustfmt-web: `make lint` with the same compiler.
  apt_install rustc-web cargo-web rust-web-src lld-22 rust-web-clippy rustfmt-web
  if ! rustup toolchain list | grep -q '^deb-web'; then
    log "rustup toolchain link deb-web /usr"
    rustup toolchain link deb-web /usr
  fi
fi
if [ "$CHAT_WASM_MODE" = native ] && ! { cargo clippy --version && cargo fmt --version; } >/dev/null 2>&1; then
  log "rustup component add clippy rustfmt (for make lint)"
  rustup component add clippy rustfmt
fi
log "toolchain: $CHAT_WASM_MODE ($(rustc --version))"

[ "$what" = toolchain ] && { log "ready ($SECONDS s)"; exit 0; }

# --- cargo-leptos and wasm-bindgen-cli, compiled in the background ------------------------
# On a fresh machine these two compiles are most of the setup (about 20 and 4 minutes on two
# cores): they run side by side, and beside the package installs below, because one compile's
# serial stretches (a big crate, the link) leave the other core idle. Each one's output is in
# target/setup/NAME.log; the script waits for both before it says "ready".
mkdir -p target/setup
tool_jobs=()
tool_names=()
tool_in_background() {
  # tool_in_background NAME OPT-LEVEL CARGO-INSTALL-ARGS...
  local name=$1 opt_level=$2
  shift 2
  log "cargo install $* (in the background; target/setup/$name.log)"
  # In a session of its own, so that stopping it stops every rustc it started.
  setsid env "${tool_profile[@]}" CARGO_PROFILE_RELEASE_OPT_LEVEL="$opt_level" \
    cargo install "$@" >"target/setup/$name.log" 2>&1 </dev/null &
  tool_jobs+=($!)
  tool_names+=("$name")
}
stop_tools() {
  local pid
  for pid in "${tool_jobs[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
}
trap stop_tools EXIT

if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  # no_downloads: a missing external tool is an immediate error, never a download attempt.
  tool_in_background cargo-leptos 0 cargo-leptos --version "=$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

# wasm-bindgen-cli equal to the wasm-bindgen crate in Cargo.lock.
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$wb_version" ] || { echo "setup: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  # Not --locked: its lock file names a webpki-roots release the registry no longer serves.
  tool_in_background wasm-bindgen-cli 1 wasm-bindgen-cli --version "=$wb_version"
fi

# --- npm packages (wasm-opt for release builds; Playwright for the browser tests) -------
command -v npm >/dev/null || apt_install nodejs npm
npm_ci() {
  # npm_ci DIR: installs DIR's locked npm packages when they are missing or out of date.
  local dir=$1
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "npm ci in $dir"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci .

if [ "$what" = all ]; then
  apt_install chromium
  # Chinese text in the browser (the zh-CN tests' screenshots and traces, docs/widget-zh.png).
  apt_install fonts-wqy-microhei
  # The storage tests also run on PostgreSQL (scripts/postgres.sh starts a throwaway server).
  apt_install postgresql
  # The cluster tests share live state between nodes through Redis (scripts/redis.sh).
  apt_install redis-server openssl
  # scripts/check-commands.sh runs the README's commands: curl asks the servers, sqlite3 is the
  # backup line of the deploy section.
  apt_install curl sqlite3
  npm_ci end2end
fi

failed=0
for i in "${!tool_jobs[@]}"; do
  if wait "${tool_jobs[$i]}"; then
    log "${tool_names[$i]} installed"
  else
    echo "setup: cargo install ${tool_names[$i]} failed; the end of target/setup/${tool_names[$i]}.log:" >&2
    tail -n 30 "target/setup/${tool_names[$i]}.log" >&2
    failed=1
  fi
done
tool_jobs=()
[ "$failed" -eq 0 ] || exit 1
log "ready ($SECONDS s)"
