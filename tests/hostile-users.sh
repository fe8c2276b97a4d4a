#!/bin/bash
# hostile-users.sh - what an ordinary local account can try against the
# root daemon and tools, each attack run as a user this test creates (and
# removes): the owner of a directory inside the hot tier, and a member of
# the socket's group.  Each must fail: the victim file unchanged, the
# daemon up and answering root's status within a second, its CPU idle
# afterwards, check returning.  Judged with xxh128sum, stat, /proc and a
# client of the control protocol written here in Python.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd python3 useradd userdel groupadd groupdel setpriv timeout prlimit
setup_tiers 1G 1G
# It times the daemon's answers: not beside a Ceph cluster's start.
cpu_lock -x
[ -x "$TIERD" ] || skip "jts-tierd not built"

EVIL=jtsevil$$
GRP=jtsstat$$
groupadd "$GRP" || skip "cannot create a group"
T_CLEANUP="userdel $EVIL 2>/dev/null; groupdel $GRP 2>/dev/null"
useradd -M -N -g "$GRP" -s /usr/sbin/nologin "$EVIL" ||
    skip "cannot create a user"
chmod 755 "$W"
# as_evil CMD...: run as the user, in its group.
as_evil() {
	setpriv --reuid="$EVIL" --regid="$GRP" --init-groups "$@"
}
PY=/usr/bin/python3	# not root's own interpreter: one the user can run
[ -x "$PY" ] || skip "needs $PY"
printf 'socket_group = %s\n' "$GRP" > "$W/sg"
sed -i "/^\[daemon\]/r $W/sg" "$CONF"
mkdir -p "$W/run" "$W/policies" "$W/hot/u"
chown "$EVIL:$GRP" "$W/hot/u"
U=$W/hot/u

# A client of the control protocol: frames of a 4-byte length and JSON.
cat > "$W/client.py" <<'PY'
import json, os, socket, struct, sys, time

def frame(obj, extra=b""):
    b = json.dumps(obj).encode() + extra
    return struct.pack(">I", len(b)) + b

def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

def read_frames(s, until_result=True, timeout=120):
    s.settimeout(timeout)
    buf, out = b"", []
    while True:
        while len(buf) >= 4:
            n = struct.unpack(">I", buf[:4])[0]
            if len(buf) < 4 + n:
                break
            raw = buf[4:4 + n]
            buf = buf[4 + n:]
            raw.decode("utf-8")          # strict: invalid UTF-8 raises
            m = json.loads(raw)
            out.append(m)
            if until_result and m.get("type") == "result":
                return out
        d = s.recv(65536)
        if not d:
            return out
        buf += d

cmd, sock = sys.argv[1], sys.argv[2]
if cmd == "flood":            # status requests, never read; hold on
    s = connect(sock)
    s.setblocking(False)
    sent = 0
    msg = frame({"v": 1, "cmd": "status"})
    end = time.time() + float(sys.argv[3])
    while sent < 20000 and time.time() < end:
        try:
            s.send(msg)
            sent += 1
        except BlockingIOError:
            time.sleep(0.01)
    print(sent, flush=True)
    time.sleep(float(sys.argv[4]))
elif cmd == "partial":        # N connections each with an unfinished frame
    conns = []
    for i in range(int(sys.argv[3])):
        try:
            s = connect(sock)
        except OSError:
            break
        s.setblocking(False)
        try:
            s.send(struct.pack(">I", 1 << 20) + b"x" * 65000)
        except (BlockingIOError, OSError):
            pass
        conns.append(s)
    print(len(conns), flush=True)
    time.sleep(float(sys.argv[4]))
elif cmd == "idle":           # N idle connections
    conns = []
    # A connect the daemon cannot accept (EMFILE) fails at once while
    # the backlog is full (EAGAIN): tried again for up to 6 s in all,
    # rather than waiting until the daemon times idle clients out.
    end = time.time() + 6
    while len(conns) < int(sys.argv[3]) and time.time() < end:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(sock)
        except BlockingIOError:
            s.close()
            time.sleep(0.05)
            continue
        except OSError:
            s.close()
            break
        conns.append(s)
    print(len(conns), flush=True)
    time.sleep(float(sys.argv[4]))
elif cmd == "slow":           # a request, read only after a while
    s = connect(sock)
    req = json.loads(sys.argv[3])
    req["v"] = 1
    s.send(frame(req))
    time.sleep(float(sys.argv[4]))
    for m in read_frames(s):
        print(json.dumps(m))
