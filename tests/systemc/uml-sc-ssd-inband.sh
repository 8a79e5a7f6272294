#!/bin/sh
# SPDX-License-Identifier: MIT
# make check: UML against vusim-sc-ssd, inband notifications (uml-sc-ssd.sh).
exec "$(dirname "$0")/uml-sc-ssd.sh" inband
