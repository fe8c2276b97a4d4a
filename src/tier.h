/* tier.h - a tier and the table of operations of its kind
 *
 * Each kind of tier (posix, btrfs, nfs) fills one struct tier_ops with
 * designated initialisers, as fio's engines fill struct ioengine_ops;
 * code that only needs what every tier offers (its size and free space,
 * the capabilities it has) goes through the table and never asks which
 * kind it drives.
 */
#ifndef JTS_TIER_H
#define JTS_TIER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"

struct copier;
struct ev_loop;
struct nfs_tier;
struct tier_ops;

struct tier {
	struct tier_conf *tc;
	const struct tier_ops *ops;
	int		 idx;
	int		 rootfd;	/* O_PATH, the tier root; -1 if nfs */
	dev_t		 dev;
	ino_t		 ino;
	struct nfs_tier	*nt;		/* nfs: the connection, once made */
	struct ev_loop	*loop;		/* what drives it; NULL: its own */
};

/* A tier's room, as df counts it: size is used plus available. */
struct tier_space {
	uint64_t	 size, used, avail;
};

/* The error of a path that is not a regular file (a FIFO, a device). */
#define EFTYPE_NOTREG	EBADFD

/* What a kind of tier can do. */
#define TIER_CAP_LEASES		0x01	/* F_SETLEASE on its files */
#define TIER_CAP_XATTRS		0x02	/* xattrs and ACLs are kept */
#define TIER_CAP_DIRSYNC	0x04	/* fsync of a directory */
#define TIER_CAP_WORKERS	0x08	/* batches beside each other */
#define TIER_CAP_LOCAL		0x10	/* a path on this host reaches it */

struct tier_ops {
	const char	*name;
	unsigned	 caps;
	/* Its size and free space: 0, or -errno (unknown). */
	int		(*space)(struct tier *, struct tier_space *);
	/*
	 * XXH3-128 of the regular file rel, read afresh (past the page
	 * cache, or over the network), into out: 0; -ESTALE if its size
	 * is not size; -EFTYPE_NOTREG if it is not a regular file; -EBUSY
	 * if a lease holds it; or another -errno.  cp reads local files.
	 */
	int		(*hash)(struct tier *, struct copier *, const char *rel,
			    int64_t size, unsigned char *out);
	/* Let go of what it holds (a connection). */
	void		(*close)(struct tier *);
};

extern const struct tier_ops tier_posix_ops;
extern const struct tier_ops tier_btrfs_ops;
extern const struct tier_ops tier_nfs_ops;

/* The table of a kind. */
const struct tier_ops *tier_ops_of(enum tier_kind);

/*
 * Set t up as tier idx of c without the engine: read-only users (status,
 * metrics, policy test) open nothing until an operation needs it.
 */
void	tier_init(struct tier *, struct conf *c, int idx);
void	tier_fini(struct tier *);

/* t's room (the one way every command measures it); 0 or -errno. */
int	tier_space(struct tier *, struct tier_space *);
/* The same for tier idx of c on its own (a connection made for it). */
int	tier_space_conf(struct conf *c, int idx, struct tier_space *);
/* The one way every command hashes a copy (see tier_ops.hash). */
int	tier_hash(struct tier *, struct copier *, const char *rel,
	    int64_t size, unsigned char *out);
/* Used out of size, in percent rounded up (df's Use%); -1 if unknown. */
int	tier_space_pct(const struct tier_space *);
bool	tier_has(const struct tier *, unsigned cap);

#endif
