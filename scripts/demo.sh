#!/bin/bash
# Set up a fresh Debian machine and run jts-tier's main job on an embedded
# default: loop-backed tiers (hot: ext4, warm: btrfs with zstd) and a
# local NAS (nfs-ganesha serving an ext4 loop on loopback, reached with
# libnfs), sample data in the storage plan's layout with a range of ages,
# and jts-tierd with the shipped example policies: it scans the tiers and
# moves WAL archives, ClickHouse backups, Kafka segments and local backups
# from hot to warm, and what has been on warm for a month on to the NAS,
# with the verified move; then status, what is where, a full check
# --verify (re-reading the NAS copies over NFS), a recall through the
# daemon and the metrics.  Everything it makes is removed at the end.
# Run as root.
set -eu
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (loop devices, mounts)" >&2; exit 1; }
./scripts/setup-deps.sh
if [ ! -x ./jts-tierctl ] || [ ! -x ./jts-tierd ]; then
	autoreconf -fi >/dev/null 2>&1
	./configure -q
	make -j"$(nproc)" >/dev/null
fi
CTL=$(pwd)/jts-tierctl

D=$(mktemp -d /tmp/jts-demo.XXXXXX)
W=$D
. scripts/loopfs.sh
cleanup() {
	set +e
	loopfs_cleanup
	rm -rf "$D"
}
trap cleanup EXIT
# What tests/lib-nfs.sh expects of its caller.
skip() { echo "demo: $*" >&2; exit 1; }
need_cmd() { :; }
. tests/lib-nfs.sh

loopfs "$D/hot.img" 2G ext4 "$D/var/lib"
loopfs "$D/warm.img" 2G btrfs "$D/data/warm-storage" compress=zstd
loopfs "$D/nas.img" 2G ext4 "$D/volume1"
echo "== starting a local NAS (nfs-ganesha, NFSv3 on loopback)"
start_nas "$D/volume1"

mkdir -p "$D/policies" "$D/run"
cp policies/*.policy "$D/policies/"
cat > "$D/jts-tier.conf" <<CONF
[catalog]
path = $D/catalog/catalog.db

[defaults]
reserve = 64M

[daemon]
# The shipped example policies, as they are.
policies = $D/policies
socket = $D/run/ctl.sock

[tier hot]
kind = posix
root = $D/var/lib

[tier warm]
kind = btrfs
root = $D/data/warm-storage

[tier cold]
kind = nfs
url = $NAS_URL
# Where this host would mount the share; here the server's own directory.
mountpoint = $D/volume1
timeout = 30
CONF
export JTS_TIER_CONF=$D/jts-tier.conf

echo "== seeding sample data in the storage plan's layout"
H=$D/var/lib
WS=$D/data/warm-storage
mkdir -p "$H/postgresql/15/main" "$H/postgresql/15/wal_archive" \
    "$H/clickhouse/store/trades" "$H/clickhouse/backups" \
    "$H/kafka/ticks-0" "$H/jts-backup" \
    "$WS/postgresql/15/wal_archive" "$WS/jts-backup"
age() {	# age DAYS FILE SIZE: a file of SIZE random bytes, DAYS old
	head -c "$3" /dev/urandom > "$2"
	touch -d "$1 days ago" "$2"
}
age 0 "$H/postgresql/15/main/base.dat" 64M        # live database: stays
for d in 1 3 9 12 20; do
	age "$d" "$H/postgresql/15/wal_archive/00000001000000000000$(printf %04d "$d")" 16M
done
age 1 "$H/clickhouse/store/trades/part_1.bin" 32M  # live parts: stay
age 2 "$H/clickhouse/backups/daily-2.tar" 32M
age 5 "$H/clickhouse/backups/daily-5.tar" 32M
age 1 "$H/kafka/ticks-0/00000000000000000009.log" 24M
age 10 "$H/kafka/ticks-0/00000000000000000001.log" 24M
age 1 "$H/jts-backup/full-1.tar" 48M
age 4 "$H/jts-backup/full-4.tar" 48M
# Older data that reached warm before: a month and more there.
age 45 "$WS/postgresql/15/wal_archive/000000010000000000000045" 16M
age 60 "$WS/jts-backup/full-60.tar" 96M
age 20 "$WS/jts-backup/full-20.tar" 48M
echo "hot:"
(cd "$H" && find . -type f -printf '  %TY-%Tm-%Td %10s %P\n' | sort -k3)
echo "warm:"
(cd "$WS" && find . -type f -printf '  %TY-%Tm-%Td %10s %P\n' | sort -k3)

echo
echo "== cataloguing the tiers (jts-tierctl scan; the daemon also scans at start)"
"$CTL" scan
echo
echo "== the shipped policies, and what each would move now"
"$CTL" policy list
for p in "$D"/policies/*.policy; do
	p=${p##*/}
	echo "-- ${p%.policy}"
	"$CTL" policy test "${p%.policy}" | sed 's/^/   /'
done

echo
echo "== starting jts-tierd: it scans the tiers, then runs each policy"
JTS_TIER_LOG_STDERR=1 ./jts-tierd -v > "$D/jts-tierd.log" 2>&1 &
DPID=$!
# Stop the daemon first, then the NAS, then what cleanup undoes.
trap 'set +e; kill -TERM $DPID 2>/dev/null; wait $DPID 2>/dev/null; stop_nas; cleanup' EXIT
for _ in $(seq 1200); do
	[ "$(grep -c 'run=schedule moved=' "$D/jts-tierd.log")" -ge 5 ] && break
	kill -0 "$DPID" 2>/dev/null || { cat "$D/jts-tierd.log"; exit 1; }
	sleep 0.1
done
grep -E 'scan tier|policy .* run=schedule (moved|selected)|result=(failed|skipped)' \
    "$D/jts-tierd.log" | sed 's/^jts-tierd: /   /'

echo
echo "== status (with the daemon)"
"$CTL" status
echo
echo "== what is where"
(cd "$H" && find . \( -type f -o -type l \) -printf '%y %P %l\n' | sort -k2 |
    sed "s|^f \([^ ]*\) $|hot   \1|; s|^l \(.*\) $D/volume1/.*|cold  \1 (on the NAS)|; s|^l \(.*\) $D/data/.*|warm  \1|")
(cd "$WS" && find . -type f -printf '%P\n' | sort | while read -r f; do
	[ -L "$H/$f" ] || echo "warm  $f"; done)
(cd "$D/volume1" && find . -type f ! -name '.*' -printf '%P\n' | sort | while read -r f; do
	[ -L "$H/$f" ] || echo "cold  $f (on the NAS)"; done)
echo
echo "== why the live database file stayed"
"$CTL" explain "$H/postgresql/15/main/base.dat"
echo
echo "== check --verify (re-reads every copy, the NAS's over NFS)"
"$CTL" check --verify || true
echo
echo "== recall a WAL segment through the daemon"
"$CTL" recall "$H/postgresql/15/wal_archive/000000010000000000000012"
echo
echo "== metrics (Prometheus text format)"
"$CTL" metrics | grep -v '^#' | head -20
kill -TERM "$DPID"; wait "$DPID"
echo
echo "demo: done; cleaning up $D"
