#!/bin/busybox sh
# SPDX-License-Identifier: MIT
#
# tests/guest/workload.sh - the guest's /init (busybox ash, UML and QEMU)
#
# Parameters come from the kernel command line (vusim_NAME=VALUE):
#   vusim_mode=blk    data test on the virtio disk (default); a comma
#                     list runs several (blk,rng)
#              rng    read /dev/hwrng and print the bytes
#              bench  sequential O_DIRECT 1 MiB writes then reads
#              boot   nothing: power off at once (boot and KVM probes)
#              killwrite  write 64 KiB blocks without end, each O_DIRECT
#                     and then fsync'd (a FLUSH): after each flush completes
#                     prints VUSIM-FLUSHED: blk=N md5=HEX; the host kills
#                     the guest mid-write (tests/guest/uml-kill.sh)
#              reconnect  phases b..e of tests/guest/qemu-reconnect.sh:
#                     before each it prints VUSIM-PHASE: wait=P and polls
#                     the disk at TOKEN_OFF until the host wrote
#                     "VUSIM-GO P" there (the host arms its kill point
#                     first); then writes regions of random data (phase
#                     b: 4 parallel O_DIRECT writers; c: single synchronous
#                     4 KiB writes; d: buffered writes and fsync; e: 8
#                     parallel writers), and at the end reads every region
#                     back and reports it
#   vusim_disk=vda    the disk (vda: first virtio disk; ubda: UML's ubd)
#   vusim_size=BYTES  the capacity the host gave the disk (checked)
#   vusim_rng=N       bytes to read from /dev/hwrng (default 32)
#   vusim_mib=N       bench: MiB to write and read (default 64)
#   vusim_passes=N    bench: times to write (then read) them (default 1)
#
# Output, for the host to parse (each on a line of its own):
#   VUSIM-REGION: off=BYTES len=BYTES md5=HEX   a region the guest wrote
#   VUSIM-BENCH: op=write|read bytes=N usec=N   (bench mode)
#   VUSIM-RESULT: status=ok|fail blk=... writes=N reads=N flush=... eof=...
#                 rng=HEX|skip [fail=WHAT,...]
# then the guest powers off. A failed step never stops the script: it is
# recorded in fail= and status=fail, so the host always gets a verdict.
#
# The marker: 64 KiB of text (vusim_pattern) written with O_DIRECT at
# MARKER_OFF; the host regenerates it with `busybox sh workload.sh
# --vusim-pattern` and looks for it in the backing file.

MARKER_OFF=1048576
MARKER_LINES=1024
TOKEN_OFF=65011712          # 62 MiB: reconnect mode's go tokens

# 1024 lines of 64 bytes; the same bytes from busybox ash and bash.
vusim_pattern()
{
    i=0
    while [ "$i" -lt "$MARKER_LINES" ]; do
        printf 'VUSIM-PATTERN %08d abcdefghijklmnopqrstuvwxyz0123456789ABCD\n' \
            "$i"
        i=$((i + 1))
    done
}

if [ "${1:-}" = "--vusim-pattern" ]; then
    vusim_pattern
    exit 0
fi

export PATH=/bin:/sbin
FAILS=""
WRITES=0
READS=0

fail()
{
    FAILS="${FAILS:+$FAILS,}$1"
    echo "vusim-workload: FAIL $1${2:+: $2}"
}

# The value of vusim_$1 on the kernel command line, or $2.
param()
{
    v=$2
    for w in $(cat /proc/cmdline); do
        case "$w" in
        "vusim_$1="*) v=${w#*=} ;;
        esac
    done
    echo "$v"
}

setup()
{
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    # UML mounts devtmpfs itself; an initramfs kernel does not.
    grep -q ' /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
    mount -t tmpfs -o size=32m tmpfs /tmp
    echo 1 >/proc/sys/kernel/printk 2>/dev/null
}

# Modules listed in /lib/modules/vusim.order, dependencies first.
load_modules()
{
    [ -f /lib/modules/vusim.order ] || return 0
    while read -r ko; do
        [ -n "$ko" ] || continue
        out=$(insmod "/lib/modules/$ko" 2>&1) ||
            fail "insmod-${ko%.ko}" "$out"
    done </lib/modules/vusim.order
}

# Wait up to 10 s for /sys/block/$1 and make sure /dev/$1 exists.
find_disk()
{
    n=0
    while [ ! -e "/sys/block/$1" ] && [ "$n" -lt 100 ]; do
        usleep 100000
        n=$((n + 1))
    done
    [ -e "/sys/block/$1" ] || return 1
    if [ ! -b "/dev/$1" ]; then
        # shellcheck disable=SC2046 # major and minor
        mknod "/dev/$1" b $(tr ':' ' ' <"/sys/block/$1/dev") || return 1
    fi
    return 0
}

