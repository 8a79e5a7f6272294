#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/qemu.sh - vusim's QEMU: in-band against eventfd, and time travel
#
# Usage: bench/qemu.sh [BUILDDIR]        (make bench-qemu)
#
# Two measurements, each made VUSIM_BENCH_ROUNDS times (default 3) with the
# setups interleaved round by round; each figure is the median of its
# rounds, min and max beside it:
#   inband   vusim's QEMU (scripts/build-qemu.sh), vhost-user-blk-pci
#            inband=on, against vusim blk --inband=on --latency=0;
#   eventfd  Debian's stock QEMU, vhost-user-blk-pci with eventfds,
#            against vusim blk --inband=off --latency=0;
#            both under TCG, one vCPU, the same initramfs and workload
#            (tests/guest/workload.sh bench: VUSIM_BENCH_MIB (default 16)
#            MiB written, then read, in 1 MiB O_DIRECT requests), throughput
#            in MiB/s from the guest's own timing;
#   tt-idle  vusim's QEMU as a time-travel participant (as in
#            tests/tt/tt-qemu.sh) running `sleep VUSIM_TT_BENCH_SLEEP`
#            (default 60);
#   tt-io    the same with VUSIM_TT_BENCH_READS (default 256) O_DIRECT
#            reads of 4 KiB, 1 ms each in the model;
#            speed = guest seconds (/proc/uptime at TT-START and TT-END)
#            per wall second (when the host read those lines).
# The last line is
#   qemu-inband-vs-eventfd=R qemu-tt-idle-speed=S qemu-tt-io-speed=S ...
# with R the ratio of the inband and eventfd medians. Without vusim's QEMU,
# a kernel or busybox it prints those keys as "skip" and exits 0.
set -uo pipefail
export LC_ALL=C  # "." in $EPOCHREALTIME and awk

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/tt/lib.sh
. "$HERE/../tests/tt/lib.sh"
bench_init bench-qemu "qemu-inband-vs-eventfd=skip qemu-tt-idle-speed=skip \
qemu-tt-io-speed=skip" "$@"

STOCK_QEMU=$(guest_qemu) || guest_skip "no stock qemu-system-x86_64"
guest_require busybox
guest_require_qemu_patched
PATCHED_QEMU=$VUSIM_QEMU
guest_require qemu
guest_require_vusim
tt_require_controller
guest_images qemu
BASE_CPIO=$GUEST_CPIO
tt_qemu_initrd

ROUNDS=${VUSIM_BENCH_ROUNDS:-3}
MIB=${VUSIM_BENCH_MIB:-16}
SLEEP=${VUSIM_TT_BENCH_SLEEP:-60}
READS=${VUSIM_TT_BENCH_READS:-256}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-900}
START_S=1700000000
declare -A VALUES

# add NAME VALUE: one round's figure.
add()
{
    VALUES[$1]="${VALUES[$1]:-} $2"
    guest_say "$1: $2"
}

# stats NAME: "median min max" of NAME's figures.
stats()
{
    # shellcheck disable=SC2086 # one figure per word
    printf '%s\n' ${VALUES[$1]} | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "skip skip skip"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.3f %.3f %.3f\n", m, v[1], v[NR]
        }'
}

