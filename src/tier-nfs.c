/*
 * tier-nfs.c - the cold tier: a NAS reached in userspace with libnfs
 *
 * The tier operations of kind nfs, over the client in tier-nfs-rpc.c and
 * tier-nfs-xfer.c.  The move's phases on a NAS: the copy written to an
 * exclusively created temporary name, many WRITEs (or, for small files,
 * many files) in flight, its attributes set, COMMITted, read back afresh
 * over NFS, then LINKed to its name (which never replaces anything) and
 * the temporary removed.  NFSv3 has no leases: a source on the NAS is
 * checked by inode, size and times before it is released.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine.h"
#include "move-int.h"
#include "tier-nfs.h"
#include "tier.h"
#include "util.h"

/* The connection of a tier of kind nfs. */
#define NT(t)	((struct nfs_tier *)(t)->conn)

/* Copies this small, in a batch, are written and read back many at a
 * time. */
static bool
nfs_small(const struct batch *b, const struct move_item *it)
{
	return !b->one && (uint64_t)it->pre.st_size < NFST_SMALL_MAX;
}

/* --- what every command asks of a NAS ----------------------------------- */

struct nfs_tier *
tier_nfs_conn(struct tier *t, bool *fresh)
{
	if (fresh != NULL)
		*fresh = NT(t) == NULL;
	if (NT(t) == NULL) {
		t->conn = xcalloc(1, sizeof(struct nfs_tier));
		if (nfst_connect(NT(t), t->tc->url, t->tc->timeout, t->loop) !=
		    0)
			return NULL;
		nfst_set_inflight(NT(t), t->tc->inflight);
	}
	return NT(t)->broken ? NULL : NT(t);
}

static int
nfs_space(struct tier *t, struct tier_space *sp)
{
	struct nfs_tier *nt = tier_nfs_conn(t, NULL);
	uint64_t total, freeb;
	int r;

	memset(sp, 0, sizeof(*sp));
	if (nt == NULL)
		return -EHOSTUNREACH;
	if ((r = nfst_fsstat(nt, &total, &freeb, &sp->avail)) != 0)
		return r;
	sp->used = total > freeb ? total - freeb : 0;
	sp->size = sp->used + sp->avail;
	return 0;
}

/* READ the regular file rel of size bytes, hashed (and written to wfd). */
static int
nfs_get_file(struct nfs_tier *nt, const char *rel, int64_t size, int wfd,
    unsigned char *out)
{
	struct nfsfh *fh;
	int r;

	if ((r = nfst_open_read(nt, rel, &fh)) != 0)
		return r;
	r = nfst_get(nt, fh, wfd, (uint64_t)size, out, NULL);
	(void)nfst_close_fh(nt, fh);
	return r;
}

static int
nfs_read_into(struct tier *t, struct copier *cp, const char *rel,
    int64_t size, int wfd, unsigned char *out)
{
	struct nfs_tier *nt = tier_nfs_conn(t, NULL);
	struct nfs_ident id;
	int r;

	(void)cp;
	if (nt == NULL)
		return -EHOSTUNREACH;
	if ((r = nfst_lstat(nt, rel, &id)) != 0)
		return r;
	if (!S_ISREG(id.mode))
		return -EFTYPE_NOTREG;
	if ((int64_t)id.size != size)
		return -ESTALE;
	return nfs_get_file(nt, rel, size, wfd, out);
}

static int
nfs_hash(struct tier *t, struct copier *cp, const char *rel, int64_t size,
    const struct stat *seen, unsigned char *out)
{
	struct nfs_tier *nt;

	/* A READ of a FIFO on the NAS does not block: a look just made
	 * is trusted. */
	if (seen == NULL)
		return nfs_read_into(t, cp, rel, size, -1, out);
	if ((nt = tier_nfs_conn(t, NULL)) == NULL)
		return -EHOSTUNREACH;
	if (!S_ISREG(seen->st_mode))
		return -EFTYPE_NOTREG;
	if ((int64_t)seen->st_size != size)
		return -ESTALE;
	return nfs_get_file(nt, rel, size, -1, out);
}

static void
nfs_tier_close(struct tier *t)
{
	if (NT(t) != NULL) {
		nfst_close(NT(t));
		free(NT(t));
		t->conn = NULL;
	}
}

