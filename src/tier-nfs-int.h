/*
 * tier-nfs-int.h - what the NFS client's two halves share: the loop and
 * single requests (tier-nfs-rpc.c), data with many requests in flight
 * (tier-nfs-xfer.c).  Not for other modules.
 */
#ifndef JTS_TIER_NFS_INT_H
#define JTS_TIER_NFS_INT_H

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "tier-nfs.h"

#define NSLOTS		16		/* most requests in flight per file */
#define CHUNK_MAX	(1u << 20)
#define MANY_INFLIGHT	64

/*
 * libnfs keeps struct nfs_fh private; SETATTR with nanosecond times needs
 * the raw call and so the handle.  Its layout is libnfs' own (a length
 * and the bytes) and has not changed since libnfs 1.x.
 */
struct nfst_fh {
	int		 len;
	char		*val;
};

/* One turn of the loop; the connection torn down after the timeout
 * without an answer (*seen, *last: answers counted, and when). */
void	nt_step(struct nfs_tier *, uint64_t *seen, int64_t *last);
/* Run the loop until *pending requests are answered; 0, or -EIO when
 * the connection broke. */
int	nt_wait(struct nfs_tier *, int *pending);
/* 0 if calls may be made, -EIO if the connection is gone. */
int	nt_usable(struct nfs_tier *);
/* A libnfs status as -errno (a failed READ or WRITE: from msg). */
int	nt_errno(int status, const char *msg);
/* A raw RPC's status and NFS status as -errno. */
int	rpc_errno(struct nfs_tier *, int status, int nfsstat);
/* rel beneath the export's base, allocated. */
char	*nt_path(struct nfs_tier *, const char *rel);
/* SETATTR's two halves: size and owner, then mode and times. */
void	sa_size_owner(SETATTR3args *, const struct stat *, bool own);
void	sa_mode_times(SETATTR3args *, const struct stat *);

#endif
