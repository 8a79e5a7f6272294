#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/build-tt-uml.sh - build (once) a User-Mode Linux kernel with
# time-travel support and the virtio drivers built in
#
# Usage: scripts/build-tt-uml.sh [--cached]
#
# Debian's user-mode-linux package has no CONFIG_UML_TIME_TRAVEL_SUPPORT, so
# the time-travel tests (tests/tt/) and bench/timetravel.sh need their own
# kernel. This script unpacks /usr/src/linux-source-6.1.tar.xz (package
# linux-source-6.1), applies the patch series in scripts/patches/linux-6.1
# (in name order, `patch -p1`), configures it as ARCH=um defconfig plus the
# fragment below, builds the `linux` target and strips it.
#
# The patches and the options turned off make the guest reproducible under
# time travel: no entropy from the host reaches it (README, "Determinism").
#
# The result is cached outside the source tree, in
#   ${VUSIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vusim}/uml-tt/<hash>/linux
# where <hash> covers the linux-source package version, the config fragment,
# the patches' contents and TT_UML_RECIPE (bump it when the build steps change). A second run with
# nothing changed only prints the path. Two runs may race: each builds in its
# own temporary directory and the first to finish renames its result into
# place; the other one discards its own and uses the winner's (and with
# flock(1) the second run just waits for the first).
#
# --cached: do not build; print the path if the kernel is cached, else fail
# (exit 1). Progress goes to stderr; the binary's path is the last line on
# stdout. About 4 minutes on 2 cores and 3 GB of temporary disk space.
set -euo pipefail

TT_UML_RECIPE=2
TT_UML_PKG=linux-source-6.1
TT_UML_TARBALL=/usr/src/linux-source-6.1.tar.xz

# Options set to y on top of `make ARCH=um defconfig`.
TT_UML_OPTIONS=(
    UML_TIME_TRAVEL_SUPPORT
    VIRTIO_UML
    VIRTIO_BLK
    VIRTIO_NET
    VIRTIO_CONSOLE
    HW_RANDOM
    HW_RANDOM_VIRTIO
    HOSTFS
)

# Options turned off: each feeds the host's entropy into the guest.
#   UML_RANDOM: hw_random driver reading the host's /dev/random;
#   RANDOM_TRUST_CPU, RANDOM_TRUST_BOOTLOADER: credit the architecture's
#   RNG and the boot seed (on UML both the host's getrandom(), which the
#   patches turn off in time-travel mode anyway).
TT_UML_DISABLE=(
    UML_RANDOM
    RANDOM_TRUST_CPU
    RANDOM_TRUST_BOOTLOADER
)

TT_UML_PATCHES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/patches/linux-6.1

BUILD_NAME="build-tt-uml"
# shellcheck source=scripts/build-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/build-lib.sh"

pkg_version()
{
    dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$TT_UML_PKG" \
        2>/dev/null | sed -n 's/^ii *//p'
}

# The cache key: everything that decides what the binary contains.
cache_key()
{
    {
        printf 'recipe %s\n' "$TT_UML_RECIPE"
        printf 'package %s %s\n' "$TT_UML_PKG" "$1"
        printf 'option %s\n' "${TT_UML_OPTIONS[@]}"
        printf 'disable %s\n' "${TT_UML_DISABLE[@]}"
        tt_patches | while IFS= read -r p; do
            printf 'patch %s %s\n' "$(basename "$p")" \
                "$(sha256sum <"$p" | cut -c1-64)"
        done
    } | sha256sum | cut -c1-16
}

# The patch series, in the order it is applied.
tt_patches()
{
    [ -d "$TT_UML_PATCHES" ] || return 0
    find "$TT_UML_PATCHES" -maxdepth 1 -name '*.patch' | LC_ALL=C sort
}

# build_into TMP OUT: unpack, configure and build in TMP; the results
# (linux, config, build.log) go to OUT.
build_into()
{
    local tmp=$1 dir=$2 src opt p bad=""

    say "unpacking $TT_UML_TARBALL"
    tar -xJf "$TT_UML_TARBALL" -C "$tmp"
    src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'linux-source-*')
    [ -n "$src" ] || die "no linux-source-* directory in $TT_UML_TARBALL"
    for p in $(tt_patches); do
        say "applying $(basename "$p")"
        logged "$dir/build.log" patch -d "$src" -p1 --forward --batch -i "$p"
    done
    say "configuring"
    logged "$dir/build.log" make -C "$src" -s ARCH=um defconfig
    for opt in "${TT_UML_OPTIONS[@]}"; do
        "$src/scripts/config" --file "$src/.config" --enable "$opt"
    done
    for opt in "${TT_UML_DISABLE[@]}"; do
        "$src/scripts/config" --file "$src/.config" --disable "$opt"
    done
    logged "$dir/build.log" make -C "$src" -s ARCH=um olddefconfig
    for opt in "${TT_UML_OPTIONS[@]}"; do
        grep -qx "CONFIG_$opt=y" "$src/.config" || bad+=" $opt"
    done
    for opt in "${TT_UML_DISABLE[@]}"; do
        ! grep -q "^CONFIG_$opt=" "$src/.config" || bad+=" !$opt"
    done
    [ -z "$bad" ] || die "olddefconfig dropped:$bad"
    say "make ARCH=um -j$(nproc) linux (a few minutes; log: $dir/build.log)"
    logged "$dir/build.log" make -C "$src" ARCH=um -j"$(nproc)" linux
    strip -o "$dir/linux" "$src/linux"
    cp "$src/.config" "$dir/config"
}

# tt_build TMP OUT VERSION: the kernel in OUT, and a note of what it is.
tt_build()
{
    build_into "$1" "$2"
    printf '%s %s recipe %s, built in %d s\n' "$TT_UML_PKG" "$3" \
        "$TT_UML_RECIPE" "$((SECONDS - BUILD_START))" >"$2/source"
}

main()
{
    local cached_only=0 version

    case "${1:-}" in
    "") ;;
    --cached) cached_only=1 ;;
    *) echo "usage: $0 [--cached]" >&2; exit 2 ;;
    esac
    version=$(pkg_version)
    [ -n "$version" ] || die "package $TT_UML_PKG is not installed"
    [ -r "$TT_UML_TARBALL" ] || die "$TT_UML_TARBALL is missing"
    cached "$(cache_dir uml-tt)" "$(cache_key "$version")" linux \
        "$cached_only" kernel tt_build "$version"
}

main "$@"
