# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# tests/tt/lib.sh - helpers for the time-travel tier (sourced, bash)
#
# Builds on tests/guest/lib.sh (guest_init, guest_run, guest_fail, ...) and
# adds what time-travel runs need:
#   - the time-travel UML: $VUSIM_TT_UML, else scripts/build-tt-uml.sh
#     (cached; builds it once when linux-source-6.1 is installed); skip
#     (77) when there is none and none can be built;
#   - a hostfs root of its own (busybox, tests/tt/init.sh as /init,
#     tests/tt/ttprobe.c and rdtsc.c compiled with `cc -static`), cached under
#     $builddir/guest-tt/root;
#   - starting vusim with its time-travel socket and device sockets;
#   - cutting the deterministic part (TT-START .. TT-END) out of a console.
#
# Environment: VUSIM_TT_UML (the kernel), VUSIM_TT_RUNS (runs to compare,
# default 3), VUSIM_GUEST_TIMEOUT (seconds per guest run, default 120),
# VUSIM_TT_NOBUILD=1 (never build the kernel here: skip when not cached),
# VUSIM_TT_REQUIRED=1 (no kernel is a failure, not a skip; test.sh sets it).

TT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/guest/lib.sh
. "$TT_LIB_DIR/../guest/lib.sh"
TT_TOP=$(cd "$TT_LIB_DIR/../.." && pwd)

# VUSIM_TT_REQUIRED=1 makes every skip of this tier a failure, as
# VUSIM_GUEST_REQUIRED does for both tiers (guest_skip honours either).
if [ -n "${VUSIM_TT_REQUIRED:-}" ]; then
    VUSIM_GUEST_REQUIRED=1
fi

# Skip, or fail when a required tier cannot run (guest_skip decides).
tt_no_uml()
{
    guest_skip "$@"
}

# The time-travel UML in $TT_UML, or skip. A kernel named by VUSIM_TT_UML
# must exist (fail otherwise): the caller asked for it.
tt_require_uml()
{
    local log=$GUEST_RUN/build-tt-uml.log args=()

    if [ -n "${VUSIM_TT_UML:-}" ]; then
        [ -x "$VUSIM_TT_UML" ] ||
            guest_fail "VUSIM_TT_UML=$VUSIM_TT_UML is not an executable"
        TT_UML=$VUSIM_TT_UML
    else
        [ -z "${VUSIM_TT_NOBUILD:-}" ] || args=(--cached)
        guest_say "looking for the time-travel UML (scripts/build-tt-uml.sh" \
            "${args[*]}; the first build takes minutes)"
        if ! TT_UML=$("$TT_TOP/scripts/build-tt-uml.sh" "${args[@]}" \
            2>"$log" | tail -n 1) || [ ! -x "$TT_UML" ]; then
            tt_no_uml "no time-travel UML: set VUSIM_TT_UML or run" \
                "scripts/build-tt-uml.sh ($(tail -n 1 "$log"))"
        fi
    fi
    # UML's --help lists the time-travel parameters only when built in.
    # (Not `| grep -q`: under pipefail an early exit of grep fails it.)
    [[ "$("$TT_UML" --help 2>/dev/null </dev/null)" == *time-travel* ]] ||
        guest_fail "$TT_UML has no time-travel support" \
            "(CONFIG_UML_TIME_TRAVEL_SUPPORT)"
    guest_say "kernel: $TT_UML"
}

# Skip until vusim has the time-travel controller.
tt_require_controller()
{
    [[ "$("$VUSIM" blk --help 2>&1)" == *--time-travel* ]] ||
        guest_skip "this vusim has no --time-travel (controller) option"
}

# tt_require_uml_root: what a time-travel UML run on the busybox root
# needs (static busybox, vusim with the controller, the time-travel UML),
# or skip; then the root (tt_root).
tt_require_uml_root()
{
    guest_require busybox
    guest_require_vusim
    tt_require_controller
    tt_require_uml
    tt_root
}

