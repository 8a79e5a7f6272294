#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/guest/uml-blk-trace.sh - a trace recorded from a real UML guest
# replays with no divergence
#
# Boots linux.uml against `vusim blk --trace` (in-band notifications, a
# file-backed disk) running workload.sh in blk mode, as uml-blk.sh does.
# Passes when the guest reports status=ok blk=ok, `vusim trace check` finds
# the trace complete, and `vusim replay --backing=` the starting image
# (a zeroed copy kept aside) checks every completion with no divergence
# and leaves that image unchanged. Skips (77) without UML or busybox.
set -uo pipefail

. "$(dirname "$0")/lib.sh"
guest_init "uml-blk-trace"
guest_require busybox uml
guest_require_vusim
guest_images uml

size=$((64 << 20))
disk=$GUEST_RUN/disk.img
start=$GUEST_RUN/start.img
sock=$GUEST_RUN/blk.sock
trace=$GUEST_RUN/uml.trace
truncate -s "$size" "$disk"
truncate -s "$size" "$start"

guest_vusim vusim blk "--socket-path=$sock" "--backing=$disk" \
    --latency=50us --inband=auto "--trace=$trace"
guest_uml_cmd "$GUEST_UML_ROOT" "virtio_uml.device=$sock:2" \
    vusim_mode=blk "vusim_size=$size"
rc=0
guest_run "$GUEST_RUN/console.log" "${VUSIM_GUEST_TIMEOUT:-240}" \
    "${GUEST_CMD[@]}" || rc=$?
guest_say "guest exit status $rc"
if [ -n "$GUEST_TIMED_OUT" ]; then
    guest_console_tail "$GUEST_RUN/console.log" 60
    guest_fail "the UML guest did not finish within" \
        "${VUSIM_GUEST_TIMEOUT:-240} s"
fi
guest_vusim_stop "$VUSIM_PID" vusim
guest_check_result "$GUEST_RUN/console.log" blk=ok

if ! "$VUSIM" trace check "$trace" >"$GUEST_RUN/check.log" 2>&1 ||
   ! grep -q "complete:" "$GUEST_RUN/check.log"; then
    cat "$GUEST_RUN/check.log"
    guest_fail "the trace is not complete"
fi
guest_ok "the trace is complete"
before=$(md5sum <"$start")
if ! "$VUSIM" replay "$trace" "--backing=$start" >"$GUEST_RUN/replay.log" \
        2>&1; then
    cat "$GUEST_RUN/replay.log"
    guest_fail "the replay diverged or failed"
fi
cat "$GUEST_RUN/replay.log"
grep -q "no divergence" "$GUEST_RUN/replay.log" ||
    guest_fail "replay did not report success"
guest_ok "the trace replays with no divergence"
[ "$(md5sum <"$start")" = "$before" ] ||
    guest_fail "replay wrote the starting image"
guest_ok "replay left the starting image unchanged"
"$VUSIM" trace info "$trace" | grep -E "^(requests|notification):" || true
guest_pass
