#!/bin/bash
# provision-lvm.sh - the hot tier's volume group on a loop device: pvcreate
# and vgcreate are real; lvcreate needs device-mapper.  Without it apply
# must stop at lvcreate naming the missing kernel support, and rollback
# must remove the VG and PV it made.  With it, the logical volumes are
# made, formatted, mounted, and all of it rolled back.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_root
need_cmd pvcreate vgcreate lvcreate pvs vgs blkid findmnt jq

W=$(mktemp -d)
rawloop PV "$W/pv.img" 256M
VG=vg_jtstest$$
T_CLEANUP="vgremove -f $VG >/dev/null 2>&1; pvremove -y $PV >/dev/null 2>&1"
R=$W/root
mkdir -p "$R/etc"
printf 'proc\t/proc\tproc\tdefaults\t0\t0\n' > "$R/etc/fstab"
cp "$R/etc/fstab" "$W/fstab.orig"
M=$W/hot.manifest
cat > "$M" <<EOF
[hot]
device = $PV
vg = $VG

[volume lv_postgres]
size = 64M
fs = ext4
mount = /var/lib/postgresql
owner = daemon
mode = 0700

[volume lv_redis]
size = 32M
fs = xfs
mount = /var/lib/redis
EOF
P=(provision -m "$M" --root "$R")

out=$("$CTL" "${P[@]}" plan 2>&1); rc=$?
eq "plan exits 0" "$rc" 0
contains "plan: pvcreate" "$out" "pvcreate $PV"
contains "plan: vgcreate" "$out" "vgcreate $VG $PV"
contains "plan: lvcreate with the size in bytes" "$out" \
    "lvcreate --yes -Wy -n lv_postgres -L 67108864b $VG"
contains "plan: fstab names the LV" "$out" \
    "/dev/$VG/lv_postgres	$R/var/lib/postgresql	ext4	defaults	0	2"

if grep -qw device-mapper /proc/misc; then
	out=$("$CTL" "${P[@]}" apply 2>&1); rc=$?
	eq "apply exits 0" "$rc" 0
	eq "lv_postgres is ext4" "$(blkid -p -o value -s TYPE /dev/$VG/lv_postgres)" ext4
	eq "lv_redis is xfs" "$(blkid -p -o value -s TYPE /dev/$VG/lv_redis)" xfs
	ok "lv_postgres mounted" findmnt "$R/var/lib/postgresql" >/dev/null
	out=$("$CTL" "${P[@]}" verify 2>&1); rc=$?
	eq "verify exits 0" "$rc" 0
else
	out=$("$CTL" "${P[@]}" apply 2>&1); rc=$?
	eq "apply without device-mapper exits 1" "$rc" 1
	contains "apply names the missing kernel support" "$out" \
	    "this kernel has no device-mapper support"
	contains "apply stopped at lvcreate" "$out" "apply stopped at step 3"
	contains "and says how to undo" "$out" "jts-tierctl provision rollback"
	ok "the PV was made" pvs "$PV" >/dev/null 2>&1
	ok "the VG was made" vgs "$VG" >/dev/null 2>&1
	ok "nothing past lvcreate was done" test ! -e "$R/var/lib/postgresql"
	# Journalled before it ran: the PV, the VG, and the lvcreate that
	# failed (whose undo will find nothing).
	eq "journal: the PV, VG and attempted LV steps" \
	    "$(jq -r 'select(.kind == "cmd") | .undo[0]' "$R/var/lib/jts-tier/provision.journal" | tr '\n' ' ')" \
	    "pvremove vgremove lvremove "
	out=$("$CTL" "${P[@]}" verify 2>&1); rc=$?
	eq "verify: missing LVs are critical" "$rc" 2
	contains "verify names the missing LV" "$out" "CRITICAL  hot   logical volume $VG/lv_postgres"
	echo "provision-lvm: no device-mapper: the mkfs, mount and owner steps on logical volumes were not run (tests/provision-lvm-volumes.sh skips)"
fi
out=$("$CTL" "${P[@]}" rollback 2>&1); rc=$?
eq "rollback exits 0" "$rc" 0
grep -qw device-mapper /proc/misc ||
    contains "rollback: the failed lvcreate had nothing to undo" "$out" \
	"[gone]     lvcreate"
vgs "$VG" >/dev/null 2>&1; eq "rollback removed the VG" "$?" 5
pvs "$PV" >/dev/null 2>&1; ok "rollback removed the PV" test $? -ne 0
blkid -p "$PV" >/dev/null 2>&1; eq "the device is blank again" "$?" 2
ok "fstab byte-identical" cmp "$R/etc/fstab" "$W/fstab.orig"
eq "nothing left beneath the root" "$(find "$R" -mindepth 1 | grep -vc "^$R/etc")" 0
finish
