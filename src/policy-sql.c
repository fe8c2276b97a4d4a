/* policy-sql.c - the SQL of policies: the catalog view a condition is
 * written against, its functions (printf bounded), the authorizer that
 * sandboxes it, and compiling it once */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy-int.h"
#include "util.h"

/*
 * The documented view a condition and an order are written against.  Its
 * times are whole seconds; :now is the time of the evaluation, bound once
 * per run so every row sees the same instant.  %s is the filter of the
 * rows read (by tier for a run, by path for explain).
 */
static const char view_sql[] =
    "WITH policy_files AS (SELECT "
    "CAST(path AS TEXT) AS path, "
    "jts_basename(path) AS name, "
    "size, uid, gid, mode, tier, home, "
    "jts_pinned(path, pinned) AS pinned, "
    "mtime_ns / 1000000000 AS mtime, "
    "ctime_ns / 1000000000 AS ctime, "
    "max(coalesce(atime_ns, 0), mtime_ns) / 1000000000 AS atime, "
    "(:now - mtime_ns) / 1000000000 AS age, "
    "(:now - max(coalesce(atime_ns, 0), mtime_ns)) / 1000000000 AS idle, "
    "(:now - coalesce(moved_ns, mtime_ns)) / 1000000000 AS residency, "
    "heat * pow(0.5, (:now - coalesce(atime_ns, :now)) / 86400e9) AS heat, "
    "hash IS NOT NULL AS hashed, "
    ":now / 1000000000 AS now "
    "FROM files WHERE %s) ";

/* Functions a condition or an order may call: pure, read-only. */
static const char *const allowed_fn[] = {
	"abs", "coalesce", "glob", "ifnull", "iif", "instr", "length",
	"like", "lower", "ltrim", "max", "min", "nullif", "pow", "power",
	"printf", "format", "replace", "round", "rtrim", "substr",
	"substring", "trim", "typeof", "upper", "unicode", "hex",
	"strftime", "date", "time", "datetime", "julianday", "unixepoch",
	"log", "log10", "ln", "exp", "sqrt", "floor", "ceil", "ceiling",
	"minutes", "hours", "days", "weeks", "kib", "mib", "gib", "tib",
	"jts_basename", "jts_pinned",
	NULL
};

/* ---- SQL functions ---------------------------------------------------- */

/* Pinned prefixes, read from the pins table before each evaluation. */
static struct {
	char	**path;
	size_t	 *len;
	int	  n;
} pins;

static void
pins_clear(void)
{
	int i;

	for (i = 0; i < pins.n; i++)
		free(pins.path[i]);
	free(pins.path);
	free(pins.len);
	memset(&pins, 0, sizeof(pins));
}

int
pins_load(sqlite3 *db)
{
	sqlite3_stmt *st;
	int r;

	pins_clear();
	if (sqlite3_prepare_v2(db, "SELECT path FROM pins", -1, &st, NULL)
	    != SQLITE_OK)
		return -EIO;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 0);

		pins.path = xrealloc(pins.path, (size_t)(pins.n + 1) *
		    sizeof(char *));
		pins.len = xrealloc(pins.len, (size_t)(pins.n + 1) *
		    sizeof(size_t));
		pins.path[pins.n] = xmalloc((size_t)n + 1);
		memcpy(pins.path[pins.n], sqlite3_column_blob(st, 0),
		    (size_t)n);
		pins.path[pins.n][n] = '\0';
		pins.len[pins.n++] = (size_t)n;
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : -EIO;
}

/* The pin that covers path (itself or a directory above), or NULL. */
const char *
pin_of(const char *path, size_t n)
{
	int i;

	for (i = 0; i < pins.n; i++) {
		size_t k = pins.len[i];

		if (n >= k && memcmp(path, pins.path[i], k) == 0 &&
		    (n == k || path[k] == '/'))
			return pins.path[i];
	}
	return NULL;
}

