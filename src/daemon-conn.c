/* daemon-conn.c - jts-tierd's control socket: its clients, each with an
 * output buffer written as it reads, and one handler per request */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "engine.h"
#include "move.h"
#include "policy.h"
#include "scan.h"
#include "track.h"
#include "stubd.h"
#include "daemon.h"
#include "util.h"

/* ---- connections ------------------------------------------------------ */

void
conn_close(struct conn *c)
{
	struct conn **pp;

	ev_io_stop(D.loop, &c->io);
	ev_io_stop(D.loop, &c->wio);
	close(c->fd);
	ctl_buf_free(&c->in);
	free(c->out);
	if (D.echo == c)
		D.echo = NULL;
	if (c->job != NULL) {
		struct job *j = c->job;

		/* Its client went away (interrupted): the request with it. */
		j->conn = NULL;
		c->job = NULL;
		if (j->kind == JOB_REQUEST || (j->kind == JOB_POLICY &&
		    j->reason == RUN_REQUEST))
			(void)job_cancel(j, "its client went away");
	}
	for (pp = &D.conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	D.nconns--;
	if (c->uid != 0)
		D.nconns_user--;
	free(c);
}

/* Write what the socket takes now; out_lock held. */
void
conn_flush_locked(struct conn *c)
{
	ssize_t n;

	while (!c->dead && c->outoff < c->outn) {
		n = send(c->fd, c->out + c->outoff, c->outn - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			c->dead = true;
			break;
		}
		c->outoff += (size_t)n;
		c->last = ev_now(D.loop);
	}
	if (c->outoff == c->outn)
		c->outoff = c->outn = 0;
}

/* Add o's frame to c's output; out_lock held.  Takes o. */
static void
conn_append_locked(struct conn *c, json_object *o)
{
	unsigned char *f;
	size_t n;

	f = ctl_frame(o, &n);
	json_object_put(o);
	if (f == NULL)
		return;
	if (c->outn + n > c->outcap) {
		if (c->outoff > 0) {
			memmove(c->out, c->out + c->outoff, c->outn -
			    c->outoff);
			c->outn -= c->outoff;
			c->outoff = 0;
		}
		if (c->outn + n > c->outcap) {
			c->outcap = (c->outn + n) * 2;
			c->out = xrealloc(c->out, c->outcap);
		}
	}
	memcpy(c->out + c->outn, f, n);
	c->outn += n;
	free(f);
}

/* A text field, valid UTF-8 and harmless on a terminal. */
static void
add_text(json_object *o, const char *key, const char *text)
{
	char *t = jts_text_safe(text);

	json_object_object_add(o, key, json_object_new_string(t));
	free(t);
}

/* {"type": "progress", key: text}. */
static json_object *
progress_new(const char *key, const char *text)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string("progress"));
	add_text(o, key, text);
	return o;
}

/* Queue o for c (progress may be dropped, answers never) and write. */
static void
conn_send_kind(struct conn *c, json_object *o, bool progress)
{
	if (c == NULL || c->dead) {
		json_object_put(o);
		return;
	}
	pthread_mutex_lock(&D.out_lock);
	if (progress && c->outn - c->outoff > CONN_OUT_SOFT) {
		c->dropped++;
		json_object_put(o);
		goto out;
	}
	if (c->dropped > 0) {
		char *t = xasprintf("(%" PRIu64 " progress line(s) not shown: "
		    "this client read too slowly; the daemon's log has them)",
		    c->dropped);

		conn_append_locked(c, progress_new("text", t));
		free(t);
		c->dropped = 0;
	}
	conn_append_locked(c, o);
	conn_flush_locked(c);
out:
	pthread_mutex_unlock(&D.out_lock);
	/* The rest is written as the socket drains (main thread only). */
	if (!c->dead && c->outn > c->outoff && pthread_equal(pthread_self(),
	    D.main_thread))
		ev_io_start(D.loop, &c->wio);
}

static void
conn_send(struct conn *c, json_object *o)
{
	conn_send_kind(c, o, false);
}

