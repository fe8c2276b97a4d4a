/*
 * cmd-check.c - check: compare the catalog with the disks, optionally
 * re-hash every stored copy; exit codes of the monitoring-plugin convention
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "cmd.h"
#include "copy.h"
#include "engine.h"
#include "stub.h"
#include "util.h"

#define ST_OK		0
#define ST_WARNING	1
#define ST_CRITICAL	2
#define ST_UNKNOWN	3

static const char *const st_names[] = { "OK", "WARNING", "CRITICAL",
	"UNKNOWN" };

static const char check_options[] =
    "options:\n"
    "      --verify         re-read every stored copy and compare its hash\n"
    "  -j, --json           machine-readable output\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n"
    "\nexit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n";

struct check {
	struct conf	*conf;
	struct tier	 tiers[JTS_MAX_TIERS];
	struct copier	 cp;
	bool		 verify;
	bool		 engine_idle;	/* no engine holds the lock */
	int		 status;
	int64_t		 files, bytes_verified, problems, stubs;
	json_object	*jproblems;
	char		**lines;
	int		 nlines;
	struct catalog	*cat;
	bool		 unreachable_said[JTS_MAX_TIERS];
};

static void
problem(struct check *ck, int sev, const char *kind, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
problem(struct check *ck, int sev, const char *kind, const char *path,
    const char *fmt, ...)
{
	va_list ap;
	char msg[1024];
	json_object *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sev > ck->status)
		ck->status = sev;
	ck->problems++;
	o = json_object_new_object();
	json_object_object_add(o, "severity",
	    json_object_new_string(st_names[sev]));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	jts_json_add_path(o, "path", path);
	json_object_object_add(o, "message", json_object_new_string(msg));
	json_object_array_add(ck->jproblems, o);
	ck->lines = xrealloc(ck->lines, (size_t)(ck->nlines + 1) *
	    sizeof(char *));
	ck->lines[ck->nlines++] = xasprintf("%s: %s: %s: %s", st_names[sev],
	    kind, jts_quote(path), msg);
}


static char *
data_path(struct check *ck, int t, const char *rel)
{
	return tier_data_path(&ck->conf->tiers[t], rel);
}

/* A copy read back (r: the read, why: its cause if known) and its hash. */
static void
judge_readback(struct check *ck, const char *path, int r, const char *why,
    const unsigned char *got, const void *hash, int64_t size)
{
	char x[33], y[33];

	if (r != 0)
		problem(ck, ST_CRITICAL, "unreadable", path, "cannot read it "
		    "back: %s", why ? why : strerror(-r));
	else if (memcmp(got, hash, JTS_HASH_LEN) != 0) {
		jts_hash_hex(hash, x);
		jts_hash_hex(got, y);
		problem(ck, ST_CRITICAL, "corrupt", path, "content hash %s "
		    "differs from the catalog's %s", y, x);
	} else
		ck->bytes_verified += size;
}

/*
 * Can tier t be reached (a NAS answers)?  Said once a tier when it
 * cannot: its files are not checked.
 */
static bool
check_reachable(struct check *ck, int t)
{
	struct tier *tr = &ck->tiers[t];
	const char *u = tier_unreachable(tr);

	if (u == NULL)
		return true;
	if (!ck->unreachable_said[t])
		problem(ck, ST_UNKNOWN, "unreachable", tr->tc->url ?
		    tr->tc->url : tr->tc->endpoint ? tr->tc->endpoint :
		    tr->tc->name, "tier %s: %s; its files are "
		    "not checked", tr->tc->name, u);
	ck->unreachable_said[t] = true;
	return false;
}

