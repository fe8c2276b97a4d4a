#!/bin/bash
# config-errors.sh - every kind of configuration error names file:line and
# exits 2, before anything is touched.
. "${JTS_SRCDIR:-.}/tests/lib.sh"

D=$(mktemp -d /tmp/jts-conf.XXXXXX)
W=$D
n=0
# bad LINE WHAT: the config on stdin fails at LINE with WHAT
bad() {
	n=$((n + 1))
	cat > "$D/c$n.conf"
	for cmd in status "migrate /x" "recall /x" check; do
		out=$("$CTL" -c "$D/c$n.conf" $cmd 2>&1); rc=$?
		want=2
		[ "$cmd" = check ] && want=3
		eq "config $n ($2), $cmd: exit" "$rc" "$want"
		contains "config $n ($2), $cmd: names file:line" "$out" \
		    "$D/c$n.conf:$1: "
		contains "config $n ($2), $cmd: says why" "$out" "$2"
	done
}

bad 3 "unknown key 'foo'" < <(printf '[tier hot]\nroot = /a\nfoo = 1\n')
bad 2 "bad tier kind" < <(printf '[tier hot]\nkind = tape\nroot = /a\n')
bad 3 "overlaps" < <(printf '[tier hot]\nroot = /a\n[tier warm]\nroot = /a/b\n')
bad 3 "same root" < <(printf '[tier hot]\nroot = /a\n[tier warm]\nroot = /a\n')
bad 3 "duplicate key" < <(printf '[tier hot]\nroot = /a\nroot = /b\n')
bad 2 "absolute" < <(printf '[tier hot]\nroot = relative\n')
bad 3 "bad high_watermark" < <(printf '[tier hot]\nroot = /a\nhigh_watermark = x\n')
bad 1 "no [tier NAME] section" < <(printf '[nonsense]\n')
bad 3 "syntax error" < <(printf '[tier hot]\nroot = /a\n= oops\n')
bad 2 "bad size" < <(printf '[defaults]\nreserve = -5\n[tier hot]\nroot = /a\n')
bad 2 "bad bench target: lots" < <(printf '[bench]\niops = lots\n[tier hot]\nroot = /a\n')
bad 3 "bad inflight: 99" < <(printf '[tier cold]\nkind = nfs\ninflight = 99\nurl = nfs://h/e\n')
bad 1 "timeout and inflight for kinds nfs and s3 only" < <(printf '[tier hot]\nroot = /a\ninflight = 2\n')
bad 1 "kind s3 needs endpoint =, bucket = and credentials =" < <(printf '[tier c]\nkind = s3\nendpoint = http://127.0.0.1:1\n')
bad 3 "bad endpoint: ftp://x" < <(printf '[tier c]\nkind = s3\nendpoint = ftp://x\n')
bad 3 "(the server only, no path" < <(printf '[tier c]\nkind = s3\nendpoint = http://h:1/bucket\n')
bad 3 "bad bucket: Not_A_Bucket" < <(printf '[tier c]\nkind = s3\nbucket = Not_A_Bucket\n')
bad 3 "bad prefix: ../up" < <(printf '[tier c]\nkind = s3\nprefix = ../up\n')
bad 3 "credentials must be an absolute path" < <(printf '[tier c]\nkind = s3\ncredentials = rel\n')
bad 3 "bad part_size: 1M" < <(printf '[tier c]\nkind = s3\npart_size = 1M\n')
bad 1 "are for kind s3 only" < <(printf '[tier hot]\nroot = /a\nbucket = abc\n')
bad 1 "kind s3 takes endpoint = and bucket =, not root" < <(printf '[tier c]\nkind = s3\nroot = /a\nendpoint = http://h\nbucket = abc\ncredentials = /c\n')
bad 2 "bad bench target: 0" < <(printf '[bench]\nmigrate_seconds = 0\n[tier hot]\nroot = /a\n')
bad 2 "bad move_rate: 512K" < <(printf '[daemon]\nmove_rate = 512K\n[tier hot]\nroot = /a\n')
bad 2 "bad move_rate: fast" < <(printf '[daemon]\nmove_rate = fast\n[tier hot]\nroot = /a\n')
bad 3 "bad recall_rate: 100K" < <(printf '[tier hot]\nroot = /a\nrecall_rate = 100K\n')
bad 1 "needs url" < <(printf '[tier cold]\nkind = nfs\nroot = /x\n')
ok "nothing created at /x" [ ! -e /x ]
finish
