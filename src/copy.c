/* copy.c - io_uring copy and hash of one file, holes kept */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include "copy.h"
#include "readback.h"

#define ALIGN		4096u
#define ROUNDUP(x)	(((x) + ALIGN - 1) & ~(uint64_t)(ALIGN - 1))

enum cstate { CS_FREE, CS_READING, CS_READ };

struct cslot {
	enum cstate	 state;
	uint64_t	 seq;
	uint64_t	 off;		/* file offset of buf[0] */
	size_t		 want;		/* bytes of data wanted */
	size_t		 got;		/* bytes read so far */
	size_t		 wlen;		/* bytes to write (padded if direct) */
	size_t		 wdone;
	uint64_t	 hole_before;	/* zeros hashed before this data */
	bool		 hashed;
	bool		 writing;
	bool		 written;
	unsigned char	*buf;
};

struct run {
	struct copier		*cp;
	const struct copy_opts	*o;
	int			 src, dst;
	bool			 src_direct, dst_direct;
	uint64_t		 size;
	int			 inflight;
	int			 err;
	uint64_t		 hash_seq;
	XXH3_state_t		*xs;
	uint64_t		 wb_started;	/* write-back started below */
	uint64_t		 wb_dropped;	/* pages dropped below */
	struct readback		*rb;		/* reads back what is dropped */
};

/* Buffered destinations: start write-back every WB_WINDOW bytes. */
#define WB_WINDOW	(32ULL << 20)

static const unsigned char zeros[65536];

