#!/usr/bin/env bash
# Instructions per request of the gateway's resource API, counted by callgrind (not part of CI):
# `bench/resource-instructions.sh [requests]`.
#
# For machines too noisy for wall-clock ratios (a shared VM's steal moved nginx's baseline by a third between rounds
# of the same build): the count repeats to the instruction whatever else the machine does. Same setup as
# bench/resource-load.sh (bench/resource-setup.sh), with `bankgate up` run under `valgrind --tool=callgrind`; for each
# of four request kinds it sends 300 requests of warm-up with oha, zeroes the counters, sends `requests` more and
# dumps: nginx -> bank (the bank's own count: nginx runs outside valgrind) and the gateway with a certificate-bound
# token, for GET /fdx/v6/accounts and a page of 25 transactions. Prints instructions per request of the bankgate
# process and, for the gateway, its own (the bank's count of the same request subtracted).
# Caveat: valgrind hides SHA-NI, so sha2 runs its software SHA-256 (the gateway's token hash shows as ~47,000
# instructions that the CPU does in a few hundred cycles); compare builds, not absolute costs.
# KEEP_PROFILES=<dir> keeps the callgrind files (callgrind_annotate --inclusive=yes <file> reads them).
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-2000}
secs=1
conns=8
for tool in valgrind callgrind_control oha; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install valgrind; cargo install oha)" >&2; exit 2; }
done
profiles=$(mktemp -d)
export BANKGATE_LAUNCHER="valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$profiles/callgrind.%p"
source bench/resource-setup.sh

count() { # name url [oha args...]: prints instructions per request
  local name=$1 url=$2; shift 2
  oha --no-tui -n 300 -c "$conns" --cacert "$ca" "$@" "$url" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  oha --no-tui -n "$requests" -c "$conns" --output-format json --cacert "$ca" "$@" "$url" >"$profiles/$name.json"
  callgrind_control -d "$name" "$pid" >/dev/null 2>&1
  local dump; dump=$(ls -t "$profiles"/callgrind.* | head -1)
  mv "$dump" "$profiles/$name.callgrind"
  python3 - "$profiles/$name.callgrind" "$profiles/$name.json" "$requests" <<'PY'
import json, sys
total = next(int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith(("summary:", "totals:")))
codes = json.load(open(sys.argv[2])).get("statusCodeDistribution", {})
bad = sum(v for k, v in codes.items() if not k.startswith("2"))
if bad:
    sys.exit(f"{bad} answers were not 2xx")
print(round(total / int(sys.argv[3])))
PY
}
bank_accounts=$(count nginx-accounts "$proxy/fdx/v6/accounts" -H "Authorization: Bearer $bank_token")
gw_accounts=$(count gateway-accounts "$gw/fdx/v6/accounts" --cert "$cert" --key "$key" -H "Authorization: Bearer $gw_token")
bank_tx=$(count nginx-transactions "$proxy/fdx/v6/accounts/$account/transactions?limit=25" \
  -H "Authorization: Bearer $bank_token")
gw_tx=$(count gateway-transactions "$gw/fdx/v6/accounts/$gw_account/transactions?limit=25" \
  --cert "$cert" --key "$key" -H "Authorization: Bearer $gw_token")
printf '%-34s %10s %12s\n' "instructions per request" "bankgate" "gateway own"
printf '%-34s %10d %12s\n' "accounts, bank alone (via nginx)" "$bank_accounts" "-"
printf '%-34s %10d %12d\n' "accounts, gateway (certificate)" "$gw_accounts" $((gw_accounts - bank_accounts))
printf '%-34s %10d %12s\n' "transactions, bank alone" "$bank_tx" "-"
printf '%-34s %10d %12d\n' "transactions, gateway" "$gw_tx" $((gw_tx - bank_tx))
[ -n "${KEEP_PROFILES:-}" ] && mkdir -p "$KEEP_PROFILES" && cp "$profiles"/*.callgrind "$KEEP_PROFILES"/
rm -rf "$profiles"
