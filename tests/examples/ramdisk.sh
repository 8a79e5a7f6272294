#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/examples/ramdisk.sh - an out-of-tree device model against the
# installed vusim: examples/ramdisk, built by make check from a staged
# `make install` with its own Makefile and pkg-config alone
# (examples/local.mk). Checks that the one vusim_main() call gives it the
# generic options, --help and --print-capabilities, the one-line refusal
# (exit 2), that the integration tier's blk cases pass against it (the
# reference front-end over a real socket, both notification modes), and
# that a run it records (driven by `vusim demo --connect`, every byte read
# back verified) replays with `ramdisk replay` and diverges when its
# latency changes.
#
# Run by `make check` from the top build directory ($builddir, $srcdir).
set -u

builddir=${builddir:-.}
srcdir=${srcdir:-.}
VUSIM=${VUSIM:-$builddir/vusim}
STAMP=$builddir/tests/examples/ramdisk.stamp
PROG=$builddir/tests/examples/ramdisk/ramdisk
INTEG=$builddir/tests/integration/vusim-integ

# shellcheck source=tests/check-lib.sh
. "$srcdir/tests/check-lib.sh"
check_init ramdisk
check_built "$VUSIM" "$PROG" "$INTEG"

# The program runs from the staged libraries only: a wrapper sets that up,
# for this script and for the integration binary, which starts it.
check_staged "$STAMP" "$PROG"
RD=$tmp/ramdisk

# ---- built against the installed files only -------------------------------

check_staged_links libvusim

# ---- what vusim_main() gives it -------------------------------------------

expect "ramdisk --help" 0 "$RD" --help
for w in --socket-path --fd --inband --clock --trace --time-travel --stats \
    --print-capabilities -v, --help --size --latency "ramdisk replay TRACE"; do
    has "--help lists $w" "$w"
done
expect "ramdisk --print-capabilities" 0 "$RD" --print-capabilities
has "...type block" '"type": "block"'
expect "a bad size is refused" 2 "$RD" --socket-path="$tmp/x.sock" \
    --size=1000
has "...in one line naming it" "^vusim: --size=1000: must be whole sectors" \
    "$tmp/err"
one_line
expect "an unknown option is refused" 2 "$RD" --socket-path="$tmp/x.sock" \
    --backing=disk.img
has "...with what is allowed" "--backing=disk.img: unknown option for \
ramdisk; allowed: .*--size, --latency" "$tmp/err"
expect "no socket is refused" 2 "$RD" --size=1M

# ---- the integration tier's blk cases ---------------------------------------

for suite in devices-inband devices-eventfd; do
    expect "integration $suite against ramdisk" 0 \
        env VUSIM_ITEST_BLK_PROGRAM="$RD" "$INTEG" "$suite"
    has "...no failure" "asserts +[0-9]+ +[0-9]+ +[0-9]+ +0 "
done

# ---- record, replay -----------------------------------------------------------

sock=$tmp/rd.sock
"$RD" --socket-path="$sock" --size=16M --latency=20us --trace="$tmp/rd.trace" \
    --stats="$tmp/rd.json" >"$tmp/rd.log" 2>&1 &
pid=$!
pids+=("$pid")
for ((i = 0; i < 200; i++)); do
    [ -S "$sock" ] && break
    sleep 0.05
done
expect "vusim demo drives ramdisk, every byte verified" 0 \
    "$VUSIM" demo --connect="$sock" --requests=300
has "...verify" "verify: [0-9]+ bytes read back, all match"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] && ok "ramdisk exits 0 on SIGTERM" ||
    not_ok "ramdisk on SIGTERM" "status $rc: $(tail -n 3 "$tmp/rd.log")"
has "--stats: 300 completions" '"completions": 300' "$tmp/rd.json"
has "--stats: the device's own counters" '"req_flush": [1-9]' "$tmp/rd.json"
expect "ramdisk trace check" 0 "$RD" trace check "$tmp/rd.trace"
expect "ramdisk replay: no divergence" 0 "$RD" replay "$tmp/rd.trace"
has "...300 completions checked" "no divergence: .* 300 completions"
expect "replay with another latency diverges" 1 "$RD" replay \
    "$tmp/rd.trace" --latency=21us
has "...at a moved completion" "divergence at record [0-9]+ .*moved"

echo "ramdisk: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
