#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/cli.sh - the vusim program as a user and a management layer see it:
# help and version, --print-capabilities, bad options (exit 2, one line
# naming the option), SIGTERM/SIGINT (quick clean exit, socket removed,
# --stats written), --fd, the per-device entry points, the live status line
# (only on a terminal), the man page, and `vusim demo`.
#
# Run by `make check` from the top build directory ($builddir, $srcdir).
# Prints one line per check and `cli: N passed, N failed`; exits 1 on any
# failure. JSON is checked with tests/jsoncheck (jansson), so neither
# python3 nor jq is needed.
set -u

builddir=${builddir:-.}
srcdir=${srcdir:-.}
VUSIM=${VUSIM:-$builddir/vusim}
JSON=$builddir/tests/jsoncheck
SOCKFD=$builddir/tests/sockfd

# shellcheck source=tests/check-lib.sh
. "$srcdir/tests/check-lib.sh"
check_init cli

# check DESC COMMAND...: the command must succeed.
check()
{
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then
        ok "$desc"
    else
        not_ok "$desc" "$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
    fi
}

check_built "$VUSIM" "$JSON" "$SOCKFD"

# ---- help and version ------------------------------------------------------

# help_has DESC WORDS -- ARGS: exit 0 and stdout mentions every word.
help_has()
{
    local desc=$1 out rc=0 w missing=
    shift
    local words=()
    while [ "$1" != -- ]; do
        words+=("$1")
        shift
    done
    shift
    out=$("$VUSIM" "$@" 2>&1) || rc=$?
    for w in "${words[@]}"; do
        [[ "$out" == *"$w"* ]] || missing="$missing $w"
    done
    if [ "$rc" -eq 0 ] && [ -z "$missing" ]; then
        ok "$desc"
    else
        not_ok "$desc" "status $rc, missing:$missing"
    fi
}

help_has "vusim --help lists devices and demo" blk rng demo -- --help
help_has "vusim blk --help: generic and blk options" --socket-path --fd \
    --print-capabilities --inband --clock --stats --verbose --log-level \
    --backing --blk-file --size --read-only --latency --bandwidth \
    --channels -- blk --help
help_has "vusim rng --help: generic and rng options" --socket-path --fd \
    --seed --rate -- rng --help
help_has "vusim demo --help: demo options" --requests --seed --inflight \
    --notify --latency --connect -- demo --help
help_has "--help wins over a bad option" --socket-path -- blk --bogus --help

out=$("$VUSIM" --version 2>&1)
if [[ "$out" =~ ^vusim\ [0-9]+\.[0-9]+ ]]; then
    ok "vusim --version: $out"
else
    not_ok "vusim --version" "got '$out'"
fi

# ---- capabilities ------------------------------------------------------------

caps()
{
    local dev=$1 key=$2 want=$3 out
    shift 3
    if "$VUSIM" "$dev" --print-capabilities "$@" >"$tmp/caps.json" &&
        out=$("$JSON" "$tmp/caps.json" "$key" "$want" 2>&1); then
        ok "$dev --print-capabilities $*: $key = $want"
    else
        not_ok "$dev --print-capabilities $*" \
            "$out $(head -c 200 "$tmp/caps.json")"
    fi
}
caps blk type block
caps blk features '["read-only","blk-file"]'
caps rng type rng
caps blk type block --inband=maybe --bogus=1     # other options ignored

