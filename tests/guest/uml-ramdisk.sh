#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/guest/uml-ramdisk.sh - User-Mode Linux against examples/ramdisk, the
# out-of-tree model that make check builds against the installed vusim
# (examples/local.mk), in-band notifications.
#
# The guest runs workload.sh in blk mode, as in uml-blk.sh: O_DIRECT and
# buffered writes and reads checked in the guest, flushes, the end of the
# disk. Passes when the guest reports status=ok blk=ok flush=ok eof=ok and
# the program's --stats say every kick and call was in-band, every request
# completed and FLUSH requests reached the model. (The disk is RAM: there
# is no backing file to compare afterwards.) Skips (77) without UML,
# busybox-static or jq.
set -uo pipefail

. "$(dirname "$0")/lib.sh"
guest_init uml-ramdisk
guest_require busybox uml jq
stamp=$builddir/tests/examples/ramdisk.stamp
prog=$builddir/tests/examples/ramdisk/ramdisk
[ -x "$prog" ] && [ -s "$stamp" ] ||
    guest_fail "no examples/ramdisk built at $prog (make check builds it)"
# guest_vusim runs $VUSIM: the staged program, through a wrapper that
# points it at the staged libraries.
VUSIM=$GUEST_RUN/ramdisk
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$(cat "$stamp")" \
    "$(cd "$(dirname "$prog")" && pwd)/ramdisk" >"$VUSIM"
chmod +x "$VUSIM"
guest_images uml

size=$((64 << 20))
sock=$GUEST_RUN/blk.sock
stats=$GUEST_RUN/stats.json

guest_vusim ramdisk "--socket-path=$sock" "--size=$size" --latency=50us \
    --stats="$stats" --inband=auto
guest_uml_blk "$sock" "$size"
guest_vusim_stop "$VUSIM_PID" ramdisk
guest_check_result "$GUEST_RUN/console.log" blk=ok flush=ok eof=ok
guest_check_flush "$stats"
guest_check_stats "$stats" inband inband
guest_pass
