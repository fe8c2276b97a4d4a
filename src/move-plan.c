/* move-plan.c - planning a move: the paths asked for, walked and checked,
 * become the items of a plan (what moves where, and why not) */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "move-int.h"
#include "stub.h"
#include "util.h"

/* --- planning ----------------------------------------------------------- */

static struct move_item *
plan_add(struct move_plan *p, const char *rel)
{
	struct move_item *it;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->items = xrealloc(p->items, (size_t)p->cap * sizeof(*it));
	}
	it = &p->items[p->n++];
	memset(it, 0, sizeof(*it));
	it->rel = xstrdup(rel);
	it->fd = -1;
	it->src = it->dst = it->home = -1;
	return it;
}

const char *
kind_word(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symbolic link";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	}
	return "not a regular file";
}

/* Is rel on tier t the stub of the catalogued data f? */
static bool
home_is_stub(struct engine *e, int t, const char *rel,
    const struct cat_file *f)
{
	struct stub_info si;
	struct stat st;
	int dfd = engine_dir(e, t, rel, false, -1);

	return dfd >= 0 && stub_read_at(dfd, rel_base(rel), &si, &st) == 1 &&
	    f->has_hash && si.size == f->size &&
	    memcmp(si.hash, f->hash, JTS_HASH_LEN) == 0;
}

/* Choose source and destination of one file found on tier t. */
static void
plan_file(struct engine *e, struct move_plan *p, int t, const char *rel,
    const struct stat *st, enum move_op op, int to)
{
	struct move_item *it;
	struct cat_file f;
	int r;

	/* One file, one item: met again under a name it was renamed to. */
	if (S_ISREG(st->st_mode) && st->st_nlink == 1 &&
	    !jts_idset_add(&p->files, st->st_dev, st->st_ino))
		return;
	it = plan_add(p, rel);
	r = catalog_file_get(&e->cat, rel, &f);
	if (r < 0) {
		item_fail(it, IT_FAILED, "catalog %s: lookup failed: %s",
		    e->cat.path, catalog_errmsg(&e->cat));
		return;
	}
	if (r > 0) {
		it->tracked = true;
		it->has_cat_hash = f.has_hash;
		memcpy(it->cat_hash, f.hash, JTS_HASH_LEN);
		it->cat_size = f.size;
		it->cat_mtime_ns = f.mtime_ns;
		it->cat_mode = f.mode;
		it->cat_uid = f.uid;
		it->cat_gid = f.gid;
		/* A name of a set of hard links as its move recorded it. */
		if (f.links > 1 && f.ino != 0) {
			it->links = f.links;
			it->set_key[0] = 1ULL << 63 | (uint64_t)f.size;
			it->set_key[1] = (uint64_t)f.ino;
			it->set_key[2] = (uint64_t)f.mtime_ns;
		}
		it->src = conf_tier_index(e->conf, f.tier);
		it->home = conf_tier_index(e->conf, f.home);
		cat_file_free(&f);
		if (it->src < 0 || it->home < 0) {
			item_fail(it, IT_FAILED, "catalog names a tier that is "
			    "not configured (%s)", f.tier);
			return;
		}
		if (S_ISLNK(st->st_mode) && (t != it->home || it->src == t)) {
			item_fail(it, IT_SKIPPED, "is a symbolic link");
			return;
		}
		if (S_ISREG(st->st_mode) && it->src != t && t == it->home &&
		    home_is_stub(e, t, rel, &f)) {
			/* A stub stands for the data, as a symlink does. */
		} else if (S_ISREG(st->st_mode) && it->src != t) {
			item_fail(it, IT_FAILED, "catalog says its data is on "
			    "tier %s, but a regular file is here; run "
			    "'jts-tierctl check'", tier_name(e, it->src));
			return;
		}
	} else {
		if (S_ISLNK(st->st_mode)) {
			item_fail(it, IT_SKIPPED, "is a symbolic link not "
			    "managed by jts-tier");
			return;
		}
		it->src = it->home = t;
	}
	if (!S_ISREG(st->st_mode) && !S_ISLNK(st->st_mode)) {
		item_fail(it, IT_FAILED, "is %s; only regular files move",
		    kind_word(st->st_mode));
		return;
	}
	if (op == OP_MIGRATE)
		it->dst = to >= 0 ? to : it->src + 1;
	else
		it->dst = to >= 0 ? to : it->home;
	if (it->dst >= e->ntiers) {
		item_fail(it, IT_SKIPPED, "already on the last tier (%s)",
		    tier_name(e, it->src));
		return;
	}
	if (it->dst == it->src) {
		item_fail(it, IT_SKIPPED, "already on tier %s",
		    tier_name(e, it->src));
		return;
	}
	/* One side of a copy is a local file. */
	if (!tier_has(&e->tiers[it->dst], TIER_CAP_LOCAL) &&
	    !tier_has(&e->tiers[it->src], TIER_CAP_LOCAL)) {
		item_fail(it, IT_FAILED, "tiers %s and %s are both %s tiers; "
		    "moves between two tiers no local path reaches are not "
		    "supported", tier_name(e, it->src), tier_name(e, it->dst),
		    e->tiers[it->src].ops->name);
		return;
	}
	/* A home symlink stands where a local path leads. */
	it->dst_is_stub = it->dst == it->home && it->src != it->home &&
	    tier_has(&e->tiers[it->dst], TIER_CAP_LOCAL);
	/* A symlink left behind stands for the catalogued file. */
	it->psize = S_ISREG(st->st_mode) ? (uint64_t)st->st_size :
	    (uint64_t)it->cat_size;
	p->bytes += it->psize;
}

