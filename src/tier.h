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
#include <sys/stat.h>
#include <sys/types.h>

#include "conf.h"

struct copier;
struct ev_loop;
struct tier_ops;

/*
 * The catalog a tier's writer works for: what a remote tier keeps of it
 * beside the data (an object store's metadata, the claim of its prefix;
 * see s3.h).  A process that only reads has none.
 */
struct tier_owner {
	char		 catalog[40];	/* its UUID */
	char		*adopted;	/* UUIDs it took over, space-separated */
	char		 host[256];	/* gethostname */
	char		 machine[40];	/* /etc/machine-id, or "" */
};

struct tier {
	struct tier_conf *tc;
	const struct tier_owner *owner;	/* NULL: reads only */
	const struct tier_ops *ops;
	int		 idx;
	int		 rootfd;	/* O_PATH, the tier root; -1: none */
	dev_t		 dev;
	ino_t		 ino;
	void		*conn;		/* the backend's connection, once made */
	struct ev_loop	*loop;		/* what drives it; NULL: its own */
};

/* A tier's room, as df counts it: size is used plus available. */
struct tier_space {
	uint64_t	 size, used, avail;
	char		 why[512];	/* why it could not be measured */
};

/* The error of a path that is not a regular file (a FIFO, a device). */
#define EFTYPE_NOTREG	EBADFD

/* What a kind of tier can do. */
#define TIER_CAP_LEASES		0x01	/* F_SETLEASE on its files */
#define TIER_CAP_XATTRS		0x02	/* xattrs and ACLs are kept */
#define TIER_CAP_DIRSYNC	0x04	/* fsync of a directory */
#define TIER_CAP_WORKERS	0x08	/* batches beside each other */
#define TIER_CAP_LOCAL		0x10	/* a path on this host reaches it */

struct batch;
struct dirset;
struct engine;
struct ident;
struct move_item;

/*
 * What a release is asked to do (step 8): the source name rel on tier t,
 * which must still be the file pre, is replaced by a symlink to target
 * (or removed when target is NULL), or by a stub (see stub.h) when
 * stub_hash, the verified hash of its data, is set.  leasefd: the descriptor whose write
 * lease is held on it, or -1.  ds: where the batch notes directories to
 * sync; NULL in recovery, which looks before it acts.
 */
struct release {
	struct engine	*e;
	int		 t;
	const char	*rel;
	const struct ident *pre;
	const char	*target;
	int64_t		 id;
	int		 leasefd;
	struct dirset	*ds;
	const unsigned char *stub_hash;
	/* relink: where nothing is at the home path (the data was where no
	 * path leads), make the symlink (leave = symlink) */
	bool		 create;
};

struct tier_ops {
	const char	*name;
	unsigned	 caps;
	/*
	 * The xattr namespace its file system keeps for itself (btrfs's
	 * properties, "btrfs."): a file's settings there, not its data;
	 * carried only between tiers of the same namespace.
	 */
	const char	*fs_xattrs;

	/* --- what every command asks of a tier ----------------------- */

