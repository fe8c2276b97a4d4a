#!/bin/bash
# s3-fleet.sh - a bucket shared by a fleet: several catalogs on one
# object store (a one-node Ceph cluster, tests/lib-s3.sh), as cloned
# hosts and hosts with the same name make them.  No catalog removes
# another's objects, even with their row ids lined up on purpose and the
# prefix's claim removed by hand; a second catalog on a prefix, a nested
# or an enclosing one, and a copied catalog are refused with the reason;
# a catalog takes a prefix over only on purpose.  And every name either
# moves or is refused cleanly: keys the server cannot keep are refused
# before the upload, a control character in a name leaves the listing
# (the quota) working, prefixes are normalised or refused; the objects
# describe their files (mode, owner, holes), a recall to a middle tier
# leaves a link at home, a replaced object is CRITICAL, a rotated key is
# read again on reload.  Judged with s3cmd, curl signing itself,
# xxh128sum, stat and sqlite3.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
. "${JTS_SRCDIR:-.}/tests/lib-s3.sh"
need_cmd s3cmd sqlite3 jq
setup_tiers 1G 1G
start_s3

CRED=$W/s3.cred
printf 'access_key = %s\nsecret_key = %s\n' "$S3_ACCESS" "$S3_SECRET" > "$CRED"
chmod 600 "$CRED"

# host NAME PREFIX [KEY = VALUE...]: a host of its own (a catalog, hot
# and warm roots beneath the test's tiers) whose cold tier is the
# bucket's PREFIX; its configuration at $W/NAME.conf.
host() {
	local n=$1 p=$2
	shift 2
	mkdir -p "$W/hot/$n" "$W/warm/$n"
	{
		printf '[catalog]\npath = %s/%s/catalog.db\n' "$W" "$n"
		printf '[defaults]\nreserve = 1M\n'
		printf '[daemon]\nsocket = %s/%s.sock\npolicies = %s/policies\n' \
		    "$W" "$n" "$W"
		printf '[tier hot]\nroot = %s/hot/%s\n' "$W" "$n"
		printf '[tier warm]\nkind = btrfs\nroot = %s/warm/%s\n' "$W" "$n"
		printf '[tier cold]\nkind = s3\nendpoint = http://%s\n' "$S3_ENDPOINT"
		printf 'bucket = %s\nregion = default\n' "$S3_BUCKET"
		[ "$p" = - ] || printf 'prefix = %s\n' "$p"
		printf 'credentials = %s\ntimeout = 20\npart_size = 5M\n' "$CRED"
		printf '%s\n' "$@"
	} > "$W/$n.conf"
}
# on NAME ARGS...: jts-tierctl as host NAME.
on() { local n=$1; shift; "$CTL" -c "$W/$n.conf" "$@"; }
# obj KEY: the object's bytes hashed (curl signing itself).
obj() { s3curl "$(printf '%s' "$1" | jq -sRr @uri | sed 's/%2F/\//g')" -f | xxh128sum | cut -d' ' -f1; }
# uploads PREFIX: unfinished multipart uploads beneath it.
uploads() { s3curl "?encoding-type=url&prefix=$1%2F&uploads=" -f | grep -o '<Upload>' | wc -l; }
# keys PREFIX: the objects beneath it, as the server lists them.
keys() { s3curl "?encoding-type=url&list-type=2&prefix=$1%2F" -f | grep -o '<Key>' | wc -l; }
# rows NAME: journal rows of host NAME not settled.
rows() { sqlite3 "$W/$1/catalog.db" "select count(*) from journal where state not in ('done', 'aborted')"; }

# --- 1. Two catalogs, one prefix, the ids lined up ----------------------
host d shared
host c shared
for i in $(seq 1 40); do
	echo "d's only copy $i" > "$W/hot/d/f$i"
	echo "c's own $i" > "$W/hot/c/f$i"
