#!/bin/bash
# stub-kernel.sh - what the kernel does with fanotify pre-content events,
# on each local file system a tier may use (ext4, xfs, btrfs on loops):
# the facts the design of stubs rests on, so a kernel that behaves
# otherwise is noticed.  Judged from outside (xxh128sum, od, exit codes).
#
#   1. A read of a marked sparse file blocks until the watcher writes the
#      content through the event's descriptor and allows it; the reader
#      gets the content.  Every read() raises an event while the mark
#      stays (two readers of 3 MB: about 96 here): the watcher must join
#      concurrent readers into one recall and drop the mark once filled.
#   2. FAN_DENY with EIO: the reader fails with EIO, never reads holes.
#   3. The watcher dies after reading the event, unanswered: the reader
#      is let through and reads the holes (zeros).  So the process that
#      reads events must never die with events in hand.
#   4. The watcher exits without reading while another process keeps the
#      group: the reader stays blocked until that process answers.  So a
#      group kept (a holder, systemd's fd store) keeps unread events.
#   5. A descriptor opened before any pre-content watch existed on the
#      file system never raises an event: it reads the holes.  So stubs
#      must be watched before anyone may open them.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_root
need_cmd losetup mkfs.ext4 mkfs.xfs mkfs.btrfs xxh128sum od timeout
PC=${JTS_PRECONTENT:-$(dirname "$CTL")/tests/precontent}
[ -x "$PC" ] || skip "tests/precontent is not built"
W=$(mktemp -d /tmp/jts-test.XXXXXX)

# wait_ready FILE: until the watcher writing to FILE says ready.
wait_ready() {
	for _ in $(seq 1 300); do
		grep -q ready "$1" 2>/dev/null && return 0
		sleep 0.01
	done
	return 1
}

for fs in ext4 xfs btrfs; do
	loopfs "$W/$fs.img" 400M $fs "$W/$fs"
	d=$W/$fs
	head -c 3000000 /dev/urandom > "$W/src"
	want=$(xxh128sum < "$W/src" | cut -d' ' -f1)

	# 1. Filled on demand.
	truncate -s 3000000 "$d/stub"
	"$PC" fill "$d/stub" "$W/src" > "$W/w1" 2>&1 &
	wp=$!
	if ! wait_ready "$W/w1"; then
		kill $wp 2>/dev/null
		if grep -q "mark" "$W/w1"; then
			echo "# $fs: no pre-content marks: $(cat "$W/w1")"
			continue
		fi
		skip "no pre-content events here: $(cat "$W/w1")"
	fi
	eq "$fs: a read of the stub gets the content written by the watcher" \
	    "$(timeout 10 xxh128sum < "$d/stub" | cut -d' ' -f1)" "$want"
	kill $wp; wait $wp 2>/dev/null

	# Two readers of one stub at once.
	rm -f "$d/stub"; truncate -s 3000000 "$d/stub"
	"$PC" fill "$d/stub" "$W/src" > "$W/w1b" 2>&1 &
	wp=$!
	wait_ready "$W/w1b"
	timeout 10 xxh128sum < "$d/stub" > "$W/r1" &
	r1=$!
	timeout 10 xxh128sum < "$d/stub" > "$W/r2"
	wait $r1
	eq "$fs: two readers: both get the content" \
	    "$(cut -d' ' -f1 "$W/r1") $(cut -d' ' -f1 "$W/r2")" "$want $want"
	n=$(grep -c '^event' "$W/w1b")
	echo "# $fs: two readers of one stub raised $n event(s)"
	ok "$fs: two readers: each read raised an event ($n)" [ "$n" -ge 2 ]
	kill $wp; wait $wp 2>/dev/null

	# 2. Denied with EIO.
	rm -f "$d/stub"; truncate -s 3000000 "$d/stub"
	"$PC" deny "$d/stub" > "$W/w2" 2>&1 &
	wp=$!
	wait_ready "$W/w2"
	out=$(timeout 10 cat "$d/stub" 2>&1 >/dev/null); rc=$?
	eq "$fs: denied: the reader fails" "$rc" 1
	contains "$fs: denied: with EIO" "$out" "Input/output error"
	kill $wp; wait $wp 2>/dev/null

	# 3. The watcher dies with the event in hand: the reader reads holes.
	rm -f "$d/stub"; truncate -s 3000000 "$d/stub"
	"$PC" readdie "$d/stub" > "$W/w3" 2>&1 &
	wp=$!
	wait_ready "$W/w3"
	got=$(timeout 10 od -An -tx1 -N4 "$d/stub" | tr -d ' '); rc=$?
	wait $wp
	eq "$fs: watcher died with the event: the reader is let through" "$rc" 0
	eq "$fs: watcher died with the event: it reads zeros (the hazard)" \
	    "$got" 00000000

	# 4. The group kept by another process: the reader waits for it.
	rm -f "$d/stub"; truncate -s 3000000 "$d/stub"
	"$PC" hold "$d/stub" 1500 > "$W/w4" 2>&1
	t0=$(date +%s%N)
	out=$(timeout 10 cat "$d/stub" 2>&1 >/dev/null); rc=$?
	t1=$(date +%s%N)
	echo "# $fs: with the group kept, the reader waited $(( (t1 - t0) / 1000000 )) ms"
	eq "$fs: group kept: the reader is answered by the holder (EIO)" "$rc" 1
	contains "$fs: group kept: EIO, not holes" "$out" "Input/output error"
	ok "$fs: group kept: the reader waited for the holder ($(( (t1 - t0) / 1000000 )) ms)" \
	    [ $(( (t1 - t0) / 1000000 )) -ge 1000 ]

	# 5. Opened before the watch: no event, holes.
	rm -f "$d/stub"; truncate -s 3000000 "$d/stub"
	"$PC" openfirst "$d/stub" 1000 > "$W/r5" 2>&1 &
	op=$!
	for _ in $(seq 1 300); do grep -q opened "$W/r5" && break; sleep 0.01; done
	"$PC" fill "$d/stub" "$W/src" > "$W/w5" 2>&1 &
	wp=$!
	wait $op
	eq "$fs: opened before the watch: reads zeros (the hazard)" \
	    "$(tail -1 "$W/r5")" 00000000
	eq "$fs: opened before the watch: no event" \
	    "$(grep -c '^event' "$W/w5")" 0
	kill $wp; wait $wp 2>/dev/null
done
finish
