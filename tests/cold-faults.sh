#!/bin/bash
# cold-faults.sh - the NAS misbehaves for real: unreachable at start,
# stopped (SIGSTOP) mid-transfer, killed mid-transfer and between WRITE and
# COMMIT, restarted; its export file system fills up during a copy; and
# jts-tierctl itself is killed at every step of a move to and from the
# NAS.  Each time: the source is intact, the CLI returns, temporaries are
# cleaned when the NAS is back, and the next run finishes the work.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_cmd timeout
setup_tiers 1G 1G
mkdir -p "$W/img"
# The export: a small file system of its own, so it can be filled.
loopfs "$W/img/nas.img" 256M ext4 "$W/export"
NAS_TIMEOUT=5
start_nas "$W/export"
add_cold
H=$W/hot/data
mkdir -p "$H"

# no_temps: no temporary left on the export or on hot.
no_temps() {
	[ "$(find "$NAS_DIR" "$W/hot" -name '.jts-tier*' | wc -l)" -eq 0 ]
}
tier_of() { cat_tier "data/$1"; }

# 1. Unreachable at start: a clear error naming the URL, nothing changed.
head -c 1M /dev/urandom > "$H/a"
id_a=$(fileid "$H/a")
cp "$CONF" "$W/conf.good"
sed -i "s|^url = .*|url = nfs://127.0.0.1/nowhere?nfsport=9\&mountport=9|" "$CONF"
out=$(timeout 120 "$CTL" migrate --to cold "$H/a" 2>&1); rc=$?
failed_in_time "unreachable NAS: exit non-zero (and no hang)" "$rc"
contains "names the URL" "$out" "nfs://127.0.0.1/nowhere"
contains "and the cause" "$out" "refused"
contains "and what to look at" "$out" "check that the NAS is up"
eq "source untouched" "$(fileid "$H/a")" "$id_a"
eq "nothing journaled" "$(sqlite3 "$CAT" "select count(*) from journal")" 0
cp "$W/conf.good" "$CONF"

# 2. The server stops answering (SIGSTOP) mid-transfer: abort within the
# timeout, source intact; the temporary is removed once it answers again.
head -c 150M /dev/urandom > "$H/big"
id_big=$(fileid "$H/big")
JTS_TIER_PAUSE=copy:2000 timeout 120 "$CTL" migrate --to cold "$H/big" > "$W/out" 2>&1 &
cli=$!
sleep 1
kill -STOP "$NAS_PID"
wait "$cli"; rc=$?
out=$(cat "$W/out")
failed_in_time "stopped NAS: exit non-zero within the timeout (no hang)" "$rc"
contains "says the server did not answer" "$out" "did not answer for 5 s"
eq "source intact" "$(fileid "$H/big")" "$id_big"
regular "source still a regular file" "$H/big"
eq "the move stays open for recovery" "$(open_rows)" 1
kill -CONT "$NAS_PID"
out=$("$CTL" recover 2>&1); rc=$?
eq "recover exits 0 once the NAS answers" "$rc" 0
ok "temporary removed by recovery" no_temps
eq "no move left open" "$(open_rows)" 0
out=$("$CTL" migrate --to cold "$H/big" 2>&1); rc=$?
eq "the next run finishes the work" "$rc" 0
eq "copy on the NAS is the source" "$(fileid "$NAS_DIR/data/big")" "$id_big"
eq "catalog: on cold" "$(tier_of big)" cold
"$CTL" recall "$H/big" >/dev/null 2>&1

# 3. The server dies mid-transfer and comes back.
JTS_TIER_PAUSE=copy:2000 timeout 120 "$CTL" migrate --to cold "$H/big" > "$W/out" 2>&1 &
cli=$!
sleep 1
nas_kill
wait "$cli"; rc=$?
failed_in_time "killed NAS: exit non-zero, no hang" "$rc"
contains "says the connection was lost" "$(cat "$W/out")" "big"
eq "source intact" "$(fileid "$H/big")" "$id_big"
ok "NAS restarted" nas_up
out=$("$CTL" migrate --to cold "$H/big" 2>&1); rc=$?
eq "next run recovers and moves" "$rc" 0
ok "no temporaries" no_temps
eq "copy on the NAS is the source" "$(fileid "$NAS_DIR/data/big")" "$id_big"
"$CTL" recall "$H/big" >/dev/null 2>&1

