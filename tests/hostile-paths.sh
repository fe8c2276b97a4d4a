#!/bin/bash
# hostile-paths.sh - a 255-byte name, a path near PATH_MAX (4,096), a file
# so deep that its path on warm would not fit in PATH_MAX, and a 1 TiB
# sparse file.  Each has a defined outcome: moved and back with every
# byte kept, or refused with the file and the reason, nothing changed.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
setup_tiers 1G 1G
H=$W/hot/hp
mkdir -p "$H"

# 1. A name of 255 bytes (the longest a component may be).
long=$(printf 'n%.0s' $(seq 1 255))
head -c 100000 /dev/urandom > "$H/$long"
h=$(xxh128sum < "$H/$long" | cut -d' ' -f1)
"$CTL" migrate -q "$H/$long" >"$W/out" 2>&1
eq "255-byte name: moved" "$?" 0
eq "255-byte name: the link" "$(readlink "$H/$long")" "$W/warm/hp/$long"
eq "255-byte name: content" "$(xxh128sum < "$W/warm/hp/$long" | cut -d' ' -f1)" "$h"
"$CTL" recall -q "$H/$long" >/dev/null 2>&1
eq "255-byte name: recalled" "$?" 0
regular "255-byte name: a file at home again" "$H/$long"
eq "255-byte name: content after recall" "$(xxh128sum < "$H/$long" | cut -d' ' -f1)" "$h"

# mkdeep DIR TOTAL: directories of 200-byte names beneath DIR until the
# path is about TOTAL bytes long; prints the deepest directory.
mkdeep() {
	local d=$1 c
	c=$(printf 'd%.0s' $(seq 1 200))
	while [ ${#d} -lt $(($2 - 210)) ]; do
		d=$d/$c
	done
	mkdir -p "$d"
	echo "$d"
}

# 2. A path near PATH_MAX: its warm twin (one byte longer) still fits.
d=$(mkdeep "$H/near" $((4096 - ${#W} - 40)))
f=$d/file
head -c 70000 /dev/urandom > "$f"
h=$(xxh128sum < "$f" | cut -d' ' -f1)
echo "near PATH_MAX: ${#f} bytes"
"$CTL" migrate -q "$H/near" >"$W/out" 2>&1
eq "near PATH_MAX: moved" "$?" 0
ok "near PATH_MAX: a link" [ -L "$f" ]
eq "near PATH_MAX: content through the link" "$(xxh128sum < "$f" | cut -d' ' -f1)" "$h"
"$CTL" recall -q "$H/near" >/dev/null 2>&1
eq "near PATH_MAX: recalled" "$?" 0
regular "near PATH_MAX: a file again" "$f"
eq "near PATH_MAX: content after recall" "$(xxh128sum < "$f" | cut -d' ' -f1)" "$h"

# 3. Deeper than PATH_MAX: no absolute path names it, so no link could
# point at its copy.  Made by walking down with relative names.
top=$H/deep
mkdir -p "$top"
c=$(printf 'e%.0s' $(seq 1 200))
(cd "$top" && for i in $(seq 1 22); do mkdir "$c" && cd "$c" || exit 1; done &&
    head -c 5000 /dev/urandom > file && xxh128sum < file | cut -d' ' -f1 > "$W/deep.sum")
"$CTL" migrate "$top" >"$W/out" 2>&1
rc=$?
eq "beyond PATH_MAX: refused (exit 1)" "$rc" 1
contains "beyond PATH_MAX: says why" "$(cat "$W/out")" "too long"
got=$(cd "$top" && for i in $(seq 1 22); do cd "$c" || exit 1; done &&
    [ -f file ] && [ ! -L file ] && xxh128sum < file | cut -d' ' -f1)
eq "beyond PATH_MAX: the file is whole where it was" "$got" "$(cat "$W/deep.sum")"
eq "beyond PATH_MAX: nothing on warm" "$(find "$W/warm" -name file | wc -l)" 0

# 4. A 1 TiB sparse file: a few bytes of data, the rest a hole.  Its size
# is more than warm has: refused before anything is written.
truncate -s 1T "$H/tib"
echo hello | dd of="$H/tib" bs=1 seek=$((1 << 39)) conv=notrunc status=none
"$CTL" migrate "$H/tib" >"$W/out" 2>&1
eq "1 TiB sparse: refused (exit 1)" "$?" 1
contains "1 TiB sparse: says why" "$(cat "$W/out")" "not enough space on tier warm"
eq "1 TiB sparse: unchanged" "$(stat -c %s "$H/tib")" $((1 << 40))
regular "1 TiB sparse: a file at home" "$H/tib"
eq "no temporaries" "$(find "$W/hot" "$W/warm" -name '.jts-tier-*' | wc -l)" 0
"$CTL" check >/dev/null 2>&1
eq "check OK" "$?" 0
finish
