/* policy.c - policy files jts-tier.policy(5): load, select, explain (the
 * SQL: policy-sql.c) */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <ini.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy-int.h"
#include "tier.h"
#include "util.h"

/* ---- loading ---------------------------------------------------------- */

struct pparse {
	struct ini_lines il;		/* first: inih's stream */
	const struct conf *conf;
	struct policy	*p;
	char		 last_key[32];
	char		 seen[32][32];
	int		 nseen;
	bool		 high_set, low_set;
};

#define pfail(ps, ...)	ini_lines_fail(&(ps)->il, __VA_ARGS__)

static int
parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	    !strcmp(v, "1") || !strcasecmp(v, "on"))
		*out = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
	    !strcmp(v, "0") || !strcasecmp(v, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

static int
parse_pct(const char *v, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || (*end && strcmp(end, "%") != 0) || n < 0 ||
	    n > 100)
		return -1;
	*out = (int)n;
	return 0;
}

static int
parse_count(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	if (*v == '-')
		return -1;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end)
		return -1;
	*out = n;
	return 0;
}

/*
 * One SQL expression, as far as text can tell: parentheses balanced
 * outside quotes, no statement separator, no comment.  The authorizer
 * and the prepare do the rest.
 */
static const char *
expr_shape(const char *s)
{
	int depth = 0;
	char q;

	for (; *s; s++) {
		switch (*s) {
		case '\'': case '"': case '`':
			q = *s;
			while (*++s && *s != q)
				;
			if (*s == '\0')
				return "unterminated quote";
			break;
		case '[':
			while (*++s && *s != ']')
				;
			if (*s == '\0')
				return "unterminated [";
			break;
		case '(':
			depth++;
			break;
		case ')':
			if (--depth < 0)
				return "unbalanced )";
			break;
		case ';':
			return "';' (one expression only)";
		case '-':
			if (s[1] == '-')
				return "a comment (--)";
			break;
		case '/':
			if (s[1] == '*')
				return "a comment (/*)";
			break;
		default:
			break;
		}
	}
	return depth ? "unbalanced (" : NULL;
}

static void
append(char **dst, const char *v)
{
	char *n;

	if (*dst == NULL) {
		*dst = xstrdup(v);
		return;
	}
	n = xasprintf("%s %s", *dst, v);
	free(*dst);
	*dst = n;
}