# 4. Killed and restarted between the WRITEs and the COMMIT: the unstable
# data is never taken for durable.
JTS_TIER_PAUSE=commit:3000 timeout 120 "$CTL" migrate --to cold "$H/big" > "$W/out" 2>&1 &
cli=$!
sleep 1.5
nas_kill
nas_up
wait "$cli"; rc=$?
failed_in_time "restart before COMMIT: exit non-zero" "$rc"
eq "source intact" "$(fileid "$H/big")" "$id_big"
eq "catalog: not on cold" "$(tier_of big)" hot
out=$("$CTL" migrate --to cold "$H/big" 2>&1); rc=$?
eq "next run moves it" "$rc" 0
eq "copy on the NAS is the source" "$(fileid "$NAS_DIR/data/big")" "$id_big"
"$CTL" recall "$H/big" >/dev/null 2>&1
ok "no temporaries" no_temps

# 5. The export fills up during the copy (ENOSPC at WRITE or COMMIT).
rm -f "$H/big"
head -c 300M /dev/urandom > "$H/huge"
out=$("$CTL" migrate --to cold "$H/huge" 2>&1); rc=$?
ok "too big for the export: refused" [ "$rc" -ne 0 ]
contains "not enough space" "$out" "not enough space on tier cold"
regular "huge untouched" "$H/huge"
rm -f "$H/huge"
head -c 40M /dev/urandom > "$H/mid"
id_mid=$(fileid "$H/mid")
JTS_TIER_PAUSE=copy:3000 "$CTL" migrate --to cold "$H/mid" > "$W/out" 2>&1 &
cli=$!
sleep 1
dd if=/dev/zero of="$NAS_DIR/filler" bs=1M 2>/dev/null
sync
wait "$cli"; rc=$?
ok "export filled: exit non-zero" [ "$rc" -ne 0 ]
contains "says the export is full" "$(cat "$W/out")" "No space left on device"
eq "source intact" "$(fileid "$H/mid")" "$id_mid"
regular "source still a regular file" "$H/mid"
ok "temporary removed" no_temps
eq "no move left open" "$(open_rows)" 0
rm -f "$NAS_DIR/filler"
out=$("$CTL" migrate --to cold "$H/mid" 2>&1); rc=$?
eq "with room again, the move works" "$rc" 0
eq "copy on the NAS" "$(fileid "$NAS_DIR/data/mid")" "$id_mid"
"$CTL" recall "$H/mid" >/dev/null 2>&1

# A COMMIT error on a batch (injected EIO): every copy of the batch is
# dropped, never retried, every source kept.
mkdir -p "$H/batch"
for i in 1 2 3 4 5 6; do head -c 200000 /dev/urandom > "$H/batch/b$i"; done
before=$(manifest "$H/batch")
out=$(JTS_TIER_FAIL=fsync:5 "$CTL" migrate --to cold "$H/batch" 2>&1); rc=$?
ok "batch COMMIT error: exit non-zero" [ "$rc" -ne 0 ]
contains "names a file and COMMIT" "$out" "b1: COMMIT on tier cold failed: Input/output error"
eq "every source intact" "$(manifest "$H/batch")" "$before"
ok "no copy left on the NAS" [ "$(find "$NAS_DIR/data/batch" -type f 2>/dev/null | wc -l)" -eq 0 ]
ok "no temporaries" no_temps
out=$("$CTL" migrate --to cold "$H/batch" 2>&1); rc=$?
eq "next run moves the batch" "$rc" 0
eq "all on the NAS, identical" "$(manifest "$NAS_DIR/data/batch")" "$before"

