/* catalog.c - the SQLite catalog: schema upgrades, files, journal */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "util.h"

extern const char *const catalog_upgrades[];

static const char *const jstate_names[] = {
	"planned", "copying", "verified", "committed", "done", "aborted",
	"conflict",
};

const char *
jstate_name(enum jstate s)
{
	return jstate_names[s];
}

int
jstate_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(jstate_names) / sizeof(jstate_names[0]); i++)
		if (strcmp(jstate_names[i], s) == 0)
			return (int)i;
	return -1;
}

int
catalog_schema_version(void)
{
	int n = 0;

	while (catalog_upgrades[n] != NULL)
		n++;
	return n;
}

const char *
catalog_errmsg(struct catalog *c)
{
	return sqlite3_errmsg(c->db);
}

static int
exec(struct catalog *c, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		jts_err("catalog %s: %s", c->path, msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* Apply every upgrade past user_version, all in one transaction. */
static int
catalog_upgrade(struct catalog *c, char *err, size_t errlen)
{
	int want = catalog_schema_version(), i;
	char pragma[64];
	char *msg = NULL;

	if (c->version > want) {
		snprintf(err, errlen, "%s: catalog schema version %d is newer "
		    "than this jts-tier knows (%d): upgrade jts-tier",
		    c->path, c->version, want);
		return -EPROTO;
	}
	if (c->version == want)
		return 0;
	if (exec(c, "BEGIN IMMEDIATE") != 0)
		goto fail;
	for (i = c->version; i < want; i++) {
		if (sqlite3_exec(c->db, catalog_upgrades[i], NULL, NULL, &msg)
		    != SQLITE_OK) {
			snprintf(err, errlen, "%s: schema upgrade %d failed: "
			    "%s", c->path, i + 1, msg ? msg : "?");
			sqlite3_free(msg);
			exec(c, "ROLLBACK");
			return -EIO;
		}
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", want);
	if (exec(c, pragma) != 0 || exec(c, "COMMIT") != 0)
		goto fail;
	c->version = want;
	return 0;
fail:
	snprintf(err, errlen, "%s: schema upgrade failed: %s", c->path,
	    sqlite3_errmsg(c->db));
	return -EIO;
}

int
catalog_open(const char *path, bool readonly, struct catalog *c, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	int flags, r;

	memset(c, 0, sizeof(*c));
	c->path = xstrdup(path);
	if (readonly)
		flags = SQLITE_OPEN_READONLY;
	else {
		flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
		jts_mkdir_parents(path, 0750);
	}
	if ((r = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOFOLLOW,
	    NULL)) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open catalog: %s", path,
		    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(r));
		catalog_close(c);
		return -EIO;
	}
	sqlite3_busy_timeout(c->db, 10000);
	sqlite3_extended_result_codes(c->db, 1);
	if (!readonly && (exec(c, "PRAGMA journal_mode = WAL") != 0 ||
	    exec(c, "PRAGMA synchronous = FULL") != 0)) {
		snprintf(err, errlen, "%s: cannot set WAL mode", path);
		catalog_close(c);
		return -EIO;
	}
	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL)
	    != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "%s: not a readable catalog: %s", path,
		    sqlite3_errmsg(c->db));
		sqlite3_finalize(st);
		catalog_close(c);
		return -EIO;
	}
	c->version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (readonly) {
		if (c->version != catalog_schema_version()) {
			snprintf(err, errlen, "%s: catalog schema version %d, "
			    "this jts-tier reads %d%s", path, c->version,
			    catalog_schema_version(),
			    c->version == 0 ? " (no catalog yet?)" : "");
			catalog_close(c);
			return -EPROTO;
		}
		return 0;
	}
	if ((r = catalog_upgrade(c, err, errlen)) != 0) {
		catalog_close(c);
		return r;
	}
	return 0;
}

