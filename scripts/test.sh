#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/test.sh - set up (as scripts/setup.sh), then run the whole suite
#
# 0. the time-travel UML for tests/tt (scripts/build-tt-uml.sh: minutes the
#    first time, then cached), passed on as VUSIM_TT_UML; vusim's patched
#    QEMU (scripts/build-qemu.sh, cached the same way) as
#    VUSIM_QEMU_PATCHED;
# 1. make check in build/default (the normal build);
# 2. make check in build/asan, built with ASan+UBSan (leak checks on when
#    LeakSanitizer works here);
# 3. a summary from the automake logs. CUnit binaries count their tests from
#    the "tests" row of CUnit's Run Summary; other tests (scripts) count one
#    each from their .trs file, or from their own counts line ("NAME: N
#    passed, N failed", which cli.sh, trace.sh and every guest script
#    print). The last line is "N passed, N failed, N skipped" and the exit
#    status is non-zero if anything failed.
#
# The real-guest tier (tests/guest: UML, QEMU) and the time-travel tier
# (tests/tt) are required: a test there that cannot run (a missing package,
# module or kernel) fails instead of skipping, and a skip reported there
# counts as a failure. VUSIM_ALLOW_SKIP=1 in the environment asks
# otherwise (for a machine that cannot run guests); the summary then counts
# those skips as skipped.
set -euo pipefail

# shellcheck source=scripts/setup.sh
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$VUSIM_TOP"

CHECK_JOBS=${CHECK_JOBS:-2}
ASAN_CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer"
ASAN_CFLAGS+=" -fno-sanitize-recover=undefined"
ASAN_LDFLAGS="-fsanitize=address,undefined"

# LeakSanitizer needs ptrace-like access to the process; some sandboxes deny
# it. Probe with a program that leaks: leak checks stay on only if it is
# caught.
lsan_works()
{
    local tmp out=""

    tmp=$(mktemp -d)
    printf '#include <stdlib.h>\nvoid *volatile p;\n%s\n' \
        'int main(void) { p = malloc(16); p = 0; return 0; }' >"$tmp/leak.c"
    if ${CC:-cc} -fsanitize=address -g -o "$tmp/leak" "$tmp/leak.c"; then
        # The probe exits non-zero when it works: keep only its report.
        out=$(ASAN_OPTIONS=detect_leaks=1 "$tmp/leak" 2>&1) || true
    fi
    rm -rf "$tmp"
    case "$out" in
    *"LeakSanitizer: detected memory leaks"*) return 0 ;;
    *) return 1 ;;
    esac
}

# Remove the logs of an earlier run so a build that fails before the tests
# run cannot report stale results.
clean_test_logs()
{
    local trs

    [ -d "$1" ] || return 0
    while IFS= read -r trs; do
        rm -f "$trs" "${trs%.trs}.log"
    done < <(find "$1" -name '*.trs')
    rm -f "$1/test-suite.log"
}

# run_check DIR [MAKE-ARGS...]: make check in DIR; records the status in
# check_rc[DIR].
declare -A check_rc
run_check()
{
    local dir=$1

    shift
    vusim_say "make -j$CHECK_JOBS check in $dir $*"
    clean_test_logs "$dir"
    if make -C "$dir" -s -j"$CHECK_JOBS" check "$@"; then
        check_rc[$dir]=0
    else
        check_rc[$dir]=$?
    fi
}

