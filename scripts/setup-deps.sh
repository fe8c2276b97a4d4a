#!/bin/sh
# Install every Debian package that building, testing and benchmarking
# jts-tier needs.  Idempotent: packages already present are left alone.
set -eu

PKGS="
build-essential autoconf automake libtool pkg-config
liburing-dev libbtrfsutil-dev libnfs-dev libxxhash-dev libsqlite3-dev
libev-dev libinih-dev libblkid-dev libjson-c-dev libsystemd-dev
libcurl4-openssl-dev libexpat1-dev libssl-dev
libacl1-dev libattr1-dev
sqlite3 xxhash acl attr btrfs-progs xfsprogs e2fsprogs util-linux
libnfs-utils nfs-ganesha nfs-ganesha-vfs rpcbind
postgresql-15
fio rsync mandoc lvm2 procps psmisc time bc fdisk jq clang
ceph-mon ceph-mgr ceph-osd ceph-common radosgw s3cmd uuid-runtime curl
"

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-deps: must run as root to install packages" >&2
	exit 1
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "setup-deps: all packages present"
	exit 0
fi

echo "setup-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
