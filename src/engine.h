/* engine.h - the move engine shared by jts-tierctl and jts-tierd */
#ifndef JTS_ENGINE_H
#define JTS_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "catalog.h"
#include "conf.h"
#include "copy.h"
#include "tier.h"

struct ev_loop;


#define DIRCACHE	32

struct dirent_cache {
	int		 tier;
	char		*rel;		/* parent directory, relative */
	int		 fd;		/* O_PATH|O_DIRECTORY */
	dev_t		 dev;
	ino_t		 ino;
	uint64_t	 used;
};

struct engine {
	struct conf	*conf;
	struct catalog	 cat;
	struct copier	 cp;
	struct tier	 tiers[JTS_MAX_TIERS];
	int		 ntiers;
	struct tier_owner owner;	/* the catalog's identity, for the tiers */
	int		 lockfd;
	char		*lockpath;
	struct dirent_cache dc[DIRCACHE];
	uint64_t	 dc_clock;
	bool		 short_io;	/* test knob, JTS_TIER_SHORT_IO */
	struct ev_loop	*loop;		/* the daemon's, or the engine's own */
	bool		 own_loop;
	dev_t		 own_dev;	/* the catalog's directory: never */
	ino_t		 own_ino;	/* scanned, never moved */
};

/* Open tiers and catalog, take the engine lock, run recovery. */
int	engine_open(struct engine *, struct conf *, char *err, size_t errlen);
/* The same, driven by loop (the daemon's) rather than one of its own. */
int	engine_open_loop(struct engine *, struct conf *, struct ev_loop *,
	    char *err, size_t errlen);
void	engine_close(struct engine *);
/* Read the catalog's identity again (after a take-over) for the tiers;
 * 0, or -errno with err set. */
int	engine_owner_reload(struct engine *, char *err, size_t errlen);
/*
 * A second engine for a worker thread moving another batch beside e: the
 * same configuration and tier roots (shared, still e's), its own catalog
 * connection, copier and directory cache; no lock, no event loop, no nfs
 * tier.  Close with engine_close_worker before e.
 */
int	engine_open_worker(struct engine *w, struct engine *e, char *err,
	    size_t errlen);
void	engine_close_worker(struct engine *w);
/*
 * A worker that may also reach the tiers no local path reaches, with
 * connections of its own (a stub's recall): closed the same way.
 */
int	engine_open_filler(struct engine *w, struct engine *e, char *err,
	    size_t errlen);

/*
 * Open beneath a tier root with no symlink anywhere in the path.
 * Returns an fd or -errno.
 */
int	tier_openat(struct tier *, int dirfd, const char *rel, int flags,
	    mode_t mode);
/* Open the parent directory of rel beneath t (O_PATH); fd or -errno. */
int	tier_open_parent(struct tier *, const char *rel);
/*
 * Open rel on t to read its data (O_DIRECT where the file system allows):
 * a descriptor of a regular file, its status in *st; -EBUSY if a lease
 * holds it (a move in progress), -EFTYPE_NOTREG if it is not a regular
 * file (a FIFO, a device: never waited on), or another -errno.
 */
int	tier_open_read(struct tier *, const char *rel, struct stat *st);
/* The parent directory of rel on tier t (an O_PATH fd owned by the cache). */
int	engine_dir(struct engine *, int t, const char *rel, bool create,
	    int model_tier);
void	engine_dir_forget(struct engine *);
/* Device and inode of a directory engine_dir returned; 0 or -1. */
int	engine_dir_ident(struct engine *, int fd, dev_t *, ino_t *);

/* Map an absolute path to the tier it lies on; returns tier or -1. */
int	engine_locate(struct engine *, const char *abspath, const char **rel);

/* Where rel on tier t is, for people: a path, or the nfs URL's. */
char	*engine_data_path(struct engine *, int t, const char *rel);
/* What the symlink left behind points to; NULL: leave none (an nfs tier
 * without a mountpoint). */
char	*engine_link_target(struct engine *, int t, const char *rel);
/*
 * Forget the tiers' connections that broke, so the next use tries afresh
 * (a long-lived engine: the daemon).  Returns how many were dropped.
 */
int	engine_tiers_reset(struct engine *);
/* Let go of every object store's connection (a reload: the next use
 * reads its credentials again). */
void	engine_tiers_close_remote(struct engine *);

const char *rel_base(const char *rel);

#endif
