#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/tt/tt-mixed.sh - a UML guest and a QEMU guest on one calendar
#
# One vusim is the time-travel controller of a time-travel UML (id 0) and
# of vusim's QEMU (id 1; see tt-qemu.sh for its options), and the back-end
# of one virtio-blk disk per guest, in-band, on one calendar:
#
#   vusim multi --time-travel=TT --inband=on --start-time=S \
#       --device blk,socket-path=U.sock,latency=1ms,size=16M,trace=U.trace \
#       --device blk,socket-path=Q.sock,latency=1ms,size=16M,trace=Q.trace
#
# Both guests run tests/tt/init.sh (ttprobe on their own /dev/vda). The
# set-up runs VUSIM_TT_RUNS times (default 2); odd runs start the UML
# first, even runs QEMU, 0.3 s apart. Passes when each guest's console
# section and each disk's trace are byte-identical in all runs, every
# read of both guests took at least the model's 1 ms, and each disk's
# trace of run 1 replays without divergence (`vusim replay`), and every
# ring look vusim made was while its front-end waited (looks_unwaited 0),
# and QEMU never took an interrupt while its guest ran.
# Each run from the second on is compared with run 1 as soon as it ends;
# when it differs, hangs or prints no section, the test shows where it
# first left run 1 (tt_locate_divergence in tests/tt/lib.sh: the first
# differing console lines, each trace's first differing record). Skips (77)
# without a time-travel UML or vusim's QEMU (fails when they are
# required, as in scripts/test.sh), a kernel or busybox-static.
set -uo pipefail

# shellcheck source=tests/tt/lib.sh
. "$(dirname "$0")/lib.sh"
guest_init tt-mixed
guest_require busybox jq
guest_require_qemu_patched
guest_require qemu
guest_require_vusim
[[ "$("$VUSIM" multi --help 2>&1)" == *--time-travel* ]] ||
    guest_skip "this vusim has no 'multi --time-travel' (several guests)"
tt_require_uml
tt_root
tt_qemu_initrd

RUNS=${VUSIM_TT_RUNS:-2}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-600}
LATENCY_NS=1000000
READS=16
START_S=1700000000
TTSOCK=$GUEST_RUN/tt.sock
GUESTS=(uml qemu)

# The files two runs are compared by: each guest's console section and
# each disk's trace.
FILES=(uml.section qemu.section uml.trace qemu.trace)

# run_failed N WHY: run N did not finish or gave no output: the guests'
# consoles, where run N first left run 1 (from run 2 on), then fail.
run_failed()
{
    local n=$1 g

    for g in "${GUESTS[@]}"; do
        guest_console_tail "$GUEST_RUN/run$n/$g.console" 25
    done
    if [ "$n" -gt 1 ]; then
        tt_locate_divergence "$GUEST_RUN/run1" "$GUEST_RUN/run$n" \
            uml.console qemu.console uml.trace qemu.trace
    fi
    guest_fail "$2"
}

# same_as_run1 N: each guest's output and each disk's trace of run N are
# run 1's, byte for byte; else show where they first part and fail.
same_as_run1()
{
    local n=$1 f

    for f in "${FILES[@]}"; do
        if ! cmp -s "$GUEST_RUN/run1/$f" "$GUEST_RUN/run$n/$f"; then
            tt_locate_divergence "$GUEST_RUN/run1" "$GUEST_RUN/run$n" \
                "${FILES[@]}"
            guest_fail "run $n differs from run 1 (first in $f; where" \
                "they part is shown above)"
        fi
    done
    guest_ok "run $n: both guests' output and both disks' traces are" \
        "run 1's, byte for byte"
}

run_once()
{
    local n=$1 dir=$GUEST_RUN/run$1 g devs=() socks=() id order

    mkdir -p "$dir"
    for g in "${GUESTS[@]}"; do
        devs+=(--device "blk,socket-path=$GUEST_RUN/$g.sock,latency=1ms,size=16M,trace=$dir/$g.trace")
        socks+=("$GUEST_RUN/$g.sock")
    done
    tt_vusim "vusim$n" "$TTSOCK" "${socks[@]}" -- multi \
        "--time-travel=$TTSOCK" --inband=on "--start-time=$START_S" \
        "${devs[@]}" "--stats=$dir/stats.json"
    TT_STARTED=()
    order=(0 1)
    [ $((n % 2)) -eq 1 ] || order=(1 0)
    for id in "${order[@]}"; do
        g=${GUESTS[$id]}
        if [ "$g" = uml ]; then
            tt_uml_cmd 0 "$TTSOCK" "$TT_ROOT" \
                "virtio_uml.device=$GUEST_RUN/uml.sock:2" tt_mode=probe \
                tt_disk=vda "tt_reads=$READS"
        else
            tt_qemu_cmd 1 "$TTSOCK" "$START_S" "$GUEST_RUN/qemu.sock" \
                tt_mode=probe tt_disk=vda "tt_reads=$READS"
        fi
        tt_start "$dir/$g.console" "${TT_CMD[@]}"
        [ "$id" = "${order[1]}" ] || sleep 0.3
    done
    if ! tt_wait_all "$TIMEOUT"; then
        tail -n 20 "$GUEST_RUN/vusim$n.log"
        guest_vusim_stop "$VUSIM_PID" "vusim$n"
        run_failed "$n" "run $n: the guests did not finish within $TIMEOUT s"
    fi
    guest_say "run $n: guests (ids ${order[*]} in start order) exited with" \
        "status ${TT_STATUS[*]}"
    guest_vusim_stop "$VUSIM_PID" "vusim$n"
    for g in "${GUESTS[@]}"; do
        tt_section "$dir/$g.console" >"$dir/$g.section" ||
            run_failed "$n" "run $n, $g: no TT-START .. TT-END"
        [ -s "$dir/$g.trace" ] ||
            guest_fail "run $n: vusim wrote no trace for the $g disk"
    done
    # Before the probes' own checks: a run that went another way fails
    # with where it did.
    [ "$n" -eq 1 ] || same_as_run1 "$n"
    for g in "${GUESTS[@]}"; do
        tt_check_probe "$dir/$g.section" "$LATENCY_NS" "$READS"
    done
    tt_check_qemu_quiet "$n" "$dir/qemu.console"
}

for ((i = 1; i <= RUNS; i++)); do
    run_once "$i"
done
for ((i = 1; i <= RUNS; i++)); do
    tt_check_waited "$GUEST_RUN/run$i/stats.json"
done
# Each disk's trace of the shared calendar replays alone, without guests.
for g in "${GUESTS[@]}"; do
    if ! "$VUSIM" replay --quiet "$GUEST_RUN/run1/$g.trace" \
        >"$GUEST_RUN/replay-$g.log" 2>&1; then
        cat "$GUEST_RUN/replay-$g.log"
        guest_fail "vusim replay diverged on the $g disk's trace of run 1"
    fi
    guest_ok "vusim replay: the $g disk's trace of run 1 replays"
done
guest_say "$RUNS runs of a UML and a QEMU guest on one calendar: identical" \
    "traces and identical output per guest"
guest_pass
