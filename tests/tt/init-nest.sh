#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# shellcheck shell=dash
#
# tests/tt/init-nest.sh - /init of a QEMU guest that runs the time-travel
# UML inside it (tests/tt/tt-rdtsc.sh)
#
# Some hosts ignore PR_SET_TSC (a paravirtualised guest's user mode runs
# with its hypervisor's CR4, whose TSD bit it cannot set), so the UML's
# RDTSC emulation cannot be shown on them directly. QEMU's TCG emulates
# CR4.TSD like a processor does, so here the UML runs as a process of a
# Linux that can trap RDTSC. The initramfs holds busybox, the UML with the
# libraries it needs, and under /uroot a root for it (hostfs): /init is
# tests/tt/init.sh, /bin/rdtsc the probe.
#
# The UML's clock starts at 2023-11-14 22:13:20 UTC (time-travel-start, in
# ns), not at the host's time of day.
#
# Parameters from the kernel command line: tt_runs=3 (UML runs, one after
# the other, then one without time travel), tt_mode=rdtsc (passed on to
# tests/tt/init.sh). Each run's console follows a line "NEST-RUN: i" (i is
# 1.. and "stock" for the last); "NEST-DONE" ends them.

export PATH=/bin:/sbin

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
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=96m tmpfs /tmp
echo 1 >/proc/sys/kernel/printk

runs=$(param runs 3)
mode=$(param mode rdtsc)
i=1
while [ "$i" -le "$runs" ]; do
    echo
    echo "NEST-RUN: $i"
    TMPDIR=/tmp /uml/linux time-travel=inf-cpu \
        time-travel-start=1700000000000000000 mem=32M root=/dev/root \
        rootfstype=hostfs rootflags=/uroot ro init=/init "tt_mode=$mode" \
        uml_dir=/tmp/uml "umid=run$i" con=null con0=fd:0,fd:1 </dev/null
    echo "NEST-STATUS: $i rc=$?"
    i=$((i + 1))
done
echo
echo "NEST-RUN: stock"
TMPDIR=/tmp /uml/linux mem=32M root=/dev/root rootfstype=hostfs \
    rootflags=/uroot ro init=/init "tt_mode=$mode" uml_dir=/tmp/uml \
    umid=stock con=null con0=fd:0,fd:1 </dev/null
echo "NEST-STATUS: stock rc=$?"
echo NEST-DONE
poweroff -f
