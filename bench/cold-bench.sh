#!/bin/bash
# cold-bench.sh - warm -> cold over loopback NFS (nfs-ganesha serving an
# ext4 loop) against nfs-cp (one call per file, no COMMIT, no verify),
# measured in the same run; caches dropped before every run.
#
#   bench/cold-bench.sh [--large-only|--small-only]     (as root)
#
# Each method runs BENCH_RUNS times (5), in rotated order; the median is
# shown with min and max.  jts-tierctl's time includes COMMIT and the
# read-back over NFS.  The warm tier is mounted as the storage plan's
# (compress=zstd).
#
# Environment: BENCH_RUNS (5), BENCH_LARGE_MB (1024), BENCH_SMALL_FILES
# (2000), BENCH_SMALL_KB (256), BENCH_WARM_OPTS (btrfs mount options of
# the warm tier, compress=zstd; "none" for plain), JTS_TIERCTL.
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
CTL=${JTS_TIERCTL:-$SRC/jts-tierctl}
LARGE_MB=${BENCH_LARGE_MB:-1024}
NSMALL=${BENCH_SMALL_FILES:-2000}
SMALL_KB=${BENCH_SMALL_KB:-256}
MODE=${1:-all}
RUNS=${BENCH_RUNS:-5}
WARM_OPTS=${BENCH_WARM_OPTS:-compress=zstd}
[ "$WARM_OPTS" = none ] && WARM_OPTS=

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -x "$CTL" ] || { echo "bench: build first ($CTL missing)" >&2; exit 1; }
for c in ganesha.nfsd rpcbind nfs-cp nfs-ls bc xxh128sum; do
	command -v "$c" >/dev/null || { echo "bench: needs $c" >&2; exit 1; }
done

B=$(mktemp -d /var/tmp/jts-cold-bench.XXXXXX)
W=$B
. scripts/loopfs.sh
# What tests/lib-nfs.sh expects of its caller.
skip() { echo "bench: $*" >&2; exit 1; }
need_cmd() { :; }
cleanup() {
	set +e
	loopfs_cleanup
	rm -rf "$B"
}
trap cleanup EXIT
. tests/lib-nfs.sh

loopfs "$B/warm.img" 6G btrfs "$B/warm" "$WARM_OPTS"
loopfs "$B/nas.img" 6G ext4 "$B/export"
start_nas "$B/export"
Q=${NAS_URL#*\?}
cat > "$B/conf" <<CONF
[catalog]
path = $B/cat/catalog.db
[defaults]
reserve = 64M
[tier warm]
kind = btrfs
root = $B/warm
[tier cold]
kind = nfs
url = $NAS_URL
CONF

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }
# median "T1 T2 ...", and range "T1 T2 ...": "min-max"
median() {
	printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END {
	    printf "%.2f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() { printf '%s\n' $1 | sort -n | sed -n '1p;$p' | paste -sd-; }

time_run() {
	drop
	local t0 t1
	t0=$(now)
	"$@"
	t1=$(now)
	T=$(secs "$t0" "$t1")
}

# Files removed behind the server's back stay open in its descriptor
# cache, their space held: restart it (untimed) after each run, so every
# run also meets a server in the same state.
fresh_nas() {
	rm -rf "$B/export/set"
	nas_kill
	nas_up || { echo "bench: the NAS did not come back" >&2; exit 1; }
}

sums() { (cd "$1" && find . -type f -print0 | xargs -0 -r xxh128sum 2>/dev/null | sort -k2); }

nfscp_all() {
	local f rel
	(cd "$B/warm/set" && find . -type d) | while IFS= read -r d; do
		mkdir -p "$B/export/set/$d"
	done
	(cd "$B/warm/set" && find . -type f) | while IFS= read -r f; do
		rel=${f#./}
		nfs-cp "$B/warm/set/$rel" \
		    "nfs://127.0.0.1$B/export/set/$rel?$Q" >/dev/null
	done
}
# nfs-cp, then the server's file system synced: durable, not verified.
nfscp_sync() { nfscp_all; sync -f "$B/export"; }
jts() {
	/usr/bin/time -f %M -o "$B/rss" "$CTL" -c "$B/conf" migrate -q \
	    --no-progress "$B/warm/set" >/dev/null
}

bench_set() {
	local ns="" ss="" js=""
	sums "$B/warm/set" > "$B/a.sum"
	local orders="" r
	for r in $(seq 0 $((RUNS - 1))); do
		case $((r % 3)) in
		0) orders="$orders cp,cs,jts" ;;
		1) orders="$orders jts,cs,cp" ;;
		2) orders="$orders cs,jts,cp" ;;
		esac
	done
	for order in $orders; do
		for m in ${order//,/ }; do
			case $m in
			cp)	time_run nfscp_all; ns="$ns $T"
				sums "$B/export/set" > "$B/b.sum"
				cmp -s "$B/a.sum" "$B/b.sum" ||
				    { echo "bench: nfs-cp copy differs" >&2; exit 1; }
				fresh_nas ;;
			cs)	time_run nfscp_sync; ss="$ss $T"
				fresh_nas ;;
			jts)	time_run jts; js="$js $T"
				cp "$B/rss" "$B/rss.$(echo "$js" | wc -w)"
				sums "$B/export/set" > "$B/b.sum"
				cmp -s "$B/a.sum" "$B/b.sum" ||
				    { echo "bench: jts result differs from the source!" >&2; exit 1; }
				[ "$(find "$B/warm/set" -type f | wc -l)" -eq 0 ] ||
				    { echo "bench: jts left files behind" >&2; exit 1; }
				"$CTL" -c "$B/conf" recall -q --no-progress \
				    "$B/warm/set" >/dev/null
				rm -rf "$B/cat"
				fresh_nas ;;
			esac
		done
	done
	echo "runs (s): nfs-cp$ns; nfs-cp + sync$ss; jts$js"
	T_NC=$(median "$ns")
	T_NS=$(median "$ss")
	T_JTS=$(median "$js")
	R_NC=$(range "$ns"); R_NS=$(range "$ss"); R_JTS=$(range "$js")
	cat "$B"/rss.* | sort -n | tail -1 > "$B/rss"
	rm -f "$B"/rss.[0-9]*
}