/* The connection of the engine's tier t; NULL (said once) if none. */
static struct nfs_tier *
conn(struct engine *e, int t)
{
	struct tier *tr = &e->tiers[t];
	struct nfs_tier *nt;
	bool fresh;

	if ((nt = tier_nfs_conn(tr, &fresh)) == NULL && fresh)
		jts_err("tier %s: %s", tr->tc->name, NT(tr)->err);
	return nt;
}

/* Why an operation on nfs tier t failed, in words. */
static const char *
nfs_why(struct engine *e, int t, int r)
{
	struct nfs_tier *nt = NT(&e->tiers[t]);

	if (nt != NULL && r == -ECONNRESET && nt->restarted)
		return "the NAS restarted since the data was written; what it "
		    "had not committed may be lost";
	if (nt != NULL && nt->broken && nt->err[0] != '\0')
		return nt->err;
	if (nt == NULL || nt->broken)
		return "the NAS is not reachable";
	return strerror(-r);
}

static void
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

static int
nfs_lookup(struct tier *t, const char *rel, struct stat *st)
{
	struct nfs_tier *nt = tier_nfs_conn(t, NULL);
	struct nfs_ident id;
	int r;

	if (nt == NULL)
		return -EHOSTUNREACH;
	if ((r = nfst_lstat(nt, rel, &id)) != 0)
		return nt->broken ? -EHOSTUNREACH : r;
	pre_of_nfs(st, &id);
	return 0;
}

static const char *
nfs_unreachable(struct tier *t)
{
	if (tier_nfs_conn(t, NULL) != NULL)
		return NULL;
	return NT(t) != NULL && NT(t)->err[0] != '\0' ? NT(t)->err :
	    "the NAS is not reachable";
}

static int
nfs_drop(struct tier *t, const char *rel)
{
	struct nfs_tier *nt = tier_nfs_conn(t, NULL);

	return nt == NULL ? -EHOSTUNREACH : nfst_unlink(nt, rel);
}

static bool
nfs_reset(struct tier *t)
{
	if (NT(t) == NULL || !NT(t)->broken)
		return false;
	nfst_close(NT(t));
	free(NT(t));
	t->conn = NULL;
	return true;
}

/* Write, COMMIT, read back and remove a file: what the NAS does. */
static int
nfs_probe(struct tier *t, int src, uint64_t size, const char *rel,
    int64_t *write_ns, int64_t *read_ns, char *why, size_t len)
{
	struct nfs_tier *nt = tier_nfs_conn(t, NULL);
	unsigned char h1[JTS_HASH_LEN], h2[JTS_HASH_LEN];
	struct nfsfh *fh = NULL;
	struct copy_opts co;
	int64_t t0;
	int r;

	if (nt == NULL) {
		snprintf(why, len, "%s", nfs_unreachable(t));
		return -EHOSTUNREACH;
	}
	memset(&co, 0, sizeof(co));
	co.stop_flag = &stop_requested;
	t0 = jts_mono_ns();
	r = nfst_create(nt, rel, 0600, &fh);
	if (r == 0)
		r = nfst_put(nt, fh, src, size, h1, &co);
	if (r == 0)
		r = nfst_commit(nt, fh);
	if (fh != NULL)
		(void)nfst_close_fh(nt, fh);
	fh = NULL;
	*write_ns = jts_mono_ns() - t0;
	if (r != 0) {
		snprintf(why, len, "cannot write and COMMIT %s: %s", rel,
		    nt->err[0] ? nt->err : strerror(-r));
		goto out;
	}
	t0 = jts_mono_ns();
	r = nfst_open_read(nt, rel, &fh);
	if (r == 0)
		r = nfst_get(nt, fh, -1, size, h2, &co);
	if (fh != NULL)
		(void)nfst_close_fh(nt, fh);
	*read_ns = jts_mono_ns() - t0;
	if (r != 0)
		snprintf(why, len, "cannot read %s back: %s", rel,
		    nt->err[0] ? nt->err : strerror(-r));
	else if (memcmp(h1, h2, sizeof(h1)) != 0) {
		snprintf(why, len, "%s read back differs from what was written "
		    "and committed", rel);
		r = -EIO;
	}
out:
	(void)nfst_unlink(nt, rel);
	return r;
}

