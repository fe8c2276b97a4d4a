#!/bin/bash
# provision.sh - plan -> apply -> verify -> apply (no change) -> rollback on
# loop devices: an ext4 hot volume on a whole device and the warm btrfs
# disk with subvolumes, compression and fstab blocks, on a copy of fstab.
# Judged with blkid, findmnt, stat, btrfs, cmp and jq.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.btrfs findmnt blkid btrfs jq wipefs
getent passwd daemon >/dev/null && getent passwd nobody >/dev/null ||
    skip "needs the users daemon and nobody"

W=$(mktemp -d)
chmod 0755 "$W"	# the service users must reach their directories
rawloop HOT "$W/hot.img" 256M
rawloop WARM "$W/warm.img" 256M
R=$W/root
mkdir -p "$R"
HOTQ=/sys/block/${HOT#/dev/}/queue
RA0=$(cat "$HOTQ/read_ahead_kb")
RA=$((RA0 == 384 ? 512 : 384))
# An fstab with comments, tabs and no newline at its end.
printf '# /etc/fstab: static file system information.\n#\nproc\t/proc\tproc\tdefaults\t0\t0\n# last line, no newline' > "$W/fstab"
cp "$W/fstab" "$W/fstab.orig"
M=$W/tiers.manifest
cat > "$M" <<EOF
# hot: one ext4 volume on a whole device, tuned
[hot]
device = $HOT
read_ahead_kb = $RA

[volume postgres]
device = $HOT
fs = ext4
label = jts-pg
mount = /var/lib/postgresql
options = noatime
owner = daemon:daemon
mode = 0700

[warm]
device = $WARM
label = jts-warm
mount = /data/warm-storage
compression = zstd:3
autodefrag = yes
options = noatime

[subvolume postgresql]
owner = nobody
mode = 0750

[subvolume clickhouse]
path = clickhouse
EOF
P=(provision -m "$M" --root "$R" --fstab "$W/fstab")

# plan: every step shown, nothing changed.
out=$("$CTL" "${P[@]}" plan 2>&1); rc=$?
eq "plan exits 0" "$rc" 0
contains "plan shows mkfs.ext4 with the label" "$out" "mkfs.ext4 -q -L jts-pg $HOT"
contains "plan shows mkfs.btrfs" "$out" "mkfs.btrfs -q -L jts-warm $WARM"
contains "plan shows the mount with btrfs options" "$out" \
    "mount -t btrfs -o noatime,compress=zstd:3,autodefrag $WARM $R/data/warm-storage"
contains "plan shows the subvolume" "$out" \
    "btrfs subvolume create $R/data/warm-storage/postgresql"
contains "plan shows the fstab block" "$out" '# BEGIN jts-tier warm'
contains "plan counts the steps" "$out" "0 refused"
blkid -p "$HOT" >/dev/null 2>&1; eq "plan: hot device still blank" "$?" 2
blkid -p "$WARM" >/dev/null 2>&1; eq "plan: warm device still blank" "$?" 2
ok "plan: fstab untouched" cmp -s "$W/fstab" "$W/fstab.orig"
eq "plan: nothing made beneath the root" "$(find "$R" -mindepth 1 | wc -l)" 0

# apply: the file systems, mounts, owners, subvolumes, fstab, tuning.
out=$("$CTL" "${P[@]}" apply 2>&1); rc=$?
eq "apply exits 0" "$rc" 0
eq "hot: ext4 made" "$(blkid -p -o value -s TYPE "$HOT")" ext4
eq "hot: labelled" "$(blkid -p -o value -s LABEL "$HOT")" jts-pg
eq "warm: btrfs made" "$(blkid -p -o value -s TYPE "$WARM")" btrfs
eq "hot: mounted" "$(findmnt -n -o SOURCE,FSTYPE "$R/var/lib/postgresql")" \
    "$HOT ext4"
contains "hot: noatime" "$(findmnt -n -o OPTIONS "$R/var/lib/postgresql")" \
    noatime
wopts=$(findmnt -n -o OPTIONS "$R/data/warm-storage")
contains "warm: compress=zstd:3" "$wopts" "compress=zstd:3"
contains "warm: autodefrag" "$wopts" "autodefrag"
eq "hot: owner and mode" "$(stat -c %U:%G:%a "$R/var/lib/postgresql")" \
    "daemon:daemon:700"
for sv in postgresql clickhouse; do
	ok "warm: $sv is a subvolume" \
	    btrfs subvolume show "$R/data/warm-storage/$sv" >/dev/null 2>&1
done
eq "subvolume owner and mode" \
    "$(stat -c %U:%a "$R/data/warm-storage/postgresql")" "nobody:750"
eq "read-ahead set" "$(cat "$HOTQ/read_ahead_kb")" "$RA"
rules=$(cat "$R/etc/udev/rules.d/60-jts-tier.rules" 2>&1)
contains "udev rule keeps the read-ahead" "$rules" \
    "KERNEL==\"${HOT#/dev/}\", ATTR{queue/read_ahead_kb}=\"$RA\""
f=$(cat "$W/fstab")
contains "fstab: original content kept" "$f" "# last line, no newline"
contains "fstab: hot block" "$f" "UUID=$(blkid -p -o value -s UUID "$HOT")	$R/var/lib/postgresql	ext4	noatime	0	2"
contains "fstab: warm block" "$f" "$R/data/warm-storage	btrfs	noatime,compress=zstd:3,autodefrag	0	0"
eq "fstab: blocks begin and end" "$(grep -c '^# \(BEGIN\|END\) jts-tier ' "$W/fstab")" 4
ok "fstab passes findmnt --verify" findmnt --verify --tab-file "$W/fstab" >/dev/null
J=$R/var/lib/jts-tier/provision.journal
nj=$(wc -l < "$J")
ok "journal: one JSON record per line" jq -e . "$J" >/dev/null
eq "journal: every kind known" \
    "$(jq -r .kind "$J" | sort -u | tr '\n' ' ')" \
    "cmd file journal-dir mkdir owner subvol sysfs "

# verify: the seed's checks, all OK.
out=$("$CTL" "${P[@]}" verify 2>&1); rc=$?
eq "verify exits 0" "$rc" 0
contains "verify: service user can write" "$out" \
    "$R/var/lib/postgresql: daemon can write it"
contains "verify: ext4 clean" "$out" "$HOT: ext4 clean"
contains "verify: subvolume" "$out" "$R/data/warm-storage/clickhouse: btrfs subvolume"
contains "verify: summary" "$out" "PROVISION OK"
ok "verify left no probe file" \
    test -z "$(find "$R/var/lib/postgresql" -name '.jts-tier-verify*')"

# verify sees a drift: mode changed, an option missing.
chmod 0755 "$R/var/lib/postgresql"
out=$("$CTL" "${P[@]}" verify 2>&1); rc=$?
eq "verify: changed mode is a warning (exit 1)" "$rc" 1
contains "verify names the directory" "$out" \
    "WARNING   hot   $R/var/lib/postgresql: owner $(id -u daemon):$(id -g daemon) mode 0755"
chmod 0700 "$R/var/lib/postgresql"
umount "$R/data/warm-storage"
out=$("$CTL" "${P[@]}" verify 2>&1); rc=$?
eq "verify: unmounted warm is critical (exit 2)" "$rc" 2
contains "verify names the mount" "$out" "$WARM: not mounted on $R/data/warm-storage"
contains "verify checks the unmounted btrfs" "$out" "$WARM: btrfs clean (read-only check)"

# apply again: it mounts what was unmounted, then nothing more to do.
cp "$W/fstab" "$W/fstab.applied"
out=$("$CTL" "${P[@]}" apply 2>&1); rc=$?
eq "apply after the unmount exits 0" "$rc" 0
contains "apply redid the mount" "$out" "[ok]       warm  mount -t btrfs"
out=$("$CTL" "${P[@]}" apply 2>&1); rc=$?
eq "second apply exits 0" "$rc" 0
contains "second apply changes nothing" "$out" "nothing to do"
ok "second apply: fstab unchanged" cmp -s "$W/fstab" "$W/fstab.applied"
eq "second apply: journal unchanged" "$(wc -l < "$J")" "$nj"

# rollback refuses to delete data written since apply.
echo precious > "$R/data/warm-storage/postgresql/table"
h=$(xxh128sum < "$R/data/warm-storage/postgresql/table")
out=$("$CTL" "${P[@]}" rollback 2>&1); rc=$?
eq "rollback over data exits 1" "$rc" 1
contains "rollback names the subvolume and the data" "$out" \
    "subvolume $R/data/warm-storage/postgresql holds 1 entry (table)"
contains "rollback over data: what to do" "$out" \
    "remove the cause and run 'provision rollback' again"
eq "the data is intact" "$(xxh128sum < "$R/data/warm-storage/postgresql/table")" "$h"
ok "the journal keeps what is left" test -s "$J"
rm "$R/data/warm-storage/postgresql/table"

# rollback: everything undone, fstab byte for byte.
out=$("$CTL" "${P[@]}" rollback 2>&1); rc=$?
eq "rollback exits 0" "$rc" 0
contains "rollback reports" "$out" "rolled back:"
ok "fstab is byte-identical" cmp "$W/fstab" "$W/fstab.orig"
eq "nothing mounted beneath the root" "$(findmnt -rn -o TARGET | grep -c "^$R")" 0
blkid -p "$HOT" >/dev/null 2>&1; eq "hot device blank again" "$?" 2
blkid -p "$WARM" >/dev/null 2>&1; eq "warm device blank again" "$?" 2
eq "read-ahead restored" "$(cat "$HOTQ/read_ahead_kb")" "$RA0"
eq "nothing left beneath the root" "$(find "$R" -mindepth 1 | wc -l)" 0
out=$("$CTL" "${P[@]}" rollback 2>&1); rc=$?
eq "a second rollback is harmless" "$rc" 0
contains "and says so" "$out" "nothing to roll back"
finish
