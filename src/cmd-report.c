/* cmd-report.c - report: per tier, the age of its data and where it is */
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
#include "cmd.h"
#include "util.h"

static const char report_options[] =
    "options:\n"
    "  -j, --json           machine-readable output\n"
    "      --svg FILE       also draw the age histogram as an SVG chart\n"
    "  -n, --top N          directories listed per tier (default 5)\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n";

#define NBUCKET	6
static const struct {
	const char	*label;
	int64_t		 upto_s;	/* age below this; last: no bound */
} bucket[NBUCKET] = {
	{ "< 1 day",		86400 },
	{ "1-7 days",		7 * 86400 },
	{ "7-30 days",		30 * 86400 },
	{ "30-90 days",		90 * 86400 },
	{ "90-365 days",	365 * 86400 },
	{ "> 1 year",		INT64_MAX },
};

/* A directory: the first two components of the paths beneath it. */
struct dirsum {
	char		*dir;
	int64_t		 files, bytes, newest_ns;
};

struct tiersum {
	int64_t		 files[NBUCKET], bytes[NBUCKET];
	int64_t		 total_files, total_bytes;
	int64_t		 disk_bytes;	/* st_blocks, as du counts them */
	int64_t		 disk_unknown;	/* files whose blocks are unknown */
	int64_t		 stubs;		/* stubs at home paths here */
	struct dirsum	*d;
	size_t		 nd, capd;
	/* open addressing over d, by dir */
	size_t		*slot;
	size_t		 nslot;
};

static uint64_t
str_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct dirsum *
dir_of(struct tiersum *t, const char *dir, size_t n)
{
	size_t k, i;

	if ((t->nd + 1) * 2 > t->nslot) {
		size_t ns = t->nslot ? t->nslot * 2 : 256;

		free(t->slot);
		t->slot = xmalloc(ns * sizeof(size_t));
		for (i = 0; i < ns; i++)
			t->slot[i] = SIZE_MAX;
		t->nslot = ns;
		for (i = 0; i < t->nd; i++) {
			k = str_hash(t->d[i].dir, strlen(t->d[i].dir)) &
			    (ns - 1);
			while (t->slot[k] != SIZE_MAX)
				k = (k + 1) & (ns - 1);
			t->slot[k] = i;
		}
	}
	k = str_hash(dir, n) & (t->nslot - 1);
	while (t->slot[k] != SIZE_MAX) {
		struct dirsum *d = &t->d[t->slot[k]];

		if (strlen(d->dir) == n && memcmp(d->dir, dir, n) == 0)
			return d;
		k = (k + 1) & (t->nslot - 1);
	}
	if (t->nd == t->capd) {
		t->capd = t->capd ? t->capd * 2 : 64;
		t->d = xrealloc(t->d, t->capd * sizeof(*t->d));
	}
	t->slot[k] = t->nd;
	memset(&t->d[t->nd], 0, sizeof(t->d[t->nd]));
	t->d[t->nd].dir = xasprintf("%.*s", (int)n, dir);
	return &t->d[t->nd++];
}

/* The directory a file counts in: its first two components ("." if none). */
static size_t
dir_len(const char *p, size_t n)
{
	size_t i, slashes = 0;

	for (i = 0; i < n; i++)
		if (p[i] == '/' && ++slashes == 2)
			return i;
	for (i = n; i > 0 && p[i - 1] != '/'; i--)
		;
	return i > 0 ? i - 1 : 0;
}

static int
by_bytes(const void *a, const void *b)
{
	const struct dirsum *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 :
	    strcmp(x->dir, y->dir);
}

static int
by_age(const void *a, const void *b)
{
	const struct dirsum *x = a, *y = b;

	return x->newest_ns > y->newest_ns ? 1 : x->newest_ns < y->newest_ns ?
	    -1 : strcmp(x->dir, y->dir);
}

static void
bar(int64_t v, int64_t max, int width)
{
	int n = max > 0 ? (int)((double)v * width / (double)max + 0.5) : 0;

	if (v > 0 && n == 0)
		n = 1;
	while (n-- > 0)
		putchar('#');
}

static const char *const colors[] = {
	"#d9534f", "#f0ad4e", "#5bc0de", "#5cb85c", "#337ab7", "#777777",
	"#9b59b6", "#34495e",
};

