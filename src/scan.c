/* scan.c - reconcile the catalog with what is on a local tier
 *
 * The walk visits a tier's files in the byte order of their paths (each
 * directory's entries sorted, a directory ordered as its name plus '/'),
 * which is the order of the catalog's primary key.  So the walk and a
 * cursor over the tier's catalog rows advance together, a merge: memory
 * stays bounded by one directory, not by the tree.  The cursor reads a
 * snapshot through a second connection (WAL) while the first one writes.
 */
#include "config.h"

#include <dirent.h>
#include <ev.h>
#include <liburing.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan.h"
#include "stub.h"
#include "util.h"

#define SCAN_TXN	100000	/* changes per transaction */
#define RENAME_MAX	65536	/* new files remembered to match renames */
#define LOOK_MIN	32	/* new files in a directory worth a helper */

/* What a scan keeps of a file's status. */
struct fst {
	int64_t		 size, mtime_ns, ctime_ns, ino;
	int64_t		 blocks;		/* 512-byte units allocated */
	uint32_t	 mode, uid, gid;
};

struct gone {
	char		*rel;
	int64_t		 ino, size, mtime_ns;
};

struct fresh {
	char		*rel;
	int64_t		 ino, size, mtime_ns;
};

struct ent;

/*
 * The stub look of a directory of new files, shared with a thread of its
 * own that runs ahead of the merge while the walk's thread writes the
 * catalog: looking (a path lookup and an attribute read per small file)
 * took about half a first scan's time when done in line.
 */
struct look {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	bool		 started;
	bool		 stop;		/* under mu: the thread ends */
	bool		 busy;		/* under mu: a job is being looked at */
	int		 dfd;		/* the job: a directory's entries */
	const char	*names;
	struct ent	*v;
	size_t		 n;
	int		 abort;		/* atomic: the walk no longer needs it */
};

struct scan {
	struct engine	*e;
	int		 t;
	const char	*tier;
	sqlite3		*rdb;		/* the snapshot being merged */
	sqlite3_stmt	*cur;
	bool		 cur_ok;	/* cur holds a row */
	sqlite3_stmt	*ins, *upd, *del, *mv, *blk;
	int		 pending;	/* changes in the open transaction */
	struct gone	*gone;
	int		 ngone, capgone;
	struct fresh	*fresh;
	int		 nfresh, capfresh;
	bool		 fresh_full;
	struct scan_stats *st;
	char		*err;
	size_t		 errlen;
	int		 failed;
	struct io_uring	 ring;		/* statx, many in flight */
	bool		 ring_ok;
	struct statx	*xs;		/* one per entry of a directory */
	size_t		 xcap;
	struct look	 look;
};

#define STATX_QD	128

static int
sc_fail(struct scan *s, const char *what)
{
	if (!s->failed)
		snprintf(s->err, s->errlen, "catalog %s: %s: %s",
		    s->e->conf->catalog, what, sqlite3_errmsg(s->e->cat.db));
	s->failed = -EIO;
	return -EIO;
}

/* One change made: commit now and then, so transactions stay large. */
static void
sc_changed(struct scan *s)
{
	if (++s->pending < SCAN_TXN)
		return;
	if (catalog_commit(&s->e->cat) != 0 || catalog_begin(&s->e->cat) != 0)
		sc_fail(s, "commit");
	s->pending = 0;
}

static void
cur_next(struct scan *s)
{
	int r = sqlite3_step(s->cur);

	s->cur_ok = r == SQLITE_ROW;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		sc_fail(s, "read");
}

