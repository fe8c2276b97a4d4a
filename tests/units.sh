#!/bin/bash
# units.sh - the systemd units are valid (systemd-analyze verify, with
# ExecStart pointed at the built programs), carry the hardening and
# settings jts-tierd(8) relies on, and name man pages that exist.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_cmd systemd-analyze
B=$(dirname "$CTL")
[ -f "$B/init/jts-tierd.service" ] || skip "units not built (--without-systemdsystemunitdir)"
W=$(mktemp -d /tmp/jts-test.XXXXXX)
for u in jts-tierd.service jts-tierctl-check.service; do
	sed -E "s|^(ExecStart=)[^ ]*/(jts-tier[a-z]*)|\\1$B/\\2|" "$B/init/$u" > "$W/$u"
done
cp "${JTS_SRCDIR:-.}/init/jts-tierctl-check.timer" "$W/"
out=$(systemd-analyze verify --man=no "$W"/jts-tierd.service \
    "$W"/jts-tierctl-check.service "$W"/jts-tierctl-check.timer 2>&1); rc=$?
eq "systemd-analyze verify: exit 0" "$rc" 0
eq "systemd-analyze verify: nothing to say" "$out" ""
u=$(cat "$B/init/jts-tierd.service")
for k in Type=notify WatchdogSec= 'ExecReload=/bin/kill -HUP $MAINPID' \
    NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths= PrivateTmp=yes \
    LimitMEMLOCK=infinity RuntimeDirectory=jts-tier; do
	contains "jts-tierd.service has $k" "$u" "$k"
done
contains "ExecStart is the configured sbindir's" "$u" "ExecStart=$(sed -n 's/^sbindir = //p' "$B/Makefile" | sed "s|\${exec_prefix}|$(sed -n 's/^exec_prefix = //p' "$B/Makefile")|;s|\${prefix}|$(sed -n 's/^prefix = //p' "$B/Makefile")|")/jts-tierd"
contains "the check service verifies" "$(cat "$B/init/jts-tierctl-check.service")" \
    "jts-tierctl check --verify"
for m in $(cat "$B"/init/*.service "${JTS_SRCDIR:-.}"/init/*.timer |
    sed -n 's/^Documentation=//p' | tr ' ' '\n' | sed -n 's/^man:\(.*\)(\(.\))$/\1.\2/p' | sort -u); do
	ok "documented man page $m exists" test -f "${JTS_SRCDIR:-.}/man/$m"
done
finish
