#!/bin/bash
# faults.sh - errors and interference mid-move: ENOSPC and EIO on writes,
# EIO on fsync and on reads (injected with JTS_TIER_FAIL), a reader
# opening the file (lease break) and a utime (ctime change) during the
# copy.  Each aborts cleanly: clear error naming the file, exit 1, source
# intact, no temporary, check OK.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
setup_tiers 2G 2G

H=$W/hot/f
mkdir -p "$H"

# intact NAME FILE HASH: the source is still the same regular file.
intact() {
	regular "$1: source still a regular file" "$2"
	eq "$1: source content" "$(xxh128sum < "$2")" "$3"
	eq "$1: no temporary left" \
	    "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' | wc -l)" 0
	eq "$1: nothing unfinished in the journal" "$(sqlite3 "$CAT" \
	    "select count(*) from journal where state not in ('done','aborted')")" 0
}

head -c 64M /dev/urandom > "$H/large"
hl=$(xxh128sum < "$H/large")
for f in "write:28:ENOSPC:No space left on device" \
    "write:5:EIO:Input/output error" "read:5:EIO read:Input/output error" \
    "fsync:5:EIO on fsync:fsync on tier warm failed"; do
	IFS=: read -r point errno name text <<<"$f"
	out=$(JTS_TIER_FAIL=$point:$errno "$CTL" migrate "$H/large" 2>&1); rc=$?
	eq "$name (large): exit 1" "$rc" 1
	contains "$name (large): cause" "$out" "$text"
	case $errno in
	5)	contains "$name (large): where to look" "$out" \
		    "the kernel log (dmesg) names the device" ;;
	28)	contains "$name (large): what to do" "$out" \
		    "make room on the tier, or choose another with --to" ;;
	esac
	contains "$name (large): names the file" "$out" "$H/large:"
	intact "$name (large)" "$H/large" "$hl"
done

# One byte changes between the hash and the write (bad RAM, a bad
# controller): the read-back must catch it and nothing may move.
out=$(JTS_TIER_FAIL=corrupt:1 "$CTL" migrate "$H/large" 2>&1); rc=$?
eq "corrupt write (large): exit 1" "$rc" 1
contains "corrupt write (large): caught by the read-back" "$out" \
    "verification failed on tier warm"
intact "corrupt write (large)" "$H/large" "$hl"
mkdir -p "$H/cw"
for i in 1 2 3; do head -c 3000 /dev/urandom > "$H/cw/c$i"; done
csums=$(cd "$H/cw" && xxh128sum c? | sort -k2)
out=$(JTS_TIER_FAIL=corrupt:2 "$CTL" migrate "$H/cw" 2>&1); rc=$?
eq "corrupt write (batch): exit 1" "$rc" 1
contains "corrupt write (batch): caught" "$out" "verification failed on tier warm"
contains "corrupt write (batch): the others moved" "$out" "2 moved"
eq "corrupt write (batch): content intact" \
    "$(cd "$H/cw" && xxh128sum c? | sort -k2)" "$csums"
eq "corrupt write (batch): no temporary" \
    "$(find "$W/warm" -name '.jts-tier-*' | wc -l)" 0
"$CTL" recall -q "$H/cw" >/dev/null 2>&1

# A batch of small files: the third write fails; the others move.
for i in 1 2 3 4 5 6; do head -c 9000 /dev/urandom > "$H/s$i"; done
sums=$(cd "$H" && xxh128sum s? | sort -k2)
out=$(JTS_TIER_FAIL=write:28:3 "$CTL" migrate "$H"/s? 2>&1); rc=$?
eq "ENOSPC in a batch: exit 1" "$rc" 1
contains "ENOSPC in a batch: summary" "$out" "5 moved"
eq "ENOSPC in a batch: one source left a file" "$(find "$H" -name 's?' -type f | wc -l)" 1
eq "ENOSPC in a batch: all content intact" "$(cd "$H" && xxh128sum s? | sort -k2)" "$sums"
eq "ENOSPC in a batch: no temporary" "$(find "$W/warm" -name '.jts-tier-*' | wc -l)" 0
"$CTL" recall -q "$H" >/dev/null 2>&1

# fsync failure of a batch (one syncfs): every copy discarded.
out=$(JTS_TIER_FAIL=fsync:5 "$CTL" migrate "$H"/s? 2>&1); rc=$?
eq "syncfs EIO: exit 1" "$rc" 1
contains "syncfs EIO: cause" "$out" "syncing tier warm failed"
eq "syncfs EIO: all sources stay" "$(find "$H" -name 's?' -type f | wc -l)" 6
eq "syncfs EIO: content intact" "$(cd "$H" && xxh128sum s? | sort -k2)" "$sums"
eq "syncfs EIO: no temporary" "$(find "$W/warm" -name '.jts-tier-*' | wc -l)" 0

