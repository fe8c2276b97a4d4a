/*
 * tier-nfs.c - the cold tier: a NAS reached in userspace with libnfs
 *
 * libnfs' asynchronous calls, driven by a libev loop.  Every call below
 * queues its requests and runs the loop until each one is answered; the
 * loop also watches the time: when nothing is answered for timeout_s
 * seconds the connection is torn down (libnfs cancels what was in flight)
 * so that no caller ever waits without end.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <xxhash.h>

#include "tier-nfs.h"
#include "tier.h"

#define NSLOTS		16		/* most requests in flight per file */
#define CHUNK_MAX	(1u << 20)

/*
 * libnfs keeps struct nfs_fh private; SETATTR with nanosecond times needs
 * the raw call and so the handle.  Its layout is libnfs' own (a length
 * and the bytes) and has not changed since libnfs 1.x.
 */
struct nfst_fh {
	int		 len;
	char		*val;
};

/* --- the loop ----------------------------------------------------------- */

static void nt_break(struct nfs_tier *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
nt_arm(struct nfs_tier *t)
{
	ev_io *io = t->io;
	int fd, ev, want = 0;

	if (t->nfs == NULL)
		return;
	fd = nfs_get_fd(t->nfs);
	ev = nfs_which_events(t->nfs);
	if (ev & POLLIN)
		want |= EV_READ;
	if (ev & POLLOUT)
		want |= EV_WRITE;
	if (fd == t->fd && want == t->events && ev_is_active(io))
		return;
	ev_io_stop(t->loop, io);
	t->fd = fd;
	t->events = want;
	if (fd >= 0 && want != 0) {
		ev_io_set(io, fd, want);
		ev_io_start(t->loop, io);
	}
}

static void
nt_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct nfs_tier *t = w->data;
	int ev = 0;

	(void)loop;
	if (revents & EV_READ)
		ev |= POLLIN;
	if (revents & EV_WRITE)
		ev |= POLLOUT;
	if (t->nfs != NULL && nfs_service(t->nfs, ev) < 0)
		nt_break(t, "connection lost: %s", nfs_get_error(t->nfs));
	nt_arm(t);
}

/* Serviced with no events now and then, so RPC timeouts fire. */
static void
nt_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct nfs_tier *t = w->data;

	(void)loop;
	(void)revents;
	if (t->nfs != NULL && nfs_service(t->nfs, 0) < 0)
		nt_break(t, "connection lost: %s", nfs_get_error(t->nfs));
	nt_arm(t);
}