static void
on_ring(struct ev_loop *loop, ev_io *w, int revents)
{
	uint64_t n;

	(void)loop;
	(void)revents;
	/* Reset the count; the completions are taken by the waiter. */
	while (read(w->fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		;
}

int
copier_attach_loop(struct copier *cp, struct ev_loop *loop)
{
	ev_io *w;
	int r;

	if (loop == NULL)
		return 0;
	cp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cp->efd < 0)
		return -errno;
	if ((r = io_uring_register_eventfd(&cp->ring, cp->efd)) != 0) {
		close(cp->efd);
		cp->efd = -1;
		return r;
	}
	w = xcalloc(1, sizeof(*w));
	ev_io_init(w, on_ring, cp->efd, EV_READ);
	ev_io_start(loop, w);
	cp->eio = w;
	cp->loop = loop;
	return 0;
}

/*
 * Submit what is queued and wait for a completion: in io_uring itself, or
 * through the event loop, which serves its other sources meanwhile.
 * -EINTR when the loop turned without one (a signal, another source):
 * callers then look at their stop flags and wait again.
 */
int
copier_wait(struct copier *cp)
{
	int rc;

	if (cp->broken)
		return cp->broken;
	if (cp->loop == NULL)
		return io_uring_submit_and_wait(&cp->ring, 1);
	if ((rc = io_uring_submit(&cp->ring)) < 0)
		return rc;
	if (io_uring_cq_ready(&cp->ring) == 0)
		ev_run(cp->loop, EVRUN_ONCE);
	return io_uring_cq_ready(&cp->ring) > 0 ? 0 : -EINTR;
}

/*
 * After an error, with n requests queued or in flight: submit them and
 * reap their n completions, so that none is taken later for another
 * copy's, and none still writes into a buffer the next copy uses.  A ring
 * that keeps refusing to submit is marked broken: every later copy fails
 * at once instead of waiting for completions that never come.
 */
static void
copier_drain(struct copier *cp, int n)
{
	struct io_uring_cqe *cqe;
	int fails = 0, rc;

	while (n > 0 && !cp->broken) {
		rc = io_uring_submit_and_wait(&cp->ring, 1);
		if (rc < 0 && rc != -EINTR) {
			if (++fails >= 3)
				cp->broken = rc;
			continue;
		}
		while (n > 0 && io_uring_peek_cqe(&cp->ring, &cqe) == 0) {
			io_uring_cqe_seen(&cp->ring, cqe);
			n--;
		}
	}
}

const char *
copier_init_why(int err)
{
	switch (-err) {
	case ENOSYS:
		return "this kernel has no io_uring (5.6 or later is needed)";
	case EPERM:
	case EACCES:
		return "io_uring is not allowed here (sysctl "
		    "kernel.io_uring_disabled, or a seccomp filter)";
	case ENOMEM:
		return "not enough locked memory for its buffers (raise "
		    "'ulimit -l', or LimitMEMLOCK= in the service unit)";
	case EMFILE:
	case ENFILE:
		return "too many open files (raise 'ulimit -n')";
	}
	return strerror(-err);
}

int
copier_init(struct copier *cp, int nbufs, size_t bufsz)
{
	return copier_init_small(cp, nbufs, bufsz, COPY_SMALL_SLOTS);
}

int
copier_init_small(struct copier *cp, int nbufs, size_t bufsz, int nsmall)
{
	void *mem, *small;
	int r, i;

	memset(cp, 0, sizeof(*cp));
	cp->efd = -1;
	cp->nbufs = nbufs;
	cp->bufsz = bufsz;
	cp->nsmall = nsmall < 1 || nsmall > COPY_SMALL_SLOTS ?
	    COPY_SMALL_SLOTS : nsmall;
	if ((r = io_uring_queue_init(COPY_SMALL_SLOTS * 2, &cp->ring, 0)) < 0)
		return r;
	if (posix_memalign(&mem, ALIGN, (size_t)nbufs * bufsz) != 0) {
		io_uring_queue_exit(&cp->ring);
		return -ENOMEM;
	}
	if (posix_memalign(&small, ALIGN, (size_t)cp->nsmall *
	    COPY_SMALL_MAX) != 0) {
		free(mem);
		io_uring_queue_exit(&cp->ring);
		return -ENOMEM;
	}
	cp->arena = mem;
	cp->small = small;
	cp->slots = xcalloc((size_t)nbufs, sizeof(*cp->slots));
	for (i = 0; i < nbufs; i++)
		cp->slots[i].buf = cp->arena + (size_t)i * bufsz;
	return 0;
}

/*
 * Register the buffers with the ring (pinning them), once, at the first
 * copy: no request is in flight then.  Unregistered, they still work.
 */
static void
copier_pin(struct copier *cp)
{
	struct iovec iov[2];

	if (cp->pin_tried)
		return;
	cp->pin_tried = true;
	iov[0].iov_base = cp->arena;
	iov[0].iov_len = (size_t)cp->nbufs * cp->bufsz;
	iov[1].iov_base = cp->small;
	iov[1].iov_len = (size_t)cp->nsmall * COPY_SMALL_MAX;
	cp->fixed = io_uring_register_buffers(&cp->ring, iov, 2) == 0;
}

void
copier_fini(struct copier *cp)
{
	if (cp->arena == NULL)
		return;
	if (cp->eio != NULL) {
		ev_io_stop(cp->loop, cp->eio);
		free(cp->eio);
		io_uring_unregister_eventfd(&cp->ring);
		close(cp->efd);
	}
	if (cp->fixed)
		io_uring_unregister_buffers(&cp->ring);
	io_uring_queue_exit(&cp->ring);
	free(cp->arena);
	free(cp->small);
	free(cp->slots);
	memset(cp, 0, sizeof(*cp));
}

void
copy_hash_zeros(XXH3_state_t *xs, uint64_t n)
{
	while (n > 0) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);

		XXH3_128bits_update(xs, zeros, k);
		n -= k;
	}
}

static void
maybe_free(struct cslot *s)
{
	if (s->state == CS_READ && s->hashed && s->written)
		s->state = CS_FREE;
}

/*
 * A submission queue entry, or NULL (*err set) if the queue is full and
 * cannot be submitted.  At most one request per slot is in flight and the
 * queue holds more than there are slots, so a full queue means the ring
 * failed.  get_sqe: the same for a copy, its first error kept.
 */
static struct io_uring_sqe *
ring_sqe(struct copier *cp, int *err)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&cp->ring);
	int rc = 0;

	if (sqe == NULL) {
		rc = io_uring_submit(&cp->ring);
		sqe = io_uring_get_sqe(&cp->ring);
	}
	if (sqe == NULL)
		*err = rc < 0 ? rc : -EBUSY;
	return sqe;
}

