/* jts-tierctl.c - the operator's tool: command table and dispatch */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "cmd.h"
#include "util.h"

static const struct cmd_entry *const cmd_table[] = {
	&cmd_migrate_entry,
	&cmd_recall_entry,
	&cmd_cancel_entry,
	&cmd_status_entry,
	&cmd_check_entry,
	&cmd_recover_entry,
	&cmd_scan_entry,
	&cmd_policy_entry,
	&cmd_explain_entry,
	&cmd_pin_entry,
	&cmd_unpin_entry,
	&cmd_reload_entry,
	&cmd_metrics_entry,
	&cmd_report_entry,
	&cmd_provision_entry,
	&cmd_bench_entry,
	&cmd_claim_entry,
	NULL
};

int
cmd_usage(const struct cmd_entry *c)
{
	fprintf(stderr, "usage: %s %s%s%s\n", JTS_PROG_CTL, c->name,
	    *c->usage ? " " : "", c->usage);
	return EXIT_USAGE;
}

int
cmd_help(const struct cmd_entry *c, const char *options)
{
	printf("usage: %s %s%s%s\n\n%s\n", JTS_PROG_CTL, c->name,
	    *c->usage ? " " : "", c->usage, c->summary);
	if (options != NULL)
		printf("\n%s", options);
	return EXIT_OK;
}

int
cmd_load_conf(struct cmd_ctx *ctx)
{
	char err[1024];

	if (conf_load(ctx->conf_path, &ctx->conf, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		return -1;
	}
	return 0;
}

int
cmd_catalog_ro(struct cmd_ctx *ctx, struct catalog *cat)
{
	char err[1024];

	memset(cat, 0, sizeof(*cat));
	if (access(ctx->conf.catalog, F_OK) != 0)
		return 0;	/* no catalog yet: nothing catalogued */
	if (catalog_open(ctx->conf.catalog, true, cat, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		return -1;
	}
	return 0;
}

static void
usage(FILE *fp)
{
	int i;

	fprintf(fp, "usage: %s [-v] [-c config] command [args]\n\n"
	    "commands:\n", JTS_PROG_CTL);
	for (i = 0; cmd_table[i] != NULL; i++) {
		if (*cmd_table[i]->usage == '\0')
			fprintf(fp, "  %s\n", cmd_table[i]->name);
		else
			fprintf(fp, "  %-8s %s\n", cmd_table[i]->name,
			    cmd_table[i]->usage);
	}
	fprintf(fp, "\n'%s COMMAND --help' describes each command.\n"
	    "Configuration: %s (-c to choose another).\n", JTS_PROG_CTL,
	    JTS_CONF_DEFAULT);
}

/* Find a command by its name or a unique prefix of it. */
static const struct cmd_entry *
cmd_find(const char *name)
{
	const struct cmd_entry *found = NULL;
	char list[256] = "";
	size_t n = strlen(name);
	int i, hits = 0;

	for (i = 0; cmd_table[i] != NULL; i++) {
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
		if (strncmp(cmd_table[i]->name, name, n) == 0) {
			found = cmd_table[i];
			hits++;
			if (*list)
				strncat(list, ", ", sizeof(list) - strlen(list) - 1);
			strncat(list, cmd_table[i]->name,
			    sizeof(list) - strlen(list) - 1);
		}
	}
	if (hits == 1)
		return found;
	if (hits > 1)
		jts_err("ambiguous command: %s, could be: %s", name, list);
	else
		jts_err("unknown command: %s (see 'jts-tierctl --help')", name);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx ctx;
	const struct cmd_entry *c;
	int ch, r;

	jts_progname = JTS_PROG_CTL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.conf_path = getenv("JTS_TIER_CONF");
	if (ctx.conf_path == NULL)
		ctx.conf_path = JTS_CONF_DEFAULT;
	while ((ch = getopt_long(argc, argv, "+c:vhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctx.conf_path = optarg;
			break;
		case 'v':
			jts_verbose++;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("%s %s%s\n", JTS_PROG_CTL, PACKAGE_VERSION, JTS_BUILD_NOTE);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((c = cmd_find(argv[optind])) == NULL)
		return EXIT_USAGE;
	argc -= optind;
	argv += optind;
	optind = 0;	/* a full restart of getopt: options may follow operands */
	r = c->exec(&ctx, argc, argv);
	conf_free(&ctx.conf);
	return r;
}
