#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/demo.sh - set up (as scripts/setup.sh), then run the demo
#
# The demo is `build/default/vusim demo`. Until the vusim program has a demo
# command, the calendar benchmark (`make bench-calendar`) stands in for it.
set -euo pipefail

# shellcheck source=scripts/setup.sh
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$VUSIM_TOP"

vusim_setup

# To make `vusim demo` the only demo, replace the rest of this file with
# `exec build/default/vusim demo`.
vusim=build/default/vusim
if [ -x "$vusim" ] && [[ "$("$vusim" --help 2>&1 || true)" == *demo* ]]; then
    vusim_say "$vusim demo"
    exec "$vusim" demo
fi
vusim_say "make bench-calendar (no 'vusim demo' yet)"
exec make -C build/default -s bench-calendar