/* --- the move's phases on a NAS ------------------------------------------ */

/* Steps 1-2 for a source on a NAS: what it is, and that it moves. */
static void
nfs_src_prepare(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = conn(e, it->src);
	struct nfs_ident id;
	int r;

	if (nt == NULL) {
		item_fail(it, IT_FAILED, "tier %s: %s", tier_name(e, it->src),
		    nfs_why(e, it->src, -EIO));
		return;
	}
	if ((r = nfst_lstat(nt, it->rel, &id)) != 0) {
		item_fail(it, IT_FAILED, "cannot look at it on tier %s: %s",
		    tier_name(e, it->src), nfs_why(e, it->src, r));
		return;
	}
	if (!S_ISREG(id.mode)) {
		item_fail(it, IT_FAILED, "is %s on tier %s; only regular files "
		    "move", kind_word(id.mode), tier_name(e, it->src));
		return;
	}
	if (id.nlink > 1 && (int)id.nlink != it->links) {
		item_fail(it, IT_FAILED, "has %u hard links on tier %s%s",
		    id.nlink, tier_name(e, it->src), it->links == 0 ?
		    "; it moves only with all of them (name a tree that holds "
		    "them all)" : ", not the names catalogued with it; left "
		    "in place");
		return;
	}
	pre_of_nfs(&it->pre, &id);
	/* The owner the NAS may not have kept is in the catalog. */
	if (it->tracked) {
		it->pre.st_uid = it->cat_uid;
		it->pre.st_gid = it->cat_gid;
	}
}

