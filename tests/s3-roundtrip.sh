#!/bin/bash
# s3-roundtrip.sh - a cold tier on an object store: a one-node Ceph
# cluster with its RADOS Gateway on loopback (tests/lib-s3.sh).  A tree
# goes hot -> warm -> s3 (a file above the part size as a multipart
# upload) and is recalled; each object is judged with s3cmd (its bytes
# by xxh128sum, its metadata by s3cmd info), the catalog with sqlite3,
# the files at home with xxh128sum and stat.  An object already at a key
# is never replaced; a set of hard links is refused (S3 keeps none);
# credentials readable by others are refused.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-s3.sh"
need_cmd s3cmd jq
setup_tiers 1G 1G
start_s3
add_s3_cold host1 "part_size = 5M" "quota = 1G" "timeout = 20"

H=$W/hot/data
mkdir -p "$H/deep/er"
: > "$H/empty"
echo small > "$H/small.txt"
head -c 12M /dev/urandom > "$H/twelve.bin"
head -c 300000 /dev/urandom > "$H/deep/er/nested.dat"
printf 'nl\n' > "$H/new
line.txt"
echo owned > "$H/owned"; chown 1234:5678 "$H/owned"; chmod 640 "$H/owned"
touch -d '2001-02-03 04:05:06.123456789' "$H/small.txt"
before=$(manifest "$H")
nfiles=$(count_files "$H")

out=$("$CTL" migrate -q "$H" 2>&1); rc=$?
eq "hot -> warm exits 0" "$rc" 0
out=$("$CTL" migrate "$H" 2>&1); rc=$?
eq "warm -> s3 exits 0" "$rc" 0
contains "every file moved" "$out" "$nfiles moved"
eq "catalog: every file on cold" \
    "$(sqlite3 "$CAT" "select count(*) from files where tier='cold'")" "$nfiles"
eq "warm holds no file any more" "$(count_files "$W/warm/data")" 0
eq "the bucket holds an object per file, beneath the prefix" \
    "$(s3 ls -r "s3://$S3_BUCKET/host1/" | grep -c " s3://$S3_BUCKET/host1/")" "$nfiles"
eq "the multipart object reads back as the file (s3cmd get, xxh128sum)" \
    "$(s3 get --no-progress "s3://$S3_BUCKET/host1/data/twelve.bin" - 2>/dev/null | xxh128sum | cut -d' ' -f1)" \
    "$(echo "$before" | grep '^\./twelve\.bin|' | cut -d'|' -f2 | cut -d' ' -f1)"
# No free space on S3: the quota is the tier's size, the objects beneath
# the prefix its use (as s3cmd du counts them).
"$CTL" status --json > "$W/st.json"
eq "status: the tier's size is its quota" \
    "$(jq -r '.tiers[] | select(.name == "cold") | .size' "$W/st.json")" 1073741824
eq "status: its free space is the quota less the objects' bytes" \
    "$(jq -r '.tiers[] | select(.name == "cold") | .free' "$W/st.json")" \
    "$((1073741824 - $(s3 du "s3://$S3_BUCKET/host1/" | awk '{ print $1 }')))"
"$CTL" bench --json -s 12M cold > "$W/bench.json" 2>&1
eq "bench: the s3 tier's upload and GET measured" \
    "$(jq -r '[.results[] | select(.tier == "cold") | .test] | join(" ")' "$W/bench.json")" \
    "s3_write_mbps s3_read_mbps"
ok "bench: both with a figure" jq -e \
    '[.results[] | select(.tier == "cold") | .value > 0] | all' "$W/bench.json"
eq "bench: its object removed after" \
    "$(s3 ls -r "s3://$S3_BUCKET/host1/" | grep -c " s3://$S3_BUCKET/host1/")" "$nfiles"
info=$(s3 info "s3://$S3_BUCKET/host1/data/small.txt" 2>&1)
contains "the object carries the data's XXH3-128" "$info" \
    "x-amz-meta-jts-xxh3: $(printf 'small\n' | xxh128sum | cut -d' ' -f1)"

