/* cmd-status.c - status: tiers, fill levels and moves needing attention */
#include "config.h"

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
#include "tier.h"
#include "util.h"

static const char status_options[] =
    "options:\n"
    "  -j, --json           machine-readable output\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n";

/*
 * Files of nfs tier t with nothing left at their home path (no mountpoint
 * to link into, or the link was removed): only the catalog knows them.
 */
static int64_t
count_detached(struct catalog *cat, struct conf *c, const char *tier)
{
	sqlite3_stmt *st;
	struct stat sb;
	int64_t n = 0;

	if (cat->db == NULL || sqlite3_prepare_v2(cat->db, "SELECT path, home "
	    "FROM files WHERE tier = ?", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, tier, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct tier_conf *h = conf_tier(c,
		    (const char *)sqlite3_column_text(st, 1));
		char *rel = strndup(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0));
		char *p;

		if (h != NULL && h->root != NULL) {
			p = jts_path_join(h->root, rel);
			if (lstat(p, &sb) != 0)
				n++;
			free(p);
		}
		free(rel);
	}
	sqlite3_finalize(st);
	return n;
}

static int64_t
jint(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) :
	    0;
}

static const char *
jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) :
	    NULL;
}

static void
print_daemon(json_object *d)
{
	json_object *jobs, *v0;
	char a[32], b[32];
	size_t i;

	if (d == NULL) {
		printf("daemon: not running\n");
		return;
	}
	printf("daemon: pid %" PRId64 ", up %" PRId64 " s, %" PRId64
	    " policies, tracking: %s; %" PRId64 " moved (%s), %" PRId64
	    " failed since start\n", jint(d, "pid"), jint(d, "uptime_s"),
	    jint(d, "policies"), jstr(d, "tracking"), jint(d, "moves_done"),
	    jts_fmt_bytes((uint64_t)jint(d, "bytes_moved"), a, sizeof(a)),
	    jint(d, "moves_failed"));
	if (json_object_object_get_ex(d, "stubs", &jobs))
		printf("stubs: %" PRId64 " watched; recalls: %" PRId64
		    " queued, %" PRId64 " running (at most %" PRId64 "), %"
		    PRId64 " done (%s), %" PRId64 " failed; holder %s\n",
		    jint(jobs, "watched"), jint(jobs, "queued"),
		    jint(jobs, "recalling"), jint(jobs, "concurrency"),
		    jint(jobs, "recalled"), jts_fmt_bytes((uint64_t)jint(jobs,
		    "bytes_recalled"), a, sizeof(a)), jint(jobs, "failed"),
		    json_object_object_get_ex(jobs, "holder", &v0) &&
		    json_object_get_boolean(v0) ? "running" : "NOT RUNNING");
	if (!json_object_object_get_ex(d, "jobs", &jobs))
		return;
	for (i = 0; i < json_object_array_length(jobs); i++) {
		json_object *j = json_object_array_get_idx(jobs, i), *v;
		bool running = json_object_object_get_ex(j, "running", &v) &&
		    json_object_get_boolean(v);

		printf("  %s %s%s%s%s", running ? "running" : "queued ",
		    jstr(j, "kind"), jstr(j, "policy") ? " " : "",
		    jstr(j, "policy") ? jstr(j, "policy") : "",
		    jstr(j, "reason") ? "" : "");
		if (json_object_object_get_ex(j, "files_total", &v))
			printf(" (%s run): %" PRId64 " of %" PRId64 " files, "
			    "%s of %s", jstr(j, "reason"),
			    jint(j, "files_done"), jint(j, "files_total"),
			    jts_fmt_bytes((uint64_t)jint(j, "bytes_done"), a,
			    sizeof(a)), jts_fmt_bytes((uint64_t)jint(j,
			    "bytes_total"), b, sizeof(b)));
		else if (running)
			printf(": %" PRId64 " files moved", jint(j,
			    "files_done"));
		printf("\n");
	}
}

