/* conf.c - parse and validate jts-tier.conf(5) with libinih */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "util.h"

struct parse {
	struct ini_lines il;		/* first: inih's stream */
	struct conf	*conf;
	char		 seen[64][64];	/* section.key pairs already set */
	int		 nseen;
	struct tier_conf *cur;
};

/* Read one line for inih and count it, so errors can name the line. */
char *
ini_lines_reader(char *str, int num, void *stream)
{
	struct ini_lines *il = stream;
	size_t n;
	int c;

	if (fgets(str, num, il->fp) == NULL)
		return NULL;
	il->line++;
	il->continued = (str[0] == ' ' || str[0] == '\t') &&
	    str[strspn(str, " \t\r\n")] != '\0';
	if (str[strspn(str, " \t")] == '[')
		il->section_line = il->line;
	n = strlen(str);
	if (n > 0 && str[n - 1] != '\n' && !feof(il->fp)) {
		if (il->err_line == 0) {
			il->err_line = il->line;
			snprintf(il->err, sizeof(il->err),
			    "line longer than %d characters (continue a long "
			    "value on indented lines)", num - 2);
		}
		while ((c = fgetc(il->fp)) != EOF && c != '\n')
			;
		str[0] = '\0';
	}
	return str;
}

/* Record the first error with the line it is on; returns 0 for inih. */
int
ini_lines_fail(struct ini_lines *il, const char *fmt, ...)
{
	va_list ap;

	if (il->err_line == 0) {
		il->err_line = il->line;
		va_start(ap, fmt);
		vsnprintf(il->err, sizeof(il->err), fmt, ap);
		va_end(ap);
	}
	return 0;
}

#define fail(ps, ...)	ini_lines_fail(&(ps)->il, __VA_ARGS__)

static int
parse_percent(const char *v, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || (*end != '\0' && strcmp(end, "%") != 0) ||
	    n < 0 || n > 100)
		return -1;
	*out = (int)n;
	return 0;
}

typedef int (*keyfn)(struct parse *, const char *);

/* A yes or no setting. */
static int
bool_into(struct parse *ps, const char *key, const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0)
		*out = false;
	else
		return fail(ps, "bad %s: %s%s", key, v, " (yes or no)");
	return 1;
}

static int
k_catalog_path(struct parse *ps, const char *v)
{
	if (v[0] != '/')
		return fail(ps, "catalog path must be absolute: %s%s", v, "");
	free(ps->conf->catalog);
	ps->conf->catalog = xstrdup(v);
	return 1;
}

static int
k_reserve(struct parse *ps, const char *v)
{
	if (jts_parse_size(v, &ps->conf->reserve) != 0)
		return fail(ps, "bad size for reserve: %s%s", v,
		    " (use e.g. 512M or 1G)");
	return 1;
}

const char *
leave_name(enum leave_mode m)
{
	switch (m) {
	case LEAVE_SYMLINK:
		return "symlink";
	case LEAVE_REMOVE:
		return "remove";
	case LEAVE_STUB:
		return "stub";
	}
	return "?";
}

int
leave_parse(const char *v)
{
	if (strcmp(v, "symlink") == 0)
		return LEAVE_SYMLINK;
	if (strcmp(v, "remove") == 0)
		return LEAVE_REMOVE;
	if (strcmp(v, "stub") == 0)
		return LEAVE_STUB;
	return -1;
}

/* leave = in [defaults] (into the conf) or in a [tier] (into it). */
static int
leave_into(struct parse *ps, const char *v, int *out)
{
	int m = leave_parse(v);

	if (m < 0)
		return fail(ps, "bad value for leave: %s%s", v,
		    " (symlink, remove or stub)");
	*out = m;
	return 1;
}

static int
k_leave(struct parse *ps, const char *v)
{
	int m = LEAVE_SYMLINK, r;

	if ((r = leave_into(ps, v, &m)) == 1)
		ps->conf->leave = (enum leave_mode)m;
	return r;
}

static int
k_recall_concurrency(struct parse *ps, const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 64)
		return fail(ps, "bad recall_concurrency: %s%s", v,
		    " (stubs filled at once, from 1 to 64)");
	ps->conf->recall_concurrency = (int)n;
	return 1;
}

