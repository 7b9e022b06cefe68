# shellcheck shell=bash
# Sourced by the Makefile and by scripts/setup.sh: picks the Rust toolchain that builds the
# WASM frontend and exports the environment cargo-leptos needs for it.
#
# Two cases:
#   * the active rustup toolchain already has the wasm32-unknown-unknown std (an ordinary
#     laptop after `rustup target add wasm32-unknown-unknown`): use it as it is;
#   * it does not (machines without access to the Rust distribution server): use Debian's
#     rustc-web toolchain, linked into rustup as `deb-web`, and build std for wasm32 from
#     Debian's library sources with -Zbuild-std (see docs/toolchain.md).
#
# Exports CHAT_WASM_MODE=native|build-std and, for build-std, the variables it needs.

chat_sysroot_has_wasm() {
  local sysroot
  sysroot=$(rustc --print sysroot 2>/dev/null) || return 1
  [ -d "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib" ]
}

if [ -z "${CHAT_WASM_MODE:-}" ]; then
  if [ "${RUSTUP_TOOLCHAIN:-}" != "deb-web" ] && chat_sysroot_has_wasm; then
    CHAT_WASM_MODE=native
  else
    CHAT_WASM_MODE=build-std
  fi
fi
export CHAT_WASM_MODE

if [ "$CHAT_WASM_MODE" = build-std ]; then
  export RUSTUP_TOOLCHAIN=deb-web
  export RUSTC_BOOTSTRAP=1
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22
  # cargo-leptos passes this to the `cargo build --target wasm32-unknown-unknown` of the
  # frontend only (never to the host build, where -Zbuild-std would fail): the cargo
  # configuration that builds std, and panics without messages in the release bundles.
  CHAT_LIB_CARGO_ARGS="--config=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wasm-build-std.toml"
  export CHAT_LIB_CARGO_ARGS
else
  export CHAT_LIB_CARGO_ARGS=""
fi

# cargo-leptos sets LEPTOS_OUTPUT_NAME for its builds, and leptos reads it at compile time
# (option_env!): every other cargo command here (tests, `make agent`, `make bench`) sets the
# same, so that they share leptos and everything above it with cargo-leptos's builds instead
# of compiling them again (`make watch` also sets LEPTOS_WATCH, which leptos reads too: there
# leptos and what is built on it compile once more).
export LEPTOS_OUTPUT_NAME=chat

# The release (`make release`, `make run`, `make agent`, which share its build): Leptos's
# views with their types erased (`--cfg erase_components`, which cargo-leptos adds to debug
# builds only). Measured on this app's release WebAssembly: 2,395,135 bytes (637,929 brotli)
# with the views' full types, 1,726,341 (446,328 brotli) erased, in the same compile time.
# Every release build passes the same flags, or it compiles every crate again.
export CHAT_RELEASE_RUSTFLAGS="--cfg erase_components"

# chat_clippy_wrapper: compile this workspace's crates with the active toolchain's clippy
# driver (what `cargo clippy` does, but for a build that makes code: see scripts/lint.sh
# server-build). Every later cargo command in the same shell must keep it, or our crates
# compile again.
chat_clippy_wrapper() {
  local driver
  driver="$(rustc --print sysroot)/bin/clippy-driver"
  if [ ! -x "$driver" ]; then
    echo "toolchain: no clippy-driver at $driver (scripts/setup.sh installs it)" >&2
    return 1
  fi
  export RUSTC_WORKSPACE_WRAPPER=$driver
}
