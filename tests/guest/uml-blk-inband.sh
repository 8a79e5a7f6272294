#!/bin/sh
# SPDX-License-Identifier: MIT
# make check: UML against vusim blk, inband notifications (see uml-blk.sh).
exec "$(dirname "$0")/uml-blk.sh" inband