static int
k_stub_timeout(struct parse *ps, const char *v)
{
	if (jts_parse_duration(v, &ps->conf->stub_timeout) != 0 ||
	    ps->conf->stub_timeout < 1 || ps->conf->stub_timeout > 3600)
		return fail(ps, "bad stub_timeout: %s%s", v,
		    " (from 1s to 1h, e.g. 60s)");
	return 1;
}

static int
k_home(struct parse *ps, const char *v)
{
	free(ps->conf->home);
	ps->conf->home = xstrdup(v);
	return 1;
}

static int
k_kind(struct parse *ps, const char *v)
{
	if (strcmp(v, "posix") == 0)
		ps->cur->kind = TIER_POSIX;
	else if (strcmp(v, "btrfs") == 0)
		ps->cur->kind = TIER_BTRFS;
	else if (strcmp(v, "nfs") == 0)
		ps->cur->kind = TIER_NFS;
	else if (strcmp(v, "s3") == 0)
		ps->cur->kind = TIER_S3;
	else
		return fail(ps, "bad tier kind: %s%s", v,
		    " (posix, btrfs, nfs or s3)");
	return 1;
}

/* --- kind = s3 --- */

/* A string setting of the tier: not empty, no control character. */
static int
str_into(struct parse *ps, const char *key, const char *v, char **out)
{
	const unsigned char *p;

	for (p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			break;
	if (*v == '\0' || *p != '\0')
		return fail(ps, "bad %s: %s%s", key, v,
		    " (empty, or with a control character)");
	free(*out);
	*out = xstrdup(v);
	return 1;
}

static int
k_endpoint(struct parse *ps, const char *v)
{
	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
		return fail(ps, "bad endpoint: %s%s", v,
		    " (http://host[:port] or https://host[:port])");
	if (v[strlen(v) - 1] == '/' || strchr(v + 8, '/') != NULL ||
	    strchr(v, '?') != NULL)
		return fail(ps, "bad endpoint: %s%s", v, " (the server only, "
		    "no path: the bucket and prefix have their own keys)");
	return str_into(ps, "endpoint", v, &ps->cur->endpoint);
}

static int
k_bucket(struct parse *ps, const char *v)
{
	const char *p;

	/* S3's bucket names: 3-63 of lower case, digits, '.' and '-'. */
	for (p = v; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		    *p == '.' || *p == '-'))
			break;
	if (*p != '\0' || strlen(v) < 3 || strlen(v) > 63)
		return fail(ps, "bad bucket: %s%s", v, " (3 to 63 lower-case "
		    "letters, digits, '.' and '-')");
	return str_into(ps, "bucket", v, &ps->cur->bucket);
}

/*
 * A prefix is a key's first components, as written: a trailing '/' is
 * dropped ("hostA/" is hostA); an empty one, '.', '..' or an empty
 * component, a control character, or bytes that are not UTF-8 are
 * refused, and so is ".jts-tier" (the bucket's own objects: claims).
 */
static int
k_prefix(struct parse *ps, const char *v)
{
	char *p = xstrdup(v), *c, *save = NULL, *tmp;
	const unsigned char *u;
	size_t n = strlen(p);
	int r;

	while (n > 0 && p[n - 1] == '/')
		p[--n] = '\0';
	for (u = (const unsigned char *)p; *u; u++)
		if (*u < 0x20 || *u == 0x7f)
			break;
	if (*u != '\0' || !jts_utf8_valid(p)) {
		free(p);
		return fail(ps, "bad prefix: %s%s", v, " (UTF-8 without control "
		    "characters, as object keys are)");
	}
	if (p[0] == '\0' || p[0] == '/') {
		free(p);
		return fail(ps, "bad prefix: %s%s", v, " (relative and not "
		    "empty: the bucket's root is not a prefix; e.g. the host's "
		    "name)");
	}
	tmp = xstrdup(p);
	for (c = strtok_r(tmp, "/", &save); c != NULL;
	    c = strtok_r(NULL, "/", &save))
		if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0)
			break;
	free(tmp);
	if (c != NULL || strstr(p, "//") != NULL) {
		free(p);
		return fail(ps, "bad prefix: %s%s", v, " (no '.', '..' or empty "
		    "component: a key is taken as written, so 'a/./b' is not "
		    "'a/b')");
	}
	if (strncmp(p, ".jts-tier", 9) == 0 && (p[9] == '\0' ||
	    p[9] == '/')) {
		free(p);
		return fail(ps, "bad prefix: %s%s", v, " (.jts-tier holds the "
		    "bucket's claims: not a prefix)");
	}
	r = str_into(ps, "prefix", p, &ps->cur->prefix);
	free(p);
	return r;
}