echo "jts-tier cold benchmark ($RUNS runs of each, medians, min-max): warm btrfs loop${WARM_OPTS:+ ($WARM_OPTS)} -> nfs-ganesha (VFS, ext4 loop) on loopback, NFSv3; caches dropped"
echo "kernel $(uname -r), $(nproc) cores"

if [ "$MODE" != --small-only ]; then
	mkdir -p "$B/warm/set"
	head -c "${LARGE_MB}M" /dev/urandom > "$B/warm/set/large.bin"
	bench_set
	echo
	echo "== one file of $LARGE_MB MiB"
	printf '%-44s %8s %11s %9s\n' method seconds min-max "MB/s"
	printf '%-44s %8s %11s %9.0f\n' "nfs-cp (no COMMIT, no verify)" "$T_NC" "$R_NC" \
	    "$(echo "$LARGE_MB * 1.048576 / $T_NC" | bc -l)"
	printf '%-44s %8s %11s %9.0f\n' "nfs-cp + sync on the server (no verify)" \
	    "$T_NS" "$R_NS" "$(echo "$LARGE_MB * 1.048576 / $T_NS" | bc -l)"
	printf '%-44s %8s %11s %9.0f\n' "jts-tierctl migrate (COMMIT + read-back)" \
	    "$T_JTS" "$R_JTS" "$(echo "$LARGE_MB * 1.048576 / $T_JTS" | bc -l)"
	echo "throughput jts/nfs-cp: $(echo "$T_NC / $T_JTS" | bc -l | xargs printf '%.2f') (goal >= 1.0); jts/(nfs-cp + sync): $(echo "$T_NS / $T_JTS" | bc -l | xargs printf '%.2f'); hop < 5 s: $(echo "$T_JTS < 5" | bc | sed 's/1/yes/; s/0/no/')"
	echo "jts-tierctl peak RSS: $(( $(cat "$B/rss") / 1024 )) MiB"
	rm -rf "$B/warm/set"
fi

if [ "$MODE" != --large-only ]; then
	mkdir -p "$B/warm/set"
	head -c $((NSMALL * SMALL_KB * 1024)) /dev/urandom > "$B/blob"
	python3 - "$B/blob" "$B/warm/set" "$NSMALL" "$SMALL_KB" <<'PY'
import os, sys
blob, root, n, kb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(blob, 'rb') as f:
    for i in range(n):
        d = f"{root}/d{i // 200}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/f{i:05d}", 'wb') as o:
            o.write(f.read(kb * 1024))
PY
	rm -f "$B/blob"
	bench_set
	echo
	echo "== $NSMALL files of $SMALL_KB KiB"
	printf '%-44s %8s %11s %9s\n' method seconds min-max "files/s"
	printf '%-44s %8s %11s %9.0f\n' "nfs-cp, one call per file" "$T_NC" "$R_NC" \
	    "$(echo "$NSMALL / $T_NC" | bc -l)"
	printf '%-44s %8s %11s %9.0f\n' "nfs-cp + sync on the server" "$T_NS" "$R_NS" \
	    "$(echo "$NSMALL / $T_NS" | bc -l)"
	printf '%-44s %8s %11s %9.0f\n' "jts-tierctl migrate (COMMIT + read-back)" \
	    "$T_JTS" "$R_JTS" "$(echo "$NSMALL / $T_JTS" | bc -l)"
	echo "files/s jts/nfs-cp: $(echo "$T_NC / $T_JTS" | bc -l | xargs printf '%.2f') (target >= 3)"
	echo "jts-tierctl peak RSS: $(( $(cat "$B/rss") / 1024 )) MiB"
fi
