#!/bin/bash
# report-du.sh - the byte counts of report, metrics and status add up
# with du over the files of each tier: apparent bytes as du
# --apparent-size counts them, bytes on disk as du counts them (st_blocks;
# btrfs counts a compressed extent at its size before compression), a
# file with two links once, sparse and empty files
# as they are; before and after a migrate.  Judged with find and du.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd python3 du find
setup_tiers 512M 1G
H=$W/hot
mkdir -p "$H/db/base" "$H/logs/old" "$H/links"
head -c 3000000 /dev/urandom > "$H/db/base/rel1"
head -c 1 /dev/urandom > "$H/db/base/tiny"
: > "$H/db/empty"
truncate -s 50M "$H/db/sparse"
echo data | dd of="$H/db/sparse" bs=1 seek=$((10 << 20)) conv=notrunc 2>/dev/null
head -c 200000 /dev/urandom > "$H/links/a"
ln "$H/links/a" "$H/links/b"
yes "a line that compresses well" | head -c $((8 << 20)) > "$H/logs/old/app.log"
head -c $((5 << 20)) /dev/urandom > "$H/logs/old/bin"
sync
"$CTL" scan > /dev/null
eq "scan exits 0" "$?" 0

# du over the regular files beneath a tier root (links counted once).
du_of() {	# du_of ROOT [--apparent-size]: bytes
	find "$1" -type f -print0 | du -c -B1 ${2:-} --files0-from=- | tail -1 | cut -f1
}
field() {	# field TIER KEY: from report --json
	"$CTL" report --json | python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin) if t["tier"] == sys.argv[1]][0]
print(t[sys.argv[2]])' "$1" "$2"
}
metric() { "$CTL" metrics | sed -n "s/^$1{tier=\"$2\"} //p"; }
compare() {	# compare LABEL TIER
	local root=$W/$2 app disk
	app=$(du_of "$root" --apparent-size)
	disk=$(du_of "$root")
	eq "$1: report's bytes of $2 = du --apparent-size ($app)" "$(field "$2" bytes)" "$app"
	eq "$1: report's bytes on disk of $2 = du ($disk)" "$(field "$2" disk_bytes)" "$disk"
	eq "$1: metrics jts_tier_bytes of $2" "$(metric jts_tier_bytes "$2")" "$app"
	eq "$1: metrics jts_tier_disk_bytes of $2" "$(metric jts_tier_disk_bytes "$2")" "$disk"
	eq "$1: status's bytes of $2" "$("$CTL" status --json | python3 -c '
import json, sys
print([t for t in json.load(sys.stdin)["tiers"] if t["name"] == sys.argv[1]][0]["bytes"])' "$2")" "$app"
}
ok "the tree's apparent and disk sizes differ (sparse file)" \
    test "$(du_of "$H" --apparent-size)" -gt "$(du_of "$H")"
compare "scanned" hot
contains "report says it in words" "$("$CTL" report)" \
    "($(du_of "$H" --apparent-size) bytes, as du --apparent-size counts them)"
"$CTL" migrate -q "$H/logs" > /dev/null
eq "migrate exits 0" "$?" 0
compare "after migrate" hot
compare "after migrate" warm
finish
