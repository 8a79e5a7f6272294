#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/build-qemu.sh - build (once) vusim's QEMU: Debian's QEMU 7.2 with
# the patch series in scripts/patches/qemu-7.2/
#
# Usage: scripts/build-qemu.sh [--cached | --source]
#
# Stock QEMU 7.2 acks the in-band notification bits and then uses eventfds,
# and it has no external clock. The patches add in-band notifications
# (device property inband=on) and a time-travel participant; see the
# patches' own commit messages and the README ("QEMU built by vusim").
#
# Steps: `apt-get source qemu=V` (V is the source version of the installed
# qemu-system-x86, so the firmware of qemu-system-data matches; needs a
# deb-src entry, which scripts/setup.sh adds), apply the series in name
# order with patch -p1 (NNNN-*.patch from 0001; the cover letter is not
# applied), write the device list below as
# configs/devices/x86_64-softmmu/vusim.mak, configure x86_64-softmmu with
# TCG only and without default features or devices, build
# qemu-system-x86_64 and strip it. Firmware comes from Debian's
# /usr/share/qemu and /usr/share/seabios (--firmwarepath).
#
# The result is cached outside the source tree, in
#   ${VUSIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vusim}/qemu/<hash>/
# (bin/qemu-system-x86_64, build.log, source), where <hash> covers the
# source version, every patch's bytes, the device list, the configure
# options and QEMU_RECIPE (bump it when the build steps change). The
# downloaded source package is kept in .../qemu/src/ for the next build.
#
# The configured build tree is kept too, in .../qemu/tree-<hash2> (<hash2>
# is the key without the patches, about 500 MB): when only the patches
# changed, the old series is reverse-applied, the new one applied and ninja
# recompiles what they touch (a minute instead of the full build). If the
# tree is not in a known state (an interrupted run, a patch that does not
# reverse) it is rebuilt from scratch. VUSIM_QEMU_FRESH=1 forces that.
# Runs are serialised with flock(1); the binary is installed by an atomic
# rename, so a reader sees the old cache entry or the new one, never half.
#
# --cached: do not build; print the path if the binary is cached, else fail
# (exit 1). Progress goes to stderr; the binary's path is the last line on
# stdout.
#
# --source: do not build; print the unpacked Debian source tree of the
# kept build tree (with whichever series was applied last), else fail
# (exit 1). tests/check-qemu-patches.sh runs its scripts/checkpatch.pl
# over the series.
set -euo pipefail

QEMU_RECIPE=1
QEMU_BIN_PKG=qemu-system-x86
QEMU_SRC_PKG=qemu
QEMU_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QEMU_PATCHES=$QEMU_TOP/scripts/patches/qemu-7.2

# Devices (Kconfig symbols) on top of nothing: the q35 machine the guest
# tests use (it selects its own chipset, serial port, RTC and firmware
# interfaces), virtio-pci and the two vhost-user devices vusim serves.
QEMU_DEVICES=(
    Q35
    VIRTIO_PCI
    VHOST_USER_BLK
    VHOST_USER_RNG
)

QEMU_CONFIGURE=(
    --prefix=/opt/vusim-qemu
    --firmwarepath=/usr/share/qemu:/usr/share/seabios
    --target-list=x86_64-softmmu
    --without-default-features
    --without-default-devices
    --with-devices-x86_64=vusim
    --enable-tcg
    --disable-kvm
    --disable-xen
    --enable-vhost-user
    --disable-docs
    --disable-tools
    --disable-install-blobs
    --disable-werror
)

BUILD_NAME="build-qemu"
# shellcheck source=scripts/build-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/build-lib.sh"

# The source version of the installed qemu-system-x86 (1:7.2+dfsg-7+...).
src_version()
{
    dpkg-query -W -f='${db:Status-Abbrev} ${source:Version}' \
        "$QEMU_BIN_PKG" 2>/dev/null | sed -n 's/^ii *//p'
}

# The series in order; the cover letter (0000-cover-letter.patch, for
# git send-email) holds no diff and is neither applied nor in the key.
patch_files()
{
    find "$QEMU_PATCHES" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' \
        ! -name '0000-*' -type f | LC_ALL=C sort
}

# tree_key VERSION: what decides the configured tree, patches aside.
tree_key()
{
    {
        printf 'recipe %s\n' "$QEMU_RECIPE"
        printf 'source %s %s\n' "$QEMU_SRC_PKG" "$1"
        printf 'device %s\n' "${QEMU_DEVICES[@]}"
        printf 'configure %s\n' "${QEMU_CONFIGURE[@]}"
    } | sha256sum | cut -c1-16
}