static int
k_region(struct parse *ps, const char *v)
{
	return str_into(ps, "region", v, &ps->cur->region);
}

static int
k_credentials(struct parse *ps, const char *v)
{
	if (v[0] != '/')
		return fail(ps, "credentials must be an absolute path: %s%s",
		    v, "");
	return str_into(ps, "credentials", v, &ps->cur->credentials);
}

static int
k_ca_file(struct parse *ps, const char *v)
{
	if (v[0] != '/')
		return fail(ps, "ca_file must be an absolute path: %s%s", v,
		    "");
	return str_into(ps, "ca_file", v, &ps->cur->ca_file);
}

static int
k_tls_verify(struct parse *ps, const char *v)
{
	return bool_into(ps, "tls_verify", v, &ps->cur->tls_verify);
}

static int
k_part_size(struct parse *ps, const char *v)
{
	uint64_t n;

	if (jts_parse_size(v, &n) != 0 || n < (5u << 20) || n > (1ULL << 30))
		return fail(ps, "bad part_size: %s%s", v,
		    " (5M to 1G, e.g. 16M)");
	ps->cur->part_size = n;
	return 1;
}

static int
k_quota(struct parse *ps, const char *v)
{
	uint64_t n;

	if (jts_parse_size(v, &n) != 0 || n < (1u << 20))
		return fail(ps, "bad quota: %s%s", v,
		    " (bytes the tier may hold, at least 1M, e.g. 10T)");
	ps->cur->quota = n;
	return 1;
}

static int
k_root(struct parse *ps, const char *v)
{
	char *abs;

	if (v[0] != '/')
		return fail(ps, "tier root must be an absolute path: %s%s",
		    v, "");
	abs = jts_path_abs(v);
	free(ps->cur->root);
	ps->cur->root = abs;
	return 1;
}

static int
k_url(struct parse *ps, const char *v)
{
	if (strncmp(v, "nfs://", 6) != 0)
		return fail(ps, "tier url must start with nfs://: %s%s", v, "");
	free(ps->cur->url);
	ps->cur->url = xstrdup(v);
	return 1;
}

static int
k_timeout(struct parse *ps, const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (*end == 's' && end[1] == '\0')
		end++;
	if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 3600)
		return fail(ps, "bad timeout: %s%s", v,
		    " (seconds, 1 to 3600, e.g. 60 or 60s)");
	ps->cur->timeout = (int)n;
	return 1;
}

static int
k_inflight(struct parse *ps, const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 16)
		return fail(ps, "bad inflight: %s%s", v,
		    " (requests in flight per file, 1 to 16)");
	ps->cur->inflight = (int)n;
	return 1;
}

static int
k_mountpoint(struct parse *ps, const char *v)
{
	if (v[0] != '/')
		return fail(ps, "mountpoint must be an absolute path: %s%s",
		    v, "");
	free(ps->cur->mountpoint);
	ps->cur->mountpoint = jts_path_abs(v);
	return 1;
}

static int
k_high(struct parse *ps, const char *v)
{
	if (parse_percent(v, &ps->cur->high) != 0)
		return fail(ps, "bad high_watermark: %s%s", v,
		    " (a percentage 0-100)");
	return 1;
}

static int
k_low(struct parse *ps, const char *v)
{
	if (parse_percent(v, &ps->cur->low) != 0)
		return fail(ps, "bad low_watermark: %s%s", v,
		    " (a percentage 0-100)");
	return 1;
}

static int
k_tier_leave(struct parse *ps, const char *v)
{
	return leave_into(ps, v, &ps->cur->leave);
}

