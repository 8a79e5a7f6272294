#!/bin/sh
# SPDX-License-Identifier: MIT
# shellcheck shell=dash
#
# tests/tt/init-host.sh - /init of a time-travel guest whose root is the
# host's own `/` (hostfs, read-only): the guest runs the host's dash,
# e2fsprogs, coreutils and bash, programs nobody wrote for vusim.
#
# Parameters from the kernel command line (tt_NAME=VALUE):
#   tt_work=ext4     mkfs.ext4 on /dev/vda (fixed UUID and hash seed),
#                    cp -a tt_tree onto it, sync, drop caches, md5 of the
#                    copy, umount, e2fsck -fn
#           writers  mkfs.ext4, then tt_procs processes write files at
#                    once, sync, drop caches, md5 of the files, umount,
#                    e2fsck -fn
#           random   64 bytes of /dev/urandom, bash's $RANDOM and
#                    $SRANDOM, a UUID from the kernel, where a new
#                    process's stack is and where bash is loaded (PIE)
#   tt_tree=PATH     the tree ext4 copies (host path)
#   tt_procs=4       writers
#
# Everything from TT-START to TT-END is deterministic under a deterministic
# time-travel controller; the host compares it between runs. Then the
# guest powers off (the host's static busybox: a systemd poweroff cannot
# run as PID 1 here).

# shellcheck source=tests/tt/init-lib.sh
. "${0%/*}/init-lib.sh"
# The mount point, on init-lib.sh's tmpfs.
mkdir /run/fs

work=$(param work ext4)
tree=$(param tree /usr/include/linux)
procs=$(param procs 4)
MNT=/run/fs

# A fixed file system identity: with these, mkfs.ext4's output depends on
# nothing but the guest's clock, which the controller owns.
mkfs()
{
    mkfs.ext4 -F -q -b 4096 -U 6b1d4f3e-8a7c-4e2b-9d10-5f0c2a7e9b31 \
        -E hash_seed=0f4f2c8e-1d7b-4a39-8e55-3b6c9d2a1f07,lazy_itable_init=0,lazy_journal_init=0 \
        /dev/vda && mount -t ext4 /dev/vda $MNT
}

# md5 of every file under $1, in name order, then of that list.
tree_md5()
{
    (cd "$1" && find . -type f | LC_ALL=C sort | xargs md5sum) >/run/sums
    echo "TT-FILES: $(wc -l </run/sums) md5=$(md5sum </run/sums | cut -d' ' -f1)"
}

finish()
{
    sync
    echo 3 >/proc/sys/vm/drop_caches
    tree_md5 $MNT/data
    umount $MNT || return 1
    e2fsck -fn /dev/vda >/run/fsck 2>&1
    rc=$?
    echo "TT-FSCK: rc=$rc $(tail -n 1 /run/fsck)"
    return $rc
}

ext4()
{
    mkfs || return 1
    cp -a "$tree" $MNT/data || return 1
    finish
}

# Each writer makes its own files through its own page cache traffic, all
# at once; their interleaving is the guest scheduler's, on guest time.
writers()
{
    mkfs || return 1
    mkdir $MNT/data
    i=0
    while [ $i -lt "$procs" ]; do
        (
            j=0
            while [ $j -lt 16 ]; do
                yes "writer $i file $j" | head -c $((65536 + i * 4096 + j * 512)) \
                    >$MNT/data/w$i-$j || exit 1
                j=$((j + 1))
            done
        ) &
        i=$((i + 1))
    done
    wait
    finish
}

random()
{
    echo "TT-URANDOM: $(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    # bash seeds $RANDOM from the time of day, its pid and ppid (all
    # simulated: the same in every run, whatever the seed) and the address
    # of one of its functions (PIE: placed from the guest's pool, so from
    # the seed); $SRANDOM is getrandom().
    # shellcheck disable=SC2016 # for bash, not for us
    echo "TT-BASH-RANDOM: $(bash -c 'echo $RANDOM $RANDOM')"
    # shellcheck disable=SC2016
    echo "TT-BASH-SRANDOM: $(bash -c 'echo $SRANDOM $SRANDOM')"
    echo "TT-UUID: $(cat /proc/sys/kernel/random/uuid)"
    # Where the kernel put a new process's stack: address-space layout
    # randomisation drawn from the guest's pool.
    echo "TT-STACK: $(grep '\[stack\]' /proc/self/maps | cut -d' ' -f1)"
    # Where a PIE executable (bash) and its heap were placed.
    # shellcheck disable=SC2016
    pie=$(bash -c 'grep -m1 bin/bash /proc/$$/maps
        grep "\[heap\]" /proc/$$/maps' | cut -d' ' -f1)
    # shellcheck disable=SC2086 # two words on one line
    echo "TT-PIE:" $pie
}

echo TT-START
echo "TT-UPTIME: $(cat /proc/uptime)"
case "$work" in
ext4) ext4 ;;
writers) writers ;;
random) random ;;
*) echo "unknown tt_work=$work"; false ;;
esac
echo "TT-STATUS: rc=$?"
echo "TT-UPTIME: $(cat /proc/uptime)"
echo TT-END
exec /bin/busybox poweroff -f
