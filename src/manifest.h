/* manifest.h - the provisioning manifest (jts-tier.manifest(5)) */
#ifndef JTS_MANIFEST_H
#define JTS_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MF_MAX_VOLUMES	32
#define MF_MAX_SUBVOLS	64

/* Who owns a directory, as written in the manifest ("user[:group]"). */
struct mf_owner {
	char		*user;		/* NULL: leave the owner alone */
	char		*group;		/* NULL: the user's primary group */
	mode_t		 mode;
	bool		 has_mode;
};

/* A file system to make and mount: a hot volume or the warm disk. */
struct mf_volume {
	char		*name;		/* section name */
	char		*lv;		/* logical volume in the hot vg */
	uint64_t	 size;		/* its size */
	char		*device;	/* or a whole device, no LVM */
	char		*fs;		/* ext4, xfs or btrfs */
	char		*label;
	char		*mount;		/* absolute mount point */
	char		*options;	/* mount options */
	char		*compression;	/* btrfs: compress= */
	bool		 autodefrag;	/* btrfs */
	struct mf_owner	 own;
	int		 line;
};

struct mf_subvol {
	char		*name;
	char		*path;		/* beneath the warm mount point */
	struct mf_owner	 own;
	int		 line;
};

/* I/O tuning of one disk. */
struct mf_tune {
	char		*scheduler;	/* NULL: leave alone */
	int		 read_ahead_kb;	/* -1: leave alone */
};

struct manifest {
	char		*path;
	/* [hot] */
	bool		 has_hot;
	char		*hot_device;	/* the disk the volume group is on */
	char		*vg;
	struct mf_tune	 hot_tune;
	bool		 fstrim_timer;
	int		 hot_line;
	int		 nvols;
	struct mf_volume vols[MF_MAX_VOLUMES];
	/* [warm] */
	bool		 has_warm;
	struct mf_volume warm;		/* fs is btrfs */
	struct mf_tune	 warm_tune;
	int		 nsubvols;
	struct mf_subvol subvols[MF_MAX_SUBVOLS];
	/* [cold] */
	bool		 has_cold;
	char		*cold_url;	/* nfs://server/export/path */
	char		*cold_mount;	/* where the host mounts it, or NULL */
	char		*cold_source;	/* fstab source; from the URL if NULL */
	char		*cold_options;
	int		 cold_timeout;	/* seconds without an answer */
	int		 cold_line;
};

/*
 * Load and validate a manifest.  On error returns a negative value and
 * writes "file:line: reason" into err.
 */
int	manifest_load(const char *path, struct manifest *, char *err,
	    size_t errlen);
/* The same, from a string (path names it in messages). */
int	manifest_parse(const char *path, const char *text, size_t len,
	    struct manifest *, char *err, size_t errlen);
void	manifest_free(struct manifest *);
/* The block device a volume's file system is made on. */
char	*manifest_volume_dev(const struct manifest *, const struct mf_volume *);
/* The mount options a volume is mounted with (btrfs keys folded in). */
char	*manifest_volume_options(const struct mf_volume *);

#endif
