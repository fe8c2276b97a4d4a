/* stub.h - stubs: the file left at a moved file's home path, of its size,
 * owner, mode, xattrs and times, holding no data (one block of zeros at
 * its start, the rest a hole), and marked as a stub by an xattr naming
 * its move; jts-tierd fills it when it is first read.
 */
#ifndef JTS_STUB_H
#define JTS_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "util.h"

/* The mark: trusted.*, so only root can set, change or copy it. */
#define STUB_XATTR	"trusted.jts-tier.stub"

struct stub_info {
	int64_t		 id;		/* the journal row that left it */
	int64_t		 size;
	unsigned char	 hash[JTS_HASH_LEN];	/* XXH3-128 of the data */
};

/*
 * Is fd a stub?  1 and *si filled (si may be NULL), 0 if not, -errno if
 * it cannot be told (-EBADMSG: a mark that does not parse).
 */
/* A stub holds a block of zeros at its start, a hole after. */
#define STUB_HEAD	4096
int	stub_read_fd(int fd, struct stub_info *si);
/* The same for name in dirfd, not following a symlink; st filled. */
/* True if name in dirfd surely carries no stub mark (one lookup, where
 * the kernel offers getxattrat); false: cannot tell, ask stub_read_at. */
bool	stub_surely_not(int dirfd, const char *name);
/*
 * Only a sparse file, or a small one, can be a stub: of that size and
 * those 512-byte blocks, is it worth a look?  A stub allocates its first
 * block, perhaps a zeroed partial last one (a failed recall punched
 * back), and on ext4 a block of xattrs, which st_blocks counts: up to
 * three blocks, so a stub of up to 12 KiB need not look sparse.
 */
static inline bool
stub_may_be(int64_t size, int64_t blocks)
{
	return size <= 3 * STUB_HEAD || blocks * 512 < size;
}
/* Is name in dirfd, of that size and those 512-byte blocks, a stub?
 * Only those that may be (stub_may_be) are looked at. */
bool	stub_is(int dirfd, const char *name, int64_t size, int64_t blocks);
int	stub_read_at(int dirfd, const char *name, struct stub_info *si,
	    struct stat *st);
/*
 * Create the stub of the regular file src (status st, whose data si
 * describes) as name in dirfd, which must not exist: sparse, of its size,
 * marked, and root's alone (0600) until stub_publish, so no user opens it
 * before it is watched.  Returns its descriptor (read-write), or -errno
 * with why set (nothing left behind).
 */
/*
 * Once watched: the stub takes src's xattrs and ACLs (but for those in
 * the namespace skip), owner, mode and times; synced.  0 or -errno, why
 * set.
 */
int	stub_publish(int fd, int src, const struct stat *st, const char *skip,
	    char *why, size_t len);
int	stub_make(int dirfd, const char *name, int src, const struct stat *st,
	    const struct stub_info *si, const char *skip, char *why,
	    size_t len);
/*
 * Watch the stub fd before it takes the name name in dirfd (set by
 * jts-tierd; NULL: no stubs can be left).  0, or -errno with why set.
 */
extern int	(*stub_watch_hook)(int fd, int dirfd, const char *name,
		    char *why, size_t len);

struct engine;
/*
 * stub-fill.c: fill the stub fd of rel in place from its catalogued copy,
 * verified, and make it the file; 0 when the data is in (or fd was no
 * stub), -EIO with why set (the stub stays a stub).
 */
int	stub_fill(struct engine *e, int fd, const char *rel, int64_t *bytes,
	    char *why, size_t len);

/* Give back the space a filled part of a stub holds; 0 or -errno. */
/* A stub's data as it was made (all a hole but its zeroed first block),
 * its mtime put back: what a failed recall wrote goes.  0 or -errno. */
struct timespec;
int	stub_reset(int fd, int64_t size, const struct timespec *mtime);
int	stub_punch(int fd, int64_t size);

#endif