	/* Its size and free space: 0, or -errno (unknown). */
	int		(*space)(struct tier *, struct tier_space *);
	/*
	 * XXH3-128 of the regular file rel, read afresh (past the page
	 * cache, or over the network), into out: 0; -ESTALE if its size
	 * is not size; -EFTYPE_NOTREG if it is not a regular file; -EBUSY
	 * if a lease holds it; -EHOSTUNREACH if the tier cannot be reached;
	 * or another -errno.  cp reads local files.  seen: what the caller
	 * found at rel just before (NULL: look first); a backend whose files
	 * cannot be swapped under it (no FIFO blocks a READ) trusts it.
	 */
	int		(*hash)(struct tier *, struct copier *, const char *rel,
			    int64_t size, const struct stat *seen,
			    unsigned char *out);
	/*
	 * The same read, its data also written to the local descriptor wfd
	 * from offset 0: a stub's recall.  0 or -errno as hash returns.
	 */
	int		(*read_into)(struct tier *, struct copier *,
			    const char *rel, int64_t size, int wfd,
			    unsigned char *out);
	/*
	 * What is at rel, not following a final symlink: 0 and st filled,
	 * or -errno (-EHOSTUNREACH: the tier cannot be reached now).
	 */
	int		(*lookup)(struct tier *, const char *rel, struct stat *);
	/* Why the tier cannot be reached, or NULL if it can. */
	const char	*(*unreachable)(struct tier *);
	/*
	 * Write size bytes of the local fd src to rel durably and read them
	 * back afresh (times in ns), then remove rel: the benchmark and
	 * provisioning's verify of a tier no local path reaches.  0, or
	 * -errno with why set.
	 */
	int		(*probe)(struct tier *, int src, uint64_t size,
			    const char *rel, int64_t *write_ns,
			    int64_t *read_ns, char *why, size_t len);
	/* What the probe's two halves do, in words. */
	const char	*probe_write, *probe_read;
	/* Remove the file rel (one of ours: a benchmark's); 0 or -errno. */
	int		(*drop)(struct tier *, const char *rel);
	/* Forget a connection that broke, so the next use tries afresh. */
	bool		(*reset)(struct tier *);
	/* Let go of what it holds (a connection). */
	void		(*close)(struct tier *);
	/*
	 * The tier is this catalog's alone (a shared store's prefix,
	 * claimed): 0, or -1 with why set.  take_over: replace another
	 * catalog's claim (adopting its UUID through adopt, which returns
	 * 0 once the catalog keeps it).  NULL: nothing to claim.
	 */
	int		(*claim)(struct tier *, bool take_over,
			    int (*adopt)(void *, const char *uuid), void *arg,
			    char *why, size_t len);

	/*
	 * --- the move's phases (move.c runs them, in order) ------------
	 *
	 * Each takes the batch and its pending items; an item that fails
	 * is failed with item_fail and its temporary removed, the others
	 * go on.  All items of a batch share their source and destination
	 * tiers.  Functions returning int return the items still pending.
	 */

