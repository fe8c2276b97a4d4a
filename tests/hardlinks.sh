#!/bin/bash
# hardlinks.sh - sets of hard links move whole.  A tree of backups made
# with cp -al goes hot -> warm -> cold (nfs-ganesha on loopback) and is
# recalled; each step is judged against a reference copy with rsync
# -aH --checksum -n (hard links included), link counts and inode numbers
# with stat, and the catalog with sqlite3.  A set with a name outside
# what was named is refused, all of it, nothing touched; so is a set with
# leave = stub; naming both parts moves it.  A policy moves a set whose
# names it selects together, and refuses one it selects a name of.  A
# SIGKILL between the releases of one set's names (a set larger than a
# batch) loses nothing, and recovery ends the set's move.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_hooks
need_cmd rsync nfs-cat
setup_tiers 1G 1G
[ -x "$TIERD" ] || skip "jts-tierd not built"
start_nas "$W/export"
add_cold "$NAS_DIR"

H=$W/hot/data
B=$H/backups
mkdir -p "$B/base/etc" "$B/base/db"
echo conf > "$B/base/etc/app.conf"
head -c 3M /dev/urandom > "$B/base/db/big.dat"
head -c 20000 /dev/urandom > "$B/base/db/small.dat"
: > "$B/base/etc/empty"
printf 'nl\n' > "$B/base/etc/new
line"
echo owned > "$B/base/etc/owned"; chown 1234:5678 "$B/base/etc/owned"
chmod 640 "$B/base/etc/owned"
touch -d '2001-02-03 04:05:06.123456789' "$B/base/etc/app.conf"
# Three names in one directory, beside the snapshots' sets.
echo triple > "$B/base/t1"; ln "$B/base/t1" "$B/base/t2"; ln "$B/base/t1" "$B/base/t3"
cp -al "$B/base" "$B/snap1"
# The next backup changed two files (new inodes), kept the rest linked.
rm "$B/base/db/small.dat"; head -c 20000 /dev/urandom > "$B/base/db/small.dat"
rm "$B/base/etc/app.conf"; echo conf2 > "$B/base/etc/app.conf"
cp -al "$B/base" "$B/snap2"
echo lone > "$B/lone.txt"
REF=$W/ref
cp -a "$B" "$REF"
nnames=$(count_files "$B")
nlinked=$(find "$B" -type f -links +1 -printf x | wc -c)
ok "the tree has sets of hard links ($nlinked of $nnames names)" test "$nlinked" -gt 10

# same_tree A B: rsync finds nothing to do from A to B, hard links,
# owners, modes, times and checksums compared (directory times not).
same_tree() {
	local out
	out=$(rsync -aHO --checksum -n -i --delete "$1/" "$2/" 2>&1)
	[ -z "$out" ] || { printf '%s\n' "$out" | head -20; return 1; }
}
# links_of DIR NAME...: "inode:links" of each name, space-separated,
# with the inode numbers renamed in order of first sight (a tree's
# shape of links, comparable between file systems).
links_of() {
	local d=$1 f i n=0; shift
	declare -A seen
	for f in "$@"; do
		i=$(stat -c %i "$d/$f")
		[ -n "${seen[$i]:-}" ] || { n=$((n + 1)); seen[$i]=$n; }
		printf '%s:%s ' "${seen[$i]}" "$(stat -c %h "$d/$f")"
	done
	echo
}
NAMES=(base/t1 base/t2 base/t3 base/etc/owned snap1/etc/owned snap2/etc/owned
    base/etc/app.conf snap1/etc/app.conf snap2/etc/app.conf
    base/db/big.dat snap1/db/big.dat snap2/db/big.dat lone.txt)
shape=$(links_of "$B" "${NAMES[@]}")
eq "the shape of links is the one made" "$shape" \
    "1:9 1:9 1:9 2:3 2:3 2:3 3:2 4:1 3:2 5:3 5:3 5:3 6:1 "

# A dry run lists every name and changes nothing.
out=$("$CTL" migrate -n "$B" 2>&1); rc=$?
eq "dry run exits 0" "$rc" 0
contains "dry run: every name would move" "$out" "$nnames file(s)"
ok "dry run changed nothing" same_tree "$REF" "$B"

