/* cmd-metrics.c - metrics: Prometheus text format for node_exporter's
 * textfile collector */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "client.h"
#include "cmd.h"
#include "tier.h"
#include "util.h"

static const char metrics_options[] =
    "options:\n"
    "  -o, --output FILE    write FILE atomically (for node_exporter's "
    "textfile\n"
    "                       collector: e.g. /var/lib/node_exporter/"
    "jts-tier.prom)\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n";

/* A label value: backslash, quote and newline escaped. */
static void
label(FILE *fp, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(fp, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", fp);
		else
			fputc(*v, fp);
	}
}

static void
help(FILE *fp, const char *name, const char *type, const char *text)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static int64_t
one_int(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (db == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) !=
	    SQLITE_OK)
		return 0;
	if (arg != NULL)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
write_metrics(FILE *fp, struct cmd_ctx *ctx, struct catalog *cat,
    json_object *dmn)
{
	struct conf *c = &ctx->conf;
	struct tier_usage u[JTS_MAX_TIERS];
	struct tier_space sp[JTS_MAX_TIERS];
	sqlite3 *db = cat->db;
	bool known[JTS_MAX_TIERS];
	char *path;
	FILE *cf;
	int i, st = -1, verified = 0;
	int64_t t = 0, files = 0, problems = 0;
	json_object *v;

	for (i = 0; i < c->ntiers; i++)
		(void)catalog_tier_usage(cat, c->tiers[i].name, &u[i]);
	help(fp, "jts_tier_files", "gauge", "Files whose data is on the tier.");
	for (i = 0; i < c->ntiers; i++) {
		fputs("jts_tier_files{tier=\"", fp);
		label(fp, c->tiers[i].name);
		fprintf(fp, "\"} %" PRId64 "\n", u[i].files);
	}
	help(fp, "jts_tier_bytes", "gauge", "Bytes of the files whose data is "
	    "on the tier, as du --apparent-size counts them (a file with "
	    "several links once).");
	for (i = 0; i < c->ntiers; i++) {
		fputs("jts_tier_bytes{tier=\"", fp);
		label(fp, c->tiers[i].name);
		fprintf(fp, "\"} %" PRId64 "\n", u[i].bytes);
	}
	help(fp, "jts_tier_disk_bytes", "gauge", "Bytes the files whose data "
	    "is on the tier take on its disk, as du counts them (a file with "
	    "several links once); absent while not known for every file.");
	for (i = 0; i < c->ntiers; i++) {
		if (u[i].disk_unknown != 0)
			continue;
		fputs("jts_tier_disk_bytes{tier=\"", fp);
		label(fp, c->tiers[i].name);
		fprintf(fp, "\"} %" PRId64 "\n", u[i].disk);
	}
	/* One measure for every kind of tier: the NAS's through FSSTAT. */
	for (i = 0; i < c->ntiers; i++)
		known[i] = tier_space_conf(c, i, &sp[i]) == 0 &&
		    sp[i].size > 0;
	help(fp, "jts_tier_size_bytes", "gauge", "Size of a tier (used plus "
	    "available, as df counts).");
	for (i = 0; i < c->ntiers; i++) {
		if (!known[i])
			continue;
		fputs("jts_tier_size_bytes{tier=\"", fp);
		label(fp, c->tiers[i].name);
		fprintf(fp, "\"} %" PRIu64 "\n", sp[i].size);
	}
	help(fp, "jts_tier_free_bytes", "gauge", "Space available on a "
	    "tier.");
	for (i = 0; i < c->ntiers; i++) {
		if (!known[i])
			continue;
		fputs("jts_tier_free_bytes{tier=\"", fp);
		label(fp, c->tiers[i].name);
		fprintf(fp, "\"} %" PRIu64 "\n", sp[i].avail);
	}
	help(fp, "jts_tier_high_watermark_ratio", "gauge", "A tier's high "
	    "watermark.");
	for (i = 0; i < c->ntiers; i++) {
		fputs("jts_tier_high_watermark_ratio{tier=\"", fp);
		label(fp, c->tiers[i].name);
		fprintf(fp, "\"} %.2f\n", c->tiers[i].high / 100.0);
	}
	help(fp, "jts_tier_moves_total", "counter", "Moves recorded in the "
	    "journal, by result.");
	fprintf(fp, "jts_tier_moves_total{result=\"done\"} %" PRId64 "\n",
	    one_int(db, "SELECT count(*) FROM journal WHERE state = 'done'",
	    NULL));
	fprintf(fp, "jts_tier_moves_total{result=\"failed\"} %" PRId64 "\n",
	    one_int(db, "SELECT count(*) FROM journal WHERE state = 'aborted'",
	    NULL));
	fprintf(fp, "jts_tier_moves_total{result=\"conflict\"} %" PRId64 "\n",
	    one_int(db, "SELECT count(*) FROM journal WHERE state = "
	    "'conflict'", NULL));
	help(fp, "jts_tier_moves_open", "gauge", "Moves in flight or waiting "
	    "for recovery.");
	fprintf(fp, "jts_tier_moves_open %" PRId64 "\n", one_int(db, "SELECT "
	    "count(*) FROM journal WHERE state NOT IN ('done', 'aborted', "
	    "'conflict')", NULL));
	help(fp, "jts_tier_moved_bytes_total", "counter", "Bytes moved.");
	fprintf(fp, "jts_tier_moved_bytes_total %" PRId64 "\n", one_int(db,
	    "SELECT coalesce(sum(pre_size), 0) FROM journal WHERE state = "
	    "'done'", NULL));

	path = xasprintf("%s.check", c->catalog);
	if ((cf = fopen(path, "r")) != NULL) {
		if (fscanf(cf, "status=%d time=%" SCNd64 " files=%" SCNd64
		    " problems=%" SCNd64 " verified=%d", &st, &t, &files,
		    &problems, &verified) != 5)
			st = -1;
		fclose(cf);
	}
	free(path);
	if (st >= 0) {
		help(fp, "jts_tier_check_status", "gauge", "The last check's "
		    "result: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.");
		fprintf(fp, "jts_tier_check_status{verify=\"%d\"} %d\n",
		    verified, st);
		help(fp, "jts_tier_check_timestamp_seconds", "gauge", "When "
		    "the last check ran.");
		fprintf(fp, "jts_tier_check_timestamp_seconds %" PRId64 "\n",
		    t);
		help(fp, "jts_tier_check_problems", "gauge", "Problems the "
		    "last check found.");
		fprintf(fp, "jts_tier_check_problems %" PRId64 "\n", problems);
	}
	help(fp, "jts_tier_daemon_up", "gauge", "1 if jts-tierd answers on its "
	    "control socket.");
	fprintf(fp, "jts_tier_daemon_up %d\n", dmn != NULL);
	if (dmn != NULL && json_object_object_get_ex(dmn, "uptime_s", &v)) {
		help(fp, "jts_tier_daemon_uptime_seconds", "gauge", "Seconds "
		    "since jts-tierd started.");
		fprintf(fp, "jts_tier_daemon_uptime_seconds %" PRId64 "\n",
		    json_object_get_int64(v));
	}
}