# The cache key: everything that decides what the binary contains.
cache_key()
{
    local p

    {
        printf 'tree %s\n' "$(tree_key "$1")"
        while IFS= read -r p; do
            printf 'patch %s %s\n' "$(basename "$p")" \
                "$(sha256sum <"$p" | cut -d' ' -f1)"
        done < <(patch_files)
    } | sha256sum | cut -c1-16
}

# fetch_source VERSION DIR: the source package's files in DIR (downloaded
# once; apt-get source needs a deb-src entry for the suite).
fetch_source()
{
    local version=$1 dir=$2 upstream

    upstream=${version#*:}
    if [ -f "$dir/${QEMU_SRC_PKG}_${upstream}.dsc" ]; then
        return 0
    fi
    mkdir -p "$dir"
    say "apt-get source --download-only $QEMU_SRC_PKG=$version"
    if ! (cd "$dir" && apt-get source -q --download-only \
            "$QEMU_SRC_PKG=$version") >"$dir/download.log" 2>&1; then
        tail -n 20 "$dir/download.log" >&2
        die "cannot download the source of $QEMU_SRC_PKG $version" \
            "(no deb-src entry? scripts/setup.sh adds one)"
    fi
}

# fresh_tree TREE VERSION SRCDIR: unpack (Debian's patches applied by
# dpkg-source), write the device list, configure. TREE/.ready marks it
# complete; TREE/applied/ holds copies of the patches applied on top.
fresh_tree()
{
    local tree=$1 version=$2 srcdir=$3 dev

    rm -rf "$tree"
    mkdir -p "$tree/applied"
    say "unpacking $QEMU_SRC_PKG $version into $tree"
    logged "$tree/build.log" dpkg-source -x \
        "$srcdir/${QEMU_SRC_PKG}_${version#*:}.dsc" "$tree/src"
    # dpkg-source leaves a copy of the upstream tarball beside the tree.
    rm -f "$tree"/*.orig.tar.*
    for dev in "${QEMU_DEVICES[@]}"; do
        printf 'CONFIG_%s=y\n' "$dev"
    done >"$tree/src/configs/devices/x86_64-softmmu/vusim.mak"
    mkdir "$tree/build"
    say "configuring"
    (cd "$tree/build" && logged "$tree/build.log" "$tree/src/configure" \
        "${QEMU_CONFIGURE[@]}")
    touch "$tree/.ready"
}

# kept_prefix TREE: how many of the applied patches are the series' first
# ones, byte for byte (those stay: their files keep their times, so ninja
# does not recompile them).
kept_prefix()
{
    local tree=$1 n=0 p old=() new=()

    mapfile -t old < <(find "$tree/applied" -name '*.patch' -type f |
                       LC_ALL=C sort)
    mapfile -t new < <(patch_files)
    for p in "${old[@]}"; do
        [ "$n" -lt "${#new[@]}" ] &&
            [ "$(basename "$p")" = "$(basename "${new[$n]}")" ] &&
            cmp -s "$p" "${new[$n]}" || break
        n=$((n + 1))
    done
    echo "$n"
}

# unapply TREE KEEP: reverse the applied patches after the first KEEP, last
# first. Fails if one does not reverse cleanly.
unapply()
{
    local tree=$1 keep=$2 p i old=()

    mapfile -t old < <(find "$tree/applied" -name '*.patch' -type f |
                       LC_ALL=C sort)
    for ((i = ${#old[@]} - 1; i >= keep; i--)); do
        p=${old[$i]}
        say "reverting $(basename "$p")"
        patch -d "$tree/src" -p1 --batch -R -i "$p" >>"$tree/build.log" \
            2>&1 || return 1
        rm -f "$p"
    done
}

# touched PATCH...: the files the patches change, one per line.
touched()
{
    sed -n 's|^+++ b/||p; s|^--- a/||p' "$@" | sed 's/\t.*//' | LC_ALL=C sort -u
}

# snapshot TREE: remember the content and time of every file the patches
# in TREE/applied and in the series touch; restore_times TREE puts the
# time back on those whose content came out the same, so that reverting
# and reapplying a patch does not make ninja recompile its files' users.
snapshot()
{
    local tree=$1 f

    while IFS= read -r f; do
        [ -f "$tree/src/$f" ] || continue
        printf '%s %s %s\n' "$(sha256sum <"$tree/src/$f" | cut -c1-64)" \
            "$(stat -c %.9Y "$tree/src/$f")" "$f"
    done < <(touched $(find "$tree/applied" -name '*.patch' -type f) \
                     $(patch_files)) \
        >"$tree/snapshot"
}

restore_times()
{
    local tree=$1 sum t f

    while read -r sum t f; do
        [ -f "$tree/src/$f" ] &&
            [ "$(sha256sum <"$tree/src/$f" | cut -c1-64)" = "$sum" ] &&
            touch -d "@$t" "$tree/src/$f"
    done <"$tree/snapshot"
    rm -f "$tree/snapshot"
}

# patch_tree TREE: bring the tree's patches to the current series.
patch_tree()
{
    local tree=$1 p keep i=0

    keep=$(kept_prefix "$tree")
    snapshot "$tree"
    # Mid-update the tree is in no known state: a crash here means fresh.
    rm -f "$tree/.ready"
    unapply "$tree" "$keep" || return 1
    while IFS= read -r p; do
        i=$((i + 1))
        [ "$i" -gt "$keep" ] || continue
        say "applying $(basename "$p")"
        patch -d "$tree/src" -p1 --batch --forward -i "$p" \
            >>"$tree/build.log" 2>&1 || return 1
        cp "$p" "$tree/applied/"
    done < <(patch_files)
    restore_times "$tree"
    touch "$tree/.ready"
}

# build_into TREE OUT VERSION SRCDIR: a patched, built tree; the stripped
# binary goes to OUT/bin.
build_into()
{
    local tree=$1 out=$2 version=$3 srcdir=$4

    if [ -n "${VUSIM_QEMU_FRESH:-}" ] || [ ! -f "$tree/.ready" ]; then
        fresh_tree "$tree" "$version" "$srcdir"
    fi
    if ! patch_tree "$tree"; then
        tail -n 20 "$tree/build.log" >&2
        say "the kept tree does not take the series; starting afresh"
        fresh_tree "$tree" "$version" "$srcdir"
        patch_tree "$tree" || die "the patch series does not apply" \
            "(log: $tree/build.log)"
    fi
    say "ninja -j$(nproc) qemu-system-x86_64 (log: $tree/build.log)"
    logged "$tree/build.log" ninja -C "$tree/build" -j"$(nproc)" \
        qemu-system-x86_64
    mkdir -p "$out/bin"
    strip -o "$out/bin/qemu-system-x86_64" "$tree/build/qemu-system-x86_64"
    cp "$tree/build.log" "$out/build.log"
}

# qemu_build TMP OUT VERSION CACHE: the source (kept in CACHE/src), the
# tree built (kept in CACHE), its binary in OUT, and a note of what it is.
qemu_build()
{
    local out=$2 version=$3 cache=$4

    fetch_source "$version" "$cache/src"
    build_into "$cache/tree-$(tree_key "$version")" "$out" "$version" \
        "$cache/src"
    {
        printf '%s %s recipe %s, built in %d s\n' "$QEMU_SRC_PKG" \
            "$version" "$QEMU_RECIPE" "$((SECONDS - BUILD_START))"
        patch_files | xargs -n1 basename
    } >"$out/source"
}

# print_source CACHE VERSION: the kept tree's source folder, or fail.
print_source()
{
    local src

    src=$1/tree-$(tree_key "$2")/src
    [ -f "$src/scripts/checkpatch.pl" ] ||
        die "no unpacked $QEMU_SRC_PKG $2 source at $src" \
            "(scripts/build-qemu.sh unpacks it)"
    printf '%s\n' "$src"
}

main()
{
    local cached_only=0 version cache

    case "${1:-}" in
    "") ;;
    --cached) cached_only=1 ;;
    --source) cached_only=2 ;;
    *) echo "usage: $0 [--cached | --source]" >&2; exit 2 ;;
    esac
    version=$(src_version)
    [ -n "$version" ] || die "package $QEMU_BIN_PKG is not installed"
    [ -n "$(patch_files)" ] || die "no patches in $QEMU_PATCHES"
    cache=$(cache_dir qemu)
    if [ "$cached_only" -eq 2 ]; then
        print_source "$cache" "$version"
        return
    fi
    cached "$cache" "$(cache_key "$version")" bin/qemu-system-x86_64 \
        "$cached_only" QEMU qemu_build "$version" "$cache"
}

main "$@"
