#!/usr/bin/env bash
# The cost of each namespace's own resolver: NS test namespaces (192.0.2.5 on lo in each),
# each with a hung call to its own 192.0.2.5, a DNS server on its 127.0.0.1:53 that names
# it, and /etc/netns/NAME/resolv.conf pointing there; `stuckconn scan --format json` of all
# of them from the root namespace (each asked from inside it, all at once), against the same
# scan with --no-dns. Prints the median of RUNS runs of `timings.dns_secs` and of the wall
# time of both.
#
#   bench/names.sh [NS=20] [RUNS=7]      (root; needs ip(8) and jq)
set -euo pipefail
cd "$(dirname "$0")/.."
NS=${1:-20}
RUNS=${2:-7}
command -v jq >/dev/null || { echo "bench: needs jq" >&2; exit 2; }
cargo build --release --quiet --bin stuckconn --example testbed
BIN=target/release/stuckconn
TESTBED=$PWD/target/release/examples/testbed
tag="scnames-$$"
records=$(mktemp)
printf 'PTR 192.0.2.5 crl.example.com.\nA crl.example.com. 192.0.2.5\n' >"$records"
made_etc_netns=0
[ -d /etc/netns ] || { mkdir /etc/netns; made_etc_netns=1; }
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    for i in $(seq "$NS"); do
        ip netns del "$tag-$i" 2>/dev/null || true
        rm -rf "/etc/netns/$tag-$i"
    done
    [ "$made_etc_netns" = 1 ] && rmdir /etc/netns 2>/dev/null || true
    rm -f "$records"
}
trap cleanup EXIT
args=()
for i in $(seq "$NS"); do
    ns="$tag-$i"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add 192.0.2.5/32 dev lo
    mkdir "/etc/netns/$ns"
    echo "nameserver 127.0.0.1" >"/etc/netns/$ns/resolv.conf"
    TESTBED_PORT=53 ip netns exec "$ns" "$TESTBED" dns "$records" >/dev/null & pids+=($!)
    TESTBED_ADDR=192.0.2.5 TESTBED_PORT=8080 ip netns exec "$ns" "$TESTBED" blackhole >/dev/null & pids+=($!)
    args+=(--netns "$ns")
done
sleep 0.5
for i in $(seq "$NS"); do
    TESTBED_ADDR=192.0.2.5 ip netns exec "$tag-$i" "$TESTBED" hung-recv 8080 >/dev/null & pids+=($!)
done
sleep 2.2
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
runs() {
    for _ in $(seq "$RUNS"); do
        start=$(date +%s.%N)
        out=$("$BIN" scan --format json --min-idle 2s "${args[@]}" "$@" || true)
        end=$(date +%s.%N)
        echo "$(jq '.timings.dns_secs' <<<"$out") $(echo "$end - $start" | bc -l) $(jq '[.findings[] | select(.remote.dns_source != null and (.remote.dns_source | startswith("netns:")) and .remote.hostname == "crl.example.com")] | length' <<<"$out")"
    done
}
named=$(runs)
plain=$(runs --no-dns)
printf '%d namespaces, each with its own resolver; %s of %d remotes named from inside\n' \
    "$NS" "$(awk '{print $3}' <<<"$named" | median)" "$NS"
printf 'reverse DNS (timings.dns_secs): median %.4f s, %.2f ms per namespace\n' \
    "$(awk '{print $1}' <<<"$named" | median)" \
    "$(echo "$(awk '{print $1}' <<<"$named" | median) * 1000 / $NS" | bc -l)"
printf 'scan wall: median %.3f s with names, %.3f s with --no-dns\n' \
    "$(awk '{print $2}' <<<"$named" | median)" "$(awk '{print $2}' <<<"$plain" | median)"
