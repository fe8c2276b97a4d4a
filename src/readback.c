/* readback.c - reading a copy back from its device while it is written */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "readback.h"

#ifndef __NR_cachestat
#define __NR_cachestat	451		/* Linux 6.5 */
#endif

#define RB_ALIGN	4096u
#define RB_BUFSZ	(4u << 20)	/* one read: large, for the device */
#define RB_TRIES	12		/* to find a range's pages dropped */

struct cachestat_range {
	uint64_t	 off;
	uint64_t	 len;
};

struct cachestat_out {
	uint64_t	 nr_cache;
	uint64_t	 nr_dirty;
	uint64_t	 nr_writeback;
	uint64_t	 nr_evicted;
	uint64_t	 nr_recently_evicted;
};

struct readback {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 fd;
	uint64_t	 ready;		/* [0, ready) may be read */
	uint64_t	 pos;		/* [0, pos) is read and hashed */
	bool		 final;		/* ready is the copy's size */
	bool		 cancel;
	bool		 exited;
	int		 err;
	XXH3_state_t	*xs;
	unsigned char	*buf;
};

/* Pages of [off, off + len) of fd in the page cache; -errno. */
static int64_t
cached(int fd, uint64_t off, uint64_t len)
{
	struct cachestat_range r = { off, len };
	struct cachestat_out cs;

	if (syscall(__NR_cachestat, fd, &r, &cs, 0) != 0)
		return -errno;
	return (int64_t)cs.nr_cache;
}

/*
 * Make [a, b) written back and gone from the page cache: where a file
 * system serves O_DIRECT reads through the cache (btrfs, for compressed
 * extents), a read would otherwise see what was written, not the disk.
 */
static int
rb_drop(int fd, uint64_t a, uint64_t b)
{
	struct timespec ts;
	int64_t n;
	int i;

	for (i = 0; i < RB_TRIES; i++) {
		(void)sync_file_range(fd, (off_t)a, (off_t)(b - a),
		    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
		    SYNC_FILE_RANGE_WAIT_AFTER);
		(void)posix_fadvise(fd, (off_t)a, (off_t)(b - a),
		    POSIX_FADV_DONTNEED);
		if ((n = cached(fd, a, b - a)) == 0)
			return 0;
		if (n < 0)
			return -EAGAIN;		/* no cachestat: cannot tell */
		ts.tv_sec = 0;
		ts.tv_nsec = 1000000L << (i < 6 ? i : 6);
		nanosleep(&ts, NULL);
	}
	return -EAGAIN;
}

/* Read [a, b) from the device and hash it. */
static int
rb_range(struct readback *rb, uint64_t a, uint64_t b)
{
	size_t len, use;
	ssize_t n;
	int r;

	if ((r = rb_drop(rb->fd, a, b)) != 0)
		return r;
	while (a < b) {
		len = b - a < RB_BUFSZ ? (size_t)(b - a) : RB_BUFSZ;
		len = (len + RB_ALIGN - 1) & ~(size_t)(RB_ALIGN - 1);
		n = pread(rb->fd, rb->buf, len, (off_t)a);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EINVAL ? -EAGAIN : -errno;
		if (n == 0)
			return -ESTALE;
		use = (uint64_t)n < b - a ? (size_t)n : (size_t)(b - a);
		XXH3_128bits_update(rb->xs, rb->buf, use);
		/* A read served through the cache leaves its pages there. */
		(void)posix_fadvise(rb->fd, (off_t)a, (off_t)use,
		    POSIX_FADV_DONTNEED);
		a += use;
	}
	return 0;
}

static void *
rb_main(void *arg)
{
	struct readback *rb = arg;
	uint64_t a, b;
	int r = 0;

	pthread_mutex_lock(&rb->mu);
	for (;;) {
		while (!rb->cancel && rb->pos >= rb->ready && !rb->final)
			pthread_cond_wait(&rb->cv, &rb->mu);
		if (rb->cancel || rb->pos >= rb->ready)
			break;
		a = rb->pos;
		b = rb->ready;
		pthread_mutex_unlock(&rb->mu);
		r = rb_range(rb, a, b);
		pthread_mutex_lock(&rb->mu);
		if (r != 0) {
			rb->err = r;
			break;
		}
		rb->pos = b;
		pthread_cond_broadcast(&rb->cv);
	}
	rb->exited = true;
	pthread_cond_broadcast(&rb->cv);
	pthread_mutex_unlock(&rb->mu);
	return NULL;
}

/* Free it: its thread joined, or never started. */
static void
rb_free(struct readback *rb)
{
	pthread_cond_destroy(&rb->cv);
	pthread_mutex_destroy(&rb->mu);
	XXH3_freeState(rb->xs);
	free(rb->buf);
	free(rb);
}

struct readback *
readback_start(int fd)
{
	struct readback *rb = xcalloc(1, sizeof(*rb));
	void *mem;

	rb->fd = fd;
	/*
	 * No read-ahead: a read served through the cache (compressed btrfs)
	 * would bring in pages of a range not yet read back.
	 */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	if (posix_memalign(&mem, RB_ALIGN, RB_BUFSZ) != 0) {
		free(rb);
		return NULL;
	}
	rb->buf = mem;
	if ((rb->xs = XXH3_createState()) == NULL) {
		free(rb->buf);
		free(rb);
		return NULL;
	}
	XXH3_128bits_reset(rb->xs);
	pthread_mutex_init(&rb->mu, NULL);
	pthread_cond_init(&rb->cv, NULL);
	if (jts_thread_start(&rb->th, rb_main, rb) != 0) {
		rb_free(rb);
		return NULL;
	}
	return rb;
}

void
readback_advance(struct readback *rb, uint64_t upto)
{
	pthread_mutex_lock(&rb->mu);
	if (upto > rb->ready) {
		rb->ready = upto;
		pthread_cond_broadcast(&rb->cv);
	}
	pthread_mutex_unlock(&rb->mu);
}

void
readback_catch_up(struct readback *rb)
{
	pthread_mutex_lock(&rb->mu);
	while (!rb->exited && rb->pos < rb->ready)
		pthread_cond_wait(&rb->cv, &rb->mu);
	pthread_mutex_unlock(&rb->mu);
}

int
readback_finish(struct readback *rb, uint64_t size,
    unsigned char hash[JTS_HASH_LEN])
{
	XXH128_canonical_t canon;
	int r;

	pthread_mutex_lock(&rb->mu);
	if (size > rb->ready)
		rb->ready = size;
	rb->final = true;
	pthread_cond_broadcast(&rb->cv);
	pthread_mutex_unlock(&rb->mu);
	pthread_join(rb->th, NULL);
	r = rb->err;
	if (r == 0 && rb->pos != size)
		r = -EAGAIN;
	if (r == 0) {
		XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(rb->xs));
		memcpy(hash, canon.digest, JTS_HASH_LEN);
	}
	rb_free(rb);
	return r;
}

void
readback_cancel(struct readback *rb)
{
	pthread_mutex_lock(&rb->mu);
	rb->cancel = true;
	pthread_cond_broadcast(&rb->cv);
	pthread_mutex_unlock(&rb->mu);
	pthread_join(rb->th, NULL);
	rb_free(rb);
}
