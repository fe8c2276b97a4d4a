#!/bin/bash
# provision-cold.sh - verify reaches the NAS (nfs-ganesha on loopback) with
# libnfs: it writes, COMMITs and reads back a probe, and leaves nothing on
# the export; a stopped or missing NAS is CRITICAL naming the URL; the NAS
# mount gets an fstab block (plan) built from the URL.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_root
need_cmd timeout
W=$(mktemp -d)
mkdir -p "$W/export/jts"
start_nas "$W/export"
M=$W/cold.manifest
printf '[cold]\nurl = %s\ntimeout = 5\n' "${NAS_URL/\?/\/jts?}" > "$M"

out=$(timeout 120 "$CTL" provision verify -m "$M" --root "$W" 2>&1); rc=$?
eq "verify with the NAS up exits 0" "$rc" 0
contains "NAS reachable" "$out" "OK        cold  nfs://127.0.0.1$W/export/jts?"
contains "NAS writable, read back identical" "$out" \
    "writable (4 MiB written, committed and read back identical"
eq "no probe left on the export" "$(find "$W/export" -mindepth 1 | tr '\n' ' ')" \
    "$W/export/jts "

# The NAS stops answering: CRITICAL, within the timeout.
kill -STOP "$NAS_PID"
t0=$(date +%s)
out=$(timeout 120 "$CTL" provision verify -m "$M" --root "$W" 2>&1); rc=$?
t1=$(date +%s)
kill -CONT "$NAS_PID"
ok "it gave up after the manifest's timeout, not the default" [ $((t1 - t0)) -lt 25 ]
eq "verify with the NAS stopped exits 2" "$rc" 2
contains "it names the URL" "$out" "CRITICAL  cold  nfs://127.0.0.1$W/export/jts"
# A directory the export lacks.
printf '[cold]\nurl = %s\n' "${NAS_URL/\?/\/nowhere?}" > "$M"
out=$(timeout 120 "$CTL" provision verify -m "$M" --root "$W" 2>&1); rc=$?
eq "verify of a missing NAS directory exits 2" "$rc" 2
contains "it names the directory" "$out" "/nowhere"

# A NAS mount: plan shows its mount point, fstab line and mount command.
printf '[cold]\nurl = nfs://nas.example/volume1/jts?version=3\nmount = /mnt/synology/jts\n' > "$M"
printf '# fstab\n' > "$W/fstab"
mkdir "$W/r"
out=$("$CTL" provision plan -m "$M" --root "$W/r" --fstab "$W/fstab" 2>&1); rc=$?
eq "plan with a NAS mount exits 0" "$rc" 0
contains "plan: the mount point" "$out" "mkdir -p $W/r/mnt/synology/jts"
contains "plan: the fstab line from the URL" "$out" \
    "nas.example:/volume1/jts	$W/r/mnt/synology/jts	nfs	nfsvers=3,hard,noatime,_netdev	0	0"
contains "plan: the mount" "$out" \
    "mount -t nfs -o nfsvers=3,hard,noatime,_netdev nas.example:/volume1/jts $W/r/mnt/synology/jts"
finish
