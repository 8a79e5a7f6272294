# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Variables set here (GUEST_*, VUSIM_*) are read by the scripts that source
# this file:
# shellcheck disable=SC2034
#
# tests/guest/lib.sh - host-side helpers for the guest tier (sourced, bash)
#
# Used by the guest tests (uml-blk.sh, qemu-blk.sh, qemu-rng.sh, and
# uml-blk-trace.sh), uml-demo.sh and bench/guests.sh.
#
# Finds the guest pieces (UML, QEMU, kernel, busybox, jq), builds the images
# (mkimage.sh), runs vusim and guests with hard timeouts, and checks what
# comes back: the workload's VUSIM-RESULT line, the regions it wrote (in the
# backing file), and vusim's --stats JSON.
#
# Every guest runs in its own session (setsid) and, on timeout or at the
# end, its whole process group is killed with SIGKILL: UML ignores SIGTERM
# and leaves helper processes behind.
#
# Scripts set GUEST_NAME (for messages) and call guest_init first. Exit
# codes: 0 pass, 1 fail, 77 skip (automake's convention). Every check that
# holds is counted (guest_ok); the script's last line is
# "NAME: N passed, N failed", which scripts/test.sh counts.
#
# VUSIM_GUEST_REQUIRED=1 turns every skip into a failure: a missing
# package, module, kernel or image is then an error (scripts/test.sh sets
# it, so that CI cannot pass with the guest tiers untested).
#
# Environment overrides: VUSIM (the vusim program), VUSIM_UML
# (linux.uml), VUSIM_UML_MODULES (its modules folder), VUSIM_QEMU,
# VUSIM_GUEST_KVER (kernel version for QEMU guests), VUSIM_BUSYBOX,
# VUSIM_QEMU_ACCEL (kvm or tcg: skip the probe), VUSIM_GUEST_TIMEOUT
# (seconds: replaces each test's guest time limit), VUSIM_GUEST_KEEP (keep
# the run folder in /tmp even when the test passes).

GUEST_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PATH=$PATH:/sbin:/usr/sbin
export PATH

guest_say()
{
    printf '%s: %s\n' "${GUEST_NAME:-guest}" "$*"
}

# Verdicts and diagnostics go to stderr, so that a failure inside $(...)
# still shows (the caller then exits: x=$(...) || exit 1).
GUEST_PASSED=0
GUEST_REPORTED=""

guest_skip()
{
    if [ -n "${VUSIM_GUEST_REQUIRED:-}" ]; then
        guest_fail "required (VUSIM_GUEST_REQUIRED is set), cannot run: $*"
    fi
    guest_say "SKIP: $*" >&2
    exit 77
}

guest_fail()
{
    guest_say "FAIL: $*" >&2
    exit 1
}

# guest_ok WHAT: one check held (counted; never call it inside $(...)).
guest_ok()
{
    GUEST_PASSED=$((GUEST_PASSED + 1))
    guest_say "ok - $*"
}

# guest_report RC: the counts line, once: passes, and 1 failed unless RC
# is 0 (a script stops at its first failed check).
guest_report()
{
    [ -z "$GUEST_REPORTED" ] || return 0
    GUEST_REPORTED=1
    [ "$1" -ne 77 ] || return 0
    # A benchmark that checks nothing itself has no counts to give.
    [ "$GUEST_PASSED" -gt 0 ] || [ "$1" -ne 0 ] || return 0
    printf '%s: %d passed, %d failed\n' "${GUEST_NAME:-guest}" \
        "$GUEST_PASSED" "$([ "$1" -eq 0 ] && echo 0 || echo 1)"
}

# guest_pass: the end of a passing test; fails if no check was counted.
guest_pass()
{
    [ "$GUEST_PASSED" -gt 0 ] || guest_fail "no check was made"
    guest_say "PASS"
}

# ---------------------------------------------------------------- discovery

