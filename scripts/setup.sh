#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/setup.sh - bring a Debian 12 machine to a built tree
#
# Usage: scripts/setup.sh [--no-guests]
#
# 1. installs the Debian packages that are missing (apt-get, as root or via
#    sudo); --no-guests skips the guest groups (UML, QEMU, kernel, busybox;
#    the kernel source for the time-travel UML);
# 2. runs autoreconf when configure is missing or older than its inputs;
# 3. configures build/default when it is not configured or configure changed;
# 4. runs make -j$(nproc) there.
#
# Every step is skipped when there is nothing to do, so a second run is quick.
# scripts/test.sh and scripts/demo.sh source this file and call vusim_setup
# (= vusim_prepare + vusim_build); vusim_configure is reused for the
# sanitizer build.

# Build and unit/integration tests; tests/cli.sh needs script(1)
# (bsdutils) for the status line on a terminal and groff for the man page;
# clang-14 and its runtime (libFuzzer) build the fuzz targets (tests/fuzz:
# make fuzz, and its smoke run in make check).
VUSIM_BUILD_PKGS=(
    build-essential autoconf automake libtool pkg-config
    libevent-dev libcunit1-dev libsystemc-dev libjansson-dev
    nettle-dev libxxhash-dev bsdutils groff-base
    clang-14 libclang-rt-14-dev
)

# Real guests for the guest test tier: UML, QEMU, a kernel, a static busybox;
# jq reads vusim's --stats JSON in those tests; e2fsprogs and kmod serve
# bench-guests' file-system workload (mkfs.ext4, insmod in the guest).
VUSIM_GUEST_PKGS=(
    user-mode-linux qemu-system-x86 busybox-static linux-image-amd64 jq
    e2fsprogs kmod
)

# Time-travel UML: scripts/build-tt-uml.sh builds a UML with time-travel
# support from the kernel source for the time-travel tier (tests/tt).
VUSIM_TT_PKGS=(
    linux-source-6.1 bc flex bison libelf-dev xz-utils kmod build-essential
)

VUSIM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

vusim_say()
{
    printf '== %s\n' "$*"
}

# Print the packages among "$@" that dpkg does not have installed.
vusim_missing_pkgs()
{
    local pkg status

    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) ||
            status=""
        case "$status" in
        ii*) ;;
        *) printf '%s\n' "$pkg" ;;
        esac
    done
}

# Run a command as root: directly when we are root, else through sudo.
vusim_as_root()
{
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup: need root to run '$*' and sudo is not installed" >&2
        return 1
    fi
}

vusim_install_pkgs()
{
    local missing

    missing=$(vusim_missing_pkgs "$@")
    if [ -z "$missing" ]; then
        return 0
    fi
    # shellcheck disable=SC2086 # one package name per word
    vusim_say "installing:" $missing
    # Another apt run (a second checkout's setup, unattended upgrades) holds
    # dpkg's lock for minutes at most: wait for it rather than fail.
    vusim_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=1200 update -q
    # shellcheck disable=SC2086
    vusim_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=1200 install -y -q \
        --no-install-recommends $missing
}

# True when configure is missing or older than any autotools input.
vusim_need_autoreconf()
{
    local f

    [ -f "$VUSIM_TOP/configure" ] || return 0
    for f in "$VUSIM_TOP/configure.ac" "$VUSIM_TOP/Makefile.am" \
             "$VUSIM_TOP"/*/local.mk; do
        if [ -f "$f" ] && [ "$f" -nt "$VUSIM_TOP/configure" ]; then
            return 0
        fi
    done
    return 1
}

vusim_autoreconf()
{
    if [ -f "$VUSIM_TOP/config.status" ]; then
        echo "setup: $VUSIM_TOP was configured in the source tree;" \
             "run 'make distclean' there first (builds go in build/)" >&2
        return 1
    fi
    if vusim_need_autoreconf; then
        vusim_say "autoreconf"
        (cd "$VUSIM_TOP" && autoreconf -fi)
        # autoconf may leave an unchanged configure alone; mark it fresh.
        touch "$VUSIM_TOP/configure"
    fi
}

# vusim_configure DIR [CONFIGURE-ARGS...]: configure DIR (relative to the
# top) when it has no Makefile or configure is newer than its config.status.
vusim_configure()
{
    local dir="$VUSIM_TOP/$1"

    shift
    if [ -f "$dir/Makefile" ] && [ -f "$dir/config.status" ] &&
       ! [ "$dir/config.status" -ot "$VUSIM_TOP/configure" ]; then
        return 0
    fi
    vusim_say "configure in ${dir#"$VUSIM_TOP"/}"
    mkdir -p "$dir"
    (cd "$dir" && "$VUSIM_TOP/configure" -q "$@")
}

# Packages, autoreconf and configure: everything before make.
vusim_prepare()
{
    local pkgs=("${VUSIM_BUILD_PKGS[@]}")

    if [ "${1:-}" != "--no-guests" ]; then
        pkgs+=("${VUSIM_GUEST_PKGS[@]}" "${VUSIM_TT_PKGS[@]}")
    fi
    vusim_install_pkgs "${pkgs[@]}"
    vusim_autoreconf
    vusim_configure build/default
}

vusim_build()
{
    vusim_say "make in build/default"
    make -C "$VUSIM_TOP/build/default" -s -j"$(nproc)"
}

vusim_setup()
{
    vusim_prepare "$@"
    vusim_build
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
    "" | --no-guests) vusim_setup "$@" ;;
    *) echo "usage: $0 [--no-guests]" >&2; exit 2 ;;
    esac
fi