/* The catalog row under the cursor is not on disk. */
static void
row_gone(struct scan *s)
{
	struct gone *g;
	int n = sqlite3_column_bytes(s->cur, 0);

	if (s->ngone == s->capgone) {
		s->capgone = s->capgone ? s->capgone * 2 : 64;
		s->gone = xrealloc(s->gone, (size_t)s->capgone * sizeof(*g));
	}
	g = &s->gone[s->ngone++];
	g->rel = xmalloc((size_t)n + 1);
	memcpy(g->rel, sqlite3_column_blob(s->cur, 0), (size_t)n);
	g->rel[n] = '\0';
	g->size = sqlite3_column_int64(s->cur, 1);
	g->mtime_ns = sqlite3_column_int64(s->cur, 2);
	g->ino = sqlite3_column_int64(s->cur, 4);
}

static void
bind_stat(sqlite3_stmt *st, const struct fst *x)
{
	sqlite3_bind_int64(st, 3, x->size);
	sqlite3_bind_int64(st, 4, x->mtime_ns);
	sqlite3_bind_int64(st, 5, x->ctime_ns);
	sqlite3_bind_int64(st, 6, x->ino);
	sqlite3_bind_int64(st, 7, x->mode);
	sqlite3_bind_int64(st, 8, x->uid);
	sqlite3_bind_int64(st, 9, x->gid);
	sqlite3_bind_int64(st, 11, x->blocks);
}

static int
run(struct scan *s, sqlite3_stmt *st)
{
	int r = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r == SQLITE_DONE ? 0 : -1;
}

/*
 * A file on disk with no row for this tier (name in dfd).  A stub is no
 * data: at its home path the catalog has its data elsewhere, anywhere
 * else it is a copy that check reports; neither is catalogued.  Only a
 * sparse file, or one no larger than a stub's first block, can be one,
 * so only those are looked at.
 */
static bool
is_stub(int dfd, const char *name, const struct fst *x)
{
	return stub_is(dfd, name, x->size, x->blocks);
}

static void
file_new(struct scan *s, int dfd, const char *name, const char *rel,
    size_t n, const struct fst *x, int stub)
{
	if (stub < 0 ? is_stub(dfd, name, x) : stub > 0)
		return;
	sqlite3_bind_blob(s->ins, 1, rel, (int)n, SQLITE_STATIC);
	sqlite3_bind_text(s->ins, 2, s->tier, -1, SQLITE_STATIC);
	bind_stat(s->ins, x);
	if (run(s, s->ins) != 0) {
		sc_fail(s, "insert");
		return;
	}
	if (sqlite3_changes(s->e->cat.db) == 0) {
		/* The path is catalogued on another tier. */
		s->st->conflicts++;
		if (s->st->conflicts <= 10)
			jts_warn("%s on tier %s: the catalog has this path on "
			    "another tier; left as it is (see 'jts-tierctl "
			    "check')", jts_quote(rel), s->tier);
		return;
	}
	s->st->added++;
	sc_changed(s);
	if (s->nfresh == RENAME_MAX) {
		s->fresh_full = true;
		return;
	}
	if (s->nfresh == s->capfresh) {
		s->capfresh = s->capfresh ? s->capfresh * 2 : 64;
		s->fresh = xrealloc(s->fresh, (size_t)s->capfresh *
		    sizeof(*s->fresh));
	}
	s->fresh[s->nfresh].rel = xstrdup(rel);
	s->fresh[s->nfresh].ino = x->ino;
	s->fresh[s->nfresh].size = x->size;
	s->fresh[s->nfresh].mtime_ns = x->mtime_ns;
	s->nfresh++;
}

