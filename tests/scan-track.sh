#!/bin/bash
# scan-track.sh - the daemon's catalog follows the disks: the reconcile
# scan at start adds, updates, removes and follows renamed files (keeping
# their history), clears the hash of files written since they were
# hashed; live tracking (fanotify) does the same while it runs.  Judged
# with stat and sqlite3.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
need_cmd getfattr setfattr
setup_tiers 512M 512M
[ -x "$TIERD" ] || skip "jts-tierd not built"
H=$W/hot
mkdir -p "$W/policies" "$H/d/sub" "$H/e"
for f in a b c d/x d/sub/y e/z; do head -c 3000 /dev/urandom > "$H/$f"; done
ln -s a "$H/link"          # symlinks are not files to track
mkfifo "$H/fifo"
q() { sqlite3 "$CAT" "$1"; }
row() { q "SELECT size, ino, hash IS NOT NULL, coalesce(heat > 0, 0) FROM files WHERE path = CAST('$1' AS BLOB)"; }

start_daemon JTS_TIER_TRACK_FLUSH=0.3 || exit 1
wait_log "scan tier=warm" 20
eq "first scan: regular files only" "$(q 'SELECT count(*) FROM files')" 6
eq "each row has the file's size and inode" "$(row d/sub/y)" \
    "3000|$(stat -c %i "$H/d/sub/y")|0|0"
# A move gives a file a hash; a read gives it heat.
"$CTL" migrate -q "$H/b" > /dev/null
eq "b moved and hashed" "$(q "SELECT tier, length(hash) FROM files WHERE path = CAST('b' AS BLOB)")" "warm|16"
cat "$H/c" > /dev/null
for _ in $(seq 50); do [ "$(row c | cut -d'|' -f4)" = 1 ] && break; sleep 0.1; done
eq "c has heat from the read" "$(row c | cut -d'|' -f4)" 1

# Live: a new file, a longer file, a removed file.
head -c 1234 /dev/urandom > "$H/e/new"
head -c 500 /dev/urandom >> "$H/a"
rm "$H/e/z"
for _ in $(seq 50); do
	[ "$(q "SELECT count(*) FROM files WHERE path IN (CAST('e/new' AS BLOB), CAST('e/z' AS BLOB))")" = 1 ] &&
	[ "$(row a | cut -d'|' -f1)" = 3500 ] && break
	sleep 0.1
done
eq "live: new file added" "$(row e/new | cut -d'|' -f1)" 1234
eq "live: written file's size updated" "$(row a | cut -d'|' -f1)" 3500
eq "live: removed file forgotten" "$(row e/z)" ""
stop_daemon

# While it is down: rename (same inode), write, delete, chmod, and write to
# a moved file through its link.
mv "$H/c" "$H/d/c-renamed"
head -c 10 /dev/urandom >> "$H/d/x"
rm "$H/d/sub/y"
chmod 600 "$H/e/new"
head -c 100 /dev/urandom >> "$H/b"     # through the symlink, onto warm
head -c 777 /dev/urandom > "$H/later"
start_daemon || exit 1
wait_log "scan tier=warm" 20 2
line=$(grep 'scan tier=hot' "$W/d.log" | tail -1)
contains "rescan counts (hot)" "$line" "added=1 changed=2 removed=1 renamed=1"
line=$(grep 'scan tier=warm' "$W/d.log" | tail -1)
contains "rescan counts (warm)" "$line" "changed=1"
eq "renamed: the row follows, with its heat" "$(row d/c-renamed | cut -d'|' -f1,4)" "3000|1"
eq "renamed: no row under the old name" "$(row c)" ""
eq "written while down: new size" "$(row d/x | cut -d'|' -f1)" 3010
eq "deleted while down: forgotten" "$(row d/sub/y)" ""
eq "chmod only: mode updated" "$(q "SELECT mode & 511 FROM files WHERE path = CAST('e/new' AS BLOB)")" 384
eq "moved file written through its link: hash cleared, still on warm" \
    "$(q "SELECT tier, home, size, hash IS NULL FROM files WHERE path = CAST('b' AS BLOB)")" "warm|hot|3100|1"
eq "new file added" "$(row later | cut -d'|' -f1)" 777
# A moved file whose data vanished stays in the catalog for check to see.
rm "$W/warm/b"
"$CTL" reload > /dev/null   # (no rescan on reload; restart instead)
stop_daemon
start_daemon || exit 1
wait_log "scan tier=warm" 20 3
eq "lost data keeps its row" "$(q "SELECT tier FROM files WHERE path = CAST('b' AS BLOB)")" warm
out=$("$CTL" check 2>&1); rc=$?
eq "check reports the loss: CRITICAL" "$rc" 2
contains "check names the file" "$out" "b"
stop_daemon
# Nothing changed: a rescan changes nothing.
start_daemon || exit 1
wait_log "scan tier=warm" 20 4
contains "unchanged tree: nothing to do" "$(grep 'scan tier=hot' "$W/d.log" | tail -1)" \
    "added=0 changed=0 removed=0 renamed=0"