# tt_root: build (or reuse) the guest root; sets TT_ROOT.
tt_root()
{
    local out=$builddir/guest-tt bb key tmp

    bb=$(guest_busybox) ||
        guest_skip "no static busybox (package busybox-static)"
    mkdir -p "$out"
    TT_ROOT=$out/root
    key=$(sha1sum "$TT_LIB_DIR/lib.sh" "$TT_LIB_DIR/init.sh" \
        "$TT_LIB_DIR/ttprobe.c" "$TT_LIB_DIR/rdtsc.c" "$bb" | cut -d' ' -f1 | sha1sum |
        cut -d' ' -f1)
    (
        flock 9
        if [ -d "$TT_ROOT" ] && [ "$(cat "$out/root.key" 2>/dev/null)" = "$key" ]
        then
            exit 0
        fi
        tmp=$out/root.new
        rm -rf "$tmp"
        tt_populate "$tmp" "$bb" || exit 1
        rm -rf "$TT_ROOT"
        mv "$tmp" "$TT_ROOT"
        echo "$key" >"$out/root.key"
    ) 9>"$out/.lock" || guest_fail "cannot build the guest root in $out"
}

# tt_populate DIR BUSYBOX: busybox with its applet links, /init, ttprobe,
# rdtsc.
tt_populate()
{
    local dir=$1 bb=$2 applet

    mkdir -p "$dir"/{bin,sbin,proc,sys,dev,tmp} || return 1
    cp "$bb" "$dir/bin/busybox" || return 1
    for applet in $("$bb" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
    done
    cp "$TT_LIB_DIR/init.sh" "$dir/init" || return 1
    chmod 755 "$dir/init" "$dir/bin/busybox"
    if ! ${CC:-cc} -static -O2 -std=gnu11 -Wall -Wextra \
        -o "$dir/bin/ttprobe" "$TT_LIB_DIR/ttprobe.c"; then
        guest_say "cannot compile ttprobe.c statically (libc6-dev?)"
        return 1
    fi
    if ! ${CC:-cc} -static -O2 -std=gnu11 -Wall -Wextra \
        -o "$dir/bin/rdtsc" "$TT_LIB_DIR/rdtsc.c"; then
        guest_say "cannot compile rdtsc.c statically (libc6-dev?)"
        return 1
    fi
}

# tt_vusim NAME SOCKET... -- ARGS...: start vusim ARGS in the background
# (log in $GUEST_RUN/NAME.log) and wait until it listens on every SOCKET;
# sets VUSIM_PID.
tt_vusim()
{
    local name=$1 socks=() s

    shift
    while [ "$1" != -- ]; do
        socks+=("$1")
        shift
    done
    shift
    "$VUSIM" "$@" </dev/null >"$GUEST_RUN/$name.log" 2>&1 &
    VUSIM_PID=$!
    GUEST_PIDS+=("$VUSIM_PID")
    for s in "${socks[@]}"; do
        if ! guest_wait_socket "$s" "$VUSIM_PID" 10; then
            guest_say "vusim $* did not listen on $s; its log:"
            tail -n 30 "$GUEST_RUN/$name.log"
            guest_fail "vusim did not start"
        fi
    done
}

# tt_uml_cmd ID TTSOCK ROOT ARGS...: the command line (TT_CMD) of a
# time-travel guest with id ID on the controller at TTSOCK.
tt_uml_cmd()
{
    local id=$1 tt=$2 root=$3

    shift 3
    # shellcheck disable=SC2034 # for the caller
    TT_CMD=("$TT_UML" "time-travel=ext:$id:$tt" mem=64M root=/dev/root
        rootfstype=hostfs "rootflags=$root" rw init=/init con=null
        "con0=fd:0,fd:1" "$@")
}

# tt_section LOG: the console from the line TT-START to the line TT-END,
# carriage returns removed; fails (status 1) when either is missing.
tt_section()
{
    # One process, reading to the end: no pipe to break under pipefail.
    awk '
        { gsub(/\r/, "") }
        !done && $0 == "TT-START" { on = 1 }
        on { print }
        on && $0 == "TT-END" { on = 0; done = 1 }
        END { exit done ? 0 : 1 }' "$1"
}

# tt_check_probe SECTION-FILE MIN-NS COUNT: ttprobe succeeded, made COUNT
# reads and each took at least MIN-NS of guest time. Prints a summary.
tt_check_probe()
{
    local f=$1 min=$2 count=$3 n bad

    grep -qx 'TT-STATUS: rc=0' "$f" || guest_fail "ttprobe failed:" \
        "$(grep -e '^ttprobe: error' -e '^TT-STATUS' "$f" | tr '\n' ' ')"
    n=$(grep -c '^read i=[0-9]* off=[0-9]* lat_ns=[0-9]* ' "$f")
    [ "$n" -eq "$count" ] ||
        guest_fail "ttprobe reported $n reads, expected $count"
    guest_ok "ttprobe made $count reads"
    bad=$(sed -n 's/^read i=\([0-9]*\) .* lat_ns=\([0-9]*\) .*/\1 \2/p' \
        "$f" | awk -v min="$min" '$2 < min { printf "i=%s:%sns ", $1, $2 }')
    [ -z "$bad" ] ||
        guest_fail "reads faster than the model's $min ns: $bad"
    guest_ok "every read took at least $min ns of guest time"
    guest_say "ttprobe: $(grep '^ttprobe: reads=' "$f")"
}

# tt_fail_run LOG WHY: print the console's end and fail.
tt_fail_run()
{
    guest_console_tail "$1" 40
    guest_fail "$2"
}

# tt_start LOG CMD...: start CMD in a session of its own (stdin /dev/null,
# output to LOG) without waiting; its pid is appended to TT_STARTED.
tt_start()
{
    local log=$1

    shift
    setsid "$@" </dev/null >"$log" 2>&1 &
    GUEST_GROUPS+=("$!")
    TT_STARTED+=("$!")
}

# tt_wait_all SECONDS: wait for every TT_STARTED guest; kill all of their
# process groups after SECONDS. Returns 124 on timeout, else 0; each exit
# status goes into TT_STATUS (same order); TT_STARTED is emptied.
tt_wait_all()
{
    local n=$(($1 * 10)) i p alive rc=0 st

    for ((i = 0; i < n; i++)); do
        alive=0
        for p in "${TT_STARTED[@]}"; do
            kill -0 "$p" 2>/dev/null && alive=1
        done
        [ "$alive" -eq 1 ] || break
        sleep 0.1
    done
    [ "$alive" -eq 0 ] || rc=124
    TT_STATUS=()
    for p in "${TT_STARTED[@]}"; do
        kill -KILL -- "-$p" 2>/dev/null
        st=0
        wait "$p" 2>/dev/null || st=$?
        TT_STATUS+=("$st")
    done
    TT_STARTED=()
    return "$rc"
}

# ---------------------------------------------------------------- QEMU

# tt_qemu_initrd: QEMU's initramfs for the time-travel tier in
# $TT_QEMU_INITRD: the guest tier's (tests/guest/mkimage.sh: busybox, the
# virtio modules) with a second archive appended that replaces /init by
# tests/tt/init.sh and adds the static ttprobe. Both archives are
# uncompressed (the kernel rejects a plain one after a compressed one);
# the later /init wins. Cached under $builddir/guest-tt by content.
tt_qemu_initrd()
{
    local out=$builddir/guest-tt base key tmp

    guest_images qemu
    base=$GUEST_CPIO
    tt_root
    mkdir -p "$out"
    TT_QEMU_INITRD=$out/qemu-initrd.cpio
    key=$(sha1sum "$base" "$TT_ROOT/init" "$TT_ROOT/bin/ttprobe" |
        cut -d' ' -f1 | sha1sum | cut -d' ' -f1)
    (
        flock 9
        if [ -f "$TT_QEMU_INITRD" ] &&
           [ "$(cat "$out/qemu-initrd.key" 2>/dev/null)" = "$key" ]; then
            exit 0
        fi
        tmp=$out/qemu-tree
        rm -rf "$tmp"
        mkdir -p "$tmp/bin" || exit 1
        cp "$TT_ROOT/init" "$tmp/init" &&
            cp "$TT_ROOT/bin/ttprobe" "$tmp/bin/ttprobe" || exit 1
        {
            cat "$base"
            (cd "$tmp" && printf '%s\n' init bin/ttprobe |
                "$TT_ROOT/bin/busybox" cpio -o -H newc 2>/dev/null)
        } >"$TT_QEMU_INITRD.new" || exit 1
        mv "$TT_QEMU_INITRD.new" "$TT_QEMU_INITRD"
        rm -rf "$tmp"
        echo "$key" >"$out/qemu-initrd.key"
    ) 9>"$out/.qemu-lock" ||
        guest_fail "cannot build the QEMU initramfs in $out"
}

# tt_qemu_cmd ID TTSOCK START_S DEVICES ARGS...: the command line (TT_CMD)
# of vusim's QEMU (guest_require_qemu_patched) as the time-travel
# participant ID of the controller at TTSOCK: one instruction per ns
# (-icount shift=0,sleep=off), the RTC at START_S on the virtual clock,
# a fixed -seed, one vCPU. DEVICES is a comma-separated list of
# vhost-user sockets as for guest_qemu_cmd ("rng:PATH" for an rng), each
# with inband=on. ARGS are kernel parameters for tests/tt/init.sh.
tt_qemu_cmd()
{
    local id=$1 tt=$2 start=$3 socks=$4 rtc

    shift 4
    rtc=$(date -u -d "@$start" +%Y-%m-%dT%H:%M:%S)
    GUEST_CPIO=$TT_QEMU_INITRD
    GUEST_QEMU_DEVOPTS=,inband=on
    guest_qemu_cmd tcg "$socks" "$@"
    # shellcheck disable=SC2054 # commas inside QEMU option values
    TT_CMD=("${GUEST_CMD[@]}" -icount shift=0,sleep=off
        -rtc "base=$rtc,clock=vm" -seed 1
        -object "time-travel,id=tt,path=$tt,client-id=$id")
}

# ---------------------------------------------------------------- host root
#
# Guests whose root is the host's own `/` (hostfs, read-only) run the
# host's programs (tests/tt/init-host.sh). Nothing they see of the host may
# change between runs: the tree they copy is built once, with fixed
# timestamps (its atime far in the future, so that reading it never
# updates it under relatime), and the paths on their command line are the
# same in every run of a test.

# tt_tree: build (or reuse) the tree the ext4 workload copies, over 1000
# files of the host's headers; sets TT_TREE.
tt_tree()
{
    local out=$builddir/guest-tt tmp d

    mkdir -p "$out"
    TT_TREE=$out/tree
    (
        flock 9
        [ -e "$out/tree.done" ] && exit 0
        tmp=$out/tree.new
        rm -rf "$tmp" "$TT_TREE"
        mkdir -p "$tmp" || exit 1
        for d in linux asm-generic x86_64-linux-gnu sound rdma; do
            [ -d "/usr/include/$d" ] || continue
            cp -a "/usr/include/$d" "$tmp/" || exit 1
        done
        chown -R 0:0 "$tmp" 2>/dev/null
        find "$tmp" -exec touch -h -m -d @1600000000 {} + &&
            find "$tmp" -exec touch -h -a -d @4102444800 {} + || exit 1
        mv "$tmp" "$TT_TREE" && touch "$out/tree.done"
    ) 9>"$out/.tree.lock" || guest_fail "cannot build the tree in $out"
    [ "$(find "$TT_TREE" -type f | wc -l)" -ge 1000 ] ||
        guest_fail "$TT_TREE has fewer than 1000 files"
}

# tt_host_cmd ID TTSOCK UMID ARGS...: the command line (TT_CMD) of a
# time-travel guest with the host's / as its root and
# tests/tt/init-host.sh (or $TT_HOST_INIT) as its init. UMID names its UML
# run folder, under $GUEST_RUN/uml (not ~/.uml: the same path in every
# run).
tt_host_cmd()
{
    local id=$1 tt=$2 umid=$3 init=${TT_HOST_INIT:-$TT_LIB_DIR/init-host.sh}

    shift 3
    mkdir -p "$GUEST_RUN/uml"
    # shellcheck disable=SC2034 # for the caller
    TT_CMD=("$TT_UML" "time-travel=ext:$id:$tt" mem=128M root=/dev/root
        rootfstype=hostfs rootflags=/ ro "init=$init"
        "uml_dir=$GUEST_RUN/uml" "umid=$umid" con=null "con0=fd:0,fd:1"
        "$@")
}

# tt_console_clean LOG: the whole console without carriage returns (the
# line driver writes CR LF), compared byte for byte between runs.
tt_console_clean()
{
    tr -d '\r' <"$1"
}

# tt_same NAME A B: fail unless files A and B (of runs 1 and N) are
# identical; for traces, show `vusim trace diff`'s first divergence.
tt_same()
{
    local what=$1 a=$2 b=$3

    cmp -s "$a" "$b" && return 0
    case "$what" in
    *trace*)
        "$VUSIM" trace diff "$a" "$b" 2>&1 | head -n 12 ;;
    *console*)
        diff "$a" "$b" | head -n 20 ;;
    *)
        cmp "$a" "$b" | head -n 3 ;;
    esac
    guest_fail "$what differs: $a $b"
}

