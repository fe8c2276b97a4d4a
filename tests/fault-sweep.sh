#!/bin/bash
# fault-sweep.sh - every call of a move that changes durable state fails in
# turn: each write, pwrite, fsync, fdatasync, syncfs, rename, unlink, mkdir,
# symlink, xattr, chown, chmod, utimens, create, io_uring submission and
# completion, libnfs call and SQLite step (tests/faultshim.c, LD_PRELOAD).
# A counting run learns how many calls a move of a small mixed tree makes;
# then call N = 1..all fails with EIO, fails with ENOSPC, or the process is
# killed just before it.  After each: recovery runs, every file has its
# original content and metadata, once, at the place the catalog names (a
# file at home, or a link to warm, or only on the NAS); no temporary on
# any tier; the catalog passes integrity_check and check says OK.
#
# Directions: hot->warm (migrate), warm->hot (recall) and hot->warm in
# batches of two files, two batches at once (pairs); with SWEEP_COLD=1
# (tests/fault-sweep-cold.sh) warm->cold and cold->hot.
# Quick mode (make check): every call N fails once, the kind of fault
# turning with N (EIO, ENOSPC, kill, EIO, ...).  JTS_TEST_LONG=1 (make
# check-long): every call N with each of the three.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
SHIM=${JTS_FAULTSHIM:-$(dirname "$CTL")/tests/faultshim.so}
[ -f "$SHIM" ] || skip "the fault shim $SHIM is not built (make check builds it)"
setup_tiers 1G 1G
if [ "${SWEEP_COLD:-0}" = 1 ]; then
	. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
	mkdir -p "$W/export"
	NAS_TIMEOUT=5
	start_nas "$W/export"
	add_cold
	DIRS="cold cold-recall"
else
	NAS_DIR=
	# pairs: the tree migrated in batches of 2, two batches at once (a
	# call of either thread may be the one that fails).
	DIRS="migrate recall pairs"
fi
# A preloaded library ahead of the sanitizer runtime is expected here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
KINDS="eio enospc kill"

# The small mixed tree (an xattr but for a NAS, an empty file, a hole,
# another mode, an old mtime), made once; each run starts from a copy.
T=$W/template
mkdir -p "$T/sub"
echo one > "$T/a"
[ -n "$NAS_DIR" ] || setfattr -n user.x -v y "$T/a"
: > "$T/empty"
head -c 70000 /dev/urandom > "$T/sub/b"
head -c 600000 /dev/urandom > "$T/big"
truncate -s 2M "$T/sparse"
echo s >> "$T/sparse"
chmod 640 "$T/sub/b"
touch -d '2020-01-02 03:04:05.123456789' "$T/big"
FILES="a empty sub/b big sparse"

# locate REL: for each file, where its data is (hot, warm, cold or none),
# by looking; sets PLACE[f] and DATA[f] (its path there).
declare -A PLACE DATA
locate() {
	local f h
	for f in $FILES; do
		h=$W/hot/$1/$f
		if [ -L "$h" ]; then
			PLACE[$f]=warm DATA[$f]=$W/warm/$1/$f
		elif [ -f "$h" ]; then
			PLACE[$f]=hot DATA[$f]=$h
		elif [ -n "$NAS_DIR" ] && [ -f "$NAS_DIR/$1/$f" ]; then
			PLACE[$f]=cold DATA[$f]=$NAS_DIR/$1/$f
		else
			PLACE[$f]=none DATA[$f]=/nonexistent/$f
		fi
	done
}

# content REL: hash, size, mode, owner and mtime of each file wherever its
# data is, and its user xattrs (not with a NAS: NFSv3 has none).  A few
# processes for all the files, so the sweep stays quick.
content() {
	local f p=()
	locate "$1"
	for f in $FILES; do p+=("${DATA[$f]}"); done
	xxh128sum "${p[@]}" 2>/dev/null | sed "s|$W/[a-z]*/$1/||; s|$NAS_DIR/$1/||"
	stat -c '%s %a %u:%g %.9Y' "${p[@]}" 2>&1
	[ -n "$NAS_DIR" ] || getfattr --absolute-names -d -m '^user\.' \
	    "${p[@]}" 2>&1 |
	    sed "s|$W/[a-z]*/$1/||"
}