void
send_progress(struct conn *c, const char *key, const char *text)
{
	if (c != NULL && !c->dead)
		conn_send_kind(c, progress_new(key, text), true);
}

void
send_result(struct conn *c, int code, const char *text, const char *error)
{
	json_object *o;

	if (c == NULL)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("result"));
	json_object_object_add(o, "exit", json_object_new_int(code));
	if (text != NULL)
		add_text(o, "text", text);
	if (error != NULL)
		add_text(o, "error", error);
	conn_send(c, o);
}

/* ---- requests --------------------------------------------------------- */

static json_object *
status_json(void)
{
	json_object *o = json_object_new_object(), *qa;
	struct job *j;

	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "uptime_s", json_object_new_int64(
	    (jts_mono_ns() - D.started) / 1000000000));
	json_object_object_add(o, "policies", json_object_new_int(D.ps.n));
	json_object_object_add(o, "moves_done",
	    json_object_new_int64((int64_t)D.moves_done));
	json_object_object_add(o, "moves_failed",
	    json_object_new_int64((int64_t)D.moves_failed));
	json_object_object_add(o, "bytes_moved",
	    json_object_new_int64((int64_t)D.bytes_moved));
	json_object_object_add(o, "tracking", json_object_new_string(
	    D.track ? track_mode(D.track) : "scans only"));
	qa = json_object_new_array();
	for (j = D.q; j; j = j->next) {
		json_object *x = json_object_new_object();
		const char *k = j->kind == JOB_SCAN ? "scan" :
		    j->kind == JOB_RECOVER ? "recover" :
		    j->kind == JOB_POLICY ? "policy" :
		    j->rq.name;

		json_object_object_add(x, "kind", json_object_new_string(k));
		if (j->policy) {
			json_object_object_add(x, "policy",
			    json_object_new_string(j->policy));
			json_object_object_add(x, "reason",
			    json_object_new_string(
			    policy_reason_name(j->reason)));
		}
		json_object_object_add(x, "running",
		    json_object_new_boolean(j == D.cur || (j == D.q &&
		    (j->selected || j->t0))));
		if (j->kind == JOB_POLICY && j->selected) {
			json_object_object_add(x, "files_total",
			    json_object_new_int(j->sel.n));
			json_object_object_add(x, "bytes_total",
			    json_object_new_int64((int64_t)j->sel.bytes));
		}
		json_object_object_add(x, "files_done",
		    json_object_new_int64((int64_t)j->moved));
		json_object_object_add(x, "bytes_done",
		    json_object_new_int64((int64_t)j->bytes));
		json_object_array_add(qa, x);
	}
	json_object_object_add(o, "jobs", qa);
	if (D.stubs_on)
		stubd_status(o);
	return o;
}

/* ---- requests: one handler per command ---------------------------- */

static void
req_status(struct conn *c, const struct ctl_req *rq, json_object *req)
{
	json_object *r = json_object_new_object();

	(void)rq;
	(void)req;
	json_object_object_add(r, "type", json_object_new_string("result"));
	json_object_object_add(r, "exit", json_object_new_int(0));
	json_object_object_add(r, "daemon", status_json());
	conn_send(c, r);
}

static void
req_reload(struct conn *c, const struct ctl_req *rq, json_object *req)
{
	(void)rq;
	(void)req;
	if (D.busy) {
		/* Inside a step (waiting on the NAS): after it. */
		D.reload_asked = true;
		send_result(c, 0, "reload: after the step in progress\n", NULL);
	} else
		reload(c);
}

static void
req_scan(struct conn *c, const struct ctl_req *rq, json_object *req)
{
	(void)rq;
	(void)req;
	queue_scan(c);
}

static void
req_recover(struct conn *c, const struct ctl_req *rq, json_object *req)
{
	(void)rq;
	(void)req;
	queue_recover(c);
}

static void
req_run(struct conn *c, const struct ctl_req *rq, json_object *req)
{
	(void)req;
	if (policy_find(&D.ps, rq->policy) == NULL) {
		char *e = xasprintf("no policy %s", rq->policy);

		send_result(c, EXIT_USAGE_D, NULL, e);
		free(e);
	} else if (policy_queued(rq->policy))
		send_result(c, EXIT_FAILED_D, NULL, "a run of this policy is "
		    "already queued");
	else
		queue_policy(rq->policy, RUN_REQUEST, c);
}

