/*
 * s3.c - the requests of an S3 object store, with libcurl's multi
 * interface (see s3.h): HEAD, PUT (one, or a multipart upload with its
 * parts in flight), GET, DELETE, and the listing and abort of unfinished
 * uploads; the server's errors parsed from its XML with expat.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <xxhash.h>

#include "copy.h"
#include "s3.h"
#include "util.h"

#define BODY_MAX	(1u << 20)	/* an answer's body kept, at most */
#define PARTS_MAX	10000		/* S3's limit */

struct s3 {
	struct s3_conf	 c;
	char		*userpwd, *sigv4;
	CURLM		*m;
	int		 cond;		/* If-None-Match kept: 1, not: -1 */
	bool		 refused;	/* the server refused the credentials */
	char		 err[1024];
};

/* One request: what it sends, what came back. */
struct req {
	struct s3	*s;
	CURL		*h;
	struct curl_slist *hdrs;
	const unsigned char *up;	/* the body sent */
	size_t		 up_len, up_off;
	char		*body;		/* the body received (bounded) */
	size_t		 body_len;
	/* or, streamed: 0 to go on, -errno to stop */
	int		(*sink)(void *, const char *, size_t);
	void		*sink_arg;
	int		 sink_err;
	long		 status;
	CURLcode	 cc;
	char		 errbuf[CURL_ERROR_SIZE];
	struct s3_obj	 obj;		/* from the answer's headers */
	bool		 has_len;
	int		 part;		/* a multipart upload's, or -1 */
	unsigned char	 md5[16];
	char		 holes[S3_HOLES_MAX + 1];	/* x-amz-meta-jts-holes */
};

static bool curl_ready;

struct s3 *
s3_new(const struct s3_conf *c)
{
	struct s3 *s;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			return NULL;
		curl_ready = true;
	}
	s = xcalloc(1, sizeof(*s));
	s->c = *c;
	s->c.endpoint = xstrdup(c->endpoint);
	s->c.bucket = xstrdup(c->bucket);
	s->c.prefix = xstrdup(c->prefix ? c->prefix : "");
	s->c.region = xstrdup(c->region ? c->region : "us-east-1");
	s->c.access = xstrdup(c->access);
	s->c.secret = xstrdup(c->secret);
	s->c.ca_file = c->ca_file ? xstrdup(c->ca_file) : NULL;
	s->c.owner.catalog = c->owner.catalog ? xstrdup(c->owner.catalog) :
	    NULL;
	s->c.owner.adopted = xstrdup(c->owner.adopted ? c->owner.adopted : "");
	s->c.owner.host = xstrdup(c->owner.host ? c->owner.host : "");
	s->c.owner.machine = xstrdup(c->owner.machine ? c->owner.machine : "");
	if (s->c.inflight < 1)
		s->c.inflight = 1;
	if (s->c.part_size < (5u << 20))
		s->c.part_size = 5u << 20;
	s->userpwd = xasprintf("%s:%s", c->access, c->secret);
	s->sigv4 = xasprintf("aws:amz:%s:s3", s->c.region);
	if ((s->m = curl_multi_init()) == NULL) {
		s3_free(s);
		return NULL;
	}
	/* One connection per request in flight, kept between requests. */
	curl_multi_setopt(s->m, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)s->c.inflight);
	return s;
}

void
s3_free(struct s3 *s)
{
	if (s == NULL)
		return;
	if (s->m != NULL)
		curl_multi_cleanup(s->m);
	free((char *)s->c.endpoint);
	free((char *)s->c.bucket);
	free((char *)s->c.prefix);
	free((char *)s->c.region);
	/* The secret is not left in freed memory. */
	if (s->c.secret != NULL)
		explicit_bzero((char *)s->c.secret, strlen(s->c.secret));
	if (s->userpwd != NULL)
		explicit_bzero(s->userpwd, strlen(s->userpwd));
	free((char *)s->c.access);
	free((char *)s->c.secret);
	free((char *)s->c.ca_file);
	free((char *)s->c.owner.catalog);
	free((char *)s->c.owner.adopted);
	free((char *)s->c.owner.host);
	free((char *)s->c.owner.machine);
	free(s->userpwd);
	free(s->sigv4);
	free(s);
}

bool
s3_refused(const struct s3 *s)
{
	return s->refused;
}

const char *
s3_error(const struct s3 *s)
{
	return s->err[0] ? s->err : "unknown error";
}

char *
s3_key(const struct s3 *s, const char *rel)
{
	const char *p = s->c.prefix;

	if (rel[0] == '/')
		return xasprintf(".jts-tier%s", rel);
	return *p ? xasprintf("%s%s%s", p, p[strlen(p) - 1] == '/' ? "" : "/",
	    rel) : xstrdup(rel);
}

int
s3_key_check(struct s3 *s, const char *rel)
{
	char *key = s3_key(s, rel);
	size_t n = strlen(key);
	int e = 0;

	if (!jts_utf8_valid(key)) {
		snprintf(s->err, sizeof(s->err), "its name is not valid UTF-8, "
		    "and object keys must be UTF-8 and at most 1,024 bytes");
		e = -EILSEQ;
	} else if (n > 1024) {
		snprintf(s->err, sizeof(s->err), "its key would be %zu bytes, "
		    "and object keys must be UTF-8 and at most 1,024 bytes", n);
		e = -ENAMETOOLONG;
	}
	free(key);
	return e;
}

/* Is uuid among the space-separated list? */
static bool
in_list(const char *list, const char *uuid)
{
	size_t n = strlen(uuid);
	const char *p;

	for (p = list; n > 0 && (p = strstr(p, uuid)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' ||
		    p[n] == '\0'))
			return true;
	return false;
}

bool
s3_obj_ours(const struct s3 *s, const struct s3_obj *o)
{
	if (s->c.owner.catalog == NULL)
		return false;	/* reads only */
	if (o->catalog[0] == '\0')
		return true;	/* before identities: the claim decides */
	return strcmp(o->catalog, s->c.owner.catalog) == 0 ||
	    in_list(s->c.owner.adopted, o->catalog);
}

/* The URL of rel's object (NULL: the bucket), with query q. */
static char *
url_of(const struct s3 *s, const char *rel, const char *q)
{
	static const char hex[] = "0123456789ABCDEF";
	char *key = rel != NULL ? s3_key(s, rel) : xstrdup(""), *enc, *u;
	const unsigned char *p;
	size_t n = 0;

	/* Every byte but the unreserved ones and '/' percent-encoded, as
	 * the signature's canonical URI wants them. */
	enc = xcalloc(strlen(key) * 3 + 1, 1);
	for (p = (const unsigned char *)key; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~' || *p == '/')
			enc[n++] = (char)*p;
		else {
			enc[n++] = '%';
			enc[n++] = hex[*p >> 4];
			enc[n++] = hex[*p & 15];
		}
	}
	u = xasprintf("%s/%s%s%s%s%s", s->c.endpoint, s->c.bucket,
	    rel != NULL ? "/" : "", enc, q != NULL ? "?" : "", q ? q : "");
	free(enc);
	free(key);
	return u;
}

/* --- one request ---------------------------------------------------------- */

static size_t
on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t n = size * nmemb;

	if (n > r->up_len - r->up_off)
		n = r->up_len - r->up_off;
	memcpy(buf, r->up + r->up_off, n);
	r->up_off += n;
	return n;
}

static size_t
on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t n = size * nmemb;

	if (r->status == 0)
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
	/* An error's body is kept, whatever the request streams. */
	if (r->sink != NULL && r->status / 100 == 2) {
		if ((r->sink_err = r->sink(r->sink_arg, p, n)) != 0)
			return 0;	/* stops the transfer */
		return n;
	}
	if (r->body_len + n > BODY_MAX)
		return n;	/* the rest is not needed */
	r->body = xrealloc(r->body, r->body_len + n + 1);
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

/* The value of header line h if it is name's, trimmed; NULL if not. */
static char *
header_value(const char *h, size_t n, const char *name, char *out,
    size_t len)
{
	size_t k = strlen(name), v;

	if (n <= k || strncasecmp(h, name, k) != 0 || h[k] != ':')
		return NULL;
	h += k + 1;
	n -= k + 1;
	while (n > 0 && (*h == ' ' || *h == '\t'))
		h++, n--;
	while (n > 0 && (h[n - 1] == '\r' || h[n - 1] == '\n' ||
	    h[n - 1] == ' '))
		n--;
	v = n < len - 1 ? n : len - 1;
	memcpy(out, h, v);
	out[v] = '\0';
	return out;
}

static int
unhex16(const char *s, unsigned char out[16])
{
	unsigned v;
	int i;

	if (strlen(s) != 32)
		return -1;
	for (i = 0; i < 16; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

static size_t
on_header(char *h, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t n = size * nmemb;
	char v[128], *e;
	struct tm tm;

	if (header_value(h, n, "ETag", v, sizeof(v)))
		snprintf(r->obj.etag, sizeof(r->obj.etag), "%s", v);
	else if (header_value(h, n, "Content-Length", v, sizeof(v))) {
		r->obj.size = strtoull(v, &e, 10);
		r->has_len = *v && *e == '\0';
	} else if (header_value(h, n, "x-amz-meta-jts-xxh3", v, sizeof(v)))
		r->obj.has_hash = unhex16(v, r->obj.hash) == 0;
	else if (header_value(h, n, "x-amz-meta-jts-id", v, sizeof(v)))
		r->obj.id = strtoll(v, NULL, 10);
	else if (header_value(h, n, "x-amz-meta-jts-catalog", r->obj.catalog,
	    sizeof(r->obj.catalog)))
		;
	else if (header_value(h, n, "x-amz-meta-jts-mode", v, sizeof(v))) {
		r->obj.mode = (uint32_t)strtoul(v, NULL, 8);
		r->obj.has_owner = true;
	} else if (header_value(h, n, "x-amz-meta-jts-uid", v, sizeof(v)))
		r->obj.uid = (uint32_t)strtoul(v, NULL, 10);
	else if (header_value(h, n, "x-amz-meta-jts-gid", v, sizeof(v)))
		r->obj.gid = (uint32_t)strtoul(v, NULL, 10);
	else if (header_value(h, n, "x-amz-meta-jts-host", r->obj.claim_host,
	    sizeof(r->obj.claim_host)))
		;
	else if (header_value(h, n, "x-amz-meta-jts-machine",
	    r->obj.claim_machine, sizeof(r->obj.claim_machine)))
		;
	else if (header_value(h, n, "x-amz-meta-jts-holes", r->holes,
	    sizeof(r->holes)))
		;
	else if (header_value(h, n, "x-amz-meta-jts-mtime", v, sizeof(v))) {
		r->obj.file_mtime_ns = strtoll(v, &e, 10);
		r->obj.has_file_mtime = *v && *e == '\0';
	}
	else if (header_value(h, n, "Last-Modified", v, sizeof(v))) {
		memset(&tm, 0, sizeof(tm));
		if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm) != NULL)
			r->obj.mtime_ns = (int64_t)timegm(&tm) * 1000000000;
	}
	return n;
}

