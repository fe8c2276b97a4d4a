/*
 * tier-nfs-xfer.c - the NAS's client, data: READs and WRITEs of one file
 * several in flight, and many small files at once (create, write and set
 * attributes; read and hash), each request sent by the answer before it
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <xxhash.h>

#include "tier-nfs-int.h"


/* --- data: several requests in flight ----------------------------------- */

struct xslot {
	struct xfer	*x;
	unsigned char	*buf;
	uint64_t	 off;		/* of the chunk in the file */
	uint32_t	 len;		/* bytes of the chunk */
	uint32_t	 done;		/* bytes answered so far */
	bool		 busy;		/* a request is in flight */
	bool		 ready;		/* read: whole chunk here */
	struct seg	*seg;		/* write: the source's chunk sent */
};

struct xfer {
	struct nfs_tier	*t;
	struct nfsfh	*fh;
	struct xslot	 s[NSLOTS];
	unsigned char	*arena;
	XXH3_state_t	*xs;		/* the stream's hash */
	struct prefetch	*pf;		/* write: the source read ahead */
	struct nfst_reader *rd;		/* read: the stream it serves */
	int		 pending;
	int		 err;
};

struct nfst_reader;

struct nfst_reader {
	struct xfer	 x;
	uint64_t	 size;
	uint64_t	 limit;		/* read no further (yet) */
	uint64_t	 next;		/* requested up to here */
	uint64_t	 off;		/* hashed (and written) up to here */
	uint64_t	 issued, consumed;
	int		 dst;
	const struct copy_opts *o;
};

static int
xfer_init(struct xfer *x, struct nfs_tier *t, struct nfsfh *fh, size_t chunk)
{
	int i;

	memset(x, 0, sizeof(*x));
	x->t = t;
	x->fh = fh;
	if (nt_usable(t) != 0)
		return -EIO;
	if (chunk > 0 && posix_memalign((void **)&x->arena, 4096, chunk *
	    (size_t)t->inflight) != 0)
		return -ENOMEM;
	if ((x->xs = XXH3_createState()) == NULL) {
		free(x->arena);
		return -ENOMEM;
	}
	XXH3_128bits_reset(x->xs);
	for (i = 0; i < t->inflight; i++) {
		x->s[i].x = x;
		x->s[i].buf = x->arena == NULL ? NULL : x->arena +
		    (size_t)i * chunk;
	}
	return 0;
}

/* Let what is in flight answer (or be cancelled); the hash if r is 0. */
static int
xfer_end(struct xfer *x, int r, unsigned char hash[JTS_HASH_LEN])
{
	XXH128_canonical_t canon;

	if (nt_wait(x->t, &x->pending) != 0 && r == 0)
		r = -EIO;
	if (r == 0 && x->err != 0)
		r = x->err;
	if (r != 0 && x->t->nfs == NULL)
		r = -EIO;	/* the connection went: err says why */
	if (r == 0) {
		XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(x->xs));
		memcpy(hash, canon.digest, JTS_HASH_LEN);
	}
	XXH3_freeState(x->xs);
	free(x->arena);
	return r;
}

static void write_cb(struct rpc_context *, int, void *, void *);
static void read_cb(int, struct nfs_context *, void *, void *);

/* Send (the rest of) slot s's chunk: a WRITE or a READ. */
static int
slot_queue(struct xslot *s, bool write)
{
	struct xfer *x = s->x;
	int r;

	if (x->t->nfs == NULL)
		return -EIO;
	if (write) {
		/*
		 * The raw WRITE: its answer carries the server's status (the
		 * export full) and its write verifier (a restart).
		 */
		struct nfst_fh *h = (struct nfst_fh *)nfs_get_fh(x->fh);
		WRITE3args a;

		memset(&a, 0, sizeof(a));
		a.file.data.data_len = (u_int)h->len;
		a.file.data.data_val = h->val;
		a.offset = s->off + s->done;
		a.count = s->len - s->done;
		a.stable = UNSTABLE;
		a.data.data_len = a.count;
		a.data.data_val = (char *)s->buf + s->done;
		r = rpc_nfs3_write_async(nfs_get_rpc_context(x->t->nfs),
		    write_cb, &a, s);
	} else
		r = nfs_pread_async(x->t->nfs, x->fh, s->off + s->done,
		    s->len - s->done, read_cb, s);
	if (r != 0)
		return -EIO;
	s->busy = true;
	x->pending++;
	return 0;
}

