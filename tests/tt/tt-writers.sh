#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/tt/tt-writers.sh - several guest processes write to one disk at
# once, then sync: three time-travel runs, byte-identical traces, images
# and consoles (tests/tt/tt-ext4.sh with TT_WORK=writers: four processes,
# 16 files each, on a fresh ext4, then sync, md5 and e2fsck -fn).
TT_WORK=writers exec "$(dirname "$0")/tt-ext4.sh" "$@"
