/* util.c - messages, paths and small helpers shared by every module */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util.h"

const char *jts_progname = "jts-tier";
int jts_verbose;
void (*jts_log_hook)(int prio, const char *msg);

static void
vmsg(const char *level, const char *fmt, va_list ap)
{
	char buf[4096];
	int prio = 6;	/* LOG_INFO */

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (jts_log_hook != NULL) {
		if (level != NULL)
			prio = level[0] == 'e' ? 3 : level[0] == 'w' ? 4 :
			    level[0] == 'd' ? 7 : 5;
		jts_log_hook(prio, buf);
		return;
	}
	if (level != NULL)
		fprintf(stderr, "%s: %s: %s\n", jts_progname, level, buf);
	else
		fprintf(stderr, "%s: %s\n", jts_progname, buf);
}

/* Print an error for the person who ran the command. */
void
jts_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("error", fmt, ap);
	va_end(ap);
}

/* Print a warning. */
void
jts_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning", fmt, ap);
	va_end(ap);
}

/* Print an informational line when verbose. */
void
jts_info(const char *fmt, ...)
{
	va_list ap;

	if (jts_verbose < 1)
		return;
	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
}

/* A line the daemon always logs (a move, a policy run); stderr otherwise. */
void
jts_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("notice", fmt, ap);
	va_end(ap);
}

/* Print a debugging line when very verbose. */
void
jts_debug(const char *fmt, ...)
{
	va_list ap;

	if (jts_verbose < 2)
		return;
	va_start(ap, fmt);
	vmsg("debug", fmt, ap);
	va_end(ap);
}

void
jts_oom(void)
{
	fprintf(stderr, "%s: out of memory\n", jts_progname);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		jts_oom();
	return p;
}

void *
xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (p == NULL)
		jts_oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		jts_oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		jts_oom();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		jts_oom();
	va_end(ap);
	return p;
}

/*
 * Length of the valid UTF-8 sequence at s, or 0 if it is not one; its
 * code point in *cp (may be NULL).
 */
