#!/bin/bash
# migrate-bench.sh - hot -> warm migration against cp, rsync and a
# cp + sync + xxh128sum pipeline (the same guarantee as ours), and against
# the physical bound of a verified move: cp + sync, then an O_DIRECT read
# of the copy (the destination written once and read back from the
# device).  Measured in the same run on loop devices with direct I/O, the
# page cache dropped before every run, on the storage plan's warm tier
# (btrfs with compress=zstd) and on plain btrfs.  Prints, per method, the
# median seconds with min and max, jts-tierctl's ratios to each, and the
# median CPU seconds the whole machine was busy during a run (user and
# system of every process and kernel thread, from /proc/stat) with that
# as a share of all cores: a method near 100% is bound by the CPU.
#
#   bench/migrate-bench.sh [--large-only|--small-only]     (as root)
#
# Every method runs BENCH_RUNS times (5), in rotated order, so background
# work of the file systems and the host falls on every method alike.
#
# Environment: BENCH_RUNS (5), BENCH_SETTLE (4 s between runs),
# BENCH_LARGE_MB (1024), BENCH_SMALL_FILES (20000), BENCH_SMALL_KB (16),
# BENCH_WARM_OPTS (one set of btrfs mount
# options instead of both "compress=zstd" and plain; "none" for plain),
# JTS_TIERCTL (the binary).
set -eu
cd "$(dirname "$0")/.."
CTL=${JTS_TIERCTL:-$(pwd)/jts-tierctl}
RUNS=${BENCH_RUNS:-5}
LARGE_MB=${BENCH_LARGE_MB:-1024}
NSMALL=${BENCH_SMALL_FILES:-20000}
SMALL_KB=${BENCH_SMALL_KB:-16}
MODE=${1:-all}
if [ -n "${BENCH_WARM_OPTS:-}" ]; then
	CONFIGS=$BENCH_WARM_OPTS
else
	CONFIGS="compress=zstd none"
fi

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -x "$CTL" ] || { echo "bench: build first ($CTL missing)" >&2; exit 1; }
[ "$RUNS" -ge 1 ] || { echo "bench: BENCH_RUNS must be at least 1" >&2; exit 1; }

B=$(mktemp -d /var/tmp/jts-bench.XXXXXX)
. scripts/loopfs.sh
cleanup() {
	set +e
	loopfs_cleanup 2>/dev/null
	rm -rf "$B"
}
trap cleanup EXIT

loopfs "$B/hot.img" 6G ext4 "$B/hot"
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
secs() { echo "$2 - $1" | bc -l | xargs printf '%.3f'; }
# After each run, a pause for the disk beneath the loops: writes it has
# taken (the run's, or jts's recall of the source) are destaged under
# the next run otherwise, and whichever ran after jts-tierctl paid for
# its recall (1.4 s against 3 s for cp + sync here).
clean_warm() { rm -rf "$B/warm/set"; drop; sleep "${BENCH_SETTLE:-4}"; }

# cpu_now: "busy total" jiffies of the whole machine (/proc/stat).
cpu_now() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
TCK=$(getconf CLK_TCK)

# time_run CMD...: seconds into $T; the CPU seconds the whole machine
# was busy meanwhile (user + system, every process and kernel thread:
# a copy's kernel work is not all charged to its process) into $C.
time_run() {
	drop
	local t0 t1 b0 j0 b1 j1
	read -r b0 j0 <<< "$(cpu_now)"
	t0=$(now)
	"$@"
	t1=$(now)
	read -r b1 j1 <<< "$(cpu_now)"
	T=$(secs "$t0" "$t1")
	C=$(echo "($b1 - $b0) / $TCK" | bc -l | xargs printf '%.2f')
}

# direct_read DIR: read every file beneath DIR with O_DIRECT (past the
# page cache, from the device), as the read-back of a verified move does;
# a small C program (built below), so no interpreter's start is timed.
direct_read() {
	find "$1" -type f -print0 | "$B/odread"
}
cat > "$B/odread.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void) {
	char *name = NULL; size_t cap = 0; void *buf;
	if (posix_memalign(&buf, 4096, 1 << 20)) return 1;
	while (getdelim(&name, &cap, 0, stdin) > 0) {
		int fd = open(name, O_RDONLY | O_DIRECT);
		if (fd < 0 && (fd = open(name, O_RDONLY)) < 0) return 1;
		while (read(fd, buf, 1 << 20) > 0)
			;
		close(fd);
	}
	return 0;
}
C
cc -O2 -o "$B/odread" "$B/odread.c" ||
    { echo "bench: cannot build the O_DIRECT reader" >&2; exit 1; }

cp_sync() { cp -a "$B/hot/set" "$B/warm/"; sync; }
rsync_sync() { rsync -a "$B/hot/set" "$B/warm/"; sync; }
# O_DIRECT reads bypass the page cache: no cache to drop in between.
bound() {
	cp -a "$B/hot/set" "$B/warm/"; sync
	direct_read "$B/warm/set"
}
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

# stats "T1 T2 ...": "median min max"
stats() {
	printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 }
	    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	    printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'
}
# ratio A B: A / B, two decimals
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

METHODS="cp rs bd ch jts"
declare -A NAME=(
	[cp]="cp -a + sync"
	[rs]="rsync -a + sync"
	[bd]="bound: cp -a + sync + O_DIRECT read"
	[ch]="cp -a + sync + xxh128sum (both)"
	[jts]="jts-tierctl migrate (verified)"
)
declare -A RUNT RUNC

