#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/guest/qemu-reconnect.sh - vusim killed with SIGKILL under a QEMU
# guest, five times, and restarted on the same socket and backing file:
# no request is lost (INFLIGHT_SHMFD)
#
# Stock QEMU 7.2 (eventfd notifications, the accelerator of
# guest_qemu_accel), vhost-user-blk-pci on -chardev socket,reconnect=1.
# The guest (workload.sh, vusim_mode=reconnect) writes regions of random
# data in phases and, at the end, reads every region back and compares.
# Before each phase it waits for the host's go token (written into the
# backing file), so the host arms the next kill point on the running vusim
# first. The kill points, each reached through vusim's control socket
# (--control) and not by timing:
#   a  the first request of the device (the guest is booting): a request
#      breakpoint stops vusim with it taken and unanswered, before any
#      kick was acknowledged by a completion;
#   b  requests on the calendar: phase b's four parallel O_DIRECT writers
#      meet a delay rule (fault-add do=delay,delay=120s) under
#      --clock=realtime, vusim running; killed once the four are in flight;
#   c  between completion and call: a request breakpoint on phase c's
#      first synchronous 4 KiB write, then a notify breakpoint with hold
#      and cont: vusim stops with the completion in the used ring and the
#      call not sent (nothing in flight; the guest waits for an interrupt);
#   d  during a flush: a request breakpoint on=flush (phase d's fsync);
#   e  during heavy writes: eight parallel writers, a breakpoint on their
#      64th write, killed once the in-flight count is steady.
# After each kill a new vusim starts on the same socket and file, QEMU
# reconnects and hands it the in-flight region. Passes when
#   - each new vusim resubmits exactly the requests the killed one had in
#     flight (its log line against the killed one's query-queues), and
#     after (c) signals the restarted ring once;
#   - the guest reports status=ok (no dd failed) and its console shows no
#     I/O error; every region it wrote and read back, and the marker, are
#     in the backing file (md5);
#   - the last vusim's --stats show eventfd notifications and every
#     request completed, and it exits 0 on SIGTERM.
# Prints one line per kill point: "kill POINT: in-flight=N resubmitted=N".
# Skips (77) without QEMU, a kernel, busybox-static or jq.
set -uo pipefail
# VUSIM_NAME, VUSIM_STATS and GUEST_QEMU_CHAROPTS are read by lib.sh:
# shellcheck disable=SC2034

# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"
guest_qemu_blk_init qemu-reconnect
con=$GUEST_RUN/console.log
token_off=$((62 << 20))     # workload.sh TOKEN_OFF
limit=${VUSIM_GUEST_TIMEOUT:-300}

# ---------------------------------------------------------------- helpers

# ctl COMMAND [JSON]: the reply line of one control command, or fail.
ctl()
{
    local out

    out=$("$VUSIM" ctl "$CTL" "$@" 2>&1) ||
        guest_fail "vusim ctl $CTL $*: $out"
    printf '%s\n' "$out" | grep '"return"' | tail -n 1
}

# rc_start N ARGS...: vusim number N on the socket and file, its control
# socket ctlN.sock; waits until both listen.
rc_start()
{
    local n=$1 i

    shift
    rm -f "$sock"
    CTL=$GUEST_RUN/ctl$n.sock
    "$VUSIM" blk "--socket-path=$sock" "--backing=$disk" "--control=$CTL" \
        --log-level=info "$@" >"$GUEST_RUN/vusim$n.log" 2>&1 &
    VUSIM_PID=$!
    VUSIM_NAME=vusim$n
    GUEST_PIDS+=("$VUSIM_PID")
    for ((i = 0; i < 600; i++)); do
        [ -S "$sock" ] && [ -S "$CTL" ] && return 0
        kill -0 "$VUSIM_PID" 2>/dev/null || break
        sleep 0.05
    done
    tail -n 20 "$GUEST_RUN/vusim$n.log"
    guest_fail "vusim $n did not listen on $sock and $CTL"
}

