#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/check-qemu-patches.sh - the QEMU patch series that
# scripts/build-qemu.sh applies (scripts/patches/qemu-7.2/) stays fit to
# post upstream, by QEMU's own rules (docs/devel/submitting-a-patch.rst):
#   (a) QEMU's scripts/checkpatch.pl, from the Debian QEMU source that
#       scripts/build-qemu.sh unpacked (build-qemu.sh --source), finds no
#       error and no warning in any patch;
#   (b) each patch has an author with a name and a real domain, not a
#       placeholder (the series once carried vusim <vusim@localhost>),
#       and a Signed-off-by line spelled exactly as its From:;
#   (c) subjects are "[PATCH n/N] subsystem: summary", numbered in file
#       order, the summary at most 76 characters and not ending in a dot;
#   (d) commit messages are wrapped at 72 columns (QEMU asks for 76; tag
#       lines such as Signed-off-by are exempt, they cannot wrap);
#   (e) every QAPI "Since:" the series adds names the release after the
#       one it is based on (qemu-7.2: 8.0), and the source is that base;
#   (f) the cover letter (0000-cover-letter.patch, which build-qemu.sh
#       does not apply) is [PATCH 0/N], has no `git format-patch`
#       placeholder left, the same author, and lists every subject in
#       order.
# Skips (77) without the unpacked source, or fails then when
# VUSIM_QEMU_REQUIRED is set (scripts/test.sh sets it, after building
# QEMU), as the QEMU guest tests do.
set -u

# shellcheck source=tests/check-lib.sh
. "$(dirname "$0")/check-lib.sh"
check_init check-qemu-patches

