/*
 * move.c - the verified, journaled, crash-safe move of files between tiers
 *
 * Items are moved in batches so that the durable steps are shared (one
 * syncfs, one directory fsync per directory, one catalog commit per phase)
 * while every item keeps the full guarantee: the destination is written to
 * a temporary name, made durable, read back past the page cache and
 * compared, renamed into place and its directory synced, and the catalog
 * commit that permits releasing the source is durable, before the source
 * is touched.  At no instant is there less than one complete copy.
 *
 * This file holds the protocol, written once against the tiers' table of
 * operations (tier.h): each phase asks the source's or the destination's
 * backend (tier-posix.c, tier-btrfs.c, tier-nfs.c) to do its part for
 * the batch's pending items.  Planning is in move-plan.c, batching and
 * the worker thread in move-batch.c, recovery in recover.c (what they
 * share: move-int.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "move-int.h"
#include "util.h"

/* SIGINT or SIGTERM: finish or undo the batch in flight, start no other. */
volatile sig_atomic_t stop_requested;
/* Of those stops, the ones a signal asked for (not move_cancel). */
volatile sig_atomic_t stop_signalled;

void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
	stop_signalled = 1;
}

/* Between move_begin and move_end (a stop outside would outlive it). */
volatile sig_atomic_t run_active;

void
move_cancel(void)
{
	if (run_active)
		stop_requested = 1;
}

void
tmpname(char *buf, size_t len, int64_t id, const char *what)
{
	snprintf(buf, len, JTS_TMP_PREFIX "%" PRId64 ".%s", id, what);
}

/* An I/O error in words, with where to look when that is known. */
const char *
io_why(int err)
{
	static __thread char buf[256];
	const char *hint = NULL;

	switch (err) {
	case EIO:
		hint = "the kernel log (dmesg) names the device";
		break;
	case ENOSPC:
	case EDQUOT:
		hint = "make room on the tier, or choose another with --to";
		break;
	case EROFS:
		hint = "the tier is mounted read-only, perhaps after an error: "
		    "see dmesg";
		break;
	}
	snprintf(buf, sizeof(buf), "%s%s%s%s", strerror(err), hint ? " (" :
	    "", hint ? hint : "", hint ? ")" : "");
	return buf;
}

/* Why resolving a path beneath a tier root failed, in words. */
const char *
resolve_why(int err)
{
	switch (err) {
	case ELOOP:
		return "it or a directory on the way is a symbolic link";
	case ENOTDIR:
		return "a directory on the way is a symbolic link or not a "
		    "directory";
	case EXDEV:
		return "the path leaves the tier root";
	}
	return strerror(err);
}

const char *
tier_name(struct engine *e, int t)
{
	return e->tiers[t].tc->name;
}

/* What the item leaves at its home path: the run's leave if it was
 * given, else its home tier's. */
static enum leave_mode
item_leave(const struct batch *b, const struct move_item *it)
{
	if (b->o->leave_forced)
		return b->o->leave;
	return conf_leave_of(b->e->conf, it->home);
}

void
item_fail(struct move_item *it, enum item_state s, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	free(it->why);
	it->why = msg;
	it->state = s;
}

void
item_close(struct move_item *it)
{
	if (it->fd >= 0) {
		/* Closing the descriptor releases its lease. */
		lease_forget(it->fd);
		close(it->fd);
		it->fd = -1;
	}
}

/* fsync a directory given an O_PATH descriptor of it. */
int
fsync_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

/* Note dirfd to sync before the batch's next commit (ds NULL: now). */
int
dir_sync(struct dirset *ds, int dirfd)
{
	struct stat st;
	int i;

	if (ds == NULL)
		return fsync_dir(dirfd);
	if (engine_dir_ident(ds->e, dirfd, &st.st_dev, &st.st_ino) != 0 &&
	    fstat(dirfd, &st) != 0)
		return -errno;
	for (i = 0; i < ds->n; i++)
		if (ds->d[i].dev == st.st_dev && ds->d[i].ino == st.st_ino)
			return 0;
	if (ds->n == ds->cap) {
		ds->cap = ds->cap ? ds->cap * 2 : 16;
		ds->d = xrealloc(ds->d, (size_t)ds->cap * sizeof(*ds->d));
	}
	ds->d[ds->n].dev = st.st_dev;
	ds->d[ds->n].ino = st.st_ino;
	if ((ds->d[ds->n].fd = dup(dirfd)) < 0)
		return fsync_dir(dirfd);
	ds->n++;
	return 0;
}

