/*
 * stub-fill.c - a stub's recall in place: the data of its catalogued copy
 * is written into the stub itself (its inode stays, so descriptors open on
 * it stay valid), read back from the device and compared, then the stub
 * becomes the file and the copy is released, under a journal row (op
 * "fill") like every move.
 *
 * The order makes every crash safe: until the data is verified the file
 * keeps its stub mark (a later read fills it again); the mark goes only
 * after the row says verified, so a file without it at its home path is
 * whole, and recovery commits it (recover.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "catalog.h"
#include "copy.h"
#include "engine.h"
#include "move-int.h"
#include "stub.h"
#include "tier.h"
#include "util.h"

/* Read fd back from the device (its pages dropped first) into out. */
static int
read_back(struct engine *e, int fd, int64_t size, unsigned char *out)
{
	if (fdatasync(fd) != 0)
		return -errno;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	(void)e;
	return jts_copy_plain(fd, -1, size, out);
}

/*
 * The stub's data was replaced (opened with O_TRUNC, which raises no
 * event, then perhaps written): it stops being a stub.  Its old data
 * stays where it is, under a conflict row for the operator (check names
 * it; recovery closes the row once that copy is removed); the catalog has
 * the file at home, with the user's data; then the mark goes.  Never is
 * the old data recalled over the new.  0 (let the caller through), or
 * -EIO with why set.
 */
static int
stub_overwritten(struct engine *e, int fd, const char *rel,
    const struct stub_info *si, const struct stat *st, int src, int home,
    char *why, size_t len)
{
	struct cat_journal j;
	struct cat_file f;
	struct stat cst;
	char msg[512];

	memset(&cst, 0, sizeof(cst));
	(void)tier_lookup(&e->tiers[src], rel, &cst);
	snprintf(msg, sizeof(msg), "the stub at its home path was overwritten "
	    "(opened with O_TRUNC): the user's data is at home; the old data "
	    "stays on tier %s until it is removed there", tier_name(e, src));
	memset(&j, 0, sizeof(j));
	j.path = (char *)rel;
	snprintf(j.op, sizeof(j.op), "fill");
	snprintf(j.src, sizeof(j.src), "%s", tier_name(e, src));
	snprintf(j.dst, sizeof(j.dst), "%s", tier_name(e, home));
	snprintf(j.home, sizeof(j.home), "%s", tier_name(e, home));
	snprintf(j.leave, sizeof(j.leave), "remove");
	j.state = JS_CONFLICT;
	j.tmp = "";
	j.pre_size = si->size;
	j.pre_mtime_ns = jts_ts_ns(&cst.st_mtim);
	j.pre_ctime_ns = jts_ts_ns(&cst.st_ctim);
	j.pre_ino = (int64_t)cst.st_ino;
	cat_file_of_stat(&f, rel, tier_name(e, home), tier_name(e, home), st);
	if (catalog_begin(&e->cat) != 0 ||
	    catalog_journal_add(&e->cat, &j) != 0 ||
	    catalog_journal_set(&e->cat, j.id, JS_CONFLICT, si->hash, msg) !=
	    0 || catalog_file_put(&e->cat, &f) != 0 ||
	    catalog_commit(&e->cat) != 0) {
		catalog_rollback(&e->cat);
		snprintf(why, len, "overwritten, and the catalog is not "
		    "writable");
		return -EIO;
	}
	if (fremovexattr(fd, STUB_XATTR) != 0 || fsync(fd) != 0) {
		snprintf(why, len, "overwritten; cannot remove its stub mark: "
		    "%s", strerror(errno));
		return -EIO;
	}
	jts_notice("%s: %s", jts_quote(rel), msg);
	why[0] = '\0';
	return 0;
}

