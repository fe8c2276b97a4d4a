#!/bin/bash
# stubs.sh - leave = stub: a moved file leaves a stub of its size, owner,
# mode, xattrs, ACLs and times, holding no data, and the first read, write,
# truncate or mapping of it brings the data back in place, verified.
# Judged from outside: xxh128sum and sha256sum against the files as made,
# stat, du, getfattr, getfacl, sqlite3.  Then: many readers of one stub
# (one recall), 1,000 stubs read at once (the queue), a stub opened
# while nothing watched it, the daemon killed (SIGKILL) or stopped while
# readers wait (they get the data from the next daemon, or EIO after
# stub_timeout: never the stub's holes), a recall that fails (NAS
# stopped: EIO, the stub intact, the next read works), a careless copy
# of a stub noticed by check.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_hooks
need_cmd python3 sqlite3 jq getfattr setfattr getfacl setfacl sha256sum
setup_tiers 1G 1G
start_nas "$W/export"
NAS_TIMEOUT=4 add_cold
PC=${JTS_PRECONTENT:-$(dirname "$CTL")/tests/precontent}
# No pre-content events here: the refusal is tested instead (below).
pc_ok=yes
mkdir -p "$W/probe"
truncate -s 4096 "$W/hot/probe.stub"
timeout 5 "$PC" deny "$W/hot/probe.stub" > "$W/probe/out" 2>&1 &
sleep 0.5
grep -q ready "$W/probe/out" || pc_ok=no
kill $! 2>/dev/null; wait $! 2>/dev/null
rm -f "$W/hot/probe.stub"
sed -i "s|^reserve = 16M|reserve = 16M\nleave = stub|" "$CONF"
sed -i "s|^policies = .*|&\nstub_timeout = 6\nrecall_concurrency = 2|" "$CONF"
if [ $pc_ok = no ]; then
	start_daemon && fail_start=no || fail_start=yes
	eq "no pre-content events: jts-tierd refuses leave = stub" \
	    "$fail_start" yes
	contains "and says why" "$(cat "$W/d.log")" "pre-content"
	finish
fi

# nodata FILE: "none" if FILE has no data past its first 4 KiB (SEEK_DATA
# finds none there; a seek raises no event), else where data starts.
nodata() {
	python3 -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    print(os.lseek(fd, 4096, os.SEEK_DATA))
except OSError as e:
    print("none" if e.errno == errno.ENXIO else e)' "$1"
}
# nodata_count DIR: how many files beneath DIR have no data past their
# first 4 KiB (one interpreter for them all).
nodata_count() {
	python3 - "$1" <<'PY'
import errno, os, sys
n = 0
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        fd = os.open(os.path.join(d, f), os.O_RDONLY)
        try:
            os.lseek(fd, 4096, os.SEEK_DATA)
        except OSError as e:
            n += e.errno == errno.ENXIO
        os.close(fd)
print(n)
PY
}
# read_bg NAME: read stub NAME in the background; its xxh128 in
# $W/NAME.got, its exit status in $W/NAME.rc, the bytes it read in
# $W/NAME.len.
read_bg() {
	( xxh128sum < "$H/$1" > "$W/$1.raw" 2> "$W/$1.err"
	  echo $? > "$W/$1.rc"
	  cut -d' ' -f1 < "$W/$1.raw" > "$W/$1.got" ) &
	RP="$RP $!"
}
RP=
# fills PATH: journal rows of stub recalls of PATH (relative).
fills() {
	sqlite3 "$CAT" "select count(*) from journal where op = 'fill' and
	    cast(path as text) = '$1'${2:+ and state = '$2'}"
}
tier_of() {
	sqlite3 "$CAT" "select tier from files where cast(path as text) = '$1'"
}

H=$W/hot/s
mkdir -p "$H"
# The files: a WAL-sized segment, odd sizes, an empty one, attributes.
python3 - "$H" <<'PY'
import os, sys
d = sys.argv[1]
sizes = {"wal": 16 << 20, "odd": 1234567, "one": 1, "page": 4096,
         "empty": 0}