/* Tear the connection down: what is in flight is cancelled. */
static void
nt_break(struct nfs_tier *t, const char *fmt, ...)
{
	struct nfs_context *nfs = t->nfs;
	va_list ap;

	if (nfs == NULL)
		return;
	if (!t->broken) {
		int n = snprintf(t->err, sizeof(t->err), "%s: ", t->url);

		va_start(ap, fmt);
		vsnprintf(t->err + n, sizeof(t->err) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	t->broken = true;
	t->nfs = NULL;
	ev_io_stop(t->loop, t->io);
	nfs_destroy_context(nfs);
}

/*
 * One turn of the loop; tears the connection down when nothing has been
 * answered for the timeout (seen and last: answers counted, and when).
 */
static void
nt_step(struct nfs_tier *t, uint64_t *seen, int64_t *last)
{
	nt_arm(t);
	ev_run(t->loop, EVRUN_ONCE);
	if (t->stalled) {
		/* One request timed out: the server is not answering. */
		nt_break(t, "the server did not answer for %d s",
		    t->timeout_s);
	} else if (t->answers != *seen) {
		*seen = t->answers;
		*last = jts_mono_ns();
	} else if (jts_mono_ns() - *last >
	    (int64_t)t->timeout_s * 1000000000)
		nt_break(t, "the server did not answer for %d s",
		    t->timeout_s);
}

/*
 * Run the loop until *pending requests are answered.  Returns 0, or -EIO
 * when the connection broke (then *pending is 0: nothing will answer).
 */
static int
nt_wait(struct nfs_tier *t, int *pending)
{
	uint64_t seen = t->answers;
	int64_t last = jts_mono_ns();

	while (*pending > 0 && t->nfs != NULL)
		nt_step(t, &seen, &last);
	if (t->nfs == NULL) {
		*pending = 0;
		return -EIO;
	}
	return 0;
}

static int
nt_usable(struct nfs_tier *t)
{
	return t->nfs == NULL ? -EIO : 0;
}

/*
 * libnfs reports a failed WRITE or READ of several RPCs as -EFAULT, with
 * the server's status only in the message: take the errno from there.
 */
static int
nt_errno(int status, const char *msg)
{
	static const struct {
		const char	*name;
		int		 err;
	} map[] = {
		{ "NFS3ERR_NOSPC", ENOSPC }, { "NFS3ERR_DQUOT", EDQUOT },
		{ "NFS3ERR_ROFS", EROFS }, { "NFS3ERR_FBIG", EFBIG },
		{ "NFS3ERR_STALE", ESTALE }, { "NFS3ERR_IO", EIO },
		{ "NFS3ERR_ACCES", EACCES }, { "NFS3ERR_PERM", EPERM },
	};
	size_t i;

	if (status != -EFAULT || msg == NULL)
		return status;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strstr(msg, map[i].name) != NULL)
			return -map[i].err;
	return -EIO;
}

/* An RPC's status, or a reply's NFS status, as 0 or -errno. */
static int
rpc_errno(struct nfs_tier *t, int status, int nfsstat)
{
	if (status == RPC_STATUS_TIMEOUT || status == RPC_STATUS_CANCEL) {
		t->stalled = true;
		return -EIO;
	}
	if (status != RPC_STATUS_SUCCESS)
		return -EIO;
	if (nfsstat != NFS3_OK)
		return nfsstat3_to_errno(nfsstat) < 0 ?
		    nfsstat3_to_errno(nfsstat) : -EIO;
	return 0;
}

/* --- one request at a time ---------------------------------------------- */

struct one {
	struct nfs_tier	*t;
	int		 pending;
	int		 status;
	void		*data;		/* copied result */
	size_t		 len;
};

static void
one_cb(int status, struct nfs_context *nfs, void *data, void *arg)
{
	struct one *o = arg;

	(void)nfs;
	o->t->answers++;
	o->pending--;
	o->status = nt_errno(status, status < 0 ? data : NULL);
	if (status == -EINTR)
		o->t->stalled = true;	/* timed out, or cancelled */
	if (status >= 0 && data != NULL && o->data != NULL)
		memcpy(o->data, data, o->len);
	else if (status >= 0 && o->data == NULL)
		o->data = data;		/* a pointer result (a handle) */
}

static int
one_wait(struct one *o, int queued)
{
	if (queued != 0) {
		o->pending = 0;
		return nt_usable(o->t) != 0 ? -EIO : -ENOMEM;
	}
	if (nt_wait(o->t, &o->pending) != 0)
		return -EIO;
	return o->status < 0 ? o->status : 0;
}

static char *
nt_path(struct nfs_tier *t, const char *rel)
{
	return *rel ? xasprintf("%s/%s", t->base, rel) :
	    xstrdup(*t->base ? t->base : "/");
}

static void
mount_cb(int status, struct nfs_context *nfs, void *data, void *arg)
{
	struct one *o = arg;

	(void)nfs;
	o->t->answers++;
	o->pending--;
	o->status = status;
	if (status < 0 && data != NULL) {
		snprintf(o->t->err, sizeof(o->t->err), "%s", (char *)data);
		/*
		 * No answer is not a refusal: the caller must not go on
		 * trying shorter export paths, a timeout each.
		 */
		if (strstr((char *)data, "timed out") != NULL)
			o->status = -ETIMEDOUT;
	}
}

static int
nt_mount(struct nfs_tier *t, const char *server, const char *export)
{
	struct one o = { t, 1, 0, NULL, 0 };
	int r;

	t->err[0] = '\0';
	r = nfs_mount_async(t->nfs, server, export, mount_cb, &o);
	if (r != 0) {
		snprintf(t->err, sizeof(t->err), "%s", nfs_get_error(t->nfs));
		return -EIO;
	}
	if (nt_wait(t, &o.pending) != 0)
		return -ETIMEDOUT;
	return o.status;
}

/* What to look at when the NAS could not be reached: added to t->err. */
static void
nt_hint(struct nfs_tier *t, const char *server)
{
	static const struct {
		const char *said, *hint;
	} hints[] = {
		{ "refused", "check that the NAS is up and that its NFS server "
		    "and rpcbind answer" },
		{ "timed out", "check that the NAS is up and reachable from "
		    "this host" },
		{ "unreachable", "check the network path to the NAS" },
		{ "No route", "check the network path to the NAS" },
		{ "PERM", "the NAS refused this host: check its export list" },
		{ "ACCES", "the NAS refused this host: check its export list" },
		{ "ermission denied", "the NAS refused this host: check its "
		    "export list" },
		{ "NOENT", "check the url's export path against the NAS's "
		    "export list" },
		{ "No such file", "check the url's export path against the "
		    "NAS's export list" },
	};
	size_t i, n = strlen(t->err);

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		if (strstr(t->err, hints[i].said) == NULL)
			continue;
		while (n > 0 && (t->err[n - 1] == '.' || t->err[n - 1] == ' '))
			n--;
		if (n + 4 < sizeof(t->err))
			snprintf(t->err + n, sizeof(t->err) - n, "; %s%s%s",
			    hints[i].hint, server ? " at " : "",
			    server ? server : "");
		return;
	}
}

