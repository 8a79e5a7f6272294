#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/guest/qemu-rng.sh - QEMU vhost-user-rng-pci against `vusim rng`
#
# Two guest boots against `vusim rng --seed=SEED`; each guest loads
# virtio-rng (rng_core.default_quality=0 keeps the kernel's hwrng thread
# from reading the device on its own) and prints NBYTES of /dev/hwrng as
# hex. Passes when
#   - both runs print the same bytes (same seed, same bytes), and
#   - those bytes are the seeded stream, which rng-expect computes with
#     sim/rng.h. The kernel takes the first requests for itself (the
#     driver keeps one 64-byte request posted and hwrng core reads early
#     randomness when the device registers), so the guest's bytes start a
#     whole number of words into the stream (128 bytes with Debian's 6.1);
#     the offset is reported.
#   - vusim's stats show eventfd notifications and all requests completed.
# Skips (77) without QEMU, a kernel, busybox-static or jq.
set -uo pipefail

. "$(dirname "$0")/lib.sh"
guest_init qemu-rng
guest_require busybox qemu jq
guest_require_vusim
expect=$builddir/tests/guest/rng-expect
[ -x "$expect" ] || guest_fail "no $expect (make check builds it)"
guest_images qemu
accel=$(guest_qemu_accel)

seed=${VUSIM_RNG_SEED:-20240611}
nbytes=64

# run_rng N: one boot; sets HEX to the bytes the guest read.
run_rng()
{
    local n=$1 sock=$GUEST_RUN/rng$1.sock rc=0 line

    guest_vusim "vusim$n" rng "--socket-path=$sock" "--seed=$seed" \
        --stats="$GUEST_RUN/stats$n.json"
    guest_qemu_cmd "$accel" "rng:$sock" vusim_mode=rng "vusim_rng=$nbytes"
    guest_run "$GUEST_RUN/console$n.log" "${VUSIM_GUEST_TIMEOUT:-240}" \
        "${GUEST_CMD[@]}" || rc=$?
    if [ -n "$GUEST_TIMED_OUT" ]; then
        guest_console_tail "$GUEST_RUN/console$n.log" 60
        guest_fail "the QEMU guest ($accel) did not finish within" \
            "${VUSIM_GUEST_TIMEOUT:-240} s (run $n)"
    fi
    guest_vusim_stop "$VUSIM_PID" "vusim$n"
    line=$(guest_result "$GUEST_RUN/console$n.log") || exit 1
    guest_say "run $n: $line"
    case "$(guest_field "$line" status)" in
    ok) ;;
    *) guest_console_tail "$GUEST_RUN/console$n.log" 40
       guest_fail "run $n: the guest failed" ;;
    esac
    HEX=$(guest_field "$line" rng)
    [ "${#HEX}" -eq $((2 * nbytes)) ] ||
        guest_fail "run $n: expected $nbytes bytes of hex, got '$HEX'"
    guest_check_stats "$GUEST_RUN/stats$n.json" eventfd
}

start=$SECONDS
run_rng 1
hex1=$HEX
run_rng 2
hex2=$HEX
guest_say "two boots under $accel took $((SECONDS - start)) s"
[ "$hex1" = "$hex2" ] ||
    guest_fail "same seed, different bytes: run 1 $hex1, run 2 $hex2"
# Where in the stream the guest's bytes start: a whole number of 8-byte
# words (the device never splits one across requests), within the first
# 1 KiB.
stream=$("$expect" "$seed" $((1024 + nbytes)))
head=${stream%%"$hex1"*}
off=$((${#head} / 2))
if [ "$head" = "$stream" ] || [ $((off % 8)) -ne 0 ]; then
    guest_fail "the guest's bytes $hex1 are not in the first 1 KiB of" \
        "the stream of seed $seed (it starts $("$expect" "$seed" 64))"
fi
guest_say "seed $seed: the guest read the seeded stream from byte $off"
guest_say "PASS"
