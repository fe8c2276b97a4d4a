#!/bin/bash
# symlink-race.sh - while files move, a loop keeps swapping a parent
# directory of theirs with a symbolic link to a directory outside the
# tiers (a sentinel tree holding the same names), during migrate and
# recall of the tree and of single files.  Nothing outside the tiers may
# be read, written or removed: the sentinel tree is unchanged, no copy on
# warm holds its data, and every file is whole, once, where the catalog
# says.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd python3
setup_tiers 1G 1G
R=$W/hot/race
mkdir -p "$R/d1/d2" "$W/outside/d2"
for i in 1 2 3 4 5; do
	head -c $((i * 40000)) /dev/urandom > "$R/d1/d2/f$i"
	head -c $((i * 40000)) /dev/urandom > "$W/outside/d2/f$i"
done
head -c 3000000 /dev/urandom > "$R/d1/d2/big"
head -c 3000000 /dev/urandom > "$W/outside/d2/big"
FILES="f1 f2 f3 f4 f5 big"
want=$(cd "$R/d1/d2" && xxh128sum $FILES)
# The sentinel: every name, type, size, mode, mtime and content.
sentinel() {
	(cd "$W/outside" && find . -printf '%p %y %s %m %T@\n' | sort &&
	    find . -type f -exec xxh128sum {} + 2>/dev/null | sort)
}
before=$(sentinel)
outside_hashes=$(cd "$W/outside/d2" && xxh128sum $FILES | cut -d' ' -f1)

# The swapper: d1 becomes a link to outside and back, as fast as it can.
python3 - "$R/d1" "$W/outside" "$W/stop" > "$W/swaps" <<'PY' &
import os, sys, time
base, outside, stop = sys.argv[1:4]
real = base + ".real"
n = 0
while not os.path.exists(stop):
    os.rename(base, real)
    os.symlink(outside, base)
    time.sleep(0.0002)
    os.unlink(base)
    os.rename(real, base)
    time.sleep(0.0002)
    n += 1
print(n)
PY
SWAPPER=$!
T_CLEANUP='touch "$W/stop"; wait $SWAPPER'

rcs=
for round in 1 2 3 4 5 6; do
	"$CTL" migrate -q "$R" >/dev/null 2>&1; rcs="$rcs $?"
	"$CTL" recall -q "$R" >/dev/null 2>&1; rcs="$rcs $?"
	for f in $FILES; do
		"$CTL" migrate -q "$R/d1/d2/$f" >/dev/null 2>&1; rcs="$rcs $?"
	done
	"$CTL" recall -q "$R" >/dev/null 2>&1; rcs="$rcs $?"
done
touch "$W/stop"
wait $SWAPPER
T_CLEANUP=
swaps=$(cat "$W/swaps")
echo "swaps: $swaps; exit codes:$rcs"
ok "the swapper ran ($swaps swaps)" [ "${swaps:-0}" -gt 100 ]
ok "every run exited 0 or 1" [ -z "$(echo $rcs | tr ' ' '\n' | grep -v '^[01]$')" ]
a_dir "d1 is a directory again" "$R/d1"

eq "the sentinel tree is untouched" "$(sentinel)" "$before"
"$CTL" recover >/dev/null 2>&1
eq "recover exits 0" "$?" 0
bad=0
for f in $FILES; do
	p=$R/d1/d2/$f
	if [ -L "$p" ]; then
		# Moved while its directory was renamed: its copy has the
		# name it had then.
		case $(readlink "$p") in
		"$W/warm/race/d1/d2/$f"|"$W/warm/race/d1.real/d2/$f") ;;
		*) echo "  $f: link to $(readlink "$p")"; bad=$((bad + 1)) ;;
		esac
	elif [ -e "$W/warm/race/d1/d2/$f" ]; then
		echo "  $f: on both tiers"; bad=$((bad + 1))
	fi
done
eq "each file once, links only into warm" "$bad" 0
[ "$bad" = 0 ] || (cd "$W" && find hot/race warm/race -printf '    %y %p %l\n' |
    sed "s/$(printf 'x%.0s' 1)//")
eq "every file whole" "$(cd "$R/d1/d2" && xxh128sum $FILES 2>/dev/null)" "$want"
[ "$(cd "$R/d1/d2" && xxh128sum $FILES 2>/dev/null)" = "$want" ] ||
    (cd "$W" && find hot/race warm/race -printf '    %y %p %l\n';
    sqlite3 "$CAT" "select cast(path as text), tier from files")
n=0
for h in $(find "$W/warm" -type f -exec xxh128sum {} + 2>/dev/null | cut -d' ' -f1); do
	printf '%s\n' "$outside_hashes" | grep -qx "$h" && n=$((n + 1))
done
eq "no outside data on warm" "$n" 0
eq "no temporaries" "$(find "$W/hot" "$W/warm" "$W/outside" -name '.jts-tier-*' |
    wc -l)" 0
# The renames were the owner's: a scan brings the catalog up to date.
"$CTL" scan >/dev/null 2>&1
"$CTL" check >"$W/check.out" 2>&1
rc=$?
eq "check OK after a scan" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/    /' "$W/check.out"
# With the loop stopped, the work can be finished.
"$CTL" migrate -q "$R" >/dev/null 2>&1
eq "migrate after the race exits 0" "$?" 0
eq "all moved, whole" "$(cd "$R/d1/d2" && xxh128sum $FILES)" "$want"
eq "all on warm" "$(find "$R" -type f | wc -l)" 0
finish
