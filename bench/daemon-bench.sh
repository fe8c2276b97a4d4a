#!/bin/bash
# daemon-bench.sh - the daemon's tracking targets, measured in one run:
#   - first scan of a tree of N files (default 1,000,000) against
#     find -printf '%p %s %T@\n' over the same tree, both from a cold cache
#     and both from a warm one (goal: scan rate >= 1.0x find's);
#   - a rescan with nothing changed (target: faster than the first scan);
#   - catalog bytes per file (target <= 200) and the daemon's peak RSS
#     (goal <= 48 MiB);
#   - evaluating a policy over the N-row catalog, 'jts-tierctl policy
#     test' from start to end (target < 2 s).
# Usage: sudo bench/daemon-bench.sh [N]   (from a built tree)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
N=${1:-1000000}
CTL=$top/jts-tierctl
TIERD=$top/jts-tierd
[ "$(id -u)" -eq 0 ] || { echo "needs root (loop device, drop_caches)"; exit 1; }
[ -x "$CTL" ] && [ -x "$TIERD" ] || { echo "build first (make)"; exit 1; }

W=$(mktemp -d /tmp/jts-bench.XXXXXX)
LOOP= DPID=
cleanup() {
	set +e
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	mountpoint -q "$W/hot" && umount "$W/hot"
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1 / $2:,.0f}')"; }

echo "== tree: $N files, 1,000 per directory, ext4 on a loop device"
truncate -s 8G "$W/hot.img"
mkfs.ext4 -q -F -N $((N + 100000)) "$W/hot.img"
LOOP=$(losetup -f --show --direct-io=on "$W/hot.img")
mkdir -p "$W/hot" "$W/warm" "$W/policies"
mount "$LOOP" "$W/hot"
python3 - "$W/hot/data" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 1000
for d in range((n + per - 1) // per):
    dd = os.path.join(root, "svc%02d" % (d % 7), "d%05d" % d)
    os.makedirs(dd, exist_ok=True)
    for i in range(min(per, n - d * per)):
        fd = os.open(os.path.join(dd, "f%04d.log" % i), os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"x" * (i % 64))
        os.close(fd)
PY
cat > "$W/jts-tier.conf" <<CONF
[catalog]
path = $W/var/catalog.db
[daemon]
policies = $W/policies
socket = $W/ctl.sock
scan_interval = off
fanotify = no
[tier hot]
root = $W/hot
[tier warm]
root = $W/warm
CONF
export JTS_TIER_CONF=$W/jts-tier.conf

find_run() {
	local t0 t1
	t0=$(now)
	find "$W/hot" -printf '%p %s %T@\n' > /dev/null
	t1=$(now)
	python3 -c "print($t1 - $t0)"
}

# scan_run: start the daemon, wait for its scan of hot, print its time.
# cpu_now: "busy total" jiffies of the whole machine (/proc/stat).
cpu_now() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
scan_run() {
	local b0 t0 b1 t1
	: > "$W/d.log"
	read -r b0 t0 <<< "$(cpu_now)"
	JTS_TIER_LOG_STDERR=1 "$TIERD" >> "$W/d.log" 2>&1 &
	DPID=$!
	until grep -q 'scan tier=warm' "$W/d.log"; do
		kill -0 "$DPID" || { cat "$W/d.log"; exit 1; }
		sleep 0.2
	done
	read -r b1 t1 <<< "$(cpu_now)"
	awk '/VmHWM/ {print $2}' /proc/$DPID/status > "$W/hwm"
	# The daemon's own CPU (user + system) and the machine's, while it
	# started and scanned: is the scan short of CPU or of the disk?
	awk -v tck="$(getconf CLK_TCK)" -v n="$(nproc)" -v db="$((b1 - b0))" \
	    -v dt="$((t1 - t0))" '{ printf "daemon CPU %.2f s; machine busy %.0f%% of %d cores\n", ($14 + $15) / tck, dt ? 100 * db / dt : 0, n }' \
	    "/proc/$DPID/stat" >> "$W/cpu"
	kill -TERM "$DPID"; wait "$DPID"; DPID=
	grep 'scan tier=hot' "$W/d.log" | sed -E 's/.*time=([0-9.]+)s.*/\1/'
}

echo "== cold cache (caches dropped before each)"
drop; f_cold=$(find_run)
drop; s_cold=$(scan_run); hwm1=$(cat "$W/hwm")
grep 'scan tier=hot' "$W/d.log" | sed 's/^/   /'
drop; r_cold=$(scan_run)
echo "== warm cache"
find_run > /dev/null
f_warm=$(find_run)
rm -f "$W/var/catalog.db"*
find_run > /dev/null
s_warm=$(scan_run); hwm2=$(cat "$W/hwm")
r_warm=$(scan_run); hwm3=$(cat "$W/hwm")

sqlite3 "$W/var/catalog.db" 'PRAGMA wal_checkpoint(TRUNCATE)' > /dev/null
rows=$(sqlite3 "$W/var/catalog.db" 'SELECT count(*) FROM files')
bytes=$(stat -c %s "$W/var/catalog.db")

printf '%-34s %10s %14s %8s\n' "" "seconds" "files/s" "ratio"
printf '%-34s %10.2f %14s\n' "find -printf, cold cache" "$f_cold" "$(rate "$N" "$f_cold")"
printf '%-34s %10.2f %14s %8.2f\n' "jts-tierd first scan, cold cache" "$s_cold" "$(rate "$N" "$s_cold")" "$(python3 -c "print($f_cold / $s_cold)")"
printf '%-34s %10.2f %14s %8.2f\n' "jts-tierd rescan, cold cache" "$r_cold" "$(rate "$N" "$r_cold")" "$(python3 -c "print($f_cold / $r_cold)")"
printf '%-34s %10.2f %14s\n' "find -printf, warm cache" "$f_warm" "$(rate "$N" "$f_warm")"
printf '%-34s %10.2f %14s %8.2f\n' "jts-tierd first scan, warm cache" "$s_warm" "$(rate "$N" "$s_warm")" "$(python3 -c "print($f_warm / $s_warm)")"
printf '%-34s %10.2f %14s %8.2f\n' "jts-tierd rescan, warm cache" "$r_warm" "$(rate "$N" "$r_warm")" "$(python3 -c "print($f_warm / $r_warm)")"
echo "(ratio: find's time over jts-tierd's; >= 1.0 meets the goal)"
echo "catalog: $rows rows, $bytes bytes, $((bytes / rows)) bytes per file (target <= 200)"
echo "CPU while each scan ran (cold first, cold rescan, warm first, warm rescan):"
sed 's/^/   /' "$W/cpu"
echo "daemon peak RSS: $((hwm1 / 1024)) / $((hwm2 / 1024)) / $((hwm3 / 1024)) MiB (cold first scan / warm first scan / rescan; goal <= 48)"

echo "== policy evaluation over $rows rows"
cat > "$W/policies/bench.policy" <<'P'
[policy]
from = hot
to = warm
condition = path GLOB 'data/svc0[12]/*' AND size > 40 AND idle > minutes(0)
order = idle DESC
schedule = 1h
P
"$CTL" policy test bench > /dev/null   # warm the cache
best=
for i in 1 2 3; do
	t0=$(now)
	"$CTL" policy test bench > "$W/test.out"
	t1=$(now)
	t=$(python3 -c "print($t1 - $t0)")
	best=$(python3 -c "print(min(${best:-$t}, $t))")
done
echo "policy test: $(grep "would move" "$W/test.out")"
printf 'policy test over %s rows: best of 3 %.2f s (target < 2 s)\n' "$rows" "$best"
