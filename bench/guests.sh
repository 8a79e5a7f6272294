#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/guests.sh - real guests: vusim blk against the front-ends' own disks
#
# Usage: bench/guests.sh [BUILDDIR]        (make bench-guests)
#
# Sequential 1 MiB O_DIRECT writes then reads (dd, VUSIM_BENCH_MIB MiB,
# default 64, the whole disk, VUSIM_BENCH_PASSES times, default 4) over a
# 64 MiB disk, timed inside the guest, in five set-ups on the same backing
# file:
#   uml-inband   UML, vusim blk --latency=0, in-band notifications
#   uml-eventfd  UML, vusim blk --latency=0 --inband=off
#   uml-ubd      UML's own ubd driver (ubd0=FILE, the guest's /dev/ubda)
#   qemu-vusim   QEMU vhost-user-blk-pci against vusim blk --latency=0
#   qemu-native  QEMU's built-in virtio-blk-pci on the file
# QEMU uses the same accelerator for both (KVM when a probe guest boots
# under it, else TCG, which bounds both). Each UML set-up runs
# VUSIM_BENCH_REPS times (default 3), each QEMU one VUSIM_BENCH_QEMU_REPS
# times (default 2); the best run counts. A set-up's throughput is
# (bytes written + bytes read) / (write time + read time).
#
# The last line is key=value pairs: the ratios inband-vs-ubd,
# eventfd-vs-ubd, qemu-vs-native, then each throughput in MiB/s. Goals:
# eventfd-vs-ubd >= 1.0, inband-vs-ubd >= 0.8, qemu-vs-native >= 0.9; the
# numbers are printed whether or not they are met. A set-up that cannot
# run (QEMU missing) reports "skip".
set -uo pipefail

