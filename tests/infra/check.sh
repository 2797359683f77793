#!/usr/bin/env bash
# Offline checks of the deployment (make infra-check; `make deps` installs the tools):
#   cfn-lint on the SAM template, `sam validate --lint` and `sam validate` (both offline),
#   asl-validator on each state machine (cfn-lint and SAM do not read DefinitionUri files),
#   and tests/infra/check_template.py (substitutions, function crates, log groups,
#   permissions, circular dependencies after the SAM transform).
# Every check runs; the script fails at the end if any failed.
set -uo pipefail

cd "$(dirname "$0")/../.."
SAM_VENV=${SAM_VENV:-.tools/sam-1.170.0}
ASL_VALIDATOR=${ASL_VALIDATOR:-tests/infra/node_modules/.bin/asl-validator}
TEMPLATE=infra/template.yaml
MACHINES=(statemachine/processing.asl.json statemachine/export.asl.json)

export SAM_CLI_TELEMETRY=0
# The region is only needed by the translator; nothing here talks to AWS.
export AWS_DEFAULT_REGION=us-east-1

for tool in "$SAM_VENV/bin/sam" "$SAM_VENV/bin/cfn-lint" "$ASL_VALIDATOR"; do
  [[ -x $tool ]] || { echo "infra-check: $tool is missing: run make deps" >&2; exit 2; }
done

passed=0
failed=0
run() {
  local name=$1
  shift
  echo "--- $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $name" >&2
    failed=$((failed + 1))
  fi
}

run "cfn-lint $TEMPLATE" "$SAM_VENV/bin/cfn-lint" "$TEMPLATE"
run "sam validate --lint" "$SAM_VENV/bin/sam" validate --lint -t "$TEMPLATE"
run "sam validate" "$SAM_VENV/bin/sam" validate -t "$TEMPLATE"
for machine in "${MACHINES[@]}"; do
  run "asl-validator $machine" "$ASL_VALIDATOR" --json-path "$machine"
done
run "template consistency" "$SAM_VENV/bin/python" tests/infra/check_template.py "$TEMPLATE"

echo "infra-check: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