static int
k_policies(struct parse *ps, const char *v)
{
	if (v[0] != '/')
		return fail(ps, "policies must be an absolute path: %s%s", v,
		    "");
	free(ps->conf->policies);
	ps->conf->policies = jts_path_abs(v);
	return 1;
}

static int
k_socket(struct parse *ps, const char *v)
{
	if (v[0] != '/' || strlen(v) >= 100)
		return fail(ps, "socket must be an absolute path shorter than "
		    "100 bytes: %s%s", v, "");
	free(ps->conf->socket);
	ps->conf->socket = xstrdup(v);
	return 1;
}

static int
k_socket_group(struct parse *ps, const char *v)
{
	free(ps->conf->socket_group);
	ps->conf->socket_group = xstrdup(v);
	return 1;
}

static int
k_scan_interval(struct parse *ps, const char *v)
{
	if (strcmp(v, "off") == 0) {
		ps->conf->scan_interval = 0;
		return 1;
	}
	if (jts_parse_duration(v, &ps->conf->scan_interval) != 0 ||
	    ps->conf->scan_interval < 60)
		return fail(ps, "bad scan_interval: %s%s", v,
		    " (at least 60s, e.g. 6h, or off)");
	return 1;
}

static int
k_policy_timeout(struct parse *ps, const char *v)
{
	if (jts_parse_duration(v, &ps->conf->policy_timeout) != 0 ||
	    ps->conf->policy_timeout < 1 || ps->conf->policy_timeout > 86400)
		return fail(ps, "bad policy_timeout: %s%s", v,
		    " (from 1s to 1d, e.g. 60s)");
	return 1;
}

static int
k_fanotify(struct parse *ps, const char *v)
{
	return bool_into(ps, "fanotify", v, &ps->conf->fanotify);
}

/* A rate in bytes a second: at least 1M, or 0 (none) for no limit. */
static int
rate_into(struct parse *ps, const char *key, const char *v, uint64_t *out)
{
	uint64_t n;

	if (strcmp(v, "0") == 0 || strcmp(v, "none") == 0)
		n = 0;
	else if (jts_parse_size(v, &n) != 0 || n < (1u << 20))
		return fail(ps, "bad %s: %s%s", key, v, " (bytes a second, at "
		    "least 1M, e.g. 200M; 0 or none: no limit)");
	*out = n;
	return 1;
}

static int
k_move_rate(struct parse *ps, const char *v)
{
	return rate_into(ps, "move_rate", v, &ps->conf->move_rate);
}

static int
k_recall_rate(struct parse *ps, const char *v)
{
	return rate_into(ps, "recall_rate", v, &ps->cur->recall_rate);
}

static int
k_io_priority(struct parse *ps, const char *v)
{
	int p = jts_ioprio_parse(v);

	if (p < 0)
		return fail(ps, "bad io_priority: %s%s", v,
		    " (idle, low or normal)");
	ps->conf->io_priority = p;
	return 1;
}

/* A positive number, for a [bench] target. */
static int
bench_target(struct parse *ps, const char *v, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || errno != 0 || !(d > 0) || d > 1e12)
		return fail(ps, "bad bench target: %s%s", v,
		    " (a positive number)");
	*out = d;
	return 1;
}

static int
k_bench_iops(struct parse *ps, const char *v)
{
	return bench_target(ps, v, &ps->conf->bench_iops);
}

static int
k_bench_write(struct parse *ps, const char *v)
{
	return bench_target(ps, v, &ps->conf->bench_write_mbps);
}

static int
k_bench_nfs(struct parse *ps, const char *v)
{
	return bench_target(ps, v, &ps->conf->bench_nfs_mbps);
}

static int
k_bench_migrate(struct parse *ps, const char *v)
{
	return bench_target(ps, v, &ps->conf->bench_migrate_s);
}

