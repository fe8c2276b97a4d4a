#!/bin/bash
# cancel.sh - requests to the daemon can be cancelled: 'jts-tierctl
# cancel' lists the jobs with their ids; a queued request is dropped
# untouched, a running one stops at once: the batches done stay done,
# the one in flight is undone, nothing is half moved;
# Ctrl-C (SIGINT) of the client that asked cancels its request, a policy
# run is cancelled the same way.  The daemon goes on serving.  Judged
# with xxh128sum through the home paths, stat, find, sqlite3 and check.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
need_cmd python3
setup_tiers 512M 1G
[ -x "$TIERD" ] || skip "jts-tierd not built"
H=$W/hot
mkdir -p "$W/policies" "$H/a" "$H/b" "$H/c" "$H/d"
for d in a c d; do
	for i in 1 2 3 4 5 6 7 8; do
		head -c $((4 << 20)) /dev/urandom > "$H/$d/f$i"
	done
done
for i in 1 2 3 4; do head -c $((4 << 20)) /dev/urandom > "$H/b/g$i"; done
(cd "$H" && xxh128sum a/* b/* c/* d/*) > "$W/sums"
# Slow moves (2 MiB a second, a file takes 2 s), so that there is time
# to cancel them.
sed -i "s|^\[daemon\]|[daemon]\nmove_rate = 2M|" "$CONF"
q() { sqlite3 "$CAT" "$1"; }
ids() {	# ids STATE WHAT: the ids of the jobs in that state doing that
	"$CTL" cancel --json | python3 -c '
import json, sys
print(" ".join(str(j["id"]) for j in json.load(sys.stdin)
               if j["state"] == sys.argv[1] and j["what"] == sys.argv[2]))' "$1" "$2"
}
# whole DIR: every file of DIR either moved (a symlink at hot, its data
# on warm, the catalog says warm) or not (a regular file at hot, nothing
# on warm, the catalog says hot); prints how many moved, or "torn NAME".
whole() {
	local n=0 f r
	for f in "$H/$1"/*; do
		r=${f#"$H/"}
		if [ -L "$f" ] && [ -f "$W/warm/$r" ] && [ "$(q "SELECT tier FROM files WHERE path = CAST('$r' AS BLOB)")" = warm ]; then
			n=$((n + 1))
		elif [ ! -L "$f" ] && [ -f "$f" ] && [ ! -e "$W/warm/$r" ] && [ "$(q "SELECT tier FROM files WHERE path = CAST('$r' AS BLOB)")" = hot ]; then
			:
		else
			echo "torn $r"; return
		fi
	done
	echo "$n"
}
consistent() {	# consistent LABEL: nothing half done anywhere
	eq "$1: no temporary left (find)" \
	    "$(find "$H" "$W/warm" -name '.jts-tier-*' | wc -l)" 0
	(cd "$H" && xxh128sum -c --quiet "$W/sums") > "$W/sums.out" 2>&1
	eq "$1: every file's bytes through its home path (xxh128sum)" "$?" 0
	"$CTL" check > "$W/check.out" 2>&1
	eq "$1: check finds nothing wrong" "$?" 0
}

# Batches of one file (two side by side): a cancel undoes the pair in
# flight, or, landing during a pair's commit, stops before the next.
start_daemon JTS_TIER_BATCH_FILES=1 || exit 1
wait_log "scan tier=warm" 20
"$CTL" migrate "$H/a" > "$W/a.out" 2>&1 &
A=$!
for _ in $(seq 50); do [ -n "$(ids running migrate)" ] && break; sleep 0.1; done
"$CTL" migrate "$H/b" > "$W/b.out" 2>&1 &
B=$!
for _ in $(seq 50); do [ -n "$(ids queued migrate)" ] && break; sleep 0.1; done
idA=$(ids running migrate) idB=$(ids queued migrate)
ok "the list has A running ($idA) and B queued ($idB)" test -n "$idA" -a -n "$idB"
out=$("$CTL" cancel)
contains "the table shows B queued" "$out" "$(printf '%6s  %-8s  %-8s' "$idB" queued migrate)"
"$CTL" cancel "$idB" > "$W/cb.out" 2>&1
eq "cancel of the queued request: exit 0" "$?" 0
wait $B
eq "B's client exits 1" "$?" 1
contains "and says it was cancelled before it started" "$(cat "$W/b.out")" \
    "cancelled before it started: jts-tierctl cancel, pid"
eq "none of b moved" "$(whole b)" 0
sleep 5
out=$("$CTL" cancel "$idA" 2>&1); rc=$?
eq "cancel of the running request: exit 0 ($out)" "$rc" 0
wait $A
eq "A's client exits 1" "$?" 1
contains "and says what was done" "$(cat "$W/a.out")" "migrate cancelled (jts-tierctl cancel, pid"
k=$(whole a)
ok "a stopped early: not all moved ($k of 8)" test "$k" -lt 8
contains "the daemon logged it" "$(cat "$W/d.log")" "job $idA (migrate) cancelled: jts-tierctl cancel"
consistent "after cancel"

# Ctrl-C of the client that asked.
"$CTL" migrate "$H/c" > "$W/c.out" 2>&1 &
C=$!
for _ in $(seq 50); do [ -n "$(ids running migrate)" ] && break; sleep 0.1; done
sleep 5
kill -INT $C
wait $C
eq "the interrupted client exits 130" "$?" 130
contains "and says the daemon cancels its request" "$(cat "$W/c.out")" \
    "interrupted (Interrupt): the daemon cancels the request"
wait_log "cancelled: its client went away" 10
for _ in $(seq 100); do [ "$("$CTL" cancel)" = "no jobs: the daemon is idle" ] && break; sleep 0.1; done
eq "the daemon is idle again" "$("$CTL" cancel)" "no jobs: the daemon is idle"
k2=$(whole c)
ok "c stopped early: not all moved ($k2 of 8)" test "$k2" -lt 8
consistent "after SIGINT"

# A policy run, cancelled.
printf '[policy]\nfrom = hot\nto = warm\ncondition = path GLOB '"'d/*'"'\nschedule = 1h\n' \
    > "$W/policies/pb.policy"
"$CTL" reload > /dev/null
"$CTL" policy run pb > "$W/p.out" 2>&1 &
P=$!
for _ in $(seq 50); do [ -n "$(ids running policy)" ] && break; sleep 0.1; done
sleep 5
"$CTL" cancel "$(ids running policy)" > /dev/null 2>&1
wait $P
eq "the policy run's client exits 1" "$?" 1
contains "and says it was cancelled" "$(cat "$W/p.out")" "cancelled (jts-tierctl cancel"
wait_log "policy pb run=request moved=.*cancelled" 10
k3=$(whole d)
ok "d stopped early: not all moved ($k3 of 8)" test "$k3" -lt 8
eq "b, whose request was cancelled in the queue, never moved" "$(whole b)" 0
consistent "after a cancelled policy run"

out=$("$CTL" cancel 99999 2>&1); rc=$?
eq "an unknown id: exit 1" "$rc" 1
contains "says so" "$out" "no job 99999"
out=$("$CTL" cancel 1x 2>&1); rc=$?
eq "not an id: exit 2" "$rc" 2
contains "names it" "$out" "not a job id"
stop_daemon
out=$("$CTL" cancel 2>&1); rc=$?
eq "no daemon: exit 1" "$rc" 1
contains "says there is none" "$out" "no daemon is running"
finish