void
catalog_close(struct catalog *c)
{
	int k;

	for (k = 0; k < CAT_NSTMT; k++)
		if (c->stmt[k] != NULL)
			sqlite3_finalize(c->stmt[k]);
	if (c->db != NULL)
		sqlite3_close(c->db);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

int
catalog_begin(struct catalog *c)
{
	return exec(c, "BEGIN IMMEDIATE");
}

int
catalog_commit(struct catalog *c)
{
	return exec(c, "COMMIT");
}

void
catalog_rollback(struct catalog *c)
{
	if (!sqlite3_get_autocommit(c->db))
		(void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

enum {
	S_FILE_GET, S_FILE_PUT, S_FILE_DEL, S_JOURNAL_ADD, S_JOURNAL_SET,
	S_JOURNAL_OPEN,
};

/* The statement of slot k, prepared on first use and kept. */
static int
prep(struct catalog *c, int k, const char *sql, sqlite3_stmt **st)
{
	*st = NULL;
	if (c->stmt[k] == NULL && sqlite3_prepare_v3(c->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, &c->stmt[k], NULL) != SQLITE_OK) {
		jts_err("catalog %s: %s", c->path, sqlite3_errmsg(c->db));
		return -EIO;
	}
	*st = c->stmt[k];
	return 0;
}

/* Make a kept statement ready for its next use. */
static void
release(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static int
step_done(struct catalog *c, sqlite3_stmt *st)
{
	int r = sqlite3_step(st);

	release(st);
	if (r != SQLITE_DONE) {
		jts_err("catalog %s: %s", c->path, sqlite3_errmsg(c->db));
		return -EIO;
	}
	return 0;
}

static void
copy_text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, len, "%s", t ? (const char *)t : "");
}

static char *
dup_blob(sqlite3_stmt *st, int col)
{
	int n = sqlite3_column_bytes(st, col);
	const void *p = sqlite3_column_blob(st, col);
	char *s = xmalloc((size_t)n + 1);

	if (n > 0)
		memcpy(s, p, (size_t)n);
	s[n] = '\0';
	return s;
}

static bool
get_hash(sqlite3_stmt *st, int col, unsigned char *out)
{
	if (sqlite3_column_type(st, col) != SQLITE_BLOB ||
	    sqlite3_column_bytes(st, col) != JTS_HASH_LEN)
		return false;
	memcpy(out, sqlite3_column_blob(st, col), JTS_HASH_LEN);
	return true;
}

int
catalog_file_get(struct catalog *c, const char *path, struct cat_file *f)
{
	sqlite3_stmt *st;
	int r;

	if (prep(c, S_FILE_GET, "SELECT tier, home, size, mtime_ns, ctime_ns, ino, mode, "
	    "uid, gid, hash, verified_ns, moved_ns, pinned, links FROM files "
	    "WHERE path = ?", &st) != 0)
		return -EIO;
	sqlite3_bind_blob(st, 1, path, (int)strlen(path), SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		release(st);
		return 0;
	}
	if (r != SQLITE_ROW) {
		jts_err("catalog %s: %s", c->path, sqlite3_errmsg(c->db));
		release(st);
		return -EIO;
	}
	memset(f, 0, sizeof(*f));
	f->path = xstrdup(path);
	copy_text(f->tier, sizeof(f->tier), st, 0);
	copy_text(f->home, sizeof(f->home), st, 1);
	f->size = sqlite3_column_int64(st, 2);
	f->mtime_ns = sqlite3_column_int64(st, 3);
	f->ctime_ns = sqlite3_column_int64(st, 4);
	f->ino = sqlite3_column_int64(st, 5);
	f->mode = (uint32_t)sqlite3_column_int64(st, 6);
	f->uid = (uint32_t)sqlite3_column_int64(st, 7);
	f->gid = (uint32_t)sqlite3_column_int64(st, 8);
	f->has_hash = get_hash(st, 9, f->hash);
	f->verified_ns = sqlite3_column_int64(st, 10);
	f->moved_ns = sqlite3_column_int64(st, 11);
	f->pinned = sqlite3_column_int(st, 12);
	f->links = sqlite3_column_int(st, 13);
	release(st);
	return 1;
}

int
catalog_tier_usage(struct catalog *c, const char *tier, struct tier_usage *u)
{
	sqlite3_stmt *st;
	int r;

	memset(u, 0, sizeof(*u));
	if (c->db == NULL)
		return 0;	/* no catalog yet: nothing catalogued */
	if (sqlite3_prepare_v2(c->db, "SELECT (SELECT count(*) FROM files "
	    "WHERE tier = ?1), coalesce(sum(size), 0), coalesce(sum(b), 0) * "
	    "512, count(*) - count(b) FROM (SELECT size, max(blocks) AS b "
	    "FROM files WHERE tier = ?1 GROUP BY ino, size, mtime_ns)", -1,
	    &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, tier, -1, SQLITE_STATIC);
	if ((r = sqlite3_step(st)) == SQLITE_ROW) {
		u->files = sqlite3_column_int64(st, 0);
		u->bytes = sqlite3_column_int64(st, 1);
		u->disk = sqlite3_column_int64(st, 2);
		u->disk_unknown = sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 0 : -EIO;
}

int
catalog_file_put(struct catalog *c, const struct cat_file *f)
{
	sqlite3_stmt *st;

	if (prep(c, S_FILE_PUT, "INSERT INTO files (path, tier, home, size, "
	    "mtime_ns, ctime_ns, ino, mode, uid, gid, hash, verified_ns, "
	    "moved_ns, pinned, blocks, links) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,"
	    "?,?,?15,?16) "
	    /* An update keeps what the daemon saw of reads: atime, heat. */
	    "ON CONFLICT (path) DO UPDATE SET tier = excluded.tier, "
	    "home = excluded.home, size = excluded.size, "
	    "mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, "
	    "ino = excluded.ino, mode = excluded.mode, uid = excluded.uid, "
	    "gid = excluded.gid, hash = excluded.hash, "
	    "verified_ns = excluded.verified_ns, moved_ns = excluded.moved_ns, "
	    "pinned = excluded.pinned, blocks = excluded.blocks, "
	    "links = excluded.links", &st) != 0)
		return -EIO;
	sqlite3_bind_blob(st, 1, f->path, (int)strlen(f->path), SQLITE_STATIC);
	sqlite3_bind_text(st, 2, f->tier, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, f->home, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, f->size);
	sqlite3_bind_int64(st, 5, f->mtime_ns);
	sqlite3_bind_int64(st, 6, f->ctime_ns);
	sqlite3_bind_int64(st, 7, f->ino);
	sqlite3_bind_int64(st, 8, f->mode);
	sqlite3_bind_int64(st, 9, f->uid);
	sqlite3_bind_int64(st, 10, f->gid);
	if (f->has_hash)
		sqlite3_bind_blob(st, 11, f->hash, JTS_HASH_LEN, SQLITE_STATIC);
	if (f->verified_ns)
		sqlite3_bind_int64(st, 12, f->verified_ns);
	if (f->moved_ns)
		sqlite3_bind_int64(st, 13, f->moved_ns);
	sqlite3_bind_int(st, 14, f->pinned);
	if (f->has_blocks)
		sqlite3_bind_int64(st, 15, f->blocks);
	if (f->links > 1)
		sqlite3_bind_int(st, 16, f->links);
	return step_done(c, st);
}

int
catalog_file_delete(struct catalog *c, const char *path)
{
	sqlite3_stmt *st;

	if (prep(c, S_FILE_DEL, "DELETE FROM files WHERE path = ?", &st) != 0)
		return -EIO;
	sqlite3_bind_blob(st, 1, path, (int)strlen(path), SQLITE_STATIC);
	return step_done(c, st);
}

void
cat_file_free(struct cat_file *f)
{
	free(f->path);
	f->path = NULL;
}

int
catalog_journal_add(struct catalog *c, struct cat_journal *j)
{
	sqlite3_stmt *st;
	int64_t now = jts_now_ns();
	int r;

	if (prep(c, S_JOURNAL_ADD, "INSERT INTO journal (path, op, src, dst, home, leave, "
	    "state, tmp, pre_size, pre_mtime_ns, pre_ctime_ns, pre_ino, "
	    "started_ns, updated_ns, links) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
	    "?15)",
	    &st) != 0)
		return -EIO;
	sqlite3_bind_blob(st, 1, j->path, (int)strlen(j->path), SQLITE_STATIC);
	sqlite3_bind_text(st, 2, j->op, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, j->src, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, j->dst, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, j->home, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, j->leave, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, jstate_name(j->state), -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, j->tmp ? j->tmp : "", (int)(j->tmp ?
	    strlen(j->tmp) : 0), SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, j->pre_size);
	sqlite3_bind_int64(st, 10, j->pre_mtime_ns);
	sqlite3_bind_int64(st, 11, j->pre_ctime_ns);
	sqlite3_bind_int64(st, 12, j->pre_ino);
	sqlite3_bind_int64(st, 13, now);
	sqlite3_bind_int64(st, 14, now);
	if (j->links > 1)
		sqlite3_bind_int(st, 15, j->links);
	if ((r = step_done(c, st)) == 0)
		j->id = sqlite3_last_insert_rowid(c->db);
	return r;
}

/* Record a new state; tmp names are derived from the id, so set them too. */
int
catalog_journal_set(struct catalog *c, int64_t id, enum jstate s,
    const unsigned char *hash, const char *error)
{
	sqlite3_stmt *st;

	if (prep(c, S_JOURNAL_SET, "UPDATE journal SET state = ?, updated_ns = ?, "
	    "hash = coalesce(?, hash), error = coalesce(?, error) "
	    "WHERE id = ?", &st) != 0)
		return -EIO;
	sqlite3_bind_text(st, 1, jstate_name(s), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, jts_now_ns());
	if (hash)
		sqlite3_bind_blob(st, 3, hash, JTS_HASH_LEN, SQLITE_STATIC);
	if (error)
		sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, id);
	return step_done(c, st);
}

int
catalog_journal_open_rows(struct catalog *c, struct cat_journal **out,
    int *n)
{
	sqlite3_stmt *st;
	struct cat_journal *v = NULL, *j;
	int cnt = 0, cap = 0, r;
	const unsigned char *t;

	*out = NULL;
	*n = 0;
	if (prep(c, S_JOURNAL_OPEN, "SELECT id, path, op, src, dst, home, leave, state, tmp, "
	    "pre_size, pre_mtime_ns, pre_ctime_ns, pre_ino, hash, error, "
	    "links FROM journal WHERE state NOT IN ('done', 'aborted') "
	    "ORDER BY id", &st) != 0)
		return -EIO;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, (size_t)cap * sizeof(*v));
		}
		j = &v[cnt++];
		memset(j, 0, sizeof(*j));
		j->id = sqlite3_column_int64(st, 0);
		j->path = dup_blob(st, 1);
		copy_text(j->op, sizeof(j->op), st, 2);
		copy_text(j->src, sizeof(j->src), st, 3);
		copy_text(j->dst, sizeof(j->dst), st, 4);
		copy_text(j->home, sizeof(j->home), st, 5);
		copy_text(j->leave, sizeof(j->leave), st, 6);
		t = sqlite3_column_text(st, 7);
		j->state = (enum jstate)jstate_parse(t ? (const char *)t : "");
		j->tmp = dup_blob(st, 8);
		j->pre_size = sqlite3_column_int64(st, 9);
		j->pre_mtime_ns = sqlite3_column_int64(st, 10);
		j->pre_ctime_ns = sqlite3_column_int64(st, 11);
		j->pre_ino = sqlite3_column_int64(st, 12);
		j->has_hash = get_hash(st, 13, j->hash);
		t = sqlite3_column_text(st, 14);
		j->error = t ? xstrdup((const char *)t) : NULL;
		j->links = sqlite3_column_int(st, 15);
	}
	release(st);
	if (r != SQLITE_DONE) {
		jts_err("catalog %s: %s", c->path, sqlite3_errmsg(c->db));
		while (cnt > 0)
			cat_journal_free(&v[--cnt]);
		free(v);
		return -EIO;
	}
	*out = v;
	*n = cnt;
	return 0;
}

