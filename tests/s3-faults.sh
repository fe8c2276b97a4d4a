#!/bin/bash
# s3-faults.sh - the object store misbehaves for real (a one-node Ceph
# cluster and its gateway, tests/lib-s3.sh): unreachable at start, the
# gateway stopped (SIGSTOP) and killed mid-upload and restarted, a bucket
# quota reached, SIGINT in the middle of an upload; and jts-tierctl
# killed in the middle of a multipart upload, after it, after the
# read-back and after the commit.  Each time: the
# source is intact, the CLI returns, recovery aborts the unfinished upload
# and removes the uncommitted object (s3cmd multipart and s3cmd ls say
# so), and the next run finishes the work.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
. "${JTS_SRCDIR:-.}/tests/lib-s3.sh"
need_cmd s3cmd timeout
setup_tiers 1G 1G
start_s3
add_s3_cold h "part_size = 5M" "timeout = 5"
H=$W/warm/data
mkdir -p "$H"
K=s3://$S3_BUCKET/h/data

uploads() { s3 multipart "s3://$S3_BUCKET" 2>/dev/null | grep -c "s3://$S3_BUCKET/h/"; }
objects() { s3 ls -r "s3://$S3_BUCKET/h/" 2>/dev/null | grep -c " s3://$S3_BUCKET/h/"; }
tier_of() { cat_tier "data/$1"; }
# kill_at POINT FILE WHAT: migrate FILE to cold, killed at fault POINT.
kill_at() {
	JTS_TIER_FAULT=$1 "$CTL" migrate -q --to cold "$H/$2" >/dev/null 2>&1
	eq "killed $3" "$?" 137
}
# recovered: jts-tierctl recover, which exits 0.
recovered() {
	"$CTL" recover > "$W/rec" 2>&1
	eq "recover exits 0" "$?" 0
}

# 1. Unreachable at start: a clear error naming the endpoint.
head -c 1M /dev/urandom > "$H/a"
id_a=$(fileid "$H/a")
cp "$CONF" "$W/conf.good"
sed -i "s|^endpoint = .*|endpoint = http://127.0.0.1:9|" "$CONF"
out=$(timeout 120 "$CTL" migrate --to cold "$H/a" 2>&1); rc=$?
failed_in_time "unreachable store: exit non-zero (and no hang)" "$rc"
contains "names the endpoint" "$out" "http://127.0.0.1:9"
contains "and the cause" "$out" "cannot connect"
eq "source untouched" "$(fileid "$H/a")" "$id_a"
eq "nothing journaled" "$(sqlite3 "$CAT" "select count(*) from journal")" 0
cp "$W/conf.good" "$CONF"

# 2. jts-tierctl killed after two parts of an upload: the upload is left
# unfinished on the server; recovery aborts it.
head -c 23M /dev/urandom > "$H/big"
id_big=$(fileid "$H/big")
kill_at part:2 big "in the middle of the upload"
eq "an unfinished upload is on the server" "$(uploads)" 1
eq "source intact" "$(fileid "$H/big")" "$id_big"
recovered
eq "recovery aborted the upload (s3cmd multipart)" "$(uploads)" 0
eq "no object at the key" "$(objects)" 0
eq "no journal row left open" "$(open_rows)" 0
out=$("$CTL" migrate --to cold "$H/big" 2>&1); rc=$?
eq "the next run moves it" "$rc" 0
eq "the object reads back as the source was (s3cmd get)" \
    "$(s3 get --no-progress "$K/big" - 2>/dev/null | xxh128sum | cut -d' ' -f1)" "${id_big%% *}"
eq "catalog: on cold" "$(tier_of big)" cold

# 3. Killed after the upload, before its read-back was recorded: the
# object is there, uncommitted, carrying the journal row's id; recovery
# removes it (it is ours) and the source stays.
head -c 100000 /dev/urandom > "$H/b"
id_b=$(fileid "$H/b")
kill_at synced:1 b "after the upload"
contains "the uncommitted object carries the row's id" \
    "$(s3 info "$K/b" 2>&1)" "x-amz-meta-jts-id: $(sqlite3 "$CAT" "select max(id) from journal")"
recovered
eq "recovery removed the uncommitted object" \
    "$(s3 ls "$K/b" 2>/dev/null | grep -c " $K/b\$")" 0
eq "source intact" "$(fileid "$H/b")" "$id_b"
eq "catalog: not on cold" "$(tier_of b)" ""

