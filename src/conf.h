/* conf.h - the configuration file jts-tier.conf(5) */
#ifndef JTS_CONF_H
#define JTS_CONF_H

#include <stdint.h>

#define JTS_CONF_DEFAULT	SYSCONFDIR "/jts-tier/jts-tier.conf"
#define JTS_CATALOG_DEFAULT	LOCALSTATEDIR "/lib/jts-tier/catalog.db"
#define JTS_MAX_TIERS		8

enum tier_kind {
	TIER_POSIX,
	TIER_BTRFS,
	TIER_NFS,
};

enum leave_mode {
	LEAVE_SYMLINK,
	LEAVE_REMOVE,
};

struct tier_conf {
	char		*name;
	enum tier_kind	 kind;
	char		*root;		/* local root; NULL for nfs */
	char		*url;		/* nfs only */
	char		*mountpoint;	/* where hosts see an nfs tier */
	int		 timeout;	/* nfs: seconds without an answer */
	int		 high;		/* watermarks, percent used */
	int		 low;
	int		 line;		/* where the section starts */
};

struct conf {
	char		*path;
	char		*catalog;
	uint64_t	 reserve;	/* free space kept on a destination */
	enum leave_mode	 leave;
	char		*home;		/* tier recall returns files to */
	int		 ntiers;
	struct tier_conf tiers[JTS_MAX_TIERS];
};

/*
 * Load and validate a configuration file.  On error returns a negative
 * value and writes "file:line: reason" into err.
 */
int	conf_load(const char *path, struct conf *, char *err, size_t errlen);
void	conf_free(struct conf *);
struct tier_conf *conf_tier(struct conf *, const char *name);
int	conf_tier_index(const struct conf *, const char *name);
const char *conf_kind_name(enum tier_kind);

#endif