for n in ("cat", "cp", "sha", "mmap", "write", "trunc", "many", "kill",
          "kill2", "gone", "stop", "late", "early", "again", "restart"):
    sizes[n] = (1 << 20) + 7
for n, s in sizes.items():
    with open(os.path.join(d, n), "wb") as f:
        f.write(os.urandom(s))
PY
chown 1234:2345 "$H/odd"
chmod 640 "$H/odd"
setfattr -n user.origin -v "trading-7" "$H/odd"
setfacl -m u:4321:r "$H/odd"
touch -d "2024-03-01 12:00:00.123456789" "$H/odd" "$H/wal"
declare -A HASH SHA ID
for f in "$H"/*; do
	n=${f##*/}
	HASH[$n]=$(xxh128sum < "$f" | cut -d' ' -f1)
	SHA[$n]=$(sha256sum < "$f" | cut -d' ' -f1)
	ID[$n]=$(stat -c '%s %a %u:%g %.9Y' "$f")
done
xa_odd=$(getfattr -n user.origin --only-values "$H/odd")
acl_odd=$(getfacl -cp "$H/odd")
start_daemon || finish
"$CTL" migrate -q "$H" > "$W/m.out" 2>&1
eq "migrate with leave = stub" "$?" 0

stubs=0
for f in "$H"/*; do
	n=${f##*/}
	regular "$n: a regular file stays at its path" "$f"
	eq "$n: size, mode, owner and mtime kept" \
	    "$(stat -c '%s %a %u:%g %.9Y' "$f")" "${ID[$n]}"
	eq "$n: no data past its first block (SEEK_DATA)" \
	    "$(nodata "$f")" none
	contains "$n: marked as a stub" \
	    "$(getfattr -d -m trusted. "$f" 2>/dev/null)" "jts-tier stub 1"
	eq "$n: the data on warm is whole" \
	    "$(xxh128sum < "$W/warm/s/$n" | cut -d' ' -f1)" "${HASH[$n]}"
	stubs=$((stubs + 1))
done
eq "odd: its xattr on the stub" \
    "$(getfattr -n user.origin --only-values "$H/odd")" "$xa_odd"
eq "odd: its ACL on the stub" "$(getfacl -cp "$H/odd")" "$acl_odd"
eq "catalog: every file's data is on warm" \
    "$(sqlite3 "$CAT" "select count(*) from files where tier = 'warm'")" \
    "$stubs"
out=$("$CTL" check 2>&1)
contains "check: OK with stubs" "$out" "JTS-TIER OK"
contains "check counts the stubs" "$out" "stubs=$stubs"
contains "status shows the stubs watched" "$("$CTL" status)" \
    "stubs: $stubs watched"
contains "report counts the stubs at their home paths" "$("$CTL" report)" \
    "$stubs stub(s) at their paths here"
contains "explain says where the data is" "$("$CTL" explain "$H/wal")" \
    "at this path: a stub"
# A rescan does not catalogue a stub's holes as content.
"$CTL" scan > /dev/null 2>&1
eq "a rescan takes no stub at its home path for a file of hot" \
    "$(grep -c 'on tier hot: the catalog has this path on another' \
    "$W/d.log")" 0
eq "a rescan leaves the catalog's data on warm" \
    "$(sqlite3 "$CAT" "select count(*) from files where tier = 'warm'")" \
    "$stubs"

# --- real readers --------------------------------------------------------
eq "cat reads the data" "$(cat "$H/cat" | xxh128sum | cut -d' ' -f1)" \
    "${HASH[cat]}"
cp "$H/cp" "$W/cp.out"
eq "cp copies the data" "$(xxh128sum < "$W/cp.out" | cut -d' ' -f1)" \
    "${HASH[cp]}"
eq "sha256sum reads the data" "$(sha256sum "$H/sha" | cut -d' ' -f1)" \
    "${SHA[sha]}"
eq "a 16 MiB segment read by cat" \
    "$(cat "$H/wal" | xxh128sum | cut -d' ' -f1)" "${HASH[wal]}"