md5()
{
    md5sum | cut -d' ' -f1
}

# dd_to DEV SRC BS COUNT SEEK FLAG: write SRC at block SEEK; FLAG is
# "direct" or "" (buffered, then fsync).
dd_to()
{
    if [ "$6" = direct ]; then
        out=$(dd if="$2" of="$1" bs="$3" count="$4" seek="$5" \
              oflag=direct conv=notrunc 2>&1)
    else
        out=$(dd if="$2" of="$1" bs="$3" count="$4" seek="$5" \
              conv=notrunc,fsync 2>&1)
    fi
    rc=$?
    [ "$rc" -eq 0 ] || echo "$out"
    return "$rc"
}

# dd_md5 DEV BS COUNT SKIP FLAG: md5 of COUNT blocks at block SKIP.
dd_md5()
{
    if [ "$5" = direct ]; then
        dd if="$1" bs="$2" count="$3" skip="$4" iflag=direct 2>/dev/null | md5
    else
        dd if="$1" bs="$2" count="$3" skip="$4" 2>/dev/null | md5
    fi
}

drop_caches()
{
    sync
    echo 3 >/proc/sys/vm/drop_caches
}

# region DEV NAME BS COUNT OFF WFLAG: write COUNT random blocks at byte
# OFF, read them back direct and buffered, compare, report the region.
region()
{
    dev=$1 name=$2 bs=$3 count=$4 off=$5 wflag=$6
    src=/tmp/src-$name
    dd if=/dev/urandom of="$src" bs="$bs" count="$count" 2>/dev/null
    want=$(md5 <"$src")
    blk=$((off / bs))
    if ! err=$(dd_to "$dev" "$src" "$bs" "$count" "$blk" "$wflag"); then
        fail "write-$name" "$err"
        rm -f "$src"
        return
    fi
    WRITES=$((WRITES + 1))
    got=$(dd_md5 "$dev" "$bs" "$count" "$blk" direct)
    [ "$got" = "$want" ] || fail "read-direct-$name" "$got != $want"
    drop_caches
    got2=$(dd_md5 "$dev" "$bs" "$count" "$blk" "")
    [ "$got2" = "$want" ] || fail "read-buffered-$name" "$got2 != $want"
    READS=$((READS + 2))
    echo "VUSIM-REGION: off=$off len=$((bs * count)) md5=$want"
    rm -f "$src"
}

marker()
{
    vusim_pattern >/tmp/marker
    want=$(md5 </tmp/marker)
    if ! err=$(dd_to "$1" /tmp/marker 65536 1 $((MARKER_OFF / 65536)) \
               direct); then
        fail write-marker "$err"
        return
    fi
    WRITES=$((WRITES + 1))
    got=$(dd_md5 "$1" 65536 1 $((MARKER_OFF / 65536)) direct)
    READS=$((READS + 1))
    [ "$got" = "$want" ] || fail read-marker "$got != $want"
    echo "VUSIM-REGION: off=$MARKER_OFF len=65536 md5=$want"
}

# sync, then BLKFLSBUF and an fsync of the device (a FLUSH request when the
# disk has a write cache).
flush()
{
    FLUSH=ok
    sync || { FLUSH=fail; fail sync; }
    out=$(blockdev --flushbufs "$1" 2>&1) ||
        { FLUSH=fail; fail flushbufs "$out"; }
    out=$(dd if=/dev/null of="$1" conv=notrunc,fsync 2>&1) ||
        { FLUSH=fail; fail fsync "$out"; }
}

# The edge: capacity as expected, a read at the end gives 0 bytes, a read
# across it the bytes before it, and a write at the end fails.
eof()
{
    EOF=ok
    cap=$(($(cat "/sys/block/$2/size") * 512))
    want=$(param size "")
    if [ -n "$want" ] && [ "$cap" != "$want" ]; then
        EOF=fail
        fail capacity "$cap != $want"
    fi
    n=$(dd if="$1" bs=4096 skip=$((cap / 4096)) count=1 iflag=direct \
        2>/dev/null | wc -c)
    [ "$n" -eq 0 ] || { EOF=fail; fail read-at-end "$n bytes"; }
    n=$(dd if="$1" bs=1024 skip=$((cap / 1024 - 2)) count=4 iflag=direct \
        2>/dev/null | wc -c)
    READS=$((READS + 2))
    [ "$n" -eq 2048 ] || { EOF=fail; fail read-across-end "$n bytes"; }
    if out=$(dd if=/dev/zero of="$1" bs=4096 seek=$((cap / 4096)) count=1 \
             oflag=direct conv=notrunc 2>&1); then
        EOF=fail
        fail write-at-end "succeeded: $out"
    fi
}