static int
policy_handler(void *user, const char *section, const char *key,
    const char *v)
{
	struct pparse *ps = user;
	struct policy *p = ps->p;
	int i, t;

	if (key == NULL)
		return 1;	/* a section starts (inih's optional call) */
	if (strcmp(section, "policy") != 0) {
		ps->il.line = ps->il.section_line;
		return pfail(ps, "unknown section [%s] (expected [policy])",
		    section);
	}
	if (ps->il.continued && strcmp(key, ps->last_key) == 0) {
		/* An indented line continues a long value. */
		if (!strcmp(key, "condition"))
			append(&p->condition, v);
		else if (!strcmp(key, "order"))
			append(&p->order, v);
		else
			return pfail(ps, "'%s' cannot continue on an indented "
			    "line", key);
		return 1;
	}
	snprintf(ps->last_key, sizeof(ps->last_key), "%s", key);
	if (strcmp(key, "exclude") != 0) {
		for (i = 0; i < ps->nseen; i++)
			if (strcmp(ps->seen[i], key) == 0)
				return pfail(ps, "duplicate key '%s'", key);
		if (ps->nseen < 32)
			snprintf(ps->seen[ps->nseen++], 32, "%s", key);
	}
	if (!strcmp(key, "from") || !strcmp(key, "to")) {
		if ((t = conf_tier_index(ps->conf, v)) < 0)
			return pfail(ps, "%s: no tier '%s' in %s", key, v,
			    ps->conf->path);
		if (key[0] == 'f') {
			p->from = t;
			snprintf(p->from_name, sizeof(p->from_name), "%s", v);
		} else {
			p->to = t;
			snprintf(p->to_name, sizeof(p->to_name), "%s", v);
		}
	} else if (!strcmp(key, "condition")) {
		p->condition = xstrdup(v);
		p->cond_line = ps->il.line;
	} else if (!strcmp(key, "order")) {
		p->order = xstrdup(v);
		p->order_line = ps->il.line;
	} else if (!strcmp(key, "schedule")) {
		if (!strcmp(v, "off") || !strcmp(v, "none"))
			p->schedule_s = 0;
		else if (jts_parse_duration(v, &p->schedule_s) != 0 ||
		    p->schedule_s < 60)
			return pfail(ps, "bad schedule: %s (an interval of at "
			    "least 60s, e.g. 1h or 1d, or off)", v);
	} else if (!strcmp(key, "on_fill")) {
		if (parse_bool(v, &p->on_fill) != 0)
			return pfail(ps, "bad on_fill: %s (yes or no)", v);
	} else if (!strcmp(key, "enabled")) {
		if (parse_bool(v, &p->enabled) != 0)
			return pfail(ps, "bad enabled: %s (yes or no)", v);
	} else if (!strcmp(key, "high_watermark")) {
		if (parse_pct(v, &p->high) != 0)
			return pfail(ps, "bad high_watermark: %s (a percentage "
			    "0-100)", v);
		ps->high_set = true;
	} else if (!strcmp(key, "low_watermark")) {
		if (parse_pct(v, &p->low) != 0)
			return pfail(ps, "bad low_watermark: %s (a percentage "
			    "0-100)", v);
		ps->low_set = true;
	} else if (!strcmp(key, "max_files")) {
		if (parse_count(v, &p->max_files) != 0)
			return pfail(ps, "bad max_files: %s (a count, 0 for no "
			    "limit)", v);
	} else if (!strcmp(key, "max_bytes")) {
		if (jts_parse_size(v, &p->max_bytes) != 0)
			return pfail(ps, "bad max_bytes: %s (e.g. 50G, 0 for no "
			    "limit)", v);
	} else if (!strcmp(key, "bandwidth")) {
		if (jts_parse_size(v, &p->bandwidth) != 0)
			return pfail(ps, "bad bandwidth: %s (bytes per second, "
			    "e.g. 100M, 0 for no cap)", v);
	} else if (!strcmp(key, "min_residency")) {
		if (jts_parse_duration(v, &p->min_residency_s) != 0)
			return pfail(ps, "bad min_residency: %s (e.g. 12h, 7d)",
			    v);
	} else if (!strcmp(key, "exclude")) {
		if (*v == '\0')
			return pfail(ps, "empty exclude pattern");
		p->exclude = xrealloc(p->exclude,
		    (size_t)(p->nexclude + 1) * sizeof(char *));
		p->exclude[p->nexclude++] = xstrdup(v);
	} else if (!strcmp(key, "fill_path")) {
		if (*v == '/' || *v == '\0' || strstr(v, "..") != NULL)
			return pfail(ps, "bad fill_path: %s (a directory "
			    "beneath the from tier's root, e.g. kafka)", v);
		free(p->fill_path);
		p->fill_path = xstrdup(v);
	} else if (!strcmp(key, "leave")) {
		int m = leave_parse(v);

		if (m < 0)
			return pfail(ps, "bad leave: %s (symlink, remove or "
			    "stub)", v);
		p->leave = (enum leave_mode)m;
		p->leave_set = true;
	} else
		return pfail(ps, "unknown key '%s' in [policy]", key);
	return 1;
}

