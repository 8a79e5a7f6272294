#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/trace.sh - traces through the vusim program: record the demo and a
# served device, replay, catch a changed latency at the first moved
# completion, truncated and corrupted files, a SIGKILLed recording, a
# file-backed disk replayed from its starting image, the tools and the
# exports.
#
# Run by `make check` from the top build directory ($builddir). Prints one
# line per check and `trace: N passed, N failed`; exits 1 on any failure.
# The exports' contents are parsed back by the unit tests (VCD parser,
# jansson); here they are checked as files the tools accept.
set -u

builddir=${builddir:-.}
VUSIM=${VUSIM:-$builddir/vusim}
JSON=$builddir/tests/jsoncheck

# shellcheck source=tests/check-lib.sh
. "${srcdir:-.}/tests/check-lib.sh"
check_init trace
CHECK_MERGE=1          # expect: stderr into $tmp/out too

check_built "$VUSIM" "$JSON"

# Index of the first record of TYPE in TRACE (from the dump).
first_of()
{
    "$VUSIM" trace dump "$1" | awk -v t="$2" '$3 == t { print $1; exit }'
}

# ---- the demo: record, replay, a changed latency --------------------------

a=$tmp/a.trace
b=$tmp/b.trace
expect "demo records a trace" 0 "$VUSIM" demo --requests=400 --trace="$a"
expect "check: the demo's trace is complete" 0 "$VUSIM" trace check "$a"
has "check says complete" "complete: [0-9]+ records"
expect "a second demo run records a trace" 0 \
    "$VUSIM" demo --requests=400 --trace="$b"
# In-band, the demo takes each call before it reaps, so the two runs are
# the same bytes, messages and all.
expect "two demo runs: byte-identical traces" 0 cmp "$a" "$b"
expect "two demo runs: trace diff finds nothing" 0 \
    "$VUSIM" trace diff "$a" "$b"
expect "two demo runs: the device saw and did the same" 0 \
    "$VUSIM" trace diff --device "$a" "$b"
expect "replay of the demo: no divergence" 0 "$VUSIM" replay "$a"
has "replay counts what it checked" \
    "no divergence: [0-9]+ records, 400 completions and 400 chains checked"
expect "replay with a changed latency diverges" 1 \
    "$VUSIM" replay "$a" --latency=21us
want=$(first_of "$a" COMPLETE)
has "...at the first completion, which moved" \
    "divergence at record $want \(simulated time [^)]*\): completion of request [0-9]+ differs: moved"
has "...decoded as a virtio-blk request" "expected: at .*COMPLETE .*blk (IN|OUT|FLUSH)"
expect "replay with a bad option is refused" 2 \
    "$VUSIM" replay "$a" --latency=5
expect "replay of a file that is not a trace" 2 "$VUSIM" replay "$VUSIM"

# ---- the completions' digest ----------------------------------------------

s=$tmp/sha.trace
expect "demo records with --trace-digest=sha256" 0 \
    "$VUSIM" demo --requests=200 --trace-digest=sha256 --trace="$s"
expect "info of a SHA-256 trace" 0 "$VUSIM" trace info "$s"
has "info names the digest" "^digest: +sha256 of what each completion wrote"
expect "a SHA-256 trace replays" 0 "$VUSIM" replay "$s"
expect "...and diverges at a changed latency" 1 \
    "$VUSIM" replay "$s" --latency=21us
"$VUSIM" demo --requests=200 --trace="$tmp/xxh.trace" >/dev/null 2>&1
expect "diff: the digest differs in the header" 1 \
    "$VUSIM" trace diff "$s" "$tmp/xxh.trace"
has "...and diff says so" "header: digest sha256 / xxh128"
expect "dump names the default digest" 0 "$VUSIM" trace dump "$tmp/xxh.trace"
has "...xxh128 on completions" "COMPLETE .* written=[0-9]+ xxh128=[0-9a-f]+"
expect "an unknown digest is refused" 2 \
    "$VUSIM" demo --requests=10 --trace-digest=md5 --trace="$tmp/x.trace"
has "...with one line naming it" "--trace-digest=md5: expected xxh128 or sha256"
expect "vusim blk refuses it too" 2 \
    "$VUSIM" blk --socket-path="$tmp/x.sock" --trace-digest=crc

# ---- the tools --------------------------------------------------------------