/* Set r up as method on rel (NULL: the bucket) with query q. */
static void
req_init(struct s3 *s, struct req *r, const char *method, const char *rel,
    const char *q)
{
	char *u = url_of(s, rel, q);

	memset(r, 0, sizeof(*r));
	r->s = s;
	r->part = -1;
	r->h = curl_easy_init();
	if (r->h == NULL)
		jts_oom();
	curl_easy_setopt(r->h, CURLOPT_URL, u);
	free(u);
	curl_easy_setopt(r->h, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_USERPWD, s->userpwd);
	curl_easy_setopt(r->h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(r->h, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT, (long)s->c.timeout);
	/* No byte for timeout seconds: the server is gone. */
	curl_easy_setopt(r->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(r->h, CURLOPT_LOW_SPEED_TIME, (long)s->c.timeout);
	curl_easy_setopt(r->h, CURLOPT_SSL_VERIFYPEER,
	    s->c.verify_tls ? 1L : 0L);
	curl_easy_setopt(r->h, CURLOPT_SSL_VERIFYHOST,
	    s->c.verify_tls ? 2L : 0L);
	if (s->c.ca_file != NULL)
		curl_easy_setopt(r->h, CURLOPT_CAINFO, s->c.ca_file);
	curl_easy_setopt(r->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	/* The body is not part of the signature: each part carries its
	 * Content-MD5, which the server checks. */
	r->hdrs = curl_slist_append(r->hdrs,
	    "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	/* (No "Expect:" to drop curl's 100-continue: curl 7.88 signs the
	 * header it then leaves out, and the signature fails.) */
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(r->h, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(r->h, CURLOPT_CUSTOMREQUEST, method);
}

static void
req_header(struct req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
req_header(struct req *r, const char *fmt, ...)
{
	va_list ap;
	char *h;

	va_start(ap, fmt);
	if (vasprintf(&h, fmt, ap) < 0)
		jts_oom();
	va_end(ap);
	r->hdrs = curl_slist_append(r->hdrs, h);
	free(h);
}

/* The body r sends (PUT, POST), len bytes of p (kept by the caller). */
static void
req_body(struct req *r, const void *p, size_t len)
{
	r->up = p;
	r->up_len = len;
	curl_easy_setopt(r->h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(r->h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(r->h, CURLOPT_READDATA, r);
	curl_easy_setopt(r->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
}

static void
req_free(struct req *r)
{
	if (r->h != NULL)
		curl_easy_cleanup(r->h);
	curl_slist_free_all(r->hdrs);
	free(r->body);
	r->h = NULL;
	r->hdrs = NULL;
	r->body = NULL;
}

/* --- the server's XML ----------------------------------------------------- */

/* The elements of a small XML document, name and text, in order. */
struct xml {
	int		 n, cap;
	char		**name, **text;
	char		*cur;
	size_t		 curlen;
};

static void XMLCALL
xml_start(void *arg, const XML_Char *name, const XML_Char **attr)
{
	struct xml *x = arg;

	(void)name;
	(void)attr;
	x->curlen = 0;
	if (x->cur != NULL)
		x->cur[0] = '\0';
}

static void XMLCALL
xml_text(void *arg, const XML_Char *s, int len)
{
	struct xml *x = arg;

	if (x->curlen + (size_t)len > 4096)
		return;
	x->cur = xrealloc(x->cur, x->curlen + (size_t)len + 1);
	memcpy(x->cur + x->curlen, s, (size_t)len);
	x->curlen += (size_t)len;
	x->cur[x->curlen] = '\0';
}

static void XMLCALL
xml_end(void *arg, const XML_Char *name)
{
	struct xml *x = arg;

	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->name = xrealloc(x->name, (size_t)x->cap * sizeof(char *));
		x->text = xrealloc(x->text, (size_t)x->cap * sizeof(char *));
	}
	x->name[x->n] = xstrdup(name);
	x->text[x->n] = xmalloc(x->curlen + 1);
	memcpy(x->text[x->n], x->cur ? x->cur : "", x->curlen);
	x->text[x->n++][x->curlen] = '\0';
	x->curlen = 0;
}

/*
 * A copy of body where each character reference XML 1.0 forbids (a
 * control character: RGW writes "&#x01;" for a key that has one) is "?":
 * expat refuses the whole document otherwise.  A key read so is never
 * used: listings are asked URL-encoded.  NULL if there is none.
 */
static char *
xml_tame(const char *body, size_t len)
{
	const char *p, *end = body + len;
	char *out = NULL, *o = NULL;
	unsigned long v;
	char *e;

	for (p = body; p + 3 < end; p++) {
		if (p[0] != '&' || p[1] != '#')
			continue;
		v = p[2] == 'x' ? strtoul(p + 3, &e, 16) : strtoul(p + 2, &e,
		    10);
		if (e >= end || *e != ';' || e == p + 2 || (v >= 0x20 &&
		    v != 0x7f) || v == 9 || v == 10 || v == 13)
			continue;
		if (out == NULL) {
			out = xmalloc(len + 1);
			memcpy(out, body, len);
			out[len] = '\0';
		}
		o = out + (p - body);
		memset(o, ' ', (size_t)(e - p) + 1);
		o[0] = '?';
	}
	return out;
}

static int
xml_parse(struct xml *x, const char *body, size_t len)
{
	XML_Parser p = XML_ParserCreate(NULL);
	char *tame = body != NULL ? xml_tame(body, len) : NULL;
	int r;

	memset(x, 0, sizeof(*x));
	if (p == NULL) {
		free(tame);
		return -ENOMEM;
	}
	XML_SetUserData(p, x);
	XML_SetElementHandler(p, xml_start, xml_end);
	XML_SetCharacterDataHandler(p, xml_text);
	r = XML_Parse(p, tame ? tame : body ? body : "", (int)len, 1) ==
	    XML_STATUS_OK ? 0 : -EPROTO;
	XML_ParserFree(p);
	free(tame);
	return r;
}

/* The text of the first element called name, or NULL. */
static const char *
xml_get(const struct xml *x, const char *name)
{
	int i;

	for (i = 0; i < x->n; i++)
		if (strcmp(x->name[i], name) == 0)
			return x->text[i];
	return NULL;
}

static void
xml_free(struct xml *x)
{
	int i;

	for (i = 0; i < x->n; i++) {
		free(x->name[i]);
		free(x->text[i]);
	}
	free(x->name);
	free(x->text);
	free(x->cur);
}

/* --- running requests ------------------------------------------------------ */

/* Judge a finished request: 0, or -errno with s->err set. */
static int
req_judge(struct req *r, const char *what)
{
	struct s3 *s = r->s;
	struct xml x;
	const char *code = NULL, *msg = NULL;
	int e;

	if (r->cc != CURLE_OK) {
		if (r->sink_err != 0)
			return r->sink_err;
		snprintf(s->err, sizeof(s->err), "%s: %s", what,
		    r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->cc));
		switch (r->cc) {
		case CURLE_OPERATION_TIMEDOUT:
			return -ETIMEDOUT;
		case CURLE_COULDNT_CONNECT:
		case CURLE_COULDNT_RESOLVE_HOST:
			snprintf(s->err, sizeof(s->err), "%s: cannot connect "
			    "to the server (%s); check that it is up and its "
			    "endpoint", what, r->errbuf[0] ? r->errbuf :
			    curl_easy_strerror(r->cc));
			return -EHOSTUNREACH;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CONNECT_ERROR:
			return -EACCES;
		default:
			return -EIO;
		}
	}
	if (r->status / 100 == 2) {
		/* A 200 may still carry an error (a multipart completion). */
		if (r->body != NULL && strstr(r->body, "<Error>") != NULL &&
		    xml_parse(&x, r->body, r->body_len) == 0) {
			snprintf(s->err, sizeof(s->err), "%s: %s: %s", what,
			    xml_get(&x, "Code") ? xml_get(&x, "Code") : "Error",
			    xml_get(&x, "Message") ? xml_get(&x, "Message") :
			    "");
			xml_free(&x);
			return -EIO;
		}
		return 0;
	}
	if (r->body != NULL && xml_parse(&x, r->body, r->body_len) == 0) {
		code = xml_get(&x, "Code");
		msg = xml_get(&x, "Message");
		snprintf(s->err, sizeof(s->err), "%s: HTTP %ld %s%s%s", what,
		    r->status, code ? code : "", msg && *msg ? ": " : "",
		    msg ? msg : "");
	} else {
		if (r->body != NULL)
			xml_free(&x);
		memset(&x, 0, sizeof(x));
		snprintf(s->err, sizeof(s->err), "%s: HTTP %ld", what,
		    r->status);
	}
	/* The codes people cannot read, said in words. */
	if (code != NULL && (strcmp(code, "InvalidAccessKeyId") == 0 ||
	    strcmp(code, "SignatureDoesNotMatch") == 0)) {
		s->refused = true;
		snprintf(s->err + strlen(s->err), sizeof(s->err) -
		    strlen(s->err), " (the server refused the credentials: "
		    "the access key or the secret is wrong, or was rotated)");
	} else if (code != NULL && strcmp(code, "InvalidObjectName") == 0)
		snprintf(s->err + strlen(s->err), sizeof(s->err) -
		    strlen(s->err), " (the server refuses this name as an "
		    "object key)");
	else if (code != NULL && strcmp(code, "AccessDenied") == 0)
		snprintf(s->err + strlen(s->err), sizeof(s->err) -
		    strlen(s->err), " (the credentials may not do this in the "
		    "bucket: its policy or the user's rights)");
	else if (code == NULL && (r->status == 401 || r->status == 403))
		snprintf(s->err + strlen(s->err), sizeof(s->err) -
		    strlen(s->err), " (the server refused the credentials, "
		    "or the bucket's policy refuses this user)");
	if (code != NULL && (strcmp(code, "QuotaExceeded") == 0 ||
	    strcmp(code, "EntityTooLarge") == 0))
		e = -EDQUOT;
	else if (code != NULL && strcmp(code, "BadDigest") == 0)
		e = -EBADMSG;
	else if (code != NULL && strcmp(code, "NoSuchBucket") == 0)
		e = -ENXIO;
	else
		switch (r->status) {
		case 404:
			e = -ENOENT;
			break;
		case 412:
			e = -EEXIST;
			break;
		case 401:
		case 403:
			e = -EACCES;
			break;
		case 507:
			e = -ENOSPC;
			break;
		default:
			e = -EIO;
			break;
		}
	xml_free(&x);
	return e;
}

/* Start r (its headers set). */
static void
req_start(struct req *r)
{
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hdrs);
	curl_multi_add_handle(r->s->m, r->h);
}

/*
 * Run what is in flight until one request is finished: it, taken out,
 * its result in r->cc and r->status; NULL if none was in flight.
 */
static struct req *
req_next(struct s3 *s)
{
	struct CURLMsg *msg;
	struct req *r;
	int running, left;

	for (;;) {
		if (curl_multi_perform(s->m, &running) != CURLM_OK)
			return NULL;
		/* Messages stay queued until read: one per call. */
		while ((msg = curl_multi_info_read(s->m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&r);
			r->cc = msg->data.result;
			curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE,
			    &r->status);
			curl_multi_remove_handle(s->m, r->h);
			return r;
		}
		if (running == 0)
			return NULL;
		(void)curl_multi_poll(s->m, NULL, 0, 1000, NULL);
	}
}

/* Run r alone and judge it. */
static int
req_run(struct req *r, const char *what)
{
	req_start(r);
	if (req_next(r->s) != r) {
		snprintf(r->s->err, sizeof(r->s->err), "%s: the request was "
		    "lost", what);
		return -EIO;
	}
	return req_judge(r, what);
}

/* --- the operations -------------------------------------------------------- */

/* Is the copy asked to end (a lease break, a stop, a cancel)? */
static bool
raised(const struct copy_opts *co)
{
	return co != NULL && ((co->abort_flag && *co->abort_flag) ||
	    (co->stop_flag && *co->stop_flag));
}

static void
told(const struct copy_opts *co, uint64_t n)
{
	if (co != NULL && co->progress != NULL)
		co->progress(co->arg, n);
}

int
s3_bucket_check(struct s3 *s)
{
	struct req r;
	int e;

	req_init(s, &r, "HEAD", NULL, NULL);
	e = req_run(&r, "HEAD bucket");
	if (e == -ENOENT)
		snprintf(s->err, sizeof(s->err), "bucket %s does not exist",
		    s->c.bucket);
	req_free(&r);
	return e;
}

int
s3_head(struct s3 *s, const char *rel, struct s3_obj *o)
{
	struct req r;
	int e;

	if (s3_key_check(s, rel) != 0)
		return -ENOENT;	/* no object can have that key */
	req_init(s, &r, "HEAD", rel, NULL);
	e = req_run(&r, "HEAD");
	if (e == 0)
		*o = r.obj;
	req_free(&r);
	return e;
}

int
s3_delete(struct s3 *s, const char *rel)
{
	struct req r;
	int e;

	if (s3_key_check(s, rel) != 0)
		return 0;	/* no object can have that key */
	req_init(s, &r, "DELETE", rel, NULL);
	e = req_run(&r, "DELETE");
	req_free(&r);
	return e == -ENOENT ? 0 : e;
}

static void
md5_of(const void *p, size_t n, unsigned char out[16])
{
	unsigned int len = 16;

	EVP_Digest(p, n, out, &len, EVP_md5(), NULL);
}

static void
b64(const unsigned char *p, int n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, p, n);
}

/* Read len bytes of fd at off into buf, all of them: 0 or -errno. */
static int
read_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	ssize_t n;
	int fl;

	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got,
		    (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		/* A source opened O_DIRECT (ext4, xfs) refuses a buffer or a
		 * length not aligned to its blocks: read it through the page
		 * cache instead (this descriptor only). */
		if (n < 0 && errno == EINVAL && (fl = fcntl(fd, F_GETFL)) >= 0 &&
		    (fl & O_DIRECT) && fcntl(fd, F_SETFL, fl & ~O_DIRECT) == 0)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ESTALE;	/* shorter than it was */
		got += (size_t)n;
	}
	return 0;
}

/* Does the part's ETag (quoted hex) say the server got md5? */
static bool
etag_is_md5(const char *etag, const unsigned char md5[16])
{
	char hex[33];
	int i;

	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md5[i]);
	return strlen(etag) == 34 && etag[0] == '"' &&
	    strncasecmp(etag + 1, hex, 32) == 0;
}

static void
meta_headers(struct req *r, const struct s3_meta *m,
    const unsigned char *hash)
{
	const struct s3_owner *o = &r->s->c.owner;
	char hex[33];

	if (o->catalog != NULL)
		req_header(r, "x-amz-meta-jts-catalog: %s", o->catalog);
	if (m == NULL)
		return;
	req_header(r, "x-amz-meta-jts-id: %" PRId64, m->id);
	req_header(r, "x-amz-meta-jts-mtime: %" PRId64, m->mtime_ns);
	req_header(r, "x-amz-meta-jts-mode: %04o", (unsigned)(m->mode & 07777));
	req_header(r, "x-amz-meta-jts-uid: %u", (unsigned)m->uid);
	req_header(r, "x-amz-meta-jts-gid: %u", (unsigned)m->gid);
	/* Objects keep no extended attributes: a file that has any is
	 * refused, so an object's file had none. */
	req_header(r, "x-amz-meta-jts-xattrs: none");
	if (m->home != NULL)
		req_header(r, "x-amz-meta-jts-home: %s", m->home);
	if (m->holes != NULL)
		req_header(r, "x-amz-meta-jts-holes: %s", m->holes);
	if (hash != NULL) {
		jts_hash_hex(hash, hex);
		req_header(r, "x-amz-meta-jts-xxh3: %s", hex);
	}
}

/*
 * Ready r as the one PUT of a file no larger than a part: read into
 * *buf (grown as needed, kept by the caller), hashed into hash, its MD5
 * into md5 and sent as Content-MD5 (the caller kept the pace).  0, or
 * -errno with s->err set (r not set up).
 */
static int
put_prep(struct s3 *s, struct req *r, unsigned char **buf, size_t *cap,
    const char *rel, int fd, uint64_t size, const struct s3_meta *meta,
    unsigned char hash[JTS_HASH_LEN], unsigned char md5[16],
    const struct copy_opts *co)
{
	XXH128_canonical_t canon;
	char m64[32];
	int e;

	if (*cap < size || *buf == NULL) {
		free(*buf);
		*cap = size ? size : 1;
		*buf = xmalloc(*cap);
	}
	if (raised(co)) {
		snprintf(s->err, sizeof(s->err), "stopped");
		return -ECANCELED;
	}
	if ((e = read_full(fd, *buf, size, 0)) != 0) {
		snprintf(s->err, sizeof(s->err), "reading the source: %s",
		    strerror(-e));
		return e;
	}
	XXH128_canonicalFromHash(&canon, XXH3_128bits(*buf, size));
	memcpy(hash, canon.digest, JTS_HASH_LEN);
	md5_of(*buf, size, md5);
	b64(md5, 16, m64);
	req_init(s, r, "PUT", rel, NULL);
	req_body(r, *buf, size);
	req_header(r, "Content-MD5: %s", m64);
	req_header(r, "If-None-Match: *");
	meta_headers(r, meta, hash);
	return 0;
}

/* Judge a finished one-PUT: 0, or -errno with s->err set. */
static int
put_judge(struct req *r, const unsigned char md5[16])
{
	int e = req_judge(r, "PUT");

	if (e == 0 && !etag_is_md5(r->obj.etag, md5)) {
		snprintf(r->s->err, sizeof(r->s->err), "PUT: the server's "
		    "ETag %s is not the MD5 of what was sent", r->obj.etag);
		e = -EBADMSG;
	}
	return e;
}

/* One PUT of a file no larger than a part. */
static int
put_one(struct s3 *s, const char *rel, int fd, uint64_t size,
    const struct s3_meta *meta, unsigned char hash[JTS_HASH_LEN],
    const struct copy_opts *co)
{
	unsigned char md5[16], *buf = NULL;
	size_t cap = 0;
	struct req r;
	int e;

	while (!copy_pace_ok(co, size, false))
		if (raised(co))
			break;
	e = put_prep(s, &r, &buf, &cap, rel, fd, size, meta, hash, md5, co);
	if (e == 0) {
		req_start(&r);
		if (req_next(s) != &r) {
			snprintf(s->err, sizeof(s->err), "PUT: the request was "
			    "lost");
			e = -EIO;
		} else
			e = put_judge(&r, md5);
		if (e == 0)
			told(co, size);
		req_free(&r);
	}
	free(buf);
	return e;
}

/* XXH3-128 of size bytes of fd, read once: 0 or -errno. */
static int
hash_fd(int fd, uint64_t size, unsigned char out[JTS_HASH_LEN])
{
	XXH128_canonical_t canon;
	XXH3_state_t *xs = XXH3_createState();
	size_t chunk = 4u << 20;
	void *buf = xmalloc(chunk);
	uint64_t off;
	int e = 0;

	if (xs == NULL)
		jts_oom();
	XXH3_128bits_reset(xs);
	for (off = 0; off < size && e == 0; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;

		if ((e = read_full(fd, buf, n, off)) == 0)
			XXH3_128bits_update(xs, buf, n);
	}
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(xs));
	memcpy(out, canon.digest, JTS_HASH_LEN);
	XXH3_freeState(xs);
	free(buf);
	return e;
}

/* Abort the upload id of rel (best effort: recovery lists them too). */
static void
abort_upload(struct s3 *s, const char *rel, const char *upload)
{
	char *eu = curl_easy_escape(NULL, upload, 0);
	char *q = xasprintf("uploadId=%s", eu ? eu : "");
	char keep[sizeof(s->err)];
	struct req r;

	memcpy(keep, s->err, sizeof(keep));
	req_init(s, &r, "DELETE", rel, q);
	(void)req_run(&r, "abort");
	req_free(&r);
	free(q);
	curl_free(eu);
	memcpy(s->err, keep, sizeof(keep));
}

/*
 * A multipart upload: the file hashed first (the hash goes in the
 * upload's metadata, given when it starts), then read again part by
 * part, each part's MD5 sent and the stream hashed again: a file that
 * changed between the two reads fails with -ESTALE.
 */
static int
put_multi(struct s3 *s, const char *rel, int fd, uint64_t size,
    const struct s3_meta *meta, unsigned char hash[JTS_HASH_LEN],
    const struct copy_opts *co)
{
	uint64_t psz = s->c.part_size, off;
	int nparts = (int)((size + psz - 1) / psz), k, inflight = 0, i, e;
	struct req init, fin, *slots, *r;
	XXH128_canonical_t canon;
	XXH3_state_t *xs = NULL;
	unsigned char again[JTS_HASH_LEN];
	char (*etags)[80] = NULL, *upload = NULL, *eupload = NULL, *q;
	char m64[32];
	unsigned char **bufs;
	struct xml x;
	bool *busy;
	char *doc;
	size_t dlen;
	FILE *f;

	if (nparts > PARTS_MAX)
		psz = (size + PARTS_MAX - 1) / PARTS_MAX,
		nparts = (int)((size + psz - 1) / psz);
	if ((e = hash_fd(fd, size, hash)) != 0) {
		snprintf(s->err, sizeof(s->err), "reading the source: %s",
		    strerror(-e));
		return e;
	}
	/* Query strings as SigV4 wants them canonical: each key with its
	 * '=', keys in order, values escaped (curl signs them as given). */
	req_init(s, &init, "POST", rel, "uploads=");
	meta_headers(&init, meta, hash);
	req_body(&init, "", 0);
	e = req_run(&init, "starting the upload");
	if (e == 0 && (xml_parse(&x, init.body, init.body_len) != 0 ||
	    xml_get(&x, "UploadId") == NULL)) {
		xml_free(&x);
		/* The upload may have started all the same: whatever of
		 * the key is unfinished is ours (the prefix's claim). */
		(void)s3_abort_uploads(s, rel);
		snprintf(s->err, sizeof(s->err), "starting the upload: no "
		    "UploadId in the answer (any upload it started was "
		    "aborted)");
		e = -EPROTO;
	} else if (e == 0) {
		upload = xstrdup(xml_get(&x, "UploadId"));
		eupload = curl_easy_escape(NULL, upload, 0);
		if (eupload == NULL)
			jts_oom();
		xml_free(&x);
	}
	req_free(&init);
	if (e != 0)
		return e;

	slots = xcalloc((size_t)s->c.inflight, sizeof(*slots));
	bufs = xcalloc((size_t)s->c.inflight, sizeof(*bufs));
	busy = xcalloc((size_t)s->c.inflight, sizeof(*busy));
	etags = xcalloc((size_t)nparts, sizeof(*etags));
	if ((xs = XXH3_createState()) == NULL)
		jts_oom();
	XXH3_128bits_reset(xs);
	for (k = 0; k < nparts || inflight > 0;) {
		/* A free slot for part k, or wait for one to finish. */
		for (i = 0; k < nparts && e == 0 && i < s->c.inflight &&
		    busy[i]; i++)
			;
		if (e == 0 && raised(co)) {
			snprintf(s->err, sizeof(s->err), "stopped");
			e = -ECANCELED;
			k = nparts;	/* start no more */
			continue;
		}
		if (k < nparts && e == 0 && i < s->c.inflight &&
		    !copy_pace_ok(co, (uint64_t)(size - (uint64_t)k * psz <
		    psz ? size - (uint64_t)k * psz : psz), inflight > 0)) {
			if (inflight == 0)
				continue;	/* held: the pace slept */
			i = s->c.inflight;	/* held: take an answer */
		}
		if (k < nparts && e == 0 && i < s->c.inflight) {
			size_t n;

			off = (uint64_t)k * psz;
			n = (size_t)(size - off < psz ? size - off : psz);
			if (bufs[i] == NULL)
				bufs[i] = xmalloc(psz);
			if ((e = read_full(fd, bufs[i], n, off)) != 0) {
				snprintf(s->err, sizeof(s->err), "reading the "
				    "source: %s", strerror(-e));
				continue;
			}
			XXH3_128bits_update(xs, bufs[i], n);
			r = &slots[i];
			q = xasprintf("partNumber=%d&uploadId=%s", k + 1,
			    eupload);
			req_init(s, r, "PUT", rel, q);
			free(q);
			r->part = k;
			md5_of(bufs[i], n, r->md5);
			b64(r->md5, 16, m64);
			req_body(r, bufs[i], n);
			req_header(r, "Content-MD5: %s", m64);
			req_start(r);
			busy[i] = true;
			inflight++;
			k++;
			continue;
		}
		if (inflight == 0)
			break;	/* an error, nothing left in flight */
		if ((r = req_next(s)) == NULL) {
			snprintf(s->err, sizeof(s->err), "uploading: the "
			    "requests were lost");
			e = -EIO;
			break;
		}
		i = (int)(r - slots);
		busy[i] = false;
		inflight--;
		if (e == 0) {
			char what[48];

			snprintf(what, sizeof(what), "part %d", r->part + 1);
			e = req_judge(r, what);
			if (e == 0 && !etag_is_md5(r->obj.etag, r->md5)) {
				snprintf(s->err, sizeof(s->err), "part %d: "
				    "the server's ETag is not the MD5 of what "
				    "was sent", r->part + 1);
				e = -EBADMSG;
			}
			if (e == 0) {
				memcpy(etags[r->part], r->obj.etag,
				    sizeof(etags[0]));
				told(co, r->up_len);
				/* A part is on the server: an unfinished
				 * upload exists from here on. */
				jts_fault_point("part");
				jts_pause_point("part");
			}
		}
		req_free(r);
		if (e != 0 && k < nparts)
			k = nparts;	/* start no more */
	}
	if (e == 0) {
		XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(xs));
		memcpy(again, canon.digest, JTS_HASH_LEN);
		if (memcmp(again, hash, JTS_HASH_LEN) != 0) {
			snprintf(s->err, sizeof(s->err), "the source changed "
			    "while it was uploaded");
			e = -ESTALE;
		}
	}
	if (e == 0) {
		f = open_memstream(&doc, &dlen);
		if (f == NULL)
			jts_oom();
		fputs("<CompleteMultipartUpload>", f);
		for (k = 0; k < nparts; k++)
			fprintf(f, "<Part><PartNumber>%d</PartNumber><ETag>%s"
			    "</ETag></Part>", k + 1, etags[k]);
		fputs("</CompleteMultipartUpload>", f);
		fclose(f);
		q = xasprintf("uploadId=%s", eupload);
		req_init(s, &fin, "POST", rel, q);
		free(q);
		req_body(&fin, doc, dlen);
		e = req_run(&fin, "completing the upload");
		req_free(&fin);
		free(doc);
	}
	if (e != 0)
		abort_upload(s, rel, upload);
	for (i = 0; i < s->c.inflight; i++)
		free(bufs[i]);
	XXH3_freeState(xs);
	free(bufs);
	free(busy);
	free(slots);
	free(etags);
	free(upload);
	curl_free(eupload);
	return e;
}

