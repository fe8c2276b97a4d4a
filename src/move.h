/* move.h - the verified, journaled, crash-safe move of files between tiers */
#ifndef JTS_MOVE_H
#define JTS_MOVE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

enum move_op {
	OP_MIGRATE,
	OP_RECALL,
};

enum item_state {
	IT_PENDING,
	IT_DONE,
	IT_SKIPPED,
	IT_FAILED,
	IT_CONFLICT,
};

struct move_item {
	char		*rel;
	int		 src, dst, home;
	enum item_state	 state;
	char		*why;		/* reason for skip or failure */
	bool		 dst_is_stub;	/* dst name holds the home symlink */
	bool		 tracked;	/* catalog already had a row */
	bool		 has_cat_hash;	/* catalog hash to check against */
	unsigned char	 cat_hash[JTS_HASH_LEN];
	int64_t		 cat_size, cat_mtime_ns;
	int		 fd;		/* source, write lease held */
	struct stat	 pre;
	int64_t		 jid;
	unsigned char	 hash[JTS_HASH_LEN];
};

struct move_plan {
	struct move_item *items;
	int		 n, cap;
	uint64_t	 bytes;
	enum move_op	 op;
	int		 errors;	/* arguments that could not be planned */
};

struct move_stats {
	bool		 interrupted;	/* stopped by SIGINT or SIGTERM */
	uint64_t	 done, skipped, failed, conflicts;
	uint64_t	 bytes;
	int64_t		 elapsed_ns;
};

struct move_opts {
	enum leave_mode	 leave;
	bool		 progress;	/* draw a progress bar on stderr */
	bool		 quiet;
};

/* Add what moving path (absolute or relative) means to plan. */
int	move_plan_path(struct engine *, struct move_plan *, const char *path,
	    enum move_op, int to_tier);
void	move_plan_free(struct move_plan *);

/* Move every pending item of plan; returns 0 if none failed. */
int	move_run(struct engine *, struct move_plan *, const struct move_opts *,
	    struct move_stats *);

/* Finish or undo every unfinished journal row; returns rows left open. */
int	move_recover(struct engine *);

#endif
