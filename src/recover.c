/* recover.c - recovery: every unfinished journal row is finished or
 * undone, idempotently; conflicts are kept for the operator to settle */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "move-int.h"
#include "stub.h"
#include "util.h"

/* --- recovery ----------------------------------------------------------- */

/* Is the regular file at rel on tier t the copy with hash h? */
static bool
copy_matches(struct engine *e, int t, const char *rel, int64_t size,
    const unsigned char *h)
{
	unsigned char got[JTS_HASH_LEN];

	if (tier_unreachable(&e->tiers[t]) != NULL)
		return false;	/* said, with the reason */
	return tier_hash(&e->tiers[t], &e->cp, rel, size, NULL, got) == 0 &&
	    memcmp(got, h, JTS_HASH_LEN) == 0;
}

/*
 * What is at rel on tier t: 0 a regular file (st filled), -ENOENT
 * nothing (its directory gone too), 1 something else, or another -errno
 * when it cannot be told.
 */
static int
what_is_at(struct engine *e, int t, const char *rel, struct stat *st)
{
	int r = tier_lookup(&e->tiers[t], rel, st);

	if (r != 0)
		return r;
	return S_ISREG(st->st_mode) ? 0 : 1;
}

/*
 * The copy of a move is gone from tier dst and the source, the regular
 * file st, is still on tier src: the source is the data again.  The
 * catalog says so (with the hash when the source is the file that was
 * hashed) and the row is closed.  Nothing on disk is touched.
 */
static int
settle_to_source(struct engine *e, struct cat_journal *j, const struct stat *st,
    const char *why)
{
	struct cat_file f;
	struct ident pre;

	ident_of_journal(&pre, j);
	cat_file_of_stat(&f, j->path, j->src, j->home, st);
	f.links = j->links;
	if (j->has_hash && ident_same(&pre, st)) {
		f.has_hash = true;
		memcpy(f.hash, j->hash, JTS_HASH_LEN);
	}
	if (catalog_begin(&e->cat) != 0 || catalog_file_put(&e->cat, &f) != 0 ||
	    catalog_journal_set(&e->cat, j->id, JS_ABORTED, NULL, why) != 0 ||
	    catalog_commit(&e->cat) != 0) {
		catalog_rollback(&e->cat);
		return -1;
	}
	jts_notice("%s: %s", jts_quote(j->path), why);
	return 0;
}

/* Is the home path of rel on tier t a stub? */
static bool
home_is_stub(struct engine *e, int t, const char *rel)
{
	struct stat st;
	int dfd = engine_dir(e, t, rel, false, -1);

	return dfd >= 0 && stub_read_at(dfd, rel_base(rel), NULL, &st) == 1;
}

