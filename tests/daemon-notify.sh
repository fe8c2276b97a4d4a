#!/bin/bash
# daemon-notify.sh - under systemd (Type=notify): READY=1 once it serves,
# WATCHDOG=1 at half the watchdog interval, RELOADING=1/READY=1 around a
# reload (by request and by SIGHUP), STOPPING=1 on SIGTERM; log lines
# carry syslog priority prefixes for the journal; the control socket is
# 0660 and belongs to socket_group.  A notify socket made here stands in
# for systemd's.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd python3
setup_tiers 256M 256M
[ -x "$TIERD" ] || skip "jts-tierd not built"
mkdir -p "$W/policies"
python3 - "$W/notify" "$W/notes" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "w") as out:
    try:
        while True:
            m = s.recv(4096).decode()
            out.write("%.3f %s\n" % (time.monotonic(), m.replace("\n", "|")))
            out.flush()
            if "STOPPING=1" in m:
                break
    except socket.timeout:
        pass
PY
LPID=$!
for _ in $(seq 50); do [ -S "$W/notify" ] && break; sleep 0.1; done
ok "notify socket ready" test -S "$W/notify"
env NOTIFY_SOCKET="$W/notify" WATCHDOG_USEC=400000 "$TIERD" -v > "$W/d.log" 2>&1 &
DPID=$!
for _ in $(seq 50); do grep -q READY=1 "$W/notes" 2>/dev/null && break; sleep 0.1; done
ok "READY=1 sent" grep -q 'READY=1' "$W/notes"
ok "the socket serves once READY is sent" test -S "$W/run/ctl.sock"
sleep 1.2
n=$(grep -c 'WATCHDOG=1' "$W/notes")
ok "WATCHDOG=1 every 0.2 s ($n in ~1.2 s)" test "$n" -ge 3
"$CTL" reload > /dev/null
sleep 0.2
ok "RELOADING=1 then READY=1 on reload" \
    grep -qE 'RELOADING=1' "$W/notes"
eq "READY=1 sent again after the reload" "$(grep -c 'READY=1' "$W/notes")" 2
# SIGHUP reloads as 'jts-tierctl reload' does.
kill -HUP "$DPID"
for _ in $(seq 50); do [ "$(grep -c 'READY=1' "$W/notes")" -ge 3 ] && break; sleep 0.1; done
eq "SIGHUP: READY=1 after its reload" "$(grep -c 'READY=1' "$W/notes")" 3
contains "SIGHUP: reload logged" "$(cat "$W/d.log")" "reloaded: 0 policies"
# The socket belongs to socket_group, mode 0660.
eq "socket mode and group" "$(stat -c '%a %G' "$W/run/ctl.sock")" "660 root"
kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
eq "SIGTERM: exit 0" "$rc" 0
wait "$LPID"
ok "STOPPING=1 sent" grep -q 'STOPPING=1' "$W/notes"
contains "journal lines carry priorities" "$(head -1 "$W/d.log")" "<5>started: pid"

# socket_group: the socket is given to that group; an unknown one is an
# error at start.
grp=$(getent group daemon >/dev/null && echo daemon || echo nogroup)
sed -i "s|^\[daemon\]|[daemon]\nsocket_group = $grp|" "$CONF"
start_daemon || exit 1
eq "socket_group: the socket's group" "$(stat -c '%a %G' "$W/run/ctl.sock")" "660 $grp"
stop_daemon
sed -i "s|^socket_group = .*|socket_group = no-such-group-jts|" "$CONF"
out=$("$TIERD" 2>&1); rc=$?
eq "unknown socket_group: exit 1" "$rc" 1
contains "and says which" "$out" "socket_group no-such-group-jts: no such group"
finish
