/* provision.h - turn a manifest into steps; plan, apply, verify, rollback */
#ifndef JTS_PROVISION_H
#define JTS_PROVISION_H

#include <stdbool.h>
#include <stdio.h>

#include "manifest.h"

#define PROV_JOURNAL_DEFAULT	"/var/lib/jts-tier/provision.journal"
#define PROV_UDEV_RULES		"/etc/udev/rules.d/60-jts-tier.rules"

struct prov_opts {
	const char	*root;		/* NULL or "/": the real system */
	const char	*fstab;		/* NULL: ROOT/etc/fstab */
	const char	*journal;	/* NULL: ROOT + PROV_JOURNAL_DEFAULT */
	bool		 force;		/* overwrite signatures, hide data */
	FILE		*out;		/* the report */
};

/*
 * Each returns an exit status: plan and apply 0 (done), 1 (refused or
 * failed), rollback the same; verify 0/1/2/3 as check (OK, WARNING,
 * CRITICAL, UNKNOWN).
 */
int	prov_plan(const struct manifest *, const struct prov_opts *);
int	prov_apply(const struct manifest *, const struct prov_opts *);
int	prov_rollback(const struct manifest *, const struct prov_opts *);
int	prov_verify(const struct manifest *, const struct prov_opts *);

/*
 * Run argv (never through a shell), stdin from /dev/null, stdout and
 * stderr gathered into *out (NUL-terminated, may be NULL).  Returns the
 * exit status, 128 + signal, or -errno if it could not be started.
 */
int	prov_run(char *const argv[], char **out);
/* argv as one line a person could paste into a shell. */
char	*prov_argv_str(char *const argv[]);

#endif
