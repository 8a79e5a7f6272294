#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/guest/fsbench.sh - /init of a UML guest whose root is the host's /
# (hostfs, read-only): a file-system workload with the host's own tools
# (e2fsprogs, coreutils, util-linux), for bench/guests.sh.
#
# Parameters come from the kernel command line, which hands NAME=VALUE
# words to init as environment variables:
#   vusim_disk=vda|ubda   the disk to use, whole
#   vusim_top=DIR         a host folder (default /usr/include)
#   vusim_tree=A,B,...    the folders of DIR to copy (default linux,c++,
#                         x86_64-linux-gnu: about 2,000 small files)
#   vusim_sums=FILE       md5sums of every file copied, made on the host by
#                         `cd DIR && find ./A ./B ... -type f -print0 |
#                         sort -z | xargs -0 md5sum`
#
# Timed in guest time (the guest's CLOCK_MONOTONIC, `date`), from mkfs to
# unmount: mkfs.ext4 on the disk, mount, cp -a of the folders, sync, drop the caches,
# the md5 of every copied file (read back from the disk), unmount. Output:
#   VUSIM-FS: status=ok|fail files=N usec=N [fail=WHAT] then, on success,
#   each phase's time (mkfs-us= cp-us= sync-us= md5-us= umount-us=) and
#   the disk's counters (reads= read-sectors= writes= write-sectors=
#   discards= flushes=)
# then the guest powers off. The host's tree is only read.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

out()
{
    echo "VUSIM-FS: $*"
    sync
    /bin/busybox poweroff -f
    echo o >/proc/sysrq-trigger
    sleep 10
    exit 1
}

fail()
{
    out "status=fail files=0 usec=0 fail=$1"
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o size=64m tmpfs /mnt || fail tmpfs
disk=/dev/${vusim_disk:-vda}
top=${vusim_top:-/usr/include}
IFS=, read -r -a tree <<<"${vusim_tree:-linux,c++,x86_64-linux-gnu}"
sums=${vusim_sums:-}
if [ "${disk#/dev/vd}" != "$disk" ]; then
    insmod "/usr/lib/uml/modules/$(uname -r)/kernel/drivers/block/virtio_blk.ko" ||
        fail insmod
fi
for _ in $(seq 50); do
    [ -b "$disk" ] && break
    sleep 0.1
done
[ -b "$disk" ] || fail "no-$disk"
[ -r "$sums" ] || fail no-sums
mkdir -p /mnt/fs || fail mkdir

# now: the guest's CLOCK_REALTIME in ns (date, so coreutils times it).
now() { date +%s%N; }
t0=$(now)
mkfs.ext4 -q -F "$disk" >/mnt/mkfs.log 2>&1 || fail mkfs
t1=$(now)
mount -t ext4 "$disk" /mnt/fs || fail mount
mkdir /mnt/fs/tree || fail mkdir-tree
(cd "$top" && cp -a "${tree[@]}" /mnt/fs/tree/) || fail cp
t2=$(now)
sync
t3=$(now)
echo 3 >/proc/sys/vm/drop_caches
(cd /mnt/fs/tree && find . -type f -print0 | sort -z | xargs -0 md5sum) \
    >/mnt/guest.md5 || fail md5
t4=$(now)
umount /mnt/fs || fail umount
t5=$(now)
# The disk's own counters (Documentation/block/stat.rst): requests the
# driver saw, so the set-ups' I/O patterns can be compared, not just
# their times.
read -r rd _ rsec _ wr _ wsec _ _ _ _ dc _ _ _ fl _ \
    <"/sys/block/${disk#/dev/}/stat" || fail stat
phases="mkfs-us=$(((t1 - t0) / 1000)) cp-us=$(((t2 - t1) / 1000))"
phases="$phases sync-us=$(((t3 - t2) / 1000)) md5-us=$(((t4 - t3) / 1000))"
phases="$phases umount-us=$(((t5 - t4) / 1000))"
ios="reads=$rd read-sectors=$rsec writes=$wr write-sectors=$wsec"
ios="$ios discards=$dc flushes=${fl:-0}"

cmp -s /mnt/guest.md5 "$sums" || fail md5-mismatch
out "status=ok files=$(wc -l </mnt/guest.md5) usec=$(((t5 - t0) / 1000))" \
    "$phases $ios"