static struct io_uring_sqe *
get_sqe(struct run *r)
{
	int err;
	struct io_uring_sqe *sqe = ring_sqe(r->cp, &err);

	if (sqe == NULL && r->err == 0)
		r->err = err;
	return sqe;
}

bool
copy_pace_ok(const struct copy_opts *o, uint64_t n, bool busy)
{
	if (o == NULL || o->pace == 0 || jts_pace_go(o->pace, n, busy))
		return true;
	if (o->progress)
		o->progress(o->arg, 0);
	return false;
}

/* Queue a read of what slot s still lacks. */
static void
queue_read(struct run *r, struct cslot *s)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	size_t len = s->want - s->got;
	uint64_t off = s->off + s->got;

	if (sqe == NULL) {
		s->state = CS_FREE;
		return;
	}

	if (r->src_direct)
		len = ROUNDUP(len);
	if (r->o->short_io && len > 1)
		len = r->src_direct ? (len > ALIGN ? ALIGN : len) : len / 2;
	if (r->cp->fixed)
		io_uring_prep_read_fixed(sqe, r->src, s->buf + s->got,
		    (unsigned)len, off, 0);
	else
		io_uring_prep_read(sqe, r->src, s->buf + s->got, (unsigned)len,
		    off);
	io_uring_sqe_set_data64(sqe, (uint64_t)(s - r->cp->slots) << 1);
	r->inflight++;
}

/* Queue a write of what slot s has not written yet. */
static void
queue_write(struct run *r, struct cslot *s)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	size_t len = s->wlen - s->wdone;

	if (sqe == NULL) {
		s->writing = false;
		s->written = s->hashed = true;
		maybe_free(s);
		return;
	}

	if (r->o->short_io && len > ALIGN && !r->dst_direct)
		len /= 2;
	else if (r->o->short_io && len > ALIGN)
		len = ALIGN;
	if (r->cp->fixed)
		io_uring_prep_write_fixed(sqe, r->dst, s->buf + s->wdone,
		    (unsigned)len, s->off + s->wdone, 0);
	else
		io_uring_prep_write(sqe, r->dst, s->buf + s->wdone,
		    (unsigned)len, s->off + s->wdone);
	io_uring_sqe_set_data64(sqe,
	    ((uint64_t)(s - r->cp->slots) << 1) | 1);
	s->writing = true;
	r->inflight++;
}

/* Hash every slot whose turn has come, in stream order. */
static void
hash_ready(struct run *r)
{
	struct cslot *s;

	for (;;) {
		s = &r->cp->slots[r->hash_seq % (uint64_t)r->cp->nbufs];
		if (s->state != CS_READ || s->seq != r->hash_seq || s->hashed)
			return;
		copy_hash_zeros(r->xs, s->hole_before);
		XXH3_128bits_update(r->xs, s->buf, s->want);
		s->hashed = true;
		r->hash_seq++;
		if (r->dst < 0 && r->o->progress)
			r->o->progress(r->o->arg, s->want);
		maybe_free(s);
	}
}

/*
 * Everything below done is written (slots are reused in order only once
 * written).  Start write-back of it, and drop what the previous window
 * already wrote back, so a large copy never fills the page cache with
 * dirty pages.  Durability still comes from the caller's fsync.
 */
static void
writeback(struct run *r, uint64_t done)
{
	if (r->dst < 0 || r->dst_direct || done < r->wb_started + WB_WINDOW)
		return;
	(void)sync_file_range(r->dst, (off_t)r->wb_started,
	    (off_t)(done - r->wb_started), SYNC_FILE_RANGE_WRITE);
	if (r->wb_started > r->wb_dropped) {
		(void)sync_file_range(r->dst, (off_t)r->wb_dropped,
		    (off_t)(r->wb_started - r->wb_dropped),
		    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
		    SYNC_FILE_RANGE_WAIT_AFTER);
		(void)posix_fadvise(r->dst, (off_t)r->wb_dropped,
		    (off_t)(r->wb_started - r->wb_dropped),
		    POSIX_FADV_DONTNEED);
		r->wb_dropped = r->wb_started;
		if (r->rb != NULL)
			readback_advance(r->rb, r->wb_dropped);
	}
	r->wb_started = done;
}