done
(cd "$W/hot/d" && for i in $(seq 1 40); do echo "$(xxh128sum < "f$i" | cut -d' ' -f1) f$i"; done) > "$W/d.sums"
out=$(on d migrate --to cold "$W/hot/d" 2>&1); rc=$?
eq "host d: 40 files to the bucket" "$rc:$(keys shared)" "0:40"
eq "host d's catalog numbers its rows from 1" \
    "$(sqlite3 "$W/d/catalog.db" "select min(id) || '-' || max(id) from journal")" 1-40
eq "d's objects carry its catalog's UUID (s3cmd info)" \
    "$(s3 info "s3://$S3_BUCKET/shared/f7" 2>&1 | sed -n 's/.*x-amz-meta-jts-catalog: //p')" \
    "$(sqlite3 "$W/d/catalog.db" "select uuid from identity where role = 'self'")"
eq "the prefix is claimed by d (.jts-tier/claims/shared)" \
    "$(s3 info "s3://$S3_BUCKET/.jts-tier/claims/shared" 2>&1 | sed -n 's/.*x-amz-meta-jts-catalog: //p')" \
    "$(sqlite3 "$W/d/catalog.db" "select uuid from identity where role = 'self'")"
out=$(on c migrate --to cold "$W/hot/c/f1" 2>&1); rc=$?
eq "host c (same name, same prefix): refused" "$rc" 1
contains "the reason names the holder and the way out" "$out" \
    "prefix shared of bucket $S3_BUCKET is claimed by catalog $(sqlite3 "$W/d/catalog.db" "select uuid from identity where role = 'self'") (host $(hostname)"
contains "and says how to take it over on purpose" "$out" "jts-tierctl claim --take-over"
regular "c's file stays at home" "$W/hot/c/f1"
# The claim removed by hand (an operator, or hosts from before claims):
# c claims the prefix, is killed with 40 rows open whose ids and paths
# are d's, and recovers.
s3 del "s3://$S3_BUCKET/.jts-tier/claims/shared" >/dev/null 2>&1
JTS_TIER_BATCH_FILES=64 JTS_TIER_FAULT=journaled:1 on c migrate --to cold "$W/hot/c" >/dev/null 2>&1
eq "c killed with 40 rows open, ids 1-40 as d's" \
    "$(sqlite3 "$W/c/catalog.db" "select count(*) || ':' || min(id) || '-' || max(id) from journal where state not in ('done','aborted')")" \
    "40:1-40"
on c recover > "$W/rec.out" 2>&1; rc=$?
eq "c's recovery exits 0" "$rc" 0
eq "c's rows settle" "$(rows c)" 0
bad=0
while read -r h f; do
	[ "$(obj "shared/$f")" = "$h" ] || bad=$((bad + 1))
done < "$W/d.sums"
eq "every one of d's 40 objects is still there, its bytes d's (curl, xxh128sum)" "$bad" 0
eq "c's files are whole at home" "$(cat "$W/hot/c/f40")" "c's own 40"
# d, refused now (c holds the claim), takes the prefix back on purpose.
out=$(on d recall "$W/hot/d/f1" 2>&1); rc=$?
eq "d refused while c holds the claim" "$rc" 1
out=$(on d claim --take-over cold 2>&1); rc=$?
eq "claim --take-over exits 0" "$rc" 0
contains "it says which catalog it took over" "$out" \
    "catalog $(sqlite3 "$W/c/catalog.db" "select uuid from identity where role = 'self'") taken over"
eq "d's catalog keeps c's UUID as adopted (sqlite3)" \
    "$(sqlite3 "$W/d/catalog.db" "select uuid from identity where role = 'adopted'")" \
    "$(sqlite3 "$W/c/catalog.db" "select uuid from identity where role = 'self'")"
