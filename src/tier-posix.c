/*
 * tier-posix.c - tiers on a local file system: posix, and btrfs
 *
 * The move's phases on a local tier: the source opened beneath its root
 * with no symlink on the way and held by a read lease (which only a
 * writer breaks: readers never disturb a move); the copy written
 * to a temporary name with io_uring, made durable with one syncfs for a
 * batch, read back O_DIRECT, renamed into place without replacing
 * anything, its directory synced; the source released by swapping a
 * symlink in (or renaming it away) and unlinking the old inode only if
 * nobody came to open it meanwhile.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copy.h"
#include "engine.h"
#include "move-int.h"
#include "stub.h"
#include "tier-local.h"
#include "tier.h"
#include "util.h"

static bool
lease_lost(struct move_item *it)
{
	return lease_lost_fd(it->fd);
}

/* --- what every command asks of a local tier ---------------------------- */

int
posix_space(struct tier *t, struct tier_space *sp)
{
	struct statvfs sv;

	memset(sp, 0, sizeof(*sp));
	/* The root opened (an engine's) is what the moves write to. */
	if (t->rootfd >= 0 ? fstatvfs(t->rootfd, &sv) != 0 :
	    t->tc->root == NULL || statvfs(t->tc->root, &sv) != 0)
		return t->rootfd < 0 && t->tc->root == NULL ? -EINVAL : -errno;
	/* Used is what is not free; root's reserve is nobody's room. */
	sp->used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	sp->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	sp->size = sp->used + sp->avail;
	return 0;
}


int
posix_read_into(struct tier *t, struct copier *cp, const char *rel,
    int64_t size, int wfd, unsigned char *out)
{
	struct stat st;
	int fd, r;

	if ((fd = tier_open_read(t, rel, &st)) < 0)
		return fd;
	if (st.st_size != size)
		r = -ESTALE;
	else if (wfd < 0)
		r = copier_run(cp, fd, -1, (uint64_t)size, out, NULL);
	else
		r = jts_copy_plain(fd, wfd, size, out);
	close(fd);
	return r;
}

int
posix_hash(struct tier *t, struct copier *cp, const char *rel, int64_t size,
    const struct stat *seen, unsigned char *out)
{
	/* The type is judged on the descriptor read from, never on seen. */
	(void)seen;
	return posix_read_into(t, cp, rel, size, -1, out);
}

int
posix_lookup(struct tier *t, const char *rel, struct stat *st)
{
	int dfd = tier_open_parent(t, rel), r = 0;

	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, rel_base(rel), st, AT_SYMLINK_NOFOLLOW) != 0)
		r = -errno;
	close(dfd);
	return r;
}

/* --- the move's phases on a local tier ---------------------------------- */

/*
 * What a move leaves at a home path, standing in for the data (st: what
 * is at name in dirfd): our symlink, or a stub.
 */
static bool
home_stands_in(int dirfd, const char *name, const struct stat *st)
{
	struct stat sb;

	if (S_ISLNK(st->st_mode))
		return true;
	return S_ISREG(st->st_mode) && stub_read_at(dirfd, name, NULL, &sb) ==
	    1 && sb.st_ino == st->st_ino;
}

/* Steps 1-2 on a local source: open it beneath its root, refuse what
 * must not move. */