/* An answer for slot s: counted; false if it is an error (noted). */
static bool
slot_answer(struct xslot *s, int status, void *data)
{
	struct xfer *x = s->x;

	x->t->answers++;
	x->pending--;
	s->busy = false;
	if (status == -EINTR)
		x->t->stalled = true;	/* timed out, or cancelled */
	if (status < 0 && x->err == 0)
		x->err = nt_errno(status, data);
	return status >= 0;
}

static void pf_release(struct prefetch *, struct seg *);

/* A WRITE stream's slot is done with its chunk: the buffer may be reused. */
static void
slot_written(struct xslot *s)
{
	if (s->seg != NULL) {
		pf_release(s->x->pf, s->seg);
		s->seg = NULL;
	}
}

static void
write_cb(struct rpc_context *rpc, int status, void *data, void *arg)
{
	struct xslot *s = arg;
	struct xfer *x = s->x;
	struct nfs_tier *t = x->t;
	WRITE3res *res = data;
	int r;

	(void)rpc;
	r = rpc_errno(t, status, status == RPC_STATUS_SUCCESS ?
	    (int)res->status : NFS3_OK);
	if (!slot_answer(s, r, NULL)) {
		slot_written(s);
		return;
	}
	if (!t->wverf_set) {
		memcpy(t->wverf, res->WRITE3res_u.resok.verf, sizeof(t->wverf));
		t->wverf_set = true;
	} else if (memcmp(t->wverf, res->WRITE3res_u.resok.verf,
	    sizeof(t->wverf)) != 0 && x->err == 0) {
		x->err = -ECONNRESET;	/* the server restarted: writes lost */
		t->restarted = true;
	}
	if (res->WRITE3res_u.resok.count == 0 && x->err == 0)
		x->err = -EIO;		/* a server that writes nothing */
	s->done += res->WRITE3res_u.resok.count;
	/* Short WRITE: send the rest. */
	if (x->err == 0 && s->done < s->len && slot_queue(s, true) != 0)
		x->err = -EIO;
	if (!s->busy)
		slot_written(s);
}

static bool
raised(const struct copy_opts *o)
{
	return o != NULL && ((o->abort_flag && *o->abort_flag) ||
	    (o->stop_flag && *o->stop_flag));
}

/* --- the source of a WRITE stream, read ahead by a thread ---------------- */

/*
 * A synchronous read of the source between WRITEs leaves the connection
 * idle while the disk answers (measured: 1.6 s of a 2.7 s put of 1 GiB
 * from a compressed btrfs).  A thread reads the source in order into a
 * ring of chunks, AHEAD more than the WRITEs in flight; the loop's thread
 * takes them in order, hashes and sends them.  A chunk's buffer is reused
 * only when its WRITE has been answered.  Errors are the loop's to judge
 * (and its fault points stay on its thread, counted as before).
 */
#define AHEAD	4

enum { SEG_FREE, SEG_DATA, SEG_HOLE, SEG_END, SEG_ERR };

struct seg {
	unsigned char	*buf;
	uint64_t	 off;
	uint64_t	 len;		/* bytes of data, or of the hole */
	int		 state;
	int		 err;		/* SEG_ERR: -errno */
	bool		 busy;		/* its WRITE is in flight */
};

struct prefetch {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 src;
	uint64_t	 size;
	uint64_t	 chunk;
	unsigned char	*arena;
	struct seg	*s;
	unsigned	 n;
	uint64_t	 head;		/* segments produced */
	uint64_t	 tail;		/* segments taken */
	bool		 stop;
};

