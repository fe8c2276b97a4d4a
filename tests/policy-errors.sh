#!/bin/bash
# policy-errors.sh - every kind of bad policy gives file:line and exit 2,
# never a crash; conditions that write, read other tables or call
# forbidden functions are refused at load; the daemon refuses to start on
# them.  Needs no root: plain directories stand in for the tiers.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd sqlite3
W=$(mktemp -d /tmp/jts-test.XXXXXX)
mkdir -p "$W/hot" "$W/warm" "$W/policies"
CONF=$W/jts-tier.conf
cat > "$CONF" <<CONF
[catalog]
path = $W/catalog.db
[daemon]
policies = $W/policies
socket = $W/ctl.sock
[tier hot]
root = $W/hot
[tier warm]
root = $W/warm
CONF
export JTS_TIER_CONF=$CONF
# A catalog to compile against (status creates none; a scan-free way:
# the schema through a dry run of recover).
"$CTL" recover > /dev/null 2>&1 || true
[ -f "$W/catalog.db" ] || skip "cannot make a catalog here"

# bad NAME LINE MESSAGE: policy text on stdin must fail at NAME:LINE.
bad() {
	name=$1 line=$2 msg=$3
	cat > "$W/policies/$name.policy"
	out=$("$CTL" policy test "$name" 2>&1); rc=$?
	eq "$name: exit 2" "$rc" 2
	contains "$name: file:line and reason" "$out" "$name.policy:$line: $msg"
	out=$("$CTL" policy list 2>&1); rc=$?
	eq "$name: policy list refuses too" "$rc" 2
	rm -f "$W/policies/$name.policy"
}