/* A file on disk and its row: update the row if the file changed. */
static void
file_seen(struct scan *s, int dfd, const char *name, const char *rel,
    size_t n, const struct fst *x)
{
	bool same_data;

	if (sqlite3_column_int64(s->cur, 1) == x->size &&
	    sqlite3_column_int64(s->cur, 2) == x->mtime_ns &&
	    sqlite3_column_int64(s->cur, 3) == x->ctime_ns &&
	    sqlite3_column_int64(s->cur, 4) == x->ino) {
		/*
		 * Unchanged, but what it takes on disk is not what the row
		 * says (not known before, or allocated since: delayed
		 * allocation, compression): that alone is set.
		 */
		if (sqlite3_column_type(s->cur, 5) == SQLITE_NULL ||
		    sqlite3_column_int64(s->cur, 5) != x->blocks) {
			sqlite3_bind_blob(s->blk, 1, rel, (int)n,
			    SQLITE_STATIC);
			sqlite3_bind_int64(s->blk, 2, x->blocks);
			if (run(s, s->blk) != 0)
				sc_fail(s, "update");
			else
				sc_changed(s);
		}
		return;
	}
	/*
	 * Marked a stub since it was catalogued (a stub's copy, tracked
	 * before its mark was set): no data, its row goes.  A move never
	 * leaves a row of this tier on a stub: a fill unmarks the stub
	 * before the catalog has the data there.
	 */
	if (is_stub(dfd, name, x)) {
		row_gone(s);
		return;
	}
	/*
	 * Written (or its inode replaced) since catalogued: the stored hash
	 * no longer describes it; a change of owner or mode alone (ctime)
	 * keeps the hash when size and mtime are the same.
	 */
	same_data = sqlite3_column_int64(s->cur, 1) == x->size &&
	    sqlite3_column_int64(s->cur, 2) == x->mtime_ns &&
	    sqlite3_column_int64(s->cur, 4) == x->ino;
	sqlite3_bind_blob(s->upd, 1, rel, (int)n, SQLITE_STATIC);
	bind_stat(s->upd, x);
	sqlite3_bind_int(s->upd, 10, same_data);
	if (run(s, s->upd) != 0) {
		sc_fail(s, "update");
		return;
	}
	s->st->changed++;
	sc_changed(s);
}

/* Merge one file found on disk with the catalog rows before it. */
static void
merge_file(struct scan *s, int dfd, const char *name, const char *rel,
    size_t n, const struct fst *x, int stub)
{
	int c = 1;

	s->st->files++;
	while (s->cur_ok && !s->failed) {
		const void *cp = sqlite3_column_blob(s->cur, 0);
		size_t cn = (size_t)sqlite3_column_bytes(s->cur, 0);

		c = memcmp(cp, rel, cn < n ? cn : n);
		if (c == 0)
			c = cn < n ? -1 : cn > n ? 1 : 0;
		if (c >= 0)
			break;
		row_gone(s);
		cur_next(s);
	}
	if (s->failed)
		return;
	if (s->cur_ok && c == 0) {
		file_seen(s, dfd, name, rel, n, x);
		cur_next(s);
	} else
		file_new(s, dfd, name, rel, n, x, stub);
}

struct ent {
	size_t		 name;		/* offset in the directory's names */
	unsigned char	 type;
	bool		 ok;		/* st holds its status */
	signed char	 stub;		/* looked at: 1 a stub, 0 not; -1 not yet */
	ino_t		 d_ino;
	struct fst	 st;
};

/* The names of the directory being sorted (qsort has no argument). */
static const char *sort_names;

/* Byte order of full paths: a directory sorts as its name plus '/'. */
static int
ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	const unsigned char *p = (const unsigned char *)sort_names + x->name;
	const unsigned char *q = (const unsigned char *)sort_names + y->name;
	int cp, cq;

	while (*p && *p == *q) {
		p++;
		q++;
	}
	cp = *p ? *p : x->type == DT_DIR ? '/' : 0;
	cq = *q ? *q : y->type == DT_DIR ? '/' : 0;
	return cp - cq;
}

static int
ino_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	return x->d_ino < y->d_ino ? -1 : x->d_ino > y->d_ino;
}

static bool
skip_name(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    jts_is_tmp_name(name);
}

