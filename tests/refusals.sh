#!/bin/bash
# refusals.sh - what must not move is refused with the file and the reason,
# exit 1 (2 for usage), and nothing changes: source intact, no temporary.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd chattr python3 mknod mkfifo
setup_tiers 512M 512M

H=$W/hot/r
mkdir -p "$H" "$W/warm/r"
echo data > "$H/plain"

# refuse NAME WANT_EXIT WANT_TEXT PATH [ARGS...]: run migrate, judge.
refuse() {
	name=$1 want=$2 text=$3 p=$4
	shift 4
	before=$(ls -la "$H" | md5sum)
	sums=$(cd "$H" && find . -type f -exec xxh128sum {} + 2>/dev/null | sort)
	out=$("$CTL" migrate "$@" "$p" 2>&1); rc=$?
	eq "$name: exit" "$rc" "$want"
	contains "$name: reason" "$out" "$text"
	[ "$want" = 2 ] ||
		contains "$name: names the file" "$out" "$(basename "$p")"
	eq "$name: hot unchanged" "$(ls -la "$H" | md5sum)" "$before"
	eq "$name: contents unchanged" \
	    "$(cd "$H" && find . -type f -exec xxh128sum {} + 2>/dev/null | sort)" "$sums"
	eq "$name: no temporary on warm" \
	    "$(find "$W/warm" -name '.jts-tier-*' | wc -l)" 0
}

echo h > "$H/hard"; ln "$H/hard" "$H/hard2"
refuse "hard link outside what was named" 1 \
    "has 2 hard links, 1 of them not among the files to move" "$H/hard"
mkfifo "$H/fifo"
refuse "fifo" 1 "is a FIFO; only regular files move" "$H/fifo"
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$H/sock"
refuse "socket" 1 "is a socket" "$H/sock"
mknod "$H/null" c 1 3
refuse "device" 1 "is a character device" "$H/null"

# A reader is no reason to refuse: the file moves, and the reader's
# descriptor still reads the content that was copied.
echo open > "$H/held"
exec 3<"$H/held"
out=$("$CTL" migrate "$H/held" 2>&1); rc=$?
eq "open for reading: moved (exit)" "$rc" 0
regular "open for reading: on warm" "$W/warm/r/held"
eq "open for reading: the reader reads what was copied" "$(cat <&3)" open
exec 3<&-
"$CTL" recall -q "$H/held" >/dev/null 2>&1
regular "open for reading: recalled" "$H/held"
echo w > "$H/written"
sleep 60 >> "$H/written" &
writer=$!
refuse "open for writing" 1 "is open for writing by another process" "$H/written"
kill $writer; wait $writer 2>/dev/null

mkdir -p "$W/hot/real"; echo t > "$W/hot/real/f"
ln -s "$W/hot/real" "$H/linkdir"
refuse "symlinked directory on the way" 1 \
    "a directory on the way is a symbolic link" "$H/linkdir/f"
ln -s "$W/hot/real/f" "$H/linkfile"
refuse "user symlink to a file" 0 "is a symbolic link not managed" "$H/linkfile"
refuse "outside every tier" 1 "not beneath the root of any configured tier" \
    /etc/hostname
refuse "dot-dot out of the tier" 1 "not beneath the root of any configured tier" \
    "$W/hot/../img/hot.img"
contains "outside every tier: lists the tiers" \
    "$("$CTL" migrate /etc/hostname 2>&1)" "(tiers: hot ($W/hot), warm ($W/warm))"

echo warm-version > "$W/warm/r/exists"
echo hot-version > "$H/exists"
refuse "destination exists" 1 "already exists on tier warm; not overwritten" \
    "$H/exists"
eq "destination untouched" "$(cat "$W/warm/r/exists")" warm-version

echo i > "$H/immutable"
if chattr +i "$H/immutable" 2>/dev/null; then
	refuse "immutable" 1 "is immutable" "$H/immutable"
	chattr -i "$H/immutable"
fi

refuse "unknown tier" 2 "--to nowhere: no such tier" "$H/plain" --to nowhere
contains "unknown tier: lists the tiers" \
    "$("$CTL" migrate --to nowhere "$H/plain" 2>&1)" "(tiers: hot, warm)"

# Not enough space: a reserve larger than the warm tier.
sed 's/^reserve = .*/reserve = 100G/' "$CONF" > "$W/big-reserve.conf"
refuse "no space" 1 "not enough space on tier warm" "$H/plain" \
    -c "$W/big-reserve.conf"
contains "no space: what to do" \
    "$("$CTL" -c "$W/big-reserve.conf" migrate "$H/plain" 2>&1)" \
    "make room there or choose another tier with --to"

# A tier whose root is another's as it is on disk - the same directory
# through a bind mount, a symlink to it, a symlink into it - is refused
# when the configuration is read, before anything can move onto itself.
cp "$CONF" "$W/conf.orig"
mkdir -p "$W/alias"
mount --bind "$W/hot" "$W/alias" && MOUNTS="$W/alias $MOUNTS"
ln -s "$W/hot" "$W/hotlink"
mkdir -p "$W/hot/inner"
ln -s "$W/hot/inner" "$W/innerlink"
for a in alias hotlink innerlink; do
	cp "$W/conf.orig" "$CONF"
	printf '\n[tier alias]\nkind = posix\nroot = %s\n' "$W/$a" >> "$CONF"
	out=$("$CTL" migrate --to alias "$H/plain" 2>&1); rc=$?
	eq "root $a: configuration refused (exit 2)" "$rc" 2
	contains "root $a: says which roots overlap" "$out" \
	    "tier alias: root $W/$a overlaps tier hot's root $W/hot (line 12) as they are on disk"
	regular "root $a: nothing moved" "$H/plain"
done
cp "$W/conf.orig" "$CONF"
rmdir "$W/hot/inner"

# Recall of a path jts-tier never moved.
out=$("$CTL" recall "$H/plain" 2>&1); rc=$?
eq "recall unmanaged: exit" "$rc" 1
contains "recall unmanaged: reason" "$out" "not managed by jts-tier"

# Not root: the engine's lock beside the catalog cannot be taken.
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	chmod 755 "$W"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$CTL" migrate "$H/plain" 2>&1); rc=$?
	eq "not root: exit 1" "$rc" 1
	contains "not root: what to do" "$out" "moving data needs root"
	regular "not root: nothing moved" "$H/plain"
fi

# Without a daemon or a policy: what to do instead.
out=$("$CTL" reload 2>&1); rc=$?
eq "reload without a daemon: exit" "$rc" 1
contains "reload without a daemon: what to do" "$out" "'systemctl start jts-tierd'"
out=$("$CTL" explain "$H/plain" 2>&1); rc=$?
eq "explain without policies: exit" "$rc" 0
contains "explain without policies: says so" "$out" "no policy would move it: none is configured"

eq "journal has nothing unfinished" \
    "$(sqlite3 "$CAT" "select count(*) from journal where state not in ('done','aborted')")" 0
out=$("$CTL" check 2>&1); rc=$?
eq "check is OK after refusals" "$rc" 0
finish
