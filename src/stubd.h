/*
 * stubd.h - jts-tierd's watch over stubs (see stub.h): a fanotify
 * pre-content group of its own marks every stub, a read, write, truncate
 * or mmap of one waits in the kernel, a bounded pool of workers fills it
 * in place (stub_fill), and the waiting callers are let through or, if
 * the recall failed, answered EIO.  A second group, in a small process of
 * its own (the holder, jts-tierd --stub-holder), marks the same stubs, so
 * a reader is never let through to a stub's holes while either process
 * lives: when the daemon is gone the holder keeps callers waiting until a
 * daemon returns, or answers EIO after stub_timeout.
 */
#ifndef JTS_STUBD_H
#define JTS_STUBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct engine;
struct json_object;

/*
 * Start the watch: the group, the workers (each with an engine of its
 * own), the holder (started if none answers at its socket).  0, or -1
 * with why saying what this kernel or file system lacks.
 */
int	stubd_start(struct engine *e, char *why, size_t len);
/* Mark every stub of the catalog's files (at start); how many, or -1. */
int	stubd_watch_all(struct engine *e);
/*
 * Have the holder keep fd (the tracking group) open too.  The kernel
 * releases a fanotify group only once every caller waiting on a stub is
 * answered (the caller pins the marks it passes, the tracking group's
 * file-system mark among them), so the last close of that group must
 * not fall to a daemon that is stopping or dying while callers wait:
 * its exit would wait for them, and they for it.
 */
void	stubd_keep(int fd);
/* Stop the workers and the event thread; the holder stays. */
void	stubd_stop(void);
/* Is rel being filled now (a move of it must wait)? */
bool	stubd_busy(const char *rel);
/* Figures for status: stubs watched, recalls queued and running... */
void	stubd_status(struct json_object *o);
/* Why stubs cannot be left by this daemon, or NULL if they can. */
const char *stubd_unavailable(void);

/* The holder's main (jts-tierd --stub-holder SOCKET SECONDS). */
int	stub_holder_main(const char *sock, int timeout_s);


/* The messages between the daemon and the holder (SOCK_SEQPACKET). */
#define HM_MARK		1	/* d->h, a stub's fd: mark it */
#define HM_ACK		2	/* h->d, err: the mark is there (0) */
#define HM_EVENT	3	/* h->d, an event's fd, tag: fill it */
#define HM_VERDICT	4	/* d->h, tag, err: 0 let it through */
#define HM_KEEP		5	/* d->h, an fd the holder keeps open while
				   this daemon is connected, and closes after
				   it is gone, in a thread of its own */
#define HM_ALIVE	6	/* d->h, each second: the daemon works; the
				   holder's stub_timeout counts only while
				   it hears none */
struct hmsg {
	uint32_t	 type;
	int32_t		 err;
	uint64_t	 tag;
};
/* Send m with fd attached (fd < 0: none); 0 or -errno. */
int	hmsg_send(int sock, const struct hmsg *m, int fd);
/* Receive into m, *fd the descriptor attached or -1; 1, 0 at EOF, -errno. */
int	hmsg_recv(int sock, struct hmsg *m, int *fd);
/* The pre-content group, as both sides make it; fd or -errno. */
int	stub_group(void);
/* Mark (add true) or unmark the inode of fd in group g; 0 or -errno. */
int	stub_mark(int g, int fd, bool add);
/* Answer the event of fd in group g: err 0 allow, else deny with it. */
int	stub_answer(int g, int fd, int err);

#endif