static const struct {
	const char	*section;	/* "tier" for [tier NAME] */
	const char	*key;
	keyfn		 fn;
} keywords[] = {
	{ "catalog",	"path",			k_catalog_path },
	{ "defaults",	"reserve",		k_reserve },
	{ "defaults",	"leave",		k_leave },
	{ "defaults",	"home",			k_home },
	{ "daemon",	"policies",		k_policies },
	{ "daemon",	"socket",		k_socket },
	{ "daemon",	"socket_group",		k_socket_group },
	{ "daemon",	"scan_interval",	k_scan_interval },
	{ "daemon",	"policy_timeout",	k_policy_timeout },
	{ "daemon",	"fanotify",		k_fanotify },
	{ "daemon",	"io_priority",		k_io_priority },
	{ "daemon",	"move_rate",		k_move_rate },
	{ "daemon",	"recall_concurrency",	k_recall_concurrency },
	{ "daemon",	"stub_timeout",		k_stub_timeout },
	{ "bench",	"iops",			k_bench_iops },
	{ "bench",	"write_mbps",		k_bench_write },
	{ "bench",	"nfs_mbps",		k_bench_nfs },
	{ "bench",	"migrate_seconds",	k_bench_migrate },
	{ "tier",	"kind",			k_kind },
	{ "tier",	"root",			k_root },
	{ "tier",	"url",			k_url },
	{ "tier",	"mountpoint",		k_mountpoint },
	{ "tier",	"timeout",		k_timeout },
	{ "tier",	"inflight",		k_inflight },
	{ "tier",	"high_watermark",	k_high },
	{ "tier",	"recall_rate",		k_recall_rate },
	{ "tier",	"low_watermark",	k_low },
	{ "tier",	"endpoint",		k_endpoint },
	{ "tier",	"bucket",		k_bucket },
	{ "tier",	"prefix",		k_prefix },
	{ "tier",	"region",		k_region },
	{ "tier",	"credentials",		k_credentials },
	{ "tier",	"ca_file",		k_ca_file },
	{ "tier",	"tls_verify",		k_tls_verify },
	{ "tier",	"part_size",		k_part_size },
	{ "tier",	"quota",		k_quota },
	{ "tier",	"leave",		k_tier_leave },
};

static int
valid_tier_name(const char *s)
{
	const char *p;

	if (*s == '\0' || strlen(s) > 32)
		return 0;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_'))
			return 0;
	return 1;
}

/* Find or start the tier of a "[tier NAME]" section. */
static struct tier_conf *
section_tier(struct parse *ps, const char *section)
{
	struct conf *c = ps->conf;
	const char *name = section + 5;
	int i;

	for (i = 0; i < c->ntiers; i++)
		if (strcmp(c->tiers[i].name, name) == 0)
			return &c->tiers[i];
	if (!valid_tier_name(name)) {
		fail(ps, "bad tier name '%s'%s", name,
		    " (use a-z, 0-9, - and _, at most 32)");
		return NULL;
	}
	if (c->ntiers == JTS_MAX_TIERS) {
		fail(ps, "too many tiers (at most %s)%s", "8", "");
		return NULL;
	}
	ps->cur = &c->tiers[c->ntiers++];
	memset(ps->cur, 0, sizeof(*ps->cur));
	ps->cur->name = xstrdup(name);
	ps->cur->kind = TIER_POSIX;
	ps->cur->high = 90;
	ps->cur->low = 75;
	ps->cur->leave = -1;
	ps->cur->tls_verify = true;
	ps->cur->line = ps->il.section_line;
	return ps->cur;
}

static int
conf_handler(void *user, const char *section, const char *key,
    const char *value)
{
	struct parse *ps = user;
	char seen[64];
	const char *sec = section;
	size_t i;
	int j;

	if (*key == '\0')
		return fail(ps, "syntax error (expected [section] or key = "
		    "value)%s", "");
	if (strncmp(section, "tier ", 5) == 0) {
		if ((ps->cur = section_tier(ps, section)) == NULL)
			return 0;
		sec = "tier";
	} else if (strcmp(section, "catalog") != 0 &&
	    strcmp(section, "defaults") != 0 &&
	    strcmp(section, "daemon") != 0 &&
	    strcmp(section, "bench") != 0)
		return fail(ps, "unknown section [%s]%s", section,
		    " (expected [catalog], [defaults], [daemon], [bench] or "
		    "[tier NAME])");
	snprintf(seen, sizeof(seen), "%s.%s", section, key);
	for (j = 0; j < ps->nseen; j++)
		if (strcmp(ps->seen[j], seen) == 0)
			return fail(ps, "duplicate key '%s' in [%s]", key,
			    section);
	if (ps->nseen < 64)
		strcpy(ps->seen[ps->nseen++], seen);
	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(keywords[i].section, sec) == 0 &&
		    strcmp(keywords[i].key, key) == 0)
			return keywords[i].fn(ps, value);
	return fail(ps, "unknown key '%s' in [%s]", key, section);
}

