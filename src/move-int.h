/*
 * move-int.h - what the move's files share: its batches, runs and
 * helpers (move.c the protocol, move-plan.c planning, move-batch.c
 * batching and the worker, recover.c recovery).  Not for other modules.
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
};
struct progress {
	bool		 on;
	uint64_t	 total, done;
	int		 files, nfiles;
	int64_t		 start, last;
};
struct batch {
	struct engine		*e;
	const struct move_opts	*o;
	struct move_item	**it;
	int			 n;
	struct progress		*pg;
	bool			 avail_known;
	uint64_t		 avail;		/* free on the destination */
	uint64_t		 beside;	/* bytes of a batch run beside */
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
void	lease_setup(void);
void	tmpname(char *buf, size_t len, int64_t id, const char *what);
void	tmp_rel(char *buf, size_t len, const char *rel, int64_t id,
	    const char *what);
const char *resolve_why(int err);
const char *nfs_why(struct engine *e, int t, int r);
const char *tier_name(struct engine *e, int t);
void	item_fail(struct move_item *it, enum item_state s, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void	item_close(struct move_item *it);
bool	pending(struct move_item *it);
int	fsync_dir(int dirfd);
bool	ident_same(const struct ident *id, const struct stat *st);
void	ident_of_journal(struct ident *id, const struct cat_journal *j);
void	pre_of_nfs(struct stat *st, const struct nfs_ident *id);
int	finish_item(struct engine *e, int src, int dst, int home,
	    const char *rel, const struct ident *pre, enum leave_mode leave,
	    int64_t id, int leasefd, struct dirset *ds, char *why, size_t len);
void	run_batch(struct batch *b);

/* move-plan.c */
const char *kind_word(mode_t m);

/* move-batch.c */
void	progress_bytes(void *arg, uint64_t n);

#endif