/* Direct I/O needs aligned offsets; fall back to buffered writes if not. */
static void
check_dst_align(struct run *r, struct cslot *s)
{
	int fl;

	if (!r->dst_direct || (s->off % ALIGN) == 0)
		return;
	fl = fcntl(r->dst, F_GETFL);
	if (fl >= 0 && fcntl(r->dst, F_SETFL, fl & ~O_DIRECT) == 0)
		r->dst_direct = false;
}

static void
on_read(struct run *r, struct cslot *s, int res)
{
	int inj = jts_fault_errno("read");

	if (inj != 0)
		res = inj;
	if (res == -EINTR || res == -EAGAIN) {
		queue_read(r, s);
		return;
	}
	if (res < 0) {
		if (r->err == 0)
			r->err = res;
		s->state = CS_FREE;
		return;
	}
	if (res == 0) {
		if (r->err == 0)
			r->err = -ESTALE;
		s->state = CS_FREE;
		return;
	}
	s->got += (size_t)res < s->want - s->got ? (size_t)res :
	    s->want - s->got;
	if (s->got < s->want) {
		if (r->src_direct && (s->got % ALIGN) != 0) {
			/* Short direct read not at an aligned end: EOF. */
			if (r->err == 0)
				r->err = -ESTALE;
			s->state = CS_FREE;
			return;
		}
		queue_read(r, s);
		return;
	}
	s->state = CS_READ;
	/* Hash before the write is queued, so a test can corrupt the data
	 * between the two (the read-back must then catch it). */
	hash_ready(r);
	if (r->dst >= 0 && r->err == 0 && s->hashed && s->want > 0 &&
	    jts_fault_errno("corrupt") != 0)
		s->buf[s->want / 2] ^= 0x55;
	if (r->dst >= 0 && r->err == 0) {
		check_dst_align(r, s);
		s->wlen = s->want;
		if (r->dst_direct) {
			s->wlen = ROUNDUP(s->want);
			memset(s->buf + s->want, 0, s->wlen - s->want);
		}
		s->wdone = 0;
		queue_write(r, s);
	} else {
		s->written = true;
		maybe_free(s);
	}
	hash_ready(r);
}

static void
on_write(struct run *r, struct cslot *s, int res)
{
	int inj = jts_fault_errno("write");

	if (inj != 0)
		res = inj;
	if (res == -EINTR || res == -EAGAIN) {
		queue_write(r, s);
		return;
	}
	if (res <= 0) {
		if (r->err == 0)
			r->err = res < 0 ? res : -EIO;
		s->writing = false;
		s->written = true;
		s->hashed = true;
		maybe_free(s);
		return;
	}
	s->wdone += (size_t)res;
	if (s->wdone < s->wlen) {
		queue_write(r, s);
		return;
	}
	s->writing = false;
	s->written = true;
	if (r->o->progress)
		r->o->progress(r->o->arg, s->want);
	maybe_free(s);
}

