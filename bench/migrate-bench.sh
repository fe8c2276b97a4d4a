#!/bin/bash
# migrate-bench.sh - hot -> warm migration against cp, rsync and a
# cp + sync + xxh128sum pipeline (the same guarantee as ours), measured in
# the same run on loop devices with direct I/O, page cache dropped before
# every run.  Prints seconds, ratios and jts-tierctl's peak RSS.
#
#   sudo bench/migrate-bench.sh [--large-only|--small-only]
#
# Every method runs three times, in rotated order; the median is shown,
# and the largest peak RSS of jts-tierctl.
#
# Environment: BENCH_LARGE_MB (1024), BENCH_SMALL_FILES (20000),
# BENCH_SMALL_KB (16), BENCH_WARM_OPTS (mount options for btrfs, e.g.
# compress=zstd), JTS_TIERCTL (the binary).
set -eu
cd "$(dirname "$0")/.."
CTL=${JTS_TIERCTL:-$(pwd)/jts-tierctl}
LARGE_MB=${BENCH_LARGE_MB:-1024}
NSMALL=${BENCH_SMALL_FILES:-20000}
SMALL_KB=${BENCH_SMALL_KB:-16}
WARM_OPTS=${BENCH_WARM_OPTS:-}
MODE=${1:-all}

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -x "$CTL" ] || { echo "bench: build first ($CTL missing)" >&2; exit 1; }

B=$(mktemp -d /var/tmp/jts-bench.XXXXXX)
. scripts/loopfs.sh
cleanup() {
	set +e
	loopfs_cleanup
	rm -rf "$B"
}
trap cleanup EXIT

loopfs "$B/hot.img" 6G ext4 "$B/hot"
loopfs "$B/warm.img" 6G btrfs "$B/warm" "$WARM_OPTS"
cat > "$B/conf" <<CONF
[catalog]
path = $B/cat/catalog.db
[defaults]
reserve = 64M
[tier hot]
kind = posix
root = $B/hot
[tier warm]
kind = btrfs
root = $B/warm
CONF

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }
clean_warm() { rm -rf "$B/warm/set"; drop; }

# time_run LABEL CMD...: seconds into $T
time_run() {
	drop
	local t0 t1
	t0=$(now)
	"${@:2}"
	t1=$(now)
	T=$(secs "$t0" "$t1")
}

cp_sync() { cp -a "$B/hot/set" "$B/warm/"; sync; }
rsync_a() { rsync -a "$B/hot/set" "$B/warm/"; }
cp_sync_hash() {
	cp -a "$B/hot/set" "$B/warm/"; sync
	echo 3 > /proc/sys/vm/drop_caches
	(cd "$B/hot/set" && find . -type f -print0 | xargs -0 -r xxh128sum 2>/dev/null | sort -k2) > "$B/a.sum"
	(cd "$B/warm/set" && find . -type f -print0 | xargs -0 -r xxh128sum 2>/dev/null | sort -k2) > "$B/b.sum"
	cmp -s "$B/a.sum" "$B/b.sum"
}
jts() {
	/usr/bin/time -f %M -o "$B/rss" "$CTL" -c "$B/conf" migrate -q \
	    --no-progress "$B/hot/set" >/dev/null
}
jts_back() { "$CTL" -c "$B/conf" recall -q --no-progress "$B/hot/set" >/dev/null; }

report() {	# title unit count
	local title=$1
	echo
	echo "== $title"
	printf '%-34s %9s %9s\n' "method" "seconds" "jts/this"
	printf '%-34s %9s %9s\n' "cp -a + sync" "$T_CP" "$(echo "$T_JTS / $T_CP" | bc -l | xargs printf '%.2f')"
	printf '%-34s %9s %9s\n' "rsync -a" "$T_RS" "$(echo "$T_JTS / $T_RS" | bc -l | xargs printf '%.2f')"
	printf '%-34s %9s %9s\n' "cp -a + sync + xxh128sum (both)" "$T_CH" "$(echo "$T_JTS / $T_CH" | bc -l | xargs printf '%.2f')"
	printf '%-34s %9s %9s\n' "jts-tierctl migrate (verified)" "$T_JTS" "1.00"
	echo "jts-tierctl peak RSS: $(( $(cat "$B/rss") / 1024 )) MiB"
	if [ -n "${3:-}" ]; then
		echo "files/s: jts $(echo "$3 / $T_JTS" | bc | xargs printf '%.0f')," \
		    "rsync $(echo "$3 / $T_RS" | bc | xargs printf '%.0f')," \
		    "cp+sync $(echo "$3 / $T_CP" | bc | xargs printf '%.0f')"
	fi
}