/* The next segment of the source from off: data (read), a hole, or the end. */
static void
pf_read(struct prefetch *p, struct seg *g, uint64_t off, uint64_t *data_end)
{
	uint64_t want;
	ssize_t n;

	g->off = off;
	g->err = 0;
	if (off >= p->size) {
		g->state = SEG_END;
		return;
	}
	if (off >= *data_end) {
		/* Where the next data is; a hole reads as zeros. */
		off_t d = lseek(p->src, (off_t)off, SEEK_DATA), h;

		if (d < 0 || (uint64_t)d > p->size)
			d = (off_t)p->size;
		if ((uint64_t)d > off) {
			g->state = SEG_HOLE;
			g->len = (uint64_t)d - off;
			return;
		}
		h = lseek(p->src, (off_t)off, SEEK_HOLE);
		*data_end = h < 0 || (uint64_t)h > p->size ? p->size :
		    (uint64_t)h;
		if (*data_end <= off)
			*data_end = p->size;
	}
	want = *data_end - off < p->chunk ? *data_end - off : p->chunk;
	n = pread(p->src, g->buf, (size_t)want, (off_t)off);
	if (n < 0 && errno == EINVAL) {
		/* An O_DIRECT source's tail: read it whole. */
		n = pread(p->src, g->buf, (size_t)((want + 4095) & ~4095ULL),
		    (off_t)off);
		if (n > (ssize_t)want)
			n = (ssize_t)want;
	}
	if (n <= 0) {
		g->state = SEG_ERR;
		g->err = n < 0 ? -errno : -ESTALE;	/* or the source shrank */
		return;
	}
	g->state = SEG_DATA;
	g->len = (uint64_t)n;
}

static void *
pf_main(void *arg)
{
	struct prefetch *p = arg;
	uint64_t off = 0, data_end = 0;
	struct seg *g, next;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		g = &p->s[p->head % p->n];
		while (!p->stop && (g->state != SEG_FREE || g->busy))
			pthread_cond_wait(&p->cv, &p->mu);
		stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			break;
		memset(&next, 0, sizeof(next));
		next.buf = g->buf;
		pf_read(p, &next, off, &data_end);
		pthread_mutex_lock(&p->mu);
		*g = next;
		p->head++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (next.state == SEG_END || next.state == SEG_ERR)
			break;
		off += next.len;
	}
	return NULL;
}

static int
pf_start(struct prefetch *p, int src, uint64_t size, uint64_t chunk,
    unsigned n)
{
	unsigned i;
	int r;

	memset(p, 0, sizeof(*p));
	p->src = src;
	p->size = size;
	p->chunk = chunk;
	p->n = n;
	if (posix_memalign((void **)&p->arena, 4096, chunk * n) != 0)
		return -ENOMEM;
	p->s = xcalloc(n, sizeof(*p->s));
	for (i = 0; i < n; i++)
		p->s[i].buf = p->arena + (size_t)i * chunk;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if ((r = jts_thread_start(&p->th, pf_main, p)) != 0) {
		free(p->s);
		free(p->arena);
		return -r;
	}
	return 0;
}

/* The thread stopped; the ring kept until the WRITEs are answered. */
static void
pf_stop(struct prefetch *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
}

static void
pf_free(struct prefetch *p)
{
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->s);
	free(p->arena);
}

/* The next segment in order, waiting for it if wait, else NULL. */
static struct seg *
pf_next(struct prefetch *p, bool wait)
{
	struct seg *g = &p->s[p->tail % p->n];

	pthread_mutex_lock(&p->mu);
	while (wait && p->tail == p->head)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->tail == p->head)
		g = NULL;
	pthread_mutex_unlock(&p->mu);
	return g;
}