int
copier_run(struct copier *cp, int src, int dst, uint64_t size,
    unsigned char hash[JTS_HASH_LEN], const struct copy_opts *opts)
{
	static const struct copy_opts none;
	struct run r;
	struct cslot *s;
	struct io_uring_cqe *cqe;
	uint64_t pos = 0, data_end = 0, hole = 0, seq = 0;
	XXH128_canonical_t canon;
	off_t d, h;
	unsigned head, seen;
	int i, fl, rc;
	bool held;

	copier_pin(cp);
	memset(&r, 0, sizeof(r));
	r.cp = cp;
	r.o = opts ? opts : &none;
	r.src = src;
	r.dst = dst;
	r.size = size;
	fl = fcntl(src, F_GETFL);
	r.src_direct = fl >= 0 && (fl & O_DIRECT);
	if (dst >= 0) {
		fl = fcntl(dst, F_GETFL);
		r.dst_direct = fl >= 0 && (fl & O_DIRECT);
	}
	if ((r.xs = XXH3_createState()) == NULL)
		return -ENOMEM;
	XXH3_128bits_reset(r.xs);
	for (i = 0; i < cp->nbufs; i++) {
		cp->slots[i].state = CS_FREE;
		cp->slots[i].seq = (uint64_t)-1;
	}
	if (r.o->rb != NULL) {
		r.o->rb->err = -EAGAIN;
		if (dst >= 0 && !r.dst_direct && r.o->rb->fd >= 0)
			r.rb = readback_start(r.o->rb->fd);
	}

	for (;;) {
		if (r.err == 0 && ((r.o->abort_flag && *r.o->abort_flag) ||
		    (r.o->stop_flag && *r.o->stop_flag)))
			r.err = -ECANCELED;
		/* Issue reads into free slots, in stream order. */
		held = false;
		while (r.err == 0 && pos < size) {
			s = &cp->slots[seq % (uint64_t)cp->nbufs];
			if (s->state != CS_FREE)
				break;
			if (s->seq != (uint64_t)-1)
				writeback(&r, s->off + s->want);
			if (pos >= data_end) {
				d = lseek(src, (off_t)pos, SEEK_DATA);
				if (d < 0 && errno != ENXIO) {
					r.err = -errno;
					break;
				}
				if (d < 0 || (uint64_t)d >= size) {
					hole += size - pos;
					pos = size;
					break;
				}
				h = lseek(src, d, SEEK_HOLE);
				if (h < 0) {
					r.err = -errno;
					break;
				}
				hole += (uint64_t)d - pos;
				pos = (uint64_t)d;
				data_end = (uint64_t)h < size ? (uint64_t)h : size;
			}
			if (!copy_pace_ok(r.o, data_end - pos < cp->bufsz ?
			    data_end - pos : cp->bufsz, r.inflight > 0)) {
				held = true;
				break;
			}
			s->seq = seq++;
			s->off = pos;
			s->want = data_end - pos < cp->bufsz ?
			    (size_t)(data_end - pos) : cp->bufsz;
			s->got = 0;
			s->hole_before = hole;
			hole = 0;
			s->hashed = s->written = s->writing = false;
			s->state = CS_READING;
			pos += s->want;
			queue_read(&r, s);
		}
		if (r.inflight == 0 && !held)
			break;
		if (r.inflight == 0)
			continue;	/* slept for the pace */
		rc = copier_wait(cp);
		if (rc < 0 && rc != -EINTR) {
			if (r.err == 0)
				r.err = rc;
			copier_drain(cp, r.inflight);
			r.inflight = 0;
			break;
		}
		seen = 0;
		io_uring_for_each_cqe(&cp->ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);

			s = &cp->slots[ud >> 1];
			r.inflight--;
			if (ud & 1)
				on_write(&r, s, cqe->res);
			else
				on_read(&r, s, cqe->res);
			seen++;
		}
		io_uring_cq_advance(&cp->ring, seen);
	}
	io_uring_submit(&cp->ring);
	if (r.err == 0) {
		struct stat st;

		/* SEEK_HOLE reports EOF as a hole: a shrunk source is not. */
		if (fstat(src, &st) != 0)
			r.err = -errno;
		else if ((uint64_t)st.st_size < size)
			r.err = -ESTALE;
	}
	if (r.err == 0) {
		copy_hash_zeros(r.xs, hole);
		XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(r.xs));
		memcpy(hash, canon.digest, JTS_HASH_LEN);
		if (dst >= 0)
			r.err = jts_set_size(dst, (off_t)size);
	}
	if (r.rb != NULL && r.err == 0) {
		/* The last windows written back and dropped, then read. */
		(void)sync_file_range(dst, (off_t)r.wb_dropped,
		    (off_t)(size - r.wb_dropped), SYNC_FILE_RANGE_WAIT_BEFORE |
		    SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
		(void)posix_fadvise(dst, (off_t)r.wb_dropped,
		    (off_t)(size - r.wb_dropped), POSIX_FADV_DONTNEED);
		readback_catch_up(r.rb);
		jts_pause_point("readback");
		r.o->rb->err = readback_finish(r.rb, size, r.o->rb->hash);
	} else if (r.rb != NULL)
		readback_cancel(r.rb);
	XXH3_freeState(r.xs);
	return r.err;
}