static int
cmd_metrics_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output",	required_argument,	NULL, 'o' },
		{ "config",	required_argument,	NULL, 'c' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *out = NULL;
	struct catalog cat;
	json_object *dmn;
	struct jts_outfile of;
	FILE *fp = stdout;
	int ch, r = EXIT_OK, e;

	while ((ch = getopt_long(argc, argv, "o:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'c':
			ctx->conf_path = optarg;
			break;
		case 'h':
			return cmd_help(&cmd_metrics_entry, metrics_options);
		default:
			return cmd_usage(&cmd_metrics_entry);
		}
	}
	if (optind != argc)
		return cmd_usage(&cmd_metrics_entry);
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	if (cmd_catalog_ro(ctx, &cat) != 0)
		return EXIT_FAILED;
	dmn = client_daemon_status(ctx);
	if (out != NULL) {
		/*
		 * The collector must never read half a file, and its
		 * directory may be its service user's: a new file of our own.
		 */
		if ((e = jts_outfile_open(&of, out, 0644)) != 0) {
			jts_err("%s: cannot write the metrics: %s", jts_quote(out),
			    strerror(-e));
			r = EXIT_FAILED;
			goto done;
		}
		fp = of.fp;
	}
	write_metrics(fp, ctx, &cat, dmn);
	if (out != NULL && (e = jts_outfile_commit(&of)) != 0) {
		jts_err("%s: cannot write the metrics: %s", jts_quote(out),
		    strerror(-e));
		r = EXIT_FAILED;
	}
done:
	if (dmn != NULL)
		json_object_put(dmn);
	if (cat.db != NULL)
		catalog_close(&cat);
	return r;
}

const struct cmd_entry cmd_metrics_entry = {
	.name = "metrics",
	.usage = "[-o file]",
	.summary = "Print, or write atomically, Prometheus metrics for "
	    "node_exporter's textfile\ncollector: files, bytes, size and "
	    "free space per tier, moves done and failed,\nbytes moved, the "
	    "last check's result and time, whether the daemon is up.",
	.exec = cmd_metrics_exec,
};