elif cmd == "trailing":       # a frame with bytes after its object
    s = connect(sock)
    s.send(frame({"v": 1, "cmd": "status"}, b" {}"))
    for m in read_frames(s):
        print(json.dumps(m))
PY
client() { python3 "$W/client.py" "$@"; }
SOCK=$W/run/ctl.sock

# fast_status NAME: root's status through the daemon answers in < 1 s.
fast_status() {
	local t0 t1 rc
	t0=$(date +%s%N)
	timeout 10 "$CTL" status >"$W/st.out" 2>&1; rc=$?
	t1=$(date +%s%N)
	eq "$1: root's status answers" "$rc" 0
	ok "$1: within a second ($(( (t1 - t0) / 1000000 )) ms)" \
	    test $(( (t1 - t0) / 1000000 )) -lt 1000
	contains "$1: from the daemon" "$(cat "$W/st.out")" "daemon: pid $DPID,"
}
# cpu_ticks PID: user + system time in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
# idle_cpu NAME: the daemon uses under 0.3 s of CPU in the next 3 s.
idle_cpu() {
	local a b
	a=$(cpu_ticks "$DPID")
	sleep 3
	b=$(cpu_ticks "$DPID")
	ok "$1: daemon idle afterwards ($((b - a)) ticks in 3 s)" \
	    test $((b - a)) -lt 30
}
alive() {
	ok "$1: the daemon is up" kill -0 "$DPID"
}

# A victim: a root-owned 0600 file anyone would want to overwrite.
echo "root's secret" > "$W/victim"
chmod 600 "$W/victim"
VSUM=$(xxh128sum < "$W/victim")
victim_intact() {
	eq "$1: victim content unchanged" "$(xxh128sum < "$W/victim")" "$VSUM"
	eq "$1: victim still root's 0600" "$(stat -c '%U %a %h' "$W/victim")" \
	    "root 600 1"
}

# 1. Root's output files: symlinks planted at every name root could use
# in a directory the user owns (a textfile collector's).
mkdir -p "$W/textfile"
chown "$EVIL:$GRP" "$W/textfile"
as_evil ln -s "$W/victim" "$W/textfile/jts-tier.prom"
as_evil ln -s "$W/victim" "$W/textfile/ages.svg"
# The names the old code used: FILE.PID.tmp, for the pids to come.
as_evil "$PY" -c '
import os, sys
for p in range(int(sys.argv[2]) - 50, int(sys.argv[2]) + 2000):
    for n in ("jts-tier.prom", "ages.svg"):
        os.symlink(sys.argv[1], "%s/%s.%d.tmp" % (sys.argv[3], n, p))' \
    "$W/victim" $$ "$W/textfile"
"$CTL" scan >/dev/null 2>&1
"$CTL" metrics -o "$W/textfile/jts-tier.prom" >"$W/out" 2>&1
eq "metrics -o: exit" "$?" 0
victim_intact "metrics -o"
regular "metrics -o: a regular file replaced the planted link" "$W/textfile/jts-tier.prom"
eq "metrics -o: the file is root's, mode 0644" \
    "$(stat -c '%U %a' "$W/textfile/jts-tier.prom")" "root 644"
contains "metrics -o: holds the metrics" "$(cat "$W/textfile/jts-tier.prom")" \
    "jts_tier_files{tier=\"hot\"}"
"$CTL" report --svg "$W/textfile/ages.svg" >"$W/out" 2>&1
eq "report --svg: exit" "$?" 0
victim_intact "report --svg"
regular "report --svg: a regular file replaced the planted link" "$W/textfile/ages.svg"
contains "report --svg: holds the chart" "$(head -c 300 "$W/textfile/ages.svg")" "<svg"
eq "no temporaries left in the directory" \
    "$(find "$W/textfile" -name '.*.tmp' | wc -l)" 0
# check's state file beside the catalog: links at its old names.
ln -s "$W/victim" "$CAT.check.tmp"
"$CTL" check >/dev/null 2>&1
victim_intact "check's state file"
regular "check's state file: a regular file" "$CAT.check"
contains "check's state file: holds the result" "$(cat "$CAT.check")" "status=0"
rm -f "$CAT.check.tmp"
# An unwritable output directory: an error naming the file, no crash.
as_evil mkdir "$W/textfile/ro"
chmod 555 "$W/textfile/ro"
out=$(as_evil "$CTL" metrics -o "$W/textfile/ro/x.prom" 2>&1); rc=$?
eq "metrics -o into a directory it cannot write: exit 1" "$rc" 1
contains "metrics -o: says which file and why" "$out" \
    "$W/textfile/ro/x.prom: cannot write the metrics: Permission denied"

