#!/bin/bash
# crash-torture.sh - jts-tierctl killed (SIGKILL) at random times while a
# mixed tree (0 bytes to 256 MiB: empty, tiny, small, a hole, large) moves
# between hot and warm, one file or the whole tree at a time (every other
# tree in batches of three files, two batches at once), in both
# directions.  After every kill: recovery, then every file has its
# original content, size and mode, once, where the catalog says (a file at
# home or a link to warm); no temporary anywhere; the catalog passes
# integrity_check and check says OK.
#
# 200 kills in the quick mode (make check), 2,000 with JTS_TEST_LONG=1
# (make check-long); JTS_TORTURE_ITER overrides.  The random seed is
# printed; JTS_TORTURE_SEED repeats a run.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
setup_tiers 1G 1G
if [ "${JTS_TEST_LONG:-0}" = 1 ]; then
	ITER=${JTS_TORTURE_ITER:-2000}
else
	ITER=${JTS_TORTURE_ITER:-200}
fi
SEED=${JTS_TORTURE_SEED:-$$}
RANDOM=$SEED
echo "crash torture: $ITER kills, seed $SEED"

D=$W/hot/tt
mkdir -p "$D/dir"
: > "$D/z0"
printf x > "$D/one"
head -c 4096 /dev/urandom > "$D/s4k"
head -c 100000 /dev/urandom > "$D/s100k"
head -c 1M /dev/urandom > "$D/s1m"
head -c 8M /dev/urandom > "$D/s8m"
head -c 200000 /dev/urandom > "$D/dir/s200k"
head -c 3M /dev/urandom > "$D/dir/s3m"
# 64 MiB with three data extents and holes between.
truncate -s 64M "$D/sparse"
for o in 0 20 63; do
	head -c 65536 /dev/urandom |
	    dd of="$D/sparse" bs=1M seek=$o conv=notrunc status=none
done
head -c 256M /dev/urandom > "$D/big"
chmod 600 "$D/s1m"
FILES="z0 one s4k s100k s1m s8m dir/s200k dir/s3m sparse big"
declare -A SIZE
for f in $FILES; do SIZE[$f]=$(stat -c %s "$D/$f"); done
(cd "$D" && xxh128sum $FILES && stat -c '%n %s %a' $FILES) > "$W/want"

declare -A PLACE
# state: for each file where its data is, by looking (warm: a link at
# home to the same path on warm; hot: a regular file at home).
state() {
	local f
	for f in $FILES; do
		if [ -L "$D/$f" ]; then
			PLACE[$f]=warm
		elif [ -f "$D/$f" ]; then
			PLACE[$f]=hot
		else
			PLACE[$f]=none
		fi
	done
}

# verify WHAT: the invariants, with one process per tool for all files.
verify() {
	local f t c bad=0 p=()
	state
	for f in $FILES; do
		if [ "${PLACE[$f]}" = warm ]; then
			p+=("$W/warm/tt/$f")
			[ "$(readlink "$D/$f")" = "$W/warm/tt/$f" ] &&
			    [ -f "$W/warm/tt/$f" ] && [ ! -L "$W/warm/tt/$f" ] ||
			    { echo "  $f: bad link"; bad=$((bad + 1)); }
		else
			p+=("$D/$f")
			[ ! -e "$W/warm/tt/$f" ] ||
			    { echo "  $f: on both tiers"; bad=$((bad + 1)); }
		fi
	done
	# (xxh128sum shows progress on stderr for large files.)
	eq "$1: every file whole" "$( (xxh128sum "${p[@]}" 2>/dev/null;
	    stat -c '%n %s %a' "${p[@]}" 2>&1) |
	    sed "s|$W/warm/tt/||; s|$D/||")" "$(cat "$W/want")"
	catalog_view tt "$1"
	for f in $FILES; do
		t=${PLACE[$f]}
		c=${CAT_TIER[$f]:-}
		[ "$c" = "$t" ] || [ -z "$c" -a "$t" = hot ] ||
		    { echo "  $f: data on $t, catalog says [$c]"; bad=$((bad + 1)); }
	done
	eq "$1: each file once, where the catalog says" "$bad" 0
	eq "$1: no temporaries" \
	    "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' | wc -l)" 0
	# jts-tierctl's own view too, every 5th time (the rest above is
	# judged with other tools).
	if [ $((checked % 50)) = 0 ]; then
		"$CTL" check >"$W/check.out" 2>&1
		c=$?
		[ "$c" = 0 ] || sed 's/^/    /' "$W/check.out" | head -10
		eq "$1: check OK" "$c" 0
	fi
}

"$CTL" scan >/dev/null
killed=0 finished=0 failed=0 checked=0
verify "before"
for it in $(seq 1 "$ITER"); do
	state
	r=$((RANDOM % 8))
	batch=0
	if [ $r -lt 2 ]; then
		target=$D bytes=0
		for f in $FILES; do bytes=$((bytes + ${SIZE[$f]})); done
		[ $((it % 2)) = 0 ] && op=recall || op=migrate
		# Every other whole-tree move: batches of 3, two at a time.
		[ $((it % 4)) -lt 2 ] && batch=3
	else
		if [ $r = 2 ]; then
			f=big
		else
			set -- $FILES
			shift $((RANDOM % 9))
			f=$1
		fi
		target=$D/$f bytes=${SIZE[$f]}
		[ "${PLACE[$f]}" = warm ] && op=recall || op=migrate
	fi
	# Kill somewhere in what the move should take: 20 ms plus the bytes
	# at 300 MB/s (the catalog, the syncs, the copy).
	span=$((20 + bytes / 300000))
	delay=$(( (RANDOM * 32768 + RANDOM) % span ))
	before=$T_FAILS
	JTS_TIER_BATCH_FILES=$batch "$CTL" $op -q "$target" >"$W/out" 2>&1 &
	pid=$!
	sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
	kill -9 $pid 2>/dev/null && killed=$((killed + 1)) ||
	    finished=$((finished + 1))
	wait $pid 2>/dev/null
	rc=$?
	ok "kill $it ($op ${target#"$D"}${batch/#3/ in batches of 3}, ${delay} ms): killed or done (exit $rc)" \
	    [ $rc = 137 -o $rc = 0 ]
	"$CTL" recover >"$W/rec.out" 2>&1
	c=$?
	[ $c = 0 ] || sed 's/^/    /' "$W/rec.out"
	eq "kill $it: recover exits 0" "$c" 0
	verify "kill $it ($op ${target#"$D"} after ${delay} ms)"
	checked=$((checked + 10))
	if [ "$T_FAILS" != "$before" ]; then
		failed=$((failed + 1))
		sed 's/^/    out: /' "$W/out" | head -10
	fi
done
"$CTL" check >"$W/check.out" 2>&1
c=$?
[ "$c" = 0 ] || sed 's/^/    /' "$W/check.out" | head -10
eq "at the end: check OK" "$c" 0
echo "crash torture: $ITER iterations, $killed killed mid-move, $finished finished first, $checked files checked, $failed iterations with a failure (seed $SEED)"
ok "most kills landed mid-move ($killed of $ITER)" [ "$killed" -gt $((ITER / 2)) ]
finish
