#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/tt/tt-qemu.sh - vusim's QEMU as a time-travel participant
#
# One vusim is the time-travel controller of a QEMU guest (vusim's QEMU,
# scripts/build-qemu.sh: -icount shift=0,sleep=off, -object time-travel,
# -rtc clock=vm, -seed 1, TCG, one vCPU) and the back-end of its disk and
# its rng, both with in-band notifications, all on one calendar:
#
#   vusim multi --time-travel=TT --guests=1 --inband=on --start-time=S \
#       --device blk,socket-path=BLK,latency=1ms,size=16M,trace=blk.trace \
#       --device rng,socket-path=RNG,seed=SEED,trace=rng.trace
#
# The guest runs tests/tt/init.sh: ttprobe (16 O_DIRECT reads of 4 KiB
# timed with CLOCK_MONOTONIC) and 64 bytes of /dev/hwrng. The same run is
# made VUSIM_TT_RUNS times (default 3). Passes when
#   (a) each device's traces are byte-identical in all runs;
#   (b) the guest's console from TT-START to TT-END (dates, uptimes, every
#       read's latency, the rng bytes) is byte-identical in all runs;
#   (c) every read took the model's 1 ms plus an overhead under 100 us,
#       reported (each read's is the same in every run, by (b));
#   (d) the guest read 64 rng bytes, the seeded stream from wherever the
#       guest kernel's own reads left it (the same place in every run, by
#       (b)), and every kick and call of both devices was in-band;
#   (e) both traces pass `vusim trace check` and `vusim replay` (each
#       device's trace of the one calendar replays alone);
#   (f) the same QEMU with -smp 2 is refused, naming -smp 1.
#   (g) every ring look vusim made was while QEMU waited for the message's
#       ack (looks_unwaited 0: cosim/backend/backend.c, vu_answer), and
#       QEMU never warned of an interrupt that reached it while its guest
#       ran (when the guest took it would depend on host timing).
# Each run from the second on is compared with run 1 as soon as it ends.
# When it differs, or hangs, or prints no section, the test shows where it
# first left run 1 (tt_locate_divergence in tests/tt/lib.sh): the first
# differing console lines and, for each trace, `vusim trace diff`'s first
# differing record; the TT records' times are QEMU's virtual time, one ns
# per instruction (-icount shift=0) plus the time it was idle or held.
# Skips (77) without vusim's QEMU (fails with VUSIM_QEMU_REQUIRED=1), a
# kernel, busybox-static or jq.
set -uo pipefail

# shellcheck source=tests/tt/lib.sh
. "$(dirname "$0")/lib.sh"
guest_init tt-qemu
guest_require busybox jq
guest_require_qemu_patched
guest_require qemu
guest_require_vusim
tt_require_controller
tt_qemu_initrd

RUNS=${VUSIM_TT_RUNS:-3}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-600}
LATENCY_NS=1000000
READS=16
RNG_BYTES=64
SEED=20240611
START_S=1700000000
TTSOCK=$GUEST_RUN/tt.sock
BLKSOCK=$GUEST_RUN/blk.sock
RNGSOCK=$GUEST_RUN/rng.sock

# run_failed N WHY: run N did not finish or gave no output: its console,
# where it first left run 1 (from run 2 on), then fail.
run_failed()
{
    local n=$1

    guest_console_tail "$GUEST_RUN/run$n/console.log" 40
    if [ "$n" -gt 1 ]; then
        tt_locate_divergence "$GUEST_RUN/run1" "$GUEST_RUN/run$n" \
            console.log blk.trace rng.trace
    fi
    guest_fail "$2"
}

