#!/bin/bash
# provision-refusals.sh - bad manifests are refused with file:line and the
# reason (exit 2); devices that carry a signature or are mounted, mount
# points that hold data and unknown owners are refused (exit 1) - each
# with nothing changed.
. "${JTS_SRCDIR:-.}/tests/lib.sh"

W=$(mktemp -d)
# bad_manifest DESCRIPTION WANT-MESSAGE: the manifest is on stdin.
bad_manifest() {
	cat > "$W/bad.manifest"
	out=$("$CTL" provision plan -m "$W/bad.manifest" 2>&1); rc=$?
	eq "$1: exit 2" "$rc" 2
	contains "$1: message" "$out" "$W/bad.manifest:$2"
}
bad_manifest "unknown key" "3: unknown key 'sise' in [volume pg]" <<'EOF'
[volume pg]
device = /dev/null
sise = 10G
EOF
bad_manifest "unknown section" "1: unknown section [lukewarm]" <<'EOF'
[lukewarm]
device = /dev/sdz
EOF
bad_manifest "overlapping mount points" "1: mount point /data/warm-storage overlaps /data/warm-storage/pg (line 5)" <<'EOF'
[warm]
device = /dev/sdy
mount = /data/warm-storage

[volume pg]
device = /dev/sdz
fs = ext4
mount = /data/warm-storage/pg
EOF
bad_manifest "same mount point twice" "5: mount point /var/lib/x is also declared at line 1" <<'EOF'
[volume a]
device = /dev/sdy
fs = ext4
mount = /var/lib/x
[volume b]
device = /dev/sdz
fs = xfs
mount = /var/lib/x/
EOF
bad_manifest "a device used twice" "5: device /dev/sdz is also used at line 1" <<'EOF'
[volume a]
device = /dev/sdz
fs = ext4
mount = /a
[warm]
device = /dev/sdz
mount = /b
EOF
bad_manifest "size without a volume group" "1: [volume pg]: size = needs a volume group" <<'EOF'
[volume pg]
size = 10G
fs = ext4
mount = /var/lib/postgresql
EOF
bad_manifest "bad size" "2: bad size '10 gigs'" <<'EOF'
[volume pg]
size = 10 gigs
EOF
bad_manifest "bad mode" "2: bad mode '0999'" <<'EOF'
[warm]
mode = 0999
EOF
bad_manifest "relative mount point" "2: mount point 'data' is not an absolute path" <<'EOF'
[warm]
mount = data
EOF
bad_manifest "a path through .." "2: mount point '/data/../etc' contains '..'" <<'EOF'
[warm]
mount = /data/../etc
EOF
bad_manifest "subvolume escaping" "2: subvolume path '../etc' contains '.' or '..'" <<'EOF'
[subvolume x]
path = ../etc
EOF
bad_manifest "subvolume without warm" "1: [subvolume x] needs a [warm] section" <<'EOF'
[subvolume x]
EOF
bad_manifest "repeated section" "4: [warm] appears again (first at line 1)" <<'EOF'
[warm]
device = /dev/sdz
[cold]
[warm]
EOF
bad_manifest "file system unknown" "2: file system 'zfs' is not ext4, xfs or btrfs" <<'EOF'
[volume pg]
fs = zfs
EOF
bad_manifest "xfs label too long" "1: [volume pg]: label 'postgres-data' is longer than xfs allows (12 characters)" <<'EOF'
[volume pg]
device = /dev/sdz
fs = xfs
label = postgres-data
mount = /pg
EOF
bad_manifest "bad NAS url" "2: url 'smb://nas/jts' is not nfs://server/export[/path]" <<'EOF'
[cold]
url = smb://nas/jts
EOF
bad_manifest "not key = value" "2: syntax error" <<'EOF'
[warm]
this is not a key
EOF
bad_manifest "empty manifest" "1: nothing to provision" < /dev/null
out=$("$CTL" provision plan -m "$W/none.manifest" 2>&1); rc=$?
eq "missing manifest: exit 2" "$rc" 2
contains "missing manifest named" "$out" "$W/none.manifest: cannot open: No such file or directory"
out=$("$CTL" provision frob -m "$W/bad.manifest" 2>&1); rc=$?
eq "unknown action: exit 2" "$rc" 2
contains "unknown action named" "$out" "unknown action 'frob'"