expect "info" 0 "$VUSIM" trace info "$a"
has "info: the device" "^device: +blk \(virtio id 2\), 1 queue"
has "info: its options" "^options: .*--latency=20us"
has "info: negotiated features" "^features: +offered 0x[0-9a-f]+, negotiated 0x"
has "info: the notification mode" "^notification: +q0 kick inband, call inband"
expect "dump" 0 "$VUSIM" trace dump "$a"
has "dump decodes blk requests" "CHAIN +q0 req=[0-9]+ .* blk (IN|OUT) sector=[0-9]+ len=[0-9]+"
has "dump decodes messages" "MSG +fe>be SET_VRING_ADDR flags=0x[0-9a-f]+ size=40"
expect "diff of a trace with itself" 0 "$VUSIM" trace diff "$a" "$a"
"$VUSIM" demo --requests=400 --latency=25us --trace="$tmp/c.trace" \
    >/dev/null 2>&1
expect "diff against another latency" 1 \
    "$VUSIM" trace diff "$a" "$tmp/c.trace"
has "diff names the option and the first divergence" \
    "option 0: --latency=20us / --latency=25us.*|first divergence at record"
expect "export vcd" 0 "$VUSIM" trace export --format=vcd \
    --output="$tmp/a.vcd" "$a"
if grep -qx '\$timescale 1ps \$end' "$tmp/a.vcd" &&
   grep -q '^\$var integer 32 .* inflight \$end' "$tmp/a.vcd"; then
    ok "vcd: timescale and signals"
else
    not_ok "vcd: timescale and signals" "$(head -n 5 "$tmp/a.vcd")"
fi
expect "export perfetto" 0 "$VUSIM" trace export --format=perfetto \
    --output="$tmp/a.json" "$a"
expect "perfetto: valid JSON, metadata first" 0 \
    "$JSON" "$tmp/a.json" traceEvents.0.ph M
expect "export: unknown format" 2 "$VUSIM" trace export --format=svg "$a"

# ---- damaged files ------------------------------------------------------------

size=$(stat -c %s "$a")
head -c $((size / 2)) "$a" >"$tmp/torn.trace"
expect "check: a truncated trace is torn" 1 "$VUSIM" trace check \
    "$tmp/torn.trace"
has "...and the valid prefix is reported" \
    "torn: [0-9]+ records, [0-9]+ of $((size / 2)) bytes valid; the prefix ends at record [0-9]+"
expect "replay of a truncated trace succeeds up to its prefix" 0 \
    "$VUSIM" replay "$tmp/torn.trace"
has "...and says it replayed a prefix" "replayed the valid prefix"

cp "$a" "$tmp/bad.trace"
pos=$((size / 3))
printf '\xff' | dd of="$tmp/bad.trace" bs=1 seek="$pos" conv=notrunc \
    status=none
if cmp -s "$a" "$tmp/bad.trace"; then
    printf '\x00' | dd of="$tmp/bad.trace" bs=1 seek="$pos" conv=notrunc \
        status=none
fi
expect "check: a corrupted byte" 1 "$VUSIM" trace check "$tmp/bad.trace"
off=$(sed -n 's/.*the prefix ends at record [0-9]* (offset \([0-9]*\)).*/\1/p' \
      "$tmp/out")
if [ -n "$off" ] && [ "$off" -le "$pos" ] && grep -q "corrupt" "$tmp/out"; then
    ok "...the bad record is the one holding the byte"
else
    not_ok "...the bad record is the one holding the byte" \
        "byte $pos, report: $(cat "$tmp/out")"
fi

# ---- a served device, killed with SIGKILL --------------------------------------

sock=$tmp/blk.sock
k=$tmp/killed.trace
"$VUSIM" blk --socket-path="$sock" --size=16M --trace="$k" 2>/dev/null &
pid=$!
pids+=("$pid")
for _ in $(seq 100); do
    [ -S "$sock" ] && break
    sleep 0.05
done
"$VUSIM" demo --connect="$sock" --requests=1000000 >/dev/null 2>&1 &
fe=$!
pids+=("$fe")
# The file is reserved ahead (its size says nothing): wait until the trace
# itself holds completions, read back from the live file, for up to 60 s.
done_before=0
for _ in $(seq 600); do
    done_before=$("$VUSIM" trace info "$k" 2>/dev/null |
        sed -n 's/^requests: *[0-9]* chains, \([0-9]*\) completions.*/\1/p')
    [ "${done_before:-0}" -ge 200 ] && break
    sleep 0.1
done
kill -KILL "$pid"
wait "$pid" 2>/dev/null
wait "$fe" 2>/dev/null
if [ "${done_before:-0}" -ge 200 ]; then
    ok "the killed recording held ${done_before} completions before SIGKILL"
