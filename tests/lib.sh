# tests/lib.sh - helpers for the integration tests (sourced, POSIX sh+bash)
#
# A test calls need_root, then setup_tiers to get a hot tier (ext4 on a
# loop device) and a warm tier (btrfs on a loop device, compress=zstd),
# a config at $CONF and a catalog beneath $W.  Everything made is undone
# on exit.  Judging is done with independent tools: xxh128sum, stat,
# getfattr, getfacl, readlink, sqlite3.

set -u
CTL=${JTS_TIERCTL:-$(pwd)/jts-tierctl}
TIERD=${JTS_TIERD:-$(dirname "$CTL")/jts-tierd}
DPID=
T_NAME=$(basename "$0" .sh)
T_FAILS=0
T_CHECKS=0
W=
LOOPS=
MOUNTS=
T_CLEANUP=	# shell commands run first on exit (eval)

skip() {
	echo "SKIP: $T_NAME: $*"
	exit 77
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (loop devices, mounts, leases)"
}

# need_hooks: the programs were built with configure --enable-test-hooks
# (fault points, pauses, knobs); a default build has none, so skip.
need_hooks() {
	"$CTL" --version 2>/dev/null | grep -q '(test hooks)' ||
		skip "needs a build with configure --enable-test-hooks (its fault points and knobs)"
}

need_cmd() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

cleanup() {
	set +e
	[ -n "$T_CLEANUP" ] && eval "$T_CLEANUP"
	if [ -n "$DPID" ]; then
		kill -KILL "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	# A stub holder the daemon started for this test's stubs.
	[ -n "$W" ] && pkill -KILL -f -- "--stub-holder $W/" 2>/dev/null
	for m in $MOUNTS; do umount -l "$m" 2>/dev/null; done
	# Whatever a test had the program mount beneath its directory.
	[ -n "$W" ] && findmnt -rn -o TARGET | grep "^$W/" | sort -r |
	    while read -r m; do umount -l "$m"; done
	for l in $LOOPS; do losetup -d "$l" 2>/dev/null; done
	[ -n "$W" ] && rm -rf "$W"
}
trap cleanup EXIT INT TERM

# Every assertion counts once and returns its result (0 or 1).  One
# assertion is one command: in 'ok D [ A ] && [ B ]' the shell runs B
# outside ok and drops its result; tests/lib-selftest.sh refuses that
# shape in every test.  For two conditions, use two assertions or one of
# the helpers below.

# ok DESCRIPTION COMMAND...: one assertion, that COMMAND succeeds.
ok() {
	desc=$1
	shift
	T_CHECKS=$((T_CHECKS + 1))
	if "$@"; then
		return 0
	fi
	echo "FAIL: $desc"
	T_FAILS=$((T_FAILS + 1))
	return 1
}

# eq DESCRIPTION GOT WANT
eq() {
	T_CHECKS=$((T_CHECKS + 1))
	if [ "$2" != "$3" ]; then
		echo "FAIL: $1: got [$2], want [$3]"
		T_FAILS=$((T_FAILS + 1))
		return 1
	fi
	return 0
}

# contains DESCRIPTION HAYSTACK NEEDLE
contains() {
	T_CHECKS=$((T_CHECKS + 1))
	case "$2" in
	*"$3"*) return 0 ;;
	esac
	echo "FAIL: $1: [$3] not in:"; printf '%s\n' "$2" | sed 's/^/    /'
	T_FAILS=$((T_FAILS + 1))
	return 1
}

_is_regular() { [ -f "$1" ] && [ ! -L "$1" ]; }
_is_absent() { [ ! -e "$1" ] && [ ! -L "$1" ]; }
_no_data() { [ ! -f "$1" ] || [ -L "$1" ]; }
_is_dir() { [ -d "$1" ] && [ ! -L "$1" ]; }
_failed_in_time() { [ "$1" -ne 0 ] && [ "$1" -ne 124 ]; }
# regular DESCRIPTION PATH: a regular file, not a symbolic link.
regular() { ok "$1" _is_regular "$2"; }
# absent DESCRIPTION PATH: nothing at all, not even a dangling link.
absent() { ok "$1" _is_absent "$2"; }
# no_data DESCRIPTION PATH: no regular file (nothing, or a link).
no_data() { ok "$1" _no_data "$2"; }
# a_dir DESCRIPTION PATH: a directory, not a symbolic link to one.
a_dir() { ok "$1" _is_dir "$2"; }
# failed_in_time DESCRIPTION RC: exit non-zero, and not timeout's 124.
failed_in_time() { ok "$1 (exit $2)" _failed_in_time "$2"; }

