#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/guest/qemu-inband.sh - vusim's QEMU with in-band notifications
#
# One guest boot of the patched QEMU (scripts/build-qemu.sh; TCG) with
# vhost-user-blk-pci and vhost-user-rng-pci, both inband=on, against
# `vusim blk --inband=on` and `vusim rng --inband=on`. The guest runs the
# blk workload (writes, O_DIRECT reads, fsync, end of disk) and reads
# /dev/hwrng. Passes when:
#   - the guest reports status=ok blk=ok flush=ok eof=ok, its regions and
#     the marker are in the backing file;
#   - the rng bytes it read are the seeded stream (at a whole number of
#     8-byte words in: see qemu-rng.sh for why not at byte 0);
#   - both vusims negotiated in-band notifications, and every kick and
#     every call of every queue was in-band: kicks_eventfd and
#     calls_eventfd are 0, kicks_inband and calls_inband are not, and no
#     request was left uncompleted.
# Skips (77) without the patched QEMU (fails if VUSIM_QEMU_REQUIRED=1), a
# kernel, busybox-static or jq.
set -uo pipefail

. "$(dirname "$0")/lib.sh"
guest_init qemu-inband
guest_require busybox jq
guest_require_qemu_patched
guest_require qemu
guest_require_vusim
expect=$builddir/tests/guest/rng-expect
[ -x "$expect" ] || guest_fail "no $expect (make check builds it)"
guest_images qemu

size=$((64 << 20))
seed=${VUSIM_RNG_SEED:-20240611}
nbytes=64
disk=$GUEST_RUN/disk.img
truncate -s "$size" "$disk"

guest_vusim vusim-rng rng "--socket-path=$GUEST_RUN/rng.sock" \
    "--seed=$seed" --inband=on --stats="$GUEST_RUN/rng.json"
rng_pid=$VUSIM_PID
guest_vusim vusim-blk blk "--socket-path=$GUEST_RUN/blk.sock" \
    "--backing=$disk" --latency=50us --inband=on --stats="$GUEST_RUN/blk.json"
blk_pid=$VUSIM_PID

GUEST_QEMU_DEVOPTS=,inband=on
guest_qemu_cmd tcg "$GUEST_RUN/blk.sock,rng:$GUEST_RUN/rng.sock" \
    vusim_mode=blk,rng "vusim_size=$size" "vusim_rng=$nbytes"
start=$SECONDS
rc=0
guest_run "$GUEST_RUN/console.log" "${VUSIM_GUEST_TIMEOUT:-300}" \
    "${GUEST_CMD[@]}" || rc=$?
guest_say "guest ran for $((SECONDS - start)) s under tcg (exit status $rc)"
if [ -n "$GUEST_TIMED_OUT" ]; then
    guest_hung "$GUEST_RUN/console.log" "the QEMU guest did not finish" \
        "within ${VUSIM_GUEST_TIMEOUT:-300} s"
fi
guest_vusim_stop "$blk_pid" vusim-blk
guest_vusim_stop "$rng_pid" vusim-rng
guest_check_result "$GUEST_RUN/console.log" blk=ok flush=ok eof=ok
guest_check_backing "$GUEST_RUN/console.log" "$disk"
guest_check_flush "$GUEST_RUN/blk.json"
guest_check_stats "$GUEST_RUN/blk.json" inband inband
guest_check_stats "$GUEST_RUN/rng.json" inband inband

hex=$(guest_field "$(guest_result "$GUEST_RUN/console.log")" rng)
[ "${#hex}" -eq $((2 * nbytes)) ] ||
    guest_fail "expected $nbytes bytes of rng hex, got '$hex'"
stream=$("$expect" "$seed" $((1024 + nbytes)))
head=${stream%%"$hex"*}
if [ "$head" = "$stream" ] || [ $(((${#head} / 2) % 8)) -ne 0 ]; then
    guest_fail "the guest's rng bytes $hex are not in the first 1 KiB of" \
        "the stream of seed $seed"
fi
guest_ok "rng: the seeded stream, from byte $((${#head} / 2))"
guest_pass
