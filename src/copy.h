/* copy.h - io_uring copy and hash of one file, holes kept */
#ifndef JTS_COPY_H
#define JTS_COPY_H

#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct copier {
	struct io_uring	 ring;
	int		 nbufs;
	size_t		 bufsz;
	unsigned char	*arena;
	bool		 fixed;		/* buffers registered with the ring */
	struct cslot	*slots;
};

struct copy_opts {
	/* Set asynchronously (lease break, signal): abort with -ECANCELED. */
	volatile sig_atomic_t	*abort_flag;
	/* Called with the bytes just written (or hashed, hash-only). */
	void			(*progress)(void *arg, uint64_t bytes);
	void			*arg;
	/* Test knob: submit every request shorter than it should be. */
	bool			 short_io;
};

int	copier_init(struct copier *, int nbufs, size_t bufsz);
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

#endif
