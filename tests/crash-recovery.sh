#!/bin/bash
# crash-recovery.sh - SIGKILL at every journal state and fault point (the
# first time each is reached), in both directions; after recovery every
# file is present exactly once with its original content, no temporary is
# left, the catalog is sound and agrees with the disks, and the next run
# finishes the work.  (Kills before every system call of a move, so at
# every later item's steps too: fault-sweep.sh; at random times:
# crash-torture.sh.)
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
setup_tiers 1G 1G

POINTS="journaled copy synced verify verified rename renamed committed release released"

# mktree REL: a small mixed tree on hot.
mktree() {
	local d=$W/hot/$1
	mkdir -p "$d/sub"
	echo one > "$d/a"
	: > "$d/empty"
	head -c 70000 /dev/urandom > "$d/sub/b"
	head -c ${2:-3M} /dev/urandom > "$d/big"
	truncate -s 8M "$d/sparse"; echo s >> "$d/sparse"
	setfattr -n user.x -v y "$d/a" 2>/dev/null
}

# verify REL MANIFEST WHAT: the invariants after a crash and recovery.
verify() {
	local d=$W/hot/$1 bad f rel t c
	eq "$3: content via home paths" "$(manifest "$d")" "$2"
	# The catalog's integrity, its journal, and each file's tier.
	catalog_view "$1" "$3"
	bad=0
	while IFS= read -r -d '' f; do
		rel=${f#"$W/hot/"}
		if [ -L "$f" ]; then
			[ "$(readlink "$f")" = "$W/warm/$rel" ] &&
			    [ -f "$W/warm/$rel" ] && [ ! -L "$W/warm/$rel" ] ||
			    { echo "  $rel: bad link"; bad=$((bad + 1)); }
			t=warm
		else
			[ ! -e "$W/warm/$rel" ] ||
			    { echo "  $rel: on both tiers"; bad=$((bad + 1)); }
			t=hot
		fi
		c=${CAT_TIER[${rel#"$1/"}]:-}
		[ "$c" = "$t" ] || [ -z "$c" -a "$t" = hot ] ||
		    { echo "  $rel: data on $t, catalog says [$c]"; bad=$((bad + 1)); }
	done < <(find "$d" \( -type f -o -type l \) -print0)
	eq "$3: each file once, catalog agrees" "$bad" 0
	eq "$3: no temporaries" \
	    "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' | wc -l)" 0
	"$CTL" check >/dev/null 2>&1
	eq "$3: check OK" "$?" 0
}

i=0
for dir in migrate recall; do
	for p in $POINTS; do
		n=1
		i=$((i + 1))
		rel=c$i
		mktree $rel
		m=$(manifest "$W/hot/$rel")
		if [ $dir = recall ]; then
			"$CTL" migrate -q "$W/hot/$rel" >/dev/null 2>&1 ||
			    echo "  setup migrate failed"
		fi
		JTS_TIER_FAULT=$p:$n "$CTL" $dir -q "$W/hot/$rel" \
		    >/dev/null 2>&1
		rc=$?
		eq "$dir $p:$n: killed at the point" "$rc" 137
		"$CTL" recover >/dev/null 2>&1
		eq "$dir $p:$n: recover exits 0" "$?" 0
		# Twice is harmless.
		"$CTL" recover >/dev/null 2>&1
		eq "$dir $p:$n: recover again exits 0" "$?" 0
		verify $rel "$m" "$dir $p:$n"
		# The next run finishes the work.
		"$CTL" $dir -q "$W/hot/$rel" >/dev/null 2>&1
		eq "$dir $p:$n: rerun exits 0" "$?" 0
		verify $rel "$m" "$dir $p:$n rerun"
		if [ $dir = migrate ]; then
			eq "$dir $p:$n: all on warm after rerun" \
			    "$(count_files "$W/hot/$rel")" 0
		else
			eq "$dir $p:$n: all on hot after rerun" \
			    "$(count_files "$W/warm/$rel")" 0
		fi
	done
done

finish
