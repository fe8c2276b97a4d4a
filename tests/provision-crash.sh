#!/bin/bash
# provision-crash.sh - apply killed (SIGKILL) after each step is journalled
# and before it is done, and after it is done: then rollback (every other
# time after finishing with a second apply) leaves the device blank, fstab
# byte-identical and nothing made beneath the root.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
need_root
need_cmd mkfs.btrfs findmnt blkid btrfs
W=$(mktemp -d)
chmod 0755 "$W"
rawloop WARM "$W/warm.img" 256M
R=$W/root
mkdir -p "$R/etc"
printf '# fstab\nproc\t/proc\tproc\tdefaults\t0\t0\n' > "$R/etc/fstab"
cp "$R/etc/fstab" "$W/fstab.orig"
Q=/sys/block/${WARM#/dev/}/queue
RA0=$(cat "$Q/read_ahead_kb")
cat > "$W/m" <<EOF
[warm]
device = $WARM
mount = /data/warm-storage
compression = zstd:1
mode = 0755
read_ahead_kb = $((RA0 == 512 ? 256 : 512))
[subvolume pg]
owner = nobody
mode = 0750
EOF
P=(provision -m "$W/m" --root "$R")
nsteps=$("$CTL" "${P[@]}" plan | sed -n 's/^\([0-9]*\) steps:.*/\1/p')
ok "the plan has steps" [ "${nsteps:-0}" -ge 8 ]

pristine() {
	eq "$1: fstab byte-identical" "$(cmp "$R/etc/fstab" "$W/fstab.orig" && echo same)" same
	blkid -p "$WARM" >/dev/null 2>&1
	eq "$1: device blank" "$?" 2
	eq "$1: nothing mounted" "$(findmnt -rn -o TARGET | grep -c "^$R/")" 0
	eq "$1: nothing left beneath the root" \
	    "$(find "$R" -mindepth 1 | grep -v "^$R/etc" | wc -l)" 0
	eq "$1: read-ahead restored" "$(cat "$Q/read_ahead_kb")" "$RA0"
}

i=0
for point in provision-journaled provision-done; do
	for n in $(seq 1 "$nsteps"); do
		i=$((i + 1))
		JTS_TIER_FAULT=$point:$n "$CTL" "${P[@]}" apply >"$W/a.out" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ]; then	# fewer steps to do than n
			echo "$point:$n: apply finished"
			"$CTL" "${P[@]}" rollback >/dev/null 2>&1
			break
		fi
		eq "$point:$n: killed" "$rc" 137
		if [ $((i % 2)) = 0 ]; then
			out=$("$CTL" "${P[@]}" apply 2>&1); rc=$?
			eq "$point:$n: apply after the kill finishes" "$rc" 0
			out=$("$CTL" "${P[@]}" verify 2>&1); rc=$?
			eq "$point:$n: and verifies" "$rc" 0
		fi
		out=$("$CTL" "${P[@]}" rollback 2>&1); rc=$?
		eq "$point:$n: rollback exits 0" "$rc" 0
		[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/    /'
		pristine "$point:$n"
	done
done
echo "provision-crash: $i kills"
ok "every step was killed at both points" [ "$i" -ge $((2 * nsteps - 1)) ]
finish