# The static busybox (a dynamic one cannot run in the guests).
guest_busybox()
{
    local bb=${VUSIM_BUSYBOX:-/bin/busybox}

    [ -x "$bb" ] || return 1
    # ldd says "not a dynamic executable" for a static binary.
    if ldd "$bb" >/dev/null 2>&1; then
        return 1
    fi
    echo "$bb"
}

guest_uml()
{
    local uml=${VUSIM_UML:-/usr/bin/linux.uml}

    [ -x "$uml" ] || return 1
    echo "$uml"
}

# The UML modules folder that matches linux.uml's version.
guest_uml_modules()
{
    local uml ver

    if [ -n "${VUSIM_UML_MODULES:-}" ]; then
        echo "$VUSIM_UML_MODULES"
        return 0
    fi
    uml=$(guest_uml) || return 1
    ver=$("$uml" --version 2>/dev/null </dev/null) || return 1
    [ -d "/usr/lib/uml/modules/$ver/kernel" ] || return 1
    echo "/usr/lib/uml/modules/$ver"
}

guest_qemu()
{
    local q=${VUSIM_QEMU:-qemu-system-x86_64}

    command -v "$q" 2>/dev/null
}

# The newest kernel in /boot that has its modules and is readable.
guest_kver()
{
    local k ver best=""

    if [ -n "${VUSIM_GUEST_KVER:-}" ]; then
        echo "$VUSIM_GUEST_KVER"
        return 0
    fi
    for k in /boot/vmlinuz-*; do
        [ -r "$k" ] || continue
        ver=${k#/boot/vmlinuz-}
        [ -d "/lib/modules/$ver/kernel" ] || continue
        best=$(printf '%s\n%s\n' "$best" "$ver" | sort -V | tail -n 1)
    done
    [ -n "$best" ] || return 1
    echo "$best"
}

# vusim's QEMU (scripts/build-qemu.sh: Debian's 7.2 with the patch series)
# becomes the QEMU of this test: VUSIM_QEMU_PATCHED names it, else the
# cached build is used. None: skip, or fail when VUSIM_QEMU_REQUIRED is set
# (scripts/test.sh builds it first and sets it). It has TCG only.
guest_require_qemu_patched()
{
    local q="" top

    top=$(cd "$GUEST_LIB_DIR/../.." && pwd)
    if [ -n "${VUSIM_QEMU_PATCHED:-}" ]; then
        [ -x "$VUSIM_QEMU_PATCHED" ] ||
            guest_fail "VUSIM_QEMU_PATCHED=$VUSIM_QEMU_PATCHED is not an" \
                "executable"
        q=$VUSIM_QEMU_PATCHED
    else
        q=$("$top/scripts/build-qemu.sh" --cached 2>/dev/null | tail -n 1) ||
            q=""
    fi
    if [ -z "$q" ] || [ ! -x "$q" ]; then
        [ -z "${VUSIM_QEMU_REQUIRED:-}" ] ||
            guest_fail "no patched QEMU (scripts/build-qemu.sh failed?)"
        guest_skip "no patched QEMU: run scripts/build-qemu.sh or set" \
            "VUSIM_QEMU_PATCHED"
    fi
    [[ "$("$q" -device vhost-user-blk-pci,help 2>&1 </dev/null)" == \
        *inband=* ]] || guest_fail "$q has no inband property: not vusim's QEMU"
    VUSIM_QEMU=$q
    VUSIM_QEMU_ACCEL=tcg
    guest_say "QEMU: $q"
}

# What a test needs, or skip: "uml", "qemu" (plus the kernel), "jq".
guest_require()
{
    local what

    for what in "$@"; do
        case "$what" in
        uml)
            guest_uml >/dev/null ||
                guest_skip "no linux.uml (package user-mode-linux)"
            guest_uml_modules >/dev/null ||
                guest_skip "no UML modules for $(guest_uml) in /usr/lib/uml"
            ;;
        qemu)
            guest_qemu >/dev/null ||
                guest_skip "no qemu-system-x86_64 (package qemu-system-x86)"
            guest_kver >/dev/null ||
                guest_skip "no readable /boot/vmlinuz-* with" \
                    "/lib/modules (package linux-image-amd64)"
            ;;
        jq)
            command -v jq >/dev/null || guest_skip "no jq (package jq)"
            ;;
        busybox)
            guest_busybox >/dev/null ||
                guest_skip "no static busybox (package busybox-static)"
            ;;
        esac
    done
}

