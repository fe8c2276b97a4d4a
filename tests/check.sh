#!/bin/bash
# check.sh - check finds bit rot, missing data, wrong and dangling links and
# leftover temporaries, with monitoring exit codes; recall refuses a copy
# that rotted.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd python3
setup_tiers 512M 512M

H=$W/hot/k
mkdir -p "$H"
for n in 1 2 3 4; do head -c $((n * 100000)) /dev/urandom > "$H/f$n"; done
"$CTL" migrate -q "$H" >/dev/null 2>&1
eq "setup migrate" "$?" 0

out=$("$CTL" check --verify); rc=$?
eq "clean: exit 0" "$rc" 0
contains "clean: summary first" "$(echo "$out" | head -1)" "JTS-TIER OK - 4 files, 0 problems, verified"
contains "clean: perfdata" "$out" "| files=4 problems=0 verified_bytes=1000000B"

# Flip one byte of a warm copy, keeping its mtime: only a re-hash sees it.
f=$W/warm/k/f2
m=$(stat -c %.9Y "$f")
flip_byte "$f" 1234
touch -d "@$m" "$f"
out=$("$CTL" check); rc=$?
eq "rot without --verify goes unseen" "$rc" 0
out=$("$CTL" check --verify); rc=$?
eq "rot: CRITICAL" "$rc" 2
contains "rot: summary" "$(echo "$out" | head -1)" "JTS-TIER CRITICAL"
contains "rot: names the file" "$out" "CRITICAL: corrupt: $f: content hash"
json=$("$CTL" check --verify --json); rc=$?
eq "rot --json: exit 2" "$rc" 2
eq "rot --json: parses, names kind" "$(printf '%s' "$json" | python3 -c \
    'import json,sys; d=json.load(sys.stdin); print(d["status"], [p["kind"] for p in d["problems"]])')" \
    "CRITICAL ['corrupt']"

# Recall refuses the rotten copy and replaces nothing.
out=$("$CTL" recall "$H/f2" 2>&1); rc=$?
eq "recall of rotten copy: exit 1" "$rc" 1
contains "recall of rotten copy: reason" "$out" "the copy on tier warm is corrupt"
ok "home symlink still there" [ -L "$H/f2" ]
eq "no temporary on hot" "$(find "$W/hot" -name '.jts-tier-*' | wc -l)" 0
"$CTL" recall "$H/f1" >/dev/null 2>&1
eq "recall of a sound copy works" "$?" 0

# A copy left on warm while the catalog has the data on hot is a stray.
echo stray > "$W/warm/k/f1"
out=$("$CTL" check); rc=$?
eq "stray copy: WARNING" "$rc" 1
contains "stray copy named" "$out" \
    "WARNING: stray: $W/warm/k/f1: a copy is here, but the catalog has the data on tier hot"
rm -f "$W/warm/k/f1"

# A leftover temporary and a dangling link are warnings.
flip_byte "$f" 1234
rm -f "$W/warm/k/f3"
out=$("$CTL" check); rc=$?
eq "missing data: CRITICAL" "$rc" 2
contains "missing data named" "$out" "CRITICAL: missing: $W/warm/k/f3"
contains "dangling link named" "$out" "WARNING: dangling: $H/f3"
echo junk > "$W/warm/k/.jts-tier-999.tmp"
out=$("$CTL" check); rc=$?
contains "leftover temporary named" "$out" "WARNING: temporary: $W/warm/k/.jts-tier-999.tmp"
# While an engine holds the lock, a temporary is a move in progress.
exec 8>"$CAT.lock"; flock -x 8
out=$("$CTL" check); rc=$?
contains "temporary while an engine runs is not a warning" "$out" "OK: temporary"
exec 8>&-

# Only warnings: exit 1.
rm -f "$W/warm/k/.jts-tier-999.tmp"
"$CTL" check >/dev/null 2>&1
sqlite3 "$CAT" "delete from files where path = cast('k/f3' as blob)"
ln -sf /nonexistent "$H/f3"
ln -sfn "$W/warm/k/f2" "$H/f4"
out=$("$CTL" check); rc=$?
eq "only warnings: WARNING" "$rc" 1
contains "changed copy named" "$out" "WARNING: changed: $W/warm/k/f2"
contains "wrong link named" "$out" "WARNING: wrong-link: $H/f4"
out=$("$CTL" check -c /nonexistent.conf 2>&1); rc=$?
eq "bad config: UNKNOWN" "$rc" 3
finish