# The directories cannot be synced after the renames: nothing may be
# committed or released; the copies are taken back, every source stays.
mkdir -p "$H/ds"
for i in 1 2 3 4; do head -c 5000 /dev/urandom > "$H/ds/d$i"; done
dsums=$(cd "$H/ds" && xxh128sum d? | sort -k2)
out=$(JTS_TIER_FAIL=dirsync:5 "$CTL" migrate "$H/ds" 2>&1); rc=$?
eq "dirsync EIO: exit 1" "$rc" 1
contains "dirsync EIO: cause" "$out" "cannot sync its directory on tier warm"
contains "dirsync EIO: what was done" "$out" "the copy was taken back, the source kept"
eq "dirsync EIO: every source stays a file" "$(find "$H/ds" -type f | wc -l)" 4
eq "dirsync EIO: content intact" "$(cd "$H/ds" && xxh128sum d? | sort -k2)" "$dsums"
eq "dirsync EIO: no copy left on warm" "$(find "$W/warm/f/ds" -type f | wc -l)" 0
eq "dirsync EIO: catalog unchanged" "$(sqlite3 "$CAT" \
    "select count(*) from files where path like 'f/ds/%'")" 0
eq "dirsync EIO: journal says aborted" "$(sqlite3 "$CAT" \
    "select count(*) from journal where state = 'aborted' and error like '%cannot sync%'")" 4
"$CTL" check >/dev/null 2>&1
eq "dirsync EIO: check OK" "$?" 0

# wait_tmp: until a temporary appears on warm (the copy is running).
wait_tmp() {
	for _ in $(seq 1 500); do
		[ -n "$(find "$W/warm" -name '.jts-tier-*.tmp' 2>/dev/null)" ] &&
			return 0
		sleep 0.01
	done
	return 1
}

# Someone opens the file mid-copy: the lease breaks, the move stops.
head -c 900M /dev/urandom > "$W/orig"
cp "$W/orig" "$H/busy"
want=$( (cat "$W/orig"; echo appended) | xxh128sum)
rm -f "$W/orig"
sync; echo 3 > /proc/sys/vm/drop_caches
"$CTL" migrate "$H/busy" > "$W/out" 2>&1 &
pid=$!
if wait_tmp; then
	t0=$(date +%s%N)
	echo appended >> "$H/busy"	# blocks until the lease is released
	t1=$(date +%s%N)
	wait $pid; rc=$?
	out=$(cat "$W/out")
	eq "lease break: exit 1" "$rc" 1
	contains "lease break: reason" "$out" "was opened for writing by another process"
	intact "lease break" "$H/busy" "$want"
	eq "lease break: the writer's data is there" "$(tail -c 9 "$H/busy")" appended
	ok "lease break: the writer waited less than 5 s" [ $(( (t1 - t0) / 1000000 )) -lt 5000 ]
else
	wait $pid
	ok "lease break: the copy was seen running" false
fi

# Someone sets the file's times mid-copy without opening it (utimensat on
# the path): no lease break, but ctime changes and the move stops.
hb=$(xxh128sum < "$H/busy")
sync; echo 3 > /proc/sys/vm/drop_caches
python3 - "$W/warm" "$H/busy" > "$W/py" 2>&1 <<'PY' &
import glob, os, sys, time
open(sys.argv[1] + "/../watcher-ready", "w").close()
end = time.time() + 60
while time.time() < end:
    if glob.glob(sys.argv[1] + "/**/.jts-tier-*.tmp", recursive=True):
        os.utime(sys.argv[2], (1e9, 1e9), follow_symlinks=False)
        print("utime done")
        break
    time.sleep(0.002)
PY
watcher=$!
for _ in $(seq 1 3000); do [ -e "$W/watcher-ready" ] && break; sleep 0.01; done
"$CTL" migrate "$H/busy" > "$W/out" 2>&1
rc=$?
wait $watcher
eq "utime mid-copy: the watcher saw the copy" "$(cat "$W/py")" "utime done"
out=$(cat "$W/out")
eq "utime mid-copy: exit 1" "$rc" 1
contains "utime mid-copy: reason" "$out" "changed during the copy"
eq "utime mid-copy: the new mtime is kept" "$(stat -c %Y "$H/busy")" 1000000000
intact "utime mid-copy" "$H/busy" "$hb"

out=$("$CTL" check 2>&1); rc=$?
eq "check OK after every fault" "$rc" 0