/* Segment g taken: its buffer free at once, or when its WRITE is done. */
static void
pf_take(struct prefetch *p, struct seg *g, bool busy)
{
	pthread_mutex_lock(&p->mu);
	g->state = SEG_FREE;
	g->busy = busy;
	p->tail++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void
pf_release(struct prefetch *p, struct seg *g)
{
	pthread_mutex_lock(&p->mu);
	g->busy = false;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int
nfst_put(struct nfs_tier *t, struct nfsfh *fh, int src, uint64_t size,
    unsigned char hash[JTS_HASH_LEN], const struct copy_opts *o)
{
	struct xfer x;
	struct prefetch pf;
	int64_t last = jts_mono_ns();
	uint64_t seen = t->answers;
	int r;

	if ((r = xfer_init(&x, t, fh, 0)) != 0)
		return r;
	if ((r = pf_start(&pf, src, size, t->wmax,
	    (unsigned)t->inflight + AHEAD)) != 0)
		return xfer_end(&x, r, hash);
	x.pf = &pf;
	for (;;) {
		struct xslot *s = NULL;
		struct seg *g;
		int i;

		if (raised(o)) {
			r = -ECANCELED;
			break;
		}
		if (x.err != 0 || t->nfs == NULL) {
			r = x.err != 0 ? x.err : -EIO;
			break;
		}
		for (i = 0; i < t->inflight && s == NULL; i++)
			if (!x.s[i].busy)
				s = &x.s[i];
		/*
		 * Wait for the source only with nothing in flight (then no
		 * answer can come); else for an answer, and look again.
		 */
		g = s == NULL ? NULL : pf_next(&pf, x.pending == 0);
		if (g == NULL) {
			nt_step(t, &seen, &last);
			continue;
		}
		if (g->state == SEG_END)
			break;
		if (g->state == SEG_ERR) {
			r = g->err;
			break;
		}
		if (g->state == SEG_DATA &&
		    !copy_pace_ok(o, g->len, x.pending > 0)) {
			if (x.pending > 0)
				nt_step(t, &seen, &last);
			continue;
		}
		if (g->state == SEG_HOLE) {
			copy_hash_zeros(x.xs, g->len);
			if (o && o->progress)
				o->progress(o->arg, g->len);
			pf_take(&pf, g, false);
			continue;
		}
		if ((r = jts_fault_errno("read")) != 0)
			break;
		XXH3_128bits_update(x.xs, g->buf, (size_t)g->len);
		/* Test hook: a byte changed after hashing must be caught. */
		if (jts_fault_errno("corrupt") != 0)
			g->buf[0] ^= 0xff;
		s->seg = g;
		s->buf = g->buf;
		s->off = g->off;
		s->len = (uint32_t)g->len;
		s->done = 0;
		pf_take(&pf, g, true);
		if ((r = jts_fault_errno("write")) != 0 ||
		    (r = slot_queue(s, true)) != 0) {
			pf_release(&pf, g);
			s->seg = NULL;
			break;
		}
		if (o && o->progress)
			o->progress(o->arg, g->len);
	}
	pf_stop(&pf);
	r = xfer_end(&x, r, hash);	/* the WRITEs in flight answered */
	pf_free(&pf);
	return r;
}

static int	reader_take(struct nfst_reader *, struct xslot *,
		    const unsigned char *);

static void
read_cb(int status, struct nfs_context *nfs, void *data, void *arg)
{
	struct xslot *s = arg;
	struct xfer *x = s->x;

	(void)nfs;
	if (!slot_answer(s, status, data))
		return;
	if (status == 0) {
		if (x->err == 0)
			x->err = -ESTALE;	/* ends before its size */
		return;
	}
	if ((uint32_t)status > s->len - s->done)
		status = (int)(s->len - s->done);
	/*
	 * The whole chunk next in order: taken from libnfs's buffer, not
	 * copied first (a stream's answers mostly come in order).
	 */
	if (s->done == 0 && (uint32_t)status == s->len && x->rd != NULL &&
	    x->err == 0 && x->rd->consumed < x->rd->issued &&
	    &x->s[x->rd->consumed % (uint64_t)x->t->inflight] == s) {
		(void)reader_take(x->rd, s, data);
		return;
	}
	memcpy(s->buf + s->done, data, (size_t)status);
	s->done += (uint32_t)status;
	if (s->done == s->len)
		s->ready = true;
	else if (x->err == 0 && slot_queue(s, false) != 0) /* short READ */
		x->err = -EIO;
}

static bool
all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/*
 * The chunk next in order, s's, whose bytes are at buf: hash it, write
 * it to dst (holes stay holes), count it.  0 or -errno (also x->err).
 */
static int
reader_take(struct nfst_reader *rd, struct xslot *s, const unsigned char *buf)
{
	struct xfer *x = &rd->x;

	XXH3_128bits_update(x->xs, buf, s->len);
	if (rd->dst >= 0 && !all_zero(buf, s->len)) {
		size_t w = 0;

		while (w < s->len) {
			ssize_t n = pwrite(rd->dst, buf + w, s->len - w,
			    (off_t)(s->off + w));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || (errno = -jts_fault_errno("write")) != 0)
				return x->err = n == 0 ? -EIO : -errno;
			w += (size_t)n;
		}
	}
	if (rd->o && rd->o->progress)
		rd->o->progress(rd->o->arg, s->len);
	rd->off += s->len;
	s->ready = false;
	rd->consumed++;
	return 0;
}

/*
 * Without waiting: take the chunks answered, in order (hash them, write
 * them to dst), and ask for more, up to limit.  Chunk k lives in slot
 * k % inflight.  Returns 0 or -errno.
 */
static int
reader_pump(struct nfst_reader *rd)
{
	struct xfer *x = &rd->x;
	uint64_t chunk = x->t->rmax;
	struct xslot *s;
	int r;

	for (;;) {
		if (x->err != 0)
			return x->err;
		if (x->t->nfs == NULL)
			return -EIO;
		while (rd->issued - rd->consumed < (uint64_t)x->t->inflight &&
		    rd->next < rd->limit) {
			uint32_t len = (uint32_t)(rd->limit - rd->next < chunk ?
			    rd->limit - rd->next : chunk);

			/* Paced: busy, the answers are waited for; idle, the
			 * wait is slept a slice at a time. */
			if (!copy_pace_ok(rd->o, len,
			    rd->issued > rd->consumed)) {
				if (rd->issued > rd->consumed)
					break;
				if (raised(rd->o))
					return x->err = -ECANCELED;
				continue;
			}
			s = &x->s[rd->issued % (uint64_t)x->t->inflight];
			s->off = rd->next;
			s->len = len;
			s->done = 0;
			s->ready = false;
			if ((r = slot_queue(s, false)) != 0)
				return x->err = r;
			rd->next += s->len;
			rd->issued++;
		}
		if (rd->consumed == rd->issued)
			return 0;
		s = &x->s[rd->consumed % (uint64_t)x->t->inflight];
		if (!s->ready)
			return 0;
		if ((r = reader_take(rd, s, s->buf)) != 0)
			return r;
	}
}

static int
reader_init(struct nfst_reader *rd, struct nfs_tier *t, struct nfsfh *fh,
    int dst, uint64_t size, const struct copy_opts *o)
{
	int r;

	memset(rd, 0, sizeof(*rd));
	rd->size = size;
	rd->dst = dst;
	rd->o = o;
	if ((r = xfer_init(&rd->x, t, fh, t->rmax)) == 0)
		rd->x.rd = rd;
	return r;
}

/* Read to the end, then the hash; the reader's buffers are freed. */
static int
reader_end(struct nfst_reader *rd, unsigned char hash[JTS_HASH_LEN])
{
	struct nfs_tier *t = rd->x.t;
	uint64_t seen = t->answers;
	int64_t last = jts_mono_ns();
	int r = 0;

	rd->limit = rd->size;
	while (r == 0 && (r = reader_pump(rd)) == 0 && rd->off < rd->size) {
		if (raised(rd->o)) {
			r = -ECANCELED;
			break;
		}
		nt_step(t, &seen, &last);
	}
	return xfer_end(&rd->x, r, hash);
}

/*
 * One file of nfst_put_many: CREATE, the source read and hashed, WRITE,
 * the two SETATTRs, each step sent by the answer to the one before.
 */
struct pool {
	unsigned char	*arena;		/* MANY_INFLIGHT buffers */
	int		 free[MANY_INFLIGHT];
	int		 nfree;
	int		 pending;	/* files not finished */
};

struct pjob {
	struct nfs_tier	*t;
	struct pool	*pool;
	struct nfst_put_job *j;
	unsigned char	*buf;
	int		 bufi;
	uint32_t	 done;
	int		 step;
	bool		 own;
};

enum { PJ_CREATE, PJ_WRITE, PJ_SA1, PJ_SA2, PJ_CLOSE };

static void pjob_rpc_cb(struct rpc_context *, int, void *, void *);

static void
close_noop(int status, struct nfs_context *nfs, void *data, void *arg)
{
	(void)status;
	(void)nfs;
	(void)data;
	(void)arg;
}

/* The job is over: its buffer back to the pool; a failed copy closed. */
static void
pjob_finish(struct pjob *p, int err, const char *what)
{
	struct nfsfh *fh = p->j->fh;

	p->j->err = err;
	if (err != 0) {
		p->j->what = what;
		p->j->fh = NULL;
		p->step = PJ_CLOSE;
		/* NFSv3 has no CLOSE: this only frees the handle. */
		if (fh != NULL && p->t->nfs != NULL)
			(void)nfs_close_async(p->t->nfs, fh, close_noop, NULL);
	}
	p->pool->free[p->pool->nfree++] = p->bufi;
	p->pool->pending--;
}

static int
pjob_setattr(struct pjob *p, const SETATTR3args *tmpl)
{
	struct nfst_fh *h = (struct nfst_fh *)nfs_get_fh(p->j->fh);
	SETATTR3args a = *tmpl;

	a.object.data.data_len = (u_int)h->len;
	a.object.data.data_val = h->val;
	return rpc_nfs3_setattr_async(nfs_get_rpc_context(p->t->nfs),
	    pjob_rpc_cb, &a, p);
}

static int
pjob_write(struct pjob *p)
{
	struct nfst_fh *h = (struct nfst_fh *)nfs_get_fh(p->j->fh);
	WRITE3args a;

	memset(&a, 0, sizeof(a));
	a.file.data.data_len = (u_int)h->len;
	a.file.data.data_val = h->val;
	a.offset = p->done;
	a.count = (count3)(p->j->size - p->done);
	a.stable = UNSTABLE;
	a.data.data_len = a.count;
	a.data.data_val = (char *)p->buf + p->done;
	return rpc_nfs3_write_async(nfs_get_rpc_context(p->t->nfs),
	    pjob_rpc_cb, &a, p);
}

/* The next step after the data: the SETATTRs. */
static void
pjob_attrs(struct pjob *p)
{
	SETATTR3args a;

	p->step = PJ_SA1;
	sa_size_owner(&a, p->j->st, p->own);
	if (pjob_setattr(p, &a) != 0)
		pjob_finish(p, -EIO, "set attributes");
}

static void
pjob_create_cb(int status, struct nfs_context *nfs, void *data, void *arg)
{
	struct pjob *p = arg;
	XXH3_state_t *xs;
	XXH128_canonical_t canon;
	ssize_t n;

	(void)nfs;
	p->t->answers++;
	if (status == -EINTR)
		p->t->stalled = true;
	if (status < 0) {
		pjob_finish(p, nt_errno(status, data), "create");
		return;
	}
	p->j->fh = data;
	/* The source: small, local, read whole and hashed. */
	while (p->done < p->j->size) {
		n = pread(p->j->src, p->buf + p->done, p->j->size - p->done,
		    (off_t)p->done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (errno = -jts_fault_errno("read")) != 0) {
			pjob_finish(p, -errno, "read");
			return;
		}
		if (n == 0) {
			pjob_finish(p, -ESTALE, "read");  /* it shrank */
			return;
		}
		p->done += (uint32_t)n;
	}
	if ((xs = XXH3_createState()) == NULL) {
		pjob_finish(p, -ENOMEM, "read");
		return;
	}
	XXH3_128bits_reset(xs);
	XXH3_128bits_update(xs, p->buf, p->j->size);
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(xs));
	XXH3_freeState(xs);
	memcpy(p->j->hash, canon.digest, JTS_HASH_LEN);
	/* Test hook: a byte changed after hashing must be caught. */
	if (p->j->size > 0 && jts_fault_errno("corrupt") != 0)
		p->buf[0] ^= 0xff;
	p->done = 0;
	if (p->j->size == 0) {
		pjob_attrs(p);
		return;
	}
	p->step = PJ_WRITE;
	if (jts_fault_errno("write") != 0 || p->t->nfs == NULL ||
	    pjob_write(p) != 0)
		pjob_finish(p, -EIO, "copy");
}

