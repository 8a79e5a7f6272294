#!/bin/sh
# SPDX-License-Identifier: MIT
#
# scripts/check-symbols.sh - every symbol libvusim.so exports has a vusim
# prefix: sim_, vusim_, vu_, vufe_, dev_, faults_, trace_ or g_vusim_.
#
# Run by `make check` from the top build directory; $builddir (exported by
# Makefile.am) points there. Exits 77 (skip) for a static-only build.
set -u

lib=${builddir:-.}/.libs/libvusim.so
if [ ! -e "$lib" ]; then
    if grep -q "^dlname=''" "${builddir:-.}/libvusim.la" 2>/dev/null; then
        echo "no shared libvusim in this build: skipped"
        exit 77
    fi
    echo "check-symbols: $lib not found" >&2
    exit 99
fi

if ! syms=$(nm -D --defined-only "$lib"); then
    echo "check-symbols: nm failed on $lib" >&2
    exit 99
fi

# Keep the name (third field) without its symbol version. An ASan build adds
# __odr_asan.NAME for each global NAME: check NAME. Drop the linker's own.
bad=$(printf '%s\n' "$syms" |
    awk 'NF >= 3 { sub(/@.*/, "", $3); sub(/^__odr_asan[._]/, "", $3);
                   print $3 }' |
    grep -Ev '^(sim_|vusim_|vu_|vufe_|dev_|faults_|trace_|g_vusim_)' |
    grep -Ev '^(_init|_fini|_edata|_end|__bss_start|__end__|_DYNAMIC|_GLOBAL_OFFSET_TABLE_|__dso_handle|__TMC_END__|__data_start)$')

count=$(printf '%s\n' "$syms" | grep -c .)
if [ -n "$bad" ]; then
    echo "check-symbols: symbols in $lib without a vusim prefix:"
    printf '%s\n' "$bad" | sed 's/^/  /'
    exit 1
fi
echo "check-symbols: $count exported symbols, all prefixed"
exit 0