/* One catalog row: data present and unchanged, home symlink right. */
static void
check_file(struct check *ck, const char *rel, const char *tier,
    const char *home, int64_t size, int64_t mtime_ns, const void *hash,
    int hashlen)
{
	int t = conf_tier_index(ck->conf, tier);
	int h = conf_tier_index(ck->conf, home);
	char *path, *target, buf[4096];
	unsigned char got[JTS_HASH_LEN];
	struct stub_info si;
	struct stat st;
	ssize_t n;
	struct tier *tr;
	int fd, r;
	bool changed;

	ck->files++;
	if (t < 0 || h < 0) {
		problem(ck, ST_WARNING, "unknown-tier", rel, "catalog names "
		    "tier %s, which is not configured", t < 0 ? tier : home);
		return;
	}
	tr = &ck->tiers[t];
	if (tier_has(tr, TIER_CAP_LOCAL) && tr->rootfd < 0)
		return;		/* its root is said to be unusable */
	if (!check_reachable(ck, t))
		goto home;
	path = data_path(ck, t, rel);
	r = tier_lookup(tr, rel, &st);
	if (r == -EHOSTUNREACH) {
		(void)check_reachable(ck, t);
		free(path);
		goto home;
	}
	if (r != 0 || !S_ISREG(st.st_mode)) {
		if (t == h)
			/* Never moved away: renamed or removed by its owner. */
			problem(ck, ST_WARNING, "gone", path, "no longer at "
			    "its home path on tier %s (%s): renamed or removed "
			    "outside jts-tier; 'jts-tierctl scan' updates the "
			    "catalog", tier, r != 0 ? strerror(-r) :
			    "not a regular file");
		else
			problem(ck, ST_CRITICAL, "missing", path, "catalog says "
			    "the data is here on tier %s, but %s", tier,
			    r != 0 ? strerror(-r) : "it is not a regular file");
		free(path);
		goto home;
	}
	changed = st.st_size != size || jts_ts_ns(&st.st_mtim) != mtime_ns;
	/* At home, a file changes as its owner writes it: no problem.
	 * Where no path leads (an object store), nobody writes through a
	 * link: a copy that changed was replaced behind the tier's back. */
	if (changed && t != h && !tier_has(tr, TIER_CAP_LOCAL) &&
	    tr->tc->mountpoint == NULL)
		problem(ck, ST_CRITICAL, "replaced", path, "size or time "
		    "differ from the catalog (size %jd, catalog %jd), and no "
		    "path leads to tier %s: the copy was replaced behind "
		    "jts-tier's back", (intmax_t)st.st_size, (intmax_t)size,
		    tier);
	else if (changed && t != h)
		problem(ck, ST_WARNING, "changed", path, "size or mtime differ "
		    "from the catalog (size %jd, catalog %jd): written since "
		    "it was moved", (intmax_t)st.st_size, (intmax_t)size);
	else if (!changed && ck->verify && hashlen == JTS_HASH_LEN) {
		r = tier_hash(tr, &ck->cp, rel, size, &st, got);
		if (r == -EHOSTUNREACH)
			(void)check_reachable(ck, t);
		else if (r == -EBUSY)
			jts_info("%s: in use by a move; verified next time",
			    jts_quote(path));
		else if (r == -EFTYPE_NOTREG)
			problem(ck, ST_CRITICAL, "missing", path, "catalog "
			    "says the data is here on tier %s, but it is not a "
			    "regular file", tier);
		else
			judge_readback(ck, path, r, r == -ESTALE ? "it changed "
			    "while it was being checked" : NULL, got, hash,
			    size);
	}
	free(path);
home:
	if (t == h || ck->tiers[h].rootfd < 0)
		return;
	/* The home path should be a symlink to the data (or absent). */
	path = data_path(ck, h, rel);
	/* A tier with no root nor mountpoint: no path leads there. */
	if ((target = tier_link_target(ck->tiers[t].tc, rel)) == NULL)
		target = xstrdup("");
	fd = tier_open_parent(&ck->tiers[h], rel);
	if (fd >= 0 && fstatat(fd, rel_base(rel), &st, AT_SYMLINK_NOFOLLOW)
	    == 0) {
		if (S_ISLNK(st.st_mode)) {
			n = readlinkat(fd, rel_base(rel), buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			if (strcmp(buf, target) != 0)
				problem(ck, ST_WARNING, "wrong-link", path,
				    "points to %s, the data is at %s",
				    jts_quote(buf), *target ? jts_quote(target) :
				    "on a tier no local path reaches");
		} else if ((r = stub_read_at(fd, rel_base(rel), &si, &st)) ==
		    1) {
			ck->stubs++;
			if (st.st_size != si.size)
				problem(ck, ST_WARNING, "stub-overwritten",
				    path, "a stub of %jd bytes whose data has "
				    "%jd: overwritten while it was a stub "
				    "(opened with O_TRUNC); its next access "
				    "keeps what is there, and the old data "
				    "stays on tier %s for you to remove",
				    (intmax_t)st.st_size, (intmax_t)si.size,
				    tier);
			else if (si.size != size || hashlen != JTS_HASH_LEN ||
			    memcmp(si.hash, hash, JTS_HASH_LEN) != 0)
				problem(ck, ST_CRITICAL, "stub-mismatch", path,
				    "a stub that does not stand for the data "
				    "catalogued on tier %s (its mark: %" PRId64
				    " bytes, row %" PRId64 "); reading it fails",
				    tier, si.size, si.id);
		} else if (r < 0)
			problem(ck, ST_CRITICAL, "stub-mismatch", path,
			    "its stub mark cannot be read: %s", strerror(-r));
		else
			problem(ck, ST_WARNING, "duplicate", path, "a file is "
			    "at the home path although the data is on tier "
			    "%s", tier);
	}
	if (fd >= 0)
		close(fd);
	free(path);
	free(target);
}

/*
 * A regular file on tier t away from its home whose catalog row says the
 * data is on another tier: a copy left behind (a conflict kept both).
 */
static void
stray(struct check *ck, int t, int dfd, const char *name, const char *rel)
{
	struct stub_info si;
	struct cat_file f;
	struct stat st;
	char *path;
	int r;

	r = catalog_file_get(ck->cat, rel, &f);
	/*
	 * A stub holds no data: one is right only at the home path of data
	 * catalogued elsewhere (check_file judges that one).
	 */
	if (stub_read_at(dfd, name, &si, &st) == 1 && (r <= 0 ||
	    strcmp(f.home, ck->conf->tiers[t].name) != 0 ||
	    strcmp(f.tier, f.home) == 0)) {
		path = data_path(ck, t, rel);
		problem(ck, ST_CRITICAL, "stub-copy", path, "a stub (holes, "
		    "no data: %" PRId64 " bytes whose data the catalog does "
		    "not have away from here) - a copy of another path's "
		    "stub? Its mark names move %" PRId64 "; remove it",
		    si.size, si.id);
		free(path);
	}
	if (r <= 0)
		return;
	if (strcmp(f.tier, ck->conf->tiers[t].name) != 0 &&
	    strcmp(f.home, ck->conf->tiers[t].name) != 0) {
		path = data_path(ck, t, rel);
		problem(ck, ST_WARNING, "stray", path, "a copy is here, but "
		    "the catalog has the data on tier %s", f.tier);
		free(path);
	}
	cat_file_free(&f);
}

/*
 * What a leftover temporary (".jts-tier-ID.what") is to the journal, and
 * so what the operator can do about it, into msg.
 */
static void
temporary_why(struct check *ck, const char *name, char *msg, size_t len)
{
	const char *p = name + strlen(JTS_TMP_PREFIX);
	sqlite3_stmt *st = NULL;
	char *end, *path = NULL;
	int64_t id;
	int state = -1;

	id = strtoll(p, &end, 10);
	if (end != p && *end == '.' && ck->cat->db != NULL &&
	    sqlite3_prepare_v2(ck->cat->db,
	    "SELECT state, path FROM journal WHERE id = ?", -1, &st, NULL)
	    == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			state = jstate_parse((const char *)
			    sqlite3_column_text(st, 0));
			path = strndup(sqlite3_column_blob(st, 1),
			    (size_t)sqlite3_column_bytes(st, 1));
		}
	}
	sqlite3_finalize(st);
	if (state == JS_CONFLICT)
		snprintf(msg, len, "kept by the conflict on %s (its line "
		    "says why): remove it if it is not wanted, then run "
		    "'jts-tierctl recover'", jts_quote(path ? path : "?"));
	else if (state >= 0 && state != JS_DONE && state != JS_ABORTED)
		snprintf(msg, len, "left over by the interrupted move of %s; "
		    "'jts-tierctl recover' finishes or undoes it",
		    jts_quote(path ? path : "?"));
	else
		snprintf(msg, len, "no unfinished move needs it; look at it "
		    "and remove it by hand");
	free(path);
}

