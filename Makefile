# Drupal Ticket Generator: build, test, lint, bench.
# `make test` installs what the tests need, then runs every test.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build test deps lint fmt bench run clean

all: build

build:
	$(CARGO) build --release -p dtg-cli

## Installs the tools the tests need (idempotent): Atlassian's ADF schema and
## validator from npm, for the Atlassian Document Format checks.
MOTO := .tools/moto/bin/moto_server

deps: tests/adf/node_modules/.package-lock.json $(MOTO)
	@command -v $(CARGO) >/dev/null || { echo "cargo is required: https://rustup.rs" >&2; exit 1; }

tests/adf/node_modules/.package-lock.json: tests/adf/package.json tests/adf/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20+) is required for the ADF schema checks" >&2; exit 1; }
	cd tests/adf && npm ci --no-audit --no-fund

## moto's server emulates DynamoDB and S3 for the AWS adapters' contract tests;
## the tests start it on a free loopback port and stop it.
$(MOTO):
	@command -v python3 >/dev/null || { echo "python3 is required to install moto" >&2; exit 1; }
	python3 -m venv .tools/moto
	.tools/moto/bin/pip install --quiet 'moto[server]'

## Runs every test of the workspace.
test: deps
	DTG_MOTO_SERVER=$(abspath $(MOTO)) $(CARGO) test --workspace --lib --bins --tests --locked
	$(CARGO) test --workspace --doc --locked

## Formatting and clippy, as CI checks them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## Benchmarks: validation, planning, HTML -> ADF (criterion, with htmltoadf as the baseline);
## 10,000 ticket writes and a full session read on SQLite, and on DynamoDB (moto) for reference;
## LLM generation of 1,000 tickets against the emulator (2 s per answer, concurrency 8);
## export of 1,000 tickets and their links to the Jira emulator with Jira Cloud's rate limits.
bench: deps
	$(CARGO) bench -p dtg-core
	$(CARGO) bench -p dtg-embedded --bench store
	DTG_MOTO_SERVER=$(abspath $(MOTO)) $(CARGO) bench -p dtg-aws --bench store
	$(CARGO) bench -p dtg-llm
	$(CARGO) bench -p dtg-e2e --bench export

## Validates the complete sample site.
run:
	$(CARGO) run --release -p dtg-cli -- validate sample_data/uwec_complete

clean:
	$(CARGO) clean
