#!/bin/bash
# policy-up.sh - a policy up (from = warm, to = hot) recalls what its
# condition selects: WAL segments read in several tracking windows come
# back to their home path, verified, their warm copies gone; a file whose
# home is warm stays; a file just moved stays min_residency where it is,
# both ways; a run never fills the destination past its low watermark,
# nor past the low watermark of a fill policy that empties it, so a
# promotion never starts a demotion.  'policy test' shows the arithmetic
# of the fill as df makes it.  Judged with xxh128sum, stat, df, sqlite3.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
need_cmd python3 df
setup_tiers 256M 1G
[ -x "$TIERD" ] || skip "jts-tierd not built"
H=$W/hot
WA=$W/warm
D=pg/pg_wal
mkdir -p "$W/policies" "$H/$D"
for i in 1 2 3 4 5 6 7 8; do
	head -c $((8 << 20)) /dev/urandom > "$H/$D/00000001000000000000000$i"
done
(cd "$H" && xxh128sum $D/*) > "$W/sums"
head -c $((1 << 20)) /dev/urandom > "$WA/native"
seg() { echo "$D/00000001000000000000000$1"; }
q() { sqlite3 "$CAT" "$1"; }
tier_of() { q "SELECT tier FROM files WHERE path = CAST('$1' AS BLOB)"; }

"$CTL" migrate -q "$H/pg" > /dev/null
eq "the eight segments are on warm" \
    "$(q "SELECT count(*) FROM files WHERE tier = 'warm' AND CAST(path AS TEXT) GLOB 'pg/*'")" 8
ok "their home paths are symlinks" test -L "$H/$(seg 1)"

# Reads in five tracking windows of segments 1-5 (and of native, whose
# home is warm) give them heat 5; 6-8 are not read.
start_daemon JTS_TIER_TRACK_FLUSH=0.3 || exit 1
wait_log "scan tier=warm" 20
for _ in 1 2 3 4 5; do
	for i in 1 2 3 4 5; do cat "$H/$(seg $i)" > /dev/null; done
	cat "$WA/native" > /dev/null
	sleep 0.6
done
for _ in $(seq 50); do
	[ "$(q "SELECT count(*) FROM files WHERE heat > 3")" = 6 ] && break
	sleep 0.2
done
eq "tracking: six files read in more than three windows" \
    "$(q "SELECT count(*) FROM files WHERE heat > 3")" 6
stop_daemon

cat > "$W/policies/up.policy" <<P
[policy]
from = warm
to = hot
condition = path GLOB '*/pg_wal/*' AND heat > 3 OR path = 'native'
order = path
schedule = 1h
min_residency = 1h
P
out=$("$CTL" policy test up 2>&1)
contains "moved a minute ago: min_residency keeps them on warm" "$out" \
    "0 file(s), 0 B would move from warm to hot"
out=$("$CTL" explain "$H/$(seg 1)" 2>&1)
contains "explain says why" "$out" "min_residency is 1h"
sed -i '/^min_residency/d' "$W/policies/up.policy"
out=$("$CTL" policy list 2>&1)
contains "policy list marks it up" "$out" "warm -> hot (up: recalls)"
out=$("$CTL" policy test up 2>&1)
eq "policy test: segments 1-5, not native (its home is warm)" \
    "$(echo "$out" | sed -n 's/^move \([^ ]*\) .*/\1/p' | tr '\n' ' ')" \
    "$(for i in 1 2 3 4 5; do printf '%s ' "$(seg $i)"; done)"
out=$("$CTL" explain "$WA/native" 2>&1)
contains "explain: native's home is below hot" "$out" \
    "its home is tier warm, below hot"

# A fill policy empties hot above ceil(now) + 9% down to ceil(now) + 7%:
# a run up stops below that low mark, after two 8 MiB segments (3.1%
# each of 256 MiB), and the fill policy never runs.
read -r used avail <<< "$(df -B1 --output=used,avail "$H" | tail -1)"
P0=$(python3 -c "import math; print(math.ceil(100 * $used / ($used + $avail)))")
cat > "$W/policies/drain.policy" <<P
[policy]
from = hot
to = warm
condition = path GLOB 'pg/*'
on_fill = yes
high_watermark = $((P0 + 9))
low_watermark = $((P0 + 7))
P
out=$("$CTL" policy test up 2>&1)
contains "policy test shows df's arithmetic" "$out" \
    "now:   used $used / (used + available) $((used + avail)) bytes"
contains "and where a run stops" "$out" \
    "a run stops before hot goes above $((P0 + 7))% (its fill policy's low watermark)"
contains "why it stops" "$out" "destination at its low watermark"
eq "two segments would come back" "$(echo "$out" | grep -c '^move ')" 2

start_daemon JTS_TIER_FILL_CHECK=0.3 JTS_TIER_TRACK_FLUSH=0.3 || exit 1
wait_log "scan tier=warm" 20 2
# A policy that never ran is due when the daemon starts: its scheduled
# run comes first (waited for, so a request never races it).
wait_log "policy up run=schedule moved=" 30
contains "the run recalled two" "$(grep 'policy up run=schedule moved=' "$W/d.log")" \
    "moved=2 "
out=$("$CTL" policy run up 2>&1); rc=$?
eq "policy run up exits 0" "$rc" 0
wait_log "policy up run=request moved=" 30
contains "a run asked for then moves nothing more (hot at its low mark)" \
    "$(grep 'policy up run=request moved=' "$W/d.log")" "moved=0 "
sleep 2	# several fill checks
eq "no fill run followed the promotion" "$(grep -c 'run=fill' "$W/d.log")" 0
stop_daemon
for i in 1 2; do
	f=$(seg $i)
	eq "$f: a regular file at its home path" "$(stat -c %F "$H/$f")" \
	    "regular file"
	eq "$f: on hot in the catalog" "$(tier_of "$f")" hot
	ok "$f: no copy left on warm" test ! -e "$WA/$f"
done
for i in 3 4 5 6 7 8; do
	eq "$(seg $i): still on warm" "$(tier_of "$(seg $i)")" warm
done
eq "native stays on warm" "$(tier_of native)" warm
(cd "$H" && xxh128sum -c --quiet "$W/sums") > "$W/sums.out" 2>&1; rc=$?
eq "every segment's bytes as written (xxh128sum through the home paths)" \
    "$rc" 0
read -r used avail <<< "$(df -B1 --output=used,avail "$H" | tail -1)"
ok "hot is at most its fill policy's low watermark" python3 -c \
    "import sys; sys.exit(100 * $used / ($used + $avail) > $((P0 + 7)))"

# Back down: min_residency keeps the recalled files on hot.
rm "$W/policies/drain.policy"
cat > "$W/policies/down.policy" <<P
[policy]
from = hot
to = warm
condition = path GLOB 'pg/*'
schedule = 1h
min_residency = 1h
P
out=$("$CTL" policy test down 2>&1)
contains "just recalled: min_residency keeps them on hot" "$out" \
    "0 file(s), 0 B would move from hot to warm"
out=$("$CTL" explain "$H/$(seg 1)" 2>&1)
contains "explain names the residency" "$out" "on tier hot for"

# The tier's own low watermark bounds a run up too.
sed -i "s|^root = $H\$|&\nhigh_watermark = 95\nlow_watermark = 1|" "$CONF"
out=$("$CTL" policy test up 2>&1)
contains "hot above its low watermark: nothing comes back" "$out" \
    "0 file(s), 0 B would move from warm to hot (schedule run); destination at its low watermark"
contains "the bound named" "$out" "a run stops before hot goes above 1% (its low watermark)"

out=$("$CTL" policy test --fill up 2>&1); rc=$?
eq "policy test --fill of a policy up: exit 2" "$rc" 2
contains "it has no fill run" "$out" "there is no fill run to test"

# What a policy up may not say.
for bad in "on_fill = yes" "leave = stub" "fill_path = pg"; do
	printf '[policy]\nfrom = warm\nto = hot\ncondition = 1\nschedule = 1h\n%s\n' \
	    "$bad" > "$W/policies/bad.policy"
	out=$("$CTL" policy list 2>&1); rc=$?
	eq "refused: $bad (exit 2)" "$rc" 2
	contains "with the file and why" "$out" "bad.policy"
done
rm "$W/policies/bad.policy"
finish
