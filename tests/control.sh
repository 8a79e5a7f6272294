#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/control.sh - the control socket over real sockets: a served blk
# device with --control, driven by the reference front-end (vusim demo
# --connect) while `vusim ctl` stops, steps, breaks, adds rules, releases a
# hung request; and bad input (malformed JSON, unknown commands, wrong
# types, commands before qmp_capabilities, a client gone mid-command) that
# gets a QMP error or a close while the simulation goes on.
#
# Run by `make check` from the top build directory. Prints one line per
# check and `control: N passed, N failed`; exits 1 on any failure.

VUSIM=${VUSIM:-./vusim}
# shellcheck source=tests/check-lib.sh
. "${srcdir:-.}/tests/check-lib.sh"
check_init control
check_built "$VUSIM"

sock=$tmp/blk.sock
ctl=$tmp/ctl.sock

# expect DESC STATUS COMMAND...: exit status; output in $tmp/out.
expect()
{
    local desc=$1 want=$2 rc=0
    shift 2
    "$@" >"$tmp/out" 2>&1 || rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$desc"
    else
        not_ok "$desc" "exit $rc, wanted $want: $(tail -n 3 "$tmp/out" |
            tr '\n' ' ')"
    fi
}

# has DESC PATTERN: the last output matches the extended regex.
has()
{
    if grep -Eq -- "$2" "$tmp/out"; then
        ok "$1"
    else
        not_ok "$1" "no '$2' in: $(head -c 400 "$tmp/out" | tr '\n' ' ')"
    fi
}

c() { "$VUSIM" ctl "$ctl" "$@"; }

# wait_status STATUS: poll query-status (30 s at most, a loaded machine).
wait_status()
{
    for _ in $(seq 300); do
        c query-status >"$tmp/st" 2>&1
        grep -q "\"status\":\"$1\"" "$tmp/st" && return 0
        sleep 0.1
    done
    return 1
}

start()
{
    rm -f "$sock" "$ctl"
    "$VUSIM" blk --socket-path="$sock" --control="$ctl" --size=16M \
        --latency=10us "$@" 2>"$tmp/vusim.err" &
    vpid=$!
    pids+=("$vpid")
    for _ in $(seq 200); do
        [ -S "$sock" ] && [ -S "$ctl" ] && return 0
        sleep 0.05
    done
    not_ok "vusim started" "no sockets"
}

demo()
{
    "$VUSIM" demo --connect="$sock" --requests="$1" >"$tmp/demo.out" 2>&1 &
    dpid=$!
    pids+=("$dpid")
}

demo_done()
{
    local rc=0
    wait "$dpid" || rc=$?
    if [ "$rc" -eq 0 ] && grep -q "all match" "$tmp/demo.out"; then
        ok "$1"
    else
        not_ok "$1" "demo exit $rc: $(tail -n 2 "$tmp/demo.out" | tr '\n' ' ')"
    fi
}

# ---- session, stop, step, cont -------------------------------------------

start
if [ "$(stat -c %a "$ctl")" = 600 ]; then
    ok "the control socket is mode 0600"
else
    not_ok "the control socket is mode 0600" "$(stat -c %a "$ctl")"
fi
expect "query-status" 0 c query-status
has "...running at simulated time 0" '"status":"running","sim-time":\{"ps":0'
expect "stop" 0 c stop
has "...a STOP event with its reason" '"event":"STOP","data":\{"reason":"user"'
demo 300
sleep 1
expect "while stopped, the front-end's kicks are still served" 0 \
    c query-queues
has "...and queue their work" '"inflight-count":[1-9]'
has "...with type, sectors and age" '"type":"(read|write|flush)".*"age"'
expect "query-status while stopped" 0 c query-status
has "...paused, time has not moved" '"status":"paused","sim-time":\{"ps":0,'
expect "step 3 events" 0 c step '{"events":3}'
if wait_status paused && grep -q '"reason":"step"' "$tmp/st" &&
    grep -q '"ps":30000000,' "$tmp/st"; then
    ok "...stops after them, at 30us"
else
    not_ok "...stops after them" "$(cat "$tmp/st")"
fi
expect "step a duration" 0 c step '{"duration":"1ms"}'
if wait_status paused && grep -q '"ps":1030000000,' "$tmp/st"; then
    ok "...stops at now + 1ms exactly"
else
    not_ok "...stops at now + 1ms" "$(cat "$tmp/st")"
fi
expect "run-until" 0 c run-until '{"time":"2ms"}'
if wait_status paused && grep -q '"reason":"run-until"' "$tmp/st" &&
    grep -q '"ps":2000000000,' "$tmp/st"; then
    ok "...stops at 2ms"
else
    not_ok "...stops at 2ms" "$(cat "$tmp/st")"
fi
expect "cont" 0 c cont
has "...a RESUME event" '"event":"RESUME"'
demo_done "the workload completes, every byte verified"

# ---- breakpoints and rules at run time --------------------------------------
# The demo checks what it reads against a disk that starts zeroed: a fresh
# device for each workload.

restart()
{
    kill -TERM "$vpid"
    wait "$vpid" 2>/dev/null
    start "$@"
}

restart --trace="$tmp/rules.trace"

expect "break-add on the first flush" 0 c break-add \
    '{"type":"request","rule":"on=flush,nth=1"}'