static void
fn_pinned(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	const char *p = sqlite3_value_blob(v[0]);
	int n = sqlite3_value_bytes(v[0]);

	(void)argc;
	if (sqlite3_value_int(v[1]) != 0 || (p && pin_of(p, (size_t)n)))
		sqlite3_result_int(ctx, 1);
	else
		sqlite3_result_int(ctx, 0);
}

static void
fn_basename(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	const char *p = sqlite3_value_blob(v[0]);
	int n = sqlite3_value_bytes(v[0]), i;

	(void)argc;
	if (p == NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	for (i = n; i > 0 && p[i - 1] != '/'; i--)
		;
	sqlite3_result_text(ctx, p + i, n - i, SQLITE_TRANSIENT);
}

/* days(n) and friends: units, so conditions read as they mean. */
static void
fn_scale(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	double mul = *(double *)sqlite3_user_data(ctx);

	(void)argc;
	if (sqlite3_value_type(v[0]) == SQLITE_NULL)
		sqlite3_result_null(ctx);
	else if (sqlite3_value_type(v[0]) == SQLITE_INTEGER &&
	    fabs((double)sqlite3_value_int64(v[0]) * mul) < 9e18)
		sqlite3_result_int64(ctx, sqlite3_value_int64(v[0]) *
		    (int64_t)mul);
	else
		sqlite3_result_double(ctx, sqlite3_value_double(v[0]) * mul);
}

/*
 * printf() and format() with bounded widths and precisions.  SQLite's own
 * turns printf('%.*c', 30000000, x) into thirty million steps inside one
 * call, where no progress handler runs and no length limit stops it; so
 * a policy's calls are checked here first, then done by the built-in one
 * on a private connection (the only place left where it is not replaced).
 */
#define FMT_MAX_WIDTH	4096
#define FMT_MAX_ARGS	32

struct fmt_ctx {
	sqlite3		*db;
	sqlite3_stmt	*st[FMT_MAX_ARGS + 1];	/* by argument count */
};

/* A width or precision at p (digits or '*', which takes an argument). */
static int64_t
fmt_number(const char **pp, int argc, sqlite3_value **v, int *ai)
{
	const char *p = *pp;
	int64_t n = 0;

	if (*p == '*') {
		*pp = p + 1;
		if (*ai >= argc)
			return 0;
		n = sqlite3_value_int64(v[(*ai)++]);
		return n < 0 ? (n == INT64_MIN ? INT64_MAX : -n) : n;
	}
	while (*p >= '0' && *p <= '9') {
		if (n < INT64_MAX / 10)
			n = n * 10 + (*p - '0');
		p++;
	}
	*pp = p;
	return n;
}

/* Whether every width and precision in fmt is at most FMT_MAX_WIDTH. */
static bool
fmt_bounded(const char *fmt, int argc, sqlite3_value **v)
{
	const char *p;
	int ai = 1;

	for (p = fmt; *p; p++) {
		if (*p != '%')
			continue;
		if (*++p == '%')
			continue;
		while (*p && strchr("-+ #!0,", *p) != NULL)
			p++;
		if (fmt_number(&p, argc, v, &ai) > FMT_MAX_WIDTH)
			return false;
		if (*p == '.') {
			p++;
			if (fmt_number(&p, argc, v, &ai) > FMT_MAX_WIDTH)
				return false;
		}
		while (*p == 'l')
			p++;
		if (*p == '\0')
			break;
		ai++;
	}
	return true;
}

static void
fn_printf(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	struct fmt_ctx *f = sqlite3_user_data(ctx);
	const char *fmt;
	sqlite3_stmt *st;
	int i;

	if (argc < 1 || (fmt = (const char *)sqlite3_value_text(v[0])) ==
	    NULL)
		return;		/* NULL, as SQLite's */
	if (argc > FMT_MAX_ARGS) {
		sqlite3_result_error(ctx, "printf: too many arguments", -1);
		return;
	}
	if (!fmt_bounded(fmt, argc, v)) {
		sqlite3_result_error(ctx, "printf: a width or precision over "
		    "4096", -1);
		return;
	}
	if (f->db == NULL) {
		if (sqlite3_open_v2(":memory:", &f->db, SQLITE_OPEN_READWRITE,
		    NULL) != SQLITE_OK) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
		sqlite3_limit(f->db, SQLITE_LIMIT_LENGTH, POLICY_MAX_VALUE);
	}
	if ((st = f->st[argc]) == NULL) {
		char sql[16 + 4 * FMT_MAX_ARGS] = "SELECT printf(?1";
		size_t n = strlen(sql);

		for (i = 2; i <= argc; i++)
			n += (size_t)snprintf(sql + n, sizeof(sql) - n, ",?%d",
			    i);
		snprintf(sql + n, sizeof(sql) - n, ")");
		if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) !=
		    SQLITE_OK) {
			sqlite3_result_error(ctx, sqlite3_errmsg(f->db), -1);
			return;
		}
		f->st[argc] = st;
	}
	for (i = 0; i < argc; i++)
		sqlite3_bind_value(st, i + 1, v[i]);
	if (sqlite3_step(st) == SQLITE_ROW)
		sqlite3_result_value(ctx, sqlite3_column_value(st, 0));
	else
		sqlite3_result_error(ctx, sqlite3_errmsg(f->db), -1);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void