static int
recover_row(struct engine *e, struct cat_journal *j, bool copy_checked)
{
	int src = conf_tier_index(e->conf, j->src);
	int dst = conf_tier_index(e->conf, j->dst);
	int home = conf_tier_index(e->conf, j->home);
	char why[512] = "";
	struct cat_file f;
	struct ident pre;
	struct tier *S, *D;
	struct stat st;
	const char *u;
	int lfd, r;
	bool copy_ok = false;	/* hashed whole above */
	int lm = leave_parse(j->leave);
	enum leave_mode leave = lm < 0 ? LEAVE_SYMLINK : (enum leave_mode)lm;

	if (src < 0 || dst < 0 || home < 0) {
		jts_warn("journal row %" PRId64 " (%s) names a tier that is "
		    "not configured; left for the operator", j->id,
		    jts_quote(j->path));
		return -1;
	}
	S = &e->tiers[src];
	D = &e->tiers[dst];
	/* Rows that touch a tier not answering (a NAS) wait for it. */
	if ((u = tier_unreachable(S)) != NULL ||
	    (u = tier_unreachable(D)) != NULL) {
		jts_warn("%s: the unfinished move to %s waits until tier %s "
		    "answers (%s)", jts_quote(j->path), j->dst,
		    tier_unreachable(S) != NULL ? j->src : j->dst, u);
		return -1;
	}
	/*
	 * A stub's recall in place that did not get to remove the mark: the
	 * stub is still a stub (what was written of it is rewritten whole
	 * at its next read); nothing else was touched.
	 */
	if (strcmp(j->op, "fill") == 0 && j->state < JS_COMMITTED &&
	    home_is_stub(e, home, j->path)) {
		jts_info("recovered %s: interrupted recall of its stub; the "
		    "stub stays", jts_quote(j->path));
		return catalog_journal_set(&e->cat, j->id, JS_ABORTED, NULL,
		    "interrupted; the stub stays");
	}
	if (j->state == JS_VERIFIED && j->has_hash && (copy_checked ||
	    copy_matches(e, dst, j->path, j->pre_size, j->hash))) {
		/* Renamed into place before the commit was recorded. */
		memset(&f, 0, sizeof(f));
		f.path = j->path;
		snprintf(f.tier, sizeof(f.tier), "%s", j->dst);
		snprintf(f.home, sizeof(f.home), "%s", j->home);
		if (!tier_has(D, TIER_CAP_LOCAL)) {
			/* A copy no rescan sees: the source's identity. */
			f.size = j->pre_size;
			f.mtime_ns = j->pre_mtime_ns;
			f.ctime_ns = j->pre_ctime_ns;
			f.ino = j->pre_ino;
			/* Owner and mode: from the source, still in place. */
			if (tier_lookup(S, j->path, &st) == 0) {
				f.mode = st.st_mode;
				f.uid = st.st_uid;
				f.gid = st.st_gid;
			}
		} else if (tier_lookup(D, j->path, &st) == 0) {
			/* The copy's identity: what a rescan will find. */
			f.size = st.st_size;
			f.mtime_ns = jts_ts_ns(&st.st_mtim);
			f.ctime_ns = jts_ts_ns(&st.st_ctim);
			f.ino = (int64_t)st.st_ino;
			f.mode = st.st_mode;
			f.uid = st.st_uid;
			f.gid = st.st_gid;
			f.blocks = (int64_t)st.st_blocks;
			f.has_blocks = true;
		}
		f.has_hash = true;
		memcpy(f.hash, j->hash, JTS_HASH_LEN);
		f.verified_ns = f.moved_ns = jts_now_ns();
		f.links = j->links;
		if (catalog_begin(&e->cat) != 0 ||
		    catalog_file_put(&e->cat, &f) != 0 ||
		    catalog_journal_set(&e->cat, j->id, JS_COMMITTED, NULL,
		    NULL) != 0 || catalog_commit(&e->cat) != 0) {
			catalog_rollback(&e->cat);
			return -1;
		}
		j->state = JS_COMMITTED;
		copy_ok = true;
	}
	switch (j->state) {
	case JS_PLANNED:
	case JS_COPYING:
	case JS_VERIFIED:
		/* The source was never touched: drop the temporary copy. */
		if (D->ops->undo_tmp(e, dst, j->path, j->id, why,
		    sizeof(why)) != 0) {
			jts_warn("%s: cannot remove the temporary copy on tier "
			    "%s: %s; left for the next run", jts_quote(j->path),
			    j->dst, why);
			return -1;
		}
		jts_info("recovered %s: unfinished move to %s undone",
		    jts_quote(j->path), j->dst);
		return catalog_journal_set(&e->cat, j->id, JS_ABORTED, NULL,
		    "interrupted; undone by recovery");
	case JS_COMMITTED:
		/*
		 * Release a source only for a copy that is there and whole:
		 * an operator settling a conflict may have removed it.
		 */
		if (!copy_ok && !copy_checked && (!j->has_hash ||
		    !copy_matches(e, dst, j->path, j->pre_size, j->hash))) {
			if (what_is_at(e, dst, j->path, &st) == -ENOENT &&
			    what_is_at(e, src, j->path, &st) == 0) {
				snprintf(why, sizeof(why), "the copy on tier "
				    "%s is gone; the source on tier %s was "
				    "kept and is the data again", j->dst,
				    j->src);
				return settle_to_source(e, j, &st, why);
			}
			snprintf(why, sizeof(why), "the copy on tier %s is "
			    "missing or differs from the one verified; the "
			    "source on tier %s is kept", j->dst, j->src);
			jts_warn("%s: %s", jts_quote(j->path), why);
			(void)catalog_journal_set(&e->cat, j->id, JS_CONFLICT,
			    NULL, why);
			return -1;	/* left in conflict */
		}
		ident_of_journal(&pre, j);
		/* Nobody may hold the source open for writing while it is
		 * released. */
		lfd = S->ops->hold_path != NULL ?
		    S->ops->hold_path(S, j->path, &pre) : -1;
		if (lfd == -EBUSY) {
			jts_warn("%s: source on tier %s is open for writing "
			    "by another process; its release waits for the "
			    "next run",
			    jts_quote(j->path), j->src);
			return -1;
		}
		r = finish_item(e, src, dst, home, j->path, &pre, leave,
		    j->has_hash ? j->hash : NULL, j->id,
		    lfd, NULL, why, sizeof(why));
		/* Closing the descriptor lets go of its lease. */
		if (lfd >= 0)
			close(lfd);
		if (r != 0) {
			jts_warn("%s: %s", jts_quote(j->path), why);
			(void)catalog_journal_set(&e->cat, j->id, JS_CONFLICT,
			    NULL, why);
			return -1;	/* left in conflict */
		}
		jts_info("recovered %s: move to %s finished",
		    jts_quote(j->path), j->dst);
		return catalog_journal_set(&e->cat, j->id, JS_DONE, NULL,
		    NULL);
	default:
		return 0;
	}
}