void
posix_src_prepare(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct tier *src = &e->tiers[it->src];
	struct stat st;
	struct statx stx;
	int pfd, r;

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
	if (st.st_nlink > 1 && (int)st.st_nlink != it->links) {
		item_fail(it, IT_FAILED, "has %ju hard links%s",
		    (uintmax_t)st.st_nlink, it->links == 0 ? "; it moves only "
		    "with all of them (name a tree that holds them all)" :
		    ", not the names planned with it (one was made or removed "
		    "meanwhile); left in place");
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
	if (stub_read_fd(it->fd, NULL) != 0) {
		item_fail(it, IT_FAILED, "is a stub: its data is on another "
		    "tier (see 'jts-tierctl explain'), not here");
		return;
	}
	if (stx.stx_attributes & stx.stx_attributes_mask &
	    (STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND)) {
		item_fail(it, IT_FAILED, "is %s; it cannot be released after "
		    "the copy", (stx.stx_attributes & STATX_ATTR_IMMUTABLE) ?
		    "immutable" : "append-only");
		return;
	}
}

/*
 * Step 2 on a local destination: its directory, made like the source's if
 * missing (but not a home directory a link led from to the data: if that
 * is gone, its owner renamed or removed it since, and a recall must not
 * start a second tree under the old name), and no file at its name.
 */
void
posix_dst_prepare(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct stat dst;
	int dfd;

	{
		char *lt = it->dst == it->home ?
		    engine_link_target(e, it->src, it->rel) : NULL;
		bool mk = lt == NULL;

		free(lt);
		dfd = engine_dir(e, it->dst, it->rel, mk,
		    tier_has(&e->tiers[it->src], TIER_CAP_LOCAL) ?
		    it->src : -1);
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
		if (!it->dst_is_stub || !home_stands_in(dfd,
		    rel_base(it->rel), &dst)) {
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
}

/*
 * Step 3 on a local source: a read lease, held until the release.  It
 * cannot be taken while anyone has the file open for writing (or mapped
 * writable), and an open for writing or a truncate breaks it; readers
 * neither prevent nor break it: what they read is the content copied.
 */
void
posix_src_hold(struct batch *b, struct move_item *it)
{
	(void)b;
	if (it->fd >= MAX_FD) {
		item_fail(it, IT_FAILED, "too many open files in this "
		    "process (more than %d); move fewer files at a time",
		    MAX_FD);
		return;
	}
	if (lease_take(it->fd) != 0) {
		item_fail(it, IT_FAILED, "is open for writing by another "
		    "process (%s); try again later", errno == EAGAIN ||
		    errno == EBUSY ? "read lease refused" : strerror(errno));
		it->in_use = true;
		return;
	}
}

/*
 * Step 7's check of a local source: lease held, nothing changed.  Returns
 * 0, or -1 with the item failed.
 */
int
posix_src_same(struct batch *b, struct move_item *it)
{
	struct stat st;

	(void)b;
	if (lease_lost(it)) {
		item_fail(it, IT_FAILED, "was opened for writing by another "
		    "process during the move; left in place, try again later");
		it->in_use = true;
		return -1;
	}
	if (fstat(it->fd, &st) != 0 || st.st_size != it->pre.st_size ||
	    jts_ts_ns(&st.st_mtim) != jts_ts_ns(&it->pre.st_mtim) ||
	    jts_ts_ns(&st.st_ctim) != jts_ts_ns(&it->pre.st_ctim) ||
	    st.st_ino != it->pre.st_ino || st.st_nlink != it->pre.st_nlink) {
		item_fail(it, IT_FAILED, "changed during the copy; left in "
		    "place, try again later");
		it->in_use = true;
		return -1;
	}
	return 0;
}

/* Copy owner, then mode, then xattrs and ACLs, then times. */
static int
copy_meta(struct batch *b, struct move_item *it, int dfd, char *why,
    size_t len)
{
	const char *own = b->e->tiers[it->src].ops->fs_xattrs;
	const char *dst_own = b->e->tiers[it->dst].ops->fs_xattrs;
	/* A file system's own settings go only where the same one is. */
	bool carry = own != NULL && dst_own != NULL && strcmp(own, dst_own) == 0;
	struct timespec ts[2];
	int r;

	if (fchown(dfd, it->pre.st_uid, it->pre.st_gid) != 0) {
		snprintf(why, len, "chown: %s", strerror(errno));
		return -errno;
	}
	if (fchmod(dfd, it->pre.st_mode & 07777) != 0) {
		snprintf(why, len, "chmod: %s", strerror(errno));
		return -errno;
	}
	/* A source with no local descriptor has no extended attributes. */
	if (it->fd >= 0 && (r = jts_xattr_copy(it->fd, dfd, carry ? NULL : own,
	    NULL, why, len)) != 0)
		return r;
	ts[0] = it->pre.st_atim;
	ts[1] = it->pre.st_mtim;
	if (futimens(dfd, ts) != 0) {
		snprintf(why, len, "set times: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Remove the temporary copy of it; one that cannot be now is left to
 * recovery. */
void
posix_drop_tmp(struct engine *e, struct move_item *it)
{
	char tmp[64];
	int dfd;

	dfd = engine_dir(e, it->dst, it->rel, false, -1);
	tmpname(tmp, sizeof(tmp), it->jid, "tmp");
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
	if (e->tiers[it->dst].ops->tmp_made != NULL)
		e->tiers[it->dst].ops->tmp_made(b, it, wfd);
	return wfd;
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
	if (r == 0 && copy_meta(b, it, wfd, why, sizeof(why)) != 0) {
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
		posix_drop_tmp(e, it);
		item_close(it);
	}
	return r;
}

/*
 * Step 5: copy into the temporary name, hash the stream, copy metadata
 * (a lone file: fsync it too).  1 if it is still pending, else 0.
 */
static int
phase_copy(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct copy_readback rb;
	struct copy_opts co;
	char tmp[64];
	int wfd, dfd, r;

	jts_pause_point("copy");
	if ((wfd = copy_open(b, it)) < 0)
		return 0;
	copy_opts_of(b, it, &co);
	/* A large file without holes is read back while it is copied. */
	memset(&rb, 0, sizeof(rb));
	rb.fd = -1;
	if ((uint64_t)it->pre.st_size >= COPY_READBACK_MIN &&
	    (uint64_t)it->pre.st_blocks * 512 >= (uint64_t)it->pre.st_size) {
		tmpname(tmp, sizeof(tmp), it->jid, "tmp");
		dfd = engine_dir(e, it->dst, it->rel, false, -1);
		rb.fd = dfd < 0 ? -1 : tier_openat(&e->tiers[it->dst], dfd,
		    tmp, O_RDONLY | O_DIRECT, 0);
		co.rb = &rb;
	}
	jts_fault_point("copy");
	r = copier_run(&e->cp, it->fd, wfd, (uint64_t)it->pre.st_size,
	    it->hash, &co);
	if (rb.fd >= 0)
		close(rb.fd);
	it->read_back = r == 0 && co.rb != NULL && rb.err != -EAGAIN;
	if (it->read_back && rb.err != 0) {
		/* The copy cannot be read: judged as the read-back would. */
		verify_done(b, it, rb.err, NULL);
		close(wfd);
		return 0;
	}
	if (it->read_back)
		memcpy(it->rb_hash, rb.hash, JTS_HASH_LEN);
	return copy_done(b, it, wfd, r, b->one, NULL) == 0;
}

/*
 * Step 5 for a name of a set of hard links: its temporary a link to the
 * temporary of lead, copied; nothing to write (the same inode).
 */
int
posix_link(struct batch *b, struct move_item *lead, struct move_item *it)
{
	struct engine *e = b->e;
	char from[64], to[64];
	int lfd, dfd;

	tmpname(from, sizeof(from), lead->jid, "tmp");
	tmpname(to, sizeof(to), it->jid, "tmp");
	lfd = engine_dir(e, lead->dst, lead->rel, false, -1);
	dfd = engine_dir(e, it->dst, it->rel, false, -1);
	if (lfd < 0 || dfd < 0 || linkat(lfd, from, dfd, to, 0) != 0) {
		item_fail(it, IT_FAILED, "cannot link it to %s on tier %s: %s",
		    jts_quote(lead->rel), tier_name(e, it->dst),
		    lfd < 0 || dfd < 0 ? "directory vanished" :
		    strerror(errno));
		item_close(it);
		return -1;
	}
	return 0;
}

/* Small and without holes, in a batch: copied many at a time. */
static bool
is_small(const struct batch *b, const struct move_item *it)
{
	return !b->one && (uint64_t)it->pre.st_size <= COPY_SMALL_MAX &&
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
		jts_pause_point("copy");
		if ((wfd[k] = copy_open(b, v[i])) < 0)
			continue;
		jts_fault_point("copy");
		jobs[k].src = v[i]->fd;
		jobs[k].dst = wfd[k];
		jobs[k].size = (uint64_t)v[i]->pre.st_size;
		jobs[k].direct = false;		/* small sources: buffered */
		v[k++] = v[i];
	}
	batch_copy_opts(b, &co);
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

/*
 * Step 5 into a local tier: from a local source with io_uring (small
 * files many at a time), or fetched by the source's tier when no local
 * path reaches it.  Returns the items still pending.
 */
int
posix_copy(struct batch *b, struct move_item **v, int n)
{
	struct tier *src = &b->e->tiers[v[0]->src];
	int i, live = 0, wfd, r;
	const char *why;

	if (tier_has(src, TIER_CAP_LOCAL))
		return batch_by_size(b, v, n, is_small, phase_copy,
		    phase_copy_many);
	if (src->ops->fetch_many != NULL) {
		int *wfds = xcalloc((size_t)n, sizeof(*wfds));
		int *res = xcalloc((size_t)n, sizeof(*res));
		char **whys = xcalloc((size_t)n, sizeof(*whys));

		for (i = 0; i < n; i++)
			wfds[i] = copy_open(b, v[i]);
		src->ops->fetch_many(b, v, wfds, res, whys, n);
		for (i = 0; i < n; i++) {
			if (wfds[i] >= 0 && copy_done(b, v[i], wfds[i], res[i],
			    b->one, whys[i]) == 0)
				live++;
			free(whys[i]);
		}
		free(whys);
		free(res);
		free(wfds);
		return live;
	}
	for (i = 0; i < n; i++) {
		if ((wfd = copy_open(b, v[i])) < 0)
			continue;
		why = NULL;
		r = src->ops->fetch(b, v[i], wfd, &why);
		if (copy_done(b, v[i], wfd, r, b->one, why) == 0)
			live++;
	}
	return live;
}

/* Step 5, end: one syncfs for a batch (a lone file was fsynced). */
int
posix_durable(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	char why[512];
	int dfd, fd;

	if (b->one || n == 0)
		return n;
	/* All items of a batch go to the same tier. */
	dfd = engine_dir(e, v[0]->dst, v[0]->rel, false, -1);
	fd = dfd < 0 ? -1 : openat(dfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (fd < 0 || syncfs(fd) != 0 ||
	    (errno = -jts_fault_errno("fsync")) != 0) {
		snprintf(why, sizeof(why), "syncing tier %s failed: %s; copies "
		    "removed", tier_name(e, v[0]->dst), io_why(errno));
		batch_abandon(e, b, why);
		n = 0;
	}
	if (fd >= 0)
		close(fd);
	return n;
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
	}
	/*
	 * The copy's pages, clean since the sync, are dropped: where the
	 * file system serves an O_DIRECT read through the page cache (btrfs,
	 * for compressed extents) or O_DIRECT is refused, the read-back
	 * still comes from the device, not from what was just written.
	 */
	if (fd >= 0) {
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		jts_pause_point("readback");
	}
	if (fd < 0) {
		item_fail(it, IT_FAILED, "cannot reopen the copy on tier %s: "
		    "%s", tier_name(e, it->dst), strerror(-fd));
		posix_drop_tmp(e, it);
		item_close(it);
	}
	return fd;
}

/* Step 6: read the temporary file back past the page cache and compare. */
static int
phase_verify(struct batch *b, struct move_item *it)
{
	unsigned char h[JTS_HASH_LEN];
	bool direct;
	int fd, r;

	if ((fd = verify_open(b, it, &direct)) < 0)
		return 0;
	jts_fault_point("verify");
	r = copier_run(&b->e->cp, fd, -1, (uint64_t)it->pre.st_size, h, NULL);
	close(fd);
	verify_done(b, it, r, h);
	return 0;
}

/* Step 6 for up to COPY_SMALL_SLOTS small items at once. */
static int
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
	return 0;
}

/* Step 6: read the copies back O_DIRECT, small ones many at a time. */
void
posix_readback(struct batch *b, struct move_item **v, int n)
{
	int i, k = 0;

	/* Those read back during their copy: their hash is compared now. */
	for (i = 0; i < n; i++) {
		if (!v[i]->read_back) {
			v[k++] = v[i];
			continue;
		}
		jts_fault_point("verify");
		verify_done(b, v[i], 0, v[i]->rb_hash);
	}
	(void)batch_by_size(b, v, k, is_small, phase_verify,
	    phase_verify_many);
}

/* Step 7: source unchanged?  Then rename into place, never replacing. */
static void
place_one(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct stat st;
	char tmp[64];
	const char *base = rel_base(it->rel);
	int dfd;

	if (item_src_same(b, it) != 0)
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
		    !home_stands_in(dfd, tmp, &st)) {
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
	/* The copy's identity, what a rescan will compare. */
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode)) {
		it->copy_ino = st.st_ino;
		it->copy_ctime_ns = jts_ts_ns(&st.st_ctim);
		it->copy_blocks = (int64_t)st.st_blocks;
	}
	jts_fault_point("rename");
	return;
undo:
	posix_drop_tmp(e, it);
	item_close(it);
}

void
posix_place(struct batch *b, struct move_item **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		place_one(b, v[i]);
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
	posix_drop_tmp(e, it);
	return 0;
}

/*
 * Step 7, end: sync each destination directory once.  If that fails the
 * renames are not known durable: they are undone, the sources untouched;
 * a copy that cannot be taken back stays beside its source.
 */
void
posix_place_durable(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	struct dirset dd = { e, 0, 0, NULL };
	struct move_item *it;
	bool bad = false;
	int i, r;

	for (i = 0; i < n; i++) {
		it = v[i];
		if (!pending(it))
			continue;
		r = engine_dir(e, it->dst, it->rel, false, -1);
		if (r < 0 || dir_sync(&dd, r) != 0)
			bad = true;
	}
	if ((r = dirs_flush(&dd)) == 0 && !bad)
		return;
	for (i = 0; i < n; i++) {
		it = v[i];
		if (!pending(it))
			continue;
		if (unrename(e, it) == 0)
			item_fail(it, IT_FAILED, "cannot sync its directory on "
			    "tier %s (%s); the copy was taken back, the source "
			    "kept", tier_name(e, it->dst),
			    strerror(r < 0 ? -r : EIO));
		else
			item_fail(it, IT_CONFLICT, "cannot sync its directory "
			    "on tier %s; the source and the copy are both kept",
			    tier_name(e, it->dst));
		item_close(it);
	}
}

/* Make the home symlink on tier t point at target, if it is one;
 * idempotent. */
int
posix_relink(const struct release *rl, char *why, size_t len)
{
	struct engine *e = rl->e;
	struct dirset *ds = rl->ds;
	const char *rel = rl->rel, *target = rl->target;
	int64_t id = rl->id;
	int t = rl->t;
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
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT && rl->create && target != NULL) {
		/* Nothing was left here (the data was where no path leads):
		 * now that one does, what leave says, never over a name
		 * made meanwhile. */
		(void)unlinkat(dfd, lnk, 0);
		if (symlinkat(target, dfd, lnk) != 0 ||
		    renameat2(dfd, lnk, dfd, base, RENAME_NOREPLACE) != 0) {
			if (errno == EEXIST) {
				(void)unlinkat(dfd, lnk, 0);
				return 0;	/* a file made there: kept */
			}
			snprintf(why, len, "cannot put the symbolic link at "
			    "home on tier %s: %s", tier_name(e, t),
			    strerror(errno));
			(void)unlinkat(dfd, lnk, 0);
			return -1;
		}
		return dir_sync(ds, dfd);
	}
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
 * waits to write it.  A process whose open() for writing found the old
 * path before the swap waits on our lease and gets this very inode when we
 * let go: had it been unlinked, what that process writes would be lost.
 * So the lease is checked before and after the unlink, and the inode
 * linked back if a writer came; the file is then kept under the hidden
 * name, reported.  A reader that came keeps reading the old inode, whose
 * content is the verified one: no reason to keep it.
 */
static int
drop_old(struct engine *e, int t, int dfd, const char *old, int leasefd,
    char *why, size_t len)
{
	if (lease_lost_fd(leasefd)) {
		snprintf(why, len, "was opened for writing by another process "
		    "while it was released; the old file is kept as %s on tier "
		    "%s", old, tier_name(e, t));
		return -1;
	}
	if (unlinkat(dfd, old, 0) != 0) {
		snprintf(why, len, "cannot remove the source on tier %s: %s",
		    tier_name(e, t), strerror(errno));
		return -1;
	}
	if (lease_lost_fd(leasefd)) {
		if (linkat(leasefd, "", dfd, old, AT_EMPTY_PATH) == 0)
			snprintf(why, len, "was opened for writing by another "
			    "process while it was released; the old file is "
			    "kept as %s on tier %s", old, tier_name(e, t));
		else
			snprintf(why, len, "was opened for writing by another "
			    "process while it was released and could not be "
			    "kept: %s", strerror(errno));
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
	if (lease_take(fd) != 0) {
		close(fd);
		snprintf(why, len, "the old file %s on tier %s is open for "
		    "writing by another process; kept for now", old,
		    tier_name(e, t));
		return -1;
	}
	r = drop_old(e, t, dfd, old, fd, why, len);
	close(fd);
	return r;
}

/* Is name in dirfd the stub journal row id left? */
static bool
is_our_stub(int dirfd, const char *name, int64_t id)
{
	struct stub_info si;
	struct stat st;

	return stub_read_at(dirfd, name, &si, &st) == 1 && si.id == id;
}

/*
 * The stub of the source (rl->pre, still at its name) as the hidden name
 * lnk, watched before anyone can open it at the name it will take.
 */
static int
put_stub(const struct release *rl, int dfd, const char *lnk, char *why,
    size_t len)
{
	struct engine *e = rl->e;
	struct stub_info si;
	char w[256] = "";
	const char *what = "watch";
	struct stat st;
	int src = rl->leasefd, fd, r;

	if (stub_watch_hook == NULL) {
		snprintf(why, len, "leave = stub needs jts-tierd, which "
		    "watches stubs: the source on tier %s is kept",
		    tier_name(e, rl->t));
		return -1;
	}
	if (src < 0)
		src = tier_openat(&e->tiers[rl->t], dfd, rel_base(rl->rel),
		    O_RDONLY | O_NONBLOCK, 0);
	if (src < 0 || fstat(src, &st) != 0 || !S_ISREG(st.st_mode) ||
	    !ident_same(rl->pre, &st)) {
		snprintf(why, len, "source on tier %s was changed or replaced "
		    "during the move; both copies kept", tier_name(e, rl->t));
		if (src >= 0 && src != rl->leasefd)
			close(src);
		return -1;
	}
	si.id = rl->id;
	si.size = st.st_size;
	memcpy(si.hash, rl->stub_hash, JTS_HASH_LEN);
	fd = stub_make(dfd, lnk, src, &st, &si, e->tiers[rl->t].ops->fs_xattrs,
	    w, sizeof(w));
	if (fd < 0) {
		if (src != rl->leasefd)
			close(src);
		snprintf(why, len, "tier %s: %s; the source is kept",
		    tier_name(e, rl->t), w);
		return -1;
	}
	/* Watched first, while only root may open it; then the owner's. */

	r = stub_watch_hook(fd, dfd, rel_base(rl->rel), w, sizeof(w));
	if (r == 0) {
		what = "finish";
		r = stub_publish(fd, src, &st, e->tiers[rl->t].ops->fs_xattrs,
		    w, sizeof(w));
	}
	close(fd);
	if (src != rl->leasefd)
		close(src);
	if (r != 0) {
		(void)unlinkat(dfd, lnk, 0);
		snprintf(why, len, "cannot %s the stub on tier %s: %s; the "
		    "source is kept", what, tier_name(e, rl->t), w);
		return -1;
	}
	return 0;
}

/*
 * Step 8: release the source name rel on tier t, which must still be the
 * file pre: replace it by a symlink to target, or remove it when target
 * is NULL.  Idempotent, so recovery can call it again.
 * Returns 0, or -1 with why set: a conflict, both copies kept.
 */
int
posix_release(const struct release *rl, char *why, size_t len)
{
	struct engine *e = rl->e;
	struct dirset *ds = rl->ds;
	const struct ident *pre = rl->pre;
	const char *rel = rl->rel, *target = rl->target;
	int64_t id = rl->id;
	int t = rl->t, leasefd = rl->leasefd;
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
		if (S_ISLNK(st.st_mode) || is_our_stub(dfd, lnk, id))
			(void)unlinkat(dfd, lnk, 0);
	}
	if (ds == NULL && fstatat(dfd, rm, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_ino == ino) {
		if (drop_leftover(e, t, dfd, rm, pre, why, len) != 0)
			return -1;
		return dir_sync(ds, dfd);
	}
	/*
	 * Recovery looks first; a running move holds the read lease and has
	 * just checked the source, and the swap below is checked after.
	 */
	if (ds != NULL)
		goto swap;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISREG(st.st_mode) && st.st_ino != ino && rl->stub_hash != NULL &&
	    is_our_stub(dfd, base, id))
		return 0;	/* the stub is in place */
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
	if (rl->stub_hash != NULL || target != NULL) {
		/* The stub or the symlink, made beside, swapped with it. */
		if (rl->stub_hash != NULL) {
			if (put_stub(rl, dfd, lnk, why, len) != 0)
				return -1;
		} else if (symlinkat(target, dfd, lnk) != 0) {
			snprintf(why, len, "cannot put the symbolic link in "
			    "place on tier %s: %s", tier_name(e, t),
			    strerror(errno));
			return -1;
		}
		if (renameat2(dfd, lnk, dfd, base, RENAME_EXCHANGE) != 0) {
			snprintf(why, len, "cannot put the %s in place on tier "
			    "%s: %s", rl->stub_hash != NULL ? "stub" :
			    "symbolic link", tier_name(e, t), strerror(errno));
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
 * Step 8 on a local destination: a recall swapped the home symlink to the
 * temporary name; remove it (a batch only at home, recovery anywhere).
 */
int
posix_tidy(struct engine *e, int t, const char *rel, int64_t id, bool home,
    struct dirset *ds, char *why, size_t len)
{
	char tmp[64];
	struct stat st;
	int dfd;

	if (ds != NULL && !home)
		return 0;
	tmpname(tmp, sizeof(tmp), id, "tmp");
	dfd = engine_dir(e, t, rel, false, -1);
	if (dfd < 0 || fstatat(dfd, tmp, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !home_stands_in(dfd, tmp, &st))
		return 0;
	if (unlinkat(dfd, tmp, 0) != 0 && errno != ENOENT) {
		/* Left open: recovery removes it and finishes. */
		snprintf(why, len, "cannot remove the old symbolic link %s on "
		    "tier %s: %s", tmp, tier_name(e, t), strerror(errno));
		return -1;
	}
	(void)dir_sync(ds, dfd);
	return 0;
}

/* Recovery of a move never committed: its temporary goes. */
int
posix_undo_tmp(struct engine *e, int t, const char *rel, int64_t id,
    char *why, size_t len)
{
	char tmp[64];
	struct stat st;
	int dfd = engine_dir(e, t, rel, false, -1);

	(void)why;
	(void)len;
	tmpname(tmp, sizeof(tmp), id, "tmp");
	if (dfd < 0 || fstatat(dfd, tmp, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    S_ISDIR(st.st_mode))
		return 0;
	if (S_ISLNK(st.st_mode)) {
		/* A recall's swap half done: swap back. */
		(void)renameat2(dfd, tmp, dfd, rel_base(rel), RENAME_EXCHANGE);
		if (fstatat(dfd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			(void)unlinkat(dfd, tmp, 0);
	} else
		(void)unlinkat(dfd, tmp, 0);
	(void)fsync_dir(dfd);
	return 0;
}

/*
 * Recovery's hold on a source before it is released: a descriptor with
 * the read lease when it is still the file pre, -1 if nothing is there
 * to hold, -EBUSY if another process has it open.
 */
int
posix_hold_path(struct tier *t, const char *rel, const struct ident *pre)
{
	struct stat st;
	int fd = tier_openat(t, -1, rel, O_RDONLY | O_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && ident_same(pre, &st) &&
	    lease_take(fd) != 0) {
		close(fd);
		return -EBUSY;
	}
	return fd;
}

int
posix_drop_same(struct engine *e, int t, const char *rel, int64_t id,
    const unsigned char *hash, int64_t size, char *why, size_t len)
{
	unsigned char got[JTS_HASH_LEN];
	const char *base = rel_base(rel);
	char hidden[64];
	struct stat st, now;
	int dfd, fd, r;

	if ((dfd = engine_dir(e, t, rel, false, -1)) < 0)
		return dfd;
	fd = tier_openat(&e->tiers[t], dfd, base, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	r = 1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "%s on tier %s is not a regular file", base,
		    tier_name(e, t));
		goto out;
	}
	/* Nobody writes it from here on, or the lease says so. */
	if (fd >= MAX_FD || lease_take(fd) != 0) {
		snprintf(why, len, "%s on tier %s is open for writing by "
		    "another process", base, tier_name(e, t));
		goto out;
	}
	if (st.st_size != size || copier_run(&e->cp, fd, -1,
	    (uint64_t)size, got, NULL) != 0 || memcmp(got, hash,
	    JTS_HASH_LEN) != 0) {
		snprintf(why, len, "%s on tier %s differs from the verified "
		    "copy", base, tier_name(e, t));
		goto out;
	}
	tmpname(hidden, sizeof(hidden), id, "dup");
	if (jts_is_tmp_name(base))
		snprintf(hidden, sizeof(hidden), "%s", base);
	else if (renameat2(dfd, base, dfd, hidden, RENAME_NOREPLACE) != 0) {
		r = -errno;
		snprintf(why, len, "cannot rename %s on tier %s: %s", base,
		    tier_name(e, t), strerror(errno));
		goto out;
	}
	if (fstatat(dfd, hidden, &now, AT_SYMLINK_NOFOLLOW) != 0 ||
	    now.st_ino != st.st_ino) {
		if (strcmp(hidden, base) != 0)
			(void)renameat2(dfd, hidden, dfd, base,
			    RENAME_NOREPLACE);
		snprintf(why, len, "%s on tier %s was replaced meanwhile", base,
		    tier_name(e, t));
		goto out;
	}
	r = drop_old(e, t, dfd, hidden, fd, why, len) == 0 ? 0 : 1;
	(void)fsync_dir(dfd);
out:
	lease_forget(fd);
	close(fd);
	return r;
}

/* Remove the file rel (one of ours: a benchmark's). */
int
posix_drop(struct tier *t, const char *rel)
{
	int dfd = tier_open_parent(t, rel), r = 0;

	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, rel_base(rel), 0) != 0)
		r = -errno;
	close(dfd);
	return r;
}

const struct tier_ops tier_posix_ops = {
	.name = "posix",
	LOCAL_OPS,
};
