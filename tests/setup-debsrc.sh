#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/setup-debsrc.sh - vusim_deb_src (scripts/setup.sh), which gives apt
# the deb-src entry that `apt-get source qemu` in scripts/build-qemu.sh
# needs, run on apt folders made up here (never /etc/apt, so no apt-get
# update and no root):
#   - every enabled deb822 stanza of Types deb becomes one Types: deb-src
#     stanza with the same URIs, Suites, Components and Signed-By, whatever
#     the order of its fields; a stanza with Enabled: no is not copied;
#   - a one-line "deb [options] URI SUITE COMPONENT..." entry too, its
#     signed-by option as Signed-By; one that repeats another is copied
#     once;
#   - a folder that already has a deb-src entry is left as it is;
#   - a folder with no deb entry, or with no sources at all, is an error
#     and nothing is written.
set -u

# shellcheck source=tests/check-lib.sh
. "$(dirname "$0")/check-lib.sh"
# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/../scripts/setup.sh"
check_init setup-debsrc

OUT=sources.list.d/vusim-deb-src.sources

# apt_dir NAME: an empty apt folder $tmp/NAME (printed).
apt_dir()
{
    mkdir -p "$tmp/$1/sources.list.d"
    echo "$tmp/$1"
}

# expect NAME DIR STATUS [EXPECTED-FILE]: vusim_deb_src DIR returns
# STATUS and writes EXPECTED-FILE's content to $OUT (nothing without it).
expect()
{
    local name=$1 dir=$2 want=$3 exp=${4:-} rc=0

    (vusim_deb_src "$dir") >"$tmp/$name.log" 2>&1 || rc=$?
    if [ "$rc" -ne "$want" ]; then
        not_ok "$name" "status $rc, expected $want: $(cat "$tmp/$name.log")"
    elif [ -z "$exp" ] && [ -e "$dir/$OUT" ]; then
        not_ok "$name" "wrote $OUT: $(cat "$dir/$OUT")"
    elif [ -n "$exp" ] && ! cmp -s "$exp" "$dir/$OUT"; then
        not_ok "$name" "$OUT is not as expected: $(diff "$exp" "$dir/$OUT" 2>&1)"
    else
        ok "$name"
    fi
}

# deb822, as Debian 12 installs it, plus a disabled stanza whose Enabled
# comes before its Types, and a third-party stanza with more fields.
d=$(apt_dir deb822)
cat >"$d/sources.list.d/debian.sources" <<'EOF'
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Enabled: no
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib
EOF
cat >"$d/sources.list.d/other.sources" <<'EOF'
Architectures: amd64
Signed-By: /usr/share/keyrings/other.gpg
Components: main
Suites: nodistro
URIs: https://example.org/apt
Types: deb
EOF
cat >"$tmp/deb822.exp" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib

Types: deb-src
URIs: https://example.org/apt
Suites: nodistro
Components: main
Signed-By: /usr/share/keyrings/other.gpg
EOF
expect deb822 "$d" 0 "$tmp/deb822.exp"
# Run again: the entry it wrote is a deb-src entry, so nothing changes.
cp "$d/$OUT" "$tmp/deb822.again"
expect deb822-again "$d" 0 "$tmp/deb822.again"

# One-line entries: options, a repeat, a comment and a deb-src-less file.
d=$(apt_dir oneline)
cat >"$d/sources.list" <<'EOF'
# the mirror
deb http://deb.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] https://x.example/apt stable main contrib
deb http://deb.debian.org/debian bookworm main
EOF
cat >"$tmp/oneline.exp" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main

Types: deb-src
URIs: https://x.example/apt
Suites: stable
Components: main contrib
Signed-By: /etc/apt/keyrings/x.gpg
EOF
expect oneline "$d" 0 "$tmp/oneline.exp"

# A deb-src entry exists (one-line form): left alone.
d=$(apt_dir has-src)
printf '%s\n' 'deb http://deb.debian.org/debian bookworm main' \
    'deb-src http://deb.debian.org/debian bookworm main' >"$d/sources.list"
expect has-src "$d" 0

# Only a disabled deb stanza and a comment: nothing to derive from.
d=$(apt_dir no-deb)
printf '%s\n' 'Types: deb' 'Enabled: no' 'URIs: http://deb.debian.org/debian' \
    'Suites: bookworm' 'Components: main' >"$d/sources.list.d/x.sources"
echo '# deb http://deb.debian.org/debian bookworm main' >"$d/sources.list"
expect no-deb "$d" 1

# No sources at all.
d=$(apt_dir empty)
expect empty "$d" 1

echo "setup-debsrc: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
