# tests/lib-s3.sh - an object store for the tests: a one-node Ceph
# cluster (a monitor, a manager, one OSD on a file-backed BlueStore) and
# its RADOS Gateway on loopback, started by the test in its own directory
# and on its own ports, with a user and a bucket made by radosgw-admin
# (sourced after tests/lib.sh).  Skips, saying why, where the packages
# are missing or the cluster does not come up in time.

S3_DIR=
S3_PORT=
S3_ENDPOINT=
S3_BUCKET=jts-test
S3_ACCESS=
S3_SECRET=
S3_PIDS=

# ceph_conf: the cluster's configuration, for the daemons and the tools.
_ceph() { ceph -c "$S3_DIR/ceph.conf" "$@"; }

# _s3_ports: three free ports of our own (monitor v2, v1, gateway), the
# lock of the first held like the NAS's.
_s3_ports() {
	local k p
	for k in $(seq 0 99); do
		p=$((25000 + ($$ + 41 * k) % 1600 * 3))
		exec 5>"/run/lock/jts-tier-test-s3-port.$p.lock"
		if flock -n 5 && ! ss -Htln "( sport = :$p or sport = :$((p + 1)) or sport = :$((p + 2)) )" |
		    grep -q .; then
			echo "$p"
			return 0
		fi
		exec 5>&-
	done
	return 1
}

# _s3_wait SECONDS CMD...: until CMD succeeds; 1 if it never did.
_s3_wait() {
	local n=$(($1 * 5))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

# _s3_fail WHY: show the logs' ends, stop what started, skip.
_s3_fail() {
	local f
	for f in "$S3_DIR"/log/*.log; do
		[ -e "$f" ] || continue
		echo "    ${f##*/}:"
		tail -n 4 "$f" | sed 's/^/      /'
	done
	stop_s3
	skip "$1"
}

# start_s3 [OSD_SIZE]: the cluster and its gateway; sets S3_ENDPOINT
# (127.0.0.1:PORT), S3_ACCESS, S3_SECRET, and makes bucket $S3_BUCKET.
start_s3() {
	need_cmd ceph ceph-mon ceph-mgr ceph-osd radosgw radosgw-admin \
	    ceph-authtool monmaptool s3cmd uuidgen
	local p fsid k uuid id
	S3_DIR=$W/ceph
	mkdir -p "$S3_DIR/log" "$S3_DIR/run" "$S3_DIR/mon.a" "$S3_DIR/mgr.x" \
	    "$S3_DIR/osd.0" "$S3_DIR/rgw"
	trap 'set +e; stop_s3; cleanup' EXIT INT TERM
	cpu_lock -s
	p=$(_s3_ports) || skip "no three free ports for the test cluster in 25000-29799"
	S3_PORT=$((p + 2))
	S3_ENDPOINT=127.0.0.1:$S3_PORT
	fsid=$(uuidgen)
	cat > "$S3_DIR/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$p,v1:127.0.0.1:$((p + 1))]
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $S3_DIR/\$name.keyring
run dir = $S3_DIR/run
admin socket = $S3_DIR/run/\$name.asok
log file = $S3_DIR/log/\$name.log
pid file = $S3_DIR/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
ms bind ipv6 = false
[mon.a]
mon data = $S3_DIR/mon.a
[mgr.x]
mgr data = $S3_DIR/mgr.x
[osd.0]
osd data = $S3_DIR/osd.0
osd objectstore = bluestore
bluestore block path = $S3_DIR/osd.0.block
bluestore block create = true
bluestore block size = ${1:-3221225472}
bluestore fsck on mount = false
osd memory target = 939524096
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$S3_PORT
rgw data = $S3_DIR/rgw
rgw dns name = 127.0.0.1
rgw enable usage log = false
# What is deleted or aborted is freed soon, not after RGW's two hours:
# the OSD's small file would fill with garbage otherwise.
rgw gc obj min wait = 10
rgw gc processor period = 10
CONF
	k=$S3_DIR
	ceph-authtool --create-keyring "$k/mon.keyring" --gen-key -n mon. \
	    --cap mon 'allow *' >/dev/null &&
	ceph-authtool --create-keyring "$k/client.admin.keyring" --gen-key \
	    -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
	    --cap mgr 'allow *' --cap mds 'allow *' >/dev/null &&
	ceph-authtool "$k/mon.keyring" --import-keyring \
	    "$k/client.admin.keyring" >/dev/null &&
	cp "$k/mon.keyring" "$k/mon.a.keyring" &&
	monmaptool --create --fsid "$fsid" --addv a \
	    "[v2:127.0.0.1:$p,v1:127.0.0.1:$((p + 1))]" "$k/monmap" >/dev/null &&
	ceph-mon -c "$k/ceph.conf" --mkfs -i a --monmap "$k/monmap" \
	    --keyring "$k/mon.keyring" 2>"$k/log/mkfs.log" ||
	    _s3_fail "cannot make the test cluster's monitor"
	ceph-mon -c "$k/ceph.conf" -i a 2>>"$k/log/stderr.log" 4>&- 5>&- 6>&- 7>&- ||
	    _s3_fail "the test cluster's monitor did not start"
	S3_PIDS="mon.a"
	_s3_wait 60 timeout 10 ceph -c "$k/ceph.conf" mon stat ||
	    _s3_fail "the test cluster's monitor did not answer within 60 s"
	_ceph auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' \
	    mds 'allow *' > "$k/mgr.x.keyring" &&
	ceph-mgr -c "$k/ceph.conf" -i x 2>>"$k/log/stderr.log" 4>&- 5>&- 6>&- 7>&- ||
	    _s3_fail "the test cluster's manager did not start"
	S3_PIDS="$S3_PIDS mgr.x"
	uuid=$(uuidgen)
	id=$(_ceph osd new "$uuid") ||
	    _s3_fail "the monitor refused a new OSD"
	[ "$id" = 0 ] || _s3_fail "the new OSD is osd.$id, not osd.0"
	_ceph auth get-or-create osd.0 mon 'allow profile osd' \
	    mgr 'allow profile osd' osd 'allow *' > "$k/osd.0.keyring" &&
	cp "$k/osd.0.keyring" "$k/osd.0/keyring" &&
	ceph-osd -c "$k/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" \
	    2>>"$k/log/mkfs.log" >/dev/null ||
	    _s3_fail "cannot make the test cluster's OSD (BlueStore on a file)"
	ceph-osd -c "$k/ceph.conf" -i 0 2>>"$k/log/stderr.log" 4>&- 5>&- 6>&- 7>&- ||
	    _s3_fail "the test cluster's OSD did not start"
	S3_PIDS="$S3_PIDS osd.0"
	_s3_wait 90 sh -c '"$1" -c "$2" osd stat | grep -q "1 up"' sh ceph \
	    "$k/ceph.conf" || _s3_fail "the test cluster's OSD was not up within 90 s"
	_ceph auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' \
	    mgr 'allow rw' > "$k/client.rgw.a.keyring" &&
	radosgw -c "$k/ceph.conf" -n client.rgw.a 2>>"$k/log/stderr.log" 4>&- 5>&- 6>&- 7>&- ||
	    _s3_fail "the test cluster's gateway did not start"
	S3_PIDS="$S3_PIDS client.rgw.a"
	_s3_wait 90 curl -sf "http://$S3_ENDPOINT/" ||
	    _s3_fail "the test cluster's gateway did not answer within 90 s"
	S3_ACCESS=$(head -c 15 /dev/urandom | base32 | tr -d =)
	S3_SECRET=$(head -c 30 /dev/urandom | base64 | tr -d '=+/')
	radosgw-admin -c "$k/ceph.conf" -n client.admin user create --uid=jts \
	    --display-name=jts-tier --access-key="$S3_ACCESS" \
	    --secret="$S3_SECRET" > "$k/user.json" 2>>"$k/log/admin.log" ||
	    _s3_fail "radosgw-admin could not make the test user"
	cat > "$k/s3cfg" <<CFG
[default]
access_key = $S3_ACCESS
secret_key = $S3_SECRET
host_base = $S3_ENDPOINT
host_bucket = $S3_ENDPOINT
use_https = False
signature_v2 = False
CFG
	s3 mb "s3://$S3_BUCKET" >/dev/null 2>&1 ||
	    _s3_fail "s3cmd could not make the test bucket"
}

