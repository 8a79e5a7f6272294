#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/tt/tt-faults.sh - fault rules and the control socket against a
# real guest kernel: a time-travel UML (in-band kicks and calls) whose root
# is the host's own `/`, so the programs that meet the faults are the
# host's dd and sync and the guest kernel's virtio-blk driver. vusim is the
# guest's clock (time-travel=ext), its disk (a 16 MiB RAM disk) and its
# control socket. Five demonstrations, one guest each
# (tests/tt/init-faults.sh):
#   eio     --fault=on=write,nth=3,do=error,status=ioerr: dd's third
#           O_DIRECT write of 4 KiB fails with EIO (dd says "Input/output
#           error" after 2 blocks) and the kernel logs an I/O error for
#           sector 16, the third write's sector;
#   fsync   --fault=on=flush,nth=1,do=hang and a breakpoint on the first
#           FLUSH: the run stops there; run-until 5 ms later stops at
#           exactly that simulated time with the flush still held;
#           complete and cont release it. The trace has the flush held
#           exactly 5 ms, and the guest's fsync (faultprobe,
#           CLOCK_MONOTONIC) took 5 ms more than its second, undisturbed
#           fsync, to the 256 ns resolution of UML's time-travel clock;
#   torn    --fault=on=write,nth=1,do=torn,sectors=3: an 8-sector write
#           succeeds and the guest reads back exactly 3 new sectors and 5
#           old ones;
#   resize  --fault=on=write,nth=1,do=resize,size=32M: the guest's
#           /sys/block/vda/size goes from 32768 to 65536 sectors and the
#           kernel logs the capacity change;
#   break   a breakpoint on the first FLUSH of dd conv=fsync: the run
#           stops, simulated time stands still, query-queues shows the
#           flush in flight; cont resumes and dd and sync complete.
# Each trace then replays with no --fault and no divergence (fsync's with
# the release through the control socket as a CONTROL record).
#
# Skips (77) when vusim has no --time-travel, when there is no time-travel
# UML (tests/tt/lib.sh) or no static busybox; VUSIM_TT_REQUIRED makes
# that a failure. Each guest is bounded by VUSIM_GUEST_TIMEOUT (default
# 240 s), each wait for a stop by 120 s of wall time.
set -uo pipefail

# shellcheck source=tests/tt/lib.sh
. "$(dirname "$0")/lib.sh"
guest_init tt-faults
guest_require busybox
guest_require_vusim
tt_require_controller
tt_require_uml

TIMEOUT=${VUSIM_GUEST_TIMEOUT:-240}
TTSOCK=$GUEST_RUN/tt.sock
BLKSOCK=$GUEST_RUN/blk.sock
CTL=$GUEST_RUN/ctl.sock
PROBE=$GUEST_RUN/faultprobe
TT_HOST_INIT=$TT_LIB_DIR/init-faults.sh
TT_STARTED=()

${CC:-cc} -static -O2 -std=gnu11 -Wall -Wextra -o "$PROBE" \
    "$TT_LIB_DIR/faultprobe.c" ||
    guest_fail "cannot compile faultprobe.c statically (libc6-dev?)"

ctl()
{
    "$VUSIM" ctl "$CTL" "$@"
}

# start NAME VUSIM-ARGS...: vusim with the guest's clock, disk and control
# socket, then the guest (tt_demo=NAME) in the background. An optional
# breakpoint ($BREAK, JSON) is set before the guest connects.
start()
{
    local name=$1 dir=$GUEST_RUN/$1

    shift
    mkdir -p "$dir"
    tt_vusim "vusim-$name" "$TTSOCK" "$BLKSOCK" "$CTL" -- blk \
        "--time-travel=$TTSOCK" "--socket-path=$BLKSOCK" "--control=$CTL" \
        --size=16M "--trace=$dir/trace" "--stats=$dir/stats.json" "$@"
    if [ -n "${BREAK:-}" ]; then
        ctl break-add "$BREAK" >"$dir/break-add" 2>&1 &&
            grep -q '"return":{"id":1}' "$dir/break-add" ||
            guest_fail "$name: break-add $BREAK: $(cat "$dir/break-add")"
    fi
    tt_host_cmd 0 "$TTSOCK" "$name" "virtio_uml.device=$BLKSOCK:2" \
        "tt_demo=$name" "tt_probe=$PROBE"
    tt_start "$dir/console.log" "${TT_CMD[@]}"
}

# finish NAME: wait for the guest, stop vusim, cut the section out of the
# console into NAME/section.
finish()
{
    local name=$1 dir=$GUEST_RUN/$1

    if ! tt_wait_all "$TIMEOUT"; then
        tail -n 20 "$GUEST_RUN/vusim-$name.log"
        tt_fail_run "$dir/console.log" \
            "$name: the guest did not finish within $TIMEOUT s"
    fi
    guest_vusim_stop "$VUSIM_PID" "vusim-$name"
    tt_section "$dir/console.log" >"$dir/section" ||
        tt_fail_run "$dir/console.log" "$name: no TT-START .. TT-END"
    grep -qx 'FAULTS-STATUS: rc=0' "$dir/section" ||
        tt_fail_run "$dir/console.log" "$name: the guest's workload failed"
}

