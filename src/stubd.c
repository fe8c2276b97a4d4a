/*
 * stubd.c - jts-tierd's watch over stubs (see stubd.h).
 *
 * One thread reads the events (its own group's and those the holder
 * passes on), joins the callers of one stub into one recall, and answers
 * them; recall_concurrency workers, each with an engine of its own, fill
 * the stubs; nothing here waits on the daemon's main loop, so a reader
 * never waits for a policy run.  Every descriptor of an event is kept
 * until its caller is answered; past MAX_OPEN the thread stops reading
 * events, which then wait in the kernel's queue (unlimited, so none is
 * ever dropped: a dropped permission event would let its caller through).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "stub.h"
#include "stubd.h"
#include "util.h"

#ifndef FAN_CLASS_PRE_CONTENT
#define FAN_CLASS_PRE_CONTENT	0x00000008
#endif
#define STUB_PRE_ACCESS		0x00100000ULL	/* FAN_PRE_ACCESS, 6.14 */
#define MAX_OPEN		8192
#define MAX_WORKERS		64
#define NBUCKET			4096

/* A caller waiting in the kernel: its event's descriptor. */
struct waiter {
	int		 fd;
	bool		 holder;	/* passed on by the holder */
	uint64_t	 tag;		/* the holder's name for it */
	struct waiter	*next;
};

struct job {
	dev_t		 dev;
	ino_t		 ino;
	int		 fd;		/* the stub, read-write, no events */
	char		*rel;
	struct waiter	*w;
	int		 state;		/* 0 queued, 1 filling, 2 done */
	int		 err;
	int64_t		 bytes, queued_ns, ms;
	uid_t		 uid;		/* the stub's owner: its share */
	char		 why[512];
	struct job	*next;		/* all jobs not answered */
	struct job	*qnext;		/* the queue, or the done list */
};

/* The queued recalls of one owner's stubs, and how many run. */
struct owner {
	uid_t		 uid;
	struct job	*head, *tail;
	int		 running;
	struct owner	*next;
};

/* A stub marked: where it is, to mark it again in a new holder. */
struct watched {
	dev_t		 dev;
	ino_t		 ino;
	char		*path;
	struct watched	*next;
};

static struct {
	bool		 on;
	char		 unavailable[256];
	struct engine	*e;
	int		 g;
	int		 wake[2];
	pthread_t	 thr;
	bool		 thr_on;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct job	*jobs, *done;
	struct owner	*owners;	/* the queue: one per stubs' owner */
	uint64_t	 nqueued;
	int		 nopen;
	int		 nworkers;
	pthread_t	 workers[MAX_WORKERS];
	struct engine	 weng[MAX_WORKERS];
	bool		 stopping;
	/* the holder */
	char		 hsock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char		 exe[PATH_MAX];
	int		 hfd;
	unsigned	 hgen;		/* a new holder: one more (its socket
					   may reuse the old one's number) */
	int		 keep;		/* the fd the holder keeps (stubd_keep) */
	bool		 fresh_holder;	/* none was running: we started it */
	pthread_mutex_t	 hmu;		/* one mark request at a time */
	pthread_cond_t	 hcv;
	bool		 hack_wait;
	int		 hack_err;
	/* figures */
	struct watched	*wb[NBUCKET];
	uint64_t	 nwatched, queued, filling, recalled, failed;
	uint64_t	 bytes;
	int64_t		 last_ms;
} S = { .g = -1, .wake = { -1, -1 }, .hfd = -1, .keep = -1 };

/* ---- what both processes share ------------------------------------- */

int
stub_group(void)
{
	int g = fanotify_init(FAN_CLASS_PRE_CONTENT | FAN_CLOEXEC |
	    FAN_NONBLOCK | FAN_UNLIMITED_QUEUE, O_RDWR | O_LARGEFILE |
	    O_CLOEXEC);

	return g < 0 ? -errno : g;
}

int
stub_mark(int g, int fd, bool add)
{
	if (fanotify_mark(g, add ? FAN_MARK_ADD : FAN_MARK_REMOVE,
	    STUB_PRE_ACCESS, fd, NULL) != 0)
		return -errno;
	return 0;
}

int
stub_answer(int g, int fd, int err)
{
	struct fanotify_response r;

	r.fd = fd;
	r.response = err == 0 ? FAN_ALLOW : FAN_DENY | ((unsigned)err << 24);
	if (write(g, &r, sizeof(r)) != (ssize_t)sizeof(r))
		return -errno;
	return 0;
}

