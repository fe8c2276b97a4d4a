/* track.h - live tracking of reads and writes on local tiers (fanotify) */
#ifndef JTS_TRACK_H
#define JTS_TRACK_H

#include <stdbool.h>

#include "engine.h"

struct track;
struct ev_loop;

/*
 * Watch every local tier's file system with fanotify and keep the catalog
 * current: reads make files hot (atime, heat), writes, creations,
 * deletions and renames update their rows.  Events are coalesced and
 * written every few seconds, never while *busy (a move owns the catalog).
 * When events were lost (the kernel's queue overflowed, or too many paths
 * at once), lost() is called: a rescan should follow.
 * Returns NULL, with the reason logged, where fanotify is unavailable: the
 * daemon then relies on its rescans.
 */
struct track *track_start(struct engine *, struct ev_loop *,
	    const bool *busy, void (*lost)(void));
void	track_stop(struct track *);
/* The tracking group's descriptor (the stub holder keeps it open too). */
int	track_fd(struct track *);
const char *track_mode(struct track *);

#endif