# step NAME DIR CMD...: run jts-tierctl CMD; it exits 0 and moves every
# name, and DIR then holds the tree, links and all, as the reference.
step() {
	local name=$1 dir=$2 out rc
	shift 2
	out=$("$CTL" "$@" 2>&1); rc=$?
	eq "$name: exit 0" "$rc" 0
	contains "$name: every name moved" "$out" "$nnames moved"
	ok "$name: $dir holds the tree, links and all (rsync -aH --checksum)" \
	    same_tree "$REF" "$dir"
	eq "$name: the shape of links" "$(links_of "$dir" "${NAMES[@]}")" "$shape"
	"$CTL" check > "$W/check.out" 2>&1
	eq "$name: check exits 0 after" "$?" 0
}

step "hot -> warm" "$W/warm/data/backups" migrate "$B"
eq "hot: every name is a symbolic link" \
    "$(find "$B" ! -type d ! -type l | wc -l)" 0
bad=0
while IFS= read -r -d '' f; do
	[ "$(readlink "$f")" = "$W/warm/${f#"$W/hot/"}" ] || bad=$((bad + 1))
done < <(find "$B" -type l -print0)
eq "hot: each link points at its own name on warm" "$bad" 0
# data_bytes DIR: the bytes of the files beneath DIR, each inode once.
data_bytes() {
	find "$1" -type f -printf '%i %s\n' | sort -u | awk '{ s += $2 } END { print s + 0 }'
}
eq "each set's data is there once: warm's bytes are the reference's" \
    "$(data_bytes "$W/warm/data/backups")" "$(data_bytes "$REF")"
eq "catalog: each linked name is a row of its set" \
    "$(sqlite3 "$CAT" "select count(*) from files where tier='warm' and links > 1")" "$nlinked"
eq "catalog: a set of nine is nine rows of one inode" \
    "$(sqlite3 "$CAT" "select count(*) || ':' || count(distinct ino) || ':' || min(links) from files where cast(path as text) glob 'data/backups/*/t?'")" "9:1:9"

# Named by the home paths (symbolic links): the catalog knows the sets.
step "warm -> cold" "$NAS_DIR/data/backups" migrate "$B"
eq "warm holds nothing" "$(find "$W/warm/data" -type f | wc -l)" 0
eq "no temporaries on the export" "$(find "$NAS_DIR" -name '.jts-tier*' | wc -l)" 0
eq "through NFS: a name of a set reads as the reference" \
    "$(nfs-cat "nfs://127.0.0.1$NAS_DIR/data/backups/snap2/db/big.dat?${NAS_URL#*\?}" 2>/dev/null | xxh128sum | cut -d' ' -f1)" \
    "$(xxh128sum < "$REF/snap2/db/big.dat" | cut -d' ' -f1)"

step "recall cold -> hot" "$B" recall "$B"
eq "hot: no symbolic link left" "$(find "$B" -type l | wc -l)" 0
eq "the export holds nothing" "$(find "$NAS_DIR/data" -type f | wc -l)" 0

# --- refusals ---------------------------------------------------------------
mkdir -p "$H/part"
echo in > "$H/part/x"; ln "$H/part/x" "$H/elsewhere-x"
echo alone > "$H/part/y"
ino=$(stat -c %i "$H/part/x")
out=$("$CTL" migrate "$H/part" 2>&1); rc=$?
eq "a set with a name outside the tree: exit 1" "$rc" 1
contains "the reason names the link outside" "$out" "1 of them not among the files to move"
regular "the set stays: its name in the tree" "$H/part/x"
eq "the set stays one inode of two links" \
    "$(stat -c %i:%h "$H/part/x"):$(stat -c %i:%h "$H/elsewhere-x")" "$ino:2:$ino:2"
