#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/tt/tt-ext4.sh - a whole system, reproducible: ext4 built twice
# under time travel is byte-identical
#
# A time-travel UML with the host's `/` as a read-only hostfs root runs the
# host's own mkfs.ext4, cp, md5sum and e2fsck (tests/tt/init-host.sh,
# tt_work=ext4): mkfs.ext4 with a fixed UUID and hash seed on /dev/vda,
# `cp -a` of a tree of over 1000 files (tests/tt/lib.sh, tt_tree), sync,
# drop caches, the md5 of the copy, umount, `e2fsck -fn`. vusim is its
# clock and its disk (64 MiB backing file, 50 us per request):
#
#   vusim blk --backing=disk.img --latency=50us --time-travel=TT \
#       --start-time=1700000000 --trace=TRACE
#
# With TT_WORK=writers (tests/tt/tt-writers.sh) the guest instead has four
# processes write 16 files each at once, then syncs and checks the same way.
#
# The run is made VUSIM_TT_RUNS times (default 3), each on a fresh zeroed
# image at the same path. Passes when the traces, the images after the run
# and the whole consoles are byte-identical across runs, e2fsck found the
# file system clean, and run 1's trace passes `vusim trace check` and
# `vusim replay`. On a difference it prints `vusim trace diff`'s first
# divergence (the guests' time-travel steps are in the trace).
set -uo pipefail

# shellcheck source=tests/tt/lib.sh
. "$(dirname "$0")/lib.sh"
WORK=${TT_WORK:-ext4}
guest_init "tt-$WORK"
guest_require_vusim
tt_require_controller
tt_require_uml
[ -x /usr/sbin/mkfs.ext4 ] && [ -x /usr/sbin/e2fsck ] ||
    guest_skip "no mkfs.ext4 or e2fsck on the host (package e2fsprogs)"
[ -x /usr/bin/bash ] || guest_skip "no bash on the host"
guest_busybox >/dev/null || guest_skip "no static /bin/busybox (poweroff)"
tt_tree

RUNS=${VUSIM_TT_RUNS:-3}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-600}
START_S=1700000000
TTSOCK=$GUEST_RUN/tt.sock
BLKSOCK=$GUEST_RUN/blk.sock
IMG=$GUEST_RUN/disk.img

run_once()
{
    local n=$1 dir=$GUEST_RUN/run$1 rc=0 t0

    mkdir -p "$dir"
    rm -f "$IMG"
    truncate -s 64M "$IMG" || guest_fail "cannot create $IMG"
    tt_vusim "vusim$n" "$TTSOCK" "$BLKSOCK" -- blk \
        "--time-travel=$TTSOCK" "--start-time=$START_S" \
        "--socket-path=$BLKSOCK" --latency=50us "--backing=$IMG" \
        "--trace=$dir/trace" "--stats=$dir/stats.json"
    tt_host_cmd 0 "$TTSOCK" g0 "virtio_uml.device=$BLKSOCK:2" \
        "tt_work=$WORK" "tt_tree=$TT_TREE"
    t0=$(date +%s%N)
    guest_run "$dir/console.raw" "$TIMEOUT" "${TT_CMD[@]}" || rc=$?
    guest_say "run $n: guest exited with status $rc after" \
        "$((($(date +%s%N) - t0) / 1000000)) ms of wall time"
    if [ -n "$GUEST_TIMED_OUT" ]; then
        tail -n 20 "$GUEST_RUN/vusim$n.log"
        tt_fail_run "$dir/console.raw" \
            "run $n: the guest did not finish within $TIMEOUT s"
    fi
    guest_vusim_stop "$VUSIM_PID" "vusim$n"
    mv "$IMG" "$dir/disk.img"
    tt_console_clean "$dir/console.raw" >"$dir/console"
    tt_section "$dir/console" >"$dir/section" ||
        tt_fail_run "$dir/console" "run $n: no TT-START .. TT-END"
    grep -qx 'TT-STATUS: rc=0' "$dir/section" ||
        tt_fail_run "$dir/console" "run $n: the workload failed"
    [ -s "$dir/trace" ] || guest_fail "run $n: vusim wrote no trace"
}

for ((i = 1; i <= RUNS; i++)); do
    run_once "$i"
done
grep '^TT-FILES: \|^TT-FSCK: ' "$GUEST_RUN/run1/section" |
    while IFS= read -r l; do guest_say "$l"; done
files=$(sed -n 's/^TT-FILES: \([0-9]*\) .*/\1/p' "$GUEST_RUN/run1/section")
if [ "$WORK" = ext4 ] && [ "${files:-0}" -lt 1000 ]; then
    guest_fail "the copy has ${files:-no} files, expected over 1000"
fi
for ((i = 2; i <= RUNS; i++)); do
    tt_same "the trace" "$GUEST_RUN/run1/trace" "$GUEST_RUN/run$i/trace"
    tt_same "the image" "$GUEST_RUN/run1/disk.img" "$GUEST_RUN/run$i/disk.img"
    tt_same "the console" "$GUEST_RUN/run1/console" "$GUEST_RUN/run$i/console"
done
# Replay starts from the image the run started from: zeros.
truncate -s 64M "$GUEST_RUN/zero.img"
for cmd in "trace check" replay; do
    args=()
    [ "$cmd" = replay ] && args=("--backing=$GUEST_RUN/zero.img")
    # shellcheck disable=SC2086 # two words
    if ! "$VUSIM" $cmd "$GUEST_RUN/run1/trace" "${args[@]}" \
        >"$GUEST_RUN/$cmd.log" 2>&1
    then
        cat "$GUEST_RUN/$cmd.log"
        guest_fail "vusim $cmd failed on the trace of run 1"
    fi
    guest_say "vusim $cmd: $(tail -n 1 "$GUEST_RUN/$cmd.log")"
done
guest_say "$RUNS runs: identical traces ($(stat -c %s \
    "$GUEST_RUN/run1/trace") bytes), images and consoles" \
    "($(wc -l <"$GUEST_RUN/run1/console") lines)"
guest_say "PASS"