/* Leftover temporaries, stray copies and dangling links beneath a root. */
static void
walk_tier(struct check *ck, int t, int dfd, const char *rel, int depth)
{
	struct dirent *de;
	struct stat st;
	char *child, *path, buf[4096];
	ssize_t n;
	DIR *d;
	int fd;

	if (depth > JTS_MAX_DEPTH || (d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW)
		    != 0)
			continue;
		child = *rel ? xasprintf("%s/%s", rel, de->d_name) :
		    xstrdup(de->d_name);
		if (jts_is_tmp_name(de->d_name)) {
			path = data_path(ck, t, child);
			if (ck->engine_idle)
				temporary_why(ck, de->d_name, buf,
				    sizeof(buf));
			problem(ck, ck->engine_idle ? ST_WARNING : ST_OK,
			    "temporary", path, "%s", ck->engine_idle ? buf :
			    "a move is in progress");
			free(path);
		} else if (S_ISDIR(st.st_mode)) {
			fd = openat(dirfd(d), de->d_name, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				walk_tier(ck, t, fd, child, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			stray(ck, t, dirfd(d), de->d_name, child);
		} else if (S_ISLNK(st.st_mode)) {
			n = readlinkat(dirfd(d), de->d_name, buf,
			    sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			if (n > 0 && buf[0] == '/' && lstat(buf, &st) != 0) {
				int i;

				for (i = 0; i < ck->conf->ntiers; i++) {
					const char *r = ck->conf->tiers[i].root;

					if (r && jts_path_beneath(r, buf))
						break;
				}
				if (i < ck->conf->ntiers) {
					path = data_path(ck, t, child);
					problem(ck, ST_WARNING, "dangling",
					    path, "symbolic link to %s, which "
					    "does not exist", jts_quote(buf));
					free(path);
				}
			}
		}
		free(child);
	}
	closedir(d);
}

static void
check_journal(struct check *ck, struct catalog *cat)
{
	struct cat_journal *rows;
	int n, i;

	if (catalog_journal_open_rows(cat, &rows, &n) != 0) {
		problem(ck, ST_UNKNOWN, "catalog", cat->path, "cannot read "
		    "the journal");
		return;
	}
	for (i = 0; i < n; i++) {
		if (rows[i].state == JS_CONFLICT)
			problem(ck, ST_WARNING, "conflict", rows[i].path,
			    "move %s -> %s kept both copies: %s; to settle "
			    "it, remove the one not wanted (the copy on tier "
			    "%s or the source on tier %s) and run "
			    "'jts-tierctl recover'", rows[i].src, rows[i].dst,
			    rows[i].error ? rows[i].error : "?", rows[i].dst,
			    rows[i].src);
		else if (ck->engine_idle)
			problem(ck, ST_WARNING, "interrupted", rows[i].path,
			    "move %s -> %s stopped in state %s; 'jts-tierctl "
			    "recover' finishes it", rows[i].src, rows[i].dst,
			    jstate_name(rows[i].state));
		cat_journal_free(&rows[i]);
	}
	free(rows);
}

/*
 * Leave the result beside the catalog (catalog.db.check) for 'jts-tierctl
 * metrics'; a check that cannot write there still checks.
 */
static void
record_result(struct cmd_ctx *ctx, const struct check *ck)
{
	char *path = xasprintf("%s.check", ctx->conf.catalog);
	struct jts_outfile of;

	if (jts_outfile_open(&of, path, 0644) == 0) {
		fprintf(of.fp, "status=%d time=%" PRId64 " files=%" PRId64
		    " problems=%" PRId64 " verified=%d\n", ck->status,
		    jts_now_ns() / 1000000000, ck->files, ck->problems,
		    ck->verify ? 1 : 0);
		(void)jts_outfile_commit(&of);
	}
	free(path);
}

static int
cmd_check_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verify",	no_argument,		NULL, 'V' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "config",	required_argument,	NULL, 'c' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct check ck;
	struct catalog cat;
	sqlite3_stmt *st;
	char err[1024], *lockpath;
	bool json = false;
	int ch, i, fd, lfd, r;

	memset(&ck, 0, sizeof(ck));
	while ((ch = getopt_long(argc, argv, "jc:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'V':
			ck.verify = true;
			break;
		case 'j':
			json = true;
			break;
		case 'c':
			ctx->conf_path = optarg;
			break;
		case 'h':
			return cmd_help(&cmd_check_entry, check_options);
		default:
			cmd_usage(&cmd_check_entry);
			return ST_UNKNOWN;
		}
	}
	if (optind != argc) {
		cmd_usage(&cmd_check_entry);
		return ST_UNKNOWN;
	}
	if (cmd_load_conf(ctx) != 0) {
		printf("JTS-TIER UNKNOWN - configuration error\n");
		return ST_UNKNOWN;
	}
	ck.conf = &ctx->conf;
	ck.cat = &cat;
	ck.jproblems = json_object_new_array();
	if (catalog_open(ctx->conf.catalog, true, &cat, err, sizeof(err))
	    != 0) {
		printf("JTS-TIER UNKNOWN - %s\n", err);
		json_object_put(ck.jproblems);
		return ST_UNKNOWN;
	}
	lockpath = xasprintf("%s.lock", ctx->conf.catalog);
	lfd = open(lockpath, O_RDONLY | O_CLOEXEC);
	ck.engine_idle = lfd < 0 || flock(lfd, LOCK_SH | LOCK_NB) == 0;
	free(lockpath);
	for (i = 0; i < ctx->conf.ntiers; i++) {
		tier_init(&ck.tiers[i], &ctx->conf, i);
		if (ctx->conf.tiers[i].root == NULL)
			continue;
		ck.tiers[i].rootfd = open(ctx->conf.tiers[i].root,
		    O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (ck.tiers[i].rootfd < 0)
			problem(&ck, ST_CRITICAL, "tier-root",
			    ctx->conf.tiers[i].root, "tier %s: %s",
			    ctx->conf.tiers[i].name, strerror(errno));
	}
	if (ck.verify && (r = copier_init(&ck.cp, 8, 1u << 20)) != 0) {
		problem(&ck, ST_UNKNOWN, "io_uring", "-", "cannot set up "
		    "io_uring for --verify: %s", copier_init_why(r));
		ck.verify = false;
	}
	if (sqlite3_prepare_v2(cat.db, "SELECT path, tier, home, size, "
	    "mtime_ns, hash FROM files ORDER BY path", -1, &st, NULL)
	    == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			char *rel = strndup(sqlite3_column_blob(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0));

			check_file(&ck, rel,
			    (const char *)sqlite3_column_text(st, 1),
			    (const char *)sqlite3_column_text(st, 2),
			    sqlite3_column_int64(st, 3),
			    sqlite3_column_int64(st, 4),
			    sqlite3_column_blob(st, 5),
			    sqlite3_column_bytes(st, 5));
			free(rel);
		}
		sqlite3_finalize(st);
	} else
		problem(&ck, ST_UNKNOWN, "catalog", cat.path, "%s",
		    sqlite3_errmsg(cat.db));
	check_journal(&ck, &cat);
	for (i = 0; i < ctx->conf.ntiers; i++) {
		if (ck.tiers[i].rootfd < 0)
			continue;
		fd = openat(ck.tiers[i].rootfd, ".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (fd >= 0)
			walk_tier(&ck, i, fd, "", 0);
	}
	if (json) {
		json_object *root = json_object_new_object();

		json_object_object_add(root, "status",
		    json_object_new_string(st_names[ck.status]));
		json_object_object_add(root, "exit",
		    json_object_new_int(ck.status));
		json_object_object_add(root, "files",
		    json_object_new_int64(ck.files));
		json_object_object_add(root, "bytes_verified",
		    json_object_new_int64(ck.bytes_verified));
		json_object_object_add(root, "stubs",
		    json_object_new_int64(ck.stubs));
		json_object_object_add(root, "problems", ck.jproblems);
		printf("%s\n", json_object_to_json_string_ext(root,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	} else {
		printf("JTS-TIER %s - %" PRId64 " files, %" PRId64 " problems%s"
		    " | files=%" PRId64 " problems=%" PRId64
		    " verified_bytes=%" PRId64 "B stubs=%" PRId64 "\n",
		    st_names[ck.status], ck.files, ck.problems, ck.verify ?
		    ", verified" : "", ck.files, ck.problems,
		    ck.bytes_verified, ck.stubs);
		for (i = 0; i < ck.nlines; i++)
			printf("%s\n", ck.lines[i]);
		json_object_put(ck.jproblems);
	}
	record_result(ctx, &ck);
	for (i = 0; i < ck.nlines; i++)
		free(ck.lines[i]);
	free(ck.lines);
	for (i = 0; i < ctx->conf.ntiers; i++) {
		if (ck.tiers[i].rootfd >= 0)
			close(ck.tiers[i].rootfd);
		tier_fini(&ck.tiers[i]);
	}
	if (ck.verify)
		copier_fini(&ck.cp);
	if (lfd >= 0)
		close(lfd);
	catalog_close(&cat);
	return ck.status;
}

const struct cmd_entry cmd_check_entry = {
	.name = "check",
	.usage = "[-j] [--verify]",
	.summary = "Compare the catalog with the disks: missing or changed "
	    "files, wrong or\ndangling symbolic links, leftover temporary "
	    "files, stray copies, interrupted\nmoves; with --verify, re-read every stored "
	    "copy and compare its hash. Prints one\nsummary line first and "
	    "exits 0 OK, 1 WARNING, 2 CRITICAL or 3 UNKNOWN.",
	.exec = cmd_check_exec,
};
