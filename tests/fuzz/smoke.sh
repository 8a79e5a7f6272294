#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/fuzz/smoke.sh - the CI smoke run: `make fuzz` with a few seconds per
# target (FUZZ_SMOKE_SECONDS, default 4). Skips (77) without clang-14 and
# libFuzzer; set VUSIM_FUZZ_SMOKE=0 to skip it on purpose.
set -eu
srcdir=${srcdir:-.}
builddir=${builddir:-.}
[ "${VUSIM_FUZZ_SMOKE:-1}" = 0 ] && exit 77
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-4} exec sh -c \
    'bash "$1/tests/fuzz/run.sh" "$1" "$2"' sh \
    "$(cd "$srcdir" && pwd)" "$builddir"
