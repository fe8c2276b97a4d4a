#!/bin/bash
# report.sh - the report's age histogram and directory lists agree with
# what find says of the files; the SVG chart is well-formed XML.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd python3
setup_tiers 256M 256M
H=$W/hot
mkdir -p "$H/pg/wal" "$H/pg/base" "$H/kafka/t0" "$W/policies"
mk() { head -c "$2" /dev/urandom > "$H/$1"; touch -d "$3 days ago" "$H/$1"; }
mk pg/wal/a 10000 0
mk pg/wal/b 20000 3
mk pg/wal/c 30000 10
mk pg/base/d 400000 40
mk kafka/t0/e 50000 100
mk kafka/t0/f 60000 400
"$CTL" migrate -q "$H/kafka" > /dev/null
# The catalog learns the hot files from a move and back, or the daemon's scan.
if [ -x "$TIERD" ]; then
	start_daemon || exit 1
	wait_log "scan tier=warm" 20
	stop_daemon
fi
json=$("$CTL" report --json); rc=$?
eq "report --json exits 0" "$rc" 0
got=$(printf '%s' "$json" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    print(t["tier"], t["files"], t["bytes"],
          ",".join("%d/%d" % (a["files"], a["bytes"]) for a in t["ages"]),
          " ".join("%s=%d" % (d["dir"], d["bytes"]) for d in t["largest"]),
          t["oldest"][0]["dir"] if t["oldest"] else "-")')
eq "hot: ages and directories" "$(printf '%s\n' "$got" | grep '^hot')" \
    "hot 4 460000 1/10000,1/20000,1/30000,1/400000,0/0,0/0 pg/base=400000 pg/wal=60000 pg/base"
eq "warm: ages and directories" "$(printf '%s\n' "$got" | grep '^warm')" \
    "warm 2 110000 0/0,0/0,0/0,0/0,1/50000,1/60000 kafka/t0=110000 kafka/t0"
out=$("$CTL" report --svg "$W/ages.svg"); rc=$?
eq "report --svg exits 0" "$rc" 0
contains "terminal chart" "$out" "30-90 days          1 files  390.6 KiB  ##############################"
contains "largest directories" "$out" "largest directories:"
ok "the SVG is well-formed XML with a bar per tier and age" python3 -c '
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
bars = [e for e in r.iter(ns + "rect") if e.find(ns + "title") is not None]
sys.exit(0 if r.tag == ns + "svg" and len(bars) == 12 else 1)' "$W/ages.svg"
out=$("$CTL" report --svg /nonexistent/x.svg 2>&1); rc=$?
eq "an unwritable SVG: exit 1" "$rc" 1
out=$("$CTL" report --top 0 2>&1); rc=$?
eq "a bad --top: exit 2" "$rc" 2
finish
