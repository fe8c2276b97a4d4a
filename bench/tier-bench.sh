#!/bin/bash
# tier-bench.sh - jts-tierctl bench against fio (and, for the NAS, nfs-cp
# and nfs-cat) on the same tiers, in the same run: loop-backed hot (ext4)
# and warm (btrfs, compress=zstd) tiers and nfs-ganesha on loopback.
#
#   sudo bench/tier-bench.sh
#
# Each side runs three times, alternating; medians are shown with the
# ratio jts-tierctl / reference (the target is within 15%).
#   hot   4 KiB random reads, O_DIRECT, QD 32, io_uring   fio randread
#   warm  1 MiB sequential writes, then fsync (incompressible data)
#                                                        fio write, end_fsync
#   cold  writes with COMMIT / reads over libnfs         nfs-cp / nfs-cat
#         (fio has no libnfs engine in Debian, and the kernel here has no
#         NFS client for fio to write through)
# Environment: BENCH_SIZE (1G), BENCH_TIME (10), JTS_TIERCTL.
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
CTL=${JTS_TIERCTL:-$SRC/jts-tierctl}
SIZE=${BENCH_SIZE:-1G}
TIME=${BENCH_TIME:-10}

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -x "$CTL" ] || { echo "bench: build first ($CTL missing)" >&2; exit 1; }
for c in fio jq ganesha.nfsd rpcbind nfs-cp nfs-cat bc; do
	command -v "$c" >/dev/null || { echo "bench: needs $c" >&2; exit 1; }
done

B=$(mktemp -d /var/tmp/jts-tier-bench.XXXXXX)
W=$B
. scripts/loopfs.sh
skip() { echo "bench: $*" >&2; exit 1; }
need_cmd() { :; }
cleanup() {
	set +e
	stop_nas 2>/dev/null
	loopfs_cleanup
	rm -rf "$B"
}
trap cleanup EXIT
. tests/lib-nfs.sh

loopfs "$B/hot.img" 4G ext4 "$B/hot"
loopfs "$B/warm.img" 4G btrfs "$B/warm" compress=zstd
loopfs "$B/nas.img" 4G ext4 "$B/export"
start_nas "$B/export"
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
[tier cold]
kind = nfs
url = $NAS_URL
CONF
bytes=$(numfmt --from=iec "$SIZE")

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

J_IOPS=() J_WR=() J_NW=() J_NR=() J_MIG=()
F_IOPS=() F_WR=() C_NW=() C_NR=() C_CP=()
for run in 1 2 3; do
	# jts-tierctl bench
	drop
	"$CTL" -c "$B/conf" bench --json --size "$SIZE" --time "$TIME" \
	    > "$B/j.json" || true
	J_IOPS+=("$(jq '.results[] | select(.test == "randread_iops") | .value' "$B/j.json")")
	J_WR+=("$(jq '.results[] | select(.test == "seqwrite_mbps") | .value' "$B/j.json")")
	J_NW+=("$(jq '.results[] | select(.test == "nfs_write_mbps") | .value' "$B/j.json")")
	J_NR+=("$(jq '.results[] | select(.test == "nfs_read_mbps") | .value' "$B/j.json")")
	J_MIG+=("$(jq '[.results[] | select(.tier == "hot" and .test == "migrate_seconds") | .value][0]' "$B/j.json")")

	# fio: the same reads and writes on the same file systems
	drop
	# Submitting and reaping in batches, with registered buffers and
	# no per-I/O clock, as jts-tierctl does: fio's defaults (one
	# submit per I/O, latency stats) cost it a third of the IOPS here.
	fio --name=randread --directory="$B/hot" --size="$SIZE" --rw=randread \
	    --bs=4k --direct=1 --ioengine=io_uring --iodepth=32 \
	    --fixedbufs=1 --registerfiles=1 --gtod_reduce=1 \
	    --iodepth_batch_submit=8 --iodepth_batch_complete_max=32 \
	    --runtime="$TIME" --time_based --output-format=json \
	    > "$B/f1.json"
	F_IOPS+=("$(jq '.jobs[0].read.iops' "$B/f1.json")")
	rm -f "$B"/hot/randread.*
	drop
	t0=$(now)
	fio --name=seqwrite --directory="$B/warm" --size="$SIZE" --rw=write \
	    --bs=1M --ioengine=psync --end_fsync=1 --output-format=json \
	    > "$B/f2.json"
	t1=$(now)
	# fio's own bandwidth leaves out the final fsync: time the job.
	F_WR+=("$(echo "$bytes / 1000000 / ($t1 - $t0)" | bc -l)")
	rm -f "$B"/warm/seqwrite.*

	# the NAS: nfs-cp writes (no COMMIT), nfs-cat reads
	head -c "$bytes" /dev/urandom > "$B/hot/nas-src"
	sync
	t0=$(now)
	nfs-cp "$B/hot/nas-src" "${NAS_URL/\?//nas-ref?}" >/dev/null
	t1=$(now)
	C_NW+=("$(echo "$bytes / 1000000 / ($t1 - $t0)" | bc -l)")
	t0=$(now)
	nfs-cat "${NAS_URL/\?//nas-ref?}" > /dev/null
	t1=$(now)
	C_NR+=("$(echo "$bytes / 1000000 / ($t1 - $t0)" | bc -l)")
	rm -f "$B/export/nas-ref"
	# cp + sync: the same hot -> warm hop without verification
	drop
	t0=$(now)
	cp "$B/hot/nas-src" "$B/warm/cp-ref"
	sync -f "$B/warm/cp-ref"
	t1=$(now)
	C_CP+=("$(echo "$t1 - $t0" | bc -l)")
	rm -f "$B/hot/nas-src" "$B/warm/cp-ref"
done

# row LABEL FORMAT "OURS..." "THEIRS...": medians and their ratio.
row() {
	local j=$3 r=$4 mj mr
	mj=$(median $j)
	mr=$(median $r)
	printf '%-44s %12s %12s %7s\n' "$1" "$(printf "$2" "$mj")" \
	    "$(printf "$2" "$mr")" "$(ratio "$mj" "$mr")"
}
echo "tier-bench: size $SIZE, random reads for $TIME s; medians of 3 runs"
printf '%-44s %12s %12s %7s\n' measure jts-tierctl reference ratio
row "hot: 4 KiB random reads, IOPS (fio)" %.0f "${J_IOPS[*]}" "${F_IOPS[*]}"
row "warm: sequential write + fsync, MB/s (fio)" %.0f "${J_WR[*]}" "${F_WR[*]}"
row "cold: write, MB/s (nfs-cp, no COMMIT)" %.0f "${J_NW[*]}" "${C_NW[*]}"
row "cold: read, MB/s (nfs-cat)" %.0f "${J_NR[*]}" "${C_NR[*]}"
row "hot -> warm, s (cp + sync, no verify)" %.2f "${J_MIG[*]}" "${C_CP[*]}"