/*
 * Does the server refuse a PUT with If-None-Match: * over an object?
 * Asked once, with an object of a random name beneath the prefix, put
 * twice and removed; false (a look before each upload) if it is not
 * known.
 */
static bool
cond_put_kept(struct s3 *s)
{
	unsigned char rnd[16], md5[16];
	char rel[512], keep[sizeof(s->err)];
	struct req r;
	int i, e = 0, k;

	if (s->cond != 0)
		return s->cond > 0;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return false;
	/* Beneath the bucket's .jts-tier/: no file's key. */
	k = snprintf(rel, sizeof(rel), "/probe/%.300s/cond-", s->c.prefix);
	for (i = 0; i < 16; i++)
		k += snprintf(rel + k, sizeof(rel) - (size_t)k, "%02x", rnd[i]);
	memcpy(keep, s->err, sizeof(keep));
	for (i = 0; i < 2 && e == 0; i++) {
		static const char body[] = "jts-tier: does the server keep "
		    "If-None-Match?\n";
		char m64[32];

		md5_of(body, sizeof(body) - 1, md5);
		b64(md5, 16, m64);
		req_init(s, &r, "PUT", rel, NULL);
		req_body(&r, body, sizeof(body) - 1);
		req_header(&r, "Content-MD5: %s", m64);
		req_header(&r, "If-None-Match: *");
		e = req_run(&r, "PUT");
		req_free(&r);
		if (i == 1 && e == -EEXIST)
			s->cond = 1;
		else if (e == 0 ? i == 1 : e != -EHOSTUNREACH &&
		    e != -ETIMEDOUT && e != -EIO)
			s->cond = -1;	/* not kept, or not to be asked */
	}
	(void)s3_delete(s, rel);
	memcpy(s->err, keep, sizeof(keep));
	return s->cond > 0;
}

