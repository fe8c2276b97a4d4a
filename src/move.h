/* move.h - the verified, journaled, crash-safe move of files between tiers */
#ifndef JTS_MOVE_H
#define JTS_MOVE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "util.h"

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
	bool		 tmp_left;	/* its temporary could not be removed */
	bool		 in_use;	/* failed as open or written by others */
	ino_t		 copy_ino;	/* the copy, once renamed into place */
	int64_t		 copy_ctime_ns;	/* (on a tier where it has its own) */
	int64_t		 copy_blocks;	/* its st_blocks */
	unsigned char	 cat_hash[JTS_HASH_LEN];
	int64_t		 cat_size, cat_mtime_ns;
	uint32_t	 cat_mode, cat_uid, cat_gid;
	uint64_t	 psize;		/* size when planned */
	int		 fd;		/* source, write lease held */
	void		*handle;	/* the backend's: a copy not yet durable */
	struct stat	 pre;
	int64_t		 jid;
	int64_t		 ns;		/* time of the batch that moved it */
	unsigned char	 hash[JTS_HASH_LEN];
	bool		 read_back;	/* rb_hash: the copy read back */
	unsigned char	 rb_hash[JTS_HASH_LEN];
	/*
	 * A set of hard links moves whole, in one batch, its names next to
	 * each other: the first copied, the others made links to its copy.
	 */
	int		 links;		/* names in its set; 0: one */
	int		 set_pos;	/* its place in the set: 0 leads */
	uint64_t	 set_key[3];	/* how planning knows its set */
};

struct move_plan {
	struct move_item *items;
	int		 n, cap;
	uint64_t	 bytes;
	enum move_op	 op;
	int		 errors;	/* arguments that could not be planned */
	/*
	 * Streaming: when flush is set, it is called whenever flush_at items
	 * are planned (and should run and empty the plan), so a tree of any
	 * size is moved in bounded memory.
	 */
	void		(*flush)(struct move_plan *, void *arg);
	void		*flush_arg;
	int		 flush_at;
	/*
	 * What the walk met: a directory or file its owner renames during
	 * the walk can be met under two names, and is planned once.
	 */
	struct jts_idset dirs;		/* for the whole plan */
	struct jts_idset files;		/* for the items not yet run */
	/*
	 * Files with hard links wait here until the walk of a path is over:
	 * then each set whose names all lie in what was walked joins the
	 * plan, its names together, and any other is refused.  With
	 * hold_links, they wait until move_plan_links (a caller planning
	 * many paths that together hold a set).
	 */
	struct move_plan *held;
	bool		 hold_links;
};

struct move_stats {
	void		*run;		/* state between move_begin and _end */
	bool		 interrupted;	/* stopped by SIGINT or SIGTERM */
	uint64_t	 done, skipped, failed, conflicts;
	uint64_t	 bytes;
	int64_t		 elapsed_ns;
};

struct engine;
struct move_opts {
	enum leave_mode	 leave;
	bool		 leave_forced;	/* leave given (command, policy): it
					   wins over each home tier's own */
	bool		 progress;	/* draw a progress bar on stderr */
	bool		 quiet;
	bool		 paced;		/* copies keep to jts_pace (the
					   daemon's move_rate) */
	/* When set, called for each item moved or not, instead of printing;
	 * where is the file's path (or URL) on its source tier. */
	void		(*report)(struct engine *, const struct move_item *,
			    const char *where, void *arg);
	void		*report_arg;
	/*
	 * Called as bytes are copied and while a copy is held by a pace
	 * (from the thread that called move_chunk only; a batch in a
	 * worker thread does not): the daemon answers its clients there.
	 */
	void		(*tick)(void);
};

/* Add what moving path (absolute or relative) means to plan. */
int	move_plan_path(struct engine *, struct move_plan *, const char *path,
	    enum move_op, int to_tier);
void	move_plan_free(struct move_plan *);
/* The sets of hard links held so far, into the plan (see held). */
void	move_plan_links(struct move_plan *);
/* More names than this in one set of hard links: not moved. */
#define MOVE_SET_MAX	1024

/*
 * Moving: move_begin, then move_chunk for each (part of a) plan, which
 * moves, reports and forgets its items, then move_end.  move_run does
 * all three for one plan.  They return 0 if nothing failed.
 */
void	move_begin(struct engine *, const struct move_opts *,
	    struct move_stats *);
int	move_chunk(struct engine *, struct move_plan *,
	    const struct move_opts *, struct move_stats *);
int	move_end(struct engine *, struct move_stats *);
int	move_run(struct engine *, struct move_plan *, const struct move_opts *,
	    struct move_stats *);
/*
 * Between move_begin and move_end: stop as a signal would (the files in
 * flight finished or undone, no other started), without being one.
 * Async-signal-safe.
 */
void	move_cancel(void);
/* Forget the items of plan (keeping its settings and error count). */
void	move_plan_clear(struct move_plan *);

/*
 * Finish or undo every unfinished journal row; returns rows left open.
 * Conflicts are looked at only with conflicts set (an operator's
 * 'recover', a daemon's start): retrying one may hash its copy, which
 * must not happen before every move.
 */
/* Is rel busy elsewhere (a stub being filled)?  Asked before step 7. */
extern bool	(*move_busy_hook)(const char *rel);
int	move_recover(struct engine *, bool conflicts);

#endif