out=$(on d recall "$W/hot/d" 2>&1); rc=$?
eq "d recalls its 40 files" "$rc" 0
bad=0
while read -r h f; do
	[ "$(xxh128sum 2>/dev/null < "$W/hot/d/$f" | cut -d" " -f1)" = "$h" ] && [ ! -L "$W/hot/d/$f" ] ||
	    bad=$((bad + 1))
done < "$W/d.sums"
eq "byte-exact at home, no link" "$bad" 0
eq "the bucket holds none of them any more" "$(keys shared)" 0
out=$(on c migrate --to cold "$W/hot/c/f2" 2>&1); rc=$?
eq "c is refused again, now that d took the prefix back" "$rc" 1

# --- 2. Nested, enclosing, and neighbouring prefixes --------------------
host e shared/sub
echo e > "$W/hot/e/x"
out=$(on e migrate --to cold "$W/hot/e/x" 2>&1); rc=$?
eq "a prefix beneath a claimed one: refused" "$rc" 1
contains "the reason" "$out" "prefix shared/sub lies beneath prefix shared, claimed by catalog"
host f top/inner
echo f > "$W/hot/f/x"
eq "top/inner claimed" "$(on f migrate --to cold "$W/hot/f/x" >/dev/null 2>&1; echo $?)" 0
host g top
echo g > "$W/hot/g/x"
out=$(on g migrate --to cold "$W/hot/g/x" 2>&1); rc=$?
eq "a prefix around a claimed one: refused" "$rc" 1
contains "the reason" "$out" "prefix top encloses prefix top/inner"
host h shared2
echo h > "$W/hot/h/x"
eq "a neighbour whose name only begins the same (shared2): accepted" \
    "$(on h migrate --to cold "$W/hot/h/x" >/dev/null 2>&1; echo $?)" 0

# --- 3. A copy of a catalog on another machine (a cloned host) ----------
host k clone
echo k > "$W/hot/k/x"
on k migrate --to cold "$W/hot/k/x" >/dev/null 2>&1
cp -a "$W/k" "$W/k2"
sed "s|$W/k/catalog.db|$W/k2/catalog.db|; s|hot/k|hot/k2|; s|warm/k|warm/k2|" "$W/k.conf" > "$W/k2.conf"
mkdir -p "$W/hot/k2" "$W/warm/k2"
echo k2 > "$W/hot/k2/y"
out=$(JTS_TIER_MACHINE_ID=0123456789abcdef0123456789abcdef on k2 migrate --to cold "$W/hot/k2/y" 2>&1); rc=$?
eq "the same catalog on another machine: refused" "$rc" 1
contains "the reason" "$out" "claimed by this same catalog"
eq "the clone's object was not written" "$(keys clone)" 1

# --- 4. Names the server cannot keep ------------------------------------
host n names "quota = 12M"
d=$W/hot/n
printf 'latin1' > "$d/caf$(printf '\351')"
long=$(printf 'a%.0s' $(seq 1 200))
mkdir -p "$d/$long/$long/$long/$long/$long/$long"
echo deep > "$d/$long/$long/$long/$long/$long/$long/file"
out=$(on n migrate --to cold "$d" 2>&1); rc=$?
eq "names S3 cannot keep: exit 1" "$rc" 1
contains "not UTF-8: the rule named" "$out" "its name is not valid UTF-8, and object keys must be UTF-8 and at most 1,024 bytes"
contains "too long: the rule named" "$out" "object keys must be UTF-8 and at most 1,024 bytes"
eq "no row left open" "$(rows n)" 0
regular "the files stay at home" "$d/caf$(printf '\351')"
eq "nothing reached the bucket" "$(keys names)" 0
# A row of an older version that never settled (a key no object can
# have): recovery settles it.
sqlite3 "$W/n/catalog.db" "insert into journal (path, op, src, dst, home, state, tmp, pre_size, pre_mtime_ns, pre_ctime_ns, pre_ino, leave, started_ns, updated_ns) values (x'636166e9', 'migrate', 'hot', 'cold', 'hot', 'copying', '', 6, 0, 0, 1, 'symlink', 0, 0)"
on n recover > "$W/rec.out" 2>&1; rc=$?
eq "recover settles a row whose object cannot exist" "$rc:$(rows n)" "0:0"