static int
policy_validate(struct pparse *ps)
{
	struct policy *p = ps->p;
	const struct conf *c = ps->conf;
	const char *why;

#define PV_FAIL(line, ...) do {						\
	ps->il.err_line = (line) > 0 ? (line) : 1;			\
	snprintf(ps->il.err, sizeof(ps->il.err), __VA_ARGS__);		\
	return -1;							\
} while (0)
	if (p->from < 0)
		PV_FAIL(1, "missing from = (the tier files leave)");
	if (p->to < 0)
		PV_FAIL(1, "missing to = (the tier files go to)");
	if (p->to == p->from)
		PV_FAIL(1, "from and to are both %s", c->tiers[p->from].name);
	p->up = p->to < p->from;
	if (!p->up && !(tier_ops_of(c->tiers[p->from].kind)->caps &
	    TIER_CAP_LOCAL))
		PV_FAIL(1, "from %s: an %s tier is the last stop; nothing "
		    "moves down from it (a policy up, to a tier listed before "
		    "it, brings files back)", c->tiers[p->from].name,
		    tier_ops_of(c->tiers[p->from].kind)->name);
	if (p->up && !(tier_ops_of(c->tiers[p->to].kind)->caps &
	    TIER_CAP_LOCAL))
		PV_FAIL(1, "to %s: files come back only to a local tier",
		    c->tiers[p->to].name);
	/*
	 * Up, a run recalls: files leave nothing behind, and it runs on its
	 * schedule (a fill run is for the tier a policy empties).
	 */
	if (p->up && p->on_fill)
		PV_FAIL(1, "on_fill: a policy up (from %s to %s) runs on its "
		    "schedule; the fill of %s bounds it (its low watermark)",
		    c->tiers[p->from].name, c->tiers[p->to].name,
		    c->tiers[p->to].name);
	if (p->up && p->leave_set)
		PV_FAIL(1, "leave: a policy up brings files back; nothing "
		    "is left where they were");
	if (p->up && p->fill_path != NULL)
		PV_FAIL(1, "fill_path: only for on_fill (a policy down)");
	if (p->condition == NULL)
		PV_FAIL(1, "missing condition = (e.g. condition = age > "
		    "days(30))");
	if ((why = expr_shape(p->condition)) != NULL)
		PV_FAIL(p->cond_line, "condition: %s", why);
	if (p->order != NULL && (why = expr_shape(p->order)) != NULL)
		PV_FAIL(p->order_line, "order: %s", why);
	if (p->schedule_s == 0 && !p->on_fill)
		PV_FAIL(1, "never runs: set schedule = (e.g. 1h) and/or "
		    "on_fill = yes");
	if (!ps->high_set)
		p->high = c->tiers[p->from].high;
	if (!ps->low_set)
		p->low = c->tiers[p->from].low;
	if (p->low > p->high)
		PV_FAIL(1, "low_watermark %d%% is above high_watermark %d%%",
		    p->low, p->high);
	if (p->up) {
		int i;

		p->dst_cap = c->tiers[p->to].low;
		p->dst_cap_what = "low watermark";
		for (i = 0; i <= p->to && i < JTS_MAX_TIERS; i++)
			snprintf(p->homes[p->nhomes++], sizeof(p->homes[0]),
			    "%s", c->tiers[i].name);
	} else {
		p->dst_cap = c->tiers[p->to].high;
		p->dst_cap_what = "high watermark";
	}
#undef PV_FAIL
	return 0;
}

int
policy_load_file(const char *path, const struct conf *c, struct policy *p,
    char *err, size_t errlen)
{
	struct pparse ps;
	const char *base = strrchr(path, '/');
	size_t n;
	int r;

	memset(p, 0, sizeof(*p));
	memset(&ps, 0, sizeof(ps));
	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 7 && strcmp(base + n - 7, ".policy") == 0)
		n -= 7;
	p->name = xasprintf("%.*s", (int)n, base);
	p->file = xstrdup(path);
	p->from = p->to = -1;
	p->enabled = true;
	p->leave = c->leave;
	ps.conf = c;
	ps.p = p;
	if ((ps.il.fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		policy_free(p);
		return -EIO;
	}
	r = ini_parse_stream(ini_lines_reader, &ps, policy_handler, &ps);
	fclose(ps.il.fp);
	if (ps.il.err_line == 0 && r > 0) {
		ps.il.err_line = r;
		snprintf(ps.il.err, sizeof(ps.il.err), "syntax error (expected "
		    "[policy] or key = value)");
	}
	if (ps.il.err_line == 0 && r == 0)
		(void)policy_validate(&ps);
	if (ps.il.err_line != 0 || r < 0) {
		if (ps.il.err_line)
			snprintf(err, errlen, "%s:%d: %s", path,
			    ps.il.err_line, ps.il.err);
		else
			snprintf(err, errlen, "%s: cannot parse", path);
		policy_free(p);
		return -EINVAL;
	}
	return 0;
}

