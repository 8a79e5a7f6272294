#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/demo.sh - set up (as scripts/setup.sh), then run the demo
#
# The demo boots a User-Mode Linux guest against `vusim blk` (in-band
# notifications, a timing model) and reports what happened; without a guest
# it falls back to `vusim demo`, the embedded co-simulation.
set -euo pipefail

# shellcheck source=scripts/setup.sh
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$VUSIM_TOP"

vusim_setup

# The main job: a User-Mode Linux guest on a simulated disk (in-band
# notifications, a timing model), with a short report. If a guest cannot
# run here (tests/guest/uml-demo.sh exits 77), the embedded demo, which
# needs no guest, stands in.
rc=0
builddir=$VUSIM_TOP/build/default tests/guest/uml-demo.sh build/default ||
    rc=$?
if [ "$rc" -eq 77 ]; then
    vusim_say "no UML guest here; running the embedded demo instead"
    exec build/default/vusim demo
fi
exit "$rc"