# A control character in a name: the listing (the quota) still works.
printf 'ctl' > "$d/ctl$(printf '\001')name"
head -c 6M /dev/urandom > "$d/big$(printf '\001')ctl"
out=$(on n migrate --to cold "$d/ctl$(printf '\001')name" "$d/big$(printf '\001')ctl" 2>&1); rc=$?
[ "$rc" -eq 0 ] || echo "$out" | sed 's/^/    /'
eq "names with a control character move (one in parts)" "$rc" 0
eq "no unfinished upload" "$(uploads names)" 0
on n status --json > "$W/st.json"
eq "status: free = quota less what the objects hold" \
    "$(jq -r '.tiers[] | select(.name == "cold") | .free' "$W/st.json")" \
    "$((12582912 - 6291456 - 3))"
contains "metrics keeps the tier's free bytes" "$(on n metrics 2>&1)" \
    "jts_tier_free_bytes{tier=\"cold\"} $((12582912 - 6291456 - 3))"
head -c 7M /dev/urandom > "$d/over"
out=$(on n migrate --to cold "$d/over" 2>&1); rc=$?
eq "the quota holds: 7 MiB more refused" "$rc" 1
contains "the reason" "$out" "not enough space on tier cold"
out=$(on n recall "$d" 2>&1); rc=$?
eq "the control-character names come back" "$rc" 0
eq "byte-exact" "$(cat "$d/ctl$(printf '\001')name")" ctl

# --- 5. Prefixes normalised or refused -----------------------------------
host p1 .
out=$(on p1 status 2>&1); rc=$?
eq "prefix = . refused" "$rc" 2
contains "the reason" "$out" "bad prefix: ."
host p2 a/./b
eq "prefix a/./b refused" "$(on p2 status >/dev/null 2>&1; echo $?)" 2
host p3 .jts-tier/x
eq "prefix .jts-tier/x refused" "$(on p3 status >/dev/null 2>&1; echo $?)" 2
host p4 hostA/
eq "prefix hostA/ taken as hostA (status shows one slash)" \
    "$(on p4 status --json | jq -r '.tiers[] | select(.name == "cold") | .root')" \
    "s3://$S3_BUCKET/hostA/"

# --- 6. The object describes its file; holes; a recall to warm ----------
host m meta
d=$W/hot/m
echo owned > "$d/owned"; chown 1234:5678 "$d/owned"; chmod 4750 "$d/owned"
truncate -s 20M "$d/sparse"
printf 'head' | dd of="$d/sparse" conv=notrunc status=none
printf 'mid' | dd of="$d/sparse" bs=1 seek=10485760 conv=notrunc status=none
sparse_hash=$(xxh128sum < "$d/sparse" | cut -d' ' -f1)
echo '.jts-tier-probe-00' > "$d/.jts-tier-probe-00"
mkdir -p "$d/dir/sub"
echo in-dir > "$d/dir/sub/f"
touch -d '2001-02-03 04:05:06.123456789' "$d/dir/sub" "$d/dir"
dirtimes=$(stat -c '%.9Y' "$d/dir" "$d/dir/sub" | tr '\n' ' ')
on m migrate -q "$d" >/dev/null 2>&1
out=$(on m migrate "$d" 2>&1); rc=$?
eq "warm -> s3 exits 0 (a user's file named .jts-tier-probe-00 too)" "$rc" 0
info=$(s3 info "s3://$S3_BUCKET/meta/owned" 2>&1)
contains "mode kept as metadata" "$info" "x-amz-meta-jts-mode: 4750"
contains "owner" "$info" "x-amz-meta-jts-uid: 1234"
contains "group" "$info" "x-amz-meta-jts-gid: 5678"
contains "no xattrs, said" "$info" "x-amz-meta-jts-xattrs: none"
contains "its home tier" "$info" "x-amz-meta-jts-home: hot"
contains "the sparse file's map of holes" "$(s3 info "s3://$S3_BUCKET/meta/sparse" 2>&1)" \
    "x-amz-meta-jts-holes: 0+"
