/* util.h - messages, paths and small helpers shared by every module */
#ifndef JTS_UTIL_H
#define JTS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <pthread.h>

#define JTS_PROG_CTL	"jts-tierctl"

/* How deep the walks of a tree go (scan, check, migrate of a directory). */
#define JTS_MAX_DEPTH	256

/* Prefix of every temporary name the engine creates on a tier. */
#define JTS_TMP_PREFIX	".jts-tier-"
/*
 * Is name one jts-tier makes beside a file (".jts-tier-ID.tmp", .lnk,
 * .rm, .dup) or for a probe (".jts-tier-bench.PID", -verify.PID,
 * -probe.PID.stub)?  Any other name, ".jts-tier-probe-00" too, is a
 * user's, moved and checked as any other.
 */
bool	jts_is_tmp_name(const char *name);

extern const char *jts_progname;
extern int jts_verbose;

void	jts_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	jts_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	jts_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	jts_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	jts_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* When set (the daemon), messages go here with a syslog priority. */
extern void (*jts_log_hook)(int prio, const char *msg);

/* Out of memory: say so and abort (what the x* allocators do). */
void	jts_oom(void) __attribute__((noreturn));
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * A whole file, NUL-terminated, its length in *lenp (may be NULL); NULL
 * with errno set if it cannot be read.
 */
char	*jts_read_file(const char *path, size_t *lenp);
/* Write all n bytes (retrying short writes); 0 or -errno. */
int	jts_write_all(int fd, const void *p, size_t n);

/*
 * Render a path for a message: control characters become \n, \t, \ooo,
 * invalid UTF-8 bytes \ooo, C1 controls and bidi or invisible marks \uXXXX.
 */
const char *jts_quote(const char *path);
/* The same for a key=value log field, in double quotes where it holds a
 * blank, a quote or '=' (or is empty), so no name forges a field. */
const char *jts_quote_field(const char *s);
/*
 * A copy of text (a message of several lines) that is valid UTF-8 and safe
 * on a terminal: newlines and tabs kept, other controls, hidden characters
 * and invalid bytes escaped.  Free it.
 */
char	*jts_text_safe(const char *s);

/*
 * An output file that root writes where others may write too (a textfile
 * collector's directory): written under a new random name beside path,
 * created O_EXCL|O_NOFOLLOW in the directory opened once, so no planted
 * link or name is followed; commit makes it durable and renames it over
 * path, abort removes it.  0 or -errno; errors name nothing (the caller
 * names path).
 */
#include <stdio.h>
struct jts_outfile {
	FILE	*fp;
	int	 dfd;
	char	*tmp;		/* its name in the directory */
	char	*base;		/* path's last component */
};
int	jts_outfile_open(struct jts_outfile *, const char *path, mode_t mode);
int	jts_outfile_commit(struct jts_outfile *);
void	jts_outfile_abort(struct jts_outfile *);

/* Lexically normalise an absolute path (no symlinks are followed). */
char	*jts_path_abs(const char *path);
/* If path is root or beneath it, return the rest ("" for root itself). */
const char *jts_path_beneath(const char *root, const char *path);
/* Join two path parts with one slash. */
char	*jts_path_join(const char *a, const char *b);

/* Create the missing directories above path. */
void	jts_mkdir_parents(const char *path, mode_t mode);

/* Parse sizes such as 64M, 1G, 4096; returns 0 or -EINVAL. */
int	jts_parse_size(const char *s, uint64_t *out);
/* Parse durations such as 90s, 15m, 12h, 30d, 2w; seconds. */
int	jts_parse_duration(const char *s, int64_t *out);
const char *jts_fmt_duration(int64_t secs, char *buf, size_t len);
/* Format bytes for people: "1.5 GiB". */
const char *jts_fmt_bytes(uint64_t bytes, char *buf, size_t len);

/* XXH3-128 digest in canonical (big-endian) byte order, as xxh128sum prints. */
#define JTS_HASH_LEN	16
void	jts_hash_hex(const unsigned char h[JTS_HASH_LEN], char out[33]);

int64_t	jts_now_ns(void);
/* Is s well-formed UTF-8 (no overlong form, no surrogate)? */
bool	jts_utf8_valid(const char *s);
struct timespec;
/* A timespec (st_mtim, st_ctim) as nanoseconds. */
int64_t	jts_ts_ns(const struct timespec *);
int64_t	jts_mono_ns(void);

/*
 * A test knob (JTS_TIER_BATCH_FILES, JTS_TIER_PLAN_CHUNK, ...): its value
 * in the environment in a build made with configure --enable-test-hooks,
 * NULL in every other build, so a default daemon has no such hooks.
 */
