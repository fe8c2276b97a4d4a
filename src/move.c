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
 * This file holds the protocol and its phases; planning is in
 * move-plan.c, batching and the worker thread in move-batch.c, recovery
 * in recover.c (what they share: move-int.h).
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

/* Lease breaks, by descriptor, set from the signal handler. */
static volatile sig_atomic_t lease_broken[MAX_FD];
static int lease_sig;

static void
on_lease_break(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_fd >= 0 && si->si_fd < MAX_FD)
		lease_broken[si->si_fd] = 1;
}

/* SIGINT or SIGTERM: finish or undo the batch in flight, start no other. */
volatile sig_atomic_t stop_requested;

void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void
lease_setup(void)
{
	struct sigaction sa;

	if (lease_sig)
		return;
	lease_sig = SIGRTMIN + 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_lease_break;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(lease_sig, &sa, NULL);
	/* Lease breaks are reported with lease_sig, never the default SIGIO. */
	signal(SIGIO, SIG_IGN);
}

void
tmpname(char *buf, size_t len, int64_t id, const char *what)
{
	snprintf(buf, len, JTS_TMP_PREFIX "%" PRId64 ".%s", id, what);
}

/* An I/O error in words, with where to look when that is known. */
static const char *
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

static bool lease_lost(struct move_item *);

