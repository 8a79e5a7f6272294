#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/timetravel.sh - how fast vusim runs time-travel UML guests
#
# Usage: bench/timetravel.sh [BUILDDIR]        (make bench-timetravel)
#
# Simulation speed = guest seconds / wall seconds, measured between the
# guest's TT-START and TT-END lines (guest time from /proc/uptime printed
# there, wall time from when the host read those lines) for:
#   basic-idle  `sleep 60` in UML's own time-travel mode (no controller,
#               no disk), for comparison: idle time skipped with nobody to
#               ask;
#   idle        `sleep 60` under vusim's controller (vusim blk
#               --time-travel; the disk is attached but unused);
#   io          ttprobe: VUSIM_TT_BENCH_READS (default 1024) O_DIRECT reads
#               of 4 KiB on vusim's virtio disk, 1 ms each in the model.
# The controller's message round trip comes from bench/ttrtt, run as part
# of this bench: a participant's GET/ACK round trip at the real controller
# against a raw 16-byte AF_UNIX ping-pong between two processes whose
# server polls as vusim does (tt-msg-ratio = tt-rtt / raw16-rtt; ttrtt's
# own output also has the blocking baseline and the CPU of both sides). When vusim's --stats JSON has
# "rtt_ns" and "messages" (or "messages_received") under "tt" (or
# "time_travel"), those are printed too: stats-rtt-ns, and controller
# messages per wall second over the whole io run.
#
# The guest set-ups run in VUSIM_TT_BENCH_ROUNDS interleaved rounds
# (default 3; basic-idle, idle, io, io-nofu in each); every speed is the
# median of its rounds, min and max printed beside. The io workload has no
# baseline outside vusim, so its speed is printed in the table but not on
# the last line; what the last line says of it is FREE_UNTIL's gain
# (free-until-speedup = io / io-nofu, both under vusim's controller).
#
# The last line is key=value. A part that cannot run says "skip"; without
# the time-travel UML, busybox or the controller the whole bench prints
# "timetravel=skip" and exits 0 (make bench runs every bench).
set -uo pipefail
export LC_ALL=C  # "." in $EPOCHREALTIME and awk

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/tt/lib.sh
. "$HERE/../tests/tt/lib.sh"
bench_init bench-timetravel "timetravel=skip" "$@"

tt_require_uml_root

READS=${VUSIM_TT_BENCH_READS:-1024}
SLEEP=${VUSIM_TT_BENCH_SLEEP:-60}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-600}
TTRTT=$builddir/bench/ttrtt
TTSOCK=$GUEST_RUN/tt.sock
BLKSOCK=$GUEST_RUN/blk.sock
ROUNDS=${VUSIM_TT_BENCH_ROUNDS:-3}
declare -A SPEED GUEST WALL RUNS

# stamped_run LOG CMD...: run a guest, each console line prefixed with the
# host's wall time (seconds, microsecond resolution) when it was read.
stamped_run()
{
    local log=$1

    shift
    TT_STARTED=()
    RUN_T0=$EPOCHREALTIME
    # shellcheck disable=SC2016 # expanded by the inner bash
    tt_start "$log" bash -c '"$@" </dev/null 2>&1 |
        while IFS= read -r l; do
            printf "%s %s\n" "$EPOCHREALTIME" "${l%$'"'"'\r'"'"'}"
        done' stamp "$@"
    if ! tt_wait_all "$TIMEOUT"; then
        guest_console_tail "$log" 30
        guest_fail "the guest did not finish within $TIMEOUT s"
    fi
    RUN_WALL=$(awk -v a="$RUN_T0" -v b="$EPOCHREALTIME" \
        'BEGIN { printf "%.3f", b - a }')
}

# measure NAME LOG: guest and wall seconds between TT-START and TT-END.
measure()
{
    local name=$1 log=$2 v

    v=$(awk '
        $2 == "TT-START" { ws = $1 }
        $2 == "TT-END" { we = $1 }
        $2 == "TT-UPTIME:" { if (gs == "") gs = $3; else ge = $3 }
        END {
            if (ws == "" || we == "" || ge == "") exit 1
            printf "%.3f %.3f %.2f\n", ge - gs, we - ws,
                (we > ws) ? (ge - gs) / (we - ws) : 0
        }' "$log") || {
        guest_console_tail "$log" 30
        guest_fail "$name: no TT-START, TT-UPTIME or TT-END in the console"
    }
    read -r "GUEST[$name]" "WALL[$name]" "SPEED[$name]" <<<"$v"
    guest_say "$name: ${GUEST[$name]} guest s in ${WALL[$name]} wall s:" \
        "speed ${SPEED[$name]}"
    RUNS[$name]+="${SPEED[$name]}
"
}

# median NAME: "median min max" of NAME's speeds over the rounds.
median()
{
    printf '%s' "${RUNS[$1]:-}" | sort -g |
        awk 'NF { v[++k] = $1 } END { if (k) print v[int((k + 1) / 2)], v[1], v[k]; else print "skip skip skip" }'
}

# stats_tt FILE KEY...: the first KEY present in the controller's part of
# vusim's --stats ("time_travel", or "tt"), or "none".
stats_tt()
{
    local f=$1 k v

    shift
    for k in "$@"; do
        v=$(jq -r "(.time_travel // .tt // {}).$k // \"none\"" "$f" \
            2>/dev/null) || v=none
        if [ -n "$v" ] && [ "$v" != none ]; then
            echo "$v"
            return
        fi
    done
    echo none
}

