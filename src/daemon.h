/* daemon.h - what the daemon's files share: its state, jobs and clients
 * (jts-tierd.c the loop, jobs and steps; daemon-conn.c the control
 * socket, its clients and requests).  Not for other modules. */
#ifndef JTS_DAEMON_H
#define JTS_DAEMON_H

#include <ev.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctl.h"
#include "engine.h"
#include "policy.h"


#define JTS_PROG_D	"jts-tierd"
#define EXIT_FAILED_D	1
#define EXIT_USAGE_D	2
#define STEP_FILES	64		/* files moved per step */
#define STEP_BYTES	(1ULL << 30)	/* or bytes */

enum job_kind {
	JOB_SCAN,
	JOB_POLICY,
	JOB_REQUEST,
	JOB_PIN,
	JOB_RECOVER,
};

struct conn;

struct job {
	enum job_kind	 kind;
	struct job	*next;
	struct conn	*conn;		/* who asked; NULL if gone or nobody */
	uint64_t	 id;		/* for jts-tierctl cancel */
	pid_t		 pid;		/* of the client that asked, or 0 */
	int64_t		 queued_ns;
	char		*cancelled;	/* why, once cancelled */
	/* JOB_POLICY */
	char		*policy;
	enum policy_reason reason;
	struct policy_sel sel;
	bool		 selected;
	int		 at;		/* next candidate */
	int64_t		 run_id;
	uint64_t	 moved, bytes, failed, skipped;
	int64_t		 t0;
	ev_tstamp	 resume_at;	/* bandwidth cap: not before */
	/* JOB_REQUEST, JOB_PIN */
	json_object	*req;
	struct ctl_req	 rq;		/* req, parsed; strings point into it */
};

/*
 * A client.  Everything sent to it goes through its output buffer,
 * written as the socket takes it: the daemon never waits on a client.
 * A client that does not read loses progress lines (counted and said),
 * never its result, and is not read from until it catches up.
 */
struct conn {
	int		 fd;
	ev_io		 io, wio;
	struct ctl_buf	 in;
	unsigned char	*out;		/* frames not yet written */
	size_t		 outn, outoff, outcap;
	uint64_t	 dropped;	/* progress lines not sent */
	ev_tstamp	 last;		/* last request or byte written */
	uid_t		 uid;
	pid_t		 pid;
	struct conn	*next;
	struct job	*job;		/* a request in the queue */
	bool		 dead;		/* write failed: close when idle */
	bool		 paused;	/* not read: its output is backed up */
};

#define CONN_MAX	128		/* connections at once */
#define CONN_MAX_USER	64		/* of them not root's */
#define CONN_IN_USER	(64u << 10)	/* a request of a non-root client */
#define CONN_OUT_SOFT	(256u << 10)	/* more pending: progress dropped */
#define CONN_IDLE_USER	30.0		/* s a non-root client may idle */

struct daemon {
	struct ev_loop	*loop;
	const char	*conf_path;
	struct conf	 conf;
	struct engine	 e;
	bool		 engine_open;
	struct policy_set ps;
	ev_timer	*ptimer;	/* one per policy */
	int		 nptimer;
	ev_signal	 sig_term, sig_int, sig_hup;
	ev_io		 lio;
	int		 lfd;
	ev_timer	 accept_again;	/* after EMFILE: accept later */
	ev_timer	 conn_sweep;	/* idle and stuck clients */
	int		 nconns, nconns_user;
	pthread_mutex_t	 out_lock;	/* output: a worker logs too */
	pthread_t	 main_thread;
	ev_timer	 fill, rescan, watchdog;
	ev_idle		 work;
	ev_timer	 wake;		/* bandwidth pause */
	struct job	*q, *qtail;
	uint64_t	 job_seq;	/* the last job's id */
	struct job	*cur;		/* the job a step is working on */
	bool		 busy;		/* inside a step */
	bool		 stopping;
	bool		 reload_asked;
	struct conn	*conns;
	struct conn	*echo;		/* gets the warnings of a request */
	struct track	*track;
	int64_t		 started;
	bool		 use_syslog;
	bool		 ready;		/* started: the loop runs */
	bool		 under_systemd;
	uint64_t	 moves_done, moves_failed, bytes_moved;
	bool		 stubs_on, stubs_failed;
};

extern struct daemon D;

/* daemon-conn.c: clients and requests */
void	conn_close(struct conn *c);
void	conn_flush_locked(struct conn *c);
int	listen_socket(void);
void	on_accept_again(struct ev_loop *, ev_timer *, int revents);
void	on_conn_sweep(struct ev_loop *, ev_timer *, int revents);
void	send_progress(struct conn *c, const char *key, const char *text);
void	send_result(struct conn *c, int code, const char *text,
	    const char *error);
void	serve_clients_now(void);

/* jts-tierd.c: jobs and reloads */
bool	policy_queued(const char *name);
void	queue(struct job *j);
/*
 * Cancel job j (a request or a policy run) for the reason why: queued,
 * it is dropped and its client told; running, its moves stop as a
 * signal would stop them (the files in flight finished or undone) and it
 * ends.  False if j is not a kind that can be cancelled.
 */
bool	job_cancel(struct job *j, const char *why);
/* The jobs, for jts-tierctl cancel (a list to read, not to keep). */
json_object *jobs_json(void);
struct job *job_find(uint64_t id);
void	queue_policy(const char *name, enum policy_reason reason,
	    struct conn *c);
void	queue_recover(struct conn *c);
void	queue_scan(struct conn *c);
void	reload(struct conn *c);

#endif