# Print "passed failed skipped" for one test from its .trs and .log.
count_test()
{
    local trs=$1 log="${1%.trs}.log" result p f s

    # " PASS ", " FAIL ", ...: padded so that XFAIL never reads as FAIL.
    result=" $(sed -n 's/^:test-result: //p' "$trs" | sort -u | tr '\n' ' ')"
    # A skip in a required tier is a failure (VUSIM_ALLOW_SKIP=1: a skip).
    case "$trs" in
    */tests/guest/* | */tests/tt/*)
        if [ -z "${VUSIM_ALLOW_SKIP:-}" ] && [[ "$result" == *" SKIP "* ]]
        then
            echo "0 1 0"
            return
        fi ;;
    esac
    if [ -f "$log" ] && grep -q '^Run Summary:' "$log"; then
        read -r p f s < <(awk '
            /^Run Summary:/ { on = 1; next }
            on && $1 == "suites" { f += $5 }
            on && $1 == "tests" { p += $4; f += $5; s += $6 }
            on && $1 == "asserts" { on = 0 }
            END { print p + 0, f + 0, s + 0 }' "$log")
        # A crash or sanitizer report after the tests ran still fails.
        case "$result" in
        *" FAIL "* | *" ERROR "* | *" XPASS "*) [ "$f" -gt 0 ] || f=1 ;;
        esac
        echo "$p $f $s"
        return
    fi
    # A script's own counts: its last "NAME: N passed, N failed" line.
    if [ -f "$log" ] && read -r p f < <(sed -n -E \
        's/^[A-Za-z0-9_.-]+: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' \
        "$log" | tail -n 1) && [ -n "$p" ]; then
        case "$result" in
        *" FAIL "* | *" ERROR "* | *" XPASS "*) [ "$f" -gt 0 ] || f=1 ;;
        *" SKIP "*) echo "0 0 1"; return ;;
        esac
        echo "$p $f 0"
        return
    fi
    case "$result" in
    *" FAIL "* | *" ERROR "* | *" XPASS "*) echo "0 1 0" ;;
    *" SKIP "*) echo "0 0 1" ;;
    *" PASS "* | *" XFAIL "*) echo "1 0 0" ;;
    *) echo "0 1 0" ;;
    esac
}

total_p=0
total_f=0
total_s=0
failed_logs=()
build_lines=()

# summarize_build DIR: add DIR's counts to the totals, one line per test.
summarize_build()
{
    local dir=$1 trs p f s bp=0 bf=0 bs=0

    while IFS= read -r trs; do
        read -r p f s < <(count_test "$trs")
        printf '  %-46s %4d passed, %d failed, %d skipped\n' \
            "${trs%.trs}" "$p" "$f" "$s"
        bp=$((bp + p)) bf=$((bf + f)) bs=$((bs + s))
        if [ "$f" -gt 0 ]; then
            failed_logs+=("${trs%.trs}.log")
        fi
    done < <(find "$dir" -name '*.trs' | sort)
    if [ "${check_rc[$dir]}" -ne 0 ] && [ "$bf" -eq 0 ]; then
        echo "  $dir: make check failed outside any test (see above)"
        bf=$((bf + 1))
    fi
    build_lines+=("$dir: $bp passed, $bf failed, $bs skipped")
    total_p=$((total_p + bp)) total_f=$((total_f + bf))
    total_s=$((total_s + bs))
}

vusim_prepare
# A broken build still gets a summary: make check fails on it again below and
# counts as a failure there.
vusim_build || echo "note: the build failed; the tests below will too"
# The time-travel tier (tests/tt) needs a UML with time-travel support:
# built once (minutes), then cached outside the tree. Required here, so a
# failed build fails those tests instead of skipping them.
if [ -z "${VUSIM_ALLOW_SKIP:-}" ]; then
    export VUSIM_TT_REQUIRED=1 VUSIM_GUEST_REQUIRED=1
else
    echo "note: VUSIM_ALLOW_SKIP is set: the guest and time-travel tiers" \
        "may skip"
fi
VUSIM_TT_UML=$(scripts/build-tt-uml.sh | tail -n 1) || VUSIM_TT_UML=""
export VUSIM_TT_UML
# vusim's QEMU (Debian's 7.2 with scripts/patches/qemu-7.2/): built once
# (a long first build), then cached; its tests fail rather than skip
# without it.
export VUSIM_QEMU_REQUIRED=1
VUSIM_QEMU_PATCHED=$(scripts/build-qemu.sh | tail -n 1) ||
    VUSIM_QEMU_PATCHED=""
export VUSIM_QEMU_PATCHED
run_check build/default

export UBSAN_OPTIONS=print_stacktrace=1
if lsan_works; then
    export ASAN_OPTIONS=detect_leaks=1
else
    export ASAN_OPTIONS=detect_leaks=0
    echo "note: LeakSanitizer cannot run here (ptrace denied?);" \
         "ASan runs with detect_leaks=0"
fi
# C and C++ alike: libvusim-systemc, its tests and the example programs are
# instrumented too (SystemC's own library is not; see README, Tests).
vusim_configure build/asan CFLAGS="$ASAN_CFLAGS" CXXFLAGS="$ASAN_CFLAGS" \
    LDFLAGS="$ASAN_LDFLAGS" ||
    echo "note: configure failed in build/asan; its make check will too"
# The sanitizer build runs every tier, but of the time-travel tier only the
# workloads that reach vusim code the others do not: the e2fsprogs ones
# (tt-ext4, tt-writers, tt-two-ext4: a quarter of an hour, three runs each)
# drive the same blk and controller paths as tt-blk and tt-two, and in both
# builds they would take CI past its 90 minutes. The QEMU time-travel runs
# (tt-qemu, tt-mixed: about ten minutes here, all in TCG) are left out
# there for the same reason; qemu-blk, qemu-rng and qemu-inband still put
# vusim's QEMU paths under the sanitizers. VUSIM_ASAN_FULL_TT=1 runs them
# all there too. tt-faults stays: the fault actions, the control socket's
# gate and the CONTROL records under a real guest, 28 s here under ASan.
asan_tt=()
if [ "${VUSIM_ASAN_FULL_TT:-0}" != 1 ]; then
    asan_tt=("TT_TESTS=$(printf 'tests/tt/%s.sh ' \
        tt-blk tt-two tt-random tt-faults)" "TT_QEMU_TESTS=")
fi
run_check build/asan "${asan_tt[@]}"

vusim_say "summary"
summarize_build build/default
summarize_build build/asan
for log in "${failed_logs[@]}"; do
    vusim_say "FAILED: $log (last 60 lines)"
    tail -n 60 "$log" || true
done
printf '%s\n' "${build_lines[@]}"
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