eq "no probe object beneath the prefix" \
    "$(s3 ls -r "s3://$S3_BUCKET/meta/" | grep -c 'probe-[0-9a-f]\{32\}')" 0
out=$(on m recall --to warm "$d/owned" 2>&1); rc=$?
eq "recall --to warm exits 0" "$rc" 0
eq "home holds a link to warm" "$(readlink "$d/owned")" "$W/warm/m/owned"
out=$(on m check 2>&1); rc=$?
[ "$rc" -eq 0 ] || echo "$out" | sed 's/^/    /'
eq "check OK" "$rc" 0
out=$(on m recall "$d" 2>&1); rc=$?
eq "recall home exits 0" "$rc" 0
eq "owner and mode back (stat)" "$(stat -c '%u:%g %a' "$d/owned")" "1234:5678 4750"
eq "the sparse file's bytes" "$(xxh128sum < "$d/sparse" | cut -d' ' -f1)" "$sparse_hash"
ok "its holes back: under 1 MiB allocated of 20 MiB (stat %b)" \
    test "$(stat -c %b "$d/sparse")" -lt 2048
eq "the user's .jts-tier-probe-00 came back" "$(cat "$d/.jts-tier-probe-00")" .jts-tier-probe-00
eq "directory mtimes as they were after hot -> warm -> s3 -> hot (stat)" \
    "$(stat -c '%.9Y' "$d/dir" "$d/dir/sub" | tr '\n' ' ')" "$dirtimes"

# --- 7. An object replaced behind the tier's back ------------------------
echo original > "$d/rep"
on m migrate -q --to cold "$d/rep" >/dev/null 2>&1
echo other > "$W/other"
s3 put "$W/other" "s3://$S3_BUCKET/meta/rep" >/dev/null 2>&1
out=$(on m check --verify 2>&1); rc=$?
eq "check --verify: CRITICAL" "$rc" 2
contains "the reason" "$out" "replaced behind jts-tier's back"

# --- 8. A rotated key, read again on reload -----------------------------
echo rot > "$d/rot"
mkdir -p "$W/policies"
TIERD_FLAGS="-v -c $W/m.conf" start_daemon || exit 1
NEWA=$(head -c 15 /dev/urandom | base32 | tr -d =)
NEWS=$(head -c 30 /dev/urandom | base64 | tr -d '=+/')
radosgw-admin -c "$S3_DIR/ceph.conf" -n client.admin key create --uid=jts \
    --key-type=s3 --access-key="$NEWA" --secret="$NEWS" >/dev/null 2>&1
radosgw-admin -c "$S3_DIR/ceph.conf" -n client.admin key rm --uid=jts \
    --key-type=s3 --access-key="$S3_ACCESS" >/dev/null 2>&1
S3_ACCESS=$NEWA S3_SECRET=$NEWS
sed -i "s/^access_key = .*/access_key = $NEWA/; s/^secret_key = .*/secret_key = $NEWS/" "$S3_DIR/s3cfg"
out=$(on m migrate --to cold "$d/rot" 2>&1); rc=$?
eq "the old key, rotated away: refused" "$rc" 1
contains "said as refused credentials" "$out" "refused the credentials"
printf 'access_key = %s\nsecret_key = %s\n' "$NEWA" "$NEWS" > "$CRED"
on m reload >/dev/null 2>&1
out=$(on m migrate --to cold "$d/rot" 2>&1); rc=$?
eq "after reload the new key works (no restart)" "$rc" 0
stop_daemon
eq "no row left open" "$(rows m)" 0
finish