/* A conflict row closed without a person: said in the log. */
static int
settled(struct engine *e, struct cat_journal *j, const char *why)
{
	if (catalog_journal_set(&e->cat, j->id, JS_ABORTED, NULL, why) != 0)
		return -1;
	jts_notice("%s: %s", jts_quote(j->path), why);
	return 2;
}

/*
 * Remove the copy of conflict row j at rel on tier t if it is the
 * verified content (hash, size) and nobody writes it; counted in *gone,
 * or in *kept (with the reason logged).
 */
static void
drop_remnant(struct engine *e, struct cat_journal *j, int t, const char *rel,
    const unsigned char *hash, int64_t size, int *gone, int *kept)
{
	const struct tier_ops *ops = e->tiers[t].ops;
	char why[512] = "";
	struct stat st;
	int r;

	if (ops->drop_same == NULL)
		return;
	if (hash == NULL) {
		/* Nothing verified to compare with: kept if it is there. */
		if (tier_lookup(&e->tiers[t], rel, &st) == 0)
			(*kept)++;
		return;
	}
	r = ops->drop_same(e, t, rel, j->id, hash, size, why, sizeof(why));
	if (r == 0)
		(*gone)++;
	else if (r != -ENOENT) {
		(*kept)++;
		jts_info("%s: conflict kept: %s", jts_quote(j->path), why[0] ?
		    why : strerror(-r));
	}
}

/*
 * The old source this row may have kept under its hidden names on tier
 * src (.jts-tier-ID.lnk, .rm) goes if it is the data's content (f).
 */
static void
drop_hidden(struct engine *e, struct cat_journal *j, int src,
    const struct cat_file *f, int *gone, int *kept)
{
	char name[PATH_MAX];

	tmp_rel(name, sizeof(name), j->path, j->id, "lnk");
	drop_remnant(e, j, src, name, f->has_hash ? f->hash : NULL, f->size,
	    gone, kept);
	tmp_rel(name, sizeof(name), j->path, j->id, "rm");
	drop_remnant(e, j, src, name, f->has_hash ? f->hash : NULL, f->size,
	    gone, kept);
}

/*
 * Settle conflict row j where nothing diverges.  The catalog says where
 * the data is; every other copy of this row that is the same verified
 * content, and that nobody writes, is a duplicate and goes.  Returns 0
 * (a committed move whose source is still to release: retried as such),
 * 1 (the source was removed by the operator, the copy is the verified
 * one: finished as verified), 2 (settled, row closed), -1 (it stays for
 * the operator: the copies differ, or one is being written).
 */
