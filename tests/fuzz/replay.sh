#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/fuzz/replay.sh - every committed corpus input and every past crash
# (tests/fuzz/regress/TARGET) through its fuzz target, built as a plain
# program: a regression suite that runs in every build, sanitizers included.
set -eu
srcdir=${srcdir:-.}
builddir=${builddir:-.}
rc=0
for t in msg vq blk rng trace tt faults; do
    dirs=""
    for d in "$srcdir/tests/fuzz/corpus/$t" "$srcdir/tests/fuzz/regress/$t"; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    if [ -z "$dirs" ]; then
        echo "replay: no inputs for $t" >&2
        rc=1
        continue
    fi
    # shellcheck disable=SC2086
    if out=$("$builddir/tests/fuzz/fuzz-$t-replay" $dirs); then
        echo "replay: $t: $out"
    else
        echo "replay: $t FAILED: $out" >&2
        rc=1
    fi
done
exit $rc