# The gateway's process, for the fault tests.
s3_gw_pid() { cat "$S3_DIR/run/client.rgw.a.pid" 2>/dev/null; }
# s3_gw_kill: the gateway dies (SIGKILL), as a server that loses power.
s3_gw_kill() {
	local pid
	pid=$(s3_gw_pid) || return 0
	kill -9 "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$S3_DIR/run/client.rgw.a.pid"
}
# s3_gw_start: the gateway again (after s3_gw_kill); 0 once it answers.
s3_gw_start() {
	radosgw -c "$S3_DIR/ceph.conf" -n client.rgw.a \
	    2>>"$S3_DIR/log/stderr.log" 4>&- 5>&- 6>&- 7>&- || return 1
	_s3_wait 90 curl -sf "http://$S3_ENDPOINT/"
}

# add_s3_cold PREFIX [KEY = VALUE...]: a [tier cold] of kind s3 on the
# test gateway in $CONF, its credentials in $W/s3.cred (mode 600).
add_s3_cold() {
	local p=$1
	shift
	CRED=$W/s3.cred
	printf 'access_key = %s\nsecret_key = %s\n' "$S3_ACCESS" \
	    "$S3_SECRET" > "$CRED"
	chmod 600 "$CRED"
	{
		printf '\n[tier cold]\nkind = s3\nendpoint = http://%s\n' \
		    "$S3_ENDPOINT"
		printf 'bucket = %s\nprefix = %s\nregion = default\n' \
		    "$S3_BUCKET" "$p"
		printf 'credentials = %s\n' "$CRED"
		printf '%s\n' "$@"
	} >> "$CONF"
}

# s3_gc: free now what was deleted (radosgw-admin gc process).
s3_gc() {
	radosgw-admin -c "$S3_DIR/ceph.conf" -n client.admin gc process \
	    --include-all >/dev/null 2>&1
}

# s3 ARGS...: s3cmd on the test gateway, as the test user.
s3() { s3cmd -c "$S3_DIR/s3cfg" "$@"; }
# s3curl KEY [CURL-ARGS...]: a request on the bucket's KEY (KEY may end
# in a query) signed by curl itself (faster than s3cmd in loops).
s3curl() {
	local k=$1
	shift
	curl -s --aws-sigv4 aws:amz:default:s3 --user "$S3_ACCESS:$S3_SECRET" \
	    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" \
	    "http://$S3_ENDPOINT/$S3_BUCKET/$k"
}

# stop_s3: stop the gateway and the cluster.
stop_s3() {
	local n pid
	for n in $S3_PIDS; do
		pid=$(cat "$S3_DIR/run/$n.pid" 2>/dev/null) || continue
		kill "$pid" 2>/dev/null
	done
	for n in $S3_PIDS; do
		pid=$(cat "$S3_DIR/run/$n.pid" 2>/dev/null) || continue
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
	done
	S3_PIDS=
	exec 5>&- 2>/dev/null
}
