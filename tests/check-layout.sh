#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/check-layout.sh - the layout's dependency rules hold:
#
# 1. no cycle between folders: an edge A -> B for each #include "B/..." in a
#    source or header under A (folders: sim, traces, each cosim/NAME, since
#    each is a product of its own, and each devices/NAME, a device of its
#    own; devices is the device API, dev.h and dev.c, below every device,
#    and devices/registry.c, the table that names each in-tree device, is
#    the node devices/registry above them);
# 2. no cycle between modules: an edge A -> B for each symbol an object of
#    module A uses that an object of module B defines, in the built objects
#    (a module is a folder and a file stem up to its first '_': reader.c and
#    reader_scan.c are traces/reader; skipped without a build);
# 3. the lower layers record nothing themselves: nothing under sim/,
#    devices/, cosim/wire/ or cosim/backend/ includes a traces/ header (the
#    back-end declares an observer, sim/ a calendar observer; traces/
#    implements them).
#
# Before it looks at the tree it checks its own cycle finder on a graph
# with a cycle, so a broken finder cannot pass. Run by `make check` from
# the top build directory; reads the sources under $srcdir and the objects
# under $builddir.
set -u

top=$(cd "${srcdir:-.}" && pwd) || exit 99
build=$(cd "${builddir:-.}" && pwd) || exit 99
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0

# has_cycle NAME < "from to" lines: print the cycle (tsort's report) and
# succeed if the graph has one. Self-edges are not cycles.
has_cycle()
{
    awk '$1 != $2' | LC_ALL=C sort -u >"$tmp/edges"
    if tsort "$tmp/edges" >/dev/null 2>"$tmp/tsort"; then
        return 1
    fi
    echo "check-layout: $1 cycle:"
    grep -v 'input contains a loop' "$tmp/tsort" | sed 's/^tsort: /  /'
    return 0
}

# --- the finder finds a cycle, and finds none where there is none
if ! printf 'a b\nb c\nc a\n' | has_cycle "self-test" >/dev/null ||
   printf 'a b\nb c\na c\nc c\n' | has_cycle "self-test" >/dev/null; then
    echo "check-layout: the cycle finder is broken (tsort?)" >&2
    exit 99
fi

cd "$top" || exit 99
files=$(find sim devices cosim traces \
            \( -name '*.[ch]' -o -name '*.cc' \) 2>/dev/null | LC_ALL=C sort)
if [ -z "$files" ]; then
    echo "check-layout: no sources found under $top" >&2
    exit 99
fi

# The folder a path belongs to: cosim/NAME or devices/NAME, the registry
# (devices/registry), else its top folder.
# shellcheck disable=SC2016 # an awk program, not shell
folder_awk='
function folder(p,   n, c) {
    n = split(p, c, "/")
    if ((c[1] == "cosim" || c[1] == "devices") && n > 2) {
        return c[1] "/" c[2]
    }
    if (p == "devices/registry.c") { return "devices/registry" }
    return c[1]
}'

# --- 1. folders, from the includes
# shellcheck disable=SC2086 # file names have no spaces
grep -H '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files |
    sed 's/:[^"]*"\([^"]*\)".*/ \1/' |
    awk "$folder_awk"'
        $2 ~ /^(sim|devices|cosim|traces)\// { print folder($1), folder($2) }' \
    >"$tmp/fedges"
if has_cycle "folder" <"$tmp/fedges"; then
    fail=1
fi
nfolders=$(tr ' ' '\n' <"$tmp/fedges" | LC_ALL=C sort -u | grep -c .)

# --- 3. no traces/ from the lower layers
# shellcheck disable=SC2086
bad=$(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"traces/' \
          $(printf '%s\n' $files |
            grep -E '^(sim|devices|cosim/wire|cosim/backend)/') 2>/dev/null)
if [ -n "$bad" ]; then
    echo "check-layout: sim/, devices/, cosim/wire/ and cosim/backend/ must" \
         "not include traces/ (declare an observer instead):"
    printf '%s\n' "$bad" | sed 's/^/  /'
    fail=1
fi

# --- 2. modules, from the built objects' symbols
objs=$(cd "$build" && find sim devices cosim traces -name '*.o' \
           ! -name '*-test*' 2>/dev/null | LC_ALL=C sort)
nmods=0
nobjs=0
if [ -n "$objs" ] && command -v nm >/dev/null 2>&1; then
    : >"$tmp/defs"
    : >"$tmp/uses"
    for o in $objs; do
        # cosim/backend/.libs/libvusim_la-backend_queue.o -> cosim/backend
        # and backend: the target prefix and the stem's tail go.
        src=$(printf '%s\n' "$o" | sed 's|/\.libs/|/|')
        dir=${src%/*}
        stem=${src##*/}
        stem=${stem%.o}
        stem=${stem#*_la-}        # libtool: libNAME_la-STEM
        stem=${stem#vusim-}       # the program: vusim-STEM
        # A stale object (its source moved or gone) is not the build's.
        [ -f "$top/$dir/$stem.c" ] || [ -f "$top/$dir/$stem.cc" ] ||
            continue
        mod=$dir/${stem%%_*}
        nobjs=$((nobjs + 1))
        nm -g --defined-only "$build/$o" 2>/dev/null |
            awk -v m="$mod" 'NF >= 3 { print $3, m }' >>"$tmp/defs"
        nm -u "$build/$o" 2>/dev/null |
            awk -v m="$mod" '{ print $NF, m }' >>"$tmp/uses"
    done
    LC_ALL=C sort -u "$tmp/defs" >"$tmp/defs.s"
    LC_ALL=C sort -u "$tmp/uses" >"$tmp/uses.s"
    # use: symbol user-module; def: symbol definer-module -> user definer
    LC_ALL=C join "$tmp/uses.s" "$tmp/defs.s" | awk '{ print $2, $3 }' \
        >"$tmp/medges"
    if has_cycle "module" <"$tmp/medges"; then
        fail=1
    fi
    nmods=$(awk '{ print $2 }' "$tmp/defs.s" | LC_ALL=C sort -u | grep -c .)
    if [ "$nobjs" -eq 0 ]; then
        echo "check-layout: none of the objects under $build matched a" \
             "source: the module check read nothing"
        fail=1
    fi
else
    echo "check-layout: no objects under $build: module check skipped"
fi

if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "check-layout: no cycle between $nfolders folders or $nmods modules" \
     "($nobjs objects);" \
     "no traces/ include below traces/"
exit 0