/*
 * cancel: without an id, the jobs (queued and running); with one, that
 * job cancelled (a request or a policy run).
 */
static void
req_cancel(struct conn *c, const struct ctl_req *rq, json_object *req)
{
	json_object *o;
	struct job *j;
	char *t, *why;

	(void)req;
	if (rq->id == 0) {
		o = json_object_new_object();
		json_object_object_add(o, "type",
		    json_object_new_string("result"));
		json_object_object_add(o, "exit", json_object_new_int(0));
		json_object_object_add(o, "jobs", jobs_json());
		conn_send(c, o);
		return;
	}
	if ((j = job_find((uint64_t)rq->id)) == NULL) {
		t = xasprintf("no job %" PRId64 " (done, or never queued; "
		    "'jts-tierctl cancel' lists them)", rq->id);
		send_result(c, EXIT_FAILED_D, NULL, t);
		free(t);
		return;
	}
	why = xasprintf("jts-tierctl cancel, pid %d", (int)c->pid);
	if (!job_cancel(j, why)) {
		t = xasprintf("job %" PRId64 " is a %s: only requests (migrate, "
		    "recall) and policy runs can be cancelled", rq->id,
		    j->kind == JOB_SCAN ? "scan" : j->kind == JOB_PIN ?
		    "pin" : "recovery");
		send_result(c, EXIT_FAILED_D, NULL, t);
	} else {
		t = xasprintf("job %" PRId64 " cancelled\n", rq->id);
		send_result(c, 0, t, NULL);
	}
	free(t);
	free(why);
}

/* migrate, recall, pin, unpin: a job of the queue, answered when done. */
static void
req_job(struct conn *c, const struct ctl_req *rq, json_object *req)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->kind = rq->cmd == CTL_PIN || rq->cmd == CTL_UNPIN ? JOB_PIN :
	    JOB_REQUEST;
	/* rq's strings point into req, which the job keeps. */
	j->req = json_object_get(req);
	j->rq = *rq;
	j->conn = c;
	c->job = j;
	queue(j);
}

static const struct {
	void	(*fn)(struct conn *, const struct ctl_req *, json_object *);
	bool	  root;		/* changes data or settings */
	bool	  queued;	/* one at a time on a connection */
} requests[] = {
	[CTL_STATUS] =	{ req_status,	false,	false },
	[CTL_MIGRATE] =	{ req_job,	true,	true },
	[CTL_RECALL] =	{ req_job,	true,	true },
	[CTL_PIN] =	{ req_job,	true,	true },
	[CTL_UNPIN] =	{ req_job,	true,	true },
	[CTL_RELOAD] =	{ req_reload,	true,	true },
	[CTL_RUN] =	{ req_run,	true,	true },
	[CTL_SCAN] =	{ req_scan,	true,	true },
	[CTL_RECOVER] =	{ req_recover,	true,	true },
	[CTL_CANCEL] =	{ req_cancel,	true,	false },
};

static void
handle(struct conn *c, json_object *req)
{
	struct ctl_req rq;
	char err[256];

	if (ctl_req_parse(req, &rq, err, sizeof(err)) != 0)
		send_result(c, EXIT_USAGE_D, NULL, err);
	else if (rq.cmd >= sizeof(requests) / sizeof(requests[0]) ||
	    requests[rq.cmd].fn == NULL)
		send_result(c, EXIT_USAGE_D, NULL, "request not served here");
	else if (requests[rq.cmd].root && c->uid != 0) {
		char *e = xasprintf("%s changes data or settings: root only "
		    "(you are uid %u)", rq.name, (unsigned)c->uid);

		send_result(c, EXIT_FAILED_D, NULL, e);
		free(e);
	} else if (requests[rq.cmd].root && D.stopping)
		send_result(c, EXIT_FAILED_D, NULL, "the daemon is stopping");
	else if (requests[rq.cmd].queued && c->job != NULL)
		send_result(c, EXIT_USAGE_D, NULL, "one request at a time on "
		    "a connection");
	else
		requests[rq.cmd].fn(c, &rq, req);
	json_object_put(req);
}