# same_as_run1 N: run N's guest output and both traces are run 1's, byte
# for byte; else show where they first part (the first differing console
# line, each trace's first differing record) and fail.
same_as_run1()
{
    local n=$1 a=$GUEST_RUN/run1 b=$GUEST_RUN/run$1 f

    for f in section blk.trace rng.trace; do
        if ! cmp -s "$a/$f" "$b/$f"; then
            tt_locate_divergence "$a" "$b" section blk.trace rng.trace
            guest_fail "run $n differs from run 1 (first in $f; where" \
                "they part is shown above)"
        fi
    done
    guest_ok "run $n: the guest's output and the blk and rng traces are" \
        "run 1's, byte for byte"
}

run_once()
{
    local n=$1 dir=$GUEST_RUN/run$1 rc=0 t0

    mkdir -p "$dir"
    tt_vusim "vusim$n" "$TTSOCK" "$BLKSOCK" "$RNGSOCK" -- multi \
        "--time-travel=$TTSOCK" --guests=1 --inband=on \
        "--start-time=$START_S" "--stats=$dir/stats.json" \
        --device "blk,socket-path=$BLKSOCK,latency=1ms,size=16M,trace=$dir/blk.trace" \
        --device "rng,socket-path=$RNGSOCK,seed=$SEED,trace=$dir/rng.trace"
    tt_qemu_cmd 0 "$TTSOCK" "$START_S" "$BLKSOCK,rng:$RNGSOCK" \
        tt_mode=probe tt_disk=vda "tt_reads=$READS" "tt_rng=$RNG_BYTES"
    t0=$(date +%s%N)
    guest_run "$dir/console.log" "$TIMEOUT" "${TT_CMD[@]}" || rc=$?
    guest_say "run $n: QEMU exited with status $rc after" \
        "$((($(date +%s%N) - t0) / 1000000)) ms of wall time"
    [ -z "$GUEST_TIMED_OUT" ] || tail -n 20 "$GUEST_RUN/vusim$n.log"
    # Stopped first either way: its traces end cleanly, so a run that hung
    # can still be compared with run 1.
    guest_vusim_stop "$VUSIM_PID" "vusim$n"
    [ -z "$GUEST_TIMED_OUT" ] ||
        run_failed "$n" "run $n: the guest did not finish within $TIMEOUT s"
    tt_section "$dir/console.log" >"$dir/section" ||
        run_failed "$n" "run $n: no TT-START .. TT-END"
    [ -s "$dir/blk.trace" ] && [ -s "$dir/rng.trace" ] ||
        guest_fail "run $n: vusim wrote no trace"
    # Before the probe's own checks: a run that went another way fails
    # with where it did.
    [ "$n" -eq 1 ] || same_as_run1 "$n"
    tt_check_probe "$dir/section" "$LATENCY_NS" "$READS"
    tt_check_qemu_quiet "$n" "$dir/console.log"
}

# Every kick and call in-band, none by eventfd, for every queue listed in
# the stats (both devices).
check_inband()
{
    local f=$1 k got

    for k in kicks_eventfd calls_eventfd; do
        got=$(jq "[.. | objects | .$k? // empty] | add // 0" "$f") ||
            guest_fail "cannot read $f"
        [ "$got" = 0 ] || guest_fail "stats: $k is $got, expected 0"
        guest_ok "stats: $k is 0"
    done
    for k in kicks_inband calls_inband; do
        got=$(jq "[.. | objects | .$k? // empty] | add // 0" "$f") ||
            guest_fail "cannot read $f"
        [ "$got" -gt 0 ] || guest_fail "stats: $k is $got, expected > 0"
        guest_ok "stats: $k is $got"
    done
}

# QEMU with more than one vCPU is refused by the time-travel object,
# with one line that says what to use instead.
check_smp()
{
    local out rc=0

    tt_vusim vusim-smp "$TTSOCK" "$RNGSOCK" -- multi \
        "--time-travel=$TTSOCK" --guests=1 --inband=on \
        --device "rng,socket-path=$RNGSOCK,seed=$SEED"
    tt_qemu_cmd 0 "$TTSOCK" "$START_S" "rng:$RNGSOCK"
    out=$(timeout 300 "${TT_CMD[@]}" -smp 2 </dev/null 2>&1) || rc=$?
    guest_vusim_stop "$VUSIM_PID" vusim-smp
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] ||
        [[ "$out" != *"time-travel supports one vCPU only: use -smp 1"* ]]
    then
        printf '%s\n' "$out" | tail -n 5
        guest_fail "QEMU -smp 2 with time travel: status $rc, not refused"
    fi
    guest_ok "QEMU -smp 2 with time travel is refused (status $rc)"
}

