/*
 * tier-local.h - the operations every local file system shares
 * (tier-posix.c), for the kinds built on them (tier-btrfs.c).
 */
#ifndef JTS_TIER_LOCAL_H
#define JTS_TIER_LOCAL_H

#include "tier.h"

int	posix_space(struct tier *, struct tier_space *);
int	posix_hash(struct tier *, struct copier *, const char *rel,
	    int64_t size, const struct stat *seen, unsigned char *out);
int	posix_read_into(struct tier *, struct copier *, const char *rel,
	    int64_t size, int wfd, unsigned char *out);
int	posix_lookup(struct tier *, const char *rel, struct stat *);
void	posix_src_prepare(struct batch *, struct move_item *);
void	posix_src_hold(struct batch *, struct move_item *);
int	posix_src_same(struct batch *, struct move_item *);
int	posix_hold_path(struct tier *, const char *rel, const struct ident *);
void	posix_dst_prepare(struct batch *, struct move_item *);
int	posix_copy(struct batch *, struct move_item **, int n);
int	posix_link(struct batch *, struct move_item *lead,
	    struct move_item *it);
int	posix_durable(struct batch *, struct move_item **, int n);
void	posix_readback(struct batch *, struct move_item **, int n);
void	posix_place(struct batch *, struct move_item **, int n);
void	posix_place_durable(struct batch *, struct move_item **, int n);
void	posix_drop_tmp(struct engine *, struct move_item *);
int	posix_undo_tmp(struct engine *, int t, const char *rel, int64_t id,
	    char *why, size_t len);
int	posix_tidy(struct engine *, int t, const char *rel, int64_t id,
	    bool home, struct dirset *, char *why, size_t len);
int	posix_release(const struct release *, char *why, size_t len);
int	posix_relink(const struct release *, char *why, size_t len);
int	posix_drop(struct tier *, const char *rel);
int	posix_drop_same(struct engine *, int t, const char *rel, int64_t id,
	    const unsigned char *hash, int64_t size, char *why, size_t len);

/* What a local file system offers. */
#define LOCAL_CAPS	(TIER_CAP_LEASES | TIER_CAP_XATTRS | TIER_CAP_DIRSYNC | \
			 TIER_CAP_WORKERS | TIER_CAP_LOCAL)

/* The operations every local file system shares. */
#define LOCAL_OPS							\
	.caps = LOCAL_CAPS,						\
	.space = posix_space,						\
	.hash = posix_hash,						\
	.read_into = posix_read_into,					\
	.lookup = posix_lookup,						\
	.drop = posix_drop,						\
	.src_prepare = posix_src_prepare,				\
	.src_hold = posix_src_hold,					\
	.src_same = posix_src_same,					\
	.hold_path = posix_hold_path,					\
	.dst_prepare = posix_dst_prepare,				\
	.copy = posix_copy,						\
	.link = posix_link,						\
	.durable = posix_durable,					\
	.readback = posix_readback,					\
	.place = posix_place,						\
	.place_durable = posix_place_durable,				\
	.drop_tmp = posix_drop_tmp,					\
	.undo_tmp = posix_undo_tmp,					\
	.tidy = posix_tidy,						\
	.release = posix_release,					\
	.drop_same = posix_drop_same,					\
	.relink = posix_relink

#endif
