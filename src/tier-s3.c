/*
 * tier-s3.c - a cold tier on an object store (kind s3), over s3.c
 *
 * The move's phases on S3, which has neither rename nor link: the copy is
 * uploaded to its own key (never over an object there: the key is looked
 * at first, and a single PUT is conditional), carrying the journal row's
 * id and the stream's XXH3-128 as metadata; it is read back with a fresh
 * GET and compared; until the catalog's commit it is an uncommitted
 * object, which a failure or recovery removes only if it carries that
 * row's id (and an unfinished multipart upload of the key is aborted).
 * A source on S3 (a recall) is identified by the id and size in its
 * metadata, and deleted after the commit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy.h"
#include "engine.h"
#include "move-int.h"
#include "s3.h"
#include "tier.h"
#include "util.h"

/* What a HEAD said of an object, asked ahead for a batch at once. */
struct look {
	char		*rel;		/* NULL: used */
	int		 res;		/* the HEAD's, or LOOK_GONE */
	struct s3_obj	 o;
};
#define LOOK_GONE	1	/* deleted ahead, the release's work done */

/* A tier's client, and why it cannot be had. */
struct s3_tier {
	struct s3	*s;
	bool		 broken;
	char		 err[1536];
	struct look	*looks;
	int		 nlooks;
};

#define ST(t)	((struct s3_tier *)(t)->conn)

/*
 * The credentials file: a regular file owned by root that nobody else
 * may read or write, "access_key = ..." and "secret_key = ..." (s3cmd's
 * names; aws_access_key_id and aws_secret_access_key too).  0, or -1
 * with why set (never the secret).
 */
