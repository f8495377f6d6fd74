#!/usr/bin/env bash
# CPU profile of the gateway's resource API under load (not part of CI):
# `bench/resource-profile.sh [dpop|mtls] [accounts|transactions] [seconds] [connections]`.
#
# Same setup as bench/resource-load.sh (bench/resource-setup.sh: `bankgate up` on disk, nginx unused here). Loads the
# gateway with wrk and fresh DPoP proofs (`dpop`) or oha and a certificate-bound token (`mtls`), records every CPU
# for 4 s in the middle of the run with `perf record -a --call-graph dwarf` (Debian's linux-perf), and prints:
#   - the share of all samples per thread name (the gateway's request workers, SQLite's thread, the writer, the bank,
#     the load generator, the kernel's idle loop),
#   - the heaviest functions by inclusive share inside the bankgate process (a function counts once per sample),
#   - the gateway's and the banks' own functions by inclusive share,
#   - the heaviest functions by self share inside the bankgate process.
# KEEP_PROFILE=<file> keeps the `perf script` text for a closer look.
# Needs perf allowed to sample the whole machine (root, or kernel.perf_event_paranoid <= -1).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-mtls}
resource=${2:-accounts}
secs=${3:-12}
conns=${4:-32}
threads=2
load_tool=oha; [ "$mode" = dpop ] && load_tool=wrk
for tool in perf "$load_tool"; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install linux-perf wrk; cargo install oha)" >&2; exit 2; }
done
source bench/resource-setup.sh

if [ "$resource" = accounts ]; then gpath=/fdx/v6/accounts; else gpath="/fdx/v6/accounts/$gw_account/transactions?limit=25"; fi
if [ "$mode" = dpop ]; then
  ./target/release/examples/resource_requests "$gw" "$ca" sandbox-app "$secret" "$resource" $((secs * 20000)) \
    "$dir/requests.txt" 2>/dev/null
  RESOURCE_REQUESTS="$dir/requests.txt" WRK_THREADS=$threads \
    wrk -t"$threads" -c "$conns" -d "${secs}s" -s bench/resource.lua "$gw" >"$dir/load.out" 2>&1 &
else
  oha --no-tui -z "${secs}s" -c "$conns" --cacert "$ca" --cert "$cert" --key "$key" \
    -H "Authorization: Bearer $gw_token" "$gw$gpath" >"$dir/load.out" 2>&1 &
fi
load=$!
sleep $((secs / 3))
perf record -q -F 499 --call-graph dwarf,16384 -a -o "$dir/perf.data" -- sleep 4 2>/dev/null
wait "$load"
grep -E 'Requests/sec|Success rate|requests in|Non-2xx|JSON|Status code|\[[0-9]{3}\]' "$dir/load.out" || true
perf script -i "$dir/perf.data" -F comm,pid,tid,ip,sym,dso 2>/dev/null >"$dir/perf.txt"
[ -n "${KEEP_PROFILE:-}" ] && cp "$dir/perf.txt" "$KEEP_PROFILE"
python3 - "$dir/perf.txt" "$pid" <<'PY'
import collections, re, sys
path, gateway_pid = sys.argv[1], sys.argv[2]
samples = []  # (comm, pid, [symbols innermost first])
comm = pid = None
frames = []
head = re.compile(r"^(\S.*?)\s+(\d+)/(\d+)\s*$")
for line in open(path, errors="replace"):
    if not line.strip():
        if comm is not None:
            samples.append((comm, pid, frames))
        comm, frames = None, []
        continue
    if not line.startswith((" ", "\t")):
        m = head.match(line.rstrip())
        if m:
            comm, pid = m.group(1).strip(), m.group(2)
        continue
    parts = line.strip().split(None, 1)
    sym = parts[1] if len(parts) > 1 else "?"
    sym = re.sub(r"\+0x[0-9a-f]+", "", sym)
    sym = re.sub(r"::h[0-9a-f]{16}", "", sym)
    frames.append(sym)
if comm is not None:
    samples.append((comm, pid, frames))
total = len(samples)
print(f"\n{total} samples in all (2 CPUs x 4 s at 499 Hz = 3,992 when no CPU idles)")
by_comm = collections.Counter(c for c, _, _ in samples)
print("\nshare of all samples by thread name:")
for name, n in by_comm.most_common(14):
    print(f"  {100 * n / total:5.1f}%  {name}")
ours = [f for _, p, f in samples if p == gateway_pid]
print(f"\nthe bankgate process (banks and gateway): {100 * len(ours) / total:.1f}% of all samples")
inclusive = collections.Counter()
own = collections.Counter()
for frames in ours:
    for sym in set(frames):
        inclusive[sym] += 1
    if frames:
        own[frames[0]] += 1
def short(sym):
    return sym if len(sym) <= 110 else sym[:107] + "..."
print("\ninclusive, share of all samples (bankgate process):")
for sym, n in inclusive.most_common(45):
    print(f"  {100 * n / total:5.1f}%  {short(sym)}")
print("\nthe gateway's and the banks' own functions, inclusive:")
for sym, n in [(s, n) for s, n in inclusive.most_common() if s.startswith(("gateway::", "mock_bank::", "certs::"))][:30]:
    print(f"  {100 * n / total:5.1f}%  {short(sym)}")
print("\nself, share of all samples (bankgate process):")
for sym, n in own.most_common(30):
    print(f"  {100 * n / total:5.1f}%  {short(sym)}")
PY