fmt_free(void *arg)
{
	struct fmt_ctx *f = arg;
	int i;

	for (i = 0; i <= FMT_MAX_ARGS; i++)
		sqlite3_finalize(f->st[i]);
	sqlite3_close(f->db);
	free(f);
}

int
policy_db_init(sqlite3 *db)
{
	static double units[] = { 60, 3600, 86400, 604800, 1024.0,
	    1048576.0, 1073741824.0, 1099511627776.0 };
	static const char *const unames[] = { "minutes", "hours", "days",
	    "weeks", "kib", "mib", "gib", "tib" };
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC |
	    SQLITE_INNOCUOUS;
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (sqlite3_create_function(db, unames[i], 1, flags, &units[i],
		    fn_scale, NULL, NULL) != SQLITE_OK)
			return -EIO;
	if (sqlite3_create_function(db, "jts_basename", 1, flags, NULL,
	    fn_basename, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "jts_pinned", 2, SQLITE_UTF8 |
	    SQLITE_INNOCUOUS, NULL, fn_pinned, NULL, NULL) != SQLITE_OK)
		return -EIO;
	for (i = 0; i < 2; i++)
		if (sqlite3_create_function_v2(db, i ? "format" : "printf", -1,
		    flags, xcalloc(1, sizeof(struct fmt_ctx)), fn_printf, NULL,
		    NULL, fmt_free) != SQLITE_OK)
			return -EIO;
	return 0;
}

/* ---- compiling -------------------------------------------------------- */

struct authz {
	int		 selects;
	int		 max_selects;	/* the query's own; 0: counting them */
	char		 why[160];
};

static int
authorize(void *arg, int action, const char *a1, const char *a2,
    const char *db, const char *trigger)
{
	struct authz *az = arg;
	int i;

	(void)db;
	(void)trigger;
	switch (action) {
	case SQLITE_SELECT:
		if (++az->selects > az->max_selects && az->max_selects > 0) {
			if (!*az->why)
				snprintf(az->why, sizeof(az->why), "subqueries "
				    "are not allowed (one expression over "
				    "policy_files)");
			return SQLITE_DENY;
		}
		return SQLITE_OK;
	case SQLITE_READ:
		if (a1 != NULL && strcmp(a1, "files") == 0)
			return SQLITE_OK;
		if (!*az->why)
			snprintf(az->why, sizeof(az->why), "reads table %s, "
			    "only the policy_files view may be read",
			    a1 ? a1 : "?");
		return SQLITE_DENY;
	case SQLITE_FUNCTION:
		for (i = 0; allowed_fn[i] != NULL; i++)
			if (a2 != NULL && strcasecmp(a2, allowed_fn[i]) == 0)
				return SQLITE_OK;
		if (!*az->why)
			snprintf(az->why, sizeof(az->why), "calls %s(), which "
			    "conditions may not use (see jts-tier.policy(5))",
			    a2 ? a2 : "?");
		return SQLITE_DENY;
	default:
		if (!*az->why)
			snprintf(az->why, sizeof(az->why), "is not a read-only "
			    "expression (SQLite action %d)", action);
		return SQLITE_DENY;
	}
}

