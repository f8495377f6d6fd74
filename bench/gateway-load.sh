#!/usr/bin/env bash
# Load run of the gateway's token and introspection endpoints on loopback with wrk (not part of CI):
# `bench/gateway-load.sh [seconds] [connections]`.
#
# Starts `bankgate up` (data directory on disk: the SQLite store with synchronous=FULL, as deployed), then runs wrk
# (2 threads, Debian package `wrk`) against:
#   baseline:      GET /jwks (TLS + routing floor, a static document)
#   token-pkjwt:   POST /token client_credentials, fapi2 client: private_key_jwt (ES256) + DPoP proof, each request
#                  with its own pre-signed assertion and proof (gateway example `token_requests`, bench/token.lua)
#   token-eddsa:   the same with Ed25519 client and DPoP keys (FAPI 2.0 allows PS256, ES256 and EdDSA)
#   pkjwt-bearer:  POST /token client_credentials, sandbox client: private_key_jwt (ES256) without DPoP (a bearer
#                  token: one signature check and one signature per request instead of two checks and one signature)
#   token-secret:  POST /token client_credentials, sandbox client with client_secret_basic (bearer token)
#   introspect:    POST /introspect of one access token (sandbox client, client_secret_basic)
# and prints throughput, p50/p99 and each ratio to the baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
threads=2
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
cargo build --release --quiet --bin bankgate
cargo build --release --quiet -p gateway --example token_requests
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
basic="Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
token=$(curl -s --cacert "$ca" -u "$id:$secret" -d grant_type=client_credentials -d scope=consent_management "$gw/token" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

run() { # name url script
  wrk -t"$threads" -c "$conns" -d "${secs}s" --latency -s "$3" "$2" >"$dir/$1.out" || { cat "$dir/$1.out" >&2; return 1; }
  python3 - "$1" "$dir/$1.out" "$dir/baseline.rate" <<'PY'
import json, os, sys
line = next(l for l in open(sys.argv[2]) if l.startswith("JSON "))
r = json.loads(line[5:]); rate = r["requests"] / r["seconds"]
ratio = ""
if sys.argv[1] == "baseline":
    open(sys.argv[3], "w").write(str(rate))
elif os.path.exists(sys.argv[3]):
    ratio = f"  ratio to baseline {rate / float(open(sys.argv[3]).read()):.2f}"
print(f"{sys.argv[1]:>13}: {rate:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
      f"  non-2xx {r['non2xx']}{ratio}")
PY
}
run baseline "$gw/jwks" bench/simple.lua
# Enough pre-signed requests for 15,000 (DPoP) and 25,000 (EdDSA, bearer) tokens/s, written right before each run
# (they are valid for 60 s); a run that used up its file would count refused replays (non-2xx) as requests.
./target/release/examples/token_requests "$gw" "$ca" $((secs * 15000)) "$dir/token-requests.txt" ES256
TOKEN_REQUESTS="$dir/token-requests.txt" WRK_THREADS=$threads run token-pkjwt "$gw/token" bench/token.lua
./target/release/examples/token_requests "$gw" "$ca" $((secs * 25000)) "$dir/token-requests.txt" EdDSA
TOKEN_REQUESTS="$dir/token-requests.txt" WRK_THREADS=$threads run token-eddsa "$gw/token" bench/token.lua
./target/release/examples/token_requests "$gw" "$ca" $((secs * 25000)) "$dir/token-requests.txt" ES256 bearer
TOKEN_REQUESTS="$dir/token-requests.txt" WRK_THREADS=$threads run pkjwt-bearer "$gw/token" bench/token.lua
METHOD=POST CTYPE=application/x-www-form-urlencoded AUTH="$basic" \
  BODY="grant_type=client_credentials&scope=consent_management" run token-secret "$gw/token" bench/simple.lua
METHOD=POST CTYPE=application/x-www-form-urlencoded AUTH="$basic" BODY="token=$token" \
  run introspect "$gw/introspect" bench/simple.lua