/*
 * The item just planned, a name of a set of hard links (on the tier
 * walked, or as the catalog recorded its move): held until the walk is
 * over, known by its inode there or by the catalog's row.
 */
static void
plan_hold(struct move_plan *p, const struct stat *st)
{
	struct move_item *it = &p->items[p->n - 1], *h;

	if (!pending(it))
		return;
	if (S_ISREG(st->st_mode) && st->st_nlink > 0) {
		/* The file itself, walked: its inode there is the truth. */
		it->links = st->st_nlink == 1 ? 0 : st->st_nlink > INT32_MAX ?
		    INT32_MAX : (int)st->st_nlink;
		it->set_key[0] = (uint64_t)st->st_dev;
		it->set_key[1] = (uint64_t)st->st_ino;
		it->set_key[2] = 0;
	}
	if (it->links < 2) {
		it->links = 0;
		return;
	}
	if (p->held == NULL)
		p->held = xcalloc(1, sizeof(*p->held));
	p->bytes -= it->psize;
	h = plan_add(p->held, "");
	free(h->rel);
	*h = *it;
	p->n--;
}

/* Plan one file, and hand a full plan over when streaming. */
static void
plan_one(struct engine *e, struct move_plan *p, int t, const char *rel,
    const struct stat *st, enum move_op op, int to)
{
	plan_file(e, p, t, rel, st, op, to);
	plan_hold(p, st);
	if (p->flush != NULL && p->n >= p->flush_at)
		p->flush(p, p->flush_arg);
}

