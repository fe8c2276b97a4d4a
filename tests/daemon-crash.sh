#!/bin/bash
# daemon-crash.sh - SIGKILL of the daemon in the middle of a policy run,
# at a fault point and at a random moment: the restarted daemon recovers
# the journal, sees the run unfinished, runs it again and finishes the
# work; nothing is lost, no file is present twice, no temporary is left.
# Judged with xxh128sum, readlink, find and sqlite3.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
setup_tiers 1G 1G
[ -x "$TIERD" ] || skip "jts-tierd not built"
H=$W/hot
mkdir -p "$W/policies" "$H/arch/a" "$H/arch/b"
for i in $(seq 1 60); do
	head -c $(( (i % 7) * 150000 + 1 )) /dev/urandom > "$H/arch/a/f$i"
	head -c $(( (i % 5) * 90000 )) /dev/urandom > "$H/arch/b/g$i"
done
touch -d '90 days ago' "$H"/arch/*/*
hash_manifest "$H" > "$W/manifest"
cat > "$W/policies/arch.policy" <<'P'
[policy]
from = hot
to = warm
condition = path GLOB 'arch/*' AND age > days(30)
order = size DESC
schedule = 1d
P

# judge: every file once at its place, intact; no temporaries; catalog ok.
judge() {
	bad=0
	while IFS=' ' read -r -d '' h f; do
		p=$H/$f
		if [ -L "$p" ]; then
			t=$(readlink "$p")
			[ "$t" = "$W/warm/$f" ] || { echo "  $f: link to $t"; bad=1; }
		elif [ -e "$W/warm/$f" ]; then
			echo "  $f: on hot and on warm"; bad=1
		fi
		[ "$(xxh128sum < "$p" | cut -d' ' -f1)" = "$h" ] ||
			{ echo "  $f: content differs"; bad=1; }
	done < "$W/manifest"
	[ "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' | wc -l)" = 0 ] ||
		{ echo "  temporaries left"; bad=1; }
	[ "$(sqlite3 "$CAT" 'PRAGMA integrity_check')" = ok ] ||
		{ echo "  catalog integrity"; bad=1; }
	return $bad
}

# 1: killed at the 25th release of a source.
start_daemon JTS_TIER_FAULT=release:25 || exit 1
for _ in $(seq 300); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
wait "$DPID"; rc=$?; DPID=
eq "the daemon died at the fault point (SIGKILL)" "$rc" 137
"$CTL" recover > /dev/null
ok "after the kill and recovery: intact, each file once" judge
n1=$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='warm'")
ok "some files moved before the kill ($n1)" test "$n1" -gt 0 -a "$n1" -lt 120

# 2: the restart finishes the unfinished run; kill it again at random.
start_daemon JTS_TIER_PAUSE=copy:40 || exit 1
wait_log "policy arch run=schedule selected=" 20 2
sleep 0.$((RANDOM % 9 + 1))
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null; DPID=
n2=$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='warm'")
"$CTL" recover > /dev/null
ok "after a random kill and recovery: intact, each file once" judge
ok "the kill came mid-run ($n1 < $n2 < 120 on warm)" test "$n2" -lt 120

# 3: SIGTERM mid-run: the daemon stops within a bounded time, exit 0, with
# the moves in flight finished or undone.
mkdir -p "$H/more"
for i in $(seq 1 40); do head -c 200000 /dev/urandom > "$H/more/m$i"; done
touch -d '90 days ago' "$H"/more/*
(cd "$H" && hash_manifest . more/*) >> "$W/manifest"
cat > "$W/policies/more.policy" <<'P'
[policy]
from = hot
to = warm
condition = path GLOB 'more/*'
schedule = 1d
P
start_daemon JTS_TIER_PAUSE=copy:100 || exit 1
wait_log "policy more run=schedule selected=" 20
sleep 0.5
t0=$(date +%s)
kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
t1=$(date +%s)
eq "SIGTERM mid-run: exit 0" "$rc" 0
ok "and within 10 s ($((t1 - t0)) s)" test $((t1 - t0)) -le 10
eq "no move left open by SIGTERM" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM journal WHERE state NOT IN ('done','aborted')")" 0
ok "after SIGTERM: intact, each file once" judge
n3=$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='warm' AND CAST(path AS TEXT) GLOB 'more/*'")
ok "it stopped before the end of the run ($n3 of 40 moved)" test "$n3" -lt 40

# 4: a clean restart finishes the work.
start_daemon || exit 1
wait_log "scan tier=warm" 20 4
for _ in $(seq 600); do
	[ "$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='warm'")" = 160 ] && break
	sleep 0.1
done
eq "all files are on warm now" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='warm' AND length(hash)=16")" 160
ok "after the finished run: intact, each file once" judge
eq "no move left open in the journal" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM journal WHERE state NOT IN ('done','aborted')")" 0
stop_daemon

out=$("$CTL" check 2>&1); rc=$?
eq "check: OK" "$rc" 0
finish
