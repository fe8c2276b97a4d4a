#!/bin/bash
# status.sh - status shows each tier's files, bytes, free space and
# watermarks, and moves needing attention; a second engine is refused
# while one runs; read-only commands run beside it.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd python3 flock
setup_tiers 512M 512M

H=$W/hot/s
mkdir -p "$H"
head -c 300000 /dev/urandom > "$H/a"
head -c 700000 /dev/urandom > "$H/b"
echo c > "$H/c"
"$CTL" migrate -q "$H/a" "$H/b" >/dev/null 2>&1
eq "setup migrate" "$?" 0

out=$("$CTL" status); rc=$?
eq "status exits 0" "$rc" 0
contains "status header" "$out" "TIER     KIND        FILES      BYTES       FREE"
contains "status warm line" "$out" "warm     btrfs           2  976.6 KiB"
contains "status shows watermarks" "$out" "(watermarks 90%/75%)"
contains "status: nothing pending" "$out" "no moves in flight or needing attention"

json=$("$CTL" status --json); rc=$?
eq "status --json exits 0" "$rc" 0
got=$(printf '%s' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
t = {x["name"]: x for x in d["tiers"]}
w = t["warm"]
print(w["kind"], w["files"], w["bytes"], w["root"].endswith("/warm"),
      w["free"] > 0, w["size"] >= w["free"], 0 <= w["used_percent"] <= 100,
      w["high_watermark"], w["low_watermark"], len(d["moves_open"]))')
eq "status --json fields" "$got" "btrfs 2 1000000 True True True True 90 75 0"
# The free space it reports is what df reports.
eq "status free space agrees with df" \
    "$(printf '%s' "$json" | python3 -c 'import json,sys; print([x["free"] for x in json.load(sys.stdin)["tiers"] if x["name"]=="hot"][0] // 1048576)')" \
    "$(( $(df -B1 --output=avail "$W/hot" | tail -1) / 1048576 ))"

# A move needing attention is listed.
sqlite3 "$CAT" "update journal set state = 'conflict', error = 'test conflict' where id = 1"
out=$("$CTL" status)
contains "status lists a conflict" "$out" ": hot -> warm: conflict: test conflict"
sqlite3 "$CAT" "update journal set state = 'done' where id = 1"

# One engine at a time: while the lock is held, moving is refused...
exec 9>>"$CAT.lock"
flock -x 9
echo 4242 > "$CAT.lock"
out=$("$CTL" migrate "$H/c" 2>&1); rc=$?
eq "second engine: exit 1" "$rc" 1
contains "second engine: says why" "$out" "another jts-tier engine is running (pid 4242"
regular "second engine: nothing moved" "$H/c"
out=$("$CTL" recover 2>&1); rc=$?
eq "second recovery refused too" "$rc" 1
# ...but status and check read beside it.
"$CTL" status >/dev/null 2>&1
eq "status beside a running engine" "$?" 0
"$CTL" check >/dev/null 2>&1
eq "check beside a running engine" "$?" 0
exec 9>&-
out=$("$CTL" migrate "$H/c" 2>&1); rc=$?
eq "after the lock is gone, migrate works" "$rc" 0
# Recovery run twice is harmless.
"$CTL" recover >/dev/null 2>&1 && "$CTL" recover >/dev/null 2>&1
eq "recovery twice" "$?" 0
"$CTL" check >/dev/null 2>&1
eq "check OK at the end" "$?" 0
finish