"$CTL" check > "$W/check.out" 2>&1
eq "check exits 0 with the files on s3 (each object's size and time)" "$?" 0
"$CTL" check --verify > "$W/check.out" 2>&1
eq "check --verify exits 0 (each object read and hashed)" "$?" 0
contains "the file's ns mtime kept as the object's metadata" \
    "$(s3 info "s3://$S3_BUCKET/host1/data/small.txt" 2>&1)" \
    "x-amz-meta-jts-mtime: 981173106123456789"

# The catalog, not the store, is the point of truth: an object put at a
# key by someone else is never replaced.
echo other > "$W/other"
s3 put "$W/other" "s3://$S3_BUCKET/host1/data/taken" >/dev/null 2>&1
echo mine > "$H/taken"
"$CTL" migrate -q "$H/taken" >/dev/null 2>&1
out=$("$CTL" migrate "$H/taken" 2>&1); rc=$?
eq "an object already at the key: exit 1" "$rc" 1
contains "the reason" "$out" "already exists on tier cold"
eq "the object there is untouched" \
    "$(s3 get --no-progress "s3://$S3_BUCKET/host1/data/taken" - 2>/dev/null)" other
# Above the part size (a multipart upload, which the server completes
# whatever is there) the key is looked at first.
head -c 6M /dev/urandom > "$W/other6"
s3 put "$W/other6" "s3://$S3_BUCKET/host1/data/taken6" >/dev/null 2>&1
head -c 7M /dev/urandom > "$H/taken6"
"$CTL" migrate -q "$H/taken6" >/dev/null 2>&1
out=$("$CTL" migrate "$H/taken6" 2>&1); rc=$?
eq "a large file onto a taken key: exit 1" "$rc" 1
contains "the reason" "$out" "already exists on tier cold"
eq "the object there is untouched (xxh128sum)" \
    "$(s3 get --no-progress "s3://$S3_BUCKET/host1/data/taken6" - 2>/dev/null | xxh128sum | cut -d' ' -f1)" \
    "$(xxh128sum < "$W/other6" | cut -d' ' -f1)"
eq "no upload left unfinished" \
    "$(s3 multipart "s3://$S3_BUCKET" 2>/dev/null | grep -c "s3://$S3_BUCKET/host1/")" 0
s3 del "s3://$S3_BUCKET/host1/data/taken6" >/dev/null 2>&1

out=$("$CTL" recall "$H" 2>&1); rc=$?
eq "recall exits 0" "$rc" 0
eq "manifest at home after the recall (hash, mode, owner, ns mtime)" \
    "$(manifest "$H" | grep -v '^\./taken6\?|')" "$before"
eq "no symbolic link left at home" "$(find "$H" -type l | wc -l)" 0
eq "the bucket holds only the other object" \
    "$(s3 ls -r "s3://$S3_BUCKET/host1/" | grep -c " s3://$S3_BUCKET/host1/")" 1

# An object store keeps no hard links: a set moves to warm, not on.
mkdir -p "$H/hl"
echo linked > "$H/hl/a"; ln "$H/hl/a" "$H/hl/b"
"$CTL" migrate -q "$H/hl" >/dev/null 2>&1
out=$("$CTL" migrate "$H/hl" 2>&1); rc=$?
eq "a set of hard links to s3: exit 1" "$rc" 1
contains "the reason: s3 cannot keep them" "$out" "has 2 hard links, which tier cold cannot keep"
eq "the set stays on warm, one inode of two links" \
    "$(stat -c %h "$W/warm/data/hl/a"):$(stat -c %i "$W/warm/data/hl/a")" \
    "2:$(stat -c %i "$W/warm/data/hl/b")"

# Credentials others may read are refused, naming the file.
chmod 644 "$CRED"
"$CTL" migrate -q "$H/small.txt" >/dev/null 2>&1
out=$("$CTL" migrate "$H/small.txt" 2>&1); rc=$?
eq "readable credentials: exit 1" "$rc" 1
contains "the reason names the file" "$out" "credentials $CRED: must be owned by root and readable by root only"
chmod 600 "$CRED"
"$CTL" recall -q "$H/small.txt" >/dev/null 2>&1
finish
