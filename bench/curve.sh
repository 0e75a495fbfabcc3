#!/usr/bin/env bash
# The cost curve: stuckconn and ss in the same run at several sizes, written to
# bench/results/curve.csv (one row per tool, mode and size: medians of wall time, CPU time and
# peak RSS) and bench/results/timings.jsonl (where stuckconn's time and memory go, from its own
# `scan --timings`), then drawn by bench/chart.py as bench/results/curve.svg.
#
#   bench/curve.sh [RUNS=5] [SIZES="1000 10000 100000 250000"]
#   OUT=/tmp/somewhere bench/curve.sh ...  writes there instead of bench/results
#   BASELINE=/path/to/an/older/stuckconn bench/curve.sh ...   also measures that binary (rows
#                                          `baseline`), in the same runs: before and after
#
# Each size gets a network namespace of its own (deleted afterwards: no TIME-WAIT sockets of
# one size linger into the next), with sinks and `hold` clients of examples/testbed.rs in it:
# CONNS connections (2 x CONNS sockets) over PROCS client processes (20 at 1,000, 200 at 10,000,
# 1,000 from 100,000 up). Both tools run inside it with nsenter, and stuckconn scans only it
# (`--netns self`): other namespaces of the machine cannot add work to one tool and not the
# other. Measured, interleaved, RUNS times each:
#
#   ss -tan                              the dump alone: the kernel's floor for the sockets
#   ss -tanpi                            the dump, every process's fds, tcp_info
#   stuckconn scan --format json --min-idle 1h   nothing flagged
#   stuckconn scan --format json --min-idle 0s   everything flagged, every holder's threads examined
#   stuckconn scan --min-idle 0s                 the same, as the table a person reads (mode
#                                                all_flagged_table: what `ss -tanpi` is to them)
#
# ss -tanpi grows faster than linearly; a size where one run of it takes longer than 60 s is
# measured once, and sizes above SS_TANPI_MAX connections (unset: none) not at all (at 250,000
# it took 579 s here: its rows are then absent from the CSV). The bed is bench/lib.sh's.
#
# Needs: root, ip, nsenter, ss (iproute2), python3 (bench/chart.py draws the chart). Each run is
# timed by examples/measure.rs from its rusage.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
SIZES=${2:-"1000 10000 100000 250000"}
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
for tool in ip nsenter ss python3; do
    command -v "$tool" >/dev/null || { echo "curve: needs $tool" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "curve: needs root (network namespaces, every process's fds)" >&2; exit 2; }

ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
cargo build --release --quiet --bin stuckconn --example testbed --example measure
BIN=$PWD/target/release/stuckconn
TESTBED=$PWD/target/release/examples/testbed
MEASURE=$PWD/target/release/examples/measure
. bench/lib.sh
trap bed_down EXIT

CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MACHINE="$(nproc) x $CPU, $(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r), $(ss -V | awk '{print $NF}')"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CSV=$OUT/curve.csv
{
    echo "# machine: $MACHINE"
    echo "# date: $DATE"
    changed=$(git diff --quiet HEAD -- src examples Cargo.toml Cargo.lock 2>/dev/null || echo " with uncommitted changes")
    echo "# stuckconn: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$changed${BASELINE:+; baseline: $BASELINE}; runs: $RUNS; open-files limit $NOFILE${SS_TANPI_MAX:+; ss -tanpi only up to $SS_TANPI_MAX connections}"
    echo "tool,mode,conns,sockets,procs,runs,wall_s,cpu_s,peak_kib,load1"
} >"$CSV"
: >"$OUT/timings.jsonl"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for CONNS in $SIZES; do
    if [ "$CONNS" -le 1000 ]; then PROCS=20
    elif [ "$CONNS" -le 10000 ]; then PROCS=200
    else PROCS=1000; fi
    NS=stuckconn-curve-$$-$CONNS
    IN=(nsenter --net=/run/netns/"$NS")
    bed_up "$NS" "$CONNS" "$PROCS" "$TESTBED"
    sockets=$BED_SOCKETS
    echo "curve: $BED_CONNS connections over $PROCS processes and $BED_SINKS sinks ($sockets TCP sockets)" >&2
    CONNS=$BED_CONNS

    # One warm-up of each: the first walk of new fds makes their /proc entries.
    "${IN[@]}" "$BIN" scan --format json --netns self --min-idle 1h >/dev/null 2>&1 || true
    "${IN[@]}" ss -tanH >/dev/null

    declare -A wall=() cpu=() rss=() runs=()
    modes=(ss:tan ss:tanpi stuckconn:nothing_flagged stuckconn:all_flagged stuckconn:all_flagged_table)
    [ -n "${BASELINE:-}" ] && modes+=(baseline:nothing_flagged baseline:all_flagged)
    for _ in $(seq "$RUNS"); do
        for m in "${modes[@]}"; do
            if [ "$m" = ss:tanpi ] && [ -n "${SS_TANPI_MAX:-}" ] && [ "$CONNS" -gt "$SS_TANPI_MAX" ]; then
                continue
            fi
            # A slow ss -tanpi is measured once.
            if [ "$m" = ss:tanpi ] && [ -n "${wall[$m]:-}" ] && \
               awk -v w="$(echo "${wall[$m]}" | awk '{print $1}')" 'BEGIN {exit !(w > 60)}'; then
                continue
            fi
            case $m in
                ss:tan) cmd=(ss -tan) ;;
                ss:tanpi) cmd=(ss -tanpi) ;;
                stuckconn:nothing_flagged) cmd=("$BIN" scan --format json --netns self --min-idle 1h) ;;
                stuckconn:all_flagged) cmd=("$BIN" scan --format json --netns self --min-idle 0s) ;;
                stuckconn:all_flagged_table) cmd=("$BIN" scan --netns self --min-idle 0s) ;;
                baseline:nothing_flagged) cmd=("$BASELINE" scan --format json --netns self --min-idle 1h) ;;
                baseline:all_flagged) cmd=("$BASELINE" scan --format json --netns self --min-idle 0s) ;;
            esac
            read -r e u s m_kib < <("$MEASURE" "${IN[@]}" "${cmd[@]}")
            wall[$m]="${wall[$m]:-} $e"
            cpu[$m]="${cpu[$m]:-} $(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.4f", u + s}')"
            rss[$m]="${rss[$m]:-} $m_kib"
            runs[$m]=$(( ${runs[$m]:-0} + 1 ))
        done
    done
    load=$(cut -d' ' -f1 /proc/loadavg)
    for m in "${modes[@]}"; do
        [ -z "${runs[$m]:-}" ] && continue
        med() { tr ' ' '\n' | grep -v '^$' | median; }
        printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "${m%%:*}" "${m#*:}" "$CONNS" "$sockets" "$PROCS" \
            "${runs[$m]}" "$(echo "${wall[$m]}" | med)" "$(echo "${cpu[$m]}" | med)" \
            "$(echo "${rss[$m]}" | med)" "$load" >>"$CSV"
    done
    # Where the time goes: stuckconn's own --timings (the JSON report's `timings`, and the
    # rendering's line from standard error), one line per run and mode.
    for _ in $(seq "$RUNS"); do
        for idle in 3600 0; do
            "${IN[@]}" "$BIN" scan --format json --netns self --min-idle "${idle}s" --timings \
                >"$OUT/.report.json" 2>"$OUT/.stderr" || true
            python3 - "$CONNS" "$PROCS" "$idle" "$OUT/.report.json" "$OUT/.stderr" >>"$OUT/timings.jsonl" <<'PY'
import json, re, sys
conns, procs, idle, report, stderr = sys.argv[1:]
r = json.load(open(report))
line = {"conns": int(conns), "procs": int(procs), "min_idle": int(idle),
        "report_connections": len(r["connections"]), **r["timings"]}
m = re.search(r"timings: render +([0-9.]+) s +cpu +([0-9.]+) s +peak +([0-9.]+) MiB", open(stderr).read())
if m:
    line["phases"].append({"phase": "render", "secs": float(m[1]), "cpu_secs": float(m[2]),
                           "peak_rss_kib": round(float(m[3]) * 1024)})
print(json.dumps(line))
PY
        done
    done
    rm -f "$OUT/.report.json" "$OUT/.stderr"
    tail -n "${#modes[@]}" "$CSV" >&2
    unset wall cpu rss runs
    bed_down
done
python3 bench/chart.py "$CSV" "$OUT/timings.jsonl" "$OUT/curve.svg"
echo "curve: wrote $CSV, $OUT/timings.jsonl and $OUT/curve.svg" >&2