static char *
build_sql(const char *filter, const char *what, const char *cond,
    const char *order)
{
	char *view = xasprintf(view_sql, filter), *sql;

	if (order != NULL)
		sql = xasprintf("%sSELECT %s FROM policy_files WHERE (%s) "
		    "ORDER BY %s, path", view, what, cond, order);
	else
		sql = xasprintf("%sSELECT %s, (%s) FROM policy_files", view,
		    what, cond);
	free(view);
	return sql;
}

/* Prepare sql under the sandbox; the number of SELECTs it made. */
static int
sandboxed_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out,
    struct authz *az, int max_selects)
{
	int r;

	memset(az, 0, sizeof(*az));
	az->max_selects = max_selects;
	sqlite3_set_authorizer(db, authorize, az);
	r = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
	    NULL);
	sqlite3_set_authorizer(db, NULL, NULL);
	return r;
}

static const char sel_what[] = "path, size, pinned, residency, home";
static const char one_what[] =
    "tier, pinned, residency, age, idle, size, heat, home";

/*
 * How many SELECTs a form of the query makes with a trivial condition:
 * the most it may make with the policy's own (more is a subquery).
 */
static int
own_selects(sqlite3 *db, const char *filter, const char *what,
    const char *order)
{
	struct authz az;
	sqlite3_stmt *st;
	char *sql = build_sql(filter, what, "1", order);
	int r = sandboxed_prepare(db, sql, &st, &az, 0);

	free(sql);
	if (r != SQLITE_OK)
		return -1;
	sqlite3_finalize(st);
	return az.selects;
}

/* Compile one form of p's query under the sandbox; errors name part:line. */
static int
compile_form(struct policy *p, sqlite3 *db, const char *filter,
    const char *what, const char *order, sqlite3_stmt **out,
    const char *part, int line, char *err, size_t errlen)
{
	struct authz az;
	char *sql;
	int base, r;

	if ((base = own_selects(db, filter, what, order ? "path" : NULL)) < 0) {
		snprintf(err, errlen, "%s: cannot compile the policy query: "
		    "%s", p->file, sqlite3_errmsg(db));
		return -EIO;
	}
	sql = build_sql(filter, what, p->condition, order);
	r = sandboxed_prepare(db, sql, out, &az, base);
	free(sql);
	if (r != SQLITE_OK) {
		*out = NULL;
		snprintf(err, errlen, "%s:%d: %s: %s", p->file, line, part,
		    *az.why ? az.why : sqlite3_errmsg(db));
		return -EINVAL;
	}
	return 0;
}

int
policy_compile(struct policy *p, sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int r;

	if (p->sel != NULL)
		return 0;
	/* The condition alone first, so that its errors name its line. */
	if ((r = compile_form(p, db, "tier = :from", sel_what, "path", &st,
	    "condition", p->cond_line, err, errlen)) != 0)
		return r;
	sqlite3_finalize(st);
	if (p->order != NULL)
		r = compile_form(p, db, "tier = :from", sel_what, p->order,
		    &p->sel, "order", p->order_line, err, errlen);
	else
		r = compile_form(p, db, "tier = :from", sel_what, "idle DESC",
		    &p->sel, "condition", p->cond_line, err, errlen);
	if (r != 0)
		return r;
	return compile_form(p, db, "path = :path", one_what, NULL, &p->one,
	    "condition", p->cond_line, err, errlen);
}

int
policy_set_compile(struct policy_set *s, sqlite3 *db, char *err,
    size_t errlen)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (policy_compile(&s->p[i], db, err, errlen) != 0)
			return -EINVAL;
	return 0;
}