/* --- many small files at once ------------------------------------------- */

struct mslot {
	int		 job;		/* -1: free */
	bool		 writing;
	size_t		 done;		/* bytes read, then bytes written */
	bool		 direct;
};

/*
 * Queue slot i's next read or write: 1, or 0 if the queue is full and
 * cannot be submitted (the job fails with the ring's error, the slot is
 * freed).
 */
static int
many_queue(struct copier *cp, struct copy_job *jobs, struct mslot *ms,
    int i, const struct copy_opts *o)
{
	struct copy_job *j = &jobs[ms[i].job];
	struct io_uring_sqe *sqe = ring_sqe(cp, &j->err);
	unsigned char *buf = cp->small + (size_t)i * COPY_SMALL_MAX;
	size_t len = (size_t)j->size - ms[i].done;

	if (sqe == NULL) {
		ms[i].job = -1;
		return 0;
	}
	if (!ms[i].writing && ms[i].direct)
		len = ROUNDUP(len);
	if (o->short_io && len > 1)
		len = ms[i].direct && !ms[i].writing ? ALIGN : len / 2;
	if (ms[i].writing) {
		if (cp->fixed)
			io_uring_prep_write_fixed(sqe, j->dst, buf +
			    ms[i].done, (unsigned)len, ms[i].done, 1);
		else
			io_uring_prep_write(sqe, j->dst, buf + ms[i].done,
			    (unsigned)len, ms[i].done);
	} else if (cp->fixed)
		io_uring_prep_read_fixed(sqe, j->src, buf + ms[i].done,
		    (unsigned)len, ms[i].done, 1);
	else
		io_uring_prep_read(sqe, j->src, buf + ms[i].done,
		    (unsigned)len, ms[i].done);
	io_uring_sqe_set_data64(sqe, (uint64_t)i);
	return 1;
}

int
copier_run_many(struct copier *cp, struct copy_job *jobs, int n,
    const struct copy_opts *opts)
{
	static const struct copy_opts none;
	const struct copy_opts *o = opts ? opts : &none;
	struct mslot ms[COPY_SMALL_SLOTS];
	struct io_uring_cqe *cqe;
	XXH128_canonical_t canon;
	unsigned head, seen;
	int i, next = 0, inflight = 0, rc, res;
	bool held;

	copier_pin(cp);
	for (i = 0; i < COPY_SMALL_SLOTS; i++)
		ms[i].job = -1;
	for (;;) {
		/* Give each free slot the next job; empty files need none. */
		held = false;
		for (i = 0; i < cp->nsmall && next < n;) {
			struct copy_job *j;

			if (ms[i].job >= 0) {
				i++;
				continue;
			}
			if (!copy_pace_ok(o, jobs[next].size, inflight > 0)) {
				held = true;
				break;
			}
			j = &jobs[next++];
			j->err = 0;
			if (j->size > COPY_SMALL_MAX) {
				j->err = -EFBIG;
				continue;
			}
			if (j->size == 0) {
				XXH128_canonicalFromHash(&canon,
				    XXH3_128bits("", 0));
				memcpy(j->hash, canon.digest, JTS_HASH_LEN);
				continue;
			}
			ms[i].job = (int)(j - jobs);
			ms[i].writing = false;
			ms[i].done = 0;
			ms[i].direct = j->direct;
			inflight += many_queue(cp, jobs, ms, i, o);
			i++;
		}
		if (inflight == 0 && !held)
			break;
		if (inflight == 0)
			continue;	/* slept for the pace */
		rc = copier_wait(cp);
		if (rc < 0 && rc != -EINTR) {
			copier_drain(cp, inflight);
			return rc;
		}
		seen = 0;
		io_uring_for_each_cqe(&cp->ring, head, cqe) {
			struct copy_job *j;
			unsigned char *buf;

			i = (int)io_uring_cqe_get_data64(cqe);
			res = cqe->res;
			if (ms[i].writing) {
				int inj = jts_fault_errno("write");

				if (inj != 0)
					res = inj;
			}
			seen++;
			inflight--;
			j = &jobs[ms[i].job];
			buf = cp->small + (size_t)i * COPY_SMALL_MAX;
			if (res == -EINTR || res == -EAGAIN) {
				inflight += many_queue(cp, jobs, ms, i, o);
				continue;
			}
			if (res < 0 || (res == 0 && ms[i].done < j->size)) {
				j->err = res < 0 ? res :
				    ms[i].writing ? -EIO : -ESTALE;
				ms[i].job = -1;
				continue;
			}
			ms[i].done += (size_t)res;
			if (ms[i].done > j->size)
				ms[i].done = (size_t)j->size;
			if (ms[i].done < j->size) {
				if (!ms[i].writing && ms[i].direct &&
				    ms[i].done % ALIGN) {
					j->err = -ESTALE;
					ms[i].job = -1;
					continue;
				}
				inflight += many_queue(cp, jobs, ms, i, o);
				continue;
			}
			if (!ms[i].writing) {
				XXH128_canonicalFromHash(&canon,
				    XXH3_128bits(buf, (size_t)j->size));
				memcpy(j->hash, canon.digest, JTS_HASH_LEN);
				if (j->dst >= 0 &&
				    jts_fault_errno("corrupt") != 0)
					buf[j->size / 2] ^= 0x55;
				if (j->dst >= 0) {
					ms[i].writing = true;
					ms[i].done = 0;
					inflight += many_queue(cp, jobs, ms, i, o);
					continue;
				}
			}
			if (o->progress)
				o->progress(o->arg, j->size);
			ms[i].job = -1;
		}
		io_uring_cq_advance(&cp->ring, seen);
	}
	return 0;
}