blk_test()
{
    BLK=fail FLUSH=skip EOF=skip
    before=$FAILS
    disk=$(param disk vda)
    if ! find_disk "$disk"; then
        fail no-disk "/sys/block/$disk missing"
        return
    fi
    dev=/dev/$disk
    echo "vusim-workload: $dev, $(($(cat "/sys/block/$disk/size") / 2048)) MiB"
    marker "$dev"
    region "$dev" d4k 4096 16 2097152 direct
    region "$dev" d64k 65536 16 4194304 direct
    region "$dev" d1m 1048576 4 8388608 direct
    region "$dev" b64k 65536 32 16777216 ""
    region "$dev" b4k 4096 64 20971520 ""
    flush "$dev"
    eof "$dev" "$disk"
    [ "$FAILS" != "$before" ] || BLK=ok
}

rng_test()
{
    RNG=fail
    n=0
    while [ ! -c /dev/hwrng ] && [ "$n" -lt 50 ]; do
        usleep 100000
        n=$((n + 1))
    done
    cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
    case "$cur" in
    virtio_rng*) ;;
    *) fail rng-current "rng_current is '$cur'"; return ;;
    esac
    hex=$(dd if=/dev/hwrng bs="$(param rng 32)" count=1 iflag=fullblock \
          2>/dev/null | hexdump -v -e '/1 "%02x"')
    if [ -n "$hex" ]; then
        RNG=$hex
    else
        fail rng-read
    fi
}

# Wall-clock microseconds (adjtimex prints tv_sec and tv_usec; busybox
# date has no %N).
now_usec()
{
    adjtimex 2>/dev/null | awk '
        $1 == "time.tv_sec:" { s = $2 }
        $1 == "time.tv_usec:" { u = $2 }
        END { printf "%.0f\n", s * 1000000 + u }'
}

bench()
{
    disk=$(param disk vda)
    mib=$(param mib 64)
    passes=$(param passes 1)
    find_disk "$disk" || { fail no-disk "/sys/block/$disk missing"; return; }
    for op in write read; do
        t0=$(now_usec)
        p=0
        while [ "$p" -lt "$passes" ]; do
            if [ "$op" = write ]; then
                out=$(dd if=/dev/zero of="/dev/$disk" bs=1M count="$mib" \
                      oflag=direct conv=notrunc 2>&1)
            else
                out=$(dd if="/dev/$disk" of=/dev/null bs=1M count="$mib" \
                      iflag=direct 2>&1)
            fi
            rc=$?
            [ "$rc" -eq 0 ] || break
            p=$((p + 1))
        done
        t1=$(now_usec)
        [ "$rc" -eq 0 ] || { fail "bench-$op" "$out"; continue; }
        echo "VUSIM-BENCH: op=$op bytes=$((passes * mib * 1048576))" \
             "usec=$((t1 - t0))"
    done
}

# 64 KiB blocks, each tagged with its number, at block N of the disk,
# until the host kills the guest.
killwrite()
{
    dev=/dev/$(param disk vda)
    find_disk "$(param disk vda)" || { fail no-disk; return; }
    vusim_pattern | head -c 65472 >/tmp/base
    i=0
    while :; do
        { printf 'VUSIM-KILL-BLOCK %08d %-37s\n' "$i" x; cat /tmp/base; } \
            >/tmp/blk
        if dd if=/tmp/blk of="$dev" bs=65536 seek="$i" count=1 \
            oflag=direct conv=notrunc,fsync 2>/dev/null; then
            echo "VUSIM-FLUSHED: blk=$i md5=$(md5sum </tmp/blk | cut -c1-32)"
        else
            fail "killwrite-$i"
        fi
        i=$(((i + 1) % 512))
    done
}

# ---- reconnect: regions written while the back-end is killed -----------

# rc_src NAME BS COUNT OFF: random data for region NAME, listed for the
# final check.
rc_src()
{
    dd if=/dev/urandom of="/tmp/src-$1" bs="$2" count="$3" 2>/dev/null
    echo "$1 $4 $(($2 * $3)) $(md5 <"/tmp/src-$1")" >>/tmp/regions
}