eq "odd-sized file" "$(xxh128sum < "$H/odd" | cut -d' ' -f1)" "${HASH[odd]}"
eq "a one-byte file" "$(xxh128sum < "$H/one" | cut -d' ' -f1)" "${HASH[one]}"
eq "an empty file" "$(xxh128sum < "$H/empty" | cut -d' ' -f1)" \
    "${HASH[empty]}"
got=$(python3 - "$H/mmap" <<'PY'
import mmap, os, sys, hashlib
fd = os.open(sys.argv[1], os.O_RDONLY)
m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
print(hashlib.sha256(m[:]).hexdigest())
PY
)
eq "a mapping reads the data" "$got" "${SHA[mmap]}"
# A write into a stub lands on the data, not on holes.
want=$(python3 - "$W/warm/s/write" <<'PY'
import sys, hashlib
b = bytearray(open(sys.argv[1], "rb").read())
b[100:103] = b"XYZ"
print(hashlib.sha256(bytes(b)).hexdigest())
PY
)
python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100); f.write(b"XYZ")' "$H/write"
eq "a write into a stub keeps the rest of the data" \
    "$(sha256sum < "$H/write" | cut -d' ' -f1)" "$want"
want=$(head -c 1000 "$W/warm/s/trunc" 2>/dev/null | xxh128sum | cut -d' ' -f1)
[ -e "$W/warm/s/trunc" ] || want=missing
truncate -s 1000 "$H/trunc"
eq "truncate of a stub keeps the data it keeps" \
    "$(xxh128sum < "$H/trunc" | cut -d' ' -f1)" "$want"
for n in cat cp sha wal odd mmap; do
	eq "$n: recalled: size, mode, owner, mtime as before" \
	    "$(stat -c '%s %a %u:%g %.9Y' "$H/$n")" "${ID[$n]}"
	eq "$n: no stub mark left" \
	    "$(getfattr -d -m trusted. "$H/$n" 2>/dev/null | grep -c stub)" 0
	absent "$n: the copy on warm released" "$W/warm/s/$n"
done
eq "odd: xattr kept through the recall" \
    "$(getfattr -n user.origin --only-values "$H/odd")" "$xa_odd"
eq "odd: ACL kept through the recall" "$(getfacl -cp "$H/odd")" "$acl_odd"
eq "catalog: a recalled file is on hot again" \
    "$(tier_of s/cat)" hot

# --- many readers of one stub: one recall --------------------------------
rps=
for i in $(seq 8); do
	(xxh128sum < "$H/many" | cut -d' ' -f1 > "$W/many.$i") &
	rps="$rps $!"
done
wait $rps
for i in $(seq 8); do
	eq "reader $i of one stub gets the data" "$(cat "$W/many.$i")" \
	    "${HASH[many]}" || tail -5 "$W/d.log"
done
eq "eight readers of one stub: one recall" "$(fills s/many)" 1