else
    not_ok "the killed recording" \
        "only ${done_before:-0} completions in 60 s: no front-end got going"
fi
# Killed between records the file ends at a record boundary (no END) with
# the reserved zero tail; killed while copying a record it may end inside
# one (torn). Either way it has a valid prefix, and that prefix replays,
# with at least the completions seen before the kill.
"$VUSIM" trace check "$k" >"$tmp/out" 2>&1
has "check: a SIGKILLed recording has a valid prefix" \
    "(valid, no END \(cut at a record boundary\)|torn): [0-9]+ records"
expect "...and that prefix replays" 0 "$VUSIM" replay "$k"
has "...which replay says" "no divergence: [0-9]+ records"
n=$(sed -n 's/.*no divergence: [0-9]* records, \([0-9]*\) completions.*/\1/p' \
    "$tmp/out")
if [ "${n:-0}" -ge "${done_before:-1}" ] && [ "${n:-0}" -ge 200 ]; then
    ok "...and checks $n completions (>= $done_before seen before the kill)"
else
    not_ok "...completions replayed" "${n:-none}, expected >= $done_before"
fi

# ---- a file-backed disk -------------------------------------------------------

img=$tmp/disk.img
truncate -s 16M "$img"
cp "$img" "$tmp/start.img"
"$VUSIM" blk --socket-path="$sock" --backing="$img" --trace="$tmp/f.trace" \
    2>/dev/null &
pid=$!
pids+=("$pid")
for _ in $(seq 100); do
    [ -S "$sock" ] && break
    sleep 0.05
done
expect "demo against a file-backed disk" 0 \
    "$VUSIM" demo --connect="$sock" --requests=300
kill -TERM "$pid"
wait "$pid" 2>/dev/null
expect "replay without the starting image is refused" 2 \
    "$VUSIM" replay "$tmp/f.trace"
has "...saying what it needs" "give its starting image with --backing=FILE"
expect "replay against the written image is refused" 2 \
    "$VUSIM" replay "$tmp/f.trace" --backing="$img"
before=$(sha256sum <"$tmp/start.img")
expect "replay from the starting image" 0 \
    "$VUSIM" replay "$tmp/f.trace" --backing="$tmp/start.img"
if [ "$(sha256sum <"$tmp/start.img")" = "$before" ]; then
    ok "...which replay left unchanged"
else
    not_ok "...which replay left unchanged" "the image changed"
fi

# ---- fault rules: firings recorded, replayed with no --fault, same bytes -------

printf '# a scenario\non=read,probability=0.1,do=delay,delay=50us\non=write,every=7,do=late\n' \
    >"$tmp/scen"
for n in 1 2; do
    rm -f "$sock"
    "$VUSIM" blk --socket-path="$sock" --size=16M --seed=3 \
        --trace="$tmp/fault$n.trace" --scenario="$tmp/scen" \
        --fault=on=write,nth=5,do=timing,latency=30us 2>/dev/null &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        [ -S "$sock" ] && break
        sleep 0.05
    done
    expect "demo against rules (run $n)" 0 \
        "$VUSIM" demo --connect="$sock" --requests=400
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null
done
if cmp -s "$tmp/fault1.trace" "$tmp/fault2.trace"; then
    ok "same rules, seed and workload: the same trace, byte for byte"
else
    not_ok "same rules, seed and workload: the same trace" "they differ"
fi
expect "info shows the firings" 0 "$VUSIM" trace info "$tmp/fault1.trace"
has "...and the rules in the options" "--fault=on=write,every=7,do=late"
has "...counted" "faults: +[1-9][0-9]* rule firings"
expect "dump shows each firing" 0 "$VUSIM" trace dump "$tmp/fault1.trace"
has "...with its request, rule and action" \
    "FAULT +id=[0-9]+ q=0 rule=3 firing=1 do=timing state=start"
expect "replay from the trace alone, no --fault" 0 \
    "$VUSIM" replay "$tmp/fault1.trace"
has "...reproduces every firing" "no divergence: .* [1-9][0-9]* rule firings"
expect "replay with another seed diverges" 1 \
    "$VUSIM" replay "$tmp/fault1.trace" --seed=4
has "...at a firing" "rule fired where the recording has none|a rule that fired in the recording"
expect "perfetto marks the firings" 0 \
    "$VUSIM" trace export --format=perfetto "$tmp/fault1.trace"
has "...as fault instants" '"cat":"fault","ph":"i"'

echo "trace: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
