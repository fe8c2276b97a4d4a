#!/bin/bash
# hostile-policy.sh - what an ordinary account can do to the policies of
# everybody: a user who owns a directory in the hot tier makes a sparse
# file of 8 TiB with an mtime of 1971, first in an oldest-first policy's
# order.  It stopped the run for all ("destination at its high
# watermark" with warm nearly empty); now a file that does not fit under
# the destination's cap is passed over and the others go on (a sparse
# file is charged its size: its copy is hashed over every byte).  Run as
# a user the test creates and removes; judged with sqlite3 and stat.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd useradd userdel setpriv sqlite3 jq
setup_tiers 1G 1G
[ -x "$TIERD" ] || skip "jts-tierd not built"

EVIL=jtspol$$
useradd -M -N -s /usr/sbin/nologin "$EVIL" || skip "cannot create a user"
T_CLEANUP="userdel $EVIL 2>/dev/null"
chmod 755 "$W"
as_evil() { setpriv --reuid="$EVIL" --regid="$(id -g "$EVIL")" --init-groups "$@"; }
mkdir -p "$W/policies" "$W/hot/u" "$W/hot/v"
chown "$EVIL" "$W/hot/u"
cat > "$W/policies/oldest.policy" <<P
[policy]
from = hot
to = warm
condition = 1
order = mtime
schedule = 1h
P

# The victims' files: four of 1 MiB from 1980.
for i in 1 2 3 4; do head -c 1M /dev/urandom > "$W/hot/v/f$i"; done
touch -d '1980-01-01' "$W/hot/v/f"*
# The user's: 8 TiB of nothing, older than everything.
as_evil truncate -s 8T "$W/hot/u/huge"
as_evil touch -d '1971-01-01' "$W/hot/u/huge"
eq "the user made it (stat: 8 TiB, no block)" \
    "$(stat -c '%s %b' "$W/hot/u/huge")" "8796093022208 0"
"$CTL" scan > /dev/null 2>&1

out=$("$CTL" policy test oldest 2>&1)
contains "policy test: the sparse file passed over, said" "$out" \
    "1 file(s) passed over: each would take warm past its cap"
contains "the victims' files still move" "$out" "move v/f4"
"$CTL" policy test --json oldest > "$W/pt.json" 2>&1
eq "policy test --json: passed_over" "$(jq -r '.passed_over' "$W/pt.json")" 1

start_daemon || finish
wait_log "policy oldest run=schedule moved=" 60
eq "the daemon's run moved the victims' files" \
    "$(sqlite3 "$CAT" "select count(*) from files where tier = 'warm' and cast(path as text) like 'v/%'")" 4
eq "and left the sparse file where it is" \
    "$(sqlite3 "$CAT" "select tier from files where cast(path as text) = 'u/huge'")" hot
ok "the log says one was passed over" wait_log "policy oldest run=schedule selected=4 .*passed_over=too_big" 5
stop_daemon
finish