static int
settle_conflict(struct engine *e, struct cat_journal *j)
{
	int src = conf_tier_index(e->conf, j->src);
	int dst = conf_tier_index(e->conf, j->dst);
	struct cat_file f;
	struct stat st;
	char why[512];
	int s, d, x, r = -1, gone = 0, kept = 0;

	if (src < 0 || dst < 0 || tier_unreachable(&e->tiers[src]) != NULL ||
	    tier_unreachable(&e->tiers[dst]) != NULL)
		return -1;
	memset(&f, 0, sizeof(f));
	if (catalog_file_get(&e->cat, j->path, &f) != 1) {
		cat_file_free(&f);
		return -1;	/* not tracked any more: the operator's */
	}
	x = conf_tier_index(e->conf, f.tier);
	if (x == dst && j->has_hash && f.has_hash &&
	    memcmp(f.hash, j->hash, JTS_HASH_LEN) == 0) {
		r = 0;		/* committed: release the source again */
		goto out;
	}
	if (strcmp(j->op, "fill") == 0 && x == dst && x != src) {
		/* A stub overwritten at home: its old data waits on the
		 * source's tier for the operator, who removes it. */
		if (what_is_at(e, src, j->path, &st) == -ENOENT) {
			snprintf(why, sizeof(why), "conflict settled: the old "
			    "data of the overwritten stub was removed from tier "
			    "%s; the file at home is the data", j->src);
			r = settled(e, j, why);
		}
		goto out;
	}
	if (x == src) {
		/*
		 * The data is on the source's tier: never committed, or
		 * brought back by a later move (which may have left the old
		 * source kept under this row's hidden names).
		 */
		drop_hidden(e, j, src, &f, &gone, &kept);
		if (kept > 0)
			goto out;
		s = what_is_at(e, src, j->path, &st);
		d = what_is_at(e, dst, j->path, &st);
		if (d == -ENOENT && s == 0) {
			snprintf(why, sizeof(why), "conflict settled: there is "
			    "no copy on tier %s, the data stays on tier %s",
			    j->dst, j->src);
			r = settled(e, j, why);
		} else if (s == -ENOENT && d == 0 && j->has_hash &&
		    copy_matches(e, dst, j->path, j->pre_size, j->hash)) {
			jts_notice("%s: conflict settled: the source on tier "
			    "%s was removed, the verified copy on tier %s is "
			    "the data", jts_quote(j->path), j->src, j->dst);
			r = 1;
		} else if (s == 0 && d == 0 && j->has_hash &&
		    copy_matches(e, src, j->path, j->pre_size, j->hash)) {
			/* Both the verified content: the copy is extra. */
			drop_remnant(e, j, dst, j->path, j->hash, j->pre_size,
			    &gone, &kept);
			if (kept == 0) {
				snprintf(why, sizeof(why), "conflict settled: "
				    "the copy on tier %s was the same as the "
				    "data on tier %s and was removed", j->dst,
				    j->src);
				r = settled(e, j, why);
			}
		}
		goto out;
	}
	/*
	 * A later move took the data to tier x: what is left of this one
	 * (a source never released, a copy, an old file kept under the
	 * row's hidden names) goes if it is the data's verified content
	 * and the data is whole where the catalog says.
	 */
	if (x < 0 || !f.has_hash || tier_unreachable(&e->tiers[x]) != NULL ||
	    !copy_matches(e, x, j->path, f.size, f.hash))
		goto out;
	if (src != x)
		drop_remnant(e, j, src, j->path, f.hash, f.size, &gone, &kept);
	if (dst != x)
		drop_remnant(e, j, dst, j->path, f.hash, f.size, &gone, &kept);
	drop_hidden(e, j, src, &f, &gone, &kept);
	if (kept == 0) {
		snprintf(why, sizeof(why), "conflict settled: a later move took "
		    "the data to tier %s; %d copy(ies) left by this one, the "
		    "same content, removed", f.tier, gone);
		r = settled(e, j, why);
	}
out:
	cat_file_free(&f);
	return r;
}

int
move_recover(struct engine *e, bool conflicts)
{
	struct cat_journal *rows;
	int n, i, r, left = 0;
	bool checked;

	lease_setup();
	if (catalog_journal_open_rows(&e->cat, &rows, &n) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		bool was_conflict = rows[i].state == JS_CONFLICT;

		checked = false;
		if (rows[i].state == JS_CONFLICT && !conflicts) {
			left++;
			continue;
		}
		if (rows[i].state == JS_CONFLICT) {
			/*
			 * A copy committed whose source could not be released
			 * (being written, a failed rename or unlink): tried
			 * again like any committed move, which releases the
			 * source only if it is still unchanged and nobody
			 * writes it.  Others settle where their copies are the
			 * same verified content; the rest stay for the
			 * operator until one side is removed.
			 */
			r = settle_conflict(e, &rows[i]);
			if (r == 0)
				rows[i].state = JS_COMMITTED;
			else if (r == 1) {
				rows[i].state = JS_VERIFIED;
				checked = true;
			} else {
				left += r < 0;
				continue;
			}
		}
		if (recover_row(e, &rows[i], checked) != 0)
			left++;
		else if (was_conflict)
			jts_notice("%s: conflict settled: the move to %s is "
			    "finished (the source unchanged, nobody writing "
			    "it)", jts_quote(rows[i].path), rows[i].dst);
		cat_journal_free(&rows[i]);
	}
	for (i = 0; i < n; i++)
		cat_journal_free(&rows[i]);
	free(rows);
	engine_dir_forget(e);
	return left;
}