bool
s3_put_refuses_existing(struct s3 *s, uint64_t size)
{
	return size <= s->c.part_size && cond_put_kept(s);
}

int
s3_put(struct s3 *s, const char *rel, int fd, uint64_t size,
    const struct s3_meta *meta, unsigned char hash[JTS_HASH_LEN],
    const struct copy_opts *co)
{
	int e;

	s->err[0] = '\0';
	if ((e = s3_key_check(s, rel)) != 0)
		return e;
	if (size <= s->c.part_size)
		return put_one(s, rel, fd, size, meta, hash, co);
	return put_multi(s, rel, fd, size, meta, hash, co);
}

/* Write len bytes of p to fd at off, all of them: 0 or -errno. */
static int
pwrite_full(int fd, const void *p, size_t len, uint64_t off)
{
	size_t w = 0;
	ssize_t n;

	while (w < len) {
		n = pwrite(fd, (const char *)p + w, len - w, (off_t)(off + w));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		w += (size_t)n;
	}
	return 0;
}

static bool
all_zero(const char *p, size_t n)
{
	static const char z[4096];
	size_t k;

	for (; n > 0; p += k, n -= k) {
		k = n < sizeof(z) ? n : sizeof(z);
		if (memcmp(p, z, k) != 0)
			return false;
	}
	return true;
}