static int
roots_overlap(const char *a, const char *b)
{
	return jts_path_beneath(a, b) != NULL || jts_path_beneath(b, a) != NULL;
}

/*
 * Whether directory a, as it is on disk, is directory b or beneath it:
 * every directory on a's real path (symlinks resolved) is compared with b
 * by device and inode, so a link or a bind mount does not hide it.
 * False when either does not exist (yet).
 */
static bool
dir_within(const char *a, const char *b)
{
	struct stat sb, sx;
	char *ra, *slash;
	bool in = false;

	if (stat(b, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
	    (ra = realpath(a, NULL)) == NULL)
		return false;
	/* a itself, then each directory above it, up to "/" (ra = ""). */
	for (;;) {
		if (stat(*ra ? ra : "/", &sx) == 0 && sx.st_dev == sb.st_dev &&
		    sx.st_ino == sb.st_ino) {
			in = true;
			break;
		}
		if (*ra == '\0' || (slash = strrchr(ra, '/')) == NULL)
			break;
		*slash = '\0';
	}
	free(ra);
	return in;
}

/* Checks that need the whole file: each error names the tier's line. */
static int
conf_validate(struct parse *ps)
{
	struct conf *c = ps->conf;
	struct tier_conf *t, *u;
	int i, j;

	if (c->ntiers == 0) {
		ps->il.err_line = ps->il.line > 0 ? ps->il.line : 1;
		snprintf(ps->il.err, sizeof(ps->il.err), "no [tier NAME] section");
		return -1;
	}
	for (i = 0; i < c->ntiers; i++) {
		t = &c->tiers[i];
		ps->il.err_line = t->line;
		if (t->kind != TIER_S3 && (t->endpoint || t->bucket ||
		    t->prefix || t->region || t->credentials || t->ca_file ||
		    t->part_size || t->quota || !t->tls_verify)) {
			snprintf(ps->il.err, sizeof(ps->il.err),
			    "tier %s: endpoint, bucket, prefix, region, "
			    "credentials, ca_file, tls_verify, part_size and "
			    "quota are for kind s3 only", t->name);
			return -1;
		}
		if (t->kind == TIER_S3) {
			if (t->endpoint == NULL || t->bucket == NULL ||
			    t->credentials == NULL) {
				snprintf(ps->il.err, sizeof(ps->il.err),
				    "tier %s: kind s3 needs endpoint =, "
				    "bucket = and credentials =", t->name);
				return -1;
			}
			if (t->root != NULL || t->url != NULL ||
			    t->mountpoint != NULL) {
				snprintf(ps->il.err, sizeof(ps->il.err),
				    "tier %s: kind s3 takes endpoint = and "
				    "bucket =, not root, url or mountpoint",
				    t->name);
				return -1;
			}
			if (t->prefix == NULL) {
				char host[256];

				/* Hosts sharing a bucket never collide. */
				if (gethostname(host, sizeof(host)) != 0)
					snprintf(host, sizeof(host), "host");
				host[sizeof(host) - 1] = '\0';
				t->prefix = xstrdup(host);
			}
			if (t->region == NULL)
				t->region = xstrdup("us-east-1");
			if (t->part_size == 0)
				t->part_size = 16u << 20;
			if (t->timeout == 0)
				t->timeout = 60;
			if (t->inflight == 0)
				t->inflight = 4;
		} else if (t->kind == TIER_NFS) {
			if (t->url == NULL) {
				snprintf(ps->il.err, sizeof(ps->il.err),
				    "tier %s: kind nfs needs url =", t->name);
				return -1;
			}
			if (t->root != NULL) {
				snprintf(ps->il.err, sizeof(ps->il.err),
				    "tier %s: kind nfs takes url =, not root =",
				    t->name);
				return -1;
			}
			if (strstr(t->url, "version=4") != NULL) {
				snprintf(ps->il.err, sizeof(ps->il.err),
				    "tier %s: NFSv4 (version=4) is not "
				    "supported: moves need NFSv3's SETATTR "
				    "with nanosecond times and its COMMIT; use "
				    "version=3 (the default)", t->name);
				return -1;
			}
		} else {
			if (t->root == NULL) {
				snprintf(ps->il.err, sizeof(ps->il.err),
				    "tier %s: missing root =", t->name);
				return -1;
			}
			if (t->url != NULL || t->mountpoint != NULL ||
			    t->timeout != 0 || t->inflight != 0) {
				snprintf(ps->il.err, sizeof(ps->il.err),
				    "tier %s: url and mountpoint are for kind "
				    "nfs, timeout and inflight for kinds nfs "
				    "and s3 only", t->name);
				return -1;
			}
		}
		if (t->low > t->high) {
			snprintf(ps->il.err, sizeof(ps->il.err),
			    "tier %s: low_watermark %d%% is above "
			    "high_watermark %d%%", t->name, t->low, t->high);
			return -1;
		}
		for (j = 0; j < i; j++) {
			u = &c->tiers[j];
			const char *ra = t->root ? t->root : t->mountpoint;
			const char *rb = u->root ? u->root : u->mountpoint;
			if (ra == NULL || rb == NULL)
				continue;
			if (strcmp(ra, rb) == 0) {
				snprintf(ps->il.err, sizeof(ps->il.err),
				    "tier %s: same root as tier %s (line %d)",
				    t->name, u->name, u->line);
				return -1;
			}
			if (roots_overlap(ra, rb) || dir_within(ra, rb) ||
			    dir_within(rb, ra)) {
				snprintf(ps->il.err, sizeof(ps->il.err),
				    "tier %s: root %s overlaps tier %s's root "
				    "%s (line %d)%s", t->name, jts_quote(ra),
				    u->name, jts_quote(rb), u->line,
				    roots_overlap(ra, rb) ? "" : " as they are "
				    "on disk (through a symlink or a mount)");
				return -1;
			}
		}
	}
	if (c->home != NULL && conf_tier(c, c->home) == NULL) {
		ps->il.err_line = 1;
		snprintf(ps->il.err, sizeof(ps->il.err),
		    "[defaults] home names unknown tier '%s'", c->home);
		return -1;
	}
	ps->il.err_line = 0;
	return 0;
}

/* Parse an open stream; path names it in messages. */
static int
conf_parse_fp(const char *path, FILE *fp, struct conf *c, char *err,
    size_t errlen)
{
	struct parse ps;
	int r;

	memset(c, 0, sizeof(*c));
	memset(&ps, 0, sizeof(ps));
	c->path = xstrdup(path);
	c->reserve = 256ULL << 20;
	c->leave = LEAVE_SYMLINK;
	c->scan_interval = 6 * 3600;
	c->policy_timeout = 60;
	c->fanotify = true;
	c->io_priority = JTS_IOPRIO_LOW;
	c->recall_concurrency = 2;
	c->stub_timeout = 60;
	c->bench_iops = 50000;
	c->bench_write_mbps = 200;
	c->bench_nfs_mbps = 100;
	c->bench_migrate_s = 5;
	ps.conf = c;
	ps.il.fp = fp;
	r = ini_parse_stream(ini_lines_reader, &ps, conf_handler, &ps);
	if (ps.il.err_line == 0 && r > 0) {
		ps.il.err_line = r;
		snprintf(ps.il.err, sizeof(ps.il.err),
		    "syntax error (expected [section] or key = value)");
	} else if (r < 0 && ps.il.err_line == 0) {
		snprintf(err, errlen, "%s: cannot parse (error %d)", path, r);
		conf_free(c);
		return -EINVAL;
	}
	if (ps.il.err_line == 0 && conf_validate(&ps) != 0 && ps.il.err_line == 0)
		ps.il.err_line = 1;
	if (ps.il.err_line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, ps.il.err_line, ps.il.err);
		conf_free(c);
		return -EINVAL;
	}
	if (c->catalog == NULL)
		c->catalog = xstrdup(JTS_CATALOG_DEFAULT);
	if (c->home == NULL)
		c->home = xstrdup(c->tiers[0].name);
	if (c->policies == NULL)
		c->policies = xstrdup(JTS_POLICIES_DEFAULT);
	if (c->socket == NULL)
		c->socket = xstrdup(JTS_SOCKET_DEFAULT);
	return 0;
}

