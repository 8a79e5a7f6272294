# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# scripts/build-lib.sh - what the cached-build scripts (build-tt-uml.sh,
# build-qemu.sh) share; sourced, never run. The caller sets BUILD_NAME,
# the prefix of its messages, before sourcing it.

say()
{
    printf '%s: %s\n' "$BUILD_NAME" "$*" >&2
}

die()
{
    say "$*"
    exit 1
}

# logged LOG CMD...: run CMD with its output appended to LOG; on failure
# show the end of LOG and stop.
logged()
{
    local log=$1

    shift
    if ! "$@" >>"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "failed: $*"
    fi
}

# cache_dir NAME: the cache folder of one kind of build.
cache_dir()
{
    printf '%s/%s\n' "${VUSIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vusim}" \
        "$1"
}

# cached CACHE KEY FILE CACHED_ONLY WHAT BUILD [ARG...]: print
# CACHE/KEY/FILE, the build's product, building it first when it is
# missing: `BUILD TMP OUT ARG...` fills the empty folder OUT (scratch space
# in TMP), which then becomes CACHE/KEY in one rename. With CACHED_ONLY 1
# a missing product is an error ("no cached WHAT") instead. BUILD_START is
# the build's start ($SECONDS), for its own notes.
cached()
{
    local cache=$1 key=$2 file=$3 only=$4 what=$5 build=$6 final tmp

    shift 6
    final=$cache/$key
    if [ -x "$final/$file" ]; then
        printf '%s\n' "$final/$file"
        return 0
    fi
    [ "$only" -eq 0 ] || die "no cached $what at $final"
    mkdir -p "$cache"
    # Parallel runs (make -j check) wait for one build instead of each
    # making their own; the rename below keeps it safe without flock too.
    exec 9>"$cache/.lock"
    flock 9
    if [ -x "$final/$file" ]; then
        printf '%s\n' "$final/$file"
        return 0
    fi
    tmp=$(mktemp -d "$cache/.build-$key.XXXXXX")
    # shellcheck disable=SC2064 # expand $tmp now
    trap "rm -rf '$tmp'" EXIT
    BUILD_START=$SECONDS
    mkdir "$tmp/out"
    "$build" "$tmp" "$tmp/out" "$@"
    # rename(2) of a directory is atomic; a racing run may have won.
    if ! mv -T "$tmp/out" "$final" 2>/dev/null; then
        [ -x "$final/$file" ] || die "cannot install into $final"
        say "another run installed $final first; using it"
    fi
    say "built in $((SECONDS - BUILD_START)) s: $final/$file"
    # A source tree takes long to delete on a busy disk: not our caller's
    # wait. Detached from our stdout so $(...) does not wait for it.
    trap - EXIT
    rm -rf "$tmp" >/dev/null 2>&1 &
    printf '%s\n' "$final/$file"
}
