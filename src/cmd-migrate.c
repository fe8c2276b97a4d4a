/* cmd-migrate.c - migrate, recall and recover: commands that move data */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "engine.h"
#include "move.h"
#include "scan.h"
#include "util.h"

static const char migrate_options[] =
    "options:\n"
    "  -t, --to TIER        destination tier (default: the next tier down)\n"
    "  -n, --dry-run        print what would move, change nothing\n"
    "      --remove-source  remove the source instead of leaving a symlink\n"
    "      --leave MODE     what stays at the path: symlink, remove or stub\n"
    "                       (a stub needs jts-tierd; default: the config's)\n"
    "  -q, --quiet          print only errors and the summary\n"
    "      --no-progress    no progress bar, even on a terminal\n"
    "  -c, --config FILE    configuration file\n"
    "  -v, --verbose        one line per file moved\n"
    "  -h, --help           this help\n";

static const char recall_options[] =
    "options:\n"
    "  -t, --to TIER        destination tier (default: the file's home tier)\n"
    "  -n, --dry-run        print what would move, change nothing\n"
    "  -q, --quiet          print only errors and the summary\n"
    "      --no-progress    no progress bar, even on a terminal\n"
    "  -c, --config FILE    configuration file\n"
    "  -v, --verbose        one line per file moved\n"
    "  -h, --help           this help\n";

/*
 * Open the engine (configuration, lock, catalog) and recover, conflicts
 * too if asked; *left: the moves still open.
 */