# 4. Killed after the read-back was recorded: the copy is whole and
# verified at its key, so recovery finishes the move (it reads the object
# back again first), and releases the source.
kill_at verified:1 b "after the read-back"
recovered
absent "recovery released the source" "$H/b"
eq "the object is the source's data" \
    "$(s3 get --no-progress "$K/b" - 2>/dev/null | xxh128sum | cut -d' ' -f1)" "${id_b%% *}"
eq "catalog: on cold" "$(tier_of b)" cold

# 4b. Killed after the commit: recovery releases the source.
head -c 100000 /dev/urandom > "$H/b2"
id_b2=$(fileid "$H/b2")
kill_at committed:1 b2 "after the commit"
recovered
absent "recovery released the source" "$H/b2"
eq "the object is the source's data" \
    "$(s3 get --no-progress "$K/b2" - 2>/dev/null | xxh128sum | cut -d' ' -f1)" "${id_b2%% *}"
eq "catalog: on cold" "$(tier_of b2)" cold

# 5. The gateway stops answering (SIGSTOP) mid-upload: abort within the
# timeout, source intact; recovery cleans up once it answers again.
head -c 40M /dev/urandom > "$H/c"
id_c=$(fileid "$H/c")
JTS_TIER_PAUSE=part:3000 timeout 120 "$CTL" migrate --to cold "$H/c" > "$W/out" 2>&1 &
cli=$!
sleep 1.5
kill -STOP "$(s3_gw_pid)"
wait "$cli"; rc=$?
kill -CONT "$(s3_gw_pid)"
failed_in_time "stopped gateway: exit non-zero within the timeout (no hang)" "$rc"
contains "says what failed" "$(cat "$W/out")" "upload to tier cold failed"
eq "source intact" "$(fileid "$H/c")" "$id_c"
recovered
eq "no unfinished upload left" "$(uploads)" 0
eq "no object of c left" "$(s3 ls "$K/c" 2>/dev/null | grep -c " $K/c\$")" 0

# 6. The gateway is killed mid-upload and restarted.
JTS_TIER_PAUSE=part:3000 timeout 120 "$CTL" migrate --to cold "$H/c" > "$W/out" 2>&1 &
cli=$!
sleep 1.5
s3_gw_kill
wait "$cli"; rc=$?
failed_in_time "killed gateway: exit non-zero (no hang)" "$rc"
eq "source intact" "$(fileid "$H/c")" "$id_c"
ok "the gateway comes back" s3_gw_start
recovered
eq "no unfinished upload left" "$(uploads)" 0
out=$("$CTL" migrate --to cold "$H/c" 2>&1); rc=$?
eq "the next run moves it" "$rc" 0
eq "the object reads back as the source was" \
    "$(s3 get --no-progress "$K/c" - 2>/dev/null | xxh128sum | cut -d' ' -f1)" "${id_c%% *}"

# 7. SIGINT in the middle of an upload: it ends at the next part, the
# upload aborted at once, the source intact.
head -c 30M /dev/urandom > "$H/e"
id_e=$(fileid "$H/e")
JTS_TIER_PAUSE=part:1500 timeout 120 "$CTL" migrate --to cold "$H/e" > "$W/out" 2>&1 &
cli=$!
sleep 1
kill -INT "$cli"
wait "$cli"; rc=$?
eq "SIGINT mid-upload: exit 130" "$rc" 130
eq "source intact" "$(fileid "$H/e")" "$id_e"
eq "the upload was aborted" "$(uploads)" 0
eq "no object of e" "$(s3 ls "$K/e" 2>/dev/null | grep -c " $K/e\$")" 0
eq "no journal row left open" "$(open_rows)" 0

# 8. The bucket's quota is reached: the upload is refused, nothing left.
radosgw-admin -c "$S3_DIR/ceph.conf" -n client.admin quota set \
    --quota-scope=bucket --bucket="$S3_BUCKET" --max-size=70M >/dev/null 2>&1
radosgw-admin -c "$S3_DIR/ceph.conf" -n client.admin quota enable \
    --quota-scope=bucket --bucket="$S3_BUCKET" >/dev/null 2>&1
head -c 30M /dev/urandom > "$H/d"
id_d=$(fileid "$H/d")
out=$("$CTL" migrate --to cold "$H/d" 2>&1); rc=$?
eq "quota reached: exit 1" "$rc" 1
contains "says the quota is reached" "$out" "quota"
eq "source intact" "$(fileid "$H/d")" "$id_d"
eq "no unfinished upload left" "$(uploads)" 0
eq "no object of d" "$(s3 ls "$K/d" 2>/dev/null | grep -c " $K/d\$")" 0
eq "no journal row left open" "$(open_rows)" 0
finish