/* Sync every noted directory, all at once; returns 0 or the first error. */
int
dirs_flush(struct dirset *ds)
{
	int i, r = 0, *fds, *err;

	fds = xcalloc((size_t)(ds->n ? ds->n : 1), sizeof(int));
	err = xcalloc((size_t)(ds->n ? ds->n : 1), sizeof(int));
	for (i = 0; i < ds->n; i++) {
		fds[i] = openat(ds->d[i].fd, ".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (fds[i] < 0 && r == 0)
			r = -errno;
	}
	if (r == 0 && ds->n > 0 &&
	    copier_fsync_many(&ds->e->cp, fds, ds->n, err) != 0)
		r = -EIO;
	if (r == 0 && ds->n > 0)
		r = jts_fault_errno("dirsync");
	for (i = 0; i < ds->n; i++) {
		if (r == 0 && err[i] != 0)
			r = err[i];
		if (fds[i] >= 0)
			close(fds[i]);
		close(ds->d[i].fd);
	}
	free(fds);
	free(err);
	free(ds->d);
	ds->d = NULL;
	ds->n = ds->cap = 0;
	return r;
}

int
src_same_by(struct batch *b, struct move_item *it,
    int (*at)(struct engine *, int, const char *, const struct ident *,
    char *, size_t))
{
	struct ident pre;
	char why[512] = "";

	ident_of(&pre, &it->pre);
	if (at(b->e, it->src, it->rel, &pre, why, sizeof(why)) == 0)
		return 0;
	item_fail(it, IT_FAILED, "%s", why[0] ? why :
	    "source vanished during the copy");
	return -1;
}

bool
ident_same(const struct ident *id, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_ino == id->ino &&
	    st->st_size == id->size && jts_ts_ns(&st->st_mtim) == id->mtime_ns &&
	    (id->linked || jts_ts_ns(&st->st_ctim) == id->ctime_ns);
}

/* The source's identity as the journal row j recorded it. */
void
ident_of_journal(struct ident *id, const struct cat_journal *j)
{
	id->ino = (ino_t)j->pre_ino;
	id->size = j->pre_size;
	id->mtime_ns = j->pre_mtime_ns;
	id->ctime_ns = j->pre_ctime_ns;
	id->linked = j->links > 1;
}

void
ident_of(struct ident *id, const struct stat *st)
{
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime_ns = jts_ts_ns(&st->st_mtim);
	id->ctime_ns = jts_ts_ns(&st->st_ctim);
	id->linked = st->st_nlink > 1;
}

void
tmp_rel(char *buf, size_t len, const char *rel, int64_t id, const char *what)
{
	char name[64];
	const char *base = rel_base(rel);

	tmpname(name, sizeof(name), id, what);
	snprintf(buf, len, "%.*s%s", (int)(base - rel), rel, name);
}

/* Count it against the destination's free space, keeping the reserve. */
static int
space_take(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	char x[32], y[32], z[32];

	if (!b->avail_known)
		return 0;
	if (b->avail < (uint64_t)it->pre.st_size + e->conf->reserve) {
		item_fail(it, IT_FAILED, "not enough space on tier %s: needs %s "
		    "plus a reserve of %s, %s free; make room there or choose "
		    "another tier with --to", tier_name(e, it->dst),
		    jts_fmt_bytes((uint64_t)it->pre.st_size, x, sizeof(x)),
		    jts_fmt_bytes(e->conf->reserve, y, sizeof(y)),
		    jts_fmt_bytes(b->avail, z, sizeof(z)));
		return -1;
	}
	b->avail -= (uint64_t)it->pre.st_size;
	return 0;
}

int
batch_by_size(struct batch *b, struct move_item **v, int n,
    bool (*small)(const struct batch *, const struct move_item *),
    int (*one)(struct batch *, struct move_item *),
    int (*many)(struct batch *, struct move_item **, int))
{
	struct move_item *s[COPY_SMALL_SLOTS];
	int i, k = 0, sum = 0;

	for (i = 0; i < n; i++) {
		if (!small(b, v[i])) {
			sum += one(b, v[i]);
			continue;
		}
		s[k++] = v[i];
		if (k == COPY_SMALL_SLOTS) {
			sum += many(b, s, k);
			k = 0;
		}
	}
	if (k > 0)
		sum += many(b, s, k);
	return sum;
}

void
batch_copy_opts(struct batch *b, struct copy_opts *co)
{
	memset(co, 0, sizeof(*co));
	co->progress = progress_bytes;
	co->arg = b->pg;
	co->pace = batch_pace(b);
}

/*
 * The paces a batch's copies keep to: the daemon's moves' when they are
 * paced, and a recall's (data going up) its source tier's as well.  A
 * batch's items share their tiers.
 */
unsigned
batch_pace(const struct batch *b)
{
	const struct move_item *it = b->n > 0 ? b->it[0] : NULL;

	if (b->o == NULL || !b->o->paced)
		return 0;
	return JTS_PACE_MOVES | (it != NULL && it->src >= 0 && it->dst >= 0 &&
	    it->dst < it->src ? JTS_PACE_RECALL(it->src) : 0);
}

void
copy_opts_of(struct batch *b, struct move_item *it, struct copy_opts *co)
{
	batch_copy_opts(b, co);
	co->abort_flag = lease_flag(it->fd);
	co->stop_flag = &stop_requested;
	co->short_io = b->e->short_io;
}

/* The table of tier t of e. */
static const struct tier_ops *
ops(struct engine *e, int t)
{
	return e->tiers[t].ops;
}

int
item_src_same(struct batch *b, struct move_item *it)
{
	return ops(b->e, it->src)->src_same(b, it);
}

void
item_drop_tmp(struct engine *e, struct move_item *it)
{
	ops(e, it->dst)->drop_tmp(e, it);
}

/* Steps 1-3: look at the source, the destination, the space; hold it. */
static void
phase_prepare(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct tier *dst = &e->tiers[it->dst];
	struct tier_space sp;
	int r = 0;

	ops(e, it->src)->src_prepare(b, it);
	if (pending(it))
		dst->ops->dst_prepare(b, it);
	if (!pending(it))
		return;
	/* Free space: asked once a batch, then counted down; a room that
	 * cannot be measured (an object store's listing) is never taken
	 * as empty. */
	if (!b->avail_known && (r = tier_space(dst, &sp)) == 0) {
		/* What a batch moving beside this one may take. */
		b->avail = sp.avail > b->beside ? sp.avail - b->beside : 0;
		b->avail_known = true;
	} else if (!b->avail_known && r != -ENOTSUP) {
		item_fail(it, IT_FAILED, "cannot measure the free space of "
		    "tier %s (%s); not moved", tier_name(e, it->dst),
		    r == -EHOSTUNREACH ? "it cannot be reached" :
		    strerror(-r));
		return;
	}
	if (space_take(b, it) != 0)
		return;
	if (ops(e, it->src)->src_hold != NULL)
		ops(e, it->src)->src_hold(b, it);
}

/* Step 5, second half: judge the copy r, check it against the catalog,
 * copy metadata, fsync a lone file; on failure remove the temporary. */
/*
 * Judge the copy r of it: the copy error in words, or a source that is
 * unchanged since it was catalogued yet hashes differently (rot).
 * Returns 0, or nonzero with the item failed.
 */
int
copy_judge(struct batch *b, struct move_item *it, int r, const char *dst_why)
{
	struct engine *e = b->e;

	if (r == 0 && it->has_cat_hash && it->pre.st_size == it->cat_size &&
	    jts_ts_ns(&it->pre.st_mtim) == it->cat_mtime_ns &&
	    memcmp(it->hash, it->cat_hash, JTS_HASH_LEN) != 0) {
		char x[33], y[33];

		/* Unchanged since it was catalogued, yet different: rot. */
		jts_hash_hex(it->hash, x);
		jts_hash_hex(it->cat_hash, y);
		item_fail(it, IT_FAILED, "the copy on tier %s is corrupt: "
		    "content hash %s, catalog %s; nothing replaced, see "
		    "'jts-tierctl check --verify'", tier_name(e, it->src), x, y);
		return -1;
	}
	if (r == -ECANCELED && stop_requested) {
		item_fail(it, IT_SKIPPED, "interrupted; left in place");
	} else if (r == -ECANCELED) {
		item_fail(it, IT_FAILED, "was opened for writing by another "
		    "process during the copy; left in place, try again later");
		it->in_use = true;
	} else if (r == -ESTALE) {
		item_fail(it, IT_FAILED, "shrank during the copy; left in "
		    "place, try again later");
		it->in_use = true;
	} else if (r < 0) {
		item_fail(it, IT_FAILED, "copy to tier %s failed: %s",
		    tier_name(e, it->dst), dst_why ? dst_why : io_why(-r));
	}
	return r;
}

/* Step 6, second half: compare the read-back hash h (r: the read). */
void
verify_done(struct batch *b, struct move_item *it, int r,
    const unsigned char *h)
{
	struct engine *e = b->e;
	char x[33], y[33];

	if (r != 0) {
		item_fail(it, IT_FAILED, "reading the copy back on tier %s "
		    "failed: %s", tier_name(e, it->dst), io_why(-r));
	} else if (memcmp(h, it->hash, JTS_HASH_LEN) != 0) {
		jts_hash_hex(it->hash, x);
		jts_hash_hex(h, y);
		item_fail(it, IT_FAILED, "verification failed on tier %s: "
		    "source %s, copy %s; copy removed", tier_name(e, it->dst),
		    x, y);
	} else
		return;
	item_drop_tmp(e, it);
	item_close(it);
}

bool	(*move_busy_hook)(const char *rel);

/* After the commit: release the source, fix the home symlink. */
int
finish_item(struct engine *e, int src, int dst, int home, const char *rel,
    const struct ident *pre, enum leave_mode leave, const unsigned char *hash,
    int64_t id, int leasefd, struct dirset *ds, char *why, size_t len)
{
	struct release rl = { e, src, rel, pre, NULL, id, leasefd, ds, NULL,
	    false };
	char *target = engine_link_target(e, dst, rel);
	int r;

	/* What the move left beside the copy. */
	if (ops(e, dst)->tidy != NULL && ops(e, dst)->tidy(e, dst, rel, id,
	    dst == home, ds, why, len) != 0) {
		free(target);
		return -1;
	}
	if (src == home && dst != home) {
		rl.target = leave == LEAVE_SYMLINK ||
		    (leave == LEAVE_STUB && hash == NULL) ? target : NULL;
		rl.stub_hash = leave == LEAVE_STUB ? hash : NULL;
		r = ops(e, src)->release(&rl, why, len);
	} else {
		r = 0;
		if (dst != home && ops(e, home)->relink != NULL) {
			struct release hl = { e, home, rel, pre, target, id, -1,
			    ds, NULL, leave == LEAVE_SYMLINK };

			r = ops(e, home)->relink(&hl, why, len);
		}
		if (r == 0)
			r = ops(e, src)->release(&rl, why, len);
	}
	free(target);
	return r;
}

static void
item_catalog(struct engine *e, struct move_item *it, struct cat_file *f)
{
	memset(f, 0, sizeof(*f));
	f->path = it->rel;
	snprintf(f->tier, sizeof(f->tier), "%s", tier_name(e, it->dst));
	snprintf(f->home, sizeof(f->home), "%s", tier_name(e, it->home));
	f->size = it->pre.st_size;
	f->mtime_ns = jts_ts_ns(&it->pre.st_mtim);
	f->ctime_ns = jts_ts_ns(&it->pre.st_ctim);
	f->ino = (int64_t)it->pre.st_ino;
	f->mode = it->pre.st_mode;
	f->uid = it->pre.st_uid;
	f->gid = it->pre.st_gid;
	f->has_hash = true;
	memcpy(f->hash, it->hash, JTS_HASH_LEN);
	f->verified_ns = f->moved_ns = jts_now_ns();
	f->links = it->links;
	/*
	 * Where the copy, renamed into place, has an identity of its own
	 * (a local tier), the row describes it: its inode and ctime are
	 * what a rescan compares (the source's stays in the journal).
	 */
	if (it->copy_ino != 0) {
		f->ino = (int64_t)it->copy_ino;
		f->ctime_ns = it->copy_ctime_ns;
		f->blocks = it->copy_blocks;
		f->has_blocks = true;
	}
}

bool
pending(struct move_item *it)
{
	return it->state == IT_PENDING;
}

/* Journal failures of this phase as aborted; returns catalog errors. */
static int
journal_failures(struct engine *e, struct batch *b)
{
	int i, r = 0;

	for (i = 0; i < b->n; i++) {
		struct move_item *it = b->it[i];

		if (it->jid > 0 && !pending(it) && it->state != IT_DONE &&
		    it->tmp_left) {
			it->jid = -it->jid;	/* left open for recovery */
		} else if (it->jid > 0 && !pending(it) &&
		    it->state != IT_DONE) {
			r |= catalog_journal_set(&e->cat, it->jid,
			    it->state == IT_CONFLICT ? JS_CONFLICT :
			    JS_ABORTED, NULL, it->why);
			it->jid = -it->jid;	/* journaled */
		}
	}
	return r;
}

static int
batch_commit(struct engine *e, struct batch *b, const char *what)
{
	if (journal_failures(e, b) != 0 || catalog_commit(&e->cat) != 0) {
		catalog_rollback(&e->cat);
		jts_err("catalog %s: cannot commit %s: %s", e->cat.path, what,
		    catalog_errmsg(&e->cat));
		return -1;
	}
	return 0;
}

/* Abandon every pending item of the batch: temps removed, sources kept. */
void
batch_abandon(struct engine *e, struct batch *b, const char *why)
{
	int i;

	for (i = 0; i < b->n; i++) {
		struct move_item *it = b->it[i];

		if (!pending(it))
			continue;
		item_fail(it, IT_FAILED, "%s", why);
		if (it->jid > 0)
			item_drop_tmp(e, it);
		item_close(it);
	}
}

/* A stop was asked for before the commit: undo the batch, journal it. */
static bool
batch_stopped(struct batch *b)
{
	int i;

	if (!stop_requested)
		return false;
	for (i = 0; i < b->n; i++) {
		struct move_item *it = b->it[i];

		if (!pending(it))
			continue;
		item_fail(it, IT_SKIPPED, "interrupted; left in place");
		if (it->jid > 0)
			item_drop_tmp(b->e, it);
		item_close(it);
	}
	if (catalog_begin(&b->e->cat) == 0)
		(void)batch_commit(b->e, b, "interruption");
	return true;
}

/*
 * The batch's pending items, in order, into v (b->n long); their number.
 */
static int
pending_items(struct batch *b, struct move_item **v)
{
	int i, n = 0;

	for (i = 0; i < b->n; i++)
		if (pending(b->it[i]))
			v[n++] = b->it[i];
	return n;
}

/* The pending items that are copied (not the other names of a set). */
static int
pending_copies(struct batch *b, struct move_item **v)
{
	int i, n = 0;

	for (i = 0; i < b->n; i++)
		if (pending(b->it[i]) && b->it[i]->set_pos == 0)
			v[n++] = b->it[i];
	return n;
}

/* --- sets of hard links ------------------------------------------------- */

/*
 * A set of hard links moves whole: once one of its names failed, the
 * others fail too, their temporaries removed, before anything is put in
 * place.  first (after prepare): also refuse a set whose names are not
 * one file with a link for each, or that cannot be kept as links.
 */
static void
sets_whole(struct batch *b, bool first)
{
	struct engine *e = b->e;
	int i, k, n;

	for (i = 0; i < b->n; i += n) {
		struct move_item *lead = b->it[i], *bad = NULL, *it;
		char why[256] = "";

		n = lead->links > 1 ? lead->links : 1;
		if (n == 1)
			continue;
		if (lead->set_pos != 0 || i + n > b->n) {
			/* Never planned so; refused rather than split. */
			snprintf(why, sizeof(why), "its set of hard links was "
			    "not planned whole; not moved");
			n = 1;
		}
		for (k = 0; k < n && bad == NULL && why[0] == '\0'; k++) {
			it = b->it[i + k];
			if (!pending(it))
				bad = it;
			else if (first && (it->set_pos != k ||
			    it->pre.st_ino != lead->pre.st_ino ||
			    it->pre.st_nlink != lead->pre.st_nlink))
				snprintf(why, sizeof(why), "its %d names are "
				    "no longer one file (one was replaced "
				    "since the walk); left in place", n);
		}
		if (first && bad == NULL && why[0] == '\0') {
			if (ops(e, lead->dst)->link == NULL)
				snprintf(why, sizeof(why), "has %d hard links, "
				    "which tier %s cannot keep; not moved", n,
				    tier_name(e, lead->dst));
			else if (lead->dst != lead->home &&
			    item_leave(b, lead) == LEAVE_STUB)
				snprintf(why, sizeof(why), "has %d hard links; "
				    "a set of hard links is left as symbolic "
				    "links (or removed), not as stubs: not "
				    "moved with leave = stub", n);
		}
		if (bad == NULL && why[0] == '\0')
			continue;
		for (k = 0; k < n; k++) {
			it = b->it[i + k];
			if (!pending(it))
				continue;
			if (bad != NULL)
				item_fail(it, IT_FAILED, "its hard link %s did "
				    "not move (%s); a set of hard links moves "
				    "whole", jts_quote(bad->rel), bad->why ?
				    bad->why : "failed");
			else
				item_fail(it, IT_FAILED, "%s", why);
			if (it->jid > 0)
				item_drop_tmp(e, it);
			item_close(it);
		}
	}
}

/* Step 5 for the other names of each set: links to the copy.  Returns
 * how many were made. */
static int
sets_link(struct batch *b)
{
	const struct tier_ops *dst = ops(b->e, b->it[0]->dst);
	int i, made = 0;

	for (i = 0; i < b->n; i++) {
		struct move_item *it = b->it[i], *lead;

		if (it->set_pos == 0 || !pending(it))
			continue;
		lead = b->it[i - it->set_pos];
		if (!pending(lead) || dst->link(b, lead, it) != 0)
			continue;
		memcpy(it->hash, lead->hash, JTS_HASH_LEN);
		made++;
	}
	return made;
}

/* Each name of a set read back as its copy was (the same file). */
static void
sets_verified(struct batch *b)
{
	int i;

	for (i = 0; i < b->n; i++) {
		struct move_item *it = b->it[i], *lead;

		if (it->set_pos == 0 || !pending(it))
			continue;
		lead = b->it[i - it->set_pos];
		it->read_back = lead->read_back;
		memcpy(it->rb_hash, lead->rb_hash, JTS_HASH_LEN);
	}
}

/*
 * After the names of a set were put in place: the copy's identity is
 * the one the last rename left (each rename changes its ctime).
 */
static void
sets_placed(struct batch *b)
{
	int i, k, n;

	for (i = 0; i < b->n; i += n) {
		struct move_item *last = NULL;

		n = b->it[i]->links > 1 && b->it[i]->set_pos == 0 &&
		    i + b->it[i]->links <= b->n ? b->it[i]->links : 1;
		for (k = 0; k < n; k++)
			if (pending(b->it[i + k]) &&
			    b->it[i + k]->copy_ino != 0)
				last = b->it[i + k];
		for (k = 0; k < n && last != NULL && n > 1; k++)
			if (b->it[i + k]->copy_ino == last->copy_ino) {
				b->it[i + k]->copy_ctime_ns =
				    last->copy_ctime_ns;
				b->it[i + k]->copy_blocks = last->copy_blocks;
			}
	}
}

/* Write the journal rows of the batch, state copying; 0 or -1 (undone). */
static int
journal_batch(struct engine *e, struct batch *b)
{
	struct move_item *it;
	int i, k;

	if (catalog_begin(&e->cat) != 0) {
		batch_abandon(b->e, b, "catalog is not writable");
		return -1;
	}
	for (i = 0; i < b->n; i++) {
		struct cat_journal j;

		it = b->it[i];
		if (!pending(it))
			continue;
		memset(&j, 0, sizeof(j));
		j.path = it->rel;
		snprintf(j.op, sizeof(j.op), "%s",
		    it->dst_is_stub || it->dst == it->home ? "recall" :
		    "migrate");
		snprintf(j.src, sizeof(j.src), "%s", tier_name(e, it->src));
		snprintf(j.dst, sizeof(j.dst), "%s", tier_name(e, it->dst));
		snprintf(j.home, sizeof(j.home), "%s", tier_name(e, it->home));
		snprintf(j.leave, sizeof(j.leave), "%s",
		    leave_name(item_leave(b, it)));
		j.state = JS_COPYING;
		j.tmp = "";
		j.pre_size = it->pre.st_size;
		j.pre_mtime_ns = jts_ts_ns(&it->pre.st_mtim);
		j.pre_ctime_ns = jts_ts_ns(&it->pre.st_ctim);
		j.pre_ino = (int64_t)it->pre.st_ino;
		j.links = it->links;
		if (catalog_journal_add(&e->cat, &j) != 0) {
			catalog_rollback(&e->cat);
			for (k = 0; k < b->n; k++)
				if (b->it[k]->jid > 0)
					b->it[k]->jid = 0;
			batch_abandon(e, b, "cannot write the journal");
			return -1;
		}
		it->jid = j.id;
	}
	if (batch_commit(e, b, "journal") != 0) {
		for (i = 0; i < b->n; i++)
			b->it[i]->jid = 0;
		batch_abandon(e, b, "cannot write the journal");
		return -1;
	}
	return 0;
}

/* Record the pending items of the batch as state s (with their hash). */
static int
journal_state(struct engine *e, struct batch *b, enum jstate s,
    const char *what)
{
	int i;

	if (catalog_begin(&e->cat) != 0) {
		batch_abandon(e, b, "catalog is not writable");
		return -1;
	}
	for (i = 0; i < b->n; i++)
		if (pending(b->it[i]))
			catalog_journal_set(&e->cat, b->it[i]->jid, s,
			    s == JS_VERIFIED ? b->it[i]->hash : NULL, NULL);
	if (batch_commit(e, b, what) != 0) {
		batch_abandon(e, b, "cannot write the journal");
		return -1;
	}
	return 0;
}

/* The commit: the durable record that permits releasing the sources. */
static int
commit_batch(struct engine *e, struct batch *b)
{
	struct move_item *it;
	int i;

	if (catalog_begin(&e->cat) != 0) {
		batch_abandon(e, b, "catalog is not writable");
		return -1;
	}
	for (i = 0; i < b->n; i++) {
		struct cat_file f;

		it = b->it[i];
		if (!pending(it))
			continue;
		item_catalog(e, it, &f);
		if (catalog_journal_set(&e->cat, it->jid, JS_COMMITTED, NULL,
		    NULL) != 0 || catalog_file_put(&e->cat, &f) != 0) {
			catalog_rollback(&e->cat);
			jts_err("catalog %s: cannot record the commit; "
			    "recovery will finish the moves",
			    e->cat.path);
			batch_abandon(e, b, "catalog commit failed");
			return -1;
		}
	}
	if (batch_commit(e, b, "commit") != 0) {
		batch_abandon(e, b, "catalog commit failed");
		return -1;
	}
	return 0;
}

/* Step 8 for the batch: release each source, then sync its directories. */
static void
release_batch(struct engine *e, struct batch *b)
{
	const struct tier *src = &e->tiers[b->it[0]->src];
	struct dirset ds = { b->e, 0, 0, NULL };
	struct move_item *it;
	struct ident pre;
	char why[512];
	int i, n = 0;

	if (src->ops->release_ahead != NULL) {
		struct move_item **v = xcalloc((size_t)b->n, sizeof(*v));

		for (i = 0; i < b->n; i++)
			if (pending(b->it[i]))
				v[n++] = b->it[i];
		if (n > 0)
			src->ops->release_ahead(b, v, n);
		free(v);
	}
	for (i = 0; i < b->n; i++) {
		it = b->it[i];
		if (!pending(it))
			continue;
		if (tier_has(src, TIER_CAP_LEASES) && lease_lost_fd(it->fd)) {
			item_fail(it, IT_CONFLICT, "was opened for writing by "
			    "another process after its copy was committed on "
			    "tier %s; both copies kept, see 'jts-tierctl check'",
			    tier_name(e, it->dst));
			item_close(it);
			continue;
		}
		why[0] = '\0';
		ident_of(&pre, &it->pre);
		if (finish_item(e, it->src, it->dst, it->home, it->rel,
		    &pre, item_leave(b, it), it->hash, it->jid, it->fd, &ds,
		    why, sizeof(why)) != 0) {
			item_fail(it, IT_CONFLICT, "%s", why[0] ? why :
			    "cannot release the source");
		}
		item_close(it);
	}
	if (dirs_flush(&ds) != 0)
		jts_warn("syncing directories after releasing sources failed; "
		    "recovery will check them");
}

/*
 * The protocol, for a batch of items sharing their source and their
 * destination tier:
 *
 *   1-3  prepare   source looked at and held, destination free, space
 *   4    journal   a row per item, state copying, committed
 *   5    copy      data and attributes under a temporary name, hashed
 *        durable   syncfs, or COMMIT
 *   6    read-back past every cache, compared; state verified
 *   7    place     source unchanged?  copy renamed (LINKed) into place,
 *                  never replacing anything; its directory durable
 *        committed the catalog has the data on the destination
 *   8    release   the source replaced by a symlink, or removed
 *        done
 *
 * A stop asked for (SIGINT, SIGTERM) before the commit undoes the batch.
 */
/*
 * The home directories of the batch's items, and their mtimes, before
 * anything changes them: a move swaps a file for a link there, a recall
 * the link for the file, and each makes and removes names beside; the
 * directory's mtime is put back after, so a round trip leaves it as it
 * was (as rsync -a keeps a directory's).  A name its owner makes in it
 * meanwhile keeps its place; only that time is lost.
 */
static void
dir_times_note(struct batch *b)
{
	struct engine *e = b->e;
	struct stat st;
	int i, k, fd;

	for (i = 0; i < b->n; i++) {
		struct move_item *it = b->it[i];

		if (!pending(it) || e->tiers[it->home].rootfd < 0 ||
		    (fd = engine_dir(e, it->home, it->rel, false, -1)) < 0 ||
		    fstat(fd, &st) != 0)
			continue;
		for (k = 0; k < b->ndt; k++)
			if (b->dt[k].dev == st.st_dev &&
			    b->dt[k].ino == st.st_ino)
				break;
		if (k < b->ndt)
			continue;
		if ((fd = dup(fd)) < 0)
			continue;
		b->dt = xrealloc(b->dt, (size_t)(b->ndt + 1) * sizeof(*b->dt));
		b->dt[b->ndt].fd = fd;
		b->dt[b->ndt].dev = st.st_dev;
		b->dt[b->ndt].ino = st.st_ino;
		b->dt[b->ndt++].mtime = st.st_mtim;
	}
}

static void
dir_times_restore(struct batch *b)
{
	struct timespec ts[2];
	int k;

	for (k = 0; k < b->ndt; k++) {
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1] = b->dt[k].mtime;
		(void)utimensat(b->dt[k].fd, ".", ts, 0);
		close(b->dt[k].fd);
	}
	free(b->dt);
	b->dt = NULL;
	b->ndt = 0;
}