/*
 * The first data extent of map ("off+len,...", in order) that ends after
 * at: 0 with [*ds, *de) set, or -1 if none does.
 */
static int
extent_after(const char *map, uint64_t at, uint64_t *ds, uint64_t *de)
{
	const char *p = map;
	unsigned long long a, b;
	int k;

	while (*p != '\0') {
		if (sscanf(p, "%llu+%llu%n", &a, &b, &k) != 2)
			return -1;
		if (a + b > at) {
			*ds = a;
			*de = a + b;
			return 0;
		}
		p += k;
		if (*p == ',')
			p++;
	}
	return -1;
}

/*
 * Write len bytes of p to fd at off, as pwrite_full, but leave unwritten
 * (holes) what lies outside map's data extents and reads as zeros: the
 * file's holes as they were.  *skipped set if any was left.
 */
static int
write_sparse(int fd, const char *p, size_t len, uint64_t off,
    const char *map, bool *skipped)
{
	uint64_t at = off, end = off + len, ds, de, to;
	int e;

	if (map == NULL || *map == '\0')
		return pwrite_full(fd, p, len, off);
	while (at < end) {
		if (extent_after(map, at, &ds, &de) != 0)
			ds = de = end;	/* a hole to the end */
		if (at >= ds) {
			to = de < end ? de : end;	/* data */
		} else {
			to = ds < end ? ds : end;	/* a hole */
			if (all_zero(p + (at - off), (size_t)(to - at))) {
				*skipped = true;
				at = to;
				continue;
			}
		}
		if ((e = pwrite_full(fd, p + (at - off), (size_t)(to - at),
		    at)) != 0)
			return e;
		at = to;
	}
	return 0;
}

/* A GET's stream: written to the file at its offset and hashed. */
struct sink {
	XXH3_state_t	*xs;
	int		 fd;
	uint64_t	 off, size;
	const struct copy_opts *co;
	const char	*holes;		/* the answer's map */
	bool		 skipped;	/* a hole left */
};

static int
sink_write(void *arg, const char *p, size_t n)
{
	struct sink *k = arg;
	int e;

	if (k->off + n > k->size)
		return -ESTALE;	/* longer than it should be */
	/* Held by a pace, the transfer waits here (the server with it). */
	while (!copy_pace_ok(k->co, n, false))
		if (raised(k->co))
			break;
	if (raised(k->co))
		return -ECANCELED;
	XXH3_128bits_update(k->xs, p, n);
	if (k->fd >= 0 && (e = write_sparse(k->fd, p, n, k->off, k->holes,
	    &k->skipped)) != 0)
		return e;
	k->off += n;
	told(k->co, n);
	return 0;
}

/* Ready r as a GET of rel into sink k (its hash state made here). */
static void
get_prep(struct s3 *s, struct req *r, struct sink *k, const char *rel,
    uint64_t size, int wfd, const struct copy_opts *co)
{
	memset(k, 0, sizeof(*k));
	if ((k->xs = XXH3_createState()) == NULL)
		jts_oom();
	XXH3_128bits_reset(k->xs);
	k->fd = wfd;
	k->size = size;
	k->co = co;
	req_init(s, r, "GET", rel, NULL);
	r->sink = sink_write;
	r->sink_arg = k;
	k->holes = r->holes;	/* filled by the headers, before the body */
}

/* Judge a finished GET (r, into k): 0 with hash set, or -errno; k's
 * state freed. */
static int
get_judge(struct req *r, struct sink *k, unsigned char hash[JTS_HASH_LEN])
{
	struct s3 *s = r->s;
	XXH128_canonical_t canon;
	int e = req_judge(r, "GET");

	if (e == 0 && k->off != k->size) {
		snprintf(s->err, sizeof(s->err), "GET: %" PRIu64 " bytes, not "
		    "%" PRIu64, k->off, k->size);
		e = -ESTALE;
	} else if (e == -ESTALE)
		snprintf(s->err, sizeof(s->err), "GET: longer than %" PRIu64
		    " bytes", k->size);
	/* A hole at the end: the file's length all the same. */
	if (e == 0 && k->skipped && ftruncate(k->fd, (off_t)k->size) != 0) {
		e = -errno;
		snprintf(s->err, sizeof(s->err), "writing: %s", strerror(-e));
	}
	if (e == 0) {
		XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(k->xs));
		memcpy(hash, canon.digest, JTS_HASH_LEN);
	}
	XXH3_freeState(k->xs);
	k->xs = NULL;
	return e;
}

/* A range of a GET, into its slot's buffer. */
struct rsink {
	unsigned char	*buf;
	size_t		 want, got;
	const struct copy_opts *co;
};

static int
rsink_write(void *arg, const char *p, size_t n)
{
	struct rsink *k = arg;

	if (n > k->want - k->got)
		return -ESTALE;	/* more than the range: not honoured */
	if (raised(k->co))
		return -ECANCELED;
	memcpy(k->buf + k->got, p, n);
	k->got += n;
	return 0;
}

/*
 * A large object's GET as ranges of a part's size, up to inflight at
 * once, hashed and written to wfd (if >= 0) in order as each range and
 * those before it are in.  As s3_get.
 */
static int
get_ranged(struct s3 *s, const char *rel, uint64_t size, int wfd,
    unsigned char hash[JTS_HASH_LEN], const struct copy_opts *co)
{
	uint64_t psz = s->c.part_size;
	int w = s->c.inflight, nr = (int)((size + psz - 1) / psz);
	int k = 0, hashed = 0, inflight = 0, i, e = 0, x;
	struct req *slots = xcalloc((size_t)w, sizeof(*slots));
	struct rsink *ks = xcalloc((size_t)w, sizeof(*ks));
	int *range = xcalloc((size_t)w, sizeof(*range));
	bool *done = xcalloc((size_t)w, sizeof(*done));
	XXH3_state_t *xs = XXH3_createState();
	XXH128_canonical_t canon;
	char holes[S3_HOLES_MAX + 1] = "";
	bool skipped = false;
	struct req *r;

	if (xs == NULL)
		jts_oom();
	XXH3_128bits_reset(xs);
	for (i = 0; i < w; i++)
		range[i] = -1;
	while (hashed < nr && (e == 0 || inflight > 0)) {
		/* Start ranges while slots are free (kept by the pace). */
		while (e == 0 && k < nr && inflight < w) {
			uint64_t off = (uint64_t)k * psz;
			size_t n = (size_t)(size - off < psz ? size - off : psz);
			char rg[64];

			if (raised(co)) {
				snprintf(s->err, sizeof(s->err), "stopped");
				e = -ECANCELED;
				break;
			}
			/* A slot neither in flight nor waiting its turn
			 * (all taken: the next in order is still to come). */
			for (i = 0; i < w && range[i] >= 0; i++)
				;
			if (i == w)
				break;
			if (!copy_pace_ok(co, n, inflight > 0)) {
				if (inflight > 0)
					break;
				continue;
			}
			if (ks[i].buf == NULL)
				ks[i].buf = xmalloc(psz);
			ks[i].want = n;
			ks[i].got = 0;
			ks[i].co = co;
			req_init(s, &slots[i], "GET", rel, NULL);
			snprintf(rg, sizeof(rg), "bytes=%" PRIu64 "-%" PRIu64,
			    off, off + n - 1);
			req_header(&slots[i], "Range: %s", rg);
			slots[i].sink = rsink_write;
			slots[i].sink_arg = &ks[i];
			req_start(&slots[i]);
			range[i] = k++;
			done[i] = false;
			inflight++;
		}
		if (inflight == 0)
			break;
		if ((r = req_next(s)) == NULL) {
			snprintf(s->err, sizeof(s->err), "GET: the requests "
			    "were lost");
			for (i = 0; i < w; i++)
				if (range[i] >= 0 && !done[i]) {
					curl_multi_remove_handle(s->m,
					    slots[i].h);
					req_free(&slots[i]);
					range[i] = -1;
				}
			e = -EIO;
			break;
		}
		i = (int)(r - slots);
		done[i] = true;
		inflight--;
		if (e == 0) {
			x = req_judge(r, "GET");

			if (x == 0 && r->status != 206) {
				snprintf(s->err, sizeof(s->err), "GET: the "
				    "server did not answer a range (HTTP %ld)",
				    r->status);
				x = -EPROTO;
			} else if (x == 0 && ks[i].got != ks[i].want) {
				snprintf(s->err, sizeof(s->err), "GET: %zu bytes "
				    "at %" PRIu64 ", not %zu", ks[i].got,
				    (uint64_t)range[i] * psz, ks[i].want);
				x = -ESTALE;
			} else if (x == -ESTALE)
				snprintf(s->err, sizeof(s->err), "GET: longer "
				    "than %" PRIu64 " bytes", size);
			e = x;
			if (x == 0 && holes[0] == '\0')
				memcpy(holes, r->holes, sizeof(holes));
		}
		req_free(r);
		/* Hash and write, in order, what is in. */
		for (;;) {
			for (i = 0; i < w && range[i] != hashed; i++)
				;
			if (i == w || !done[i])
				break;
			if (e == 0) {
				XXH3_128bits_update(xs, ks[i].buf, ks[i].got);
				if (wfd >= 0 && (x = write_sparse(wfd,
				    (const char *)ks[i].buf, ks[i].got,
				    (uint64_t)hashed * psz, holes,
				    &skipped)) != 0) {
					e = x;
					snprintf(s->err, sizeof(s->err),
					    "writing: %s", strerror(-x));
				}
				told(co, ks[i].got);
			}
			range[i] = -1;
			hashed++;
		}
		if (e != 0 && inflight == 0)
			break;
	}
	if (e == 0 && hashed != nr) {
		snprintf(s->err, sizeof(s->err), "GET: ranges lost");
		e = -EIO;
	}
	if (e == 0 && skipped && ftruncate(wfd, (off_t)size) != 0) {
		e = -errno;
		snprintf(s->err, sizeof(s->err), "writing: %s", strerror(-e));
	}
	if (e == 0) {
		XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(xs));
		memcpy(hash, canon.digest, JTS_HASH_LEN);
	}
	XXH3_freeState(xs);
	for (i = 0; i < w; i++)
		free(ks[i].buf);
	free(ks);
	free(slots);
	free(range);
	free(done);
	return e;
}

