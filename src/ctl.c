/* ctl.c - framing of the control socket protocol */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int
ctl_send(int fd, json_object *o)
{
	const char *s;
	unsigned char hdr[4];
	size_t n;
	int r;

	json_object_object_add(o, "v", json_object_new_int(CTL_VERSION));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	n = strlen(s);
	if (n > CTL_MAX_MSG)
		return -EMSGSIZE;
	hdr[0] = (unsigned char)(n >> 24);
	hdr[1] = (unsigned char)(n >> 16);
	hdr[2] = (unsigned char)(n >> 8);
	hdr[3] = (unsigned char)n;
	if ((r = jts_write_all(fd, hdr, 4)) != 0)
		return r;
	return jts_write_all(fd, s, n);
}

static json_object *
parse(const unsigned char *p, size_t n)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	o = json_tokener_parse_ex(tok, (const char *)p, (int)n);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
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
