/* conf.h - the configuration file jts-tier.conf(5) */
#ifndef JTS_CONF_H
#define JTS_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JTS_CONF_DEFAULT	SYSCONFDIR "/jts-tier/jts-tier.conf"
#define JTS_CATALOG_DEFAULT	LOCALSTATEDIR "/lib/jts-tier/catalog.db"
#define JTS_POLICIES_DEFAULT	SYSCONFDIR "/jts-tier/policies"
#define JTS_SOCKET_DEFAULT	"/run/jts-tier/ctl.sock"
#define JTS_MAX_TIERS		8

enum tier_kind {
	TIER_POSIX,
	TIER_BTRFS,
	TIER_NFS,
	TIER_S3,
};

enum leave_mode {
	LEAVE_SYMLINK,
	LEAVE_REMOVE,
	LEAVE_STUB,
};

/* "symlink", "remove", "stub"; and back (-1: none of them). */
const char *leave_name(enum leave_mode);
int	leave_parse(const char *);

struct tier_conf {
	char		*name;
	enum tier_kind	 kind;
	char		*root;		/* local root; NULL for nfs */
	char		*url;		/* nfs only */
	char		*mountpoint;	/* where hosts see an nfs tier */
	int		 timeout;	/* nfs: seconds without an answer */
	int		 inflight;	/* nfs: requests in flight per file */
	int		 high;		/* watermarks, percent used */
	int		 low;
	int		 leave;		/* enum leave_mode for files whose home
					   is here; -1: [defaults] leave */
	uint64_t	 recall_rate;	/* bytes/s of the daemon's recalls
					   from here; 0: no limit */
	/* s3 only */
	char		*endpoint;	/* http://host:port, https://host */
	char		*bucket;
	char		*prefix;	/* this host's keys; default: its name */
	char		*region;	/* the signature's; us-east-1 */
	char		*credentials;	/* a file only root may read */
	char		*ca_file;	/* NULL: the system's */
	bool		 tls_verify;	/* true unless tls_verify = no */
	uint64_t	 part_size;	/* multipart uploads' parts */
	uint64_t	 quota;		/* bytes it may hold; 0: none set */
	int		 line;		/* where the section starts */
};

struct conf {
	char		*path;
	char		*catalog;
	uint64_t	 reserve;	/* free space kept on a destination */
	enum leave_mode	 leave;
	char		*home;		/* tier recall returns files to */
	char		*policies;	/* [daemon] directory of *.policy */
	char		*socket;	/* [daemon] control socket */
	char		*socket_group;	/* may read through the socket */
	int64_t		 scan_interval;	/* seconds between rescans; 0 off */
	int64_t		 policy_timeout; /* s a policy's selection may take */
	bool		 fanotify;	/* track reads and writes live */
	int		 io_priority;	/* JTS_IOPRIO_*: the daemon's moves */
	uint64_t	 move_rate;	/* bytes/s of the daemon's copies, 0:
					   as fast as the tiers go */
	int		 recall_concurrency; /* stubs filled at once */
	int64_t		 stub_timeout;	/* s a reader waits for the daemon */
	/* [bench] targets, the storage plan's by default */
	double		 bench_iops;	/* first tier, 4 KiB random reads */
	double		 bench_write_mbps;	/* local tiers, sequential */
	double		 bench_nfs_mbps;	/* nfs tiers, write and read */
	double		 bench_migrate_s;	/* 1 GiB between two tiers */
	int		 ntiers;
	struct tier_conf tiers[JTS_MAX_TIERS];
};

/*
 * inih line reader that counts lines, so errors can name them: pass it to
 * ini_parse_stream with a struct ini_lines (or a struct beginning with
 * one) as the stream.
 */
struct ini_lines {
	FILE		*fp;
	int		 line;		/* line being parsed */
	int		 section_line;	/* line of the last [section] */
	bool		 continued;	/* an indented continuation line */
	int		 err_line;	/* first error, 0 if none */
	char		 err[512];
};
char	*ini_lines_reader(char *str, int num, void *stream);
/* Record the first error, on the line being read; returns 0 for inih. */
int	ini_lines_fail(struct ini_lines *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Load and validate a configuration file.  On error returns a negative
 * value and writes "file:line: reason" into err.
 */
int	conf_load(const char *path, struct conf *, char *err, size_t errlen);
/* The same, from a string (path names it in messages). */
int	conf_parse(const char *path, const char *text, size_t len,
	    struct conf *, char *err, size_t errlen);
void	conf_free(struct conf *);
struct tier_conf *conf_tier(struct conf *, const char *name);
int	conf_tier_index(const struct conf *, const char *name);
/* What a file whose home is tier home leaves there: its [tier] leave,
 * else the [defaults] one. */
enum leave_mode conf_leave_of(const struct conf *, int home);
/* Does [defaults] or any [tier] say leave = stub? */
bool	conf_wants_stubs(const struct conf *);
const char *conf_kind_name(enum tier_kind);
/*
 * The configured tiers for a message, "hot, warm, cold", or with where
 * each lives, "hot (/srv/hot), cold (nfs://nas/export)"; returns buf.
 */
const char *conf_tier_list(const struct conf *, bool where, char *buf,
	    size_t len);
/* The tier an absolute path lies on (root or nfs mountpoint) and the rest
 * of the path beneath it; -1 if on none. */
int	conf_locate(const struct conf *, const char *abspath,
	    const char **rel);

#endif