void
policy_free(struct policy *p)
{
	int i;

	if (p->sel != NULL)
		sqlite3_finalize(p->sel);
	if (p->one != NULL)
		sqlite3_finalize(p->one);
	for (i = 0; i < p->nexclude; i++)
		free(p->exclude[i]);
	free(p->exclude);
	free(p->name);
	free(p->file);
	free(p->condition);
	free(p->order);
	free(p->fill_path);
	memset(p, 0, sizeof(*p));
}

void
policy_set_free(struct policy_set *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		policy_free(&s->p[i]);
	free(s->p);
	free(s->dir);
	memset(s, 0, sizeof(*s));
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A policy up never fills its destination to where a fill policy that
 * empties that tier would start: it stops at the lowest low watermark of
 * those, if below the tier's own.
 */
static void
policy_caps(struct policy_set *s)
{
	int i, k;

	for (i = 0; i < s->n; i++) {
		struct policy *p = &s->p[i];

		if (!p->up)
			continue;
		for (k = 0; k < s->n; k++) {
			struct policy *q = &s->p[k];

			if (q->enabled && q->on_fill && !q->up &&
			    q->from == p->to && q->low < p->dst_cap) {
				p->dst_cap = q->low;
				p->dst_cap_what = "fill policy's low watermark";
			}
		}
	}
}

int
policy_load_dir(const char *dir, const struct conf *c, struct policy_set *out,
    char *err, size_t errlen)
{
	struct policy_set s;
	struct dirent *de;
	char **names = NULL, *path;
	int nn = 0, i, r = 0;
	DIR *d;

	memset(&s, 0, sizeof(s));
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT) {
			/* No policies: the daemon tracks, and moves nothing. */
			memset(out, 0, sizeof(*out));
			out->dir = xstrdup(dir);
			return 0;
		}
		snprintf(err, errlen, "%s: cannot read policy directory: %s",
		    dir, strerror(errno));
		return -EIO;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' || n <= 7 ||
		    strcmp(de->d_name + n - 7, ".policy") != 0)
			continue;
		names = xrealloc(names, (size_t)(nn + 1) * sizeof(char *));
		names[nn++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (nn > 1)
		qsort(names, (size_t)nn, sizeof(char *), cmp_name);
	if (nn > POLICY_MAX) {
		snprintf(err, errlen, "%s: %d policies, at most %d", dir, nn,
		    POLICY_MAX);
		r = -EINVAL;
	}
	s.p = xcalloc((size_t)(nn ? nn : 1), sizeof(struct policy));
	for (i = 0; r == 0 && i < nn; i++) {
		path = jts_path_join(dir, names[i]);
		r = policy_load_file(path, c, &s.p[s.n], err, errlen);
		free(path);
		if (r == 0)
			s.n++;
	}
	for (i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	if (r != 0) {
		policy_set_free(&s);
		return r;
	}
	policy_caps(&s);
	s.dir = xstrdup(dir);
	*out = s;
	return 0;
}

struct policy *
policy_find(struct policy_set *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->p[i].name, name) == 0)
			return &s->p[i];
	return NULL;
}

/* ---- selecting -------------------------------------------------------- */

/* f: t's fill, as tier_space measures it (unknown if it cannot). */
static void
fill_of(struct tier *t, struct tier_fill *f)
{
	struct tier_space sp;

	int r;

	memset(f, 0, sizeof(*f));
	if ((r = tier_space(t, &sp)) == 0 && sp.size > 0) {
		f->known = true;
		f->size = sp.size;
		f->used = sp.used;
	} else if (r != 0 && r != -ENOTSUP)
		f->failed = true;	/* never taken as empty */
}

void
policy_fill(struct tier *tiers, int n, struct tier_fill *fill)
{
	int i;

	for (i = 0; i < n; i++)
		fill_of(&tiers[i], &fill[i]);
}

void
policy_fill_apply(const struct policy *p, const struct conf *c,
    struct tier_fill *fill)
{
	struct tier_conf tc;
	struct tier t;
	char *path;

