#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# shellcheck shell=dash
#
# tests/tt/init.sh - /init of the time-travel guest (busybox ash, UML)
#
# Parameters from the kernel command line (tt_NAME=VALUE):
#   tt_mode=probe   date, ttprobe on the disk, date (default)
#           idle    date, sleep tt_sleep seconds, date (no disk needed)
#   tt_disk=vda     the disk ttprobe reads (vda: the first virtio disk)
#   tt_reads=16     how many 4 KiB O_DIRECT reads ttprobe makes
#   tt_sleep=60     idle mode: seconds to sleep
#
# Output: kernel messages are turned off first, then everything from the
# line TT-START to the line TT-END is deterministic when the guest runs
# under a deterministic time-travel controller; the host compares it
# byte for byte between runs. Between them: "TT-UPTIME: <the two fields of
# /proc/uptime>" first and last, date's output, ttprobe's lines (see
# ttprobe.c) and "TT-STATUS: rc=N" (ttprobe's exit status, or sleep's).
# Then the guest powers off.

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

mode=$(param mode probe)
disk=$(param disk vda)
reads=$(param reads 16)
secs=$(param sleep 60)

echo TT-START
echo "TT-UPTIME: $(cat /proc/uptime)"
date
case "$mode" in
idle) sleep "$secs" ;;
*) /bin/ttprobe "/dev/$disk" "$reads" ;;
esac
echo "TT-STATUS: rc=$?"
date
echo "TT-UPTIME: $(cat /proc/uptime)"
echo TT-END
poweroff -f
