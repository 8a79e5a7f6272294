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
# Then VUSIM_TT_LATE_RUNS more runs (default 2) in which the UML sleeps
# 10 s of guest time (tt_mode=idle) instead of reading, so that QEMU
# powers off while the UML is still on the calendar: QEMU's shutdown
# messages (SET_STATUS 0, SET_VRING_ENABLE 0, GET_VRING_BASE), which it
# sends from its main loop and no longer in a window of its own, must
# still be stamped at QEMU's last run time and come before the UML's next
# RUN; those runs too are byte-identical to each other (README, "QEMU
# built by vusim").
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
LATE_RUNS=${VUSIM_TT_LATE_RUNS:-2}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-600}
LATENCY_NS=1000000
READS=16
START_S=1700000000
TTSOCK=$GUEST_RUN/tt.sock
GUESTS=(uml qemu)

# The files two runs are compared by: each guest's console section and
# each disk's trace.
FILES=(uml.section qemu.section uml.trace qemu.trace)

# run_failed KIND N WHY: run N (of KIND: run, late) did not finish or
# gave no output: the guests' consoles, where it first left the first run
# of its kind (from the second on), then fail.
run_failed()
{
    local kind=$1 n=$2 g

    for g in "${GUESTS[@]}"; do
        guest_console_tail "$GUEST_RUN/$kind$n/$g.console" 25
    done
    if [ "$n" -gt 1 ]; then
        tt_locate_divergence "$GUEST_RUN/${kind}1" "$GUEST_RUN/$kind$n" \
            uml.console qemu.console uml.trace qemu.trace
    fi
    guest_fail "$3"
}

# same_as_first N [late]: each guest's output and each disk's trace of
# run N are the first run's (of the same kind), byte for byte; else show
# where they first part and fail.
same_as_first()
{
    local n=$1 kind=${2:-run} f first

    first=$GUEST_RUN/${kind}1
    for f in "${FILES[@]}"; do
        if ! cmp -s "$first/$f" "$GUEST_RUN/$kind$n/$f"; then
            tt_locate_divergence "$first" "$GUEST_RUN/$kind$n" "${FILES[@]}"
            guest_fail "$kind $n differs from $kind 1 (first in $f; where" \
                "they part is shown above)"
        fi
    done
    guest_ok "$kind $n: both guests' output and both disks' traces are" \
        "$kind 1's, byte for byte"
}

# check_qemu_first DIR: in QEMU's disk trace, QEMU's shutdown messages
# (its last GET_VRING_BASE) and its disconnection (CONN down) come before
# the next RUN the controller gave the UML (guest 0), at QEMU's last RUN's
# time: QEMU powered off first, and what it sent then is tied to its time.
check_qemu_first()
{
    local dump

    dump=$("$VUSIM" trace dump "$1/qemu.trace") ||
        guest_fail "vusim trace dump $1/qemu.trace failed"
    awk '
        / TT +guest 1 <- RUN / { t = $2 }
        / MSG +fe>be GET_VRING_BASE / {
            stop = $2; last = NR; down = ""; after = 0 }
        last && / CONN +down/ && !after && down == "" { down = $2 }
        last && NR > last && / TT +guest 0 <- RUN / { after = 1 }
        END { exit !(last && after && stop == t && down == t) }' \
        <<<"$dump" ||
        guest_fail "$1: QEMU's GET_VRING_BASE and CONN down are not at its" \
            "last RUN's time before a RUN of the UML (did QEMU not power" \
            "off first?)"
    guest_ok "$1: QEMU powered off first; its GET_VRING_BASE and CONN down" \
        "are at its last RUN's time, before the UML's next RUN"
}

# run_once N [late]: run N (late: the UML outlives QEMU).
run_once()
{
    local n=$1 kind=${2:-run} dir g devs=() socks=() id order uml_mode

    dir=$GUEST_RUN/$kind$n
    uml_mode=(tt_mode=probe tt_disk=vda "tt_reads=$READS")
    [ "$kind" = run ] || uml_mode=(tt_mode=idle tt_sleep=10)
    mkdir -p "$dir"
    for g in "${GUESTS[@]}"; do
        devs+=(--device "blk,socket-path=$GUEST_RUN/$g.sock,latency=1ms,size=16M,trace=$dir/$g.trace")
        socks+=("$GUEST_RUN/$g.sock")
    done
    tt_vusim "vusim-$kind$n" "$TTSOCK" "${socks[@]}" -- multi \
        "--time-travel=$TTSOCK" --inband=on "--start-time=$START_S" \
        "${devs[@]}" "--stats=$dir/stats.json"
    TT_STARTED=()
    order=(0 1)
    [ $((n % 2)) -eq 1 ] || order=(1 0)
    for id in "${order[@]}"; do
        g=${GUESTS[$id]}
        if [ "$g" = uml ]; then
            tt_uml_cmd 0 "$TTSOCK" "$TT_ROOT" \
                "virtio_uml.device=$GUEST_RUN/uml.sock:2" "${uml_mode[@]}"
        else
            tt_qemu_cmd 1 "$TTSOCK" "$START_S" "$GUEST_RUN/qemu.sock" \
                tt_mode=probe tt_disk=vda "tt_reads=$READS"
        fi
        tt_start "$dir/$g.console" "${TT_CMD[@]}"
        [ "$id" = "${order[1]}" ] || sleep 0.3
    done
    if ! tt_wait_all "$TIMEOUT"; then
        tail -n 20 "$GUEST_RUN/vusim-$kind$n.log"
        guest_vusim_stop "$VUSIM_PID" "vusim-$kind$n"
        run_failed "$kind" "$n" "$kind $n: the guests did not finish" \
            "within $TIMEOUT s"
    fi
    guest_say "$kind $n: guests (ids ${order[*]} in start order) exited" \
        "with status ${TT_STATUS[*]}"
    guest_vusim_stop "$VUSIM_PID" "vusim-$kind$n"
    for g in "${GUESTS[@]}"; do
        tt_section "$dir/$g.console" >"$dir/$g.section" ||
            run_failed "$kind" "$n" "$kind $n, $g: no TT-START .. TT-END"
        [ -s "$dir/$g.trace" ] ||
            guest_fail "$kind $n: vusim wrote no trace for the $g disk"
    done
    # Before the probes' own checks: a run that went another way fails
    # with where it did.
    [ "$n" -eq 1 ] || same_as_first "$n" "$kind"
    for g in "${GUESTS[@]}"; do
        [ "$kind:$g" != late:uml ] || continue
        tt_check_probe "$dir/$g.section" "$LATENCY_NS" "$READS"
    done
    [ "$kind" = run ] || check_qemu_first "$dir"
    if [ "$kind" = run ]; then
        tt_check_qemu_quiet "$n" "$dir/qemu.console"
    else
        tt_check_qemu_quiet "$n ($kind)" "$dir/qemu.console"
    fi
}

for ((i = 1; i <= RUNS; i++)); do
    run_once "$i"
done
for ((i = 1; i <= LATE_RUNS; i++)); do
    run_once "$i" late
done
for ((i = 1; i <= RUNS; i++)); do
    tt_check_waited "$GUEST_RUN/run$i/stats.json"
done
for ((i = 1; i <= LATE_RUNS; i++)); do
    tt_check_waited "$GUEST_RUN/late$i/stats.json"
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
guest_say "$RUNS runs of a UML and a QEMU guest on one calendar, and" \
    "$LATE_RUNS in which QEMU powers off first: identical traces and" \
    "identical output per guest"
guest_pass