static size_t
utf8_seq(const unsigned char *s, uint32_t *cp)
{
	size_t n, i;
	uint32_t c;

	if (s[0] < 0x80) {
		c = s[0];
		n = 1;
		goto out;
	}
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, c = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, c = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
	    (n == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
out:
	if (cp != NULL)
		*cp = c;
	return n;
}

/*
 * Characters a terminal or a log reader must not get as they are: C1
 * controls (U+0080-U+009F, a CSI among them), and the marks and overrides
 * that reorder or hide text (bidi embeddings and isolates, line and
 * paragraph separators, the byte order mark).
 */
static bool
hidden_cp(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200b ||
	    c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

#define Q_FIELD	0x01	/* a key=value field: quoted where it could forge */
#define Q_TEXT	0x02	/* text of lines: newlines, tabs, backslashes kept */

/*
 * Escape s into out (size bytes, at least 11; a longer result is cut and
 * ends in '~'): C0 and C1 controls, DEL, hidden characters and invalid
 * UTF-8 bytes become escapes, and backslash too unless Q_TEXT.  With
 * Q_FIELD it is put in double quotes if it is empty or holds a blank, a
 * quote or '=', so a name cannot forge another field.
 */
static void
quote_into(char *out, size_t size, const char *s, int how)
{
	const unsigned char *p = (const unsigned char *)s;
	bool q = false, text = how & Q_TEXT;
	size_t o = 0, k;
	uint32_t c;

	if (how & Q_FIELD) {
		q = *p == '\0' || strpbrk(s, " \"=") != NULL;
		if (q)
			out[o++] = '"';
	}
	for (; *p && o + 10 < size; p += k) {
		if ((k = utf8_seq(p, &c)) == 0) {
			o += (size_t)snprintf(out + o, 5, "\\%03o", *p);
			k = 1;
		} else if ((k > 1 && hidden_cp(c)) || (text && ((c < 0x20 &&
		    c != '\n' && c != '\t') || c == 0x7f)))
			o += (size_t)snprintf(out + o, 7, "\\u%04x",
			    (unsigned)c);
		else if (text) {
			memcpy(out + o, p, k);
			o += k;
		} else if (c == '\n' || c == '\t') {
			out[o++] = '\\';
			out[o++] = c == '\n' ? 'n' : 't';
		} else if (c == '\\' || (q && c == '"')) {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, 5, "\\%03o", c);
		else {
			memcpy(out + o, p, k);
			o += k;
		}
	}
	if (*p)
		out[o++] = '~';
	if (q)
		out[o++] = '"';
	out[o] = '\0';
}

/* quote_into on one of four rotating static buffers (per thread). */
static const char *
quote_rotating(const char *s, int how)
{
	static __thread char bufs[4][1024];
	static __thread int next;
	char *out = bufs[next++ & 3];

	quote_into(out, sizeof(bufs[0]), s, how);
	return out;
}

/* Quote a path for a message; returns one of four rotating static buffers. */
const char *
jts_quote(const char *path)
{
	return path == NULL ? "(null)" : quote_rotating(path, 0);
}

const char *
jts_quote_field(const char *s)
{
	return s == NULL ? "-" : quote_rotating(s, Q_FIELD);
}

char *
jts_text_safe(const char *s)
{
	/* Six bytes at most for one, and room for quote_into's margin. */
	size_t size = strlen(s) * 6 + 11;
	char *out = xmalloc(size);

	quote_into(out, size, s, Q_TEXT);
	return out;
}

/* Make path absolute against the working directory and fold . and .. */
char *
jts_path_abs(const char *path)
{
	char *cwd = NULL, *full, *out;
	size_t o = 0, n;
	const char *p, *q;

	/* As open(2): an empty path names nothing (not the directory). */
	if (*path == '\0') {
		errno = ENOENT;
		return NULL;
	}

	if (path[0] != '/') {
		if ((cwd = getcwd(NULL, 0)) == NULL)
			return NULL;
		full = jts_path_join(cwd, path);
		free(cwd);
	} else
		full = xstrdup(path);
	n = strlen(full);
	out = xmalloc(n + 2);
	for (p = full; *p; p = q) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		for (q = p; *q && *q != '/'; q++)
			;
		if (q - p == 1 && p[0] == '.')
			continue;
		if (q - p == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, p, (size_t)(q - p));
		o += (size_t)(q - p);
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	free(full);
	return out;
}

/* Return the part of path below root, or NULL if path is not beneath it. */
const char *
jts_path_beneath(const char *root, const char *path)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 1 && root[0] == '/')
		return path[0] == '/' ? path + 1 : NULL;
	if (strncmp(root, path, n) != 0)
		return NULL;
	if (path[n] == '\0')
		return path + n;
	if (path[n] != '/')
		return NULL;
	return path + n + 1;
}

char *
jts_path_join(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (*b == '\0')
		return xstrdup(a);
	if (n > 0 && a[n - 1] == '/')
		return xasprintf("%s%s", a, b);
	return xasprintf("%s/%s", a, b);
}

/* Parse durations such as 90s, 15m, 12h, 30d, 2w (seconds when bare). */
int
jts_parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mul = 1;

	errno = 0;
	if (*s == '-' || *s == '\0')
		return -EINVAL;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	case 'w':
		mul = 7 * 86400;
		break;
	default:
		return -EINVAL;
	}
	if (*end != '\0' && end[1] != '\0')
		return -EINVAL;
	if (v > INT64_MAX / mul / 1000000000)
		return -ERANGE;
	*out = (int64_t)v * mul;
	return 0;
}

/* Format seconds for people: "3d 4h", "12m", "45s". */
const char *
jts_fmt_duration(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%" PRId64 "d %" PRId64 "h", s / 86400,
		    s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%" PRId64 "h %" PRId64 "m", s / 3600,
		    s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	else
		snprintf(buf, len, "%" PRId64 "s", s);
	return buf;
}

