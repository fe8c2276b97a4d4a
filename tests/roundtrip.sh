#!/bin/bash
# roundtrip.sh - a mixed tree migrates hot -> warm (ext4 loop -> btrfs loop)
# and is recalled; content, modes, owners, xattrs, ACLs, ns mtimes, holes,
# symlinks and the catalog are judged with independent tools.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
need_cmd getfattr setfattr getfacl setfacl
setup_tiers 1G 1G

H=$W/hot/data
mkdir -p "$H/deep/er/est" "$H/ünïcödé" "$H/empty-dir"
: > "$H/empty"
echo small > "$H/small.txt"
head -c 100M /dev/urandom > "$H/hundred.bin"
truncate -s 64M "$H/sparse.img"
echo middle | dd of="$H/sparse.img" bs=1 seek=$((20 << 20)) conv=notrunc 2>/dev/null
echo end >> "$H/sparse.img"
head -c 300000 /dev/urandom > "$H/deep/er/est/nested.dat"
echo x > "$H/ünïcödé/fïlé ñame.txt"
printf 'nl\n' > "$H/new
line.txt"
echo suid > "$H/setuid"; chmod 4755 "$H/setuid"
echo sgid > "$H/setgid"; chmod 2750 "$H/setgid"
echo owned > "$H/owned"; chown 1234:5678 "$H/owned"; chmod 640 "$H/owned"
echo attrs > "$H/attrs"
setfattr -n user.color -v blue "$H/attrs"
setfattr -n user.bin -v 0x00ff00 "$H/attrs"
echo acl > "$H/acl"
setfacl -m u:1234:rw -m g:5678:r "$H/acl"
touch -d '2001-02-03 04:05:06.123456789' "$H/small.txt"
ln -s small.txt "$H/user-link"
chmod 700 "$H/deep"; chown 1234:1234 "$H/deep/er"

before=$(manifest "$H")
nfiles=$(count_files "$H")
sparse_kb=$(du -k "$H/sparse.img" | cut -f1)

out=$("$CTL" migrate "$H" 2>&1); rc=$?
eq "migrate exits 0" "$rc" 0
contains "summary counts moves" "$out" "$nfiles moved"
contains "user symlink skipped, with reason" "$out" "user-link: is a symbolic link"