static void
svg_text(FILE *fp, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '&': fputs("&amp;", fp); break;
		case '"': fputs("&quot;", fp); break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, fp);
		}
	}
}

/* The age histogram, bytes per bucket, one bar per tier. */
static int
write_svg(const char *path, const struct conf *c, struct tiersum *ts)
{
	const int w = 760, h = 420, left = 80, bottom = 60, top = 50;
	const int plot_w = w - left - 20, plot_h = h - top - bottom;
	struct jts_outfile of;
	char b[32];
	int64_t max = 0;
	int i, t, slot, e;
	FILE *fp;

	for (t = 0; t < c->ntiers; t++)
		for (i = 0; i < NBUCKET; i++)
			if (ts[t].bytes[i] > max)
				max = ts[t].bytes[i];
	if ((e = jts_outfile_open(&of, path, 0644)) != 0) {
		jts_err("%s: cannot write the chart: %s", jts_quote(path),
		    strerror(-e));
		return -1;
	}
	fp = of.fp;
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
	    "font-size=\"12\">\n<title>jts-tier: bytes by age, per tier"
	    "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
	    "<text x=\"%d\" y=\"24\" font-size=\"16\">Bytes by age of last "
	    "write, per tier (max %s)</text>\n", w, h, w, h, left,
	    jts_fmt_bytes((uint64_t)max, b, sizeof(b)));
	fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"black\"/>\n", left, top + plot_h, left + plot_w,
	    top + plot_h);
	slot = plot_w / NBUCKET;
	for (i = 0; i < NBUCKET; i++) {
		int bw = (slot - 10) / (c->ntiers ? c->ntiers : 1);

		for (t = 0; t < c->ntiers; t++) {
			int bh = max > 0 ? (int)((double)ts[t].bytes[i] *
			    plot_h / (double)max) : 0;
			int x = left + i * slot + 5 + t * bw;

			fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"%d\" "
			    "height=\"%d\" fill=\"%s\"><title>", x,
			    top + plot_h - bh, bw - 1, bh, colors[t % 8]);
			svg_text(fp, c->tiers[t].name);
			fputs(", ", fp);
			svg_text(fp, bucket[i].label);
			fprintf(fp, ": %" PRId64 " files, %s</title>"
			    "</rect>\n", ts[t].files[i],
			    jts_fmt_bytes((uint64_t)ts[t].bytes[i], b,
			    sizeof(b)));
		}
		fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
		    left + i * slot + slot / 2, top + plot_h + 18);
		svg_text(fp, bucket[i].label);
		fputs("</text>\n", fp);
	}
	for (t = 0; t < c->ntiers; t++) {
		fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" "
		    "fill=\"%s\"/><text x=\"%d\" y=\"%d\">", left + t * 120,
		    h - 22, colors[t % 8], left + t * 120 + 16, h - 12);
		svg_text(fp, c->tiers[t].name);
		fprintf(fp, "</text>\n");
	}
	fprintf(fp, "</svg>\n");
	if ((e = jts_outfile_commit(&of)) != 0) {
		jts_err("%s: cannot write the chart: %s", jts_quote(path),
		    strerror(-e));
		return -1;
	}
	return 0;
}