# --- a stub opened while nothing watched it ------------------------------
stop_daemon
pgrep -f -- "--stub-holder $W/" > /dev/null
eq "the stub holder outlives an orderly stop" "$?" 0
pkill -KILL -f -- "--stub-holder $W/" ; sleep 0.5
python3 - "$H/early" "$W/early.go" > "$W/early.out" <<'PY' &
import os, sys, time, hashlib
fd = os.open(sys.argv[1], os.O_RDONLY)
open(sys.argv[2] + ".ready", "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
data = b""
while True:
    b = os.read(fd, 1 << 20)
    if not b:
        break
    data += b
print(hashlib.sha256(data).hexdigest())
PY
ep=$!
for _ in $(seq 1 200); do
	[ -e "$W/early.go.ready" ] && break
	sleep 0.05
done
start_daemon || finish
ok "the daemon recalls at start a stub opened while nothing watched it" \
    wait_log "early was opened while no watch was there" 20
touch "$W/early.go"
wait $ep
eq "a stub opened before the daemon started reads the data" \
    "$(cat "$W/early.out")" "${SHA[early]}"

# --- the daemon killed while readers wait --------------------------------
# Each recall is held 2 s at its start; the daemon is killed meanwhile.
stop_daemon
start_daemon JTS_TIER_PAUSE=fill:2000 || finish
read_bg kill; sleep 0.2; read_bg kill2; sleep 0.2
cat "$H/kill" > /dev/null &
RP="$RP $!"
sleep 0.5
t0=$SECONDS
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null; DPID=
eq "a daemon killed while readers wait exits at once" \
    "$((SECONDS - t0 < 3))" 1
ok "the stub holder outlives it" pgrep -f -- "--stub-holder $W/" > /dev/null
start_daemon || finish
wait $RP; RP=
for n in kill kill2; do
	eq "daemon killed and restarted: a waiting reader of $n gets the data" \
	    "$(cat "$W/$n.got")" "${HASH[$n]}"
done
# Killed, and no daemon comes back within stub_timeout: EIO, no holes.
stop_daemon
start_daemon JTS_TIER_PAUSE=fill:2000 || finish
read_bg gone
sleep 0.7
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null; DPID=
t0=$SECONDS
wait $RP; RP=
failed_in_time "no daemon back: the reader fails" "$(cat "$W/gone.rc")"
contains "with EIO" "$(cat "$W/gone.err")" "failure occurred"
eq "the reader got nothing, never the stub's holes" \
    "$(wc -c < "$W/gone.raw")" 0
ok "after stub_timeout (6 s), not before" test $((SECONDS - t0)) -ge 4
eq "its stub is intact" "$(nodata "$H/gone")" none
contains "and keeps its mark" \
    "$(getfattr -d -m trusted. "$H/gone" 2>/dev/null)" "jts-tier stub 1"
start_daemon || finish
eq "the next daemon recalls it" \
    "$(xxh128sum < "$H/gone" | cut -d' ' -f1)" "${HASH[gone]}"
# An orderly stop while a recall runs; a reader while no daemon runs.
stop_daemon
start_daemon JTS_TIER_PAUSE=fill:1500 || finish
read_bg stop
sleep 0.5
stop_daemon
eq "jts-tierd stops while a recall runs" "$?" 0
read_bg late
sleep 1
start_daemon || finish
wait $RP; RP=
eq "stopped during its recall: the reader gets the data" \
    "$(cat "$W/stop.got")" "${HASH[stop]}"
eq "a reader while no daemon ran gets the data from the next" \
    "$(cat "$W/late.got")" "${HASH[late]}"

# --- a recall that fails: the NAS stopped --------------------------------
ok "the stub's data moves to the NAS" "$CTL" migrate -q --to cold "$H/again"
eq "a stub whose data is on the NAS" \
    "$(tier_of s/again)" cold
regular "its stub is at its path" "$H/again"
nas_kill
t0=$SECONDS
xxh128sum < "$H/again" > "$W/again.out" 2> "$W/again.err"
rc=$?
failed_in_time "NAS stopped: the reader fails" "$rc"
contains "with EIO" "$(cat "$W/again.err")" "failure occurred"
eq "nothing read" "$(wc -c < "$W/again.out")" 0
eq "the stub is intact" "$(nodata "$H/again")" none
contains "the stub keeps its mark" \
    "$(getfattr -d -m trusted. "$H/again" 2>/dev/null)" "jts-tier stub 1"
nas_up
eq "NAS back: the stub reads" \
    "$(xxh128sum < "$H/again" | cut -d' ' -f1)" "${HASH[again]}"
eq "catalog: recalled from the NAS to hot" \
    "$(tier_of s/again)" hot
# The NAS restarted between two recalls: the first after it works.
ok "the stub's data moves to the NAS" "$CTL" migrate -q --to cold "$H/restart"
eq "a stub whose data is on the NAS" "$(tier_of s/restart)" cold
nas_kill
nas_up
eq "NAS restarted since the last recall: the next recall works" \
    "$(xxh128sum < "$H/restart" | cut -d' ' -f1)" "${HASH[restart]}"

# --- a careless copy of a stub -------------------------------------------
"$CTL" migrate -q "$H/page" > /dev/null 2>&1
mkdir -p "$W/warm/copied"
# page: catalogued (a scan) before its copier sets the mark; page2: the
# mark set at once (tracking may see the file before it or not).
truncate -s 4096 "$W/warm/copied/page"
"$CTL" scan > /dev/null 2>&1
truncate -s 4096 "$W/warm/copied/page2"
for p in page page2; do
	setfattr -n trusted.jts-tier.stub \
	    -v "$(getfattr -n trusted.jts-tier.stub --only-values "$H/page")" \
	    "$W/warm/copied/$p"
done
"$CTL" scan > /dev/null 2>&1
eq "a scan does not catalogue the copied stubs' holes" \
    "$(sqlite3 "$CAT" "select count(*) from files where
    cast(path as text) like 'copied/%'")" 0
out=$("$CTL" check 2>&1)
contains "check notices a copied stub" "$out" "stub-copy"
rm -rf "$W/warm/copied"
"$CTL" scan > /dev/null 2>&1

# --- 1,000 stubs read at once: queued, at most recall_concurrency ------
# (the sanitizer pass, JTS_TEST_SHARE=2, reads half as many)
NK=$((1000 / ${JTS_TEST_SHARE:-1}))
mkdir -p "$W/hot/k"
python3 - "$W/hot/k" "$NK" <<'PY'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], "f%04d" % i), "wb") as f:
        f.write(os.urandom(4096 + i))
