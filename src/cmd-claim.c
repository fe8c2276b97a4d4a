/*
 * cmd-claim.c - jts-tierctl claim: the claim of a shared store's prefix
 *
 * A prefix of an object store is one catalog's: every object the catalog
 * writes carries its UUID and nothing is deleted there that does not, and
 * the prefix is claimed (an object beneath the bucket's .jts-tier/claims/)
 * so that a second catalog, or one on a prefix in it or around it, is
 * refused.  A catalog that replaces another (rebuilt, or the host
 * reinstalled) takes the prefix over on purpose here, and the objects of
 * the one it replaces become its own.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "util.h"

static const char claim_options[] =
    "options:\n"
    "  --take-over          replace another catalog's claim of the prefix;\n"
    "                       its objects become this catalog's\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n";

struct adopt_arg {
	struct engine	*e;
	const char	*tier;
};

/* Keep uuid as taken over, in the catalog first. */
static int
adopt(void *arg, const char *uuid)
{
	struct adopt_arg *a = arg;
	char note[128], err[1024];

	snprintf(note, sizeof(note), "taken over with tier %s's prefix",
	    a->tier);
	if (catalog_adopt(&a->e->cat, uuid, note, jts_now_ns()) != 0 ||
	    engine_owner_reload(a->e, err, sizeof(err)) != 0)
		return -1;
	printf("claim: catalog %s taken over: its objects are this "
	    "catalog's\n", uuid);
	return 0;
}

static int
cmd_claim_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct adopt_arg aa;
	struct engine e;
	bool take = false;
	char err[2048];
	struct tier *t;
	int i, k;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return cmd_help(&cmd_claim_entry, claim_options);
		if (strcmp(argv[i], "--take-over") == 0)
			take = true;
		else
			return cmd_usage(&cmd_claim_entry);
	}
	if (argc - i != 1)
		return cmd_usage(&cmd_claim_entry);
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	if ((k = conf_tier_index(&ctx->conf, argv[i])) < 0) {
		jts_err("no tier %s in %s", argv[i], ctx->conf.path);
		return EXIT_USAGE;
	}
	if (ctx->conf.tiers[k].kind != TIER_S3) {
		jts_err("tier %s is of kind %s: only an object store's prefix "
		    "is claimed", argv[i],
		    conf_kind_name(ctx->conf.tiers[k].kind));
		return EXIT_USAGE;
	}
	if (engine_open(&e, &ctx->conf, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		return EXIT_FAILED;
	}
	t = &e.tiers[k];
	aa.e = &e;
	aa.tier = argv[i];
	if (t->ops->claim(t, take, adopt, &aa, err, sizeof(err)) != 0) {
		jts_err("tier %s: %s", argv[i], err);
		engine_close(&e);
		return EXIT_FAILED;
	}
	printf("claim: prefix %s of bucket %s is this catalog's (%s, host "
	    "%s)\n", t->tc->prefix, t->tc->bucket, e.owner.catalog,
	    e.owner.host);
	engine_close(&e);
	return EXIT_OK;
}

const struct cmd_entry cmd_claim_entry = {
	.name = "claim",
	.usage = "[--take-over] tier",
	.summary = "Claim an object store tier's prefix for this catalog "
	    "(made on first use; a\nsecond catalog on it, or on a prefix in "
	    "it or around it, is refused), or\ntake it over from the catalog "
	    "this one replaces.",
	.exec = cmd_claim_exec,
};