bad unknown-key 3 "unknown key 'form' in [policy]" <<'P'
[policy]
from = hot
form = warm
P
bad unknown-section 1 "unknown section [rule]" <<'P'
[rule]
from = hot
P
bad no-tier 3 "to: no tier 'cold'" <<'P'
[policy]
from = hot
to = cold
P
bad same-tier 1 "from and to are both hot" <<'P'
[policy]
from = hot
to = hot
condition = 1
schedule = 1h
P
bad up-on-fill 1 "on_fill: a policy up (from warm to hot) runs on its schedule" <<'P'
[policy]
from = warm
to = hot
condition = 1
on_fill = yes
P
bad no-condition 1 "missing condition" <<'P'
[policy]
from = hot
to = warm
schedule = 1h
P
bad never-runs 1 "never runs" <<'P'
[policy]
from = hot
to = warm
condition = 1
P
bad bad-schedule 5 "bad schedule: 10x" <<'P'
[policy]
from = hot
to = warm
condition = 1
schedule = 10x
P
bad short-schedule 5 "bad schedule: 5s" <<'P'
[policy]
from = hot
to = warm
condition = 1
schedule = 5s
P
bad watermarks 1 "low_watermark 90% is above high_watermark 80%" <<'P'
[policy]
from = hot
to = warm
condition = 1
on_fill = yes
high_watermark = 80
low_watermark = 90
P
bad duplicate 5 "duplicate key 'to'" <<'P'
[policy]
from = hot
to = warm
condition = 1
to = warm
P
bad syntax 4 "condition: near" <<'P'
[policy]
from = hot
to = warm
condition = size >
schedule = 1h
P
bad unknown-column 4 "condition: no such column: sise" <<'P'
[policy]
from = hot
to = warm
condition = sise > 1
schedule = 1h
P
bad semicolon 4 "condition: ';' (one expression only)" <<'P'
[policy]
from = hot
to = warm
condition = 1; DELETE FROM files
schedule = 1h
P
bad comment 4 "condition: a comment (--)" <<'P'
[policy]
from = hot
to = warm
condition = 1 -- everything
schedule = 1h
P
bad unbalanced 4 "condition: unbalanced )" <<'P'
[policy]
from = hot
to = warm
condition = 1) OR (1
schedule = 1h
P
bad subquery 4 "condition: subqueries are not allowed" <<'P'
[policy]
from = hot
to = warm
condition = size > (SELECT size FROM files LIMIT 1)
schedule = 1h
P
bad aggregate 4 "condition: calls count()" <<'P'
[policy]
from = hot
to = warm
condition = size > (SELECT count(*) FROM files)
schedule = 1h
P
bad other-table 4 "condition: subqueries are not allowed" <<'P'
[policy]
from = hot
to = warm
condition = EXISTS (SELECT 1 FROM journal)
schedule = 1h
P
bad forbidden-fn 4 "condition: calls random(), which conditions may not use" <<'P'
[policy]
from = hot
to = warm
condition = random() > 0
schedule = 1h
P
bad load-ext 4 "condition: calls load_extension()" <<'P'
[policy]
from = hot
to = warm
condition = load_extension('/tmp/x.so') IS NULL
schedule = 1h
P
bad order-fn 5 "order: calls random()" <<'P'
[policy]
from = hot
to = warm
condition = 1
order = random()
schedule = 1h
P
bad long-line 4 "line longer than" <<P
[policy]
from = hot
to = warm
condition = $(printf 'size > 1 AND %.0s' $(seq 40)) 1
schedule = 1h
P

# A long condition continues on indented lines.
cat > "$W/policies/long.policy" <<'P'
[policy]
from = hot
to = warm
condition = size > kib(1)
	AND age > days(1)
	AND name NOT LIKE '%.tmp'
schedule = 1h
P
out=$("$CTL" policy list 2>&1); rc=$?
eq "continued condition: list exits 0" "$rc" 0
contains "continued condition is joined" "$out" \
    "condition: size > kib(1) AND age > days(1) AND name NOT LIKE '%.tmp'"
before=$(cat "$W/catalog.db" "$W/catalog.db-wal" 2>/dev/null | xxh128sum)
out=$("$CTL" policy test long 2>&1); rc=$?
eq "continued condition compiles" "$rc" 0
eq "policy test wrote nothing to the catalog" \
    "$(cat "$W/catalog.db" "$W/catalog.db-wal" 2>/dev/null | xxh128sum)" "$before"
eq "the catalog is unchanged by policy test" \
    "$(sqlite3 "$W/catalog.db" 'SELECT count(*) FROM policy_runs')" 0

# The daemon refuses to start on a broken policy, naming it.
printf '[policy]\nfrom = hot\nto = warm\ncondition = nope(\nschedule = 1h\n' \
	> "$W/policies/zz.policy"
if [ -x "$TIERD" ]; then
	out=$("$TIERD" 2>&1); rc=$?
	eq "jts-tierd with a broken policy exits 2" "$rc" 2
	contains "jts-tierd names the policy line" "$out" "zz.policy:4: condition"
fi
out=$("$CTL" policy test nosuch 2>&1); rc=$?
eq "policy test on a broken set exits 2" "$rc" 2
rm -f "$W/policies/zz.policy"
out=$("$CTL" policy test nosuch 2>&1); rc=$?
eq "policy test of an unknown policy exits 2" "$rc" 2
contains "and says so" "$out" "no policy nosuch"

# The shipped example policies load against the shipped example config.
sed -e "s|^policies = .*|policies = $(cd "${JTS_SRCDIR:-.}" && pwd)/policies|" \
    -e "s|^path = .*|path = $W/example-catalog.db|" \
    "${JTS_SRCDIR:-.}/jts-tier.conf.example" > "$W/example.conf"
out=$("$CTL" -c "$W/example.conf" policy list 2>&1); rc=$?
eq "example policies load: exit 0" "$rc" 0
eq "six example policies" "$(printf '%s\n' "$out" | grep -c '^[a-z].* -> ')" 6
contains "the WAL recall goes up" "$out" \
    "postgresql-wal-recall warm -> hot (up: recalls), every 15m"
contains "kafka watches its volume" "$out" \
    "kafka-segments       hot -> warm, every 6h 0m, and when hot/kafka is above 85% (down to 70%)"
contains "warm to cold" "$out" "warm-to-cold         warm -> cold, every 1d 0h"

# Config errors of the [daemon] section name their line.
printf '[daemon]\nscan_interval = 5\n[tier hot]\nroot = /x\n' > "$W/bad.conf"
out=$("$CTL" -c "$W/bad.conf" policy list 2>&1); rc=$?
eq "bad scan_interval: exit 2" "$rc" 2
contains "bad scan_interval: file:line" "$out" "bad.conf:2: bad scan_interval"
printf '[daemon]\nsocket = relative.sock\n[tier hot]\nroot = /x\n' > "$W/bad.conf"
out=$("$CTL" -c "$W/bad.conf" policy list 2>&1)
contains "relative socket: file:line" "$out" "bad.conf:2: socket must be an absolute path"
printf '[daemon]\npolicies = /p\nfanotify = maybe\n[tier hot]\nroot = /x\n' > "$W/bad.conf"
out=$("$CTL" -c "$W/bad.conf" policy list 2>&1)
contains "bad fanotify: file:line" "$out" "bad.conf:3: bad fanotify"
printf '[daemon]\nio_priority = high\n[tier hot]\nroot = /x\n' > "$W/bad.conf"
out=$("$CTL" -c "$W/bad.conf" policy list 2>&1)
contains "bad io_priority: file:line and the choices" "$out" \
    "bad.conf:2: bad io_priority: high (idle, low or normal)"
finish