PY
hash_manifest "$W/hot/k" > "$W/k.want"
mkdir -p "$W/hot/fair"
head -c 50000 /dev/urandom > "$W/hot/fair/one"
chown 4242:4242 "$W/hot/fair/one"
hfair=$(xxh128sum < "$W/hot/fair/one" | cut -d' ' -f1)
"$CTL" migrate -q "$W/hot/fair" > /dev/null 2>&1
"$CTL" migrate -q "$W/hot/k" > /dev/null 2>&1
eq "$NK stubs" "$(nodata_count "$W/hot/k")" "$NK"
( while [ ! -e "$W/k.done" ]; do
	"$CTL" status --json 2>/dev/null |
	    jq -r '.daemon.stubs | "\(.recalling) \(.queued)"'
	sleep 0.05
done > "$W/k.status" ) &
sp=$!
(cd "$W/hot/k" && find . -type f -print0 | xargs -0 -P 64 -n 4 cat > /dev/null) &
storm=$!
# Another owner's one stub, read while the queue is full of the first
# owner's: it waits for the recalls running, not for the queue.
kdone() { sqlite3 "$CAT" "select count(*) from journal where op = 'fill' and state = 'done' and cast(path as text) like 'k/%'"; }
for _ in $(seq 1 100); do
	[ "$(kdone)" -ge 50 ] && break
	sleep 0.05
done
c0=$(kdone)
gotfair=$(xxh128sum < "$W/hot/fair/one" | cut -d' ' -f1)
c1=$(kdone)
wait $storm
touch "$W/k.done"; wait $sp
eq "another owner's stub read during the storm: its data" "$gotfair" "$hfair"
ok "it waited for the recalls running, not the queue ($((c1 - c0)) of the first owner's recalls meanwhile, of up to 64 queued)" \
    test $((c1 - c0)) -lt 30
hash_manifest "$W/hot/k" > "$W/k.got"
ok "$NK stubs read at once: every byte as before" cmp -s "$W/k.want" "$W/k.got"
eq "never more than 2 recalls at once" \
    "$(awk '$1 > m { m = $1 } END { print m + 0 }' "$W/k.status")" 2
ok "recalls waited in the queue" \
    test "$(awk '$2 > m { m = $2 } END { print m + 0 }' "$W/k.status")" -gt 0
eq "$NK recalls" "$(sqlite3 "$CAT" "select count(*) from journal where
    op = 'fill' and state = 'done' and cast(path as text) like 'k/%'")" "$NK"
# --- leave per tier: [defaults] symlink, [tier hot] stub ------------------
sed -i 's|^leave = stub$|leave = symlink|; s|^\[tier hot\]$|&\nleave = stub|' \
    "$CONF"