# rc_alive: QEMU still runs and the run is within its time limit.
rc_alive()
{
    if ! kill -0 "$qemu" 2>/dev/null; then
        guest_hung "$con" "QEMU exited early (phase: $1)"
    fi
    [ "$SECONDS" -lt "$deadline" ] ||
        guest_hung "$con" "no progress within $limit s (waiting for: $1)"
}

# rc_console PATTERN: wait for PATTERN on the guest's console.
rc_console()
{
    until tr -d '\r' <"$con" | grep -aq -- "$1"; do
        rc_alive "$1"
        sleep 0.1
    done
}

# rc_paused WHAT: wait until vusim stopped (a breakpoint fired).
rc_paused()
{
    until ctl query-status | grep -q '"status":"paused"'; do
        rc_alive "$1"
        sleep 0.1
    done
}

# rc_steady WHAT MIN: wait until queue 0 holds at least MIN requests and
# the count stayed the same over 1 s (the guest's writers are all blocked
# on them); sets INFLIGHT.
rc_steady()
{
    local last=-1 same=0 n

    while :; do
        rc_alive "$1"
        n=$(ctl query-queues | jq '.return[0]["inflight-count"]')
        if [ "$n" -ge "$2" ] && [ "$n" = "$last" ]; then
            same=$((same + 1))
            [ "$same" -lt 5 ] || break
        else
            same=0
        fi
        last=$n
        sleep 0.2
    done
    INFLIGHT=$n
}

# rc_kill POINT: note queue 0's state, then SIGKILL vusim.
rc_kill()
{
    local q

    q=$(ctl query-queues)
    INFLIGHT=$(jq '.return[0]["inflight-count"]' <<<"$q")
    printf '%s\n' "$q" >"$GUEST_RUN/queues-$1.json"
    kill -KILL "$VUSIM_PID"
    wait "$VUSIM_PID" 2>/dev/null
    guest_say "killed vusim at ($1): $(jq -c '.return[0] |
        {last_avail: .["last-avail"], used_idx: .["used-idx"],
         inflight: .["inflight-count"], types: [.inflight[].type]}' <<<"$q")"
    KILLED[$1]=$INFLIGHT
}

# rc_go P: the guest waits for phase P; let it go.
rc_go()
{
    rc_console "VUSIM-PHASE: wait=$1"
    printf 'VUSIM-GO %s' "$1" |
        dd of="$disk" bs=512 seek=$((token_off / 512)) conv=notrunc,sync \
            2>/dev/null || guest_fail "cannot write the go token for $1"
}

# rc_resubmitted N: how many requests vusim N said it resubmitted; 0 when
# it said nothing.
rc_resubmitted()
{
    local r

    r=$(sed -n 's/.*queue 0: resubmitting \([0-9]*\) request.*/\1/p' \
        "$GUEST_RUN/vusim$1.log" | head -n 1)
    echo "${r:-0}"
}

# rc_served N WHAT: vusim N took over (QEMU reconnected and started the
# ring: GET_INFLIGHT_FD is not sent again, the region is handed back).
rc_served()
{
    until [ "$(ctl query-queues | jq '.return[0].started')" = true ]; do
        rc_alive "$2"
        sleep 0.1
    done
}

# ---------------------------------------------------------------- the run

declare -A KILLED
start=$SECONDS
deadline=$((SECONDS + limit))

# (a) vusim 1 stops on the device's first request.
rc_start 1
ctl break-add '{"type":"request","rule":""}' >/dev/null
GUEST_QEMU_CHAROPTS=,reconnect=1
guest_qemu_cmd "$accel" "$sock" vusim_mode=reconnect "vusim_size=$size"
setsid "${GUEST_CMD[@]}" </dev/null >"$con" 2>&1 &
qemu=$!
GUEST_GROUPS+=("$qemu")
rc_paused "the first request (a)"
rc_kill a