int
jts_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	if (*s == '-' || *s == '\0')
		return -EINVAL;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1ULL << 10;
		end++;
		break;
	case 'm': case 'M':
		mul = 1ULL << 20;
		end++;
		break;
	case 'g': case 'G':
		mul = 1ULL << 30;
		end++;
		break;
	case 't': case 'T':
		mul = 1ULL << 40;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && mul > 1)
		end++;
	if ((*end == 'B' || *end == 'b') && mul >= 1)
		end++;
	if (*end != '\0')
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

const char *
jts_fmt_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

void
jts_hash_hex(const unsigned char h[JTS_HASH_LEN], char out[33])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < JTS_HASH_LEN; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[32] = '\0';
}

int64_t
jts_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
jts_ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

int64_t
jts_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
jts_fault_point(const char *name)
{
	static const char *spec;
	static int init;
	static long count;
	const char *colon;
	size_t n;
	long want = 1;

	if (!init) {
		spec = jts_test_knob("JTS_TIER_FAULT");
		init = 1;
	}
	if (spec == NULL || *spec == '\0')
		return;
	colon = strchr(spec, ':');
	n = colon ? (size_t)(colon - spec) : strlen(spec);
	if (strlen(name) != n || strncmp(spec, name, n) != 0)
		return;
	if (colon)
		want = strtol(colon + 1, NULL, 10);
	if (++count == want) {
		fprintf(stderr, "%s: fault point %s reached, killing self\n",
		    jts_progname, name);
		raise(SIGKILL);
	}
}

/* Create the missing directories above path, one level at a time. */
void
jts_mkdir_parents(const char *path, mode_t mode)
{
	char *p = xstrdup(path), *s;

	for (s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		(void)mkdir(p, mode);
		*s = '/';
	}
	free(p);
}

int
jts_fault_errno(const char *name)
{
	static const char *spec;
	static int init;
	static long count;
	static int (*sweep)(const char *);
	const char *p;
	size_t n;
	long err, want = 1;
	int r;
	char *end;

	if (!init) {
		spec = jts_test_knob("JTS_TIER_FAIL");
		/* The test suite's system call sweep (tests/faultshim.c). */
#ifdef JTS_TEST_HOOKS
		*(void **)&sweep = dlsym(RTLD_DEFAULT, "jts_sweep_hit");
#endif
		init = 1;
	}
	if (sweep != NULL && strcmp(name, "corrupt") != 0 &&
	    (r = sweep(name)) != 0)
		return r;
	if (spec == NULL || *spec == '\0')
		return 0;
	n = strlen(name);
	if (strncmp(spec, name, n) != 0 || spec[n] != ':')
		return 0;
	p = spec + n + 1;
	err = strtol(p, &end, 10);
	if (*end == ':')
		want = strtol(end + 1, NULL, 10);
	if (++count != want || err <= 0)
		return 0;
	fprintf(stderr, "%s: injecting error %ld at %s\n", jts_progname, err,
	    name);
	return (int)-err;
}

