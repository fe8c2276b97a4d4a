#!/bin/bash
# stub-bench.sh - first-byte latency of a stub (leave = stub): the time
# from a read of a stub until its first byte arrives, which is the
# verified recall of the whole file into the stub, beside a plain read
# of the same data on its tier (cat on warm, nfs-cat on the NAS), for a
# 16 MiB WAL segment and a 1 GiB file, with the data on warm (btrfs,
# compress=zstd, as the storage plan mounts it) and on the NAS
# (nfs-ganesha on loopback).  Caches dropped before every read; each
# pair BENCH_RUNS times (5), the order rotated; medians, min-max.
#
#   bench/stub-bench.sh     (as root; Linux 6.14+ for pre-content events)
#
# The goal: a stub costs at most the recall's own copy time plus 10 ms.
# The recall writes the data into the stub, syncs it and reads it back
# from the device, so "stub - plain read" is that copy's write and
# read-back, plus the cost of the stub itself.
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
CTL=${JTS_TIERCTL:-$SRC/jts-tierctl}
TIERD=${JTS_TIERD:-$(dirname "$CTL")/jts-tierd}
RUNS=${BENCH_RUNS:-5}
SIZES=${BENCH_STUB_SIZES:-"16 1024"}	# MiB
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
for c in ganesha.nfsd rpcbind nfs-cat nfs-ls bc xxh128sum; do
	command -v "$c" >/dev/null || { echo "bench: needs $c" >&2; exit 1; }
done

B=$(mktemp -d /var/tmp/jts-stub-bench.XXXXXX)
W=$B
. scripts/loopfs.sh
skip() { echo "bench: $*" >&2; exit 1; }
need_cmd() { :; }
DPID=
cleanup() {
	set +e
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	pkill -KILL -f -- "--stub-holder $B/" 2>/dev/null
	stop_nas
	loopfs_cleanup
	rm -rf "$B"
}
trap cleanup EXIT
. tests/lib-nfs.sh
trap cleanup EXIT

loopfs "$B/hot.img" 4G ext4 "$B/hot"
loopfs "$B/warm.img" 4G btrfs "$B/warm" compress=zstd
loopfs "$B/nas.img" 16G ext4 "$B/export"
start_nas "$B/export"
trap cleanup EXIT
mkdir -p "$B/run" "$B/pol" "$B/hot/s"
cat > "$B/conf" <<CONF
[catalog]
path = $B/cat/catalog.db
[defaults]
reserve = 64M
leave = stub
[daemon]
socket = $B/run/ctl.sock
policies = $B/pol
[tier hot]
kind = posix
root = $B/hot
[tier warm]
kind = btrfs
root = $B/warm
[tier cold]
kind = nfs
url = $NAS_URL
CONF
export JTS_TIER_CONF=$B/conf
JTS_TIER_LOG_STDERR=1 "$TIERD" -v > "$B/d.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do
	grep -q 'started: pid' "$B/d.log" && break
	kill -0 "$DPID" 2>/dev/null || { cat "$B/d.log"; exit 1; }
	sleep 0.1
done
grep -q 'started: pid' "$B/d.log" || { echo "bench: jts-tierd did not start" >&2; exit 1; }

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
ms() { echo "($2 - $1) * 1000" | bc -l | xargs printf '%.0f'; }
median() {
	printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END {
	    printf "%.0f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() { printf '%s\n' $1 | sort -n | sed -n '1p;$p' | paste -sd-; }

echo "jts-tier stub benchmark ($RUNS runs of each, medians in ms, min-max): hot ext4 loop, warm btrfs loop (compress=zstd), NAS nfs-ganesha on loopback; caches dropped before every read"
echo "kernel $(uname -r), $(nproc) cores"
head -c 1M /dev/urandom > "$B/hot/base"
echo "stub - recall - base: the stub's own cost (goal <= 10 ms), where base is the"
echo "same first-byte read of a plain file on hot (dd and date start cold too)"
printf '%-16s %-17s %-17s %-17s %-17s %-17s %s\n' "data" "plain read" \
    "stub 1st byte" "stub - plain" "recall (logged)" "base" \
    "stub - recall - base"
Q=${NAS_URL#*\?}
for mb in $SIZES; do
	head -c "${mb}M" /dev/urandom > "$B/orig"
	want=$(xxh128sum < "$B/orig" | cut -d' ' -f1)
	for tier in warm cold; do
		ps="" ss="" ds="" cs="" os="" zs=""
		for r in $(seq "$RUNS"); do
			f=$B/hot/s/f$mb.$tier.$r
			cp "$B/orig" "$f"
			# The plain read's data: the same bytes on the same tier.
			if [ "$tier" = warm ]; then cp "$B/orig" "$B/warm/plain"
			else cp "$B/orig" "$B/export/plain"; fi
			"$CTL" migrate -q --no-progress --to "$tier" "$f" > /dev/null
			getfattr -n trusted.jts-tier.stub "$f" > /dev/null 2>&1 ||
			    { echo "bench: $f is not a stub" >&2; exit 1; }
			for step in $( [ $((r % 2)) -eq 0 ] && echo "base plain stub" || echo "stub base plain"); do
				drop
				if [ "$step" = base ]; then
					# The same first-byte read of a plain file on
					# hot: dd and date start from a dropped cache.
					t0=$(now)
					dd if="$B/hot/base" of=/dev/null bs=1 count=1 status=none
					t1=$(now); z=$(ms "$t0" "$t1")
				elif [ "$step" = plain ]; then
					t0=$(now)
					if [ "$tier" = warm ]; then
						cat "$B/warm/plain" > /dev/null
					else
						nfs-cat "nfs://127.0.0.1$B/export/plain?$Q" > /dev/null
					fi
					t1=$(now); p=$(ms "$t0" "$t1")
				else
					t0=$(now)
					dd if="$f" of=/dev/null bs=1 count=1 status=none
					t1=$(now); s=$(ms "$t0" "$t1")
					# The recall's own time, as jts-tierd logged it.
					c=$(grep "s/${f##*/}: recalled" "$B/d.log" |
					    grep -o 'in [0-9]* ms' | grep -o '[0-9]*')
				fi
			done
			[ "$(xxh128sum < "$f" | cut -d' ' -f1)" = "$want" ] ||
			    { echo "bench: $f differs after its recall!" >&2; exit 1; }
			ps="$ps $p"; ss="$ss $s"; ds="$ds $((s - p))"
			cs="$cs $c"; os="$os $((s - c - z))"; zs="$zs $z"
			rm -f "$f" "$B/warm/plain" "$B/export/plain"
			# Files removed behind the server's back stay open in
			# its cache, their space held: a fresh server (untimed).
			[ "$tier" = cold ] && { nas_kill; nas_up; }
		done
		P=$(median "$ps"); S=$(median "$ss"); D=$(median "$ds")
		C=$(median "$cs"); O=$(median "$os"); Z=$(median "$zs")
		printf '%-16s %5s %-11s %5s %-11s %5s %-11s %5s %-11s %5s %-11s %4s %-9s\n' \
		    "$mb MiB on $tier" "$P" "($(range "$ps"))" "$S" "($(range "$ss"))" \
		    "$D" "($(range "$ds"))" "$C" "($(range "$cs"))" \
		    "$Z" "($(range "$zs"))" "$O" "($(range "$os"))"
	done
done