# median "T1 T2 T3": the middle one
median() { printf '%s\n' $1 | sort -n | sed -n 2p; }

# Each method three times, in rotated order, the median kept: background
# work of the file systems (btrfs cleaning up a deleted tree) and of the
# host then falls on every method alike.
bench_set() {
	local cps="" rss="" chs="" jtss=""
	for order in "cp rs ch jts" "jts ch rs cp" "rs jts cp ch"; do
		for m in $order; do
			case $m in
			cp)	time_run cp cp_sync; cps="$cps $T"; clean_warm ;;
			rs)	time_run rsync rsync_a; rss="$rss $T"; clean_warm ;;
			ch)	time_run cp+hash cp_sync_hash; chs="$chs $T"; clean_warm ;;
			jts)	time_run jts jts; jtss="$jtss $T"
				cp "$B/rss" "$B/rss.$(echo "$jtss" | wc -w)"
				# Judge our result independently, then put the
				# source back (untimed).
				(cd "$B/warm/set" && find . -type f -print0 |
				    xargs -0 -r xxh128sum 2>/dev/null | sort -k2) > "$B/d.sum"
				(cd "$B/hot/set" && find . -type f -print0 |
				    xargs -0 -r xxh128sum 2>/dev/null | sort -k2) > "$B/e.sum"
				[ -s "$B/d.sum" ] && [ ! -s "$B/e.sum" ] ||
				    { echo "bench: jts left files behind" >&2; exit 1; }
				[ ! -s "$B/a.sum" ] || cmp -s "$B/a.sum" "$B/d.sum" ||
				    { echo "bench: jts result differs from the source!" >&2; exit 1; }
				cp "$B/d.sum" "$B/a.sum"
				jts_back
				rm -rf "$B/cat"
				clean_warm ;;
			esac
		done
	done
	echo "runs (s): cp+sync$cps; rsync$rss; cp+sync+hash$chs; jts$jtss"
	T_CP=$(median "$cps"); T_RS=$(median "$rss"); T_CH=$(median "$chs")
	T_JTS=$(median "$jtss")
	cat "$B"/rss.? | sort -n | tail -1 > "$B/rss"
}

echo "jts-tier migrate benchmark: hot ext4 loop -> warm btrfs loop${WARM_OPTS:+ ($WARM_OPTS)}, direct-io loops, caches dropped"
echo "kernel $(uname -r), $(nproc) cores"

if [ "$MODE" != --small-only ]; then
	mkdir -p "$B/hot/set"
	head -c "${LARGE_MB}M" /dev/urandom > "$B/hot/set/large.bin"
	bench_set
	report "one file of $LARGE_MB MiB"
	rm -rf "$B/hot/set"
fi

if [ "$MODE" != --large-only ]; then
	mkdir -p "$B/hot/set"
	head -c $((NSMALL * SMALL_KB * 1024)) /dev/urandom > "$B/blob"
	i=0
	while [ $i -lt "$NSMALL" ]; do
		d=$B/hot/set/d$((i / 200))
		[ -d "$d" ] || mkdir -p "$d"
		i=$((i + 1))
	done
	python3 - "$B/blob" "$B/hot/set" "$NSMALL" "$SMALL_KB" <<'PY'
import sys
blob, root, n, kb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(blob, 'rb') as f:
    for i in range(n):
        with open(f"{root}/d{i // 200}/f{i:06d}", 'wb') as o:
            o.write(f.read(kb * 1024))
PY
	rm -f "$B/blob"
	bench_set
	report "$NSMALL files of $SMALL_KB KiB" "$NSMALL"
fi
