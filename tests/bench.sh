#!/bin/bash
# bench.sh - jts-tierctl bench on loop-backed hot and warm tiers and the
# test NAS: one line per measure with PASS/FAIL against the configured
# targets (the exit status follows them), JSON, nothing left behind
# (files, catalog rows), an interrupted run cleans up; fio's figures for
# the same reads and writes are printed beside ours (not judged: this
# machine is shared and noisy).
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_cmd jq fio timeout
setup_tiers 1G 1G
mkdir -p "$W/export"
start_nas "$W/export"
add_cold
leftovers() {
	find "$W/hot" "$W/warm" "$W/export" -name '.jts-tier-*' | wc -l
}

# Targets any tier meets: every line PASS, exit 0.
cp "$CONF" "$W/easy.conf"
printf '\n[bench]\niops = 1\nwrite_mbps = 0.001\nnfs_mbps = 0.001\nmigrate_seconds = 600\n' >> "$W/easy.conf"
out=$("$CTL" -c "$W/easy.conf" bench --size 64M --time 2 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
eq "easy targets: exit 0" "$rc" 0
eq "seven measures, all PASS" "$(printf '%s\n' "$out" | grep -c ' PASS$')" 7
contains "hot: random reads" "$out" "hot      4 KiB random reads (O_DIRECT, QD 32)"
contains "warm: sequential writes" "$out" "warm     sequential writes of 1 MiB, then fsync"
contains "cold: writes with COMMIT" "$out" "cold     writes over libnfs, with COMMIT"
contains "hot -> warm" "$out" "hot      migrate to warm"
contains "warm -> cold" "$out" "warm     migrate to cold"
contains "cold -> hot" "$out" "cold     recall to hot"
eq "no benchmark file left" "$(leftovers)" 0
eq "no catalog row left" "$(sqlite3 "$CAT" "select count(*) from files")" 0

# Targets no tier meets: FAIL lines, exit 1; JSON says the same.
cp "$CONF" "$W/hard.conf"
printf '\n[bench]\niops = 1e11\nwrite_mbps = 1e9\nnfs_mbps = 1e9\nmigrate_seconds = 0.000001\n' >> "$W/hard.conf"
out=$("$CTL" -c "$W/hard.conf" bench --json --size 32M --time 1 hot cold 2>&1); rc=$?
eq "hard targets: exit 1" "$rc" 1
ok "JSON parses" jq -e . <<<"$out" >/dev/null
eq "JSON: pass false" "$(jq .pass <<<"$out")" false
eq "JSON: only the tiers asked for" \
    "$(jq -r '[.results[].tier] | unique | join(" ")' <<<"$out")" "cold hot"
eq "JSON: every measure failed its target" \
    "$(jq -r '[.results[].result] | unique | join(" ")' <<<"$out")" FAIL
eq "JSON: every value measured" \
    "$(jq '[.results[] | select(.value > 0)] | length' <<<"$out")" \
    "$(jq '.results | length' <<<"$out")"
eq "hot -> cold directly" "$(jq -r '.results[] | select(.test == "migrate_seconds") | .what' <<<"$out")" "migrate to cold"
eq "no benchmark file left" "$(leftovers)" 0

# Interrupted: the file being moved is removed too.
"$CTL" -c "$W/easy.conf" bench --size 256M --time 30 hot warm > "$W/int.out" 2>&1 &
bp=$!
sleep 3
kill -INT "$bp"
wait "$bp"; rc=$?
eq "interrupted: exit 130" "$rc" 130
contains "interrupted: says so" "$(cat "$W/int.out")" "interrupted: the benchmark's files were removed"
eq "interrupted: no benchmark file left" "$(leftovers)" 0

# Usage.
out=$("$CTL" -c "$CONF" bench nosuchtier 2>&1); rc=$?
eq "an unknown tier: exit 2" "$rc" 2
contains "an unknown tier named" "$out" "nosuchtier: no such tier"
out=$("$CTL" -c "$CONF" bench --size 1k 2>&1); rc=$?
eq "a size too small: exit 2" "$rc" 2

# fio on the same tier, for comparison (printed, not judged).
ours=$("$CTL" -c "$W/easy.conf" bench --json --size 64M --time 3 hot |
    jq '.results[] | select(.test == "randread_iops") | .value')
fio --name=randread --directory="$W/hot" --size=64M --rw=randread --bs=4k \
    --direct=1 --ioengine=io_uring --iodepth=32 --fixedbufs=1 \
    --registerfiles=1 --gtod_reduce=1 --iodepth_batch_submit=8 \
    --iodepth_batch_complete_max=32 --runtime=3 --time_based \
    --output-format=json > "$W/fio.json" 2>/dev/null
theirs=$(jq '.jobs[0].read.iops' "$W/fio.json")
rm -f "$W"/hot/randread.*
printf '    hot random reads: jts-tierctl %.0f IOPS, fio %.0f IOPS\n' "$ours" "$theirs"
ok "ours measured" [ "${ours%.*}" -gt 0 ]
ok "fio measured" [ "${theirs%.*}" -gt 0 ]
finish
