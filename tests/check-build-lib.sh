#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/check-build-lib.sh - the build cache that scripts/build-tt-uml.sh
# and scripts/build-qemu.sh share (scripts/build-lib.sh, cached()), with a
# build of a few milliseconds in place of a kernel or QEMU:
#
# 1. a missing product is built once, in a fresh folder renamed into place,
#    and its path printed; the next call finds it without building;
# 2. CACHED_ONLY with nothing cached fails, naming what and where;
# 3. two runs at once for one key build it once (the other waits);
# 4. a build that fails leaves no cache entry and no scratch folder.
#
# Run by `make check`; needs flock (util-linux).
set -u

top=$(cd "${srcdir:-.}" && pwd) || exit 99
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
export VUSIM_CACHE=$tmp/cache LOG=$tmp/builds
fail=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fail=1; }

# The builds a test asks for: each logs its key and argument.
cat >"$tmp/builds.sh" <<'EOF'
good_build()
{
    echo "$(basename "$1") $3" >>"$LOG"
    sleep "${SLOW:-0}"
    printf '#!/bin/sh\necho %s\n' "$3" >"$2/prog"
    chmod +x "$2/prog"
}

bad_build()
{
    echo partial >"$2/prog"
    false
    echo "not reached" >>"$LOG"
}
EOF

# run CACHED-ARGS...: cached() in a shell of its own, as the build scripts
# run it (set -euo pipefail).
run()
{
    bash -c 'set -euo pipefail; BUILD_NAME=check; . "$1"; . "$2"; shift 2
             cached "$@"' run "$top/scripts/build-lib.sh" "$tmp/builds.sh" \
        "$@"
}

builds() { grep -c " $1\$" "$LOG" 2>/dev/null || true; }

cache=$tmp/cache/t

# 1. built once, then found
p=$(run "$cache" k1 prog 0 thing good_build a1 2>"$tmp/err1")
if [ "$p" = "$cache/k1/prog" ] && [ "$("$p")" = a1 ] &&
   [ "$(builds a1)" = 1 ] && grep -q "^check: built in" "$tmp/err1"; then
    ok "a missing product is built and its path printed"
else
    not_ok "first build: '$p', $(builds a1) builds, $(cat "$tmp/err1")"
fi
p=$(run "$cache" k1 prog 1 thing good_build a1 2>"$tmp/err2")
if [ "$p" = "$cache/k1/prog" ] && [ "$(builds a1)" = 1 ] &&
   [ ! -s "$tmp/err2" ]; then
    ok "a cached product is found without a build"
else
    not_ok "second call: '$p', $(builds a1) builds, $(cat "$tmp/err2")"
fi

# 2. --cached with nothing cached
if run "$cache" k2 prog 1 thing good_build a2 >"$tmp/out" 2>"$tmp/err"; then
    not_ok "CACHED_ONLY with nothing cached succeeded: $(cat "$tmp/out")"
elif grep -qx "check: no cached thing at $cache/k2" "$tmp/err" &&
     [ ! -e "$cache/k2" ] && [ "$(builds a2)" = 0 ]; then
    ok "CACHED_ONLY with nothing cached fails, naming what and where"
else
    not_ok "CACHED_ONLY: $(cat "$tmp/err")"
fi

# 3. two at once
SLOW=1 run "$cache" k3 prog 0 thing good_build a3 >"$tmp/p1" 2>/dev/null &
SLOW=1 run "$cache" k3 prog 0 thing good_build a3 >"$tmp/p2" 2>/dev/null &
wait
if [ "$(cat "$tmp/p1")" = "$cache/k3/prog" ] &&
   [ "$(cat "$tmp/p2")" = "$cache/k3/prog" ] && [ "$(builds a3)" = 1 ]; then
    ok "two runs at once build once"
else
    not_ok "two at once: '$(cat "$tmp/p1")' '$(cat "$tmp/p2")'," \
        "$(builds a3) builds"
fi

# 4. a failed build leaves nothing
if run "$cache" k4 prog 0 thing bad_build a4 >"$tmp/out" 2>/dev/null; then
    not_ok "a failing build succeeded: $(cat "$tmp/out")"
else
    left=$(find "$cache" -maxdepth 1 -name '.build-k4.*')
    if [ ! -e "$cache/k4" ] && [ -z "$left" ] &&
       ! grep -q "not reached" "$LOG"; then
        ok "a failing build leaves no entry and no scratch folder"
    else
        not_ok "after a failed build: $(ls -a "$cache")"
    fi
fi

exit "$fail"