# 2. A tree 16,000 directories deep under the user's own directory.
as_evil "$PY" -c '
import os, sys
os.chdir(sys.argv[1])
for i in range(16000):
    os.mkdir("d")
    os.chdir("d")
open("deep-file", "w").write("x")' "$U"
echo shallow > "$U/shallow"
out=$("$CTL" scan 2>&1); rc=$?
ok "scan of the deep tree: no crash (exit $rc)" test "$rc" -lt 2
contains "scan of the deep tree: says where it stopped" "$out" \
    "directories nested more than 256 deep: not scanned beneath"
eq "scan of the deep tree: the shallow file is catalogued" \
    "$(sqlite3 "$CAT" "select count(*) from files where path = cast('u/shallow' as blob)")" 1
start_daemon || exit 1
wait_log "scan tier=warm" 60
alive "deep tree at the daemon's first scan"
contains "deep tree: the daemon's scan counts it" "$(grep 'scan tier=hot' "$W/d.log")" \
    "too_deep=1"
fast_status "deep tree"
stop_daemon
eq "deep tree: the daemon stopped cleanly" "$?" 0
start_daemon || exit 1
wait_log "scan tier=warm" 60
alive "deep tree at a restart's scan"
# The deep tree goes: nothing below needs it.
rm -rf "$U/d"

# 3. A socket-group member floods status requests and never reads.
as_evil "$PY" "$W/client.py" flood "$SOCK" 3 20 > "$W/flood.out" 2>&1 &
FLOOD=$!
sleep 4
fast_status "status flood"
out=$(timeout 10 "$CTL" pin "$U/shallow" 2>&1); rc=$?
eq "status flood: root's pin answers" "$rc" 0
t0=$(date +%s)
kill -TERM "$DPID"
wait "$DPID"; rc=$?
t1=$(date +%s)
DPID=
eq "status flood: SIGTERM stops the daemon" "$rc" 0
ok "status flood: SIGTERM does not wait for the client ($((t1 - t0)) s)" \
    test $((t1 - t0)) -lt 5
kill "$FLOOD" 2>/dev/null; wait "$FLOOD" 2>/dev/null
sent=$(head -1 "$W/flood.out")
case $sent in *[!0-9]*|'') cat "$W/flood.out"; sent=0 ;; esac
ok "status flood: the client got its requests in ($sent sent)" test "$sent" -gt 100
start_daemon || exit 1

# 4. Root's requests with a slow reader: every result arrives.
mkdir -p "$W/hot/many"
python3 -c '
import os, sys
for i in range(3000):
    open(os.path.join(sys.argv[1], "f%05d" % i), "wb").write(os.urandom(512))' "$W/hot/many"
client slow "$SOCK" "{\"cmd\":\"migrate\",\"paths\":[\"$W/hot/many\"]}" 15 > "$W/slow.out" 2>&1
eq "slow reader: the result arrived" \
    "$(tail -1 "$W/slow.out" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["type"], m["exit"])')" \
    "result 0"
contains "slow reader: the result counts every file" "$(tail -1 "$W/slow.out")" \
    "migrate: 3000 moved"
contains "slow reader: dropped progress lines are said" "$(cat "$W/slow.out")" \
    "progress line(s) not shown: this client read too slowly"
eq "slow reader: all 3000 moved (links at home)" \
    "$(find "$W/hot/many" -type l | wc -l)" 3000
eq "slow reader: all 3000 on warm" "$(count_files "$W/warm/many")" 3000
# -q through the daemon: no line per file.
"$CTL" recall -q "$W/hot/many" > "$W/q.out" 2>&1
eq "recall -q: exit" "$?" 0
eq "recall -q: one line, the result" "$(wc -l < "$W/q.out")" 1
contains "recall -q: the result" "$(cat "$W/q.out")" "recall: 3000 moved"
eq "recall -q: all 3000 at home" "$(count_files "$W/hot/many")" 3000
fast_status "after the slow reader"

