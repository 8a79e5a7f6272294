#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/guest/uml-blk.sh - User-Mode Linux against `vusim blk`
#
# Usage: uml-blk.sh inband|eventfd   (from make check: uml-blk-MODE.sh)
#
# Boots linux.uml with virtio_uml.device=SOCKET:2 and a hostfs root (see
# mkimage.sh); the guest runs workload.sh in blk mode: O_DIRECT and
# buffered writes and reads at 4K, 64K and 1M, a marker, flushes and the
# end-of-disk checks. Passes when
#   - the guest reports status=ok blk=ok flush=ok eof=ok,
#   - every region the guest wrote is in the backing file (md5) and the
#     marker is there byte for byte, after vusim exits,
#   - vusim's --stats say notification_mode is MODE, with every kick and
#     call in that mode (inband: inband_negotiated true, no eventfd kick or
#     call; eventfd: --inband=off, no in-band kick or call).
# A guest that hangs is killed (process group, SIGKILL) after 60 s and the
# test fails with its console. Skips (77) without UML, busybox-static or jq.
set -uo pipefail

MODE=${1:-inband}
. "$(dirname "$0")/lib.sh"
guest_init "uml-blk-$MODE"
guest_require busybox uml jq
guest_require_vusim
case "$MODE" in
inband) inband=auto ;;
eventfd) inband=off ;;
*) guest_fail "unknown mode $MODE (inband or eventfd)" ;;
esac
guest_images uml

size=$((64 << 20))
disk=$GUEST_RUN/disk.img
sock=$GUEST_RUN/blk.sock
stats=$GUEST_RUN/stats.json
truncate -s "$size" "$disk"

guest_vusim vusim blk "--socket-path=$sock" "--backing=$disk" \
    --latency=50us --stats="$stats" --inband="$inband"
guest_uml_blk "$sock" "$size"
guest_vusim_stop "$VUSIM_PID" vusim
guest_check_result "$GUEST_RUN/console.log" blk=ok flush=ok eof=ok
guest_check_backing "$GUEST_RUN/console.log" "$disk"
guest_check_flush "$stats"
if [ "$MODE" = inband ]; then
    guest_check_stats "$stats" inband inband
else
    guest_check_stats "$stats" eventfd
fi
guest_pass