int
conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	FILE *fp;
	int r;

	memset(c, 0, sizeof(*c));
	if ((fp = fopen(path, "r")) == NULL) {
		r = -errno;
		snprintf(err, errlen, "configuration %s: cannot open: %s%s",
		    path, strerror(errno), r == -ENOENT ? " (start from "
		    "jts-tier.conf.example, see jts-tier.conf(5), or name "
		    "another file with -c)" : "");
		return r;
	}
	r = conf_parse_fp(path, fp, c, err, errlen);
	fclose(fp);
	return r;
}

int
conf_parse(const char *path, const char *text, size_t len, struct conf *c,
    char *err, size_t errlen)
{
	FILE *fp;
	int r;

	memset(c, 0, sizeof(*c));
	if (len == 0)
		text = "\n", len = 1;	/* fmemopen wants a buffer */
	if ((fp = fmemopen((void *)text, len, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -ENOMEM;
	}
	r = conf_parse_fp(path, fp, c, err, errlen);
	fclose(fp);
	return r;
}

void
conf_free(struct conf *c)
{
	int i;

	for (i = 0; i < c->ntiers; i++) {
		free(c->tiers[i].name);
		free(c->tiers[i].root);
		free(c->tiers[i].url);
		free(c->tiers[i].mountpoint);
		free(c->tiers[i].endpoint);
		free(c->tiers[i].bucket);
		free(c->tiers[i].prefix);
		free(c->tiers[i].region);
		free(c->tiers[i].credentials);
		free(c->tiers[i].ca_file);
	}
	free(c->path);
	free(c->catalog);
	free(c->home);
	free(c->policies);
	free(c->socket);
	free(c->socket_group);
	memset(c, 0, sizeof(*c));
}

struct tier_conf *
conf_tier(struct conf *c, const char *name)
{
	int i = conf_tier_index(c, name);

	return i < 0 ? NULL : &c->tiers[i];
}

int
conf_tier_index(const struct conf *c, const char *name)
{
	int i;

	for (i = 0; i < c->ntiers; i++)
		if (strcmp(c->tiers[i].name, name) == 0)
			return i;
	return -1;
}

int
conf_locate(const struct conf *c, const char *abspath, const char **rel)
{
	const char *r;
	int i;

	for (i = 0; i < c->ntiers; i++) {
		const char *root = c->tiers[i].root ? c->tiers[i].root :
		    c->tiers[i].mountpoint;

		if (root == NULL)
			continue;
		if ((r = jts_path_beneath(root, abspath)) != NULL) {
			*rel = r;
			return i;
		}
	}
	return -1;
}

const char *
conf_kind_name(enum tier_kind k)
{
	switch (k) {
	case TIER_POSIX:
		return "posix";
	case TIER_BTRFS:
		return "btrfs";
	case TIER_NFS:
		return "nfs";
	case TIER_S3:
		return "s3";
	}
	return "?";
}

const char *
conf_tier_list(const struct conf *c, bool where, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < c->ntiers && n < len; i++) {
		const struct tier_conf *t = &c->tiers[i];
		const char *w = t->mountpoint ? t->mountpoint :
		    t->root ? t->root : t->url;
		int k;

		if (where)
			k = snprintf(buf + n, len - n, "%s%s (%s)",
			    i ? ", " : "", t->name, w ? w : "?");
		else
			k = snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
			    t->name);
		if (k < 0)
			break;
		n += (size_t)k;
	}
	if (n >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

enum leave_mode
conf_leave_of(const struct conf *c, int home)
{
	if (home >= 0 && home < c->ntiers && c->tiers[home].leave >= 0)
		return (enum leave_mode)c->tiers[home].leave;
	return c->leave;
}

bool
conf_wants_stubs(const struct conf *c)
{
	int i;

	if (c->leave == LEAVE_STUB)
		return true;
	for (i = 0; i < c->ntiers; i++)
		if (c->tiers[i].leave == LEAVE_STUB)
			return true;
	return false;
}
