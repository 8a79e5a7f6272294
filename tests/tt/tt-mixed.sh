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
# trace of run 1 replays without divergence (`vusim replay`). Skips (77)
# without a time-travel UML or vusim's QEMU (fails when they are
# required, as in scripts/test.sh), a kernel or busybox-static.
set -uo pipefail

# shellcheck source=tests/tt/lib.sh
. "$(dirname "$0")/lib.sh"
guest_init tt-mixed
guest_require busybox
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
        for g in "${GUESTS[@]}"; do
            guest_console_tail "$dir/$g.console" 25
        done
        guest_fail "run $n: the guests did not finish within $TIMEOUT s"
    fi
    guest_say "run $n: guests (ids ${order[*]} in start order) exited with" \
        "status ${TT_STATUS[*]}"
    guest_vusim_stop "$VUSIM_PID" "vusim$n"
    for g in "${GUESTS[@]}"; do
        tt_section "$dir/$g.console" >"$dir/$g.section" ||
            tt_fail_run "$dir/$g.console" "run $n, $g: no TT-START .. TT-END"
        tt_check_probe "$dir/$g.section" "$LATENCY_NS" "$READS"
        [ -s "$dir/$g.trace" ] ||
            guest_fail "run $n: vusim wrote no trace for the $g disk"
    done
}

for ((i = 1; i <= RUNS; i++)); do
    run_once "$i"
done
for ((i = 2; i <= RUNS; i++)); do
    for g in "${GUESTS[@]}"; do
        if ! cmp -s "$GUEST_RUN/run1/$g.section" "$GUEST_RUN/run$i/$g.section"
        then
            diff "$GUEST_RUN/run1/$g.section" "$GUEST_RUN/run$i/$g.section" |
                head -n 10
            guest_fail "the $g guest's output differs between run 1 and $i"
        fi
        guest_ok "run $i: the $g guest's output is run 1's"
        if ! cmp -s "$GUEST_RUN/run1/$g.trace" "$GUEST_RUN/run$i/$g.trace"
        then
            "$VUSIM" trace diff "$GUEST_RUN/run1/$g.trace" \
                "$GUEST_RUN/run$i/$g.trace" 2>&1 | head -n 20
            guest_fail "the $g disk's traces differ between run 1 and $i"
        fi
        guest_ok "run $i: the $g disk's trace is run 1's, byte for byte"
    done
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
