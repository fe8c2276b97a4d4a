/* client.c - jts-tierctl as a client of a running jts-tierd */
#include "config.h"
#include <signal.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "ctl.h"
#include "util.h"

static int
client_connect(struct cmd_ctx *ctx)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctx->conf.socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		jts_err("cannot open a socket to reach the daemon at %s: %s",
		    ctx->conf.socket, strerror(errno));
		return -2;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
			return CLIENT_NO_DAEMON;
		jts_err("cannot reach the daemon at %s: %s%s", ctx->conf.socket,
		    strerror(e), e == EACCES ? " (the socket is for root and "
		    "its group, [daemon] socket_group)" : "");
		return -2;
	}
	return fd;
}

/* Print what the daemon sent, its controls escaped for the terminal. */
static void
say(FILE *fp, const char *pre, const char *text, const char *post)
{
	char *t = jts_text_safe(text ? text : "");

	fprintf(fp, "%s%s%s", pre, t, post);
	free(t);
}

/*
 * Interrupted while the daemon works for us: the connection is shut, and
 * the daemon cancels the request it was serving on it.
 */
static volatile sig_atomic_t call_fd = -1, call_sig;

static void
on_call_signal(int sig)
{
	call_sig = sig;
	if (call_fd >= 0)
		(void)shutdown(call_fd, SHUT_RDWR);
}

int
client_call(struct cmd_ctx *ctx, json_object *req, json_object **result)
{
	struct sigaction sa, old_int, old_term, old_hup;
	json_object *m, *v;
	char err[256];
	int fd, r, code = EXIT_FAILED;

	if (result)
		*result = NULL;
	if ((fd = client_connect(ctx)) < 0) {
		json_object_put(req);
		return fd == CLIENT_NO_DAEMON ? CLIENT_NO_DAEMON : EXIT_FAILED;
	}
	/*
	 * Caught even where the shell that started us ignores SIGINT (a
	 * background job): the request is ours to cancel.
	 */
	call_sig = 0;
	call_fd = fd;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_call_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	r = ctl_send(fd, req);
	json_object_put(req);
	if (r != 0) {
		jts_err("daemon at %s: %s", ctx->conf.socket, strerror(-r));
		close(fd);
		return EXIT_FAILED;
	}
	for (;;) {
		if ((m = ctl_recv(fd, err, sizeof(err))) == NULL) {
			if (call_sig != 0) {
				jts_err("interrupted (%s): the daemon cancels "
				    "the request; files in flight are undone, "
				    "none is left half moved",
				    strsignal(call_sig));
				code = 128 + call_sig;
			} else
				jts_err("daemon at %s: %s", ctx->conf.socket,
				    err);
			break;
		}
		if (!json_object_object_get_ex(m, "v", &v) ||
		    json_object_get_int(v) != CTL_VERSION) {
			jts_err("daemon at %s speaks protocol version %d, this "
			    "jts-tierctl %d: restart the daemon after an "
			    "upgrade", ctx->conf.socket,
			    v ? json_object_get_int(v) : 0, CTL_VERSION);
			json_object_put(m);
			break;
		}
		json_object_object_get_ex(m, "type", &v);
		if (v && strcmp(json_object_get_string(v), "progress") == 0) {
			bool is_err = json_object_object_get_ex(m, "error", &v);

			if (is_err)
				say(stderr, JTS_PROG_CTL ": ",
				    json_object_get_string(v), "\n");
			else if (json_object_object_get_ex(m, "text", &v))
				say(stdout, "", json_object_get_string(v),
				    "\n");
			fflush(stdout);
			json_object_put(m);
			continue;
		}
		if (json_object_object_get_ex(m, "error", &v)) {
			char *t = jts_text_safe(json_object_get_string(v));

			jts_err("%s", t);
			free(t);
		}
		if (json_object_object_get_ex(m, "text", &v))
			say(stdout, "", json_object_get_string(v), "");
		code = json_object_object_get_ex(m, "exit", &v) ?
		    json_object_get_int(v) : EXIT_FAILED;
		if (result)
			*result = m;
		else
			json_object_put(m);
		break;
	}
	call_fd = -1;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	close(fd);
	return code;
}

int
client_pin(struct cmd_ctx *ctx, const char *rel, bool pin)
{
	json_object *req = json_object_new_object();

	json_object_object_add(req, "cmd",
	    json_object_new_string(pin ? "pin" : "unpin"));
	json_object_object_add(req, "path", json_object_new_string(rel));
	return client_call(ctx, req, NULL);
}

int
client_simple(struct cmd_ctx *ctx, const char *cmd)
{
	json_object *req = json_object_new_object();

	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	return client_call(ctx, req, NULL);
}

json_object *
client_daemon_status(struct cmd_ctx *ctx)
{
	json_object *req = json_object_new_object(), *res = NULL, *d = NULL;

	json_object_object_add(req, "cmd", json_object_new_string("status"));
	if (client_call(ctx, req, &res) == EXIT_OK && res != NULL &&
	    json_object_object_get_ex(res, "daemon", &d))
		json_object_get(d);
	else
		d = NULL;
	if (res != NULL)
		json_object_put(res);
	return d;
}