"$CTL" reload > /dev/null 2>&1
eq "reload with leave in [tier hot]" "$?" 0
mkdir -p "$W/hot/pt"
head -c 70000 /dev/urandom > "$W/hot/pt/a"
head -c 70000 /dev/urandom > "$W/hot/pt/b"
ha=$(xxh128sum < "$W/hot/pt/a" | cut -d' ' -f1)
"$CTL" migrate -q "$W/hot/pt/a" > /dev/null 2>&1
contains "a file whose home is hot leaves hot's stub" \
    "$(getfattr -d -m trusted. "$W/hot/pt/a" 2>/dev/null)" "jts-tier stub 1"
"$CTL" migrate -q --leave symlink "$W/hot/pt/b" > /dev/null 2>&1
ok "--leave symlink wins over the tier's" test -L "$W/hot/pt/b"
eq "the stub reads" "$(xxh128sum < "$W/hot/pt/a" | cut -d' ' -f1)" "$ha"
sed -i 's|^leave = stubx*$|leave = stubs|' "$CONF"
out=$("$CTL" reload 2>&1)
contains "a bad leave in a tier is refused, naming it" "$out" \
    "bad value for leave: stubs"
sed -i 's|^leave = stubs$|leave = stub|' "$CONF"

# --- the holder killed while the daemon runs: its marks come back --------
# A new holder's socket may take the old one's descriptor number: the
# daemon must still see a new holder and mark every stub in it again.
hp=$(pgrep -f -- "--stub-holder $W/")
marks() { cat /proc/"$1"/fdinfo/* 2>/dev/null | grep -c '^fanotify ino:'; }
mkdir -p "$W/hot/hk"
for i in 1 2 3; do head -c 300000 /dev/urandom > "$W/hot/hk/$i"; done
hk=$(xxh128sum < "$W/hot/hk/2" | cut -d' ' -f1)
"$CTL" migrate -q "$W/hot/hk" > /dev/null 2>&1
m0=$(marks "$hp")
ok "the holder holds a mark per stub ($m0)" test "$m0" -ge 3
kill -KILL "$hp"
wait_log "a new stub holder marks the stubs again" 20
hp2=
for _ in $(seq 1 100); do
	hp2=$(pgrep -f -- "--stub-holder $W/")
	[ -n "$hp2" ] && [ "$(marks "$hp2")" -ge "$m0" ] && break
	sleep 0.1
done
eq "the new holder holds as many marks (/proc/PID/fdinfo)" \
    "$(marks "$hp2")" "$m0"
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null; DPID=
( xxh128sum < "$W/hot/hk/2" | cut -d' ' -f1 > "$W/hk.got" ) &
hkp=$!
sleep 0.5
start_daemon || finish
wait $hkp
eq "then the daemon killed: a reader of a stub waits in the new holder and gets the data" \
    "$(cat "$W/hk.got")" "$hk"

# --- a file system that refuses pre-content marks: refused at start ------
mkdir -p "$W/tmpfs" "$W/run2" "$W/var2"
mount -t tmpfs -o size=16m tmpfs "$W/tmpfs" && MOUNTS="$W/tmpfs $MOUNTS"
cat > "$W/tmpfs.conf" <<CONF
[catalog]
path = $W/var2/catalog.db
[defaults]
leave = stub
[daemon]
socket = $W/run2/ctl.sock
policies = $W/policies
[tier hot]
kind = posix
root = $W/tmpfs
[tier warm]
kind = btrfs
root = $W/warm
CONF
timeout 20 "$TIERD" -c "$W/tmpfs.conf" > "$W/tmpfs.log" 2>&1
failed_in_time "leave = stub on tmpfs: jts-tierd refuses to start" "$?"
contains "naming the tier and the cause" "$(cat "$W/tmpfs.log")" \
    "tier hot ($W/tmpfs): its file system refuses fanotify pre-content marks"

# --- a stub known by its inode, not by the name it is read by -----------
mkdir -p "$W/hot/idp" "$W/bind"
for n in b h r; do head -c 150000 /dev/urandom > "$W/hot/idp/$n"; done
declare -A HI
for n in b h r; do HI[$n]=$(xxh128sum < "$W/hot/idp/$n" | cut -d' ' -f1); done
"$CTL" migrate -q "$W/hot/idp" > /dev/null 2>&1
mount --bind "$W/hot/idp" "$W/bind" && MOUNTS="$W/bind $MOUNTS"
eq "through a bind mount of its directory (as a container sees it)" \
    "$(xxh128sum < "$W/bind/b" 2>/dev/null | cut -d' ' -f1)" "${HI[b]}"
ln "$W/hot/idp/h" "$W/hot/idp-h-link"
eq "by another hard link's name" \
    "$(xxh128sum < "$W/hot/idp-h-link" 2>/dev/null | cut -d' ' -f1)" "${HI[h]}"
mv "$W/hot/idp/r" "$W/hot/idp/r-renamed"
eq "after a rename" \
    "$(xxh128sum < "$W/hot/idp/r-renamed" 2>/dev/null | cut -d' ' -f1)" "${HI[r]}"
umount "$W/bind"
rm -f "$W/hot/idp-h-link"
"$CTL" scan > /dev/null 2>&1

# --- small stubs on ext4, whose xattr block st_blocks counts ------------
mkdir -p "$W/hot/small"
for n in 4097 6000 8191 12000; do head -c $n /dev/urandom > "$W/hot/small/s$n"; done
declare -A HS
for n in 4097 6000 8191 12000; do HS[$n]=$(xxh128sum < "$W/hot/small/s$n" | cut -d' ' -f1); done
"$CTL" migrate -q "$W/hot/small" > /dev/null 2>&1
"$CTL" scan > /dev/null 2>&1
for n in 4097 6000 8191 12000; do
	eq "a stub of $n bytes ($(stat -c %b "$W/hot/small/s$n") blocks) stays one through a scan" \
	    "$(tier_of small/s$n)" warm
	eq "and reads its data" "$(xxh128sum < "$W/hot/small/s$n" | cut -d' ' -f1)" "${HS[$n]}"
done

# --- stub_timeout (6 s) means "no daemon", not "a slow recall" ---------
# Each recall held 9 s at its start: whichever group the kernel asks
# first (the holder's passes the caller to the daemon), the reader waits
# for the daemon that works, and gets the data.
mkdir -p "$W/hot/slow"
head -c 100000 /dev/urandom > "$W/hot/slow/f"
hs=$(xxh128sum < "$W/hot/slow/f" | cut -d' ' -f1)
"$CTL" migrate -q "$W/hot/slow" > /dev/null 2>&1
stop_daemon
start_daemon JTS_TIER_PAUSE=fill:9000 || finish
t0=$SECONDS
eq "a recall longer than stub_timeout: the reader gets the data" \
    "$(xxh128sum < "$W/hot/slow/f" 2>/dev/null | cut -d' ' -f1)" "$hs"
ok "after the recall's 9 s" test $((SECONDS - t0)) -ge 8
stop_daemon
start_daemon || finish

# --- a recall keeps the home tier's watermark: ENOSPC, never a full tier -
mkdir -p "$W/hot/room"
head -c 2M /dev/urandom > "$W/hot/room/big"
hr=$(xxh128sum < "$W/hot/room/big" | cut -d' ' -f1)
"$CTL" migrate -q "$W/hot/room" > /dev/null 2>&1
cp "$CONF" "$W/conf.keep"
sed -i "s|^root = $W/hot\$|&\nhigh_watermark = 1\nlow_watermark = 1|" "$CONF"
"$CTL" reload > /dev/null 2>&1
cat "$W/hot/room/big" > /dev/null 2> "$W/room.err"
failed_in_time "hot above its high watermark: the read of a stub fails" "$?"
contains "with ENOSPC" "$(cat "$W/room.err")" "No space left on device"
ok "the log names the tier and the watermark" \
    wait_log "room/big: recall failed: tier hot has no room for it.*high watermark of 1%" 5
contains "the stub stays" \
    "$(getfattr -d -m trusted. "$W/hot/room/big" 2>/dev/null)" "jts-tier stub 1"
cp "$W/conf.keep" "$CONF"
"$CTL" reload > /dev/null 2>&1
eq "room again: it reads" "$(xxh128sum < "$W/hot/room/big" | cut -d' ' -f1)" "$hr"

# --- a stub overwritten: an open with O_TRUNC raises no event -----------
mkdir -p "$W/hot/ot"
head -c 300000 /dev/urandom > "$W/hot/ot/a"
head -c 300000 /dev/urandom > "$W/hot/ot/b"
"$CTL" migrate -q "$W/hot/ot" > /dev/null 2>&1
: > "$W/hot/ot/a"
eq "the kernel: an open with O_TRUNC empties a stub and raises no event (its mark stays)" \
    "$(stat -c %s "$W/hot/ot/a"):$(getfattr -d -m trusted. "$W/hot/ot/a" 2>/dev/null | grep -c 'jts-tier stub 1')" \
    "0:1"
contains "check names the overwritten stub" "$("$CTL" check 2>&1)" \
    "stub-overwritten: $W/hot/ot/a"
echo "the user's new data" > "$W/hot/ot/b"
eq "a write after O_TRUNC succeeds" "$?" 0
eq "the file holds the user's data" "$(cat "$W/hot/ot/b")" "the user's new data"
eq "it is no stub any more" \
    "$(getfattr -d -m trusted. "$W/hot/ot/b" 2>/dev/null | grep -c 'jts-tier stub')" 0
eq "the catalog has its data at home" "$(tier_of ot/b)" hot
ok "the log says so" wait_log "ot/b: the stub at its home path was overwritten" 5
"$CTL" recall "$W/hot/ot/b" > /dev/null 2>&1
eq "a recall never brings the old data over the new" \
    "$(cat "$W/hot/ot/b")" "the user's new data"
regular "the old data stays on warm, for the operator" "$W/warm/ot/b"
eq "the emptied stub reads as its user left it: empty" \
    "$(wc -c < "$W/hot/ot/a")" 0
eq "and is no stub any more" \
    "$(getfattr -d -m trusted. "$W/hot/ot/a" 2>/dev/null | grep -c 'jts-tier stub')" 0
contains "check names the old data as a conflict" "$("$CTL" check 2>&1)" "ot/b"
rm -f "$W/warm/ot/a" "$W/warm/ot/b"
"$CTL" recover > "$W/rec.out" 2>&1
eq "the old data removed: recover closes the rows" "$?" 0

out=$("$CTL" check 2>&1)
contains "check: OK at the end" "$out" "JTS-TIER OK"

# --- a recall from a copy that is not the one catalogued -----------------
# (after the check above: these two stubs are left unreadable on purpose)
mkdir -p "$W/hot/id"
head -c 200000 /dev/urandom > "$W/hot/id/a"
head -c 200000 /dev/urandom > "$W/hot/id/b"
"$CTL" migrate -q "$W/hot/id" > /dev/null 2>&1
# a: another file of its size put at its copy's path (a new inode).
head -c 200000 /dev/urandom > "$W/warm/id/a.new"
mv -f "$W/warm/id/a.new" "$W/warm/id/a"
cat "$W/hot/id/a" > "$W/id.a" 2>/dev/null
failed_in_time "a stub whose copy was replaced: the read fails" "$?"
eq "it read nothing" "$(wc -c < "$W/id.a")" 0
eq "nothing of the other file entered the stub (SEEK_DATA)" \
    "$(nodata "$W/hot/id/a")" none
ok "the log says why" wait_log "id/a: .*is not the copy catalogued" 5
# b: its copy changed in place (the same inode): written, then found
# wrong by its hash, and punched back.
flip_byte "$W/warm/id/b" 150000
cat "$W/hot/id/b" > "$W/id.b" 2>/dev/null
failed_in_time "a stub whose copy changed: the read fails" "$?"
# (The first block, the partial last one, zeroed, and ext4's block of
# xattrs: 3 blocks of 4 KiB; the recall wrote 49.)
ok "what the failed recall wrote is punched back: 3 blocks of 4 KiB at most (stat %b)" \
    test "$(stat -c %b "$W/hot/id/b")" -le 24
contains "and it keeps its mark" \
    "$(getfattr -d -m trusted. "$W/hot/id/b" 2>/dev/null)" "jts-tier stub 1"

finish
