#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/limits.sh - limits of the vusim program, each with one clear error
# line and nothing lost:
#   - a full disk while recording a trace, on a tiny tmpfs (the write(2)
#     path: the first 16 MiB reservation fails) and on a 20 MiB one (the
#     mapped path: growing the reservation fails): the guest side goes on
#     unharmed, vusim says so and exits 1, and the file is the valid prefix
#     cut at a record boundary, which replays with no divergence;
#   - a trace written to a FIFO whose reader leaves: EPIPE ends the
#     recording with a line, not SIGPIPE the process;
#   - a backing file that shrinks under the device (reads past its end are
#     I/O errors with a line naming the new size) or is removed (every
#     FLUSH fails from then on: its data would go when vusim exits);
#   - many front-ends at once: 24 connect together, those past the listen
#     backlog wait in connect(), and each is served in turn or, if its
#     turn comes after its own 5 s limit, says so in one line; none hangs,
#     and the next front-end is served;
#   - out of fds: with its fd limit at its lowest free fd, accept fails and
#     the listener stays readable; vusim says so in one line and looks
#     again every 100 ms (before: a line per loop turn at 100% CPU), and
#     serves the waiting front-end once fds are back.
# Oversized messages, queue indexes and memory-region counts are rows of
# the integration tier's hostile-input table (tests/integration/
# test_badinput.c). The tmpfs mounts need root or an unprivileged user
# namespace (the script re-runs itself under `unshare -rm` when not root).
#
# Run by `make check` ($builddir); prints `limits: N passed, N failed`.
set -u

builddir=${builddir:-.}
VUSIM=${VUSIM:-$builddir/vusim}

if [ "$(id -u)" != 0 ] && [ -z "${VUSIM_LIMITS_NS:-}" ]; then
    if unshare -rm true 2>/dev/null; then
        VUSIM_LIMITS_NS=1 exec unshare -rm -- "$BASH" "$0" "$@"
    fi
    echo "limits: needs root or unshare -rm for the tmpfs mounts" >&2
    exit 77
fi

# shellcheck source=tests/check-lib.sh
. "${srcdir:-.}/tests/check-lib.sh"
check_init limits
check_built "$VUSIM"
mounts=()
# Every exit path (a failed check, set -u, a signal) unmounts: vusim is
# killed first, since a file it holds open keeps the tmpfs busy; a mount
# still busy is detached lazily, so none outlives the script.
umount_all()
{
    local m p
    for p in "${pids[@]}"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    for m in "${mounts[@]}"; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
            echo "limits: cannot unmount $m" >&2
    done
    check_cleanup
}
trap umount_all EXIT
trap 'exit 1' INT TERM HUP