# 5. check --verify when the owner swaps its moved file for a FIFO.
head -c 200000 /dev/urandom > "$U/moved"
chown "$EVIL:$GRP" "$U/moved"
"$CTL" migrate -q "$U/moved" >/dev/null 2>&1
eq "fifo: the file moved" "$(readlink "$U/moved")" "$W/warm/u/moved"
eq "fifo: warm's directory is the user's" "$(stat -c %U "$W/warm/u")" "$EVIL"
as_evil rm "$W/warm/u/moved"
as_evil mkfifo "$W/warm/u/moved"
out=$(timeout 60 "$CTL" check --verify 2>&1); rc=$?
ok "fifo: check --verify returns (exit $rc, not a timeout)" test "$rc" -ne 124
eq "fifo: check --verify says CRITICAL" "$rc" 2
contains "fifo: names the file and why" "$out" "$W/warm/u/moved"
contains "fifo: not a regular file" "$out" "not a regular file"
as_evil rm "$W/warm/u/moved"
rm -f "$U/moved"
sqlite3 "$CAT" "delete from files where path = cast('u/moved' as blob)"

# 6. Policies that would stall the daemon: a huge value, a slow selection.
python3 -c '
import os, sys
os.makedirs(sys.argv[1] + "/pol", exist_ok=True)
for i in range(6000):
    open(sys.argv[1] + "/pol/p%05d" % i, "w").write("x")' "$W/hot"
"$CTL" scan >/dev/null 2>&1
cat > "$W/policies/huge.policy" <<'EOF'
[policy]
from = hot
to = warm
condition = length(printf('%.*c', 30000000 + size*0, name)) < 0
order = mtime ASC
on_fill = yes
EOF
cat > "$W/policies/slow.policy" <<'EOF'
[policy]
from = hot
to = warm
condition = length(replace(replace(replace(replace(replace(replace(
	replace(replace(printf('%4000c', name), ' ', '  '), ' ', '  '),
	' ', '  '), ' ', '  '), ' ', '  '), ' ', '  '), ' ', '  '),
	' ', '  ')) < size * 0
order = mtime ASC
on_fill = yes
EOF
printf 'policy_timeout = 2s\n' > "$W/pt"
sed -i "/^\[daemon\]/r $W/pt" "$CONF"
out=$("$CTL" reload 2>&1)
eq "policies: reloaded" "$?" 0
contains "policies: both loaded" "$out" "reloaded: 2 policies"
# printf's width and precision are bounded: the run fails at once.
t0=$(date +%s%N)
out=$(timeout 60 "$CTL" policy run huge 2>&1); rc=$?
t1=$(date +%s%N)
eq "huge value: the run fails" "$rc" 1
contains "huge value: says why" "$out" "printf: a width or precision over 4096"
ok "huge value: at once ($(( (t1 - t0) / 1000000 )) ms)" \
    test $(( (t1 - t0) / 1000000 )) -lt 3000
timeout 60 "$CTL" policy run slow > "$W/slow-policy.out" 2>&1 &
RUN=$!
sleep 0.5
fast_status "slow policy, while it runs"
wait "$RUN"; rc=$?
eq "slow policy: the run fails" "$rc" 1
contains "slow policy: stopped at policy_timeout" "$(cat "$W/slow-policy.out")" \
    "the selection took longer than 2 s ([daemon] policy_timeout) and was stopped"
fast_status "after the slow policy"
idle_cpu "after the slow policy"
rm -f "$W/policies/huge.policy" "$W/policies/slow.policy"
"$CTL" reload >/dev/null 2>&1

# 7. Many connections, each with an unfinished 1 MiB frame, then many
# idle ones: capped, and memory stays put.
rss0=$(awk '/^VmRSS/ { print $2 }' "/proc/$DPID/status")
as_evil "$PY" "$W/client.py" partial "$SOCK" 150 6 > "$W/partial.out" 2>&1 &
P=$!
sleep 3
rss1=$(awk '/^VmRSS/ { print $2 }' "/proc/$DPID/status")
ok "unfinished frames: RSS grew by $(( (rss1 - rss0) / 1024 )) MiB (< 16)" \
    test $(( rss1 - rss0 )) -lt 16384