void
run_batch(struct batch *b)
{
	struct engine *e = b->e;
	const struct tier_ops *dst = ops(e, b->it[0]->dst);
	struct move_item **v = xcalloc((size_t)b->n, sizeof(*v));
	int i, n, live;
	int64_t t0 = jts_mono_ns(), t1;

	b->one = b->n == 1;
#define LAP(what) do {							\
	t1 = jts_mono_ns();						\
	jts_debug("batch of %d: %s %.3f s", b->n, what,			\
	    (double)(t1 - t0) / 1e9);					\
	t0 = t1;							\
} while (0)
	if (ops(e, b->it[0]->src)->look_ahead != NULL)
		ops(e, b->it[0]->src)->look_ahead(b, b->it, b->n);
	for (i = 0; i < b->n; i++)
		phase_prepare(b, b->it[i]);
	sets_whole(b, true);
	dir_times_note(b);
	LAP("prepare");

	if (journal_batch(e, b) != 0)
		goto out;
	jts_fault_point("journaled");
	LAP("journal");
	if (batch_stopped(b))
		goto out;

	if ((n = pending_copies(b, v)) > 0) {
		live = dst->copy(b, v, n);
		live += sets_link(b);
		b->pg->files += live;
		if (live > 0 && (n = pending_items(b, v)) > 0)
			(void)dst->durable(b, v, n);
	}
	sets_whole(b, false);
	LAP("copy");
	if (batch_stopped(b))
		goto out;
	jts_fault_point("synced");

	if ((n = pending_copies(b, v)) > 0)
		dst->readback(b, v, n);
	sets_whole(b, false);
	sets_verified(b);
	if (journal_state(e, b, JS_VERIFIED, "verification") != 0)
		goto out;
	LAP("verify");
	jts_fault_point("verified");
	if (batch_stopped(b))
		goto out;

	/* A stub being filled for a reader is that reader's now. */
	for (i = 0; move_busy_hook != NULL && i < b->n; i++)
		if (pending(b->it[i]) && move_busy_hook(b->it[i]->rel)) {
			item_fail(b->it[i], IT_FAILED, "a reader is recalling "
			    "its stub now; not moved");
			item_drop_tmp(e, b->it[i]);
			item_close(b->it[i]);
		}
	sets_whole(b, false);
	if ((n = pending_items(b, v)) > 0) {
		if (ops(e, v[0]->src)->look_ahead != NULL)
			ops(e, v[0]->src)->look_ahead(b, v, n);
		dst->place(b, v, n);
		sets_placed(b);
		LAP("rename");
		if (dst->place_durable != NULL &&
		    (n = pending_items(b, v)) > 0)
			dst->place_durable(b, v, n);
	}
	LAP("dirsync-dst");
	jts_fault_point("renamed");

	if (commit_batch(e, b) != 0)
		goto out;
	LAP("commit");
	jts_fault_point("committed");

	release_batch(e, b);
	LAP("release");
	jts_fault_point("released");
	if (catalog_begin(&e->cat) != 0)
		goto out;
	for (i = 0; i < b->n; i++) {
		struct move_item *it = b->it[i];

		if (!pending(it))
			continue;
		catalog_journal_set(&e->cat, it->jid, JS_DONE, NULL, NULL);
		it->state = IT_DONE;
	}
	batch_commit(e, b, "completion");
	LAP("done");
#undef LAP
out:
	dir_times_restore(b);
	free(v);
}