# One run of method m, its destination cleaned after.
run_one() {
	case $1 in
	cp)	time_run cp_sync ;;
	rs)	time_run rsync_sync ;;
	bd)	time_run bound ;;
	ch)	time_run cp_sync_hash ;;
	jts)	time_run jts
		cp "$B/rss" "$B/rss.$2"
		# Judge our result independently, then put the source back
		# (untimed).
		(cd "$B/warm/set" && find . -type f -print0 |
		    xargs -0 -r xxh128sum 2>/dev/null | sort -k2) > "$B/d.sum"
		(cd "$B/hot/set" && find . -type f -print0 |
		    xargs -0 -r xxh128sum 2>/dev/null | sort -k2) > "$B/e.sum"
		[ -s "$B/d.sum" ] && [ ! -s "$B/e.sum" ] ||
		    { echo "bench: jts left files behind" >&2; exit 1; }
		cmp -s "$B/src.sum" "$B/d.sum" ||
		    { echo "bench: jts result differs from the source!" >&2; exit 1; }
		jts_back
		rm -rf "$B/cat" ;;
	esac
	RUNT[$1]="${RUNT[$1]:-} $T"
	RUNC[$1]="${RUNC[$1]:-} $C"
	clean_warm
}

# bench_set TITLE [FILES]: RUNS rounds, the order rotated each round.
bench_set() {
	local r i m k set=($METHODS) n=${#set[@]} med
	RUNT=()
	RUNC=()
	(cd "$B/hot/set" && find . -type f -print0 | xargs -0 -r xxh128sum 2>/dev/null | sort -k2) > "$B/src.sum"
	for r in $(seq 0 $((RUNS - 1))); do
		for i in $(seq 0 $((n - 1))); do
			k=$(( (i + r) % n ))
			[ $((r % 2)) -eq 1 ] && k=$(( (n - 1 - i + r) % n ))
			run_one "${set[$k]}" "$r"
		done
	done
	echo
	echo "== $1, $RUNS runs each"
	printf '%-38s %8s %8s %8s %9s %12s\n' method median min max "jts/this" \
	    "CPU s (busy)"
	read -r J _ _ <<< "$(stats "${RUNT[jts]}")"
	for m in $METHODS; do
		read -r med mn mx <<< "$(stats "${RUNT[$m]}")"
		read -r cmed _ _ <<< "$(stats "${RUNC[$m]}")"
		printf '%-38s %8s %8s %8s %9s %5s (%3.0f%%)\n' "${NAME[$m]}" "$med" \
		    "$mn" "$mx" "$(ratio "$J" "$med")" "$cmed" \
		    "$(echo "100 * $cmed / $med / $(nproc)" | bc -l)"
		eval "MED_$m=$med"
	done
	echo "runs (s):$(for m in $METHODS; do printf ' %s:%s;' "$m" "${RUNT[$m]}"; done)"
	echo "jts-tierctl peak RSS: $(( $(cat "$B"/rss.* | sort -n | tail -1) / 1024 )) MiB"
	# Ratios of medians (time: lower is better; files/s: higher).
	echo "time jts/bound $(ratio "$J" "$MED_bd") (goal <= 0.85 for one large file);" \
	    "jts/(cp+sync+hash) $(ratio "$J" "$MED_ch") (goal <= 0.70)"
	if [ -n "${2:-}" ]; then
		echo "files/s: jts $(echo "$2 / $J" | bc), rsync+sync $(echo "$2 / $MED_rs" | bc);" \
		    "jts/(rsync+sync) $(ratio "$MED_rs" "$J") (goal >= 1.00)"
	fi
	rm -f "$B"/rss.*
}

make_large() {
	mkdir -p "$B/hot/set"
	head -c "${LARGE_MB}M" /dev/urandom > "$B/hot/set/large.bin"
}
make_small() {
	mkdir -p "$B/hot/set"
	python3 - "$B/hot/set" "$NSMALL" "$SMALL_KB" <<'PY'
import os, sys
root, n, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    d = f"{root}/d{i // 200}"
    if i % 200 == 0:
        os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:06d}", 'wb') as o:
        o.write(os.urandom(kb * 1024))
PY
}

echo "jts-tier migrate benchmark: hot ext4 loop -> warm btrfs loop, direct-io loops, caches dropped"
echo "kernel $(uname -r), $(nproc) cores; $(git describe --always --dirty 2>/dev/null || echo '?')"
c=0
for opts in $CONFIGS; do
	c=$((c + 1))
	if mountpoint -q "$B/warm" 2>/dev/null; then
		umount "$B/warm"
	fi
	[ "$opts" = none ] && mo="" || mo=$opts
	# nodiscard: btrfs's async discard of what the previous run freed
	# would trickle on (a few MB/s, minutes) under the next runs.
	loopfs "$B/warm$c.img" 6G btrfs "$B/warm" "nodiscard${mo:+,$mo}"
	if [ -n "$mo" ]; then label="warm btrfs $mo"; else label="warm btrfs, plain"; fi
	if [ "$MODE" != --small-only ]; then
		make_large
		bench_set "one file of $LARGE_MB MiB, $label"
		rm -rf "$B/hot/set"
	fi
	if [ "$MODE" != --large-only ]; then
		make_small
		bench_set "$NSMALL files of $SMALL_KB KiB, $label" "$NSMALL"
		rm -rf "$B/hot/set"
	fi
done
