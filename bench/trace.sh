#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/trace.sh - `make bench-trace`: recording overhead and replay speed
#
# 1. records the demo workload (`vusim demo --trace`, the in-process
#    back-end driven in-band by the reference front-end) and takes the
#    wall time of that run;
# 2. runs bench/trace, which measures the in-band request cycle without
#    and with --trace and replays the demo's trace against that wall time.
# Last line: trace-overhead=R replay-speedup=S (goals: R <= 1.10, S >= 20).
set -euo pipefail

b=${builddir:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
requests=${VUSIM_BENCH_REQUESTS:-20000}

t0=$(date +%s%N)
"$b/vusim" demo --requests="$requests" --trace="$tmp/demo.trace" \
    >"$tmp/demo.out"
t1=$(date +%s%N)
echo "demo: $requests requests recorded in $(( (t1 - t0) / 1000000 )) ms"
"$b/vusim" trace info "$tmp/demo.trace" |
    sed -n 's/^\(requests\|records\):/  &/p'
"$b/bench/trace" --replay="$tmp/demo.trace" --recorded-ns=$((t1 - t0))
