#!/bin/bash
# daemon-fill.sh - the fill trigger: when the file system a policy
# watches is above its high watermark the daemon moves files, oldest
# first, until it is down to the low watermark, and stops there
# (hysteresis); what it moves is what 'policy test --fill' said it would.
# As in the seed's layout, the service's data is its own file system
# mounted beneath the hot tier's root (fill_path): scans and tracking
# cross into it.  Judged with df and sqlite3.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
need_cmd python3 df
setup_tiers 512M 1G
[ -x "$TIERD" ] || skip "jts-tierd not built"
H=$W/hot
mkdir -p "$W/policies"
loopfs "$W/img/kafka.img" 256M ext4 "$H/kafka"
for i in $(seq -w 1 12); do
	head -c $((16 << 20)) /dev/urandom > "$H/kafka/seg$i"
	touch -d "$((100 - 10#$i)) days ago" "$H/kafka/seg$i"
done
sync
used_pct() { df --output=pcent "$1" | tail -1 | tr -dc 0-9; }
P=$(used_pct "$H/kafka")
[ "$P" -ge 60 ] || skip "kafka volume only ${P}% full after writing 192 MiB"
ok "the hot root's own file system is nearly empty" test "$(used_pct "$H")" -lt 10
HIGH=$((P - 5)) LOW=$((P - 30))
cat > "$W/policies/kafka.policy" <<P
[policy]
from = hot
to = warm
condition = path GLOB 'kafka/*'
order = mtime ASC
on_fill = yes
fill_path = kafka
high_watermark = $HIGH
low_watermark = $LOW
P
start_daemon JTS_TIER_FILL_CHECK=0.5 JTS_TIER_FILL_COOLDOWN=600 || exit 1
wait_log "scan tier=warm" 20
# Before the daemon's first check can run the policy, take its prediction.
stop_daemon
"$CTL" policy test --fill --json kafka > "$W/test.json"; rc=$?
eq "policy test --fill exits 0" "$rc" 0
predicted=$(python3 -c 'import json,sys; print(" ".join(f["path"] for f in json.load(open(sys.argv[1]))["files"]))' "$W/test.json")
n=$(echo "$predicted" | wc -w)
ok "the prediction moves some files but not all ($n)" test "$n" -ge 1 -a "$n" -lt 12
start_daemon JTS_TIER_FILL_CHECK=0.5 JTS_TIER_FILL_COOLDOWN=600 JTS_TIER_TRACK_FLUSH=0.3 || exit 1
wait_log "policy kafka run=fill moved=" 60
contains "the run was started by the fill level" "$(cat "$W/d.log")" \
    "tier hot/kafka is "
contains "of the watched file system" "$(cat "$W/d.log")" \
    "% full, above ${HIGH}%: running policy kafka"
moved=$(sqlite3 "$CAT" "SELECT group_concat(p, ' ') FROM (SELECT CAST(path AS TEXT) p FROM files WHERE tier='warm' ORDER BY path)")
eq "it moved exactly what policy test --fill predicted, oldest first" "$moved" "$predicted"
sleep 2
eq "one fill run only (below the high mark now)" "$(grep -c 'run=fill moved=' "$W/d.log")" 1
sync
P2=$(used_pct "$H/kafka")
ok "kafka's volume is down to the low watermark ($P2% <= $LOW%+1)" test "$P2" -le $((LOW + 1))
ok "and not far below it: it stopped ($P2% > $LOW%-5)" test "$P2" -gt $((LOW - 5))
eq "the fill run is recorded" "$(sqlite3 "$CAT" "SELECT reason, files FROM policy_runs")" "fill|$n"
# Live tracking reaches into the mounted volume.
head -c 4096 /dev/urandom > "$H/kafka/fresh"
for _ in $(seq 50); do
	[ "$(sqlite3 "$CAT" "SELECT size FROM files WHERE path = CAST('kafka/fresh' AS BLOB)")" = 4096 ] && break
	sleep 0.1
done
eq "a file created in the mounted volume is tracked live" \
    "$(sqlite3 "$CAT" "SELECT size FROM files WHERE path = CAST('kafka/fresh' AS BLOB)")" 4096
stop_daemon
finish