# io_run NAME QEMU INBAND: one boot of the blk bench workload.
io_run()
{
    local name=$1 qemu=$2 inband=$3 log=$GUEST_RUN/$1.log sock w r

    sock=$GUEST_RUN/blk.sock
    truncate -s $(((MIB + 64) << 20)) "$GUEST_RUN/disk.img"
    guest_vusim "vusim-$name" blk "--socket-path=$sock" \
        "--backing=$GUEST_RUN/disk.img" --latency=0 "--inband=$inband"
    VUSIM_QEMU=$qemu
    GUEST_CPIO=$BASE_CPIO
    GUEST_QEMU_DEVOPTS=""
    [ "$inband" = on ] && GUEST_QEMU_DEVOPTS=,inband=on
    guest_qemu_cmd tcg "$sock" vusim_mode=bench "vusim_mib=$MIB"
    guest_run "$log" "$TIMEOUT" "${GUEST_CMD[@]}" ||
        { guest_console_tail "$log" 30; guest_fail "$name: the guest failed"; }
    guest_vusim_stop "$VUSIM_PID" "vusim-$name"
    w=$(guest_lines "$log" VUSIM-BENCH | sed -n 's/.*op=write .* usec=//p')
    r=$(guest_lines "$log" VUSIM-BENCH | sed -n 's/.*op=read .* usec=//p')
    [ -n "$w" ] && [ -n "$r" ] ||
        { guest_console_tail "$log" 30; guest_fail "$name: no timing"; }
    add "$name" "$(awk -v m="$MIB" -v w="$w" -v r="$r" \
        'BEGIN { printf "%.2f", 2 * m / ((w + r) / 1e6) }')"
}

# tt_run NAME ARGS...: a time-travel boot, console lines stamped with the
# host's wall time; adds guest seconds per wall second between TT-START
# and TT-END.
tt_run()
{
    local name=$1 log=$GUEST_RUN/$1.log dir=$GUEST_RUN/$1 v

    shift
    mkdir -p "$dir"
    VUSIM_QEMU=$PATCHED_QEMU
    tt_vusim "vusim-$name" "$dir/tt.sock" "$dir/blk.sock" -- multi \
        "--time-travel=$dir/tt.sock" --guests=1 --inband=on \
        "--start-time=$START_S" \
        --device "blk,socket-path=$dir/blk.sock,latency=1ms,size=16M"
    tt_qemu_cmd 0 "$dir/tt.sock" "$START_S" "$dir/blk.sock" "$@"
    TT_STARTED=()
    # shellcheck disable=SC2016 # expanded by the inner bash
    tt_start "$log" bash -c '"$@" </dev/null 2>&1 |
        while IFS= read -r l; do
            printf "%s %s\n" "$EPOCHREALTIME" "${l%$'"'"'\r'"'"'}"
        done' stamp "${TT_CMD[@]}"
    tt_wait_all "$TIMEOUT" ||
        { guest_console_tail "$log" 30; guest_fail "$name: timed out"; }
    guest_vusim_stop "$VUSIM_PID" "vusim-$name"
    v=$(awk '
        $2 == "TT-START" { ws = $1 }
        $2 == "TT-END" { we = $1 }
        $2 == "TT-UPTIME:" { if (gs == "") gs = $3; else ge = $3 }
        END {
            if (ws == "" || we == "" || ge == "" || we <= ws) exit 1
            printf "%.3f\n", (ge - gs) / (we - ws)
        }' "$log") ||
        { guest_console_tail "$log" 30; guest_fail "$name: no TT lines"; }
    add "$name" "$v"
}

for ((i = 1; i <= ROUNDS; i++)); do
    guest_say "round $i of $ROUNDS"
    io_run inband "$PATCHED_QEMU" on
    io_run eventfd "$STOCK_QEMU" off
    tt_run tt-idle tt_mode=idle "tt_sleep=$SLEEP"
    tt_run tt-io tt_mode=probe tt_disk=vda "tt_reads=$READS"
done

printf '%-8s %10s %10s %10s\n' setup median min max
for n in inband eventfd tt-idle tt-io; do
    read -r med lo hi < <(stats "$n")
    printf '%-8s %10s %10s %10s\n' "$n" "$med" "$lo" "$hi"
    eval "MED_${n//-/_}=\$med"
done
guest_say "inband and eventfd in MiB/s (guest timing, TCG);" \
    "tt-idle and tt-io in guest seconds per wall second"
# shellcheck disable=SC2154 # set by eval above
echo "qemu-inband-vs-eventfd=$(awk -v a="$MED_inband" -v b="$MED_eventfd" \
    'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }')" \
    "qemu-tt-idle-speed=$MED_tt_idle qemu-tt-io-speed=$MED_tt_io" \
    "inband-mibs=$MED_inband eventfd-mibs=$MED_eventfd rounds=$ROUNDS"