static int
set_cmp(const void *a, const void *b)
{
	const struct move_item *x = a, *y = b;
	int i;

	for (i = 0; i < 3; i++)
		if (x->set_key[i] != y->set_key[i])
			return x->set_key[i] < y->set_key[i] ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

/*
 * Each set held whose names were all met joins the plan, its names next
 * to each other (the first leads); any other is refused, all its names.
 */
void
move_plan_links(struct move_plan *p)
{
	struct move_plan *h = p->held;
	int i, j, k, n;

	if (h == NULL || h->n == 0)
		return;
	qsort(h->items, (size_t)h->n, sizeof(*h->items), set_cmp);
	for (i = 0; i < h->n; i = j) {
		struct move_item *a = &h->items[i];
		const char *why = NULL;

		for (j = i + 1; j < h->n && memcmp(a->set_key,
		    h->items[j].set_key, sizeof(a->set_key)) == 0; j++)
			;
		n = j - i;
		for (k = i + 1; k < j && why == NULL; k++)
			if (h->items[k].src != a->src ||
			    h->items[k].dst != a->dst ||
			    h->items[k].links != a->links)
				why = "its hard links do not all move between "
				    "the same tiers";
		if (why == NULL && n < a->links)
			why = "";
		else if (why == NULL && n > a->links)
			why = "its hard links changed while the tree was walked";
		else if (why == NULL && n > MOVE_SET_MAX)
			why = "has more hard links than a set may have";
		for (k = i; k < j; k++) {
			struct move_item *it = plan_add(p, h->items[k].rel);

			free(it->rel);
			*it = h->items[k];
			it->set_pos = k - i;
			if (why == NULL) {
				if (it->set_pos == 0)
					p->bytes += it->psize;
			} else if (*why != '\0')
				item_fail(it, IT_FAILED, "%s (%d names); not "
				    "moved", why, a->links);
			else
				item_fail(it, IT_FAILED, "has %d hard links, %d "
				    "of them not among the files to move; a set "
				    "of hard links moves whole, or not at all",
				    a->links, a->links - n);
		}
	}
	h->n = 0;
}

static void
plan_walk(struct engine *e, struct move_plan *p, int t, const char *rel,
    enum move_op op, int to, int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	char *child;
	int fd;

	if (depth > JTS_MAX_DEPTH) {
		jts_err("%s: directories nested too deep", jts_quote(rel));
		p->errors++;
		return;
	}
	fd = tier_openat(&e->tiers[t], -1, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		jts_err("%s: cannot read directory: %s", jts_quote(rel),
		    strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		p->errors++;
		return;
	}
	/* Met before under another name (renamed during the walk). */
	if (fstat(fd, &st) != 0 || !jts_idset_add(&p->dirs, st.st_dev,
	    st.st_ino)) {
		closedir(d);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    jts_is_tmp_name(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW)
		    != 0)
			continue;
		if (S_ISDIR(st.st_mode) && st.st_dev == e->own_dev &&
		    st.st_ino == e->own_ino)
			continue;	/* jts-tier's own catalog directory */
		child = *rel ? xasprintf("%s/%s", rel, de->d_name) :
		    xstrdup(de->d_name);
		if (S_ISDIR(st.st_mode))
			plan_walk(e, p, t, child, op, to, depth + 1);
		else
			plan_one(e, p, t, child, &st, op, to);
		free(child);
	}
	closedir(d);
}

/*
 * Plan a recall from the catalog: every file at or beneath rel, a page of
 * paths at a time (no statement stays open while a flush moves files).
 */
static int
plan_recall(struct engine *e, struct move_plan *p, const char *rel, int to)
{
	enum { PAGE = 1024 };
	sqlite3_stmt *st;
	struct stat fake;
	size_t n = strlen(rel);
	char *paths[PAGE], *last = xstrdup("");
	int found = 0, k, i, r;

	memset(&fake, 0, sizeof(fake));
	do {
		if (sqlite3_prepare_v2(e->cat.db, "SELECT path FROM files "
		    "WHERE path > ?3 AND (?2 = 0 OR path = ?1 OR "
		    "(length(path) > ?2 AND substr(path, 1, ?2 + 1) = "
		    "CAST(?1 || '/' AS BLOB))) ORDER BY path LIMIT ?4", -1, &st,
		    NULL) != SQLITE_OK) {
			jts_err("catalog %s: %s", e->cat.path,
			    sqlite3_errmsg(e->cat.db));
			free(last);
			return -EIO;
		}
		sqlite3_bind_blob(st, 1, rel, (int)n, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, (int)n);
		sqlite3_bind_blob(st, 3, last, (int)strlen(last),
		    SQLITE_STATIC);
		sqlite3_bind_int(st, 4, PAGE);
		k = 0;
		while ((r = sqlite3_step(st)) == SQLITE_ROW && k < PAGE)
			paths[k++] = strndup(sqlite3_column_blob(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0));
		sqlite3_finalize(st);
		for (i = 0; i < k; i++) {
			struct cat_file f;

			if (catalog_file_get(&e->cat, paths[i], &f) > 0) {
				int src = conf_tier_index(e->conf, f.tier);

				/* Where the data is, it is a regular file. */
				fake.st_mode = S_IFREG;
				fake.st_size = f.size;
				if (src >= 0)
					plan_one(e, p, src, paths[i], &fake,
					    OP_RECALL, to);
				cat_file_free(&f);
				found++;
			}
			if (i == k - 1) {
				free(last);
				last = paths[i];
			} else
				free(paths[i]);
		}
	} while (k == PAGE);
	free(last);
	return found;
}

int
move_plan_path(struct engine *e, struct move_plan *p, const char *path,
    enum move_op op, int to)
{
	char *abs = jts_path_abs(path);
	const char *rel;
	struct stat st;
	dev_t dd;
	ino_t di;
	int t, dfd, r;

	p->op = op;
	if (abs == NULL) {
		jts_err("%s: %s", jts_quote(path), strerror(errno));
		p->errors++;
		return -errno;
	}
	if ((t = engine_locate(e, abs, &rel)) < 0) {
		char tl[512];

		jts_err("%s: not beneath the root of any configured tier "
		    "(tiers: %s)", jts_quote(path),
		    conf_tier_list(e->conf, true, tl, sizeof(tl)));
		free(abs);
		p->errors++;
		return -ENOENT;
	}
	if (op == OP_RECALL) {
		r = plan_recall(e, p, rel, to);
		if (!p->hold_links)
			move_plan_links(p);
		if (r == 0) {
			jts_err("%s: not managed by jts-tier (nothing in the "
			    "catalog at or beneath this path); recall brings "
			    "back what migrate or a policy moved",
			    jts_quote(path));
			p->errors++;
		}
		free(abs);
		return r < 0 ? r : 0;
	}
	if (!tier_has(&e->tiers[t], TIER_CAP_LOCAL)) {
		jts_err("%s: is on %s tier %s; files there are recalled by "
		    "their home path, or with 'jts-tierctl recall'",
		    jts_quote(path), e->tiers[t].ops->name, tier_name(e, t));
		free(abs);
		p->errors++;
		return -EINVAL;
	}
	if (*rel == '\0') {
		plan_walk(e, p, t, "", op, to, 0);
		free(abs);
		if (!p->hold_links)
			move_plan_links(p);
		return 0;
	}
	dfd = engine_dir(e, t, rel, false, -1);
	if (dfd < 0 || fstatat(dfd, rel_base(rel), &st, AT_SYMLINK_NOFOLLOW)
	    != 0) {
		r = dfd < 0 ? dfd : -errno;
		jts_err("%s: %s", jts_quote(path), resolve_why(-r));
		free(abs);
		p->errors++;
		return r;
	}
	if (engine_dir_ident(e, dfd, &dd, &di) == 0 && ((dd == e->own_dev &&
	    di == e->own_ino) || (S_ISDIR(st.st_mode) &&
	    st.st_dev == e->own_dev && st.st_ino == e->own_ino))) {
		jts_err("%s: is in jts-tier's own catalog directory; not moved",
		    jts_quote(path));
		free(abs);
		p->errors++;
		return -EPERM;
	}
	if (S_ISDIR(st.st_mode))
		plan_walk(e, p, t, rel, op, to, 0);
	else
		plan_one(e, p, t, rel, &st, op, to);
	free(abs);
	if (!p->hold_links)
		move_plan_links(p);
	return 0;
}

void
move_plan_clear(struct move_plan *p)
{
	int i;

	for (i = 0; i < p->n; i++) {
		item_close(&p->items[i]);
		free(p->items[i].rel);
		free(p->items[i].why);
	}
	p->n = 0;
	p->bytes = 0;
	jts_idset_clear(&p->files);
}

void
move_plan_free(struct move_plan *p)
{
	if (p->held != NULL) {
		move_plan_free(p->held);
		free(p->held);
	}
	move_plan_clear(p);
	free(p->items);
	jts_idset_free(&p->dirs);
	jts_idset_free(&p->files);
	memset(p, 0, sizeof(*p));
}
