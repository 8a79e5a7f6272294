#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/trace.sh - `make bench-trace`: recording overhead and replay speed
#
# 1. replay speed: VUSIM_BENCH_TRACE_ROUNDS (default 5) interleaved rounds,
#    each recording the demo workload (`vusim demo --trace`: the in-process
#    back-end, polling as the program does, driven in-band by the reference
#    front-end) and replaying its trace once (bench/trace --replay-once).
#    Both sides are timed on the device's work alone: the recording from
#    the first request to the last reaped, less the front-end's checks of
#    the data read back (the demo reports it); the replay is trace_replay()
#    alone. replay-speedup is the ratio of the medians; min and max are
#    printed beside.
# 2. bench/trace: the in-band request cycle without and with --trace, and
#    the replay of the traced cycle runs (see bench/trace.c).
# Last line: trace-overhead=R replay-speedup=S trace-overhead-4k=R4
# replay-speedup-cycle=S2 (goals: R <= 1.10, S >= 20).
set -euo pipefail

b=${builddir:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
requests=${VUSIM_BENCH_REQUESTS:-20000}
rounds=${VUSIM_BENCH_TRACE_ROUNDS:-5}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
rec=() rep=()
for ((r = 1; r <= rounds; r++)); do
    "$b/vusim" demo --requests="$requests" --trace="$tmp/demo.trace" \
        >"$tmp/demo.out"
    t=$(sed -n 's/^wall time: .*checks aside: \([0-9.]*\) s.*/\1/p' \
        "$tmp/demo.out" | awk '{ printf "%.0f", $1 * 1e9 }')
    if [ -z "$t" ]; then
        echo "bench-trace: no work time in the demo's report" >&2
        exit 1
    fi
    out=$("$b/bench/trace" --replay-once="$tmp/demo.trace")
    p=$(sed -n 's/^replay-ns=\([0-9]*\) .*/\1/p' <<<"$out")
    [ -n "$p" ] || { echo "bench-trace: replay failed: $out" >&2; exit 1; }
    echo "round $r: $requests requests recorded in $((t / 1000000)) ms," \
        "replayed in $((p / 1000000)) ms"
    rec+=("$t") rep+=("$p")
done
"$b/vusim" trace info "$tmp/demo.trace" |
    sed -n 's/^\(requests\|records\):/  &/p'
# stats V...: "median min max"
stats()
{
    printf '%s\n' "$@" | sort -g |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[1], v[NR] }'
}
read -r rm rlo rhi <<<"$(stats "${rec[@]}")"
read -r pm plo phi <<<"$(stats "${rep[@]}")"
speedup=$(awk -v a="$rm" -v b="$pm" 'BEGIN { printf "%.1f", a / b }')
echo "demo: recorded in $((rm / 1000000)) ms ($((rlo / 1000000))..$((rhi / 1000000)))," \
    "replayed in $((pm / 1000000)) ms ($((plo / 1000000))..$((phi / 1000000)));" \
    "medians of $rounds rounds: replay-speedup=$speedup"
"$b/bench/trace" >"$tmp/trace.out"
cat "$tmp/trace.out"
last=$(tail -n 1 "$tmp/trace.out")
field()
{
    local w

    for w in $last; do
        case "$w" in "$1="*) echo "${w#*=}"; return ;; esac
    done
    echo skip
}
echo "trace-overhead=$(field trace-overhead) replay-speedup=$speedup" \
    "trace-overhead-4k=$(field trace-overhead-4k)" \
    "replay-speedup-cycle=$(field replay-speedup-cycle)"
