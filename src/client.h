/* client.h - jts-tierctl as a client of a running jts-tierd */
#ifndef JTS_CLIENT_H
#define JTS_CLIENT_H

#include <json-c/json.h>
#include <stdbool.h>

#include "cmd.h"

#define CLIENT_NO_DAEMON	(-1)	/* no daemon: run the engine here */

/*
 * Send req (consumed) to the daemon; print its progress messages as they
 * come (to stdout, or stderr for errors) and its result's text.  Returns
 * the result's exit code, or CLIENT_NO_DAEMON when no daemon listens.  If
 * result is not NULL it receives the result message (caller puts it).
 */
int	client_call(struct cmd_ctx *, json_object *req, json_object **result);
int	client_pin(struct cmd_ctx *, const char *rel, bool pin);
/* A request with nothing but its name (scan, reload, recover). */
int	client_simple(struct cmd_ctx *, const char *cmd);
/* The daemon's view (its jobs, counters), or NULL if none answers. */
json_object *client_daemon_status(struct cmd_ctx *);

#endif