ok "the file beside it moved" test -L "$H/part/y"
out=$("$CTL" migrate "$H/part" "$H/elsewhere-x" 2>&1); rc=$?
eq "naming both names moves the set: exit 0" "$rc" 0
ok "both names are links to warm" test -L "$H/part/x" -a -L "$H/elsewhere-x"
eq "warm keeps them as one inode of two links" \
    "$(stat -c %h "$W/warm/data/part/x"):$(stat -c %i "$W/warm/data/part/x")" \
    "2:$(stat -c %i "$W/warm/data/elsewhere-x")"

mkdir -p "$H/st"
echo s > "$H/st/a"; ln "$H/st/a" "$H/st/b"
mkdir -p "$H/pol" "$H/pol1" "$W/policies"
echo p > "$H/pol/a"; ln "$H/pol/a" "$H/pol/b"; echo c > "$H/pol/c"
echo q > "$H/pol1/a"; ln "$H/pol1/a" "$H/pol1/b"
cat > "$W/policies/down.policy" <<P
[policy]
from = hot
to = warm
condition = path GLOB 'data/pol/*' OR path = 'data/pol1/a'
schedule = 1h
P
start_daemon
wait_log "scan tier=hot" 20
out=$("$CTL" migrate --leave stub "$H/st" 2>&1); rc=$?
"$CTL" policy run down > /dev/null 2>&1
wait_log "policy down run=request moved=" 30
stop_daemon
# Its first scheduled run (after the first scan) or the one asked for,
# whichever came first, moved them: the runs' counts add up.
eq "a policy moved the set it selected whole, and the file beside" \
    "$(grep -o 'policy down run=[a-z]* moved=[0-9]*' "$W/d.log" |
    awk -F= '{ s += $NF } END { print s + 0 }')" 3
ok "the policy's set: both names links to warm" test -L "$H/pol/a" -a -L "$H/pol/b"
eq "warm keeps the policy's set as one inode of two links" \
    "$(stat -c %h "$W/warm/data/pol/a"):$(stat -c %i "$W/warm/data/pol/a")" \
    "2:$(stat -c %i "$W/warm/data/pol/b")"
eq "a set the policy selected one name of stays, both names" \
    "$(stat -c %h "$H/pol1/a"):$(find "$H/pol1" -type f | wc -l)" "2:2"
ok "the daemon says why" grep -q \
    'pol1/a from=hot to=warm .* result=failed reason="has 2 hard links, 1 of them not among' \
    "$W/d.log"
eq "leave = stub with a set: exit 1" "$rc" 1
contains "the reason: sets are not left as stubs" "$out" "not as stubs"
eq "both names untouched" "$(stat -c %h "$H/st/a"):$(find "$H/st" -type f | wc -l)" "2:2"
eq "no temporaries left" "$(find "$W/hot" "$W/warm" -name '.jts-tier*' | wc -l)" 0

# --- a SIGKILL between the releases of a set's names ----------------------
mkdir -p "$H/crash"
head -c 100000 /dev/urandom > "$H/crash/a"
ln "$H/crash/a" "$H/crash/b"; ln "$H/crash/a" "$H/crash/c"
cp -a "$H/crash" "$W/ref-crash"
JTS_TIER_FAULT=release:2 JTS_TIER_BATCH_FILES=2 "$CTL" migrate -q "$H/crash" \
    > /dev/null 2>&1
eq "killed after the first name was released" "$?" 137
eq "killed in the second name's release: the third not begun" \
    "$(find "$H/crash" -type l | wc -l):$(find "$H/crash" -type f ! -name ".jts-tier*" | wc -l)" 2:1
"$CTL" recover > "$W/rec.out" 2>&1
eq "recover exits 0" "$?" 0
eq "recover: every name is a link to warm now" \
    "$(find "$H/crash" -type l | wc -l):$(find "$H/crash" -type f | wc -l)" "3:0"
ok "warm holds the set whole (rsync -aH --checksum)" \
    same_tree "$W/ref-crash" "$W/warm/data/crash"
eq "no conflict left" "$(sqlite3 "$CAT" "select count(*) from journal where state = 'conflict'")" 0
"$CTL" check > "$W/check.out" 2>&1
eq "check exits 0 after recovery" "$?" 0
finish
