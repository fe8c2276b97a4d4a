#!/bin/bash
# readers.sh - readers never disturb a move.  A tree moves in every
# direction (hot -> warm, warm -> NAS, NAS -> hot, hot -> warm, warm ->
# hot), through the CLI and through the daemon, while it is read: a
# loop of sequential reads through the home paths, descriptors opened
# before the move and held across it, read-only mappings, and a reader
# of the old file started just before its release.  Every read must
# return the file's content (judged with SHA-256 against the tree as
# made); after every round: every move moved every file, each file is
# whole and on exactly one tier, no conflict, no temporary, and
# 'check --verify' is OK.  Then moves killed at each step under the same
# readers, recovered.  Then the sequence of the bug report (cat
# loops through the links while the tree goes to the NAS and back), six
# rounds, 'check' OK after each.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_hooks
need_cmd python3 sqlite3
setup_tiers 1G 1G
start_nas "$W/export"
add_cold "$NAS_DIR"

H=$W/hot/r
N=203
mkdir -p "$H"
# 200 files of 0-9 KB, and three large enough to be read during a copy.
python3 - "$H" <<'PY'
import os, sys
d = sys.argv[1]
for i in range(200):
    with open(os.path.join(d, "f%03d" % i), "wb") as f:
        f.write(os.urandom((i * 47) % 9217))
for i, mb in enumerate((1, 4, 16)):
    with open(os.path.join(d, "big%d" % i), "wb") as f:
        f.write(os.urandom(mb << 20))
PY
python3 - "$H" > "$W/want.sha" <<'PY'
import hashlib, os, sys
d = sys.argv[1]
for n in sorted(os.listdir(d)):
    with open(os.path.join(d, n), "rb") as f:
        print(hashlib.sha256(f.read()).hexdigest(), n)
PY
eq "the tree has $N files" "$(wc -l < "$W/want.sha")" "$N"
cp -a "$H" "$W/orig"
# The sanitizer pass (JTS_TEST_SHARE=2) runs one round of each kind, half
# the kills and half the report's rounds: the same paths, fewer times.
SHARE=${JTS_TEST_SHARE:-1}

# The readers: MODE is loop (read every file through its home path
# again and again), hold (open every file first, read each descriptor
# at the end), map (map every non-empty file read-only, read the maps
# again and again), late (read every hidden old file a release leaves
# for a moment).  Each writes "reads=N bad=M" to OUT when STOP appears;
# a bad read is an error or content that is not the file's.
cat > "$W/reader.py" <<'PY'
import glob, hashlib, mmap, os, sys, time
mode, d, want, stop, out, top, orig = sys.argv[1:8]
sha = {}
for line in open(want):
    h, n = line.split()
    sha[n] = h
# The content as made: a copy outside the tiers, its hashes checked.
data0 = {}
for n in sha:
    with open(os.path.join(orig, n), "rb") as f:
        data0[n] = f.read()
    if hashlib.sha256(data0[n]).hexdigest() != sha[n]:
        sys.exit("pristine copy of %s differs" % n)
contents = set(data0.values())
reads = bad = 0
why = []
def judge(name, data):
    global reads, bad
    reads += 1
    if data != data0[name]:
        bad += 1
        why.append("%s: %d bytes, not its content" % (name, len(data)))
def read(name, path):
    global bad
    try:
        with open(path, "rb") as f:
            judge(name, f.read())
    except OSError as e:
        bad += 1
        why.append("%s: %s" % (name, e))
held = {}
maps = {}
if mode == "hold":
    for n in sha:
        held[n] = os.open(os.path.join(d, n), os.O_RDONLY)
if mode == "map":
    for n in sha:
        fd = os.open(os.path.join(d, n), os.O_RDONLY)
        if os.fstat(fd).st_size > 0:
            maps[n] = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
        os.close(fd)
open(out + ".ready", "w").close()
seen = set()
while not os.path.exists(stop):
    if mode == "loop":
        for n in sha:
            read(n, os.path.join(d, n))
        time.sleep(0.01)
    elif mode == "map":
        for n, m in maps.items():
            judge(n, m[:])
        time.sleep(0.05)
    elif mode == "late":
        # Old files at their hidden names (.jts-tier-ID.lnk or .rm)
        # beside a name of the tree, on any tier.
        for p in glob.glob(top + "/**/.jts-tier-*.[lr][nm]*",
                           recursive=True):
            if p in seen:
                continue
            seen.add(p)
            try:
                fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
            except OSError:
                continue        # gone already: released
            try:
                data = os.read(fd, 64 << 20)
            finally:
                os.close(fd)
            # Whose content it is: any file of the tree.
            reads += 1
            if data not in contents:
                bad += 1
                why.append("%s: not a file of the tree" % p)
        time.sleep(0.002)
    else:
        time.sleep(0.05)
for n, fd in held.items():
    os.lseek(fd, 0, 0)
    data = b""
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        data += b
    judge(n, data)
    os.close(fd)
for n, m in maps.items():
    judge(n, m[:])
with open(out, "w") as f:
    f.write("reads=%d bad=%d\n" % (reads, bad))
    for w in why[:5]:
        f.write(w + "\n")
PY

# readers_start ROUND: the four readers, each until $W/stop appears.
readers_start() {
	rm -f "$W/stop" "$W"/rd-*
	RPIDS=
	for m in loop hold map late; do
		python3 "$W/reader.py" $m "$H" "$W/want.sha" "$W/stop" \
		    "$W/rd-$m" "$W" "$W/orig" &
		RPIDS="$RPIDS $!"
	done
	for m in loop hold map late; do
		for _ in $(seq 1 500); do
			[ -e "$W/rd-$m.ready" ] && break
			sleep 0.01
		done
	done
}

