#!/usr/bin/env bash
# Holds CONNS loopback connections (2 x CONNS sockets) over PROCS client processes, then times
# `stuckconn scan --format json` against `ss -tanpi` in the same run, and reports the median
# wall time of RUNS runs of each and stuckconn's peak RSS.
#
#   bench/scan-vs-ss.sh [CONNS=10000] [PROCS=200] [RUNS=7]
#   bench/scan-vs-ss.sh 100000 1000 5        # the scale case of the hardening issue
#
# One sink server takes at most 25,000 connections (the ephemeral ports of one source address
# towards one port) and fewer than the open-files limit; more are spread over more sinks.
#
# Needs: root (to see every process's fds), ss (iproute2), GNU time (`time` package).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-10000}
PROCS=${2:-200}
RUNS=${3:-7}
PER=$((CONNS / PROCS))

command -v ss >/dev/null || { echo "bench: needs ss (apt-get install iproute2)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }
# As many fds as allowed; a sink holds at most 25,000 connections and fewer than the limit.
ulimit -n $((CONNS + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PER_SINK=$(( $(ulimit -n) - 1000 ))
[ "$PER_SINK" -gt 25000 ] && PER_SINK=25000
SINKS=$(( (CONNS + PER_SINK - 1) / PER_SINK ))
cargo build --release --quiet --bin stuckconn --example testbed
BIN=target/release/stuckconn
TESTBED=target/release/examples/testbed

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

ports=()
for _ in $(seq "$SINKS"); do
    fifo=$(mktemp -u); mkfifo "$fifo"
    "$TESTBED" sink >"$fifo" & pids+=($!)
    read -r _ port <"$fifo"; rm -f "$fifo"
    ports+=("$port")
done
for i in $(seq "$PROCS"); do
    "$TESTBED" hold "${ports[$(( i % SINKS ))]}" "$PER" >/dev/null & pids+=($!)
done
# Wait until every connection is established.
for _ in $(seq 600); do
    n=$(ss -tanH state established | wc -l)
    [ "$n" -ge $((2 * CONNS)) ] && break
    sleep 0.5
done
echo "held $((n / 2)) connections over $PROCS processes and $SINKS sinks ($(ss -tanH | wc -l) TCP sockets in all)"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # prints "wall_secs peak_kib" per run
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o /tmp/bench.time "$@" >/dev/null 2>&1 || true
        tail -n 1 /tmp/bench.time
    done
}
ss_wall=$(measure ss -tanpi | awk '{print $1}' | median)
sc_wall=$(measure "$BIN" scan --format json | awk '{print $1}' | median)
sc_rss=$(measure "$BIN" scan --format json | awk '{print $2}' | median)
sc0_wall=$(measure "$BIN" scan --format json --min-idle 0s | awk '{print $1}' | median)
sc0_rss=$(measure "$BIN" scan --format json --min-idle 0s | awk '{print $2}' | median)
printf 'ss -tanpi                                   median %.3f s\n' "$ss_wall"
printf 'stuckconn scan --format json                median %.3f s  peak RSS %.1f MiB  (%.2fx ss)\n' \
    "$sc_wall" "$(echo "$sc_rss / 1024" | bc -l)" "$(echo "$sc_wall / $ss_wall" | bc -l)"
printf 'stuckconn scan --format json --min-idle 0s  median %.3f s  peak RSS %.1f MiB  (%.2fx ss; threads of all %d processes examined)\n' \
    "$sc0_wall" "$(echo "$sc0_rss / 1024" | bc -l)" "$(echo "$sc0_wall / $ss_wall" | bc -l)" "$PROCS"
