# SPDX-License-Identifier: MIT
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
