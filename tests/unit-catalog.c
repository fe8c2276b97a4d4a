/* unit-catalog.c - schema, upgrades, files, journal, bytes per file */
#include "config.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "unit.h"
#include "util.h"

static int64_t
pragma(struct catalog *c, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int
main(void)
{
	char dir[] = "/tmp/jts-unit-cat.XXXXXX", err[1024], *path, *cmd;
	struct catalog c;
	struct cat_file f, g;
	struct cat_journal j, *rows;
	sqlite3_stmt *st;
	int n, i;
	int64_t bytes;

	if (mkdtemp(dir) == NULL)
		return 99;
	path = xasprintf("%s/sub/catalog.db", dir);
	CHECK(catalog_open(path, false, &c, err, sizeof(err)) == 0);
	CHECK(c.version == catalog_schema_version());
	CHECK(pragma(&c, "PRAGMA user_version") == catalog_schema_version());
	{
		sqlite3_stmt *m;

		CHECK(sqlite3_prepare_v2(c.db, "PRAGMA journal_mode", -1, &m,
		    NULL) == SQLITE_OK && sqlite3_step(m) == SQLITE_ROW);
		CHECK_STR((const char *)sqlite3_column_text(m, 0), "wal");
		sqlite3_finalize(m);
	}

	/* A file row round-trips, path with a newline and invalid UTF-8. */
	memset(&f, 0, sizeof(f));
	f.path = "dir/new\nline\xff.dat";
	strcpy(f.tier, "warm");
	strcpy(f.home, "hot");
	f.size = 123456789;
	f.mtime_ns = 1700000000123456789LL;
	f.ctime_ns = 1700000001000000001LL;
	f.ino = 42;
	f.mode = 0104755;
	f.uid = 1001;
	f.gid = 1002;
	f.has_hash = true;
	for (i = 0; i < JTS_HASH_LEN; i++)
		f.hash[i] = (unsigned char)(0xa0 + i);
	CHECK(catalog_file_put(&c, &f) == 0);
	CHECK(catalog_file_get(&c, f.path, &g) == 1);
	CHECK_STR(g.tier, "warm");
	CHECK_STR(g.home, "hot");
	CHECK(g.size == f.size && g.mtime_ns == f.mtime_ns &&
	    g.ctime_ns == f.ctime_ns && g.mode == f.mode && g.uid == 1001);
	CHECK(g.has_hash && memcmp(g.hash, f.hash, JTS_HASH_LEN) == 0);
	cat_file_free(&g);
	CHECK(catalog_file_get(&c, "dir/other", &g) == 0);

	/* Journal rows: open ones listed, finished ones not. */
	memset(&j, 0, sizeof(j));
	j.path = "a/b";
	strcpy(j.op, "migrate");
	strcpy(j.src, "hot");
	strcpy(j.dst, "warm");
	strcpy(j.home, "hot");
	strcpy(j.leave, "symlink");
	j.state = JS_COPYING;
	j.pre_size = 5;
	CHECK(catalog_journal_add(&c, &j) == 0 && j.id > 0);
	j.path = "a/c";
	CHECK(catalog_journal_add(&c, &j) == 0);
	CHECK(catalog_journal_set(&c, j.id, JS_DONE, f.hash, NULL) == 0);
	CHECK(catalog_journal_open_rows(&c, &rows, &n) == 0);
	CHECK(n == 1);
	if (n == 1) {
		CHECK_STR(rows[0].path, "a/b");
		CHECK(rows[0].state == JS_COPYING);
		CHECK(rows[0].pre_size == 5);
		cat_journal_free(&rows[0]);
	}
	free(rows);

	/* Space per tracked file, with realistic paths, must be <= 200. */
	CHECK(catalog_begin(&c) == 0);
	n = 0;
	for (i = 0; i < 20000; i++) {
		char p[128];

		snprintf(p, sizeof(p), "clickhouse/store/%03d/part_%06d/"
		    "data.bin", i % 500, i);
		f.path = p;
		f.ino = i;
		if (catalog_file_put(&c, &f) != 0)
			n++;
	}
	CHECK(n == 0);
	CHECK(catalog_commit(&c) == 0);
	(void)sqlite3_exec(c.db, "PRAGMA wal_checkpoint(TRUNCATE); VACUUM",
	    NULL, NULL, NULL);
	bytes = pragma(&c, "PRAGMA page_count") *
	    pragma(&c, "PRAGMA page_size");
	printf("catalog: %.1f bytes per tracked file (20000 files, "
	    "paths of ~42 bytes)\n", (double)bytes / 20001);
	CHECK(bytes / 20001 <= 200);
	catalog_close(&c);

	/* A catalog newer than this build is refused, clearly. */
	CHECK(sqlite3_open(path, &c.db) == SQLITE_OK);
	CHECK(sqlite3_exec(c.db, "PRAGMA user_version = 999", NULL, NULL,
	    NULL) == SQLITE_OK);
	sqlite3_close(c.db);
	CHECK(catalog_open(path, false, &c, err, sizeof(err)) != 0);
	CHECK(strstr(err, "newer than this jts-tier knows") != NULL);

	/* Read-only open of a version-0 database says so. */
	(void)st;
	cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	free(cmd);
	free(path);
	return unit_done("unit-catalog");
}
