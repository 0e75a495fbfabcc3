# Shared by the benchmarks (sourced, not run): a bed of held loopback connections in a network
# namespace of the bench's own, torn down by pid and by name.
#
#   bed_up NS CONNS PROCS TESTBED   namespace NS (made here), sinks and PROCS `testbed hold`
#                                   clients holding CONNS connections in all (2 x CONNS
#                                   sockets); returns once all are established. Sets
#                                   BED_CONNS (connections held), BED_SINKS and BED_SOCKETS,
#                                   and appends every process it starts to BED_PIDS.
#   bed_down                        stops those processes by pid and deletes the namespace.
#
# A sink takes at most (open-files limit - 100) connections and 28,000 (the ephemeral ports of
# one source address towards one port): more connections take more sinks. Clients start in
# waves of 100, so that the sinks' accept queues keep up. Needs root, ip, nsenter and ss.

BED_PIDS=()
BED_NS=""

bed_up() {
    local ns=$1 conns=$2 procs=$3 testbed=$4
    local per=$((conns / procs)) per_sink fifo port n=0 i
    per_sink=$(( $(ulimit -n) - 100 ))
    [ "$per_sink" -gt 28000 ] && per_sink=28000
    BED_SINKS=$(( (conns + per_sink - 1) / per_sink ))
    BED_NS=$ns
    ip netns del "$ns" 2>/dev/null || true
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    local in=(nsenter --net=/run/netns/"$ns")
    local ports=()
    for _ in $(seq "$BED_SINKS"); do
        fifo=$(mktemp -u); mkfifo "$fifo"
        "${in[@]}" "$testbed" sink >"$fifo" & BED_PIDS+=($!)
        read -r _ port <"$fifo"; rm -f "$fifo"
        ports+=("$port")
    done
    for i in $(seq "$procs"); do
        "${in[@]}" "$testbed" hold "${ports[$(( i % BED_SINKS ))]}" "$per" >/dev/null & BED_PIDS+=($!)
        [ $((i % 100)) = 0 ] && sleep 0.5
    done
    for _ in $(seq 1200); do
        n=$("${in[@]}" ss -tanH state established | wc -l)
        [ "$n" -ge $((2 * per * procs)) ] && break
        sleep 1
    done
    BED_CONNS=$((n / 2))
    BED_SOCKETS=$("${in[@]}" ss -tanH | wc -l)
}

bed_down() {
    local pid
    for pid in "${BED_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${BED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    BED_PIDS=()
    [ -n "$BED_NS" ] && ip netns del "$BED_NS" 2>/dev/null || true
    BED_NS=""
}
