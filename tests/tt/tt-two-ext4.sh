#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/tt/tt-two-ext4.sh - two whole systems on one calendar, each
# building ext4: byte-identical runs
#
# One vusim is the time-travel controller of two UML guests (ids 0 and 1)
# and the back-end of one 64 MiB disk each (a backing file, 50 us per
# request):
#
#   vusim multi --time-travel=TT --start-time=1700000000 \
#       --device blk,socket-path=A.sock,backing=a.img,latency=50us,trace=A \
#       --device blk,socket-path=B.sock,backing=b.img,latency=50us,trace=B
#
# Both guests have the host's `/` as their read-only root and run the ext4
# workload of tests/tt/tt-ext4.sh (mkfs.ext4, cp -a of over 1000 files,
# sync, drop caches, md5, e2fsck -fn). Odd runs start guest a first, even
# runs guest b, 0.3 s apart. Passes when, over VUSIM_TT_RUNS runs (default
# 3), each disk's trace, each image after the run and each guest's whole
# console are byte-identical, and both file systems are clean.
set -uo pipefail

# shellcheck source=tests/tt/lib.sh
. "$(dirname "$0")/lib.sh"
guest_init tt-two-ext4
guest_require_vusim
[[ "$("$VUSIM" multi --help 2>&1)" == *--time-travel* ]] ||
    guest_skip "this vusim has no 'multi --time-travel' (several guests)"
tt_require_uml
[ -x /usr/sbin/mkfs.ext4 ] && [ -x /usr/sbin/e2fsck ] ||
    guest_skip "no mkfs.ext4 or e2fsck on the host (package e2fsprogs)"
guest_busybox >/dev/null || guest_skip "no static /bin/busybox (poweroff)"
tt_tree

RUNS=${VUSIM_TT_RUNS:-3}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-900}
TTSOCK=$GUEST_RUN/tt.sock
GUESTS=(a b)

run_once()
{
    local n=$1 dir=$GUEST_RUN/run$1 id g devs=() socks=() i order

    mkdir -p "$dir"
    for g in "${GUESTS[@]}"; do
        rm -f "$GUEST_RUN/$g.img"
        truncate -s 64M "$GUEST_RUN/$g.img" || guest_fail "no image"
        devs+=(--device "blk,socket-path=$GUEST_RUN/$g.sock,backing=$GUEST_RUN/$g.img,latency=50us,trace=$dir/$g.trace")
        socks+=("$GUEST_RUN/$g.sock")
    done
    tt_vusim "vusim$n" "$TTSOCK" "${socks[@]}" -- multi \
        "--time-travel=$TTSOCK" --start-time=1700000000 "${devs[@]}"
    TT_STARTED=()
    order=(0 1)
    [ $((n % 2)) -eq 1 ] || order=(1 0)
    for id in "${order[@]}"; do
        g=${GUESTS[$id]}
        tt_host_cmd "$id" "$TTSOCK" "g$g" \
            "virtio_uml.device=$GUEST_RUN/$g.sock:2" tt_work=ext4 \
            "tt_tree=$TT_TREE"
        tt_start "$dir/$g.raw" "${TT_CMD[@]}"
        [ "$id" = "${order[1]}" ] || sleep 0.3
    done
    if ! tt_wait_all "$TIMEOUT"; then
        tail -n 20 "$GUEST_RUN/vusim$n.log"
        for g in "${GUESTS[@]}"; do
            guest_console_tail "$dir/$g.raw" 25
        done
        guest_fail "run $n: the guests did not finish within $TIMEOUT s"
    fi
    guest_say "run $n: guests (ids ${order[*]} in start order) exited with" \
        "status ${TT_STATUS[*]}"
    guest_vusim_stop "$VUSIM_PID" "vusim$n"
    for i in "${!GUESTS[@]}"; do
        g=${GUESTS[$i]}
        mv "$GUEST_RUN/$g.img" "$dir/$g.img"
        tt_console_clean "$dir/$g.raw" >"$dir/$g.console"
        tt_section "$dir/$g.console" >"$dir/$g.section" ||
            tt_fail_run "$dir/$g.console" \
                "run $n, guest $g (id $i): no TT-START .. TT-END"
        grep -qx 'TT-STATUS: rc=0' "$dir/$g.section" ||
            tt_fail_run "$dir/$g.console" "run $n, guest $g: workload failed"
        [ -s "$dir/$g.trace" ] || guest_fail "run $n: no trace for $g"
    done
}

for ((i = 1; i <= RUNS; i++)); do
    run_once "$i"
done
for g in "${GUESTS[@]}"; do
    guest_say "guest $g: $(grep '^TT-FILES: ' "$GUEST_RUN/run1/$g.section")"
    for ((i = 2; i <= RUNS; i++)); do
        tt_same "guest $g's trace" "$GUEST_RUN/run1/$g.trace" \
            "$GUEST_RUN/run$i/$g.trace"
        tt_same "guest $g's image" "$GUEST_RUN/run1/$g.img" \
            "$GUEST_RUN/run$i/$g.img"
        tt_same "guest $g's console" "$GUEST_RUN/run1/$g.console" \
            "$GUEST_RUN/run$i/$g.console"
    done
done
guest_say "$RUNS runs of ${#GUESTS[@]} guests: identical traces, images" \
    "and consoles per guest"
guest_say "PASS"
