#!/bin/bash
# btrfs-props.sh - what btrfs adds to a tier: a file's properties (the
# btrfs.* xattrs, e.g. its compression) belong to the file system, not to
# the data.  A warm file with a compression property is recalled to ext4
# and moved to the NAS (neither keeps btrfs properties) without error,
# the property dropped and every other xattr kept; a copy written to
# btrfs from btrfs gets the property before its data, so its extents are
# compressed (judged with filefrag); and the read-back of a copy on
# compressed btrfs starts with none of its pages in the page cache.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_hooks
need_cmd getfattr setfattr btrfs fincore
setup_tiers 512M 512M
start_nas "$W/export"
add_cold "$NAS_DIR"

H=$W/hot/p
mkdir -p "$H"
head -c 300000 /dev/urandom > "$H/prop"
yes compressible | head -c 2000000 > "$H/text"
setfattr -n user.keep -v yes "$H/prop"
want=$(xxh128sum < "$H/prop" | cut -d' ' -f1)
"$CTL" migrate -q --no-progress "$H" >/dev/null 2>&1
regular "migrated to warm" "$W/warm/p/prop"

# The owner of the data sets a compression property on the warm copy.
btrfs property set "$W/warm/p/prop" compression zstd
contains "warm copy has the property" \
    "$(getfattr -d -m - "$W/warm/p/prop" 2>/dev/null)" 'btrfs.compression="zstd"'
# The catalog follows the change of ctime: a rescan is what users run.
"$CTL" scan >/dev/null 2>&1

out=$("$CTL" recall -q --no-progress "$H/prop" 2>&1); rc=$?
eq "recall to ext4: exit" "$rc" 0
contains "recall to ext4: moved, none failed" "$out" "1 moved"
contains "recall to ext4: none failed" "$out" "0 failed"
regular "recalled to hot" "$H/prop"
eq "recalled content" "$(xxh128sum < "$H/prop" | cut -d' ' -f1)" "$want"
eq "user xattr kept" "$(getfattr -h --only-values -n user.keep "$H/prop" 2>/dev/null)" yes
ok "btrfs.compression not on the ext4 copy" sh -c \
    '! getfattr -d -m - "$1" 2>/dev/null | grep -q "^btrfs\."' sh "$H/prop"

# To the NAS: a btrfs property is no reason to refuse (user xattrs are).
head -c 100000 /dev/urandom > "$H/tonas"
want2=$(xxh128sum < "$H/tonas" | cut -d' ' -f1)
"$CTL" migrate -q --no-progress "$H/tonas" >/dev/null 2>&1
btrfs property set "$W/warm/p/tonas" compression zstd
"$CTL" scan >/dev/null 2>&1
out=$("$CTL" migrate --to cold -q --no-progress "$H/tonas" 2>&1); rc=$?
eq "warm -> NAS with a compression property: exit" "$rc" 0
regular "on the NAS" "$NAS_DIR/p/tonas"
eq "NAS content" "$(xxh128sum < "$NAS_DIR/p/tonas" | cut -d' ' -f1)" "$want2"
setfattr -n user.other -v 1 "$W/warm/p/text"
"$CTL" scan >/dev/null 2>&1
out=$("$CTL" migrate --to cold --no-progress "$H/text" 2>&1); rc=$?
eq "warm -> NAS with a user xattr: refused" "$rc" 1
contains "refusal names the cause" "$out" "has extended attributes or ACLs"

# The read-back reads the device, not the page cache: on compressed
# btrfs an O_DIRECT read of a compressed extent goes through the page
# cache, so the copy's pages are dropped before it.  A file this large
# is read back window by window while it is copied: during a pause
# before the last windows are read, with every window before them read
# already, fincore finds no page of the copy cached.
{
	yes compressible | head -c 100000000 > "$H/cached"
	JTS_TIER_PAUSE=readback:2000 "$CTL" migrate -q --no-progress \
	    "$H/cached" > /dev/null 2>&1 &
	mp=$!
	res=
	for _ in $(seq 1 1000); do
		t=$(find "$W/warm/p" -name '.jts-tier-*.tmp' 2>/dev/null | head -1)
		if [ -n "$t" ] && [ "$(stat -c %s "$t" 2>/dev/null)" = 100000000 ]; then
			sleep 0.5	# in the pause: the copy is synced
			res=$(fincore -nb -o RES "$t" 2>/dev/null | tr -d ' ')
			break
		fi
		sleep 0.01
	done
	wait $mp
	eq "read-back on compressed btrfs: no page of the copy cached when it starts" \
	    "$res" 0
	regular "read-back on compressed btrfs: the file moved" "$W/warm/p/cached"
}

# btrfs to btrfs (two file systems mounted without compress): the copy
# gets the source's compression property before its data is written.
loopfs "$W/img/b1.img" 400M btrfs "$W/b1"
loopfs "$W/img/b2.img" 400M btrfs "$W/b2"
cat > "$W/conf2" <<CONF
[catalog]
path = $W/var2/catalog.db
[defaults]
reserve = 16M
[tier b1]
kind = btrfs
root = $W/b1
[tier b2]
kind = btrfs
root = $W/b2
CONF
mkdir -p "$W/b1/d"
touch "$W/b1/d/z"
btrfs property set "$W/b1/d/z" compression zstd
yes compressible | head -c 64000000 > "$W/b1/d/z"
want3=$(xxh128sum < "$W/b1/d/z" | cut -d' ' -f1)
out=$("$CTL" -c "$W/conf2" migrate -q --no-progress "$W/b1/d/z" 2>&1); rc=$?
eq "btrfs -> btrfs: exit" "$rc" 0
regular "btrfs -> btrfs: copied" "$W/b2/d/z"
eq "btrfs -> btrfs: content" "$(xxh128sum < "$W/b2/d/z" | cut -d' ' -f1)" "$want3"
contains "btrfs -> btrfs: the property carried" \
    "$(getfattr -d -m - "$W/b2/d/z" 2>/dev/null)" 'btrfs.compression="zstd"'
sync
# Every extent line of filefrag -v (they start with "N:") is encoded,
# but for extents of one block: btrfs never compresses a one-block range,
# and a sync(2) by another process while the copy writes a buffer can
# write back a range that holds only its first dirty page.  Without the
# property set before the data, every extent would be plain and long.
filefrag -v "$W/b2/d/z" > "$W/frag"
ok "btrfs -> btrfs: the copy has extents" grep -q '^ *[0-9]*:.*encoded' "$W/frag"
eq "btrfs -> btrfs: every extent of the copy compressed (filefrag)" \
    "$(grep -E '^ *[0-9]+:' "$W/frag" | grep -v encoded |
    awk -F: '$4 + 0 > 1' | wc -l)" 0
ok "btrfs -> btrfs: at most a few one-block extents plain" \
    [ "$(grep -E '^ *[0-9]+:' "$W/frag" | grep -vc encoded)" -le 4 ]
finish
