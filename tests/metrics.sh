#!/bin/bash
# metrics.sh - Prometheus text format for node_exporter's textfile
# collector: well-formed, written atomically, and its figures agree with
# sqlite3 and df; the last check's result and the daemon's state are in it.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd python3 df
setup_tiers 256M 256M
H=$W/hot/m
mkdir -p "$H" "$W/policies" "$W/prom"
head -c 300000 /dev/urandom > "$H/a"
head -c 700000 /dev/urandom > "$H/b"
echo c > "$H/c"
"$CTL" migrate -q "$H/a" "$H/b" > /dev/null
"$CTL" check --verify > /dev/null; rc=$?
eq "check: OK" "$rc" 0
"$CTL" metrics -o "$W/prom/jts-tier.prom"; rc=$?
eq "metrics -o exits 0" "$rc" 0
ok "no temporary left beside it" test "$(ls "$W/prom")" = jts-tier.prom
M=$W/prom/jts-tier.prom
bad=$(python3 - "$M" <<'PY'
import re, sys
line_re = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? -?[0-9.e+]+$')
typed = set()
for l in open(sys.argv[1]):
    l = l.rstrip("\n")
    if l.startswith("# TYPE "):
        typed.add(l.split()[2]); continue
    if l.startswith("#"): continue
    name = re.split(r'[{ ]', l)[0]
    if not line_re.match(l) or name not in typed:
        print(l)
PY
)
eq "every line is a well-formed sample of a typed metric" "$bad" ""
val() { grep -E "^$1 " "$M" | awk '{print $2}'; }
eq "files on warm agree with sqlite3" "$(val 'jts_tier_files\{tier="warm"\}')" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='warm'")"
eq "bytes on warm" "$(val 'jts_tier_bytes\{tier="warm"\}')" 1000000
eq "free bytes on hot agree with df" \
    "$(( $(val 'jts_tier_free_bytes\{tier="hot"\}') / 1048576 ))" \
    "$(( $(df -B1 --output=avail "$W/hot" | tail -1) / 1048576 ))"
eq "moves done" "$(val 'jts_tier_moves_total\{result="done"\}')" 2
eq "bytes moved" "$(val jts_tier_moved_bytes_total)" 1000000
eq "the last check's result" "$(val 'jts_tier_check_status\{verify="1"\}')" 0
ok "the last check's time is now" test $(( $(date +%s) - $(val jts_tier_check_timestamp_seconds) )) -lt 60
eq "daemon down" "$(val jts_tier_daemon_up)" 0
# A problem shows in the next check's result.
rm "$W/warm/m/b"
"$CTL" check > /dev/null
"$CTL" metrics > "$W/stdout.prom"
eq "check found a problem: CRITICAL in the metrics" \
    "$(grep -E '^jts_tier_check_status' "$W/stdout.prom" | awk '{print $2}')" 2
if [ -x "$TIERD" ]; then
	start_daemon || exit 1
	eq "daemon up" "$("$CTL" metrics | grep -E '^jts_tier_daemon_up ' | awk '{print $2}')" 1
	stop_daemon
fi
out=$("$CTL" metrics -o /nonexistent/dir/x.prom 2>&1); rc=$?
eq "an unwritable output: exit 1" "$rc" 1
contains "and names it" "$out" "/nonexistent/dir/x.prom"
finish