# wait_sock PATH: until vusim listens there (a loaded machine: 60 s).
wait_sock()
{
    for _ in $(seq 600); do
        [ -S "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# ---- a full disk while recording ----------------------------------------

# full_disk NAME SIZE REQUESTS
full_disk()
{
    local name=$1 d=$tmp/$1 rc=0 drc=0 vp
    mkdir -p "$d"
    if ! mount -t tmpfs -o size="$2" tmpfs "$d"; then
        not_ok "$name: mount a $2 tmpfs" "mount failed"
        return
    fi
    mounts+=("$d")
    "$VUSIM" blk --socket-path="$tmp/$name.sock" --size=16M \
        --trace="$d/t.trace" 2>"$tmp/$name.err" &
    vp=$!
    pids+=("$vp")
    wait_sock "$tmp/$name.sock"
    "$VUSIM" demo --connect="$tmp/$name.sock" --requests="$3" \
        >"$tmp/$name.demo" 2>&1 || drc=$?
    kill -TERM "$vp"
    wait "$vp" || rc=$?
    if [ "$drc" -eq 0 ] && grep -q "all match" "$tmp/$name.demo"; then
        ok "$name: the front-end's I/O is unharmed by the full disk"
    else
        not_ok "$name: front-end" "demo exit $drc: $(tail -n 2 "$tmp/$name.demo")"
    fi
    if [ "$rc" -eq 1 ] && grep -q "No space left on device; the trace ends at the last whole record" "$tmp/$name.err" &&
        grep -q "cannot write it; it holds the records before the failure" "$tmp/$name.err"; then
        ok "$name: vusim names the full disk and exits 1"
    else
        not_ok "$name: vusim" "exit $rc: $(tr '\n' ' ' <"$tmp/$name.err")"
    fi
    if "$VUSIM" trace check "$d/t.trace" >"$tmp/$name.chk" 2>&1 &&
        grep -q "valid, no END (cut at a record boundary)" "$tmp/$name.chk"; then
        ok "$name: the file is the valid prefix ($(sed 's/.*: //' "$tmp/$name.chk"))"
    else
        not_ok "$name: trace check" "$(cat "$tmp/$name.chk")"
    fi
    if "$VUSIM" replay "$d/t.trace" >"$tmp/$name.rep" 2>&1 &&
        grep -q "no divergence" "$tmp/$name.rep"; then
        ok "$name: the prefix replays with no divergence"
    else
        not_ok "$name: replay" "$(tail -n 2 "$tmp/$name.rep")"
    fi
}

full_disk full-write 256k 200
full_disk full-mapped 20m 3000

# ---- a trace on a FIFO whose reader leaves -------------------------------
# The reader takes 4 KiB and exits: vusim's next write gets EPIPE, not a
# SIGPIPE that would end it and every connection (exit 141).

mkfifo "$tmp/t.fifo"
head -c 4096 "$tmp/t.fifo" >/dev/null &
"$VUSIM" blk --socket-path="$tmp/f.sock" --size=16M \
    --trace="$tmp/t.fifo" 2>"$tmp/f.err" &
vp=$!
pids+=("$vp")
wait_sock "$tmp/f.sock"
drc=0
"$VUSIM" demo --connect="$tmp/f.sock" --requests=200 >"$tmp/f.demo" 2>&1 ||
    drc=$?
kill -TERM "$vp"
rc=0
wait "$vp" || rc=$?
if [ "$drc" -eq 0 ] && grep -q "all match" "$tmp/f.demo"; then
    ok "fifo: the front-end's I/O is unharmed when the trace's reader leaves"
else
    not_ok "fifo: front-end" "demo exit $drc: $(tail -n 2 "$tmp/f.demo")"
fi
if [ "$rc" -eq 1 ] &&
    grep -q "Broken pipe; the trace ends at the last whole record" "$tmp/f.err"; then
    ok "fifo: vusim names the broken pipe and exits 1, not by SIGPIPE"
else
    not_ok "fifo: vusim" "exit $rc: $(tr '\n' ' ' <"$tmp/f.err")"
fi

# ---- the backing file shrinks, or is removed ----------------------------

img=$tmp/disk.img
truncate -s 4M "$img"
"$VUSIM" blk --socket-path="$tmp/b.sock" --backing="$img" 2>"$tmp/b.err" &
vp=$!
pids+=("$vp")
wait_sock "$tmp/b.sock"
"$VUSIM" demo --connect="$tmp/b.sock" --requests=100 \
    >"$tmp/b1.demo" 2>&1 && ok "backing: served before it shrinks" ||
    not_ok "backing: before" "$(tail -n 2 "$tmp/b1.demo")"
truncate -s 64K "$img"
rc=0
"$VUSIM" demo --connect="$tmp/b.sock" --requests=300 >"$tmp/b2.demo" 2>&1 ||
    rc=$?
if [ "$rc" -eq 1 ] && grep -q "request(s) failed" "$tmp/b2.demo" &&
    grep -q "past its end: it shrank to" "$tmp/b.err"; then
    ok "backing: shrunk: reads past the end are I/O errors, with a line"
else
    not_ok "backing: shrunk" "demo exit $rc; $(tr '\n' ' ' <"$tmp/b.err")"
fi
rm -f "$img"
rc=0
"$VUSIM" demo --connect="$tmp/b.sock" --requests=300 >"$tmp/b3.demo" 2>&1 ||
    rc=$?
if [ "$rc" -eq 1 ] &&
    grep -q "backing file removed while in use" "$tmp/b.err"; then
    ok "backing: removed: FLUSH fails from then on, with a line"
else
    not_ok "backing: removed" "demo exit $rc; $(tr '\n' ' ' <"$tmp/b.err")"
fi
if kill -0 "$vp" 2>/dev/null; then
    ok "backing: vusim serves on"
else
    not_ok "backing: vusim" "died"
fi
kill -TERM "$vp"
wait "$vp"

# ---- many front-ends at once --------------------------------------------

"$VUSIM" blk --socket-path="$tmp/m.sock" --size=1M 2>"$tmp/m.err" &
vp=$!
pids+=("$vp")
wait_sock "$tmp/m.sock"
sleep 0.2
idle=$(ls /proc/"$vp"/fd | wc -l)
n=24
cps=()
for i in $(seq "$n"); do
    "$VUSIM" demo --connect="$tmp/m.sock" --requests=50 \
        --seed="$i" >"$tmp/m$i.demo" 2>&1 &
    cps+=($!)
done
# Each demo expects a zeroed disk and finds the writes of those before it,
# so its data check is moot here. Each must either negotiate and finish
# its 50 requests with none failed, or (its turn came after its own 5 s
# limit: a slow sanitizer build) stop with one clear line having sent no
# request; none may hang.
good=0 gaveup=0
for i in $(seq "$n"); do
    wait "${cps[$((i - 1))]}"
    if grep -q "^  all  *50 " "$tmp/m$i.demo" &&
        ! grep -q "request(s) failed" "$tmp/m$i.demo"; then
        good=$((good + 1))
    elif grep -q "connect and negotiate: Connection timed out" \
        "$tmp/m$i.demo"; then
        gaveup=$((gaveup + 1))
    fi
done
if [ "$good" -ge 1 ] && [ $((good + gaveup)) -eq "$n" ]; then
    ok "many: $n front-ends at once: $good served in turn, $gaveup gave up waiting with a clear line"
else
    not_ok "many" "$good served, $gaveup gave up, of $n: $(cat "$tmp"/m*.demo | grep -v '^ ' | sort | uniq -c | head -5)"
fi
rc=0
"$VUSIM" demo --connect="$tmp/m.sock" --requests=50 >"$tmp/m-after.demo" \
    2>&1 || rc=$?
if grep -q "^  all  *50 " "$tmp/m-after.demo"; then
    ok "many: a front-end after them is served"
else
    not_ok "many: after" "$(tail -n 2 "$tmp/m-after.demo")"
fi
for _ in $(seq 100); do
    [ "$(ls /proc/"$vp"/fd | wc -l)" -le "$idle" ] && break
    sleep 0.1
done
now=$(ls /proc/"$vp"/fd | wc -l)
if [ "$now" -le "$idle" ]; then
    ok "many: vusim holds $now fds again, as before"
else
    not_ok "many: fds" "$now held, $idle before"
fi
kill -TERM "$vp"
wait "$vp"

# ---- out of fds: accept fails ---------------------------------------------

ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }   # utime + stime

"$VUSIM" blk --socket-path="$tmp/f.sock" --size=1M 2>"$tmp/f.err" &
vp=$!
pids+=("$vp")
wait_sock "$tmp/f.sock"
sleep 0.2
free=0
while [ -e /proc/"$vp"/fd/"$free" ]; do
    free=$((free + 1))
done
if prlimit --pid "$vp" --nofile="$free": 2>"$tmp/f.prlimit"; then
    "$VUSIM" demo --connect="$tmp/f.sock" --requests=20 >"$tmp/f.demo" 2>&1 &
    dp=$!
    sleep 1
    t0=$(ticks "$vp")
    sleep 1
    t1=$(ticks "$vp")
    prlimit --pid "$vp" --nofile=1024:
    wait "$dp"
    lines=$(grep -c 'accept failed: Too many open files' "$tmp/f.err")
    if [ "$lines" -eq 1 ] && [ $((t1 - t0)) -lt 30 ]; then
        ok "fds: accept out of fds: one line, $((t1 - t0)) CPU ticks in 1 s"
    else
        not_ok "fds: accept out of fds" "$lines lines, $((t1 - t0)) CPU ticks in 1 s"
    fi
    if grep -q "^  all  *20 " "$tmp/f.demo"; then
        ok "fds: the waiting front-end is served once fds are back"
    else
        not_ok "fds: served after" "$(tail -n 2 "$tmp/f.demo")"
    fi
else
    not_ok "fds: prlimit" "$(cat "$tmp/f.prlimit")"
fi
kill -TERM "$vp"
wait "$vp"

echo "limits: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
