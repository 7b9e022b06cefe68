# The two commands: `make run` and `make test`. Both install whatever is missing first
# (scripts/setup.sh), so they work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help
TOOLCHAIN := source scripts/toolchain.sh
LIB_ARGS = $$( [ -n "$$CHAT_LIB_CARGO_ARGS" ] && echo "--lib-cargo-args=$$CHAT_LIB_CARGO_ARGS" )

.PHONY: help setup run watch release build lint test agent bench soak clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## Install everything the build and the tests need (idempotent)
	scripts/setup.sh all

# The same build as `make release` (reused): see scripts/release.sh.
run: ## Build (release) and serve on http://127.0.0.1:3000
	scripts/setup.sh build
	scripts/release.sh serve

watch: ## Development loop: rebuild and reload on every change
	scripts/setup.sh build
	$(TOOLCHAIN) && cargo leptos watch --project chat $(LIB_ARGS)

# cargo-leptos builds the site (target/site), compresses it (--precompress), then the `chat`
# binary with it inside; the server's crates compile beside the site (scripts/release.sh).
release: ## Build for deployment: target/release/chat, one file with the site inside
	scripts/setup.sh build
	scripts/release.sh build

build: ## Build the site and the server (debug)
	scripts/setup.sh build
	$(TOOLCHAIN) && cargo leptos build --project chat $(LIB_ARGS)

lint: ## Formatting and lints: cargo fmt --check, cargo clippy with warnings as errors
	scripts/setup.sh toolchain
	scripts/lint.sh

test: ## Run every test: lint, unit, integration and Playwright (scripts/test.sh runs the setup too)
	scripts/test.sh

bench: setup ## Benchmarks (not part of test): ours vs the tutorial's Node.js server, the hub microbenchmark, search on 1M messages
	$(TOOLCHAIN) && RUSTFLAGS="$$CHAT_RELEASE_RUSTFLAGS" cargo build --release -p server -p bench
	cd bench/peer && npm ci --no-audit --no-fund
	python3 bench/run.py
	$(TOOLCHAIN) && RUSTFLAGS="$$CHAT_RELEASE_RUSTFLAGS" cargo bench -p server --bench hub
	$(TOOLCHAIN) && RUSTFLAGS="$$CHAT_RELEASE_RUSTFLAGS" cargo bench -p server --bench search

soak: setup ## Ten minutes of paced chat with random drops and a server kill: zero loss or duplicates, RSS over time
	$(TOOLCHAIN) && RUSTFLAGS="$$CHAT_RELEASE_RUSTFLAGS" CHAOS_CUSTOMERS=40 CHAOS_FROM_CUSTOMER=540 CHAOS_FROM_AGENT=13 CHAOS_PACE_MS=1000 CHAOS_RSS_EVERY_S=30 \
		cargo test --release -p server --test chaos -- --nocapture on_sqlite

# Builds the `chat` binary exactly as `make run` and `make release` do (cargo-leptos's package,
# binary, features, LEPTOS_OUTPUT_NAME and RUSTFLAGS, from scripts/toolchain.sh): whichever of them runs
# second reuses it.
agent: ## Add an agent: make agent NAME=alice [ADMIN=1] (asks for the password)
	$(TOOLCHAIN) && RUSTFLAGS="$$CHAT_RELEASE_RUSTFLAGS" cargo run -q --release -p bundle --bin chat --no-default-features -- agent add $(if $(ADMIN),--admin) "$(NAME)"

clean: ## Remove the build outputs (target/)
	cargo clean
