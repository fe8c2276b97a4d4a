#!/bin/bash
# s3-report.sh - what status, metrics, report and policy test say of an
# S3 tier, against what s3cmd says of the bucket: no free space of its
# own, the quota as its size, the objects beneath the prefix as its use;
# a policy into it stops at its high watermark of the quota, in policy
# test and in the daemon's run.  Judged with s3cmd ls and du, xxh128sum
# of the objects, sqlite3.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
. "${JTS_SRCDIR:-.}/tests/lib-s3.sh"
need_cmd s3cmd sqlite3 jq python3
setup_tiers 256M 512M
[ -x "$TIERD" ] || skip "jts-tierd not built"
start_s3
# A quota of 64 MiB, a high watermark at 40% of it: three 8 MiB files
# (37.5%) fit, a fourth (50%) does not.
add_s3_cold r "quota = 64M" "high_watermark = 40" "low_watermark = 39"
mkdir -p "$W/policies" "$W/warm/logs"
for i in 1 2 3 4 5 6; do
	head -c $((8 << 20)) /dev/urandom > "$W/warm/logs/day$i"
done
(cd "$W/warm" && xxh128sum logs/*) > "$W/sums"
"$CTL" scan > /dev/null
cat > "$W/policies/tos3.policy" <<P
[policy]
from = warm
to = cold
condition = path GLOB 'logs/*'
order = path
schedule = 1h
P
s3bytes() { s3 du "s3://$S3_BUCKET/r/" 2>/dev/null | awk '{ print $1 }'; }
s3count() { s3 ls -r "s3://$S3_BUCKET/r/" 2>/dev/null | grep -c " s3://$S3_BUCKET/r/"; }
metric() { "$CTL" metrics | sed -n "s/^$1{tier=\"$2\"} //p"; }

# Empty: size is the quota, nothing used.
out=$("$CTL" policy test tos3 2>&1)
contains "policy test: the tier's use and size from the quota" "$out" \
    "  now:   used 0 / (used + available) 67108864 bytes"
contains "the bound: its high watermark" "$out" \
    "a run stops before cold goes above 40% (its high watermark)"
contains "three files, then the bound" "$out" \
    "3 file(s), 24.0 MiB would move from warm to cold (schedule run); destination at its high watermark"

start_daemon || exit 1
wait_log "scan tier=warm" 20
out=$("$CTL" policy run tos3 2>&1); rc=$?
eq "policy run exits 0" "$rc" 0
wait_log "policy tos3 run=request moved=" 90
contains "the run moved three" "$(grep 'policy tos3 run=request moved=' "$W/d.log")" "moved=3 "
stop_daemon
eq "the catalog has day1-3 on cold" \
    "$(sqlite3 "$CAT" "SELECT group_concat(CAST(path AS TEXT), ' ') FROM (SELECT path FROM files WHERE tier = 'cold' ORDER BY path)")" \
    "logs/day1 logs/day2 logs/day3"
eq "three objects in the bucket (s3cmd ls)" "$(s3count)" 3
rm -rf "$W/got"; mkdir -p "$W/got/logs"
s3 get --recursive --no-progress "s3://$S3_BUCKET/r/logs/" "$W/got/logs/" >/dev/null 2>&1
(cd "$W/got" && xxh128sum -c --quiet <(grep -E 'day[123]$' "$W/sums")) > "$W/c.out" 2>&1
eq "their bytes (s3cmd get, xxh128sum)" "$?" 0
used=$(s3bytes)
eq "s3cmd du: 24 MiB beneath the prefix" "$used" $((24 << 20))

# What each command says of the tier, against s3cmd.
"$CTL" status --json > "$W/st.json"
eq "status: size = the quota" \
    "$(jq -r '.tiers[] | select(.name == "cold") | .size' "$W/st.json")" 67108864
eq "status: free = the quota less s3cmd du" \
    "$(jq -r '.tiers[] | select(.name == "cold") | .free' "$W/st.json")" $((67108864 - used))
eq "status: its files" \
    "$(jq -r '.tiers[] | select(.name == "cold") | .files' "$W/st.json")" 3
eq "status: its bytes" \
    "$(jq -r '.tiers[] | select(.name == "cold") | .bytes' "$W/st.json")" "$used"
eq "metrics: jts_tier_files of cold" "$(metric jts_tier_files cold)" 3
eq "metrics: jts_tier_bytes of cold = s3cmd du" "$(metric jts_tier_bytes cold)" "$used"
eq "metrics: jts_tier_size_bytes of cold = the quota" \
    "$(metric jts_tier_size_bytes cold)" 67108864
eq "metrics: jts_tier_free_bytes of cold" \
    "$(metric jts_tier_free_bytes cold)" $((67108864 - used))
"$CTL" report --json > "$W/rep.json"
eq "report: cold's files" \
    "$(jq -r '.[] | select(.tier == "cold") | .files' "$W/rep.json")" 3
eq "report: cold's bytes = s3cmd du" \
    "$(jq -r '.[] | select(.tier == "cold") | .bytes' "$W/rep.json")" "$used"

# At its high watermark: nothing more goes, and policy test says why.
out=$("$CTL" policy test tos3 2>&1)
contains "policy test: the use now, as s3cmd du counts it" "$out" \
    "  now:   used $used / (used + available) 67108864 bytes"
contains "policy test: nothing, and why" "$out" \
    "0 file(s), 0 B would move from warm to cold (schedule run); destination at its high watermark"
finish
