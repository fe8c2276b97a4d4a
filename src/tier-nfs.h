/* tier-nfs.h - the cold tier: a NAS reached in userspace with libnfs */
#ifndef JTS_TIER_NFS_H
#define JTS_TIER_NFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "copy.h"
#include "util.h"

#define NFST_TIMEOUT_DEFAULT	60	/* seconds without an answer */
#define NFST_INFLIGHT_DEFAULT	4	/* READs or WRITEs per file */

struct ev_loop;
struct nfs_context;
struct nfsfh;

/*
 * One connection to an export, driven by a libev loop: libnfs' socket is
 * watched for the events it asks for (re-armed whenever they or the socket
 * change) and a periodic timer services it so RPC timeouts fire.  Calls
 * queue their requests, several in flight, and run the loop until they
 * are answered.  When the server stops answering for timeout seconds, or
 * the connection is lost, the connection is torn down: every later call
 * fails at once with -EIO and err says why.
 */
struct nfs_tier {
	char		*url;		/* as configured, for messages */
	struct nfs_context *nfs;
	struct ev_loop	*loop;
	bool		 own_loop;
	void		*io, *tick;	/* ev_io, ev_timer */
	int		 fd, events;
	int		 timeout_s;
	int		 inflight;	/* READs or WRITEs per file, <= 16 */
	char		*base;		/* beneath the mounted export */
	char		*last_dir;	/* nfst_mkdirs' last, known to exist */
	uint64_t	 rmax, wmax;
	uint64_t	 answers;	/* completions, to see progress */
	bool		 stalled;	/* a request timed out */
	bool		 broken;
	/* The write verifier of the WRITEs since nfst_put began. */
	unsigned char	 wverf[8];
	bool		 wverf_set;
	bool		 restarted;	/* it changed: unstable data lost */
	char		 err[512];
};

/* What a path on the export is: the fields that tell a changed file. */
struct nfs_ident {
	uint64_t	 ino, size;
	int64_t		 mtime_ns, ctime_ns;
	uint32_t	 mode, uid, gid, nlink;
};

/*
 * Mount url (nfs://server/export[/path][?args]).  loop may be NULL (a
 * private loop).  Returns 0, or -errno with err set ("URL: cause");
 * either way nfst_close frees what it holds.
 */
/*
 * The connection of nfs tier t, made on first use with its url, timeout,
 * inflight and loop; NULL if it cannot be made or broke (t->nt->err says
 * why).  *fresh (may be NULL): whether this call tried to make it.
 */
struct tier;
struct nfs_tier *tier_nfs_conn(struct tier *t, bool *fresh);

int	nfst_connect(struct nfs_tier *, const char *url, int timeout_s,
	    struct ev_loop *loop);
/* How many READs or WRITEs of one file are in flight (1 to 16). */
void	nfst_set_inflight(struct nfs_tier *, int n);
void	nfst_close(struct nfs_tier *);

/* Path operations, rel beneath the tier; 0 or -errno. */
int	nfst_lstat(struct nfs_tier *, const char *rel, struct nfs_ident *);
int	nfst_mkdirs(struct nfs_tier *, const char *reldir, mode_t);
int	nfst_unlink(struct nfs_tier *, const char *rel);
/* A second name for a file: fails with -EEXIST, never replaces. */
int	nfst_link(struct nfs_tier *, const char *from, const char *to);
int	nfst_rename(struct nfs_tier *, const char *from, const char *to);
/*
 * The same for n paths at once, many in flight; err[i] is 0 or -errno.
 * They return -EIO (every err -EIO) if the connection broke.
 */
int	nfst_unlink_many(struct nfs_tier *, const char *const *rel, int n,
	    int *err);
int	nfst_link_many(struct nfs_tier *, const char *const *from,
	    const char *const *to, int n, int *err);
/* Space: available to us, and the export's size (total may be NULL). */
/* FSSTAT: total, free and available bytes; 0 or -errno. */
int	nfst_fsstat(struct nfs_tier *, uint64_t *total, uint64_t *freeb,
	    uint64_t *avail);
int	nfst_avail(struct nfs_tier *, uint64_t *bytes, uint64_t *total);

/* Create rel exclusively, for writing. */
int	nfst_create(struct nfs_tier *, const char *rel, mode_t,
	    struct nfsfh **);
int	nfst_open_read(struct nfs_tier *, const char *rel, struct nfsfh **);
int	nfst_close_fh(struct nfs_tier *, struct nfsfh *);

/*
 * Write size bytes of the local fd src into fh, several WRITEs in flight,
 * holes skipped, hashing the stream (holes as zeros).  -ESTALE if src ends
 * early, -ECANCELED if an abort flag is raised.
 */
int	nfst_put(struct nfs_tier *, struct nfsfh *, int src, uint64_t size,
	    unsigned char hash[JTS_HASH_LEN], const struct copy_opts *);
/*
 * Read size bytes of fh, several READs in flight, hashing them in order,
 * and write them to the local fd dst unless dst < 0 (all-zero blocks are
 * left as holes, the file truncated to size).  -ESTALE if fh ends early.
 */
int	nfst_get(struct nfs_tier *, struct nfsfh *, int dst, uint64_t size,
	    unsigned char hash[JTS_HASH_LEN], const struct copy_opts *);
/* Copies this small are written (and read back) many at a time. */
#define NFST_SMALL_MAX	(1u << 20)

/* One small file for nfst_put_many. */
struct nfst_put_job {
	const char	*rel;		/* the temporary, created exclusively */
	int		 src;		/* the local source, read whole */
	uint64_t	 size;		/* below NFST_SMALL_MAX */
	const struct stat *st;		/* mode, owner, times to set */
	unsigned char	 hash[JTS_HASH_LEN];
	struct nfsfh	*fh;		/* written, not committed, if err 0 */
	int		 err;		/* 0 or -errno */
	const char	*what;		/* the step that failed */
};

/*
 * Create, write and set the attributes of n small copies, many in flight,
 * each step sent by the answer to the one before.  Each job's result is
 * in its err (what failed in what) and its fh, to COMMIT and close.
 * Paced (pace: the paces of jts_pace_go, 0 none): each file's bytes
 * wait for them first.  Returns 0, or -EIO if the connection broke
 * (every job failed).
 */
int	nfst_put_many(struct nfs_tier *, struct nfst_put_job *, int n,
	    unsigned pace);

/*
 * Read n files whole, several at once, each opened afresh; hash[i] is
 * the XXH3-128 of rel[i]'s first size[i] bytes when err[i] is 0.
 */
int	nfst_hash_many(struct nfs_tier *, const char *const *rel,
	    const uint64_t *size, unsigned char (*hash)[JTS_HASH_LEN],
	    int *err, int n);
/*
 * Set mode, times (nanoseconds) and size in one SETATTR, and owner when
 * own is set; -EPERM when the server refuses the owner.
 */
int	nfst_setattr(struct nfs_tier *, struct nfsfh *, const struct stat *,
	    bool own);
/*
 * COMMIT: what was written is on the server's stable storage.  -ECONNRESET
 * (and restarted set) when the server restarted since the WRITEs: its
 * write verifier changed, so unstable data may be lost.
 */
int	nfst_commit(struct nfs_tier *, struct nfsfh *);
/* COMMIT n files, many in flight; err[i] is 0 or -errno for fhs[i]. */
int	nfst_commit_many(struct nfs_tier *, struct nfsfh **fhs, int n,
	    int *err);

#endif
