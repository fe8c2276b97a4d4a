/*
 * unit-copy.c - the io_uring copy loop: content, holes, short I/O,
 * O_DIRECT destinations, hashes equal to what xxh128sum prints
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy.h"
#include "unit.h"
#include "util.h"

static char dir[] = "/var/tmp/jts-unit-copy.XXXXXX";

/* Hash a file with the independent xxh128sum tool. */
static int
tool_hash(const char *path, char out[33])
{
	char *cmd = xasprintf("xxh128sum -q '%s' 2>/dev/null", path);
	FILE *p = popen(cmd, "r");
	int r = -1;

	free(cmd);
	if (p != NULL && fscanf(p, "%32s", out) == 1)
		r = 0;
	if (p != NULL)
		pclose(p);
	return r;
}

static void
fill(int fd, off_t off, size_t len, unsigned seed)
{
	unsigned char *b = xmalloc(len);
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		b[i] = (unsigned char)(seed >> 16);
	}
	if (pwrite(fd, b, len, off) != (ssize_t)len)
		abort();
	free(b);
}

struct shape {
	const char	*name;
	off_t		 size;
	/* data extents: offset, length; the rest are holes */
	off_t		 ext[4][2];
};

static const struct shape shapes[] = {
	{ "empty", 0, { { 0, 0 } } },
	{ "one-byte", 1, { { 0, 1 } } },
	{ "page-minus", 4095, { { 0, 4095 } } },
	{ "page", 4096, { { 0, 4096 } } },
	{ "odd-multi-buffer", 3 * 1048576 + 7, { { 0, 3 * 1048576 + 7 } } },
	{ "big", 9 * 1048576 + 4097, { { 0, 9 * 1048576 + 4097 } } },
	{ "sparse-middle", 8 * 1048576, { { 0, 65536 },
	    { 6 * 1048576, 8 * 1048576 - 6 * 1048576 } } },
	{ "sparse-ends", 16 * 1048576 + 5, { { 4 * 1048576, 12288 },
	    { 9 * 1048576 + 8192, 1048576 + 3 } } },
	{ "all-hole", 5 * 1048576, { { 0, 0 } } },
};

static void
one(struct copier *cp, const struct shape *s, bool short_io, bool direct)
{
	char src[256], dst[256], want[33], got[33], th[33];
	unsigned char h[JTS_HASH_LEN];
	struct copy_opts o;
	struct stat ss, ds;
	int sfd, dfd, i, r;

	snprintf(src, sizeof(src), "%s/%s.src", dir, s->name);
	snprintf(dst, sizeof(dst), "%s/%s.%d%d.dst", dir, s->name, short_io,
	    direct);
	sfd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0644);
	for (i = 0; i < 4 && s->ext[i][1] > 0; i++)
		fill(sfd, s->ext[i][0], (size_t)s->ext[i][1], (unsigned)i + 7);
	if (ftruncate(sfd, s->size) != 0)
		abort();
	fsync(sfd);
	dfd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0),
	    0600);
	if (dfd < 0 && direct) {
		printf("O_DIRECT not supported in %s, buffered\n", dir);
		dfd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	}
	memset(&o, 0, sizeof(o));
	o.short_io = short_io;
	r = copier_run(cp, sfd, dfd, (uint64_t)s->size, h, &o);
	CHECK(r == 0);
	if (r != 0)
		fprintf(stderr, "  %s: copier_run: %s\n", s->name, strerror(-r));
	close(dfd);
	jts_hash_hex(h, got);
	CHECK(tool_hash(src, want) == 0);
	CHECK(tool_hash(dst, th) == 0);
	CHECK_STR(got, want);
	CHECK_STR(th, want);
	CHECK(stat(src, &ss) == 0 && stat(dst, &ds) == 0);
	CHECK(ds.st_size == ss.st_size);
	/* Holes kept: the copy allocates no more than the source (+1 page
	 * for a padded direct tail). */
	CHECK(ds.st_blocks <= ss.st_blocks + 8);
	if (ds.st_blocks > ss.st_blocks + 8)
		fprintf(stderr, "  %s: %jd blocks, source %jd\n", s->name,
		    (intmax_t)ds.st_blocks, (intmax_t)ss.st_blocks);

	/* Hash-only mode gives the same digest. */
	lseek(sfd, 0, SEEK_SET);
	CHECK(copier_run(cp, sfd, -1, (uint64_t)s->size, h, &o) == 0);
	jts_hash_hex(h, got);
	CHECK_STR(got, want);
	close(sfd);
	unlink(dst);
}

