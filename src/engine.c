/* engine.c - tiers, the engine lock and directories beneath tier roots */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"
#include "util.h"

#define RESOLVE_FLAGS	(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | \
			 RESOLVE_NO_MAGICLINKS)

int
tier_openat(struct tier *t, int dirfd, const char *rel, int flags,
    mode_t mode)
{
	struct open_how how;
	int fd;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_FLAGS;
	if (*rel == '\0')
		rel = ".";
	/* EAGAIN: a path lookup raced a rename; O_NONBLOCK: a lease. */
	do {
		fd = (int)syscall(SYS_openat2, dirfd < 0 ? t->rootfd : dirfd,
		    rel, &how, sizeof(how));
	} while (fd < 0 && errno == EAGAIN && !(flags & O_NONBLOCK));
	return fd < 0 ? -errno : fd;
}

int
tier_open_read(struct tier *t, const char *rel, struct stat *st)
{
	int fd, fl;

	/*
	 * Without O_NONBLOCK the open of a FIFO waits for a writer, and one
	 * of a leased file for the lease's holder.
	 */
	fd = tier_openat(t, -1, rel, O_RDONLY | O_NONBLOCK | O_DIRECT, 0);
	if (fd == -EINVAL)
		fd = tier_openat(t, -1, rel, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return fd == -EWOULDBLOCK ? -EBUSY : fd;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) ||
	    (fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		close(fd);
		return -EFTYPE_NOTREG;
	}
	return fd;
}

const char *
rel_base(const char *rel)
{
	const char *s = strrchr(rel, '/');

	return s ? s + 1 : rel;
}

static char *
rel_parent(const char *rel)
{
	const char *s = strrchr(rel, '/');

	if (s == NULL)
		return xstrdup("");
	return strndup(rel, (size_t)(s - rel));
}

/* Create the missing directories of prel on tier t, owners and modes
 * copied from the same directories on tier model. */
static int
make_dirs(struct engine *e, int t, const char *prel, int model)
{
	char *p = xstrdup(prel), *s, *next;
	int cur, fd, mfd, r = 0, pfd;
	struct stat st;

	cur = dup(e->tiers[t].rootfd);
	for (s = p; s != NULL && *s; s = next) {
		next = strchr(s, '/');
		if (next)
			*next++ = '\0';
		fd = tier_openat(&e->tiers[t], cur, s, O_PATH | O_DIRECTORY, 0);
		if (fd == -ENOENT) {
			mode_t mode = 0755;
			uid_t uid = (uid_t)-1;
			gid_t gid = (gid_t)-1;
			/* The same prefix of prel, on the model tier. */
			char *mrel = strndup(prel, (size_t)(s - p) + strlen(s));

			mfd = model >= 0 ? tier_openat(&e->tiers[model], -1,
			    mrel, O_PATH | O_DIRECTORY, 0) : -ENOENT;
			if (mfd >= 0 && fstat(mfd, &st) == 0) {
				mode = st.st_mode & 07777;
				uid = st.st_uid;
				gid = st.st_gid;
			}
			if (mfd >= 0)
				close(mfd);
			free(mrel);
			if (mkdirat(cur, s, 0700) != 0 && errno != EEXIST) {
				r = -errno;
				break;
			}
			fd = tier_openat(&e->tiers[t], cur, s,
			    O_RDONLY | O_DIRECTORY, 0);
			if (fd < 0) {
				r = fd;
				break;
			}
			if ((fchown(fd, uid, gid) != 0 && uid != (uid_t)-1) ||
			    fchmod(fd, mode) != 0) {
				r = -errno;
				close(fd);
				break;
			}
			/* The new entry must survive a crash: sync parent. */
			pfd = openat(cur, ".", O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC);
			if (pfd >= 0) {
				if (fsync(pfd) != 0)
					r = -errno;
				close(pfd);
			}
			if (r != 0) {
				close(fd);
				break;
			}
		} else if (fd < 0) {
			r = fd;
			break;
		}
		close(cur);
		cur = fd;
	}
	close(cur);
	free(p);
	return r;
}

