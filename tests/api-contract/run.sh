#!/usr/bin/env bash
# The API contract test: schemathesis against `dtg serve`'s own OpenAPI
# document, every operation, every check, with the stateful phase following
# the document's links (a session created, then its routes). Any 5xx, or any
# answer the document does not describe, fails the run.
#
# It builds nothing: `make test` builds `dtg` first (the debug build, as
# `cargo test` does). Environment:
#   SCHEMATHESIS  the schemathesis executable (`make deps` installs it)
#   DTG_BIN       the dtg executable (default: <cargo target dir>/debug/dtg)
#   ST_MAX_EXAMPLES, ST_SEED  examples per operation (default 100), seed (default 1)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
schemathesis="${SCHEMATHESIS:-$root/.tools/schemathesis-4.32.5/bin/schemathesis}"
if [[ -z "${DTG_BIN:-}" ]]; then
    target_dir="$(cd "$root" && "${CARGO:-cargo}" metadata --format-version 1 --no-deps \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    DTG_BIN="$target_dir/debug/dtg"
fi
[[ -x "$schemathesis" ]] || { echo "api-contract: $schemathesis is missing; run make deps" >&2; exit 1; }
[[ -x "$DTG_BIN" ]] || { echo "api-contract: $DTG_BIN is missing; run cargo build -p dtg-cli" >&2; exit 1; }

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A fresh store; no model and no Jira configured, whatever the caller's
# environment says.
env -u DTG_LLM_PROVIDER -u DTG_OAUTH_CLIENT_ID -u DTG_OAUTH_CLIENT_SECRET -u DTG_WEB_ORIGIN \
    DTG_HOME="$work/home" DTG_LOG="${DTG_LOG:-warn}" \
    "$DTG_BIN" serve --port 0 >"$work/stdout" 2>"$work/stderr" &
server_pid=$!

url=""
for _ in $(seq 1 300); do
    url="$(sed -n 's/^dtg serve: listening on \(http:[^ ]*\).*/\1/p' "$work/stdout" | head -n 1)"
    [[ -n "$url" ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$url" ]]; then
    echo "api-contract: dtg serve did not start" >&2
    cat "$work/stdout" "$work/stderr" >&2
    exit 1
fi

csrf="$(python3 - "$url" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/api/v1/auth/me", timeout=10) as r:
    print(json.load(r)["csrf_token"])
PY
)"

echo "api-contract: schemathesis $("$schemathesis" --version | awk '{print $NF}') against $url"
# From the temporary folder: Hypothesis keeps its files in the current one.
cd "$work"
# One worker: schemathesis's workers are threads under one GIL, so more buy
# little here, and Python 3.11's ast.parse (which Hypothesis calls to describe
# its filters) is not thread-safe before 3.11.8 ("AST constructor recursion
# depth mismatch").
status=0
"$schemathesis" --config-file "$here/schemathesis.toml" run "$url/api/v1/openapi.json" \
    --header "X-CSRF-Token: $csrf" \
    --header "Origin: $url" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${ST_MAX_EXAMPLES:-100}" \
    --seed "${ST_SEED:-1}" \
    --workers 1 \
    --request-timeout 30 \
    --generation-database none \
    --no-color \
    || status=$?

if [[ $status -ne 0 ]]; then
    echo "api-contract: schemathesis failed (exit $status); the server's log:" >&2
    tail -n 50 "$work/stderr" >&2
fi
exit "$status"
