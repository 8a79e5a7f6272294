# SPDX-License-Identifier: MIT
#
# tests/check-lib.sh - what the shell test scripts share (sourced, bash)
#
# check_init NAME: a scratch folder in $tmp (removed at exit, with every
# process whose pid is in the pids array killed first), and the pass/fail
# counters that ok and not_ok keep and check_end reports as
# "NAME: N passed, N failed" (exit 1 on any failure).

check_init()
{
    CHECK_NAME=$1
    pass=0
    fail=0
    pids=()
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/vusim-$1.XXXXXX") || exit 99
    trap check_cleanup EXIT
}

check_cleanup()
{
    for p in "${pids[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}

ok()
{
    pass=$((pass + 1))
    echo "ok - $1"
}

not_ok()
{
    fail=$((fail + 1))
    echo "FAIL - $1: $2"
}

# check_built FILE...: each must be an executable, else exit 99 (a hard
# error for automake: the build is incomplete).
check_built()
{
    local f

    for f in "$@"; do
        if [ ! -x "$f" ]; then
            echo "$CHECK_NAME: $f is not built" >&2
            exit 99
        fi
    done
}
