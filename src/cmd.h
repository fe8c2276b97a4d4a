/* cmd.h - jts-tierctl commands: one table, one file per command group */
#ifndef JTS_CMD_H
#define JTS_CMD_H

#include "conf.h"

/* Exit codes shared by every command. */
#define EXIT_OK		0
#define EXIT_FAILED	1	/* something asked for did not happen */
#define EXIT_USAGE	2	/* bad usage, configuration or input */

struct cmd_ctx {
	const char	*conf_path;
	struct conf	 conf;
};

struct cmd_entry {
	const char	*name;
	const char	*usage;		/* after "jts-tierctl NAME " */
	const char	*summary;
	int		(*exec)(struct cmd_ctx *, int argc, char **argv);
};

extern const struct cmd_entry cmd_migrate_entry;
extern const struct cmd_entry cmd_recall_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_check_entry;
extern const struct cmd_entry cmd_recover_entry;
extern const struct cmd_entry cmd_policy_entry;
extern const struct cmd_entry cmd_explain_entry;
extern const struct cmd_entry cmd_cancel_entry;
extern const struct cmd_entry cmd_pin_entry;
extern const struct cmd_entry cmd_unpin_entry;
extern const struct cmd_entry cmd_reload_entry;
extern const struct cmd_entry cmd_metrics_entry;
extern const struct cmd_entry cmd_report_entry;
extern const struct cmd_entry cmd_scan_entry;
extern const struct cmd_entry cmd_provision_entry;
extern const struct cmd_entry cmd_bench_entry;
extern const struct cmd_entry cmd_claim_entry;

/* Print "usage: jts-tierctl NAME USAGE" to stderr and return EXIT_USAGE. */
int	cmd_usage(const struct cmd_entry *);
/* Print the command's help (usage and summary) to stdout. */
int	cmd_help(const struct cmd_entry *, const char *options);
struct catalog;
/* Open the catalog to read if it exists (cat->db NULL if not); on error
 * print it and return non-zero. */
int	cmd_catalog_ro(struct cmd_ctx *, struct catalog *);
/* Load the configuration; on error print it and return non-zero. */
int	cmd_load_conf(struct cmd_ctx *);

#endif
