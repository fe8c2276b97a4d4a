/*
 * stub-holder.c - the stub holder (jts-tierd --stub-holder SOCKET SECONDS):
 * a second fanotify pre-content group on every stub, in a process that
 * does nothing else, so a caller of a stub is never let through to its
 * holes when the daemon stops, crashes or is killed.
 *
 * The daemon connects to SOCKET and sends each stub (HM_MARK) before the
 * stub takes its name; the holder marks it and acknowledges.  A caller of
 * a stub raises an event in both groups; the holder passes its event on
 * to the daemon (HM_EVENT) and answers as the daemon says (HM_VERDICT).
 * With no daemon connected it keeps the caller waiting, passes the event
 * to the next daemon that connects, and after SECONDS answers EIO.  It
 * exits when SOCKET is removed or replaced (answering EIO first).
 *
 * It also keeps the daemon's tracking group open (HM_KEEP) and closes it
 * only once that daemon is gone, in a thread of its own: the close of a
 * group waits until every stub caller is answered, which must not hold
 * up a daemon's exit, nor this loop that answers them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "stub.h"
#include "stubd.h"
#include "util.h"

#define PRE_ACCESS	0x00100000ULL

struct pend {
	int		 fd;
	uint64_t	 tag;
	bool		 sent;
	int64_t		 deadline;
	struct pend	*next;
};

static struct pend *P;
static uint64_t next_tag = 1;
static int64_t heard;		/* when the daemon last spoke */

#define NKEEP	8
static int keep[NKEEP];		/* fds the connected daemon handed over */
static int nkeep;

static void *
close_thread(void *arg)
{
	close((int)(intptr_t)arg);
	return NULL;
}

/* Close fd in a thread of its own: this loop must never wait on it. */
static void
close_later(int fd)
{
	pthread_t t;

	if (pthread_create(&t, NULL, close_thread, (void *)(intptr_t)fd) == 0)
		pthread_detach(t);
	else
		close(fd);
}

/* The daemon is gone: let go of what it handed over, without waiting. */
static void
keep_release(void)
{
	while (nkeep > 0)
		close_later(keep[--nkeep]);
}

static void
send_event(int d, struct pend *p)
{
	struct hmsg m = { HM_EVENT, 0, p->tag };

	if (d >= 0 && hmsg_send(d, &m, p->fd) == 0)
		p->sent = true;
}

static void
settle(int g, struct pend *p, int err)
{
	(void)stub_answer(g, p->fd, err > 0 ? err : 0);
	if (err < 0)
		(void)stub_mark(g, p->fd, false);
	close(p->fd);
}

static void
on_group(int g, int d, int64_t timeout_ns)
{
	char buf[8192] __attribute__((aligned(8)));
	struct fanotify_event_metadata *m;
	struct pend *p;
	ssize_t n;

	while ((n = read(g, buf, sizeof(buf))) > 0)
		for (m = (void *)buf; FAN_EVENT_OK(m, n);
		    m = FAN_EVENT_NEXT(m, n)) {
			if (m->fd < 0)
				continue;
			if (!(m->mask & PRE_ACCESS) ||
			    stub_read_fd(m->fd, NULL) == 0) {
				/* Not (or no longer) a stub: through. */
				(void)stub_answer(g, m->fd, 0);
				if (m->mask & PRE_ACCESS)
					(void)stub_mark(g, m->fd, false);
				close(m->fd);
				continue;
			}
			p = xcalloc(1, sizeof(*p));
			p->fd = m->fd;
			p->tag = next_tag++;
			p->deadline = jts_mono_ns() + timeout_ns;
			p->next = P;
			P = p;
			send_event(d, p);
		}
}

