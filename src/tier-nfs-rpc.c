/*
 * tier-nfs-rpc.c - the NAS's client: a connection driven by a libev loop,
 * and the requests sent one at a time (paths, space, COMMIT, SETATTR)
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

#include "tier-nfs-int.h"


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
void
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
int
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

int
nt_usable(struct nfs_tier *t)
{
	return t->nfs == NULL ? -EIO : 0;
}

/*
 * libnfs reports a failed WRITE or READ of several RPCs as -EFAULT, with
 * the server's status only in the message: take the errno from there.
 */
int
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
int
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

char *
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
void
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

void
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

