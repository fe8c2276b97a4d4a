#!/bin/bash
# policy-nas-fill.sh - the NAS's own fill (FSSTAT) bounds a policy down to
# it: a run stops before the NAS goes above its high_watermark, and moves
# nothing into a NAS above it, whether the run is scheduled, requested or
# started by the fill of its source; policy test shows the arithmetic
# from the NAS's df.  Judged with df and xxh128sum on the export's file
# system (the server side), and sqlite3.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_hooks
need_cmd python3 df
setup_tiers 256M 512M
[ -x "$TIERD" ] || skip "jts-tierd not built"
loopfs "$W/img/nas.img" 128M ext4 "$W/export"
start_nas "$W/export"
add_cold
mkdir -p "$W/policies" "$W/warm/logs"
for i in 1 2 3 4 5 6; do
	head -c $((8 << 20)) /dev/urandom > "$W/warm/logs/day$i"
done
(cd "$W/warm" && xxh128sum logs/*) > "$W/sums"
q() { sqlite3 "$CAT" "$1"; }
sync
read -r used avail <<< "$(df -B1 --output=used,avail "$W/export" | tail -1)"
# A high watermark two and a half 8 MiB files above the NAS's fill now
# (whole percent, rounded down): two fit under it, a third does not.
HIGH=$(python3 -c "t = $used + $avail; print(int(100 * ($used + 2.5 * (8 << 20)) / t))")
printf 'high_watermark = %d\nlow_watermark = %d\n' "$HIGH" $((HIGH - 1)) >> "$CONF"
"$CTL" scan > /dev/null
cat > "$W/policies/tocold.policy" <<P
[policy]
from = warm
to = cold
condition = path GLOB 'logs/*'
order = path
schedule = 1h
P
out=$("$CTL" policy test tocold 2>&1)
# The NAS's used and total bytes policy test printed (FSSTAT), against df
# of the export's file system on the server, within 1 MiB.
nas=$(printf '%s\n' "$out" | sed -n '/^tier cold:/,/^tier /s/^  now:   used \([0-9]*\) \/ (used + available) \([0-9]*\) bytes/\1 \2/p')
ok "policy test: the NAS's fill from FSSTAT, as df counts it ($nas; df $used $((used + avail)))" \
    python3 -c "import sys; u, t = map(int, '$nas'.split()); sys.exit(not (abs(u - $used) < (1 << 20) and abs(t - $used - $avail) < (1 << 20)))"
contains "the bound: the NAS's high watermark" "$out" \
    "a run stops before cold goes above $HIGH% (its high watermark)"
contains "two files, then the bound" "$out" \
    "2 file(s), 16.0 MiB would move from warm to cold (schedule run); destination at its high watermark"

start_daemon || exit 1
wait_log "scan tier=warm" 20
# The policy's first scheduled run is due at the daemon's start (it never
# ran): waited for, so the run asked for next does not race it.
wait_log "policy tocold run=schedule moved=" 60
out=$("$CTL" policy run tocold 2>&1); rc=$?
eq "policy run exits 0" "$rc" 0
wait_log "policy tocold run=request moved=" 60
eq "the daemon's runs moved two in all (scheduled, then asked for)" \
    "$(grep -E 'policy tocold run=(schedule|request) moved=' "$W/d.log" |
    sed 's/.* moved=\([0-9]*\) .*/\1/' | awk '{ s += $1 } END { print s }')" 2
eq "the catalog has day1 and day2 on cold" \
    "$(q "SELECT group_concat(CAST(path AS TEXT), ' ') FROM (SELECT path FROM files WHERE tier = 'cold' ORDER BY path)")" \
    "logs/day1 logs/day2"
(cd "$W/export" && xxh128sum -c --quiet <(grep -E 'day[12]$' "$W/sums")) > "$W/c.out" 2>&1
eq "their bytes on the NAS's disk (xxh128sum on the server side)" "$?" 0
read -r used avail <<< "$(df -B1 --output=used,avail "$W/export" | tail -1)"
ok "the NAS is not above its high watermark" python3 -c \
    "import sys; sys.exit(100 * $used / ($used + $avail) > $HIGH)"

# Filled from elsewhere past its high watermark: nothing more goes there.
head -c $((24 << 20)) /dev/urandom > "$W/export/other-host-data"
sync
out=$("$CTL" policy test tocold 2>&1)
contains "policy test: nothing, and why" "$out" \
    "0 file(s), 0 B would move from warm to cold (schedule run); destination at its high watermark"
out=$("$CTL" policy run tocold 2>&1)
wait_log "policy tocold run=request moved=" 60 2
contains "a requested run moves nothing" \
    "$(grep 'policy tocold run=request moved=' "$W/d.log" | tail -1)" "moved=0 "
stop_daemon
# A fill run of the source (warm above 0%) stops at the NAS's bound too.
sed -i 's/^schedule = 1h/on_fill = yes\nhigh_watermark = 0\nlow_watermark = 0/' \
    "$W/policies/tocold.policy"
out=$("$CTL" policy test --fill tocold 2>&1)
contains "policy test --fill: nothing, and why" "$out" \
    "0 file(s), 0 B would move from warm to cold (fill run); destination at its high watermark"
start_daemon JTS_TIER_FILL_CHECK=0.3 || exit 1
wait_log "policy tocold run=fill" 30
contains "the fill run selected nothing, and says why" \
    "$(grep 'policy tocold run=fill selected' "$W/d.log" | head -1)" \
    "selected=0 bytes=0 stop=destination at its high watermark"
stop_daemon
eq "still two files on cold" "$(q "SELECT count(*) FROM files WHERE tier = 'cold'")" 2
(cd "$W/warm" && xxh128sum -c --quiet <(grep -vE 'day[12]$' "$W/sums")) > "$W/c.out" 2>&1
eq "the other four unchanged on warm" "$?" 0
finish