void
item_close(struct move_item *it)
{
	if (it->fd >= 0) {
		/* Closing the descriptor releases its lease. */
		if (it->fd < MAX_FD)
			lease_broken[it->fd] = 0;
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

static int
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
static int
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

bool
ident_same(const struct ident *id, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_ino == id->ino &&
	    st->st_size == id->size && jts_ts_ns(&st->st_mtim) == id->mtime_ns &&
	    jts_ts_ns(&st->st_ctim) == id->ctime_ns;
}

/* The source's identity as the journal row j recorded it. */
void
ident_of_journal(struct ident *id, const struct cat_journal *j)
{
	id->ino = (ino_t)j->pre_ino;
	id->size = j->pre_size;
	id->mtime_ns = j->pre_mtime_ns;
	id->ctime_ns = j->pre_ctime_ns;
}

static void
ident_of(struct ident *id, const struct stat *st)
{
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime_ns = jts_ts_ns(&st->st_mtim);
	id->ctime_ns = jts_ts_ns(&st->st_ctim);
}

/* --- progress ----------------------------------------------------------- */

/* --- the protocol, one phase at a time ---------------------------------- */

/* --- nfs tiers ----------------------------------------------------------- */

/* Why an operation on nfs tier t failed, in words. */
const char *
nfs_why(struct engine *e, int t, int r)
{
	struct nfs_tier *nt = e->tiers[t].nt;

	if (nt != NULL && r == -ECONNRESET && nt->restarted)
		return "the NAS restarted since the data was written; what it "
		    "had not committed may be lost";
	if (nt != NULL && nt->broken && nt->err[0] != '\0')
		return nt->err;
	if (nt == NULL || nt->broken)
		return "the NAS is not reachable";
	return strerror(-r);
}

void
tmp_rel(char *buf, size_t len, const char *rel, int64_t id, const char *what)
{
	char name[64];
	const char *base = rel_base(rel);

	tmpname(name, sizeof(name), id, what);
	snprintf(buf, len, "%.*s%s", (int)(base - rel), rel, name);
}

void
pre_of_nfs(struct stat *st, const struct nfs_ident *id)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = id->mode;
	st->st_ino = id->ino;
	st->st_nlink = id->nlink;
	st->st_uid = id->uid;
	st->st_gid = id->gid;
	st->st_size = (off_t)id->size;
	st->st_mtim.tv_sec = id->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = id->mtime_ns % 1000000000;
	st->st_atim = st->st_mtim;
	st->st_ctim.tv_sec = id->ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = id->ctime_ns % 1000000000;
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

/*
 * Step 7's check of a local source: lease held, nothing changed.  Returns
 * 0, or -1 with the item failed.
 */
static int
src_unchanged(struct move_item *it)
{
	struct stat st;

	if (lease_lost(it)) {
		item_fail(it, IT_FAILED, "was opened by another process "
		    "during the move; left in place, try again later");
		it->in_use = true;
		return -1;
	}
	if (fstat(it->fd, &st) != 0 || st.st_size != it->pre.st_size ||
	    jts_ts_ns(&st.st_mtim) != jts_ts_ns(&it->pre.st_mtim) ||
	    jts_ts_ns(&st.st_ctim) != jts_ts_ns(&it->pre.st_ctim) ||
	    st.st_ino != it->pre.st_ino || st.st_nlink != 1) {
		item_fail(it, IT_FAILED, "changed during the copy; left in "
		    "place, try again later");
		it->in_use = true;
		return -1;
	}
	return 0;
}

/* Steps 1-2 for a source on an nfs tier: what it is, and that it moves. */
static int
prepare_src_nfs(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = engine_nfs(e, it->src);
	struct nfs_ident id;
	int r;

	if (nt == NULL) {
		item_fail(it, IT_FAILED, "tier %s: %s", tier_name(e, it->src),
		    nfs_why(e, it->src, -EIO));
		return -1;
	}
	if ((r = nfst_lstat(nt, it->rel, &id)) != 0) {
		item_fail(it, IT_FAILED, "cannot look at it on tier %s: %s",
		    tier_name(e, it->src), nfs_why(e, it->src, r));
		return -1;
	}
	if (!S_ISREG(id.mode)) {
		item_fail(it, IT_FAILED, "is %s on tier %s; only regular files "
		    "move", kind_word(id.mode), tier_name(e, it->src));
		return -1;
	}
	if (id.nlink > 1) {
		item_fail(it, IT_FAILED, "has %u hard links on tier %s; files "
		    "with more than one link are not moved", id.nlink,
		    tier_name(e, it->src));
		return -1;
	}
	pre_of_nfs(&it->pre, &id);
	/* The owner the NAS may not have kept is in the catalog. */
	if (it->tracked) {
		it->pre.st_uid = it->cat_uid;
		it->pre.st_gid = it->cat_gid;
	}
	return 0;
}

/* Step 2 on an nfs destination: its directory, no file there, space. */
static int
prepare_dst_nfs(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = engine_nfs(e, it->dst);
	struct nfs_ident id;
	char *dir;
	int r;

	if (nt == NULL) {
		item_fail(it, IT_FAILED, "tier %s: %s", tier_name(e, it->dst),
		    nfs_why(e, it->dst, -EIO));
		return -1;
	}
	if (it->fd >= 0 && flistxattr(it->fd, NULL, 0) > 0) {
		item_fail(it, IT_FAILED, "has extended attributes or ACLs, "
		    "which nfs tier %s cannot keep; not moved",
		    tier_name(e, it->dst));
		return -1;
	}
	dir = strndup(it->rel, (size_t)(rel_base(it->rel) - it->rel));
	if (*dir && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	r = nfst_mkdirs(nt, dir, 0755);
	free(dir);
	if (r != 0) {
		item_fail(it, IT_FAILED, "cannot make its directory on tier "
		    "%s: %s", tier_name(e, it->dst), nfs_why(e, it->dst, r));
		return -1;
	}
	r = nfst_lstat(nt, it->rel, &id);
	if (r == 0) {
		item_fail(it, IT_FAILED, "already exists on tier %s; not "
		    "overwritten", tier_name(e, it->dst));
		return -1;
	}
	if (r != -ENOENT) {
		item_fail(it, IT_FAILED, "cannot look at tier %s: %s",
		    tier_name(e, it->dst), nfs_why(e, it->dst, r));
		return -1;
	}
	if (!b->avail_known && nfst_avail(nt, &b->avail, NULL) == 0)
		b->avail_known = true;
	return space_take(b, it);
}

/* Step 1-3: open the source beneath its root, refuse what must not move,
 * check space, take the write lease. */
static void
phase_prepare(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct tier *src = &e->tiers[it->src];
	struct statvfs sv;
	struct stat st, dst;
	struct statx stx;
	int pfd, dfd, r;

	if (engine_is_nfs(e, it->src)) {
		if (prepare_src_nfs(b, it) != 0)
			return;
		goto dest;
	}
	/*
	 * Look before opening (a FIFO or a device must never be opened): the
	 * parent was resolved beneath the root with no symlink, and the name
	 * is looked at and opened in it without following one.
	 */
	pfd = engine_dir(e, it->src, it->rel, false, -1);
	if (pfd < 0) {
		item_fail(it, IT_FAILED, "cannot open on tier %s: %s",
		    src->tc->name, resolve_why(-pfd));
		return;
	}
	if (statx(pfd, rel_base(it->rel), AT_SYMLINK_NOFOLLOW, STATX_TYPE |
	    STATX_NLINK | STATX_INO | STATX_SIZE, &stx) != 0) {
		item_fail(it, IT_FAILED, "cannot open on tier %s: %s",
		    src->tc->name, resolve_why(errno));
		return;
	}
	memset(&st, 0, sizeof(st));
	st.st_mode = stx.stx_mode;
	st.st_size = (off_t)stx.stx_size;
	st.st_nlink = stx.stx_nlink;
	st.st_ino = stx.stx_ino;
	st.st_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	if (!S_ISREG(st.st_mode)) {
		item_fail(it, IT_FAILED, "is %s; only regular files move",
		    kind_word(st.st_mode));
		return;
	}
	if (st.st_nlink > 1) {
		item_fail(it, IT_FAILED, "has %ju hard links; files with more "
		    "than one link are not moved", (uintmax_t)st.st_nlink);
		return;
	}
	/* Large sources are read past the page cache: the hot tier's cache
	 * belongs to its applications, not to files leaving it. */
	r = tier_openat(src, pfd, rel_base(it->rel), O_RDONLY | O_NONBLOCK |
	    (st.st_size >= (off_t)DIRECT_MIN ? O_DIRECT : 0), 0);
	if (r == -EINVAL)
		r = tier_openat(src, pfd, rel_base(it->rel),
		    O_RDONLY | O_NONBLOCK, 0);
	if (r < 0) {
		item_fail(it, IT_FAILED, "cannot open on tier %s: %s",
		    src->tc->name, strerror(-r));
		return;
	}
	it->fd = r;
	if (fstat(it->fd, &it->pre) != 0 || it->pre.st_ino != st.st_ino ||
	    it->pre.st_dev != st.st_dev) {
		item_fail(it, IT_FAILED, "changed while being opened");
		return;
	}
	if (stx.stx_attributes & stx.stx_attributes_mask &
	    (STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND)) {
		item_fail(it, IT_FAILED, "is %s; it cannot be released after "
		    "the copy", (stx.stx_attributes & STATX_ATTR_IMMUTABLE) ?
		    "immutable" : "append-only");
		return;
	}
dest:
	if (engine_is_nfs(e, it->dst)) {
		if (prepare_dst_nfs(b, it) != 0)
			return;
		goto lease;
	}
	/*
	 * The destination directory, made like the source's if missing; but
	 * not a home directory a link led from to the data: if that is gone,
	 * its owner renamed or removed it since, and a recall must not start
	 * a second tree under the old name.
	 */
	{
		char *lt = it->dst == it->home ?
		    engine_link_target(e, it->src, it->rel) : NULL;
		bool mk = lt == NULL;

		free(lt);
		dfd = engine_dir(e, it->dst, it->rel, mk,
		    engine_is_nfs(e, it->src) ? -1 : it->src);
		if (dfd == -ENOENT && !mk) {
			item_fail(it, IT_FAILED, "its home directory on tier "
			    "%s is gone (renamed or removed since the move); "
			    "the data stays on tier %s", tier_name(e, it->dst),
			    tier_name(e, it->src));
			return;
		}
	}
	if (dfd < 0) {
		item_fail(it, IT_FAILED, "cannot make its directory on tier "
		    "%s: %s", tier_name(e, it->dst), resolve_why(-dfd));
		return;
	}
	{
		int sfd = engine_dir(e, it->src, it->rel, false, -1);
		dev_t sd, dd;
		ino_t si, di;

		/* Two tiers may be one directory (a bind mount): refuse. */
		dfd = engine_dir(e, it->dst, it->rel, false, -1);
		if (sfd >= 0 && dfd >= 0 &&
		    engine_dir_ident(e, sfd, &sd, &si) == 0 &&
		    engine_dir_ident(e, dfd, &dd, &di) == 0 &&
		    sd == dd && si == di) {
			item_fail(it, IT_FAILED, "destination directory on "
			    "tier %s is the source directory itself",
			    tier_name(e, it->dst));
			return;
		}
	}
	if (fstatat(dfd, rel_base(it->rel), &dst, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!it->dst_is_stub || !S_ISLNK(dst.st_mode)) {
			item_fail(it, IT_FAILED, "already exists on tier %s; "
			    "not overwritten", tier_name(e, it->dst));
			return;
		}
	} else if (errno != ENOENT) {
		item_fail(it, IT_FAILED, "cannot look at tier %s: %s",
		    tier_name(e, it->dst), strerror(errno));
		return;
	} else if (it->dst_is_stub) {
		/* The home symlink was removed: write a plain file. */
		it->dst_is_stub = false;
	}
	/* Free space: asked once a batch, then counted down. */
	if (!b->avail_known && fstatvfs(dfd, &sv) == 0) {
		b->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		/* What a batch moving beside this one may take. */
		b->avail = b->avail > b->beside ? b->avail - b->beside : 0;
		b->avail_known = true;
	}
	if (space_take(b, it) != 0)
		return;
lease:
	if (it->fd < 0)
		return;		/* a source on nfs: no lease to take there */
	if (it->fd >= MAX_FD) {
		item_fail(it, IT_FAILED, "too many open files in this "
		    "process (more than %d); move fewer files at a time",
		    MAX_FD);
		return;
	}
	lease_broken[it->fd] = 0;
	if (fcntl(it->fd, F_SETSIG, lease_sig) != 0 ||
	    fcntl(it->fd, F_SETLEASE, F_WRLCK) != 0) {
		item_fail(it, IT_FAILED, "is open by another process (%s); "
		    "try again later", errno == EAGAIN || errno == EBUSY ?
		    "write lease refused" : strerror(errno));
		it->in_use = true;
		return;
	}
}

static bool
lease_lost_fd(int fd)
{
	return fd < 0 || (fd < MAX_FD && lease_broken[fd]) ||
	    fcntl(fd, F_GETLEASE) != F_WRLCK;
}

static bool
lease_lost(struct move_item *it)
{
	return lease_lost_fd(it->fd);
}

/* Copy owner, then mode, then xattrs and ACLs, then times. */
static int
copy_meta(struct move_item *it, int dfd, char *why, size_t len)
{
	struct timespec ts[2];
	char *names = NULL, *val = NULL, *n;
	ssize_t nl, vl;
	size_t vcap = 0;
	int r = 0;

	if (fchown(dfd, it->pre.st_uid, it->pre.st_gid) != 0) {
		snprintf(why, len, "chown: %s", strerror(errno));
		return -errno;
	}
	if (fchmod(dfd, it->pre.st_mode & 07777) != 0) {
		snprintf(why, len, "chmod: %s", strerror(errno));
		return -errno;
	}
	/* A source on nfs has no extended attributes. */
	nl = it->fd >= 0 ? flistxattr(it->fd, NULL, 0) : 0;
	if (nl > 0) {
		names = xmalloc((size_t)nl);
		nl = flistxattr(it->fd, names, (size_t)nl);
	}
	if (nl < 0 && errno != ENOTSUP) {
		snprintf(why, len, "list xattrs: %s", strerror(errno));
		free(names);
		return -errno;
	}
	for (n = names; nl > 0 && n < names + nl; n += strlen(n) + 1) {
		vl = fgetxattr(it->fd, n, NULL, 0);
		if (vl >= 0 && (size_t)vl + 1 > vcap) {
			vcap = (size_t)vl + 1;
			val = xrealloc(val, vcap);
		}
		if (vl >= 0)
			vl = fgetxattr(it->fd, n, val, vcap);
		if (vl < 0 || fsetxattr(dfd, n, val, (size_t)vl, 0) != 0) {
			r = -errno;
			snprintf(why, len, "xattr %s: %s", n, strerror(errno));
			break;
		}
	}
	free(names);
	free(val);
	if (r != 0)
		return r;
	ts[0] = it->pre.st_atim;
	ts[1] = it->pre.st_mtim;
	if (futimens(dfd, ts) != 0) {
		snprintf(why, len, "set times: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static void
unlink_tmp(struct engine *e, struct move_item *it)
{
	char tmp[64], rtmp[PATH_MAX];
	int dfd;

	if (engine_is_nfs(e, it->dst)) {
		struct nfs_tier *nt = engine_nfs(e, it->dst);

		/*
		 * If the NAS does not answer, the journal row stays open and
		 * recovery removes the temporary when it is back.
		 */
		tmp_rel(rtmp, sizeof(rtmp), it->rel, it->jid, "tmp");
		if (nt == NULL || (nt != NULL &&
		    nfst_unlink(nt, rtmp) == -EIO && nt->broken))
			it->tmp_left = true;
		return;
	}
	dfd = engine_dir(e, it->dst, it->rel, false, -1);
	tmpname(tmp, sizeof(tmp), it->jid, "tmp");
	/* One that cannot be removed now is left to recovery. */
	if (dfd >= 0 && unlinkat(dfd, tmp, 0) != 0 && errno != ENOENT)
		it->tmp_left = true;
}

/* Step 5, first half: create the temporary file; fd, or -1 (item failed). */
static int
copy_open(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	char tmp[64];
	int dfd, wfd;

	tmpname(tmp, sizeof(tmp), it->jid, "tmp");
	dfd = engine_dir(e, it->dst, it->rel, false, -1);
	if (dfd < 0) {
		item_fail(it, IT_FAILED, "tier %s: directory vanished: %s",
		    tier_name(e, it->dst), strerror(-dfd));
		item_close(it);
		return -1;
	}
	/*
	 * Buffered writes, with write-back started behind the copy and the
	 * pages dropped, measured faster than O_DIRECT writes on btrfs (its
	 * checksums are computed by write-back workers in parallel).
	 */
	wfd = tier_openat(&e->tiers[it->dst], dfd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (wfd < 0) {
		item_fail(it, IT_FAILED, "cannot create temporary file on tier "
		    "%s: %s", tier_name(e, it->dst), strerror(-wfd));
		item_close(it);
		return -1;
	}
	return wfd;
}

/* Step 5, second half: judge the copy r, check it against the catalog,
 * copy metadata, fsync a lone file; on failure remove the temporary. */
/*
 * Judge the copy r of it: the copy error in words, or a source that is
 * unchanged since it was catalogued yet hashes differently (rot).
 * Returns 0, or nonzero with the item failed.
 */
static int
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
		item_fail(it, IT_FAILED, "was opened by another process "
		    "during the copy; left in place, try again later");
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

/* Step 5, second half: judge the copy r, check it against the catalog,
 * copy metadata, fsync a lone file; on failure remove the temporary. */
static int
copy_done(struct batch *b, struct move_item *it, int wfd, int r,
    bool sync_each, const char *src_why)
{
	struct engine *e = b->e;
	char why[256];

	r = copy_judge(b, it, r, src_why);
	if (r == 0 && copy_meta(it, wfd, why, sizeof(why)) != 0) {
		item_fail(it, IT_FAILED, "copy to tier %s: %s",
		    tier_name(e, it->dst), why);
		r = -1;
	}
	if (r == 0 && sync_each && (fsync(wfd) != 0 ||
	    (errno = -jts_fault_errno("fsync")) != 0)) {
		/* The copy is lost: never retry an fsync, start over later. */
		item_fail(it, IT_FAILED, "fsync on tier %s failed: %s",
		    tier_name(e, it->dst), io_why(errno));
		r = -1;
	}
	close(wfd);
	if (r != 0) {
		unlink_tmp(e, it);
		item_close(it);
	}
	return r;
}

/* Step 5: copy into the temporary name, hash the stream, copy metadata. */
static int
phase_copy(struct batch *b, struct move_item *it, bool sync_each)
{
	struct engine *e = b->e;
	struct copy_opts co;
	int wfd, r;

	if ((wfd = copy_open(b, it)) < 0)
		return -1;
	memset(&co, 0, sizeof(co));
	co.abort_flag = &lease_broken[it->fd];
	co.stop_flag = &stop_requested;
	co.progress = progress_bytes;
	co.arg = b->pg;
	co.short_io = e->short_io;
	jts_fault_point("copy");
	r = copier_run(&e->cp, it->fd, wfd, (uint64_t)it->pre.st_size,
	    it->hash, &co);
	return copy_done(b, it, wfd, r, sync_each, NULL);
}

/* Small and without holes: copied many at a time. */
static bool
is_small(const struct move_item *it)
{
	return (uint64_t)it->pre.st_size <= COPY_SMALL_MAX &&
	    (uint64_t)it->pre.st_blocks * 512 >= (uint64_t)it->pre.st_size;
}

/* Step 5 for up to COPY_SMALL_SLOTS small items at once. */
static int
phase_copy_many(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	struct copy_job jobs[COPY_SMALL_SLOTS];
	int wfd[COPY_SMALL_SLOTS], i, k = 0, r, live = 0;
	struct copy_opts co;

	for (i = 0; i < n; i++) {
		if ((wfd[k] = copy_open(b, v[i])) < 0)
			continue;
		jts_fault_point("copy");
		jobs[k].src = v[i]->fd;
		jobs[k].dst = wfd[k];
		jobs[k].size = (uint64_t)v[i]->pre.st_size;
		jobs[k].direct = false;		/* small sources: buffered */
		v[k++] = v[i];
	}
	memset(&co, 0, sizeof(co));
	co.progress = progress_bytes;
	co.arg = b->pg;
	co.short_io = e->short_io;
	r = copier_run_many(&e->cp, jobs, k, &co);
	for (i = 0; i < k; i++) {
		memcpy(v[i]->hash, jobs[i].hash, JTS_HASH_LEN);
		if (copy_done(b, v[i], wfd[i], r != 0 ? r : jobs[i].err,
		    false, NULL) == 0)
			live++;
	}
	return live;
}

/* Step 6, first half: reopen the temporary past the page cache. */
static int
verify_open(struct batch *b, struct move_item *it, bool *direct)
{
	struct engine *e = b->e;
	char tmp[64];
	int dfd, fd;

	*direct = true;
	tmpname(tmp, sizeof(tmp), it->jid, "tmp");
	dfd = engine_dir(e, it->dst, it->rel, false, -1);
	fd = dfd < 0 ? dfd : tier_openat(&e->tiers[it->dst], dfd, tmp,
	    O_RDONLY | O_DIRECT, 0);
	if (fd == -EINVAL) {
		*direct = false;
		fd = tier_openat(&e->tiers[it->dst], dfd, tmp, O_RDONLY, 0);
		if (fd >= 0)
			(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	if (fd < 0) {
		item_fail(it, IT_FAILED, "cannot reopen the copy on tier %s: "
		    "%s", tier_name(e, it->dst), strerror(-fd));
		unlink_tmp(e, it);
		item_close(it);
	}
	return fd;
}

/* Step 6, second half: compare the read-back hash h (r: the read). */
static void
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
	unlink_tmp(e, it);
	item_close(it);
}

/* Step 6: read the temporary file back past the page cache and compare. */
static void
phase_verify(struct batch *b, struct move_item *it)
{
	unsigned char h[JTS_HASH_LEN];
	bool direct;
	int fd, r;

	if ((fd = verify_open(b, it, &direct)) < 0)
		return;
	jts_fault_point("verify");
	r = copier_run(&b->e->cp, fd, -1, (uint64_t)it->pre.st_size, h, NULL);
	close(fd);
	verify_done(b, it, r, h);
}

/* Step 6 for up to COPY_SMALL_SLOTS small items at once. */
static void
phase_verify_many(struct batch *b, struct move_item **v, int n)
{
	struct copy_job jobs[COPY_SMALL_SLOTS];
	int i, k = 0, r;

	for (i = 0; i < n; i++) {
		if ((jobs[k].src = verify_open(b, v[i], &jobs[k].direct)) < 0)
			continue;
		jts_fault_point("verify");
		jobs[k].dst = -1;
		jobs[k].size = (uint64_t)v[i]->pre.st_size;
		v[k++] = v[i];
	}
	r = copier_run_many(&b->e->cp, jobs, k, NULL);
	for (i = 0; i < k; i++) {
		close(jobs[i].src);
		verify_done(b, v[i], r != 0 ? r : jobs[i].err, jobs[i].hash);
	}
}

/* Copies this small are read back many at a time. */
#define NFS_SMALL_MAX	(1ULL << 20)

/*
 * COMMIT the copies of n items at once (the server joins their flushes,
 * as syncfs does for a local batch), then close them.  An error means
 * that copy is lost: it is removed, never retried.  Returns the items
 * still pending.
 */
static int
phase_commit_nfs(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = engine_nfs(e, v[0]->dst);
	struct nfsfh **fhs = xcalloc((size_t)n, sizeof(*fhs));
	int *err = xcalloc((size_t)n, sizeof(*err));
	int i, k = 0, r, live = 0;

	for (i = 0; i < n; i++)
		if (v[i]->nfh != NULL)
			fhs[k++] = v[i]->nfh;
	jts_pause_point("commit");
	r = nt == NULL ? -EIO : nfst_commit_many(nt, fhs, k, err);
	if (r == 0)
		r = jts_fault_errno("fsync");
	for (i = 0, k = 0; i < n; i++) {
		struct move_item *it = v[i];
		int ir;

		if (it->nfh == NULL)
			continue;
		ir = r != 0 ? r : err[k];
		k++;
		if (nt != NULL)
			(void)nfst_close_fh(nt, it->nfh);
		it->nfh = NULL;
		if (ir != 0) {
			item_fail(it, IT_FAILED, "COMMIT on tier %s failed: "
			    "%s%s", tier_name(e, it->dst), nfs_why(e, it->dst,
			    ir), ir == -ENOSPC || ir == -EDQUOT ?
			    "; the export is full" : "");
			unlink_tmp(e, it);
			item_close(it);
		} else if (pending(it))
			live++;
	}
	free(fhs);
	free(err);
	return live;
}

/*
 * Steps 5-6 to an nfs tier: WRITEs into an exclusively created temporary
 * name, SETATTR (owner where the server allows it: the catalog keeps it
 * in any case), COMMIT, then a fresh read of it over NFS, compared.  A
 * server that lost unstable data (restarted between WRITE and COMMIT)
 * fails the read-back, never the source.
 */
static int
phase_copy_nfs_out(struct batch *b, struct move_item *it, bool commit)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = engine_nfs(e, it->dst);
	struct copy_opts co;
	struct nfsfh *fh = NULL;
	char tmp[PATH_MAX];
	int r;

	tmp_rel(tmp, sizeof(tmp), it->rel, it->jid, "tmp");
	r = nt == NULL ? -EIO : nfst_create(nt, tmp, 0600, &fh);
	if (r != 0) {
		item_fail(it, IT_FAILED, "cannot create temporary file on tier "
		    "%s: %s", tier_name(e, it->dst), nfs_why(e, it->dst, r));
		/* The server may have made it all the same (a lost answer). */
		unlink_tmp(e, it);
		item_close(it);
		return -1;
	}
	memset(&co, 0, sizeof(co));
	co.abort_flag = &lease_broken[it->fd];
	co.stop_flag = &stop_requested;
	co.progress = progress_bytes;
	co.arg = b->pg;
	jts_fault_point("copy");
	jts_pause_point("copy");
	r = nfst_put(nt, fh, it->fd, (uint64_t)it->pre.st_size, it->hash, &co);
	if (copy_judge(b, it, r, r == -EIO || r == -ECONNRESET ?
	    nfs_why(e, it->dst, r) : NULL) != 0) {
		(void)nfst_close_fh(nt, fh);
		goto undo;
	}
	r = nfst_setattr(nt, fh, &it->pre, true);
	if (r == -EPERM || r == -EINVAL)	/* owner refused: squashed */
		r = nfst_setattr(nt, fh, &it->pre, false);
	if (r != 0) {
		(void)nfst_close_fh(nt, fh);
		item_fail(it, IT_FAILED, "set attributes on tier %s failed: %s",
		    tier_name(e, it->dst), nfs_why(e, it->dst, r));
		goto undo;
	}
	it->nfh = fh;
	if (commit && phase_commit_nfs(b, &it, 1) != 1)
		return -1;
	return 0;
undo:
	unlink_tmp(e, it);
	item_close(it);
	return -1;
}

/* Steps 5 to an nfs tier for n small files: many in flight at once. */
static int
phase_copy_nfs_out_many(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = engine_nfs(e, v[0]->dst);
	struct nfst_put_job *job = xcalloc((size_t)n, sizeof(*job));
	char buf[PATH_MAX];
	int i, live = 0;

	for (i = 0; i < n; i++) {
		tmp_rel(buf, sizeof(buf), v[i]->rel, v[i]->jid, "tmp");
		job[i].rel = xstrdup(buf);
		job[i].src = v[i]->fd;
		job[i].size = (uint64_t)v[i]->pre.st_size;
		job[i].st = &v[i]->pre;
	}
	jts_fault_point("copy");
	jts_pause_point("copy");
	if (nt == NULL)
		for (i = 0; i < n; i++)
			job[i].err = -EIO;
	else
		(void)nfst_put_many(nt, job, n);
	for (i = 0; i < n; i++) {
		struct move_item *it = v[i];
		int r = job[i].err;

		memcpy(it->hash, job[i].hash, JTS_HASH_LEN);
		if (r == 0 && lease_lost(it))
			r = -ECANCELED;	/* the lease broke */
		if (r == 0 || (job[i].what != NULL &&
		    strcmp(job[i].what, "read") == 0)) {
			if (copy_judge(b, it, r, NULL) != 0)
				r = r != 0 ? r : -1;
		} else if (r != 0) {
			item_fail(it, IT_FAILED, "%s on tier %s failed: %s",
			    job[i].what ? job[i].what : "copy",
			    tier_name(e, it->dst), nfs_why(e, it->dst, r));
		}
		if (r != 0) {
			if (job[i].fh != NULL && nt != NULL)
				(void)nfst_close_fh(nt, job[i].fh);
			unlink_tmp(e, it);
			item_close(it);
		} else {
			it->nfh = job[i].fh;
			progress_bytes(b->pg, job[i].size);
			live++;
		}
		free((char *)job[i].rel);
	}
	free(job);
	return live;
}

/* Step 6 on an nfs tier: read the temporary back over NFS and compare. */
static void
phase_verify_nfs(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = engine_nfs(e, it->dst);
	unsigned char h[JTS_HASH_LEN];
	struct nfsfh *fh = NULL;
	char tmp[PATH_MAX];
	int r;

	tmp_rel(tmp, sizeof(tmp), it->rel, it->jid, "tmp");
	r = nt == NULL ? -EIO : nfst_open_read(nt, tmp, &fh);
	if (r != 0) {
		item_fail(it, IT_FAILED, "cannot reopen the copy on tier %s: "
		    "%s", tier_name(e, it->dst), nfs_why(e, it->dst, r));
		unlink_tmp(e, it);
		item_close(it);
		return;
	}
	jts_fault_point("verify");
	r = nfst_get(nt, fh, -1, (uint64_t)it->pre.st_size, h, NULL);
	(void)nfst_close_fh(nt, fh);
	if (r == -EIO && nt->broken) {
		item_fail(it, IT_FAILED, "reading the copy back on tier %s "
		    "failed: %s", tier_name(e, it->dst), nfs_why(e, it->dst,
		    r));
		unlink_tmp(e, it);
		item_close(it);
		return;
	}
	verify_done(b, it, r, h);
}

/* Step 5 from an nfs tier: READs into a local temporary file. */
static int
phase_copy_nfs_in(struct batch *b, struct move_item *it, bool sync_each)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = engine_nfs(e, it->src);
	struct copy_opts co;
	struct nfsfh *fh = NULL;
	int wfd, r;

	if ((wfd = copy_open(b, it)) < 0)
		return -1;
	r = nt == NULL ? -EIO : nfst_open_read(nt, it->rel, &fh);
	if (r != 0) {
		item_fail(it, IT_FAILED, "cannot open on tier %s: %s",
		    tier_name(e, it->src), nfs_why(e, it->src, r));
		close(wfd);
		unlink_tmp(e, it);
		return -1;
	}
	memset(&co, 0, sizeof(co));
	co.stop_flag = &stop_requested;
	co.progress = progress_bytes;
	co.arg = b->pg;
	jts_fault_point("copy");
	jts_pause_point("copy");
	r = nfst_get(nt, fh, wfd, (uint64_t)it->pre.st_size, it->hash, &co);
	(void)nfst_close_fh(nt, fh);
	return copy_done(b, it, wfd, r, sync_each, r == -EIO ?
	    nfs_why(e, it->src, r) : NULL);
}

/* Is the source on nfs still what it was when the move began? */
static int
nfs_src_same(struct engine *e, int t, const char *rel, const struct ident *pre,
    char *why, size_t len)
{
	struct nfs_tier *nt = engine_nfs(e, t);
	struct nfs_ident id;
	int r = nt == NULL ? -EIO : nfst_lstat(nt, rel, &id);

	if (r == -ENOENT)
		return -ENOENT;
	if (r != 0) {
		snprintf(why, len, "cannot look at the source on tier %s: "
		    "%.300s", tier_name(e, t), nfs_why(e, t, r));
		return -EIO;
	}
	if (!S_ISREG(id.mode) || id.ino != (uint64_t)pre->ino ||
	    (int64_t)id.size != pre->size || id.mtime_ns != pre->mtime_ns ||
	    id.ctime_ns != pre->ctime_ns) {
		snprintf(why, len, "source on tier %s was changed during the "
		    "move; both copies kept", tier_name(e, t));
		return -ESTALE;
	}
	return 0;
}

/*
 * Did a LINK that reported failure take effect all the same (the server's
 * answer lost, its retry refused with EEXIST)?  Then both names are the
 * same file.
 */
static bool
linked_anyway(struct nfs_tier *nt, const char *tmp, const char *name)
{
	struct nfs_ident a, b;

	return nfst_lstat(nt, tmp, &a) == 0 && nfst_lstat(nt, name, &b) == 0 &&
	    S_ISREG(a.mode) && a.ino == b.ino;
}

/*
 * Step 7 on an nfs tier, for the batch: each source unchanged?  Then LINK
 * each temporary to its name (which fails if the name exists: nothing is
 * ever replaced), many in flight, then drop the temporaries.
 */
static void
phase_rename_nfs(struct batch *b)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = engine_nfs(e, b->it[0]->dst);
	struct move_item **v = xcalloc((size_t)b->n, sizeof(*v));
	const char **tmp = xcalloc((size_t)b->n, sizeof(*tmp));
	const char **name = xcalloc((size_t)b->n, sizeof(*name));
	int *err = xcalloc((size_t)b->n, sizeof(*err));
	char buf[PATH_MAX];
	int i, n = 0;

	for (i = 0; i < b->n; i++) {
		struct move_item *it = b->it[i];

		if (!pending(it))
			continue;
		if (src_unchanged(it) != 0) {
			unlink_tmp(e, it);
			item_close(it);
			continue;
		}
		tmp_rel(buf, sizeof(buf), it->rel, it->jid, "tmp");
		v[n] = it;
		tmp[n] = xstrdup(buf);
		name[n++] = it->rel;
	}
	if (n > 0 && (nt == NULL ||
	    nfst_link_many(nt, tmp, name, n, err) != 0))
		for (i = 0; i < n; i++)
			err[i] = -EIO;
	for (i = 0; i < n; i++) {
		if (err[i] == 0 || (nt != NULL &&
		    linked_anyway(nt, tmp[i], name[i]))) {
			err[i] = 0;
			continue;
		}
		item_fail(v[i], IT_FAILED, "cannot put it in place on tier %s: "
		    "%s", tier_name(e, v[i]->dst), err[i] == -EEXIST ?
		    "a file of that name appeared" :
		    nfs_why(e, v[i]->dst, err[i]));
		unlink_tmp(e, v[i]);
		item_close(v[i]);
		free((char *)tmp[i]);
		tmp[i] = NULL;
	}
	if (n > 0)
		jts_fault_point("rename");
	/* Leftover temporaries are harmless; recovery and check see them. */
	for (i = 0; i < n; i++)
		if (tmp[i] == NULL) {
			tmp[i] = tmp[n - 1];
			tmp[--n] = NULL;
			i--;
		}
	if (n > 0 && nt != NULL)
		(void)nfst_unlink_many(nt, tmp, n, err);
	for (i = 0; i < n; i++)
		free((char *)tmp[i]);
	free(tmp);
	free(name);
	free(err);
	free(v);
}

/* Step 6 on an nfs tier for small copies: read n back at once. */
static void
phase_verify_nfs_many(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = engine_nfs(e, v[0]->dst);
	unsigned char (*h)[JTS_HASH_LEN] = xcalloc((size_t)n, sizeof(*h));
	const char **tmp = xcalloc((size_t)n, sizeof(*tmp));
	uint64_t *size = xcalloc((size_t)n, sizeof(*size));
	int *err = xcalloc((size_t)n, sizeof(*err));
	char buf[PATH_MAX];
	int i;

	for (i = 0; i < n; i++) {
		tmp_rel(buf, sizeof(buf), v[i]->rel, v[i]->jid, "tmp");
		tmp[i] = xstrdup(buf);
		size[i] = (uint64_t)v[i]->pre.st_size;
	}
	jts_fault_point("verify");
	if (nt == NULL || nfst_hash_many(nt, tmp, size, h, err, n) != 0)
		for (i = 0; i < n; i++)
			err[i] = -EIO;
	for (i = 0; i < n; i++) {
		if (err[i] == -EIO && (nt == NULL || nt->broken)) {
			item_fail(v[i], IT_FAILED, "reading the copy back on "
			    "tier %s failed: %s", tier_name(e, v[i]->dst),
			    nfs_why(e, v[i]->dst, err[i]));
			unlink_tmp(e, v[i]);
			item_close(v[i]);
		} else
			verify_done(b, v[i], err[i], h[i]);
		free((char *)tmp[i]);
	}
	free(h);
	free(tmp);
	free(size);
	free(err);
}

/* Step 7: source unchanged?  Then rename into place. */
static void
phase_rename(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct stat st;
	char tmp[64];
	const char *base = rel_base(it->rel);
	int dfd;

	if (engine_is_nfs(e, it->src)) {
		struct ident pre;
		char why[512];

		ident_of(&pre, &it->pre);
		if (nfs_src_same(e, it->src, it->rel, &pre, why,
		    sizeof(why)) != 0) {
			item_fail(it, IT_FAILED, "%s", why[0] ? why :
			    "source vanished during the copy");
			goto undo;
		}
	} else if (src_unchanged(it) != 0)
		goto undo;
	tmpname(tmp, sizeof(tmp), it->jid, "tmp");
	dfd = engine_dir(e, it->dst, it->rel, false, -1);
	if (dfd < 0) {
		item_fail(it, IT_FAILED, "tier %s: directory vanished",
		    tier_name(e, it->dst));
		goto undo;
	}
	if (it->dst_is_stub) {
		/* Swap the copy with the home symlink, then check the swap. */
		if (renameat2(dfd, tmp, dfd, base, RENAME_EXCHANGE) != 0) {
			item_fail(it, IT_FAILED, "cannot replace the symbolic "
			    "link on tier %s: %s", tier_name(e, it->dst),
			    strerror(errno));
			goto undo;
		}
		if (fstatat(dfd, tmp, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISLNK(st.st_mode)) {
			(void)renameat2(dfd, tmp, dfd, base, RENAME_EXCHANGE);
			item_fail(it, IT_CONFLICT, "the symbolic link on tier "
			    "%s was replaced during the move; nothing changed",
			    tier_name(e, it->dst));
			goto undo;
		}
	} else if (renameat2(dfd, tmp, dfd, base, RENAME_NOREPLACE) != 0) {
		item_fail(it, IT_FAILED, "cannot rename into place on tier %s: "
		    "%s", tier_name(e, it->dst), errno == EEXIST ?
		    "a file of that name appeared" : strerror(errno));
		goto undo;
	}
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		it->copy_ino = st.st_ino;
	jts_fault_point("rename");
	return;
undo:
	unlink_tmp(e, it);
	item_close(it);
}

/*
 * Take back a copy renamed into place on a local tier whose directory
 * could not then be synced: the source was never touched, so the move is
 * undone rather than left not known durable.  0, or -1 if the copy stays
 * where it is (then both are kept).
 */
static int
unrename(struct engine *e, struct move_item *it)
{
	const char *base = rel_base(it->rel);
	struct stat st;
	char tmp[64];
	int dfd = engine_dir(e, it->dst, it->rel, false, -1);

	if (dfd < 0 || it->copy_ino == 0 ||
	    fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_ino != it->copy_ino)
		return -1;
	tmpname(tmp, sizeof(tmp), it->jid, "tmp");
	/* A recall swapped the copy with the home symlink: swap back. */
	if (renameat2(dfd, base, dfd, tmp, it->dst_is_stub ?
	    RENAME_EXCHANGE : RENAME_NOREPLACE) != 0)
		return -1;
	unlink_tmp(e, it);
	return 0;
}

/* Make the stub on tier t point at target, if it is a stub; idempotent. */
static int
update_stub(struct engine *e, int t, const char *rel, const char *target,
    int64_t id, struct dirset *ds, char *why, size_t len)
{
	char lnk[64], cur[PATH_MAX];
	const char *base = rel_base(rel);
	struct stat st;
	ssize_t n;
	int dfd = engine_dir(e, t, rel, false, -1);

	if (dfd < 0)
		return 0;	/* no home directory: nothing points here */
	tmpname(lnk, sizeof(lnk), id, "lnk");
	if (ds == NULL && fstatat(dfd, lnk, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		(void)unlinkat(dfd, lnk, 0);
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISLNK(st.st_mode))
		return 0;	/* no stub (left removed, or replaced) */
	if (target == NULL) {
		/* The data goes where no path leads: the catalog knows. */
		if (unlinkat(dfd, base, 0) != 0 && errno != ENOENT) {
			snprintf(why, len, "cannot remove the symbolic link on "
			    "tier %s: %s", tier_name(e, t), strerror(errno));
			return -1;
		}
		return dir_sync(ds, dfd);
	}
	n = readlinkat(dfd, base, cur, sizeof(cur) - 1);
	if (n >= 0) {
		cur[n] = '\0';
		if (strcmp(cur, target) == 0)
			return 0;
	}
	if (symlinkat(target, dfd, lnk) != 0 ||
	    renameat2(dfd, lnk, dfd, base, RENAME_EXCHANGE) != 0) {
		snprintf(why, len, "cannot update the symbolic link on tier "
		    "%s: %s", tier_name(e, t), strerror(errno));
		(void)unlinkat(dfd, lnk, 0);
		return -1;
	}
	if (fstatat(dfd, lnk, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISLNK(st.st_mode)) {
		(void)renameat2(dfd, lnk, dfd, base, RENAME_EXCHANGE);
		snprintf(why, len, "the symbolic link on tier %s was replaced "
		    "by a file during the move; both kept", tier_name(e, t));
		(void)unlinkat(dfd, lnk, 0);
		return -1;
	}
	(void)unlinkat(dfd, lnk, 0);
	return dir_sync(ds, dfd);
}

/*
 * Unlink the old source, now at the hidden name old in dfd, unless someone
 * waits to open it.  A process whose open() found the old path before the
 * swap waits on our write lease and gets this very inode when we let go:
 * had it been unlinked, what that process writes would be lost.  So the
 * lease is checked before and after the unlink, and the inode linked back
 * if anyone came; the file is then kept under the hidden name, reported.
 */
static int
drop_old(struct engine *e, int t, int dfd, const char *old, int leasefd,
    char *why, size_t len)
{
	if (lease_lost_fd(leasefd)) {
		snprintf(why, len, "was opened by another process while it was "
		    "released; the old file is kept as %s on tier %s", old,
		    tier_name(e, t));
		return -1;
	}
	if (unlinkat(dfd, old, 0) != 0) {
		snprintf(why, len, "cannot remove the source on tier %s: %s",
		    tier_name(e, t), strerror(errno));
		return -1;
	}
	if (lease_lost_fd(leasefd)) {
		if (linkat(leasefd, "", dfd, old, AT_EMPTY_PATH) == 0)
			snprintf(why, len, "was opened by another process "
			    "while it was released; the old file is kept as "
			    "%s on tier %s", old, tier_name(e, t));
		else
			snprintf(why, len, "was opened by another process "
			    "while it was released and could not be kept: %s",
			    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * A leftover old source at the hidden name old (recovery): drop it only if
 * it is unchanged and nobody has it open; otherwise keep it.
 */
static int
drop_leftover(struct engine *e, int t, int dfd, const char *old,
    const struct ident *pre, char *why, size_t len)
{
	struct stat st;
	int fd, r;

	fd = tier_openat(&e->tiers[t], dfd, old, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_ino != pre->ino || st.st_size != pre->size ||
	    jts_ts_ns(&st.st_mtim) != pre->mtime_ns) {
		close(fd);
		snprintf(why, len, "the old file %s on tier %s was written "
		    "after the move; kept", old, tier_name(e, t));
		return -1;
	}
	if (fcntl(fd, F_SETLEASE, F_WRLCK) != 0) {
		close(fd);
		snprintf(why, len, "the old file %s on tier %s is open by "
		    "another process; kept for now", old, tier_name(e, t));
		return -1;
	}
	r = drop_old(e, t, dfd, old, fd, why, len);
	close(fd);
	return r;
}

/*
 * Step 8: release the source name rel on tier t, which must still be the
 * file with inode ino: replace it by a symlink to target, or remove it when
 * target is NULL.  Idempotent, so recovery can call it again.
 * Returns 0, or -1 with why set: a conflict, both copies kept.
 */
static int
release_source(struct engine *e, int t, const char *rel,
    const struct ident *pre, const char *target, int64_t id, int leasefd,
    struct dirset *ds, char *why, size_t len)
{
	char lnk[64], rm[64], cur[PATH_MAX];
	const char *base = rel_base(rel);
	struct stat st;
	ssize_t n;
	int dfd = engine_dir(e, t, rel, false, -1);
	ino_t ino = pre->ino;

	if (dfd < 0) {
		snprintf(why, len, "source directory on tier %s is gone",
		    tier_name(e, t));
		return dfd == -ENOENT ? 0 : -1;
	}
	tmpname(lnk, sizeof(lnk), id, "lnk");
	tmpname(rm, sizeof(rm), id, "rm");
	/* Leftovers of an interrupted release (recovery only: ds == NULL). */
	if (ds == NULL && fstatat(dfd, lnk, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISREG(st.st_mode) && st.st_ino == ino) {
			if (drop_leftover(e, t, dfd, lnk, pre, why, len) != 0)
				return -1;
			return dir_sync(ds, dfd);
		}
		if (S_ISLNK(st.st_mode))
			(void)unlinkat(dfd, lnk, 0);
	}
	if (ds == NULL && fstatat(dfd, rm, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_ino == ino) {
		if (drop_leftover(e, t, dfd, rm, pre, why, len) != 0)
			return -1;
		return dir_sync(ds, dfd);
	}
	/*
	 * Recovery looks first; a running move holds the write lease and has
	 * just checked the source, and the swap below is checked after.
	 */
	if (ds != NULL)
		goto swap;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(dfd, base, cur, sizeof(cur) - 1);
		if (n >= 0 && target != NULL) {
			cur[n] = '\0';
			if (strcmp(cur, target) == 0)
				return 0;
		}
		snprintf(why, len, "source on tier %s was replaced by a "
		    "symbolic link during the move; both kept",
		    tier_name(e, t));
		return -1;
	}
	if (!ident_same(pre, &st)) {
		snprintf(why, len, "source on tier %s was changed or replaced "
		    "during the move; both copies kept", tier_name(e, t));
		return -1;
	}
swap:
	if (target != NULL) {
		if (symlinkat(target, dfd, lnk) != 0 ||
		    renameat2(dfd, lnk, dfd, base, RENAME_EXCHANGE) != 0) {
			snprintf(why, len, "cannot put the symbolic link in "
			    "place on tier %s: %s", tier_name(e, t),
			    strerror(errno));
			(void)unlinkat(dfd, lnk, 0);
			return -1;
		}
		jts_fault_point("release");
		jts_pause_point("release");
		if (fstatat(dfd, lnk, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_ino != ino) {
			(void)renameat2(dfd, lnk, dfd, base, RENAME_EXCHANGE);
			(void)unlinkat(dfd, lnk, 0);
			snprintf(why, len, "source on tier %s was replaced "
			    "during the move; both copies kept",
			    tier_name(e, t));
			return -1;
		}
		if (drop_old(e, t, dfd, lnk, leasefd, why, len) != 0)
			return -1;
	} else {
		if (renameat2(dfd, base, dfd, rm, RENAME_NOREPLACE) != 0) {
			snprintf(why, len, "cannot remove the source on tier "
			    "%s: %s", tier_name(e, t), strerror(errno));
			return -1;
		}
		jts_fault_point("release");
		if (fstatat(dfd, rm, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    st.st_ino != ino) {
			(void)renameat2(dfd, rm, dfd, base, RENAME_NOREPLACE);
			snprintf(why, len, "source on tier %s was replaced "
			    "during the move; both copies kept",
			    tier_name(e, t));
			return -1;
		}
		if (drop_old(e, t, dfd, rm, leasefd, why, len) != 0)
			return -1;
	}
	return dir_sync(ds, dfd);
}

/*
 * Step 8 for a source on an nfs tier (a recall): rename it to a hidden
 * name, check it is still the file that was copied, remove it.  NFSv3
 * has no leases: a change made on the NAS between the check and the
 * rename is caught by the inode and time check after it.
 */
static int
release_source_nfs(struct engine *e, int t, const char *rel,
    const struct ident *pre, int64_t id, bool recovery, char *why,
    size_t len)
{
	struct nfs_tier *nt = engine_nfs(e, t);
	struct nfs_ident st;
	char rm[PATH_MAX];
	int r;

	if (nt == NULL) {
		snprintf(why, len, "cannot release the source on tier %s: "
		    "%.300s", tier_name(e, t), nfs_why(e, t, -EIO));
		return -1;
	}
	tmp_rel(rm, sizeof(rm), rel, id, "rm");
	if (recovery && nfst_lstat(nt, rm, &st) == 0 &&
	    st.ino == (uint64_t)pre->ino) {
		(void)nfst_unlink(nt, rm);
		return 0;
	}
	r = nfs_src_same(e, t, rel, pre, why, len);
	if (r == -ENOENT)
		return 0;		/* released already */
	if (r != 0)
		return -1;
	if ((r = nfst_rename(nt, rel, rm)) != 0) {
		snprintf(why, len, "cannot remove the source on tier %s: "
		    "%.300s", tier_name(e, t), nfs_why(e, t, r));
		return -1;
	}
	jts_fault_point("release");
	if (nfst_lstat(nt, rm, &st) != 0 || st.ino != (uint64_t)pre->ino ||
	    st.mtime_ns != pre->mtime_ns || (int64_t)st.size != pre->size) {
		(void)nfst_rename(nt, rm, rel);
		snprintf(why, len, "source on tier %s was replaced during the "
		    "move; both copies kept", tier_name(e, t));
		return -1;
	}
	if ((r = nfst_unlink(nt, rm)) != 0) {
		snprintf(why, len, "cannot remove the source on tier %s: "
		    "%.300s", tier_name(e, t), nfs_why(e, t, r));
		return -1;
	}
	return 0;
}

/* After the commit: release the source, fix the home symlink. */
int
finish_item(struct engine *e, int src, int dst, int home, const char *rel,
    const struct ident *pre, enum leave_mode leave, int64_t id, int leasefd,
    struct dirset *ds, char *why, size_t len)
{
	char *target = engine_link_target(e, dst, rel);
	char tmp[64];
	struct stat st;
	int r = 0, dfd;

	/* A recall swapped the home symlink to the temporary name. */
	tmpname(tmp, sizeof(tmp), id, "tmp");
	dfd = !engine_is_nfs(e, dst) && (ds == NULL || dst == home) ?
	    engine_dir(e, dst, rel, false, -1) : -1;
	if (dfd >= 0 && fstatat(dfd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode)) {
		if (unlinkat(dfd, tmp, 0) != 0 && errno != ENOENT) {
			/* Left open: recovery removes it and finishes. */
			snprintf(why, len, "cannot remove the old symbolic "
			    "link %s on tier %s: %s", tmp, tier_name(e, dst),
			    strerror(errno));
			free(target);
			return -1;
		}
		(void)dir_sync(ds, dfd);
	}
	if (engine_is_nfs(e, dst) && ds == NULL) {
		char t[PATH_MAX];
		struct nfs_tier *nt = engine_nfs(e, dst);

		/* Recovery: a temporary left between LINK and its removal. */
		tmp_rel(t, sizeof(t), rel, id, "tmp");
		if (nt != NULL)
			(void)nfst_unlink(nt, t);
	}
	if (src == home && dst != home)
		r = release_source(e, src, rel, pre,
		    leave == LEAVE_SYMLINK ? target : NULL, id, leasefd, ds,
		    why, len);
	else {
		if (dst != home)
			r = update_stub(e, home, rel, target, id, ds, why,
			    len);
		if (r == 0 && engine_is_nfs(e, src))
			r = release_source_nfs(e, src, rel, pre, id, ds == NULL,
			    why, len);
		else if (r == 0)
			r = release_source(e, src, rel, pre, NULL, id,
			    leasefd, ds, why, len);
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
	/*
	 * On a local tier the row describes the copy, renamed into place:
	 * its inode and ctime are what a rescan compares (the source's
	 * identity stays in the journal).
	 */
	if (!engine_is_nfs(e, it->dst)) {
		int dfd = engine_dir(e, it->dst, it->rel, false, -1);
		struct stat st;

		if (dfd >= 0 && fstatat(dfd, rel_base(it->rel), &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
			f->ino = (int64_t)st.st_ino;
			f->ctime_ns = jts_ts_ns(&st.st_ctim);
		}
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
static void
batch_abandon(struct engine *e, struct batch *b, const char *why)
{
	int i;

	for (i = 0; i < b->n; i++) {
		struct move_item *it = b->it[i];

		if (!pending(it))
			continue;
		item_fail(it, IT_FAILED, "%s", why);
		if (it->jid > 0)
			unlink_tmp(e, it);
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
			unlink_tmp(b->e, it);
		item_close(it);
	}
	if (catalog_begin(&b->e->cat) == 0)
		(void)batch_commit(b->e, b, "interruption");
	return true;
}

void
run_batch(struct batch *b)
{
	struct engine *e = b->e;
	struct move_item *it;
	char why[512];
	struct ident pre;
	struct dirset ds = { b->e, 0, 0, NULL };
	struct move_item *small[COPY_SMALL_SLOTS];
	int i, syncfd = -1, r, live = 0, nsmall = 0;
	bool one = b->n == 1;
	/* A batch has one source and one destination tier. */
	bool nfs_out = engine_is_nfs(e, b->it[0]->dst);
	bool nfs_in = engine_is_nfs(e, b->it[0]->src);

	int64_t t0 = jts_mono_ns(), t1;

	for (i = 0; i < b->n; i++)
		phase_prepare(b, b->it[i]);
#define LAP(what) do {							\
	t1 = jts_mono_ns();						\
	jts_debug("batch of %d: %s %.3f s", b->n, what,			\
	    (double)(t1 - t0) / 1e9);					\
	t0 = t1;							\
} while (0)
	LAP("prepare");

	/* Journal: copying, one transaction for the batch. */
	if (catalog_begin(&e->cat) != 0) {
		batch_abandon(b->e, b, "catalog is not writable");
		return;
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
		    b->o->leave == LEAVE_SYMLINK ? "symlink" : "remove");
		j.state = JS_COPYING;
		j.tmp = "";
		j.pre_size = it->pre.st_size;
		j.pre_mtime_ns = jts_ts_ns(&it->pre.st_mtim);
		j.pre_ctime_ns = jts_ts_ns(&it->pre.st_ctim);
		j.pre_ino = (int64_t)it->pre.st_ino;
		if (catalog_journal_add(&e->cat, &j) != 0) {
			catalog_rollback(&e->cat);
			for (r = 0; r < b->n; r++)
				if (b->it[r]->jid > 0)
					b->it[r]->jid = 0;
			batch_abandon(e, b, "cannot write the journal");
			return;
		}
		it->jid = j.id;
	}
	if (batch_commit(e, b, "journal") != 0) {
		for (i = 0; i < b->n; i++)
			b->it[i]->jid = 0;
		batch_abandon(e, b, "cannot write the journal");
		return;
	}
	jts_fault_point("journaled");
	LAP("journal");
	if (batch_stopped(b))
		return;

	/* Copy every item; one syncfs for a batch, fsync for a lone file. */
	for (i = 0; i < b->n; i++) {
		it = b->it[i];
		if (!pending(it))
			continue;
		if (nfs_out && !one &&
		    (uint64_t)it->pre.st_size < NFST_SMALL_MAX) {
			/* Many at a time, COMMITted below, all at once. */
			small[nsmall++] = it;
			if (nsmall == COPY_SMALL_SLOTS) {
				live += phase_copy_nfs_out_many(b, small,
				    nsmall);
				nsmall = 0;
			}
			continue;
		}
		if (nfs_out) {
			/* COMMITted below, all at once (a lone file: now). */
			if (phase_copy_nfs_out(b, it, one) == 0)
				live++;
			continue;
		}
		if (syncfd < 0 && !one) {
			int dfd = engine_dir(e, it->dst, it->rel, false, -1);

			syncfd = dfd < 0 ? -1 : openat(dfd, ".", O_RDONLY |
			    O_DIRECTORY | O_CLOEXEC);
		}
		if (nfs_in) {
			if (phase_copy_nfs_in(b, it, one) == 0)
				live++;
			continue;
		}
		jts_pause_point("copy");
		if (is_small(it) && !one) {
			small[nsmall++] = it;
			if (nsmall == COPY_SMALL_SLOTS) {
				live += phase_copy_many(b, small, nsmall);
				nsmall = 0;
			}
		} else if (phase_copy(b, it, one) == 0)
			live++;
	}
	if (nsmall > 0 && nfs_out)
		live += phase_copy_nfs_out_many(b, small, nsmall);
	else if (nsmall > 0)
		live += phase_copy_many(b, small, nsmall);
	if (nfs_out && !one && live > 0)
		live = phase_commit_nfs(b, b->it, b->n);
	b->pg->files += live;
	LAP("copy");
	if (!one && live > 0 && !nfs_out) {
		/* All items of a batch go to the same tier. */
		if (syncfd < 0 || syncfs(syncfd) != 0 ||
		    (errno = -jts_fault_errno("fsync")) != 0) {
			snprintf(why, sizeof(why), "syncing tier %s failed: "
			    "%s; copies removed", tier_name(e, b->it[0]->dst),
			    io_why(errno));
			batch_abandon(e, b, why);
		}
	}
	if (syncfd >= 0)
		close(syncfd);
	LAP("sync");
	if (batch_stopped(b))
		return;
	jts_fault_point("synced");

	nsmall = 0;
	for (i = 0; i < b->n; i++) {
		it = b->it[i];
		if (!pending(it))
			continue;
		if (nfs_out && (uint64_t)it->pre.st_size > NFS_SMALL_MAX) {
			phase_verify_nfs(b, it);
		} else if (nfs_out) {
			small[nsmall++] = it;
			if (nsmall == COPY_SMALL_SLOTS) {
				phase_verify_nfs_many(b, small, nsmall);
				nsmall = 0;
			}
		} else if (is_small(it)) {
			small[nsmall++] = it;
			if (nsmall == COPY_SMALL_SLOTS) {
				phase_verify_many(b, small, nsmall);
				nsmall = 0;
			}
		} else
			phase_verify(b, it);
	}
	if (nsmall > 0 && nfs_out)
		phase_verify_nfs_many(b, small, nsmall);
	else if (nsmall > 0)
		phase_verify_many(b, small, nsmall);
	if (catalog_begin(&e->cat) != 0) {
		batch_abandon(e, b, "catalog is not writable");
		return;
	}
	for (i = 0; i < b->n; i++) {
		it = b->it[i];
		if (pending(it))
			catalog_journal_set(&e->cat, it->jid, JS_VERIFIED,
			    it->hash, NULL);
	}
	if (batch_commit(e, b, "verification") != 0) {
		batch_abandon(e, b, "cannot write the journal");
		return;
	}
	LAP("verify");
	jts_fault_point("verified");
	if (batch_stopped(b))
		return;

	/* Rename into place, then sync each destination directory once. */
	if (nfs_out)
		phase_rename_nfs(b);
	for (i = 0; i < b->n && !nfs_out; i++)
		if (pending(b->it[i]))
			phase_rename(b, b->it[i]);
	LAP("rename");
	/*
	 * NFSv3 servers make CREATE, LINK and REMOVE durable before they
	 * answer: no directory to sync on an nfs destination.
	 */
	if (!nfs_out) {
		struct dirset dd = { e, 0, 0, NULL };
		bool bad = false;

		for (i = 0; i < b->n; i++) {
			it = b->it[i];
			if (!pending(it))
				continue;
			r = engine_dir(e, it->dst, it->rel, false, -1);
			if (r < 0 || dir_sync(&dd, r) != 0)
				bad = true;
		}
		if ((r = dirs_flush(&dd)) != 0 || bad) {
			/*
			 * Not known durable: undo the renames, the sources
			 * untouched; a copy that cannot be taken back stays
			 * beside its source.
			 */
			for (i = 0; i < b->n; i++) {
				it = b->it[i];
				if (!pending(it))
					continue;
				if (unrename(e, it) == 0)
					item_fail(it, IT_FAILED, "cannot sync "
					    "its directory on tier %s (%s); "
					    "the copy was taken back, the "
					    "source kept", tier_name(e, it->dst),
					    strerror(r < 0 ? -r : EIO));
				else
					item_fail(it, IT_CONFLICT, "cannot sync "
					    "its directory on tier %s; the "
					    "source and the copy are both kept",
					    tier_name(e, it->dst));
				item_close(it);
			}
		}
	}
	LAP("dirsync-dst");
	jts_fault_point("renamed");

	/* Commit: the durable record that permits releasing the sources. */
	if (catalog_begin(&e->cat) != 0) {
		batch_abandon(e, b, "catalog is not writable");
		return;
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
			return;
		}
	}
	if (batch_commit(e, b, "commit") != 0) {
		batch_abandon(e, b, "catalog commit failed");
		return;
	}
	LAP("commit");
	jts_fault_point("committed");

	for (i = 0; i < b->n; i++) {
		it = b->it[i];
		if (!pending(it))
			continue;
		if (!nfs_in && lease_lost(it)) {
			item_fail(it, IT_CONFLICT, "was opened by another "
			    "process after its copy was committed on tier %s; "
			    "both copies kept, see 'jts-tierctl check'",
			    tier_name(e, it->dst));
			item_close(it);
			continue;
		}
		why[0] = '\0';
		ident_of(&pre, &it->pre);
		if (finish_item(e, it->src, it->dst, it->home, it->rel,
		    &pre, b->o->leave, it->jid, it->fd, &ds, why,
		    sizeof(why)) != 0) {
			item_fail(it, IT_CONFLICT, "%s", why[0] ? why :
			    "cannot release the source");
		}
		item_close(it);
	}
	LAP("release");
	if (dirs_flush(&ds) != 0)
		jts_warn("syncing directories after releasing sources failed; "
		    "recovery will check them");
	LAP("dirsync-src");
	jts_fault_point("released");
	if (catalog_begin(&e->cat) != 0)
		return;
	for (i = 0; i < b->n; i++) {
		it = b->it[i];
		if (!pending(it))
			continue;
		catalog_journal_set(&e->cat, it->jid, JS_DONE, NULL, NULL);
		it->state = IT_DONE;
	}
	batch_commit(e, b, "completion");
	LAP("done");
#undef LAP
}

