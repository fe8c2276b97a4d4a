#!/bin/bash
# conflicts.sh - a move that kept both copies settles itself where both
# are the same verified content; where they differ it is settled by the
# operator: remove the copy and the source is the data again; remove the
# source and a whole copy finishes the move; a copy that is not the one
# verified is never taken for the data.  Judged with xxh128sum, stat and
# sqlite3.
#
# The conflict is the state a move leaves when the directory of its copy
# cannot be synced and the copy cannot be taken back: renamed into place,
# not committed.  It is made by killing a move right after the rename
# (JTS_TIER_FAULT=renamed) and recording the row as the conflict path
# does.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
setup_tiers 512M 512M

H=$W/hot/c
mkdir -p "$H"

# conflict NAME: $H/NAME moved to warm, stopped after the rename, its row
# recorded as a conflict; prints the original hash.
conflict() {
	head -c 3M /dev/urandom > "$H/$1"
	xxh128sum < "$H/$1"
	"$CTL" scan >/dev/null		# catalogued on hot, as the daemon does
	JTS_TIER_FAULT=renamed "$CTL" migrate -q "$H/$1" >/dev/null 2>&1
	sqlite3 "$CAT" "update journal set state = 'conflict', error = 'cannot
	    sync its directory on tier warm; the source and the copy are both
	    kept' where path = cast('c/$1' as blob) and state = 'verified'"
}

# row NAME: the journal state and the catalog's tier of c/NAME.
row() {
	sqlite3 "$CAT" "select (select group_concat(state) from journal
	    where path = cast('c/$1' as blob)), (select tier from files
	    where path = cast('c/$1' as blob))"
}

# 0. Both copies the same verified content: recover settles it alone,
# and says so; the copy goes, the source is the data.
h=$(conflict same)
eq "same: the row is a conflict" "$(row same)" "conflict|hot"
out=$("$CTL" recover 2>&1); rc=$?
eq "same: recover exits 0" "$rc" 0
contains "same: recover says how it settled" "$out" \
    "conflict settled: the copy on tier warm was the same as the data on tier hot and was removed"
eq "same: row closed, catalog on hot" "$(row same)" "aborted|hot"
regular "same: the source is the data" "$H/same"
eq "same: source content" "$(xxh128sum < "$H/same")" "$h"
absent "same: the copy is gone" "$W/warm/c/same"

# 1. The source written since: the copies differ, the conflict stays and
# says how to settle it.
h0=$(conflict both)
echo written >> "$H/both"
h=$(xxh128sum < "$H/both")
eq "both kept: the row is a conflict" "$(row both)" "conflict|hot"
out=$("$CTL" recover 2>&1); rc=$?
eq "both kept: recover exits 1" "$rc" 1
contains "both kept: recover says what is left" "$out" \
    "1 move(s) still need attention"
out=$("$CTL" check 2>&1); rc=$?
eq "both kept: check warns" "$rc" 1
contains "both kept: check names it" "$out" "WARNING: conflict: c/both"
contains "both kept: check says how to settle it" "$out" \
    "remove the one not wanted (the copy on tier warm or the source on tier hot) and run 'jts-tierctl recover'"
out=$("$CTL" status 2>&1)
contains "both kept: status lists it" "$out" "c/both: hot -> warm: conflict"
contains "both kept: status points to check" "$out" \
    "1 conflict: 'jts-tierctl check' says how to settle each"
eq "both kept: source as written" "$(xxh128sum < "$H/both")" "$h"
eq "both kept: copy whole" "$(xxh128sum < "$W/warm/c/both")" "$h0"

# 2. The copy removed: the source is the data, the row closed -- by
# recover, not by the next move of another file (which only reminds).
rm "$W/warm/c/both"
echo other > "$H/other"
out=$("$CTL" migrate "$H/other" 2>&1); rc=$?
eq "another move: exit 0" "$rc" 0
contains "another move: reminds of the conflict" "$out" \
    "1 interrupted move(s) need attention"
