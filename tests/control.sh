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
CHECK_MERGE=1          # expect: stderr into $tmp/out too
check_built "$VUSIM"

sock=$tmp/blk.sock
ctl=$tmp/ctl.sock

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

# stopped DESC STRING...: the run pauses (wait_status) and its status holds
# every fixed STRING.
stopped()
{
    local desc=$1 s
    shift
    if ! wait_status paused; then
        not_ok "$desc" "not paused: $(cat "$tmp/st")"
        return
    fi
    for s in "$@"; do
        if ! grep -qF -- "$s" "$tmp/st"; then
            not_ok "$desc" "no '$s' in: $(cat "$tmp/st")"
            return
        fi
    done
    ok "$desc"
}

# sockets PATH...: each is a socket within 10 s; else a failure.
sockets()
{
    local p missing
    for _ in $(seq 200); do
        missing=
        for p in "$@"; do
            [ -S "$p" ] || missing=$p
        done
        [ -z "$missing" ] && return 0
        sleep 0.05
    done
    not_ok "vusim started" "no socket $missing"
}

start()
{
    rm -f "$sock" "$ctl"
    "$VUSIM" blk --socket-path="$sock" --control="$ctl" --size=16M \
        --latency=10us "$@" 2>"$tmp/vusim.err" &
    vpid=$!
    pids+=("$vpid")
    sockets "$sock" "$ctl"
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
stopped "...stops after them, at 30us" '"reason":"step"' '"ps":30000000,'
expect "step a duration" 0 c step '{"duration":"1ms"}'
stopped "...stops at now + 1ms exactly" '"ps":1030000000,'
expect "run-until" 0 c run-until '{"time":"2ms"}'
stopped "...stops at 2ms" '"reason":"run-until"' '"ps":2000000000,'
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
stopped "the first FLUSH stops the run at the breakpoint" '"breakpoint":1'
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

# ---- a notify breakpoint that holds the call ------------------------------
# The stop between a completion reaching the used ring and the front-end
# hearing of it (tests/guest/qemu-reconnect.sh kills vusim there).

restart --log-level=info
expect "hold on a request breakpoint is refused" 1 c break-add \
    '{"type":"request","rule":"on=read","hold":true}'
has "...naming it" "'hold': only a notify breakpoint holds"
expect "hold must be a boolean" 1 c break-add \
    '{"type":"notify","hold":1}'
has "...says so" "Invalid parameter type for 'hold', expected: boolean"
expect "break-add notify with hold" 0 c break-add \
    '{"type":"notify","queue":0,"hold":true}'
hid=$(sed -n 's/.*"return":{"id":\([0-9]*\)}.*/\1/p' "$tmp/out")
expect "query-breaks" 0 c query-breaks
has "...shows the hold" '"type":"notify".*"queue":0,"hold":true'
demo 50
stopped "the first call stops the run" "\"breakpoint\":$hid"
expect "query-queues" 0 c query-queues
has "...the completion is in the used ring" '"used-idx":[1-9]'
if grep -q "held call(s) sent" "$tmp/vusim.err"; then
    not_ok "the call is held while stopped" "$(cat "$tmp/vusim.err")"
else
    ok "the call is held while stopped"
fi
expect "break-del" 0 c break-del "{\"id\":$hid}"
expect "cont" 0 c cont
demo_done "...cont sends it and the workload completes"
if grep -q "1 held call(s) sent" "$tmp/vusim.err"; then
    ok "...vusim says it sent the held call"
else
    not_ok "...vusim says it sent the held call" "$(cat "$tmp/vusim.err")"
fi

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

# ---- control commands at the same simulated times: the same trace ----------
# A time breakpoint stops the run at exactly 400us; the rules added there
# are applied at that simulated time whatever the wall clock did, so two
# runs give the same bytes. The same commands at 600us give another trace.

det_run()
{
    start --trace="$tmp/det$1.trace"
    c break-add "{\"type\":\"time\",\"time\":\"$2\"}" >/dev/null 2>&1
    demo 200
    # One connection for the three: the demo gives up after 5 s of wall
    # time without a completion (ASan, a loaded machine).
    if wait_status paused && grep -q '"reason":"breakpoint"' "$tmp/st"; then
        printf '%s\n' '{"execute":"qmp_capabilities"}' \
            '{"execute":"fault-add","arguments":{"rule":"on=write,every=3,do=delay,delay=50us"}}' \
            '{"execute":"set-timing","arguments":{"latency":"15us"}}' \
            '{"execute":"cont"}' | "$VUSIM" ctl "$ctl" --raw >/dev/null 2>&1
    fi
    demo_done "...run $1: the workload completes"
    kill -TERM "$vpid"
    wait "$vpid" 2>/dev/null
}
det_run 1 400us
det_run 2 400us
det_run 3 600us
if cmp -s "$tmp/det1.trace" "$tmp/det2.trace"; then
    ok "commands at the same simulated time: the same trace, byte for byte"
else
    not_ok "commands at the same simulated time: the same trace" \
        "$(cmp "$tmp/det1.trace" "$tmp/det2.trace" 2>&1)"
fi
if ! cmp -s "$tmp/det1.trace" "$tmp/det3.trace"; then
    ok "...and at another simulated time, another trace"
else
    not_ok "...and at another simulated time, another trace" "identical"
fi
expect "...which replays with no divergence" 0 \
    "$VUSIM" replay "$tmp/det1.trace"
expect "trace diff of the two" 1 \
    "$VUSIM" trace diff "$tmp/det1.trace" "$tmp/det3.trace"
has "...shows where the control changes differ" "CONTROL|FAULT"

# ---- vusim multi: rules per device, one control socket naming devices ------

sa=$tmp/a.sock
sb=$tmp/b.sock
printf '# device 1\non=read,nth=2,do=delay,delay=1ms\n' >"$tmp/b.rules"
rm -f "$ctl"
"$VUSIM" multi --control="$ctl" \
    --device "blk,socket-path=$sa,size=16M,latency=10us,trace=$tmp/ma.trace,fault=on=write,,nth=3,,do=delay,,delay=2ms" \
    --device "blk,socket-path=$sb,size=16M,latency=10us,trace=$tmp/mb.trace,scenario=$tmp/b.rules" \
    2>"$tmp/multi.err" &
mpid=$!
pids+=("$mpid")
sockets "$sa" "$sb" "$ctl"
# A client that stays for the whole run, to see its events.
rm -f "$tmp/listen.stop"
{
    printf '{"execute":"qmp_capabilities"}\n'
    for _ in $(seq 1200); do
        [ -e "$tmp/listen.stop" ] && break
        sleep 0.1
    done
} | "$VUSIM" ctl "$ctl" --raw >"$tmp/events" 2>&1 &
lpid=$!
pids+=("$lpid")
expect "multi: query-status lists the devices" 0 c query-status
has "...both" '"devices":\[\{"device":0,"type":"blk","connected":false\},\{"device":1,"type":"blk"'
expect "multi: a device command without 'device'" 1 c query-faults
has "...is refused, naming the choice" "'device': missing; this run has 2 devices, 0 to 1"
expect "multi: a device beyond the run" 1 c fault-add \
    '{"device":2,"rule":"do=hang"}'
has "...is refused" "'device': no device 2"
expect "multi: device 0's rules" 0 c query-faults '{"device":0}'
has "...from fault= with doubled commas" '"rule":"on=write,nth=3,do=delay,delay=2ms"'
expect "multi: device 1's rules" 0 c query-faults '{"device":1}'
has "...from its scenario= alone" '^\{"return":\{"state":"start","fired":0,"rules":\[\{"id":1,"rule":"on=read,nth=2,do=delay,delay=1ms",[^]]*\]\}'
expect "multi: fault-add on device 1" 0 c fault-add \
    '{"device":1,"rule":"on=write,nth=1,do=delay,delay=3ms"}'
has "...gets device 1's next id" '"return":\{"id":2\}'
expect "multi: a request breakpoint on device 1" 0 c break-add \
    '{"type":"request","device":1,"rule":"on=flush,nth=1"}'
expect "multi: a request breakpoint needs its device" 1 c break-add \
    '{"type":"request","rule":"on=flush"}'
expect "a notification breakpoint on any device" 0 c break-add \
    '{"type":"notify"}'
has "...id 2" '"return":\{"id":2\}'
sock=$sa
demo 200
stopped "...stops at device 0's first call, naming the device" \
    '"breakpoint":2,"device":0'
c break-del '{"id":2}' >/dev/null 2>&1
expect "a completion breakpoint on device 0" 0 c break-add \
    '{"type":"complete","device":0,"queue":0}'
c cont >/dev/null 2>&1
stopped "...stops at its next completion" '"breakpoint":3,"device":0'
c break-del '{"id":3}' >/dev/null 2>&1
expect "step to device 0's next request on queue 0" 0 c step \
    '{"queue":0,"device":0}'
stopped "...stops there" '"reason":"step","device":0'
c cont >/dev/null 2>&1
demo_done "device 0's workload runs past device 1's request breakpoint"
sock=$sb
demo 200
stopped "device 1's first flush stops the run, naming the device" \
    '"breakpoint":1,"device":1'
expect "query-queues of device 1" 0 c query-queues '{"device":1}'
has "...shows the flush" '"type":"flush"'
expect "cont" 0 c cont
demo_done "...and device 1's workload completes"
expect "device 0's rule fired on its own writes" 0 c query-faults \
    '{"device":0}'
has "...once" '"fired":1,'
expect "device 1's rules fired on its requests" 0 c query-faults \
    '{"device":1}'
has "...both" '"fired":2,'
kill -TERM "$mpid"
wait "$mpid" 2>/dev/null
touch "$tmp/listen.stop"
wait "$lpid" 2>/dev/null
cp "$tmp/events" "$tmp/out"
ts='"timestamp":\{"seconds":[0-9]+,"microseconds":[0-9]+\},"sim-time":[0-9]+'
has "events: FRONTEND_CONNECTED with the device and both clocks" \
    "\"event\":\"FRONTEND_CONNECTED\",\"data\":\\{\"device\":1\\},$ts"
has "events: FAULT, the rule and its firing" \
    '"event":"FAULT","data":\{"device":1,"rule":1,"text":"on=read,nth=2,do=delay,delay=1ms","action":"delay","firing":1,"state":"start","queue":0\}'
has "events: STOP at a breakpoint, naming the device" \
    '"event":"STOP","data":\{"reason":"breakpoint","sim-time":\{[^}]*\},"breakpoint":1,"device":1\}'
has "events: RESUME" '"event":"RESUME"'
has "events: FRONTEND_DISCONNECTED" \
    '"event":"FRONTEND_DISCONNECTED","data":\{"device":0\}'
for t in ma mb; do
    expect "multi: $t's trace replays alone" 0 "$VUSIM" replay "$tmp/$t.trace"
    has "...with its firings" 'no divergence: .* [1-9][0-9]* rule firings'
done
expect "device 1's trace has the fault-add" 0 \
    "$VUSIM" trace dump "$tmp/mb.trace"
has "...as a CONTROL record" "CONTROL +fault-add id=2 rule='on=write,nth=1,do=delay,delay=3ms'"
expect "device 0's trace" 0 "$VUSIM" trace dump "$tmp/ma.trace"
if ! grep -q CONTROL "$tmp/out"; then
    ok "...has no CONTROL record"
else
    not_ok "...has no CONTROL record" "$(grep CONTROL "$tmp/out" | head -n 2)"
fi

echo "control: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
