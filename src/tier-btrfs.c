/*
 * tier-btrfs.c - a tier on btrfs: a local file system first (the
 * operations of tier-posix.c), and what only btrfs has: subvolumes
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <btrfsutil.h>

#include "tier-btrfs.h"
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

const struct tier_ops tier_btrfs_ops = {
	.name = "btrfs",
	LOCAL_OPS,
};