/* Step 2 on a NAS: its directory, no file there. */
static void
nfs_dst_prepare(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = conn(e, it->dst);
	struct nfs_ident id;
	char *dir;
	int r;

	if (nt == NULL) {
		item_fail(it, IT_FAILED, "tier %s: %s", tier_name(e, it->dst),
		    nfs_why(e, it->dst, -EIO));
		return;
	}
	/* The source's file system's own settings are not its data. */
	if (it->fd >= 0 && jts_xattr_count(it->fd,
	    e->tiers[it->src].ops->fs_xattrs) != 0) {
		item_fail(it, IT_FAILED, "has extended attributes or ACLs, "
		    "which nfs tier %s cannot keep; not moved",
		    tier_name(e, it->dst));
		return;
	}
	dir = strndup(it->rel, (size_t)(rel_base(it->rel) - it->rel));
	if (*dir && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	r = nfst_mkdirs(nt, dir, 0755);
	free(dir);
	if (r != 0) {
		item_fail(it, IT_FAILED, "cannot make its directory on tier "
		    "%s: %s", tier_name(e, it->dst), nfs_why(e, it->dst, r));
		return;
	}
	r = nfst_lstat(nt, it->rel, &id);
	if (r == 0) {
		item_fail(it, IT_FAILED, "already exists on tier %s; not "
		    "overwritten", tier_name(e, it->dst));
		return;
	}
	if (r != -ENOENT)
		item_fail(it, IT_FAILED, "cannot look at tier %s: %s",
		    tier_name(e, it->dst), nfs_why(e, it->dst, r));
}

static void
nfs_drop_tmp(struct engine *e, struct move_item *it)
{
	struct nfs_tier *nt = conn(e, it->dst);
	char rtmp[PATH_MAX];

	/*
	 * If the NAS does not answer, the journal row stays open and
	 * recovery removes the temporary when it is back.
	 */
	tmp_rel(rtmp, sizeof(rtmp), it->rel, it->jid, "tmp");
	if (nt == NULL || (nfst_unlink(nt, rtmp) == -EIO && nt->broken))
		it->tmp_left = true;
}

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
	struct nfs_tier *nt = conn(e, v[0]->dst);
	struct nfsfh **fhs = xcalloc((size_t)n, sizeof(*fhs));
	int *err = xcalloc((size_t)n, sizeof(*err));
	int i, k = 0, r, live = 0;

	for (i = 0; i < n; i++)
		if (v[i]->handle != NULL)
			fhs[k++] = v[i]->handle;
	jts_pause_point("commit");
	r = nt == NULL ? -EIO : nfst_commit_many(nt, fhs, k, err);
	if (r == 0)
		r = jts_fault_errno("fsync");
	for (i = 0, k = 0; i < n; i++) {
		struct move_item *it = v[i];
		int ir;

		if (it->handle == NULL)
			continue;
		ir = r != 0 ? r : err[k];
		k++;
		if (nt != NULL)
			(void)nfst_close_fh(nt, it->handle);
		it->handle = NULL;
		if (ir != 0) {
			item_fail(it, IT_FAILED, "COMMIT on tier %s failed: "
			    "%s%s", tier_name(e, it->dst), nfs_why(e, it->dst,
			    ir), ir == -ENOSPC || ir == -EDQUOT ?
			    "; the export is full" : "");
			nfs_drop_tmp(e, it);
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
phase_copy_nfs_out(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = conn(e, it->dst);
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
		nfs_drop_tmp(e, it);
		item_close(it);
		return 0;
	}
	copy_opts_of(b, it, &co);
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
	it->handle = fh;	/* COMMITted by nfs_durable */
	return 1;
undo:
	nfs_drop_tmp(e, it);
	item_close(it);
	return 0;
}

/* Steps 5 to an nfs tier for n small files: many in flight at once. */
static int
phase_copy_nfs_out_many(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = conn(e, v[0]->dst);
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
		(void)nfst_put_many(nt, job, n, batch_pace(b));
	for (i = 0; i < n; i++) {
		struct move_item *it = v[i];
		int r = job[i].err;

		memcpy(it->hash, job[i].hash, JTS_HASH_LEN);
		if (r == 0 && lease_lost_fd(it->fd))
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
			nfs_drop_tmp(e, it);
			item_close(it);
		} else {
			it->handle = job[i].fh;
			progress_bytes(b->pg, job[i].size);
			live++;
		}
		free((char *)job[i].rel);
	}
	free(job);
	return live;
}

/* Step 6 on an nfs tier: read the temporary back over NFS and compare. */
static int
phase_verify_nfs(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = conn(e, it->dst);
	unsigned char h[JTS_HASH_LEN];
	struct nfsfh *fh = NULL;
	char tmp[PATH_MAX];
	int r;

	tmp_rel(tmp, sizeof(tmp), it->rel, it->jid, "tmp");
	r = nt == NULL ? -EIO : nfst_open_read(nt, tmp, &fh);
	if (r != 0) {
		item_fail(it, IT_FAILED, "cannot reopen the copy on tier %s: "
		    "%s", tier_name(e, it->dst), nfs_why(e, it->dst, r));
		nfs_drop_tmp(e, it);
		item_close(it);
		return 0;
	}
	jts_fault_point("verify");
	r = nfst_get(nt, fh, -1, (uint64_t)it->pre.st_size, h, NULL);
	(void)nfst_close_fh(nt, fh);
	if (r == -EIO && nt->broken) {
		item_fail(it, IT_FAILED, "reading the copy back on tier %s "
		    "failed: %s", tier_name(e, it->dst), nfs_why(e, it->dst,
		    r));
		nfs_drop_tmp(e, it);
		item_close(it);
		return 0;
	}
	verify_done(b, it, r, h);
	return 0;
}

/* Step 6 on an nfs tier for small copies: read n back at once. */
static int
phase_verify_nfs_many(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = conn(e, v[0]->dst);
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
			nfs_drop_tmp(e, v[i]);
			item_close(v[i]);
		} else
			verify_done(b, v[i], err[i], h[i]);
		free((char *)tmp[i]);
	}
	free(h);
	free(tmp);
	free(size);
	free(err);
	return 0;
}

/* Step 5 to a NAS: small files many at a time, the others one by one. */
static int
nfs_copy(struct batch *b, struct move_item **v, int n)
{
	return batch_by_size(b, v, n, nfs_small, phase_copy_nfs_out,
	    phase_copy_nfs_out_many);
}

/* Step 5, end: one COMMIT per copy, all in flight at once. */
static int
nfs_durable(struct batch *b, struct move_item **v, int n)
{
	return n > 0 ? phase_commit_nfs(b, v, n) : 0;
}

/* Step 6: read the copies back over NFS, small ones many at a time. */
static void
nfs_readback(struct batch *b, struct move_item **v, int n)
{
	(void)batch_by_size(b, v, n, nfs_small, phase_verify_nfs,
	    phase_verify_nfs_many);
}