static int
cmd_status_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json",	no_argument,		NULL, 'j' },
		{ "config",	required_argument,	NULL, 'c' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct catalog cat;
	struct cat_journal *rows = NULL;
	json_object *root = NULL, *tiers = NULL, *moves = NULL, *o, *dmn;
	char a[32], b[32], c[32];
	bool json = false;
	int ch, i, nrows = 0, conflicts = 0;
	int64_t detached[JTS_MAX_TIERS];
	char *space_why[JTS_MAX_TIERS] = { NULL };

	while ((ch = getopt_long(argc, argv, "jc:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 'c':
			ctx->conf_path = optarg;
			break;
		case 'h':
			return cmd_help(&cmd_status_entry, status_options);
		default:
			return cmd_usage(&cmd_status_entry);
		}
	}
	if (optind != argc)
		return cmd_usage(&cmd_status_entry);
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	if (cmd_catalog_ro(ctx, &cat) != 0)
		return EXIT_FAILED;
	if (cat.db != NULL)
		catalog_journal_open_rows(&cat, &rows, &nrows);
	dmn = client_daemon_status(ctx);
	if (json) {
		root = json_object_new_object();
		json_object_object_add(root, "daemon", dmn);
		tiers = json_object_new_array();
		moves = json_object_new_array();
		json_object_object_add(root, "catalog",
		    json_object_new_string(ctx->conf.catalog));
		json_object_object_add(root, "tiers", tiers);
		json_object_object_add(root, "moves_open", moves);
	} else
		printf("%-8s %-6s %10s %10s %10s %10s %5s %s\n", "TIER", "KIND",
		    "FILES", "BYTES", "FREE", "SIZE", "USED", "ROOT");
	for (i = 0; i < ctx->conf.ntiers; i++) {
		struct tier_conf *t = &ctx->conf.tiers[i];
		struct tier_usage tc;
		struct tier_space sp;
		uint64_t size, avail;
		int used;
		char *s3where = t->kind == TIER_S3 ? tier_data_path(t, "") :
		    NULL;
		const char *where = t->root ? t->root : t->url ? t->url :
		    s3where;

		(void)catalog_tier_usage(&cat, t->name, &tc);
		detached[i] = !(tier_ops_of(t->kind)->caps & TIER_CAP_LOCAL) ?
		    count_detached(&cat, &ctx->conf, t->name) : 0;
		/* The NAS's too: FSSTAT, within the tier's timeout. */
		if (tier_space_conf(&ctx->conf, i, &sp) != 0 && sp.why[0])
			space_why[i] = xstrdup(sp.why);
		size = sp.size;
		avail = sp.avail;
		used = tier_space_pct(&sp);
		if (json) {
			o = json_object_new_object();
			json_object_object_add(o, "name",
			    json_object_new_string(t->name));
			json_object_object_add(o, "kind",
			    json_object_new_string(conf_kind_name(t->kind)));
			json_object_object_add(o, "root",
			    json_object_new_string(where));
			json_object_object_add(o, "files",
			    json_object_new_int64(tc.files));
			json_object_object_add(o, "bytes",
			    json_object_new_int64(tc.bytes));
			json_object_object_add(o, "files_without_home_path",
			    json_object_new_int64(detached[i]));
			json_object_object_add(o, "size",
			    json_object_new_int64((int64_t)size));
			json_object_object_add(o, "free",
			    json_object_new_int64((int64_t)avail));
			json_object_object_add(o, "used_percent",
			    json_object_new_int(used));
			json_object_object_add(o, "space_error", space_why[i] ?
			    json_object_new_string(space_why[i]) : NULL);
			json_object_object_add(o, "high_watermark",
			    json_object_new_int(t->high));
			json_object_object_add(o, "low_watermark",
			    json_object_new_int(t->low));
			json_object_array_add(tiers, o);
		} else {
			char pct[8];

			snprintf(pct, sizeof(pct), used < 0 ? "-" : "%d%%",
			    used);
			printf("%-8s %-6s %10" PRId64 " %10s %10s %10s %5s %s "
			    "(watermarks %d%%/%d%%)\n", t->name,
			    conf_kind_name(t->kind), tc.files,
			    jts_fmt_bytes((uint64_t)tc.bytes, a, sizeof(a)),
			    size ? jts_fmt_bytes(avail, b, sizeof(b)) : "-",
			    size ? jts_fmt_bytes(size, c, sizeof(c)) : "-",
			    pct, jts_quote(where), t->high, t->low);
		}
		free(s3where);
	}
	for (i = 0; i < ctx->conf.ntiers; i++) {
		if (space_why[i] != NULL && !json)
			printf("tier %s: its size and free space are unknown: "
			    "%s\n", ctx->conf.tiers[i].name, space_why[i]);
		free(space_why[i]);
	}
	for (i = 0; i < ctx->conf.ntiers && !json; i++)
		if (detached[i] > 0)
			printf("%" PRId64 " files kept only on tier %s: nothing "
			    "is left at their home path; 'jts-tierctl recall' "
			    "restores them\n", detached[i],
			    ctx->conf.tiers[i].name);
	for (i = 0; i < nrows; i++) {
		struct cat_journal *j = &rows[i];

		if (json) {
			o = json_object_new_object();
			json_object_object_add(o, "id",
			    json_object_new_int64(j->id));
			jts_json_add_path(o, "path", j->path);
			json_object_object_add(o, "from",
			    json_object_new_string(j->src));
			json_object_object_add(o, "to",
			    json_object_new_string(j->dst));
			json_object_object_add(o, "state",
			    json_object_new_string(jstate_name(j->state)));
			json_object_object_add(o, "error", j->error ?
			    json_object_new_string(j->error) : NULL);
			json_object_array_add(moves, o);
		} else {
			printf("move %" PRId64 " %s: %s -> %s: %s%s%s\n", j->id,
			    jts_quote(j->path), j->src, j->dst,
			    jstate_name(j->state), j->error ? ": " : "",
			    j->error ? j->error : "");
			conflicts += j->state == JS_CONFLICT;
		}
		cat_journal_free(j);
	}
	free(rows);
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(root,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	} else {
		if (nrows == 0)
			printf("no moves in flight or needing attention\n");
		else if (conflicts > 0)
			printf("%d conflict%s: 'jts-tierctl check' says how to "
			    "settle each\n", conflicts, conflicts == 1 ? "" :
			    "s");
		print_daemon(dmn);
		if (dmn != NULL)
			json_object_put(dmn);
	}
	if (cat.db != NULL)
		catalog_close(&cat);
	return EXIT_OK;
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.usage = "[-j]",
	.summary = "Show each tier (root, files and bytes in the catalog, free "
	    "space, watermarks)\nand every move in flight or needing "
	    "attention.",
	.exec = cmd_status_exec,
};
