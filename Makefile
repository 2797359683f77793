# Drupal Ticket Generator: build, test, lint, bench.
# `make test` installs what the tests need, then runs every test.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build test deps lint fmt bench run clean infra-check functions

all: build

build:
	$(CARGO) build --release -p dtg-cli

## Installs the tools the tests need (idempotent): Atlassian's ADF schema and
## validator from npm, for the Atlassian Document Format checks.
MOTO := .tools/moto/bin/moto_server
SCHEMATHESIS_VERSION := 4.32.5
SCHEMATHESIS_VENV := .tools/schemathesis-$(SCHEMATHESIS_VERSION)
SCHEMATHESIS := $(SCHEMATHESIS_VENV)/bin/schemathesis
SAM_VERSION := 1.170.0
CFN_LINT_VERSION := 1.58.0
SAM_VENV := .tools/sam-$(SAM_VERSION)
SAM := $(SAM_VENV)/bin/sam
ASL_VALIDATOR := tests/infra/node_modules/.package-lock.json
ASL_RUNNER := tests/asl/node_modules/.package-lock.json
CARGO_LAMBDA_VERSION := 1.9.2
CARGO_LAMBDA_VENV := .tools/cargo-lambda-$(CARGO_LAMBDA_VERSION)
CARGO_LAMBDA := $(CARGO_LAMBDA_VENV)/bin/cargo-lambda

deps: tests/adf/node_modules/.package-lock.json $(MOTO) $(SCHEMATHESIS) $(SAM) $(ASL_VALIDATOR) $(ASL_RUNNER)
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

## schemathesis checks `dtg serve` against its own OpenAPI document
## (tests/api-contract/run.sh); the version is in the venv's name, so a new
## pin installs afresh.
$(SCHEMATHESIS):
	@command -v python3 >/dev/null || { echo "python3 is required to install schemathesis" >&2; exit 1; }
	python3 -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/pip install --quiet 'schemathesis==$(SCHEMATHESIS_VERSION)'

## The AWS SAM CLI (it brings cfn-lint) for the deployment checks, in its own
## venv since it pins boto3; the version is in the venv's name. cfn-lint is pinned
## too (SAM accepts a range).
$(SAM):
	@command -v python3 >/dev/null || { echo "python3 is required to install the AWS SAM CLI" >&2; exit 1; }
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli==$(SAM_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)'

## asl-validator checks the state machines (statemachine/*.asl.json).
$(ASL_VALIDATOR): tests/infra/package.json tests/infra/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20+) is required for the state machine checks" >&2; exit 1; }
	cd tests/infra && npm ci --no-audit --no-fund

## cargo-lambda (it brings zig, the cross linker) builds the functions as SAM does.
$(CARGO_LAMBDA):
	@command -v python3 >/dev/null || { echo "python3 is required to install cargo-lambda" >&2; exit 1; }
	python3 -m venv $(CARGO_LAMBDA_VENV)
	$(CARGO_LAMBDA_VENV)/bin/pip install --quiet 'cargo-lambda==$(CARGO_LAMBDA_VERSION)'

## Every Lambda built for arm64 and zipped as SAM deploys it, with each zip's size.
functions: $(CARGO_LAMBDA)
	CARGO_LAMBDA_VENV=$(CARGO_LAMBDA_VENV) tests/infra/build-functions.sh

## aws-local-stepfunctions runs the state machines as an independent interpreter
## (tests/asl/run.mjs; crates/lambda/tests/independent.rs drives it).
$(ASL_RUNNER): tests/asl/package.json tests/asl/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20+) is required for the state machine runs" >&2; exit 1; }
	cd tests/asl && npm ci --no-audit --no-fund

## Builds every binary (`dtg`, and the functions the state-machine runs invoke),
## runs every test of the workspace, the state machines' own tests, then the API
## contract test: schemathesis against `dtg serve`.
test: deps
	$(CARGO) build --workspace --bins --locked
	DTG_MOTO_SERVER=$(abspath $(MOTO)) $(CARGO) test --workspace --lib --bins --tests --locked
	$(CARGO) test --workspace --doc --locked
	cd tests/asl && npm test
	CARGO="$(CARGO)" SCHEMATHESIS=$(abspath $(SCHEMATHESIS)) tests/api-contract/run.sh
	$(MAKE) infra-check

## The deployment, checked offline: cfn-lint and sam validate on infra/template.yaml,
## asl-validator on the state machines, substitutions, function crates and cycles.
infra-check: $(SAM) $(ASL_VALIDATOR)
	SAM_VENV=$(SAM_VENV) tests/infra/check.sh

## Formatting and clippy, as CI checks them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## Benchmarks: validation, planning, HTML -> ADF (criterion, with htmltoadf as the baseline);
## 10,000 ticket writes and a full session read on SQLite, and on DynamoDB (moto) for reference;
## LLM generation of 1,000 tickets against the emulator (2 s per answer, concurrency 8);
## export of 1,000 tickets and their links to the Jira emulator with Jira Cloud's rate limits;
## dtg serve under 50 clients reading and editing a 1,000-ticket session;
## the export machine's transitions, Lambda time and DynamoDB units per 1,000 tickets.
bench: deps
	$(CARGO) bench -p dtg-core
	$(CARGO) bench -p dtg-embedded --bench store
	DTG_MOTO_SERVER=$(abspath $(MOTO)) $(CARGO) bench -p dtg-aws --bench store
	$(CARGO) bench -p dtg-llm
	$(CARGO) bench -p dtg-e2e --bench export
	$(CARGO) bench -p dtg-e2e --bench serve
	$(CARGO) bench -p dtg-e2e --bench machines

## Validates the complete sample site.
run:
	$(CARGO) run --release -p dtg-cli -- validate sample_data/uwec_complete

clean:
	$(CARGO) clean
