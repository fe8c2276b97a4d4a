#!/bin/bash
# Set up a fresh Debian machine and run jts-tier's main job on an embedded
# default: loop-backed tiers (hot: ext4, warm: btrfs with zstd) and a
# local NAS (nfs-ganesha serving an ext4 loop on loopback, reached with
# libnfs), sample data in the storage plan's layout with a range of ages,
# files older than 30 days migrated hot -> warm and older than 80 days on
# to cold with the verified move, then status, a full check --verify
# (re-reading the NAS copies over NFS) and a recall.  Everything it makes
# is removed at the end.
# Run as root.
set -eu
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (loop devices, mounts)" >&2; exit 1; }
./scripts/setup-deps.sh
if [ ! -x ./jts-tierctl ]; then
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

cat > "$D/jts-tier.conf" <<CONF
[catalog]
path = $D/catalog/catalog.db

[defaults]
reserve = 64M

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
mkdir -p "$H/postgresql/15/main" "$H/postgresql/archive" \
    "$H/clickhouse/store/trades" "$H/kafka/logs/ticks-0" "$H/local-backup"
head -c 64M /dev/urandom > "$H/postgresql/15/main/base.dat"
for d in 1 5 20 40 60 90; do
	f=$H/postgresql/archive/0000000100000000000000$(printf %02d "$d")
	head -c 16M /dev/urandom > "$f"; touch -d "$d days ago" "$f"
done
for d in 2 35 70; do
	f=$H/clickhouse/store/trades/part_$d.bin
	head -c 32M /dev/urandom > "$f"; touch -d "$d days ago" "$f"
done
for d in 3 45; do
	f=$H/kafka/logs/ticks-0/000000000$d.log
	head -c 24M /dev/urandom > "$f"; touch -d "$d days ago" "$f"
done
head -c 200M /dev/urandom > "$H/local-backup/full-2026-09-01.tar"
touch -d "86 days ago" "$H/local-backup/full-2026-09-01.tar"
find "$H" -type f -printf '%TY-%Tm-%Td %10s %P\n' | sort

echo
echo "== migrating everything older than 30 days (live database files stay)"
find "$H" -type f -mtime +30 ! -path "*/15/main/*" -print0 |
    xargs -0 "$CTL" -v migrate --no-progress
echo
echo "== on to the NAS: everything older than 80 days"
find -L "$H" -type f -mtime +80 -print0 |
    xargs -0 -r "$CTL" -v migrate --no-progress
echo
echo "== status"
"$CTL" status
echo
echo "== what is where"
(cd "$H" && find . \( -type f -o -type l \) -printf '%y %P %l\n' | sort |
    sed "s|^f |hot   |; s|^l \(.*\) $D/volume1/.*|cold  \1 (on the NAS)|; s|^l \(.*\) $D/data/.*|warm  \1|")
echo
echo "== check --verify (re-reads every copy, the NAS's over NFS)"
"$CTL" check --verify
echo
echo "== recall one archive segment"
"$CTL" recall "$H/postgresql/archive/000000010000000000000040"
ls -l "$H/postgresql/archive"
echo
echo "demo: done; cleaning up $D"
