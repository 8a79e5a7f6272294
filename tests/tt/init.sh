#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# shellcheck shell=dash
#
# tests/tt/init.sh - /init of the time-travel guest (busybox ash; UML's
# hostfs root, or appended to QEMU's initramfs by tests/tt/lib.sh)
#
# Parameters from the kernel command line (tt_NAME=VALUE):
#   tt_mode=probe   date, ttprobe on the disk, date (default)
#           idle    date, sleep tt_sleep seconds, date (no disk needed)
#           rdtsc   date, rdtsc (what RDTSC and RDTSCP read), date
#   tt_disk=vda     the disk ttprobe reads (vda: the first virtio disk)
#   tt_reads=16     how many 4 KiB O_DIRECT reads ttprobe makes
#   tt_sleep=60     idle mode: seconds to sleep
#   tt_rng=0        then read this many bytes of /dev/hwrng (0: none)
#
# Output: kernel messages are turned off first, then everything from the
# line TT-START to the line TT-END is deterministic when the guest runs
# under a deterministic time-travel controller; the host compares it
# byte for byte between runs. Between them: "TT-UPTIME: <the two fields of
# /proc/uptime>" first and last, date's output, ttprobe's lines (see
# ttprobe.c, rdtsc.c), "TT-STATUS: rc=N" (ttprobe's exit status, or
# sleep's, or rdtsc's) and,
# with tt_rng, "TT-RNG: <hex>". Then the guest powers off. In QEMU's
# initramfs the virtio drivers are modules: the ones listed in
# /lib/modules/vusim.order (tests/guest/mkimage.sh) are loaded first, and
# devtmpfs is mounted on /dev.

export PATH=/bin:/sbin

# The value of tt_$1 on the kernel command line, or $2.
param()
{
    v=$2
    # shellcheck disable=SC2013 # words, not lines
    for w in $(cat /proc/cmdline); do
        case "$w" in
        "tt_$1="*) v=${w#*=} ;;
        esac
    done
    echo "$v"
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
# Kernel messages would interleave with the workload's lines.
echo 1 >/proc/sys/kernel/printk
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
if [ -f /lib/modules/vusim.order ]; then
    while read -r m; do
        insmod "/lib/modules/$m"
    done </lib/modules/vusim.order
fi

mode=$(param mode probe)
disk=$(param disk vda)
reads=$(param reads 16)
secs=$(param sleep 60)
rng=$(param rng 0)

# On its own line: a serial console may still hold the firmware's output.
echo
echo TT-START
echo "TT-UPTIME: $(cat /proc/uptime)"
date
case "$mode" in
idle) sleep "$secs" ;;
rdtsc) /bin/rdtsc ;;
*) /bin/ttprobe "/dev/$disk" "$reads" ;;
esac
echo "TT-STATUS: rc=$?"
if [ "$rng" -gt 0 ]; then
    # The virtio-rng driver registers asynchronously after insmod.
    i=0
    while [ ! -e /dev/hwrng ] && [ "$i" -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    echo "TT-RNG: $(dd if=/dev/hwrng bs="$rng" count=1 iflag=fullblock 2>/dev/null |
        od -An -v -tx1 | tr -d ' \n')"
fi
date
echo "TT-UPTIME: $(cat /proc/uptime)"
echo TT-END
poweroff -f