# has NAME TEXT WHAT: the section of NAME has a line with TEXT (fixed).
has()
{
    grep -qF -- "$2" "$GUEST_RUN/$1/section" || {
        cat "$GUEST_RUN/$1/section" >&2
        guest_fail "$1: no '$2' in the guest's output"
    }
    guest_ok "$1: $3"
}

# wait_stop NAME REASON: poll query-status until paused for REASON; the
# stop's simulated time (ps) in STOP_PS.
wait_stop()
{
    local f=$GUEST_RUN/$1/status i

    for ((i = 0; i < 1200; i++)); do
        ctl query-status >"$f" 2>&1
        if grep -q '"status":"paused"' "$f"; then
            grep -q "\"reason\":\"$2\"" "$f" ||
                guest_fail "$1: stopped, but not for $2: $(cat "$f")"
            STOP_PS=$(sed -n 's/.*"sim-time":{"ps":\([0-9]*\).*/\1/p' "$f")
            [ -n "$STOP_PS" ] || guest_fail "$1: no sim-time in $(cat "$f")"
            return 0
        fi
        kill -0 "$VUSIM_PID" 2>/dev/null || guest_fail "$1: vusim exited"
        sleep 0.1
    done
    guest_fail "$1: no stop ($2) within 120 s: $(cat "$f")"
}

# replays NAME: the trace replays with no --fault and no divergence.
replays()
{
    local dir=$GUEST_RUN/$1

    "$VUSIM" replay "$dir/trace" >"$dir/replay.log" 2>&1 || {
        tail -n 8 "$dir/replay.log" >&2
        guest_fail "$1: vusim replay failed"
    }
    guest_ok "$1: the trace replays with no --fault ($(tail -n 1 \
        "$dir/replay.log" | cut -c1-60)...)"
}

# ---- (a) the third write fails with EIO ----------------------------------
start eio --fault=on=write,nth=3,do=error,status=ioerr
finish eio
has eio "FAULTS-DD: rc=1" "dd failed"
has eio "FAULTS-DD-ERR: dd: error writing '/dev/vda': Input/output error" \
    "dd got EIO"
has eio "FAULTS-DD-ERR: 2+0 records out" "...on its third write"
has eio "I/O error, dev vda, sector 16 op 0x1:(WRITE)" \
    "the guest kernel logged an I/O error for sector 16"
"$VUSIM" trace dump "$GUEST_RUN/eio/trace" | grep ' FAULT ' \
    >"$GUEST_RUN/eio/faults"
[ "$(grep -c 'firing=1 do=error' "$GUEST_RUN/eio/faults")" = 1 ] &&
    [ "$(wc -l <"$GUEST_RUN/eio/faults")" = 1 ] ||
    guest_fail "eio: the trace's FAULT records: $(cat "$GUEST_RUN/eio/faults")"
guest_ok "eio: the trace has one FAULT record"
replays eio

# ---- (b) a hung flush released 5 ms of simulated time later --------------
BREAK='{"type":"request","rule":"on=flush,nth=1"}' \
    start fsync --fault=on=flush,nth=1,do=hang
wait_stop fsync breakpoint
t0=$STOP_PS
guest_ok "fsync: the run stopped at the first FLUSH (${t0} ps)"
ctl run-until "{\"time\":\"$((t0 + 5000000000))ps\"}" \
    >"$GUEST_RUN/fsync/run-until" 2>&1 ||
    guest_fail "fsync: run-until: $(cat "$GUEST_RUN/fsync/run-until")"
wait_stop fsync run-until
[ "$STOP_PS" = "$((t0 + 5000000000))" ] ||
    guest_fail "fsync: run-until stopped at $STOP_PS ps, not $t0 + 5 ms"
guest_ok "fsync: run-until stopped exactly 5 ms later"
ctl query-requests >"$GUEST_RUN/fsync/requests" 2>&1
grep -q '"type":"flush".*"age":{"ps":5000000000' \
    "$GUEST_RUN/fsync/requests" ||
    guest_fail "fsync: query-requests: $(cat "$GUEST_RUN/fsync/requests")"
guest_ok "fsync: the flush is held, 5 ms old"
for cmd in complete cont; do
    ctl "$cmd" >"$GUEST_RUN/fsync/$cmd" 2>&1 &&
        grep -q '"return":{}' "$GUEST_RUN/fsync/$cmd" ||
        guest_fail "fsync: $cmd: $(cat "$GUEST_RUN/fsync/$cmd")"