	if (p->fill_path == NULL || c->tiers[p->from].root == NULL)
		return;
	/* The file system mounted there: measured as a tier of its own. */
	path = jts_path_join(c->tiers[p->from].root, p->fill_path);
	tc = c->tiers[p->from];
	tc.root = path;
	memset(&t, 0, sizeof(t));
	t.tc = &tc;
	t.ops = tier_ops_of(tc.kind);
	t.rootfd = -1;
	fill_of(&t, &fill[p->from]);
	free(path);
}

static double
pct(const struct tier_fill *f)
{
	return f->known && f->size ? 100.0 * (double)f->used /
	    (double)f->size : 0;
}

static const char *
excluded_by(const struct policy *p, const char *rel)
{
	int i;

	for (i = 0; i < p->nexclude; i++)
		if (fnmatch(p->exclude[i], rel, 0) == 0)
			return p->exclude[i];
	return NULL;
}

const char *
policy_reason_name(enum policy_reason r)
{
	switch (r) {
	case RUN_SCHEDULE:
		return "schedule";
	case RUN_FILL:
		return "fill";
	case RUN_REQUEST:
		return "request";
	}
	return "?";
}

/* Space a file of size takes on a disk: whole 4 KiB blocks. */
static uint64_t
blocks_of(int64_t size)
{
	return ((uint64_t)size + 4095) & ~(uint64_t)4095;
}

/* A policy up takes a file whose home is its destination or above. */
static bool
home_above(const struct policy *p, const char *home)
{
	int i;

	for (i = 0; home != NULL && i < p->nhomes; i++)
		if (strcmp(p->homes[i], home) == 0)
			return true;
	return false;
}

/*
 * Would a file of size fill the destination past the policy's cap?  Its
 * apparent size: a copy is hashed over every byte, holes too, so a sparse
 * file takes the time of its size, and is charged it.
 */
static bool
over_cap(const struct policy *p, const struct tier_fill *dst, int64_t size)
{
	if (p->dst_cap >= 0 && dst->failed)
		return true;
	if (p->dst_cap < 0 || !dst->known || dst->size == 0)
		return false;
	return 100.0 * (double)(dst->used + blocks_of(size)) /
	    (double)dst->size > (double)p->dst_cap;
}

/* How long a selection may take, and what to do while it runs. */
static int64_t eval_limit_ns = 60 * 1000000000LL;
static void (*eval_tick)(void);

void
policy_set_limits(int64_t seconds, void (*tick)(void))
{
	eval_limit_ns = seconds * 1000000000LL;
	eval_tick = tick;
}

struct eval_guard {
	int64_t		 deadline, next_tick;
	bool		 timed_out;
};

/* SQLite calls this every 100 steps of a policy's statement. */
static int
eval_progress(void *arg)
{
	struct eval_guard *g = arg;
	int64_t now = jts_mono_ns();

	if (now > g->deadline) {
		g->timed_out = true;
		return 1;	/* SQLITE_INTERRUPT */
	}
	if (eval_tick != NULL && now >= g->next_tick) {
		g->next_tick = now + 20000000;	/* 20 ms */
		eval_tick();
	}
	return 0;
}

/*
 * Bound a policy's statement on db: its time (and a turn for the
 * daemon's clients while it runs), and the length of what it makes.
 */
static int
eval_begin(sqlite3 *db, struct eval_guard *g)
{
	g->deadline = jts_mono_ns() + eval_limit_ns;
	g->next_tick = 0;
	g->timed_out = false;
	sqlite3_progress_handler(db, 100, eval_progress, g);
	return sqlite3_limit(db, SQLITE_LIMIT_LENGTH, POLICY_MAX_VALUE);
}

static void
eval_end(sqlite3 *db, int old_length)
{
	sqlite3_progress_handler(db, 0, NULL, NULL);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, old_length);
}

