/* tier-posix.c - tiers on a local file system: posix, and btrfs */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include "tier.h"

static int
posix_space(struct tier *t, struct tier_space *sp)
{
	struct statvfs sv;

	memset(sp, 0, sizeof(*sp));
	if (t->tc->root == NULL || statvfs(t->tc->root, &sv) != 0)
		return t->tc->root == NULL ? -EINVAL : -errno;
	/* Used is what is not free; root's reserve is nobody's room. */
	sp->used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	sp->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	sp->size = sp->used + sp->avail;
	return 0;
}

const struct tier_ops tier_posix_ops = {
	.name = "posix",
	.caps = TIER_CAP_LEASES | TIER_CAP_XATTRS | TIER_CAP_DIRSYNC |
	    TIER_CAP_WORKERS | TIER_CAP_LOCAL,
	.space = posix_space,
};

/*
 * btrfs: a local file system first.  What only btrfs has (per-file
 * compression, subvolumes, reflinks between tiers on one file system)
 * goes here as operations of its own.
 */
const struct tier_ops tier_btrfs_ops = {
	.name = "btrfs",
	.caps = TIER_CAP_LEASES | TIER_CAP_XATTRS | TIER_CAP_DIRSYNC |
	    TIER_CAP_WORKERS | TIER_CAP_LOCAL,
	.space = posix_space,
};