eq "another move: the conflict is left to recover" "$(row both)" "conflict|hot"
out=$("$CTL" recover 2>&1); rc=$?
eq "copy removed: recover exits 0" "$rc" 0
contains "copy removed: recover says so" "$out" "nothing left unfinished"
eq "copy removed: row closed, catalog on hot" "$(row both)" "aborted|hot"
regular "copy removed: source still a regular file" "$H/both"
eq "copy removed: source content" "$(xxh128sum < "$H/both")" "$h"
out=$("$CTL" check 2>&1); rc=$?
eq "copy removed: check OK" "$rc" 0

# 3. The source removed, the copy whole: the move is finished.
h=$(conflict src)
rm "$H/src"
out=$("$CTL" recover 2>&1); rc=$?
eq "source removed: recover exits 0" "$rc" 0
eq "source removed: move done, catalog on warm" "$(row src)" "done|warm"
eq "source removed: the copy is the data" "$(xxh128sum < "$W/warm/c/src")" "$h"
eq "source removed: catalog hash is the copy's" \
    "$(sqlite3 "$CAT" "select lower(hex(hash)) from files where path = cast('c/src' as blob)")" \
    "$(xxh128sum "$W/warm/c/src" | cut -d' ' -f1)"
"$CTL" recall -q "$H/src" >/dev/null 2>&1; rc=$?
eq "source removed: the file can be recalled" "$rc" 0
eq "source removed: recalled content" "$(xxh128sum < "$H/src")" "$h"

# 4. A committed move whose copy vanished before the source was released:
# the source was kept and is the data again.
head -c 2M /dev/urandom > "$H/gone"
h=$(xxh128sum < "$H/gone")
JTS_TIER_FAULT=committed "$CTL" migrate -q "$H/gone" >/dev/null 2>&1
eq "copy gone after the commit: killed there" "$?" 137
eq "copy gone after the commit: catalog on warm" "$(row gone)" "committed|warm"
rm "$W/warm/c/gone"
out=$("$CTL" recover 2>&1); rc=$?
eq "copy gone after the commit: recover exits 0" "$rc" 0
contains "copy gone after the commit: recovery says so" "$out" \
    "the copy on tier warm is gone; the source on tier hot was kept and is the data again"
eq "copy gone after the commit: catalog back on hot" "$(row gone)" "aborted|hot"
eq "copy gone after the commit: source content" "$(xxh128sum < "$H/gone")" "$h"

# 5. The source removed, the copy not the one verified: kept a conflict,
# the copy is not taken for the data.
h=$(conflict bad)
flip_byte "$W/warm/c/bad" 4096
rm "$H/bad"
out=$("$CTL" recover 2>&1); rc=$?
eq "copy differs: recover exits 1" "$rc" 1
eq "copy differs: still a conflict, catalog unchanged" "$(row bad)" "conflict|hot"
ok "copy differs: the copy is left as it is" [ -f "$W/warm/c/bad" ]

# 6. The same through a running daemon: recover is sent to it.
rm -f "$W/warm/c/bad"
start_daemon || exit 1
out=$("$CTL" recover 2>&1); rc=$?
eq "daemon: recover exits 1 while a conflict is left" "$rc" 1
contains "daemon: recover answered by the daemon" "$out" "1 move(s) still need attention"
head -c 1M /dev/urandom > "$H/bad"
stop_daemon
"$CTL" recover >/dev/null 2>&1
eq "source back, copy gone: settled to the source" "$(row bad)" "aborted|hot"

# late NAME [append]: $H/NAME moved to warm while a process opens the
# old file for writing during its release (and appends, with append):
# the move keeps it under its hidden name, a conflict.  Prints the hash.
late() {
	head -c 1M /dev/urandom > "$H/$1"
	xxh128sum < "$H/$1"
	JTS_TIER_PAUSE=release:1500 "$CTL" migrate -q "$H/$1" >/dev/null 2>&1 &
	local pid=$! old=
	for _ in $(seq 1 500); do
		old=$(find "$H" -name '.jts-tier-*.lnk' -type f | head -1)
		[ -n "$old" ] && break
		sleep 0.01
	done
	if [ "${2:-}" = append ]; then echo more >> "$old"
	else : >> "$old"; fi
	wait $pid
}

# 7. Opened for writing during the release, nothing written: the old file
# kept is the verified content; recover releases it and says so.
h=$(late opened)
eq "opened, not written: a conflict" "$(row opened)" "conflict|warm"
eq "opened, not written: the old file kept" \
    "$(find "$H" -name '.jts-tier-*.lnk' | wc -l)" 1