int
s3_get(struct s3 *s, const char *rel, uint64_t size, int wfd,
    unsigned char hash[JTS_HASH_LEN], const struct copy_opts *co)
{
	struct sink k;
	struct req r;
	int e;

	s->err[0] = '\0';
	if (s3_key_check(s, rel) != 0)
		return -ENOENT;
	if (size > s->c.part_size && s->c.inflight > 1)
		return get_ranged(s, rel, size, wfd, hash, co);
	get_prep(s, &r, &k, rel, size, wfd, co);
	req_start(&r);
	if (req_next(s) != &r) {
		snprintf(s->err, sizeof(s->err), "GET: the request was lost");
		XXH3_freeState(k.xs);
		e = -EIO;
	} else
		e = get_judge(&r, &k, hash);
	req_free(&r);
	return e;
}

/* --- many objects at once -------------------------------------------------- */

static void
many_failed(struct s3 *s, struct s3_many *m, int e)
{
	m->err = e;
	snprintf(m->why, sizeof(m->why), "%s", s->err[0] ? s->err :
	    strerror(-e));
}

/* The slots of requests in flight for s3_put_many and s3_get_many. */
struct slots {
	int		 n;		/* at most in flight */
	struct req	*r;
	int		*who;		/* the item in slot i, or -1 */
	unsigned char	**buf;		/* a PUT's body */
	size_t		*cap;
	unsigned char	(*md5)[16];
	struct sink	*k;		/* a GET's stream */
};

static void
slots_new(struct slots *sl, int n)
{
	int i;

	sl->n = n;
	sl->r = xcalloc((size_t)n, sizeof(*sl->r));
	sl->who = xcalloc((size_t)n, sizeof(*sl->who));
	sl->buf = xcalloc((size_t)n, sizeof(*sl->buf));
	sl->cap = xcalloc((size_t)n, sizeof(*sl->cap));
	sl->md5 = xcalloc((size_t)n, sizeof(*sl->md5));
	sl->k = xcalloc((size_t)n, sizeof(*sl->k));
	for (i = 0; i < n; i++)
		sl->who[i] = -1;
}

static int
slots_free_one(const struct slots *sl)
{
	int i;

	for (i = 0; i < sl->n && sl->who[i] >= 0; i++)
		;
	return i;
}

/* Every request still in flight is lost: each of its items fails. */
static void
slots_lost(struct s3 *s, struct slots *sl, struct s3_many *v)
{
	int i;

	snprintf(s->err, sizeof(s->err), "the requests were lost");
	for (i = 0; i < sl->n; i++) {
		if (sl->who[i] < 0)
			continue;
		curl_multi_remove_handle(s->m, sl->r[i].h);
		if (sl->k[i].xs != NULL) {
			XXH3_freeState(sl->k[i].xs);
			sl->k[i].xs = NULL;
		}
		req_free(&sl->r[i]);
		many_failed(s, &v[sl->who[i]], -EIO);
		sl->who[i] = -1;
	}
}

static void
slots_free(struct slots *sl)
{
	int i;

	for (i = 0; i < sl->n; i++)
		free(sl->buf[i]);
	free(sl->r);
	free(sl->who);
	free(sl->buf);
	free(sl->cap);
	free(sl->md5);
	free(sl->k);
}

/* What a kind of request does with one item of many. */
struct many_kind {
	bool	 paced;		/* kept to the pace before it starts */
	/* one larger than a part, run alone: 0 or -errno */
	int	(*alone)(struct s3 *, struct s3_many *);
	/* start it in slot i: 0, or -errno (not started) */
	int	(*start)(struct s3 *, struct slots *, int i, struct s3_many *);
	/* judge its finished request: 0 or -errno */
	int	(*judge)(struct req *, struct slots *, int i, struct s3_many *);
};

static int
put_alone(struct s3 *s, struct s3_many *m)
{
	int e = s3_key_check(s, m->rel);

	return e != 0 ? e : put_multi(s, m->rel, m->fd, m->size, m->meta,
	    m->hash, m->co);
}

static int
put_start(struct s3 *s, struct slots *sl, int i, struct s3_many *m)
{
	int e = s3_key_check(s, m->rel);

	if (e == 0)
		e = put_prep(s, &sl->r[i], &sl->buf[i], &sl->cap[i], m->rel,
		    m->fd, m->size, m->meta, m->hash, sl->md5[i], m->co);

	if (e == 0)
		req_start(&sl->r[i]);
	return e;
}

static int
put_done(struct req *r, struct slots *sl, int i, struct s3_many *m)
{
	int e = put_judge(r, sl->md5[i]);

	if (e == 0)
		told(m->co, m->size);
	return e;
}

static int
get_alone(struct s3 *s, struct s3_many *m)
{
	if (s3_key_check(s, m->rel) != 0)
		return -ENOENT;
	return get_ranged(s, m->rel, m->size, m->fd, m->hash, m->co);
}

static int
get_start(struct s3 *s, struct slots *sl, int i, struct s3_many *m)
{
	if (s3_key_check(s, m->rel) != 0)
		return -ENOENT;
	get_prep(s, &sl->r[i], &sl->k[i], m->rel, m->size, m->fd, m->co);
	req_start(&sl->r[i]);
	return 0;
}

static int
get_done(struct req *r, struct slots *sl, int i, struct s3_many *m)
{
	return get_judge(r, &sl->k[i], m->hash);
}

static const struct many_kind many_put = {
	true, put_alone, put_start, put_done
};
static const struct many_kind many_get = {
	false, get_alone, get_start, get_done
};

/* The n items, in order, up to inflight at once; one larger than a part
 * alone once those in flight are done (its own parts or ranges in
 * flight).  How many succeeded. */
static int
many_run(struct s3 *s, const struct many_kind *kind, struct s3_many *v,
    int n, const char *point)
{
	bool multi = s->c.inflight > 1 || kind == &many_put;
	struct slots sl;
	struct s3_many *m;
	struct req *r;
	int next = 0, inflight = 0, ok = 0, i, e;

	slots_new(&sl, s->c.inflight);
	while (next < n || inflight > 0) {
		/* Start what the slots and the pace allow, in order. */
		while (next < n && inflight < sl.n) {
			m = &v[next];
			if (m->size > s->c.part_size && multi && inflight > 0)
				break;
			if (raised(m->co))
				e = -ECANCELED;
			else if (kind->paced && !copy_pace_ok(m->co, m->size,
			    inflight > 0)) {
				if (inflight > 0)
					break;	/* held: take an answer */
				continue;	/* the pace slept */
			} else {
				jts_fault_point(point);
				jts_pause_point(point);
				s->err[0] = '\0';
				if (m->size > s->c.part_size && multi)
					e = kind->alone(s, m);
				else {
					i = slots_free_one(&sl);
					if ((e = kind->start(s, &sl, i, m)) == 0) {
						sl.who[i] = next++;
						inflight++;
						continue;
					}
				}
			}
			if (e == -ECANCELED && s->err[0] == '\0')
				snprintf(s->err, sizeof(s->err), "stopped");
			if (e == 0)
				m->err = 0, ok++;
			else
				many_failed(s, m, e);
			next++;
		}
		if (inflight == 0)
			continue;
		if ((r = req_next(s)) == NULL) {
			slots_lost(s, &sl, v);
			inflight = 0;
			continue;
		}
		i = (int)(r - sl.r);
		m = &v[sl.who[i]];
		s->err[0] = '\0';
		if ((e = kind->judge(r, &sl, i, m)) == 0)
			m->err = 0, ok++;
		else
			many_failed(s, m, e);
		req_free(r);
		sl.who[i] = -1;
		inflight--;
	}
	slots_free(&sl);
	return ok;
}

int
s3_put_many(struct s3 *s, struct s3_many *v, int n)
{
	return many_run(s, &many_put, v, n, "copy");
}

int
s3_get_many(struct s3 *s, struct s3_many *v, int n, const char *point)
{
	return many_run(s, &many_get, v, n, point);
}

/*
 * A key of a listing asked with encoding-type=url, decoded: every name
 * the server keeps reads back, even one whose bytes XML 1.0 cannot carry
 * (a control character).  NULL if it is not well-formed.
 */
static char *
key_decode(const char *enc, bool plus_is_space)
{
	char *t = xstrdup(enc), *d, *p;
	int n;

	if (plus_is_space)
		for (p = t; *p; p++)
			if (*p == '+')
				*p = ' ';
	d = curl_easy_unescape(NULL, t, 0, &n);
	free(t);
	if (d == NULL)
		return NULL;
	if ((size_t)n != strlen(d)) {
		curl_free(d);
		return NULL;	/* a NUL in it */
	}
	t = xstrdup(d);
	curl_free(d);
	return t;
}