int
tier_open_parent(struct tier *t, const char *rel)
{
	char *prel = rel_parent(rel);
	int fd = tier_openat(t, -1, prel, O_PATH | O_DIRECTORY, 0);

	free(prel);
	return fd;
}

int
engine_dir(struct engine *e, int t, const char *rel, bool create, int model)
{
	struct dirent_cache *d, *victim = NULL;
	char *prel = rel_parent(rel);
	int i, fd;

	for (i = 0; i < DIRCACHE; i++) {
		d = &e->dc[i];
		if (d->rel != NULL && d->tier == t && strcmp(d->rel, prel) == 0) {
			d->used = ++e->dc_clock;
			free(prel);
			return d->fd;
		}
		if (victim == NULL || d->rel == NULL ||
		    (victim->rel != NULL && d->used < victim->used))
			victim = d;
	}
	fd = tier_openat(&e->tiers[t], -1, prel, O_PATH | O_DIRECTORY, 0);
	if (fd == -ENOENT && create) {
		if ((fd = make_dirs(e, t, prel, model)) == 0)
			fd = tier_openat(&e->tiers[t], -1, prel,
			    O_PATH | O_DIRECTORY, 0);
	}
	if (fd < 0) {
		free(prel);
		return fd;
	}
	if (victim->rel != NULL) {
		close(victim->fd);
		free(victim->rel);
	}
	{
		struct stat st;

		if (fstat(fd, &st) != 0)
			memset(&st, 0, sizeof(st));
		victim->dev = st.st_dev;
		victim->ino = st.st_ino;
	}
	victim->tier = t;
	victim->rel = prel;
	victim->fd = fd;
	victim->used = ++e->dc_clock;
	return fd;
}

int
engine_dir_ident(struct engine *e, int fd, dev_t *dev, ino_t *ino)
{
	int i;

	for (i = 0; i < DIRCACHE; i++)
		if (e->dc[i].rel != NULL && e->dc[i].fd == fd) {
			*dev = e->dc[i].dev;
			*ino = e->dc[i].ino;
			return 0;
		}
	return -1;
}

void
engine_dir_forget(struct engine *e)
{
	int i;

	for (i = 0; i < DIRCACHE; i++) {
		if (e->dc[i].rel == NULL)
			continue;
		close(e->dc[i].fd);
		free(e->dc[i].rel);
		e->dc[i].rel = NULL;
	}
}

int
engine_locate(struct engine *e, const char *abspath, const char **rel)
{
	return conf_locate(e->conf, abspath, rel);
}

char *
engine_data_path(struct engine *e, int t, const char *rel)
{
	return tier_data_path(e->tiers[t].tc, rel);
}

char *
engine_link_target(struct engine *e, int t, const char *rel)
{
	return tier_link_target(e->tiers[t].tc, rel);
}

int
engine_tiers_reset(struct engine *e)
{
	int t, n = 0;

	for (t = 0; t < e->ntiers; t++) {
		struct tier *tr = &e->tiers[t];

		if (tr->ops->reset != NULL && tr->ops->reset(tr))
			n++;
	}
	return n;
}

void
engine_tiers_close_remote(struct engine *e)
{
	int t;

	for (t = 0; t < e->ntiers; t++) {
		struct tier *tr = &e->tiers[t];

		if (tr->tc->kind == TIER_S3 && tr->conn != NULL &&
		    tr->ops->close != NULL)
			tr->ops->close(tr);
	}
}