	/* Steps 1-2 on the source: what it is, that it may move (it->pre). */
	void		(*src_prepare)(struct batch *, struct move_item *);
	/*
	 * The sources of these items are looked at one by one next (step 1,
	 * and step 7's check): a backend that looks over the network may
	 * look at all of them at once now.  NULL: nothing ahead.
	 */
	void		(*look_ahead)(struct batch *, struct move_item **v,
			    int n);
	/*
	 * Step 8 for these items, before their releases one by one: a
	 * backend may release them all at once here (each still the source
	 * copied), and its releases then find the work done.  NULL: none.
	 */
	void		(*release_ahead)(struct batch *, struct move_item **v,
			    int n);
	/* Step 3 on the source: hold it (a write lease) until released. */
	void		(*src_hold)(struct batch *, struct move_item *);
	/*
	 * Recovery's hold on a source before its release, as src_hold: a
	 * descriptor to pass as leasefd and close after, -1 if there is
	 * nothing to hold, -EBUSY if another process has it open.
	 */
	int		(*hold_path)(struct tier *, const char *rel,
			    const struct ident *pre);
	/* Step 7's check of the source: unchanged since step 1?  0 or -1. */
	int		(*src_same)(struct batch *, struct move_item *);
	/*
	 * Step 5 from a source no local path reaches: its data into the
	 * local descriptor wfd, hashed into it->hash; 0 or -errno, with
	 * *why the cause in words when known.
	 */
	int		(*fetch)(struct batch *, struct move_item *, int wfd,
			    const char **why);
	/*
	 * Or many at once (taken before fetch when set): item i into wfd[i]
	 * (skipped where < 0), its result in res[i] and, when known, the
	 * cause in why[i] (allocated; the caller frees it).
	 */
	void		(*fetch_many)(struct batch *, struct move_item **v,
			    const int *wfd, int *res, char **why, int n);
	/* Step 2 on the destination: its directory, no file there. */
	void		(*dst_prepare)(struct batch *, struct move_item *);
	/*
	 * Step 5, on a local destination: the temporary wfd was created and
	 * nothing is written yet (where a property must be set first).
	 */
	void		(*tmp_made)(struct batch *, struct move_item *, int wfd);
	/* Step 5: the data and attributes under the temporary name. */
	int		(*copy)(struct batch *, struct move_item **, int n);
	/*
	 * Step 5 for a name of a set of hard links: its temporary made a
	 * link to the temporary of lead, the set's name that was copied
	 * (NULL: the tier cannot keep hard links).  0, or -1 with it failed.
	 */
	int		(*link)(struct batch *, struct move_item *lead,
			    struct move_item *it);
	/* Step 5, end: the copies durable (syncfs, COMMIT). */
	int		(*durable)(struct batch *, struct move_item **, int n);
	/* Step 6: read back past every cache, compared with the stream. */
	void		(*readback)(struct batch *, struct move_item **, int n);
	/* Step 7: each source unchanged (src_same), the copy in place. */
	void		(*place)(struct batch *, struct move_item **, int n);
	/* Step 7, end: the names durable; undo what cannot be made so. */
	void		(*place_durable)(struct batch *, struct move_item **,
			    int n);
	/* Remove the item's temporary (a failure): idempotent, never the data. */
	void		(*drop_tmp)(struct engine *, struct move_item *);
	/*
	 * Recovery of a move that never committed: remove its temporary on
	 * tier t (or swap back a recall's half-done swap).  0, or -errno
	 * with why set (the row stays for the next run).
	 */
	int		(*undo_tmp)(struct engine *, int t, const char *rel,
			    int64_t id, char *why, size_t len);
	/*
	 * Step 8 on the destination, before the release: what the move
	 * left beside the copy (a recall's old symlink; in recovery, a
	 * temporary left between LINK and its removal).  0 or -1, why set.
	 */
	int		(*tidy)(struct engine *, int t, const char *rel,
			    int64_t id, bool home, struct dirset *ds,
			    char *why, size_t len);
	/*
	 * Settling a conflict: remove the regular file rel on tier t if it
	 * is size bytes hashing to hash (XXH3-128) and nobody has it open
	 * for writing: 0 removed, -ENOENT nothing there, 1 kept (why says
	 * why: it differs, or is being written), or another -errno.  A name
	 * of the tree is first renamed to the hidden name of journal row id
	 * and checked to be the file hashed, so a file put there meanwhile
	 * is never removed.
	 */
	int		(*drop_same)(struct engine *, int t, const char *rel,
			    int64_t id, const unsigned char *hash,
			    int64_t size, char *why, size_t len);
	/* Step 8: release the source (see struct release); 0 or -1. */
	int		(*release)(const struct release *, char *why,
			    size_t len);
	/*
	 * Step 8 at the home path, when the data moves on from one tier
	 * to another: the symlink there now points at target (removed if
	 * NULL).  Idempotent; 0 or -1 with why set.
	 */
	int		(*relink)(const struct release *, char *why, size_t len);
};

extern const struct tier_ops tier_posix_ops;
extern const struct tier_ops tier_btrfs_ops;
extern const struct tier_ops tier_nfs_ops;
extern const struct tier_ops tier_s3_ops;

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
	    int64_t size, const struct stat *seen, unsigned char *out);
/* The same, the data written to wfd (see tier_ops.read_into). */
int	tier_read_into(struct tier *, struct copier *, const char *rel,
	    int64_t size, int wfd, unsigned char *out);
/* What is at rel on t (see tier_ops.lookup); 0 or -errno. */
int	tier_lookup(struct tier *, const char *rel, struct stat *);
/* Why t cannot be reached now, or NULL if it can. */
const char *tier_unreachable(struct tier *);
/* Set t up from a tier's settings alone (no configuration around it). */
void	tier_init_tc(struct tier *, struct tier_conf *tc);
/* Used out of size, in percent rounded up (df's Use%); -1 if unknown. */
int	tier_space_pct(const struct tier_space *);
bool	tier_has(const struct tier *, unsigned cap);
/* Where rel on the tier tc is, for people: a path, or the NAS's URL's. */
char	*tier_data_path(const struct tier_conf *tc, const char *rel);
/* What a symlink left behind points to; NULL where no local path leads
 * (a tier with neither a root nor a mountpoint). */
char	*tier_link_target(const struct tier_conf *tc, const char *rel);

#endif
