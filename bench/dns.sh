#!/usr/bin/env bash
# Reverse DNS of N distinct addresses (2001:db8::1 ...) against a local DNS server (the
# testbed's, on 127.0.0.1), each name forward-confirmed: cold, then warm (the same resolver,
# its cache). Concurrency 64, --dns-timeout 1s, deadline 2s, as a scan uses them.
#
#   bench/dns.sh [N=500] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
RUNS=${2:-5}
cargo build --release --quiet --example testbed --example dnsbench
records=$(mktemp)
python3 - "$N" >"$records" <<'PY'
import sys
for i in range(1, int(sys.argv[1]) + 1):
    ip = f"2001:db8::{i >> 16:x}:{i & 0xffff:x}"
    print(f"PTR {ip} host{i}.example.com.")
    print(f"AAAA host{i}.example.com. {ip}")
PY
fifo=$(mktemp -u); mkfifo "$fifo"
target/release/examples/testbed dns "$records" >"$fifo" & server=$!
trap 'kill $server 2>/dev/null; rm -f "$records"' EXIT
read -r _ port <"$fifo"; rm -f "$fifo"
for _ in $(seq "$RUNS"); do
    target/release/examples/dnsbench "127.0.0.1:$port" "$N"
done