# (b) vusim 2 runs in real time and delays phase b's writes by 120 s.
rc_start 2 --clock=realtime
rc_served 2 "QEMU's reconnect after (a)"
ctl fault-add '{"rule":"on=write,sector=16384-24575,do=delay,delay=120s"}' \
    >/dev/null
rc_go b
rc_steady "phase b's writes on the calendar" 4
rc_kill b

# (c) vusim 3: the first write of phase c completes, its call is held.
rc_start 3
rc_served 3 "QEMU's reconnect after (b)"
ctl break-add '{"type":"request","rule":"on=write,sector=32768-32831"}' \
    >/dev/null
rc_go c
rc_paused "phase c's first write"
before=$(ctl query-queues | jq '.return[0]["used-idx"]')
ctl break-add '{"type":"notify","queue":0,"hold":true}' >/dev/null
ctl cont >/dev/null
rc_paused "phase c's held call"
after=$(ctl query-queues | jq '.return[0]["used-idx"]')
[ "$after" = $(((before + 1) % 65536)) ] ||
    guest_fail "(c): used index $before -> $after, expected one completion"
guest_ok "(c): the write's completion is in the used ring (used index" \
    "$before -> $after), its call held"
rc_kill c

# (d) vusim 4 stops on phase d's FLUSH.
rc_start 4
rc_served 4 "QEMU's reconnect after (c)"
ctl break-add '{"type":"request","rule":"on=flush"}' >/dev/null
rc_go d
rc_paused "phase d's flush"
rc_kill d
jq -e '.return[0].inflight | map(.type) | index("flush")' \
    "$GUEST_RUN/queues-d.json" >/dev/null ||
    guest_fail "(d): no flush among the requests in flight"

# (e) vusim 5 stops on the 64th of phase e's writes.
rc_start 5
rc_served 5 "QEMU's reconnect after (d)"
ctl break-add '{"type":"request","rule":"on=write,sector=49152-81919,nth=64"}' \
    >/dev/null
rc_go e
rc_paused "phase e's 64th write"
rc_steady "phase e's writers blocked" 2
rc_kill e

# vusim 6 serves to the end.
stats=$GUEST_RUN/stats.json
rc_start 6 "--stats=$stats"
VUSIM_STATS=$stats
while kill -0 "$qemu" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] ||
        guest_hung "$con" "the guest did not finish within $limit s"
    sleep 0.1
done
wait "$qemu" 2>/dev/null
guest_say "guest ran for $((SECONDS - start)) s under $accel, vusim killed" \
    "5 times"
guest_vusim_stop "$VUSIM_PID" vusim6

# ---------------------------------------------------------------- checks

n=2
for p in a b c d e; do
    r=$(rc_resubmitted "$n")
    guest_say "kill $p: in-flight=${KILLED[$p]} resubmitted=$r"
    [ "$r" = "${KILLED[$p]}" ] ||
        guest_fail "($p): vusim $n resubmitted $r requests, ${KILLED[$p]}" \
            "were in flight at the kill"
    case "$p" in
    c) [ "$r" = 0 ] ;;
    b | e) [ "$r" -ge 2 ] ;;
    *) [ "$r" -ge 1 ] ;;
    esac || guest_fail "($p): $r requests in flight is not what the point" \
        "is for"
    guest_ok "($p): the $r request(s) in flight were resubmitted"
    n=$((n + 1))
done
grep -q "queue 0 restarts on an in-flight region: one call" \
    "$GUEST_RUN/vusim4.log" ||
    guest_fail "(c): vusim 4 did not signal the restarted ring"
guest_ok "(c): the new vusim signalled the restarted ring once"
if tr -d '\r' <"$con" | grep -aE "I/O error|blk_update_request|Buffer I/O"; then
    guest_fail "the guest's console shows an I/O error"
fi
guest_ok "the guest's console shows no I/O error"
guest_check_result "$con" blk=ok
guest_check_backing "$con" "$disk"
guest_check_stats "$stats" eventfd
guest_pass