/*
 * Each key beneath pfx (a whole key prefix) and its size, through fn
 * (0 to go on, else stop with that), asked with encoding-type=url page by
 * page.  0, fn's value, or -errno with s->err set.
 */
static int
list_keys(struct s3 *s, const char *pfx, const char *what,
    int (*fn)(void *, const char *key, uint64_t size), void *arg)
{
	char *ep = curl_easy_escape(NULL, pfx, 0), *et = NULL, *q, *key;
	const char *tok, *enc;
	uint64_t size = 0;
	struct xml x;
	struct req r;
	bool more, plus;
	int e, i;

	do {
		q = xasprintf("%s%s%sencoding-type=url&list-type=2&prefix=%s",
		    et ? "continuation-token=" : "", et ? et : "",
		    et ? "&" : "", ep ? ep : "");
		req_init(s, &r, "GET", NULL, q);
		free(q);
		e = req_run(&r, what);
		more = false;
		if (e == 0 && xml_parse(&x, r.body, r.body_len) == 0) {
			enc = xml_get(&x, "EncodingType");
			/* A '+' of a name comes as "%2B": a bare
			 * one is a space (RGW's encoding). */
			plus = true;
			/* Each Contents: Key, ..., Size (in that order). */
			for (i = 0, key = NULL; e == 0 && i < x.n; i++) {
				if (strcmp(x.name[i], "Key") == 0) {
					free(key);
					key = enc != NULL ? key_decode(
					    x.text[i], plus) :
					    xstrdup(x.text[i]);
					if (key == NULL) {
						snprintf(s->err, sizeof(s->err),
						    "%s: a key that does not "
						    "decode", what);
						e = -EPROTO;
					}
				} else if (strcmp(x.name[i], "Size") == 0 &&
				    key != NULL) {
					size = strtoull(x.text[i], NULL, 10);
					e = fn(arg, key, size);
					free(key);
					key = NULL;
				}
			}
			free(key);
			tok = xml_get(&x, "NextContinuationToken");
			more = xml_get(&x, "IsTruncated") != NULL &&
			    strcmp(xml_get(&x, "IsTruncated"), "true") == 0 &&
			    tok != NULL;
			curl_free(et);
			et = more ? curl_easy_escape(NULL, tok, 0) : NULL;
			xml_free(&x);
		} else if (e == 0) {
			xml_free(&x);
			snprintf(s->err, sizeof(s->err), "%s: the server's "
			    "answer is not readable XML", what);
			e = -EPROTO;
		}
		req_free(&r);
	} while (e == 0 && more);
	curl_free(et);
	curl_free(ep);
	return e;
}

int
s3_abort_uploads(struct s3 *s, const char *rel)
{
	char *key = s3_key(s, rel), *q, *ek, *k;
	const char *enc;
	struct xml x;
	struct req r;
	int e, i, n = 0;

	if (s3_key_check(s, rel) != 0) {
		free(key);
		return 0;	/* no upload of it can exist */
	}
	ek = curl_easy_escape(NULL, key, 0);
	q = xasprintf("encoding-type=url&prefix=%s&uploads=", ek ? ek : "");
	curl_free(ek);
	req_init(s, &r, "GET", NULL, q);
	free(q);
	e = req_run(&r, "listing unfinished uploads");
	if (e == 0 && xml_parse(&x, r.body, r.body_len) == 0) {
		enc = xml_get(&x, "EncodingType");
		/* Each Upload's Key then UploadId; only rel's own. */
		for (i = 0; i + 1 < x.n; i++) {
			if (strcmp(x.name[i], "Key") != 0 ||
			    strcmp(x.name[i + 1], "UploadId") != 0)
				continue;
			k = enc != NULL ? key_decode(x.text[i], true) :
			    xstrdup(x.text[i]);
			if (k != NULL && strcmp(k, key) == 0) {
				abort_upload(s, rel, x.text[i + 1]);
				n++;
			}
			free(k);
		}
		xml_free(&x);
	} else if (e == 0) {
		xml_free(&x);
		snprintf(s->err, sizeof(s->err), "listing unfinished uploads: "
		    "the server's answer is not readable XML");
		e = -EPROTO;
	}
	req_free(&r);
	free(key);
	return e != 0 ? e : n;
}

struct usage {
	uint64_t	 bytes, objects;
};

static int
usage_add(void *arg, const char *key, uint64_t size)
{
	struct usage *u = arg;

	(void)key;
	u->bytes += size;
	u->objects++;
	return 0;
}

int
s3_usage(struct s3 *s, uint64_t *bytes, uint64_t *objects)
{
	char *pfx = s3_key(s, "");
	struct usage u = { 0, 0 };
	int e;

	e = list_keys(s, pfx, "listing the objects", usage_add, &u);
	free(pfx);
	*bytes = u.bytes;
	*objects = u.objects;
	return e;
}

/* --- HEADs and DELETEs of many objects ------------------------------------ */

void
s3_head_many(struct s3 *s, const char *const *rel, struct s3_obj *o,
    int *res, int n)
{
	struct req *sl = xcalloc((size_t)s->c.inflight, sizeof(*sl));
	int *who = xcalloc((size_t)s->c.inflight, sizeof(*who));
	int next = 0, inflight = 0, i;
	struct req *r;

	for (i = 0; i < s->c.inflight; i++)
		who[i] = -1;
	while (next < n || inflight > 0) {
		while (next < n && inflight < s->c.inflight) {
			if (s3_key_check(s, rel[next]) != 0) {
				res[next++] = -ENOENT;
				continue;
			}
			for (i = 0; who[i] >= 0; i++)
				;
			req_init(s, &sl[i], "HEAD", rel[next], NULL);
			req_start(&sl[i]);
			who[i] = next++;
			inflight++;
		}
		if (inflight == 0)
			break;
		if ((r = req_next(s)) == NULL) {
			for (i = 0; i < s->c.inflight; i++)
				if (who[i] >= 0) {
					curl_multi_remove_handle(s->m, sl[i].h);
					req_free(&sl[i]);
					res[who[i]] = -EIO;
					who[i] = -1;
				}
			snprintf(s->err, sizeof(s->err), "HEAD: the requests "
			    "were lost");
			inflight = 0;
			continue;
		}
		i = (int)(r - sl);
		if ((res[who[i]] = req_judge(r, "HEAD")) == 0)
			o[who[i]] = r->obj;
		req_free(r);
		who[i] = -1;
		inflight--;
	}
	free(who);
	free(sl);
}

/* The text of s with XML's five special characters escaped, to f. */
static void
xml_escape(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default: fputc(*s, f); break;
		}
}

/* Can key go in an XML 1.0 document (no control character but tab,
 * newline and carriage return, which the server would read as spaces:
 * none of those either)? */
