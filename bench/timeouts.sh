#!/usr/bin/env bash
# The cost of the timeout, impact and hint readers on the scan's benchmark: holds CONNS
# loopback connections over PROCS client processes (as bench/scan-vs-ss.sh does), then times,
# in the same run, `stuckconn scan --format json --min-idle 0s --netns self` (every connection
# flagged, every holder's threads examined; only this namespace, so that other namespaces on a
# shared host do not weigh on the figure) and the readers alone over every holder: the options of
# every socket (pidfd_getfd + getsockopt, one pidfd per process), every thread's wait
# (/proc/PID/task/TID/syscall, wchan, stat, /proc/PID/mem), PSS (smaps_rollup) and the runtime
# (maps, the executable's ELF section headers). Reports medians of RUNS runs.
#
#   bench/timeouts.sh [CONNS=10000] [PROCS=200] [RUNS=7]
#
# Needs: root, ss (iproute2), GNU time (`time` package).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-10000}
PROCS=${2:-200}
RUNS=${3:-7}
PER=$((CONNS / PROCS))

command -v ss >/dev/null || { echo "bench: needs ss (apt-get install iproute2)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }
ulimit -n $((CONNS + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PER_SINK=$(( $(ulimit -n) - 1000 ))
[ "$PER_SINK" -gt 25000 ] && PER_SINK=25000
SINKS=$(( (CONNS + PER_SINK - 1) / PER_SINK ))
cargo build --release --quiet --bin stuckconn --example testbed
BIN=target/release/stuckconn
TESTBED=target/release/examples/testbed

pids=()
holders=()
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
    "$TESTBED" hold "${ports[$(( i % SINKS ))]}" "$PER" >/dev/null & pids+=($!); holders+=($!)
done
for _ in $(seq 600); do
    n=$(ss -tanH state established | wc -l)
    [ "$n" -ge $((2 * CONNS)) ] && break
    sleep 0.5
done
echo "held $((n / 2)) connections over $PROCS processes and $SINKS sinks"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
scan=$(for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e" -o /tmp/bench.time "$BIN" scan --format json --min-idle 0s --netns self >/dev/null 2>&1 || true
    tail -n 1 /tmp/bench.time
done | median)
readers=$("$TESTBED" time-readers "$RUNS" "${holders[@]}")
echo "stuckconn scan --format json --min-idle 0s --netns self  median $scan s"
echo "readers: $readers"
secs=$(sed -E 's/.*median ([0-9.]+) s.*/\1/' <<<"$readers")
printf 'readers / scan: %.0f%%\n' "$(echo "100 * $secs / $scan" | bc -l)"
