#!/usr/bin/env bash
# The cost of the four answers (chain, timeouts, impact, hints): what `collect::probe` reads of
# the sockets and processes behind problem findings (each stuck socket's options through
# pidfd_getfd, each holder's smaps_rollup and maps) and the enrichers, on the 10,000-connection
# benchmark with every connection flagged (10,000 hung calls over 200 processes, `--min-idle
# 0s`). It runs bench/curve.sh at that size with BASELINE, a binary built before the probe, in
# the same runs, interleaved, and writes to bench/results/diagnosis/.
#
#   BASELINE=/path/to/stuckconn-before-probe bench/diagnosis.sh [RUNS=7] [SIZES=10000]
#
# Build the baseline from the commit before the probe was wired:
#   git worktree add --detach /tmp/before 37e71f5 && (cd /tmp/before && cargo build --release)
#   BASELINE=/tmp/before/target/release/stuckconn bench/diagnosis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${BASELINE:-}" ] || { echo "diagnosis: set BASELINE to a binary built before the probe" >&2; exit 2; }
OUT=bench/results/diagnosis bench/curve.sh "${1:-7}" "${2:-10000}"
