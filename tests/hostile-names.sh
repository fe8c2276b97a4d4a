#!/bin/bash
# hostile-names.sh - names with a newline and with invalid UTF-8 are
# catalogued by a scan, moved by a policy run through the daemon and by a
# migrate through its socket with every byte kept, and appear in JSON
# output as valid UTF-8 with their exact bytes in *_hex.  Judged with
# stat, xxh128sum and a strict UTF-8 JSON parser.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd python3
setup_tiers 256M 256M
[ -x "$TIERD" ] || skip "jts-tierd not built"
mkdir -p "$W/policies" "$W/hot/h"
nl=$'new\nline' bad=$(printf 'x\xff\xfey') tab=$'t\tab'
for n in "$nl" "$bad" "$tab" plain "é-ok"; do printf '%s' "$n" > "$W/hot/h/$n"; done
touch -d '40 days ago' "$W"/hot/h/*
sums=$(cd "$W/hot/h" && for f in *; do xxh128sum < "$f"; done | cut -d' ' -f1 | sort | tr '\n' ' ')
out=$("$CTL" scan); rc=$?
eq "scan exits 0" "$rc" 0
eq "five rows, names as bytes" "$(sqlite3 "$CAT" "SELECT group_concat(hex(path), ' ') FROM (SELECT path FROM files ORDER BY path)")" \
    "682F6E65770A6C696E65 682F706C61696E 682F74096162 682F78FFFE79 682FC3A92D6F6B"
cat > "$W/policies/h.policy" <<'P'
[policy]
from = hot
to = warm
condition = path GLOB 'h/*'
order = path
schedule = 1d
P
"$CTL" policy test h --json > "$W/t.json"; rc=$?
eq "policy test --json exits 0" "$rc" 0
got=$(python3 - "$W/t.json" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))   # strict
for f in d["files"]:
    exact = bytes.fromhex(f["path_hex"]) if "path_hex" in f else f["path"].encode()
    print(exact.hex(), "hex" if "path_hex" in f else "-")
PY
)
eq "strict UTF-8 JSON; exact bytes where not UTF-8" "$(echo $got)" \
    "682f6e65770a6c696e65 - 682f706c61696e - 682f74096162 - 682f78fffe79 hex 682fc3a92d6f6b -"
start_daemon || exit 1
wait_log "policy h run=schedule moved=" 30
contains "the run moved all five" "$(grep 'policy h run=schedule moved=' "$W/d.log")" "moved=5"
after=$(cd "$W/warm/h" && for f in *; do xxh128sum < "$f"; done | cut -d' ' -f1 | sort | tr '\n' ' ')
eq "every byte kept, on warm" "$after" "$sums"
eq "each name kept, as a link on hot" "$(find "$W/hot/h" -type l -printf . | wc -c)" 5
out=$("$CTL" recall "$W/hot/h/$bad" "$W/hot/h/$nl"); rc=$?
eq "recall through the daemon, odd names: exit 0" "$rc" 0
ok "the invalid-UTF-8 name is back" test -f "$W/hot/h/$bad" -a ! -L "$W/hot/h/$bad"
ok "the newline name is back" test -f "$W/hot/h/$nl" -a ! -L "$W/hot/h/$nl"
json=$("$CTL" check --json); rc=$?
eq "check: OK" "$rc" 0
"$CTL" report --json > "$W/r.json"
ok "report --json is strict UTF-8 JSON" python3 -c 'import json,sys; json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))' "$W/r.json"
stop_daemon
finish