fast_status "unfinished frames"
wait "$P"
as_evil "$PY" "$W/client.py" idle "$SOCK" 200 8 > "$W/idle.out" 2>&1 &
P=$!
sleep 2
fast_status "200 idle clients of the group (root keeps its place)"
alive "200 idle clients"
wait "$P"
idle_cpu "after the idle clients"
stop_daemon
# Under a low open-file limit: accept fails with EMFILE.
start_daemon || exit 1
prlimit --pid "$DPID" --nofile=40:40
as_evil "$PY" "$W/client.py" idle "$SOCK" 60 10 > "$W/emfile.out" 2>&1 &
P=$!
wait_log "cannot accept a client" 10
idle_cpu "EMFILE: while accept fails"
contains "EMFILE: said in the log" "$(cat "$W/d.log")" \
    "control socket: cannot accept a client: Too many open files"
wait "$P"
sleep 1.5
fast_status "EMFILE: once the clients have gone"
stop_daemon

# 8. Names that would forge log fields or reach terminals raw.
start_daemon || exit 1
forged='x from=cold to=hot bytes=999 time=0s result=failed reason=forged'
c1=$(printf 'c1-\xc2\x9b31m-name')
bidi=$(printf 'bidi-\xe2\x80\xaecod.exe')
raw=$(printf 'raw-\xff\xfe')
for n in "$forged" "$c1" "$bidi" "$raw"; do
	as_evil sh -c 'echo data > "$1"' sh "$U/$n"
done
"$CTL" migrate "$U" > "$W/names.out" 2>&1
eq "names: migrate through the daemon" "$?" 0
line=$(grep -a "move path=\"$U/x from=cold" "$W/d.log")
contains "forged fields: the name is one quoted field" "$line" \
    "move path=\"$U/$forged\" from=hot to=warm"
contains "forged fields: the real result" "$line" "result=ok"
# Split as a log reader would (shell-like quoting): one result field.
eq "forged fields: one result field, one path field" \
    "$(printf '%s' "$line" | python3 -c '
import shlex, sys
t = shlex.split(sys.stdin.read().split(": ", 1)[1])
print(sum(x.startswith("result=") for x in t),
      sum(x.startswith("reason=") for x in t),
      [x for x in t if x.startswith("path=")][0])')" \
    "1 0 path=$U/$forged"
ok "no C1 control in the client's output" sh -c '! grep -aq "$(printf "\302\233")" "$1"' sh "$W/names.out"
ok "no bidi override in the client's output" sh -c '! grep -aq "$(printf "\342\200\256")" "$1"' sh "$W/names.out"
ok "no raw invalid bytes in the client's output" sh -c '! grep -aq "$(printf "\377")" "$1"' sh "$W/names.out"
ok "no C1, bidi or raw bytes in the daemon's log" sh -c \
    '! grep -aqE "$(printf "\302\233|\342\200\256|\377")" "$1"' sh "$W/d.log"
contains "C1 shown escaped" "$(cat "$W/names.out")" 'c1-\u009b31m-name'
contains "bidi shown escaped" "$(cat "$W/names.out")" 'bidi-\u202ecod.exe'
contains "raw bytes shown escaped" "$(cat "$W/names.out")" 'raw-\377\376'
client slow "$SOCK" "{\"cmd\":\"recall\",\"paths\":[\"$U\"]}" 0 > "$W/json.out" 2>&1
eq "progress JSON is valid UTF-8 (strict decode)" \
    "$(tail -1 "$W/json.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["exit"])')" 0
for n in "$forged" "$c1" "$bidi" "$raw"; do
	regular "names: $(printf '%q' "$n") back at home" "$U/$n"
done

# 9. An empty path, and trailing bytes after a frame's JSON.
(cd "$U" && "$CTL" migrate "" > "$W/empty.out" 2>&1); rc=$?
eq "empty path: refused (usage, exit 2)" "$rc" 2
contains "empty path: says why" "$(cat "$W/empty.out")" "an empty path names no file"
eq "empty path: nothing in the current directory moved" \
    "$(find "$U" -type l | wc -l)" 0
as_evil "$PY" "$W/client.py" trailing "$SOCK" > "$W/trail.out" 2>&1
contains "trailing bytes: refused" "$(cat "$W/trail.out")" "malformed message"
fast_status "after the refusals"
idle_cpu "at the end"

"$CTL" check >/dev/null 2>&1
eq "check OK at the end" "$?" 0
victim_intact "at the end"
stop_daemon
eq "the daemon stopped cleanly" "$?" 0
finish
