#!/usr/bin/env bash
# Replays a synthetic snapshot of CONNS hung calls over PROCS processes (the shape of the
# 100,000-connection scale case) and reports the file's size, the wall time and the peak RSS
# of `stuckconn scan --from FILE --format json`: loading must stay within 3x the file size.
#
#   bench/replay.sh [CONNS=100000] [PROCS=1000] [RUNS=3]
#
# Needs: python3, GNU time (`time` package).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-100000}
PROCS=${2:-1000}
RUNS=${3:-3}
[ -x /usr/bin/time ] || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet --bin stuckconn
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
snap="$dir/snapshot.json"
python3 - "$CONNS" "$PROCS" "$snap" <<'PY'
import json, sys
conns, procs, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def info(i):
    return {"info_len": 232, "retransmits": 0, "probes": 0, "backoff": 0, "rto_us": 204000,
            "unacked": 0, "lost": 0, "retrans": 0, "last_data_sent_ms": 300000 + i,
            "last_data_recv_ms": 300004 + i, "last_ack_recv_ms": 300000 + i, "rtt_us": 1200,
            "total_retrans": 0, "bytes_acked": 74, "bytes_received": 0, "segs_out": 4, "segs_in": 3}
connections = []
for i in range(conns):
    pid = 10000 + i % procs
    connections.append({
        "state": "established",
        "local": {"ip": "2001:db8:f00::1", "port": 20000 + i % 40000},
        "remote": {"ip": "2001:db8:bad::%x" % (1 + i % 50), "port": 80},
        "inode": 100000 + i, "uid": 33, "cookie": 7919 * (i + 1), "recv_q": 0, "send_q": 0,
        "tcp_info": info(i), "owners": [{"pid": pid, "fd": 10 + i // procs}],
        "blocked_threads": [{"pid": pid, "tid": pid, "fd": 10 + i // procs, "syscall": "poll",
                             "wchan": "poll_schedule_timeout.constprop.0"}],
        "netns": 4026531840})
processes = [{"pid": 10000 + p, "ppid": 1, "name": "apache2", "exe": "/usr/sbin/apache2",
              "cmdline": "/usr/sbin/apache2 -k start", "uid": 33, "unit": "apache2.service",
              "container": None, "started_at": "2012-11-06T08:00:00Z", "threads": 1,
              "thread_evidence": "read"} for p in range(procs)]
snapshot = {"snapshot_version": 1, "host": {"hostname": "web1", "kernel": "6.18"},
            "taken_at": "2012-11-06T17:15:11.000Z", "collect_secs": 1.5, "collector": "sock_diag",
            "partial": False, "thread_evidence_min_idle_secs": 60.0, "connections": connections,
            "processes": processes, "warnings": [],
            "namespaces": [{"inode": 4026531840, "name": None, "container": None,
                            "pod_uid": None, "own": True}]}
with open(path, "w") as f:
    json.dump(snapshot, f, indent=1)
PY
size=$(stat -c %s "$snap")
echo "snapshot: $CONNS connections, $PROCS processes, $((size / 1048576)) MiB"
for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e s  %M KiB" target/release/stuckconn scan --from "$snap" --format json \
        --snapshot-limit 2G >/dev/null 2>"$dir/time" || true
    tail -1 "$dir/time"
done | sort -n | awk -v size="$size" '
    { print "  run: " $0; rss = $3; if (rss > max) max = rss }
    END { printf "peak %.0f MiB = %.2f x the file\n", max / 1024, max * 1024 / size }'