# readers_stop WHAT: stop them; every reader read, and nothing wrong.
readers_stop() {
	touch "$W/stop"
	wait $RPIDS
	for m in loop hold map late; do
		r=$(head -1 "$W/rd-$m" 2>/dev/null)
		eq "$1: $m reader: no bad read ($(tail -n +2 "$W/rd-$m" 2>/dev/null | tr '\n' ';'))" \
		    "${r#*bad=}" 0
		[ $m = late ] && continue
		ok "$1: $m reader read ($r)" [ "$(echo "$r" | sed 's/reads=\([0-9]*\).*/\1/')" -gt 0 ]
	done
}

# moved WHAT OUT: the move's summary says all N files moved, 0 failed.
moved() {
	contains "$1: $N moved" "$2" ": $N moved"
	contains "$1: none failed" "$2" " 0 failed"
}

# settled WHAT: each file whole through its home path, on exactly one
# tier as a regular file, no conflict and no open journal row, no
# temporary anywhere, and check --verify OK.
settled() {
	local n
	eq "$1: every file's content through its home path" \
	    "$(cd "$H" && sha256sum $(cut -d' ' -f2 "$W/want.sha") | sed 's/  / /')" \
	    "$(cat "$W/want.sha")"
	n=$(find "$W/hot/r" "$W/warm/r" "$NAS_DIR/r" -type f \
	    ! -name '.jts-tier-*' 2>/dev/null | wc -l)
	eq "$1: each file on exactly one tier" "$n" "$N"
	eq "$1: no conflict, no open journal row" "$(sqlite3 "$CAT" \
	    "select count(*) from journal where state not in ('done','aborted')")" 0
	eq "$1: no temporary or kept old file" "$(find "$W/hot" "$W/warm" \
	    "$NAS_DIR" -name '.jts-tier-*' 2>/dev/null | wc -l)" 0
	out=$("$CTL" check --verify 2>&1); rc=$?
	eq "$1: check --verify OK ($(echo "$out" | head -3 | tr '\n' ' '))" "$rc" 0
}

"$CTL" scan >/dev/null 2>&1

# round HOW: the five moves with the readers, each judged.
round() {
	local how=$1 out
	readers_start
	out=$(JTS_TIER_PAUSE=release:50 "$CTL" migrate --no-progress "$H" 2>&1)
	moved "$how hot -> warm" "$out"
	out=$("$CTL" migrate --to cold --no-progress "$H" 2>&1)
	moved "$how warm -> NAS" "$out"
	readers_stop "$how hot -> warm -> NAS"
	settled "$how after hot -> warm -> NAS"
	readers_start
	out=$("$CTL" recall --no-progress "$H" 2>&1)
	moved "$how NAS -> hot" "$out"
	out=$("$CTL" migrate --no-progress "$H" 2>&1)
	moved "$how hot -> warm again" "$out"
	out=$(JTS_TIER_PAUSE=release:50 "$CTL" recall --no-progress "$H" 2>&1)
	moved "$how warm -> hot" "$out"
	readers_stop "$how NAS -> hot -> warm -> hot"
	settled "$how after NAS -> hot -> warm -> hot"
}

round "CLI 1:"
[ "$SHARE" -ge 2 ] || round "CLI 2:"

# Through the daemon: the CLI hands the moves over.
start_daemon || ok "the daemon started" false
round "daemon 1:"
[ "$SHARE" -ge 2 ] || round "daemon 2:"
stop_daemon
eq "the daemon stopped cleanly" "$?" 0

# Kills while it is read: a move of the tree killed at each step of the
# protocol, recovered and recalled, the readers on all along.
k=0
for f in journaled synced verified renamed committed released; do
	k=$((k + 1))
	[ $((k % SHARE)) -eq 0 ] || continue
	readers_start
	JTS_TIER_FAULT=$f "$CTL" migrate -q --no-progress "$H" >/dev/null 2>&1
	rc=$?
	eq "killed at $f: the move was killed" "$rc" 137
	"$CTL" recover >/dev/null 2>&1
	"$CTL" recall -q --no-progress "$H" >/dev/null 2>&1
	readers_stop "killed at $f"
	settled "killed at $f, recovered, recalled"
done

# The sequence of the report: cat loops through the links while the tree
# goes to the NAS and back; check after each of six rounds.
for r in $(seq 1 $((6 / SHARE))); do
	"$CTL" scan >/dev/null 2>&1
	"$CTL" migrate -q --no-progress "$H" >/dev/null 2>&1
	(for _ in $(seq 1 30); do cat "$H"/* >/dev/null 2>&1; done) &
	cpid=$!
	"$CTL" migrate -q --to cold --no-progress "$H" >/dev/null 2>&1
	"$CTL" recall -q --no-progress "$H" >/dev/null 2>&1
	"$CTL" migrate -q --no-progress "$H" >/dev/null 2>&1
	"$CTL" recall -q --no-progress "$H" >/dev/null 2>&1
	wait $cpid
	"$CTL" recover >/dev/null 2>&1
	"$CTL" recall -q --no-progress "$H" >/dev/null 2>&1
	out=$("$CTL" check 2>&1); rc=$?
	eq "report round $r: check OK ($(echo "$out" | head -3 | tr '\n' ' '))" "$rc" 0
	contains "report round $r: 0 problems" "$out" " 0 problems"
done
settled "after the report's rounds"
finish