static void
pjob_rpc_cb(struct rpc_context *rpc, int status, void *data, void *arg)
{
	struct pjob *p = arg;
	struct nfs_tier *t = p->t;
	SETATTR3args a;
	int r;

	(void)rpc;
	t->answers++;
	if (p->step == PJ_WRITE) {
		WRITE3res *res = data;

		r = rpc_errno(t, status, status == RPC_STATUS_SUCCESS ?
		    (int)res->status : NFS3_OK);
		if (r != 0) {
			pjob_finish(p, r, "copy");
			return;
		}
		if (!t->wverf_set) {
			memcpy(t->wverf, res->WRITE3res_u.resok.verf,
			    sizeof(t->wverf));
			t->wverf_set = true;
		} else if (memcmp(t->wverf, res->WRITE3res_u.resok.verf,
		    sizeof(t->wverf)) != 0) {
			t->restarted = true;
			pjob_finish(p, -ECONNRESET, "copy");
			return;
		}
		if (res->WRITE3res_u.resok.count == 0) {
			pjob_finish(p, -EIO, "copy");
			return;
		}
		p->done += res->WRITE3res_u.resok.count;
		if (p->done < p->j->size) {		/* short WRITE */
			if (t->nfs == NULL || pjob_write(p) != 0)
				pjob_finish(p, -EIO, "copy");
			return;
		}
		pjob_attrs(p);
		return;
	}
	r = rpc_errno(t, status, status == RPC_STATUS_SUCCESS ?
	    (int)((SETATTR3res *)data)->status : NFS3_OK);
	if (p->step == PJ_SA1 && p->own && (r == -EPERM || r == -EINVAL)) {
		/* The owner refused (squashed): the catalog keeps it. */
		p->own = false;
		sa_size_owner(&a, p->j->st, false);
		if (t->nfs == NULL || pjob_setattr(p, &a) != 0)
			pjob_finish(p, -EIO, "set attributes");
		return;
	}
	if (r != 0) {
		pjob_finish(p, r, "set attributes");
		return;
	}
	if (p->step == PJ_SA1) {
		p->step = PJ_SA2;
		sa_mode_times(&a, p->j->st);
		if (t->nfs == NULL || pjob_setattr(p, &a) != 0)
			pjob_finish(p, -EIO, "set attributes");
		return;
	}
	pjob_finish(p, 0, NULL);
}