# verify REL CONTENT WHAT: the invariants after the fault and recovery.
verify() {
	local rel=$1 f t bad=0 c row
	eq "$3: every file whole, its metadata kept" "$(content "$rel")" "$2"
	locate "$rel"
	# The catalog: integrity, open journal rows, each file's tier.
	catalog_view "$rel" "$3"
	for f in $FILES; do
		t=${PLACE[$f]}
		if [ "$t" = warm ]; then
			[ "$(readlink "$W/hot/$rel/$f")" = "$W/warm/$rel/$f" ] &&
			    [ ! -L "$W/warm/$rel/$f" ] ||
			    { echo "  $f: bad link"; bad=$((bad + 1)); }
		fi
		[ "$t" != none ] || { echo "  $f: nowhere"; bad=$((bad + 1)); }
		[ "$t" = warm ] || [ ! -e "$W/warm/$rel/$f" ] ||
		    { echo "  $f: also on warm"; bad=$((bad + 1)); }
		[ "$t" = cold ] || [ -z "$NAS_DIR" ] ||
		    [ ! -e "$NAS_DIR/$rel/$f" ] ||
		    { echo "  $f: also on the NAS"; bad=$((bad + 1)); }
		c=${CAT_TIER[$f]:-}
		# A file not yet touched may not be catalogued yet.
		[ "$c" = "$t" ] || [ -z "$c" -a "$t" = hot ] ||
		    { echo "  $f: data on $t, catalog says [$c]"; bad=$((bad + 1)); }
	done
	eq "$3: each file once, where the catalog says" "$bad" 0
	eq "$3: no temporaries" "$(find "$W/hot" "$W/warm" $NAS_DIR \
	    -name '.jts-tier*' | wc -l)" 0
	# jts-tierctl's own view too, every 4th run (the rest above is
	# judged with other tools).
	if [ $((runs % 4)) = 0 ]; then
		"$CTL" check >"$W/check.out" 2>&1
		c=$?
		[ "$c" = 0 ] || sed 's/^/    /' "$W/check.out"
		eq "$3: check OK" "$c" 0
	fi
}

# prepare REL DIR: the tree, moved to where DIR starts from.
prepare() {
	cp -a "$T" "$W/hot/$1"
	case $2 in
	recall|cold)	"$CTL" migrate -q "$W/hot/$1" >/dev/null ;;
	cold-recall)	"$CTL" migrate -q --to cold "$W/hot/$1" >/dev/null ;;
	esac || echo "  setting up $1 for $2 failed"
}

# op DIR REL [ENV...]: the move under test.
op() {
	local d=$1 rel=$2
	shift 2
	case $d in
	migrate)	env "$@" "$CTL" migrate -q "$W/hot/$rel" ;;
	pairs)		env "$@" JTS_TIER_BATCH_FILES=2 "$CTL" migrate -q \
			    "$W/hot/$rel" ;;
	recall|cold-recall) env "$@" "$CTL" recall -q "$W/hot/$rel" ;;
	cold)		env "$@" "$CTL" migrate -q --to cold "$W/hot/$rel" ;;
	esac
}

# forget REL: remove the tree from every tier and the catalog (not from
# the journal: its rows are history), so the tiers stay small.
forget() {
	rm -rf "$W/hot/$1" "$W/warm/$1" ${NAS_DIR:+"$NAS_DIR/$1"}
	sqlite3 "$CAT" "delete from files where substr(path, 1, length('$1/')) = cast('$1/' as blob)"
}

