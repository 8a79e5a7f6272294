#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/soak/soak.sh - the soak in make check: SOAK_CHECK_SECONDS (default
# 30) of tests/soak/soak against the vusim program; `make soak` runs longer.
set -eu
builddir=${builddir:-.}
export builddir
exec "$builddir/tests/soak/soak" --seconds="${SOAK_CHECK_SECONDS:-30}"
