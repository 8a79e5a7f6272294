#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/systemc/programs.sh - the SystemC example programs as a user
# runs them: vusim-sc-ssd and vusim-sc-rng from the tree (--help lists
# the generic options, `replay TRACE`, the library's bus options and the
# model's own; a bad option is refused in one line, exit 2), and
# examples/systemc-rng built out of the tree against the installed
# libvusim-systemc: by make check, from the staged `make install`, with
# c++ and `pkg-config --cflags --libs vusim-systemc` alone
# (examples/local.mk). That build must link the staged libraries, offer
# the same options and --print-capabilities, and give the LFSR's byte
# stream over a real socket in both notification modes (the integration
# tier's rng cases run against it).
#
# Run by `make check` from the top build directory ($builddir, $srcdir).
set -u

builddir=${builddir:-.}
srcdir=${srcdir:-.}
STAMP=$builddir/tests/examples/sc-rng.stamp
PROG=$builddir/tests/examples/sc-rng/vusim-sc-rng
ITEST=$builddir/tests/systemc/vusim-sc-itest

# shellcheck source=tests/check-lib.sh
. "$srcdir/tests/check-lib.sh"
check_init sc-programs
check_built "$PROG" "$ITEST" "$builddir/vusim-sc-ssd" "$builddir/vusim-sc-rng"

libdir=$(cat "$STAMP") || exit 99
RNG=$tmp/vusim-sc-rng
printf '#!/bin/sh\nSYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 LD_LIBRARY_PATH=%s exec %s "$@"\n' \
    "$libdir" "$(cd "$(dirname "$PROG")" && pwd)/vusim-sc-rng" >"$RNG"
chmod +x "$RNG"

# expect DESC STATUS COMMAND...: the command exits with STATUS.
expect()
{
    local desc=$1 want=$2 rc=0
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$desc"
    else
        not_ok "$desc" "exit $rc, wanted $want: $(tail -n 3 "$tmp/out" \
            "$tmp/err" | tr '\n' ' ')"
    fi
}

# has DESC PATTERN [FILE]: the last command's stdout (or FILE) matches.
has()
{
    if grep -Eq -- "$2" "${3:-$tmp/out}"; then
        ok "$1"
    else
        not_ok "$1" "no '$2' in: $(head -c 300 "${3:-$tmp/out}" |
            tr '\n' ' ')"
    fi
}

one_line()
{
    if [ "$(wc -l <"$tmp/err")" -eq 1 ]; then
        ok "...one line"
    else
        not_ok "...one line" "$(cat "$tmp/err")"
    fi
}

# ---- the programs in the tree ----------------------------------------------

export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
generic="--socket-path --fd --inband --clock --trace --time-travel --stats
    --print-capabilities -v, --help --bus-latency --bus-bandwidth"
# shellcheck disable=SC2086 # word lists
for p in "sc-ssd --size --backing --channels --dies --page-size
        --pages-per-block --read-time --program-time --erase-time
        --channel-bandwidth" "sc-rng --seed --rate"; do
    set -- $p
    name=$1
    shift
    expect "vusim-$name --help" 0 "$builddir/vusim-$name" --help
    for w in $generic "$@"; do
        has "...lists $w" "$w"
    done
    has "...lists vusim-$name replay TRACE" "vusim-$name replay TRACE"
    expect "vusim-$name: an unknown option is refused" 2 \
        "$builddir/vusim-$name" --socket-path="$tmp/x.sock" --bogus=1
    has "...in one line naming it" "--bogus=1" "$tmp/err"
    one_line
done
expect "vusim-sc-ssd: a size that is not whole sectors is refused" 2 \
    "$builddir/vusim-sc-ssd" --socket-path="$tmp/x.sock" --size=1000
has "...naming it" "--size=1000" "$tmp/err"

# ---- built against the installed files only -------------------------------

deps=$(LD_LIBRARY_PATH=$libdir ldd "$PROG")
for l in libvusim-systemc libvusim-program libvusim; do
    if grep -q "$l.so.0 => $libdir/" <<<"$deps"; then
        ok "vusim-sc-rng links the staged $l"
    else
        not_ok "vusim-sc-rng links $l" "$deps"
    fi
done

# ---- what vusim_sc::main() gives it ---------------------------------------

expect "vusim-sc-rng --help" 0 "$RNG" --help
for w in --socket-path --fd --inband --clock --trace --time-travel --stats \
    --print-capabilities "-v," --help --seed --rate --bus-latency \
    --bus-bandwidth "replay TRACE"; do
    has "--help lists $w" "$w"
done
expect "vusim-sc-rng --print-capabilities" 0 "$RNG" --print-capabilities
has "...type rng" '"type": "rng"'
expect "a bad rate is refused" 2 "$RNG" --socket-path="$tmp/x.sock" --rate=0
has "...in one line naming it" "--rate=0" "$tmp/err"
one_line
expect "an unknown option is refused" 2 "$RNG" --socket-path="$tmp/x.sock" \
    --size=1M
has "...naming it" "--size=1M" "$tmp/err"

# ---- its stream, through the reference front-end ---------------------------

for t in rng_inband rng_eventfd; do
    expect "integration $t against the out-of-tree build" 0 \
        env VUSIM_ITEST_RNG_PROGRAM="$RNG" "$ITEST" sc_ssd "$t"
    has "...no failure" "asserts +[0-9]+ +[0-9]+ +[0-9]+ +0 "
done

echo "sc-programs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
