#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/tt/tt-rdtsc.sh - RDTSC and RDTSCP in a time-travel guest read the
# simulated clock, the same on every run
#
# A user process of a UML guest is a host process: RDTSC would read the
# host's time-stamp counter. The time-travel UML (patch 0004 in
# scripts/patches/linux-6.1) runs them with PR_SET_TSC(PR_TSC_SIGSEGV) and
# emulates the fault from the simulated clock. The probe (tests/tt/rdtsc.c,
# tests/tt/init.sh tt_mode=rdtsc) prints the counter's deltas over
# simulated sleeps of 1, 10 and 250 ms, RDTSCP's delta and TSC_AUX, and how
# many reads a loop needs to see the counter move by 100000.
#
# 1. On this host: VUSIM_TT_RUNS runs (default 3) under `vusim rng` as the
#    time-travel controller. If the host traps RDTSC for the guest's
#    processes, the probe must pass and the consoles and traces must be
#    byte-identical. Some hosts ignore PR_SET_TSC (a paravirtualised
#    guest's user mode runs with its hypervisor's CR4): then the UML must
#    say so on its console ("the host does not trap RDTSC"), one run is
#    enough, and part 2 carries the proof.
# 2. Inside QEMU (tests/tt/init-nest.sh; TCG emulates CR4.TSD as a
#    processor does): the same UML with time-travel=inf-cpu, VUSIM_TT_RUNS
#    runs one after the other, then one run without time travel. The
#    time-travel runs must pass the probe with identical output; the one
#    without must run the probe to its end without a fault (stock
#    behaviour: RDTSC is not trapped then).
#
# Skips (77) without the time-travel UML, static busybox or QEMU and a
# kernel in /boot (fails instead under VUSIM_TT_REQUIRED).
set -uo pipefail

# shellcheck source=tests/tt/lib.sh
. "$(dirname "$0")/lib.sh"
guest_init tt-rdtsc
guest_require busybox
guest_require qemu
guest_require_vusim
tt_require_controller
tt_require_uml
tt_root

RUNS=${VUSIM_TT_RUNS:-3}
TIMEOUT=${VUSIM_GUEST_TIMEOUT:-120}
# UML boots inside TCG: slow, and slower on a loaded machine.
NEST_TIMEOUT=${VUSIM_TT_NEST_TIMEOUT:-1500}
TTSOCK=$GUEST_RUN/tt.sock
RNGSOCK=$GUEST_RUN/rng.sock
NOTRAP="the host does not trap RDTSC"

# check_probe SECTION WHAT: the probe ran and its checks passed.
check_probe()
{
    grep -qx 'TT-STATUS: rc=0' "$1" || {
        cat "$1"
        guest_fail "$2: the rdtsc probe failed"
    }
    if [ "$(grep -c '^TT-RDTSC: ' "$1")" -ne 3 ] ||
        ! grep -q '^TT-RDTSCP: .* aux=0$' "$1" ||
        ! grep -q '^TT-RDTSC-SPIN: ' "$1"; then
        cat "$1"
        guest_fail "$2: the probe's lines are missing"
    fi
}

# native_run N: one run on this host; leaves runN/{console,section,trace}.
native_run()
{
    local n=$1 dir=$GUEST_RUN/run$1 rc=0

    mkdir -p "$dir"
    tt_vusim "vusim$n" "$TTSOCK" "$RNGSOCK" -- rng \
        "--time-travel=$TTSOCK" --start-time=1700000000 \
        "--socket-path=$RNGSOCK" --seed=1 "--trace=$dir/trace"
    tt_uml_cmd 0 "$TTSOCK" "$TT_ROOT" "virtio_uml.device=$RNGSOCK:4" \
        tt_mode=rdtsc "uml_dir=$GUEST_RUN/uml" umid=tt-rdtsc
    guest_run "$dir/console.raw" "$TIMEOUT" "${TT_CMD[@]}" || rc=$?
    [ -z "$GUEST_TIMED_OUT" ] ||
        tt_fail_run "$dir/console.raw" "run $n: no end within $TIMEOUT s"
    guest_vusim_stop "$VUSIM_PID" "vusim$n"
    tt_console_clean "$dir/console.raw" >"$dir/console"
    tt_section "$dir/console" >"$dir/section" ||
        tt_fail_run "$dir/console" "run $n: no TT-START .. TT-END"
}

# ------------------------------------------------ 1. on this host
native_run 1
if grep -q "$NOTRAP" "$GUEST_RUN/run1/console"; then
    guest_ok "this host ignores PR_SET_TSC and the UML says so:" \
        "$(grep -o "$NOTRAP.*" "$GUEST_RUN/run1/console")"
else
    check_probe "$GUEST_RUN/run1/section" "run 1"
    for ((i = 2; i <= RUNS; i++)); do
        native_run "$i"
        check_probe "$GUEST_RUN/run$i/section" "run $i"
        tt_same "the console" "$GUEST_RUN/run1/console" \
            "$GUEST_RUN/run$i/console"
        tt_same "the trace" "$GUEST_RUN/run1/trace" "$GUEST_RUN/run$i/trace"
    done
    guest_ok "$RUNS runs on this host: identical consoles and traces"
