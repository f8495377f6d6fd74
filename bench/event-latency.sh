#!/usr/bin/env bash
# Bank event to delivered webhook, p50/p99 at a fixed rate (not part of CI): `bench/event-latency.sh [rate] [seconds]
# [--in-memory]`. Runs the `event_latency` example (see its header): a sandbox in one process on file-backed stores in a
# temporary directory (as deployed; `--in-memory` for in-memory stores), RISK events published at the bank's
# admin API open loop, a loopback receiver as the app; the baseline is a loopback POST straight to the receiver at the
# same rate, measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-1000}
secs=${2:-10}
cargo run --release --quiet --example event_latency -- --rate "$rate" --seconds "$secs" "${@:3}"