int
hmsg_send(int sock, const struct hmsg *m, int fd)
{
	union {
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	} u;
	struct iovec iov = { (void *)m, sizeof(*m) };
	struct msghdr mh;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
		return -errno;
	return 0;
}

int
hmsg_recv(int sock, struct hmsg *m, int *fd)
{
	union {
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	} u;
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*m) || (mh.msg_flags & MSG_CTRUNC)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EBADMSG;
	}
	return 1;
}

/* ---- the set of stubs watched --------------------------------------- */

static unsigned
bucket(dev_t dev, ino_t ino)
{
	return (unsigned)((ino * 2654435761u) ^ dev) % NBUCKET;
}

static void
watched_add(dev_t dev, ino_t ino, const char *path)
{
	struct watched *w, **b = &S.wb[bucket(dev, ino)];

	for (w = *b; w != NULL; w = w->next)
		if (w->dev == dev && w->ino == ino) {
			free(w->path);
			w->path = xstrdup(path);
			return;
		}
	w = xcalloc(1, sizeof(*w));
	w->dev = dev;
	w->ino = ino;
	w->path = xstrdup(path);
	w->next = *b;
	*b = w;
	S.nwatched++;
}

static void
watched_del(dev_t dev, ino_t ino)
{
	struct watched *w, **p = &S.wb[bucket(dev, ino)];

	for (; (w = *p) != NULL; p = &w->next)
		if (w->dev == dev && w->ino == ino) {
			*p = w->next;
			free(w->path);
			free(w);
			S.nwatched--;
			return;
		}
}

/* ---- the holder's side, seen from the daemon -------------------------- */

static int
holder_connect(void)
{
	struct sockaddr_un sa;
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", S.hsock);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int r = -errno;

		close(s);
		return r;
	}
	/* Only a holder running as we do is trusted with stubs. */
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 ||
	    cr.uid != geteuid()) {
		close(s);
		return -EPERM;
	}
	return s;
}

/* Start a holder, detached, and connect to it. */
static int
holder_spawn(void)
{
	char to[32];
	pid_t pid;
	int s, i;

	if ((s = holder_connect()) >= 0)
		return s;
	snprintf(to, sizeof(to), "%" PRId64, S.e->conf->stub_timeout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* A grandchild, in a session of its own: not our child. */
		if (fork() != 0)
			_exit(0);
		(void)setsid();
		for (i = 3; i < 1024; i++)
			(void)close(i);
		execl(S.exe, "jts-tierd", "--stub-holder", S.hsock, to,
		    (char *)NULL);
		_exit(127);
	}
	(void)waitpid(pid, NULL, 0);
	for (i = 0; i < 200; i++) {
		if ((s = holder_connect()) >= 0)
			return s;
		usleep(10000);
	}
	return s;
}

