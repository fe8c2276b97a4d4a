#!/bin/bash
# cold-roundtrip.sh - a tree goes hot -> warm -> cold (a real NFS server,
# nfs-ganesha on loopback) and is recalled cold -> hot; content, modes,
# owners and ns mtimes are judged on the server's export directory with
# xxh128sum and stat, and through NFS with nfs-ls and nfs-cat; the catalog
# with sqlite3.  Then: a cold tier without a mountpoint (nothing left
# behind, the catalog remembers), a corrupt cold copy refused on recall,
# and what an nfs tier refuses.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_cmd nfs-cat nfs-ls setfattr
setup_tiers 1G 1G
start_nas "$W/export"
# The export directory stands in for where hosts mount the share.
add_cold "$NAS_DIR"
NASQ=${NAS_URL#*\?}

# The NAS's size and free space (FSSTAT) in status and metrics: what the
# export's own file system has on the server (stat -f).
read -r bs blocks bfree bavail < <(stat -f -c '%S %b %f %a' "$NAS_DIR")
want_size=$(( (blocks - bfree + bavail) * bs ))
want_free=$(( bavail * bs ))
"$CTL" status --json > "$W/st.json"
eq "status: the NAS's size, as the export's file system" \
    "$(python3 -c 'import json,sys; print([t for t in json.load(open(sys.argv[1]))["tiers"] if t["name"] == "cold"][0]["size"])' "$W/st.json")" \
    "$want_size"
got_free=$(python3 -c 'import json,sys; print([t for t in json.load(open(sys.argv[1]))["tiers"] if t["name"] == "cold"][0]["free"])' "$W/st.json")
# The export shares its file system with whatever else runs (other
# tests write there): its free space taken before and after status
# brackets what status may say.
after_free=$(( $(stat -f -c '%a' "$NAS_DIR") * bs ))
lo=$(( (want_free < after_free ? want_free : after_free) - (64 << 20) ))
hi=$(( (want_free > after_free ? want_free : after_free) + (64 << 20) ))
ok "status: the NAS's free space, within 64 MiB of the export's before and after ($got_free, $want_free, $after_free)" \
    test "$got_free" -ge "$lo" -a "$got_free" -le "$hi"
"$CTL" metrics > "$W/metrics.out"
eq "metrics: the NAS's size" \
    "$(sed -n 's/^jts_tier_size_bytes{tier="cold"} //p' "$W/metrics.out")" "$want_size"
contains "metrics: the NAS's free space" "$(cat "$W/metrics.out")" 'jts_tier_free_bytes{tier="cold"} '
ok "status: free, size and use for the NAS in the table" sh -c \
    '"$1" status | grep -E "^cold +nfs .* [0-9.]+ [KMGT]iB +[0-9.]+ [KMGT]iB +[0-9]+% "' sh "$CTL"

H=$W/hot/data
mkdir -p "$H/deep/er/est" "$H/ünïcödé"
: > "$H/empty"
echo small > "$H/small.txt"
head -c 30M /dev/urandom > "$H/thirty.bin"
truncate -s 40M "$H/sparse.img"
echo middle | dd of="$H/sparse.img" bs=1 seek=$((20 << 20)) conv=notrunc 2>/dev/null
head -c 300000 /dev/urandom > "$H/deep/er/est/nested.dat"
echo x > "$H/ünïcödé/fïlé ñame.txt"
printf 'nl\n' > "$H/new
line.txt"
echo suid > "$H/setuid"; chmod 4755 "$H/setuid"
echo owned > "$H/owned"; chown 1234:5678 "$H/owned"; chmod 640 "$H/owned"
touch -d '2001-02-03 04:05:06.123456789' "$H/small.txt"
for i in $(seq 1 40); do head -c $((i * 1000)) /dev/urandom > "$H/deep/f$i"; done
before=$(manifest "$H")
nfiles=$(count_files "$H")

out=$("$CTL" migrate "$H" 2>&1); rc=$?
eq "hot -> warm exits 0" "$rc" 0
out=$("$CTL" migrate "$H" 2>&1); rc=$?
eq "warm -> cold exits 0" "$rc" 0
contains "summary counts every file" "$out" "$nfiles moved"

eq "catalog: every file on cold" \
    "$(sqlite3 "$CAT" "select count(*) from files where tier='cold' and home='hot'")" "$nfiles"
eq "warm holds no file any more" "$(count_files "$W/warm/data")" 0
eq "export holds every file" "$(count_files "$NAS_DIR/data")" "$nfiles"
eq "no temporaries on the export" \
    "$(find "$NAS_DIR" -name '.jts-tier*' | wc -l)" 0
bad=0
while IFS= read -r -d '' f; do
	rel=${f#"$W/hot/"}
	[ "$(readlink "$f")" = "$NAS_DIR/$rel" ] || { echo "bad link $f"; bad=$((bad + 1)); }
done < <(find "$H" -type l -print0)
eq "home symlinks point into the mountpoint" "$bad" 0
eq "no regular file left on hot" "$(count_files "$H")" 0
eq "manifest on the export (hash, mode, owner, ns mtime)" \
    "$(manifest "$NAS_DIR/data")" "$before"
eq "manifest through the home paths" "$(manifest "$H")" "$before"
eq "setuid kept on the NAS" "$(stat -c %a "$NAS_DIR/data/setuid")" 4755
eq "owner kept on the NAS" "$(stat -c %u:%g "$NAS_DIR/data/owned")" 1234:5678
eq "ns mtime kept on the NAS" "$(stat -c %.9Y "$NAS_DIR/data/small.txt")" \
    "981173106.123456789"
ok "sparse file stays sparse on the NAS" \
    [ "$(du -k "$NAS_DIR/data/sparse.img" | cut -f1)" -lt 4096 ]

# Through NFS itself, with libnfs' own tools.
listing=$(nfs-ls "nfs://127.0.0.1$NAS_DIR/data/deep?$NASQ" 2>&1)
contains "nfs-ls sees the tree" "$listing" "f40"
eq "nfs-cat reads the data back" \
    "$(nfs-cat "nfs://127.0.0.1$NAS_DIR/data/deep/er/est/nested.dat?$NASQ" | xxh128sum | cut -d' ' -f1)" \
    "$(xxh128sum < "$NAS_DIR/data/deep/er/est/nested.dat" | cut -d' ' -f1)"

bad=0
while IFS='|' read -r hp h; do
	p=$(unhex "$hp")
	want=$(xxh128sum < "$NAS_DIR/$p" | cut -d' ' -f1)
	[ "$h" = "$want" ] || { echo "hash of $p: catalog $h, NAS $want"; bad=$((bad + 1)); }
done < <(sqlite3 "$CAT" "select hex(path), lower(hex(hash)) from files")
eq "catalog hashes equal xxh128sum on the NAS" "$bad" 0
eq "journal all done" "$(sqlite3 "$CAT" "select count(*) from journal where state <> 'done'")" 0
out=$("$CTL" check --verify 2>&1); rc=$?
eq "check --verify is OK with data on cold" "$rc" 0
contains "and re-read it over NFS" "$out" "verified_bytes=$(sqlite3 "$CAT" "select sum(size) from files")B"
out=$("$CTL" migrate --to warm "$NAS_DIR/data/small.txt" 2>&1); rc=$?
ok "a path on the nfs tier is refused" [ "$rc" -ne 0 ]
contains "with a hint" "$out" "recalled by their home path"

# cold -> hot.
out=$("$CTL" recall "$H" 2>&1); rc=$?
eq "recall exits 0" "$rc" 0
contains "recall counts every file" "$out" "$nfiles moved"
eq "hot holds every file again" "$(count_files "$H")" "$nfiles"
eq "no symlink left on hot" "$(find "$H" -type l | wc -l)" 0
eq "manifest after the round trip" "$(manifest "$H")" "$before"
eq "owner restored" "$(stat -c %u:%g "$H/owned")" 1234:5678
eq "export emptied" "$(count_files "$NAS_DIR")" 0
eq "catalog: every file home" \
    "$(sqlite3 "$CAT" "select count(*) from files where tier='hot'")" "$nfiles"
ok "sparse file sparse again on hot" \
    [ "$(du -k "$H/sparse.img" | cut -f1)" -lt 4096 ]


# A cold tier with no mountpoint: the source is removed, the catalog
# remembers, status and check list the files, recall restores them.
sed -i '/^mountpoint = /d' "$CONF"
id_small=$(fileid "$H/small.txt")
out=$("$CTL" migrate --to cold "$H/small.txt" "$H/deep" 2>&1); rc=$?
eq "hot -> cold without a mountpoint exits 0" "$rc" 0
absent "nothing left at the home path" "$H/small.txt"
eq "deep emptied on hot" "$(find "$H/deep" ! -type d | wc -l)" 0
eq "data on the NAS" "$(fileid "$NAS_DIR/data/small.txt")" "$id_small"
out=$("$CTL" status 2>&1)
contains "status counts files on cold" "$out" "cold"
contains "status lists files with no path left" "$out" "42 files kept only on tier cold"
out=$("$CTL" check 2>&1); rc=$?
eq "check is OK" "$rc" 0
out=$("$CTL" recall "$H/small.txt" 2>&1); rc=$?
eq "recall by the home path exits 0" "$rc" 0
eq "small.txt back, identical" "$(fileid "$H/small.txt")" "$id_small"

# A corrupt cold copy (same size and mtime, one byte changed) is refused.
f=$NAS_DIR/data/deep/f7
cp -p "$f" "$W/f7.orig"
flip_byte "$f" 100
touch -r "$W/f7.orig" "$f"
out=$("$CTL" recall "$H/deep/f7" 2>&1); rc=$?
ok "recall of a corrupt copy exits non-zero" [ "$rc" -ne 0 ]
contains "names the file and the corruption" "$out" "deep/f7: the copy on tier cold is corrupt"
ok "nothing written at home" [ ! -e "$H/deep/f7" ]
eq "catalog still says cold" "$(sqlite3 "$CAT" "select tier from files where path = CAST('data/deep/f7' AS BLOB)")" cold
ok "the corrupt copy is left for the operator" [ -f "$f" ]
out=$("$CTL" check --verify 2>&1); rc=$?
eq "check --verify: CRITICAL" "$rc" 2
contains "names the corrupt copy on the NAS" "$out" "CRITICAL: corrupt: nfs://127.0.0.1$NAS_DIR/data/deep/f7: content hash"
mv "$NAS_DIR/data/deep/f9" "$W/f9.away"
out=$("$CTL" check 2>&1); rc=$?
contains "check names a copy missing on the NAS" "$out" "CRITICAL: missing: nfs://127.0.0.1$NAS_DIR/data/deep/f9"
mv "$W/f9.away" "$NAS_DIR/data/deep/f9"
eq "no temporaries at home" "$(find "$W/hot" -name '.jts-tier*' | wc -l)" 0
out=$("$CTL" recall "$H/deep" 2>&1); rc=$?
ok "recall of the rest reports the one corrupt file" [ "$rc" -ne 0 ]
eq "the 40 good ones came back" "$(count_files "$H/deep")" 40

# What an nfs tier refuses.
echo attrs > "$H/attrs"; setfattr -n user.k -v v "$H/attrs"
out=$("$CTL" migrate --to cold "$H/attrs" 2>&1); rc=$?
ok "a file with xattrs is refused" [ "$rc" -ne 0 ]
contains "and says why" "$out" "extended attributes or ACLs, which nfs tier cold cannot keep"
regular "it stays in place" "$H/attrs"
sed -i "s|^url = .*|&\&version=4|" "$CONF"
out=$("$CTL" status 2>&1); rc=$?
eq "version=4 is a configuration error" "$rc" 2
contains "naming NFSv4" "$out" "NFSv4 (version=4) is not supported"
finish
