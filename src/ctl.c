/* ctl.c - framing of the control socket protocol */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "util.h"

static int
read_all(int fd, void *p, size_t n)
{
	char *c = p;
	ssize_t r;

	while (n > 0) {
		r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

unsigned char *
ctl_frame(json_object *o, size_t *lenp)
{
	const char *s;
	unsigned char *f;
	size_t n;

	json_object_object_add(o, "v", json_object_new_int(CTL_VERSION));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	n = strlen(s);
	if (n > CTL_MAX_MSG)
		return NULL;
	f = xmalloc(n + 4);
	f[0] = (unsigned char)(n >> 24);
	f[1] = (unsigned char)(n >> 16);
	f[2] = (unsigned char)(n >> 8);
	f[3] = (unsigned char)n;
	memcpy(f + 4, s, n);
	*lenp = n + 4;
	return f;
}

int
ctl_send(int fd, json_object *o)
{
	unsigned char *f;
	size_t n;
	int r;

	if ((f = ctl_frame(o, &n)) == NULL)
		return -EMSGSIZE;
	r = jts_write_all(fd, f, n);
	free(f);
	return r;
}

static json_object *
parse(const unsigned char *p, size_t n)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	o = json_tokener_parse_ex(tok, (const char *)p, (int)n);
	/* One object and nothing after it: trailing bytes are refused. */
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != n ||
	    !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

json_object *
ctl_recv(int fd, char *err, size_t errlen)
{
	unsigned char hdr[4], *buf;
	json_object *o;
	size_t n;
	int r;

	if ((r = read_all(fd, hdr, 4)) != 0) {
		snprintf(err, errlen, "%s", r == -ECONNRESET ? "the daemon "
		    "closed the connection" : strerror(-r));
		return NULL;
	}
	n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 |
	    hdr[3];
	if (n == 0 || n > CTL_MAX_MSG) {
		snprintf(err, errlen, "message of %zu bytes", n);
		return NULL;
	}
	buf = xmalloc(n);
	if ((r = read_all(fd, buf, n)) != 0) {
		snprintf(err, errlen, "%s", strerror(-r));
		free(buf);
		return NULL;
	}
	o = parse(buf, n);
	free(buf);
	if (o == NULL)
		snprintf(err, errlen, "a message that is not a JSON object");
	return o;
}

int
ctl_take(struct ctl_buf *cb, json_object **out)
{
	size_t n;

	*out = NULL;
	if (cb->n < 4)
		return 0;
	n = (size_t)cb->b[0] << 24 | (size_t)cb->b[1] << 16 |
	    (size_t)cb->b[2] << 8 | cb->b[3];
	if (n == 0 || n > CTL_MAX_MSG)
		return -EMSGSIZE;
	if (cb->n < 4 + n)
		return 0;
	*out = parse(cb->b + 4, n);
	memmove(cb->b, cb->b + 4 + n, cb->n - 4 - n);
	cb->n -= 4 + n;
	return *out ? 1 : -EBADMSG;
}

void
ctl_buf_free(struct ctl_buf *cb)
{
	free(cb->b);
	memset(cb, 0, sizeof(*cb));
}

/* A string field: NULL if absent; -1 (err set) if not a clean string. */
static int
req_string(json_object *req, const char *key, const char **out, char *err,
    size_t errlen)
{
	json_object *v;
	const char *s;

	*out = NULL;
	if (!json_object_object_get_ex(req, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "%s: not a string", key);
		return -1;
	}
	s = json_object_get_string(v);
	/* A NUL inside would cut the path short: another file. */
	if (strlen(s) != (size_t)json_object_get_string_len(v)) {
		snprintf(err, errlen, "%s: contains a NUL byte", key);
		return -1;
	}
	*out = s;
	return 0;
}

/* A count: an integer from 0 to INT64_MAX, 0 if absent. */
static int
req_count(json_object *req, const char *key, int64_t *out, char *err,
    size_t errlen)
{
	json_object *v;

	*out = 0;
	if (!json_object_object_get_ex(req, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0) {
		snprintf(err, errlen, "%s: not a whole number >= 0", key);
		return -1;
	}
	*out = json_object_get_int64(v);
	return 0;
}

static int
req_flag(json_object *req, const char *key, bool *out, char *err,
    size_t errlen)
{
	json_object *v;

	*out = false;
	if (!json_object_object_get_ex(req, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		snprintf(err, errlen, "%s: not true or false", key);
		return -1;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

int
ctl_req_parse(json_object *req, struct ctl_req *r, char *err, size_t errlen)
{
	static const char *const names[] = {
		[CTL_STATUS] = "status", [CTL_MIGRATE] = "migrate",
		[CTL_RECALL] = "recall", [CTL_PIN] = "pin",
		[CTL_UNPIN] = "unpin", [CTL_RELOAD] = "reload",
		[CTL_RUN] = "run", [CTL_SCAN] = "scan",
		[CTL_RECOVER] = "recover", [CTL_CANCEL] = "cancel",
	};
	json_object *v, *p;
	const char *cmd;
	size_t i, n;

	memset(r, 0, sizeof(*r));
	if (!json_object_is_type(req, json_type_object)) {
		snprintf(err, errlen, "a request is a JSON object");
		return -1;
	}
	if (!json_object_object_get_ex(req, "v", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != CTL_VERSION) {
		snprintf(err, errlen, "protocol version %" PRId64 " not spoken "
		    "here (this daemon: %d)", v != NULL &&
		    json_object_is_type(v, json_type_int) ?
		    json_object_get_int64(v) : 0, CTL_VERSION);
		return -1;
	}
	if (req_string(req, "cmd", &cmd, err, errlen) != 0)
		return -1;
	if (cmd == NULL) {
		snprintf(err, errlen, "no cmd in request");
		return -1;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(cmd, names[i]) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0])) {
		snprintf(err, errlen, "unknown request '%.64s'", cmd);
		return -1;
	}
	r->cmd = (enum ctl_cmd)i;
	r->name = names[i];
	if (req_string(req, "to", &r->to, err, errlen) != 0 ||
	    req_string(req, "path", &r->path, err, errlen) != 0 ||
	    req_string(req, "policy", &r->policy, err, errlen) != 0 ||
	    req_string(req, "leave", &r->leave, err, errlen) != 0 ||
	    req_flag(req, "dry_run", &r->dry_run, err, errlen) != 0 ||
	    req_flag(req, "remove_source", &r->remove_source, err,
	    errlen) != 0 ||
	    req_flag(req, "quiet", &r->quiet, err, errlen) != 0 ||
	    req_count(req, "id", &r->id, err, errlen) != 0)
		return -1;
	if (r->leave != NULL && leave_parse(r->leave) < 0) {
		snprintf(err, errlen, "bad leave '%.32s' (symlink, remove or "
		    "stub)", r->leave);
		return -1;
	}
	switch (r->cmd) {
	case CTL_MIGRATE:
	case CTL_RECALL:
		if (!json_object_object_get_ex(req, "paths", &p) ||
		    !json_object_is_type(p, json_type_array) ||
		    (n = json_object_array_length(p)) == 0) {
			snprintf(err, errlen, "%s: no paths", cmd);
			return -1;
		}
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(p, i);
			if (!json_object_is_type(v, json_type_string) ||
			    json_object_get_string_len(v) == 0 ||
			    strlen(json_object_get_string(v)) !=
			    (size_t)json_object_get_string_len(v)) {
				snprintf(err, errlen, "%s: path %zu is not a "
				    "non-empty string without NUL bytes", cmd,
				    i + 1);
				return -1;
			}
		}
		r->paths = p;
		break;
	case CTL_PIN:
	case CTL_UNPIN:
		if (r->path == NULL || *r->path == '\0') {
			snprintf(err, errlen, "%s: no path", cmd);
			return -1;
		}
		break;
	case CTL_RUN:
		if (r->policy == NULL || *r->policy == '\0') {
			snprintf(err, errlen, "run: no policy");
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}
