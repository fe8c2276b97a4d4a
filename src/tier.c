/* tier.c - what every tier offers, through its kind's table */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "tier.h"

const struct tier_ops *
tier_ops_of(enum tier_kind k)
{
	switch (k) {
	case TIER_BTRFS:
		return &tier_btrfs_ops;
	case TIER_NFS:
		return &tier_nfs_ops;
	case TIER_POSIX:
	default:
		return &tier_posix_ops;
	}
}

void
tier_init(struct tier *t, struct conf *c, int idx)
{
	memset(t, 0, sizeof(*t));
	t->tc = &c->tiers[idx];
	t->ops = tier_ops_of(t->tc->kind);
	t->idx = idx;
	t->rootfd = -1;
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
	memset(sp, 0, sizeof(*sp));
	if (t->ops == NULL || t->ops->space == NULL)
		return -ENOTSUP;
	return t->ops->space(t, sp);
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
    unsigned char *out)
{
	if (t->ops == NULL || t->ops->hash == NULL)
		return -ENOTSUP;
	return t->ops->hash(t, cp, rel, size, out);
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
