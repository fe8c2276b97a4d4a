/* cmd-provision.c - provision: set the tiers up from a manifest */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "manifest.h"
#include "provision.h"
#include "util.h"

#define MANIFEST_DEFAULT	SYSCONFDIR "/jts-tier/jts-tier.manifest"

static const char provision_options[] =
    "actions:\n"
    "  plan                 print every step, marking those already done;\n"
    "                       change nothing\n"
    "  apply                do the steps not done yet, journalling each\n"
    "  verify               check the tiers against the manifest (exit as "
    "check)\n"
    "  rollback             undo what apply did, newest first\n"
    "\noptions:\n"
    "  -m, --manifest FILE  the manifest (default " MANIFEST_DEFAULT ")\n"
    "      --root DIR       work beneath DIR: mount points, fstab, journal\n"
    "      --fstab FILE     edit FILE instead of ROOT/etc/fstab\n"
    "      --journal FILE   the journal (default ROOT" PROV_JOURNAL_DEFAULT
    ")\n"
    "  -f, --force          write over devices that carry a signature, "
    "mount\n"
    "                       over non-empty directories, and let rollback\n"
    "                       remove data written since apply\n"
    "  -h, --help           this help\n"
    "\nexit status: plan, apply and rollback 0 done, 1 refused or failed, "
    "2 bad\nusage or manifest; verify 0 OK, 1 WARNING, 2 CRITICAL, 3 "
    "UNKNOWN\n";

static int
cmd_provision_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "manifest",	required_argument,	NULL, 'm' },
		{ "root",	required_argument,	NULL, 'R' },
		{ "fstab",	required_argument,	NULL, 'F' },
		{ "journal",	required_argument,	NULL, 'J' },
		{ "force",	no_argument,		NULL, 'f' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const actions[] = { "plan", "apply", "verify",
	    "rollback" };
	struct prov_opts po;
	struct manifest m;
	const char *path = MANIFEST_DEFAULT, *action;
	char err[1024], *root = NULL;
	int ch, r, a = -1;
	size_t i;

	memset(&po, 0, sizeof(po));
	while ((ch = getopt_long(argc, argv, "m:fh", opts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			path = optarg;
			break;
		case 'R':
			po.root = optarg;
			break;
		case 'F':
			po.fstab = optarg;
			break;
		case 'J':
			po.journal = optarg;
			break;
		case 'f':
			po.force = true;
			break;
		case 'h':
			return cmd_help(&cmd_provision_entry, provision_options);
		default:
			return cmd_usage(&cmd_provision_entry);
		}
	}
	if (optind + 1 != argc)
		return cmd_usage(&cmd_provision_entry);
	action = argv[optind];
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(action, actions[i]) == 0)
			a = (int)i;
	if (a < 0) {
		jts_err("provision: unknown action '%s' (plan, apply, verify "
		    "or rollback)", jts_quote(action));
		return EXIT_USAGE;
	}
	if (po.root != NULL) {
		if ((root = jts_path_abs(po.root)) == NULL ||
		    access(root, F_OK) != 0) {
			jts_err("--root %s: %s", jts_quote(po.root),
			    "no such directory");
			free(root);
			return EXIT_USAGE;
		}
		po.root = root;
	}
	if (manifest_load(path, &m, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		free(root);
		return EXIT_USAGE;
	}
	if ((a == 1 || a == 3) && geteuid() != 0) {
		jts_err("provision %s: needs root (it makes volumes, file "
		    "systems and mounts)", action);
		manifest_free(&m);
		free(root);
		return EXIT_FAILED;
	}
	switch (a) {
	case 0:
		r = prov_plan(&m, &po);
		break;
	case 1:
		r = prov_apply(&m, &po);
		break;
	case 2:
		r = prov_verify(&m, &po);
		break;
	default:
		r = prov_rollback(&m, &po);
	}
	manifest_free(&m);
	free(root);
	return r;
}

const struct cmd_entry cmd_provision_entry = {
	.name = "provision",
	.usage = "plan|apply|verify|rollback [-f] [-m manifest] [--root dir] "
	    "[--fstab file] [--journal file]",
	.summary = "Set the tiers up from a manifest: volume group, logical "
	    "volumes, file\nsystems, mounts, fstab blocks, owners, btrfs "
	    "subvolumes, the NAS mount\nand I/O tuning.  plan shows each step, "
	    "apply does them and journals each,\nrollback undoes them, verify "
	    "checks the result.",
	.exec = cmd_provision_exec,
};
