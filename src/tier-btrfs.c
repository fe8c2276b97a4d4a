/*
 * tier-btrfs.c - a tier on btrfs: a local file system first (the
 * operations of tier-posix.c), and what only btrfs has: per-file
 * properties (compression) and subvolumes.  Two tiers on one btrfs file
 * system could share extents (a reflink) instead of a copy; that would
 * be a copy operation of this table, but a reflink is not a second copy
 * on other disks, so tiers are kept on separate file systems.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include <btrfsutil.h>

#include "tier-btrfs.h"
#include "move-int.h"
#include "tier-local.h"
#include "util.h"

bool
btrfs_is_subvolume(const char *path)
{
	return btrfs_util_is_subvolume(path) == BTRFS_UTIL_OK;
}

int
btrfs_subvolume_create(const char *path, char **why)
{
	enum btrfs_util_error e;

	if ((e = btrfs_util_create_subvolume(path, 0, NULL, NULL)) ==
	    BTRFS_UTIL_OK)
		return 0;
	*why = xasprintf("%s: cannot create the subvolume: %s (%s)",
	    jts_quote(path), btrfs_util_strerror(e), strerror(errno));
	return -1;
}

int
btrfs_subvolume_delete(const char *path, char **why)
{
	enum btrfs_util_error e;

	if ((e = btrfs_util_delete_subvolume(path, 0)) == BTRFS_UTIL_OK)
		return 0;
	*why = xasprintf("%s: cannot delete the subvolume: %s (%s)",
	    jts_quote(path), btrfs_util_strerror(e), strerror(errno));
	return -1;
}

#define BTRFS_XATTRS		"btrfs."
#define BTRFS_COMPRESSION	"btrfs.compression"

/*
 * A new temporary on btrfs, before its data: the compression property of
 * a source on btrfs too, so the copy's extents are written compressed as
 * the source's were (set after the data, it would only apply to what
 * write-back had not yet written).  Not a reason to fail: said at debug.
 */
static void
btrfs_tmp_made(struct batch *b, struct move_item *it, int wfd)
{
	const char *own = b->e->tiers[it->src].ops->fs_xattrs;
	char val[64];
	ssize_t n;

	if (it->fd < 0 || own == NULL || strcmp(own, BTRFS_XATTRS) != 0)
		return;
	n = fgetxattr(it->fd, BTRFS_COMPRESSION, val, sizeof(val));
	if (n > 0 && fsetxattr(wfd, BTRFS_COMPRESSION, val, (size_t)n, 0) != 0)
		jts_debug("%s: cannot set its compression property on the "
		    "copy: %s", jts_quote(it->rel), strerror(errno));
}

const struct tier_ops tier_btrfs_ops = {
	.name = "btrfs",
	.fs_xattrs = BTRFS_XATTRS,
	.tmp_made = btrfs_tmp_made,
	LOCAL_OPS,
};
