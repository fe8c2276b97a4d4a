/* cmd-policy.c - policy list|test, explain, pin and unpin */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "client.h"
#include "cmd.h"
#include "policy.h"
#include "tier.h"
#include "stub.h"
#include "util.h"

static const char policy_options[] =
    "subcommands:\n"
    "  list                 the policies, their tiers and triggers\n"
    "  test NAME            exactly what NAME's next run would move, in "
    "order,\n"
    "                       and each tier's fill after it; changes "
    "nothing\n"
    "  run NAME             ask the daemon to run NAME now (root)\n"
    "\noptions:\n"
    "      --fill           test a run started by the fill level "
    "(on_fill)\n"
    "  -j, --json           machine-readable output\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n";

/* Load configuration and policies, and open the catalog to read. */
/* Every tier's fill level now (an nfs tier's through FSSTAT). */
static void
fill_now(struct cmd_ctx *ctx, struct tier_fill *fill)
{
	struct tier t[JTS_MAX_TIERS];
	int i;

	for (i = 0; i < ctx->conf.ntiers; i++)
		tier_init(&t[i], &ctx->conf, i);
	policy_fill(t, ctx->conf.ntiers, fill);
	for (i = 0; i < ctx->conf.ntiers; i++)
		tier_fini(&t[i]);
}