has "...returns an id" '"return":\{"id":1\}'
expect "a bad breakpoint rule is refused" 1 c break-add \
    '{"type":"request","rule":"on=flosh"}'
has "...naming the value" 'on=flosh: expected read, write'
expect "fault-add" 0 c fault-add '{"rule":"on=read,nth=2,do=delay,delay=1ms"}'
has "...returns the rule's id" '"return":\{"id":1\}'
expect "query-breaks" 0 c query-breaks
has "...lists it" '"type":"request","armed":true.*"rule":"on=flush,nth=1,do=stop"'
demo 300
if wait_status paused && grep -q '"breakpoint":1' "$tmp/st"; then
    ok "the first FLUSH stops the run at the breakpoint"
else
    not_ok "the first FLUSH stops the run" "$(cat "$tmp/st")"
fi
expect "query-queues shows the flush" 0 c query-queues
has "...in flight" '"type":"flush"'
# The demo's front-end gives up after 5 s of wall time without a
# completion: few commands while it is stopped.
expect "cont after the breakpoint" 0 c cont
demo_done "...and the workload completes"
expect "query-faults" 0 c query-faults
has "...counts the rule's firing" '"rule":"on=read,nth=2,do=delay,delay=1ms","matched":[0-9]+,"fired":1'
expect "break-del" 0 c break-del '{"id":1}'
expect "break-del again" 1 c break-del '{"id":1}'
expect "set-timing" 0 c set-timing '{"latency":"20us"}'
expect "fault-del" 0 c fault-del '{"id":1}'

# ---- a hung flush, released -----------------------------------------------------

restart --trace="$tmp/hang.trace"

expect "fault-add a hang on the next flush" 0 c fault-add \
    '{"rule":"on=flush,times=once,do=hang"}'
demo 50
sleep 1
expect "complete with nothing hung yet, or the flush" 0 c query-requests
for _ in $(seq 100); do
    c complete '{"status":"ok"}' >"$tmp/out" 2>&1 && break
    sleep 0.1
done
has "complete releases the hung flush" '"return":\{\}'
demo_done "...and the workload completes"
expect "complete with nothing hung" 1 c complete
has "...is an error" '"class":"GenericError","desc":"no hung request 0"'

# ---- changes at run time replay ----------------------------------------------
# Each fault-add, fault-del, set-timing, complete and reset-device is a
# CONTROL record; replay makes it again at its simulated time, with no
# --fault and no control socket.

expect "reset-device with nothing in flight" 0 c reset-device
restart
for t in rules hang; do
    expect "the $t run replays with no divergence" 0 \
        "$VUSIM" replay "$tmp/$t.trace"
    has "...checking its rule firings" 'no divergence: .* [1-9][0-9]* rule firings'
done
expect "trace dump shows the changes" 0 "$VUSIM" trace dump "$tmp/rules.trace"
has "...fault-add with the rule's id" \
    "CONTROL +fault-add id=1 rule='on=read,nth=2,do=delay,delay=1ms'"
has "...set-timing as a rule" "CONTROL +fault-add id=2 rule='do=timing,latency=20us,times=once'"
has "...fault-del" "CONTROL +fault-del id=1"
expect "trace dump of the hung run" 0 "$VUSIM" trace dump "$tmp/hang.trace"
has "...shows the release" "CONTROL +complete n=0 status=0"
has "...and the reset" "CONTROL +reset-device"

# ---- bad input ------------------------------------------------------------------

raw()
{
    printf '%s\n' "$@" | "$VUSIM" ctl "$ctl" --raw >"$tmp/out" 2>&1
}
raw '{"execute":"query-status"}'
has "a command before qmp_capabilities" \
    '"class":"CommandNotFound","desc":"Expecting capabilities negotiation'
raw '{"execute":"qmp_capabilities"}' '{"execute": "query-status"' \
    '[1,2]' '{"execute":"warp-drive","id":7}' \
    '{"execute":"step","arguments":{"events":"many"}}' \
    '{"execute":"step","arguments":{"colour":1}}' \
    '{"execute":"stop","arguments":[]}' '{"execute":"qmp_capabilities"}'
has "malformed JSON" '"desc":"JSON parse error'
has "not an object" "Expected an object with 'execute'"
has "an unknown command, its id kept" '"class":"CommandNotFound","desc":"The command warp-drive has not been found"\},"id":7'
has "a wrong argument type" "Invalid parameter type for 'events', expected: integer"
has "an unknown argument" "Parameter 'colour' is unexpected"
has "arguments not an object" "'arguments' must be an object"
has "qmp_capabilities twice" "already complete"
head -c 70000 /dev/zero | tr '\0' 'x' >"$tmp/long"
"$VUSIM" ctl "$ctl" --raw <"$tmp/long" >"$tmp/out" 2>&1
has "a line past 64 KiB is refused, then closed" "line longer than 64 KiB"
# A client that sends half a command and goes away.
printf '{"execute":"qmp_capabilities"}\n{"execute":"sto' |
    "$VUSIM" ctl "$ctl" --raw >/dev/null 2>&1
expect "the simulation goes on after all that" 0 c query-status
has "...running" '"status":"running"'
demo 100
demo_done "...and serves a workload"

kill -TERM "$vpid"
wait "$vpid" 2>/dev/null
if [ ! -e "$ctl" ]; then
    ok "the control socket is removed at exit"
else
    not_ok "the control socket is removed at exit" "still there"
fi

echo "control: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