static int
open_engine_recover(struct cmd_ctx *ctx, struct engine *e, bool conflicts,
    int *left)
{
	char err[1024];

	if (ctx->conf.path == NULL && cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	if (engine_open(e, &ctx->conf, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		return EXIT_FAILED;
	}
	if ((*left = move_recover(e, conflicts)) < 0) {
		jts_err("catalog %s: cannot read the journal",
		    ctx->conf.catalog);
		engine_close(e);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* The same before a command's own work: what is left is only noted. */
static int
open_engine(struct cmd_ctx *ctx, struct engine *e)
{
	int left, r;

	if ((r = open_engine_recover(ctx, e, false, &left)) == EXIT_OK &&
	    left > 0)
		jts_warn("%d interrupted move(s) need attention: "
		    "'jts-tierctl check' says what each needs", left);
	return r;
}

struct flush {
	struct engine		*e;
	struct move_opts	*mo;
	struct move_stats	*st;
	bool			 dry;
	int			 nplanned;
	uint64_t		 planned_bytes;
};

/* Files planned before they are moved; JTS_TIER_PLAN_CHUNK for tests. */
static int
plan_chunk(void)
{
	const char *s = jts_test_knob("JTS_TIER_PLAN_CHUNK");
	int n = s ? atoi(s) : 0;

	return n > 0 ? n : 16384;
}

static void
print_plan(struct engine *e, struct move_plan *p, struct flush *fl)
{
	int i, n = 0;

	for (i = 0; i < p->n; i++) {
		struct move_item *it = &p->items[i];
		char *path = engine_data_path(e, it->src >= 0 ? it->src : 0,
		    it->rel);

		if (it->state == IT_PENDING) {
			printf("would move %s: %s -> %s\n", jts_quote(path),
			    e->tiers[it->src].tc->name,
			    e->tiers[it->dst].tc->name);
			n++;
		} else
			printf("would not move %s: %s\n", jts_quote(path),
			    it->why ? it->why : "?");
		free(path);
	}
	fl->nplanned += n;
	fl->planned_bytes += p->bytes;
}

/* A chunk of the plan is full: move it (or print it), then forget it. */
static void
flush_plan(struct move_plan *p, void *arg)
{
	struct flush *fl = arg;

	(void)sqlite3_exec(fl->e->cat.db, "COMMIT", NULL, NULL, NULL);
	if (fl->dry) {
		print_plan(fl->e, p, fl);
		move_plan_clear(p);
	} else
		(void)move_chunk(fl->e, p, fl->mo, fl->st);
	(void)sqlite3_exec(fl->e->cat.db, "BEGIN", NULL, NULL, NULL);
}

/* Hand a migrate or recall to the daemon; CLIENT_NO_DAEMON if none. */
static int
daemon_move(struct cmd_ctx *ctx, const struct cmd_entry *ce, int argc,
    char **argv, const char *to, bool dry, bool rmsrc, bool quiet,
    const char *leave)
{
	json_object *req = json_object_new_object(), *paths;
	int i;

	json_object_object_add(req, "cmd", json_object_new_string(ce->name));
	paths = json_object_new_array();
	for (i = optind; i < argc; i++) {
		char *abs = jts_path_abs(argv[i]);

		if (abs == NULL) {
			jts_err("%s: %s", jts_quote(argv[i]), strerror(errno));
			json_object_put(paths);
			json_object_put(req);
			return EXIT_FAILED;
		}
		json_object_array_add(paths, json_object_new_string(abs));
		free(abs);
	}
	json_object_object_add(req, "paths", paths);
	if (to != NULL)
		json_object_object_add(req, "to", json_object_new_string(to));
	json_object_object_add(req, "dry_run", json_object_new_boolean(dry));
	json_object_object_add(req, "remove_source",
	    json_object_new_boolean(rmsrc));
	if (leave != NULL)
		json_object_object_add(req, "leave",
		    json_object_new_string(leave));
	if (quiet)
		json_object_object_add(req, "quiet",
		    json_object_new_boolean(true));
	return client_call(ctx, req, NULL);
}

static int
run_move(struct cmd_ctx *ctx, const struct cmd_entry *ce, enum move_op op,
    int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to",			required_argument,	NULL, 't' },
		{ "dry-run",		no_argument,		NULL, 'n' },
		{ "remove-source",	no_argument,		NULL, 'R' },
		{ "leave",		required_argument,	NULL, 'L' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "no-progress",	no_argument,		NULL, 'P' },
		{ "config",		required_argument,	NULL, 'c' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct engine e;
	struct move_plan plan;
	struct move_opts mo;
	struct move_stats st;
	struct flush fl;
	const char *to = NULL, *leave = NULL;
	bool dry = false, noprog = false, rmsrc = false;
	char b[32];
	int ch, i, r, toi = -1;
	double secs;

	memset(&mo, 0, sizeof(mo));
	while ((ch = getopt_long(argc, argv, "t:nqc:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			to = optarg;
			break;
		case 'n':
			dry = true;
			break;
		case 'R':
			if (op != OP_MIGRATE)
				return cmd_usage(ce);
			rmsrc = true;
			break;
		case 'L':
			if (op != OP_MIGRATE)
				return cmd_usage(ce);
			if (leave_parse(optarg) < 0) {
				jts_err("%s: --leave %s: symlink, remove or "
				    "stub", ce->name, optarg);
				return EXIT_USAGE;
			}
			leave = optarg;
			break;
		case 'q':
			mo.quiet = true;
			break;
		case 'P':
			noprog = true;
			break;
		case 'c':
			ctx->conf_path = optarg;
			break;
		case 'v':
			jts_verbose++;
			break;
		case 'h':
			return cmd_help(ce, op == OP_MIGRATE ?
			    migrate_options : recall_options);
		default:
			return cmd_usage(ce);
		}
	}
	if (optind >= argc)
		return cmd_usage(ce);
	for (i = optind; i < argc; i++)
		if (*argv[i] == '\0') {
			jts_err("%s: an empty path names no file (. is the "
			    "current directory)", ce->name);
			return EXIT_USAGE;
		}
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	/* A running daemon holds the engine: it does the work. */
	if (rmsrc && leave != NULL && strcmp(leave, "remove") != 0) {
		jts_err("%s: --remove-source and --leave %s disagree",
		    ce->name, leave);
		return EXIT_USAGE;
	}
	r = daemon_move(ctx, ce, argc, argv, to, dry, rmsrc, mo.quiet, leave);
	if (r != CLIENT_NO_DAEMON)
		return r;
	if (!dry && !rmsrc && (leave != NULL ? leave_parse(leave) ==
	    LEAVE_STUB : conf_wants_stubs(&ctx->conf))) {
		jts_err("%s: leave = stub needs jts-tierd running: it watches "
		    "the stubs and fills them when they are read; nothing "
		    "moved", ce->name);
		return EXIT_FAILED;
	}
	if ((r = open_engine(ctx, &e)) != EXIT_OK)
		return r;
	if (to != NULL && (toi = conf_tier_index(&ctx->conf, to)) < 0) {
		char tl[256];

		jts_err("--to %s: no such tier in %s (tiers: %s)", to,
		    ctx->conf.path, conf_tier_list(&ctx->conf, false, tl,
		    sizeof(tl)));
		engine_close(&e);
		return EXIT_USAGE;
	}
	mo.leave = rmsrc ? LEAVE_REMOVE : leave != NULL ?
	    (enum leave_mode)leave_parse(leave) : ctx->conf.leave;
	mo.leave_forced = rmsrc || leave != NULL;
	mo.progress = !noprog && !mo.quiet && isatty(STDERR_FILENO);
	memset(&plan, 0, sizeof(plan));
	/*
	 * Plan and move in chunks, so memory stays bounded whatever the size
	 * of the tree; the walk reads the catalog in one read transaction
	 * between chunks (one lock, not one per file).
	 */
	memset(&st, 0, sizeof(st));
	memset(&fl, 0, sizeof(fl));
	fl.e = &e;
	fl.mo = &mo;
	fl.st = &st;
	fl.dry = dry;
	plan.flush = flush_plan;
	plan.flush_arg = &fl;
	plan.flush_at = plan_chunk();
	/* A set of hard links moves when its names lie in the paths named. */
	plan.hold_links = true;
	if (!dry)
		move_begin(&e, &mo, &st);
	(void)sqlite3_exec(e.cat.db, "BEGIN", NULL, NULL, NULL);
	for (i = optind; i < argc; i++)
		move_plan_path(&e, &plan, argv[i], op, toi);
	move_plan_links(&plan);
	(void)sqlite3_exec(e.cat.db, "COMMIT", NULL, NULL, NULL);
	if (dry) {
		print_plan(&e, &plan, &fl);
		printf("%d file(s), %s would move\n", fl.nplanned,
		    jts_fmt_bytes(fl.planned_bytes, b, sizeof(b)));
		r = plan.errors ? EXIT_FAILED : EXIT_OK;
		move_plan_free(&plan);
		engine_close(&e);
		return r;
	}
	(void)move_chunk(&e, &plan, &mo, &st);
	r = move_end(&e, &st);
	secs = (double)st.elapsed_ns / 1e9;
	printf("%s: %" PRIu64 " moved (%s in %.2f s), %" PRIu64 " skipped, "
	    "%" PRIu64 " failed%s\n", ce->name, st.done,
	    jts_fmt_bytes(st.bytes, b, sizeof(b)), secs, st.skipped,
	    st.failed + st.conflicts + (uint64_t)plan.errors,
	    st.conflicts ? " (conflicts kept both copies: see 'jts-tierctl "
	    "check')" : "");
	if (st.interrupted) {
		jts_err("interrupted: the moves in flight were finished or "
		    "undone; nothing else was started");
		r = 128 + SIGINT;
	} else
		r = (r != 0 || plan.errors) ? EXIT_FAILED : EXIT_OK;
	move_plan_free(&plan);
	engine_close(&e);
	return r;
}

static int
cmd_migrate_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	return run_move(ctx, &cmd_migrate_entry, OP_MIGRATE, argc, argv);
}

static int
cmd_recall_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	return run_move(ctx, &cmd_recall_entry, OP_RECALL, argc, argv);
}

static int
cmd_recover_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct engine e;
	int r, left;

	if (argc > 1) {
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
			return cmd_help(&cmd_recover_entry, NULL);
		return cmd_usage(&cmd_recover_entry);
	}
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	if ((r = client_simple(ctx, "recover")) != CLIENT_NO_DAEMON)
		return r;
	if ((r = open_engine_recover(ctx, &e, true, &left)) != EXIT_OK)
		return r;
	engine_close(&e);
	if (left > 0) {
		printf("recover: %d move(s) still need attention: see "
		    "'jts-tierctl check'\n", left);
		return EXIT_FAILED;
	}
	printf("recover: nothing left unfinished\n");
	return EXIT_OK;
}

const struct cmd_entry cmd_migrate_entry = {
	.name = "migrate",
	.usage = "[-nqv] [--remove-source | --leave mode] [--to tier] path ...",
	.summary = "Move files, or every file beneath directories, to another "
	    "tier with the\nverified, journaled move; leave a symbolic link "
	    "behind unless told not to.",
	.exec = cmd_migrate_exec,
};

const struct cmd_entry cmd_recall_entry = {
	.name = "recall",
	.usage = "[-nqv] [--to tier] path ...",
	.summary = "Bring files back to their home tier (or --to a tier), "
	    "replacing the symbolic\nlink by the file with the same verified "
	    "move.",
	.exec = cmd_recall_exec,
};

const struct cmd_entry cmd_recover_entry = {
	.name = "recover",
	.usage = "",
	.summary = "Finish or undo every move that was interrupted (any "
	    "command that moves data\ndoes this first; sent to jts-tierd "
	    "when it runs).  A conflict the operator\nsettled by removing "
	    "the copy or the source is closed.  Exit 1 while moves\nstill "
	    "need attention ('jts-tierctl check' says what each needs).",
	.exec = cmd_recover_exec,
};

/* ---- scan ------------------------------------------------------------- */

static const char scan_options[] =
    "options:\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n";

static int
cmd_scan_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct scan_stats st;
	struct engine e;
	char err[1024], *line;
	int r, t;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return cmd_help(&cmd_scan_entry, scan_options);
	if (argc > 1)
		return cmd_usage(&cmd_scan_entry);
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	if ((r = client_simple(ctx, "scan")) != CLIENT_NO_DAEMON)
		return r;
	if ((r = open_engine(ctx, &e)) != EXIT_OK)
		return r;
	for (t = 0; t < e.ntiers; t++) {
		if (e.tiers[t].rootfd < 0)
			continue;
		if (scan_tier(&e, t, &st, err, sizeof(err)) != 0) {
			jts_err("scan of tier %s failed: %s",
			    ctx->conf.tiers[t].name, err);
			r = EXIT_FAILED;
			continue;
		}
		line = scan_line(ctx->conf.tiers[t].name, &st);
		printf("%s\n", line);
		free(line);
	}
	engine_close(&e);
	return r;
}

const struct cmd_entry cmd_scan_entry = {
	.name = "scan",
	.usage = "",
	.summary = "Bring the catalog in line with every local tier now: new, "
	    "changed, deleted\nand renamed files (what jts-tierd does at start "
	    "and every scan_interval).",
	.exec = cmd_scan_exec,
};

/* ---- cancel ----------------------------------------------------------- */

static const char cancel_options[] =
    "Without an id: the daemon's jobs, queued and running, with their ids.\n"
    "With ids: cancel those jobs (a migrate or recall request, a policy\n"
    "run).  A queued job is dropped; a running one stops as an interrupt\n"
    "would stop it: the files in flight are finished or undone, none is\n"
    "left half moved.  Interrupting the jts-tierctl that asked (Ctrl-C)\n"
    "cancels its request too.\n"
    "\noptions:\n"
    "  -j, --json           machine-readable output (the list)\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n";

static int
cancel_list(struct cmd_ctx *ctx, bool json)
{
	json_object *req = json_object_new_object(), *res = NULL, *jobs, *o,
	    *v;
	size_t i, n;
	int r;

	json_object_object_add(req, "cmd", json_object_new_string("cancel"));
	r = client_call(ctx, req, &res);
	if (r != EXIT_OK || res == NULL ||
	    !json_object_object_get_ex(res, "jobs", &jobs)) {
		if (res != NULL)
			json_object_put(res);
		return r == EXIT_OK ? EXIT_FAILED : r;
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(jobs,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if ((n = json_object_array_length(jobs)) == 0)
		printf("no jobs: the daemon is idle\n");
	else {
		printf("%6s  %-8s  %-8s  %7s  %8s  %s\n", "id", "state", "job",
		    "pid", "age", "policy");
		for (i = 0; i < n; i++) {
			char d[32];

			o = json_object_array_get_idx(jobs, i);
			printf("%6" PRId64 "  %-8s  %-8s  %7d  %8s  %s\n",
			    json_object_object_get_ex(o, "id", &v) ?
			    json_object_get_int64(v) : 0,
			    json_object_object_get_ex(o, "state", &v) ?
			    json_object_get_string(v) : "?",
			    json_object_object_get_ex(o, "what", &v) ?
			    json_object_get_string(v) : "?",
			    json_object_object_get_ex(o, "pid", &v) ?
			    json_object_get_int(v) : 0,
			    jts_fmt_duration(json_object_object_get_ex(o,
			    "age_s", &v) ? (int64_t)json_object_get_double(v) :
			    0, d, sizeof(d)),
			    json_object_object_get_ex(o, "policy", &v) ?
			    json_object_get_string(v) : "");
		}
	}
	json_object_put(res);
	return EXIT_OK;
}

static int
cmd_cancel_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c, i, r = EXIT_OK, rr;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+jh", lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_help(&cmd_cancel_entry, cancel_options);
		default:
			return cmd_usage(&cmd_cancel_entry);
		}
	}
	for (i = optind; i < argc; i++) {
		char *end;

		errno = 0;
		if (strtoll(argv[i], &end, 10) <= 0 || *end != '\0' ||
		    errno != 0) {
			jts_err("%s: not a job id (a whole number; 'jts-tierctl "
			    "cancel' lists them)", jts_quote(argv[i]));
			return EXIT_USAGE;
		}
	}
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	if (optind == argc)
		r = cancel_list(ctx, json);
	for (i = optind; i < argc; i++) {
		json_object *req = json_object_new_object();

		json_object_object_add(req, "cmd",
		    json_object_new_string("cancel"));
		json_object_object_add(req, "id",
		    json_object_new_int64(strtoll(argv[i], NULL, 10)));
		if ((rr = client_call(ctx, req, NULL)) != EXIT_OK && r == EXIT_OK)
			r = rr;
	}
	if (r == CLIENT_NO_DAEMON) {
		jts_err("no daemon is running (socket %s): nothing to cancel; "
		    "a jts-tierctl moving without the daemon stops with Ctrl-C",
		    ctx->conf.socket);
		return EXIT_FAILED;
	}
	return r;
}

const struct cmd_entry cmd_cancel_entry = {
	.name = "cancel",
	.usage = "[id ...]",
	.summary = "List the daemon's jobs, or cancel some: nothing is left "
	    "half moved.",
	.exec = cmd_cancel_exec,
};
