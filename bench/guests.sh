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
# QEMU uses the same accelerator for both when it is KVM; under TCG
# (KVM missing or hanging) emulation swamps the back-end, so the QEMU
# set-ups are not run and qemu-vs-native says "skip". The UML set-ups run
# in VUSIM_BENCH_REPS interleaved rounds (default 5), the QEMU ones in
# VUSIM_BENCH_QEMU_REPS (default 3); each set-up's figure is the median of
# its rounds, min and max beside it. A set-up's throughput is (bytes
# written + bytes read) / (write time + read time), timed in the guest.
#
# A file-system workload, small metadata-heavy I/O where the per-request
# cost shows: UML with the host's / as a read-only hostfs root runs
# tests/guest/fsbench.sh with the host's own e2fsprogs and coreutils:
# mkfs.ext4 on a VUSIM_BENCH_FS_MIB (default 256) MiB disk, mount, cp -a
# of VUSIM_BENCH_FS_TREE (folders of VUSIM_BENCH_FS_TOP, default
# linux,c++,x86_64-linux-gnu of /usr/include: about 2,000 files), sync,
# drop caches, md5 of every copied file checked against the host's,
# unmount; timed in guest seconds. Set-ups fs-inband, fs-eventfd (vusim
# blk --latency=0) and fs-ubd (UML's ubd) on the same image size, in
# VUSIM_BENCH_FS_REPS interleaved rounds (default 5, as the UML set-ups),
# medians.
#
# The last line is key=value pairs: the ratios inband-vs-ubd,
# eventfd-vs-ubd, qemu-vs-native (of the medians), fs-inband-vs-ubd and
# fs-eventfd-vs-ubd (throughput: ubd's time over vusim's; goal >= 1.0),
# then each median throughput in MiB/s. Goals: eventfd-vs-ubd >= 1.0, inband-vs-ubd >= 0.8,
# qemu-vs-native >= 0.9; the numbers are printed whether or not they are
# met. A set-up that cannot run reports "skip".
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
REPS=${VUSIM_BENCH_REPS:-5}
QREPS=${VUSIM_BENCH_QEMU_REPS:-3}
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

declare -A MIBS WRITE READ ALL FSALL FSMED

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

# record NAME WRITE_USEC READ_USEC: one round of NAME ("w r both" kept).
record()
{
    local name=$1 w=$2 r=$3 t

    t=$(awk -v b=$((2 * TOTAL)) -v w="$w" -v r="$r" \
        'BEGIN { printf "%.1f", b / ((w + r) / 1e6) }')
    guest_say "$name: write $(rate "$w") MiB/s, read $(rate "$r") MiB/s," \
        "both $t MiB/s"
    ALL[$name]+="$(rate "$w") $(rate "$r") $t
"
}

# median NAME COLUMN: "median min max" of a column of NAME's rounds.
median()
{
    printf '%s' "${ALL[$1]:-}" | awk -v c="$2" 'NF { print $c }' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) printf "%s %s %s", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

# summarize NAME: MIBS, WRITE, READ from the medians of NAME's rounds.
summarize()
{
    local m

    [ -n "${ALL[$1]:-}" ] || return 0
    read -r m _ <<<"$(median "$1" 3)"
    MIBS[$1]=$m
    read -r m _ <<<"$(median "$1" 1)"
    WRITE[$1]=$m
    read -r m _ <<<"$(median "$1" 2)"
    READ[$1]=$m
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

# ---- the file-system workload ---------------------------------------------
FS_MIB=${VUSIM_BENCH_FS_MIB:-256}
FS_TOP=${VUSIM_BENCH_FS_TOP:-/usr/include}
FS_TREE=${VUSIM_BENCH_FS_TREE:-linux,c++,x86_64-linux-gnu}
FS_REPS=${VUSIM_BENCH_FS_REPS:-5}
FS_INIT=$(cd "$HERE/../tests/guest" && pwd)/fsbench.sh
fsdisk=$GUEST_RUN/fs.img
fssums=$GUEST_RUN/fs-src.md5
command -v mkfs.ext4 >/dev/null ||
    guest_fail "no mkfs.ext4 (package e2fsprogs)"
IFS=, read -r -a fs_dirs <<<"$FS_TREE"
(cd "$FS_TOP" && find "${fs_dirs[@]/#/./}" -type f -print0 | sort -z |
    xargs -0 md5sum) >"$fssums" || guest_fail "cannot hash $FS_TOP"
guest_say "fs: $(wc -l <"$fssums") files of $FS_TOP ($FS_TREE)," \
    "$FS_MIB MiB disk"

# fs_run NAME KERNEL-ARGS...: one boot of fsbench.sh; keeps its usec.
fs_run()
{
    local name=$1 log=$GUEST_RUN/$1.log line us

    shift
    GUEST_CMD=("$(guest_uml)" mem=256M root=/dev/root rootfstype=hostfs
        rootflags=/ ro "init=$FS_INIT" con=null "con0=fd:0,fd:1" quiet
        "vusim_top=$FS_TOP" "vusim_tree=$FS_TREE" "vusim_sums=$fssums" "$@")
    guest_run "$log" 900 "${GUEST_CMD[@]}"
    if [ -n "$GUEST_TIMED_OUT" ]; then
        guest_hung "$log" "fs: the guest did not finish in time ($name)"
    fi
    line=$(guest_lines "$log" VUSIM-FS | tail -n 1)
    if [ "$(guest_field "$line" status)" != ok ]; then
        guest_console_tail "$log" 40
        guest_fail "fs: $name: ${line:-no VUSIM-FS line}"
    fi
    guest_ok "fs: $name: every file read back with the host's md5"
    us=$(guest_field "$line" usec)
    guest_say "fs: $name: $(guest_field "$line" files) files in" \
        "$(awk -v u="$us" 'BEGIN { printf "%.2f", u / 1e6 }') guest s"
    guest_say "fs: $name: ${line#*usec=$us }"
    FSALL[$name]+="$us
"
}

fs_vusim()
{
    local sock=$GUEST_RUN/fs.sock

    rm -f "$fsdisk"
    truncate -s "${FS_MIB}M" "$fsdisk"
    guest_vusim "vusim-$1" blk "--socket-path=$sock" "--backing=$fsdisk" \
        --latency=0 "--inband=$2"
    fs_run "$1" "virtio_uml.device=$sock:2" vusim_disk=vda
    guest_vusim_stop "$VUSIM_PID" "vusim-$1"
}

for ((i = 0; i < FS_REPS; i++)); do
    fs_vusim fs-inband on
    fs_vusim fs-eventfd off
    rm -f "$fsdisk"
    truncate -s "${FS_MIB}M" "$fsdisk"
    fs_run fs-ubd "ubd0=$fsdisk" vusim_disk=ubda
done
for n in fs-inband fs-eventfd fs-ubd; do
    FSMED[$n]=$(printf '%s' "${FSALL[$n]}" | sort -g |
        awk 'NF { v[++k] = $1 } END { printf "%s %s %s", v[int((k + 1) / 2)], v[1], v[k] }')
done

# fs_ratio A: ubd's median time over A's (throughput ratio).
fs_ratio()
{
    local a b

    read -r a _ <<<"${FSMED[$1]}"
    read -r b _ <<<"${FSMED[fs-ubd]}"
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }'
}

