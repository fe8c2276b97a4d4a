#!/bin/bash
# s3-crash.sh - tests/crash-recovery.sh on an object store: jts-tierctl
# SIGKILLed at every journal state and fault point of a move warm -> S3
# (a multipart upload among small objects) and of a recall S3 -> hot, the
# first time each is reached; then recover (twice).  Judged from outside:
# each file is in exactly one place, where the catalog (sqlite3) says,
# with its bytes (each object fetched with curl, signing itself, hashed
# with xxh128sum); no object of an uncommitted move, no unfinished upload
# (the bucket's ListMultipartUploads), no journal row open, check exits
# 0; and the next run finishes the work.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
. "${JTS_SRCDIR:-.}/tests/lib-s3.sh"
need_cmd s3cmd sqlite3
setup_tiers 1G 1G
start_s3
add_s3_cold h "part_size = 5M" "timeout = 20"

# The points each direction passes (a recall uploads nothing: no part;
# an object is put at its key by the upload: no rename to S3).
UP="journaled copy part synced verify verified renamed committed release released"
DOWN="journaled copy synced verify verified rename renamed committed release released"
# The sanitizer pass (JTS_TEST_SHARE=2) takes every other point.
SHARE=${JTS_TEST_SHARE:-1}

# mktree REL: small files, an empty one, and one uploaded in parts.
mktree() {
	local d=$W/hot/$1
	mkdir -p "$d/sub"
	echo one > "$d/a"
	: > "$d/empty"
	head -c 70000 /dev/urandom > "$d/sub/b"
	head -c 12M /dev/urandom > "$d/big"
}
FILES="a empty sub/b big"

# hashes REL: "name hash" of each file of the tree as made.
hashes() {
	local f
	for f in $FILES; do
		echo "$f $(xxh128sum < "$W/hot/$1/$f" | cut -d' ' -f1)"
	done
}

# exits0 WHAT OUT CMD...: CMD exits 0 (its output in OUT, shown if not).
exits0() {
	local what=$1 out=$2 rc
	shift 2
	"$@" > "$out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || sed 's/^/    /' "$out"
	eq "$what" "$rc" 0
}

# uploads: the unfinished uploads beneath the prefix, as the server lists
# them.
uploads() { s3curl "?prefix=h%2F&uploads=" -f | grep -o '<Upload>' | wc -l; }

# judge REL HASHES WHAT: each file once, where the catalog says, whole.
judge() {
	local rel=$1 what=$3 f h t bad=0 local_f q
	while read -r f h; do
		t=$(cat_tier "$rel/$f")
		local_f=
		for q in "$W/hot/$rel/$f" "$W/warm/$rel/$f"; do
			[ -f "$q" ] && [ ! -L "$q" ] && local_f="$local_f $q"
		done
		case $t in
		cold)
			[ -z "$local_f" ] ||
			    { echo "  $f: on S3 and at$local_f"; bad=$((bad + 1)); }
			[ "$(s3curl "h/$rel/$f" -f | xxh128sum | cut -d' ' -f1)" = "$h" ] ||
			    { echo "  $f: its object is not its data"; bad=$((bad + 1)); }
			;;
		hot|warm|"")
			[ "$local_f" = " $W/${t:-hot}/$rel/$f" ] ||
			    { echo "  $f: catalog [$t], files at [$local_f]"; bad=$((bad + 1)); }
			[ "$(xxh128sum < "$W/${t:-hot}/$rel/$f" 2>/dev/null | cut -d' ' -f1)" = "$h" ] ||
			    { echo "  $f: not its data"; bad=$((bad + 1)); }
			[ "$(s3curl "h/$rel/$f" --head -o /dev/null -w '%{http_code}')" = 404 ] ||
			    { echo "  $f: an object left beside it"; bad=$((bad + 1)); }
			;;
		*)	echo "  $f: catalog says [$t]"; bad=$((bad + 1)) ;;
		esac
	done <<< "$2"
	eq "$what: each file once, whole, where the catalog says" "$bad" 0
	eq "$what: no unfinished upload (ListMultipartUploads, by curl)" \
	    "$(uploads)" 0
	eq "$what: no journal row open" "$(open_rows)" 0
	exits0 "$what: check exits 0" "$W/check.out" "$CTL" check
}

i=0 k=0
for dir in up down; do
	pts=$UP
	[ $dir = down ] && pts=$DOWN
	for p in $pts; do
		k=$((k + 1))
		[ $((k % SHARE)) -eq 0 ] || continue
		i=$((i + 1))
		rel=t$i
		mktree $rel
		hs=$(hashes $rel)
		m=$(manifest "$W/hot/$rel")
		"$CTL" migrate -q "$W/hot/$rel" > "$W/setup" 2>&1 ||
		    { echo "setup: hot -> warm failed"; cat "$W/setup"; }
		if [ $dir = up ]; then
			cmd=(migrate -q --to cold "$W/hot/$rel")
		else
			"$CTL" migrate -q --to cold "$W/hot/$rel" > "$W/setup" 2>&1 ||
			    { echo "setup: warm -> s3 failed"; cat "$W/setup"; }
			cmd=(recall -q "$W/hot/$rel")
		fi
		JTS_TIER_FAULT=$p:1 "$CTL" "${cmd[@]}" >/dev/null 2>&1
		eq "$dir $p: killed at the point" "$?" 137
		[ $p != part ] ||
			eq "$dir $p: an unfinished upload is left" "$(uploads)" 1
		exits0 "$dir $p: recover exits 0" "$W/rec" "$CTL" recover
		"$CTL" recover >/dev/null 2>&1
		eq "$dir $p: recover again exits 0" "$?" 0
		judge $rel "$hs" "$dir $p"
		exits0 "$dir $p: the next run exits 0" "$W/rerun" "$CTL" "${cmd[@]}"
		judge $rel "$hs" "$dir $p, rerun"
		if [ $dir = up ]; then
			eq "$dir $p: all on S3 after the rerun" \
			    "$(sqlite3 "$CAT" "select count(*) from files where tier = 'cold' and cast(path as text) like '$rel/%'")" 4
		else
			eq "$dir $p: all at home after the rerun, as made (manifest)" \
			    "$(manifest "$W/hot/$rel")" "$m"
		fi
	done
done
finish