int
nfst_connect(struct nfs_tier *t, const char *url, int timeout_s,
    struct ev_loop *loop)
{
	struct nfs_url *u = NULL;
	char *export = NULL, *cut, why[sizeof(t->err)] = "";
	ev_timer *tick;
	int r = -EIO;

	memset(t, 0, sizeof(*t));
	/*
	 * libnfs allocates a buffer for every WRITE and READ it sends (a
	 * megabyte each): keep such blocks in the heap for reuse, rather
	 * than mapping, faulting in and unmapping each one.
	 */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	t->url = xstrdup(url);
	t->timeout_s = timeout_s > 0 ? timeout_s : NFST_TIMEOUT_DEFAULT;
	t->inflight = NFST_INFLIGHT_DEFAULT;
	t->fd = -1;
	t->loop = loop;
	if (t->loop == NULL) {
		t->loop = ev_loop_new(EVFLAG_AUTO);
		t->own_loop = true;
	}
	t->io = xcalloc(1, sizeof(ev_io));
	ev_init((ev_io *)t->io, nt_on_io);
	((ev_io *)t->io)->data = t;
	tick = t->tick = xcalloc(1, sizeof(ev_timer));
	ev_timer_init(tick, nt_on_tick, 0.1, 0.1);
	tick->data = t;
	ev_timer_start(t->loop, tick);

	if ((t->nfs = nfs_init_context()) == NULL) {
		snprintf(t->err, sizeof(t->err), "%s: cannot make an nfs "
		    "context", url);
		goto fail;
	}
	if ((u = nfs_parse_url_dir(t->nfs, url)) == NULL) {
		snprintf(t->err, sizeof(t->err), "%s: %s", url,
		    nfs_get_error(t->nfs));
		r = -EINVAL;
		goto fail;
	}
	/* Fail, do not reconnect behind our back: we judge every answer. */
	nfs_set_autoreconnect(t->nfs, 0);
	nfs_set_timeout(t->nfs, t->timeout_s * 1000);
	/*
	 * The URL's path is the export and maybe a directory beneath it:
	 * mount the longest prefix the server exports.
	 */
	export = xstrdup(u->path && *u->path ? u->path : "/");
	while (strlen(export) > 1 && export[strlen(export) - 1] == '/')
		export[strlen(export) - 1] = '\0';
	t->base = xstrdup("");
	for (;;) {
		r = nt_mount(t, u->server, export);
		if (r == 0 || t->nfs == NULL || r == -ETIMEDOUT)
			break;
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "%s", t->err);
		if ((cut = strrchr(export, '/')) == NULL || cut == export)
			break;
		free(t->base);
		t->base = xstrdup(u->path + (cut - export));
		*cut = '\0';
		/* A refused mount may leave the context unusable: renew. */
		nfs_destroy_context(t->nfs);
		ev_io_stop(t->loop, t->io);
		t->fd = -1;
		if ((t->nfs = nfs_init_context()) == NULL)
			break;
		nfs_destroy_url(nfs_parse_url_dir(t->nfs, url));
		nfs_set_autoreconnect(t->nfs, 0);
		nfs_set_timeout(t->nfs, t->timeout_s * 1000);
	}
	if (r != 0) {
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "%s", t->err);
		if (!t->broken)
			snprintf(t->err, sizeof(t->err), "%.200s: cannot mount: "
			    "%.250s", url, why);
		goto fail;
	}
	t->rmax = nfs_get_readmax(t->nfs);
	t->wmax = nfs_get_writemax(t->nfs);
	if (t->rmax == 0 || t->rmax > CHUNK_MAX)
		t->rmax = CHUNK_MAX;
	if (t->wmax == 0 || t->wmax > CHUNK_MAX)
		t->wmax = CHUNK_MAX;
	if (*t->base) {
		struct nfs_ident id;

		r = nfst_lstat(t, "", &id);
		if (r == 0 && !S_ISDIR(id.mode))
			r = -ENOTDIR;
		if (r != 0) {
			snprintf(t->err, sizeof(t->err), "%s: %s on the "
			    "export: %s", url, t->base, strerror(-r));
			goto fail;
		}
	}
	nfs_destroy_url(u);
	free(export);
	return 0;
fail:
	nt_hint(t, u != NULL ? u->server : NULL);
	if (u != NULL)
		nfs_destroy_url(u);
	free(export);
	if (t->nfs != NULL) {
		nfs_destroy_context(t->nfs);
		t->nfs = NULL;
	}
	t->broken = true;
	return r < 0 ? r : -EIO;
}

