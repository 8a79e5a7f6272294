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

# expect DESC STATUS COMMAND...: the command exits with STATUS. Its stdout
# is kept in $tmp/out and its stderr in $tmp/err; with CHECK_MERGE=1 (set
# by the script) both go to $tmp/out.
expect()
{
    local desc=$1 want=$2 rc=0
    shift 2
    if [ "${CHECK_MERGE:-0}" = 1 ]; then
        "$@" >"$tmp/out" 2>&1 || rc=$?
    else
        "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    fi
    if [ "$rc" -eq "$want" ]; then
        ok "$desc"
    else
        not_ok "$desc" "exit $rc, wanted $want: $(tail -n 3 "$tmp/out" \
            "$tmp/err" 2>/dev/null | tr '\n' ' ')"
    fi
}

# has DESC PATTERN [FILE]: the last command's stdout (or FILE) matches the
# extended regular expression PATTERN.
has()
{
    if grep -Eq -- "$2" "${3:-$tmp/out}"; then
        ok "$1"
    else
        not_ok "$1" "no '$2' in: $(head -c 400 "${3:-$tmp/out}" |
            tr '\n' ' ')"
    fi
}

# one_line: the last command's stderr is one line (a refusal).
one_line()
{
    if [ "$(wc -l <"$tmp/err")" -eq 1 ]; then
        ok "...one line"
    else
        not_ok "...one line" "$(cat "$tmp/err")"
    fi
}

# check_staged STAMP PROG [VAR=VALUE...]: a program built out of the tree
# against the staged `make install` (examples/local.mk) runs from the
# staged libraries only. Sets $staged_lib (the staged library folder, which
# STAMP holds) and writes $tmp/NAME (NAME: PROG's file name), a wrapper
# that runs PROG with them and the environment given; exits 99 without
# the stamp. check_staged_links LIB...: PROG links each staged LIB.
check_staged()
{
    local stamp=$1 prog=$2 name
    shift 2
    staged_lib=$(cat "$stamp") || exit 99
    staged_prog=$prog
    name=$(basename "$prog")
    printf '#!/bin/sh\n%s LD_LIBRARY_PATH=%s exec %s "$@"\n' "$*" \
        "$staged_lib" "$(cd "$(dirname "$prog")" && pwd)/$name" \
        >"$tmp/$name"
    chmod +x "$tmp/$name"
}

check_staged_links()
{
    local deps l name

    name=$(basename "$staged_prog")
    deps=$(LD_LIBRARY_PATH=$staged_lib ldd "$staged_prog")
    for l in "$@"; do
        if grep -q "$l.so.0 => $staged_lib/" <<<"$deps"; then
            ok "$name links the staged $l"
        else
            not_ok "$name links $l" "$deps"
        fi
    done
}
