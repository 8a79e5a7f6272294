#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/tt/tt-random.sh - a time-travel guest's randomness comes from the
# seeded `vusim rng` on its calendar, and only from it
#
# One vusim is the guest's time-travel controller and its virtio-rng
# device (`vusim rng --seed=N --time-travel=TT --trace=TRACE`); the guest
# (host root, tests/tt/init-host.sh, tt_work=random) prints 64 bytes of
# /dev/urandom, bash's $RANDOM and $SRANDOM twice, a UUID from the kernel
# (/proc/sys/kernel/random/uuid), where its stack was placed and where
# bash and its heap were loaded (ASLR).
# Passes when VUSIM_TT_RUNS runs (default 3) with seed 1 give
# byte-identical consoles and traces, each trace's header names the seed,
# and a run with seed 2 prints different values for every one of them.
# ($RANDOM follows the seed only through bash's load address: bash mixes
# the address of one of its functions into the seed, beside the time of
# day and its pid, which the simulation fixes. README, "Determinism".)
set -uo pipefail

# shellcheck source=tests/tt/lib.sh
. "$(dirname "$0")/lib.sh"
guest_init tt-random
guest_require_vusim
tt_require_controller
tt_require_uml
[ -x /usr/bin/bash ] || guest_skip "no bash on the host"
guest_busybox >/dev/null || guest_skip "no static /bin/busybox (poweroff)"

RUNS=${VUSIM_TT_RUNS:-3}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-300}
TTSOCK=$GUEST_RUN/tt.sock
RNGSOCK=$GUEST_RUN/rng.sock
# What must follow the seed.
LINES=(TT-URANDOM TT-BASH-RANDOM TT-BASH-SRANDOM TT-UUID TT-STACK TT-PIE)

# run_once NAME SEED
run_once()
{
    local name=$1 seed=$2 dir=$GUEST_RUN/$1 rc=0

    mkdir -p "$dir"
    tt_vusim "vusim-$name" "$TTSOCK" "$RNGSOCK" -- rng \
        "--time-travel=$TTSOCK" --start-time=1700000000 \
        "--socket-path=$RNGSOCK" "--seed=$seed" "--trace=$dir/trace"
    tt_host_cmd 0 "$TTSOCK" g0 "virtio_uml.device=$RNGSOCK:4" tt_work=random
    guest_run "$dir/console.raw" "$TIMEOUT" "${TT_CMD[@]}" || rc=$?
    if [ -n "$GUEST_TIMED_OUT" ]; then
        tt_fail_run "$dir/console.raw" \
            "run $name: the guest did not finish within $TIMEOUT s"
    fi
    guest_vusim_stop "$VUSIM_PID" "vusim-$name"
    tt_console_clean "$dir/console.raw" >"$dir/console"
    tt_section "$dir/console" >"$dir/section" ||
        tt_fail_run "$dir/console" "run $name: no TT-START .. TT-END"
    grep -qx 'TT-STATUS: rc=0' "$dir/section" ||
        tt_fail_run "$dir/console" "run $name: the workload failed"
    "$VUSIM" trace info "$dir/trace" >"$dir/info" 2>&1 ||
        guest_fail "run $name: vusim trace info failed: $(cat "$dir/info")"
    grep -q "seed.*\b$seed\b" "$dir/info" ||
        guest_fail "run $name: the trace header does not name seed $seed"
    guest_say "run $name (seed $seed), exit status $rc:" \
        "$(grep '^TT-URANDOM' "$dir/section" | cut -c1-44)..."
}

for ((i = 1; i <= RUNS; i++)); do
    run_once "run$i" 1
done
run_once other 2
for ((i = 2; i <= RUNS; i++)); do
    tt_same "the trace" "$GUEST_RUN/run1/trace" "$GUEST_RUN/run$i/trace"
    tt_same "the console" "$GUEST_RUN/run1/console" "$GUEST_RUN/run$i/console"
done
for l in "${LINES[@]}"; do
    a=$(grep "^$l: " "$GUEST_RUN/run1/section") ||
        guest_fail "no $l line in the guest's output"
    b=$(grep "^$l: " "$GUEST_RUN/other/section") ||
        guest_fail "no $l line in the seed 2 guest's output"
    [ "$a" != "$b" ] ||
        guest_fail "$l is the same with seed 1 and seed 2: $a"
    guest_say "seed 1 / 2: $a / ${b#*: }"
done
guest_say "PASS"
