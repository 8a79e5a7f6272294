#!/bin/sh
# SPDX-License-Identifier: MIT
#
# scripts/check-wallclock.sh - the simulation never reads the wall clock.
#
# Nothing in sim/, cosim/, devices/ or traces/ may call time(), gettimeofday
# or clock_gettime, except sim/wallclock.c, the one door to the wall clock
# (for stats, pacing and benchmarks). Comments and string literals are
# ignored. Run by `make check`; reads the sources under $srcdir.
set -u

cd "${srcdir:-.}" || exit 99

files=$(find sim cosim devices traces \
            \( -name '*.[ch]' -o -name '*.cc' -o -name '*.cpp' \
               -o -name '*.hpp' \) ! -path sim/wallclock.c 2>/dev/null |
        LC_ALL=C sort)
if [ -z "$files" ]; then
    echo "check-wallclock: no sources found under $(pwd)" >&2
    exit 99
fi

# Blank out comments and string/char literals, keeping file:line numbers.
# shellcheck disable=SC2016 # an awk program, not shell
strip='
FNR == 1 { incomment = 0 }
{
    out = ""; n = length($0); i = 1
    while (i <= n) {
        c = substr($0, i, 1); c2 = substr($0, i, 2)
        if (incomment) {
            if (c2 == "*/") { incomment = 0; i += 2 } else { i++ }
            continue
        }
        if (c2 == "/*") { incomment = 1; out = out " "; i += 2; continue }
        if (c2 == "//") { break }
        if (c == "\"" || c == "\047") {
            q = c; i++
            while (i <= n && substr($0, i, 1) != q) {
                if (substr($0, i, 1) == "\\") { i++ }
                i++
            }
            out = out q q; i++
            continue
        }
        out = out c; i++
    }
    print FILENAME ":" FNR ":" out
}'

# shellcheck disable=SC2086 # file names have no spaces
hits=$(awk "$strip" $files |
    grep -E '(^|[^[:alnum:]_.>])time[[:space:]]*\(|(^|[^[:alnum:]_])(gettimeofday|clock_gettime)([^[:alnum:]_]|$)')

nfiles=$(printf '%s\n' "$files" | grep -c .)
if [ -n "$hits" ]; then
    echo "check-wallclock: wall-clock calls outside sim/wallclock.c" \
         "(use sim/wallclock.h):"
    printf '%s\n' "$hits"
    exit 1
fi
echo "check-wallclock: $nfiles files, no wall-clock calls"
exit 0
