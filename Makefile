# Drupal Ticket Generator: build, test, lint, bench.
# `make test` installs what the tests need, then runs every test.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build test deps lint fmt bench run clean

all: build

build:
	$(CARGO) build --release -p dtg-cli

## Installs the tools the tests need (idempotent).
deps:
	@command -v $(CARGO) >/dev/null || { echo "cargo is required: https://rustup.rs" >&2; exit 1; }

## Runs every test of the workspace.
test: deps
	$(CARGO) test --workspace --all-targets --locked
	$(CARGO) test --workspace --doc --locked

## Formatting and clippy, as CI checks them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## Benchmarks (criterion): validation throughput.
bench:
	$(CARGO) bench -p dtg-core --bench validate

## Validates the complete sample site.
run:
	$(CARGO) run --release -p dtg-cli -- validate sample_data/uwec_complete

clean:
	$(CARGO) clean
