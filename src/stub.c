/* stub.c - stubs: make them, tell them, empty them (see stub.h) */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "stub.h"

static const char zeros[STUB_HEAD];

#define STUB_FMT	"jts-tier stub 1 row=%" PRId64 " size=%" PRId64 \
			" xxh3=%s"

int	(*stub_watch_hook)(int fd, int dirfd, const char *name, char *why,
	    size_t len);

static int
hex_parse(const char *s, unsigned char *out)
{
	int i;
	unsigned v;

	for (i = 0; i < JTS_HASH_LEN; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return s[2 * JTS_HASH_LEN] == '\0' ? 0 : -1;
}

int
stub_read_fd(int fd, struct stub_info *si)
{
	char val[160], hex[40];
	struct stub_info tmp;
	ssize_t n;

	n = fgetxattr(fd, STUB_XATTR, val, sizeof(val) - 1);
	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP ? 0 : -errno;
	val[n] = '\0';
	if (si == NULL)
		si = &tmp;
	memset(si, 0, sizeof(*si));
	if (sscanf(val, "jts-tier stub 1 row=%" SCNd64 " size=%" SCNd64
	    " xxh3=%39s", &si->id, &si->size, hex) != 3 ||
	    hex_parse(hex, si->hash) != 0)
		return -EBADMSG;
	return 1;
}

/*
 * getxattrat(2) (Linux 6.13): one lookup where the full check opens the
 * file.  Its number is the same in every architecture's table that uses
 * the common numbering; elsewhere, and on older kernels, the answer is
 * "cannot tell".
 */
#if !defined(SYS_getxattrat) && (defined(__x86_64__) || \
    defined(__aarch64__) || defined(__riscv) || defined(__i386__) || \
    defined(__arm__) || defined(__powerpc64__) || defined(__s390x__))
#define SYS_getxattrat	464
#endif

struct jts_xattr_args {
	uint64_t	value;
	uint32_t	size;
	uint32_t	flags;
};

bool
stub_surely_not(int dirfd, const char *name)
{
#ifdef SYS_getxattrat
	static int missing;	/* ENOSYS seen: not asked again (atomic: a
				   scan looks from two threads) */
	struct jts_xattr_args a;
	char val[160];

	if (__atomic_load_n(&missing, __ATOMIC_RELAXED))
		return false;
	memset(&a, 0, sizeof(a));
	a.value = (uint64_t)(uintptr_t)val;
	a.size = sizeof(val);
	if (syscall(SYS_getxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW,
	    STUB_XATTR, &a, sizeof(a)) >= 0)
		return false;
	if (errno == ENOSYS || errno == EINVAL)
		__atomic_store_n(&missing, 1, __ATOMIC_RELAXED);
	return errno == ENODATA || errno == ENOTSUP;
#else
	(void)dirfd;
	(void)name;
	return false;
#endif
}

bool
stub_is(int dirfd, const char *name, int64_t size, int64_t blocks)
{
	struct stat sb;

	return stub_may_be(size, blocks) && !stub_surely_not(dirfd, name) &&
	    stub_read_at(dirfd, name, NULL, &sb) == 1;
}

int
stub_read_at(int dirfd, const char *name, struct stub_info *si,
    struct stat *st)
{
	int fd, r;

	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (!S_ISREG(st->st_mode))
		return 0;
	/* An open for reading raises no pre-content event: only reads do. */
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode))
		r = 0;
	else
		r = stub_read_fd(fd, si);
	close(fd);
	return r;
}

int
stub_make(int dirfd, const char *name, int src, const struct stat *st,
    const struct stub_info *si, const char *skip, char *why, size_t len)
{
	char val[160], hex[33];
	const char *what;
	int fd, r;

	fd = openat(dirfd, name, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(why, len, "cannot create the stub: %s", strerror(-r));
		return r;
	}
	jts_hash_hex(si->hash, hex);
	snprintf(val, sizeof(val), STUB_FMT, si->id, si->size, hex);
	what = "set its size";
	if (ftruncate(fd, st->st_size) != 0)
		goto fail;
	/*
	 * One block of zeros at its start, the rest a hole: a copier that
	 * skips holes (cp finds them with SEEK_DATA, which raises no event)
	 * finds data at 0 and reads it; that read fills the stub before the
	 * copier looks for the next hole.
	 */
	what = "write its first block";
	if (st->st_size > 0 && pwrite(fd, zeros, st->st_size < STUB_HEAD ?
	    (size_t)st->st_size : STUB_HEAD, 0) < 0)
		goto fail;
	/* Marked while only root may open it (0600, root's): the owner's
	 * mode, ACLs and xattrs come with stub_publish, once it is watched. */
	what = "mark it";
	if (fsetxattr(fd, STUB_XATTR, val, strlen(val), XATTR_CREATE) != 0)
		goto fail;
	(void)src;
	(void)skip;
	return fd;
fail:
	snprintf(why, len, "cannot %s: %s", what, strerror(errno));
	r = -errno;
	close(fd);
	(void)unlinkat(dirfd, name, 0);
	return r;
}

int
stub_publish(int fd, int src, const struct stat *st, const char *skip,
    char *why, size_t len)
{
	struct timespec ts[2];
	const char *what;
	int r;

	if ((r = jts_xattr_copy(src, fd, skip, "trusted.jts-tier.", why,
	    len)) != 0)
		return r;
	what = "chown";
	if (fchown(fd, st->st_uid, st->st_gid) != 0)
		goto fail;
	what = "chmod";
	if (fchmod(fd, st->st_mode & 07777) != 0)
		goto fail;
	ts[0] = st->st_atim;
	ts[1] = st->st_mtim;
	what = "set its times";
	if (futimens(fd, ts) != 0)
		goto fail;
	what = "sync it";
	if (fsync(fd) != 0)
		goto fail;
	return 0;
fail:
	snprintf(why, len, "cannot %s: %s", what, strerror(errno));
	return -errno;
}

int
stub_reset(int fd, int64_t size, const struct timespec *mtime)
{
	struct timespec ts[2];
	int r;

	/* Punched (a partial last block stays, zeroed), never cut to
	 * nothing: a crash between a cut and a growth would leave a marked
	 * file shorter than its data. */
	if ((r = stub_punch(fd, size)) != 0)
		return r;
	if (size > 0 && pwrite(fd, zeros, size < STUB_HEAD ? (size_t)size :
	    STUB_HEAD, 0) < 0)
		return -errno;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = *mtime;
	if (futimens(fd, ts) != 0)
		return -errno;
	return fdatasync(fd) != 0 ? -errno : 0;
}

int
stub_punch(int fd, int64_t size)
{
	if (size == 0)
		return 0;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
	    size) != 0)
		return -errno;
	return 0;
}
