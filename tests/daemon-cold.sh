#!/bin/bash
# daemon-cold.sh - the daemon ages files from warm to a real NAS
# (nfs-ganesha): the policy's files land on the export intact (xxh128sum
# on the export, nfs-cat through NFS), the home links point into the
# mountpoint, the catalog agrees; the control socket answers while a
# large file is on its way to the NAS (one loop serves both); with the
# NAS stopped (SIGSTOP) the run gives up after the timeout, the daemon
# keeps answering, and the next run finishes once the NAS is back.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_cmd nfs-cat timeout
setup_tiers 1G 1G
[ -x "$TIERD" ] || skip "jts-tierd not built"
NAS_TIMEOUT=4
start_nas "$W/export"
add_cold /mnt/nas
H=$W/hot
mkdir -p "$W/policies" "$H/arch" "$H/keep"
for i in 1 2 3 4 5 6; do head -c $((i * 70000)) /dev/urandom > "$H/arch/s$i"; done
head -c $((400 << 20)) /dev/urandom > "$H/arch/big"
head -c 1000 /dev/urandom > "$H/keep/k"
(cd "$H" && hash_manifest . arch/* keep/k) > "$W/manifest"
"$CTL" migrate -q "$H/arch" "$H/keep" > /dev/null
eq "setup: everything on warm first" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='warm'")" 8

cat > "$W/policies/to-nas.policy" <<'P'
[policy]
from = warm
to = cold
condition = path GLOB 'arch/*'
order = size ASC
schedule = 1d
P
start_daemon || exit 1
wait_log "policy to-nas run=schedule selected=7" 20
# While the big file goes to the NAS, the socket answers.
answered=0
for _ in $(seq 40); do
	out=$(timeout 5 "$CTL" status 2>&1) || break
	case "$out" in *"running policy to-nas"*) answered=$((answered + 1)) ;; esac
	grep -q 'policy to-nas run=schedule moved=' "$W/d.log" && break
	sleep 0.2
done
ok "status answered during the transfer, with its progress ($answered times)" test "$answered" -ge 1
wait_log "policy to-nas run=schedule moved=7" 120
eq "the catalog has the policy's files on cold" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='cold' AND home='hot' AND length(hash)=16")" 7
bad=$(while IFS=' ' read -r -d '' h f; do
	case "$f" in arch/*) p=$W/export/$f ;; *) p=$W/warm/$f ;; esac
	[ "$(xxh128sum < "$p" | cut -d' ' -f1)" = "$h" ] || echo "$f"
done < "$W/manifest")
eq "every file intact where the catalog says (export checked directly)" "$bad" ""
NASQ=${NAS_URL#*\?}
eq "nfs-cat reads a file back through NFS" \
    "$(nfs-cat "nfs://127.0.0.1$NAS_DIR/arch/s3?$NASQ" | xxh128sum | cut -d' ' -f1)" \
    "$(tr '\0' '\n' < "$W/manifest" | grep ' arch/s3$' | cut -d' ' -f1)"
eq "the home path links into the NAS's mountpoint" "$(readlink "$H/arch/big")" /mnt/nas/arch/big
ok "the warm copy is gone" test ! -e "$W/warm/arch/big"
ok "keep/ stayed on warm" test -f "$W/warm/keep/k"

# The NAS stops answering during a run: the run gives up, the daemon stays.
for i in 1 2 3; do head -c $((30 << 20)) /dev/urandom > "$H/arch/late$i"; done
"$CTL" migrate -q "$H/arch/late1" "$H/arch/late2" "$H/arch/late3" > /dev/null
"$CTL" policy run to-nas > "$W/run1.out" 2>&1 &
RUN=$!
sleep 0.3
kill -STOP "$NAS_PID"
t0=$(date +%s)
out=$(timeout 5 "$CTL" status 2>&1); rc=$?
eq "status answers while the NAS is stopped" "$rc" 0
wait "$RUN"; rc=$?
t1=$(date +%s)
kill -CONT "$NAS_PID"
ok "the run gave up within the timeout and a margin ($((t1 - t0)) s)" test $((t1 - t0)) -le 30
contains "the failure names the NAS and the cause" "$(cat "$W/run1.out")" "did not answer for 4 s"
eq "the sources stayed on warm" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='warm' AND CAST(path AS TEXT) GLOB 'arch/late*'")" \
    "$(ls "$W/warm/arch" | grep -c late)"
out=$("$CTL" policy run to-nas 2>&1); rc=$?
eq "the next run, NAS back, succeeds" "$rc" 0
contains "the daemon reconnected and cleaned up first" "$(cat "$W/d.log")" \
    "reconnecting to the NAS that stopped answering"
eq "and finishes the work" \
    "$(sqlite3 "$CAT" "SELECT count(*) FROM files WHERE tier='cold'")" 10
eq "no temporaries on the export" "$(find "$W/export" -name '.jts-tier*' | wc -l)" 0
stop_daemon; rc=$?
eq "SIGTERM: exit 0" "$rc" 0
finish