int
main(void)
{
	struct copier cp;
	unsigned char h[JTS_HASH_LEN];
	char src[256], *cmd;
	size_t i;
	int r, fd;

	if (mkdtemp(dir) == NULL)
		return 99;
	if ((r = copier_init(&cp, 4, 1u << 20)) != 0) {
		printf("SKIP: io_uring unavailable: %s\n", strerror(-r));
		return 77;
	}
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		one(&cp, &shapes[i], false, false);
		one(&cp, &shapes[i], true, false);
		one(&cp, &shapes[i], false, true);
		one(&cp, &shapes[i], true, true);
	}

	/* A source shorter than announced is an error, not a short copy. */
	snprintf(src, sizeof(src), "%s/short.src", dir);
	fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0644);
	fill(fd, 0, 10000, 3);
	CHECK(copier_run(&cp, fd, -1, 20000, h, NULL) == -ESTALE);
	close(fd);

	/* An abort flag already set stops the copy with -ECANCELED. */
	{
		volatile sig_atomic_t flag = 1;
		struct copy_opts o;

		memset(&o, 0, sizeof(o));
		o.abort_flag = &flag;
		fd = open(src, O_RDONLY);
		CHECK(copier_run(&cp, fd, -1, 10000, h, &o) == -ECANCELED);
		close(fd);
	}
	/* Many small files at once, with and without short I/O. */
	{
		static const uint64_t sizes[] = { 0, 1, 4095, 4096, 16384,
		    100000, COPY_SMALL_MAX };
		struct copy_job jobs[70];
		char path[256], want[33], got[33];
		int nj = 70, k, pass;

		for (pass = 0; pass < 3; pass++) {
			struct copy_opts o;

			memset(&o, 0, sizeof(o));
			o.short_io = pass == 1;
			for (k = 0; k < nj; k++) {
				snprintf(path, sizeof(path), "%s/m%d.src", dir, k);
				jobs[k].src = open(path, O_RDWR | O_CREAT |
				    O_TRUNC, 0644);
				jobs[k].size = sizes[k % 7];
				jobs[k].direct = false;
				if (jobs[k].size)
					fill(jobs[k].src, 0, jobs[k].size,
					    (unsigned)k);
				if (pass == 2) {	/* read back O_DIRECT */
					close(jobs[k].src);
					jobs[k].src = open(path, O_RDONLY |
					    O_DIRECT);
					jobs[k].direct = true;
					jobs[k].dst = -1;
					continue;
				}
				snprintf(path, sizeof(path), "%s/m%d.dst", dir, k);
				jobs[k].dst = open(path, O_WRONLY | O_CREAT |
				    O_TRUNC, 0644);
			}
			CHECK(copier_run_many(&cp, jobs, nj, &o) == 0);
			for (k = 0; k < nj; k++) {
				CHECK(jobs[k].err == 0);
				jts_hash_hex(jobs[k].hash, got);
				snprintf(path, sizeof(path), "%s/m%d.src", dir, k);
				CHECK(tool_hash(path, want) == 0);
				CHECK_STR(got, want);
				if (jobs[k].dst >= 0) {
					close(jobs[k].dst);
					snprintf(path, sizeof(path),
					    "%s/m%d.dst", dir, k);
					CHECK(tool_hash(path, got) == 0);
					CHECK_STR(got, want);
				}
				close(jobs[k].src);
			}
		}
		/* Too big for a small slot, and a source shorter than said. */
		snprintf(path, sizeof(path), "%s/m0.src", dir);
		jobs[0].src = open(src, O_RDONLY);
		jobs[0].dst = -1;
		jobs[0].size = COPY_SMALL_MAX + 1;
		jobs[0].direct = jobs[1].direct = false;
		jobs[1].src = open(src, O_RDONLY);
		jobs[1].dst = -1;
		jobs[1].size = 20000;
		CHECK(copier_run_many(&cp, jobs, 2, NULL) == 0);
		CHECK(jobs[0].err == -EFBIG);
		CHECK(jobs[1].err == -ESTALE);
		close(jobs[0].src);
		close(jobs[1].src);
	}
	copier_fini(&cp);
	cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	free(cmd);
	return unit_done("unit-copy");
}