int
nfst_put_many(struct nfs_tier *t, struct nfst_put_job *job, int n,
    unsigned pace)
{
	struct pjob *p = xcalloc((size_t)(n ? n : 1), sizeof(*p));
	struct pool pool;
	uint64_t seen = t->answers;
	int64_t last = jts_mono_ns();
	int i, next = 0, r = 0;

	memset(&pool, 0, sizeof(pool));
	if (posix_memalign((void **)&pool.arena, 4096,
	    (size_t)MANY_INFLIGHT * NFST_SMALL_MAX) != 0) {
		free(p);
		return -ENOMEM;
	}
	for (i = 0; i < MANY_INFLIGHT; i++)
		pool.free[pool.nfree++] = i;
	while ((next < n || pool.pending > 0) && r == 0) {
		while (next < n && pool.nfree > 0 && t->nfs != NULL) {
			char *path;

			if (pace != 0 && !jts_pace_go(pace, job[next].size,
			    pool.pending > 0)) {
				if (pool.pending > 0)
					break;
				continue;	/* slept a slice */
			}
			path = nt_path(t, job[next].rel);

			p[next].t = t;
			p[next].pool = &pool;
			p[next].j = &job[next];
			p[next].own = true;
			p[next].step = PJ_CREATE;
			job[next].fh = NULL;
			job[next].err = 0;
			if (job[next].size > NFST_SMALL_MAX) {
				job[next].err = -EFBIG;
				job[next].what = "copy";
			} else if (nfs_create_async(t->nfs, path, O_EXCL, 0600,
			    pjob_create_cb, &p[next]) == 0) {
				/* A buffer no job in flight holds. */
				p[next].bufi = pool.free[--pool.nfree];
				p[next].buf = pool.arena +
				    (size_t)p[next].bufi * NFST_SMALL_MAX;
				pool.pending++;
			} else {
				job[next].err = -EIO;
				job[next].what = "create";
			}
			free(path);
			next++;
		}
		if (t->nfs == NULL)
			r = -EIO;
		else if (pool.pending > 0)
			nt_step(t, &seen, &last);
	}
	for (i = 0; r != 0 && i < n; i++) {
		job[i].err = -EIO;
		job[i].what = "copy";
		job[i].fh = NULL;	/* went with the connection */
	}
	free(pool.arena);
	free(p);
	return r;
}

