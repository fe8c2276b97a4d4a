#!/bin/bash
# warm-full.sh - the btrfs warm tier fills up for real: another writer
# takes the space while a large copy is under way (data ENOSPC), and many
# small files meet a warm tier whose metadata is full while df still shows
# free space (small files live in btrfs metadata).  The move stops with an
# error naming the file and the cause; every file whole, once, through its
# path; nothing left on warm, no temporary, check OK.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
setup_tiers 1G 256M
H=$W/hot/full
mkdir -p "$H"

# whole REL WANT: the file's content, through its path, is WANT.
whole() {
	[ "$(xxh128sum < "$H/$1" 2>/dev/null | cut -d' ' -f1)" = "$2" ]
}
no_temps() {
	[ "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' | wc -l)" -eq 0 ]
}

# Someone fills warm while a 120 MiB copy is held at its start.
head -c 120M /dev/urandom > "$H/big"
big=$(xxh128sum < "$H/big" | cut -d' ' -f1)
JTS_TIER_PAUSE=copy:2000 "$CTL" migrate "$H/big" > "$W/out" 2>&1 &
pid=$!
sleep 0.5
# Random data: compress=zstd cannot shrink it.
head -c 300M /dev/urandom > "$W/warm/filler" 2>/dev/null
ok "the filler ran out of space" [ "$(stat -c %s "$W/warm/filler")" -lt $((300 << 20)) ]
wait $pid
rc=$?
out=$(cat "$W/out")
eq "filled mid-copy: exit 1" "$rc" 1
contains "filled mid-copy: names the file" "$out" "$H/big"
contains "filled mid-copy: says why" "$out" "No space left on device"
ok "filled mid-copy: the source is whole at home" whole big "$big"
regular "filled mid-copy: a regular file at home" "$H/big"
ok "filled mid-copy: nothing of it on warm" [ ! -e "$W/warm/full/big" ]
ok "filled mid-copy: no temporary" no_temps
"$CTL" check >/dev/null 2>&1
eq "filled mid-copy: check OK" "$?" 0
rm -f "$W/warm/filler"
sync
"$CTL" migrate -q "$H/big" >/dev/null 2>&1
eq "with room again, it moves" "$?" 0
ok "moved whole" whole big "$big"
"$CTL" recall -q "$H/big" >/dev/null 2>&1
rm -f "$H/big"
"$CTL" scan >/dev/null 2>&1

# Metadata full, data free.  Data chunks take all the device (a filler
# written to ENOSPC), then most of the filler goes: its space is free in
# the data chunks, none is left for more metadata.  Junk small files then
# fill the metadata; the last 200 are removed to leave a little room.
head -c 400M /dev/urandom > "$W/warm/filler" 2>/dev/null
sync
truncate -s $(( $(stat -c %s "$W/warm/filler") - (64 << 20) )) "$W/warm/filler"
sync
python3 - "$W/warm/junk" <<'PY'
import os, sys
d = sys.argv[1]
os.makedirs(d)
n = 0
try:
    while True:
        with open("%s/j%d" % (d, n), "wb") as f:
            f.write(os.urandom(1500))
        n += 1
except OSError:
    pass
for i in range(max(0, n - 200), n + 1):
    try:
        os.unlink("%s/j%d" % (d, i))
    except OSError:
        pass
print("junk files that filled the metadata:", n)
PY
sync
echo "warm before: $(df -k --output=avail "$W/warm" | tail -1) KiB free by df"
python3 - "$H/many" <<'PY'
import os, sys
for d in range(4):
    os.makedirs("%s/d%d" % (sys.argv[1], d))
    for f in range(300):
        with open("%s/d%d/f%d" % (sys.argv[1], d, f), "wb") as fh:
            fh.write(os.urandom(1500))
PY
sums() {
	(cd "$H/many" && find . \( -type f -o -type l \) -print0 | sort -z |
	    xargs -0 xxh128sum 2>/dev/null)
}
want=$(sums)
"$CTL" migrate -q "$H/many" > "$W/out" 2>&1
rc=$?
nospc=$(grep -c 'No space left' "$W/out")
moved=$(find "$H/many" -type l | wc -l)
echo "metadata full: exit $rc, $nospc failed for want of space, $moved of 1200 moved"
sed -n '1,3p' "$W/out" | sed 's/^/    /'
eq "metadata full: exit 1" "$rc" 1
ok "metadata full: the copies ran out of space ($nospc)" [ "$nospc" -gt 0 ]
eq "metadata full: every file whole through its path" "$(sums)" "$want"
bad=0
while IFS= read -r -d '' f; do
	rel=${f#"$W/hot/"}
	if [ -L "$f" ]; then
		[ "$(readlink "$f")" = "$W/warm/$rel" ] || bad=$((bad + 1))
	elif [ -e "$W/warm/$rel" ]; then
		bad=$((bad + 1))
	fi
done < <(find "$H/many" \( -type f -o -type l \) -print0)
eq "metadata full: each file once" "$bad" 0
ok "metadata full: no temporary" no_temps
"$CTL" check >"$W/check.out" 2>&1
rc=$?
eq "metadata full: check OK" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/    /' "$W/check.out" | head -5
finish