if [ $# -ge 1 ]; then
    builddir=$(cd "$1" && pwd) || exit 1   # read by guest_init
fi
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guest/lib.sh
. "$HERE/../tests/guest/lib.sh"
guest_init bench-guests
guest_require busybox uml
guest_require_vusim

MIB=${VUSIM_BENCH_MIB:-64}
PASSES=${VUSIM_BENCH_PASSES:-4}
TOTAL=$((MIB * PASSES))
REPS=${VUSIM_BENCH_REPS:-3}
QREPS=${VUSIM_BENCH_QEMU_REPS:-2}
SIZE=$((64 << 20))
[ "$MIB" -le 64 ] || guest_fail "VUSIM_BENCH_MIB must be at most 64"
disk=$GUEST_RUN/disk.img
truncate -s "$SIZE" "$disk"
guest_images uml
have_qemu=""
if guest_qemu >/dev/null && guest_kver >/dev/null; then
    guest_images qemu
    have_qemu=1
fi

declare -A MIBS WRITE READ

# bench_parse LOG: "write_usec read_usec" from the guest's VUSIM-BENCH
# lines, or fail with the console.
bench_parse()
{
    local w r

    w=$(guest_lines "$1" VUSIM-BENCH |
        sed -n 's/^VUSIM-BENCH: op=write .* usec=\([0-9]*\)$/\1/p')
    r=$(guest_lines "$1" VUSIM-BENCH |
        sed -n 's/^VUSIM-BENCH: op=read .* usec=\([0-9]*\)$/\1/p')
    if [ -z "$w" ] || [ -z "$r" ] || [ "$w" -le 0 ] || [ "$r" -le 0 ]; then
        guest_console_tail "$1" 40
        guest_fail "no timing from the guest in $1"
    fi
    echo "$w $r"
}

# record NAME WRITE_USEC READ_USEC: keep the best run of NAME.
record()
{
    local name=$1 w=$2 r=$3 t

    t=$(awk -v b=$((2 * TOTAL)) -v w="$w" -v r="$r" \
        'BEGIN { printf "%.1f", b / ((w + r) / 1e6) }')
    guest_say "$name: write $(rate "$w") MiB/s, read $(rate "$r") MiB/s," \
        "both $t MiB/s"
    if [ -z "${MIBS[$name]:-}" ] ||
       awk -v a="$t" -v b="${MIBS[$name]}" 'BEGIN { exit !(a > b) }'; then
        MIBS[$name]=$t
        WRITE[$name]=$(rate "$w")
        READ[$name]=$(rate "$r")
    fi
}

rate()
{
    awk -v m="$TOTAL" -v u="$1" 'BEGIN { printf "%.1f", m / (u / 1e6) }'
}

# check_run LOG RC: the guest finished and reported status=ok.
check_run()
{
    if [ -n "$GUEST_TIMED_OUT" ]; then
        guest_hung "$1" "the guest did not finish in time ($1)"
    fi
    guest_check_result "$1" >/dev/null
}

# uml_run NAME KERNEL-ARGS...: one UML boot in bench mode.
uml_run()
{
    local name=$1 log=$GUEST_RUN/$1.log t

    shift
    guest_uml_cmd "$GUEST_UML_ROOT" vusim_mode=bench "vusim_mib=$MIB" \
        "vusim_passes=$PASSES" "$@"
    guest_run "$log" 120 "${GUEST_CMD[@]}"
    check_run "$log"
    t=$(bench_parse "$log") || exit 1
    # shellcheck disable=SC2086 # two numbers
    record "$name" $t
}

# uml_vusim NAME INBAND: UML against vusim blk on the disk.
uml_vusim()
{
    local sock=$GUEST_RUN/blk.sock

    guest_vusim "vusim-$1" blk "--socket-path=$sock" "--backing=$disk" \
        --latency=0 "--inband=$2"
    uml_run "$1" "virtio_uml.device=$sock:2" vusim_disk=vda
    guest_vusim_stop "$VUSIM_PID" "vusim-$1"
}

# qemu_run NAME SOCKETS EXTRA-QEMU-ARGS...: one QEMU boot in bench mode.
qemu_run()
{
    local name=$1 socks=$2 log=$GUEST_RUN/$1.log t

    shift 2
    guest_qemu_cmd "$ACCEL" "$socks" vusim_mode=bench "vusim_mib=$MIB" \
        "vusim_passes=$PASSES"
    guest_run "$log" 300 "${GUEST_CMD[@]}" "$@"
    check_run "$log"
    t=$(bench_parse "$log") || exit 1
    # shellcheck disable=SC2086 # two numbers
    record "$name" $t
}

for ((i = 0; i < REPS; i++)); do
    uml_vusim uml-inband on
    uml_vusim uml-eventfd off
    uml_run uml-ubd "ubd0=$disk" vusim_disk=ubda
done

if [ -n "$have_qemu" ]; then
    ACCEL=$(guest_qemu_accel)
    guest_say "QEMU accelerator: $ACCEL"
    for ((i = 0; i < QREPS; i++)); do
        sock=$GUEST_RUN/blk.sock
        guest_vusim vusim-qemu blk "--socket-path=$sock" "--backing=$disk" \
            --latency=0
        qemu_run qemu-vusim "$sock"
        guest_vusim_stop "$VUSIM_PID" vusim-qemu
        qemu_run qemu-native "" \
            -drive "file=$disk,format=raw,if=none,id=d0" \
            -device virtio-blk-pci,drive=d0
    done
else
    ACCEL=none
    guest_say "no QEMU or no guest kernel: the QEMU set-ups are skipped"
fi

# ratio A B: A / B with two decimals, or "skip".
ratio()
{
    if [ -z "${MIBS[$1]:-}" ] || [ -z "${MIBS[$2]:-}" ]; then
        echo skip
        return
    fi
    awk -v a="${MIBS[$1]}" -v b="${MIBS[$2]}" 'BEGIN { printf "%.2f", a / b }'
}

printf '%-12s %10s %10s %10s   (MiB/s; %s x %s MiB each way; best run)\n' \
    setup write read both "$PASSES" "$MIB"
for n in uml-inband uml-eventfd uml-ubd qemu-vusim qemu-native; do
    printf '%-12s %10s %10s %10s\n' "$n" "${WRITE[$n]:-skip}" \
        "${READ[$n]:-skip}" "${MIBS[$n]:-skip}"
done
echo "goals: eventfd-vs-ubd >= 1.0, inband-vs-ubd >= 0.8," \
    "qemu-vs-native >= 0.9 (QEMU under $ACCEL)"
echo "inband-vs-ubd=$(ratio uml-inband uml-ubd)" \
    "eventfd-vs-ubd=$(ratio uml-eventfd uml-ubd)" \
    "qemu-vs-native=$(ratio qemu-vusim qemu-native)" \
    "uml-inband=${MIBS[uml-inband]:-skip}" \
    "uml-eventfd=${MIBS[uml-eventfd]:-skip}" \
    "uml-ubd=${MIBS[uml-ubd]:-skip}" \
    "qemu-vusim=${MIBS[qemu-vusim]:-skip}" \
    "qemu-native=${MIBS[qemu-native]:-skip}" \
    "qemu-accel=$ACCEL"