/* Answer the whole requests read so far, while c's output keeps up. */
static void
conn_serve(struct conn *c)
{
	json_object *req;
	int r = 0;

	while (!c->dead && c->outn - c->outoff <= CONN_OUT_SOFT &&
	    (r = ctl_take(&c->in, &req)) == 1) {
		c->last = ev_now(D.loop);
		handle(c, req);
	}
	if (r < 0 && !c->dead) {
		send_result(c, EXIT_USAGE_D, NULL, "malformed message");
		pthread_mutex_lock(&D.out_lock);
		conn_flush_locked(c);
		pthread_mutex_unlock(&D.out_lock);
		c->dead = true;
	}
	if (c->dead && c->job == NULL) {
		conn_close(c);
		return;
	}
	/* Output backed up: read no more requests until it drains. */
	c->paused = c->outn - c->outoff > CONN_OUT_SOFT || c->dead;
	if (c->paused)
		ev_io_stop(D.loop, &c->io);
	else
		ev_io_start(D.loop, &c->io);
}

static void
on_conn(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	size_t max = c->uid == 0 ? CTL_MAX_MSG + 4 : CONN_IN_USER;
	ssize_t n;

	(void)loop;
	(void)revents;
	if (c->in.cap - c->in.n < 4096) {
		if (c->in.cap >= max) {
			/* A frame longer than this client may send. */
			conn_close(c);
			return;
		}
		c->in.cap = c->in.cap ? c->in.cap * 2 : 8192;
		if (c->in.cap > max)
			c->in.cap = max;
		c->in.b = xrealloc(c->in.b, c->in.cap);
	}
	n = read(c->fd, c->in.b + c->in.n, c->in.cap - c->in.n);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->in.n += (size_t)n;
	conn_serve(c);
}

static void
on_conn_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;

	(void)revents;
	pthread_mutex_lock(&D.out_lock);
	conn_flush_locked(c);
	pthread_mutex_unlock(&D.out_lock);
	if (c->outn == c->outoff || c->dead)
		ev_io_stop(loop, w);
	if (c->dead && c->job == NULL) {
		conn_close(c);
		return;
	}
	if (c->paused && c->outn - c->outoff <= CONN_OUT_SOFT / 2)
		conn_serve(c);
}

/*
 * Close clients that are not root's and hold a slot for nothing: idle
 * without a request, or not reading what they asked for.  Root's own
 * clients (a long migrate, a suspended jts-tierctl) are never timed out.
 * Any client whose socket failed and that waits for nothing goes too.
 */
void
on_conn_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c, *next;

	(void)w;
	(void)revents;
	for (c = D.conns; c != NULL; c = next) {
		next = c->next;
		/* A client whose socket failed, with nothing left to do. */
		if (c->dead && c->job == NULL) {
			conn_close(c);
			continue;
		}
		if (c->uid == 0 || c->job != NULL ||
		    ev_now(loop) - c->last < CONN_IDLE_USER)
			continue;
		jts_debug("client pid %d uid %u: idle or not reading for %.0f "
		    "s: closed", (int)c->pid, (unsigned)c->uid,
		    CONN_IDLE_USER);
		conn_close(c);
	}
}

void
on_accept_again(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_io_start(loop, &D.lio);
}

