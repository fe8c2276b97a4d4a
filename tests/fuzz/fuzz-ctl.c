/* fuzz-ctl.c - the control socket protocol as the daemon reads it:
 * framing, JSON, and the checks of a request.  An input starting with
 * 'F' is a raw byte stream of framed messages; any other input is one
 * message body, framed here. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ctl_buf cb;
	struct ctl_req rq;
	json_object *o;
	char err[256];
	size_t i, n;
	int r;

	memset(&cb, 0, sizeof(cb));
	cb.cap = len + 4;
	cb.b = xmalloc(cb.cap);
	if (len > 0 && data[0] == 'F') {
		memcpy(cb.b, data + 1, len - 1);
		cb.n = len - 1;
	} else {
		cb.b[0] = (unsigned char)(len >> 24);
		cb.b[1] = (unsigned char)(len >> 16);
		cb.b[2] = (unsigned char)(len >> 8);
		cb.b[3] = (unsigned char)len;
		if (len > 0)
			memcpy(cb.b + 4, data, len);
		cb.n = len + 4;
	}
	while ((r = ctl_take(&cb, &o)) == 1) {
		if (ctl_req_parse(o, &rq, err, sizeof(err)) == 0 &&
		    rq.paths != NULL) {
			/* The daemon reads each path as a C string. */
			n = json_object_array_length(rq.paths);
			for (i = 0; i < n; i++)
				if (json_object_get_string(
				    json_object_array_get_idx(rq.paths, i))[0] ==
				    '\0')
					abort();	/* parse let it through */
		}
		json_object_put(o);
	}
	ctl_buf_free(&cb);
	return 0;
}
