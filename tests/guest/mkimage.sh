#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/guest/mkimage.sh - assemble the guest images from installed packages
#
# Usage: mkimage.sh OUTDIR [uml|qemu|all]
#
#   OUTDIR/uml-root/         a root folder for UML over hostfs
#   OUTDIR/qemu-initrd.cpio  an uncompressed newc initramfs for QEMU
#
# Both hold the static busybox (busybox-static) with a symlink per applet,
# tests/guest/workload.sh as /init, the kernel modules the workload needs in
# /lib/modules, and /lib/modules/vusim.order: the modules in load order
# (dependencies first, from `modinfo -F depends`; built-ins left out).
#   UML:  virtio_blk from /usr/lib/uml/modules/VER (Debian's UML has virtio
#         itself built in and no virtio-rng driver).
#   QEMU: virtio_pci, virtio_blk and virtio-rng from /lib/modules/VER of
#         linux-image-amd64, with their dependencies.
# The cpio stays uncompressed so a per-run archive could be appended.
#
# An image is rebuilt only when its inputs change: a key (sha1 of this
# script, the workload, busybox and every module file) is kept next to it.
# Concurrent runs are serialized with flock on OUTDIR/.lock. Never writes
# into the source tree. Exits 77 (skip) when a package is missing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/guest/lib.sh
. "$HERE/lib.sh"
GUEST_NAME=mkimage

