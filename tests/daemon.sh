#!/bin/bash
# daemon.sh - jts-tierd on real tiers (ext4 hot, btrfs warm): files with
# old ages move exactly as the policy says and as 'policy test' said they
# would; pinned, excluded, recently read and open files stay; limits and
# minimum residency hold; requests go through the control socket; a
# broken policy on reload keeps the old set; a second daemon is refused;
# SIGTERM stops it cleanly.  Judged with stat, readlink, xxh128sum and
# sqlite3.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
need_cmd python3
setup_tiers 512M 512M
[ -x "$TIERD" ] || skip "jts-tierd not built"

H=$W/hot
mkdir -p "$W/policies" "$H/pg/wal/keep" "$H/pg/base" "$H/ch/parts"
old() { touch -d '40 days ago' "$@"; }
for i in 01 02 03 04 05 06; do
	head -c $((100000 + 10#$i * 1000)) /dev/urandom > "$H/pg/wal/w$i"
done
old "$H"/pg/wal/w0[1-5]            # w06 is new: must stay
head -c 5000 /dev/urandom > "$H/pg/wal/w07.partial"; old "$H/pg/wal/w07.partial"
head -c 5000 /dev/urandom > "$H/pg/wal/pinned"; old "$H/pg/wal/pinned"
head -c 5000 /dev/urandom > "$H/pg/wal/keep/k1"; old "$H/pg/wal/keep/k1"
head -c 5000 /dev/urandom > "$H/pg/wal/readme"; old "$H/pg/wal/readme"
head -c 5000 /dev/urandom > "$H/pg/wal/busy"; touch -d "39 days ago" "$H/pg/wal/busy"
head -c 50000 /dev/urandom > "$H/pg/base/live"; old "$H/pg/base/live"
for i in 1 2 3 4 5; do
	head -c 20000 /dev/urandom > "$H/ch/parts/p$i"
	touch -d "$((60 - i)) days ago" "$H/ch/parts/p$i"
done
hash_manifest "$H" > "$W/manifest"

# A daemon with no policies yet: it scans and tracks.
start_daemon JTS_TIER_TRACK_FLUSH=0.3 || exit 1
wait_log "scan tier=warm" 20
# Its moves yield to the tiers' users: best-effort at the lowest level
# (io_priority = low, the default), judged with ionice.
eq "the daemon's I/O priority (ionice)" "$(ionice -p "$DPID")" \
    "best-effort: prio 7"
contains "no move_rate: the moves are not held back" \
    "$(grep 'started: pid' "$W/d.log")" "move rate unlimited"
contains "the first scan catalogues the hot tree" "$(grep 'scan tier=hot' "$W/d.log")" \
    "files=17 added=17"
eq "catalog has every hot file" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='hot'")" 17

# Pins through the daemon: a file, and a directory tree.
"$CTL" pin "$H/pg/wal/pinned" "$H/pg/wal/keep" >/dev/null; rc=$?
eq "pin exits 0" "$rc" 0
eq "pins are in the catalog" \
    "$(sqlite3 "$CAT" "SELECT group_concat(CAST(path AS TEXT), ',') FROM (SELECT path FROM pins ORDER BY path)")" \
    "pg/wal/keep,pg/wal/pinned"

# Reading a file makes it recent to the daemon (fanotify), whatever atime says.
cat "$H/pg/wal/readme" > /dev/null
wait_sql() {	# wait_sql SQL WANT
	for _ in $(seq 50); do
		[ "$(sqlite3 "$CAT" "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
ok "a read is recorded (atime_ns, heat)" wait_sql \
    "SELECT atime_ns > 0 AND heat > 0.9 FROM files WHERE path = CAST('pg/wal/readme' AS BLOB)" 1
eq "an unread file has no read recorded" \
    "$(sqlite3 "$CAT" "SELECT atime_ns IS NULL FROM files WHERE path = CAST('pg/wal/w01' AS BLOB)")" 1

# A file open for writing cannot be leased: the run skips it (a reader
# would not stop it; readers.sh).
exec 7>>"$H/pg/wal/busy"

cat > "$W/policies/wal.policy" <<'P'
# WAL archives idle for a month go to warm
[policy]
from = hot
to = warm
condition = path GLOB 'pg/wal/*'
	AND idle > days(30)
order = mtime ASC
schedule = 1h
min_residency = 1h
exclude = *.partial
P
# What the next run will move, asked before it runs.
"$CTL" policy test wal --json > "$W/test.json"; rc=$?
eq "policy test exits 0" "$rc" 0
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for f in d["files"]: print(f["path"])' "$W/test.json" > "$W/predicted"
eq "policy test lists the old WAL files in order, without pinned, excluded, read, new" \
    "$(tr '\n' ' ' < "$W/predicted")" "pg/wal/w01 pg/wal/w02 pg/wal/w03 pg/wal/w04 pg/wal/w05 pg/wal/busy "
eq "policy test changed nothing" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='warm'")" 0
json_tiers=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = {x["name"]: x for x in d["tiers"]}
print(d["count"], d["bytes"], t["hot"]["used_after"] < t["hot"]["used_now"],
      t["warm"]["used_after"] > t["warm"]["used_now"])' "$W/test.json")
eq "policy test projects the fill of both tiers" "$json_tiers" "6 520000 True True"

out=$("$CTL" reload); rc=$?
eq "reload exits 0" "$rc" 0
contains "reload says what it loaded" "$out" "reloaded: 1 policies"
wait_log "policy wal run=schedule moved=" 30
exec 7<&-

# Exactly the predicted files moved, except the open one, which was skipped.
moved=$(grep -oE 'move path=[^ ]+ from=hot to=warm .* result=ok' "$W/d.log" |
	sed -E 's|move path=[^ ]*/hot/([^ ]+) .*|\1|' | tr '\n' ' ')
eq "the run moved what policy test predicted (open file aside)" "$moved" \
    "pg/wal/w01 pg/wal/w02 pg/wal/w03 pg/wal/w04 pg/wal/w05 "
contains "the open file was skipped with its reason" "$(grep 'busy' "$W/d.log")" \
    "result=skipped"
for f in w01 w05; do
	eq "$f left a symlink to warm" "$(readlink "$H/pg/wal/$f")" "$W/warm/pg/wal/$f"
done
for f in w06 pinned keep/k1 readme busy w07.partial; do
	ok "$f stayed a regular file on hot" test -f "$H/pg/wal/$f" -a ! -L "$H/pg/wal/$f"
done
ok "live database file untouched" test -f "$H/pg/base/live" -a ! -L "$H/pg/base/live"
# Every byte is where the catalog says, intact.
( cd "$H" && while IFS=' ' read -r -d '' h f; do
	[ "$(xxh128sum < "$f" | cut -d' ' -f1)" = "$h" ] || echo "BAD $f"; done \
	< "$W/manifest" ) > "$W/bad"
eq "every file's content is intact through its path" "$(cat "$W/bad")" ""
eq "catalog: 5 files on warm with hashes" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='warm' AND home='hot' AND length(hash)=16")" 5
eq "a policy run is recorded" \
    "$(sqlite3 "$CAT" "SELECT policy, reason, files, failed FROM policy_runs")" "wal|schedule|5|0"

# explain: one line per policy and file, saying why.
out=$("$CTL" explain "$H/pg/wal/pinned" "$H/pg/wal/w07.partial" "$H/pg/wal/readme" "$H/pg/wal/w06" "$H/pg/base/live")
contains "explain: pinned by its directory or itself" "$out" "pinned by pg/wal/pinned"
contains "explain: excluded" "$out" "excluded by '*.partial'"
contains "explain: condition false for the read file" "$out" "condition false"
contains "explain: the new file is too recent for the condition" "$(printf "%s\n" "$out" | grep -A1 w06)" "condition false"

# Limits per run: at most 2 files, the oldest first.
cat > "$W/policies/parts.policy" <<'P'
[policy]
from = hot
to = warm
condition = path GLOB 'ch/parts/*' AND age > days(10)
order = mtime ASC
schedule = 1d
max_files = 2
leave = remove
P
"$CTL" reload > /dev/null
wait_log "policy parts run=schedule moved=" 30
eq "max_files: two files moved" \
    "$(sqlite3 "$CAT" "SELECT group_concat(CAST(path AS TEXT), ' ') FROM (SELECT path FROM files WHERE tier='warm' AND CAST(path AS TEXT) GLOB 'ch/*' ORDER BY path)")" \
    "ch/parts/p1 ch/parts/p2"
ok "leave = remove: no symlink left" test ! -e "$H/ch/parts/p1" -a ! -L "$H/ch/parts/p1"
ok "the others stayed" test -f "$H/ch/parts/p3"

# A run on request (root) through the socket moves the next two.
out=$("$CTL" policy run parts); rc=$?
eq "policy run exits 0" "$rc" 0
contains "policy run reports" "$out" "policy parts: 2 moved"
ok "p3 moved on request" test -f "$W/warm/ch/parts/p3"

# max_bytes and bandwidth: 3 of 4 files of 1 MiB fit under 3.5 MiB, moved
# at 1 MiB/s at most, so the run lasts about 3 s (a lower bound: a slow
# machine only makes it longer).
mkdir -p "$H/bw"
for i in 1 2 3 4; do head -c $((1 << 20)) /dev/urandom > "$H/bw/b$i"; done
touch -d '50 days ago' "$H/bw"/b*
cat > "$W/policies/bw.policy" <<'P'
[policy]
from = hot
to = warm
condition = path GLOB 'bw/*' AND age > days(10)
order = path
schedule = 1d
max_bytes = 3500K
bandwidth = 1M
P
"$CTL" reload > /dev/null
wait_log "policy bw run=schedule moved=" 30
line=$(grep 'policy bw run=schedule moved=' "$W/d.log")
contains "max_bytes: three files, 3 MiB" "$line" "moved=3 bytes=3145728"
secs=$(printf '%s\n' "$line" | sed -E 's/.*time=([0-9]+)\..*/\1/')
ok "bandwidth: 3 MiB at 1 MiB/s took at least 2 s (took ${secs}+ s)" test "$secs" -ge 2
contains "the selection said why it stopped" "$(cat "$W/d.log")" \
    "policy bw run=schedule selected=3 bytes=3145728 stop=max_bytes reached"
ok "b4 stayed" test -f "$H/bw/b4" -a ! -L "$H/bw/b4"
rm -f "$W/policies/bw.policy"
"$CTL" reload > /dev/null

# Minimum residency: a recalled file does not go straight back (its age
# still matches the condition; its residency on hot does not).
sed -i 's/^max_files = 2$/max_files = 2\nmin_residency = 1h/' "$W/policies/parts.policy"
"$CTL" reload > /dev/null
out=$("$CTL" recall "$H/ch/parts/p1"); rc=$?
eq "recall through the daemon exits 0" "$rc" 0
contains "recall through the daemon reports" "$out" "recall: 1 moved"
ok "p1 is back on hot" test -f "$H/ch/parts/p1" -a ! -L "$H/ch/parts/p1"
out=$("$CTL" policy run parts); rc=$?
contains "the next run moves the last other file, not p1" "$out" "policy parts: 1 moved"
ok "min_residency keeps the recalled file on hot" test -f "$H/ch/parts/p1" -a ! -L "$H/ch/parts/p1"
ok "p5 moved" test -f "$W/warm/ch/parts/p5"
contains "explain says why" "$("$CTL" explain "$H/ch/parts/p1" | grep parts)" \
    "matches, but on tier hot for"
contains "explain names the residency" "$("$CTL" explain "$H/ch/parts/p1" | grep parts)" \
    "min_residency is 1h 0m"
# A read makes a file hot: the recently read WAL segment no longer matches.
contains "explain: a file read a moment ago is not idle" \
    "$("$CTL" explain "$H/pg/wal/readme" | grep wal)" "condition false"

# A broken policy: reload reports file:line and keeps the set in force.
printf '[policy]\nfrom = hot\nto = warm\ncondition = size >\nschedule = 1h\n' \
	> "$W/policies/broken.policy"
out=$("$CTL" reload 2>&1); rc=$?
eq "reload with a broken policy exits 1" "$rc" 1
contains "reload names the file and line" "$out" "broken.policy:4: condition"
contains "the daemon logs it too" "$(cat "$W/d.log")" "the previous policies stay in force"
out=$("$CTL" status)
contains "status: the daemon still has two policies" "$out" "2 policies"
rm -f "$W/policies/broken.policy"

# Changes need root; reading status does not.
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	chmod 755 "$W" "$W/run"; chmod 666 "$W/run/ctl.sock"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" pin "$H/pg/wal/w06" 2>&1); rc=$?
	eq "pin as nobody is refused" "$rc" 1
	contains "refusal says root only" "$out" "root only"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" status 2>&1)
	contains "status as nobody shows the daemon" "$out" "daemon: pid $DPID"
	chmod 660 "$W/run/ctl.sock"
fi

# The protocol: a message of another version, a malformed one, an unknown
# request: each answered with a reason, and the daemon goes on.
proto=$(python3 - "$W/run/ctl.sock" <<'PY'
import json, socket, struct, sys
def call(raw):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(raw)
    try:
        n = struct.unpack(">I", s.recv(4))[0]
        return json.loads(s.recv(n))
    except Exception as e:
        return {"error": "closed"}
def msg(o):
    b = json.dumps(o).encode()
    return struct.pack(">I", len(b)) + b
r = call(msg({"v": 99, "cmd": "status"}))
print(r.get("exit"), r.get("error"))
r = call(struct.pack(">I", 5) + b"nope!")
print(r.get("exit"), r.get("error"))
r = call(msg({"v": 1, "cmd": "format-disk"}))
print(r.get("exit"), r.get("error"))
r = call(msg({"v": 1, "cmd": "migrate", "paths": ["/tmp/a\u0000/../etc"]}))
print(r.get("exit"), r.get("error"))
r = call(msg({"v": 1, "cmd": "pin", "path": "a\u0000b"}))
print(r.get("exit"), r.get("error"))
r = call(msg({"v": 1, "cmd": "recall", "paths": [7]}))
print(r.get("exit"), r.get("error"))
r = call(struct.pack(">I", 0x7fffffff))
print(r.get("exit"), r.get("error"))
PY
)
contains "another protocol version is refused" "$proto" "2 protocol version 99 not spoken here (this daemon: 1)"
contains "a malformed message is refused" "$proto" "2 malformed message"
contains "an unknown request is refused" "$proto" "2 unknown request 'format-disk'"
contains "a path with a NUL byte is refused" "$proto" \
    "2 migrate: path 1 is not a non-empty string without NUL bytes"
contains "a pin path with a NUL byte is refused" "$proto" \
    "2 path: contains a NUL byte"
contains "a path that is not a string is refused" "$proto" \
    "2 recall: path 1 is not a non-empty string without NUL bytes"
eq "the daemon still answers" "$("$CTL" status >/dev/null 2>&1; echo $?)" 0

# One engine at a time.
out=$("$TIERD" 2>&1); rc=$?
eq "a second daemon exits 1" "$rc" 1
contains "and says another engine runs" "$out" "running (pid $DPID"
out=$("$CTL" recover 2>&1); rc=$?
eq "recover goes to the running daemon: exit 0" "$rc" 0
contains "recover: the daemon's answer" "$out" "recover: nothing left unfinished"

# SIGTERM: exit 0, socket removed.
stop_daemon; rc=$?
eq "SIGTERM: exit 0" "$rc" 0
ok "socket removed" test ! -e "$W/run/ctl.sock"
contains "stop logged" "$(tail -2 "$W/d.log")" "stopped"
eq "catalog integrity" "$(sqlite3 "$CAT" 'PRAGMA integrity_check')" ok
eq "no temporaries left" "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' | wc -l)" 0
finish