# Quick mode: every STRIDE-th call from a random offset (printed; set
# JTS_SWEEP_OFFSET to repeat a run), the kind of fault turning.
if [ "${JTS_TEST_LONG:-0}" = 1 ]; then
	STRIDE=1 OFFSET=1
else
	# (The NAS answers slowly: half as many calls there.)
	STRIDE=${JTS_SWEEP_STRIDE:-$([ -n "$NAS_DIR" ] && echo 8 || echo 4)}
	# JTS_SWEEP_SHARE=K: every K times the stride (a second pass).
	STRIDE=$((STRIDE * ${JTS_SWEEP_SHARE:-1}))
	OFFSET=${JTS_SWEEP_OFFSET:-$((RANDOM % STRIDE + 1))}
fi
echo "fault sweep: every call from $OFFSET in steps of $STRIDE${JTS_TEST_LONG:+, each kind}"

i=0 runs=0 files=0 failed_runs=0 turn=0
for d in $DIRS; do
	# Counting run: how many calls, and which.
	i=$((i + 1))
	rel=t$i
	prepare $rel $d
	want=$(content $rel)
	rm -f "$W/trace"
	op $d $rel LD_PRELOAD="$SHIM" JTS_SWEEP_TRACE="$W/trace" \
	    >/dev/null 2>&1
	eq "$d: untroubled run exits 0" "$?" 0
	verify $rel "$want" "$d: untroubled"
	total=$(wc -l < "$W/trace")
	ok "$d: the shim saw the move's calls ($total)" [ "$total" -gt 50 ]
	echo "$d: $total calls: $(awk '{print $2}' "$W/trace" | sort |
	    uniq -c | sort -rn | awk '{printf "%s %s, ", $2, $1}')"
	forget $rel
	nkill=0
	# The pairs' calls come in no fixed order and most are the same as
	# migrate's: a quarter as many in quick mode.
	step=$STRIDE
	[ $d = pairs ] && [ "${JTS_TEST_LONG:-0}" != 1 ] && step=$((STRIDE * 4))
	for n in $(seq "$OFFSET" "$step" "$total"); do
		if [ "${JTS_TEST_LONG:-0}" = 1 ]; then
			kinds=$KINDS
		else
			set -- $KINDS
			shift $((turn % 3))
			kinds=$1
			turn=$((turn + 1))
		fi
		for k in $kinds; do
			i=$((i + 1))
			rel=t$i
			prepare $rel $d
			what="$d $k:$n ($(sed -n "${n}s/^[0-9]* //p" "$W/trace"))"
			before=$T_FAILS
			op $d $rel LD_PRELOAD="$SHIM" JTS_SWEEP=$k:$n \
			    >"$W/out" 2>&1
			rc=$?
			if [ $k = kill ]; then
				ok "$what: killed or done (exit $rc)" \
				    [ $rc = 137 -o $rc = 0 ]
				[ $rc = 137 ] && nkill=$((nkill + 1))
			else
				ok "$what: exit 0 or 1, not $rc" [ $rc = 0 -o $rc = 1 ]
			fi
			if grep -qE 'Sanitizer|runtime error:' "$W/out"; then
				ok "$what: no sanitizer report" false
			fi
			"$CTL" recover >"$W/rec.out" 2>&1
			c=$?
			[ $c = 0 ] || sed 's/^/    /' "$W/rec.out"
			eq "$what: recover exits 0" "$c" 0
			verify $rel "$want" "$what"
			if [ "$T_FAILS" != "$before" ]; then
				failed_runs=$((failed_runs + 1))
				sed 's/^/    out: /' "$W/out" | head -20
			fi
			runs=$((runs + 1))
			files=$((files + 5))
			forget $rel
		done
	done
	ok "$d: kills landed ($nkill)" [ "$nkill" -gt 0 ]
done
echo "fault sweep: $runs faulted runs, $files files verified, $failed_runs runs with a failure"
finish
