#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/trace.sh - `make bench-trace`: recording overhead and replay speed
#
# 1. records the demo workload (`vusim demo --trace`, the in-process
#    back-end driven in-band by the reference front-end) and takes the
#    wall time of that run from its report, best of three;
# 2. runs bench/trace, which measures the in-band request cycle without
#    and with --trace and replays the demo's trace against that wall time.
# Last line: trace-overhead=R replay-speedup=S (goals: R <= 1.10, S >= 20).
set -euo pipefail

b=${builddir:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
requests=${VUSIM_BENCH_REQUESTS:-20000}

# Best of three recordings, as replay is timed best of three: the runs'
# traces are the same bytes, so any of them stands for all. The time is
# the run's own (front-end and back-end, recording included), not the
# process's: in a build tree $b/vusim is libtool's wrapper script.
ns=
for run in 1 2 3; do
    "$b/vusim" demo --requests="$requests" --trace="$tmp/demo.trace" \
        >"$tmp/demo.out"
    t=$(awk '/^wall time:/ { printf "%.0f", $3 * 1e9 }' "$tmp/demo.out")
    if [ -z "$t" ]; then
        echo "bench-trace: no wall time in the demo's report" >&2
        exit 1
    fi
    echo "demo run $run: $requests requests recorded in $(( t / 1000000 )) ms"
    if [ -z "$ns" ] || [ "$t" -lt "$ns" ]; then
        ns=$t
    fi
done
"$b/vusim" trace info "$tmp/demo.trace" |
    sed -n 's/^\(requests\|records\):/  &/p'
"$b/bench/trace" --replay="$tmp/demo.trace" --recorded-ns="$ns"
