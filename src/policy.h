/* policy.h - policy files jts-tier.policy(5): load, compile, select */
#ifndef JTS_POLICY_H
#define JTS_POLICY_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

#define POLICY_MAX		64

struct policy {
	char		*name;		/* file name without .policy */
	char		*file;
	int		 from, to;	/* tier indexes */
	char		 from_name[40], to_name[40];
	bool		 up;		/* to is above from: files come back */
	/*
	 * The destination's fill a run stops at, percent (-1: none): its
	 * high watermark for a policy down, its low one (or a lower low of
	 * a fill policy leaving it) for a policy up.
	 */
	int		 dst_cap;
	const char	*dst_cap_what;	/* "high watermark", ... */
	/* A policy up: the tiers a file's home may be (to and above). */
	char		 homes[JTS_MAX_TIERS][40];
	int		 nhomes;
	char		*condition;
	int		 cond_line;
	char		*order;
	int		 order_line;
	int64_t		 schedule_s;	/* run every; 0: not on a schedule */
	bool		 on_fill;	/* run when from is above high */
	char		*fill_path;	/* watch this file system beneath from */
	int		 high, low;	/* percent used */
	uint64_t	 max_files, max_bytes;	/* per run; 0: no limit */
	uint64_t	 bandwidth;	/* bytes per second; 0: no cap */
	int64_t		 min_residency_s;
	char		**exclude;
	int		 nexclude;
	enum leave_mode	 leave;
	bool		 leave_set;	/* leave = in the file (else per tier) */
	bool		 enabled;
	sqlite3_stmt	*sel;		/* compiled once, see policy_compile */
	sqlite3_stmt	*one;		/* the condition for one path */
	double		 fill_done;	/* daemon: when its last fill run ended */
};

struct policy_set {
	char		*dir;
	struct policy	*p;
	int		 n;
};

/* Fill level of a tier, for watermarks and projections. */
struct tier_fill {
	bool		 known;
	bool		 failed;	/* it has a size, which could not be
					   measured: taken as full */
	uint64_t	 size, used;
};

struct policy_cand {
	char		*rel;
	int64_t		 size;
};

enum policy_reason {
	RUN_SCHEDULE,
	RUN_FILL,
	RUN_REQUEST,
};

struct policy_sel {
	enum policy_reason reason;
	struct policy_cand *c;
	int		 n, cap;
	uint64_t	 bytes;
	bool		 fill_idle;	/* a fill run with the tier below high */
	const char	*stopped;	/* why the list ends early, or NULL */
	uint64_t	 too_big;	/* passed over: would not fit under
					   the destination's cap */
	struct tier_fill after[JTS_MAX_TIERS];	/* projected */
};

/*
 * Load every DIR/NAME.policy, checked against conf; on error returns <0 with
 * "file:line: reason" in err and set untouched.
 */
int	policy_load_dir(const char *dir, const struct conf *,
	    struct policy_set *, char *err, size_t errlen);
int	policy_load_file(const char *path, const struct conf *,
	    struct policy *, char *err, size_t errlen);
void	policy_free(struct policy *);
void	policy_set_free(struct policy_set *);
struct policy *policy_find(struct policy_set *, const char *name);

/*
 * Register the functions conditions may call on db (once per connection),
 * then compile each policy's query, read-only and sandboxed.  Errors name
 * the policy file and line.
 */
int	policy_db_init(sqlite3 *db);
int	policy_compile(struct policy *, sqlite3 *db, char *err, size_t errlen);
int	policy_set_compile(struct policy_set *, sqlite3 *db, char *err,
	    size_t errlen);

/* The fill level of each of n tiers, as tier_space measures it. */
struct tier;
void	policy_fill(struct tier *tiers, int n, struct tier_fill *);
/* The source's fill as p sees it: its fill_path's file system, if set. */
void	policy_fill_apply(const struct policy *, const struct conf *,
	    struct tier_fill *);

/*
 * What a run of p for reason would move, in order, within its limits and
 * watermarks, with each tier's projected fill after it.  Reads only.
 */
int	policy_select(struct policy *, sqlite3 *db, int64_t now_ns,
	    enum policy_reason, const struct tier_fill *fill,
	    struct policy_sel *, char *err, size_t errlen);
void	policy_sel_free(struct policy_sel *);

/*
 * Why p would or would not move rel (a catalog path): one line into why.
 * Returns 1 if it would move it, 0 if not, <0 on error.
 */
int	policy_explain(struct policy *, sqlite3 *db, const struct conf *,
	    int64_t now_ns, const char *rel, const struct tier_fill *fill,
	    char *why, size_t whylen);

const char *policy_reason_name(enum policy_reason);

/* The longest string or blob a policy's statement may make. */
#define POLICY_MAX_VALUE	(1 << 20)
/*
 * Bound every selection to seconds; tick (may be NULL) is called every
 * 20 ms or so while one runs (the daemon answers its clients there).
 */
void	policy_set_limits(int64_t seconds, void (*tick)(void));

#endif
