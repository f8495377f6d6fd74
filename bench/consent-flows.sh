#!/usr/bin/env bash
# Load run of complete consent flows (PAR, authorize, consent page, the bank's login and consent pages, the
# gateway's confirmation, code exchange) on loopback, not part of CI: `bench/consent-flows.sh [seconds] [workers]`.
#
# Builds `examples/consent_flows.rs` in release and runs it: the example starts its own sandbox in-process
# (ephemeral ports, one bank, frozen bank clock, file-backed stores in a temporary directory as deployed;
# `--in-memory` for in-memory ones), so nothing else needs to be running. Prints
# flows/s, p50/p99 per flow, the errors, and the mean time of each HTTP step of a flow.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
workers=${2:-8}
cargo build --release --quiet --example consent_flows
"${CARGO_TARGET_DIR:-target}/release/examples/consent_flows" --workers "$workers" --seconds "$secs" "${@:3}"