# tt_locate_divergence DIR1 DIRN FILE...: where run N (its files in DIRN)
# first left run 1 (DIR1), for the caller to fail with. Each FILE is
# compared in both: a trace (*.trace) by `vusim trace diff`, which names
# the first differing record; anything else (a console, its TT-START ..
# TT-END section) by its first differing lines, carriage returns removed.
# Every device trace of a time-travel run also records each guest's
# exchanges with the controller (TT records), stamped with the guest's
# virtual time: for vusim's QEMU with -icount shift=0 that is one ns per
# instruction executed plus the time it spent idle or held by the
# controller, so the first differing TT record bounds where the guest's
# execution first went another way, even before that reached a device. A
# file missing from one run is named.
tt_locate_divergence()
{
    local a=$1 b=$2 f

    shift 2
    guest_say "where $b first differs from $a:"
    for f in "$@"; do
        if [ ! -f "$a/$f" ] || [ ! -f "$b/$f" ]; then
            guest_say "  $f: only in $([ -f "$a/$f" ] && echo "$a" ||
                echo "$b")"
            continue
        fi
        if cmp -s "$a/$f" "$b/$f"; then
            guest_say "  $f: identical"
            continue
        fi
        case "$f" in
        *.trace)
            guest_say "  $f: vusim trace diff (A = first run, B = this one)"
            "$VUSIM" trace diff "$a/$f" "$b/$f" 2>&1 | head -n 20 ;;
        *)
            guest_say "  $f: first differing lines (< first run, > this one)"
            diff <(tr -d '\r' <"$a/$f") <(tr -d '\r' <"$b/$f") |
                head -n 8 ;;
        esac
    done
}