int
copier_fsync_many(struct copier *cp, const int *fds, int n, int *err)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned head, seen;
	int i, next = 0, inflight = 0, rc;
	unsigned cap = COPY_SMALL_SLOTS;

	for (i = 0; i < n; i++)
		err[i] = 0;
	while (next < n || inflight > 0) {
		while (next < n && (unsigned)inflight < cap &&
		    (sqe = io_uring_get_sqe(&cp->ring)) != NULL) {
			io_uring_prep_fsync(sqe, fds[next], 0);
			io_uring_sqe_set_data64(sqe, (uint64_t)next);
			next++;
			inflight++;
		}
		rc = copier_wait(cp);
		if (rc < 0 && rc != -EINTR) {
			copier_drain(cp, inflight);
			return rc;
		}
		seen = 0;
		io_uring_for_each_cqe(&cp->ring, head, cqe) {
			i = (int)io_uring_cqe_get_data64(cqe);
			err[i] = cqe->res < 0 ? cqe->res : 0;
			inflight--;
			seen++;
		}
		io_uring_cq_advance(&cp->ring, seen);
	}
	return 0;
}

int
jts_copy_plain(int src, int dst, int64_t size, unsigned char hash[JTS_HASH_LEN])
{
	const size_t bufsz = 1u << 20;
	XXH128_canonical_t canon;
	XXH3_state_t *xs;
	int64_t off = 0;
	ssize_t n, w, k;
	void *buf;
	int r = 0;

	if (posix_memalign(&buf, 4096, bufsz) != 0)
		return -ENOMEM;
	if ((xs = XXH3_createState()) == NULL) {
		free(buf);
		return -ENOMEM;
	}
	XXH3_128bits_reset(xs);
	while (off < size) {
		n = pread(src, buf, bufsz, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0) {
			r = -ESTALE;
			break;
		}
		if (n > size - off)
			n = (ssize_t)(size - off);
		XXH3_128bits_update(xs, buf, (size_t)n);
		for (w = 0; dst >= 0 && w < n; w += k) {
			k = pwrite(dst, (char *)buf + w, (size_t)(n - w),
			    off + w);
			if (k < 0 && errno == EINTR) {
				k = 0;
				continue;
			}
			if (k <= 0) {
				r = k < 0 ? -errno : -EIO;
				break;
			}
		}
		if (r != 0)
			break;
		off += n;
	}
	if (r == 0) {
		XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(xs));
		memcpy(hash, canon.digest, JTS_HASH_LEN);
	}
	XXH3_freeState(xs);
	free(buf);
	return r;
}
