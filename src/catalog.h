/* catalog.h - the SQLite catalog: tracked files and the move journal */
#ifndef JTS_CATALOG_H
#define JTS_CATALOG_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define CAT_NSTMT	8

struct catalog {
	sqlite3		*db;
	char		*path;
	int		 version;
	sqlite3_stmt	*stmt[CAT_NSTMT];	/* prepared once, reused */
};

struct cat_file {
	char		*path;		/* relative to the tier root */
	char		 tier[40];
	char		 home[40];
	int64_t		 size, mtime_ns, ctime_ns, ino;
	int64_t		 blocks;	/* 512-byte units on disk, */
	bool		 has_blocks;	/* if known */
	uint32_t	 mode, uid, gid;
	bool		 has_hash;
	unsigned char	 hash[JTS_HASH_LEN];
	int64_t		 verified_ns, moved_ns;
	int		 pinned;
	int		 links;		/* names of its set of hard links
					   when it moved; 0 or 1: one */
};

enum jstate {
	JS_PLANNED,
	JS_COPYING,
	JS_VERIFIED,
	JS_COMMITTED,
	JS_DONE,
	JS_ABORTED,
	JS_CONFLICT,
};

struct cat_journal {
	int64_t		 id;
	char		*path;
	char		 op[16];
	char		 src[40], dst[40], home[40];
	char		 leave[16];
	enum jstate	 state;
	char		*tmp;
	int64_t		 pre_size, pre_mtime_ns, pre_ctime_ns, pre_ino;
	bool		 has_hash;
	unsigned char	 hash[JTS_HASH_LEN];
	char		*error;
	int		 links;		/* as cat_file's */
};

/* Number of schema upgrades built in: the newest user_version we know. */
int	catalog_schema_version(void);

int	catalog_open(const char *path, bool readonly, struct catalog *,
	    char *err, size_t errlen);
void	catalog_close(struct catalog *);
const char *catalog_errmsg(struct catalog *);

/*
 * The catalog's identity: its own UUID into id, and (if adopted is not
 * NULL) the UUIDs of catalogs it took over, space-separated (allocated).
 * 0 or -EIO.
 */
int	catalog_identity(struct catalog *, char id[40], char **adopted);
/* Take over the catalog uuid: its objects count as this one's.  0 or
 * -EIO. */
int	catalog_adopt(struct catalog *, const char *uuid, const char *note,
	    int64_t now_ns);

int	catalog_begin(struct catalog *);
int	catalog_commit(struct catalog *);
void	catalog_rollback(struct catalog *);

/* Returns 1 found, 0 not found, <0 error. */
/*
 * What a tier's files add up to, as du(1) counts them: a file with
 * several links (the same inode, size and time of last write) once.
 */
struct tier_usage {
	int64_t		 files;		/* rows (paths) */
	int64_t		 bytes;		/* apparent sizes */
	int64_t		 disk;		/* bytes on disk (st_blocks) */
	int64_t		 disk_unknown;	/* files whose blocks are unknown */
};
int	catalog_tier_usage(struct catalog *, const char *tier,
	    struct tier_usage *);
int	catalog_file_get(struct catalog *, const char *path, struct cat_file *);
int	catalog_file_put(struct catalog *, const struct cat_file *);
int	catalog_file_delete(struct catalog *, const char *path);
void	cat_file_free(struct cat_file *);
struct stat;
/* A row for path (not copied) on tier, home home, from what st says of
 * the file: size, times, inode, mode, owner, blocks; no hash. */
void	cat_file_of_stat(struct cat_file *, const char *path,
	    const char *tier, const char *home, const struct stat *st);

int	catalog_journal_add(struct catalog *, struct cat_journal *);
int	catalog_journal_set(struct catalog *, int64_t id, enum jstate,
	    const unsigned char *hash, const char *error);
/* Rows not done or aborted, oldest first; caller frees with _free_all. */
int	catalog_journal_open_rows(struct catalog *, struct cat_journal **,
	    int *n);
void	cat_journal_free(struct cat_journal *);

/* Moves left unfinished, not counting conflicts (the operator's). */
int	catalog_journal_unsettled(struct catalog *);
/* Journal rows in conflict. */
int	catalog_journal_conflicts(struct catalog *);

/*
 * A read transaction (deferred BEGIN) around a walk that reads many rows:
 * one lock, not one per statement.  Ends with catalog_read_end.
 */
void	catalog_read_begin(struct catalog *);
void	catalog_read_end(struct catalog *);

/* A policy run: its row's id (0 if it could not be written). */
int64_t	catalog_run_start(struct catalog *, const char *policy,
	    const char *reason, int64_t now_ns);
/* Its figures; ended_ns 0 leaves it unfinished (runs again at start). */
void	catalog_run_end(struct catalog *, int64_t id, int64_t ended_ns,
	    uint64_t files, uint64_t bytes, uint64_t failed);
/* When the last finished scheduled or fill run started; 0 if none. */
int64_t	catalog_run_last(struct catalog *, const char *policy);

/* Pin (or unpin) a path: 1 changed, 0 already so, <0 error. */
int	catalog_pin_set(struct catalog *, const char *path, bool pin,
	    int64_t now_ns);

const char *jstate_name(enum jstate);
int	jstate_parse(const char *);

#endif