finish() {
	if [ "$T_CHECKS" -eq 0 ]; then
		echo "FAIL: $T_NAME asserted nothing"
		exit 1
	fi
	if [ "$T_FAILS" -ne 0 ]; then
		if [ -s "$W/d.log" ]; then
			echo "the daemon's log, its last lines:"
			tail -n 25 "$W/d.log" | sed 's/^/    /'
		fi
		echo "$T_NAME: $T_FAILS of $T_CHECKS checks failed (${SECONDS} s)"
		exit 1
	fi
	echo "$T_NAME: all $T_CHECKS checks passed (${SECONDS} s)"
	exit 0
}

# rawloop VAR IMAGE SIZE: a loop device on a new empty image, in $VAR.
rawloop() {
	truncate -s "$3" "$2"
	_l=$(losetup -f --show "$2" 2>/dev/null) || skip "no loop device"
	LOOPS="$_l $LOOPS"
	eval "$1=\$_l"
}

# loopfs IMAGE SIZE MKFS MOUNTPOINT [MOUNTOPTS]
loopfs() {
	truncate -s "$2" "$1"
	case "$3" in
	ext4)	mkfs.ext4 -q -F "$1" >/dev/null 2>&1 ;;
	btrfs)	mkfs.btrfs -q -f "$1" >/dev/null 2>&1 ;;
	xfs)	mkfs.xfs -q -f "$1" >/dev/null 2>&1 ;;
	esac || skip "mkfs.$3 failed"
	l=$(losetup -f --show --direct-io=on "$1" 2>/dev/null) ||
		skip "no loop device available"
	LOOPS="$LOOPS $l"
	mkdir -p "$4"
	if [ -n "${5:-}" ]; then
		mount -o "$5" "$l" "$4" || skip "cannot mount $3 loop"
	else
		mount "$l" "$4" || skip "cannot mount $3 loop"
	fi
	MOUNTS="$4 $MOUNTS"
}

# setup_tiers [HOT_SIZE] [WARM_SIZE]
setup_tiers() {
	need_root
	need_cmd losetup mkfs.ext4 mkfs.btrfs xxh128sum sqlite3
	W=$(mktemp -d /tmp/jts-test.XXXXXX)
	mkdir -p "$W/img"
	loopfs "$W/img/hot.img" "${1:-1G}" ext4 "$W/hot"
	loopfs "$W/img/warm.img" "${2:-1G}" btrfs "$W/warm" compress=zstd
	CONF=$W/jts-tier.conf
	CAT=$W/var/catalog.db
	cat > "$CONF" <<CONF
# test configuration
[catalog]
path = $CAT

[defaults]
reserve = 16M

[daemon]
socket = $W/run/ctl.sock
policies = $W/policies

[tier hot]
kind = posix
root = $W/hot

[tier warm]
kind = btrfs
root = $W/warm
CONF
	export JTS_TIER_CONF=$CONF
}

# Print "hash mode uid:gid mtime_ns size" of a file, with independent tools.
fileid() {
	h=$(xxh128sum < "$1" | cut -d' ' -f1)
	s=$(stat -L -c '%a %u:%g %.9Y %s' "$1")
	echo "$h $s"
}

# manifest DIR: one line per regular file beneath DIR (through links),
# relative, sorted, its name shell-quoted (%q: a newline in a name keeps
# its record one line), with fileid and xattrs (getfattr) and ACLs
# (getfacl).  Names are read NUL-separated: no name is skipped.
manifest() {
	(cd "$1" && find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z |
	    while IFS= read -r -d '' f; do
		[ -f "$f" ] || continue
		printf '%q|%s|%s|%s\n' "$f" "$(fileid "$f")" \
		    "$(getfattr -d -m - --absolute-names "$f" 2>/dev/null |
		    grep -v '^#' | grep -v '^security\.' | sort | tr '\n' ' ')" \
		    "$(getfacl -cp "$f" 2>/dev/null | tr '\n' ' ')"
	done)
}

