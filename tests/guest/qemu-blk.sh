#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/guest/qemu-blk.sh - QEMU vhost-user-blk-pci against `vusim blk`
#
# QEMU 7.2 acks the in-band protocol bits when they are offered, then sets
# kick and call eventfds: vusim (default --inband=auto) must notice and use
# the fds. The guest (Debian's kernel, the initramfs from mkimage.sh) runs
# workload.sh in blk mode. Passes when the guest reports status=ok blk=ok
# flush=ok eof=ok, its regions and the marker are in the backing file, and
# vusim's --stats say notification_mode "eventfd" with no in-band kick or
# call. KVM is used when a probe guest boots under it, else TCG. The guest
# is killed after 240 s. Skips (77) without QEMU, a kernel, busybox-static
# or jq.
set -uo pipefail

. "$(dirname "$0")/lib.sh"
guest_qemu_blk_init qemu-blk
stats=$GUEST_RUN/stats.json

guest_vusim vusim blk "--socket-path=$sock" "--backing=$disk" \
    --latency=50us --stats="$stats"
guest_qemu_cmd "$accel" "$sock" vusim_mode=blk "vusim_size=$size"
start=$SECONDS
rc=0
guest_run "$GUEST_RUN/console.log" "${VUSIM_GUEST_TIMEOUT:-240}" \
    "${GUEST_CMD[@]}" || rc=$?
guest_say "guest ran for $((SECONDS - start)) s under $accel" \
    "(exit status $rc)"
if [ -n "$GUEST_TIMED_OUT" ]; then
    guest_hung "$GUEST_RUN/console.log" "the QEMU guest ($accel) did not" \
        "finish within ${VUSIM_GUEST_TIMEOUT:-240} s"
fi
guest_vusim_stop "$VUSIM_PID" vusim
guest_check_result "$GUEST_RUN/console.log" blk=ok flush=ok eof=ok
guest_check_backing "$GUEST_RUN/console.log" "$disk"
guest_check_flush "$stats"
guest_check_stats "$stats" eventfd
guest_pass
