#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/tt/tt-two.sh - two time-travel UML guests on one vusim calendar
#
# One vusim process is the time-travel controller of two UML guests
# (time-travel=ext:0:TTSOCK and time-travel=ext:1:TTSOCK) and the back-end
# of one virtio-blk disk per guest (16 MiB, 1 ms per request):
#
#   vusim multi --time-travel=TTSOCK --start-time=SECONDS \
#       --device blk,socket-path=A.sock,latency=1ms,size=16M,trace=A.trace \
#       --device blk,socket-path=B.sock,latency=1ms,size=16M,trace=B.trace \
#       --stats=STATS
#
# Both guests start at once and run tests/tt/init.sh (ttprobe on their own
# /dev/vda). The set-up runs VUSIM_TT_RUNS times (default 3). Passes when
#   (a) each device's traces of all runs are byte-identical;
#   (b) each guest's console from TT-START to TT-END is byte-identical in
#       all runs, although odd runs start guest a (id 0) first and even
#       runs guest b (id 1), 0.3 s apart;
#   (c) every read of both guests took at least 1 ms of guest time.
# Skips (77) when `vusim multi --help` has no --time-travel, when there is
# no time-travel UML (tests/tt/lib.sh) or no static busybox.
set -uo pipefail

# shellcheck source=tests/tt/lib.sh
. "$(dirname "$0")/lib.sh"
guest_init tt-two
guest_require busybox
guest_require_vusim
[[ "$("$VUSIM" multi --help 2>&1)" == *--time-travel* ]] ||
    guest_skip "this vusim has no 'multi --time-travel' (several guests)"
tt_require_uml
tt_root

RUNS=${VUSIM_TT_RUNS:-3}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-120}
LATENCY_NS=1000000
READS=16
START_S=1700000000
TTSOCK=$GUEST_RUN/tt.sock
GUESTS=(a b)

run_once()
{
    local n=$1 dir=$GUEST_RUN/run$1 id g devs=() socks=() i order

    mkdir -p "$dir"
    for g in "${GUESTS[@]}"; do
        devs+=(--device "blk,socket-path=$GUEST_RUN/$g.sock,latency=1ms,size=16M,trace=$dir/$g.trace")
        socks+=("$GUEST_RUN/$g.sock")
    done
    tt_vusim "vusim$n" "$TTSOCK" "${socks[@]}" -- multi \
        "--time-travel=$TTSOCK" "--start-time=$START_S" "${devs[@]}" \
        "--stats=$dir/stats.json"
    TT_STARTED=()  # filled by tt_start
    # Odd runs start guest a first, even runs guest b, 0.3 s apart: the
    # controller must not depend on the order they connect in.
    order=(0 1)
    [ $((n % 2)) -eq 1 ] || order=(1 0)
    for id in "${order[@]}"; do
        g=${GUESTS[$id]}
        tt_uml_cmd "$id" "$TTSOCK" "$TT_ROOT" \
            "virtio_uml.device=$GUEST_RUN/$g.sock:2" tt_mode=probe \
            tt_disk=vda "tt_reads=$READS"
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
    for i in "${!GUESTS[@]}"; do
        g=${GUESTS[$i]}
        tt_section "$dir/$g.console" >"$dir/$g.section" ||
            tt_fail_run "$dir/$g.console" \
                "run $n, guest $g (id $i): no TT-START .. TT-END"
        tt_check_probe "$dir/$g.section" "$LATENCY_NS" "$READS"
    done
    for g in "${GUESTS[@]}"; do
        [ -s "$dir/$g.trace" ] || guest_fail "run $n: vusim wrote no trace" \
            "for guest $g's disk"
        guest_ok "run $n: vusim wrote a trace for guest $g's disk"
    done
}

for ((i = 1; i <= RUNS; i++)); do
    run_once "$i"
done
for ((i = 2; i <= RUNS; i++)); do
    for g in "${GUESTS[@]}"; do
        if ! cmp "$GUEST_RUN/run1/$g.section" "$GUEST_RUN/run$i/$g.section"
        then
            diff "$GUEST_RUN/run1/$g.section" \
                "$GUEST_RUN/run$i/$g.section" | head -n 20
            guest_fail "guest $g's output differs between run 1 and run $i"
        fi
        guest_ok "run $i: guest $g's output is run 1's"
    done
    for g in "${GUESTS[@]}"; do
        cmp "$GUEST_RUN/run1/$g.trace" "$GUEST_RUN/run$i/$g.trace" ||
            guest_fail "the traces of guest $g's disk differ between run 1" \
                "and run $i"
        guest_ok "run $i: guest $g's trace is run 1's, byte for byte"
    done
done
guest_say "$RUNS runs of ${#GUESTS[@]} guests: identical traces and" \
    "identical output per guest"
guest_pass