void
nfst_set_inflight(struct nfs_tier *t, int n)
{
	if (n >= 1 && n <= NSLOTS)
		t->inflight = n;
}

void
nfst_close(struct nfs_tier *t)
{
	if (t->loop != NULL) {
		ev_timer_stop(t->loop, t->tick);
		ev_io_stop(t->loop, t->io);
	}
	if (t->nfs != NULL)
		nfs_destroy_context(t->nfs);
	if (t->own_loop && t->loop != NULL)
		ev_loop_destroy(t->loop);
	free(t->io);
	free(t->tick);
	free(t->url);
	free(t->base);
	free(t->last_dir);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

/* --- path operations ---------------------------------------------------- */

int
nfst_lstat(struct nfs_tier *t, const char *rel, struct nfs_ident *id)
{
	struct nfs_stat_64 st;
	struct one o = { t, 1, 0, &st, sizeof(st) };
	char *p = nt_path(t, rel);
	int r;

	if (nt_usable(t) != 0) {
		free(p);
		return -EIO;
	}
	r = one_wait(&o, nfs_lstat64_async(t->nfs, p, one_cb, &o));
	free(p);
	if (r != 0)
		return r;
	id->ino = st.nfs_ino;
	id->size = st.nfs_size;
	id->mtime_ns = (int64_t)st.nfs_mtime * 1000000000 +
	    (int64_t)st.nfs_mtime_nsec;
	id->ctime_ns = (int64_t)st.nfs_ctime * 1000000000 +
	    (int64_t)st.nfs_ctime_nsec;
	id->mode = (uint32_t)st.nfs_mode;
	id->uid = (uint32_t)st.nfs_uid;
	id->gid = (uint32_t)st.nfs_gid;
	id->nlink = (uint32_t)st.nfs_nlink;
	return 0;
}

int
nfst_mkdirs(struct nfs_tier *t, const char *reldir, mode_t mode)
{
	char *d = xstrdup(reldir), *s = d, *p;
	struct nfs_ident id;
	int r = 0;

	/*
	 * Most of the time the directory is there already, and was the last
	 * one asked for (files of a tree come directory by directory).
	 */
	if (*d == '\0' || (t->last_dir != NULL && strcmp(d, t->last_dir) == 0)) {
		free(d);
		return nt_usable(t);
	}
	if (nfst_lstat(t, d, &id) == 0 && S_ISDIR(id.mode)) {
		free(t->last_dir);
		t->last_dir = d;
		return nt_usable(t);
	}
	for (;;) {
		char save;
		struct one o = { t, 1, 0, NULL, 0 };

		s = strchr(s, '/');
		save = s ? *s : '\0';
		if (s)
			*s = '\0';
		p = nt_path(t, d);
		r = one_wait(&o, nfs_mkdir2_async(t->nfs, p, (int)mode, one_cb,
		    &o));
		free(p);
		if (r == -EEXIST) {
			r = nfst_lstat(t, d, &id);
			if (r == 0 && !S_ISDIR(id.mode))
				r = -ENOTDIR;
		}
		if (r != 0 || s == NULL)
			break;
		*s++ = save;
	}
	if (r == 0) {
		free(t->last_dir);
		t->last_dir = d;
	} else
		free(d);
	return r;
}

#define MANY_INFLIGHT	64

/* One of many requests in flight: where its answer goes. */
struct opx {
	struct nfs_tier	*t;
	int		*pending;
	int		*err;
};

static void
opx_cb(int status, struct nfs_context *nfs, void *data, void *arg)
{
	struct opx *x = arg;

	(void)nfs;
	x->t->answers++;
	(*x->pending)--;
	if (status == -EINTR)
		x->t->stalled = true;	/* timed out, or cancelled */
	*x->err = nt_errno(status < 0 ? status : 0, status < 0 ? data : NULL);
}

/*
 * The path operation op ('u' unlink, 'l' link a[i] to b[i], 'r' rename)
 * on n paths, up to MANY_INFLIGHT in flight; err[i] is 0 or -errno.
 * Returns 0, or -EIO if the connection broke (then every err is -EIO).
 */
static int
path_ops(struct nfs_tier *t, int op, const char *const *a,
    const char *const *b, int n, int *err)
{
	struct opx *x = xcalloc((size_t)(n ? n : 1), sizeof(*x));
	uint64_t seen = t->answers;
	int64_t last = jts_mono_ns();
	int i, next = 0, pending = 0, q, r = 0;

	while ((next < n || pending > 0) && r == 0) {
		while (next < n && pending < MANY_INFLIGHT && t->nfs != NULL) {
			char *pa = nt_path(t, a[next]);
			char *pb = b ? nt_path(t, b[next]) : NULL;

			x[next].t = t;
			x[next].pending = &pending;
			x[next].err = &err[next];
			if (op == 'u')
				q = nfs_unlink_async(t->nfs, pa, opx_cb,
				    &x[next]);
			else if (op == 'l')
				q = nfs_link_async(t->nfs, pa, pb, opx_cb,
				    &x[next]);
			else
				q = nfs_rename_async(t->nfs, pa, pb, opx_cb,
				    &x[next]);
			free(pa);
			free(pb);
			if (q != 0) {
				err[next] = -EIO;
			} else
				pending++;
			next++;
		}
		if (t->nfs == NULL)
			r = -EIO;
		else if (pending > 0)
			nt_step(t, &seen, &last);
	}
	free(x);
	for (i = 0; r != 0 && i < n; i++)
		err[i] = -EIO;
	return r;
}

static int
path_op(struct nfs_tier *t, int op, const char *a, const char *b)
{
	int err = 0;

	if (nt_usable(t) != 0 || path_ops(t, op, &a, b ? &b : NULL, 1,
	    &err) != 0)
		return -EIO;
	return err;
}

int
nfst_unlink_many(struct nfs_tier *t, const char *const *rel, int n, int *err)
{
	return path_ops(t, 'u', rel, NULL, n, err);
}

int
nfst_link_many(struct nfs_tier *t, const char *const *from,
    const char *const *to, int n, int *err)
{
	return path_ops(t, 'l', from, to, n, err);
}

int
nfst_unlink(struct nfs_tier *t, const char *rel)
{
	return path_op(t, 'u', rel, NULL);
}

int
nfst_link(struct nfs_tier *t, const char *from, const char *to)
{
	return path_op(t, 'l', from, to);
}

int
nfst_rename(struct nfs_tier *t, const char *from, const char *to)
{
	return path_op(t, 'r', from, to);
}

int
nfst_fsstat(struct nfs_tier *t, uint64_t *total, uint64_t *freeb,
    uint64_t *avail)
{
	struct nfs_statvfs_64 sv;
	struct one o = { t, 1, 0, &sv, sizeof(sv) };
	char *p = nt_path(t, "");
	int r;

	if (nt_usable(t) != 0) {
		free(p);
		return -EIO;
	}
	r = one_wait(&o, nfs_statvfs64_async(t->nfs, p, one_cb, &o));
	free(p);
	if (r == 0) {
		uint64_t bs = sv.f_frsize ? sv.f_frsize : sv.f_bsize;

		*total = sv.f_blocks * bs;
		*freeb = sv.f_bfree * bs;
		*avail = sv.f_bavail * bs;
	}
	return r;
}

int
nfst_avail(struct nfs_tier *t, uint64_t *bytes, uint64_t *total)
{
	uint64_t tot, fr;
	int r;

	if ((r = nfst_fsstat(t, &tot, &fr, bytes)) == 0 && total != NULL)
		*total = tot;
	return r;
}

/* ---- the tier operations of kind nfs --------------------------------- */

struct nfs_tier *
tier_nfs_conn(struct tier *t, bool *fresh)
{
	if (fresh != NULL)
		*fresh = t->nt == NULL;
	if (t->nt == NULL) {
		t->nt = xcalloc(1, sizeof(*t->nt));
		if (nfst_connect(t->nt, t->tc->url, t->tc->timeout, t->loop) !=
		    0)
			return NULL;
		nfst_set_inflight(t->nt, t->tc->inflight);
	}
	return t->nt->broken ? NULL : t->nt;
}

static int
nfs_space(struct tier *t, struct tier_space *sp)
{
	struct nfs_tier *nt = tier_nfs_conn(t, NULL);
	uint64_t total, freeb;
	int r;

	memset(sp, 0, sizeof(*sp));
	if (nt == NULL)
		return -EHOSTUNREACH;
	if ((r = nfst_fsstat(nt, &total, &freeb, &sp->avail)) != 0)
		return r;
	sp->used = total > freeb ? total - freeb : 0;
	sp->size = sp->used + sp->avail;
	return 0;
}

static int
nfs_hash(struct tier *t, struct copier *cp, const char *rel, int64_t size,
    unsigned char *out)
{
	struct nfs_tier *nt = tier_nfs_conn(t, NULL);
	struct nfs_ident id;
	struct nfsfh *fh;
	int r;

	(void)cp;
	if (nt == NULL)
		return -EHOSTUNREACH;
	if ((r = nfst_lstat(nt, rel, &id)) != 0)
		return r;
	if (!S_ISREG(id.mode))
		return -EFTYPE_NOTREG;
	if ((int64_t)id.size != size)
		return -ESTALE;
	if ((r = nfst_open_read(nt, rel, &fh)) != 0)
		return r;
	r = nfst_get(nt, fh, -1, (uint64_t)size, out, NULL);
	(void)nfst_close_fh(nt, fh);
	return r;
}

static void
nfs_tier_close(struct tier *t)
{
	if (t->nt != NULL) {
		nfst_close(t->nt);
		free(t->nt);
		t->nt = NULL;
	}
}

const struct tier_ops tier_nfs_ops = {
	.name = "nfs",
	.caps = 0,
	.space = nfs_space,
	.hash = nfs_hash,
	.close = nfs_tier_close,
};

int
nfst_create(struct nfs_tier *t, const char *rel, mode_t mode,
    struct nfsfh **fh)
{
	struct one o = { t, 1, 0, NULL, 0 };
	char *p = nt_path(t, rel);
	int r;

	if (nt_usable(t) != 0) {
		free(p);
		return -EIO;
	}
	r = one_wait(&o, nfs_create_async(t->nfs, p, O_EXCL, (int)mode,
	    one_cb, &o));
	free(p);
	*fh = r == 0 ? o.data : NULL;
	return r;
}

int
nfst_open_read(struct nfs_tier *t, const char *rel, struct nfsfh **fh)
{
	struct one o = { t, 1, 0, NULL, 0 };
	char *p = nt_path(t, rel);
	int r;

	if (nt_usable(t) != 0) {
		free(p);
		return -EIO;
	}
	r = one_wait(&o, nfs_open_async(t->nfs, p, O_RDONLY, one_cb, &o));
	free(p);
	*fh = r == 0 ? o.data : NULL;
	return r;
}

int
nfst_close_fh(struct nfs_tier *t, struct nfsfh *fh)
{
	struct one o = { t, 1, 0, NULL, 0 };

	if (fh == NULL || nt_usable(t) != 0)
		return -EIO;	/* the handle went with the connection */
	return one_wait(&o, nfs_close_async(t->nfs, fh, one_cb, &o));
}

/* A COMMIT's answer: 0, -errno, or -ECONNRESET if the server restarted
 * since the WRITEs (its write verifier changed). */
static int
commit_status(struct nfs_tier *t, int status, COMMIT3res *res)
{
	int r = rpc_errno(t, status, status == RPC_STATUS_SUCCESS ?
	    (int)res->status : NFS3_OK);

	if (r == 0 && t->wverf_set && memcmp(t->wverf,
	    res->COMMIT3res_u.resok.verf, sizeof(t->wverf)) != 0) {
		/* Unstable data written before a restart is gone. */
		t->restarted = true;
		r = -ECONNRESET;
	}
	return r;
}

static void
commit_cb(struct rpc_context *rpc, int status, void *data, void *arg)
{
	struct one *o = arg;

	(void)rpc;
	o->t->answers++;
	o->pending--;
	o->status = commit_status(o->t, status, data);
}

struct many {
	struct nfs_tier	*t;
	int		*pending;
	int		*err;
};

static void
many_cb(struct rpc_context *rpc, int status, void *data, void *arg)
{
	struct many *m = arg;

	(void)rpc;
	m->t->answers++;
	(*m->pending)--;
	*m->err = commit_status(m->t, status, data);
}

int
nfst_commit_many(struct nfs_tier *t, struct nfsfh **fhs, int n, int *err)
{
	enum { INFLIGHT = 64 };
	struct many *m;
	uint64_t seen = t->answers;
	int64_t last = jts_mono_ns();
	int i, next = 0, pending = 0, r = 0;

	if (nt_usable(t) != 0)
		return -EIO;
	m = xcalloc((size_t)(n ? n : 1), sizeof(*m));
	while ((next < n || pending > 0) && r == 0) {
		while (next < n && pending < INFLIGHT) {
			struct nfst_fh *h = (struct nfst_fh *)nfs_get_fh(
			    fhs[next]);
			COMMIT3args a;

			memset(&a, 0, sizeof(a));
			a.file.data.data_len = (u_int)h->len;
			a.file.data.data_val = h->val;
			m[next].t = t;
			m[next].pending = &pending;
			m[next].err = &err[next];
			if (rpc_nfs3_commit_async(nfs_get_rpc_context(t->nfs),
			    many_cb, &a, &m[next]) != 0) {
				r = -EIO;
				break;
			}
			pending++;
			next++;
		}
		if (r == 0 && pending > 0) {
			nt_step(t, &seen, &last);
			if (t->nfs == NULL)
				r = -EIO;
		}
	}
	if (r != 0 && t->nfs != NULL)
		nt_break(t, "cannot send COMMIT");	/* nothing may answer */
	free(m);
	for (i = 0; r != 0 && i < n; i++)
		err[i] = r;
	return r;
}

int
nfst_commit(struct nfs_tier *t, struct nfsfh *fh)
{
	struct nfst_fh *h = (struct nfst_fh *)nfs_get_fh(fh);
	struct one o = { t, 1, 0, NULL, 0 };
	COMMIT3args a;

	if (nt_usable(t) != 0)
		return -EIO;
	memset(&a, 0, sizeof(a));
	a.file.data.data_len = (u_int)h->len;
	a.file.data.data_val = h->val;
	return one_wait(&o, rpc_nfs3_commit_async(nfs_get_rpc_context(t->nfs),
	    commit_cb, &a, &o));
}

static void
setattr_cb(struct rpc_context *rpc, int status, void *data, void *arg)
{
	struct one *o = arg;
	SETATTR3res *res = data;

	(void)rpc;
	o->t->answers++;
	o->pending--;
	o->status = rpc_errno(o->t, status, status == RPC_STATUS_SUCCESS ?
	    (int)res->status : NFS3_OK);
}

static int
setattr_rpc(struct nfs_tier *t, struct nfsfh *fh, const SETATTR3args *tmpl)
{
	struct nfst_fh *h = (struct nfst_fh *)nfs_get_fh(fh);
	struct one o = { t, 1, 0, NULL, 0 };
	SETATTR3args a = *tmpl;

	if (nt_usable(t) != 0)
		return -EIO;
	a.object.data.data_len = (u_int)h->len;
	a.object.data.data_val = h->val;
	return one_wait(&o, rpc_nfs3_setattr_async(nfs_get_rpc_context(t->nfs),
	    setattr_cb, &a, &o));
}

/*
 * The two SETATTRs of a copy.  Size and owner first: a server clears
 * setuid and setgid when it changes either, so the mode (and the times,
 * last) come after.
 */
static void
sa_size_owner(SETATTR3args *a, const struct stat *st, bool own)
{
	memset(a, 0, sizeof(*a));
	a->new_attributes.size.set_it = 1;
	a->new_attributes.size.set_size3_u.size = (uint64_t)st->st_size;
	if (own) {
		a->new_attributes.uid.set_it = 1;
		a->new_attributes.uid.set_uid3_u.uid = st->st_uid;
		a->new_attributes.gid.set_it = 1;
		a->new_attributes.gid.set_gid3_u.gid = st->st_gid;
	}
}

static void
sa_mode_times(SETATTR3args *ap, const struct stat *st)
{
	SETATTR3args a;

	memset(&a, 0, sizeof(a));
	a.new_attributes.mode.set_it = 1;
	a.new_attributes.mode.set_mode3_u.mode = st->st_mode & 07777;
	a.new_attributes.atime.set_it = SET_TO_CLIENT_TIME;
	a.new_attributes.atime.set_atime_u.atime.seconds =
	    (u_int)st->st_atim.tv_sec;
	a.new_attributes.atime.set_atime_u.atime.nseconds =
	    (u_int)st->st_atim.tv_nsec;
	a.new_attributes.mtime.set_it = SET_TO_CLIENT_TIME;
	a.new_attributes.mtime.set_mtime_u.mtime.seconds =
	    (u_int)st->st_mtim.tv_sec;
	a.new_attributes.mtime.set_mtime_u.mtime.nseconds =
	    (u_int)st->st_mtim.tv_nsec;
	*ap = a;
}

int
nfst_setattr(struct nfs_tier *t, struct nfsfh *fh, const struct stat *st,
    bool own)
{
	SETATTR3args a;
	int r;

	sa_size_owner(&a, st, own);
	if ((r = setattr_rpc(t, fh, &a)) != 0)
		return r;
	sa_mode_times(&a, st);
	return setattr_rpc(t, fh, &a);
}

/* --- data: several requests in flight ----------------------------------- */

struct xslot {
	struct xfer	*x;
	unsigned char	*buf;
	uint64_t	 off;		/* of the chunk in the file */
	uint32_t	 len;		/* bytes of the chunk */
	uint32_t	 done;		/* bytes answered so far */
	bool		 busy;		/* a request is in flight */
	bool		 ready;		/* read: whole chunk here */
};

struct xfer {
	struct nfs_tier	*t;
	struct nfsfh	*fh;
	struct xslot	 s[NSLOTS];
	unsigned char	*arena;
	XXH3_state_t	*xs;		/* the stream's hash */
	int		 pending;
	int		 err;
};

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
	if (posix_memalign((void **)&x->arena, 4096, chunk *
	    (size_t)t->inflight) != 0)
		return -ENOMEM;
	if ((x->xs = XXH3_createState()) == NULL) {
		free(x->arena);
		return -ENOMEM;
	}
	XXH3_128bits_reset(x->xs);
	for (i = 0; i < t->inflight; i++) {
		x->s[i].x = x;
		x->s[i].buf = x->arena + (size_t)i * chunk;
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
	if (!slot_answer(s, r, NULL))
		return;
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
}

static bool
raised(const struct copy_opts *o)
{
	return o != NULL && ((o->abort_flag && *o->abort_flag) ||
	    (o->stop_flag && *o->stop_flag));
}

int
nfst_put(struct nfs_tier *t, struct nfsfh *fh, int src, uint64_t size,
    unsigned char hash[JTS_HASH_LEN], const struct copy_opts *o)
{
	struct xfer x;
	uint64_t off = 0, data_end = 0, chunk = t->wmax;
	int64_t last = jts_mono_ns();
	uint64_t seen = t->answers;
	int r;

	if ((r = xfer_init(&x, t, fh, chunk)) != 0)
		return r;
	while (off < size && r == 0) {
		struct xslot *s = NULL;
		ssize_t n;
		uint64_t want;
		int i;

		if (raised(o)) {
			r = -ECANCELED;
			break;
		}
		if (off >= data_end) {
			/* Where the next data is; a hole reads as zeros. */
			off_t d = lseek(src, (off_t)off, SEEK_DATA), h;

			if (d < 0 || (uint64_t)d > size)
				d = (off_t)size;
			if ((uint64_t)d > off) {
				copy_hash_zeros(x.xs, (uint64_t)d - off);
				if (o && o->progress)
					o->progress(o->arg, (uint64_t)d - off);
				off = (uint64_t)d;
				continue;
			}
			h = lseek(src, (off_t)off, SEEK_HOLE);
			data_end = h < 0 || (uint64_t)h > size ? size :
			    (uint64_t)h;
			if (data_end <= off)
				data_end = size;
		}
		/* A slot: wait for answers while all are in flight. */
		while (s == NULL && r == 0) {
			for (i = 0; i < t->inflight; i++)
				if (!x.s[i].busy) {
					s = &x.s[i];
					break;
				}
			if (s != NULL)
				break;
			if (t->nfs == NULL) {
				r = -EIO;
				break;
			}
			nt_step(t, &seen, &last);
			if (x.err != 0)
				r = x.err;

		}
		if (r != 0)
			break;
		want = data_end - off < chunk ? data_end - off : chunk;
		n = pread(src, s->buf, (size_t)want, (off_t)off);
		if (n < 0 && errno == EINVAL) {
			/* An O_DIRECT source's tail: read it whole. */
			n = pread(src, s->buf, (size_t)((want + 4095) & ~4095ULL),
			    (off_t)off);
			if (n > (ssize_t)want)
				n = (ssize_t)want;
		}
		if (n < 0 || (errno = -jts_fault_errno("read")) != 0) {
			r = -errno;
			break;
		}
		if (n == 0) {
			r = -ESTALE;	/* the source shrank */
			break;
		}
		XXH3_128bits_update(x.xs, s->buf, (size_t)n);
		/* Test hook: a byte changed after hashing must be caught. */
		if (jts_fault_errno("corrupt") != 0)
			s->buf[0] ^= 0xff;
		s->off = off;
		s->len = (uint32_t)n;
		s->done = 0;
		if ((r = jts_fault_errno("write")) != 0 ||
		    (r = slot_queue(s, true)) != 0)
			break;
		if (o && o->progress)
			o->progress(o->arg, (uint64_t)n);
		off += (uint64_t)n;
	}
	return xfer_end(&x, r, hash);
}

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
			s = &x->s[rd->issued % (uint64_t)x->t->inflight];
			s->off = rd->next;
			s->len = (uint32_t)(rd->limit - rd->next < chunk ?
			    rd->limit - rd->next : chunk);
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
		XXH3_128bits_update(x->xs, s->buf, s->len);
		if (rd->dst >= 0 && !all_zero(s->buf, s->len)) {
			size_t w = 0;

			while (w < s->len) {
				ssize_t n = pwrite(rd->dst, s->buf + w,
				    s->len - w, (off_t)(s->off + w));

				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0 || (errno =
				    -jts_fault_errno("write")) != 0)
					return x->err = n == 0 ? -EIO : -errno;
				w += (size_t)n;
			}
		}
		if (rd->o && rd->o->progress)
			rd->o->progress(rd->o->arg, s->len);
		rd->off += s->len;
		s->ready = false;
		rd->consumed++;
	}
}

static int
reader_init(struct nfst_reader *rd, struct nfs_tier *t, struct nfsfh *fh,
    int dst, uint64_t size, const struct copy_opts *o)
{
	memset(rd, 0, sizeof(*rd));
	rd->size = size;
	rd->dst = dst;
	rd->o = o;
	return xfer_init(&rd->x, t, fh, t->rmax);
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
nfst_put_many(struct nfs_tier *t, struct nfst_put_job *job, int n)
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
			char *path = nt_path(t, job[next].rel);

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
	if (r == 0 && dst >= 0 && ftruncate(dst, (off_t)size) != 0)
		r = -errno;
	return r;
}