# Every file's home path is now a symlink to the same path on warm.
bad=0
while IFS= read -r -d '' f; do
	rel=${f#"$W/hot/"}
	t=$(readlink "$f")
	[ "$t" = "$W/warm/$rel" ] || { echo "bad link $f -> $t"; bad=$((bad + 1)); }
	[ -f "$W/warm/$rel" ] && [ ! -L "$W/warm/$rel" ] ||
		{ echo "no data for $rel"; bad=$((bad + 1)); }
done < <(find "$H" -type l ! -name user-link -print0)
eq "symlinks point at the warm copies" "$bad" 0
eq "no regular file left on hot" "$(count_files "$H")" 0
eq "warm holds every file" "$(count_files "$W/warm/data")" "$nfiles"
eq "user symlink untouched" "$(readlink "$H/user-link")" "small.txt"

# Content and metadata seen through the home paths, and on warm itself.
eq "manifest through home paths" "$(manifest "$H")" "$before"
eq "manifest on warm" "$(manifest "$W/warm/data" | grep -v user-link)" \
    "$(printf '%s\n' "$before" | grep -v user-link)"
eq "setuid kept" "$(stat -c %a "$W/warm/data/setuid")" 4755
eq "owner kept" "$(stat -c %u:%g "$W/warm/data/owned")" 1234:5678
eq "ns mtime kept" "$(stat -c %.9Y "$W/warm/data/small.txt")" \
    "981173106.123456789"
eq "xattr kept" "$(getfattr --absolute-names --only-values -n user.color "$W/warm/data/attrs")" blue
contains "ACL kept" "$(getfacl -cp "$W/warm/data/acl")" "user:1234:rw-"
eq "dir mode copied" "$(stat -c %a "$W/warm/data/deep")" 700
eq "dir owner copied" "$(stat -c %u "$W/warm/data/deep/er")" 1234
sync
ok "holes kept on warm" [ "$(du -k "$W/warm/data/sparse.img" | cut -f1)" -le $((sparse_kb + 64)) ]

# The catalog agrees, hash for hash, with xxh128sum.
eq "catalog rows on warm" "$(sqlite3 "$CAT" "select count(*) from files where tier='warm'")" "$nfiles"
bad=0
while IFS='|' read -r hp h; do
	p=$(unhex "$hp")
	want=$(xxh128sum < "$W/warm/$p" | cut -d' ' -f1)
	[ "$h" = "$want" ] || { echo "hash of $p: catalog $h, file $want"; bad=$((bad + 1)); }
done < <(sqlite3 "$CAT" "select hex(path), lower(hex(hash)) from files")
eq "catalog hashes equal xxh128sum" "$bad" 0
eq "journal all done" "$(sqlite3 "$CAT" "select count(*) from journal where state <> 'done'")" 0
eq "catalog integrity" "$(sqlite3 "$CAT" "pragma integrity_check")" ok

out=$("$CTL" check --verify 2>&1); rc=$?
eq "check --verify OK after migrate" "$rc" 0
contains "check summary line" "$(echo "$out" | head -1)" "JTS-TIER OK - $nfiles files"

# A second migrate has nothing to do and moves nothing.
out=$("$CTL" migrate "$H" 2>&1); rc=$?
eq "migrate of migrated tree exits 0" "$rc" 0
contains "already on the last tier" "$out" "already on the last tier"

# Recall everything: regular files again, warm empty, catalog hot.
out=$("$CTL" recall "$H" 2>&1); rc=$?
eq "recall exits 0" "$rc" 0
contains "recall summary" "$out" "$nfiles moved"
eq "no symlink but the user's" "$(find "$H" -type l -printf x | wc -c)" 1
eq "manifest after recall" "$(manifest "$H")" "$before"
eq "warm has no files left" "$(count_files "$W/warm/data")" 0
eq "catalog says hot" "$(sqlite3 "$CAT" "select count(*) from files where tier='hot'")" "$nfiles"
sync
ok "holes kept after recall" [ "$(du -k "$H/sparse.img" | cut -f1)" -le $((sparse_kb + 64)) ]
eq "no temporaries anywhere" "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' | wc -l)" 0

# --remove-source leaves nothing behind; recall brings the file back.
h0=$(xxh128sum < "$H/hundred.bin")
out=$("$CTL" migrate --remove-source "$H/hundred.bin" 2>&1); rc=$?
eq "migrate --remove-source exits 0" "$rc" 0
absent "source removed" "$H/hundred.bin"
eq "data on warm" "$(xxh128sum < "$W/warm/data/hundred.bin")" "$h0"
out=$("$CTL" recall "$H/hundred.bin" 2>&1); rc=$?
eq "recall of removed-source file exits 0" "$rc" 0
eq "recalled content" "$(xxh128sum < "$H/hundred.bin")" "$h0"

# Planned and moved in chunks of 3 files (as a huge tree is): the same.
out=$(JTS_TIER_PLAN_CHUNK=3 "$CTL" migrate "$H" 2>&1); rc=$?
eq "chunked migrate exits 0" "$rc" 0
contains "chunked migrate summary" "$out" "$nfiles moved"
eq "chunked: no regular file left on hot" "$(count_files "$H")" 0
eq "chunked: manifest through home paths" "$(manifest "$H")" "$before"
out=$(JTS_TIER_PLAN_CHUNK=3 "$CTL" migrate --dry-run --to hot "$H" 2>&1); rc=$?
contains "chunked dry run counts all" "$out" "$nfiles file(s)"
out=$(JTS_TIER_PLAN_CHUNK=3 "$CTL" recall "$H" 2>&1); rc=$?
eq "chunked recall exits 0" "$rc" 0
contains "chunked recall summary" "$out" "$nfiles moved"
eq "chunked: manifest after recall" "$(manifest "$H")" "$before"
eq "chunked: warm empty again" "$(count_files "$W/warm/data")" 0

# Moved in batches of 2 files, two batches at a time (as a tree of more
# than a batch is): the same.
out=$(JTS_TIER_BATCH_FILES=2 "$CTL" -v -v migrate "$H" 2>&1); rc=$?
eq "two batches at a time: migrate exits 0" "$rc" 0
contains "two batches at a time: summary" "$out" "$nfiles moved"
ok "two batches at a time: batches were run" \
    [ "$(printf '%s\n' "$out" | grep -c 'batch of 2: done')" -ge 4 ]
eq "two batches at a time: no regular file left on hot" "$(count_files "$H")" 0
eq "two batches at a time: manifest through home paths" "$(manifest "$H")" "$before"
out=$(JTS_TIER_BATCH_FILES=2 "$CTL" recall "$H" 2>&1); rc=$?
eq "two batches at a time: recall exits 0" "$rc" 0
eq "two batches at a time: manifest after recall" "$(manifest "$H")" "$before"
eq "two batches at a time: warm empty again" "$(count_files "$W/warm/data")" 0
catalog_view data "two batches at a time"
eq "two batches at a time: every file catalogued on hot" \
    "$(sqlite3 "$CAT" "select group_concat(distinct tier) from files
    where substr(path, 1, 5) = cast('data/' as blob)")" hot

# Dry run changes nothing.
out=$("$CTL" migrate --dry-run "$H/small.txt" 2>&1); rc=$?
eq "dry run exits 0" "$rc" 0
contains "dry run says what" "$out" "would move $H/small.txt: hot -> warm"
regular "dry run left the file" "$H/small.txt"
ok "dry run wrote nothing on warm" [ ! -e "$W/warm/data/small.txt" ]
finish