top=$(cd "$(dirname "$0")/.." && pwd)
series=${VUSIM_QEMU_SERIES:-$top/scripts/patches/qemu-7.2}
base=${series##*/qemu-}

# The release after BASE (QEMU numbers them X.0, X.1, X.2 each year).
next_release()
{
    local major=${1%%.*} minor=${1#*.}

    if [ "$minor" -ge 2 ]; then
        echo "$((major + 1)).0"
    else
        echo "$major.$((minor + 1))"
    fi
}

if ! src=$("$top/scripts/build-qemu.sh" --source 2>"$tmp/source.err"); then
    if [ -n "${VUSIM_QEMU_REQUIRED:-}" ]; then
        echo "FAIL - no unpacked QEMU source: $(cat "$tmp/source.err")"
        exit 1
    fi
    echo "SKIP: no unpacked QEMU source (scripts/build-qemu.sh unpacks it):" \
        "$(cat "$tmp/source.err")"
    exit 77
fi
echo "# QEMU source: $src ($(cat "$src/VERSION"))"
checkpatch=$src/scripts/checkpatch.pl
since=$(next_release "$base")

mapfile -t patches < <(find "$series" -maxdepth 1 -type f \
    -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | LC_ALL=C sort)
total=${#patches[@]}
if [ "$total" -gt 0 ]; then
    ok "the series has $total patches"
else
    not_ok "series" "no patches in $series"
fi
case "$(cat "$src/VERSION")" in
"$base".*) ok "the source is QEMU $base, the series' base" ;;
*) not_ok "source" "$src is QEMU $(cat "$src/VERSION"), the series is" \
    "based on $base" ;;
esac

# placeholder NAME EMAIL: true when the identity is no one's.
placeholder()
{
    local name=$1 email=$2 domain=${2#*@}

    [ -z "$name" ] || [ "$name" = "${email%@*}" ] || [ "$email" = "$domain" ] ||
        [[ "$domain" != *.* ]] ||
        [[ "$domain" =~ ^(localhost|localdomain)(\..*)?$ ]] ||
        [[ "$domain" =~ \.(localhost|localdomain|local)$ ]]
}

# info FILE KEY: a header that git mailinfo parsed from FILE's mail.
info()
{
    sed -n "s/^$2: //p" "$1" | head -n 1
}

# mail NAME PATCH: git mailinfo's view of PATCH in $tmp/NAME.{info,msg,diff}.
mail()
{
    git mailinfo -k "$tmp/$1.msg" "$tmp/$1.diff" <"$2" >"$tmp/$1.info" ||
        not_ok "$1" "git mailinfo cannot read $2"
}

# check_message NAME: (d) on $tmp/NAME.msg.
check_message()
{
    local long

    long=$(grep -Ev '^[A-Za-z-]+-by: |^Fixes: |^Link: ' "$tmp/$1.msg" |
           awk 'length($0) > 72 { print length($0) ": " $0 }')
    if [ -n "$long" ]; then
        not_ok "$1: wrapped at 72" "$long"
    else
        ok "$1: the message is wrapped at 72 columns"
    fi
}

# check_checkpatch NAME PATCH: (a).
check_checkpatch()
{
    local out rc=0

    out=$(cd "$src" && perl "$checkpatch" "$2" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] ||
        ! grep -q '^total: 0 errors, 0 warnings' <<<"$out"; then
        not_ok "$1: checkpatch.pl" "status $rc:
$out"
    else
        ok "$1: checkpatch.pl: $(grep '^total:' <<<"$out")"
    fi
}

# check_since NAME PATCH: (e).
check_since()
{
    local bad

    bad=$(grep -E '^\+#[[:space:]]*Since:' "$2" |
          grep -Ev "^\+#[[:space:]]*Since:[[:space:]]*$since\$")
    if [ -n "$bad" ]; then
        not_ok "$1: QAPI Since" "want Since: $since, found: $bad"
    elif grep -qE '^\+#[[:space:]]*Since:' "$2"; then
        ok "$1: QAPI Since: $since"
    fi
}

n=0
subjects=()
for p in "${patches[@]}"; do
    n=$((n + 1))
    name=$(basename "$p" .patch)
    name=${name%%-*}
    mail "$name" "$p"
    author=$(info "$tmp/$name.info" Author)
    email=$(info "$tmp/$name.info" Email)
    subject=$(info "$tmp/$name.info" Subject)
    if placeholder "$author" "$email"; then
        not_ok "$name: author" "a placeholder: $author <$email>"
    else
        ok "$name: author $author <$email>"
    fi
    if grep -qxF "Signed-off-by: $author <$email>" "$tmp/$name.msg"; then
        ok "$name: signed off by its author"
    else
        not_ok "$name: Signed-off-by" "no 'Signed-off-by: $author" \
            "<$email>' (found: $(grep '^Signed-off-by:' "$tmp/$name.msg"))"
    fi
    summary=${subject#"[PATCH $n/$total] "}
    if [ "$summary" = "$subject" ]; then
        not_ok "$name: subject" "not numbered [PATCH $n/$total]: $subject"
    elif [[ ! "$summary" =~ ^[a-z0-9][-a-z0-9_/.,\ ]*:\ [^\ ] ]]; then
        not_ok "$name: subject" "not 'subsystem: summary': $summary"
    elif [ "${#summary}" -gt 76 ] || [[ "$summary" == *. ]]; then
        not_ok "$name: subject" "${#summary} characters or ends in a" \
            "dot: $summary"
    else
        ok "$name: subject '$summary' (${#summary} characters)"
    fi
    subjects+=("$summary")
    check_message "$name"
    check_since "$name" "$p"
    check_checkpatch "$name" "$p"
done

# (f) the cover letter.
cover=$series/0000-cover-letter.patch
if [ ! -f "$cover" ]; then
    not_ok "cover letter" "no $cover"
else
    mail cover "$cover"
    subject=$(info "$tmp/cover.info" Subject)
    if [[ "$subject" != "[PATCH 0/$total] "* ]]; then
        not_ok "cover letter: subject" "not [PATCH 0/$total]: $subject"
    elif grep -q '\*\*\* .* HERE \*\*\*' "$cover"; then
        not_ok "cover letter" "a git format-patch placeholder is left:" \
            "$(grep '\*\*\* .* HERE \*\*\*' "$cover")"
    else
        ok "cover letter: $subject"
    fi
    cauthor="$(info "$tmp/cover.info" Author) <$(info "$tmp/cover.info" Email)>"
    if [ "$cauthor" = "$author <$email>" ]; then
        ok "cover letter: from the series' author"
    else
        not_ok "cover letter: author" "$cauthor, the patches: $author <$email>"
    fi
    # git format-patch's shortlog: "  subject", long ones folded onto an
    # indented next line; unfolded, the subjects in order.
    listed=$(sed -n '/^[^ ].* ([0-9]*):$/,/^$/p' "$cover" | sed '1d;/^$/d' |
             sed 's/^ *//' | awk 'NR > 1 && /^[a-z0-9][-a-z0-9_\/., ]*: / {
                 print line; line = $0; next } { line = line ? line " " $0 : $0 }
                 END { if (line) print line }')
    if [ "$listed" = "$(printf '%s\n' "${subjects[@]}")" ]; then
        ok "cover letter: lists the $total subjects in order"
    else
        not_ok "cover letter: shortlog" "lists:
$listed"
    fi
    check_message cover
fi

echo "check-qemu-patches: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