void
jts_pause_point(const char *name)
{
	const char *spec = jts_test_knob("JTS_TIER_PAUSE");
	size_t n = strlen(name);
	struct timespec ts;
	long ms;

	if (spec == NULL || strncmp(spec, name, n) != 0 || spec[n] != ':')
		return;
	ms = strtol(spec + n + 1, NULL, 10);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
jts_json_add_path(json_object *o, const char *key, const char *path)
{
	const unsigned char *p = (const unsigned char *)path;
	size_t len = strlen(path), i, k;
	char *lossy, *hex, *hk;
	bool valid = true;

	for (i = 0; i < len; i += k)
		if ((k = utf8_seq(p + i, NULL)) == 0) {
			valid = false;
			break;
		}
	if (valid) {
		json_object_object_add(o, key, json_object_new_string(path));
		return;
	}
	/* JSON is UTF-8: a readable form, and the exact bytes in hex. */
	lossy = xmalloc(len * 3 + 1);
	hex = xmalloc(len * 2 + 1);
	for (i = 0, k = 0; i < len;) {
		size_t n = utf8_seq(p + i, NULL);

		if (n == 0) {
			memcpy(lossy + k, "\xef\xbf\xbd", 3);	/* U+FFFD */
			k += 3;
			i++;
		} else {
			memcpy(lossy + k, p + i, n);
			k += n;
			i += n;
		}
	}
	lossy[k] = '\0';
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", p[i]);
	hk = xasprintf("%s_hex", key);
	json_object_object_add(o, key, json_object_new_string(lossy));
	json_object_object_add(o, hk, json_object_new_string(hex));
	free(hk);
	free(lossy);
	free(hex);
}

const char *
jts_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
jts_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

char *
jts_read_file(const char *path, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			free(buf);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

int
jts_outfile_open(struct jts_outfile *of, const char *path, mode_t mode)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	uint32_t rnd;
	int fd = -1, i, r;

	memset(of, 0, sizeof(*of));
	of->dfd = -1;
	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		jts_oom();
	of->base = xstrdup(slash ? slash + 1 : path);
	if (*of->base == '\0' || strcmp(of->base, ".") == 0 ||
	    strcmp(of->base, "..") == 0) {
		r = -EISDIR;
		goto fail;
	}
	of->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	dir = NULL;
	if (of->dfd < 0) {
		r = -errno;
		goto fail;
	}
	for (i = 0; i < 64 && fd < 0; i++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)jts_mono_ns() ^ (uint32_t)getpid();
		free(of->tmp);
		of->tmp = xasprintf(".%.200s.%08x.tmp", of->base, rnd);
		fd = openat(of->dfd, of->tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			r = -errno;
			free(of->tmp);
			of->tmp = NULL;
			goto fail;
		}
	}
	if (fd < 0) {
		r = -EEXIST;
		free(of->tmp);
		of->tmp = NULL;
		goto fail;
	}
	if (fchmod(fd, mode) != 0 || (of->fp = fdopen(fd, "w")) == NULL) {
		r = -errno;
		close(fd);
		goto fail;
	}
	return 0;
fail:
	free(dir);
	jts_outfile_abort(of);
	return r;
}

int
jts_outfile_commit(struct jts_outfile *of)
{
	int r = 0;

	if (fflush(of->fp) != 0 || ferror(of->fp))
		r = -(errno ? errno : EIO);
	else if (fsync(fileno(of->fp)) != 0)
		r = -errno;
	if (fclose(of->fp) != 0 && r == 0)
		r = -errno;
	of->fp = NULL;
	if (r == 0 && renameat(of->dfd, of->tmp, of->dfd, of->base) != 0)
		r = -errno;
	if (r == 0) {
		free(of->tmp);
		of->tmp = NULL;
		(void)fsync(of->dfd);
	}
	jts_outfile_abort(of);
	return r;
}

void
jts_outfile_abort(struct jts_outfile *of)
{
	if (of->fp != NULL)
		fclose(of->fp);
	if (of->tmp != NULL && of->dfd >= 0)
		(void)unlinkat(of->dfd, of->tmp, 0);
	if (of->dfd >= 0)
		close(of->dfd);
	free(of->tmp);
	free(of->base);
	memset(of, 0, sizeof(*of));
	of->dfd = -1;
}

#ifdef JTS_TEST_HOOKS
const char *
jts_test_knob(const char *name)
{
	return getenv(name);
}
#endif

bool
jts_xattr_in(const char *name, const char *skip)
{
	return skip != NULL && strncmp(name, skip, strlen(skip)) == 0;
}

int
jts_xattr_count(int fd, const char *skip)
{
	char *names, *n;
	ssize_t nl;
	int count = 0;

	if ((nl = flistxattr(fd, NULL, 0)) <= 0)
		return nl < 0 && errno != ENOTSUP ? -errno : 0;
	names = xmalloc((size_t)nl);
	if ((nl = flistxattr(fd, names, (size_t)nl)) < 0) {
		free(names);
		return -errno;
	}
	for (n = names; n < names + nl; n += strlen(n) + 1)
		if (!jts_xattr_in(n, skip))
			count++;
	free(names);
	return count;
}

