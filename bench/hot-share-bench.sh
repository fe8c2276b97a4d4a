#!/bin/bash
# hot-share-bench.sh - do the daemon's moves starve the hot tier's own
# users?  fio reads 4 KiB at random (O_DIRECT, io_uring, queue depth 16)
# from a file on the hot tier, once on an idle tier and once while
# jts-tierd moves BENCH_MOVE_GB GiB of other files from hot to warm
# (btrfs, compress=zstd, as the storage plan mounts it), in the same run,
# alternating.  Prints IOPS and p99 completion latency, median (min-max)
# of BENCH_RUNS runs each, and the ratios to the idle runs against the
# goals: IOPS at least 0.90 of idle, p99 at most 1.5x idle.  With a
# move_rate, a third condition in the same rotation: fio itself streams
# at that rate (a sequential O_DIRECT read of hot and a buffered write to
# warm, synced every 32 MiB, as a move does), so the cost of any
# concurrent stream of that rate on this disk is printed beside ours.
#
#   bench/hot-share-bench.sh          (as root)
#
# Environment: BENCH_RUNS (5), BENCH_MOVE_GB (4), BENCH_FIO_SECONDS (8),
# BENCH_HOT_SCHEDULER (none: the loop's own), BENCH_MOVE_RATE (the
# daemon's move_rate, e.g. 100M; 0: none), JTS_TIERCTL, JTS_TIERD.
set -eu
cd "$(dirname "$0")/.."
CTL=${JTS_TIERCTL:-$(pwd)/jts-tierctl}
TIERD=${JTS_TIERD:-$(pwd)/jts-tierd}
RUNS=${BENCH_RUNS:-5}
MOVE_GB=${BENCH_MOVE_GB:-4}
SECS=${BENCH_FIO_SECONDS:-8}
RATE=${BENCH_MOVE_RATE:-0}

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
for b in "$CTL" "$TIERD"; do
	[ -x "$b" ] || { echo "bench: build first ($b missing)" >&2; exit 1; }
done
for c in fio jq bc; do
	command -v "$c" >/dev/null || { echo "bench: needs $c" >&2; exit 1; }
done
[ "$RUNS" -ge 1 ] || { echo "bench: BENCH_RUNS must be at least 1" >&2; exit 1; }

B=$(mktemp -d /var/tmp/jts-share-bench.XXXXXX)
. scripts/loopfs.sh
DPID=
cleanup() {
	set +e
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID"
	loopfs_cleanup 2>/dev/null
	rm -rf "$B"
}
trap cleanup EXIT

loopfs "$B/hot.img" $((MOVE_GB + 3))G ext4 "$B/hot"
# BENCH_HOT_SCHEDULER: the hot loop's I/O scheduler (loops have none,
# which ignores I/O priorities; mq-deadline honours them).
HOT_DEV=$(findmnt -no SOURCE "$B/hot")
if [ -n "${BENCH_HOT_SCHEDULER:-}" ]; then
	echo "$BENCH_HOT_SCHEDULER" > "/sys/block/${HOT_DEV##*/}/queue/scheduler"
fi
loopfs "$B/warm.img" $((MOVE_GB + 2))G btrfs "$B/warm" nodiscard,compress=zstd
cat > "$B/conf" <<CONF
[catalog]
path = $B/cat/catalog.db
[defaults]
reserve = 64M
[daemon]
socket = $B/ctl.sock
fanotify = no
move_rate = $RATE
[tier hot]
kind = posix
root = $B/hot
[tier warm]
kind = btrfs
root = $B/warm
CONF
export JTS_TIER_CONF=$B/conf

# The files to move (incompressible, 256 MiB each), and fio's own file.
mkdir -p "$B/hot/set" "$B/hot/fio"
for i in $(seq 1 $((MOVE_GB * 4))); do
	head -c 256M /dev/urandom > "$B/hot/set/f$i"
done
fio --name=lay --filename="$B/hot/fio/data" --size=1G --rw=write --bs=1M \
    --direct=1 --output=/dev/null
sync

JTS_TIER_LOG_STDERR=1 "$TIERD" >"$B/d.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do
	[ -S "$B/ctl.sock" ] && break
	sleep 0.1
done
[ -S "$B/ctl.sock" ] || { echo "bench: jts-tierd did not start" >&2; cat "$B/d.log" >&2; exit 1; }

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# fio_run OUT: random 4 KiB reads for SECS seconds; "IOPS P99_US" in OUT.
fio_run() {
	fio --name=share --filename="$B/hot/fio/data" --size=1G \
	    --rw=randread --bs=4k --direct=1 --ioengine=io_uring \
	    --iodepth=16 --time_based --runtime="$SECS" \
	    --output-format=json --output="$B/fio.json" >/dev/null
	jq -r '.jobs[0].read | "\(.iops) \(.clat_ns.percentile["99.000000"] / 1000)"' \
	    "$B/fio.json" > "$1"
}

# set_rate R: the daemon's move_rate, reloaded (the untimed recalls
# run without it).
set_rate() {
	local n
	[ "$RATE" = 0 ] && return 0
	n=$(grep -c 'reloaded:' "$B/d.log" || true)
	sed -i "s/^move_rate = .*/move_rate = $1/" "$B/conf"
	kill -HUP "$DPID"
	for _ in $(seq 100); do
		[ "$(grep -c 'reloaded:' "$B/d.log" || true)" -gt "$n" ] && return 0
		sleep 0.1
	done
	echo "bench: jts-tierd did not reload:" >&2; tail -3 "$B/d.log" >&2
	exit 1
}

