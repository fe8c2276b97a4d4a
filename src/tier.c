/* tier.c - what every tier offers, through its kind's table */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tier.h"
#include "util.h"

const struct tier_ops *
tier_ops_of(enum tier_kind k)
{
	switch (k) {
	case TIER_BTRFS:
		return &tier_btrfs_ops;
	case TIER_NFS:
		return &tier_nfs_ops;
	case TIER_S3:
		return &tier_s3_ops;
	case TIER_POSIX:
	default:
		return &tier_posix_ops;
	}
}

void
tier_init_tc(struct tier *t, struct tier_conf *tc)
{
	memset(t, 0, sizeof(*t));
	t->tc = tc;
	t->ops = tier_ops_of(tc->kind);
	t->rootfd = -1;
}

void
tier_init(struct tier *t, struct conf *c, int idx)
{
	tier_init_tc(t, &c->tiers[idx]);
	t->idx = idx;
}

void
tier_fini(struct tier *t)
{
	if (t->ops != NULL && t->ops->close != NULL)
		t->ops->close(t);
}

int
tier_space(struct tier *t, struct tier_space *sp)
{
	const char *u;
	int r;

	memset(sp, 0, sizeof(*sp));
	if (t->ops == NULL || t->ops->space == NULL)
		return -ENOTSUP;
	r = t->ops->space(t, sp);
	if (r != 0 && r != -ENOTSUP && sp->why[0] == '\0')
		snprintf(sp->why, sizeof(sp->why), "%s", r == -EHOSTUNREACH &&
		    (u = tier_unreachable(t)) != NULL ? u : strerror(-r));
	return r;
}

int
tier_space_conf(struct conf *c, int idx, struct tier_space *sp)
{
	struct tier t;
	int r;

	tier_init(&t, c, idx);
	r = tier_space(&t, sp);
	tier_fini(&t);
	return r;
}

int
tier_hash(struct tier *t, struct copier *cp, const char *rel, int64_t size,
    const struct stat *seen, unsigned char *out)
{
	if (t->ops == NULL || t->ops->hash == NULL)
		return -ENOTSUP;
	return t->ops->hash(t, cp, rel, size, seen, out);
}

int
tier_read_into(struct tier *t, struct copier *cp, const char *rel,
    int64_t size, int wfd, unsigned char *out)
{
	if (t->ops == NULL || t->ops->read_into == NULL)
		return -ENOTSUP;
	return t->ops->read_into(t, cp, rel, size, wfd, out);
}

int
tier_lookup(struct tier *t, const char *rel, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	if (t->ops == NULL || t->ops->lookup == NULL)
		return -ENOTSUP;
	return t->ops->lookup(t, rel, st);
}

const char *
tier_unreachable(struct tier *t)
{
	if (t->ops == NULL || t->ops->unreachable == NULL)
		return NULL;
	return t->ops->unreachable(t);
}

int
tier_space_pct(const struct tier_space *sp)
{
	if (sp->size == 0)
		return -1;
	return (int)((sp->used * 100 + sp->size - 1) / sp->size);
}

bool
tier_has(const struct tier *t, unsigned cap)
{
	return t->ops != NULL && (t->ops->caps & cap) == cap;
}

char *
tier_data_path(const struct tier_conf *tc, const char *rel)
{
	const char *root = tc->root ? tc->root : tc->mountpoint;

	if (root == NULL && tc->url != NULL)
		return xasprintf("%.*s/%s", (int)strcspn(tc->url, "?"),
		    tc->url, rel);
	if (root == NULL && tc->bucket != NULL)
		return xasprintf("s3://%s/%s%s%s", tc->bucket, tc->prefix ?
		    tc->prefix : "", tc->prefix && *tc->prefix ? "/" : "",
		    rel);
	return jts_path_join(root ? root : "?", rel);
}

char *
tier_link_target(const struct tier_conf *tc, const char *rel)
{
	/* No local path reaches a tier with neither a root nor a mount. */
	if (tc->root == NULL && tc->mountpoint == NULL)
		return NULL;
	return tier_data_path(tc, rel);
}
