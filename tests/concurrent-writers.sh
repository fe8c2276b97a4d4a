#!/bin/bash
# concurrent-writers.sh - the source is in use while it would move: an
# append loop, an mmap writer, an idle descriptor open for writing, a
# truncate, and an editor's rename over the file, each started before the
# move and again during its copy (held open with a pause).  Each time the
# move is refused or aborted and the newest content stays at its path, a
# regular file, with nothing left on warm and check OK.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_hooks
need_cmd python3
setup_tiers 1G 1G
H=$W/hot/cw
mkdir -p "$H"

# settled NAME FILE: the file stayed, whole as its writer left it.
settled() {
	local f=$H/$2 c
	regular "$1: a regular file at its path" "$f"
	eq "$1: the newest content" "$(xxh128sum < "$f" | cut -d' ' -f1)" \
	    "$(cut -d' ' -f1 < "$W/newest")"
	ok "$1: no copy on warm" [ ! -e "$W/warm/cw/$2" ]
	eq "$1: no temporary" "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' |
	    wc -l)" 0
	"$CTL" check >"$W/check.out" 2>&1
	c=$?
	eq "$1: check OK" "$c" 0
	[ "$c" = 0 ] || sed 's/^/    /' "$W/check.out"
}

# writer KIND FILE: start what uses FILE in the background (pid in WPID);
# it waits for $W/go first, so it can be started ahead and set off at
# the right moment, and makes $W/ready once it has the file (open,
# mapped, or written once).  Each writer keeps in $W/expect what it has
# made the file hold, from what it wrote, never from the file itself;
# stop_writer ends it and records that content's hash in $W/newest.
writer() {
	local f=$H/$2
	cp "$f" "$W/expect"
	case $1 in
	append)
		# Opens, appends a numbered line, closes; again and again.
		( gate; i=0; while [ ! -e "$W/stop" ]; do
			i=$((i + 1)); echo "line $i" >> "$f"
			echo "line $i" >> "$W/expect"; touch "$W/ready"
			sleep 0.01
		done ) &
		;;
	mmap)
		# Holds the file mapped shared and changes it in place.
		python3 - "$f" "$W/stop" "$W/go" "$W/ready" "$W/expect" <<'PY' &
import mmap, os, sys, time
shadow = bytearray(open(sys.argv[5], "rb").read())
while not os.path.exists(sys.argv[3]):
    time.sleep(0.005)
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, os.fstat(fd).st_size)
open(sys.argv[4], "w").close()
i = 0
while not os.path.exists(sys.argv[2]):
    k = i % len(shadow)
    shadow[k] = (shadow[k] + 1) % 256
    m[k] = shadow[k]
    i += 4099
    time.sleep(0.005)
m.flush()
m.close()
os.close(fd)
open(sys.argv[5], "wb").write(shadow)
PY
		;;
	idle)
		# Open for writing, doing nothing.
		( gate; exec 8>>"$f"; touch "$W/ready"
		  while [ ! -e "$W/stop" ]; do sleep 0.05; done ) &
		;;
	truncate)
		# truncate(2) on the path: waits for a lease to be given up.
		head -c 5000 "$f" > "$W/expect"
		( gate; python3 -c 'import os, sys; os.truncate(sys.argv[1], 5000)' \
		    "$f" ) &
		;;
	rename)
		# An editor writes a new version beside it and renames it over.
		head -c 3000000 /dev/urandom > "$W/expect"
		( gate; cp "$W/expect" "$f.new" && mv "$f.new" "$f" ) &
		;;
	esac
	WPID=$!
}
gate() {
	while [ ! -e "$W/go" ]; do sleep 0.005; done
}
stop_writer() {
	touch "$W/stop"
	wait "$WPID" 2>/dev/null
	rm -f "$W/stop" "$W/go" "$W/ready"
	xxh128sum < "$W/expect" > "$W/newest"
}
# leased PID: until process PID holds a read lease (the move has the
# source and is copying it); 1 if it never does within 20 s.
leased() {
	for _ in $(seq 1 2000); do
		grep -q "LEASE.*READ $1 " /proc/locks && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

for kind in append mmap idle truncate rename; do
	for when in before during; do
		f=$kind-$when
		head -c 3000000 /dev/urandom > "$H/$f"
		writer $kind $f
		if [ $when = before ]; then
			touch "$W/go"
			# A one-off change is over before the move starts.
			case $kind in
			truncate|rename) wait "$WPID" ;;
			*)	for _ in $(seq 1 2000); do
					[ -e "$W/ready" ] && break
					sleep 0.01
				done
				ok "$f: the writer has the file" [ -e "$W/ready" ] ;;
			esac
			JTS_TIER_PAUSE=copy:1500 "$CTL" migrate "$H/$f" \
			    >"$W/out" 2>&1
			rc=$?
		else
			JTS_TIER_PAUSE=copy:3000 "$CTL" migrate "$H/$f" \
			    >"$W/out" 2>&1 &
			mpid=$!
			leased $mpid
			ok "$f: the move held the source when the writer began" \
			    [ $? = 0 ]
			touch "$W/go"
			wait $mpid
			rc=$?
		fi
		stop_writer $f
		case $kind-$when in
		truncate-before|rename-before)
			# Done and over before the move: the new file moves.
			eq "$f: moved (exit $rc)" "$rc" 0
			[ "$rc" = 0 ] || sed 's/^/    /' "$W/out"
			ok "$f: a link at its path" [ -L "$H/$f" ]
			eq "$f: the moved content is the newest" \
			    "$(xxh128sum < "$H/$f" | cut -d' ' -f1)" \
			    "$(cut -d' ' -f1 < "$W/newest")"
			"$CTL" recall -q "$H/$f" >/dev/null 2>&1
			;;
		*)
			eq "$f: not moved (exit 1)" "$rc" 1
			contains "$f: says why" "$(cat "$W/out")" "$f"
			settled "$f" "$f"
			;;
		esac
		rm -f "$H/$f" "$W/warm/cw/$f"
		"$CTL" scan >/dev/null 2>&1
	done
done
finish