# A byte changed after it was hashed, before it was sent (the many-at-once
# path of small files): the read-back catches it, nothing is replaced.
mkdir -p "$H/rot"
for i in 1 2 3 4; do head -c 100000 /dev/urandom > "$H/rot/r$i"; done
before=$(manifest "$H/rot")
out=$(JTS_TIER_FAIL=corrupt:1:2 "$CTL" migrate --to cold "$H/rot" 2>&1); rc=$?
ok "corrupted in flight: exit non-zero" [ "$rc" -ne 0 ]
contains "the read-back names the mismatch" "$out" "verification failed on tier cold"
# Which one was corrupted depends on the order the server answered.
left=$(cd "$H/rot" && find . -type f | sed 's|^\./||')
eq "one file stays (the corrupted one)" "$(printf '%s\n' "$left" | grep -c .)" 1
eq "it is intact" "$(manifest "$H/rot")" \
    "$(printf '%s\n' "$before" | grep "^./$left|")"
ok "no temporaries" no_temps
eq "the other three moved, intact" "$(manifest "$NAS_DIR/data/rot")" \
    "$(printf '%s\n' "$before" | grep -v "^./$left|")"

# A large file is read ahead of its WRITEs by a thread: a read error in
# the middle of the stream, and a chunk changed after it was hashed, fail
# that file alone, its source kept and nothing left on the NAS.
mkdir -p "$H/big"
head -c $((24 << 20)) /dev/urandom > "$H/big/rd"
id_rd=$(fileid "$H/big/rd")
out=$(JTS_TIER_FAIL=read:5:7 "$CTL" migrate --to cold "$H/big/rd" 2>&1); rc=$?
ok "source read error mid-stream: exit non-zero" [ "$rc" -ne 0 ]
contains "names the file and the cause" "$out" "rd: "
contains "the cause" "$out" "Input/output error"
eq "source intact" "$(fileid "$H/big/rd")" "$id_rd"
ok "nothing of it on the NAS" [ ! -e "$NAS_DIR/data/big/rd" ]
ok "no temporaries" no_temps
out=$(JTS_TIER_FAIL=corrupt:1:9 "$CTL" migrate --to cold "$H/big/rd" 2>&1); rc=$?
ok "a chunk changed after hashing: exit non-zero" [ "$rc" -ne 0 ]
contains "the read-back names the mismatch" "$out" "verification failed on tier cold"
eq "source intact" "$(fileid "$H/big/rd")" "$id_rd"
ok "no temporaries" no_temps
# Data, a hole longer than the read-ahead, data, and a hole at the end.
truncate -s $((48 << 20)) "$H/big/holes"
head -c $((3 << 20)) /dev/urandom | dd of="$H/big/holes" conv=notrunc 2>/dev/null
head -c $((5 << 20)) /dev/urandom | dd of="$H/big/holes" bs=1M seek=30 \
    conv=notrunc 2>/dev/null
id_holes=$(fileid "$H/big/holes")
out=$("$CTL" migrate --to cold "$H/big" 2>&1); rc=$?
eq "large files move" "$rc" 0
eq "with holes: identical on the NAS" "$(fileid "$NAS_DIR/data/big/holes")" "$id_holes"
eq "and the other" "$(fileid "$NAS_DIR/data/big/rd")" "$id_rd"
ok "holes kept" [ "$(du -k "$NAS_DIR/data/big/holes" | cut -f1)" -lt $((12 << 10)) ]

# Files many times larger than the read-ahead: a chunk changed after
# hashing, in the middle, is caught; a file ending in a hole (its size
# set after the WRITEs) and one ending in data both arrive whole.
mkdir -p "$H/ov"
head -c $((48 << 20)) /dev/urandom > "$H/ov/data"
truncate -s $((24 << 20)) "$H/ov/tailhole"
head -c $((14 << 20)) /dev/urandom | dd of="$H/ov/tailhole" conv=notrunc 2>/dev/null
id_ov=$(fileid "$H/ov/data")
id_th=$(fileid "$H/ov/tailhole")
out=$(JTS_TIER_FAIL=corrupt:1:30 "$CTL" migrate --to cold "$H/ov/data" 2>&1); rc=$?
ok "48 MiB, a chunk changed: exit non-zero" [ "$rc" -ne 0 ]
contains "the read-back names the mismatch" "$out" "verification failed on tier cold"
eq "source intact" "$(fileid "$H/ov/data")" "$id_ov"
ok "nothing of it on the NAS" [ ! -e "$NAS_DIR/data/ov/data" ]
ok "no temporaries" no_temps
out=$("$CTL" migrate --to cold "$H/ov" 2>&1); rc=$?
eq "48 and 24 MiB: moved" "$rc" 0
eq "ending in data: identical on the NAS" "$(fileid "$NAS_DIR/data/ov/data")" "$id_ov"
eq "ending in a hole: identical on the NAS" "$(fileid "$NAS_DIR/data/ov/tailhole")" "$id_th"