/* One file of nfst_hash_many: open, READs, close, chained by answers. */
struct hjob {
	struct nfs_tier	*t;
	int		*pending;	/* files not finished */
	const char	*rel;
	uint64_t	 size, got;
	XXH3_state_t	*xs;
	struct nfsfh	*fh;
	unsigned char	*hash;
	int		*err;
};

static void hjob_cb(int, struct nfs_context *, void *, void *);

/* The job is over (err set if it failed): close what it opened. */
static void
hjob_end(struct hjob *j, int err)
{
	XXH128_canonical_t canon;
	struct nfsfh *fh;

	if (err == 0) {
		XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(j->xs));
		memcpy(j->hash, canon.digest, JTS_HASH_LEN);
	}
	*j->err = err;
	fh = j->fh;
	j->fh = NULL;
	j->size = UINT64_MAX;		/* the close's answer ends it */
	/* (NFSv3 has no CLOSE: libnfs may answer before it returns.) */
	if (fh != NULL && j->t->nfs != NULL &&
	    nfs_close_async(j->t->nfs, fh, hjob_cb, j) == 0)
		return;
	(*j->pending)--;
}

static void
hjob_cb(int status, struct nfs_context *nfs, void *data, void *arg)
{
	struct hjob *j = arg;
	uint64_t want;

	(void)nfs;
	j->t->answers++;
	if (status == -EINTR)
		j->t->stalled = true;
	if (j->size == UINT64_MAX) {		/* closed */
		(*j->pending)--;
		return;
	}
	if (status < 0) {
		hjob_end(j, nt_errno(status, data));
		return;
	}
	if (j->fh == NULL)			/* opened */
		j->fh = data;
	else if (status == 0) {			/* ends before its size */
		hjob_end(j, -ESTALE);
		return;
	} else {
		XXH3_128bits_update(j->xs, data, (size_t)status);
		j->got += (uint64_t)status;
	}
	if (j->got >= j->size) {
		hjob_end(j, 0);
		return;
	}
	want = j->size - j->got < j->t->rmax ? j->size - j->got : j->t->rmax;
	if (j->t->nfs == NULL || nfs_pread_async(j->t->nfs, j->fh, j->got,
	    want, hjob_cb, j) != 0)
		hjob_end(j, -EIO);
}