check_smp
for ((i = 1; i <= RUNS; i++)); do
    run_once "$i"
done
check_inband "$GUEST_RUN/run1/stats.json"
for ((i = 1; i <= RUNS; i++)); do
    tt_check_waited "$GUEST_RUN/run$i/stats.json"
done
rng=$(sed -n 's/^TT-RNG: //p' "$GUEST_RUN/run1/section")
[ "${#rng}" -eq $((2 * RNG_BYTES)) ] ||
    guest_fail "the guest read no $RNG_BYTES rng bytes: '$rng'"
guest_ok "the guest read $RNG_BYTES bytes of /dev/hwrng"
# They are the seeded stream, from wherever the guest kernel's own reads
# left it (the same place in every run, by the check above).
expect=$builddir/tests/guest/rng-expect
[ -x "$expect" ] || guest_fail "no $expect (make check builds it)"
stream=$("$expect" "$SEED" $((4096 + RNG_BYTES)))
head=${stream%%"$rng"*}
if [ "$head" = "$stream" ] || [ $(((${#head} / 2) % 8)) -ne 0 ]; then
    guest_fail "the guest's rng bytes are not in the first 4 KiB of the" \
        "stream of seed $SEED"
fi
guest_ok "they are the seeded stream from byte $((${#head} / 2))"
over=$(sed -n 's/^read i=[0-9]* .* lat_ns=\([0-9]*\) .*/\1/p' \
    "$GUEST_RUN/run1/section" |
    awk -v m="$LATENCY_NS" 'NR == 1 { lo = hi = $1 - m }
        { o = $1 - m; if (o < lo) lo = o; if (o > hi) hi = o }
        END { printf "%d..%d", lo, hi }')
# The overhead is the guest's own path (syscall, block layer, the kick's
# UPDATE, the interrupt): a few thousand instructions at 1 ns each. A read
# that took a tenth of the model's latency more was held somewhere.
[ "${over#*..}" -lt $((LATENCY_NS / 10)) ] ||
    guest_fail "a read's overhead over the model's latency is ${over#*..}" \
        "ns, not under $((LATENCY_NS / 10)) ns"
guest_ok "every read took the model's $LATENCY_NS ns plus $over ns"
for d in blk rng; do
    if ! "$VUSIM" trace check "$GUEST_RUN/run1/$d.trace" \
        >"$GUEST_RUN/check-$d.log" 2>&1; then
        cat "$GUEST_RUN/check-$d.log"
        guest_fail "vusim trace check failed on the $d trace of run 1"
    fi
    guest_ok "vusim trace check: the $d trace of run 1 is whole"
    # Each device of `vusim multi` has its own trace of one shared
    # calendar; each must replay alone, without the guest.
    if ! "$VUSIM" replay --quiet "$GUEST_RUN/run1/$d.trace" \
        >"$GUEST_RUN/replay-$d.log" 2>&1; then
        cat "$GUEST_RUN/replay-$d.log"
        guest_fail "vusim replay diverged on the $d trace of run 1"
    fi
    guest_ok "vusim replay: the $d trace of run 1 replays without divergence"
done
guest_say "$RUNS runs: identical traces (blk $(stat -c %s \
    "$GUEST_RUN/run1/blk.trace") bytes, rng $(stat -c %s \
    "$GUEST_RUN/run1/rng.trace") bytes) and identical guest output" \
    "($(wc -l <"$GUEST_RUN/run1/section") lines)"
guest_say "4 KiB O_DIRECT read: 1 ms model + $over ns overhead, every run"
guest_pass
