#!/bin/bash
# cold-squash.sh - a NAS that squashes root (the usual NAS default): the
# copy cannot be given its owner there, so the catalog keeps the owner and
# recall restores it; content, mode and ns mtime still round-trip.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
setup_tiers 1G 1G
mkdir -p "$W/export"
# Squashed to the anonymous user, which must be able to write the export.
chmod 1777 "$W/export"
NAS_SQUASH=Root_Squash
start_nas "$W/export"
add_cold
H=$W/hot/data
mkdir -p "$H/d"
for i in 1 2 3; do head -c $((i * 70000)) /dev/urandom > "$H/d/f$i"; done
chown 1234:5678 "$H/d/f1" "$H/d/f2"; chown 4321:8765 "$H/d/f3"
chmod 640 "$H/d/f1"; chmod 600 "$H/d/f2"; chmod 644 "$H/d/f3"
touch -d '2003-04-05 06:07:08.123456789' "$H/d/f2"
before=$(manifest "$H/d")

out=$("$CTL" migrate --to cold "$H/d" 2>&1); rc=$?
eq "migrate to a root-squashing NAS exits 0" "$rc" 0
contains "every file moved" "$out" "3 moved"
owner=$(stat -c %u "$NAS_DIR/data/d/f1")
ok "the NAS did not take the owner (squashed to $owner)" [ "$owner" != 1234 ]
eq "content on the NAS" "$(xxh128sum < "$NAS_DIR/data/d/f3" | cut -d' ' -f1)" \
    "$(printf '%s\n' "$before" | grep '^./f3|' | cut -d'|' -f2 | cut -d' ' -f1)"
eq "mode kept on the NAS" "$(stat -c %a "$NAS_DIR/data/d/f1")" 640
eq "ns mtime kept on the NAS" "$(stat -c %.9Y "$NAS_DIR/data/d/f2")" \
    "1049522828.123456789"
eq "the catalog keeps the owners" \
    "$(sqlite3 "$CAT" "select group_concat(uid || ':' || gid, ' ') from (select uid, gid from files order by path)")" \
    "1234:5678 1234:5678 4321:8765"

out=$("$CTL" recall "$H/d" 2>&1); rc=$?
eq "recall exits 0" "$rc" 0
eq "owners, modes, times and content restored" "$(manifest "$H/d")" "$before"
eq "export emptied" "$(count_files "$NAS_DIR")" 0
finish
