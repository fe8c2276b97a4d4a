/*
 * faultshim.c - system call fault injection for the test suite, loaded
 * with LD_PRELOAD.
 *
 * Every call that changes durable state is counted in the order the
 * process makes it: write, pwrite, writev, fsync, fdatasync, syncfs,
 * rename, unlink, rmdir, mkdir, symlink, link, the xattr setters and
 * removers, ftruncate, fallocate, fchown, fchmod, futimens, utimensat,
 * open and openat when they create, io_uring submission, the libnfs calls
 * a move makes (the error arrives in the completion, as the server's
 * would), sqlite3_step and sqlite3_exec, and the read, write and sync
 * completions jts-tier checks through jts_fault_errno() (found with
 * dlsym as jts_sweep_hit).  Writes to descriptors 0-2 are not counted.
 *
 *   JTS_SWEEP=eio:N | enospc:N | kill:N
 *	the Nth counted call fails with EIO or ENOSPC (SQLITE_IOERR or
 *	SQLITE_FULL for SQLite, NFS3ERR_IO or NFS3ERR_NOSPC for a raw NFS
 *	reply), or the process is killed with SIGKILL just before it.  One
 *	fault per run; the calls after it proceed.
 *   JTS_SWEEP_TRACE=FILE
 *	append "N name" for every counted call (to learn how many there are
 *	and what each is).
 *   JTS_SWEEP_BT=1
 *	print a backtrace where the fault is injected.
 *
 * Built without config.h: it defines both the plain and the 64-bit names.
 */
#define _GNU_SOURCE
#undef _FILE_OFFSET_BITS

#include <dlfcn.h>
#include <execinfo.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

enum { M_NONE, M_EIO, M_ENOSPC, M_KILL };

static int mode = -1;
static long target;
static long count;
static int trace_fd = -1;
static __thread int in_hit;

static void
init(void)
{
	const char *s = getenv("JTS_SWEEP"), *t = getenv("JTS_SWEEP_TRACE");
	const char *colon;

	mode = M_NONE;
	if (s != NULL && (colon = strchr(s, ':')) != NULL) {
		if (strncmp(s, "eio:", 4) == 0)
			mode = M_EIO;
		else if (strncmp(s, "enospc:", 7) == 0)
			mode = M_ENOSPC;
		else if (strncmp(s, "kill:", 5) == 0)
			mode = M_KILL;
		target = strtol(colon + 1, NULL, 10);
	}
	if (t != NULL && *t != '\0') {
		int (*op)(const char *, int, ...) =
		    (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
		trace_fd = op(t, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0644);
	}
}

static ssize_t real_write(int, const void *, size_t);

static void
say(const char *what, const char *name)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "faultshim: call %ld (%s): %s\n",
	    count, name, what);

	if (n > 0)
		(void)real_write(2, buf, (size_t)n < sizeof(buf) ?
		    (size_t)n : sizeof(buf) - 1);
	/* JTS_SWEEP_BT=1: where the call came from (addr2line -e ...). */
	if (getenv("JTS_SWEEP_BT") != NULL) {
		void *bt[32];

		backtrace_symbols_fd(bt, backtrace(bt, 32), 2);
	}
}

/*
 * hit NAME: count one call; the errno to inject (EIO, ENOSPC) or 0; never
 * returns if this call is the one to be killed at.
 */
static int
hit(const char *name)
{
	long n;

	if (mode < 0)
		init();
	if (in_hit)
		return 0;
	in_hit = 1;
	/* Two batches may move at once, in two threads: one count. */
	n = __atomic_add_fetch(&count, 1, __ATOMIC_SEQ_CST);
	if (trace_fd >= 0) {
		char buf[128];
		int k = snprintf(buf, sizeof(buf), "%ld %s\n", n, name);

		if (k > 0)
			(void)real_write(trace_fd, buf, (size_t)k);
	}
	in_hit = 0;
	if (n != target || mode == M_NONE)
		return 0;
	switch (mode) {
	case M_KILL:
		say("SIGKILL", name);
		raise(SIGKILL);
		return 0;
	case M_EIO:
		say("EIO", name);
		return EIO;
	default:
		say("ENOSPC", name);
		return ENOSPC;
	}
}