# tt_check_waited STATS-JSON: every ring look of the run was made while
# its front-end waited for the message's ack (looks_unwaited is 0 for
# every device of vusim's --stats). A front-end that does not wait runs on
# while vusim looks at its rings, so what vusim finds depends on host
# timing (cosim/backend/backend.c, vu_answer).
tt_check_waited()
{
    local n got

    n=$(jq '[.. | objects | select(has("looks_unwaited"))] | length' \
        "$1") || guest_fail "cannot read $1"
    [ "$n" -gt 0 ] || guest_fail "$1 has no looks_unwaited counter"
    got=$(jq '[.. | objects | .looks_unwaited? // empty] | add' "$1")
    [ "$got" = 0 ] || guest_fail "stats: looks_unwaited is $got, expected" \
        "0: a front-end sent a ring message without waiting for its ack"
    guest_ok "stats: every ring look was made while its front-end waited"
}

# tt_check_qemu_quiet N LOG: vusim's QEMU (console and stderr in LOG) never
# warned that an interrupt reached it while its guest ran: then when the
# guest took it would have depended on host timing (softmmu/time-travel.c,
# time_travel_interrupt). vusim delivers calls only while the guest waits.
tt_check_qemu_quiet()
{
    if grep -aq 'time-travel: an interrupt arrived while the guest ran' "$2"
    then
        guest_fail "run $1: QEMU took an interrupt while its guest ran"
    fi
    guest_ok "run $1: every interrupt reached QEMU while its guest waited"
}
