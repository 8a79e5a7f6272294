#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/tt/tt-blk.sh - a time-travel UML guest under vusim's controller
#
# vusim is the guest's time-travel controller (time-travel=ext:0:TTSOCK)
# and its virtio-blk back-end (a 16 MiB RAM disk, 1 ms per request), both
# on one calendar. The guest (tests/tt/init.sh) prints TT-START, runs date,
# ttprobe (16 O_DIRECT reads of 4 KiB on /dev/vda, each timed with the
# guest's monotonic clock) and date again, prints TT-END and powers off.
# The same run is made VUSIM_TT_RUNS times (default 3). Passes when
#   (a) vusim's --trace files of all runs are byte-identical, and run 1's
#       passes `vusim trace check` and `vusim replay`;
#   (b) the guest's console from TT-START to TT-END is byte-identical in
#       all runs (dates, clock readings and latencies included);
#   (c) every read took at least 1 ms of guest time (the model's latency),
#       and ttprobe succeeded with 16 reads;
#   (d) the guest's clock started at --start-time: CLOCK_REALTIME minus
#       CLOCK_MONOTONIC is within 10 s after it.
# Every run is bounded by VUSIM_GUEST_TIMEOUT (default 120 s); a guest
# that hangs is killed with its process group and its console shown.
# Skips (77) when vusim has no --time-travel option, when there is no
# time-travel UML (see tests/tt/lib.sh) or no static busybox.
set -uo pipefail

# shellcheck source=tests/tt/lib.sh
. "$(dirname "$0")/lib.sh"
guest_init tt-blk
tt_require_uml_root

RUNS=${VUSIM_TT_RUNS:-3}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-120}
LATENCY_NS=1000000
READS=16
# 2023-11-14 22:13:20 UTC: far from the host's clock, so a leak shows.
START_S=1700000000
START_NS=$((START_S * 1000000000))
# The same socket paths in every run: they may appear in the traces and
# they are on the guest's command line.
TTSOCK=$GUEST_RUN/tt.sock
BLKSOCK=$GUEST_RUN/blk.sock

# run_once N: one guest under a fresh vusim; leaves runN/{console.log,
# section,trace,stats.json}.
run_once()
{
    local n=$1 dir=$GUEST_RUN/run$1 rc=0 t0

    mkdir -p "$dir"
    tt_vusim "vusim$n" "$TTSOCK" "$BLKSOCK" -- blk \
        "--time-travel=$TTSOCK" "--start-time=$START_S" \
        "--socket-path=$BLKSOCK" --latency=1ms --size=16M \
        "--trace=$dir/trace" "--stats=$dir/stats.json"
    tt_uml_cmd 0 "$TTSOCK" "$TT_ROOT" "virtio_uml.device=$BLKSOCK:2" \
        tt_mode=probe tt_disk=vda "tt_reads=$READS"
    t0=$(date +%s%N)
    guest_run "$dir/console.log" "$TIMEOUT" "${TT_CMD[@]}" || rc=$?
    guest_say "run $n: guest exited with status $rc after" \
        "$((($(date +%s%N) - t0) / 1000000)) ms of wall time"
    if [ -n "$GUEST_TIMED_OUT" ]; then
        tail -n 20 "$GUEST_RUN/vusim$n.log"
        tt_fail_run "$dir/console.log" \
            "run $n: the guest did not finish within $TIMEOUT s"
    fi
    guest_vusim_stop "$VUSIM_PID" "vusim$n"
    tt_section "$dir/console.log" >"$dir/section" ||
        tt_fail_run "$dir/console.log" "run $n: no TT-START .. TT-END"
    tt_check_probe "$dir/section" "$LATENCY_NS" "$READS"
    [ -s "$dir/trace" ] || guest_fail "run $n: vusim wrote no trace"
    guest_ok "run $n: vusim wrote a trace"
}

# The guest's idea of the time of day at monotonic 0, from ttprobe's
# start line, must be --start-time (plus the boot's small offset).
check_start_time()
{
    local line mono real d

    line=$(grep '^ttprobe: start ' "$1") ||
        guest_fail "no ttprobe start line"
    mono=${line#*mono_ns=}
    mono=${mono%% *}
    real=${line#*real_ns=}
    d=$((real - mono - START_NS))
    if [ "$d" -lt 0 ] || [ "$d" -gt 10000000000 ]; then
        guest_fail "guest clock: realtime - monotonic is $d ns off" \
            "--start-time=$START_S ($line)"
    fi
    guest_ok "guest clock starts at --start-time (+$d ns)"
}

for ((i = 1; i <= RUNS; i++)); do
    run_once "$i"
done
check_start_time "$GUEST_RUN/run1/section"
for ((i = 2; i <= RUNS; i++)); do
    if ! cmp "$GUEST_RUN/run1/section" "$GUEST_RUN/run$i/section"; then
        diff "$GUEST_RUN/run1/section" "$GUEST_RUN/run$i/section" | head -n 20
        guest_fail "the guest's output differs between run 1 and run $i"
    fi
    guest_ok "run $i: the guest's output is run 1's"
    cmp "$GUEST_RUN/run1/trace" "$GUEST_RUN/run$i/trace" ||
        guest_fail "the traces of run 1 and run $i differ"
    guest_ok "run $i: the trace is run 1's, byte for byte"
done
# The trace is whole and replays against the model without divergence.
for cmd in "trace check" replay; do
    # shellcheck disable=SC2086 # two words
    if ! "$VUSIM" $cmd "$GUEST_RUN/run1/trace" >"$GUEST_RUN/$cmd.log" 2>&1
    then
        cat "$GUEST_RUN/$cmd.log"
        guest_fail "vusim $cmd failed on the trace of run 1"
    fi
    guest_ok "vusim $cmd: $(tail -n 1 "$GUEST_RUN/$cmd.log")"
done
# The guest's time-travel exchanges are in the trace as TT records, the
# context `trace diff` shows before a device diverges.
tt_recs=$("$VUSIM" trace info "$GUEST_RUN/run1/trace" |
    sed -n 's/^records:.* TT \([0-9]*\).*/\1/p')
[ "${tt_recs:-0}" -gt 0 ] ||
    guest_fail "the trace of run 1 holds no TT record"
guest_ok "the trace of run 1 holds $tt_recs TT records"
guest_say "$RUNS runs: identical traces ($(stat -c %s \
    "$GUEST_RUN/run1/trace") bytes) and identical guest output" \
    "($(wc -l <"$GUEST_RUN/run1/section") lines)"
sed -n '/^read i=0 /p; /^ttprobe: end /p' "$GUEST_RUN/run1/section" |
    while IFS= read -r l; do guest_say "$l"; done
guest_pass