static int
cmd_report_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json",	no_argument,		NULL, 'j' },
		{ "svg",	required_argument,	NULL, 'S' },
		{ "top",	required_argument,	NULL, 'n' },
		{ "config",	required_argument,	NULL, 'c' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tiersum ts[JTS_MAX_TIERS];
	const char *svg = NULL;
	struct catalog cat;
	sqlite3_stmt *st;
	json_object *root = NULL, *jt = NULL;
	bool json = false;
	int64_t now = jts_now_ns(), max;
	char b[32], a[32];
	int ch, i, t, top = 5, r = EXIT_OK;
	size_t k;

	while ((ch = getopt_long(argc, argv, "jn:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 'S':
			svg = optarg;
			break;
		case 'n':
			top = atoi(optarg);
			if (top < 1 || top > 1000) {
				jts_err("--top %s: a count from 1 to 1000",
				    optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			ctx->conf_path = optarg;
			break;
		case 'h':
			return cmd_help(&cmd_report_entry, report_options);
		default:
			return cmd_usage(&cmd_report_entry);
		}
	}
	if (optind != argc)
		return cmd_usage(&cmd_report_entry);
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	if (cmd_catalog_ro(ctx, &cat) != 0)
		return EXIT_FAILED;
	memset(ts, 0, sizeof(ts));
	/*
	 * Bytes as du(1) counts them: a file with several links (the same
	 * inode, size and mtime on a tier) once, at its first path.
	 */
	if (cat.db != NULL && sqlite3_prepare_v2(cat.db, "SELECT path, tier, "
	    "size, mtime_ns, blocks, row_number() OVER (PARTITION BY tier, "
	    "ino, size, mtime_ns ORDER BY path) FROM files", -1, &st, NULL) ==
	    SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *p = sqlite3_column_blob(st, 0);
			size_t n = (size_t)sqlite3_column_bytes(st, 0);
			bool first = sqlite3_column_int64(st, 5) == 1;
			int64_t size = first ? sqlite3_column_int64(st, 2) : 0;
			int64_t mt = sqlite3_column_int64(st, 3);
			int64_t age = (now - mt) / 1000000000;
			struct dirsum *d;

			t = conf_tier_index(&ctx->conf,
			    (const char *)sqlite3_column_text(st, 1));
			if (t < 0 || p == NULL)
				continue;
			for (i = 0; i < NBUCKET - 1 && age >= bucket[i].upto_s;
			    i++)
				;
			ts[t].files[i]++;
			ts[t].bytes[i] += size;
			ts[t].total_files++;
			ts[t].total_bytes += size;
			if (first && sqlite3_column_type(st, 4) == SQLITE_NULL)
				ts[t].disk_unknown++;
			else if (first)
				ts[t].disk_bytes += sqlite3_column_int64(st, 4) *
				    512;
			d = dir_of(&ts[t], p, dir_len(p, n));
			d->files++;
			d->bytes += size;
			if (mt > d->newest_ns)
				d->newest_ns = mt;
		}
		sqlite3_finalize(st);
	}
	/*
	 * Stubs at home paths: files away from home whose last move off
	 * their home left a stub (the journal says so; check sees the
	 * files themselves).
	 */
	if (cat.db != NULL && sqlite3_prepare_v2(cat.db, "SELECT f.home, "
	    "count(*) FROM files f JOIN (SELECT path, leave, max(id) FROM "
	    "journal WHERE op = 'migrate' AND state = 'done' AND src = home "
	    "GROUP BY path) j ON j.path = f.path WHERE f.tier != f.home AND "
	    "j.leave = 'stub' GROUP BY f.home", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			t = conf_tier_index(&ctx->conf,
			    (const char *)sqlite3_column_text(st, 0));
			if (t >= 0)
				ts[t].stubs = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
	}
	if (json)
		root = json_object_new_array();
	for (t = 0; t < ctx->conf.ntiers; t++) {
		struct tiersum *s = &ts[t];
		json_object *hist, *dirs = NULL;

		if (json) {
			jt = json_object_new_object();
			json_object_object_add(jt, "tier",
			    json_object_new_string(ctx->conf.tiers[t].name));
			json_object_object_add(jt, "files",
			    json_object_new_int64(s->total_files));
			json_object_object_add(jt, "bytes",
			    json_object_new_int64(s->total_bytes));
			json_object_object_add(jt, "disk_bytes", s->disk_unknown ?
			    NULL : json_object_new_int64(s->disk_bytes));
			json_object_object_add(jt, "stubs",
			    json_object_new_int64(s->stubs));
			hist = json_object_new_array();
			for (i = 0; i < NBUCKET; i++) {
				json_object *o = json_object_new_object();

				json_object_object_add(o, "age",
				    json_object_new_string(bucket[i].label));
				json_object_object_add(o, "files",
				    json_object_new_int64(s->files[i]));
				json_object_object_add(o, "bytes",
				    json_object_new_int64(s->bytes[i]));
				json_object_array_add(hist, o);
			}
			json_object_object_add(jt, "ages", hist);
		} else {
			printf("%stier %s: %" PRId64 " files, %s (%" PRId64
			    " bytes, as du --apparent-size counts them), ",
			    t ? "\n" : "", ctx->conf.tiers[t].name,
			    s->total_files, jts_fmt_bytes((uint64_t)
			    s->total_bytes, b, sizeof(b)), s->total_bytes);
			if (s->disk_unknown)
				printf("on disk not known for %" PRId64
				    " file(s)\n", s->disk_unknown);
			else
				printf("%s on disk (%" PRId64 " bytes, as du "
				    "counts them)\n", jts_fmt_bytes((uint64_t)
				    s->disk_bytes, b, sizeof(b)), s->disk_bytes);
			if (s->stubs > 0)
				printf("  %" PRId64 " stub(s) at their paths "
				    "here, their data on other tiers\n",
				    s->stubs);
			max = 0;
			for (i = 0; i < NBUCKET; i++)
				if (s->bytes[i] > max)
					max = s->bytes[i];
			for (i = 0; i < NBUCKET; i++) {
				printf("  %-12s %8" PRId64 " files %10s  ",
				    bucket[i].label, s->files[i],
				    jts_fmt_bytes((uint64_t)s->bytes[i], b,
				    sizeof(b)));
				bar(s->bytes[i], max, 30);
				putchar('\n');
			}
		}
		if (s->nd > 1)
			qsort(s->d, s->nd, sizeof(*s->d), by_bytes);
		if (json)
			dirs = json_object_new_array();
		else if (s->nd > 0)
			printf("  largest directories:\n");
		for (k = 0; k < s->nd && k < (size_t)top; k++) {
			if (json) {
				json_object *o = json_object_new_object();

				jts_json_add_path(o, "dir", s->d[k].dir);
				json_object_object_add(o, "files",
				    json_object_new_int64(s->d[k].files));
				json_object_object_add(o, "bytes",
				    json_object_new_int64(s->d[k].bytes));
				json_object_array_add(dirs, o);
			} else
				printf("    %10s %8" PRId64 " files  %s\n",
				    jts_fmt_bytes((uint64_t)s->d[k].bytes, b,
				    sizeof(b)), s->d[k].files,
				    jts_quote(*s->d[k].dir ? s->d[k].dir :
				    "."));
		}
		if (json)
			json_object_object_add(jt, "largest", dirs);
		if (s->nd > 1)
			qsort(s->d, s->nd, sizeof(*s->d), by_age);
		if (json)
			dirs = json_object_new_array();
		else if (s->nd > 0)
			printf("  oldest directories (by their newest "
			    "write):\n");
		for (k = 0; k < s->nd && k < (size_t)top; k++) {
			int64_t age = (now - s->d[k].newest_ns) / 1000000000;

			if (json) {
				json_object *o = json_object_new_object();

				jts_json_add_path(o, "dir", s->d[k].dir);
				json_object_object_add(o, "newest_age_s",
				    json_object_new_int64(age));
				json_object_object_add(o, "bytes",
				    json_object_new_int64(s->d[k].bytes));
				json_object_array_add(dirs, o);
			} else
				printf("    %10s %10s  %s\n", jts_fmt_duration(
				    age, a, sizeof(a)), jts_fmt_bytes(
				    (uint64_t)s->d[k].bytes, b, sizeof(b)),
				    jts_quote(*s->d[k].dir ? s->d[k].dir :
				    "."));
		}
		if (json) {
			json_object_object_add(jt, "oldest", dirs);
			json_object_array_add(root, jt);
		}
	}
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(root,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	}
	if (svg != NULL && write_svg(svg, &ctx->conf, ts) != 0)
		r = EXIT_FAILED;
	for (t = 0; t < ctx->conf.ntiers; t++) {
		for (k = 0; k < ts[t].nd; k++)
			free(ts[t].d[k].dir);
		free(ts[t].d);
		free(ts[t].slot);
	}
	if (cat.db != NULL)
		catalog_close(&cat);
	return r;
}

const struct cmd_entry cmd_report_entry = {
	.name = "report",
	.usage = "[-j] [--svg file] [--top n]",
	.summary = "Per tier, how old its data is (files and bytes by age of "
	    "last write, as a\nbar chart) and its largest and oldest "
	    "directories; --svg draws the chart too.",
	.exec = cmd_report_exec,
};