stop_daemon
eq "catalog integrity" "$(q 'PRAGMA integrity_check')" ok

# Lost events (here: more paths in a window than tracking holds) bring a
# rescan at once, which catalogues what the events would have.
start_daemon JTS_TIER_TRACK_MAX=5 JTS_TIER_TRACK_FLUSH=0.5 || exit 1
wait_log "scan tier=warm" 20 5
mkdir -p "$H/burst"
for i in $(seq 1 20); do echo "$i" > "$H/burst/f$i"; done
wait_log "fanotify: events were lost" 20
wait_log "scan tier=hot" 20 6
for _ in $(seq 50); do
	[ "$(q "SELECT count(*) FROM files WHERE CAST(path AS TEXT) GLOB 'burst/*'")" = 20 ] && break
	sleep 0.1
done
eq "the rescan after lost events catalogued the burst" \
    "$(q "SELECT count(*) FROM files WHERE CAST(path AS TEXT) GLOB 'burst/*'")" 20
stop_daemon

# A directory of new small files beyond every catalogued path: their stub
# look is shared with a second thread.  Copies of stubs (the mark set by
# hand here) among them, in a subdirectory in the middle of the listing
# and as sparse files, are not catalogued; every other file is.
M=$H/zz-many
mkdir -p "$M/f100.d"
mark='jts-tier stub 1 row=1 size=3000 xxh3=0123456789abcdef0123456789abcdef'
for i in $(seq 100 299); do head -c $((i * 7)) /dev/urandom > "$M/f$i"; done
for i in $(seq 10 49); do head -c $i /dev/urandom > "$M/f100.d/g$i"; done
truncate -s 10M "$M/sparse-marked" "$M/sparse-plain"
for f in $(seq 100 10 299) ; do setfattr -n trusted.jts-tier.stub -v "$mark" "$M/f$f"; done
for f in $(seq 10 8 49); do setfattr -n trusted.jts-tier.stub -v "$mark" "$M/f100.d/g$f"; done
setfattr -n trusted.jts-tier.stub -v "$mark" "$M/sparse-marked"
getfattr -R -m '^trusted.jts-tier.stub$' --absolute-names "$M" 2>/dev/null |
    sed -n "s|^# file: $H/||p" | sort > "$W/marked"
eq "the tree holds 26 marked files (getfattr)" "$(wc -l < "$W/marked")" 26
(cd "$H" && find zz-many -type f) | sort | comm -23 - "$W/marked" > "$W/want"
eq "and 216 others (find)" "$(wc -l < "$W/want")" 216
n=$(grep -c 'scan tier=warm' "$W/d.log")
start_daemon || exit 1
wait_log "scan tier=warm" 20 $((n + 1))
q "SELECT CAST(path AS TEXT) FROM files WHERE CAST(path AS TEXT) GLOB 'zz-many/*'" |
    sort > "$W/got"
eq "the scan catalogued every file but the marked ones" \
    "$(diff "$W/want" "$W/got" && echo same)" same
contains "and counted them" "$(grep 'scan tier=hot' "$W/d.log" | tail -1)" \
    "added=216 "
stop_daemon
rm -rf "$M"

# A catalog beneath a tier root (as /var/lib/jts-tier under /var/lib) is
# never catalogued, scanned or moved.
sed "s|^path = .*|path = $H/jts-tier/catalog.db|" "$CONF" > "$W/own.conf"
"$CTL" -c "$W/own.conf" recover > /dev/null
out=$("$CTL" -c "$W/own.conf" migrate "$H/jts-tier/catalog.db" 2>&1); rc=$?
eq "migrating the catalog itself is refused" "$rc" 1
contains "with the reason" "$out" "jts-tier's own catalog directory"
"$CTL" -c "$W/own.conf" migrate -q "$H" > /dev/null 2>&1
ok "migrating the whole tier leaves the catalog in place" \
    test -f "$H/jts-tier/catalog.db" -a ! -L "$H/jts-tier/catalog.db"
eq "and its directory holds no symlink" "$(find "$H/jts-tier" -type l | wc -l)" 0
start_daemon JTS_TIER_CONF="$W/own.conf" || exit 1
wait_log "scan tier=warm" 20 7
eq "the daemon uses that catalog: the 25 moved files" \
    "$(sqlite3 "$H/jts-tier/catalog.db" "SELECT count(*) FROM files WHERE tier = 'warm'")" 25
eq "the scan skips the catalog's directory" \
    "$(sqlite3 "$H/jts-tier/catalog.db" "SELECT count(*) FROM files WHERE CAST(path AS TEXT) GLOB 'jts-tier/*'")" 0
stop_daemon
finish
