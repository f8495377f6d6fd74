#!/usr/bin/env bash
# Load run of the gateway's token and introspection endpoints on loopback (not part of CI):
# `bench/gateway-load.sh [seconds] [connections]`.
#
# Starts `bankgate up`, registers a `sandbox` client (client_secret_basic: oha cannot mint a fresh private_key_jwt
# assertion per request, and a replayed `jti` is refused by design), then runs oha against:
#   baseline:   GET /jwks (TLS + routing floor, a static document)
#   token:      POST /token grant_type=client_credentials (client authentication, a signed RFC 9068 JWT, a store write)
#   introspect: POST /introspect of one access token (client authentication, a store read)
# and prints throughput, p50/p99 and each ratio to the baseline. Needs `oha` (cargo install oha).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
command -v oha >/dev/null || { echo "needs oha: cargo install oha --locked" >&2; exit 2; }
cargo build --release --quiet --bin bankgate
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
./target/release/bankgate up --ephemeral-ports --frozen-clock --customers 100 --data-dir "$dir" >"$dir/up.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -f "$dir/endpoints.json" ] && break; sleep 0.1; done
[ -f "$dir/endpoints.json" ] || { echo "bankgate did not start" >&2; cat "$dir/up.log" >&2; exit 1; }
gw=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gateway"]["issuer"])' "$dir/endpoints.json")
ca="$dir/certs/ca.pem"
reg=$(curl -s --cacert "$ca" -H 'content-type: application/json' "$gw/register" -d '{"client_name":"bench",
  "profile":"sandbox","token_endpoint_auth_method":"client_secret_basic","redirect_uris":["https://localhost/cb"],
  "grant_types":["client_credentials"],"purposes":["personal_finance_management"]}')
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$reg")
secret=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$reg")
token=$(curl -s --cacert "$ca" -u "$id:$secret" -d grant_type=client_credentials -d scope=consent_management "$gw/token" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

run() { # name url [oha args...]
  oha -z "${secs}s" -c "$conns" --no-tui --output-format json --cacert "$ca" "${@:3}" "$2" >"$dir/$1.json"
  python3 - "$1" "$dir/$1.json" "$dir/baseline.json" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[2])); s = r["summary"]; p = r["latencyPercentiles"]
ratio = ""
if sys.argv[1] != "baseline" and os.path.exists(sys.argv[3]):
    ratio = f"  ratio to baseline {s['requestsPerSec'] / json.load(open(sys.argv[3]))['summary']['requestsPerSec']:.2f}"
print(f"{sys.argv[1]:>10}: {s['requestsPerSec']:8.0f} req/s  p50 {p['p50']*1000:6.2f} ms  p99 {p['p99']*1000:6.2f} ms"
      f"  status {r.get('statusCodeDistribution', {})}{ratio}")
PY
}
form=(-m POST -T application/x-www-form-urlencoded -a "$id:$secret")
run baseline "$gw/jwks"
run token "$gw/token" "${form[@]}" -d "grant_type=client_credentials&scope=consent_management"
run introspect "$gw/introspect" "${form[@]}" -d "token=$token"
