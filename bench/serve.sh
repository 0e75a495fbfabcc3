#!/usr/bin/env bash
# `stuckconn serve` under load: CONNS loopback connections (2 x CONNS sockets, all counted as
# stuck: --min-idle 0s, so every holder's threads are examined) held by PROCS processes in a
# network namespace of the bench's own, scanned by a release exporter with --min-interval 0s
# (every scrape that finds no scan in flight starts one). Reports:
#   - one scrape at a time, RUNS times: median and max latency (each is a full scan);
#   - BURST concurrent scrapes (curl processes started together): p50, p99, max latency, and
#     how many scans they started (stuckconn_scans_total before and after: 1 is single-flight).
#
#   bench/serve.sh [CONNS=10000] [PROCS=200] [RUNS=7] [BURST=50]
#
# Needs: root (a namespace, every process's fds), ip and ss (iproute2), nsenter, curl. The bed
# is bench/lib.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-10000}
PROCS=${2:-200}
RUNS=${3:-7}
BURST=${4:-50}
NS=stuckconn-bench-serve

for tool in ip nsenter ss curl; do
    command -v "$tool" >/dev/null || { echo "bench: needs $tool" >&2; exit 2; }
done
ulimit -n $((CONNS + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet --bin stuckconn --example testbed
BIN=target/release/stuckconn
TESTBED=target/release/examples/testbed
. bench/lib.sh

tmp=$(mktemp -d)
cleanup() {
    bed_down
    rm -rf "$tmp"
}
trap cleanup EXIT
bed_up "$NS" "$CONNS" "$PROCS" "$TESTBED"
echo "held $BED_CONNS connections over $PROCS processes in network namespace $NS"

"$BIN" serve --listen 127.0.0.1:0 --netns "$NS" --no-dns --min-idle 0s --min-interval 0s \
    --timeout 8s 2>"$tmp/serve.log" & BED_PIDS+=($!)
for _ in $(seq 100); do
    grep -qs 'serving metrics on' "$tmp/serve.log" && break
    sleep 0.1
done
url=$(sed -n 's/^stuckconn: serving metrics on //p' "$tmp/serve.log" | head -n1)
[ -n "$url" ] || { echo "bench: serve did not start: $(cat "$tmp/serve.log")" >&2; exit 1; }

scrape() { curl --silent --show-error --fail --max-time 30 -o "$1" -w '%{time_total}\n' "$url"; }
value() { sed -n "s/^$1 //p" "$2"; }
percentile() { # P of the numbers on stdin (nearest rank)
    sort -n | awk -v p="$1" '{a[NR]=$1} END {r=int(p/100*NR+0.999); if (r<1) r=1; print a[r]}'
}

scrape "$tmp/warm.txt" >/dev/null
stuck=$(awk '/^stuckconn_connections\{kind="hung_call"\}/ {print $2}' "$tmp/warm.txt")
for _ in $(seq "$RUNS"); do scrape "$tmp/one.txt"; done >"$tmp/one.times"
printf 'one scrape (a full scan each, %s hung_call connections): median %.3f s, max %.3f s; scan %.3f s; partial %s\n' \
    "$stuck" "$(percentile 50 <"$tmp/one.times")" "$(percentile 100 <"$tmp/one.times")" \
    "$(value stuckconn_scan_duration_seconds "$tmp/one.txt")" \
    "$(value stuckconn_scan_partial "$tmp/one.txt")"

before=$(value stuckconn_scans_total "$tmp/one.txt")
burst=()
for i in $(seq "$BURST"); do
    scrape "$tmp/burst.$i.txt" >"$tmp/burst.$i.time" & burst+=($!)
done
wait "${burst[@]}" || true
cat "$tmp"/burst.*.time >"$tmp/burst.times"
answered=$(wc -l <"$tmp/burst.times")
after=$(cat "$tmp"/burst.*.txt | sed -n 's/^stuckconn_scans_total //p' | sort -n | tail -n1)
printf '%s concurrent scrapes: %s answered; p50 %.3f s, p99 %.3f s, max %.3f s; scans started by them: %s\n' \
    "$BURST" "$answered" "$(percentile 50 <"$tmp/burst.times")" \
    "$(percentile 99 <"$tmp/burst.times")" "$(percentile 100 <"$tmp/burst.times")" \
    "$((after - before))"