out=$("$CTL" recover 2>&1); rc=$?
eq "opened, not written: recover exits 0" "$rc" 0
contains "opened, not written: recover says it settled" "$out" \
    "c/opened: conflict settled: the move to warm is finished"
eq "opened, not written: row done" "$(row opened)" "done|warm"
eq "opened, not written: no old file left" \
    "$(find "$H" -name '.jts-tier-*' | wc -l)" 0
eq "opened, not written: the data" "$(xxh128sum < "$W/warm/c/opened")" "$h"

# 8. The same, but the file is recalled before anyone recovers: the later
# move settles nothing by itself; recover sees the data back on hot and
# the old file kept the same content, and removes it.
h=$(late back)
"$CTL" recall -q "$H/back" >/dev/null 2>&1
eq "recalled meanwhile: the conflict is still open" "$(row back)" \
    "conflict,done|hot"
out=$("$CTL" recover 2>&1); rc=$?
eq "recalled meanwhile: recover exits 0" "$rc" 0
contains "recalled meanwhile: recover says it settled" "$out" \
    "c/back: conflict settled: there is no copy on tier warm"
eq "recalled meanwhile: no old file left" \
    "$(find "$H" "$W/warm" -name '.jts-tier-*' | wc -l)" 0
regular "recalled meanwhile: the data at home" "$H/back"
eq "recalled meanwhile: its content" "$(xxh128sum < "$H/back")" "$h"

# 9. Written during the release: the kept old file differs from the
# copy, which is a real divergence: it stays for the operator.
h=$(late written append)
out=$("$CTL" recover 2>&1); rc=$?
eq "written: recover exits 1" "$rc" 1
eq "written: still a conflict" "$(row written)" "conflict|warm"
old=$(find "$H" -name '.jts-tier-*.lnk' -type f | head -1)
eq "written: the old file kept, with what was written" \
    "$(tail -c 5 "$old" 2>/dev/null)" more
out=$("$CTL" check 2>&1); rc=$?
eq "written: check warns" "$rc" 1
contains "written: check names the kept file" "$out" "$old"
rm -f "$old"
"$CTL" recover >/dev/null 2>&1
eq "written: settled once the operator removed it" "$(row written)" \
    "done|warm"

# 10. A running daemon settles what needs nobody at its next scan (here
# the daemon's own move pauses in its release, where the old file is
# opened for writing).
start_daemon JTS_TIER_PAUSE=release:1500 || exit 1
h=$(late atscan)
eq "daemon: a conflict" "$(row atscan)" "conflict|warm"
"$CTL" scan >/dev/null 2>&1
ok "daemon: its scan settled the conflict" wait_log \
    "c/atscan: conflict settled: the move to warm is finished" 10
eq "daemon: row done" "$(row atscan)" "done|warm"
eq "daemon: no old file left" "$(find "$H" -name '.jts-tier-*' | wc -l)" 0
stop_daemon

# Temporaries: what check says each is to the journal.
echo t > "$H/interrupted"
JTS_TIER_FAULT=synced "$CTL" migrate -q "$H/interrupted" >/dev/null 2>&1
echo orphan > "$W/warm/c/.jts-tier-999999.tmp"
out=$("$CTL" check 2>&1)
contains "temporary of an interrupted move: what to do" "$out" \
    "left over by the interrupted move of c/interrupted; 'jts-tierctl recover' finishes or undoes it"
contains "temporary no move needs: what to do" "$out" \
    "$W/warm/c/.jts-tier-999999.tmp: no unfinished move needs it; look at it and remove it by hand"
"$CTL" recover >/dev/null 2>&1
ok "the orphan is left for the operator" [ -f "$W/warm/c/.jts-tier-999999.tmp" ]
rm "$W/warm/c/.jts-tier-999999.tmp"
eq "interrupted move undone: the file at home" "$(cat "$H/interrupted")" t

out=$("$CTL" check 2>&1); rc=$?
eq "check at the end: OK" "$rc" 0
eq "no temporary on any tier" "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' | wc -l)" 0
finish