/* Take the exclusive engine lock beside the catalog. */
static int
engine_lock(struct engine *e, char *err, size_t errlen)
{
	char buf[32];
	ssize_t n;

	e->lockpath = xasprintf("%s.lock", e->conf->catalog);
	jts_mkdir_parents(e->lockpath, 0750);
	e->lockfd = open(e->lockpath, O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (e->lockfd < 0) {
		int saved = errno;
		char hint[512] = "";

		if (saved == EACCES || saved == EPERM || saved == EROFS)
			snprintf(hint, sizeof(hint), " (moving data needs "
			    "root, and a writable catalog directory)");
		else if (saved == ENOENT || saved == ENOTDIR)
			snprintf(hint, sizeof(hint), " (check [catalog] path "
			    "in %s)", e->conf->path);
		snprintf(err, errlen, "%s: cannot open lock file: %s%s",
		    e->lockpath, strerror(saved), hint);
		return -saved;
	}
	if (flock(e->lockfd, LOCK_EX | LOCK_NB) != 0) {
		int saved = errno;

		n = pread(e->lockfd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (saved == EWOULDBLOCK)
			snprintf(err, errlen, "another jts-tier engine is "
			    "running (pid %s, lock %s); try again when it "
			    "has finished", *buf ? buf : "?", e->lockpath);
		else
			snprintf(err, errlen, "%s: cannot lock: %s",
			    e->lockpath, strerror(saved));
		close(e->lockfd);
		e->lockfd = -1;
		return -EBUSY;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(e->lockfd, 0) == 0 &&
	    pwrite(e->lockfd, buf, (size_t)n, 0) != n)
		jts_warn("%s: cannot record the engine's pid: %s",
		    e->lockpath, strerror(errno));
	return 0;
}

int
engine_open(struct engine *e, struct conf *c, char *err, size_t errlen)
{
	return engine_open_loop(e, c, NULL, err, errlen);
}

/*
 * Who the engine writes for: the catalog's identity, the host's name and
 * machine-id, given to every tier (what a remote tier keeps of it).
 */
int
engine_owner_reload(struct engine *e, char *err, size_t errlen)
{
	struct tier_owner *o = &e->owner;
	const char *knob;
	char *adopted = NULL;
	FILE *f;
	int i;

	if (catalog_identity(&e->cat, o->catalog, &adopted) != 0) {
		snprintf(err, errlen, "%s: cannot read the catalog's identity: "
		    "%s", e->conf->catalog, catalog_errmsg(&e->cat));
		return -EIO;
	}
	free(o->adopted);
	o->adopted = adopted;
	if (gethostname(o->host, sizeof(o->host)) != 0)
		snprintf(o->host, sizeof(o->host), "?");
	o->host[sizeof(o->host) - 1] = '\0';
	o->machine[0] = '\0';
	/* (The tests give a clone a machine of its own.) */
	if ((knob = jts_test_knob("JTS_TIER_MACHINE_ID")) != NULL)
		snprintf(o->machine, sizeof(o->machine), "%s", knob);
	else if ((f = fopen("/etc/machine-id", "re")) != NULL) {
		if (fgets(o->machine, sizeof(o->machine), f) == NULL)
			o->machine[0] = '\0';
		o->machine[strcspn(o->machine, " \t\r\n")] = '\0';
		fclose(f);
	}
	for (i = 0; i < e->ntiers; i++)
		e->tiers[i].owner = o;
	return 0;
}

int
engine_open_loop(struct engine *e, struct conf *c, struct ev_loop *loop,
    char *err, size_t errlen)
{
	struct stat st;
	struct tier *t;
	int i, r;

	memset(e, 0, sizeof(*e));
	/*
	 * One event loop drives the engine: io_uring completions and the
	 * NAS's socket (and, in the daemon, everything else).
	 */
	e->loop = loop;
	if (e->loop == NULL) {
		e->loop = ev_loop_new(EVFLAG_AUTO);
		e->own_loop = true;
	}
	e->conf = c;
	e->lockfd = -1;
	e->short_io = jts_test_knob("JTS_TIER_SHORT_IO") != NULL;
	for (i = 0; i < c->ntiers; i++) {
		t = &e->tiers[i];
		tier_init(t, c, i);
		t->loop = e->loop;
		e->ntiers++;
		/* A tier without a root (a NAS) is reached its own way. */
		if (t->tc->root == NULL)
			continue;
		t->rootfd = open(t->tc->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (t->rootfd < 0 || fstat(t->rootfd, &st) != 0) {
			snprintf(err, errlen, "tier %s: root %s: %s",
			    t->tc->name, jts_quote(t->tc->root),
			    strerror(errno));
			r = -errno;
			goto fail;
		}
		t->dev = st.st_dev;
		t->ino = st.st_ino;
	}
	if ((r = engine_lock(e, err, errlen)) != 0)
		goto fail;
	{
		/* The catalog's directory (made by the lock) is never ours
		 * to scan or move, even beneath a tier root. */
		char *dir = xstrdup(c->catalog), *sl = strrchr(dir, '/');
		struct stat ds;

		if (sl != NULL && sl != dir)
			*sl = '\0';
		if (stat(dir, &ds) == 0) {
			e->own_dev = ds.st_dev;
			e->own_ino = ds.st_ino;
		}
		free(dir);
	}
	if ((r = catalog_open(c->catalog, false, &e->cat, err, errlen)) != 0)
		goto fail;
	if ((r = engine_owner_reload(e, err, errlen)) != 0)
		goto fail;
	/* 8 x 4 MiB in flight: measured fastest on ext4 -> btrfs. */
	if ((r = copier_init(&e->cp, 8, 4u << 20)) != 0 ||
	    (r = copier_attach_loop(&e->cp, e->loop)) != 0) {
		snprintf(err, errlen, "cannot set up io_uring: %s",
		    copier_init_why(r));
		goto fail;
	}
	return 0;
fail:
	engine_close(e);
	return r;
}

int
engine_open_worker(struct engine *w, struct engine *e, char *err,
    size_t errlen)
{
	int i, r;

	memset(w, 0, sizeof(*w));
	w->conf = e->conf;
	w->lockfd = -1;
	w->short_io = e->short_io;
	w->own_dev = e->own_dev;
	w->own_ino = e->own_ino;
	w->ntiers = e->ntiers;
	/* Workers move between local tiers only: no connection shared. */
	for (i = 0; i < e->ntiers; i++) {
		w->tiers[i] = e->tiers[i];
		w->tiers[i].conn = NULL;
	}
	if ((r = catalog_open(e->conf->catalog, false, &w->cat, err,
	    errlen)) != 0)
		goto fail;
	/*
	 * Smaller arenas than the main engine's (their pages are pinned):
	 * the two engines together stay within the memory of one and a half.
	 */
	if ((r = copier_init_small(&w->cp, 2, 1u << 20,
	    COPY_SMALL_SLOTS / 2)) != 0) {
		snprintf(err, errlen, "cannot set up io_uring: %s",
		    copier_init_why(r));
		goto fail;
	}
	return 0;
fail:
	engine_close_worker(w);
	return r < 0 ? r : -EIO;
}

int
engine_open_filler(struct engine *w, struct engine *e, char *err,
    size_t errlen)
{
	int i, r;

	if ((r = engine_open_worker(w, e, err, errlen)) != 0)
		return r;
	/* Connections of its own, driven by their own loops. */
	for (i = 0; i < w->ntiers; i++)
		w->tiers[i].loop = NULL;
	return 0;
}

void
engine_close_worker(struct engine *w)
{
	int i;

	engine_dir_forget(w);
	/* Connections the worker made (a filler's) are its own. */
	for (i = 0; i < w->ntiers; i++)
		if (w->tiers[i].conn != NULL && w->tiers[i].ops != NULL &&
		    w->tiers[i].ops->close != NULL)
			w->tiers[i].ops->close(&w->tiers[i]);
	copier_fini(&w->cp);
	if (w->cat.db)
		catalog_close(&w->cat);
	/* The tier roots are the main engine's. */
	memset(w, 0, sizeof(*w));
	w->lockfd = -1;
}

void
engine_close(struct engine *e)
{
	int i;

	engine_dir_forget(e);
	copier_fini(&e->cp);
	if (e->cat.db)
		catalog_close(&e->cat);
	free(e->owner.adopted);
	e->owner.adopted = NULL;
	for (i = 0; i < e->ntiers; i++) {
		if (e->tiers[i].rootfd >= 0)
			close(e->tiers[i].rootfd);
		tier_fini(&e->tiers[i]);
	}
	if (e->lockfd >= 0)
		close(e->lockfd);
	free(e->lockpath);
	e->lockfd = -1;
	e->lockpath = NULL;
	e->ntiers = 0;
	if (e->own_loop && e->loop != NULL)
		ev_loop_destroy(e->loop);
	e->loop = NULL;
	e->own_loop = false;
}
