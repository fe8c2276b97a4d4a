/* copy.h - io_uring copy and hash of one file, holes kept */
#ifndef JTS_COPY_H
#define JTS_COPY_H

#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* Small files are copied many at a time, one small buffer each. */
#define COPY_SMALL_SLOTS	64
#define COPY_SMALL_MAX		(128u << 10)
/* Files from this size on are read back while they are copied. */
#define COPY_READBACK_MIN	(64ULL << 20)

struct copier {
	struct io_uring	 ring;
	int		 nbufs;
	size_t		 bufsz;
	unsigned char	*arena;
	unsigned char	*small;		/* nsmall x COPY_SMALL_MAX */
	int		 nsmall;	/* small files in flight, at most
					   COPY_SMALL_SLOTS */
	bool		 fixed;		/* buffers registered with the ring */
	bool		 pin_tried;	/* registered at the first copy, not
					   before: a daemon that only scans
					   keeps them out of its memory */
	struct cslot	*slots;
	struct ev_loop	*loop;		/* completions arrive through it */
	int		 efd;		/* the ring's eventfd, or -1 */
	void		*eio;		/* ev_io on efd */
	int		 broken;	/* -errno: the ring cannot submit */
};

/* One small file for copier_run_many. */
struct copy_job {
	int		 src;
	int		 dst;		/* -1: only hash */
	uint64_t	 size;		/* at most COPY_SMALL_MAX, no holes */
	bool		 direct;	/* src was opened O_DIRECT */
	unsigned char	 hash[JTS_HASH_LEN];
	int		 err;		/* 0 or -errno */
};

/*
 * A copy read back from its device while it is written (copier_run into a
 * buffered destination): each window, once written back, read again past
 * the page cache and hashed, overlapping the copy of the next.
 */
struct copy_readback {
	int		 fd;		/* the copy, opened O_RDONLY|O_DIRECT */
	int		 err;		/* out: 0 (hash set), -EAGAIN (not read
					   back: do it after the sync), -errno */
	unsigned char	 hash[JTS_HASH_LEN];
};

struct copy_opts {
	/* Set asynchronously (lease break, signal): abort with -ECANCELED. */
	volatile sig_atomic_t	*abort_flag;
	/* Set by SIGINT/SIGTERM: stop as well. */
	volatile sig_atomic_t	*stop_flag;
	/* Called with the bytes just written (or hashed, hash-only). */
	void			(*progress)(void *arg, uint64_t bytes);
	void			*arg;
	/* Test knob: submit every request shorter than it should be. */
	bool			 short_io;
	/* Keep to these of the process's paces (jts_pace_go); 0: none. */
	unsigned		 pace;
	/* Read the copy back as it is written (NULL: not). */
	struct copy_readback	*rb;
};

/* Feed n zero bytes (a hole) to a hash state. */
struct XXH3_state_s;
void	copy_hash_zeros(struct XXH3_state_s *, uint64_t n);

struct ev_loop;
/*
 * Deliver the ring's completions through an event loop (an eventfd the
 * ring signals, watched by loop): waits then run the loop, so its other
 * sources are served while a copy is in flight.  0 or -errno.
 */
int	copier_attach_loop(struct copier *, struct ev_loop *);
/*
 * Submit what is queued on cp->ring and wait for a completion (through
 * the loop if attached).  0, or -EINTR when the loop turned without one.
 * Other users of the ring (the scan's statx) wait with it too.
 */
int	copier_wait(struct copier *);
int	copier_init(struct copier *, int nbufs, size_t bufsz);
/* The same with nsmall small files in flight (a smaller arena). */
int	copier_init_small(struct copier *, int nbufs, size_t bufsz,
	    int nsmall);
/* Why copier_init failed with err (< 0), and what to do about it. */
const char *copier_init_why(int err);
void	copier_fini(struct copier *);

/*
 * Copy size bytes of src into dst (dst < 0: only hash), several requests in
 * flight, holes kept (SEEK_DATA/SEEK_HOLE), the XXH3-128 of the whole stream
 * (holes read as zeros) in hash.  dst may be O_DIRECT: the last block is
 * padded and the file truncated to size.  Returns 0 or -errno; -ESTALE when
 * the source ends before size.
 */
int	copier_run(struct copier *, int src, int dst, uint64_t size,
	    unsigned char hash[JTS_HASH_LEN], const struct copy_opts *);

/*
 * Copy (or hash) many small files at once, a request in flight for each of
 * up to COPY_SMALL_SLOTS files; short I/O requeued.  Each job's result is
 * in its err and hash; returns 0 unless the ring itself failed.
 */
int	copier_run_many(struct copier *, struct copy_job *, int n,
	    const struct copy_opts *);

/*
 * fsync every descriptor at once (IORING_OP_FSYNC), so the file system
 * can join them into one commit; err[i] is 0 or -errno for fds[i].
 * Returns 0 unless the ring itself failed.
 */
int	copier_fsync_many(struct copier *, const int *fds, int n, int *err);

/*
 * Copy size bytes of src to dst (from offset 0) with plain pread and
 * pwrite, hashed into hash (dst -1: only hashed): for a descriptor the
 * ring must not drive, such as a fanotify event's (a stub being filled).
 * src may be O_DIRECT.  0, -ESTALE if src ends early, or -errno.
 */
/*
 * A paced copy (o->pace, see jts_pace_go; o may be NULL): may n bytes go
 * now?  busy: answers are in flight (no sleep here).  Held, the caller's
 * progress hears of it as no bytes: the daemon answers its clients there
 * (a cancel among them).
 */
bool	copy_pace_ok(const struct copy_opts *o, uint64_t n, bool busy);
int	jts_copy_plain(int src, int dst, int64_t size,
	    unsigned char hash[JTS_HASH_LEN]);

#endif