# hash_manifest DIR [NAME...]: "HASH NAME" records, NUL-terminated, of
# the regular files beneath DIR (or of the NAMEs in it), sorted; read
# them back with: while IFS=' ' read -r -d '' h f; do ...; done < FILE
hash_manifest() {
	(cd "$1" && shift && if [ $# -gt 0 ]; then printf '%s\0' "$@"; else
	    find . -type f -printf '%P\0'; fi | LC_ALL=C sort -z |
	    while IFS= read -r -d '' f; do
		printf '%s %s\0' "$(xxh128sum < "$f" | cut -d' ' -f1)" "$f"
	done)
}

# cpu_lock -s|-x: tests that start a Ceph cluster (-s, shared among
# them) take both cores for a while; a test that times the daemon's
# answers (-x) does not run beside them.  Held until the test exits.
cpu_lock() {
	exec 4>/run/lock/jts-tier-test-cpu.lock
	flock "$1" -w 1200 4 ||
		skip "the CPU lock was held for 1200 s by other tests"
}

# open_rows: the journal's rows not yet settled (sqlite3).
open_rows() {
	sqlite3 "$CAT" "select count(*) from journal where state not in ('done', 'aborted')"
}
# cat_tier REL: the tier the catalog says REL's data is on ("" if none).
cat_tier() {
	sqlite3 "$CAT" "select tier from files where path = CAST('$1' AS BLOB)"
}

# count_files DIR: regular files beneath DIR (names may hold newlines).
count_files() {
	find "$@" -type f -printf x | wc -c
}

# unhex HEX: print the bytes a hex string stands for.
unhex() {
	printf "$(printf '%s' "$1" | sed 's/../\\x&/g')"
}

# start_daemon [ENV=VALUE...]: run jts-tierd in the background (log in
# $W/d.log) and wait until it listens; fails if it does not start.
start_daemon() {
	env JTS_TIER_LOG_STDERR=1 "$@" "$TIERD" ${TIERD_FLAGS:--v} >>"$W/d.log" 2>&1 &
	DPID=$!
	for _i in $(seq 200); do
		grep -q "started: pid $DPID" "$W/d.log" 2>/dev/null && return 0
		if ! kill -0 "$DPID" 2>/dev/null; then
			echo "jts-tierd did not start:"
			tail -5 "$W/d.log"
			DPID=
			return 1
		fi
		sleep 0.1
	done
	echo "jts-tierd did not say it started within 20 s"
	return 1
}

# stop_daemon: SIGTERM, wait; returns the daemon's exit status.
stop_daemon() {
	[ -n "$DPID" ] || return 1
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID"
	_rc=$?
	DPID=
	return $_rc
}

# wait_log PATTERN [SECONDS] [COUNT]: wait until the daemon log has COUNT
# (default 1) lines matching the extended regular expression PATTERN.
wait_log() {
	_n=$(( ${2:-30} * 10 ))
	while [ "$_n" -gt 0 ]; do
		[ "$(grep -cE "$1" "$W/d.log" 2>/dev/null)" -ge "${3:-1}" ] &&
			return 0
		_n=$((_n - 1))
		sleep 0.1
	done
	echo "timed out waiting for /$1/ in the daemon log:"
	tail -8 "$W/d.log" | sed 's/^/    /'
	return 1
}

# flip_byte FILE OFFSET: invert one byte in place (always a change, unlike
# writing a fixed value that may already be there).
flip_byte() {
	python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))' "$1" "$2"
}

# catalog_view PREFIX WHAT: the catalog passes integrity_check and has no
# open journal row (two checks named WHAT); CAT_TIER[name] is then the
# tier the catalog gives each file beneath PREFIX/ (bash).
catalog_view() {
	local f t c
	declare -gA CAT_TIER
	CAT_TIER=()
	{
		read -r c
		eq "$2: integrity" "$c" ok
		read -r c
		eq "$2: journal settled" "$c" 0
		while IFS='|' read -r f t; do CAT_TIER[$f]=$t; done
	} < <(sqlite3 "$CAT" "pragma integrity_check;
	    select count(*) from journal where state not in ('done','aborted');
	    select substr(cast(path as text), length('$1/') + 1), tier
	    from files where substr(path, 1, length('$1/')) = cast('$1/' as blob)")
}
