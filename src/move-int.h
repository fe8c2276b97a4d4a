/*
 * move-int.h - what the move's files share: its batches, runs and
 * helpers (move.c the protocol, move-plan.c planning, move-batch.c
 * batching and the worker, recover.c recovery), and what the backends'
 * phases (tier-*.c) use of them.  Not for other modules.
 */
#ifndef JTS_MOVE_INT_H
#define JTS_MOVE_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "move.h"

#define BATCH_FILES	4096
#define BATCH_BYTES	(512ULL << 20)
#define DIRECT_MIN	(1ULL << 20)	/* read sources this big O_DIRECT */
#define MAX_FD		65536

extern volatile sig_atomic_t stop_requested;
extern volatile sig_atomic_t stop_signalled;
extern volatile sig_atomic_t run_active;

/*
 * Directories whose entries a batch changed, synced once each before the
 * batch's next catalog commit.  NULL means: sync at once.
 */
struct dirset {
	struct engine	*e;
	int		 n, cap;
	struct {
		dev_t	 dev;
		ino_t	 ino;
		int	 fd;
	}		*d;
};
/* What a source was before the copy; it must still be that to go. */
struct ident {
	ino_t		 ino;
	int64_t		 size, mtime_ns, ctime_ns;
	bool		 linked;	/* a name of a set of hard links:
					   ctime is not compared (releasing
					   another name changes it) */
};
struct progress {
	bool		 on;
	uint64_t	 total, done;
	int		 files, nfiles;
	int64_t		 start, last;
	void		(*tick)(void);	/* move_opts' */
};
struct batch {
	struct engine		*e;
	const struct move_opts	*o;
	struct move_item	**it;
	int			 n;
	struct progress		*pg;
	bool			 one;		/* a lone file: fsync, not syncfs */
	bool			 avail_known;
	uint64_t		 avail;		/* free on the destination */
	uint64_t		 beside;	/* bytes of a batch run beside */
	/* The home directories the batch changes, their mtimes before. */
	struct dir_time {
		int		 fd;	/* O_PATH */
		dev_t		 dev;
		ino_t		 ino;
		struct timespec	 mtime;
	}			*dt;
	int			 ndt;
};
struct move_runstate {
	struct progress		 pg;
	struct sigaction	 old_int, old_term;
	int			 max_batch;
	int64_t			 t0;
	/* A second batch between local tiers moves beside the first. */
	struct engine		 worker;
	int			 worker_state;	/* 0 not yet, 1 open, -1 none */
};

/* move.c: signals, names, items, the protocol's batch. */
void	on_stop(int sig);
void	tmpname(char *buf, size_t len, int64_t id, const char *what);
void	tmp_rel(char *buf, size_t len, const char *rel, int64_t id,
	    const char *what);
const char *resolve_why(int err);
/* An I/O error in words, with where to look when that is known. */
const char *io_why(int err);
const char *tier_name(struct engine *e, int t);
void	item_fail(struct move_item *it, enum item_state s, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void	item_close(struct move_item *it);
bool	pending(struct move_item *it);
/*
 * Step 7's check of a source no lease holds (on a NAS, an object store):
 * at(e, t, rel, pre, why, len), the backend's look at it now, says
 * whether it is still what it was (0), or why not; the item fails then.
 */
int	src_same_by(struct batch *b, struct move_item *it,
	    int (*at)(struct engine *, int, const char *,
	    const struct ident *, char *, size_t));
/* Step 7's check of the item's source, through the source tier's table. */
int	item_src_same(struct batch *b, struct move_item *it);
/* Remove the item's temporary, through the destination tier's table. */
void	item_drop_tmp(struct engine *e, struct move_item *it);
/*
 * Judge the copy r of it (dst_why: its cause in words if known): an
 * error, an interruption, or a source unchanged since it was catalogued
 * yet hashing differently (rot).  0, or nonzero with the item failed.
 */
int	copy_judge(struct batch *b, struct move_item *it, int r,
	    const char *dst_why);
/* Step 6's verdict on it: the read r, the hash h read back. */
void	verify_done(struct batch *b, struct move_item *it, int r,
	    const unsigned char *h);
/*
 * The one chunker: one(b, it) for each item of v that is not small, and
 * many(b, s, k) for the small ones, COPY_SMALL_SLOTS at a time.  Returns
 * the sum of what they return (the items still pending, for a copy).
 */
int	batch_by_size(struct batch *b, struct move_item **v, int n,
	    bool (*small)(const struct batch *, const struct move_item *),
	    int (*one)(struct batch *, struct move_item *),
	    int (*many)(struct batch *, struct move_item **, int));
/* What every copy of batch b shares: counted in its progress, and kept
 * to the daemon's paces when its moves are paced (batch_pace). */
void	batch_copy_opts(struct batch *b, struct copy_opts *co);
unsigned batch_pace(const struct batch *b);
/* The settings of the item's copy: the batch's, and aborted by a lease
 * break or a stop. */
void	copy_opts_of(struct batch *b, struct move_item *it,
	    struct copy_opts *co);
/* Fail every pending item of the batch: temporaries removed. */
void	batch_abandon(struct engine *e, struct batch *b, const char *why);
int	fsync_dir(int dirfd);
/* Note dirfd to sync before the batch's next commit (ds NULL: now). */
int	dir_sync(struct dirset *ds, int dirfd);
/* Sync every noted directory, all at once; 0 or the first error. */
int	dirs_flush(struct dirset *ds);
bool	ident_same(const struct ident *id, const struct stat *st);
void	ident_of(struct ident *id, const struct stat *st);
void	ident_of_journal(struct ident *id, const struct cat_journal *j);
int	finish_item(struct engine *e, int src, int dst, int home,
	    const char *rel, const struct ident *pre, enum leave_mode leave,
	    const unsigned char *hash, int64_t id, int leasefd, struct dirset *ds, char *why, size_t len);
void	run_batch(struct batch *b);

/* tier-lease.c: read leases on local files. */
void	lease_setup(void);
/*
 * Take a read lease on fd, its break flag cleared: 0, or -errno (errno
 * set: EAGAIN when another process has the file open for writing).
 */
int	lease_take(int fd);
/* The flag a lease break on fd raises (a copy's abort flag). */
volatile sig_atomic_t *lease_flag(int fd);
/* fd is being closed: its lease is gone with it. */
void	lease_forget(int fd);
/* Is the write lease on fd gone (broken, or never held)? */
bool	lease_lost_fd(int fd);

/* move-plan.c */
const char *kind_word(mode_t m);

/* move-batch.c */
void	progress_bytes(void *arg, uint64_t n);

#endif
