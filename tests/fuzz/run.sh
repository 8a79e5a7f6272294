#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/fuzz/run.sh SRCDIR BUILDDIR - `make fuzz`: build the libFuzzer
# targets in BUILDDIR/fuzz (clang, -fsanitize=fuzzer,address,undefined, a
# static libvusim of its own) and run each FUZZ_SECONDS seconds, one after
# the other, on a working corpus seeded from tests/fuzz/corpus and
# tests/fuzz/regress. FUZZ_RUNS=N bounds each run by N executions instead
# (-runs=N, no time limit): a long run that is stopped (SIGSTOP) and
# continued still does all its work. Prints per target
#   fuzz: TARGET execs=N crashes=N cov=N ft=N corpus=N slow=N
# and last
#   fuzz-targets=K execs-min=N crashes=N
# Exits 1 on any crash (its input is left in BUILDDIR/fuzz/crash-TARGET-*,
# to be copied to tests/fuzz/regress/TARGET/ with the fix), 77 when clang or
# libFuzzer is missing. FUZZ_JOBS=N runs N targets at once; FUZZ_WORKERS=N
# runs N processes on each target, sharing its corpus (with FUZZ_RUNS).
set -euo pipefail

src=$1
top=$2
dir=${FUZZ_DIR:-$top/fuzz}
secs=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:-}
# libFuzzer's per-input timeout is wall time: an input that is running when
# the run is stopped would count as a hang on SIGCONT. A run bounded by
# executions may be stopped (the quiet window stops it for 30 minutes), so
# its default timeout outlasts that; a hang is still caught, later.
if [ -n "$runs" ]; then
    bound=(-runs="$runs")
    timeout=${FUZZ_TIMEOUT:-2400}
else
    bound=(-max_total_time="$secs")
    timeout=${FUZZ_TIMEOUT:-25}
fi
# FUZZ_WORKERS=N runs N processes on each target at once (one per CPU);
# FUZZ_RUNS is then their sum, split evenly.
workers=${FUZZ_WORKERS:-1}
if [ "$workers" -gt 1 ]; then
    if [ -z "$runs" ]; then
        echo "fuzz: FUZZ_WORKERS needs FUZZ_RUNS" >&2
        exit 2
    fi
    bound_w=(-runs=$(((runs + workers - 1) / workers)))
fi
targets=${FUZZ_TARGETS:-msg vq blk rng trace tt faults}
cc=${FUZZ_CC:-clang-14}
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined"
flags+=" -fno-sanitize-recover=undefined"

if ! command -v "$cc" >/dev/null; then
    echo "fuzz: $cc not found (Debian: clang-14 libclang-rt-14-dev)" >&2
    exit 77
fi

mkdir -p "$dir"
if [ ! -f "$dir/Makefile" ] || [ "$dir/config.status" -ot "$src/configure" ]
then
    echo "== configure the fuzz build in $dir"
    (cd "$dir" && "$src/configure" -q CC="$cc" CFLAGS="$flags" \
        --disable-shared --with-systemc=no)
fi
bins=()
for t in $targets; do
    bins+=("tests/fuzz/fuzz-$t")
done
make -C "$dir" -s -j"${FUZZ_MAKE_JOBS:-2}" \
    FUZZ_LDFLAGS="-fsanitize=fuzzer,address,undefined" "${bins[@]}"

# Per-target input size limits: the guest-memory and trace targets need
# room for a memory image or a file. msg's guest memory is all zeros (its
# rings hold no request), so a session's coverage is in its first hundred
# frames or so; longer inputs cost time, not coverage (60 s from the seeds:
# cov 546 at 8192 bytes, 543 at 2048, at 1.4 times the executions). A tt
# input is 17 bytes a step: 2048 bytes are 120 messages among at most 3
# participants, where every corpus input so far is under 400 bytes; longer
# ones only slow a long run down as libFuzzer lets inputs grow.
max_len()
{
    case $1 in
    vq) echo 16384 ;;
    trace) echo 65536 ;;
    msg | tt) echo 2048 ;;
    *) echo 8192 ;;
    esac
}