# controller_run NAME ARGS...: a guest under a fresh vusim blk controller.
controller_run()
{
    local name=$1

    shift
    tt_vusim "vusim-$name" "$TTSOCK" "$BLKSOCK" -- blk \
        "--time-travel=$TTSOCK" "--socket-path=$BLKSOCK" --latency=1ms \
        --size=16M "--stats=$GUEST_RUN/$name.json" ${VUSIM_EXTRA:-}
    tt_uml_cmd 0 "$TTSOCK" "$TT_ROOT" "virtio_uml.device=$BLKSOCK:2" "$@"
    stamped_run "$GUEST_RUN/$name.log" "${TT_CMD[@]}"
    guest_vusim_stop "$VUSIM_PID" "vusim-$name"
    measure "$name" "$GUEST_RUN/$name.log"
}

# ---- the controller's round trip (bench/ttrtt) --------------------------
rtt_line=""
if [ -x "$TTRTT" ]; then
    "$TTRTT" >"$GUEST_RUN/ttrtt.out" 2>&1 ||
        guest_fail "bench/ttrtt failed: $(tail -n 3 "$GUEST_RUN/ttrtt.out")"
    rtt_line=$(tail -n 1 "$GUEST_RUN/ttrtt.out")
    guest_say "ttrtt: $rtt_line"
else
    guest_say "no $TTRTT (make bench/ttrtt): round trip skipped"
fi

# ---- guests --------------------------------------------------------------
for ((round = 1; round <= ROUNDS; round++)); do
    tt_uml_cmd 0 unused "$TT_ROOT" tt_mode=idle "tt_sleep=$SLEEP"
    TT_CMD[1]=time-travel
    stamped_run "$GUEST_RUN/basic-idle.log" "${TT_CMD[@]}"
    measure basic-idle "$GUEST_RUN/basic-idle.log"

    controller_run idle tt_mode=idle "tt_sleep=$SLEEP"
    controller_run io tt_mode=probe tt_disk=vda "tt_reads=$READS"
    IO_RUN_WALL=$RUN_WALL
    grep -q 'TT-STATUS: rc=0' "$GUEST_RUN/io.log" ||
        guest_fail "io: ttprobe failed: $(grep 'ttprobe: error' \
            "$GUEST_RUN/io.log")"
    # The same I/O run without FREE_UNTIL: every advance of guest time asks.
    VUSIM_EXTRA=--free-until=off controller_run io-nofu tt_mode=probe \
        tt_disk=vda "tt_reads=$READS"
done

stats_rtt=none
msgs_per_s=none
if command -v jq >/dev/null; then
    stats_rtt=$(stats_tt "$GUEST_RUN/io.json" rtt_ns)
    msgs=$(stats_tt "$GUEST_RUN/io.json" messages_received messages)
    if [ "$msgs" != none ]; then
        msgs_per_s=$(awk -v m="$msgs" -v w="$IO_RUN_WALL" \
            'BEGIN { printf "%.0f", (w > 0) ? m / w : 0 }')
        guest_say "io: $msgs controller messages in the whole run" \
            "($IO_RUN_WALL wall s, boot and power-off included)"
    fi
fi

fu_saved=none
if command -v jq >/dev/null; then
    m_on=$(stats_tt "$GUEST_RUN/io.json" messages_received)
    m_off=$(stats_tt "$GUEST_RUN/io-nofu.json" messages_received)
    if [ "$m_on" != none ] && [ "$m_off" != none ]; then
        fu_saved=$((m_off - m_on))
        guest_say "io: $m_on controller messages with FREE_UNTIL, $m_off" \
            "without: $fu_saved saved"
    fi
fi

printf '%-11s %12s %10s %8s %8s %8s   (last round; speed: median min max' \
    setup guest-s wall-s speed min max
echo " of $ROUNDS rounds)"
for n in basic-idle idle io io-nofu; do
    read -r m lo hi <<<"$(median "$n")"
    SPEED[$n]=$m
    printf '%-11s %12s %10s %8s %8s %8s\n' "$n" "${GUEST[$n]}" \
        "${WALL[$n]}" "$m" "$lo" "$hi"
done
echo "io and io-nofu have no baseline outside vusim: their speeds are not" \
    "on the last line"
fu_speedup=$(awk -v a="${SPEED[io]}" -v b="${SPEED[io-nofu]}" \
    'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
# field KEY: KEY's value in ttrtt's last line, or "skip".
field()
{
    local w

    for w in $rtt_line; do
        case "$w" in
        "$1="*) echo "${w#*=}"; return ;;
        esac
    done
    echo skip
}
echo "idle-speed=${SPEED[idle]} basic-idle-speed=${SPEED[basic-idle]}" \
    "tt-msg-ratio=$(field tt-msg-ratio) tt-rtt-ns=$(field tt-rtt-ns)" \
    "raw16-rtt-ns=$(field raw16-rtt-ns) stats-rtt-ns=$stats_rtt" \
    "io-msgs-per-wall-s=$msgs_per_s free-until-speedup=$fu_speedup" \
    "free-until-saved-msgs=$fu_saved" \
    "tt-msg-ratio-blocking=$(field tt-msg-ratio-blocking)" \
    "tt-cpu-ratio=$(field tt-cpu-ratio)"