# The installed descriptors (QEMU's VhostUserBackend): type and binary.
for d in blk:block rng:rng; do
    f=$builddir/share/qemu/vhost-user/50-vusim-${d%%:*}.json
    if "$JSON" "$f" type "${d#*:}" >/dev/null &&
        [[ "$("$JSON" "$f" binary)" == /*/vusim-${d%%:*} ]] &&
        "$JSON" "$f" description >/dev/null; then
        ok "50-vusim-${d%%:*}.json: type ${d#*:}, binary vusim-${d%%:*}"
    else
        not_ok "50-vusim-${d%%:*}.json" "$(head -c 300 "$f" 2>&1)"
    fi
done

# ---- per-device entry points (vusim-blk -> vusim) ------------------------

# In the build tree vusim is libtool's wrapper script, which runs the real
# program under another name; link to the real one (.libs/vusim) and let
# it find the uninstalled libvusim.
real=$VUSIM
if [ -x "$(dirname "$VUSIM")/.libs/$(basename "$VUSIM")" ]; then
    real=$(dirname "$VUSIM")/.libs/$(basename "$VUSIM")
    libs=$(cd "$(dirname "$real")" && pwd)
    export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
real=$(cd "$(dirname "$real")" && pwd)/$(basename "$real")
ln -s "$real" "$tmp/vusim-rng"
ln -s "$real" "$tmp/vusim-blk"
if "$tmp/vusim-rng" --print-capabilities >"$tmp/caps.json" &&
    "$JSON" "$tmp/caps.json" type rng >/dev/null; then
    ok "vusim-rng (symlink) is vusim rng"
else
    not_ok "vusim-rng (symlink)" "$(cat "$tmp/caps.json")"
fi
out=$("$tmp/vusim-blk" --help 2>&1)
if [[ "$out" == *--backing* ]]; then
    ok "vusim-blk --help is blk's"
else
    not_ok "vusim-blk --help" "$(head -n 2 <<<"$out")"
fi

# ---- bad options: exit 2, one line on stderr naming the option ------------

S=$tmp/bad.sock
# Each row: the text stderr must contain | the arguments.
bad_rows=(
    "--inband=maybe|blk --socket-path=$S --inband=maybe"
    "--clock=warp|blk --socket-path=$S --clock=warp"
    "--clock=realtime:0|blk --socket-path=$S --clock=realtime:0"
    "--clock=external|blk --socket-path=$S --clock=external"
    "--latency=5|blk --socket-path=$S --latency=5"
    "--size=12Q|blk --socket-path=$S --size=12Q"
    "--channels=0|blk --socket-path=$S --channels=0"
    "--bogus=1|blk --socket-path=$S --bogus=1"
    "--rate=1K|blk --socket-path=$S --rate=1K"
    "--latency=1us|rng --socket-path=$S --latency=1us"
    "--seed=x|rng --socket-path=$S --seed=x"
    "--read-only=yes|blk --socket-path=$S --read-only=yes"
    "--log-level=loud|blk --socket-path=$S --log-level=loud"
    "--inband|blk --socket-path=$S --inband=on --inband=off"
    "--socket-path|blk --socket-path"
    "nosuchdev|nosuchdev --socket-path=$S"
    "--fd|blk --socket-path=$S --fd=3"
    "--socket-path|blk"
    "--fd=abc|blk --fd=abc"
    "--fd=0|blk --fd=0"
    "--fd=987|blk --fd=987"
    "--bogus|--bogus"
    "DEVICE|"
    "--requests=0|demo --requests=0"
    "--notify=smoke|demo --notify=smoke"
    "--size=1K|demo --size=1K"
    "--latency=5|demo --latency=5"
    "--stats=$tmp/x|demo --connect=$S --stats=$tmp/x"
    "nth=0: expected a count from 1|blk --socket-path=$S --fault=on=write,nth=0,do=error,status=ioerr"
    "colour=red: unknown key|blk --socket-path=$S --fault=colour=red,do=hang"
    "do=short: not an action of this device|blk --socket-path=$S --fault=do=short,bytes=1"
    "do=needs-reset: impossible over vhost-user|blk --socket-path=$S --fault=on=write,do=needs-reset"
    "do=needs-reset: impossible over vhost-user|rng --socket-path=$S --fault=do=needs-reset"
    "do=torn: applies only to on=write|blk --socket-path=$S --fault=do=torn,sectors=1"
    "to=999999: beyond the disk|blk --socket-path=$S --size=1M --fault=on=write,do=misdirect,to=999999"
    "bytes=: do=short needs bytes=|rng --socket-path=$S --fault=do=short"
    "line 4: do=frob|blk --socket-path=$S --scenario=$tmp/scen.bad"
    "--scenario=$tmp/nofile|blk --socket-path=$S --scenario=$tmp/nofile"
    "rules are per device in multi: give scenario=FILE inside --device|multi --scenario=$tmp/scen.bad"
    "rules are per device in multi: give fault=RULE inside --device|multi --fault=on=write,do=hang --device blk,socket-path=$S"
    "clock: an option of the whole run|multi --device blk,socket-path=$S,clock=afap"
    "control: an option of the whole run|multi --device blk,socket-path=$S,control=$tmp/c.sock"
    "do=frob: not an action of this device|multi --device blk,socket-path=$S,fault=on=read,,do=frob"
    "line 4: do=frob|multi --device blk,socket-path=$S,scenario=$tmp/scen.bad"
    "--size=7: unknown option for multi|multi --size=7 --device blk,socket-path=$S"
)
printf 'on=write,do=hang  # fine\n\n# comment\non=read,do=frob\n' >"$tmp/scen.bad"
for row in "${bad_rows[@]}"; do
    want=${row%%|*}
    read -r -a args <<<"${row#*|}"
    rc=0
    "$VUSIM" "${args[@]}" </dev/null >"$tmp/bad.out" 2>"$tmp/bad.err" || rc=$?
    lines=$(wc -l <"$tmp/bad.err")
    if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] &&
        grep -qF -- "$want" "$tmp/bad.err" && [ ! -e "$S" ]; then
        ok "bad option, exit 2: vusim ${args[*]}"
    else
        not_ok "bad option: vusim ${args[*]}" \
            "status $rc, $lines line(s): $(head -c 300 "$tmp/bad.err")"
    fi
done

# ---- serving: SIGTERM / SIGINT, socket removed, stats written -----------

# wait_for PATH PID: until PATH exists (5 s at most) and PID still runs.
wait_for()
{
    local i
    for ((i = 0; i < 100; i++)); do
        [ -e "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# stop PID SIGNAL: send it and wait; sets rc (exit status) and ms (time
# to exit). Not in a subshell: only this shell can wait for PID.
stop()
{
    local t0 t1 i
    rc=0
    t0=$(date +%s%N)
    kill "-$2" "$1"
    # Bounded: a vusim that ignores the signal fails the check (exit 137
    # after SIGKILL) instead of hanging the suite.
    for ((i = 0; i < 100; i++)); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$1" 2>/dev/null && kill -KILL "$1"
    wait "$1" || rc=$?
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
}

# serve_stop DEV SIGNAL ARGS...: start vusim DEV on a fresh socket, stop it
# with SIGNAL, check the exit, the socket and the stats file.
serve_stop()
{
    local dev=$1 sig=$2 sock=$tmp/$1-$2.sock st=$tmp/$1-$2.json pid
    shift 2
    "$VUSIM" "$dev" --socket-path="$sock" --stats="$st" "$@" \
        </dev/null >"$tmp/serve.out" 2>"$tmp/serve.err" &
    pid=$!
    pids+=("$pid")
    if ! wait_for "$sock" "$pid"; then
        not_ok "vusim $dev: listens" "$(head -c 300 "$tmp/serve.err")"
        return
    fi
    ok "vusim $dev --socket-path: socket created"
    if [ "$(stat -c %a "$sock")" = 600 ]; then
        ok "vusim $dev: socket mode is 0600"
    else
        not_ok "vusim $dev: socket mode" "$(stat -c %a "$sock")"
    fi
    stop "$pid" "$sig"
    # 5 s: quick beside the 10 s a vusim ignoring the signal gets, and
    # safe under ASan on two busy cores.
    if [ "$rc" -eq 0 ] && [ "$ms" -lt 5000 ]; then
        ok "vusim $dev: $sig gives status 0 in ${ms} ms"
    else
        not_ok "vusim $dev: $sig" "status $rc after $ms ms"
    fi
    if [ ! -e "$sock" ]; then
        ok "vusim $dev: socket path removed at exit"
    else
        not_ok "vusim $dev: socket path" "still there"
    fi
    check "vusim $dev: --stats names the device" "$JSON" "$st" device "$dev"
    check "vusim $dev: --stats has calendar counts" "$JSON" "$st" \
        calendar.fired 0
    check "vusim $dev: --stats has wall time apart" "$JSON" "$st" \
        wall.elapsed_ns
    if [ ! -s "$tmp/serve.err" ]; then
        ok "vusim $dev: nothing on a non-terminal stderr"
    else
        not_ok "vusim $dev: stderr" "$(head -c 200 "$tmp/serve.err")"
    fi
}
serve_stop blk TERM --size=1M
serve_stop rng INT --seed=3

# ---- a real front-end against the program ------------------------------

# A fresh back-end per run: the demo's shadow copy starts from a zeroed
# disk. MODE is the front-end's notification mode.
e2e()
{
    local mode=$1 want=$2 sock=$tmp/e2e-$1.sock st=$tmp/e2e-$1.json pid
    "$VUSIM" blk --socket-path="$sock" --size=4M --latency=10us \
        --stats="$st" </dev/null >/dev/null 2>"$tmp/e2e.err" &
    pid=$!
    pids+=("$pid")
    if ! wait_for "$sock" "$pid"; then
        not_ok "e2e $mode: vusim blk listens" "$(head -c 300 "$tmp/e2e.err")"
        return
    fi
    if "$VUSIM" demo --connect="$sock" --requests=300 --notify="$mode" \
        >"$tmp/e2e.out" 2>&1 &&
        grep -q "all match" "$tmp/e2e.out"; then
        ok "e2e $mode: demo --connect verifies every byte"
    else
        not_ok "e2e $mode: demo --connect" "$(tail -n 3 "$tmp/e2e.out")"
    fi
    stop "$pid" TERM
    [ "$rc" -eq 0 ] || not_ok "e2e $mode: SIGTERM" "status $rc"
    check "e2e $mode: stats count 300 requests" "$JSON" "$st" \
        queues.0.completions 300
    check "e2e $mode: stats notification mode $want" "$JSON" "$st" \
        notification_mode "$want"
    check "e2e $mode: stats one connection" "$JSON" "$st" connections 1
}
e2e inband inband
e2e eventfd eventfd

# --fd: a listening socket inherited on fd 3, as a management layer does.
sock=$tmp/fd.sock
"$SOCKFD" "$sock" "$VUSIM" blk --fd=3 --size=1M --stats="$tmp/fd.json" \
    </dev/null >/dev/null 2>"$tmp/fd.err" &
pid=$!
pids+=("$pid")
if wait_for "$sock" "$pid" &&
    "$VUSIM" demo --connect="$sock" --requests=50 >"$tmp/fd.out" 2>&1; then
    ok "--fd=3 (listening): a front-end is served"
else
    not_ok "--fd=3" "$(cat "$tmp/fd.err") $(tail -n 2 "$tmp/fd.out")"
fi
stop "$pid" TERM
if [ "$rc" -eq 0 ] && "$JSON" "$tmp/fd.json" queues.0.completions 50 \
    >/dev/null; then
    ok "--fd=3: clean exit on SIGTERM, stats written"
else
    not_ok "--fd=3: exit" "status $rc"
fi

# ---- the live status line: only on a terminal ----------------------------

# script(1) (bsdutils) and groff (groff-base) are installed by
# scripts/setup.sh: without them these checks fail, they never pass.
if command -v script >/dev/null; then
    sock=$tmp/tty.sock
    script -qec "timeout -s TERM 5 '$VUSIM' rng --socket-path='$sock'" \
        /dev/null >"$tmp/tty.out" 2>&1 </dev/null
    if grep -q "req/s" "$tmp/tty.out" && grep -q "calls/s" "$tmp/tty.out"
    then
        ok "status line on a terminal"
    else
        not_ok "status line on a terminal" "$(head -c 200 "$tmp/tty.out")"
    fi
else
    not_ok "status line on a terminal" "no script(1) (package bsdutils)"
fi

# ---- man page ------------------------------------------------------------

if command -v groff >/dev/null; then
    if out=$(groff -man -Tutf8 -ww "$srcdir/man/vusim.1" 2>&1 >/dev/null) &&
        [ -z "$out" ]; then
        ok "man/vusim.1 renders without warnings"
    else
        not_ok "man/vusim.1" "$(head -n 3 <<<"$out")"
    fi
else
    not_ok "man/vusim.1" "no groff (package groff-base)"
fi

# ---- the demo --------------------------------------------------------------

if "$VUSIM" demo --stats="$tmp/demo.json" >"$tmp/demo.out" 2>"$tmp/demo.err"
then
    ok "vusim demo: exit 0"
else
    not_ok "vusim demo" "$(tail -n 5 "$tmp/demo.err" "$tmp/demo.out")"
fi
# A good run warns about nothing (the front-end leaving closes the
# back-end channel: that is not worth a warning).
if ! grep -q . "$tmp/demo.err"; then
    ok "vusim demo: nothing on stderr"
else
    not_ok "vusim demo: stderr" "$(head -n 3 "$tmp/demo.err")"
fi
last=$(tail -n 1 "$tmp/demo.out")
if [[ "$last" =~ ^verify:\ [1-9][0-9]*\ bytes\ read\ back,\ all\ match$ ]]
then
    ok "vusim demo: $last"
else
    not_ok "vusim demo: verify line" "$last"
fi
for w in "INBAND_NOTIFICATIONS" "VERSION_1" "notification mode: inband" \
    "p50" "p99" "read " "write " "flush " "simulated time:"; do
    if grep -qF -- "$w" "$tmp/demo.out"; then
        ok "vusim demo report shows '$w'"
    else
        not_ok "vusim demo report" "no '$w'"
    fi
done
check "vusim demo --stats: 2000 requests" "$JSON" "$tmp/demo.json" \
    demo.requests 2000
check "vusim demo --stats: no mismatch" "$JSON" "$tmp/demo.json" \
    demo.mismatched_bytes 0

# Same seed, same simulated results (wall time and the count of calls,
# which depends on host timing under EVENT_IDX, aside).
sim_lines()
{
    grep -v -e '^wall time' -e 'notification mode' "$1"
}
"$VUSIM" demo --requests=500 --seed=9 >"$tmp/d1.out" 2>&1
"$VUSIM" demo --requests=500 --seed=9 >"$tmp/d2.out" 2>&1
if [ -s "$tmp/d1.out" ] && diff <(sim_lines "$tmp/d1.out") \
    <(sim_lines "$tmp/d2.out") >"$tmp/d.diff"; then
    ok "vusim demo: same seed, same simulated latencies"
else
    not_ok "vusim demo determinism" "$(head -n 6 "$tmp/d.diff")"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
