#!/usr/bin/env bash
# Fuzzes the running gateway's FDX resource API and consent API (FDX consents + Grant Management) against the
# gateway's own OpenAPI 3.1 document (GET /openapi.json) with schemathesis from PyPI. Fails on any 5xx answer
# (`not_a_server_error`) and on any answer its documented schema does not accept (`response_schema_conformance`).
#
# Run from anywhere: `bash ci/schemathesis.sh` (about a minute after the build). It builds the workspace, starts
# `$CARGO_TARGET_DIR/debug/bankgate up` (default `target/`) on OS-chosen ports in a temporary data directory (banks' clocks frozen on a weekday
# afternoon, outside every maintenance window), gets a consent's access token through the sandbox shortcut and a
# client-credentials token, runs schemathesis twice (one token each) and stops bankgate on exit.
# Environment: SCHEMATHESIS_EXAMPLES (test cases per operation, default 40), SCHEMATHESIS_SEED (default fixed, so a
# failure replays), SCHEMATHESIS_REPORTS (JUnit reports, default target/schemathesis).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION="4.32.5"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-40}"
SEED="${SCHEMATHESIS_SEED:-20261130}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
REPORTS="${SCHEMATHESIS_REPORTS:-$TARGET_DIR/schemathesis}"

PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
  "schemathesis==${SCHEMATHESIS_VERSION}"
# The `st` entry point without relying on PATH (pyenv shims, user installs).
st() { python3 -c 'import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis(prog_name="st"))' "$@"; }

# The same package selection as every other build of the workspace (a different one recompiles dependencies).
cargo build --workspace --all-targets

DIR="$(mktemp -d "${TMPDIR:-/tmp}/bankgate-schemathesis.XXXXXX")"
BANKGATE_PID=""
cleanup() {
  if [ -n "$BANKGATE_PID" ] && kill -0 "$BANKGATE_PID" 2>/dev/null; then
    kill "$BANKGATE_PID" 2>/dev/null || true
    # Bounded wait for the clean shutdown, then insist.
    for _ in $(seq 1 50); do kill -0 "$BANKGATE_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$BANKGATE_PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT

# Yesterday 15:00 UTC: a fixed simulated instant clear of the banks' weekly maintenance windows (night hours).
START="$(date -u -d 'yesterday' +%Y-%m-%dT15:00:00Z)"
"$TARGET_DIR/debug/bankgate" up --data-dir "$DIR" --ephemeral-ports --frozen-clock --start "$START" --customers 100 \
  >"$DIR/bankgate.log" 2>&1 &
BANKGATE_PID=$!

# endpoints.json is written once every listener accepts connections.
for _ in $(seq 1 240); do
  [ -s "$DIR/endpoints.json" ] && break
  if ! kill -0 "$BANKGATE_PID" 2>/dev/null; then
    echo "bankgate exited before it was ready:" >&2
    cat "$DIR/bankgate.log" >&2
    exit 1
  fi
  sleep 0.5
done
if [ ! -s "$DIR/endpoints.json" ]; then
  echo "bankgate did not write endpoints.json within 120 s:" >&2
  cat "$DIR/bankgate.log" >&2
  exit 1
fi

# `json FILE EXPR`: EXPR evaluated with the file's JSON as `d`.
json() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d, "json": json}))' "$@"; }
ISSUER="$(json "$DIR/endpoints.json" 'd["gateway"]["issuer"]')"
CA="$(json "$DIR/endpoints.json" 'd["ca_cert"]')"
APP="sandbox-app:$(cat "$DIR/gateway/sandbox-app-secret")"
echo "gateway at $ISSUER"

# A consent's tokens through the sandbox shortcut (README tour step 7).
curl -sS --fail-with-body --cacert "$CA" -u "$APP" -H 'content-type: application/json' \
  -d '{"bank":"continental","username":"user_good","password":"pass_good"}' \
  "$ISSUER/sandbox/consents" >"$DIR/consent.json"
CONSENT_TOKEN="$(json "$DIR/consent.json" 'd["access_token"]')"
CONSENT_ID="$(json "$DIR/consent.json" 'd["consent_id"]')"
ACCOUNTS="$(json "$DIR/consent.json" 'json.dumps(d["authorization_details"][0]["accounts"])')"

# Real identifiers for half of the generated path parameters, so successful answers are checked too; the other
# half stay random (404s).
cat >"$DIR/schemathesis.toml" <<TOML
# Nothing written into the work tree (crash cache).
[cache]
enabled = false

[dictionaries.accounts]
values = $ACCOUNTS

[dictionaries.consents]
values = ["$CONSENT_ID"]

[parameters]
"path.accountId" = { dictionary = "accounts", probability = 0.6 }
"path.consentId" = { dictionary = "consents", probability = 0.5 }
"path.grant_id" = { dictionary = "consents", probability = 0.5 }
TOML

# The gateway's default rate limit (50/s, burst 100) would answer 429 to a faster fuzzer: 429 is documented, but
# staying under it tests more.
common=(
  --tls-verify "$CA"
  --checks not_a_server_error,response_schema_conformance
  --max-examples "$EXAMPLES"
  --seed "$SEED"
  --rate-limit 40/s
  --workers 2
  --request-timeout 30
  --generation-with-security-parameters false
  --generation-database none
  --no-color
  --report junit
)
mkdir -p "$REPORTS"

echo "== resource API (/fdx/v6) with the consent's access token"
st --config-file "$DIR/schemathesis.toml" run "$ISSUER/openapi.json" "${common[@]}" \
  --report-junit-path "$REPORTS/resource-api.xml" \
  -H "Authorization: Bearer $CONSENT_TOKEN" \
  --include-path-regex '^/fdx/v6/'

# Access tokens live 300 s: this one is fetched just before it is used. The run revokes the consent on the way
# (PUT /consents/{id}/revocation, DELETE /grants/{id}), which is why the resource API goes first.
curl -sS --fail-with-body --cacert "$CA" -u "$APP" -d grant_type=client_credentials \
  -d 'scope=consent_management grant_management_query grant_management_revoke' \
  "$ISSUER/token" >"$DIR/client-credentials.json"
MANAGEMENT_TOKEN="$(json "$DIR/client-credentials.json" 'd["access_token"]')"

echo "== consent API (/consents, /grants) with a client-credentials token"
st --config-file "$DIR/schemathesis.toml" run "$ISSUER/openapi.json" "${common[@]}" \
  --report-junit-path "$REPORTS/consent-api.xml" \
  -H "Authorization: Bearer $MANAGEMENT_TOKEN" \
  --include-path-regex '^/(consents|grants)/'

echo "schemathesis: the resource and consent API answered no 5xx and matched their schemas"
