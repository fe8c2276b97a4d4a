#!/bin/bash
# move-rate.sh - [daemon] move_rate holds the daemon's copies to that many
# bytes a second on every path (a large file and many small ones between
# local tiers, both to the NAS, a large one back from it), the copies
# intact; a reload lifts it.  A tier's recall_rate holds the recalls from
# it (the NAS's large stream, warm's small files).  The elapsed time of a capped move can only
# be longer than its bytes over the rate, less the burst (an eighth of a
# second's worth) and the largest request (4 MiB: a local copy's chunk),
# however fast or slow the machine: that lower bound is the check, never
# an upper one.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_cmd nfs-cat bc
setup_tiers 512M 512M
[ -x "$TIERD" ] || skip "jts-tierd not built"
start_nas "$W/export"
add_cold
sed -i "s|^\[daemon\]|[daemon]\nmove_rate = 8M|" "$CONF"
H=$W/hot
mkdir -p "$W/policies" "$H/big" "$H/small"
head -c $((24 << 20)) /dev/urandom > "$H/big/f"
for i in $(seq 1 80); do head -c 102400 /dev/urandom > "$H/small/s$i"; done
id_big=$(fileid "$H/big/f")
hash_manifest "$H/small" > "$W/small.manifest"

start_daemon || exit 1
contains "the daemon says its rate" "$(grep 'started: pid' "$W/d.log")" \
    "move rate 8.0 MiB/s"

# timed SECONDS_AT_LEAST DESCRIPTION COMMAND...: COMMAND succeeds and
# takes at least SECONDS.
timed() {
	local least=$1 desc=$2 t0 t1 rc
	shift 2
	t0=$(date +%s.%N)
	"$@" > "$W/out" 2>&1; rc=$?
	t1=$(date +%s.%N)
	eq "$desc: exit" "$rc" 0
	ok "$desc: took $(echo "$t1 - $t0" | bc -l | xargs printf '%.2f') s, at least $least s" \
	    [ "$(echo "$t1 - $t0 >= $least" | bc -l)" -eq 1 ]
}

# 24 MiB at 8 MiB/s: at least (24 - 1 - 4) / 8 = 2.375 s.
timed 2.3 "24 MiB hot -> warm" "$CTL" migrate -q "$H/big"
eq "the large copy on warm is intact" "$(fileid "$W/warm/big/f")" "$id_big"
# 80 x 100 KiB (7.8 MiB), 100 KiB a request: at least 0.8 s.
timed 0.8 "80 small files hot -> warm" "$CTL" migrate -q "$H/small"
ok "the small copies on warm are intact" \
    cmp -s "$W/small.manifest" <(hash_manifest "$W/warm/small")
timed 2.3 "24 MiB warm -> NAS" "$CTL" migrate -q --to cold "$H/big"
eq "the large copy on the NAS is intact" "$(fileid "$NAS_DIR/big/f")" "$id_big"
timed 0.8 "80 small files warm -> NAS" "$CTL" migrate -q --to cold "$H/small"
ok "the small copies on the NAS are intact" \
    cmp -s "$W/small.manifest" <(hash_manifest "$NAS_DIR/small")
timed 2.3 "24 MiB NAS -> hot" "$CTL" recall -q "$H/big"
eq "recalled intact" "$(fileid "$H/big/f")" "$id_big"

# A reload lifts the cap: the moves go at the tiers' speed again.
sed -i "s|^move_rate = .*|move_rate = 0|" "$CONF"
out=$("$CTL" reload); rc=$?
eq "reload exits 0" "$rc" 0
"$CTL" recall -q "$H/small" > "$W/out" 2>&1; rc=$?
eq "recall after the reload: exit" "$rc" 0
ok "the small files back on hot, intact" \
    cmp -s "$W/small.manifest" <(hash_manifest "$H/small")

# recall_rate: recalls from a tier keep to its own rate (move_rate off).
"$CTL" migrate -q --to cold "$H/big" > "$W/out" 2>&1
eq "the large file to the NAS again (unlimited): exit" "$?" 0
"$CTL" migrate -q "$H/small" > "$W/out" 2>&1
eq "the small files to warm again (unlimited): exit" "$?" 0
sed -i "s|^root = $W/warm\$|&\nrecall_rate = 8M|" "$CONF"
printf 'recall_rate = 8M\n' >> "$CONF"	# [tier cold] is the last section
out=$("$CTL" reload); rc=$?
eq "reload with recall rates: exit" "$rc" 0
timed 2.3 "24 MiB NAS -> hot at the NAS's recall_rate" "$CTL" recall -q "$H/big"
eq "recalled intact" "$(fileid "$H/big/f")" "$id_big"
timed 0.8 "80 small files warm -> hot at warm's recall_rate" "$CTL" recall -q "$H/small"
ok "the small files back on hot, intact" \
    cmp -s "$W/small.manifest" <(hash_manifest "$H/small")
stop_daemon
eq "the daemon stops cleanly" "$?" 0
finish