done
finish fsync
# The device held the flush exactly 5 ms (the trace: its CHAIN and its
# COMPLETE, in ps).
"$VUSIM" trace dump "$GUEST_RUN/fsync/trace" | awk '
    function ps(s,   n, u) {
        n = s; u = s; sub(/[a-z]+$/, "", n); sub(/^[0-9.]+/, "", u)
        if (u == "s") return n * 1e12
        if (u == "ms") return n * 1e9
        if (u == "us") return n * 1e6
        if (u == "ns") return n * 1e3
        return n
    }
    / blk FLUSH/ && $3 == "CHAIN" && !c { c = ps($2) }
    / blk FLUSH/ && $3 == "COMPLETE" && !d { d = ps($2) }
    END { printf "%.0f %.0f\n", c, d }' >"$GUEST_RUN/fsync/held"
read -r c d <"$GUEST_RUN/fsync/held"
[ "$c" = "$t0" ] && [ "$d" = "$((t0 + 5000000000))" ] ||
    guest_fail "fsync: the trace has the first FLUSH from $c to $d ps," \
        "expected $t0 to $((t0 + 5000000000))"
guest_ok "fsync: the trace has the flush held exactly 5 ms"
# The guest's own clock says the same, to its resolution: under time
# travel UML's clocksource counts in 256 ns units and each read costs one
# (TIMER_MULTIPLIER in arch/um), so the held fsync less an undisturbed one
# is 5 ms within 256 ns.
hung=$(sed -n 's/^FAULTS-FSYNC: i=0 rc=0 errno=0 ns=\([0-9]*\)$/\1/p' \
    "$GUEST_RUN/fsync/section")
free=$(sed -n 's/^FAULTS-FSYNC: i=1 rc=0 errno=0 ns=\([0-9]*\)$/\1/p' \
    "$GUEST_RUN/fsync/section")
[ -n "$hung" ] && [ -n "$free" ] ||
    guest_fail "fsync: no FAULTS-FSYNC lines: $(cat "$GUEST_RUN/fsync/section")"
off=$((hung - free - 5000000))
[ "${off#-}" -lt 256 ] ||
    guest_fail "fsync: the held fsync took $hung ns, an undisturbed one" \
        "$free ns: not 5 ms apart"
guest_ok "fsync: the guest's fsync returned 5 ms later by its own clock" \
    "($hung ns against $free ns undisturbed, ${off} ns off, under one tick)"
replays fsync

# ---- (c) a torn write -----------------------------------------------------
start torn --fault=on=write,nth=1,do=torn,sectors=3
finish torn
has torn "FAULTS-TORN: sector=0 wrote=8 new=3 old=5 other=0" \
    "the guest read back exactly 3 new sectors of 8"
replays torn

# ---- (d) resize -------------------------------------------------------------
# 10us per request: User-Mode Linux 6.1 acts on a config change only in an
# interrupt that carries no used-buffer notification (vu_req_interrupt),
# so with no latency the write's completion, at the same simulated
# instant, would hide it (see vusim(1), do=resize).
start resize --fault=on=write,nth=1,do=resize,size=32M --latency=10us
finish resize
has resize "FAULTS-SIZE: before=32768 after=65536" \
    "/sys/block/vda/size went from 32768 to 65536"
has resize "vda: detected capacity change from 32768 to 65536" \
    "the guest kernel logged the capacity change"
replays resize

# ---- (e) a breakpoint on the first FLUSH ---------------------------------
BREAK='{"type":"request","rule":"on=flush,nth=1"}' start break --latency=10us
wait_stop break breakpoint
t0=$STOP_PS
guest_ok "break: the run stopped at the first FLUSH ($t0 ps)"
ctl query-queues >"$GUEST_RUN/break/queues" 2>&1
grep -q '"inflight-count":1,"inflight":\[{"queue":0,"type":"flush"' \
    "$GUEST_RUN/break/queues" ||
    guest_fail "break: query-queues: $(cat "$GUEST_RUN/break/queues")"
guest_ok "break: query-queues shows the flush in flight"
sleep 1
wait_stop break breakpoint
[ "$STOP_PS" = "$t0" ] ||
    guest_fail "break: simulated time moved while stopped ($t0 -> $STOP_PS)"
grep -q FAULTS-DD "$GUEST_RUN/break/console.log" &&
    guest_fail "break: the guest's dd finished while the run was stopped"
guest_ok "break: while stopped, simulated time stands and dd waits"
ctl cont >"$GUEST_RUN/break/cont" 2>&1 ||
    guest_fail "break: cont: $(cat "$GUEST_RUN/break/cont")"
finish break
has break "FAULTS-DD: rc=0" "after cont, dd conv=fsync and sync completed"
has break "FAULTS-DD-ERR: 4+0 records out" "...with all 4 blocks"
replays break
guest_pass
