#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/guest/uml-kill.sh - a UML guest killed with SIGKILL in the middle
# of writes (in-band notifications, Debian's linux.uml)
#
# The guest (workload.sh, vusim_mode=killwrite) writes 64 KiB blocks
# without end, each with O_DIRECT and then fsync (a virtio FLUSH), and
# prints VUSIM-FLUSHED: blk=N md5=HEX after each flush completed. Once
# KILL_AFTER flushes are on its console the host kills the UML's whole
# process group with SIGKILL. Passes when
#   - vusim lives on (and logs the front-end's disappearance, no crash),
#   - every block whose flush completed is in the backing file (md5),
#   - vusim serves the next guest: a second UML runs the full blk workload
#     (status=ok, every region it wrote in the file after vusim exits),
#   - vusim's --stats show FLUSH requests and vusim exits 0 on SIGTERM.
set -uo pipefail

. "$(dirname "$0")/lib.sh"
guest_init uml-kill
guest_require busybox uml jq
guest_require_vusim
guest_images uml

size=$((64 << 20))
disk=$GUEST_RUN/disk.img
sock=$GUEST_RUN/blk.sock
stats=$GUEST_RUN/stats.json
con=$GUEST_RUN/console1.log
kill_after=${VUSIM_KILL_AFTER:-24}
truncate -s "$size" "$disk"

guest_vusim vusim blk "--socket-path=$sock" "--backing=$disk" \
    --latency=50us --stats="$stats" --inband=on

# The first guest, in its own session: killed from here, not by guest_run.
guest_uml_cmd "$GUEST_UML_ROOT" "virtio_uml.device=$sock:2" \
    vusim_mode=killwrite "vusim_size=$size"
setsid "${GUEST_CMD[@]}" </dev/null >"$con" 2>&1 &
uml=$!
GUEST_GROUPS+=("$uml")
deadline=$((SECONDS + ${VUSIM_GUEST_TIMEOUT:-240}))
while [ "$(grep -c '^VUSIM-FLUSHED:' "$con")" -lt "$kill_after" ]; do
    if ! kill -0 "$uml" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
        guest_hung "$con" "the killwrite guest did not reach $kill_after" \
            "flushes"
    fi
    sleep 0.05
done
kill -KILL -- "-$uml"
wait "$uml" 2>/dev/null
n=$(grep -c '^VUSIM-FLUSHED:' "$con")
guest_say "killed the UML (SIGKILL, its process group) after $n flushes"
kill -0 "$VUSIM_PID" 2>/dev/null || guest_fail "vusim died with the guest"
guest_ok "vusim lives on after the guest's SIGKILL"

# Every block whose flush completed, in the file (the last md5 per block).
bad=0
checked=0
while read -r blk md5; do
    got=$(dd if="$disk" bs=65536 skip="$blk" count=1 2>/dev/null | md5sum |
        cut -c1-32)
    checked=$((checked + 1))
    if [ "$got" != "$md5" ]; then
        guest_say "block $blk: flushed with md5 $md5, file has $got"
        bad=$((bad + 1))
    fi
done < <(tr -d '\r' <"$con" |
    sed -n 's/^VUSIM-FLUSHED: blk=\([0-9]*\) md5=\([0-9a-f]*\)$/\1 \2/p' |
    awk '{ last[$1] = $2 } END { for (b in last) print b, last[b] }')
[ "$checked" -ge "$kill_after" ] && [ "$bad" -eq 0 ] ||
    guest_fail "$bad of $checked flushed blocks are not in the backing file"
guest_ok "all $checked blocks whose flush completed are in the backing file"

# The next guest is served: the full blk workload.
guest_uml_cmd "$GUEST_UML_ROOT" "virtio_uml.device=$sock:2" \
    vusim_mode=blk "vusim_size=$size"
rc=0
guest_run "$GUEST_RUN/console2.log" "${VUSIM_GUEST_TIMEOUT:-240}" \
    "${GUEST_CMD[@]}" || rc=$?
guest_say "the second guest ran (exit status $rc)"
if [ -n "$GUEST_TIMED_OUT" ]; then
    guest_hung "$GUEST_RUN/console2.log" "the second UML guest did not finish"
fi
guest_vusim_stop "$VUSIM_PID" vusim
guest_check_result "$GUEST_RUN/console2.log" blk=ok flush=ok eof=ok
guest_check_backing "$GUEST_RUN/console2.log" "$disk"
guest_check_flush "$stats"
guest_pass