static int
policy_open(struct cmd_ctx *ctx, struct policy_set *ps, struct catalog *cat,
    bool need_catalog)
{
	char err[1024];

	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	policy_set_limits(ctx->conf.policy_timeout, NULL);
	if (policy_load_dir(ctx->conf.policies, &ctx->conf, ps, err,
	    sizeof(err)) != 0) {
		jts_err("%s", err);
		return EXIT_USAGE;
	}
	memset(cat, 0, sizeof(*cat));
	if (need_catalog && access(ctx->conf.catalog, F_OK) != 0) {
		jts_warn("catalog %s does not exist yet: nothing is catalogued "
		    "('jts-tierctl scan' or jts-tierd's first scan fills it)",
		    ctx->conf.catalog);
		need_catalog = false;
	}
	/* Without the catalog, conditions are checked against its schema. */
	if (catalog_open(need_catalog ? ctx->conf.catalog : ":memory:",
	    need_catalog, cat, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		policy_set_free(ps);
		return EXIT_FAILED;
	}
	if (policy_db_init(cat->db) != 0 ||
	    policy_set_compile(ps, cat->db, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		policy_set_free(ps);
		catalog_close(cat);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static void
trigger_text(const struct policy *p, const struct conf *c, char *buf,
    size_t len)
{
	char d[32], w[96];

	/* What the watermarks watch: the tier, or a volume beneath it. */
	snprintf(w, sizeof(w), "%s%s%s", c->tiers[p->from].name,
	    p->fill_path ? "/" : "", p->fill_path ? p->fill_path : "");
	if (p->schedule_s && p->on_fill)
		snprintf(buf, len, "every %s, and when %s is above %d%% (down "
		    "to %d%%)", jts_fmt_duration(p->schedule_s, d, sizeof(d)),
		    w, p->high, p->low);
	else if (p->schedule_s)
		snprintf(buf, len, "every %s", jts_fmt_duration(p->schedule_s,
		    d, sizeof(d)));
	else
		snprintf(buf, len, "when %s is above %d%% (down to %d%%)", w,
		    p->high, p->low);
}

static int
policy_list(struct cmd_ctx *ctx, bool json)
{
	struct policy_set ps;
	struct catalog cat;
	json_object *arr;
	char trig[160];
	int r, i;

	if ((r = policy_open(ctx, &ps, &cat, false)) != EXIT_OK)
		return r;
	arr = json_object_new_array();
	if (!json && ps.n == 0)
		printf("no policies in %s (examples to copy there: %s)\n",
		    ps.dir, DATADIR "/jts-tier/policies");
	for (i = 0; i < ps.n; i++) {
		struct policy *p = &ps.p[i];

		trigger_text(p, &ctx->conf, trig, sizeof(trig));
		if (json) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name",
			    json_object_new_string(p->name));
			json_object_object_add(o, "file",
			    json_object_new_string(p->file));
			json_object_object_add(o, "from",
			    json_object_new_string(p->from_name));
			json_object_object_add(o, "to",
			    json_object_new_string(p->to_name));
			json_object_object_add(o, "up",
			    json_object_new_boolean(p->up));
			json_object_object_add(o, "enabled",
			    json_object_new_boolean(p->enabled));
			json_object_object_add(o, "schedule_s",
			    json_object_new_int64(p->schedule_s));
			json_object_object_add(o, "on_fill",
			    json_object_new_boolean(p->on_fill));
			json_object_object_add(o, "condition",
			    json_object_new_string(p->condition));
			json_object_array_add(arr, o);
		} else
			printf("%-20s %s -> %s%s, %s%s\n  condition: %s\n",
			    p->name, p->from_name, p->to_name, p->up ?
			    " (up: recalls)" : "", trig,
			    p->enabled ? "" : " (disabled)", p->condition);
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(arr,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	policy_set_free(&ps);
	catalog_close(&cat);
	return EXIT_OK;
}

static double
pctf(const struct tier_fill *f)
{
	return f->size ? 100.0 * (double)f->used / (double)f->size : 0;
}

/* Print a selection (what policy test shows, and what a run moves). */
void
policy_print_sel(FILE *fp, const struct policy *p, const struct conf *c,
    const struct policy_sel *s, const struct tier_fill *before)
{
	char b[32];
	int i, t;

	for (i = 0; i < s->n; i++)
		fprintf(fp, "move %s %s\n", jts_quote(s->c[i].rel),
		    jts_fmt_bytes((uint64_t)s->c[i].size, b, sizeof(b)));
	fprintf(fp, "%d file(s), %s would move from %s to %s (%s run)%s%s\n",
	    s->n, jts_fmt_bytes(s->bytes, b, sizeof(b)), p->from_name,
	    p->to_name, policy_reason_name(s->reason),
	    s->stopped ? "; " : "", s->stopped ? s->stopped : "");
	if (s->too_big > 0)
		fprintf(fp, "%" PRIu64 " file(s) passed over: each would take "
		    "%s past its cap; the files after them still move\n",
		    s->too_big, p->to_name);
	for (t = 0; t < c->ntiers; t++) {
		if (t != p->from && t != p->to)
			continue;
		if (!before[t].known) {
			fprintf(fp, "tier %s: fill level unknown\n",
			    c->tiers[t].name);
			continue;
		}
		fprintf(fp, "tier %s: %.1f%% used now, %.1f%% after\n",
		    c->tiers[t].name, pctf(&before[t]), pctf(&s->after[t]));
		/* The arithmetic, as df(1) makes it. */
		fprintf(fp, "  now:   used %" PRIu64 " / (used + available) %"
		    PRIu64 " bytes\n", before[t].used, before[t].size);
		fprintf(fp, "  after: used %" PRIu64 " %s %" PRIu64 " (the "
		    "files' 4 KiB blocks) = %" PRIu64 "\n", before[t].used,
		    t == p->to ? "+" : "-", t == p->to ?
		    s->after[t].used - before[t].used : before[t].used -
		    s->after[t].used, s->after[t].used);
		if (t == p->to && p->dst_cap >= 0)
			fprintf(fp, "  a run stops before %s goes above %d%% "
			    "(its %s)\n", c->tiers[t].name, p->dst_cap,
			    p->dst_cap_what);
		if (t == p->from && s->reason == RUN_FILL && !p->up)
			fprintf(fp, "  a fill run starts above %d%% and stops "
			    "at %d%%\n", p->high, p->low);
	}
}

json_object *
policy_sel_json(const struct policy *p, const struct conf *c,
    const struct policy_sel *s, const struct tier_fill *before)
{
	json_object *o = json_object_new_object(), *files, *tiers;
	int i, t;

	json_object_object_add(o, "policy", json_object_new_string(p->name));
	json_object_object_add(o, "from", json_object_new_string(p->from_name));
	json_object_object_add(o, "to", json_object_new_string(p->to_name));
	json_object_object_add(o, "reason",
	    json_object_new_string(policy_reason_name(s->reason)));
	files = json_object_new_array();
	for (i = 0; i < s->n; i++) {
		json_object *f = json_object_new_object();

		jts_json_add_path(f, "path", s->c[i].rel);
		json_object_object_add(f, "size",
		    json_object_new_int64(s->c[i].size));
		json_object_array_add(files, f);
	}
	json_object_object_add(o, "files", files);
	json_object_object_add(o, "count", json_object_new_int(s->n));
	json_object_object_add(o, "bytes",
	    json_object_new_int64((int64_t)s->bytes));
	json_object_object_add(o, "stopped", s->stopped ?
	    json_object_new_string(s->stopped) : NULL);
	json_object_object_add(o, "passed_over",
	    json_object_new_int64((int64_t)s->too_big));
	tiers = json_object_new_array();
	for (t = 0; t < c->ntiers; t++) {
		json_object *f;

		if (t != p->from && t != p->to)
			continue;
		f = json_object_new_object();
		json_object_object_add(f, "name",
		    json_object_new_string(c->tiers[t].name));
		json_object_object_add(f, "known",
		    json_object_new_boolean(before[t].known));
		json_object_object_add(f, "size",
		    json_object_new_int64((int64_t)before[t].size));
		json_object_object_add(f, "used_now",
		    json_object_new_int64((int64_t)before[t].used));
		json_object_object_add(f, "used_after",
		    json_object_new_int64((int64_t)s->after[t].used));
		if (t == p->to && p->dst_cap >= 0)
			json_object_object_add(f, "cap_pct",
			    json_object_new_int(p->dst_cap));
		json_object_array_add(tiers, f);
	}
	json_object_object_add(o, "tiers", tiers);
	return o;
}

static int
policy_test(struct cmd_ctx *ctx, const char *name, bool json, bool fill)
{
	struct tier_fill before[JTS_MAX_TIERS];
	struct policy_set ps;
	struct policy_sel sel;
	struct catalog cat;
	struct policy *p;
	char err[1024];
	int r;

	if ((r = policy_open(ctx, &ps, &cat, true)) != EXIT_OK)
		return r;
	if ((p = policy_find(&ps, name)) == NULL) {
		jts_err("no policy %s in %s (see 'jts-tierctl policy list')",
		    name, ps.dir);
		r = EXIT_USAGE;
		goto out;
	}
	if (fill && p->up) {
		jts_err("policy %s goes up (from %s to %s): it runs on its "
		    "schedule only, there is no fill run to test", p->name,
		    p->from_name, p->to_name);
		r = EXIT_USAGE;
		goto out;
	}
	fill_now(ctx, before);
	policy_fill_apply(p, &ctx->conf, before);
	if (policy_select(p, cat.db, jts_now_ns(), fill || !p->schedule_s ?
	    RUN_FILL : RUN_SCHEDULE, before, &sel, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		r = EXIT_FAILED;
		goto out;
	}
	if (json) {
		json_object *o = policy_sel_json(p, &ctx->conf, &sel, before);

		printf("%s\n", json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else
		policy_print_sel(stdout, p, &ctx->conf, &sel, before);
	policy_sel_free(&sel);
	r = EXIT_OK;
out:
	policy_set_free(&ps);
	catalog_close(&cat);
	return r;
}

static int
policy_run(struct cmd_ctx *ctx, const char *name)
{
	json_object *req;
	int r;

	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("run"));
	json_object_object_add(req, "policy", json_object_new_string(name));
	r = client_call(ctx, req, NULL);
	if (r == CLIENT_NO_DAEMON) {
		jts_err("no daemon is running (socket %s): policies run in "
		    "jts-tierd; 'jts-tierctl policy test %s' shows what a run "
		    "would move, 'jts-tierctl migrate' moves files by hand",
		    ctx->conf.socket, name);
		return EXIT_FAILED;
	}
	return r;
}

static int
cmd_policy_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json",	no_argument,		NULL, 'j' },
		{ "fill",	no_argument,		NULL, 'F' },
		{ "config",	required_argument,	NULL, 'c' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool json = false, fill = false;
	int ch;

	while ((ch = getopt_long(argc, argv, "jc:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 'F':
			fill = true;
			break;
		case 'c':
			ctx->conf_path = optarg;
			break;
		case 'h':
			return cmd_help(&cmd_policy_entry, policy_options);
		default:
			return cmd_usage(&cmd_policy_entry);
		}
	}
	if (optind < argc && strcmp(argv[optind], "list") == 0 &&
	    optind + 1 == argc)
		return policy_list(ctx, json);
	if (optind + 1 < argc && strcmp(argv[optind], "test") == 0 &&
	    optind + 2 == argc)
		return policy_test(ctx, argv[optind + 1], json, fill);
	if (optind + 1 < argc && strcmp(argv[optind], "run") == 0 &&
	    optind + 2 == argc)
		return policy_run(ctx, argv[optind + 1]);
	return cmd_usage(&cmd_policy_entry);
}

const struct cmd_entry cmd_policy_entry = {
	.name = "policy",
	.usage = "[-j] [--fill] list | test NAME | run NAME",
	.summary = "List the policies; show exactly what a policy's next run "
	    "would move, in\norder, with the fill level of its tiers after "
	    "it (writes nothing); or ask\nthe daemon to run one now.",
	.exec = cmd_policy_exec,
};

/* ---- explain ---------------------------------------------------------- */

static const char explain_options[] =
    "options:\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n";

/* An argument as a catalog path: beneath a tier root (or mountpoint). */
static char *
arg_rel(struct cmd_ctx *ctx, const char *arg, int *tier)
{
	const char *rel;
	char *abs = jts_path_abs(arg), *out;
	int t;

	if (abs == NULL || (t = conf_locate(&ctx->conf, abs, &rel)) < 0) {
		char tl[512];

		jts_err("%s: not beneath any tier of %s (tiers: %s)",
		    jts_quote(arg), ctx->conf.path,
		    conf_tier_list(&ctx->conf, true, tl, sizeof(tl)));
		free(abs);
		return NULL;
	}
	if (*rel == '\0') {
		jts_err("%s: is the root of tier %s; name a file or a "
		    "directory beneath it", jts_quote(arg),
		    ctx->conf.tiers[t].name);
		free(abs);
		return NULL;
	}
	out = xstrdup(rel);
	free(abs);
	if (tier)
		*tier = t;
	return out;
}

/* Where rel's data is, and what stands at the path on tier t. */
static void
explain_where(struct cmd_ctx *ctx, struct catalog *cat, const char *rel,
    int t)
{
	struct stub_info si;
	struct cat_file f;
	struct stat st;
	char *dp, *dir, *slash;
	int fd, r;

	if (catalog_file_get(cat, rel, &f) <= 0) {
		printf("  not in the catalog (a scan adds it)\n");
		return;
	}
	dp = tier_data_path(&ctx->conf.tiers[conf_tier_index(&ctx->conf,
	    f.tier) < 0 ? t : conf_tier_index(&ctx->conf, f.tier)], rel);
	printf("  data: on tier %s (%s), home tier %s\n", f.tier, dp, f.home);
	free(dp);
	dir = xasprintf("%s/%s", ctx->conf.tiers[t].root ?
	    ctx->conf.tiers[t].root : "", rel);
	slash = strrchr(dir, '/');
	*slash = '\0';
	fd = ctx->conf.tiers[t].root ? open(dir, O_PATH | O_DIRECTORY |
	    O_CLOEXEC) : -1;
	free(dir);
	if (fd >= 0 && strcmp(f.tier, ctx->conf.tiers[t].name) != 0) {
		r = stub_read_at(fd, strrchr(rel, '/') ? strrchr(rel, '/') +
		    1 : rel, &si, &st);
		if (r == 1)
			printf("  at this path: a stub (%" PRId64 " bytes, no "
			    "data here; the first read brings the data back, "
			    "verified)\n", si.size);
		else if (r == -ENOENT)
			printf("  at this path: nothing\n");
		else if (r == 0 && S_ISLNK(st.st_mode))
			printf("  at this path: a symbolic link to the data\n");
		else if (r == 0)
			printf("  at this path: a file, although the data is "
			    "on tier %s ('jts-tierctl check' says more)\n",
			    f.tier);
	}
	if (fd >= 0)
		close(fd);
	cat_file_free(&f);
}

static int
cmd_explain_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct tier_fill fill[JTS_MAX_TIERS];
	struct policy_set ps;
	struct catalog cat;
	char why[1024], *rel;
	int r, i, a, t, hits = 0;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return cmd_help(&cmd_explain_entry, explain_options);
	if (argc < 2 || argv[1][0] == '-')
		return cmd_usage(&cmd_explain_entry);
	if ((r = policy_open(ctx, &ps, &cat, true)) != EXIT_OK)
		return r;
	fill_now(ctx, fill);
	if (ps.n == 0)
		printf("no policies in %s (examples to copy there: %s)\n",
		    ps.dir, DATADIR "/jts-tier/policies");
	r = EXIT_OK;
	for (a = 1; a < argc; a++) {
		if ((rel = arg_rel(ctx, argv[a], &t)) == NULL) {
			r = EXIT_USAGE;
			continue;
		}
		printf("%s:\n", jts_quote(argv[a]));
		explain_where(ctx, &cat, rel, t);
		if (ps.n == 0)
			printf("  no policy would move it: none is "
			    "configured\n");
		for (i = 0; i < ps.n; i++) {
			struct tier_fill pf[JTS_MAX_TIERS];
			int m;

			memcpy(pf, fill, sizeof(pf));
			policy_fill_apply(&ps.p[i], &ctx->conf, pf);
			m = policy_explain(&ps.p[i], cat.db, &ctx->conf,
			    jts_now_ns(), rel, pf, why, sizeof(why));

			if (m < 0)
				r = EXIT_FAILED;
			hits += m > 0;
			printf("  %-20s %s%s\n", ps.p[i].name, why,
			    ps.p[i].enabled ? "" : " (policy disabled)");
		}
		free(rel);
	}
	policy_set_free(&ps);
	catalog_close(&cat);
	return r;
}

const struct cmd_entry cmd_explain_entry = {
	.name = "explain",
	.usage = "path ...",
	.summary = "For each file, say which policies would move it and why "
	    "the others would not.",
	.exec = cmd_explain_exec,
};

/* ---- pin, unpin ------------------------------------------------------- */

static const char pin_options[] =
    "options:\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n";

/* Pin or unpin rel in the catalog (no daemon running). */
static int
pin_local(struct cmd_ctx *ctx, const char *rel, bool pin)
{
	struct catalog cat;
	sqlite3_stmt *st;
	char err[1024];
	int r;

	if (catalog_open(ctx->conf.catalog, false, &cat, err, sizeof(err))
	    != 0) {
		jts_err("%s", err);
		return EXIT_FAILED;
	}
	r = sqlite3_prepare_v2(cat.db, pin ? "INSERT OR IGNORE INTO pins "
	    "(path, pinned_ns) VALUES (?, ?)" : "DELETE FROM pins WHERE "
	    "path = ?", -1, &st, NULL);
	if (r == SQLITE_OK) {
		sqlite3_bind_blob(st, 1, rel, (int)strlen(rel), SQLITE_STATIC);
		if (pin)
			sqlite3_bind_int64(st, 2, jts_now_ns());
		r = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (r != SQLITE_DONE) {
		jts_err("catalog %s: %s", ctx->conf.catalog,
		    sqlite3_errmsg(cat.db));
		catalog_close(&cat);
		return EXIT_FAILED;
	}
	if (!pin && sqlite3_changes(cat.db) == 0)
		jts_warn("%s was not pinned", jts_quote(rel));
	catalog_close(&cat);
	return EXIT_OK;
}

static int
run_pin(struct cmd_ctx *ctx, const struct cmd_entry *ce, int argc,
    char **argv, bool pin)
{
	char *rel;
	int a, r = EXIT_OK, k;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return cmd_help(ce, pin_options);
	if (argc < 2 || argv[1][0] == '-')
		return cmd_usage(ce);
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	for (a = 1; a < argc; a++) {
		if ((rel = arg_rel(ctx, argv[a], NULL)) == NULL) {
			r = EXIT_USAGE;
			continue;
		}
		k = client_pin(ctx, rel, pin);
		if (k == CLIENT_NO_DAEMON)
			k = pin_local(ctx, rel, pin);
		if (k != EXIT_OK)
			r = k;
		else
			printf("%s %s\n", pin ? "pinned" : "unpinned",
			    jts_quote(argv[a]));
		free(rel);
	}
	return r;
}

static int
cmd_pin_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	return run_pin(ctx, &cmd_pin_entry, argc, argv, true);
}

static int
cmd_unpin_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	return run_pin(ctx, &cmd_unpin_entry, argc, argv, false);
}

const struct cmd_entry cmd_pin_entry = {
	.name = "pin",
	.usage = "path ...",
	.summary = "Keep files where they are: no policy moves a pinned file, "
	    "or any file\nbeneath a pinned directory.  'migrate' and 'recall' "
	    "still move them.",
	.exec = cmd_pin_exec,
};

const struct cmd_entry cmd_unpin_entry = {
	.name = "unpin",
	.usage = "path ...",
	.summary = "Let policies move files again that 'pin' kept in place.",
	.exec = cmd_unpin_exec,
};

/* ---- reload ----------------------------------------------------------- */

static int
cmd_reload_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	int r;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return cmd_help(&cmd_reload_entry, pin_options);
	if (argc > 1)
		return cmd_usage(&cmd_reload_entry);
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	if ((r = client_simple(ctx, "reload")) == CLIENT_NO_DAEMON) {
		jts_err("no daemon is running (socket %s): nothing to reload; "
		    "'systemctl start jts-tierd' starts it with the files as "
		    "they are now", ctx->conf.socket);
		return EXIT_FAILED;
	}
	return r;
}

const struct cmd_entry cmd_reload_entry = {
	.name = "reload",
	.usage = "",
	.summary = "Make the daemon re-read its configuration and policies "
	    "(as SIGHUP does).\nA broken file is reported with its line and "
	    "the settings in force stay.",
	.exec = cmd_reload_exec,
};