# Ctrl-C during a large copy: the move is undone, nothing left behind,
# exit 130; SIGTERM during a batch of small files: what was committed is
# finished, the rest untouched; either way check is clean afterwards.
hb=$(xxh128sum < "$H/busy")
sync; echo 3 > /proc/sys/vm/drop_caches
"$CTL" migrate "$H/busy" > "$W/out" 2>&1 &
pid=$!
if wait_tmp; then
	kill -INT $pid
	wait $pid; rc=$?
	out=$(cat "$W/out")
	eq "SIGINT: exit 130" "$rc" 130
	contains "SIGINT: says so" "$out" "interrupted"
	intact "SIGINT" "$H/busy" "$hb"
else
	wait $pid
	ok "SIGINT: the copy was seen running" false
fi
mkdir -p "$H/many"
for i in $(seq 1 3000); do echo "$i" > "$H/many/$i"; done
# sums DIR: content of every file through its path (following the links)
sums() { (cd "$1" && find . \( -type f -o -type l \) -print0 | sort -z |
    xargs -0 -r xxh128sum 2>/dev/null); }
m=$(sums "$H/many")
"$CTL" migrate "$H/many" > "$W/out" 2>&1 &
pid=$!
wait_tmp
kill -TERM $pid
wait $pid; rc=$?
ok "SIGTERM: exit 130 or finished first" [ "$rc" = 130 -o "$rc" = 0 ]
eq "SIGTERM: every file once, content intact" "$(sums "$H/many")" "$m"
eq "SIGTERM: each file is on one tier only" "$(( $(count_files "$H/many") + \
    $(count_files "$W/warm/f/many" 2>/dev/null || echo 0) ))" 3000
eq "SIGTERM: no temporary" "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' | wc -l)" 0
eq "SIGTERM: journal settled" "$(sqlite3 "$CAT" \
    "select count(*) from journal where state not in ('done','aborted')")" 0
"$CTL" check >/dev/null 2>&1
eq "SIGTERM: check OK" "$?" 0

# A process opens the old file while it is being released (here through
# its hidden name, after the swap): it waits on the lease, and when it
# gets the file, the file must still be linked, so what it writes is kept.
echo original > "$H/late"
JTS_TIER_PAUSE=release:2000 "$CTL" migrate "$H/late" > "$W/out" 2>&1 &
pid=$!
old=
for _ in $(seq 1 500); do
	old=$(find "$H" -name '.jts-tier-*.lnk' -type f | head -1)
	[ -n "$old" ] && break
	sleep 0.01
done
if [ -n "$old" ]; then
	echo late >> "$old"	# blocks until the move lets go of the file
	wait $pid; rc=$?
	out=$(cat "$W/out")
	eq "open during release: exit 1" "$rc" 1
	contains "open during release: reason" "$out" \
	    "was opened for writing by another process while it was released"
	eq "open during release: the late write is kept" \
	    "$(cat "$old" 2>/dev/null)" "$(printf 'original\nlate')"
	eq "open during release: the path holds the moved copy" \
	    "$(cat "$H/late")" original
	out=$("$CTL" check 2>&1); rc=$?
	eq "open during release: check warns" "$rc" 1
	contains "open during release: check names the kept file" "$out" \
	    "WARNING: temporary: $old: kept by the conflict on f/late (its line says why): remove it if it is not wanted"
	contains "open during release: check names the conflict" "$out" \
	    "WARNING: conflict: f/late"
	"$CTL" recover >/dev/null 2>&1
	ok "open during release: recovery keeps the written file" [ -f "$old" ]
else
	wait $pid
	ok "open during release: the swap was seen" false
fi
# Killed after the commit, then the copy is removed (an operator settling
# things by hand): recovery must not release the source for a copy that
# is not there; the source is the data again (tests/conflicts.sh has the
# other ways a conflict is settled).
echo keep > "$H/gone-copy"
JTS_TIER_FAULT=committed "$CTL" migrate -q "$H/gone-copy" >/dev/null 2>&1
eq "copy removed after the commit: killed there" "$?" 137
rm -f "$W/warm/f/gone-copy"
"$CTL" recover > "$W/out" 2>&1
contains "copy removed after the commit: recovery says so" "$(cat "$W/out")" \
    "the copy on tier warm is gone; the source on tier hot was kept"
regular "copy removed after the commit: the source stays a file" \
    "$H/gone-copy"
eq "copy removed after the commit: its content" "$(cat "$H/gone-copy")" keep
eq "copy removed after the commit: the catalog has it on hot" \
    "$(sqlite3 "$CAT" "select tier from files where path = cast('f/gone-copy' as blob)")" hot
"$CTL" check > "$W/out" 2>&1
eq "copy removed after the commit: check names no data problem" \
    "$(grep -c -e CRITICAL -e gone-copy "$W/out")" 0
finish
