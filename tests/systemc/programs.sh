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

check_staged "$STAMP" "$PROG" SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
RNG=$tmp/vusim-sc-rng

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

check_staged_links libvusim-systemc libvusim-program libvusim

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