need_root
need_cmd mkfs.ext4 sfdisk blkid findmnt
chmod 0755 "$W"
rawloop DEV "$W/dev.img" 128M
rawloop DEV2 "$W/dev2.img" 128M
R=$W/root
mkdir -p "$R/etc"
printf '# fstab\n' > "$R/etc/fstab"
cp "$R/etc/fstab" "$W/fstab.orig"
manifest() {
	cat > "$W/m.manifest" <<EOF
[volume pg]
device = $DEV
fs = ext4
mount = /var/lib/postgresql
owner = ${1:-daemon}
EOF
}
# refused DESCRIPTION WANT-MESSAGE: plan shows it, apply refuses it; and
# nothing changes: signature, fstab, the root, the journal.
refused() {
	before=$(blkid -p -o export "$DEV" 2>/dev/null)
	out=$("$CTL" provision plan -m "$W/m.manifest" --root "$R" 2>&1); rc=$?
	eq "$1: plan exits 1" "$rc" 1
	contains "$1: plan says why" "$out" "$2"
	out=$("$CTL" provision apply -m "$W/m.manifest" --root "$R" 2>&1); rc=$?
	eq "$1: apply exits 1" "$rc" 1
	contains "$1: apply says why" "$out" "$2"
	contains "$1: apply changed nothing" "$out" "nothing was changed"
	eq "$1: device signature unchanged" "$(blkid -p -o export "$DEV" 2>/dev/null)" "$before"
	ok "$1: fstab unchanged" cmp -s "$R/etc/fstab" "$W/fstab.orig"
	ok "$1: no journal" test ! -e "$R/var/lib/jts-tier"
}
manifest
mkfs.ext4 -q -L olddata "$DEV"
refused "a device with a file system" \
    "$DEV carries an ext4 signature (UUID $(blkid -p -o value -s UUID "$DEV"), label olddata): it may hold data; wipe it yourself or use --force"
mkdir -p "$W/mnt"
mount "$DEV" "$W/mnt"
refused "a mounted device" "$DEV is mounted on $W/mnt (ext4): unmount it first"
umount "$W/mnt"
wipefs -a -q "$DEV" >/dev/null 2>&1
echo 'label: dos' | sfdisk -q "$DEV" >/dev/null 2>&1
refused "a partition table" "$DEV carries a dos partition table"
wipefs -a -q "$DEV" >/dev/null 2>&1
pvcreate -q "$DEV" >/dev/null 2>&1 && {
	refused "an LVM physical volume" "$DEV is an LVM physical volume"
	pvremove -q -y "$DEV" >/dev/null 2>&1
}
manifest jtsnosuchuser
refused "an unknown owner" "user jtsnosuchuser does not exist on this host"
manifest
mkdir -p "$R/var/lib/postgresql"
echo keep > "$R/var/lib/postgresql/old-data"
out=$("$CTL" provision apply -m "$W/m.manifest" --root "$R" 2>&1); rc=$?
eq "a mount point holding data: apply exits 1" "$rc" 1
contains "a mount point holding data: named" "$out" \
    "$R/var/lib/postgresql holds 1 entry (old-data): mounting over it would hide them"
blkid -p "$DEV" >/dev/null 2>&1; eq "a mount point holding data: device untouched" "$?" 2
eq "the data is still there" "$(cat "$R/var/lib/postgresql/old-data")" keep
rm -r "$R/var/lib"

# --force writes over a signature; rollback then leaves the device blank.
mkfs.ext4 -q "$DEV"
out=$("$CTL" provision apply --force -m "$W/m.manifest" --root "$R" 2>&1); rc=$?
eq "--force: apply exits 0" "$rc" 0
contains "--force: mkfs told to overwrite" "$out" "mkfs.ext4 -q -F $DEV"
ok "--force: mounted" findmnt "$R/var/lib/postgresql" >/dev/null
out=$("$CTL" provision rollback -m "$W/m.manifest" --root "$R" 2>&1); rc=$?
eq "--force: rollback exits 0" "$rc" 0
ok "--force: fstab restored" cmp "$R/etc/fstab" "$W/fstab.orig"
finish