int
jts_xattr_copy(int sfd, int dfd, const char *skip, const char *skip2,
    char *why, size_t len)
{
	char *names = NULL, *val = NULL, *n;
	ssize_t nl, vl;
	size_t vcap = 0;
	int r = 0;

	nl = flistxattr(sfd, NULL, 0);
	if (nl > 0) {
		names = xmalloc((size_t)nl);
		nl = flistxattr(sfd, names, (size_t)nl);
	}
	if (nl < 0) {
		r = errno == ENOTSUP ? 0 : -errno;
		if (r != 0)
			snprintf(why, len, "list xattrs: %s", strerror(errno));
		free(names);
		return r;
	}
	for (n = names; nl > 0 && n < names + nl; n += strlen(n) + 1) {
		if (jts_xattr_in(n, skip) || jts_xattr_in(n, skip2))
			continue;
		vl = fgetxattr(sfd, n, NULL, 0);
		if (vl >= 0 && (size_t)vl + 1 > vcap) {
			vcap = (size_t)vl + 1;
			val = xrealloc(val, vcap);
		}
		if (vl >= 0)
			vl = fgetxattr(sfd, n, val, vcap);
		if (vl < 0 || fsetxattr(dfd, n, val, (size_t)vl, 0) != 0) {
			r = -errno;
			snprintf(why, len, "xattr %s: %s", n, strerror(errno));
			break;
		}
	}
	free(names);
	free(val);
	return r;
}

int
jts_set_size(int fd, off_t size)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (st.st_size != size && ftruncate(fd, size) != 0)
		return -errno;
	return 0;
}

static size_t
idset_slot(const struct jts_idset *s, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 32 |
	    (uint64_t)dev >> 32)) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 17) & (s->cap - 1);
}

bool
jts_idset_add(struct jts_idset *s, dev_t dev, ino_t ino)
{
	size_t i, k, ocap = s->cap;
	struct jts_id *ov = s->v;

	if (ino == 0)
		ino = (ino_t)-1;	/* 0 marks a free slot */
	if (2 * (s->n + 1) > s->cap) {
		s->cap = ocap ? 2 * ocap : 256;
		s->v = xcalloc(s->cap, sizeof(*s->v));
		s->n = 0;
		for (k = 0; k < ocap; k++)
			if (ov[k].ino != 0)
				(void)jts_idset_add(s, ov[k].dev, ov[k].ino);
		free(ov);
	}
	for (i = idset_slot(s, dev, ino);; i = (i + 1) & (s->cap - 1)) {
		if (s->v[i].ino == 0) {
			s->v[i].dev = dev;
			s->v[i].ino = ino;
			s->n++;
			return true;
		}
		if (s->v[i].ino == ino && s->v[i].dev == dev)
			return false;
	}
}

void
jts_idset_clear(struct jts_idset *s)
{
	if (s->n > 0)
		memset(s->v, 0, s->cap * sizeof(*s->v));
	s->n = 0;
}

void
jts_idset_free(struct jts_idset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ioprio_set(2): no glibc wrapper. */
#define IOPRIO_WHO_PROCESS	1
#define IOPRIO_CLASS_BE		2
#define IOPRIO_CLASS_IDLE	3
#define IOPRIO_VALUE(c, d)	(((c) << 13) | (d))

static const char *const ioprio_names[] = { "idle", "low", "normal" };

int
jts_ioprio_parse(const char *v)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(v, ioprio_names[i]) == 0)
			return i;
	return -1;
}

const char *
jts_ioprio_name(int p)
{
	return p >= 0 && p < 3 ? ioprio_names[p] : "?";
}

/* The paces: each a token bucket; one lock for them all. */
static pthread_mutex_t pace_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t	 rate;
	double		 tokens;	/* bytes that may go now */
	int64_t		 last;		/* when tokens was reckoned */
} pace[JTS_PACES];

void
jts_pace_set(int k, uint64_t rate)
{
	if (k < 0 || k >= JTS_PACES)
		return;
	pthread_mutex_lock(&pace_mu);
	pace[k].rate = rate;
	pace[k].tokens = 0;
	pace[k].last = jts_mono_ns();
	pthread_mutex_unlock(&pace_mu);
}

