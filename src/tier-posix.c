/* tier-posix.c - tiers on a local file system: posix, and btrfs */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "copy.h"
#include "engine.h"
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

static int
posix_hash(struct tier *t, struct copier *cp, const char *rel, int64_t size,
    unsigned char *out)
{
	struct stat st;
	int fd, r;

	/* The type is judged on the descriptor read from. */
	if ((fd = tier_open_read(t, rel, &st)) < 0)
		return fd;
	r = st.st_size != size ? -ESTALE : copier_run(cp, fd, -1,
	    (uint64_t)size, out, NULL);
	close(fd);
	return r;
}

/* What a local file system offers. */
#define LOCAL_CAPS	(TIER_CAP_LEASES | TIER_CAP_XATTRS | TIER_CAP_DIRSYNC | \
			 TIER_CAP_WORKERS | TIER_CAP_LOCAL)

const struct tier_ops tier_posix_ops = {
	.name = "posix",
	.caps = LOCAL_CAPS,
	.space = posix_space,
	.hash = posix_hash,
};

/*
 * btrfs: a local file system first.  What only btrfs has (per-file
 * compression, subvolumes, reflinks between tiers on one file system)
 * goes here as operations of its own.
 */
const struct tier_ops tier_btrfs_ops = {
	.name = "btrfs",
	.caps = LOCAL_CAPS,
	.space = posix_space,
	.hash = posix_hash,
};