int
stub_fill(struct engine *e, int fd, const char *rel, int64_t *bytes,
    char *why, size_t len)
{
	struct stub_info si;
	struct cat_file f;
	struct cat_journal j;
	struct stat st, cst;
	struct ident pre;
	struct timespec ts[2];
	unsigned char h[JTS_HASH_LEN];
	int src, home, r, lfd;
	int64_t cat_ino;
	const char *what;
	struct tier *S;

	*bytes = 0;
	/* A connection that broke (a NAS that stopped) is tried afresh. */
	(void)engine_tiers_reset(e);
	if ((r = stub_read_fd(fd, &si)) != 1) {
		snprintf(why, len, "%s", r == 0 ? "not a stub" :
		    "its stub mark cannot be read");
		return r == 0 ? 0 : -EIO;
	}
	r = catalog_file_get(&e->cat, rel, &f);
	if (r <= 0) {
		snprintf(why, len, "%s", r == 0 ? "the catalog has no entry "
		    "for it (a stub moved or copied away from its path?)" :
		    "the catalog cannot be read");
		return -EIO;
	}
	src = conf_tier_index(e->conf, f.tier);
	home = conf_tier_index(e->conf, f.home);
	/* Overwritten, and the catalog has the user's data at home (the
	 * mark's removal did not happen): it goes now. */
	if (src >= 0 && src == home && fstat(fd, &st) == 0 &&
	    st.st_size != si.size && f.size == st.st_size) {
		cat_file_free(&f);
		if (fremovexattr(fd, STUB_XATTR) != 0 || fsync(fd) != 0) {
			snprintf(why, len, "cannot remove its stub mark: %s",
			    strerror(errno));
			return -EIO;
		}
		return 0;
	}
	if (src < 0 || home < 0 || src == home || !f.has_hash ||
	    f.size != si.size || memcmp(f.hash, si.hash, JTS_HASH_LEN) != 0) {
		snprintf(why, len, "the catalog's entry (tier %s, %" PRId64
		    " bytes) is not the data this stub stands for", f.tier,
		    f.size);
		cat_file_free(&f);
		return -EIO;
	}
	cat_ino = f.ino;
	cat_file_free(&f);
	S = &e->tiers[src];
	if (fstat(fd, &st) != 0) {
		snprintf(why, len, "%s", strerror(errno));
		return -EIO;
	}
	/* Only O_TRUNC changes a marked file's size unasked (a truncate
	 * or a write past its end raises an event and is filled first). */
	if (st.st_size != si.size)
		return stub_overwritten(e, fd, rel, &si, &st, src, home, why,
		    len);
	r = tier_lookup(S, rel, &cst);
	/* A connection that broke since its last use (a NAS restarted
	 * between recalls) is tried afresh, once. */
	if (r == -EHOSTUNREACH && engine_tiers_reset(e) > 0)
		r = tier_lookup(S, rel, &cst);
	if (r != 0) {
		snprintf(why, len, "its data on tier %s cannot be found: %s",
		    S->tc->name, r == -EHOSTUNREACH ? "the tier does not "
		    "answer" : strerror(-r));
		return -EIO;
	}
	/*
	 * The copy the catalog names, not whatever is at its path: on a
	 * local tier, its inode (a user who owns the directory could have
	 * put a link to another file of that size there).
	 */
	if (!S_ISREG(cst.st_mode) || cst.st_size != si.size ||
	    (tier_has(S, TIER_CAP_LOCAL) && (int64_t)cst.st_ino != cat_ino)) {
		snprintf(why, len, "what is at its path on tier %s is not the "
		    "copy catalogued (%s); nothing read", S->tc->name,
		    !S_ISREG(cst.st_mode) ? "not a regular file" :
		    cst.st_size != si.size ? "another size" :
		    "another file");
		return -EIO;
	}
	/*
	 * The home tier's room: a recall keeps the reserve and the tier's
	 * high watermark, as every move does; a backup reading a tree of
	 * stubs gets ENOSPC for what does not fit, never a full tier.
	 */
	{
		struct tier *H = &e->tiers[home];
		struct tier_space sp;
		uint64_t need = (uint64_t)si.size + e->conf->reserve;

		if (tier_space(H, &sp) == 0 && sp.size > 0 &&
		    (sp.avail < need || (H->tc->high > 0 &&
		    (sp.used + (uint64_t)si.size) * 100 >
		    sp.size * (uint64_t)H->tc->high))) {
			snprintf(why, len, "tier %s has no room for it: %"
			    PRId64 " bytes, %" PRIu64 " free, a reserve of %"
			    PRIu64 " and a high watermark of %d%% kept",
			    H->tc->name, si.size, sp.avail, e->conf->reserve,
			    H->tc->high);
			return -ENOSPC;
		}
	}
	/* The journal row: the copy's identity, the hash it must have. */
	memset(&j, 0, sizeof(j));
	j.path = (char *)rel;
	snprintf(j.op, sizeof(j.op), "fill");
	snprintf(j.src, sizeof(j.src), "%s", S->tc->name);
	snprintf(j.dst, sizeof(j.dst), "%s", e->tiers[home].tc->name);
	snprintf(j.home, sizeof(j.home), "%s", e->tiers[home].tc->name);
	snprintf(j.leave, sizeof(j.leave), "remove");
	j.state = JS_COPYING;
	j.tmp = "";
	j.pre_size = cst.st_size;
	j.pre_mtime_ns = jts_ts_ns(&cst.st_mtim);
	j.pre_ctime_ns = jts_ts_ns(&cst.st_ctim);
	j.pre_ino = (int64_t)cst.st_ino;
	if (catalog_begin(&e->cat) != 0 ||
	    catalog_journal_add(&e->cat, &j) != 0 ||
	    catalog_commit(&e->cat) != 0) {
		catalog_rollback(&e->cat);
		snprintf(why, len, "the catalog is not writable");
		return -EIO;
	}
	jts_fault_point("fill");
	jts_pause_point("fill");
	what = "reading its data on tier";
	r = tier_read_into(S, &e->cp, rel, si.size, fd, h);
	if (r == 0 && memcmp(h, si.hash, JTS_HASH_LEN) != 0)
		r = -EBADMSG;
	if (r == 0) {
		what = "reading the stub back after writing it from tier";
		r = read_back(e, fd, si.size, h);
	}
	if (r == 0 && memcmp(h, si.hash, JTS_HASH_LEN) != 0)
		r = -EBADE;
	if (r != 0) {
		snprintf(why, len, "%s %s: %s", what, S->tc->name,
		    r == -EBADMSG ? "it differs from the hash catalogued" :
		    r == -EBADE ? "what was written did not read back the "
		    "same" : r == -EHOSTUNREACH ? "the tier does not answer" :
		    strerror(-r));
		(void)catalog_journal_set(&e->cat, j.id, JS_ABORTED, NULL, why);
		/* Nothing of a recall that failed stays in the stub. */
		if (stub_reset(fd, si.size, &st.st_mtim) != 0)
			jts_warn("%s: cannot punch back what a failed recall "
			    "wrote: %s", jts_quote(rel), strerror(errno));
		return -EIO;
	}
	*bytes = si.size;
	/* Verified: from here a file without its mark is whole. */
	if (catalog_journal_set(&e->cat, j.id, JS_VERIFIED, si.hash, NULL) !=
	    0) {
		snprintf(why, len, "the catalog is not writable");
		return -EIO;
	}
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = st.st_mtim;
	if (futimens(fd, ts) != 0 || fremovexattr(fd, STUB_XATTR) != 0 ||
	    fsync(fd) != 0 || fstat(fd, &st) != 0) {
		snprintf(why, len, "cannot make the stub the file: %s",
		    strerror(errno));
		return -EIO;
	}
	jts_fault_point("fill-commit");
	/* A recall of the path that took the stub's name meanwhile wins. */
	{
		struct stat at;
		int dfd = engine_dir(e, home, rel, false, -1);

		if (dfd < 0 || fstatat(dfd, rel_base(rel), &at,
		    AT_SYMLINK_NOFOLLOW) != 0 || at.st_ino != st.st_ino ||
		    at.st_dev != st.st_dev) {
			(void)catalog_journal_set(&e->cat, j.id, JS_ABORTED,
			    NULL, "the stub left its path during the recall");
			jts_notice("%s: recalled into a stub that left its path "
			    "meanwhile; its readers have the data", jts_quote(rel));
			why[0] = '\0';
			return 0;
		}
	}
	cat_file_of_stat(&f, rel, e->tiers[home].tc->name,
	    e->tiers[home].tc->name, &st);
	f.has_hash = true;
	memcpy(f.hash, si.hash, JTS_HASH_LEN);
	f.verified_ns = f.moved_ns = jts_now_ns();
	if (catalog_begin(&e->cat) != 0 || catalog_file_put(&e->cat, &f) != 0 ||
	    catalog_journal_set(&e->cat, j.id, JS_COMMITTED, NULL, NULL) != 0 ||
	    catalog_commit(&e->cat) != 0) {
		catalog_rollback(&e->cat);
		/* Whole and verified: recovery commits it. */
		jts_warn("%s: recalled, but the catalog could not record it: "
		    "recovery will", jts_quote(rel));
		return 0;
	}
	/* The copy on the tier goes, as after any recall. */
	ident_of_journal(&pre, &j);
	lfd = S->ops->hold_path != NULL ? S->ops->hold_path(S, rel, &pre) : -1;
	if (lfd == -EBUSY || finish_item(e, src, home, home, rel, &pre,
	    LEAVE_REMOVE, NULL, j.id, lfd, NULL, why, len) != 0) {
		jts_warn("%s: recalled; the copy on tier %s stays for now: %s",
		    jts_quote(rel), S->tc->name, lfd == -EBUSY ? "it is open "
		    "for writing" : why);
		(void)catalog_journal_set(&e->cat, j.id, JS_COMMITTED, NULL,
		    NULL);
	} else
		(void)catalog_journal_set(&e->cat, j.id, JS_DONE, NULL, NULL);
	if (lfd >= 0)
		close(lfd);
	why[0] = '\0';
	return 0;
}