/* Tell a client it cannot be served now, as far as the socket takes it. */
static void
refuse(int fd, const char *why)
{
	json_object *o = json_object_new_object();
	unsigned char *f;
	size_t n;

	json_object_object_add(o, "type", json_object_new_string("result"));
	json_object_object_add(o, "exit", json_object_new_int(EXIT_FAILED_D));
	json_object_object_add(o, "error", json_object_new_string(why));
	if ((f = ctl_frame(o, &n)) != NULL) {
		(void)send(fd, f, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		free(f);
	}
	json_object_put(o);
	close(fd);
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	static ev_tstamp said;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct conn *c;
	int fd;

	(void)revents;
	fd = accept4(D.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* The connection stays queued: try in a second. */
			if (ev_now(loop) - said > 60) {
				jts_warn("control socket: cannot accept a "
				    "client: %s; trying again each second",
				    strerror(errno));
				said = ev_now(loop);
			}
			ev_io_stop(loop, w);
			ev_timer_set(&D.accept_again, 1, 0);
			ev_timer_start(loop, &D.accept_again);
		}
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		close(fd);
		return;
	}
	if (D.nconns >= CONN_MAX || (cr.uid != 0 &&
	    D.nconns_user >= CONN_MAX_USER)) {
		refuse(fd, "the daemon has too many clients; try again later");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->uid = cr.uid;
	c->pid = cr.pid;
	c->last = ev_now(loop);
	ev_io_init(&c->io, on_conn, fd, EV_READ);
	c->io.data = c;
	ev_io_init(&c->wio, on_conn_write, fd, EV_WRITE);
	c->wio.data = c;
	ev_io_start(loop, &c->io);
	c->next = D.conns;
	D.conns = c;
	D.nconns++;
	if (c->uid != 0)
		D.nconns_user++;
}

/*
 * While a long statement runs (a policy's selection), answer clients
 * without running the loop: only the socket, whose callbacks queue work
 * and read state, never the catalog.
 */
static bool
serve_clients_once(void)
{
	struct pollfd pf[CONN_MAX + 1];
	struct conn *c, *next;
	int n = 0, i;

	pf[n].fd = D.lfd;
	pf[n++].events = ev_is_active(&D.lio) ? POLLIN : 0;
	for (c = D.conns; c != NULL && n < CONN_MAX + 1; c = c->next) {
		pf[n].fd = c->fd;
		pf[n++].events = (c->paused ? 0 : POLLIN) |
		    (c->outn > c->outoff ? POLLOUT : 0);
	}
	if (poll(pf, (nfds_t)n, 0) <= 0)
		return false;
	for (i = 1, c = D.conns; c != NULL && i < n; c = next, i++) {
		next = c->next;
		if (pf[i].revents & POLLOUT)
			on_conn_write(D.loop, &c->wio, EV_WRITE);
		else if (pf[i].revents & (POLLIN | POLLHUP | POLLERR))
			on_conn(D.loop, &c->io, EV_READ);
	}
	if (pf[0].revents & POLLIN)
		on_accept(D.loop, &D.lio, EV_READ);
	return true;
}

void
serve_clients_now(void)
{
	int round;

	if (!pthread_equal(pthread_self(), D.main_thread) || D.lfd <= 0)
		return;
	/* A few rounds: a client accepted in one is read in the next. */
	for (round = 0; round < 4 && serve_clients_once(); round++)
		;
}

int
listen_socket(void)
{
	struct sockaddr_un sa;
	struct group *gr = NULL;
	char *dir, *slash;

	if (D.conf.socket_group != NULL &&
	    (gr = getgrnam(D.conf.socket_group)) == NULL) {
		jts_err("%s: [daemon] socket_group %s: no such group (create "
		    "it, or name an existing one)", D.conf.path,
		    D.conf.socket_group);
		return -1;
	}
	dir = xstrdup(D.conf.socket);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		jts_mkdir_parents(D.conf.socket, 0755);
	}
	free(dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", D.conf.socket);
	D.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* We hold the engine lock: a socket left here is a dead daemon's. */
	(void)unlink(D.conf.socket);
	if (D.lfd < 0 || bind(D.lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(D.conf.socket, 0660) != 0 ||
	    (gr != NULL && chown(D.conf.socket, 0, gr->gr_gid) != 0) ||
	    listen(D.lfd, 16) != 0) {
		jts_err("cannot listen on the control socket %s: %s ([daemon] "
		    "socket in %s chooses another path)", D.conf.socket,
		    strerror(errno), D.conf.path);
		return -1;
	}
	ev_io_init(&D.lio, on_accept, D.lfd, EV_READ);
	ev_io_start(D.loop, &D.lio);
	return 0;
}
