#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/setup.sh - bring a Debian 12 machine to a built tree
#
# Usage: scripts/setup.sh [--no-guests]
#
# 1. installs the Debian packages that are missing (apt-get, as root or via
#    sudo); --no-guests skips the guest groups (UML, QEMU, kernel, busybox;
#    the kernel source for the time-travel UML; what vusim's QEMU build
#    needs, and a deb-src entry for apt-get source);
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

# vusim's QEMU: scripts/build-qemu.sh builds Debian's QEMU 7.2 source
# (apt-get source: dpkg-dev, and a deb-src entry that vusim_deb_src adds)
# with the patches in scripts/patches/qemu-7.2/, x86_64-softmmu with TCG
# only: these are all that build needs. Its firmware comes from
# qemu-system-x86 (qemu-system-data, seabios) in the guest group.
VUSIM_QEMU_PKGS=(
    dpkg-dev build-essential python3 meson ninja-build pkg-config
    libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev
)

# Time-travel UML: scripts/build-tt-uml.sh builds a UML with time-travel
# support from the kernel source, with the patches in
# scripts/patches/linux-6.1 (patch), for the time-travel tier (tests/tt),
# whose whole-system tests run the host's e2fsprogs in the guest.
VUSIM_TT_PKGS=(
    linux-source-6.1 bc flex bison libelf-dev xz-utils kmod build-essential
    patch e2fsprogs
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

# vusim_deb_src [APT-DIR]: make sure apt has a deb-src entry (apt-get source
# needs one). When no source entry exists in APT-DIR (default /etc/apt), add
# sources.list.d/vusim-deb-src.sources with one deb-src stanza per distinct
# "URIs + Suites + Components" of the deb entries there, in deb822 and
# one-line form alike, then apt-get update. Prints what it did; returns 0 if
# an entry exists at the end.
vusim_deb_src()
{
    local dir=${1:-/etc/apt} files=() f out tmp

    for f in "$dir"/sources.list "$dir"/sources.list.d/*.list \
             "$dir"/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ "${#files[@]}" -gt 0 ] || { echo "setup: no apt sources in $dir" >&2
                                  return 1; }
    if cat "${files[@]}" 2>/dev/null |
        grep -Eq '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)'; then
        return 0
    fi
    out=$dir/sources.list.d/vusim-deb-src.sources
    tmp=$(mktemp)
    awk '
        FNR == 1 { flush() }
        # deb822: a stanza is a run of non-empty lines.
        # Fields come in any order: Enabled: no may precede Types:.
        FILENAME ~ /\.sources$/ {
            if ($0 ~ /^[[:space:]]*$/) { flush(); next }
            if ($1 == "Types:") { deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
            else if ($1 == "URIs:" || $1 == "Suites:" || $1 == "Components:" ||
                     $1 == "Signed-By:") { f[$1] = $0 }
            else if ($1 == "Enabled:" && $2 == "no") { off = 1 }
            next
        }
        # one-line: deb [options] URI SUITE COMPONENTS...
        /^[[:space:]]*deb[[:space:]]/ {
            flush()
            i = 2
            opts = ""
            if ($2 ~ /^\[/) {
                while (i <= NF && $i !~ /\]$/) { opts = opts " " $i; i++ }
                opts = opts " " $i; i++
            }
            uri = $i; suite = $(i + 1); comps = ""
            for (j = i + 2; j <= NF; j++) comps = comps " " $j
            so = ""
            if (match(opts, /signed-by=[^] ]+/))
                so = "Signed-By: " substr(opts, RSTART + 10, RLENGTH - 10)
            emit("URIs: " uri, "Suites: " suite, "Components:" comps, so)
        }
        END { flush() }
        function flush() {
            if (deb && !off && f["URIs:"] != "")
                emit(f["URIs:"], f["Suites:"], f["Components:"], f["Signed-By:"])
            deb = 0; off = 0; delete f
        }
        function emit(u, s, c, k,   key) {
            key = u "|" s "|" c
            if (key in seen) return
            seen[key] = 1
            printf "%sTypes: deb-src\n%s\n%s\n%s\n", (n++ ? "\n" : ""), u, s, c
            if (k != "") print k
        }
    ' "${files[@]}" >"$tmp"
    if [ ! -s "$tmp" ]; then
        rm -f "$tmp"
        echo "setup: no deb entry in $dir to derive a deb-src entry from" >&2
        return 1
    fi
    vusim_say "adding a deb-src entry: $out"
    if [ -w "$dir/sources.list.d" ]; then
        install -m 0644 "$tmp" "$out"
    else
        vusim_as_root install -m 0644 "$tmp" "$out"
    fi
    rm -f "$tmp"
    if [ "$dir" = /etc/apt ]; then
        vusim_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get -o DPkg::Lock::Timeout=1200 update -q
    fi
}

# True when configure is missing or older than any autotools input.
vusim_need_autoreconf()
{
    local f

    [ -f "$VUSIM_TOP/configure" ] || return 0
    for f in "$VUSIM_TOP/configure.ac" "$VUSIM_TOP/Makefile.am" \
             "$VUSIM_TOP"/*/local.mk "$VUSIM_TOP"/*/*/local.mk; do
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
# top) when it has no Makefile, configure is newer than its config.status,
# or it was configured with other arguments (config.status --config says
# which), so a change of flags here reaches existing build trees. In that
# last case the tree is cleaned first: make does not rebuild an object
# when only the flags changed, and none built with the old ones may stay.
vusim_configure()
{
    local dir="$VUSIM_TOP/$1" old=() new=()

    shift
    new=("$@")
    if [ -f "$dir/Makefile" ] && [ -x "$dir/config.status" ]; then
        eval "old=($("$dir/config.status" --config 2>/dev/null))" ||
            old=("?")
        if [ "${old[*]@Q}" != "${new[*]@Q}" ]; then
            vusim_say "configure arguments changed in ${dir#"$VUSIM_TOP"/}:" \
                "make clean, configure"
            make -C "$dir" -s clean >/dev/null 2>&1 || true
        elif ! [ "$dir/config.status" -ot "$VUSIM_TOP/configure" ]; then
            return 0
        fi
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
        pkgs+=("${VUSIM_GUEST_PKGS[@]}" "${VUSIM_TT_PKGS[@]}"
               "${VUSIM_QEMU_PKGS[@]}")
    fi
    vusim_install_pkgs "${pkgs[@]}"
    if [ "${1:-}" != "--no-guests" ]; then
        vusim_deb_src
    fi
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