/* For jts_fault_errno(): the completions of io_uring reads and writes. */
int	jts_sweep_hit(const char *);

int
jts_sweep_hit(const char *name)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "jts:%s", name);
	return -hit(buf);
}

#define REAL(ret, name, args)						\
	static ret (*real_##name) args;					\
	static void *real_##name##_p(void)				\
	{								\
		if (real_##name == NULL)				\
			*(void **)&real_##name = dlsym(RTLD_NEXT, #name);	\
		return (void *)real_##name;				\
	}

static ssize_t
real_write(int fd, const void *b, size_t n)
{
	static ssize_t (*w)(int, const void *, size_t);

	if (w == NULL)
		*(void **)&w = dlsym(RTLD_NEXT, "write");
	return w(fd, b, n);
}

/* FAIL(name): count the call; inject as a -1 return with errno. */
#define FAIL(name) do {							\
	int e_ = hit(name);						\
	if (e_ != 0) {							\
		errno = e_;						\
		return -1;						\
	}								\
} while (0)

ssize_t
write(int fd, const void *b, size_t n)
{
	if (fd > 2)
		FAIL("write");
	return real_write(fd, b, n);
}

#define WRAP(ret, name, params, args)					\
	REAL(ret, name, params)						\
	ret name params							\
	{								\
		FAIL(#name);						\
		real_##name##_p();					\
		return real_##name args;				\
	}

WRAP(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, pwrite64, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o))
WRAP(ssize_t, writev, (int fd, const struct iovec *v, int c), (fd, v, c))
WRAP(ssize_t, pwritev, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
WRAP(int, fsync, (int fd), (fd))
WRAP(int, fdatasync, (int fd), (fd))
WRAP(int, syncfs, (int fd), (fd))
WRAP(int, rename, (const char *a, const char *b), (a, b))
WRAP(int, renameat, (int fa, const char *a, int fb, const char *b), (fa, a, fb, b))
WRAP(int, renameat2, (int fa, const char *a, int fb, const char *b, unsigned f), (fa, a, fb, b, f))
WRAP(int, unlink, (const char *p), (p))
WRAP(int, unlinkat, (int d, const char *p, int f), (d, p, f))
WRAP(int, rmdir, (const char *p), (p))
WRAP(int, mkdir, (const char *p, mode_t m), (p, m))
WRAP(int, mkdirat, (int d, const char *p, mode_t m), (d, p, m))
WRAP(int, symlink, (const char *a, const char *b), (a, b))
WRAP(int, symlinkat, (const char *a, int d, const char *b), (a, d, b))
WRAP(int, link, (const char *a, const char *b), (a, b))
WRAP(int, linkat, (int fa, const char *a, int fb, const char *b, int f), (fa, a, fb, b, f))
WRAP(int, setxattr, (const char *p, const char *n, const void *v, size_t s, int f), (p, n, v, s, f))
WRAP(int, lsetxattr, (const char *p, const char *n, const void *v, size_t s, int f), (p, n, v, s, f))
WRAP(int, fsetxattr, (int fd, const char *n, const void *v, size_t s, int f), (fd, n, v, s, f))
WRAP(int, removexattr, (const char *p, const char *n), (p, n))
WRAP(int, lremovexattr, (const char *p, const char *n), (p, n))
WRAP(int, fremovexattr, (int fd, const char *n), (fd, n))
WRAP(int, ftruncate, (int fd, off_t l), (fd, l))
WRAP(int, ftruncate64, (int fd, off64_t l), (fd, l))
WRAP(int, fallocate, (int fd, int m, off_t o, off_t l), (fd, m, o, l))
WRAP(int, fallocate64, (int fd, int m, off64_t o, off64_t l), (fd, m, o, l))
WRAP(int, fchown, (int fd, uid_t u, gid_t g), (fd, u, g))
WRAP(int, fchownat, (int d, const char *p, uid_t u, gid_t g, int f), (d, p, u, g, f))
WRAP(int, fchmod, (int fd, mode_t m), (fd, m))
WRAP(int, futimens, (int fd, const struct timespec t[2]), (fd, t))
WRAP(int, utimensat, (int d, const char *p, const struct timespec t[2], int f), (d, p, t, f))

/* liburing returns -errno. */
#define URINGWRAP(name, params, args)					\
	REAL(int, name, params)						\
	int name params							\
	{								\
		int e_ = hit(#name);					\
		if (e_ != 0)						\
			return -e_;					\
		real_##name##_p();					\
		return real_##name args;				\
	}

URINGWRAP(io_uring_submit, (struct io_uring *r), (r))
URINGWRAP(io_uring_submit_and_wait, (struct io_uring *r, unsigned w), (r, w))

/* open and openat count only when they may create. */
static int
creates(int flags)
{
	return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}

#define OPEN_BODY(name, ...)						\
	mode_t m = 0;							\
	if (creates(flags)) {						\
		va_list ap;						\
		va_start(ap, flags);					\
		m = (mode_t)va_arg(ap, int);				\
		va_end(ap);						\
		FAIL(#name);						\
	}								\
	real_##name##_p();						\
	return real_##name(__VA_ARGS__, flags, m)

REAL(int, open, (const char *, int, ...))
REAL(int, open64, (const char *, int, ...))
REAL(int, openat, (int, const char *, int, ...))
REAL(int, openat64, (int, const char *, int, ...))

int open(const char *p, int flags, ...) { OPEN_BODY(open, p); }
int open64(const char *p, int flags, ...) { OPEN_BODY(open64, p); }
int openat(int d, const char *p, int flags, ...) { OPEN_BODY(openat, d, p); }
int openat64(int d, const char *p, int flags, ...) { OPEN_BODY(openat64, d, p); }

/* SQLite: the step fails as if its I/O had. */
REAL(int, sqlite3_step, (sqlite3_stmt *))
REAL(int, sqlite3_exec, (sqlite3 *, const char *,
    int (*)(void *, int, char **, char **), void *, char **))

static int
sqlite_err(int e)
{
	return e == ENOSPC ? SQLITE_FULL : SQLITE_IOERR;
}

/*
 * The steps sqlite3_exec makes are its own: a failure there is the exec's
 * (a step that failed without running would look to exec like success).
 */
static int in_exec;

int
sqlite3_step(sqlite3_stmt *st)
{
	int e = in_exec ? 0 : hit("sqlite3_step");

	if (e != 0)
		return sqlite_err(e);
	real_sqlite3_step_p();
	return real_sqlite3_step(st);
}

int
sqlite3_exec(sqlite3 *db, const char *sql,
    int (*cb)(void *, int, char **, char **), void *arg, char **err)
{
	int e = hit("sqlite3_exec");

	if (e != 0) {
		if (err != NULL)
			*err = sqlite3_mprintf("%s", strerror(e));
		return sqlite_err(e);
	}
	real_sqlite3_exec_p();
	in_exec++;
	e = real_sqlite3_exec(db, sql, cb, arg, err);
	in_exec--;
	return e;
}

/*
 * libnfs: the chosen call is made, and its completion reports the error
 * as a server would; a handle it opened is closed first.
 */
struct nfs_wrap {
	nfs_cb	 cb;
	void	*priv;
	int	 err;
	int	 opens;
};

static void
nfs_noop(int err, struct nfs_context *nfs, void *data, void *priv)
{
	(void)err; (void)nfs; (void)data; (void)priv;
}

REAL(int, nfs_close_async, (struct nfs_context *, struct nfsfh *, nfs_cb,
    void *))

static void
nfs_wrapped(int err, struct nfs_context *nfs, void *data, void *priv)
{
	struct nfs_wrap w = *(struct nfs_wrap *)priv;

	free(priv);
	if (err == 0 && w.opens) {
		real_nfs_close_async_p();
		(void)real_nfs_close_async(nfs, data, nfs_noop, NULL);
	}
	w.cb(-w.err, nfs, (void *)(w.err == ENOSPC ?
	    "injected: no space left on device" : "injected: I/O error"),
	    w.priv);
}

/*
 * NFS_HIT(name, opens): count the call; if it is the one, cb and priv are
 * replaced so that its completion reports the error.
 */
#define NFS_HIT(name, op) do {					\
	int e_ = hit(name);						\
	if (e_ != 0) {							\
		struct nfs_wrap *w_ = malloc(sizeof(*w_));		\
		if (w_ == NULL)						\
			return -1;					\
		w_->cb = cb; w_->priv = priv; w_->err = e_;		\
		w_->opens = op;						\
		cb = nfs_wrapped;					\
		priv = w_;						\
	}								\
} while (0)

#define NFSWRAP(name, opens, params, args)				\
	REAL(int, name, params)						\
	int name params							\
	{								\
		int r_;							\
		NFS_HIT(#name, opens);					\
		real_##name##_p();					\
		r_ = real_##name args;					\
		if (r_ != 0 && cb == nfs_wrapped)			\
			free(priv);					\
		return r_;						\
	}

NFSWRAP(nfs_open_async, 1, (struct nfs_context *n, const char *p, int f,
    nfs_cb cb, void *priv), (n, p, f, cb, priv))
NFSWRAP(nfs_create_async, 1, (struct nfs_context *n, const char *p, int f,
    int m, nfs_cb cb, void *priv), (n, p, f, m, cb, priv))
NFSWRAP(nfs_pread_async, 0, (struct nfs_context *n, struct nfsfh *fh,
    uint64_t o, uint64_t c, nfs_cb cb, void *priv), (n, fh, o, c, cb, priv))
NFSWRAP(nfs_unlink_async, 0, (struct nfs_context *n, const char *p,
    nfs_cb cb, void *priv), (n, p, cb, priv))
NFSWRAP(nfs_rename_async, 0, (struct nfs_context *n, const char *a,
    const char *b, nfs_cb cb, void *priv), (n, a, b, cb, priv))
NFSWRAP(nfs_mkdir2_async, 0, (struct nfs_context *n, const char *p, int m,
    nfs_cb cb, void *priv), (n, p, m, cb, priv))
NFSWRAP(nfs_link_async, 0, (struct nfs_context *n, const char *a,
    const char *b, nfs_cb cb, void *priv), (n, a, b, cb, priv))

int
nfs_close_async(struct nfs_context *n, struct nfsfh *fh, nfs_cb cb,
    void *priv)
{
	int r;

	NFS_HIT("nfs_close_async", 0);
	real_nfs_close_async_p();
	r = real_nfs_close_async(n, fh, cb, priv);
	if (r != 0 && cb == nfs_wrapped)
		free(priv);
	return r;
}

/* Raw NFSv3 calls: the reply's status becomes NFS3ERR_IO or NFS3ERR_NOSPC. */
struct rpc_wrap {
	rpc_cb	 cb;
	void	*priv;
	int	 err;
};

static void
rpc_wrapped(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct rpc_wrap w = *(struct rpc_wrap *)priv;

	free(priv);
	/* Every NFSv3 result begins with its nfsstat3. */
	if (status == RPC_STATUS_SUCCESS && data != NULL)
		*(nfsstat3 *)data = w.err == ENOSPC ? NFS3ERR_NOSPC : NFS3ERR_IO;
	w.cb(rpc, status, data, w.priv);
}

#define RPCWRAP(name, argtype)						\
	REAL(int, name, (struct rpc_context *, rpc_cb, argtype *, void *))	\
	int								\
	name(struct rpc_context *rpc, rpc_cb cb, argtype *a, void *priv)	\
	{								\
		int e_ = hit(#name), r_;				\
		struct rpc_wrap *w_ = NULL;				\
		if (e_ != 0) {						\
			if ((w_ = malloc(sizeof(*w_))) == NULL)		\
				return -1;				\
			w_->cb = cb; w_->priv = priv; w_->err = e_;	\
			cb = rpc_wrapped;				\
			priv = w_;					\
		}							\
		real_##name##_p();					\
		r_ = real_##name(rpc, cb, a, priv);			\
		if (r_ != 0)						\
			free(w_);					\
		return r_;						\
	}

RPCWRAP(rpc_nfs3_write_async, struct WRITE3args)
RPCWRAP(rpc_nfs3_commit_async, struct COMMIT3args)
RPCWRAP(rpc_nfs3_setattr_async, struct SETATTR3args)
