#!/usr/bin/env bash
# Load run of the gateway's consent-enforced FDX API against nginx as a plain TLS reverse proxy in front of the same
# bank (not part of CI): `bench/resource-load.sh [seconds] [connections]`.
#
# Starts `bankgate up` (data directory on disk: the gateway's SQLite store with synchronous=FULL, audit records
# included; the per-app rate limit off) and nginx (Debian package) listening with TLS and proxying to the bank's API
# listener over mutual TLS with the gateway's client certificate, no authorization of its own. TLS on every hop.
# Each comparison uses one load generator for both sides, measured in the same run:
#   wrk (2 threads): nginx with the bank's token  vs  the gateway with a DPoP-bound token, a fresh pre-signed proof
#                    per request (gateway example `resource_requests`, bench/resource.lua)
#   oha:             nginx with the bank's token  vs  the gateway with a certificate-bound token (RFC 8705), the
#                    client certificate presented by oha
# for GET /fdx/v6/accounts and GET /fdx/v6/accounts/{id}/transactions?limit=25, then the added latency: the bank
# called directly and the gateway (certificate-bound) at half the gateway's saturation rate (oha -q), p99 of each.
# Prints throughput, p50/p99 and each ratio to its nginx baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
threads=2
for tool in wrk oha; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk; cargo install oha)" >&2; exit 2; }
done
source bench/resource-setup.sh

report() { # name rate p50 p99 non2xx baseline-file
  python3 - "$@" <<'PY'
import os, sys
name, rate, p50, p99, bad, base = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
ratio = ""
if name.startswith("nginx"):
    open(base, "w").write(str(rate))
elif os.path.exists(base):
    ratio = f"  ratio to nginx {rate / float(open(base).read()):.2f}"
print(f"{name:>28}: {rate:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  non-2xx {bad}{ratio}")
PY
}
wrk_run() { # name url baseline-file [wrk args...]
  local name=$1 url=$2 base=$3; shift 3
  wrk -t"$threads" -c "$conns" -d "${secs}s" --latency "$@" "$url" >"$dir/$name.out" || { cat "$dir/$name.out" >&2; return 1; }
  local line; line=$(grep '^JSON ' "$dir/$name.out" | cut -c6-)
  report "$name" $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["requests"]/r["seconds"], r["p50_ms"], r["p99_ms"], r["non2xx"])' "$line") "$base"
}
oha_run() { # name url baseline-file [oha args...]
  local name=$1 url=$2 base=$3; shift 3
  oha --no-tui -z "${secs}s" -c "$conns" --output-format json --cacert "$ca" "$@" "$url" >"$dir/$name.json"
  report "$name" $(python3 -c '
import json,sys
r=json.load(open(sys.argv[1])); s=r["summary"]; p=r["latencyPercentiles"]
codes=r.get("statusCodeDistribution",{}); bad=sum(v for k,v in codes.items() if not k.startswith("2"))
print(s["requestsPerSec"], p["p50"]*1000, p["p99"]*1000, bad)' "$dir/$name.json") "$base"
}

echo "== wrk: nginx vs gateway with DPoP (fresh proof per request) =="
for resource in accounts transactions; do
  if [ $resource = accounts ]; then path=/fdx/v6/accounts; else path="/fdx/v6/accounts/$account/transactions?limit=25"; fi
  METHOD=GET AUTH="Bearer $bank_token" wrk_run "nginx-$resource (wrk)" "$proxy$path" "$dir/base-wrk-$resource" \
    -s bench/simple.lua
  ./target/release/examples/resource_requests "$gw" "$ca" sandbox-app "$secret" $resource $((secs * 20000)) \
    "$dir/requests.txt" 2>/dev/null
  RESOURCE_REQUESTS="$dir/requests.txt" WRK_THREADS=$threads wrk_run "gateway-dpop-$resource" "$gw" \
    "$dir/base-wrk-$resource" -s bench/resource.lua
done

echo "== oha: nginx vs gateway with a certificate-bound token =="
for resource in accounts transactions; do
  if [ $resource = accounts ]; then bpath=/fdx/v6/accounts; gpath=/fdx/v6/accounts
  else bpath="/fdx/v6/accounts/$account/transactions?limit=25"; gpath="/fdx/v6/accounts/$gw_account/transactions?limit=25"; fi
  oha_run "nginx-$resource (oha)" "$proxy$bpath" "$dir/base-oha-$resource" -H "Authorization: Bearer $bank_token"
  oha_run "gateway-mtls-$resource" "$gw$gpath" "$dir/base-oha-$resource" \
    --cert "$cert" --key "$key" -H "Authorization: Bearer $gw_token"
done

echo "== added latency at half the gateway's saturation rate (accounts, certificate-bound) =="
rate=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"] / 2))' \
  "$dir/gateway-mtls-accounts.json")
echo "rate: ${rate} requests/s"
oha_run "bank-direct" "$bank/fdx/v6/accounts" "$dir/none" -q "$rate" \
  --cert "$cert" --key "$key" -H "Authorization: Bearer $bank_token"
oha_run "gateway-at-half-saturation" "$gw/fdx/v6/accounts" "$dir/none" -q "$rate" \
  --cert "$cert" --key "$key" -H "Authorization: Bearer $gw_token"
python3 - "$dir/bank-direct.json" "$dir/gateway-at-half-saturation.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))["latencyPercentiles"]; g = json.load(open(sys.argv[2]))["latencyPercentiles"]
print(f"added latency: p50 {(g['p50'] - b['p50']) * 1000:.2f} ms, p99 {(g['p99'] - b['p99']) * 1000:.2f} ms")
PY