ACCEL=none
if [ -n "$have_qemu" ]; then
    ACCEL=$(guest_qemu_accel)
    guest_say "QEMU accelerator: $ACCEL"
fi
if [ "$ACCEL" = tcg ]; then
    guest_say "QEMU under TCG: emulation would swamp the back-end; the" \
        "QEMU set-ups are skipped"
elif [ -n "$have_qemu" ]; then
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
    guest_say "no QEMU or no guest kernel: the QEMU set-ups are skipped"
fi
for n in uml-inband uml-eventfd uml-ubd qemu-vusim qemu-native; do
    summarize "$n"
done

# ratio A B: A / B with two decimals, or "skip".
ratio()
{
    if [ -z "${MIBS[$1]:-}" ] || [ -z "${MIBS[$2]:-}" ]; then
        echo skip
        return
    fi
    awk -v a="${MIBS[$1]}" -v b="${MIBS[$2]}" 'BEGIN { printf "%.2f", a / b }'
}

printf '%-12s %10s %10s %10s %20s   (MiB/s; %s x %s MiB each way;' \
    setup write read both "both min..max" "$PASSES" "$MIB"
echo " medians of interleaved rounds)"
for n in uml-inband uml-eventfd uml-ubd qemu-vusim qemu-native; do
    read -r _ lo hi <<<"$(median "$n" 3)"
    printf '%-12s %10s %10s %10s %20s\n' "$n" "${WRITE[$n]:-skip}" \
        "${READ[$n]:-skip}" "${MIBS[$n]:-skip}" "${lo:-}..${hi:-}"
done
printf '%-12s %12s %12s %12s   (guest s; medians of %s rounds)\n' \
    setup median min max "$FS_REPS"
for n in fs-inband fs-eventfd fs-ubd; do
    read -r m lo hi <<<"${FSMED[$n]}"
    awk -v n="$n" -v m="$m" -v lo="$lo" -v hi="$hi" 'BEGIN {
        printf "%-12s %12.2f %12.2f %12.2f\n", n, m / 1e6, lo / 1e6, hi / 1e6 }'
done
echo "goals: eventfd-vs-ubd >= 1.0, inband-vs-ubd >= 0.8," \
    "qemu-vs-native >= 0.9 (QEMU under $ACCEL), fs-*-vs-ubd >= 1.0"
echo "inband-vs-ubd=$(ratio uml-inband uml-ubd)" \
    "eventfd-vs-ubd=$(ratio uml-eventfd uml-ubd)" \
    "qemu-vs-native=$(ratio qemu-vusim qemu-native)" \
    "fs-inband-vs-ubd=$(fs_ratio fs-inband)" \
    "fs-eventfd-vs-ubd=$(fs_ratio fs-eventfd)" \
    "uml-inband=${MIBS[uml-inband]:-skip}" \
    "uml-eventfd=${MIBS[uml-eventfd]:-skip}" \
    "uml-ubd=${MIBS[uml-ubd]:-skip}" \
    "qemu-vusim=${MIBS[qemu-vusim]:-skip}" \
    "qemu-native=${MIBS[qemu-native]:-skip}" \
    "qemu-accel=$ACCEL"