static int
read_credentials(const char *path, char **access, char **secret, char *why,
    size_t len)
{
	char line[1024], *k, *v, *e;
	struct stat st;
	FILE *f;
	int fd;

	*access = *secret = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, len, "credentials %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "credentials %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & 077) != 0) {
		snprintf(why, len, "credentials %s: must be owned by root and "
		    "readable by root only (chmod 600), not %04o owned by "
		    "uid %u", path, (unsigned)(st.st_mode & 07777),
		    (unsigned)st.st_uid);
		close(fd);
		return -1;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		snprintf(why, len, "credentials %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if ((v = strchr(line, '=')) == NULL || line[0] == '#')
			continue;
		*v++ = '\0';
		for (k = line; *k == ' ' || *k == '\t'; k++)
			;
		for (e = k + strlen(k); e > k && (e[-1] == ' ' ||
		    e[-1] == '\t'); e--)
			*--e = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		for (e = v + strlen(v); e > v && (e[-1] == ' ' ||
		    e[-1] == '\t'); e--)
			*--e = '\0';
		if (strcmp(k, "access_key") == 0 ||
		    strcmp(k, "aws_access_key_id") == 0) {
			free(*access);
			*access = xstrdup(v);
		} else if (strcmp(k, "secret_key") == 0 ||
		    strcmp(k, "aws_secret_access_key") == 0) {
			if (*secret != NULL)
				explicit_bzero(*secret, strlen(*secret));
			free(*secret);
			*secret = xstrdup(v);
		}
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (*access == NULL || *secret == NULL || **access == '\0' ||
	    **secret == '\0') {
		snprintf(why, len, "credentials %s: needs access_key = and "
		    "secret_key =", path);
		free(*access);
		if (*secret != NULL)
			explicit_bzero(*secret, strlen(*secret));
		free(*secret);
		*access = *secret = NULL;
		return -1;
	}
	return 0;
}

/* A new client of tier t's store (no request made yet); NULL with why
 * set if its credentials cannot be read. */
static struct s3 *
client_new(struct tier *t, char *why, size_t len)
{
	struct tier_conf *tc = t->tc;
	char *access, *secret;
	struct s3_conf c;
	struct s3 *s;

	if (read_credentials(tc->credentials, &access, &secret, why,
	    len) != 0)
		return NULL;
	memset(&c, 0, sizeof(c));
	c.endpoint = tc->endpoint;
	c.bucket = tc->bucket;
	c.prefix = tc->prefix;
	c.region = tc->region;
	c.access = access;
	c.secret = secret;
	c.verify_tls = tc->tls_verify;
	c.ca_file = tc->ca_file;
	c.timeout = tc->timeout;
	c.inflight = tc->inflight;
	c.part_size = tc->part_size;
	if (t->owner != NULL) {
		c.owner.catalog = t->owner->catalog;
		c.owner.adopted = t->owner->adopted;
		c.owner.host = t->owner->host;
		c.owner.machine = t->owner->machine;
	}
	s = s3_new(&c);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	free(access);
	if (s == NULL)
		snprintf(why, len, "out of memory");
	return s;
}

/*
 * The client of tier t, made on first use, the bucket looked at and the
 * prefix's claim checked (made by a writer); NULL if the store cannot be
 * reached or used (ST(t)->err says why).
 */
static struct s3 *
s3_conn(struct tier *t)
{
	struct tier_conf *tc = t->tc;
	struct s3_tier *st;
	int r;

	if (ST(t) == NULL) {
		st = xcalloc(1, sizeof(*st));
		t->conn = st;
		if ((st->s = client_new(t, st->err, sizeof(st->err))) == NULL) {
			st->broken = true;
			return NULL;
		}
		if ((r = s3_bucket_check(st->s)) != 0) {
			snprintf(st->err, sizeof(st->err), "%s: %s%s%s",
			    tc->endpoint, s3_error(st->s), r == -EACCES ?
			    "; check the credentials in " : "", r == -EACCES ?
			    tc->credentials : "");
			st->broken = true;
		} else if ((r = s3_claim(st->s, true, false, NULL)) != 0) {
			snprintf(st->err, sizeof(st->err), "bucket %s: %s",
			    tc->bucket, s3_error(st->s));
			st->broken = true;
		}
	}
	return ST(t)->broken ? NULL : ST(t)->s;
}

static struct s3 *
conn(struct engine *e, int t)
{
	struct tier *tr = &e->tiers[t];
	bool fresh = ST(tr) == NULL;
	struct s3 *s = s3_conn(tr);

	if (s == NULL && fresh)
		jts_err("tier %s: %s", tr->tc->name, ST(tr)->err);
	return s;
}

/* Why an operation on tier t failed, in words. */
static const char *
s3_why(struct engine *e, int t)
{
	struct s3_tier *st = ST(&e->tiers[t]);

	if (st == NULL)
		return "not connected";
	if (st->broken)
		return st->err;
	return s3_error(st->s);
}

/* --- what every command asks of an object store ------------------------- */

/*
 * Its room: an object store has no free space to tell; the quota set
 * for the tier is its size, and what jts-tier keeps there its use.
 */
static int
s3t_space(struct tier *t, struct tier_space *sp)
{
	struct s3 *s;
	uint64_t objects;
	int r;

	memset(sp, 0, sizeof(*sp));
	if (t->tc->quota == 0)
		return -ENOTSUP;
	if ((s = s3_conn(t)) == NULL)
		return -EHOSTUNREACH;
	if ((r = s3_usage(s, &sp->used, &objects)) != 0) {
		snprintf(sp->why, sizeof(sp->why), "%s", s3_error(s));
		sp->used = 0;
		return r;
	}
	sp->size = t->tc->quota;
	sp->avail = sp->size > sp->used ? sp->size - sp->used : 0;
	return 0;
}

/* The object's look as a struct stat: a regular file whose inode is
 * the id of the move that wrote it. */
static void
stat_of(struct stat *st, const struct s3_obj *o)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | (o->has_owner ? (o->mode & 07777) : 0600);
	st->st_uid = o->uid;
	st->st_gid = o->gid;
	st->st_nlink = 1;
	st->st_size = (off_t)o->size;
	st->st_ino = (ino_t)o->id;
	/* The file's time, kept as metadata; else the upload's. */
	if (o->has_file_mtime) {
		st->st_mtim.tv_sec = o->file_mtime_ns / 1000000000;
		st->st_mtim.tv_nsec = o->file_mtime_ns % 1000000000;
	} else
		st->st_mtim.tv_sec = o->mtime_ns / 1000000000;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static int
s3t_lookup(struct tier *t, const char *rel, struct stat *st)
{
	struct s3 *s = s3_conn(t);
	struct s3_obj o;
	int r;

	if (s == NULL)
		return -EHOSTUNREACH;
	if ((r = s3_head(s, rel, &o)) != 0)
		return r;
	stat_of(st, &o);
	return 0;
}

static int
s3t_read_into(struct tier *t, struct copier *cp, const char *rel,
    int64_t size, int wfd, unsigned char *out)
{
	struct s3 *s = s3_conn(t);

	(void)cp;
	if (s == NULL)
		return -EHOSTUNREACH;
	return s3_get(s, rel, (uint64_t)size, wfd, out, NULL);
}

static int
s3t_hash(struct tier *t, struct copier *cp, const char *rel, int64_t size,
    const struct stat *seen, unsigned char *out)
{
	(void)seen;
	return s3t_read_into(t, cp, rel, size, -1, out);
}

static const char *
s3t_unreachable(struct tier *t)
{
	return s3_conn(t) == NULL ? ST(t)->err : NULL;
}

/* A benchmark's object (its probe's, beneath .jts-tier/probe/). */
static int
s3t_drop(struct tier *t, const char *rel)
{
	struct s3 *s = s3_conn(t);
	char *key;
	int r;

	if (s == NULL)
		return -EHOSTUNREACH;
	key = xasprintf("/probe/%s/%s", t->tc->prefix, rel_base(rel));
	r = s3_delete(s, key);
	free(key);
	return r;
}

static void
looks_clear(struct s3_tier *st)
{
	int i;

	for (i = 0; i < st->nlooks; i++)
		free(st->looks[i].rel);
	free(st->looks);
	st->looks = NULL;
	st->nlooks = 0;
}

/* What was looked at ahead for rel (taken: used once), or NULL. */
static struct look *
look_take(struct s3_tier *st, const char *rel)
{
	int i;

	for (i = 0; st != NULL && i < st->nlooks; i++)
		if (st->looks[i].rel != NULL &&
		    strcmp(st->looks[i].rel, rel) == 0) {
			free(st->looks[i].rel);
			st->looks[i].rel = NULL;
			return &st->looks[i];
		}
	return NULL;
}

/* HEAD of rel: what was asked ahead, else asked now. */
static int
head_of(struct tier *t, struct s3 *s, const char *rel, struct s3_obj *o)
{
	struct look *l = look_take(ST(t), rel);

	if (l != NULL && l->res != LOOK_GONE) {
		*o = l->o;
		return l->res;
	}
	return s3_head(s, rel, o);
}

static bool
s3t_reset(struct tier *t)
{
	/* Broken, or its credentials refused (rotated: read them again). */
	if (ST(t) == NULL || (!ST(t)->broken && !s3_refused(ST(t)->s)))
		return false;
	looks_clear(ST(t));
	s3_free(ST(t)->s);
	free(ST(t));
	t->conn = NULL;
	return true;
}

static void
s3t_close(struct tier *t)
{
	if (ST(t) != NULL) {
		looks_clear(ST(t));
		s3_free(ST(t)->s);
		free(ST(t));
		t->conn = NULL;
	}
}

static int
s3t_probe(struct tier *t, int src, uint64_t size, const char *rel,
    int64_t *write_ns, int64_t *read_ns, char *why, size_t len)
{
	struct s3 *s = s3_conn(t);
	unsigned char h[JTS_HASH_LEN], back[JTS_HASH_LEN];
	char *key;
	int64_t t0;
	int r;

	if (s == NULL) {
		snprintf(why, len, "%s", ST(t)->err);
		return -EHOSTUNREACH;
	}
	/* Beneath the bucket's .jts-tier/, where no file's key can be. */
	key = xasprintf("/probe/%s/%s", t->tc->prefix, rel_base(rel));
	rel = key;
	t0 = jts_mono_ns();
	r = s3_put(s, rel, src, size, NULL, h, NULL);
	*write_ns = jts_mono_ns() - t0;
	if (r == 0) {
		t0 = jts_mono_ns();
		r = s3_get(s, rel, size, -1, back, NULL);
		*read_ns = jts_mono_ns() - t0;
		if (r == 0 && memcmp(h, back, JTS_HASH_LEN) != 0)
			r = -EBADMSG;
	}
	if (r != 0)
		snprintf(why, len, "%s", r == -EBADMSG ? "what was read back "
		    "differs from what was written" : s3_error(s));
	(void)s3_delete(s, rel);
	free(key);
	return r;
}

/* --- the move's phases on an object store ------------------------------- */

/* Steps 1-2 for a source on S3 (a recall): what it is. */
static void
s3t_src_prepare(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct s3 *s = conn(e, it->src);
	struct s3_obj o;
	int r;

	if (s == NULL) {
		item_fail(it, IT_FAILED, "tier %s: %s", tier_name(e, it->src),
		    s3_why(e, it->src));
		return;
	}
	if ((r = head_of(&e->tiers[it->src], s, it->rel, &o)) != 0) {
		item_fail(it, IT_FAILED, "cannot look at it on tier %s: %s",
		    tier_name(e, it->src), r == -ENOENT ? "no such object" :
		    s3_why(e, it->src));
		return;
	}
	stat_of(&it->pre, &o);
	if (it->tracked) {
		it->pre.st_mode = S_IFREG | (it->cat_mode & 07777);
		it->pre.st_uid = it->cat_uid;
		it->pre.st_gid = it->cat_gid;
		/* The times are the file's, kept in the catalog. */
		it->pre.st_mtim.tv_sec = it->cat_mtime_ns / 1000000000;
		it->pre.st_mtim.tv_nsec = it->cat_mtime_ns % 1000000000;
	}
}

/* Step 2 on S3: no object at the key. */
static void
s3t_dst_prepare(struct batch *b, struct move_item *it)
{
	struct engine *e = b->e;
	struct s3 *s = conn(e, it->dst);
	struct s3_obj o;
	int r;

	if (s == NULL) {
		item_fail(it, IT_FAILED, "tier %s: %s", tier_name(e, it->dst),
		    s3_why(e, it->dst));
		return;
	}
	if (s3_key_check(s, it->rel) != 0) {
		item_fail(it, IT_FAILED, "cannot go to s3 tier %s: %s",
		    tier_name(e, it->dst), s3_error(s));
		return;
	}
	if (it->fd >= 0 && jts_xattr_count(it->fd,
	    e->tiers[it->src].ops->fs_xattrs) != 0) {
		item_fail(it, IT_FAILED, "has extended attributes or ACLs, "
		    "which s3 tier %s cannot keep; not moved",
		    tier_name(e, it->dst));
		return;
	}
	/* Where the upload itself is refused over an object, no look. */
	if (s3_put_refuses_existing(s, (uint64_t)it->pre.st_size))
		return;
	r = s3_head(s, it->rel, &o);
	if (r == 0)
		item_fail(it, IT_FAILED, "already exists on tier %s; not "
		    "overwritten", tier_name(e, it->dst));
	else if (r != -ENOENT)
		item_fail(it, IT_FAILED, "cannot look at tier %s: %s",
		    tier_name(e, it->dst), s3_why(e, it->dst));
}

/* Remove the object the move uploaded (its id): a failure's undoing. */
static int
drop_ours(struct s3 *s, const char *rel, int64_t id)
{
	struct s3_obj o;
	int r;

	(void)s3_abort_uploads(s, rel);
	if ((r = s3_head(s, rel, &o)) == -ENOENT)
		return 0;
	if (r != 0)
		return r;
	/* Not this catalog's upload (its UUID and the row's id): never
	 * removed.  One without a UUID came before catalogs had one. */
	if (o.id != id || o.catalog[0] == '\0' || !s3_obj_ours(s, &o))
		return 0;
	return s3_delete(s, rel);
}

static void
s3t_drop_tmp(struct engine *e, struct move_item *it)
{
	struct s3 *s = conn(e, it->dst);

	if (s == NULL || drop_ours(s, it->rel, it->jid) != 0)
		it->tmp_left = true;	/* recovery removes it */
}

/*
 * The data extents of fd, size bytes, as an object's metadata keeps them
 * ("off+len,..."): NULL if it has no hole, or too many to keep (it then
 * comes back without them).
 */
static char *
holes_of(int fd, int64_t size)
{
	char *map = NULL, *n;
	off_t d = 0, h;
	size_t len = 0;

	if (fd < 0 || size == 0)
		return NULL;
	for (;;) {
		if ((d = lseek(fd, d, SEEK_DATA)) < 0)
			break;	/* ENXIO: no more data */
		if ((h = lseek(fd, d, SEEK_HOLE)) < 0)
			h = (off_t)size;
		if (d == 0 && h >= (off_t)size && map == NULL)
			return NULL;	/* no hole at all */
		n = xasprintf("%s%s%lld+%lld", map ? map : "", map ? "," : "",
		    (long long)d, (long long)(h - d));
		free(map);
		map = n;
		if ((len = strlen(map)) > S3_HOLES_MAX) {
			free(map);
			return NULL;
		}
		if (h >= (off_t)size)
			break;
		d = h;
	}
	if (map == NULL)
		map = xstrdup("0+0");	/* all a hole */
	(void)len;
	return map;
}

/*
 * Step 5 to S3: each file uploaded, hashed as it is read; small files
 * several at once, a large one in parts in flight.
 */
static int
s3t_copy(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	struct s3 *s = conn(e, v[0]->dst);
	struct copy_opts *co = xcalloc((size_t)n, sizeof(*co));
	struct s3_many *m = xcalloc((size_t)n, sizeof(*m));
	struct s3_meta *meta = xcalloc((size_t)n, sizeof(*meta));
	struct move_item **w = xcalloc((size_t)n, sizeof(*w));
	int i, k = 0, r, live = 0;

	for (i = 0; i < n; i++) {
		struct move_item *it = v[i];

		if (!pending(it))
			continue;
		copy_opts_of(b, it, &co[k]);
		meta[k].id = it->jid;
		meta[k].mtime_ns = jts_ts_ns(&it->pre.st_mtim);
		meta[k].mode = it->pre.st_mode & 07777;
		meta[k].uid = it->pre.st_uid;
		meta[k].gid = it->pre.st_gid;
		meta[k].home = tier_name(e, it->home);
		meta[k].holes = holes_of(it->fd, it->pre.st_size);
		m[k].rel = it->rel;
		m[k].fd = it->fd;
		m[k].size = (uint64_t)it->pre.st_size;
		m[k].meta = &meta[k];
		m[k].co = &co[k];
		w[k++] = it;
	}
	if (s != NULL && k > 0)
		(void)s3_put_many(s, m, k);
	for (i = 0; i < k; i++) {
		struct move_item *it = w[i];

		r = s == NULL ? -EHOSTUNREACH : m[i].err;
		memcpy(it->hash, m[i].hash, JTS_HASH_LEN);
		if (r == 0 && lease_lost_fd(it->fd))
			r = -ECANCELED;
		if (r == -ESTALE || r == -ECANCELED) {
			if (copy_judge(b, it, r, NULL) == 0)
				item_fail(it, IT_FAILED, "changed during the "
				    "copy");
		} else if (r == -EEXIST)
			item_fail(it, IT_FAILED, "already exists on tier %s; "
			    "not overwritten", tier_name(e, it->dst));
		else if (r != 0)
			item_fail(it, IT_FAILED, "upload to tier %s failed: "
			    "%s%s", tier_name(e, it->dst), s == NULL ?
			    s3_why(e, it->dst) : m[i].why, r == -EDQUOT ?
			    " (the bucket's quota is reached)" : "");
		else if (copy_judge(b, it, 0, NULL) == 0) {
			live++;
			continue;
		}
		if (r != -EEXIST)
			s3t_drop_tmp(e, it);
		item_close(it);
	}
	for (i = 0; i < k; i++)
		free((char *)meta[i].holes);
	free(meta);
	free(w);
	free(m);
	free(co);
	return live;
}

/* Step 5, end: an object is durable when its upload is answered. */
static int
s3t_durable(struct batch *b, struct move_item **v, int n)
{
	(void)b;
	(void)v;
	return n;
}

/* Step 6 on S3: a fresh GET of each object (several at once), compared. */
static void
s3t_readback(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	struct s3 *s = conn(e, v[0]->dst);
	struct s3_many *m = xcalloc((size_t)n, sizeof(*m));
	struct move_item **w = xcalloc((size_t)n, sizeof(*w));
	int i, k = 0, r;

	for (i = 0; i < n; i++) {
		if (!pending(v[i]))
			continue;
		m[k].rel = v[i]->rel;
		m[k].fd = -1;
		m[k].size = (uint64_t)v[i]->pre.st_size;
		w[k++] = v[i];
	}
	if (s != NULL && k > 0)
		(void)s3_get_many(s, m, k, "verify");
	for (i = 0; i < k; i++) {
		r = s == NULL ? -EHOSTUNREACH : m[i].err;
		if (r == -EIO || r == -EHOSTUNREACH || r == -ETIMEDOUT) {
			item_fail(w[i], IT_FAILED, "reading the copy back on "
			    "tier %s failed: %s", tier_name(e, w[i]->dst),
			    s == NULL ? s3_why(e, w[i]->dst) : m[i].why);
			s3t_drop_tmp(e, w[i]);
			item_close(w[i]);
			continue;
		}
		verify_done(b, w[i], r, m[i].hash);
	}
	free(w);
	free(m);
}

/* Step 7 on S3: the object is at its key already; the source checked. */
static void
s3t_place(struct batch *b, struct move_item **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (pending(v[i]) && item_src_same(b, v[i]) != 0) {
			s3t_drop_tmp(b->e, v[i]);
			item_close(v[i]);
		}
}

/* Step 5 from S3, many at once: GETs into the local temporaries. */
static void
s3t_fetch_many(struct batch *b, struct move_item **v, const int *wfd,
    int *res, char **why, int n)
{
	struct engine *e = b->e;
	struct s3 *s = conn(e, v[0]->src);
	struct copy_opts *co = xcalloc((size_t)n, sizeof(*co));
	struct s3_many *m = xcalloc((size_t)n, sizeof(*m));
	int *at = xcalloc((size_t)n, sizeof(*at));
	int i, k = 0;

	for (i = 0; i < n; i++) {
		res[i] = -EHOSTUNREACH;
		why[i] = NULL;
		if (wfd[i] < 0)
			continue;
		batch_copy_opts(b, &co[k]);
		co[k].stop_flag = &stop_requested;
		m[k].rel = v[i]->rel;
		m[k].fd = wfd[i];
		m[k].size = (uint64_t)v[i]->pre.st_size;
		m[k].co = &co[k];
		at[k++] = i;
	}
	if (s != NULL && k > 0)
		(void)s3_get_many(s, m, k, "copy");
	for (i = 0; i < k; i++) {
		struct move_item *it = v[at[i]];

		res[at[i]] = s == NULL ? -EHOSTUNREACH : m[i].err;
		memcpy(it->hash, m[i].hash, JTS_HASH_LEN);
		if (res[at[i]] != 0 && res[at[i]] != -ESTALE)
			why[at[i]] = xstrdup(s == NULL ? s3_why(e, it->src) :
			    m[i].why);
	}
	free(at);
	free(m);
	free(co);
}

/* Is the source on S3 still the object the move began with? */
static int
src_same_at(struct engine *e, int t, const char *rel, const struct ident *pre,
    char *why, size_t len)
{
	struct s3 *s = conn(e, t);
	struct s3_obj o;
	int r = s == NULL ? -EHOSTUNREACH : head_of(&e->tiers[t], s, rel, &o);

	if (r == -ENOENT)
		return -ENOENT;
	if (r != 0) {
		snprintf(why, len, "cannot look at the source on tier %s: "
		    "%.300s", tier_name(e, t), s3_why(e, t));
		return -EIO;
	}
	if ((ino_t)o.id != pre->ino || (int64_t)o.size != pre->size ||
	    !s3_obj_ours(s, &o)) {
		snprintf(why, len, "source on tier %s was replaced during the "
		    "move; both copies kept", tier_name(e, t));
		return -ESTALE;
	}
	return 0;
}

static int
s3t_src_same(struct batch *b, struct move_item *it)
{
	return src_same_by(b, it, src_same_at);
}

/* Step 8 for a source on S3 (a recall): the object, still the one
 * copied, deleted. */
static int
s3t_release(const struct release *rl, char *why, size_t len)
{
	struct engine *e = rl->e;
	struct s3 *s = conn(e, rl->t);
	struct look *l;
	int r;

	if (s == NULL) {
		snprintf(why, len, "cannot release the source on tier %s: "
		    "%.300s", tier_name(e, rl->t), s3_why(e, rl->t));
		return -1;
	}
	l = look_take(ST(&e->tiers[rl->t]), rl->rel);
	if (l != NULL && l->res == LOOK_GONE)
		return 0;	/* deleted with the batch's others */
	r = src_same_at(e, rl->t, rl->rel, rl->pre, why, len);
	if (r == -ENOENT)
		return 0;	/* released already */
	if (r != 0)
		return -1;
	jts_fault_point("release");
	if (s3_delete(s, rl->rel) != 0) {
		snprintf(why, len, "cannot remove the source on tier %s: "
		    "%.300s", tier_name(e, rl->t), s3_why(e, rl->t));
		return -1;
	}
	return 0;
}

/*
 * The sources of a batch looked at all at once (HEADs in flight), for
 * the looks one by one that follow (prepare, the check before the place).
 */
static void
s3t_look_ahead(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	int t = v[0]->src, i;
	struct s3 *s = conn(e, t);
	struct s3_tier *st = ST(&e->tiers[t]);
	const char **rel;
	int *res;

	if (s == NULL || n < 2)
		return;
	looks_clear(st);
	rel = xcalloc((size_t)n, sizeof(*rel));
	res = xcalloc((size_t)n, sizeof(*res));
	st->looks = xcalloc((size_t)n, sizeof(*st->looks));
	for (i = 0; i < n; i++)
		rel[i] = v[i]->rel;
	{
		struct s3_obj *o = xcalloc((size_t)n, sizeof(*o));

		s3_head_many(s, rel, o, res, n);
		for (i = 0; i < n; i++) {
			st->looks[i].rel = xstrdup(rel[i]);
			st->looks[i].res = res[i];
			st->looks[i].o = o[i];
		}
		free(o);
	}
	st->nlooks = n;
	free(res);
	free(rel);
}

/*
 * Step 8 for a batch of sources on S3, before each is released: each
 * object still the one copied (HEADs in flight) deleted with S3's
 * multi-object delete, a thousand at a time; the releases one by one
 * then find their work done.  The data is committed at the destination:
 * deleting the source before the home link is changed leaves at every
 * instant a complete copy, and recovery finishes the link.
 */
static void
s3t_release_ahead(struct batch *b, struct move_item **v, int n)
{
	struct engine *e = b->e;
	int t = v[0]->src, i, k = 0;
	struct s3 *s = conn(e, t);
	struct s3_tier *st = ST(&e->tiers[t]);
	const char **rel, **del;
	struct s3_obj *o;
	int *res, *at;

	if (s == NULL || n < 2)
		return;
	looks_clear(st);
	rel = xcalloc((size_t)n, sizeof(*rel));
	del = xcalloc((size_t)n, sizeof(*del));
	res = xcalloc((size_t)n, sizeof(*res));
	at = xcalloc((size_t)n, sizeof(*at));
	o = xcalloc((size_t)n, sizeof(*o));
	for (i = 0; i < n; i++)
		rel[i] = v[i]->rel;
	s3_head_many(s, rel, o, res, n);
	for (i = 0; i < n; i++) {
		struct ident pre;

		ident_of(&pre, &v[i]->pre);
		if (res[i] == 0 && (ino_t)o[i].id == pre.ino &&
		    (int64_t)o[i].size == pre.size && s3_obj_ours(s, &o[i])) {
			del[k] = rel[i];
			at[k++] = i;
		}
	}
	st->looks = xcalloc((size_t)n, sizeof(*st->looks));
	if (k > 0) {
		jts_fault_point("release");
		s3_delete_many(s, del, res, k);
		for (i = 0; i < k; i++)
			if (res[i] == 0) {
				st->looks[st->nlooks].rel = xstrdup(del[i]);
				st->looks[st->nlooks++].res = LOOK_GONE;
			}
	}
	free(o);
	free(at);
	free(res);
	free(del);
	free(rel);
}

/* Recovery of a move never committed: its object (if ours) and any
 * unfinished upload of the key go. */
static int
s3t_undo_tmp(struct engine *e, int t, const char *rel, int64_t id, char *why,
    size_t len)
{
	struct s3 *s = conn(e, t);
	int r = s == NULL ? -EHOSTUNREACH : drop_ours(s, rel, id);

	if (r != 0)
		snprintf(why, len, "%s", s3_why(e, t));
	return r;
}

static int
s3t_tidy(struct engine *e, int t, const char *rel, int64_t id, bool home,
    struct dirset *ds, char *why, size_t len)
{
	(void)e, (void)t, (void)rel, (void)id, (void)home, (void)ds;
	(void)why, (void)len;
	return 0;	/* nothing is left beside an object */
}

/* Settling a conflict: the object removed if it is the verified copy. */
static int
s3t_drop_same(struct engine *e, int t, const char *rel, int64_t id,
    const unsigned char *hash, int64_t size, char *why, size_t len)
{
	struct s3 *s = conn(e, t);
	unsigned char got[JTS_HASH_LEN];
	struct s3_obj o;
	int r;

	(void)id;
	if (s == NULL)
		return -EHOSTUNREACH;
	if ((r = s3_head(s, rel, &o)) != 0)
		return r;
	if (!s3_obj_ours(s, &o)) {
		snprintf(why, len, "%s on tier %s is not this catalog's "
		    "object (catalog %s)", rel, tier_name(e, t), o.catalog);
		return 1;
	}
	r = (int64_t)o.size != size ? -ESTALE :
	    s3_get(s, rel, (uint64_t)size, -1, got, NULL);
	if (r == -ESTALE || (r == 0 && memcmp(got, hash, JTS_HASH_LEN) != 0)) {
		snprintf(why, len, "%s on tier %s differs from the verified "
		    "copy", rel, tier_name(e, t));
		return 1;
	}
	return r != 0 ? r : s3_delete(s, rel);
}

/*
 * The claim of the tier's prefix: made on the first connection; taken
 * over from another catalog on purpose, its UUID adopted first (so a
 * crash between the two leaves the old objects still this catalog's).
 */
static int
s3t_claim(struct tier *t, bool take_over, int (*adopt)(void *, const char *),
    void *arg, char *why, size_t len)
{
	char taken[40];
	struct s3 *s;
	int r, k;

	if (t->owner == NULL) {
		snprintf(why, len, "no catalog to claim the prefix for");
		return -1;
	}
	for (k = 0; k < 4; k++) {
		s3t_close(t);
		if (s3_conn(t) != NULL)
			return 0;	/* ours: made, or taken over */
		if (!take_over) {
			snprintf(why, len, "%s", ST(t)->err);
			return -1;
		}
		/* Refused: taken over, its catalog adopted first. */
		if ((s = client_new(t, why, len)) == NULL)
			return -1;
		taken[0] = '\0';
		r = s3_claim(s, true, true, taken);
		if (r != 0 && (r != -EAGAIN || taken[0] == '\0')) {
			snprintf(why, len, "bucket %s: %s", t->tc->bucket,
			    s3_error(s));
			s3_free(s);
			return -1;
		}
		s3_free(s);
		if (r == -EAGAIN && adopt(arg, taken) != 0) {
			snprintf(why, len, "cannot keep catalog %s as taken "
			    "over in the catalog", taken);
			return -1;
		}
	}
	snprintf(why, len, "the claim kept changing; try again");
	return -1;
}

/*
 * An object store: no leases, no extended attributes, no directories,
 * no links, no local path to its objects.
 */
const struct tier_ops tier_s3_ops = {
	.name = "s3",
	.caps = 0,
	.space = s3t_space,
	.hash = s3t_hash,
	.read_into = s3t_read_into,
	.lookup = s3t_lookup,
	.unreachable = s3t_unreachable,
	.probe = s3t_probe,
	.probe_write = "uploads (multipart above the part size)",
	.probe_read = "GETs",
	.drop = s3t_drop,
	.reset = s3t_reset,
	.close = s3t_close,
	.claim = s3t_claim,
	.src_prepare = s3t_src_prepare,
	.look_ahead = s3t_look_ahead,
	.release_ahead = s3t_release_ahead,
	.src_same = s3t_src_same,
	.fetch_many = s3t_fetch_many,
	.dst_prepare = s3t_dst_prepare,
	.copy = s3t_copy,
	.durable = s3t_durable,
	.readback = s3t_readback,
	.place = s3t_place,
	.drop_tmp = s3t_drop_tmp,
	.undo_tmp = s3t_undo_tmp,
	.tidy = s3t_tidy,
	.release = s3t_release,
	.drop_same = s3t_drop_same,
};
