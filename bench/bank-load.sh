#!/usr/bin/env bash
# Load run of one bank's FDX API on loopback (not part of CI): `bench/bank-load.sh [seconds] [connections]`.
#
# Starts `bankgate up` with 1,000,000 customers per bank, records resident memory right after start, logs in as
# user_good (bank login pages, mTLS code exchange), then runs oha over mutual TLS against:
#   baseline: GET /health on the same API listener (TLS + routing floor, no data)
#   page:     GET /fdx/v6/accounts/{id}/transactions?limit=100 (a warm account, 100 transactions)
# and prints throughput, p50/p99 latency and the ratio page/baseline. Needs `oha` (cargo install oha).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
conns=${2:-16}
command -v oha >/dev/null || { echo "needs oha: cargo install oha --locked" >&2; exit 2; }
cargo build --release --quiet --bin bankgate --example bank_token
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
./target/release/bankgate up --ephemeral-ports --frozen-clock --customers 1000000 --start 2026-03-04T15:00:00Z \
  --data-dir "$dir" >"$dir/up.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -f "$dir/endpoints.json" ] && break; sleep 0.1; done
[ -f "$dir/endpoints.json" ] || { echo "bankgate did not start" >&2; cat "$dir/up.log" >&2; exit 1; }
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "resident memory right after start, 4 banks x 1,000,000 customers: $((rss_kb / 1024)) MiB"

login=$(./target/release/examples/bank_token "$dir/endpoints.json" continental user_good)
token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["access_token"])' "$login")
account=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["checking_account_id"])' "$login")
api=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["api"])' "$login")
tls=(--cacert "$dir/certs/ca.pem" --cert "$dir/certs/sample-app.pem" --key "$dir/certs/sample-app-key.pem")

run() { # name url [extra oha args...]
  oha -z "${secs}s" -c "$conns" --no-tui --output-format json "${tls[@]}" -H "Authorization: Bearer $token" "${@:3}" "$2" \
    >"$dir/$1.json"
  python3 - "$1" "$dir/$1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
s = r["summary"]; p = r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
print(f"{sys.argv[1]:>9}: {s['requestsPerSec']:8.0f} req/s  p50 {p['p50']*1000:6.2f} ms  p99 {p['p99']*1000:6.2f} ms  status {codes}")
PY
}
page_url="$api/fdx/v6/accounts/$account/transactions?startTime=2025-01-01&endTime=2026-03-04&limit=100"
bytes=$(curl -s "${tls[@]}" -H "Authorization: Bearer $token" "$page_url" | wc -c)
echo "a page of 100 transactions is $bytes bytes of JSON"
run baseline "$api/health"
run page "$page_url"
# Latency at a fixed rate of half the measured saturation throughput (the load a p99 goal is about).
half=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"] / 2))' "$dir/page.json")
run page@half "$page_url" -q "$half"
python3 - "$dir/baseline.json" "$dir/page.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))["summary"]["requestsPerSec"]
p = json.load(open(sys.argv[2]))["summary"]["requestsPerSec"]
print(f"page of 100 / baseline throughput: {p / b:.2f}")
PY
