/* scan.h - reconcile the catalog with what is on a local tier */
#ifndef JTS_SCAN_H
#define JTS_SCAN_H

#include <stdint.h>

#include "engine.h"

struct scan_stats {
	uint64_t	 files;		/* regular files seen */
	uint64_t	 dirs;
	uint64_t	 added, changed, removed, renamed;
	uint64_t	 conflicts;	/* path catalogued on another tier */
	uint64_t	 errors;	/* entries that could not be read */
	uint64_t	 too_deep;	/* directories beyond JTS_MAX_DEPTH */
	int64_t		 ns;
};

/*
 * Walk tier t (local) and bring its catalog rows in line: new files added,
 * changed ones updated (their hash cleared: it no longer describes them),
 * deleted ones removed, renamed ones followed.  Commits in large
 * transactions.  Returns 0, or <0 with err set.
 */
int	scan_tier(struct engine *, int t, struct scan_stats *, char *err,
	    size_t errlen);

/* One line for people and logs: "scan tier=hot files=... time=...s". */
char	*scan_line(const char *tier, const struct scan_stats *);

#endif
