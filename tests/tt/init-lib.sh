# SPDX-License-Identifier: MIT
# shellcheck shell=dash
#
# tests/tt/init-lib.sh - the start that the /init scripts of the guests
# whose root is the host's own `/` share (init-host.sh, init-faults.sh):
# they source it from beside them, the host's path, read-only through
# hostfs. PATH, param(), the kernel's file systems, a 4 MiB tmpfs on /run
# (the only writable place) and the kernel's messages off the console
# (they go to its log, not between the lines the host compares).

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

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
grep -q ' /dev devtmpfs ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=4m tmpfs /run
echo 1 >/proc/sys/kernel/printk
