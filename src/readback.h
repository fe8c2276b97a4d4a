/* readback.h - reading a copy back from its device while it is written */
#ifndef JTS_READBACK_H
#define JTS_READBACK_H

#include <stdint.h>

#include "util.h"

/*
 * A reader that follows a copy being written: each range the copier
 * reports written back is read again from the device (O_DIRECT, with
 * none of its pages in the page cache, checked with cachestat) and
 * hashed in order, in a thread of its own, while the next range is
 * written.  What the stream hashes to is compared by the caller, after
 * the copy is durable, exactly as a read-back done after it would be.
 */
struct readback;

/* Start following fd (the copy, opened O_RDONLY | O_DIRECT), or NULL. */
struct readback *readback_start(int fd);
/* [0, upto) is written back: it may be read. */
void	readback_advance(struct readback *, uint64_t upto);
/* Wait until everything advanced so far is read. */
void	readback_catch_up(struct readback *);
/*
 * The copy is whole at size bytes: read the rest, stop the thread, free
 * it.  0 with the stream's XXH3-128 in hash; -EAGAIN when this reader
 * could not read past the page cache (the caller reads the copy back
 * after the sync instead); or -errno of a read.
 */
int	readback_finish(struct readback *, uint64_t size,
	    unsigned char hash[JTS_HASH_LEN]);
/* Stop and free it, the result dropped. */
void	readback_cancel(struct readback *);

#endif