/* A message of the daemon; -1 when it went away. */
static int
on_daemon(int g, int d)
{
	struct pend *p, **pp;
	struct hmsg m, a;
	int fd, r;

	for (;;) {
		r = hmsg_recv(d, &m, &fd);
		if (r == -EAGAIN)
			return 0;
		if (r <= 0) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (m.type == HM_MARK && fd >= 0) {
			a.type = HM_ACK;
			a.err = -stub_mark(g, fd, true);
			a.tag = m.tag;
			close(fd);
			if (hmsg_send(d, &a, -1) != 0)
				return -1;
			continue;
		}
		if (m.type == HM_KEEP && fd >= 0) {
			if (nkeep < NKEEP)
				keep[nkeep++] = fd;
			else
				close_later(fd);
			continue;
		}
		if (fd >= 0)
			close(fd);
		heard = jts_mono_ns();
		if (m.type != HM_VERDICT)
			continue;
		for (pp = &P; (p = *pp) != NULL; pp = &p->next)
			if (p->tag == m.tag) {
				*pp = p->next;
				settle(g, p, m.err);
				free(p);
				break;
			}
	}
}

static bool
same_socket(const char *sock, const struct stat *was)
{
	struct stat st;

	return stat(sock, &st) == 0 && st.st_dev == was->st_dev &&
	    st.st_ino == was->st_ino;
}

int
stub_holder_main(const char *sock, int timeout_s)
{
	struct sockaddr_un sa;
	struct pollfd pf[3];
	struct stat me;
	struct pend *p, **pp;
	int g, l, d = -1, nd;
	int64_t timeout_ns = (int64_t)timeout_s * 1000000000LL, now;
	struct ucred cr;
	socklen_t cl;
	mode_t um;

	signal(SIGPIPE, SIG_IGN);
	/* Stopped only by its socket going: a stop of the daemon's group
	 * of processes must not take it along. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if ((g = stub_group()) < 0) {
		jts_err("stub holder: fanotify: %s", strerror(-g));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		jts_err("stub holder: socket path too long: %s", sock);
		return 2;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l < 0)
		return 1;
	um = umask(077);
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
	    (errno != EADDRINUSE || unlink(sock) != 0 ||
	    bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0)) {
		jts_err("stub holder: bind %s: %s", sock, strerror(errno));
		return 1;
	}
	umask(um);
	if (listen(l, 4) != 0 || stat(sock, &me) != 0)
		return 1;
	for (;;) {
		pf[0].fd = g;
		pf[0].events = POLLIN;
		pf[1].fd = l;
		pf[1].events = POLLIN;
		pf[2].fd = d;
		pf[2].events = POLLIN;
		(void)poll(pf, 3, 500);
		if (pf[1].revents & POLLIN) {
			nd = accept4(l, NULL, NULL, SOCK_CLOEXEC |
			    SOCK_NONBLOCK);
			cl = sizeof(cr);
			if (nd >= 0 && (getsockopt(nd, SOL_SOCKET, SO_PEERCRED,
			    &cr, &cl) != 0 || cr.uid != geteuid())) {
				close(nd);
				nd = -1;
			}
			if (nd >= 0) {
				/* The newest daemon is the one. */
				if (d >= 0)
					close(d);
				keep_release();
				d = nd;
				heard = jts_mono_ns();
				for (p = P; p != NULL; p = p->next)
					send_event(d, p);
			}
		}
		if (d >= 0 && (pf[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    on_daemon(g, d) != 0) {
			close(d);
			d = -1;
			keep_release();
			for (p = P; p != NULL; p = p->next)
				p->sent = false;
		}
		if (pf[0].revents & POLLIN)
			on_group(g, d, timeout_ns);
		now = jts_mono_ns();
		/*
		 * stub_timeout means "no daemon": a caller passed to a daemon
		 * that is connected and speaks (each second) waits for it,
		 * however long its recall takes; the time counts from when
		 * the daemon went away, or went silent.
		 */
		for (p = P; p != NULL; p = p->next)
			if (d >= 0 && p->sent && now - heard < 3000000000LL &&
			    p->deadline < now + timeout_ns)
				p->deadline = now + timeout_ns;
		for (pp = &P; (p = *pp) != NULL;)
			if (now >= p->deadline) {
				*pp = p->next;
				settle(g, p, EIO);
				free(p);
			} else
				pp = &p->next;
		if (!same_socket(sock, &me)) {
			while ((p = P) != NULL) {
				P = p->next;
				settle(g, p, EIO);
				free(p);
			}
			return 0;
		}
	}
}
