#!/bin/bash
# s3-bench.sh - warm (btrfs, compress=zstd) -> S3 against s3cmd put, in
# the same run, on a one-node Ceph cluster whose gateway listens on
# loopback (started here, as the tests start it), and against the bound
# any verified upload has on that server: curl sending every file (no
# checksum) then reading every object back, four requests at once.
# jts-tierctl migrate uploads, reads every object back with a fresh GET
# and compares it, and commits the move; s3cmd put only uploads (with
# its MD5).  Every method
# runs BENCH_RUNS times in rotated order, the page cache dropped before
# each run; prints median seconds with min and max, and the throughput
# ratios jts / s3cmd (goal: at least 1.0) and jts / bound.
#
#   bench/s3-bench.sh          (as root)
#
# Environment: BENCH_RUNS (5), BENCH_LARGE_MB (1024), BENCH_SMALL_FILES
# (2000), BENCH_SMALL_KB (256), JTS_TIERCTL.
set -eu
cd "$(dirname "$0")/.."
CTL=${JTS_TIERCTL:-$(pwd)/jts-tierctl}
RUNS=${BENCH_RUNS:-5}
LARGE_MB=${BENCH_LARGE_MB:-1024}
NSMALL=${BENCH_SMALL_FILES:-2000}
SMALL_KB=${BENCH_SMALL_KB:-256}

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -x "$CTL" ] || { echo "bench: build first ($CTL missing)" >&2; exit 1; }

W=$(mktemp -d /var/tmp/jts-s3-bench.XXXXXX)
. scripts/loopfs.sh
skip() { echo "bench: $*" >&2; exit 1; }
cpu_lock() { :; }
need_cmd() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}
cleanup() {
	set +e
	loopfs_cleanup 2>/dev/null
	rm -rf "$W"
}
. tests/lib-s3.sh
trap 'set +e; stop_s3; cleanup' EXIT

loopfs "$W/warm.img" 4G btrfs "$W/warm" nodiscard,compress=zstd
# A sparse file for the OSD, room for several copies of the set (what a
# run deletes is freed by RGW's garbage collection, run between runs).
start_s3 $(( (4 * LARGE_MB + 4096) << 20 ))
CONF=$W/conf
cat > "$CONF" <<CONF
[catalog]
path = $W/cat/catalog.db
[defaults]
reserve = 64M
[tier warm]
kind = btrfs
root = $W/warm
CONF
add_s3_cold jts
export JTS_TIER_CONF=$CONF

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }

# curlcfg put|get: curl's config for every file of the set, to or from
# bound/ (the bound: the bytes sent and read back, nothing else).
curlcfg() {
	local f
	for f in "$W"/warm/set/*; do
		printf 'url = "http://%s/%s/bound/%s"\noutput = "/dev/null"\n' \
		    "$S3_ENDPOINT" "$S3_BUCKET" "${f##*/}"
		if [ "$1" = put ]; then
			printf 'upload-file = "%s"\n' "$f"
		fi
	done
}
bound() {
	local o=(-sf --no-progress-meter --parallel --parallel-max 4
	    --aws-sigv4 aws:amz:default:s3
	    --user "$S3_ACCESS:$S3_SECRET"
	    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
	curl "${o[@]}" -K "$W/put.curl" && curl "${o[@]}" -K "$W/get.curl"
}

# One run of method m on the set (a directory of warm); seconds into T.
run_one() {
	local t0 t1
	[ "$1" = bound ] && { curlcfg put > "$W/put.curl"; curlcfg get > "$W/get.curl"; }
	drop
	t0=$(now)
	case $1 in
	jts)	"$CTL" migrate -q --no-progress --to cold "$W/warm/set" \
		    >/dev/null ;;
	s3cmd)	s3 put -q --recursive "$W/warm/set" "s3://$S3_BUCKET/s3cmd/" \
		    >/dev/null ;;
	bound)	bound || echo "bench: the curl bound failed" >&2 ;;
	esac
	t1=$(now)
	T=$(echo "$t1 - $t0" | bc -l | xargs printf '%.3f')
	# Back as it was, untimed.
	case $1 in
	jts)	"$CTL" recall -q --no-progress "$W/warm/set" >/dev/null
		rm -rf "$W/cat" ;;
	s3cmd)	s3 del -q --recursive --force "s3://$S3_BUCKET/s3cmd/" \
		    >/dev/null ;;
	bound)	s3 del -q --recursive --force "s3://$S3_BUCKET/bound/" \
		    >/dev/null ;;
	esac
	s3_gc
}

stats() {
	printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 }
	    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	    printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'
}

# bench_set TITLE: RUNS rounds of the three methods, the order rotated.
bench_set() {
	local r m order tj= ts= tb=
	for r in $(seq 1 "$RUNS"); do
		case $((r % 3)) in
		1) order="jts s3cmd bound" ;;
		2) order="s3cmd bound jts" ;;
		0) order="bound jts s3cmd" ;;
		esac
		for m in $order; do
			run_one "$m"
			case $m in
			jts) tj="$tj $T" ;;
			s3cmd) ts="$ts $T" ;;
			bound) tb="$tb $T" ;;
			esac
		done
	done
	read -r jm jmn jmx <<< "$(stats "$tj")"
	read -r sm smn smx <<< "$(stats "$ts")"
	read -r bm bmn bmx <<< "$(stats "$tb")"
	echo "== $1, $RUNS runs each (seconds: median (min-max))"
	echo "s3cmd put (MD5, no read-back)        $sm ($smn-$smx)"
	echo "jts-tierctl migrate (read back, GET)  $jm ($jmn-$jmx)"
	echo "bound: curl PUT + GET, 4 at once     $bm ($bmn-$bmx)"
	echo "throughput jts / s3cmd: $(echo "$sm / $jm" | bc -l | xargs printf '%.2f') (goal >= 1.0)"
	echo "throughput jts / bound: $(echo "$bm / $jm" | bc -l | xargs printf '%.2f')"
	echo "runs: jts:$tj; s3cmd:$ts; bound:$tb"
}

echo "jts-tier s3 benchmark: warm btrfs (zstd) loop -> Ceph RGW on loopback (one BlueStore OSD on a file)"
echo "kernel $(uname -r), $(nproc) cores; $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(ceph --version | cut -d' ' -f1-3)"
mkdir -p "$W/warm/set"
head -c "${LARGE_MB}M" /dev/urandom > "$W/warm/set/large"
sync
bench_set "1 file of $LARGE_MB MiB"
rm -f "$W/warm/set/large"
for i in $(seq 1 "$NSMALL"); do
	head -c "${SMALL_KB}K" /dev/urandom > "$W/warm/set/f$i"
done
sync
bench_set "$NSMALL files of $SMALL_KB KiB"