/* "" or " (test hooks)", for --version. */
#ifdef JTS_TEST_HOOKS
const char *jts_test_knob(const char *name);
#define JTS_BUILD_NOTE	" (test hooks)"
#else
static inline const char *
jts_test_knob(const char *name)
{
	(void)name;
	return NULL;
}
#define JTS_BUILD_NOTE	""

#endif

/*
 * Fault points for the test suite: JTS_TIER_FAULT=name[:N] kills the process
 * with SIGKILL the Nth time the named point is reached (default the first).
 */
void	jts_fault_point(const char *name);
/*
 * Error injection for the test suite: JTS_TIER_FAIL=name:errno[:N] makes
 * the Nth (default first) call return -errno; 0 otherwise.
 */
int	jts_fault_errno(const char *name);
/* Test suite: JTS_TIER_PAUSE=name:ms sleeps ms milliseconds at name. */
void	jts_pause_point(const char *name);

/*
 * Add path to a JSON object under key.  JSON text is UTF-8: a path that is
 * not gets U+FFFD for each invalid byte under key, and its exact bytes in
 * hex under key_hex.
 */
struct json_object;
void	jts_json_add_path(struct json_object *, const char *key,
	    const char *path);
/* The string under key, or NULL if absent or not a string. */
const char *jts_json_str(struct json_object *, const char *key);

/*
 * How many extended attributes fd has outside the namespace skip (NULL:
 * all of them); -errno if they cannot be listed (0 where unsupported).
 */
int	jts_xattr_count(int fd, const char *skip);
/* Is the xattr name in the namespace skip (a prefix such as "btrfs.")? */
bool	jts_xattr_in(const char *name, const char *skip);
/*
 * Copy the extended attributes (ACLs among them) of sfd to dfd, but for
 * those in the namespaces skip and skip2 (NULL: none): 0, or -errno with
 * why naming the attribute.
 */
int	jts_xattr_copy(int sfd, int dfd, const char *skip, const char *skip2,
	    char *why, size_t len);
/*
 * Give fd the size size, truncating only if it has another: a truncate
 * raises a pre-content event on a stub even through a descriptor opened
 * without notification, so a stub being filled must not see one.
 */
int	jts_set_size(int fd, off_t size);

/*
 * I/O priorities (the block layer's classes, honoured by schedulers such
 * as mq-deadline and bfq): idle, low (best-effort, its lowest level) and
 * normal (best-effort, the default level).
 */
enum { JTS_IOPRIO_IDLE, JTS_IOPRIO_LOW, JTS_IOPRIO_NORMAL };
/* "idle", "low" or "normal": JTS_IOPRIO_*, or -1. */
int	jts_ioprio_parse(const char *);
const char *jts_ioprio_name(int);
/* Give the calling thread (and threads it starts) that priority. */
int	jts_ioprio_set(int);

/*
 * Paces: each at most rate bytes a second over the whole process (every
 * copy that asks, from any thread), in bursts of at most an eighth of a
 * second's worth.  Rate 0: no pace.  Pace 0 is the daemon's moves'
 * (move_rate), pace 1 + t the recalls from tier t (its recall_rate).
 */
#define JTS_PACES		16
#define JTS_PACE_K_MOVES	0		/* a pace's number (set) */
#define JTS_PACE_K_RECALL(t)	(1 + (t))
#define JTS_PACE_MOVES		(1u << JTS_PACE_K_MOVES)	/* its bit (go) */
#define JTS_PACE_RECALL(t)	(1u << JTS_PACE_K_RECALL(t))
void	jts_pace_set(int k, uint64_t rate);
/*
 * May n bytes go now, under every pace in mask (taken from each)?  If
 * not and nothing else is in flight (!busy), part of the wait is slept
 * here, at most 50 ms, so a caller's loop sees a stop between; a busy
 * caller waits for its answers instead.
 */
bool	jts_pace_go(unsigned mask, uint64_t n, bool busy);

/* A set of file identities (device, inode), for walks that meet a file
 * or directory under two names when its owner renames it meanwhile. */
struct jts_idset {
	struct jts_id { dev_t dev; ino_t ino; } *v;
	size_t		 n, cap;	/* cap: 0 or a power of two */
};
/* Add (dev, ino): true if it was not there yet. */
bool	jts_idset_add(struct jts_idset *s, dev_t dev, ino_t ino);
void	jts_idset_clear(struct jts_idset *s);
void	jts_idset_free(struct jts_idset *s);

/*
 * Start a thread with every signal blocked (signals are the loop's
 * thread's); 0 or the error number.
 */
int	 jts_thread_start(pthread_t *, void *(*)(void *), void *);

#endif