static void
fst_of(const struct statx *x, struct fst *f)
{
	f->size = (int64_t)x->stx_size;
	f->mtime_ns = (int64_t)x->stx_mtime.tv_sec * 1000000000 +
	    x->stx_mtime.tv_nsec;
	f->ctime_ns = (int64_t)x->stx_ctime.tv_sec * 1000000000 +
	    x->stx_ctime.tv_nsec;
	f->ino = (int64_t)x->stx_ino;
	f->blocks = (int64_t)x->stx_blocks;
	f->mode = x->stx_mode;
	f->uid = x->stx_uid;
	f->gid = x->stx_gid;
}

/* What a file's status says of an entry. */
static void
ent_status(struct ent *e, const struct statx *x)
{
	if (S_ISDIR(x->stx_mode))
		e->type = DT_DIR;
	else if (S_ISREG(x->stx_mode)) {
		e->type = DT_REG;
		fst_of(x, &e->st);
		e->ok = true;
	} else
		e->type = DT_LNK;	/* anything else: not ours */
}

/*
 * The status of a directory's files, STATX_QD requests in flight through
 * io_uring: the kernel's workers look them up (and, from a cold cache,
 * read their inodes) side by side while this thread writes the catalog.
 */
static void
stat_many(struct scan *s, int dfd, const char *names, struct ent *v,
    size_t n)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	size_t next = 0, inflight = 0;

	if (n > s->xcap) {
		s->xcap = n * 2;
		free(s->xs);
		s->xs = xmalloc(s->xcap * sizeof(*s->xs));
	}
	while (next < n || inflight > 0) {
		while (next < n && inflight < STATX_QD) {
			if (v[next].type != DT_REG &&
			    v[next].type != DT_UNKNOWN) {
				next++;
				continue;
			}
			if ((sqe = io_uring_get_sqe(&s->ring)) == NULL)
				break;
			io_uring_prep_statx(sqe, dfd, names + v[next].name,
			    AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC,
			    STATX_BASIC_STATS, &s->xs[next]);
			io_uring_sqe_set_data64(sqe, next);
			next++;
			inflight++;
		}
		if (inflight == 0)
			break;
		if (io_uring_submit_and_wait(&s->ring, 1) < 0 &&
		    io_uring_cq_ready(&s->ring) == 0)
			continue;	/* interrupted: wait again */
		while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
			size_t k = (size_t)io_uring_cqe_get_data64(cqe);

			if (cqe->res < 0)
				s->st->errors++;
			else
				ent_status(&v[k], &s->xs[k]);
			io_uring_cqe_seen(&s->ring, cqe);
			inflight--;
		}
	}
}

/*
 * An entry's look, by whichever thread claims it first: the look's thread
 * runs ahead of the merge, and the merge, when it catches up, takes the
 * entries not yet claimed itself, so neither waits for the other but for
 * one look in progress.
 */
#define LOOK_CLAIMED	2

