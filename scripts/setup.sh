#!/usr/bin/env bash
# Installs whatever the build and the tests need and is missing. Idempotent, and quick when
# everything is already there. Called by `make run` and `make test`; safe to run by hand.
#
#   scripts/setup.sh           everything (toolchain, cargo-leptos, wasm-bindgen, chromium, postgresql, redis, npm)
#   scripts/setup.sh build     only what building and serving needs
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
what=${1:-all}

CARGO_LEPTOS_VERSION=0.3.11
# Build tools are compiled once per machine, and on a fresh CI machine that compile is most
# of the run: without LTO, with parallel codegen and at opt-level 1 they build much faster
# (wasm-bindgen-cli here: 4m15s instead of 5m35s) and run no slower for what they do here.
tool_install() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install "$@"
}
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
  apt_install rustc-web cargo-web rust-web-src lld-22
  if ! rustup toolchain list | grep -q '^deb-web'; then
    log "rustup toolchain link deb-web /usr"
    rustup toolchain link deb-web /usr
  fi
fi
log "toolchain: $CHAT_WASM_MODE ($(rustc --version))"

# --- cargo-leptos, pinned ----------------------------------------------------------------
if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  log "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (takes a while, once)"
  # no_downloads: a missing external tool is an immediate error, never a download attempt.
  tool_install cargo-leptos --version "=$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

# --- wasm-bindgen-cli equal to the wasm-bindgen crate in Cargo.lock ----------------------
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$wb_version" ] || { echo "setup: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  log "cargo install wasm-bindgen-cli $wb_version"
  # Not --locked: its lock file names a webpki-roots release the registry no longer serves.
  tool_install wasm-bindgen-cli --version "=$wb_version"
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
  apt_install redis-server
  # scripts/check-commands.sh runs the README's commands: curl asks the servers, sqlite3 is the
  # backup line of the deploy section.
  apt_install curl sqlite3
  npm_ci end2end
fi
log "ready"
