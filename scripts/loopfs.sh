# scripts/loopfs.sh - file systems on loop devices, for the demo and the
# benchmark (sourced).  Loops use direct I/O so the host's page cache does
# not stand in for the disk.  loopfs_cleanup undoes everything made, last
# made first; call it from an EXIT trap.

LOOPFS_LOOPS=""
LOOPFS_MOUNTS=""

# loopfs IMAGE SIZE ext4|btrfs|xfs MOUNTPOINT [MOUNT-OPTIONS]
loopfs() {
	local l
	truncate -s "$2" "$1"
	case "$3" in
	btrfs)	mkfs.btrfs -q -f "$1" >/dev/null ;;
	xfs)	mkfs.xfs -q -f "$1" ;;
	*)	mkfs.ext4 -q -F "$1" ;;
	esac
	l=$(losetup -f --show --direct-io=on "$1")
	LOOPFS_LOOPS="$l $LOOPFS_LOOPS"
	mkdir -p "$4"
	mount ${5:+-o "$5"} "$l" "$4"
	LOOPFS_MOUNTS="$4 $LOOPFS_MOUNTS"
}

loopfs_cleanup() {
	local m l
	for m in $LOOPFS_MOUNTS; do umount "$m" 2>/dev/null || umount -l "$m"; done
	for l in $LOOPFS_LOOPS; do losetup -d "$l" 2>/dev/null; done
	LOOPFS_MOUNTS=""
	LOOPFS_LOOPS=""
}
