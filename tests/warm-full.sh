#!/bin/bash
# warm-full.sh - the btrfs warm tier fills up for real: another writer
# takes the space while a large copy is under way.  The move stops with
# an error naming the file and the cause; the source stays whole at home;
# nothing of it on warm, no temporary, check OK; with room again it moves.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
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
ok "filled mid-copy: a regular file at home" [ -f "$H/big" ] && [ ! -L "$H/big" ]
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

finish