static bool
xml_carries(const char *key)
{
	const unsigned char *p;

	for (p = (const unsigned char *)key; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* A multi-object delete of n keys (that XML carries), ready in r; its
 * body in *doc (the caller frees it after the request). */
static void
delete_prep(struct s3 *s, struct req *r, char *const *key, int n, char **doc)
{
	unsigned char md5[16];
	char m64[32];
	size_t dlen;
	FILE *f;
	int i;

	f = open_memstream(doc, &dlen);
	if (f == NULL)
		jts_oom();
	fputs("<Delete><Quiet>true</Quiet>", f);
	for (i = 0; i < n; i++) {
		fputs("<Object><Key>", f);
		xml_escape(f, key[i]);
		fputs("</Key></Object>", f);
	}
	fputs("</Delete>", f);
	fclose(f);
	md5_of(*doc, dlen, md5);
	b64(md5, 16, m64);
	req_init(s, r, "POST", NULL, "delete=");
	req_body(r, *doc, dlen);
	req_header(r, "Content-MD5: %s", m64);
	req_header(r, "Content-Type: application/xml");
}

/* Judge it: res[i] 0, or -errno for each key the server did not delete
 * (quiet: only those come back, each an Error's Key and Code). */
static void
delete_judge(struct req *r, char *const *key, int n, int *res)
{
	struct s3 *s = r->s;
	const char *enc;
	struct xml x;
	int e = req_judge(r, "DELETE (many)"), i, j;
	char *k;

	for (i = 0; i < n; i++)
		res[i] = e;
	if (e != 0)
		return;
	if (xml_parse(&x, r->body, r->body_len) != 0) {
		xml_free(&x);
		for (i = 0; i < n; i++)
			res[i] = -EPROTO;
		return;
	}
	enc = xml_get(&x, "EncodingType");
	for (i = 0; i + 1 < x.n; i++) {
		if (strcmp(x.name[i], "Key") != 0 ||
		    strcmp(x.name[i + 1], "Code") != 0 ||
		    strcmp(x.text[i + 1], "NoSuchKey") == 0)
			continue;
		k = enc != NULL ? key_decode(x.text[i], true) :
		    xstrdup(x.text[i]);
		for (j = 0; k != NULL && j < n; j++)
			if (strcmp(key[j], k) == 0) {
				res[j] = -EIO;
				snprintf(s->err, sizeof(s->err), "DELETE: %.200s",
				    x.text[i + 1]);
			}
		free(k);
	}
	xml_free(&x);
}

void
s3_delete_many(struct s3 *s, const char *const *rel, int *res, int n)
{
	char **key = xcalloc((size_t)n + 1, sizeof(*key));
	int *at = xcalloc((size_t)n + 1, sizeof(*at));
	int *bres = xcalloc((size_t)n + 1, sizeof(*bres));
	int w = s->c.inflight, i, m = 0, chunk, next = 0, inflight = 0, j;
	struct req *sl = xcalloc((size_t)w, sizeof(*sl));
	char **doc = xcalloc((size_t)w, sizeof(*doc));
	int *from = xcalloc((size_t)w, sizeof(*from));
	int *cnt = xcalloc((size_t)w, sizeof(*cnt));
	struct req *r;

	for (i = 0; i < n; i++) {
		char *k;

		if (s3_key_check(s, rel[i]) != 0) {
			res[i] = 0;	/* no object can have that key */
			continue;
		}
		k = s3_key(s, rel[i]);
		if (!xml_carries(k)) {
			free(k);	/* a key XML cannot carry goes alone */
			res[i] = s3_delete(s, rel[i]);
			continue;
		}
		key[m] = k;
		at[m++] = i;
	}
	/* The requests of up to 1,000 keys, spread over what may be in
	 * flight (the server deletes a request's keys one after another). */
	chunk = (m + w - 1) / w;
	if (chunk > 1000)
		chunk = 1000;
	if (chunk < 1)
		chunk = 1;
	while (next < m || inflight > 0) {
		while (next < m && inflight < w) {
			for (j = 0; doc[j] != NULL; j++)
				;
			from[j] = next;
			cnt[j] = m - next < chunk ? m - next : chunk;
			delete_prep(s, &sl[j], key + next, cnt[j], &doc[j]);
			req_start(&sl[j]);
			next += cnt[j];
			inflight++;
		}
		if ((r = req_next(s)) == NULL) {
			for (j = 0; j < w; j++) {
				if (doc[j] == NULL)
					continue;
				curl_multi_remove_handle(s->m, sl[j].h);
				req_free(&sl[j]);
				for (i = 0; i < cnt[j]; i++)
					bres[from[j] + i] = -EIO;
				free(doc[j]);
				doc[j] = NULL;
			}
			snprintf(s->err, sizeof(s->err), "DELETE: the requests "
			    "were lost");
			inflight = 0;
			continue;
		}
		j = (int)(r - sl);
		delete_judge(r, key + from[j], cnt[j], bres + from[j]);
		req_free(r);
		free(doc[j]);
		doc[j] = NULL;
		inflight--;
	}
	for (i = 0; i < m; i++) {
		res[at[i]] = bres[i];
		free(key[i]);
	}
	free(cnt);
	free(from);
	free(doc);
	free(sl);
	free(key);
	free(at);
	free(bres);
}

/* --- the claim of a prefix ------------------------------------------------- */

#define CLAIMS	"/claims/"	/* beneath .jts-tier/ */

struct claim_scan {
	const char	*mine;		/* the prefix */
	size_t		 skip;		/* of a key: ".jts-tier/claims/" */
	bool		 held;		/* mine is claimed */
	char		*other;		/* a prefix in or around mine */
};

static int
claim_seen(void *arg, const char *key, uint64_t size)
{
	struct claim_scan *cs = arg;
	const char *p = key + cs->skip;
	size_t a, b;

	(void)size;
	if (strlen(key) < cs->skip)
		return 0;
	if (strcmp(p, cs->mine) == 0) {
		cs->held = true;
		return 0;
	}
	a = strlen(p);
	b = strlen(cs->mine);
	if ((a < b && strncmp(cs->mine, p, a) == 0 && cs->mine[a] == '/') ||
	    (b < a && strncmp(p, cs->mine, b) == 0 && p[b] == '/')) {
		free(cs->other);
		cs->other = xstrdup(p);
	}
	return 0;
}

/* Who holds the claim of prefix p (its HEAD), in words, into out. */
static void
claim_who(struct s3 *s, const char *p, char *out, size_t len)
{
	char *rel = xasprintf(CLAIMS "%s", p);
	struct s3_obj o;
	struct req r;
	int e;

	memset(&o, 0, sizeof(o));
	req_init(s, &r, "HEAD", rel, NULL);
	if ((e = req_run(&r, "HEAD claim")) == 0)
		o = r.obj;
	req_free(&r);
	free(rel);
	if (e != 0)
		snprintf(out, len, "another catalog");
	else
		snprintf(out, len, "catalog %s of host %s%s%s", o.catalog[0] ?
		    o.catalog : "?", o.claim_host[0] ? o.claim_host : "?",
		    o.claim_machine[0] ? ", machine-id " : "",
		    o.claim_machine);
}

/* Write the claim of the prefix as this catalog's (cond: only if there
 * is none).  0, -EEXIST (there is one), or -errno. */
static int
claim_put(struct s3 *s, bool cond)
{
	const struct s3_owner *o = &s->c.owner;
	char *rel = xasprintf(CLAIMS "%s", s->c.prefix), *body, m64[32];
	unsigned char md5[16];
	struct req r;
	time_t now = time(NULL);
	struct tm tm;
	char since[32];
	int e;

	gmtime_r(&now, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	body = xasprintf("jts-tier claim: the objects beneath this prefix "
	    "are one catalog's; no other catalog may use it, or a prefix in "
	    "it or around it.\nprefix = %s\ncatalog = %s\nhost = %s\n"
	    "machine = %s\nsince = %s\n", s->c.prefix, o->catalog, o->host,
	    o->machine, since);
	md5_of(body, strlen(body), md5);
	b64(md5, 16, m64);
	req_init(s, &r, "PUT", rel, NULL);
	req_body(&r, body, strlen(body));
	req_header(&r, "Content-MD5: %s", m64);
	req_header(&r, "Content-Type: text/plain");
	if (cond)
		req_header(&r, "If-None-Match: *");
	req_header(&r, "x-amz-meta-jts-catalog: %s", o->catalog);
	req_header(&r, "x-amz-meta-jts-host: %s", o->host);
	req_header(&r, "x-amz-meta-jts-machine: %s", o->machine);
	e = req_run(&r, "PUT claim");
	req_free(&r);
	free(body);
	free(rel);
	return e;
}

int
s3_claim(struct s3 *s, bool make, bool take_over, char *taken)
{
	const struct s3_owner *me = &s->c.owner;
	char who[300], *rel;
	struct claim_scan cs;
	struct s3_obj o;
	bool made = false;
	int e, tries;

	if (me->catalog == NULL)
		return 0;	/* reads only: nothing to claim */
	for (tries = 0; tries < 3; tries++) {
		char *pfx = s3_key(s, CLAIMS);

		memset(&cs, 0, sizeof(cs));
		cs.mine = s->c.prefix;
		cs.skip = strlen(pfx);
		e = list_keys(s, pfx, "listing the claims", claim_seen, &cs);
		free(pfx);
		if (e != 0) {
			free(cs.other);
			return e;
		}
		if (cs.other != NULL) {
			char keep[sizeof(s->err)];

			/* Both made theirs at once: ours goes. */
			if (made) {
				rel = xasprintf(CLAIMS "%s", s->c.prefix);
				memcpy(keep, s->err, sizeof(keep));
				(void)s3_delete(s, rel);
				memcpy(s->err, keep, sizeof(keep));
				free(rel);
			}
			claim_who(s, cs.other, who, sizeof(who));
			snprintf(s->err, sizeof(s->err), "prefix %.200s %s "
			    "prefix %.200s, claimed by %s: two catalogs on nested "
			    "prefixes would count, check and delete each "
			    "other's objects; give this tier a prefix beside "
			    "it", s->c.prefix, strlen(cs.other) <
			    strlen(s->c.prefix) ? "lies beneath" : "encloses",
			    cs.other, who);
			free(cs.other);
			return -EEXIST;
		}
		if (!cs.held) {
			if (!make)
				return 0;
			e = claim_put(s, true);
			if (e == -EEXIST)
				continue;	/* claimed meanwhile: look */
			if (e != 0)
				return e;
			made = true;
			continue;	/* look again: a nested one meanwhile? */
		}
		rel = xasprintf(CLAIMS "%s", s->c.prefix);
		memset(&o, 0, sizeof(o));
		{
			struct req r;

			req_init(s, &r, "HEAD", rel, NULL);
			if ((e = req_run(&r, "HEAD claim")) == 0)
				o = r.obj;
			req_free(&r);
		}
		free(rel);
		if (e == -ENOENT)
			continue;	/* released meanwhile */
		if (e != 0)
			return e;
		if (strcmp(o.catalog, me->catalog) == 0) {
			/* Ours; on another machine, a copy of the catalog. */
			if (o.claim_machine[0] && me->machine[0] &&
			    strcmp(o.claim_machine, me->machine) != 0) {
				if (!take_over) {
					snprintf(s->err, sizeof(s->err),
					    "prefix %s is claimed by this same "
					    "catalog (%s) on another machine "
					    "(host %s, machine-id %s): a copy "
					    "of the catalog (a cloned host?) "
					    "must not share its prefix; give "
					    "one of them a prefix of its own, "
					    "or take it over here with "
					    "'jts-tierctl claim --take-over' "
					    "if the other is gone",
					    s->c.prefix, o.catalog,
					    o.claim_host, o.claim_machine);
					return -EEXIST;
				}
				return claim_put(s, false);
			}
			return 0;
		}
		if (o.catalog[0] && in_list(me->adopted, o.catalog))
			return claim_put(s, false);	/* we took it over */
		if (take_over) {
			if (taken != NULL)
				snprintf(taken, 40, "%s", o.catalog);
			snprintf(s->err, sizeof(s->err), "prefix %s: catalog "
			    "%s to be taken over", s->c.prefix, o.catalog);
			return -EAGAIN;	/* adopt it, then call again */
		}
		snprintf(s->err, sizeof(s->err), "prefix %s of bucket %s is "
		    "claimed by catalog %s (host %s%s%s): two catalogs on one "
		    "prefix would delete each other's copies; give this tier "
		    "a prefix = of its own, or, if this catalog replaces that "
		    "one (rebuilt, the host reinstalled), take the prefix over "
		    "with 'jts-tierctl claim --take-over TIER'", s->c.prefix,
		    s->c.bucket, o.catalog[0] ? o.catalog : "?",
		    o.claim_host[0] ? o.claim_host : "?",
		    o.claim_machine[0] ? ", machine-id " : "",
		    o.claim_machine);
		return -EEXIST;
	}
	snprintf(s->err, sizeof(s->err), "prefix %s: the claim kept "
	    "changing under this host; try again", s->c.prefix);
	return -EAGAIN;
}
