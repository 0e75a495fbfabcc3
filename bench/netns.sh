#!/usr/bin/env bash
# The cost of each network namespace: NS test namespaces (192.0.2.5 on lo in each), each with
# a blackhole server and CONNS hung calls; `stuckconn scan --format json` over all of them
# against `--netns self`, median of RUNS runs each.
#
#   bench/netns.sh [NS=50] [CONNS=20] [RUNS=7]      (root; needs ip(8) and GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
NS=${1:-50}
CONNS=${2:-20}
RUNS=${3:-7}
[ -x /usr/bin/time ] || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet --bin stuckconn --example testbed
BIN=target/release/stuckconn
TESTBED=$PWD/target/release/examples/testbed
tag="scbench-$$"
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    for i in $(seq "$NS"); do ip netns del "$tag-$i" 2>/dev/null || true; done
}
trap cleanup EXIT
for i in $(seq "$NS"); do
    ns="$tag-$i"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add 192.0.2.5/32 dev lo
    TESTBED_ADDR=192.0.2.5 TESTBED_PORT=8080 ip netns exec "$ns" "$TESTBED" blackhole >/dev/null & pids+=($!)
done
sleep 0.5
for i in $(seq "$NS"); do
    TESTBED_ADDR=192.0.2.5 ip netns exec "$tag-$i" "$TESTBED" hold 8080 "$CONNS" >/dev/null & pids+=($!)
done
sleep 1
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() {
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o /tmp/bench.time "$@" >/dev/null 2>&1 || true
        tail -n 1 /tmp/bench.time
    done
}
all=$(measure "$BIN" scan --format json --no-dns)
own=$(measure "$BIN" scan --format json --no-dns --netns self)
all_wall=$(awk '{print $1}' <<<"$all" | median); all_rss=$(awk '{print $2}' <<<"$all" | median)
own_wall=$(awk '{print $1}' <<<"$own" | median)
seen=$("$BIN" scan --format json --no-dns --all | grep -c '"own": false' || true)
printf '%d namespaces x %d hung calls (%d sockets outside the own namespace seen)\n' "$NS" "$CONNS" "$((seen / 1))"
printf 'all namespaces:  median %.3f s, peak RSS %.1f MiB\n' "$all_wall" "$(echo "$all_rss / 1024" | bc -l)"
printf 'own namespace:   median %.3f s\n' "$own_wall"
printf 'per namespace:   %.2f ms\n' "$(echo "($all_wall - $own_wall) * 1000 / $NS" | bc -l)"