/* Why a policy's statement failed, into err. */
static void
eval_error(const struct policy *p, sqlite3 *db, const struct eval_guard *g,
    int r, char *err, size_t errlen)
{
	if (g->timed_out)
		snprintf(err, errlen, "%s: the selection took longer than "
		    "%.0f s ([daemon] policy_timeout) and was stopped: make "
		    "its condition or order cheaper", p->file,
		    (double)eval_limit_ns / 1e9);
	else if (r == SQLITE_TOOBIG)
		snprintf(err, errlen, "%s: policy query failed: a value it "
		    "makes is over %d bytes (a policy's values are limited)",
		    p->file, POLICY_MAX_VALUE);
	else
		snprintf(err, errlen, "%s: policy query failed: %s", p->file,
		    sqlite3_errmsg(db));
}

int
policy_select(struct policy *p, sqlite3 *db, int64_t now_ns,
    enum policy_reason reason, const struct tier_fill *fill,
    struct policy_sel *out, char *err, size_t errlen)
{
	struct tier_fill *src, *dst;
	struct eval_guard g;
	sqlite3_stmt *st = p->sel;
	int r, old_length;

	memset(out, 0, sizeof(*out));
	out->reason = reason;
	memcpy(out->after, fill, sizeof(out->after));
	src = &out->after[p->from];
	dst = &out->after[p->to];
	if (reason == RUN_FILL && (!src->known || pct(src) < p->high)) {
		out->fill_idle = true;
		out->stopped = "source below its high watermark";
		return 0;
	}
	if (st == NULL || pins_load(db) != 0) {
		snprintf(err, errlen, "%s: policy not compiled or pins "
		    "unreadable: %s", p->name, sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_reset(st);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":now"),
	    now_ns);
	sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":from"),
	    p->from_name, -1, SQLITE_STATIC);
	old_length = eval_begin(db, &g);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *rel = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		int64_t size = sqlite3_column_int64(st, 1);
		char *path;

		if (rel == NULL || sqlite3_column_int(st, 2) != 0 ||
		    sqlite3_column_int64(st, 3) < p->min_residency_s ||
		    (p->up && !home_above(p, (const char *)
		    sqlite3_column_text(st, 4))))
			continue;
		path = xmalloc((size_t)n + 1);
		memcpy(path, rel, (size_t)n);
		path[n] = '\0';
		if (strlen(path) != (size_t)n || excluded_by(p, path)) {
			free(path);
			continue;
		}
		if (p->max_files && (uint64_t)out->n >= p->max_files) {
			out->stopped = "max_files reached";
			free(path);
			break;
		}
		if (p->max_bytes && out->bytes + (uint64_t)size >
		    p->max_bytes) {
			out->stopped = "max_bytes reached";
			free(path);
			break;
		}
		if (reason == RUN_FILL && pct(src) <= p->low) {
			out->stopped = "source down to its low watermark";
			free(path);
			break;
		}
		if (dst->failed && p->dst_cap >= 0) {
			out->stopped = "destination's fill cannot be measured "
			    "(taken as full)";
			free(path);
			break;
		}
		if (over_cap(p, dst, size)) {
			/*
			 * This one does not fit: the next may (one file, a
			 * sparse one of 8 TiB, never stops the run for all);
			 * the run ends once none could.
			 */
			out->too_big++;
			free(path);
			if (!over_cap(p, dst, 0))
				continue;
			out->stopped = p->up ? "destination at its low "
			    "watermark" : "destination at its high watermark";
			break;
		}
		if (out->n == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 64;
			out->c = xrealloc(out->c, (size_t)out->cap *
			    sizeof(*out->c));
		}
		out->c[out->n].rel = path;
		out->c[out->n].size = size;
		out->n++;
		out->bytes += (uint64_t)size;
		if (src->known)
			src->used -= src->used > blocks_of(size) ?
			    blocks_of(size) : src->used;
		if (dst->known)
			dst->used += blocks_of(size);
	}
	/* Files passed over: the bound is why they stay. */
	if (out->too_big > 0 && out->stopped == NULL)
		out->stopped = p->up ? "destination at its low watermark" :
		    "destination at its high watermark";
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		eval_error(p, db, &g, r, err, errlen);
	sqlite3_reset(st);
	eval_end(db, old_length);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		policy_sel_free(out);
		return g.timed_out ? -ETIMEDOUT : -EIO;
	}
	return 0;
}

void
policy_sel_free(struct policy_sel *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		free(s->c[i].rel);
	free(s->c);
	s->c = NULL;
	s->n = s->cap = 0;
}