IOPS_IDLE= P99_IDLE= IOPS_MOVE= P99_MOVE= IOPS_STREAM= P99_STREAM= OVERLAP=
idle() {
	drop
	fio_run "$B/r"
	read -r i p < "$B/r"
	IOPS_IDLE="$IOPS_IDLE $i" P99_IDLE="$P99_IDLE $p"
}
moving() {
	local t0 t1 mp
	drop
	t0=$(date +%s.%N)
	"$CTL" migrate -q --no-progress "$B/hot/set" >/dev/null &
	mp=$!
	sleep 0.5
	fio_run "$B/r"
	# Did the move outlast fio?  Then every read competed with it.
	if kill -0 "$mp" 2>/dev/null; then OVERLAP="$OVERLAP yes"; else OVERLAP="$OVERLAP no"; fi
	wait "$mp" || { echo "bench: migrate failed" >&2; exit 1; }
	t1=$(date +%s.%N)
	read -r i p < "$B/r"
	IOPS_MOVE="$IOPS_MOVE $i" P99_MOVE="$P99_MOVE $p"
	MOVE_T="${MOVE_T:-} $(echo "$t1 - $t0" | bc -l | xargs printf '%.2f')"
	# Back again, untimed, for the next run.
	set_rate 0
	"$CTL" recall -q --no-progress "$B/hot/set" >/dev/null ||
	    { echo "bench: recall failed" >&2; exit 1; }
	set_rate "$RATE"
}

# The reference stream: fio moving data at the daemon's rate, not jts.
streaming() {
	local sp
	drop
	mkdir -p "$B/warm/stream"
	fio --name=src --filename="$B/hot/set/f1" --rw=read --bs=1M --direct=1 \
	    --rate="$RATE" --time_based --runtime=$((SECS + 2)) \
	    --name=dst --filename="$B/warm/stream/data" --size=1G --rw=write \
	    --bs=1M --fdatasync=32 --rate="$RATE" --time_based \
	    --runtime=$((SECS + 2)) --output=/dev/null >/dev/null &
	sp=$!
	sleep 0.5
	fio_run "$B/r"
	wait "$sp" || { echo "bench: the reference stream failed" >&2; exit 1; }
	rm -rf "$B/warm/stream"
	read -r i p < "$B/r"
	IOPS_STREAM="$IOPS_STREAM $i" P99_STREAM="$P99_STREAM $p"
}

for r in $(seq 1 "$RUNS"); do
	if [ "$RATE" = 0 ]; then
		if [ $((r % 2)) -eq 1 ]; then idle; moving; else moving; idle; fi
	else
		case $((r % 3)) in
		1) idle; moving; streaming ;;
		2) moving; streaming; idle ;;
		0) streaming; idle; moving ;;
		esac
	fi
done

# stats "V1 V2 ...": "median min max"
stats() {
	printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 }
	    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	    printf "%.0f %.0f %.0f\n", m, v[1], v[NR] }'
}
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

read -r ii imn imx <<< "$(stats "$IOPS_IDLE")"
read -r pi pmn pmx <<< "$(stats "$P99_IDLE")"
read -r im mmn mmx <<< "$(stats "$IOPS_MOVE")"
read -r pm qmn qmx <<< "$(stats "$P99_MOVE")"
echo "== fio 4 KiB random reads on hot, ${SECS} s, QD 16; jts-tierd moving ${MOVE_GB} GiB hot -> warm (zstd); $RUNS runs each"
echo "hot: $HOT_DEV, scheduler: $(cat "/sys/block/${HOT_DEV##*/}/queue/scheduler"); jts-tierd's I/O priority: $(ionice -p "$DPID"); move_rate: $RATE"
printf '%-26s %22s %24s\n' "" "IOPS median (min-max)" "p99 us median (min-max)"
printf '%-26s %22s %24s\n' "idle" "$ii ($imn-$imx)" "$pi ($pmn-$pmx)"
printf '%-26s %22s %24s\n' "while jts-tierd moves" "$im ($mmn-$mmx)" "$pm ($qmn-$qmx)"
if [ "$RATE" != 0 ]; then
	read -r is smn smx <<< "$(stats "$IOPS_STREAM")"
	read -r ps tmn tmx <<< "$(stats "$P99_STREAM")"
	printf '%-26s %22s %24s\n' "while fio streams at $RATE" "$is ($smn-$smx)" "$ps ($tmn-$tmx)"
	echo "reference: IOPS stream/idle $(ratio "$is" "$ii"); p99 stream/idle $(ratio "$ps" "$pi") (the disk's cost of any stream at $RATE)"
fi
echo "IOPS moving/idle $(ratio "$im" "$ii") (goal >= 0.90); p99 moving/idle $(ratio "$pm" "$pi") (goal <= 1.50)"
echo "moves (s):$MOVE_T; the move outlasted fio:$OVERLAP"
echo "runs: iops idle:$IOPS_IDLE; moving:$IOPS_MOVE; stream:$IOPS_STREAM; p99 idle:$P99_IDLE; moving:$P99_MOVE; stream:$P99_STREAM"