/*
 * Step 5 from a NAS: READs, several in flight, into the local temporary
 * wfd (the destination's), hashed.
 */
static int
nfs_fetch(struct batch *b, struct move_item *it, int wfd, const char **why)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = conn(e, it->src);
	struct copy_opts co;
	struct nfsfh *fh = NULL;
	int r;

	r = nt == NULL ? -EIO : nfst_open_read(nt, it->rel, &fh);
	if (r != 0) {
		item_fail(it, IT_FAILED, "cannot open on tier %s: %s",
		    tier_name(e, it->src), nfs_why(e, it->src, r));
		return r;
	}
	batch_copy_opts(b, &co);
	co.stop_flag = &stop_requested;
	jts_fault_point("copy");
	jts_pause_point("copy");
	r = nfst_get(nt, fh, wfd, (uint64_t)it->pre.st_size, it->hash, &co);
	(void)nfst_close_fh(nt, fh);
	*why = r == -EIO ? nfs_why(e, it->src, r) : NULL;
	return r;
}

/* Is the source on nfs still what it was when the move began? */
static int
src_same_at(struct engine *e, int t, const char *rel, const struct ident *pre,
    char *why, size_t len)
{
	struct nfs_tier *nt = conn(e, t);
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
	    (!pre->linked && id.ctime_ns != pre->ctime_ns)) {
		snprintf(why, len, "source on tier %s was changed during the "
		    "move; both copies kept", tier_name(e, t));
		return -ESTALE;
	}
	return 0;
}

/* Step 7's check of a source on a NAS, by inode, size and times. */
static int
nfs_src_same(struct batch *b, struct move_item *it)
{
	return src_same_by(b, it, src_same_at);
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

/* Step 5 for a name of a set of hard links: LINK to the lead's copy. */
static int
nfs_link(struct batch *b, struct move_item *lead, struct move_item *it)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = conn(e, it->dst);
	char from[PATH_MAX], to[PATH_MAX];
	int r;

	tmp_rel(from, sizeof(from), lead->rel, lead->jid, "tmp");
	tmp_rel(to, sizeof(to), it->rel, it->jid, "tmp");
	r = nt == NULL ? -EIO : nfst_link(nt, from, to);
	if (r != 0 && !(nt != NULL && linked_anyway(nt, from, to))) {
		item_fail(it, IT_FAILED, "cannot link it to %s on tier %s: %s",
		    jts_quote(lead->rel), tier_name(e, it->dst),
		    nfs_why(e, it->dst, r));
		nfs_drop_tmp(e, it);
		item_close(it);
		return -1;
	}
	return 0;
}

/*
 * Step 7 on a NAS, for the batch: each source unchanged?  Then LINK
 * each temporary to its name (which fails if the name exists: nothing is
 * ever replaced), many in flight, then drop the temporaries.
 */
