#!/bin/sh
# SPDX-License-Identifier: MIT
# shellcheck shell=dash
#
# tests/tt/init-faults.sh - /init of the fault demonstrations
# (tests/tt/tt-faults.sh): a time-travel UML guest whose root is the host's
# own `/` (hostfs, read-only), so the writing programs are the host's dd,
# sync and cat, and the guest kernel's virtio-blk driver reacts to vusim's
# faults as it would to a real disk's.
#
# Parameters from the kernel command line (tt_NAME=VALUE):
#   tt_demo=eio      dd writes 5 blocks of 4 KiB with O_DIRECT (the test's
#                    rule fails the third); dd's status and messages, and
#                    the kernel's I/O error lines
#           fsync    faultprobe fsync /dev/vda 2 (two FLUSHes, each timed)
#           torn     faultprobe torn /dev/vda 8 (one 8-sector write, read
#                    back)
#           resize   the capacity in /sys/block/vda/size, one dd write
#                    (the test's rule resizes on it), then the capacity
#                    again once it changed (polled, 5 s of guest time)
#           break    dd writes 4 blocks with conv=fsync, then sync
#   tt_probe=PATH    the faultprobe binary (host path)
#
# Output: FAULTS-* lines between TT-START and TT-END, then the guest powers
# off (the host's static busybox).

# shellcheck source=tests/tt/init-lib.sh
. "${0%/*}/init-lib.sh"

demo=$(param demo eio)
probe=$(param probe /nonexistent)

# The kernel's lines about vda since boot, tagged.
klog()
{
    dmesg | grep -e 'I/O error' -e 'vda' | sed "s/^/FAULTS-KLOG: /"
}

eio()
{
    dd if=/dev/zero of=/dev/vda bs=4096 count=5 oflag=direct 2>/run/dd.err
    echo "FAULTS-DD: rc=$?"
    sed 's/^/FAULTS-DD-ERR: /' /run/dd.err
    klog
}

resize()
{
    before=$(cat /sys/block/vda/size)
    dd if=/dev/zero of=/dev/vda bs=4096 count=1 oflag=direct 2>/run/dd.err
    echo "FAULTS-DD: rc=$?"
    i=0
    after=$before
    while [ "$after" = "$before" ] && [ $i -lt 50 ]; do
        sleep 0.1
        after=$(cat /sys/block/vda/size)
        i=$((i + 1))
    done
    echo "FAULTS-SIZE: before=$before after=$after"
    klog
}

breakdemo()
{
    dd if=/dev/zero of=/dev/vda bs=4096 count=4 oflag=direct conv=fsync \
        2>/run/dd.err
    rc=$?
    sync
    echo "FAULTS-DD: rc=$rc"
    sed 's/^/FAULTS-DD-ERR: /' /run/dd.err
}

echo TT-START
case "$demo" in
eio) eio ;;
fsync) "$probe" fsync /dev/vda 2 ;;
torn) "$probe" torn /dev/vda 8 ;;
resize) resize ;;
break) breakdemo ;;
*) echo "unknown tt_demo=$demo"; false ;;
esac
echo "FAULTS-STATUS: rc=$?"
echo TT-END
exec /bin/busybox poweroff -f