static void
look_one(struct ent *e, int dfd, const char *names)
{
	signed char want = -1;

	if (__atomic_compare_exchange_n(&e->stub, &want, LOOK_CLAIMED, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		__atomic_store_n(&e->stub, (signed char)is_stub(dfd, names +
		    e->name, &e->st), __ATOMIC_RELEASE);
}

/* The look's thread: one directory's entries at a time, in order. */
static void *
look_main(void *arg)
{
	struct look *l = arg;
	size_t i;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->busy && !l->stop)
			pthread_cond_wait(&l->cv, &l->mu);
		if (!l->busy)
			break;
		pthread_mutex_unlock(&l->mu);
		for (i = 0; i < l->n; i++) {
			if (__atomic_load_n(&l->abort, __ATOMIC_RELAXED))
				break;
			if (l->v[i].type == DT_REG && l->v[i].ok)
				look_one(&l->v[i], l->dfd, l->names);
		}
		pthread_mutex_lock(&l->mu);
		l->busy = false;
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/*
 * Hand a directory's entries to the look's thread; false when there is
 * no thread (it could not start: the merge then looks in line).
 */
static bool
look_start(struct scan *s, int dfd, const char *names, struct ent *v,
    size_t n)
{
	struct look *l = &s->look;

	if (!l->started) {
		pthread_mutex_init(&l->mu, NULL);
		pthread_cond_init(&l->cv, NULL);
		if (jts_thread_start(&l->th, look_main, l) != 0) {
			pthread_cond_destroy(&l->cv);
			pthread_mutex_destroy(&l->mu);
			return false;
		}
		l->started = true;
	}
	pthread_mutex_lock(&l->mu);
	l->dfd = dfd;
	l->names = names;
	l->v = v;
	l->n = n;
	__atomic_store_n(&l->abort, 0, __ATOMIC_RELAXED);
	l->busy = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return true;
}

/* The merge's turn at an entry: claimed, or looked at, or waited for. */
static int
look_take(struct ent *e, int dfd, const char *names)
{
	signed char r;

	look_one(e, dfd, names);
	while ((r = __atomic_load_n(&e->stub, __ATOMIC_ACQUIRE)) ==
	    LOOK_CLAIMED)
		sched_yield();
	return r;
}

/* The job's end (early when the scan failed): its entries can go. */
static void
look_end(struct look *l)
{
	__atomic_store_n(&l->abort, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&l->mu);
	while (l->busy)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

static void
look_stop(struct look *l)
{
	if (!l->started)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->th, NULL);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	l->started = false;
}

/*
 * One directory: read its entries, read the status of its files in inode
 * order (the order of the inode tables on disk, for a cold cache), then
 * visit everything in name order for the merge.  rel holds the
 * directory's path (len bytes) and grows beneath it.
 */
static void
walk(struct scan *s, int dfd, char **rel, size_t *relcap, size_t len,
    int depth)
{
	struct ent *v = NULL;
	struct dirent *de;
	struct statx x;
	char *names = NULL;
	size_t n = 0, cap = 0, nb = 0, nbcap = 0, i;
	bool looking = false, resume = false;
	DIR *d;

	/*
	 * A tier user can nest directories without end: the walk recurses,
	 * so it stops at a depth (each level holds a frame and a descriptor).
	 */
	if (depth > JTS_MAX_DEPTH) {
		close(dfd);
		if (s->st->too_deep++ == 0)
			jts_warn("%s/%s: directories nested more than %d deep: "
			    "not scanned beneath (the first such place on tier "
			    "%s)", s->e->conf->tiers[s->t].root, jts_quote(*rel),
			    JTS_MAX_DEPTH, s->tier);
		return;
	}
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		s->st->errors++;
		return;
	}
	s->st->dirs++;
	while ((de = readdir(d)) != NULL) {
		size_t k = strlen(de->d_name) + 1;

		if (skip_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		if (nb + k > nbcap) {
			nbcap = nbcap ? nbcap * 2 + k : 4096 + k;
			names = xrealloc(names, nbcap);
		}
		memcpy(names + nb, de->d_name, k);
		v[n].name = nb;
		nb += k;
		v[n].type = de->d_type;
		v[n].d_ino = de->d_ino;
		v[n].ok = false;
		v[n].stub = -1;
		n++;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), ino_cmp);
	if (s->ring_ok)
		stat_many(s, dirfd(d), names, v, n);
	/*
	 * Between directories, the engine's loop gets a turn without
	 * waiting: the daemon answers its socket during a long scan.  (The
	 * statx waits themselves stay in io_uring: through the loop they cost
	 * a warm scan about 15%.)
	 */
	if (s->e->loop != NULL)
		ev_run(s->e->loop, EVRUN_NOWAIT);
	for (i = 0; i < n && !s->ring_ok; i++) {
		if (v[i].type != DT_REG && v[i].type != DT_UNKNOWN)
			continue;
		if (statx(dirfd(d), names + v[i].name, AT_SYMLINK_NOFOLLOW |
		    AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &x) != 0) {
			s->st->errors++;
			continue;
		}
		ent_status(&v[i], &x);
	}
	sort_names = names;
	if (n > 1)
		qsort(v, n, sizeof(*v), ent_cmp);
	/*
	 * No rows left for the cursor: every file here is new, and each one
	 * that could be a stub is looked at; a thread does that ahead.
	 */
	if (!s->cur_ok) {
		size_t maybe = 0;

		for (i = 0; i < n; i++)
			if (v[i].type == DT_REG && v[i].ok &&
			    stub_may_be(v[i].st.size, v[i].st.blocks))
				maybe++;
		looking = maybe >= LOOK_MIN &&
		    look_start(s, dirfd(d), names, v, n);
	}
	for (i = 0; i < n && !s->failed; i++) {
		const char *name = names + v[i].name;
		size_t k = strlen(name), at = len ? len + 1 : 0;

		if (v[i].type != DT_DIR && !(v[i].type == DT_REG && v[i].ok))
			continue;
		if (looking && v[i].type == DT_DIR) {
			/* The look's thread is one: it may be needed beneath. */
			look_end(&s->look);
			looking = false;
			resume = true;
		} else if (resume && v[i].type == DT_REG) {
			looking = look_start(s, dirfd(d), names, v, n);
			resume = false;
		}
		if (at + k + 1 > *relcap) {
			*relcap = (at + k + 1) * 2;
			*rel = xrealloc(*rel, *relcap);
		}
		if (len)
			(*rel)[len] = '/';
		memcpy(*rel + at, name, k + 1);
		if (v[i].type == DT_DIR) {
			int fd = openat(dirfd(d), name, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			struct stat sb;

			/*
			 * File systems mounted beneath the root (a volume per
			 * service, btrfs subvolumes) are part of the tier.
			 */
			if (fd < 0 || fstat(fd, &sb) != 0) {
				s->st->errors++;
				if (fd >= 0)
					close(fd);
			} else if (sb.st_dev == s->e->own_dev &&
			    sb.st_ino == s->e->own_ino)
				close(fd);	/* the catalog's own directory */
			else
				walk(s, fd, rel, relcap, at + k, depth + 1);
		} else
			merge_file(s, dirfd(d), name, *rel, at + k,
			    &v[i].st, looking ? look_take(&v[i], dirfd(d),
			    names) : -1);
		(*rel)[len] = '\0';
	}
	if (looking)
		look_end(&s->look);
	free(names);
	free(v);
	closedir(d);
}

static int
fresh_cmp(const void *a, const void *b)
{
	const struct fresh *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* Whether rel's home path still holds something (a file or a link). */
static bool
home_holds(struct scan *s, const char *rel, const char *home)
{
	int h = conf_tier_index(s->e->conf, home);
	struct stat sb;
	int fd;
	bool r;

	if (h < 0 || s->e->tiers[h].rootfd < 0)
		return true;	/* cannot tell: keep the row */
	if ((fd = tier_open_parent(&s->e->tiers[h], rel)) < 0)
		return false;
	r = fstatat(fd, rel_base(rel), &sb, AT_SYMLINK_NOFOLLOW) == 0;
	close(fd);
	return r;
}

/*
 * Rows whose file is gone: follow a rename (same inode, size and mtime
 * found new elsewhere on the tier), or forget a file deleted by its users.
 * A moved file whose data vanished while its home link stays is kept, for
 * 'check' to report: that is a loss to see, not to hide.
 */
static void
settle_gone(struct scan *s)
{
	sqlite3_stmt *q;
	int i;

	if (s->nfresh > 1)
		qsort(s->fresh, (size_t)s->nfresh, sizeof(*s->fresh),
		    fresh_cmp);
	if (sqlite3_prepare_v2(s->e->cat.db, "SELECT home FROM files WHERE "
	    "path = ?", -1, &q, NULL) != SQLITE_OK) {
		sc_fail(s, "prepare");
		return;
	}
	for (i = 0; i < s->ngone && !s->failed; i++) {
		struct gone *g = &s->gone[i];
		struct fresh key = { .ino = g->ino }, *f;
		char home[64] = "";
		bool renamed = false;

		f = s->nfresh ? bsearch(&key, s->fresh, (size_t)s->nfresh,
		    sizeof(*s->fresh), fresh_cmp) : NULL;
		sqlite3_bind_blob(q, 1, g->rel, (int)strlen(g->rel),
		    SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW)
			snprintf(home, sizeof(home), "%s",
			    (const char *)sqlite3_column_text(q, 0));
		sqlite3_reset(q);
		if (f != NULL && f->size == g->size &&
		    f->mtime_ns == g->mtime_ns && strcmp(home, s->tier) == 0) {
			/* Renamed: the new row takes the old one's history. */
			sqlite3_bind_blob(s->mv, 1, f->rel,
			    (int)strlen(f->rel), SQLITE_STATIC);
			sqlite3_bind_blob(s->mv, 2, g->rel,
			    (int)strlen(g->rel), SQLITE_STATIC);
			if (run(s, s->mv) != 0) {
				sc_fail(s, "rename");
				break;
			}
			s->st->renamed++;
			s->st->added--;
			renamed = true;
		} else if (strcmp(home, s->tier) != 0 &&
		    home_holds(s, g->rel, home))
			continue;
		sqlite3_bind_blob(s->del, 1, g->rel, (int)strlen(g->rel),
		    SQLITE_STATIC);
		if (run(s, s->del) != 0) {
			sc_fail(s, "delete");
			break;
		}
		if (!renamed)
			s->st->removed++;
		sc_changed(s);
	}
	sqlite3_finalize(q);
}

static int
prep(struct scan *s, sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return sc_fail(s, "prepare");
	return 0;
}

int
scan_tier(struct engine *e, int t, struct scan_stats *st, char *err,
    size_t errlen)
{
	struct scan s;
	struct stat sb;
	int fd, i, r;

	memset(st, 0, sizeof(*st));
	memset(&s, 0, sizeof(s));
	s.e = e;
	s.t = t;
	s.tier = e->tiers[t].tc->name;
	s.st = st;
	s.err = err;
	s.errlen = errlen;
	st->ns = jts_mono_ns();
	if (e->tiers[t].rootfd < 0) {
		snprintf(err, errlen, "tier %s: not a local tier", s.tier);
		return -EINVAL;
	}
	fd = openat(e->tiers[t].rootfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		snprintf(err, errlen, "tier %s: %s: %s", s.tier,
		    e->tiers[t].tc->root, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	if (sqlite3_open_v2(e->conf->catalog, &s.rdb, SQLITE_OPEN_READONLY,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "catalog %s: cannot open to read: %s",
		    e->conf->catalog, sqlite3_errmsg(s.rdb));
		sqlite3_close(s.rdb);
		close(fd);
		return -EIO;
	}
	sqlite3_busy_timeout(s.rdb, 10000);
	/*
	 * The table itself, in key order: through the tier index every row
	 * would cost a second lookup.  Rows of other tiers are skipped.
	 */
	if (sqlite3_prepare_v2(s.rdb, "SELECT path, size, mtime_ns, ctime_ns, "
	    "ino, blocks FROM files NOT INDEXED WHERE tier = ? ORDER BY path",
	    -1, &s.cur, NULL)
	    != SQLITE_OK ||
	    prep(&s, e->cat.db, "INSERT INTO files (path, tier, home, size, "
	    "mtime_ns, ctime_ns, ino, mode, uid, gid, blocks) VALUES "
	    "(?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11) ON CONFLICT DO "
	    "NOTHING", &s.ins) != 0 ||
	    prep(&s, e->cat.db, "UPDATE files SET blocks = ?2 WHERE path = ?1",
	    &s.blk) != 0 ||
	    prep(&s, e->cat.db, "UPDATE files SET size = ?3, mtime_ns = ?4, "
	    "ctime_ns = ?5, ino = ?6, mode = ?7, uid = ?8, gid = ?9, "
	    "blocks = ?11, "
	    "hash = CASE WHEN ?10 THEN hash END, "
	    "verified_ns = CASE WHEN ?10 THEN verified_ns END "
	    "WHERE path = ?1", &s.upd) != 0 ||
	    prep(&s, e->cat.db, "DELETE FROM files WHERE path = ?", &s.del)
	    != 0 ||
	    prep(&s, e->cat.db, "UPDATE files SET hash = o.hash, "
	    "verified_ns = o.verified_ns, moved_ns = o.moved_ns, "
	    "atime_ns = o.atime_ns, heat = o.heat, pinned = o.pinned "
	    "FROM (SELECT * FROM files WHERE path = ?2) AS o "
	    "WHERE files.path = ?1", &s.mv) != 0) {
		if (!s.failed)
			snprintf(err, errlen, "catalog %s: %s",
			    e->conf->catalog, sqlite3_errmsg(s.rdb));
		r = -EIO;
		close(fd);
		goto out;
	}
	sqlite3_bind_text(s.cur, 1, s.tier, -1, SQLITE_STATIC);
	/* The first step takes the snapshot, before anything is written. */
	cur_next(&s);
	/*
	 * What a scan writes, a scan rebuilds: its commits need not wait for
	 * the disk (moves keep synchronous = FULL for theirs).
	 */
	(void)sqlite3_exec(e->cat.db, "PRAGMA synchronous = NORMAL", NULL,
	    NULL, NULL);
	if (catalog_begin(&e->cat) != 0)
		sc_fail(&s, "begin");
	s.ring_ok = jts_test_knob("JTS_TIER_SCAN_SYNC") == NULL &&
	    io_uring_queue_init(STATX_QD * 2, &s.ring, 0) == 0;
	if (!s.failed) {
		size_t relcap = 4096;
		char *rel = xmalloc(relcap);

		rel[0] = '\0';
		walk(&s, fd, &rel, &relcap, 0, 0);
		free(rel);
	} else
		close(fd);
	/* Rows after the last file on disk are gone too. */
	while (!s.failed && s.cur_ok) {
		row_gone(&s);
		cur_next(&s);
	}
	sqlite3_reset(s.cur);
	if (!s.failed)
		settle_gone(&s);
	if (!s.failed && catalog_commit(&e->cat) != 0)
		sc_fail(&s, "commit");
	if (s.failed)
		catalog_rollback(&e->cat);
	(void)sqlite3_exec(e->cat.db, "PRAGMA synchronous = FULL", NULL, NULL,
	    NULL);
	r = s.failed;
out:
	look_stop(&s.look);
	if (s.ring_ok)
		io_uring_queue_exit(&s.ring);
	free(s.xs);
	sqlite3_finalize(s.cur);
	sqlite3_finalize(s.ins);
	sqlite3_finalize(s.upd);
	sqlite3_finalize(s.del);
	sqlite3_finalize(s.mv);
	sqlite3_finalize(s.blk);
	sqlite3_close(s.rdb);
	for (i = 0; i < s.ngone; i++)
		free(s.gone[i].rel);
	free(s.gone);
	for (i = 0; i < s.nfresh; i++)
		free(s.fresh[i].rel);
	free(s.fresh);
	st->ns = jts_mono_ns() - st->ns;
	return r;
}

char *
scan_line(const char *tier, const struct scan_stats *st)
{
	return xasprintf("scan tier=%s files=%" PRIu64 " added=%" PRIu64
	    " changed=%" PRIu64 " removed=%" PRIu64 " renamed=%" PRIu64
	    " unreadable=%" PRIu64 "%s%.0" PRIu64 " time=%.2fs", tier,
	    st->files, st->added, st->changed, st->removed, st->renamed,
	    st->errors, st->too_deep ? " too_deep=" : "", st->too_deep,
	    (double)st->ns / 1e9);
}