# fuzz_exec TARGET WORK LOG ARGS...: one libFuzzer process on WORK (and
# the seeds), its output in LOG.
fuzz_exec()
{
    local t=$1 work=$2 log=$3 seeds=()
    shift 3
    for s in "$src/tests/fuzz/corpus/$t" "$src/tests/fuzz/regress/$t"; do
        [ -d "$s" ] && seeds+=("$s")
    done
    (cd "$dir" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        UBSAN_OPTIONS=print_stacktrace=1 \
        "./tests/fuzz/fuzz-$t" "$@" -print_final_stats=1 \
        -max_len="$(max_len "$t")" -timeout="$timeout" -rss_limit_mb=2048 \
        -artifact_prefix="$dir/crash-$t-" "$work" "${seeds[@]}" \
        >"$log" 2>&1)
}

run_one()
{
    local t=$1 work="$dir/corpus/$t" log="$dir/fuzz-$t.log" rc=0 execs=

    mkdir -p "$work"
    rm -f "$dir"/crash-"$t"-* "$dir"/leak-"$t"-* "$dir"/timeout-"$t"-*
    if [ "$workers" -gt 1 ]; then
        # Workers share the working corpus: libFuzzer rereads it every
        # second (-reload), so each mutates what the others found, as
        # under its own -jobs. Executions are the workers' sum; coverage
        # is the merged corpus's, replayed once at the end (-runs=0).
        local pids=() logs=() i r
        for ((i = 1; i <= workers; i++)); do
            logs+=("$dir/fuzz-$t.$i.log")
            fuzz_exec "$t" "$work" "${logs[-1]}" "${bound_w[@]}" &
            pids+=($!)
        done
        for i in "${pids[@]}"; do
            wait "$i" || { r=$?; [ "$rc" -eq 0 ] && rc=$r; }
        done
        cat "${logs[@]}" >"$log"
        execs=$(awk '/^stat::number_of_executed_units:/ { n += $2 }
                     END { print n + 0 }' "${logs[@]}")
        fuzz_exec "$t" "$work" "$log.replay" -runs=0 || rc=$?
        cat "$log.replay" >>"$log" && rm -f "$log.replay"
    else
        fuzz_exec "$t" "$work" "$log" "${bound[@]}" || rc=$?
    fi
    local cov ft crashes=0 n
    [ -n "$execs" ] ||
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    read -r cov ft < <(awk '/ cov: / { for (i = 1; i < NF; i++) {
        if ($i == "cov:") c = $(i + 1); if ($i == "ft:") f = $(i + 1) } }
        END { print c + 0, f + 0 }' "$log")
    # libFuzzer also leaves inputs slower than 10 s as crash-T-slow-unit-*:
    # on a loaded machine that is the load, not a finding; they are counted
    # apart (slow=N) and kept for a look.
    n=$(find "$dir" -maxdepth 1 \( -name "crash-$t-*" -o -name "leak-$t-*" \
        -o -name "timeout-$t-*" \) ! -name "*slow-unit*" | wc -l)
    slow=$(find "$dir" -maxdepth 1 -name "crash-$t-slow-unit-*" | wc -l)
    if [ "$rc" -ne 0 ] || [ "$n" -gt 0 ]; then
        crashes=$((n > 0 ? n : 1))
        # A signal libFuzzer does not catch (SIGPIPE, SIGKILL) leaves no
        # report and no input: name it, since nothing else will.
        local why="exit $rc"
        [ "$rc" -gt 128 ] && why+=", SIG$(kill -l $((rc - 128)) 2>/dev/null)"
        echo "fuzz: $t failed ($why); log $log:" >&2
        grep -m 20 -E 'ERROR|SUMMARY|invariant|deadly|Test unit written' \
            "$log" >&2 || tail -20 "$log" >&2
    fi
    echo "fuzz: $t execs=${execs:-0} crashes=$crashes cov=$cov ft=$ft" \
         "corpus=$(find "$work" -type f | wc -l) slow=$slow"
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
jobs=${FUZZ_JOBS:-1}
for t in $targets; do
    if [ "$jobs" -gt 1 ]; then
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
            wait -n || true
        done
        run_one "$t" >>"$out" &
    else
        run_one "$t" | tee -a "$out"
    fi
done
wait
[ "$jobs" -gt 1 ] && cat "$out"
awk '/^fuzz: .* execs=/ {
        k++
        for (i = 1; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] == "execs" && (min == "" || kv[2] + 0 < min)) min = kv[2] + 0
            if (kv[1] == "crashes") c += kv[2]
        }
     }
     END { printf "fuzz-targets=%d execs-min=%d crashes=%d\n", k, min, c
           exit c > 0 }' "$out"