int
nfst_hash_many(struct nfs_tier *t, const char *const *rel,
    const uint64_t *size, unsigned char (*hash)[JTS_HASH_LEN], int *err,
    int n)
{
	struct hjob *j = xcalloc((size_t)(n ? n : 1), sizeof(*j));
	uint64_t seen = t->answers;
	int64_t last = jts_mono_ns();
	int i, next = 0, pending = 0, r = 0;

	while ((next < n || pending > 0) && r == 0) {
		while (next < n && pending < MANY_INFLIGHT && t->nfs != NULL) {
			char *p = nt_path(t, rel[next]);

			j[next].t = t;
			j[next].pending = &pending;
			j[next].rel = rel[next];
			j[next].size = size[next];
			j[next].hash = hash[next];
			j[next].err = &err[next];
			j[next].xs = XXH3_createState();
			if (j[next].xs == NULL) {
				err[next] = -ENOMEM;
			} else {
				XXH3_128bits_reset(j[next].xs);
				if (nfs_open_async(t->nfs, p, O_RDONLY,
				    hjob_cb, &j[next]) == 0)
					pending++;
				else
					err[next] = -EIO;
			}
			free(p);
			next++;
		}
		if (t->nfs == NULL)
			r = -EIO;
		else if (pending > 0)
			nt_step(t, &seen, &last);
	}
	for (i = 0; i < n; i++) {
		if (r != 0)
			err[i] = -EIO;
		if (j[i].xs != NULL)
			XXH3_freeState(j[i].xs);
	}
	free(j);
	return r;
}

int
nfst_get(struct nfs_tier *t, struct nfsfh *fh, int dst, uint64_t size,
    unsigned char hash[JTS_HASH_LEN], const struct copy_opts *o)
{
	struct nfst_reader rd;
	int r;

	if ((r = reader_init(&rd, t, fh, dst, size, o)) != 0)
		return r;
	r = reader_end(&rd, hash);
	if (r == 0 && dst >= 0)
		r = jts_set_size(dst, (off_t)size);
	return r;
}

