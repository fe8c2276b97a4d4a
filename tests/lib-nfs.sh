# tests/lib-nfs.sh - a NAS for the tests: nfs-ganesha (VFS FSAL) serving a
# directory on loopback, on its own ports, started and stopped by the test
# (sourced after tests/lib.sh).  NFSv3 through rpcbind; libnfs URLs also
# carry the ports, so rpcbind is only needed for ganesha's registration.
# Tests that use it run side by side, each server on ports of its own (a
# lock per port).  Every server registers with the one rpcbind (ganesha
# will not start without it; the clients never ask it, the URLs carry
# the ports): each test holds a shared lock while it needs rpcbind, and
# the last one out stops it if a test started it.

NAS_PID=
NAS_DIR=
NAS_URL=

# start_nas DIR: serve DIR, set NAS_URL (nfs://127.0.0.1/DIR?...), or skip.
start_nas() {
	need_cmd ganesha.nfsd rpcbind nfs-ls
	NAS_DIR=$1
	mkdir -p "$NAS_DIR" "$W/nas"
	trap 'set +e; stop_nas; cleanup' EXIT INT TERM
	exec 7>/run/lock/jts-tier-test-nas.lock
	flock -s -w 600 7 || skip "a test stopping rpcbind held the lock for 600 s"
	(
		flock -x 9
		if ! pgrep -x rpcbind >/dev/null; then
			rpcbind 6>&- 7>&- 9>&- || exit 1
			touch /run/lock/jts-tier-test-rpcbind.ours
		fi
	) 9>/run/lock/jts-tier-test-rpcbind.lock || skip "cannot start rpcbind"
	for _ in $(seq 1 50); do
		rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break
		sleep 0.1
	done
	# Two free ports of our own: the lock of the first, from an offset
	# of our pid, then the next ones; neither listened on.
	local port= mport= k p
	for k in $(seq 0 99); do
		p=$((20000 + ($$ + 37 * k) % 2500 * 2))
		exec 6>"/run/lock/jts-tier-test-nas-port.$p.lock"
		if flock -n 6 && ! ss -Htln "( sport = :$p or sport = :$((p + 1)) )" |
		    grep -q .; then
			port=$p mport=$((p + 1))
			break
		fi
		exec 6>&-
	done
	[ -n "$port" ] || skip "no two free ports for the test NAS in 20000-24999"
	cat > "$W/nas/ganesha.conf" <<CONF
NFS_CORE_PARAM {
	NFS_Port = $port;
	MNT_Port = $mport;
	Protocols = 3, 4;
	Enable_NLM = false;
	Enable_RQUOTA = false;
}
NFSV4 { Graceless = true; }
# The tests look at and change the export behind the server's back:
# cache nothing, so the server sees what is on its disk.
MDCACHE { Dir_Chunk = 0; }
EXPORT {
	Export_Id = 77;
	Path = $NAS_DIR;
	Pseudo = $NAS_DIR;
	Access_Type = RW;
	Squash = ${NAS_SQUASH:-No_Root_Squash};
	Transports = TCP;
	Protocols = 3, 4;
	Attr_Expiration_Time = 0;
	FSAL { Name = VFS; }
}
CONF
	NAS_URL="nfs://127.0.0.1$NAS_DIR?nfsport=$port&mountport=$mport"
	if ! nas_up; then
		tail -n 5 "$W/nas/ganesha.log" 2>/dev/null | sed 's/^/    ganesha: /'
		stop_nas
		skip "the test NAS did not answer within 15 s"
	fi
}

# nas_up: run the server of start_nas (again, after nas_kill); 0 once it
# answers.
nas_up() {
	rm -f "$W/nas/ganesha.pid"
	ganesha.nfsd -f "$W/nas/ganesha.conf" -L "$W/nas/ganesha.log" \
	    -p "$W/nas/ganesha.pid" 6>&- 7>&- || return 1
	for _ in $(seq 1 150); do
		NAS_PID=$(cat "$W/nas/ganesha.pid" 2>/dev/null)
		nfs-ls "$NAS_URL" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# nas_kill: the server dies (SIGKILL), as a NAS that loses power.
nas_kill() {
	[ -n "$NAS_PID" ] || return 0
	kill -9 "$NAS_PID" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$NAS_PID" 2>/dev/null || break
		sleep 0.1
	done
	NAS_PID=
}

# stop_nas: stop the server (and rpcbind, if this test started it).
stop_nas() {
	if [ -n "$NAS_PID" ]; then
		kill -CONT "$NAS_PID" 2>/dev/null
		kill "$NAS_PID" 2>/dev/null
		for _ in $(seq 1 50); do
			kill -0 "$NAS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$NAS_PID" 2>/dev/null
		NAS_PID=
	fi
	exec 6>&- 2>/dev/null
	# The last test out stops the rpcbind a test started, and is gone
	# before the next one looks for it.
	if { true >&7; } 2>/dev/null && flock -n -x 7 &&
	    [ -e /run/lock/jts-tier-test-rpcbind.ours ]; then
		pkill -x rpcbind
		for _ in $(seq 1 50); do
			pgrep -x rpcbind >/dev/null || break
			sleep 0.1
		done
		rm -f /run/lock/jts-tier-test-rpcbind.ours
	fi
	exec 7>&- 2>/dev/null
}

# add_cold [MOUNTPOINT]: a [tier cold] on the test NAS in $CONF.
add_cold() {
	{
		printf '\n[tier cold]\nkind = nfs\nurl = %s\ntimeout = %s\n' \
		    "$NAS_URL" "${NAS_TIMEOUT:-10}"
		[ -n "${1:-}" ] && printf 'mountpoint = %s\n' "$1"
	} >> "$CONF"
}
