#!/bin/sh
# SPDX-License-Identifier: MIT
# make check: UML against vusim blk, eventfd notifications (see uml-blk.sh).
exec "$(dirname "$0")/uml-blk.sh" eventfd