int
policy_explain(struct policy *p, sqlite3 *db, const struct conf *c,
    int64_t now_ns, const char *rel, const struct tier_fill *fill,
    char *why, size_t whylen)
{
	sqlite3_stmt *st = p->one;
	const char *pin, *ex;
	char b1[32], b2[32], b3[32];
	struct eval_guard g;
	int64_t res, age, idle, size;
	int r, ret = 0, old_length;

	if (st == NULL || pins_load(db) != 0) {
		snprintf(why, whylen, "policy not compiled");
		return -EIO;
	}
	sqlite3_reset(st);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":now"),
	    now_ns);
	sqlite3_bind_blob(st, sqlite3_bind_parameter_index(st, ":path"), rel,
	    (int)strlen(rel), SQLITE_STATIC);
	old_length = eval_begin(db, &g);
	r = sqlite3_step(st);
	eval_end(db, old_length);
	if (r == SQLITE_DONE) {
		snprintf(why, whylen, "not in the catalog (the daemon's next "
		    "scan adds it)");
		goto out;
	}
	if (r != SQLITE_ROW) {
		eval_error(p, db, &g, r, why, whylen);
		ret = -EIO;
		goto out;
	}
	res = sqlite3_column_int64(st, 2);
	age = sqlite3_column_int64(st, 3);
	idle = sqlite3_column_int64(st, 4);
	size = sqlite3_column_int64(st, 5);
	if (strcmp((const char *)sqlite3_column_text(st, 0),
	    c->tiers[p->from].name) != 0)
		snprintf(why, whylen, "is on tier %s; this policy moves files "
		    "from %s", sqlite3_column_text(st, 0),
		    c->tiers[p->from].name);
	else if (sqlite3_column_int(st, 1) != 0) {
		pin = pin_of(rel, strlen(rel));
		snprintf(why, whylen, "pinned%s%s", pin ? " by " : "",
		    pin ? jts_quote(pin) : "");
	}
	else if ((ex = excluded_by(p, rel)) != NULL)
		snprintf(why, whylen, "excluded by '%s'", ex);
	else if (p->up && !home_above(p, (const char *)
	    sqlite3_column_text(st, 7)))
		snprintf(why, whylen, "its home is tier %s, below %s: a policy "
		    "up brings files back toward their home only",
		    sqlite3_column_text(st, 7), c->tiers[p->to].name);
	else if (sqlite3_column_int(st, 8) == 0)
		snprintf(why, whylen, "condition false: %s (age %s, idle %s, "
		    "size %jd, heat %.2f)", p->condition,
		    jts_fmt_duration(age, b1, sizeof(b1)),
		    jts_fmt_duration(idle, b2, sizeof(b2)), (intmax_t)size,
		    sqlite3_column_double(st, 6));
	else if (res < p->min_residency_s)
		snprintf(why, whylen, "matches, but on tier %s for %s only, "
		    "min_residency is %s", c->tiers[p->from].name,
		    jts_fmt_duration(res, b1, sizeof(b1)),
		    jts_fmt_duration(p->min_residency_s, b2, sizeof(b2)));
	else if (over_cap(p, &fill[p->to], size)) {
		snprintf(why, whylen, "matches, but tier %s is %.0f%% full: a "
		    "run stops at its %s (%d%%)", c->tiers[p->to].name,
		    pct(&fill[p->to]), p->dst_cap_what, p->dst_cap);
	} else {
		ret = 1;
		if (p->schedule_s)
			snprintf(why, whylen, "matches: moves to %s on the next "
			    "scheduled run (every %s)%s", c->tiers[p->to].name,
			    jts_fmt_duration(p->schedule_s, b3, sizeof(b3)),
			    p->max_files || p->max_bytes ?
			    ", within the run's limits" : "");
		else
			snprintf(why, whylen, "matches: moves to %s when tier "
			    "%s is above %d%% full (now %.0f%%)",
			    c->tiers[p->to].name, c->tiers[p->from].name,
			    p->high, pct(&fill[p->from]));
	}
out:
	sqlite3_reset(st);
	return ret;
}