void
cat_journal_free(struct cat_journal *j)
{
	free(j->path);
	free(j->tmp);
	free(j->error);
	j->path = j->tmp = j->error = NULL;
}

static int
journal_count(struct catalog *c, const char *where)
{
	sqlite3_stmt *st;
	char *sql = xasprintf("SELECT count(*) FROM journal WHERE %s", where);
	int n = 0;

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	free(sql);
	return n;
}

int
catalog_journal_unsettled(struct catalog *c)
{
	return journal_count(c, "state NOT IN ('done', 'aborted', 'conflict')");
}

int
catalog_journal_conflicts(struct catalog *c)
{
	return journal_count(c, "state = 'conflict'");
}

void
catalog_read_begin(struct catalog *c)
{
	(void)sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
}

void
catalog_read_end(struct catalog *c)
{
	(void)sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
}

int64_t
catalog_run_start(struct catalog *c, const char *policy, const char *reason,
    int64_t now_ns)
{
	sqlite3_stmt *st;
	int64_t id = 0;

	if (sqlite3_prepare_v2(c->db, "INSERT INTO policy_runs (policy, "
	    "reason, started_ns) VALUES (?, ?, ?)", -1, &st, NULL) !=
	    SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, policy, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ns);
	if (sqlite3_step(st) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(c->db);
	sqlite3_finalize(st);
	return id;
}

void
catalog_run_end(struct catalog *c, int64_t id, int64_t ended_ns,
    uint64_t files, uint64_t bytes, uint64_t failed)
{
	sqlite3_stmt *st;

	if (id == 0 || sqlite3_prepare_v2(c->db, "UPDATE policy_runs SET "
	    "ended_ns = ?, files = ?, bytes = ?, failed = ? WHERE id = ?", -1,
	    &st, NULL) != SQLITE_OK)
		return;
	if (ended_ns != 0)
		sqlite3_bind_int64(st, 1, ended_ns);
	sqlite3_bind_int64(st, 2, (int64_t)files);
	sqlite3_bind_int64(st, 3, (int64_t)bytes);
	sqlite3_bind_int64(st, 4, (int64_t)failed);
	sqlite3_bind_int64(st, 5, id);
	(void)sqlite3_step(st);
	sqlite3_finalize(st);
}

int64_t
catalog_run_last(struct catalog *c, const char *policy)
{
	sqlite3_stmt *st;
	int64_t t = 0;

	if (sqlite3_prepare_v2(c->db, "SELECT started_ns, ended_ns FROM "
	    "policy_runs WHERE policy = ? AND reason <> 'request' "
	    "ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, policy, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 1) != SQLITE_NULL)
		t = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return t;
}

int
catalog_pin_set(struct catalog *c, const char *path, bool pin, int64_t now_ns)
{
	sqlite3_stmt *st;
	int r;

	if (sqlite3_prepare_v2(c->db, pin ? "INSERT OR IGNORE INTO pins "
	    "(path, pinned_ns) VALUES (?, ?)" : "DELETE FROM pins WHERE "
	    "path = ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_blob(st, 1, path, (int)strlen(path), SQLITE_STATIC);
	if (pin)
		sqlite3_bind_int64(st, 2, now_ns);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return -1;
	return sqlite3_changes(c->db) > 0 ? 1 : 0;
}

int
catalog_identity(struct catalog *c, char id[40], char **adopted)
{
	sqlite3_stmt *st;
	const char *u, *role;
	char *list = xstrdup("");
	int r;

	id[0] = '\0';
	if (sqlite3_prepare_v2(c->db, "SELECT uuid, role FROM identity "
	    "ORDER BY made_ns", -1, &st, NULL) != SQLITE_OK) {
		free(list);
		return -EIO;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		u = (const char *)sqlite3_column_text(st, 0);
		role = (const char *)sqlite3_column_text(st, 1);
		if (u == NULL || role == NULL || strlen(u) >= 40)
			continue;
		if (strcmp(role, "self") == 0)
			snprintf(id, 40, "%s", u);
		else {
			char *n = xasprintf("%s%s%s", list, *list ? " " : "",
			    u);

			free(list);
			list = n;
		}
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE || id[0] == '\0') {
		free(list);
		return -EIO;
	}
	if (adopted != NULL)
		*adopted = list;
	else
		free(list);
	return 0;
}

int
catalog_adopt(struct catalog *c, const char *uuid, const char *note,
    int64_t now_ns)
{
	sqlite3_stmt *st;
	int r;

	if (sqlite3_prepare_v2(c->db, "INSERT OR IGNORE INTO identity "
	    "(uuid, role, made_ns, note) VALUES (?, 'adopted', ?, ?)", -1,
	    &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_ns);
	sqlite3_bind_text(st, 3, note, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return r;
}

void
cat_file_of_stat(struct cat_file *f, const char *path, const char *tier,
    const char *home, const struct stat *st)
{
	memset(f, 0, sizeof(*f));
	f->path = (char *)path;
	snprintf(f->tier, sizeof(f->tier), "%s", tier);
	snprintf(f->home, sizeof(f->home), "%s", home);
	f->size = st->st_size;
	f->mtime_ns = jts_ts_ns(&st->st_mtim);
	f->ctime_ns = jts_ts_ns(&st->st_ctim);
	f->ino = (int64_t)st->st_ino;
	f->mode = st->st_mode;
	f->uid = st->st_uid;
	f->gid = st->st_gid;
	f->blocks = (int64_t)st->st_blocks;
	f->has_blocks = true;
}