usage()
{
    echo "usage: $0 OUTDIR [uml|qemu|all]" >&2
    exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
OUT=$1
WHAT=${2:-all}
case "$WHAT" in
uml | qemu | all) ;;
*) usage ;;
esac

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
case "$OUT" in
"$TOP" | "$TOP"/tests | "$TOP"/tests/*)
    echo "mkimage: $OUT is in the source tree; give a build folder" >&2
    exit 2
    ;;
esac

BUSYBOX=$(guest_busybox) || {
    echo "mkimage: no static busybox at ${VUSIM_BUSYBOX:-/bin/busybox}" \
         "(package busybox-static)" >&2
    exit 77
}
command -v modinfo >/dev/null || {
    echo "mkimage: no modinfo (package kmod)" >&2
    exit 77
}

# ---------------------------------------------------------------- modules

# mod_file MODDIR NAME: the .ko (or .ko.xz) of NAME under MODDIR; "-" and
# "_" are the same in module names. Empty for a built-in module.
mod_file()
{
    local dir=$1 name=$2 alt f

    alt=$(echo "$name" | tr '_-' '-_')
    f=$(find "$dir/kernel" \( -name "$name.ko" -o -name "$alt.ko" \
        -o -name "$name.ko.xz" -o -name "$alt.ko.xz" \) -print -quit)
    if [ -n "$f" ]; then
        echo "$f"
        return 0
    fi
    if grep -qE "/($name|$alt)\.ko$" "$dir/modules.builtin" 2>/dev/null; then
        return 0
    fi
    echo "mkimage: module $name not found in $dir" >&2
    return 1
}

# mod_resolve MODDIR NAME...: module files in load order (each after its
# dependencies, each once). Uses globals SEEN and ORDER.
mod_resolve_one()
{
    local dir=$1 name=$2 f dep

    case " $SEEN " in
    *" $name "*) return 0 ;;
    esac
    SEEN="$SEEN $name"
    f=$(mod_file "$dir" "$name") || return 1
    [ -n "$f" ] || return 0
    for dep in $(modinfo -F depends "$f" | tr ',' ' '); do
        mod_resolve_one "$dir" "$dep" || return 1
    done
    ORDER+=("$f")
}

mod_resolve()
{
    local dir=$1 name

    shift
    SEEN=""
    ORDER=()
    for name in "$@"; do
        mod_resolve_one "$dir" "$name" || return 1
    done
}

# ---------------------------------------------------------------- images

# populate DIR MODULE-FILES...: busybox, applet links, /init, modules.
populate()
{
    local dir=$1 f base applet

    shift
    mkdir -p "$dir"/{bin,sbin,proc,sys,dev,tmp,mnt,lib/modules}
    cp "$BUSYBOX" "$dir/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
    done
    cp "$HERE/workload.sh" "$dir/init"
    chmod 755 "$dir/init" "$dir/bin/busybox"
    : >"$dir/lib/modules/vusim.order"
    for f in "$@"; do
        base=$(basename "$f")
        case "$f" in
        *.ko.xz)
            base=${base%.xz}
            "$BUSYBOX" xzcat "$f" >"$dir/lib/modules/$base"
            ;;
        *) cp "$f" "$dir/lib/modules/$base" ;;
        esac
        echo "$base" >>"$dir/lib/modules/vusim.order"
    done
}

# image_key FILES...: what an image is built from.
image_key()
{
    sha1sum "$HERE/mkimage.sh" "$HERE/workload.sh" "$BUSYBOX" "$@" |
        cut -d' ' -f1 | sha1sum | cut -d' ' -f1
}

build_uml()
{
    local mods key tmp

    mods=$(guest_uml_modules) || {
        echo "mkimage: no UML modules for ${VUSIM_UML:-/usr/bin/linux.uml}" \
             "(package user-mode-linux)" >&2
        return 77
    }
    mod_resolve "$mods" virtio_blk || return 1
    key=$(image_key "${ORDER[@]}") || return 1
    if [ -d "$OUT/uml-root" ] &&
       [ "$(cat "$OUT/uml-root.key" 2>/dev/null)" = "$key" ]; then
        echo "mkimage: $OUT/uml-root is up to date"
        return 0
    fi
    tmp=$OUT/uml-root.new
    rm -rf "$tmp"
    populate "$tmp" "${ORDER[@]}" || return 1
    rm -rf "$OUT/uml-root"
    mv "$tmp" "$OUT/uml-root"
    echo "$key" >"$OUT/uml-root.key"
    echo "mkimage: built $OUT/uml-root (modules: $(basename -a \
        "${ORDER[@]}" | tr '\n' ' '))"
}

build_qemu()
{
    local kver key tmp

    kver=$(guest_kver) || {
        echo "mkimage: no readable /boot/vmlinuz-* with /lib/modules" \
             "(package linux-image-amd64)" >&2
        return 77
    }
    mod_resolve "/lib/modules/$kver" virtio_pci virtio_blk virtio_rng ||
        return 1
    key=$(image_key "${ORDER[@]}") || return 1
    if [ -f "$OUT/qemu-initrd.cpio" ] &&
       [ "$(cat "$OUT/qemu-initrd.key" 2>/dev/null)" = "$key" ]; then
        echo "mkimage: $OUT/qemu-initrd.cpio is up to date"
        return 0
    fi
    tmp=$OUT/qemu-initrd.tree
    rm -rf "$tmp"
    populate "$tmp" "${ORDER[@]}" || return 1
    # busybox's cpio writes newc; sorted names keep the archive stable.
    (cd "$tmp" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
        "$BUSYBOX" cpio -o -H newc 2>/dev/null) >"$OUT/qemu-initrd.cpio.new" ||
        return 1
    mv "$OUT/qemu-initrd.cpio.new" "$OUT/qemu-initrd.cpio"
    rm -rf "$tmp"
    echo "$key" >"$OUT/qemu-initrd.key"
    echo "mkimage: built $OUT/qemu-initrd.cpio for $kver (modules:" \
         "$(basename -a "${ORDER[@]}" | tr '\n' ' '))"
}

exec 9>"$OUT/.lock"
flock 9
rc=0
case "$WHAT" in
uml) build_uml || rc=$? ;;
qemu) build_qemu || rc=$? ;;
all)
    build_uml || rc=$?
    [ "$rc" -ne 0 ] || build_qemu || rc=$?
    ;;
esac
exit "$rc"