# rc_write NAME BS COUNT OFF direct|fsync: one writer; a failure (an I/O
# error the guest saw) is noted in /tmp/failed.
rc_write()
{
    if [ "$5" = direct ]; then
        out=$(dd if="/tmp/src-$1" of="$DEV" bs="$2" count="$3" \
              seek=$(($4 / $2)) oflag=direct conv=notrunc 2>&1)
    else
        out=$(dd if="/tmp/src-$1" of="$DEV" bs="$2" count="$3" \
              seek=$(($4 / $2)) conv=notrunc,fsync 2>&1)
    fi || echo "write-$1 $(echo "$out" | tr ' \n' '__')" >>/tmp/failed
}

# rc_parallel N PREFIX BS COUNT BASE STRIDE: N writers at once.
rc_parallel()
{
    i=0
    while [ "$i" -lt "$1" ]; do
        rc_src "$2$i" "$3" "$4" $(($5 + i * $6))
        i=$((i + 1))
    done
    i=0
    while [ "$i" -lt "$1" ]; do
        rc_write "$2$i" "$3" "$4" $(($5 + i * $6)) direct &
        i=$((i + 1))
    done
    wait
}

# rc_phase P: wait for the host's go token for phase P (at most 300 s).
rc_phase()
{
    echo "VUSIM-PHASE: wait=$1"
    n=0
    while [ "$n" -lt 1500 ]; do
        tok=$(dd if="$DEV" bs=512 count=1 skip=$((TOKEN_OFF / 512)) \
              iflag=direct 2>/dev/null | head -c 10)
        if [ "$tok" = "VUSIM-GO $1" ]; then
            echo "VUSIM-PHASE: go=$1"
            return 0
        fi
        usleep 200000
        n=$((n + 1))
    done
    fail "phase-$1" "no go token from the host"
    return 1
}

reconnect()
{
    disk=$(param disk vda)
    find_disk "$disk" || { fail no-disk "/sys/block/$disk missing"; return; }
    DEV=/dev/$disk
    : >/tmp/regions
    : >/tmp/failed
    marker "$DEV"
    # b: requests sit on the calendar (the host delays these writes).
    rc_phase b && rc_parallel 4 b 65536 4 8388608 1048576
    # c: one 4 KiB write at a time (the host holds a call).
    if rc_phase c; then
        rc_src c 4096 8 16777216
        rc_write c 4096 8 16777216 direct
    fi
    # d: buffered writes, then fsync's FLUSH (the host stops on it).
    if rc_phase d; then
        rc_src d 65536 16 20971520
        rc_write d 65536 16 20971520 fsync
    fi
    # e: heavy writes, 8 writers of 2 MiB.
    rc_phase e && rc_parallel 8 e 65536 32 25165824 2097152
    echo "VUSIM-PHASE: done"
    while read -r name err; do
        [ -n "$name" ] && fail "$name" "$err"
    done </tmp/failed
    drop_caches
    while read -r name off len want; do
        bs=65536
        [ $((len % bs)) -eq 0 ] && [ $((off % bs)) -eq 0 ] || bs=4096
        got=$(dd_md5 "$DEV" "$bs" $((len / bs)) $((off / bs)) direct)
        READS=$((READS + 1))
        WRITES=$((WRITES + 1))
        if [ "$got" = "$want" ]; then
            echo "VUSIM-REGION: off=$off len=$len md5=$want"
        else
            fail "read-$name" "$got != $want"
        fi
    done </tmp/regions
    # The console shows only emergencies (setup): ask the kernel's log.
    errs=$(dmesg | grep -E 'I/O error|blk_update_request|Buffer I/O')
    [ -z "$errs" ] || fail kernel-io-error "$(echo "$errs" | head -n 3)"
    BLK=ok
    [ -z "$FAILS" ] || BLK=fail
}

finish()
{
    status=ok
    [ -z "$FAILS" ] || status=fail
    echo
    echo "VUSIM-RESULT: status=$status blk=$BLK writes=$WRITES reads=$READS" \
         "flush=$FLUSH eof=$EOF rng=$RNG${FAILS:+ fail=$FAILS}"
    sync
    poweroff -f
    sleep 5
    halt -f
}

BLK=skip FLUSH=skip EOF=skip RNG=skip
setup
load_modules
for mode in $(param mode blk | tr ',' ' '); do
    case "$mode" in
    blk) blk_test ;;
    rng) rng_test ;;
    bench) bench ;;
    boot) ;;
    killwrite) killwrite ;;
    reconnect) reconnect ;;
    *) fail mode "unknown vusim_mode $mode" ;;
    esac
done
finish
