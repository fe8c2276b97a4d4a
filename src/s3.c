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
	char		 err[512];
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
	free(s->userpwd);
	free(s->sigv4);
	free(s);
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

	return *p ? xasprintf("%s%s%s", p, p[strlen(p) - 1] == '/' ? "" : "/",
	    rel) : xstrdup(rel);
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

static int
xml_parse(struct xml *x, const char *body, size_t len)
{
	XML_Parser p = XML_ParserCreate(NULL);
	int r;

	memset(x, 0, sizeof(*x));
	if (p == NULL)
		return -ENOMEM;
	XML_SetUserData(p, x);
	XML_SetElementHandler(p, xml_start, xml_end);
	XML_SetCharacterDataHandler(p, xml_text);
	r = XML_Parse(p, body ? body : "", (int)len, 1) == XML_STATUS_OK ?
	    0 : -EPROTO;
	XML_ParserFree(p);
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
		x.n = 0;
		x.name = x.text = NULL;
		x.cur = NULL;
		snprintf(s->err, sizeof(s->err), "%s: HTTP %ld", what,
		    r->status);
	}
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

	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got,
		    (off_t)(off + got));
		if (n < 0 && errno == EINTR)
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
meta_headers(struct req *r, int64_t id, int64_t mtime_ns,
    const unsigned char *hash)
{
	char hex[33];

	req_header(r, "x-amz-meta-jts-id: %" PRId64, id);
	req_header(r, "x-amz-meta-jts-mtime: %" PRId64, mtime_ns);
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
    const char *rel, int fd, uint64_t size, int64_t id, int64_t mtime_ns,
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
	meta_headers(r, id, mtime_ns, hash);
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
put_one(struct s3 *s, const char *rel, int fd, uint64_t size, int64_t id,
    int64_t mtime_ns, unsigned char hash[JTS_HASH_LEN],
    const struct copy_opts *co)
{
	unsigned char md5[16], *buf = NULL;
	size_t cap = 0;
	struct req r;
	int e;

	while (!copy_pace_ok(co, size, false))
		if (raised(co))
			break;
	e = put_prep(s, &r, &buf, &cap, rel, fd, size, id, mtime_ns, hash,
	    md5, co);
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
put_multi(struct s3 *s, const char *rel, int fd, uint64_t size, int64_t id,
    int64_t mtime_ns, unsigned char hash[JTS_HASH_LEN],
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
	meta_headers(&init, id, mtime_ns, hash);
	req_body(&init, "", 0);
	e = req_run(&init, "starting the upload");
	if (e == 0 && (xml_parse(&x, init.body, init.body_len) != 0 ||
	    xml_get(&x, "UploadId") == NULL)) {
		snprintf(s->err, sizeof(s->err), "starting the upload: no "
		    "UploadId in the answer");
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
	char rel[64], keep[sizeof(s->err)];
	struct req r;
	int i, e = 0, k;

	if (s->cond != 0)
		return s->cond > 0;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return false;
	k = snprintf(rel, sizeof(rel), ".jts-tier-probe-");
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
s3_put(struct s3 *s, const char *rel, int fd, uint64_t size, int64_t id,
    int64_t mtime_ns, unsigned char hash[JTS_HASH_LEN],
    const struct copy_opts *co)
{
	s->err[0] = '\0';
	if (size <= s->c.part_size)
		return put_one(s, rel, fd, size, id, mtime_ns, hash, co);
	return put_multi(s, rel, fd, size, id, mtime_ns, hash, co);
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

/* A GET's stream: written to the file at its offset and hashed. */
struct sink {
	XXH3_state_t	*xs;
	int		 fd;
	uint64_t	 off, size;
	const struct copy_opts *co;
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
	if (k->fd >= 0 && (e = pwrite_full(k->fd, p, n, k->off)) != 0)
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
				if (wfd >= 0 && (x = pwrite_full(wfd, ks[i].buf,
				    ks[i].got, (uint64_t)hashed * psz)) != 0) {
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
	return put_multi(s, m->rel, m->fd, m->size, m->id, m->mtime_ns,
	    m->hash, m->co);
}

static int
put_start(struct s3 *s, struct slots *sl, int i, struct s3_many *m)
{
	int e = put_prep(s, &sl->r[i], &sl->buf[i], &sl->cap[i], m->rel,
	    m->fd, m->size, m->id, m->mtime_ns, m->hash, sl->md5[i], m->co);

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
	return get_ranged(s, m->rel, m->size, m->fd, m->hash, m->co);
}

static int
get_start(struct s3 *s, struct slots *sl, int i, struct s3_many *m)
{
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

int
s3_abort_uploads(struct s3 *s, const char *rel)
{
	char *key = s3_key(s, rel), *q, *ek;
	struct xml x;
	struct req r;
	int e, i, n = 0;

	ek = curl_easy_escape(NULL, key, 0);
	q = xasprintf("prefix=%s&uploads=", ek ? ek : "");
	curl_free(ek);
	req_init(s, &r, "GET", NULL, q);
	free(q);
	e = req_run(&r, "listing unfinished uploads");
	if (e == 0 && xml_parse(&x, r.body, r.body_len) == 0) {
		/* Each Upload's Key then UploadId; only rel's own. */
		for (i = 0; i + 1 < x.n; i++)
			if (strcmp(x.name[i], "Key") == 0 &&
			    strcmp(x.text[i], key) == 0 &&
			    strcmp(x.name[i + 1], "UploadId") == 0) {
				abort_upload(s, rel, x.text[i + 1]);
				n++;
			}
		xml_free(&x);
	} else if (e == 0)
		e = -EPROTO;
	req_free(&r);
	free(key);
	return e != 0 ? e : n;
}

int
s3_usage(struct s3 *s, uint64_t *bytes, uint64_t *objects)
{
	char *pfx = s3_key(s, ""), *ep, *et = NULL, *q;
	const char *tok;
	struct xml x;
	struct req r;
	bool more;
	int e, i;

	*bytes = *objects = 0;
	ep = curl_easy_escape(NULL, pfx, 0);
	do {
		q = xasprintf("%s%s%slist-type=2&prefix=%s",
		    et ? "continuation-token=" : "", et ? et : "",
		    et ? "&" : "", ep ? ep : "");
		req_init(s, &r, "GET", NULL, q);
		free(q);
		e = req_run(&r, "listing the objects");
		more = false;
		if (e == 0 && xml_parse(&x, r.body, r.body_len) == 0) {
			for (i = 0; i < x.n; i++)
				if (strcmp(x.name[i], "Size") == 0) {
					*bytes += strtoull(x.text[i], NULL, 10);
					(*objects)++;
				}
			tok = xml_get(&x, "NextContinuationToken");
			more = xml_get(&x, "IsTruncated") != NULL &&
			    strcmp(xml_get(&x, "IsTruncated"), "true") == 0 &&
			    tok != NULL;
			curl_free(et);
			et = more ? curl_easy_escape(NULL, tok, 0) : NULL;
			xml_free(&x);
		} else if (e == 0)
			e = -EPROTO;
		req_free(&r);
	} while (e == 0 && more);
	curl_free(et);
	curl_free(ep);
	free(pfx);
	return e;
}