/* Ask the holder to mark fd; 0 once the mark is there, or -errno. */
static int
holder_mark(int fd)
{
	struct hmsg m = { HM_MARK, 0, 0 };
	struct timespec ts;
	int r;

	pthread_mutex_lock(&S.hmu);
	while (S.hack_wait)
		pthread_cond_wait(&S.hcv, &S.hmu);
	if (S.hfd < 0) {
		pthread_mutex_unlock(&S.hmu);
		return -ENOTCONN;
	}
	S.hack_wait = true;
	S.hack_err = -ETIMEDOUT;
	if ((r = hmsg_send(S.hfd, &m, fd)) != 0) {
		S.hack_wait = false;
		pthread_cond_broadcast(&S.hcv);
		pthread_mutex_unlock(&S.hmu);
		return r;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	while (S.hack_wait)
		if (pthread_cond_timedwait(&S.hcv, &S.hmu, &ts) == ETIMEDOUT)
			break;
	r = S.hack_wait ? -ETIMEDOUT : S.hack_err;
	S.hack_wait = false;
	pthread_cond_broadcast(&S.hcv);
	pthread_mutex_unlock(&S.hmu);
	return r;
}

static void
holder_ack(int err)
{
	pthread_mutex_lock(&S.hmu);
	if (S.hack_wait) {
		S.hack_err = -err;
		S.hack_wait = false;
		pthread_cond_broadcast(&S.hcv);
	}
	pthread_mutex_unlock(&S.hmu);
}

/* Mark fd (a stub, at path) in both groups. */
static int
watch_fd(int fd, const char *path, char *why, size_t len)
{
	struct stat st;
	int r;

	if (fstat(fd, &st) != 0) {
		snprintf(why, len, "fstat: %s", strerror(errno));
		return -errno;
	}
	if ((r = stub_mark(S.g, fd, true)) != 0) {
		snprintf(why, len, "fanotify mark: %s", strerror(-r));
		return r;
	}
	if ((r = holder_mark(fd)) != 0) {
		(void)stub_mark(S.g, fd, false);
		snprintf(why, len, "the stub holder (%s) did not mark it: %s",
		    S.hsock, strerror(-r));
		return r;
	}
	pthread_mutex_lock(&S.mu);
	watched_add(st.st_dev, st.st_ino, path);
	pthread_mutex_unlock(&S.mu);
	return 0;
}

/* The hook the release calls (stub.h): fd, to be name in dirfd. */
static int
watch_hook(int fd, int dirfd, const char *name, char *why, size_t len)
{
	char p[64], path[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", dirfd);
	if ((n = readlink(p, path, sizeof(path) - 1)) < 0)
		n = 0;
	path[n] = '\0';
	snprintf(path + n, sizeof(path) - (size_t)n, "/%s", name);
	return watch_fd(fd, path, why, len);
}

/* Hand the holder the fd it keeps (stubd_keep), if any. */
static void
holder_keep(void)
{
	struct hmsg m = { HM_KEEP, 0, 0 };
	int r;

	pthread_mutex_lock(&S.hmu);
	if (S.hfd >= 0 && S.keep >= 0 &&
	    (r = hmsg_send(S.hfd, &m, S.keep)) != 0)
		jts_warn("stubs: the stub holder cannot keep the tracking "
		    "group: %s; a stop while stub callers wait lasts until "
		    "they are answered", strerror(-r));
	pthread_mutex_unlock(&S.hmu);
}

void
stubd_keep(int fd)
{
	if (!S.on || fd < 0)
		return;
	S.keep = fd;
	holder_keep();
}

/* The holder is gone: start another, mark every stub in it again. */
static void
holder_renew(void)
{
	int s;

	if ((s = holder_spawn()) < 0) {
		jts_err("stubs: cannot start the stub holder at %s: %s; "
		    "readers of stubs depend on jts-tierd alone", S.hsock,
		    strerror(-s));
		return;
	}
	pthread_mutex_lock(&S.hmu);
	S.hfd = s;
	S.hgen++;
	pthread_mutex_unlock(&S.hmu);
	holder_keep();
	jts_notice("stubs: a new stub holder marks the stubs again");
}

/* ---- answering ------------------------------------------------------- */

static void
answer(struct waiter *w, int err, bool filled)
{
	struct hmsg m = { HM_VERDICT, err, w->tag };

	if (w->holder) {
		/* err of a verdict: 0 let through, -1 let through and unmark */
		if (err == 0 && filled)
			m.err = -1;
		if (S.hfd >= 0)
			(void)hmsg_send(S.hfd, &m, -1);
	} else {
		(void)stub_answer(S.g, w->fd, err);
		if (err == 0 && filled)
			(void)stub_mark(S.g, w->fd, false);
	}
	close(w->fd);
	S.nopen--;
}

/* Find the tier root path lies under: the relative path, or NULL. */
static const char *
rel_of(const char *path, int *tier)
{
	struct conf *c = S.e->conf;
	size_t n;
	int i;

	for (i = 0; i < c->ntiers; i++) {
		if (c->tiers[i].root == NULL)
			continue;
		n = strlen(c->tiers[i].root);
		while (n > 1 && c->tiers[i].root[n - 1] == '/')
			n--;
		if (strncmp(path, c->tiers[i].root, n) == 0 &&
		    path[n] == '/' && path[n + 1] != '\0') {
			*tier = i;
			return path + n + 1;
		}
	}
	return NULL;
}

/* An event: fd, from our group or the holder's (tag). */
static void
on_event(int fd, bool holder, uint64_t tag)
{
	struct waiter *w = xcalloc(1, sizeof(*w));
	char p[64], path[PATH_MAX];
	const char *rel;
	struct stat st;
	struct job *j;
	ssize_t n;
	int r, t;

	w->fd = fd;
	w->holder = holder;
	w->tag = tag;
	S.nopen++;
	r = stub_read_fd(fd, NULL);
	if (r == 0) {
		answer(w, 0, true);	/* filled meanwhile, or never one */
		free(w);
		return;
	}
	if (r < 0 || fstat(fd, &st) != 0) {
		jts_err("stubs: a stub's mark cannot be read: %s; its reader "
		    "gets EIO", strerror(r < 0 ? -r : errno));
		answer(w, EIO, false);
		free(w);
		return;
	}
	pthread_mutex_lock(&S.mu);
	for (j = S.jobs; j != NULL; j = j->next)
		if (j->dev == st.st_dev && j->ino == st.st_ino)
			break;
	if (j != NULL) {
		w->next = j->w;
		j->w = w;
		pthread_mutex_unlock(&S.mu);
		return;
	}
	/*
	 * Which stub it is: the inode marked, whatever name the caller
	 * used (a bind mount, another hard link, a rename since): the path
	 * the stub was marked at, else the one the kernel gives.
	 */
	n = 0;
	{
		struct watched *ww;

		for (ww = S.wb[bucket(st.st_dev, st.st_ino)]; ww != NULL;
		    ww = ww->next)
			if (ww->dev == st.st_dev && ww->ino == st.st_ino) {
				n = (ssize_t)snprintf(path, sizeof(path), "%s",
				    ww->path);
				break;
			}
	}
	pthread_mutex_unlock(&S.mu);
	if (n <= 0 || (size_t)n >= sizeof(path)) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n = readlink(p, path, sizeof(path) - 1);
		path[n > 0 ? n : 0] = '\0';
	}
	if (n <= 0 || (rel = rel_of(path, &t)) == NULL) {
		jts_err("stubs: %s is a stub outside every tier; its reader "
		    "gets EIO", jts_quote(path));
		answer(w, EIO, false);
		free(w);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->dev = st.st_dev;
	j->ino = st.st_ino;
	j->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	j->rel = xstrdup(rel);
	j->w = w;
	j->uid = st.st_uid;
	j->queued_ns = jts_mono_ns();
	if (j->fd < 0) {
		jts_err("stubs: %s: %s; its reader gets EIO", jts_quote(rel),
		    strerror(errno));
		answer(w, EIO, false);
		free(j->rel);
		free(j);
		free(w);
		return;
	}
	pthread_mutex_lock(&S.mu);
	j->next = S.jobs;
	S.jobs = j;
	{
		struct owner *o;

		for (o = S.owners; o != NULL && o->uid != j->uid; o = o->next)
			;
		if (o == NULL) {
			o = xcalloc(1, sizeof(*o));
			o->uid = j->uid;
			o->next = S.owners;
			S.owners = o;
		}
		if (o->tail != NULL)
			o->tail->qnext = j;
		else
			o->head = j;
		o->tail = j;
		S.nqueued++;
	}
	S.queued++;
	pthread_cond_signal(&S.cv);
	pthread_mutex_unlock(&S.mu);
}

/* Answer the callers of every job the workers finished. */
static void
on_done(void)
{
	struct job *d, *j, **p;
	struct waiter *w;
	char c[64];

	while (read(S.wake[0], c, sizeof(c)) > 0)
		;
	pthread_mutex_lock(&S.mu);
	d = S.done;
	S.done = NULL;
	for (j = d; j != NULL; j = j->qnext)
		for (p = &S.jobs; *p != NULL; p = &(*p)->next)
			if (*p == j) {
				*p = j->next;
				break;
			}
	pthread_mutex_unlock(&S.mu);
	while ((j = d) != NULL) {
		d = j->qnext;
		if (j->err == 0) {
			(void)stub_mark(S.g, j->fd, false);
			pthread_mutex_lock(&S.mu);
			watched_del(j->dev, j->ino);
			pthread_mutex_unlock(&S.mu);
		}
		while ((w = j->w) != NULL) {
			j->w = w->next;
			answer(w, j->err == 0 ? 0 : j->err == -ENOSPC ?
			    ENOSPC : EIO, j->err == 0);
			free(w);
		}
		close(j->fd);
		free(j->rel);
		free(j);
	}
}

static void
read_group(void)
{
	char buf[8192] __attribute__((aligned(8)));
	struct fanotify_event_metadata *m;
	ssize_t n;

	while (S.nopen < MAX_OPEN &&
	    (n = read(S.g, buf, sizeof(buf))) > 0) {
		for (m = (void *)buf; FAN_EVENT_OK(m, n);
		    m = FAN_EVENT_NEXT(m, n)) {
			if (m->fd < 0)
				continue;
			if (m->mask & STUB_PRE_ACCESS)
				on_event(m->fd, false, 0);
			else {
				(void)stub_answer(S.g, m->fd, 0);
				close(m->fd);
			}
		}
	}
}

static void
read_holder(void)
{
	struct hmsg m;
	int fd, r;

	for (;;) {
		r = hmsg_recv(S.hfd, &m, &fd);
		if (r == -EAGAIN)
			return;
		if (r <= 0) {
			if (fd >= 0)
				close(fd);
			jts_warn("stubs: the stub holder went away%s%s",
			    r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
			holder_ack(EPIPE);
			pthread_mutex_lock(&S.hmu);
			close(S.hfd);
			S.hfd = -1;
			pthread_mutex_unlock(&S.hmu);
			if (!S.stopping)
				holder_renew();
			return;
		}
		if (m.type == HM_ACK)
			holder_ack(m.err);
		else if (m.type == HM_EVENT && fd >= 0)
			on_event(fd, true, m.tag);
		else if (fd >= 0)
			close(fd);
	}
}

/* Mark again, in the holder, every stub watched (a new holder). */
static void *
remark_thread(void *arg)
{
	struct watched *w;
	struct stat st;
	char **paths = NULL;
	size_t n = 0, i;
	int fd;

	(void)arg;
	pthread_mutex_lock(&S.mu);
	for (i = 0; i < NBUCKET; i++)
		for (w = S.wb[i]; w != NULL; w = w->next) {
			paths = xrealloc(paths, (n + 1) * sizeof(*paths));
			paths[n++] = xstrdup(w->path);
		}
	pthread_mutex_unlock(&S.mu);
	for (i = 0; i < n; i++) {
		fd = open(paths[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 &&
		    stub_read_fd(fd, NULL) == 1 && holder_mark(fd) != 0)
			jts_warn("stubs: %s: %s", jts_quote(paths[i]),
			    "the new stub holder did not mark it");
		if (fd >= 0)
			close(fd);
		free(paths[i]);
	}
	free(paths);
	return NULL;
}

static void *
event_thread(void *arg)
{
	struct pollfd p[3];
	unsigned hgen_seen = S.hgen;
	int64_t alive_sent = 0;
	pthread_t rt;

	(void)arg;
	while (!S.stopping) {
		p[0].fd = S.nopen < MAX_OPEN ? S.g : -1;
		p[0].events = POLLIN;
		p[1].fd = S.wake[0];
		p[1].events = POLLIN;
		p[2].fd = S.hfd;
		p[2].events = POLLIN;
		if (poll(p, 3, 1000) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN)
			on_done();
		if (p[0].fd >= 0 && (p[0].revents & POLLIN))
			read_group();
		if (p[2].fd >= 0 && (p[2].revents & (POLLIN | POLLHUP |
		    POLLERR)))
			read_holder();
		/* Each second, the holder hears that the daemon works. */
		if (S.hfd >= 0 && jts_mono_ns() - alive_sent >= 1000000000LL) {
			struct hmsg a = { HM_ALIVE, 0, 0 };

			pthread_mutex_lock(&S.hmu);
			if (S.hfd >= 0)
				(void)hmsg_send(S.hfd, &a, -1);
			pthread_mutex_unlock(&S.hmu);
			alive_sent = jts_mono_ns();
		}
		if (S.hfd >= 0 && S.hgen != hgen_seen) {
			/* A new holder: mark the stubs again, beside us. */
			hgen_seen = S.hgen;
			if (pthread_create(&rt, NULL, remark_thread, NULL) == 0)
				pthread_detach(rt);
		}
	}
	return NULL;
}

/* ---- the workers ------------------------------------------------------ */

/*
 * The next recall, fairly shared among the stubs' owners (S.mu held, the
 * queue not empty): the oldest queued of the owner with the fewest
 * recalls running, so one user reading thousands of stubs holds another
 * user's one read back by the recalls already running, not by the whole
 * queue.  *who: the owner, whose count of recalls running it raised.
 */
static struct job *
fair_take(struct owner **who)
{
	struct owner *o, *best = NULL;
	struct job *j;

	for (o = S.owners; o != NULL; o = o->next)
		if (o->head != NULL && (best == NULL ||
		    o->running < best->running ||
		    (o->running == best->running &&
		    o->head->queued_ns < best->head->queued_ns)))
			best = o;
	j = best->head;
	best->head = j->qnext;
	if (best->head == NULL)
		best->tail = NULL;
	best->running++;
	S.nqueued--;
	*who = best;
	return j;
}

/* A recall of o's ended (S.mu held): an owner with nothing left goes. */
static void
fair_done(struct owner *o)
{
	struct owner **pp;

	if (--o->running > 0 || o->head != NULL)
		return;
	for (pp = &S.owners; *pp != NULL; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			free(o);
			return;
		}
}

static void *
worker(void *arg)
{
	struct engine *e = arg;
	struct owner *own;
	struct job *j;
	int64_t t0;
	char c = 1;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* A reader waits: its recall is never held back by io_priority. */
	(void)jts_ioprio_set(JTS_IOPRIO_NORMAL);
	for (;;) {
		pthread_mutex_lock(&S.mu);
		while (S.nqueued == 0 && !S.stopping)
			pthread_cond_wait(&S.cv, &S.mu);
		if (S.stopping) {
			pthread_mutex_unlock(&S.mu);
			return NULL;
		}
		j = fair_take(&own);
		j->qnext = NULL;
		j->state = 1;
		S.queued--;
		S.filling++;
		pthread_mutex_unlock(&S.mu);
		t0 = jts_mono_ns();
		j->err = stub_fill(e, j->fd, j->rel, &j->bytes, j->why,
		    sizeof(j->why));
		j->ms = (jts_mono_ns() - t0) / 1000000;
		if (j->err != 0)
			jts_err("stubs: %s: recall failed: %s; its readers "
			    "get %s, the stub stays", jts_quote(j->rel),
			    j->why, j->err == -ENOSPC ? "ENOSPC" : "EIO");
		else if (j->bytes > 0)
			jts_info("stubs: %s: recalled, %" PRId64 " bytes in %"
			    PRId64 " ms", jts_quote(j->rel), j->bytes, j->ms);
		pthread_mutex_lock(&S.mu);
		fair_done(own);
		j->state = 2;
		S.filling--;
		if (j->err == 0)
			S.recalled++, S.bytes += (uint64_t)j->bytes;
		else
			S.failed++;
		S.last_ms = j->ms;
		j->qnext = S.done;
		S.done = j;
		pthread_mutex_unlock(&S.mu);
		(void)write(S.wake[1], &c, 1);
	}
}

/* ---- the daemon's interface ------------------------------------------ */

const char *
stubd_unavailable(void)
{
	return S.on ? NULL : S.unavailable[0] ? S.unavailable :
	    "the stub watch is not running";
}

/* Can a stub on local tier t be marked?  0, or -errno. */
static int
probe_tier(struct tier *t, char *why, size_t len)
{
	char name[64];
	int fd, r;

	snprintf(name, sizeof(name), ".jts-tier-probe.%d.stub", getpid());
	fd = openat(t->rootfd, name, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0) {
		/* An O_PATH root: open it beside, by its path. */
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/%s", t->tc->root, name);
		fd = open(p, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		r = -errno;
		snprintf(why, len, "tier %s: cannot create a file to try a "
		    "mark on: %s", t->tc->name, strerror(-r));
		return r;
	}
	r = stub_mark(S.g, fd, true);
	if (r == 0)
		(void)stub_mark(S.g, fd, false);
	else
		snprintf(why, len, "tier %s (%s): its file system refuses "
		    "fanotify pre-content marks: %s", t->tc->name,
		    t->tc->root, strerror(-r));
	close(fd);
	(void)unlinkat(t->rootfd, name, 0);
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/%s", t->tc->root, name);
		(void)unlink(p);
	}
	return r;
}

int
stubd_start(struct engine *e, char *why, size_t len)
{
	char err[512];
	const char *slash;
	ssize_t n;
	int i, r;

	S.e = e;
	pthread_mutex_init(&S.mu, NULL);
	pthread_cond_init(&S.cv, NULL);
	pthread_mutex_init(&S.hmu, NULL);
	pthread_cond_init(&S.hcv, NULL);
	if ((S.g = stub_group()) < 0) {
		snprintf(why, len, "this kernel has no fanotify pre-content "
		    "events (Linux 6.14 or later): %s", strerror(-S.g));
		goto off;
	}
	for (i = 0; i < e->ntiers; i++)
		if (tier_has(&e->tiers[i], TIER_CAP_LOCAL) &&
		    e->tiers[i].rootfd >= 0 &&
		    probe_tier(&e->tiers[i], why, len) != 0)
			goto off;
	if ((n = readlink("/proc/self/exe", S.exe, sizeof(S.exe) - 1)) <= 0) {
		snprintf(why, len, "cannot find its own program: %s",
		    strerror(errno));
		goto off;
	}
	S.exe[n] = '\0';
	slash = strrchr(e->conf->socket, '/');
	snprintf(S.hsock, sizeof(S.hsock), "%.*s/stub-holder.sock",
	    slash != NULL ? (int)(slash - e->conf->socket) : 1,
	    slash != NULL ? e->conf->socket : ".");
	jts_mkdir_parents(S.hsock, 0755);
	if ((S.hfd = holder_connect()) < 0) {
		S.fresh_holder = true;
		S.hfd = holder_spawn();
	}
	if (S.hfd < 0) {
		snprintf(why, len, "cannot start the stub holder at %s: %s",
		    S.hsock, strerror(-S.hfd));
		goto off;
	}
	if (pipe2(S.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		goto off;
	}
	S.nworkers = e->conf->recall_concurrency;
	if (S.nworkers < 1 || S.nworkers > MAX_WORKERS)
		S.nworkers = 2;
	for (i = 0; i < S.nworkers; i++) {
		if ((r = engine_open_filler(&S.weng[i], e, err,
		    sizeof(err))) != 0) {
			snprintf(why, len, "recall worker: %s", err);
			S.nworkers = i;
			goto off;
		}
		if (pthread_create(&S.workers[i], NULL, worker,
		    &S.weng[i]) != 0) {
			engine_close_worker(&S.weng[i]);
			S.nworkers = i;
			snprintf(why, len, "cannot start a recall worker");
			goto off;
		}
	}
	if (pthread_create(&S.thr, NULL, event_thread, NULL) != 0) {
		snprintf(why, len, "cannot start the stub event thread");
		goto off;
	}
	S.thr_on = true;
	S.on = true;
	stub_watch_hook = watch_hook;
	return 0;
off:
	snprintf(S.unavailable, sizeof(S.unavailable), "%s", why);
	stubd_stop();
	return -1;
}

/* The files other processes hold open now: (dev, ino) pairs. */
struct openset {
	size_t		 n, cap;
	struct { dev_t dev; ino_t ino; } *v;
};

static void
open_files(struct openset *os)
{
	struct dirent *p, *f;
	struct stat st;
	char path[300];
	DIR *pd, *fd;
	pid_t me = getpid();

	if ((pd = opendir("/proc")) == NULL)
		return;
	while ((p = readdir(pd)) != NULL) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9' ||
		    atoi(p->d_name) == me)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		if ((fd = opendir(path)) == NULL)
			continue;
		while ((f = readdir(fd)) != NULL) {
			if (f->d_name[0] == '.' || fstatat(dirfd(fd),
			    f->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (os->n == os->cap) {
				os->cap = os->cap ? os->cap * 2 : 256;
				os->v = xrealloc(os->v, os->cap *
				    sizeof(*os->v));
			}
			os->v[os->n].dev = st.st_dev;
			os->v[os->n++].ino = st.st_ino;
		}
		closedir(fd);
	}
	closedir(pd);
}

static bool
open_has(const struct openset *os, const struct stat *st)
{
	size_t i;

	for (i = 0; i < os->n; i++)
		if (os->v[i].dev == st->st_dev && os->v[i].ino == st->st_ino)
			return true;
	return false;
}

/*
 * A stub another process opened while nothing watched it (before this
 * start, with no holder either: a boot, or both processes gone): the
 * kernel never raises events for that descriptor, so it is filled now,
 * before it is marked, rather than at its read.
 */
static bool
fill_open_stub(struct engine *e, int dfd, const char *rel)
{
	char why[512];
	int64_t bytes;
	int fd, r;

	fd = openat(dfd, rel_base(rel), O_RDWR | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0)
		return false;
	r = stub_fill(e, fd, rel, &bytes, why, sizeof(why));
	close(fd);
	if (r != 0) {
		jts_err("stubs: %s was opened while no watch was there, and "
		    "cannot be recalled now: %s; that reader may see holes",
		    jts_quote(rel), why);
		return false;
	}
	jts_notice("stubs: %s was opened while no watch was there: "
	    "recalled at start (%" PRId64 " bytes)", jts_quote(rel), bytes);
	return true;
}

int
stubd_watch_all(struct engine *e)
{
	struct openset os = { 0, 0, NULL };
	sqlite3_stmt *st;
	struct stat sb;
	char why[512], *rel;
	int count = 0, n, t, dfd, fd;

	if (!S.on)
		return 0;
	if (S.fresh_holder) {
		open_files(&os);
		if (os.v == NULL)
			os.v = xcalloc(1, sizeof(*os.v));
	}
	if (sqlite3_prepare_v2(e->cat.db, "SELECT path, home FROM files "
	    "WHERE tier != home", -1, &st, NULL) != SQLITE_OK) {
		free(os.v);
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		n = sqlite3_column_bytes(st, 0);
		rel = xmalloc((size_t)n + 1);
		if (n > 0)
			memcpy(rel, sqlite3_column_blob(st, 0), (size_t)n);
		rel[n] = '\0';
		t = conf_tier_index(e->conf,
		    (const char *)sqlite3_column_text(st, 1));
		dfd = t < 0 ? -1 : engine_dir(e, t, rel, false, -1);
		if (dfd >= 0 && stub_read_at(dfd, rel_base(rel), NULL, &sb) ==
		    1 && !(os.v != NULL && open_has(&os, &sb) &&
		    fill_open_stub(e, dfd, rel))) {
			fd = tier_openat(&e->tiers[t], dfd, rel_base(rel),
			    O_RDONLY | O_NONBLOCK, 0);
			if (fd < 0 || watch_hook(fd, dfd, rel_base(rel), why,
			    sizeof(why)) != 0)
				jts_err("stubs: %s: cannot watch the stub: %s; "
				    "its readers may see its holes",
				    jts_quote(rel), fd < 0 ? strerror(-fd) :
				    why);
			else
				count++;
			if (fd >= 0)
				close(fd);
		}
		free(rel);
	}
	sqlite3_finalize(st);
	free(os.v);
	return count;
}

bool
stubd_busy(const char *rel)
{
	struct job *j;
	bool busy = false;

	if (!S.on)
		return false;
	pthread_mutex_lock(&S.mu);
	for (j = S.jobs; j != NULL && !busy; j = j->next)
		busy = strcmp(j->rel, rel) == 0;
	pthread_mutex_unlock(&S.mu);
	return busy;
}

void
stubd_status(json_object *o)
{
	json_object *s = json_object_new_object();

	pthread_mutex_lock(&S.mu);
	json_object_object_add(s, "on", json_object_new_boolean(S.on));
	if (!S.on)
		json_object_object_add(s, "why", json_object_new_string(
		    stubd_unavailable()));
	json_object_object_add(s, "watched",
	    json_object_new_int64((int64_t)S.nwatched));
	json_object_object_add(s, "queued",
	    json_object_new_int64((int64_t)S.queued));
	json_object_object_add(s, "recalling",
	    json_object_new_int64((int64_t)S.filling));
	json_object_object_add(s, "concurrency",
	    json_object_new_int(S.nworkers));
	json_object_object_add(s, "recalled",
	    json_object_new_int64((int64_t)S.recalled));
	json_object_object_add(s, "failed",
	    json_object_new_int64((int64_t)S.failed));
	json_object_object_add(s, "bytes_recalled",
	    json_object_new_int64((int64_t)S.bytes));
	json_object_object_add(s, "holder", json_object_new_boolean(
	    S.hfd >= 0));
	{
		/* The recalls waited for: each stub, its owner, its state. */
		json_object *a = json_object_new_array(), *r;
		struct job *j;
		struct waiter *w;
		int k, n = 0;
		int64_t now = jts_mono_ns();

		for (j = S.jobs; j != NULL && n < 1000; j = j->next, n++) {
			if (j->state == 2)
				continue;
			for (k = 0, w = j->w; w != NULL; w = w->next)
				k++;
			r = json_object_new_object();
			jts_json_add_path(r, "path", j->rel);
			json_object_object_add(r, "owner",
			    json_object_new_int64((int64_t)j->uid));
			json_object_object_add(r, "state", json_object_new_string(
			    j->state == 0 ? "queued" : "recalling"));
			json_object_object_add(r, "readers",
			    json_object_new_int(k));
			json_object_object_add(r, "waiting_ms",
			    json_object_new_int64((now - j->queued_ns) /
			    1000000));
			json_object_array_add(a, r);
		}
		json_object_object_add(s, "recalls", a);
	}
	pthread_mutex_unlock(&S.mu);
	json_object_object_add(o, "stubs", s);
}

void
stubd_stop(void)
{
	int i;

	stub_watch_hook = NULL;
	pthread_mutex_lock(&S.mu);
	S.stopping = true;
	pthread_cond_broadcast(&S.cv);
	pthread_mutex_unlock(&S.mu);
	for (i = 0; i < S.nworkers; i++) {
		pthread_join(S.workers[i], NULL);
		engine_close_worker(&S.weng[i]);
	}
	S.nworkers = 0;
	if (S.thr_on) {
		pthread_join(S.thr, NULL);
		S.thr_on = false;
	}
	while (S.owners != NULL) {
		struct owner *o = S.owners;

		S.owners = o->next;
		free(o);
	}
	S.nqueued = 0;
	/*
	 * Callers still waiting on our group are let through by the kernel
	 * when it closes; each waits on the holder's group too, which keeps
	 * them until a daemon comes back (or answers EIO).
	 */
	if (S.g >= 0)
		close(S.g);
	S.g = -1;
	if (S.hfd >= 0)
		close(S.hfd);
	S.hfd = -1;
	S.keep = -1;
	S.on = false;
}