# ---------------------------------------------------------------- set-up

# guest_init NAME: the run folder $GUEST_RUN (fresh, under the build
# directory), the vusim program $VUSIM and the image folder $GUEST_IMG.
guest_init()
{
    GUEST_NAME=$1
    builddir=${builddir:-$(pwd)}
    VUSIM=${VUSIM:-$builddir/vusim}
    GUEST_IMG=$builddir/guest
    # Socket paths must stay short (108 bytes), so runs live in /tmp.
    GUEST_RUN=$(mktemp -d "${TMPDIR:-/tmp}/vusim-$GUEST_NAME.XXXXXX")
    GUEST_PIDS=()
    GUEST_GROUPS=()
    trap guest_cleanup EXIT
    trap 'exit 1' INT TERM HUP
}

# bench_init NAME SKIP-LINE [BUILDDIR]: guest_init for a benchmark
# (bench/*.sh), with the build directory its argument names; guest_skip
# then prints SKIP-LINE (the bench's last line, its keys "skip") and
# exits 0: make bench runs every bench, and one that cannot run says so
# and succeeds.
bench_init()
{
    if [ $# -ge 3 ]; then
        builddir=$(cd "$3" && pwd) || exit 1
    fi
    guest_init "$1"
    BENCH_SKIP_LINE=$2
    guest_skip()
    {
        guest_say "SKIP: $*"
        echo "$BENCH_SKIP_LINE"
        exit 0
    }
}

guest_require_vusim()
{
    [ -x "$VUSIM" ] || guest_fail "no vusim program at $VUSIM (build it)"
}

# guest_qemu_blk_init NAME: guest_init NAME for a QEMU guest whose disk
# is a vusim blk device: busybox, QEMU, jq and vusim required (skip or
# fail as guest_require says), the QEMU images built. Sets accel
# (guest_qemu_accel), size (64 MiB), disk (its backing file, made, zeroed)
# and sock (the device's socket path).
guest_qemu_blk_init()
{
    guest_init "$1"
    guest_require busybox qemu jq
    guest_require_vusim
    guest_images qemu
    accel=$(guest_qemu_accel)
    size=$((64 << 20))
    disk=$GUEST_RUN/disk.img
    sock=$GUEST_RUN/blk.sock
    truncate -s "$size" "$disk"
}

# Kill what is left; keep the run folder when the test failed.
guest_cleanup()
{
    local rc=$? p

    for p in "${GUEST_GROUPS[@]}"; do
        kill -KILL -- "-$p" 2>/dev/null
    done
    for p in "${GUEST_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    guest_report "$rc"
    if [ -z "${VUSIM_GUEST_KEEP:-}" ] &&
       { [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; }; then
        rm -rf "$GUEST_RUN"
    else
        guest_say "run files kept in $GUEST_RUN"
    fi
    exit "$rc"
}

# guest_images uml|qemu: build (or reuse) the images; sets GUEST_UML_ROOT
# or GUEST_CPIO.
guest_images()
{
    local rc=0

    "$GUEST_LIB_DIR/mkimage.sh" "$GUEST_IMG" "$1" >"$GUEST_RUN/mkimage.log" \
        2>&1 || rc=$?
    if [ "$rc" -eq 77 ]; then
        guest_skip "$(tail -n 1 "$GUEST_RUN/mkimage.log")"
    elif [ "$rc" -ne 0 ]; then
        cat "$GUEST_RUN/mkimage.log"
        guest_fail "mkimage.sh $1 failed"
    fi
    GUEST_UML_ROOT=$GUEST_IMG/uml-root
    GUEST_CPIO=$GUEST_IMG/qemu-initrd.cpio
}

# ---------------------------------------------------------------- processes

# guest_wait_socket PATH PID SECONDS: wait until vusim listens on PATH.
guest_wait_socket()
{
    local i n=$(($3 * 20))

    for ((i = 0; i < n; i++)); do
        [ -S "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# guest_vusim NAME ARGS...: start vusim in the background, its output in
# $GUEST_RUN/NAME.log; sets VUSIM_PID, VUSIM_NAME and VUSIM_STATS (the
# --stats file, if any). ARGS include --socket-path.
guest_vusim()
{
    local name=$1 sock="" a

    shift
    VUSIM_STATS=""
    for a in "$@"; do
        case "$a" in
        --socket-path=*) sock=${a#*=} ;;
        --stats=*) VUSIM_STATS=${a#*=} ;;
        esac
    done
    "$VUSIM" "$@" >"$GUEST_RUN/$name.log" 2>&1 &
    VUSIM_PID=$!
    VUSIM_NAME=$name
    GUEST_PIDS+=("$VUSIM_PID")
    if ! guest_wait_socket "$sock" "$VUSIM_PID" 10; then
        guest_say "vusim $* did not listen on $sock; its log:"
        tail -n 30 "$GUEST_RUN/$name.log"
        guest_fail "vusim did not start"
    fi
}

# guest_vusim_stop PID NAME: stop vusim (SIGTERM, then SIGKILL after 10 s)
# so it writes its --stats file; fails if it had crashed already.
guest_vusim_stop()
{
    local pid=$1 name=$2 i rc=0

    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" || rc=$?
        # Exiting by itself when the front-end leaves is fine; a crash is
        # not.
        if [ "$rc" -ne 0 ]; then
            tail -n 30 "$GUEST_RUN/$name.log"
            guest_fail "vusim ($name) exited with status $rc during the run"
        fi
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        tail -n 30 "$GUEST_RUN/$name.log"
        guest_fail "vusim ($name) ignored SIGTERM for 10 s"
    fi
    wait "$pid" || rc=$?
    # 143 is "killed by SIGTERM": vusim did not handle it (no stats then).
    if [ "$rc" -ne 0 ]; then
        tail -n 30 "$GUEST_RUN/$name.log"
        guest_fail "vusim ($name) exited with status $rc on SIGTERM"
    fi
}

# guest_run LOG SECONDS CMD...: run CMD in its own session with stdin from
# /dev/null and all output in LOG; kill its process group with SIGKILL after
# SECONDS. Returns CMD's status, or 124 on timeout (then GUEST_TIMED_OUT=1).
guest_run()
{
    local log=$1 secs=$2 pid rc=0 deadline

    shift 2
    GUEST_TIMED_OUT=""
    # A background job of a non-interactive shell is not a group leader,
    # so setsid(1) calls setsid() itself and execs: $! is the new session
    # and group id.
    setsid "$@" </dev/null >"$log" 2>&1 &
    pid=$!
    GUEST_GROUPS+=("$pid")
    deadline=$((SECONDS + secs))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        GUEST_TIMED_OUT=1
        kill -KILL -- "-$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 124
    fi
    wait "$pid" || rc=$?
    # UML leaves helpers (and a dead guest's threads) in its group.
    kill -KILL -- "-$pid" 2>/dev/null
    return "$rc"
}

# guest_console_tail LOG: the end of a guest's console, for failures.
guest_console_tail()
{
    {
        guest_say "---- console (last ${2:-40} lines of $1) ----"
        tail -n "${2:-40}" "$1" | tr -d '\r'
        guest_say "---- end of console ----"
    } >&2
}

# guest_uml_blk SOCK SIZE: boot the UML guest (guest_uml_cmd) on the
# virtio-blk back-end at SOCK, SIZE bytes, running the blk workload with
# its console in $GUEST_RUN/console.log; a guest that does not finish
# within VUSIM_GUEST_TIMEOUT seconds (240) is a hang (guest_hung).
guest_uml_blk()
{
    local timeout=${VUSIM_GUEST_TIMEOUT:-240} start=$SECONDS rc=0

    guest_uml_cmd "$GUEST_UML_ROOT" "virtio_uml.device=$1:2" \
        vusim_mode=blk "vusim_size=$2"
    guest_run "$GUEST_RUN/console.log" "$timeout" "${GUEST_CMD[@]}" || rc=$?
    guest_say "guest ran for $((SECONDS - start)) s (exit status $rc)"
    if [ -n "$GUEST_TIMED_OUT" ]; then
        guest_hung "$GUEST_RUN/console.log" "the UML guest did not finish" \
            "within $timeout s"
    fi
}

# guest_hung LOG MESSAGE...: the guest did not finish. Shows its console,
# stops the last vusim started (SIGTERM, 5 s) and shows its log and stats,
# which tell whether requests were left in flight, then fails.
guest_hung()
{
    local log=$1 i

    shift
    guest_console_tail "$log" 60
    if [ -n "${VUSIM_PID:-}" ] && kill -0 "$VUSIM_PID" 2>/dev/null; then
        kill -TERM "$VUSIM_PID" 2>/dev/null
        for ((i = 0; i < 50; i++)); do
            kill -0 "$VUSIM_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$VUSIM_PID" 2>/dev/null; then
            guest_say "vusim ($VUSIM_NAME) ignores SIGTERM: it is stuck" \
                "(busy or blocked), not waiting for the guest"
        fi
    fi
    guest_say "---- vusim ($VUSIM_NAME) log, last 20 lines ----"
    tail -n 20 "$GUEST_RUN/$VUSIM_NAME.log" 2>/dev/null
    if [ -n "${VUSIM_STATS:-}" ] && [ -s "$VUSIM_STATS" ]; then
        guest_say "---- vusim stats ----"
        cat "$VUSIM_STATS"
        echo
    fi
    guest_fail "$@"
}

# ---------------------------------------------------------------- UML

# guest_uml_cmd ROOT ARGS...: the linux.uml command line (in GUEST_CMD)
# for the image at ROOT; ARGS are extra kernel parameters.
guest_uml_cmd()
{
    local root=$1

    shift
    GUEST_CMD=("$(guest_uml)" mem=128M "root=/dev/root" rootfstype=hostfs
        "rootflags=$root" rw init=/init con=null "con0=fd:0,fd:1"
        quiet "$@")
}

# ---------------------------------------------------------------- QEMU

# The accelerator to use: kvm if a tiny guest boots and powers off under
# it within 20 s, else tcg. Cached for 30 minutes in the image folder.
guest_qemu_accel()
{
    local cache=$GUEST_IMG/qemu-accel rc=0 lock

    if [ -n "${VUSIM_QEMU_ACCEL:-}" ]; then
        echo "$VUSIM_QEMU_ACCEL"
        return
    fi
    # Parallel tests wait for one probe.
    exec {lock}>"$GUEST_IMG/.accel.lock"
    flock "$lock"
    if [ -f "$cache" ] && [ -n "$(find "$cache" -mmin -30 2>/dev/null)" ]; then
        cat "$cache"
        return
    fi
    if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
        echo tcg | tee "$cache"
        return
    fi
    # -cpu host is left out: with it QEMU 7.2 aborts on some hosts.
    guest_qemu_cmd kvm "" vusim_mode=boot
    guest_run "$GUEST_RUN/kvm-probe.log" 20 "${GUEST_CMD[@]}" || rc=$?
    if [ "$rc" -eq 0 ] && grep -q 'VUSIM-RESULT: status=ok' \
        "$GUEST_RUN/kvm-probe.log"; then
        echo kvm | tee "$cache"
    else
        echo tcg | tee "$cache"
    fi
}

# guest_qemu_cmd ACCEL SOCKETS KERNEL-ARGS...: the QEMU command line in
# GUEST_CMD. SOCKETS is a comma-separated list of vhost-user back-ends, each
# a vhost-user-blk-pci device, or vhost-user-rng-pci when written
# "rng:PATH"; it may be empty. GUEST_QEMU_DEVOPTS (",inband=on", say) is
# appended to every -device, GUEST_QEMU_CHAROPTS (",reconnect=1") to every
# -chardev.
guest_qemu_cmd()
{
    local accel=$1 socks=$2 kver s i=0 dev list

    shift 2
    kver=$(guest_kver)
    # shellcheck disable=SC2054 # commas inside QEMU option values
    GUEST_CMD=("$(guest_qemu)" -machine "q35,accel=$accel" -m 256M
        -object memory-backend-memfd,id=mem,size=256M,share=on
        -numa node,memdev=mem -smp 1
        -kernel "/boot/vmlinuz-$kver" -initrd "$GUEST_CPIO"
        -append "console=ttyS0 quiet panic=-1 $*"
        -nographic -no-reboot -nodefaults -serial stdio
        -net none)
    IFS=, read -r -a list <<<"$socks"
    for s in "${list[@]}"; do
        dev=vhost-user-blk-pci
        case "$s" in
        rng:*) dev=vhost-user-rng-pci s=${s#rng:} ;;
        esac
        GUEST_CMD+=(-chardev
            "socket,id=c$i,path=$s${GUEST_QEMU_CHAROPTS:-}"
            -device "$dev,chardev=c$i${GUEST_QEMU_DEVOPTS:-}")
        i=$((i + 1))
    done
}

# ---------------------------------------------------------------- checks

# guest_lines LOG TAG: the workload's "TAG: ..." lines, without carriage
# returns or whatever the console put before them on the same line (the
# firmware's escape sequences, say).
guest_lines()
{
    tr -d '\r' <"$1" | grep -ao "$2: .*"
}

# guest_result LOG: the VUSIM-RESULT line of a console log, or fail.
guest_result()
{
    local line

    line=$(guest_lines "$1" VUSIM-RESULT | tail -n 1)
    if [ -z "$line" ]; then
        guest_console_tail "$1" 60
        guest_fail "the guest printed no VUSIM-RESULT line"
    fi
    echo "$line"
}

# guest_field LINE KEY: the value of KEY=VALUE in a result line.
guest_field()
{
    local w

    for w in $1; do
        case "$w" in
        "$2="*) echo "${w#*=}"; return 0 ;;
        esac
    done
    return 1
}

# guest_check_result LOG KEY=VALUE...: the result line has status=ok and
# each KEY=VALUE; prints the line.
guest_check_result()
{
    local log=$1 line kv

    shift
    line=$(guest_result "$log") || exit 1
    guest_say "$line"
    for kv in status=ok "$@"; do
        if [ "$(guest_field "$line" "${kv%%=*}")" != "${kv#*=}" ]; then
            guest_console_tail "$log" 60
            guest_fail "expected $kv in the result line"
        fi
        guest_ok "result line has $kv"
    done
}

# guest_check_backing LOG FILE: every VUSIM-REGION the guest reported has
# the same md5 in the backing FILE, and the marker is there byte for byte.
guest_check_backing()
{
    local log=$1 file=$2 off len md5 got n=0 bb gen

    while read -r off len md5; do
        got=$(dd if="$file" bs=4096 skip=$((off / 4096)) \
              count=$((len / 4096)) 2>/dev/null | md5sum | cut -d' ' -f1)
        if [ "$got" != "$md5" ]; then
            guest_fail "backing file $file at $off+$len: md5 $got," \
                "the guest wrote $md5"
        fi
        guest_ok "backing file at $off+$len has the guest's md5"
        n=$((n + 1))
    done < <(guest_lines "$log" VUSIM-REGION | tr '=' ' ' |
             awk '$2 == "off" && $4 == "len" && $6 == "md5" {
                      print $3, $5, $7 }')
    [ "$n" -ge 1 ] || guest_fail "the guest reported no written region"
    # The pattern comes from the workload itself, run here.
    if bb=$(guest_busybox); then
        gen=("$bb" sh)
    else
        gen=(bash)
    fi
    if ! cmp -s <(dd if="$file" bs=65536 skip=16 count=1 2>/dev/null) \
        <("${gen[@]}" "$GUEST_LIB_DIR/workload.sh" --vusim-pattern); then
        guest_fail "the marker pattern is not at offset 1 MiB of $file"
    fi
    guest_ok "the marker is at offset 1 MiB of the backing file"
    guest_say "backing file: $n regions and the marker verified"
}

# guest_jq FILE FILTER: jq -r on vusim's --stats, failing the test on a
# parse error. The back-end's members (vu_backend_stats_json: queues,
# latency_ps, ...) are read at the top level, or from a "backend" object
# when the program nests them there.
guest_jq()
{
    jq -r "(. + (.backend // {})) | $2" "$1" 2>/dev/null ||
        guest_fail "cannot read $2 from stats $1: $(head -c 300 "$1")"
}

# guest_check_stats FILE MODE [inband]: queue 0 saw kicks and calls only in
# MODE (inband or eventfd), requests were completed, and notification_mode
# is MODE. With "inband", inband_negotiated must be true.
guest_check_stats()
{
    local f=$1 mode=$2 other got k

    [ -s "$f" ] || guest_fail "vusim wrote no stats file $f"
    other=eventfd
    [ "$mode" = eventfd ] && other=inband
    got=$(guest_jq "$f" .notification_mode) || exit 1
    [ "$got" = "$mode" ] ||
        guest_fail "stats: notification_mode is $got, expected $mode"
    guest_ok "stats: notification_mode is $mode"
    if [ "${3:-}" = inband ]; then
        got=$(guest_jq "$f" .inband_negotiated) || exit 1
        [ "$got" = true ] ||
            guest_fail "stats: inband_negotiated is $got, expected true"
        guest_ok "stats: inband_negotiated is true"
    fi
    for k in "kicks_$other" "calls_$other"; do
        got=$(guest_jq "$f" "[.queues[].$k] | add") || exit 1
        [ "$got" = 0 ] || guest_fail "stats: $k is $got, expected 0"
        guest_ok "stats: $k is 0"
    done
    for k in "kicks_$mode" "calls_$mode" requests completions; do
        got=$(guest_jq "$f" "[.queues[].$k] | add") || exit 1
        [ "$got" -gt 0 ] 2>/dev/null ||
            guest_fail "stats: $k is $got, expected > 0"
        guest_ok "stats: $k is $got"
    done
    got=$(guest_jq "$f" '[.queues[] | .requests - .completions] | add') ||
        exit 1
    [ "$got" = 0 ] ||
        guest_fail "stats: $got requests were never completed"
    guest_ok "stats: every request was completed"
    guest_say "stats: $mode mode (in-band negotiated:" \
        "$(guest_jq "$f" .inband_negotiated)), kicks" \
        "$(guest_jq "$f" "[.queues[].kicks_$mode] | add"), calls" \
        "$(guest_jq "$f" "[.queues[].calls_$mode] | add"), requests" \
        "$(guest_jq "$f" "[.queues[].requests] | add")"
}

# guest_check_flush FILE: the device saw FLUSH requests (the workload's
# fsyncs): device_stats.req_flush must be there and above 0.
guest_check_flush()
{
    local got

    got=$(guest_jq "$1" '.device_stats.req_flush // "absent"') || exit 1
    case "$got" in
    absent) guest_fail "stats: no device_stats.req_flush in $1" ;;
    0) guest_fail "stats: the device saw no FLUSH request" ;;
    esac
    [ "$got" -gt 0 ] 2>/dev/null ||
        guest_fail "stats: device_stats.req_flush is '$got'"
    guest_ok "stats: $got FLUSH requests reached the device"
}
