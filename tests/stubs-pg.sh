#!/bin/bash
# stubs-pg.sh - PostgreSQL recovers through stubs: a base backup is
# restored with a restore_command that copies archived WAL segments
# whose data jts-tier moved away, leaving stubs (half of them on warm,
# half on the NAS).  Every cp of a stub blocks until the segment is back;
# the server replays them all and every row is there.  Judged from
# outside: psql's count and sum, xxh128sum of each segment against the
# archive as PostgreSQL wrote it.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
. "${JTS_SRCDIR:-.}/tests/lib-nfs.sh"
need_hooks
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || skip "needs PostgreSQL (initdb, pg_ctl, pg_basebackup)"
id postgres > /dev/null 2>&1 || skip "needs the postgres user"
need_cmd runuser psql getfattr
setup_tiers 1G 1G
start_nas "$W/export"
add_cold
sed -i "s|^reserve = 16M|reserve = 16M\nleave = stub|" "$CONF"
pc=$(dirname "$CTL")/tests/precontent
truncate -s 4096 "$W/hot/probe"
timeout 3 "$pc" deny "$W/hot/probe" > "$W/probe.out" 2>&1
[ $? -eq 77 ] && skip "no fanotify pre-content events here (Linux 6.14+)"
rm -f "$W/hot/probe"

P=$W/hot/pg
mkdir -p "$P/arch" "$W/pgrun"
chown postgres: "$P" "$P/arch" "$W/pgrun"
chmod 755 "$W"
pg() { runuser -u postgres -- "$@"; }
PORT=$((30000 + $$ % 5000))
PSQL="psql -X -q -A -t -h $W/pgrun -p $PORT -d postgres"
pg "$PGBIN/initdb" -D "$P/data" -A trust > "$W/initdb.log" 2>&1 ||
    { cat "$W/initdb.log"; skip "initdb failed"; }
cat >> "$P/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$W/pgrun'
port = $PORT
wal_level = replica
archive_mode = on
archive_command = 'cp %p $P/arch/%f'
CONF
pg "$PGBIN/pg_ctl" -D "$P/data" -l "$W/pgrun/pg.log" -w start > /dev/null ||
    { tail "$W/pgrun/pg.log"; skip "PostgreSQL did not start"; }
T_CLEANUP='runuser -u postgres -- "$PGBIN/pg_ctl" -D "$P/data" -m immediate stop >/dev/null 2>&1; runuser -u postgres -- "$PGBIN/pg_ctl" -D "$P/restore" -m immediate stop >/dev/null 2>&1'
pg $PSQL -c "create table t (i int, pad text)"
pg $PSQL -c "insert into t select g, repeat('x', 200) from generate_series(1, 20000) g"
pg "$PGBIN/pg_basebackup" -h "$W/pgrun" -p $PORT -D "$P/base" -X none \
    > "$W/bb.log" 2>&1
eq "pg_basebackup" "$?" 0
# Rows after the backup live only in the archived WAL.
for k in 1 2 3 4 5 6; do
	pg $PSQL -c "insert into t select g, repeat('y', 200) from
	    generate_series(1, 20000) g" -c "select pg_switch_wal()" > /dev/null
done
want=$(pg $PSQL -c "select count(*), sum(i) from t")
pg $PSQL -c "select pg_switch_wal()" > /dev/null
sleep 2
pg "$PGBIN/pg_ctl" -D "$P/data" -m fast -w stop > /dev/null
segs=$(cd "$P/arch" && ls | grep -E '^[0-9A-F]{24}$')
nsegs=$(echo "$segs" | wc -l)
ok "PostgreSQL archived WAL segments ($nsegs)" test "$nsegs" -ge 6
declare -A H
for s in $segs; do H[$s]=$(xxh128sum < "$P/arch/$s" | cut -d' ' -f1); done

start_daemon || finish
# Half the segments to warm, the other half on to the NAS.
i=0 warm= cold=
for s in $segs; do
	if [ $((i % 2)) -eq 0 ]; then warm="$warm $P/arch/$s"
	else cold="$cold $P/arch/$s"; fi
	i=$((i + 1))
done
# shellcheck disable=SC2086
"$CTL" migrate -q $warm $cold > "$W/m1.out" 2>&1
eq "segments moved to warm, leaving stubs" "$?" 0
# shellcheck disable=SC2086
"$CTL" migrate -q --to cold $cold > "$W/m2.out" 2>&1
eq "half of them on to the NAS" "$?" 0
eq "catalog: segments on the NAS" \
    "$(sqlite3 "$CAT" "select count(*) from files where tier = 'cold' and
    cast(path as text) like 'pg/arch/%'")" "$(echo $cold | wc -w)"
stubs=0
for s in $segs; do
	getfattr -n trusted.jts-tier.stub "$P/arch/$s" > /dev/null 2>&1 &&
	    stubs=$((stubs + 1))
done
eq "every archived segment is a stub" "$stubs" "$nsegs"

# Restore: the base backup, and segments through restore_command.
cp -a "$P/base" "$P/restore"
cat >> "$P/restore/postgresql.conf" <<CONF
archive_mode = off
restore_command = 'cp $P/arch/%f %p'
recovery_target_action = 'promote'
CONF
touch "$P/restore/recovery.signal"
chown -R postgres: "$P/restore"
pg "$PGBIN/pg_ctl" -D "$P/restore" -l "$W/pgrun/pg2.log" -w -t 120 start > /dev/null
eq "PostgreSQL starts from the base backup" "$?" 0
for _ in $(seq 120); do
	[ "$(pg $PSQL -c "select pg_is_in_recovery()" 2>/dev/null)" = f ] && break
	sleep 0.5
done
eq "recovery replays every segment and ends" \
    "$(pg $PSQL -c "select pg_is_in_recovery()")" f
eq "every row is there (count, sum)" \
    "$(pg $PSQL -c "select count(*), sum(i) from t")" "$want"
bad=0 back=0
for s in $segs; do
	[ "$(xxh128sum < "$P/arch/$s" | cut -d' ' -f1)" = "${H[$s]}" ] ||
	    bad=$((bad + 1))
	getfattr -n trusted.jts-tier.stub "$P/arch/$s" > /dev/null 2>&1 ||
	    back=$((back + 1))
done
eq "every segment read equals what PostgreSQL archived" "$bad" 0
eq "every segment recalled (no stub left)" "$back" "$nsegs"
contains "the recalls came from warm and from the NAS" \
    "$(sqlite3 "$CAT" "select group_concat(distinct src) from journal
    where op = 'fill' and state = 'done'")" "cold"
# The live database changed its own files meanwhile: scan, then check.
pg "$PGBIN/pg_ctl" -D "$P/restore" -m fast -w stop > /dev/null
"$CTL" scan > /dev/null 2>&1
out=$("$CTL" check 2>&1)
contains "check: OK after a scan" "$out" "JTS-TIER OK"
contains "no stub left" "$out" "stubs=0"
finish
