/* ctl.h - the control socket protocol between jts-tierctl and jts-tierd
 *
 * Each message is a 4-byte big-endian length and that many bytes of one
 * JSON object with "v" (the protocol version).  A request carries "cmd";
 * the daemon answers with any number of {"type": "progress", "text"}
 * messages and one {"type": "result", "exit", "text"?, "error"?}.
 */
#ifndef JTS_CTL_H
#define JTS_CTL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_VERSION	1
#define CTL_MAX_MSG	(1u << 20)

/* o as one frame (it gains "v"); NULL if too long.  Free it. */
unsigned char *ctl_frame(json_object *o, size_t *lenp);
/* Send o on a blocking fd; 0 or -errno. */
int	ctl_send(int fd, json_object *o);
/* Receive one message from a blocking fd; NULL with err set. */
json_object *ctl_recv(int fd, char *err, size_t errlen);

/* Framing for a non-blocking reader: feed bytes, take whole messages. */
struct ctl_buf {
	unsigned char	*b;
	size_t		 n, cap;
};
/*
 * Take the next whole message out of cb: 1 and *out set, 0 when more
 * bytes are needed, <0 for a message too long or not JSON.
 */
int	ctl_take(struct ctl_buf *, json_object **out);
void	ctl_buf_free(struct ctl_buf *);

enum ctl_cmd {
	CTL_STATUS, CTL_MIGRATE, CTL_RECALL, CTL_PIN, CTL_UNPIN, CTL_RELOAD,
	CTL_RUN, CTL_SCAN, CTL_RECOVER, CTL_CANCEL,
};

/* A request, checked; its strings point into the JSON object. */
struct ctl_req {
	enum ctl_cmd	 cmd;
	const char	*name;		/* "migrate", ... */
	json_object	*paths;		/* migrate, recall: strings */
	const char	*to;		/* migrate, recall: a tier, or NULL */
	const char	*path;		/* pin, unpin */
	const char	*policy;	/* run */
	const char	*leave;		/* migrate: symlink, remove, stub */
	bool		 dry_run, remove_source;
	bool		 quiet;		/* migrate, recall: no line per file */
	int64_t		 id;		/* cancel: a job's id; 0: list them */
};

/*
 * Check a request: the protocol version, a known cmd, the fields it needs
 * and their types (strings without NUL bytes, booleans, a non-empty array
 * of paths).  0, or -1 with err saying what is wrong.
 */
int	ctl_req_parse(json_object *req, struct ctl_req *, char *err,
	    size_t errlen);

#endif
