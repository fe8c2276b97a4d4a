/* tier-btrfs.h - what btrfs adds to a local tier: subvolumes */
#ifndef JTS_TIER_BTRFS_H
#define JTS_TIER_BTRFS_H

#include <stdbool.h>

/* Is path a btrfs subvolume (errno set when not)? */
bool	btrfs_is_subvolume(const char *path);
/* Make or delete the subvolume path: 0, or -1 with *why (allocated). */
int	btrfs_subvolume_create(const char *path, char **why);
int	btrfs_subvolume_delete(const char *path, char **why);

#endif