/*
 * Take n bytes from every pace in mask: 0 when they may go now (taken
 * from all), else the nanoseconds to wait before asking again (nothing
 * taken from any).
 */
static int64_t
pace_take(unsigned mask, uint64_t n)
{
	int64_t now, wait = 0, w;
	double burst, need;
	int k;

	pthread_mutex_lock(&pace_mu);
	now = jts_mono_ns();
	for (k = 0; k < JTS_PACES; k++) {
		if (!(mask & (1u << k)) || pace[k].rate == 0)
			continue;
		burst = (double)pace[k].rate / 8;
		pace[k].tokens += (double)(now - pace[k].last) *
		    (double)pace[k].rate / 1e9;
		if (pace[k].tokens > burst)
			pace[k].tokens = burst;
		pace[k].last = now;
		/* A request larger than a burst goes when a whole burst is
		 * there (the tokens then run into debt, paid back before the
		 * next). */
		need = (double)n < burst ? (double)n : burst;
		if (pace[k].tokens < need) {
			w = (int64_t)((need - pace[k].tokens) * 1e9 /
			    (double)pace[k].rate) + 1;
			if (w > wait)
				wait = w;
		}
	}
	if (wait == 0)
		for (k = 0; k < JTS_PACES; k++)
			if ((mask & (1u << k)) && pace[k].rate != 0)
				pace[k].tokens -= (double)n;
	pthread_mutex_unlock(&pace_mu);
	return wait;
}

bool
jts_pace_go(unsigned mask, uint64_t n, bool busy)
{
	int64_t ns = pace_take(mask, n);
	struct timespec ts;

	if (ns == 0)
		return true;
	if (!busy) {
		ts.tv_sec = 0;
		ts.tv_nsec = ns < 50000000 ? ns : 50000000;
		(void)nanosleep(&ts, NULL);
	}
	return false;
}

int
jts_ioprio_set(int p)
{
	int v = p == JTS_IOPRIO_IDLE ? IOPRIO_VALUE(IOPRIO_CLASS_IDLE, 0) :
	    p == JTS_IOPRIO_LOW ? IOPRIO_VALUE(IOPRIO_CLASS_BE, 7) :
	    IOPRIO_VALUE(IOPRIO_CLASS_BE, 4);

	return syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, v) == 0 ? 0 :
	    -errno;
}

int
jts_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

bool
jts_utf8_valid(const char *str)
{
	const unsigned char *p = (const unsigned char *)str;
	size_t n = strlen(str);
	size_t i = 0, k, len;
	uint32_t c;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0)
			len = 2, c = p[i] & 0x1f;
		else if ((p[i] & 0xf0) == 0xe0)
			len = 3, c = p[i] & 0x0f;
		else if ((p[i] & 0xf8) == 0xf0)
			len = 4, c = p[i] & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
		    (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
		    (c >= 0xd800 && c <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}


bool
jts_is_tmp_name(const char *name)
{
	const char *p, *q;

	if (strncmp(name, JTS_TMP_PREFIX, strlen(JTS_TMP_PREFIX)) != 0)
		return false;
	p = name + strlen(JTS_TMP_PREFIX);
	/* A move's: ID.tmp, ID.lnk, ID.rm, ID.dup. */
	for (q = p; *q >= '0' && *q <= '9'; q++)
		;
	if (q > p && *q == '.')
		return strcmp(q + 1, "tmp") == 0 || strcmp(q + 1, "lnk") == 0 ||
		    strcmp(q + 1, "rm") == 0 || strcmp(q + 1, "dup") == 0;
	/* A probe's: bench.PID, verify.PID, probe.PID.stub. */
	if (strncmp(p, "bench.", 6) == 0)
		p += 6;
	else if (strncmp(p, "verify.", 7) == 0)
		p += 7;
	else if (strncmp(p, "probe.", 6) == 0)
		p += 6;
	else
		return false;
	for (q = p; *q >= '0' && *q <= '9'; q++)
		;
	return q > p && (*q == '\0' || strcmp(q, ".stub") == 0);
}