fi

# ------------------------------------------------ 2. inside QEMU
# The initramfs: busybox for QEMU's Linux, tests/tt/init-nest.sh as its
# /init, the UML and its libraries, and under /uroot the UML's own root
# (the one tt_root built: busybox, tests/tt/init.sh as /init, the probes).
nest_initrd()
{
    local tree=$GUEST_RUN/nest lib

    rm -rf "$tree"
    mkdir -p "$tree"/{proc,sys,dev,tmp,uml} || return 1
    cp -a "$TT_ROOT/bin" "$tree/bin" &&
        cp -a "$TT_ROOT" "$tree/uroot" &&
        cp "$TT_LIB_DIR/init-nest.sh" "$tree/init" &&
        cp "$TT_UML" "$tree/uml/linux" || return 1
    for lib in $(ldd "$TT_UML" | grep -o '/[^ ]*'); do
        mkdir -p "$tree$(dirname "$lib")" && cp -L "$lib" "$tree$lib" ||
            return 1
    done
    (cd "$tree" && find . | "$TT_ROOT/bin/busybox" cpio -o -H newc \
        2>/dev/null) >"$GUEST_RUN/nest.cpio"
}

nest_initrd || guest_fail "cannot build the nested initramfs"
# TCG unless told: it emulates CR4.TSD everywhere (and KVM hangs on some
# hosts, see tests/guest/lib.sh).
accel=${VUSIM_QEMU_ACCEL:-tcg}
# -cpu max: TCG's default model has no RDTSCP.
NEST_CMD=("$(guest_qemu)" -machine "q35,accel=$accel" -cpu max -m 512M
    -smp 1 -kernel "/boot/vmlinuz-$(guest_kver)"
    -initrd "$GUEST_RUN/nest.cpio"
    -append "console=ttyS0 quiet panic=-1 tt_runs=$RUNS tt_mode=rdtsc"
    -nographic -no-reboot -nodefaults -serial stdio -net none)
guest_say "QEMU ($accel) runs the UML $RUNS times with time travel and" \
    "once without (minutes under TCG)"
start=$SECONDS
rc=0
guest_run "$GUEST_RUN/nest.raw" "$NEST_TIMEOUT" "${NEST_CMD[@]}" || rc=$?
[ -z "$GUEST_TIMED_OUT" ] ||
    tt_fail_run "$GUEST_RUN/nest.raw" "QEMU: no end within $NEST_TIMEOUT s"
guest_say "QEMU ran for $((SECONDS - start)) s (exit status $rc)"
tt_console_clean "$GUEST_RUN/nest.raw" >"$GUEST_RUN/nest.console"
grep -q '^NEST-DONE' "$GUEST_RUN/nest.console" ||
    tt_fail_run "$GUEST_RUN/nest.console" "QEMU: the runs did not finish"
# Cut the console into its runs: nestN.console, N = 1.. and "stock".
awk -v dir="$GUEST_RUN" '
    /^NEST-RUN: / { out = dir "/nest" $2 ".console"; next }
    /^NEST-DONE/ { out = "" }
    out != "" { print > out }' "$GUEST_RUN/nest.console"
for ((i = 1; i <= RUNS; i++)); do
    f=$GUEST_RUN/nest$i.console
    [ -f "$f" ] || guest_fail "QEMU: no console of run $i"
    ! grep -q "$NOTRAP" "$f" ||
        tt_fail_run "$f" "QEMU run $i: the UML found no RDTSC trap"
    tt_section "$f" >"$GUEST_RUN/nest$i.section" ||
        tt_fail_run "$f" "QEMU run $i: no TT-START .. TT-END"
    check_probe "$GUEST_RUN/nest$i.section" "QEMU run $i"
    [ "$i" -eq 1 ] || tt_same "the console" "$GUEST_RUN/nest1.section" \
        "$GUEST_RUN/nest$i.section"
done
guest_ok "$RUNS time-travel runs inside QEMU: the probe passes, the" \
    "output is identical"
f=$GUEST_RUN/nest-stock.section
tt_section "$GUEST_RUN/neststock.console" >"$f" ||
    tt_fail_run "$GUEST_RUN/nest.console" "QEMU: the run without time" \
    "travel has no TT-START .. TT-END"
if ! grep -q '^TT-RDTSC-SPIN: ' "$f" ||
    ! grep -q '^TT-STATUS: rc=[01]$' "$f"; then
    cat "$f"
    guest_fail "without time travel the probe did not run to its end"
fi
guest_ok "without time travel RDTSC is not trapped: $(grep -m1 '^TT-RDTSC: ' "$f")"
grep '^TT-RDTSC' "$GUEST_RUN/nest1.section" |
    while IFS= read -r l; do guest_say "$l"; done
guest_pass