# jts-tierctl killed during a batch of small files to the NAS.
for point in copy verify rename committed; do
	mkdir -p "$H/kb-$point"
	for i in 1 2 3 4 5; do head -c 50000 /dev/urandom > "$H/kb-$point/f$i"; done
	(cd "$H/kb-$point" && xxh128sum f? 2>/dev/null) > "$W/kb.sum"
	JTS_TIER_FAULT=$point "$CTL" migrate --to cold "$H/kb-$point" >/dev/null 2>&1
	"$CTL" recover >/dev/null 2>&1
	bad=0
	for i in 1 2 3 4 5; do
		f=kb-$point/f$i
		want=$(grep " f$i\$" "$W/kb.sum" | cut -d' ' -f1)
		if [ "$(tier_of "$f")" = cold ]; then
			got=$(xxh128sum < "$NAS_DIR/data/$f" | cut -d' ' -f1)
			[ -f "$H/$f" ] && [ ! -L "$H/$f" ] && bad=$((bad + 1))
		else
			got=$(xxh128sum < "$H/$f" | cut -d' ' -f1)
			[ -e "$NAS_DIR/data/$f" ] && bad=$((bad + 1))
		fi
		[ "$got" = "$want" ] || bad=$((bad + 1))
	done
	eq "batch killed at $point: each file whole in one place" "$bad" 0
	ok "batch killed at $point: no temporaries" no_temps
	eq "batch killed at $point: journal closed" "$(open_rows)" 0
done

# 6. jts-tierctl is killed at every step, to the NAS and back: after
# recovery exactly one complete copy is where the catalog says.
for op in migrate recall; do
	for point in journaled copy verify verified rename renamed committed release released; do
		f=k-$op-$point
		if [ "$op" = migrate ]; then
			head -c 300000 /dev/urandom > "$H/$f"
		else
			head -c 300000 /dev/urandom > "$H/$f"
			"$CTL" migrate --to cold "$H/$f" >/dev/null 2>&1
		fi
		want=$(xxh128sum < "$H/$f" 2>/dev/null | cut -d' ' -f1)
		[ "$op" = recall ] && want=$(xxh128sum < "$NAS_DIR/data/$f" | cut -d' ' -f1)
		if [ "$op" = migrate ]; then
			JTS_TIER_FAULT=$point "$CTL" migrate --to cold "$H/$f" >/dev/null 2>&1
		else
			JTS_TIER_FAULT=$point "$CTL" recall "$H/$f" >/dev/null 2>&1
		fi
		"$CTL" recover >/dev/null 2>&1
		t=$(tier_of "$f")
		if [ "$t" = cold ]; then
			got=$(xxh128sum < "$NAS_DIR/data/$f" | cut -d' ' -f1)
			no_data "$op killed at $point: home holds no data" "$H/$f"
		else
			got=$(xxh128sum < "$H/$f" | cut -d' ' -f1)
			regular "$op killed at $point: a regular file at home" "$H/$f"
			ok "$op killed at $point: none on the NAS" [ ! -e "$NAS_DIR/data/$f" ]
		fi
		eq "$op killed at $point: the one copy is whole ($t)" "$got" "$want"
		ok "$op killed at $point: no temporaries" no_temps
		eq "$op killed at $point: journal closed" "$(open_rows)" 0
	done
done
finish