static void
nfs_place(struct batch *b, struct move_item **items, int nitems)
{
	struct engine *e = b->e;
	struct nfs_tier *nt = conn(e, items[0]->dst);
	struct move_item **v = xcalloc((size_t)nitems, sizeof(*v));
	const char **tmp = xcalloc((size_t)nitems, sizeof(*tmp));
	const char **name = xcalloc((size_t)nitems, sizeof(*name));
	int *err = xcalloc((size_t)nitems, sizeof(*err));
	char buf[PATH_MAX];
	int i, n = 0;

	for (i = 0; i < nitems; i++) {
		struct move_item *it = items[i];

		if (!pending(it))
			continue;
		if (item_src_same(b, it) != 0) {
			nfs_drop_tmp(e, it);
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
		nfs_drop_tmp(e, v[i]);
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

/*
 * Step 8 for a source on a NAS (a recall): rename it to a hidden
 * name, check it is still the file that was copied, remove it.  NFSv3
 * has no leases: a change made on the NAS between the check and the
 * rename is caught by the inode and time check after it.
 */
static int
nfs_release(const struct release *rl, char *why, size_t len)
{
	struct engine *e = rl->e;
	const struct ident *pre = rl->pre;
	const char *rel = rl->rel;
	bool recovery = rl->ds == NULL;
	int64_t id = rl->id;
	int t = rl->t;
	struct nfs_tier *nt = conn(e, t);
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
	r = src_same_at(e, t, rel, pre, why, len);
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

static int
nfs_drop_same(struct engine *e, int t, const char *rel, int64_t id,
    const unsigned char *hash, int64_t size, char *why, size_t len)
{
	struct nfs_tier *nt = conn(e, t);
	unsigned char got[JTS_HASH_LEN];
	struct nfs_ident a, b;
	struct stat st;
	char hidden[PATH_MAX];
	int r;

	if (nt == NULL)
		return -EHOSTUNREACH;
	if ((r = nfst_lstat(nt, rel, &a)) != 0)
		return r;
	pre_of_nfs(&st, &a);
	r = nfs_hash(&e->tiers[t], &e->cp, rel, size, &st, got);
	if (r == -ESTALE || r == -EFTYPE_NOTREG ||
	    (r == 0 && memcmp(got, hash, JTS_HASH_LEN) != 0)) {
		snprintf(why, len, "%s on tier %s differs from the verified "
		    "copy", rel, tier_name(e, t));
		return 1;
	}
	if (r != 0)
		return r;
	/* No leases on NFSv3: the inode and times, checked after the
	 * rename, tell a file changed meanwhile. */
	if (jts_is_tmp_name(rel_base(rel)))
		snprintf(hidden, sizeof(hidden), "%s", rel);
	else {
		tmp_rel(hidden, sizeof(hidden), rel, id, "dup");
		if ((r = nfst_rename(nt, rel, hidden)) != 0)
			return r;
	}
	if (nfst_lstat(nt, hidden, &b) != 0 || b.ino != a.ino ||
	    b.mtime_ns != a.mtime_ns || b.size != a.size) {
		if (strcmp(hidden, rel) != 0)
			(void)nfst_rename(nt, hidden, rel);
		snprintf(why, len, "%s on tier %s was changed meanwhile", rel,
		    tier_name(e, t));
		return 1;
	}
	return nfst_unlink(nt, hidden);
}

/* Recovery: a temporary left between LINK and its removal goes. */
static int
nfs_tidy(struct engine *e, int t, const char *rel, int64_t id, bool home,
    struct dirset *ds, char *why, size_t len)
{
	struct nfs_tier *nt;
	char tmp[PATH_MAX];

	(void)home;
	(void)why;
	(void)len;
	if (ds != NULL || (nt = conn(e, t)) == NULL)
		return 0;
	tmp_rel(tmp, sizeof(tmp), rel, id, "tmp");
	(void)nfst_unlink(nt, tmp);
	return 0;
}

/* Recovery of a move never committed: its temporary goes. */
static int
nfs_undo_tmp(struct engine *e, int t, const char *rel, int64_t id, char *why,
    size_t len)
{
	struct nfs_tier *nt = conn(e, t);
	char tmp[PATH_MAX];
	int r;

	tmp_rel(tmp, sizeof(tmp), rel, id, "tmp");
	r = nt == NULL ? -EIO : nfst_unlink(nt, tmp);
	if (r != 0 && r != -ENOENT) {
		snprintf(why, len, "%s", nfs_why(e, t, r));
		return r;
	}
	return 0;
}

/*
 * A NAS: no leases, no extended attributes, no directory to sync (NFSv3
 * servers make CREATE, LINK and REMOVE durable before they answer), one
 * connection, and no local path to its files.
 */
const struct tier_ops tier_nfs_ops = {
	.name = "nfs",
	.caps = 0,
	.space = nfs_space,
	.hash = nfs_hash,
	.read_into = nfs_read_into,
	.lookup = nfs_lookup,
	.unreachable = nfs_unreachable,
	.probe = nfs_probe,
	.probe_write = "writes over libnfs, with COMMIT",
	.probe_read = "reads over libnfs",
	.drop = nfs_drop,
	.reset = nfs_reset,
	.close = nfs_tier_close,
	.src_prepare = nfs_src_prepare,
	.src_same = nfs_src_same,
	.fetch = nfs_fetch,
	.dst_prepare = nfs_dst_prepare,
	.copy = nfs_copy,
	.durable = nfs_durable,
	.readback = nfs_readback,
	.link = nfs_link,
	.place = nfs_place,
	.drop_tmp = nfs_drop_tmp,
	.undo_tmp = nfs_undo_tmp,
	.tidy = nfs_tidy,
	.release = nfs_release,
	.drop_same = nfs_drop_same,
};
