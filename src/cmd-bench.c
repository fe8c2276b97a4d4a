/* cmd-bench.c - bench: measure the tiers against their targets */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <liburing.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "cmd.h"
#include "engine.h"
#include "move.h"
#include "tier.h"
#include "util.h"

static const char bench_options[] =
    "measures:\n"
    "  the first tier       4 KiB random reads: io_uring, O_DIRECT, queue "
    "depth 32\n"
    "  other local tiers    sequential writes of 1 MiB, then fsync\n"
    "  nfs tiers            writes over libnfs with COMMIT, then reads\n"
    "  s3 tiers             uploads (multipart above the part size), "
    "then GETs\n"
    "  each pair in turn    the time to migrate one file down, and to "
    "recall it\n"
    "\noptions:\n"
    "  -s, --size SIZE      file size (default 1G)\n"
    "  -t, --time SECONDS   how long random reads run (default 10)\n"
    "  -j, --json           print JSON\n"
    "  -c, --config FILE    configuration file\n"
    "  -h, --help           this help\n"
    "\nTargets come from [bench] in the configuration (the storage plan's "
    "by default:\n> 50000 IOPS, > 200 MB/s written, > 100 MB/s over NFS, "
    "< 5 s per migration).\nexit status: 0 every target met, 1 a target "
    "missed or a measure failed, 2 usage\n";

enum verdict { V_PASS, V_FAIL, V_SKIP };

struct result {
	char		*tier;
	const char	*test;		/* key for JSON */
	char		*what;		/* for people */
	double		 value;
	const char	*unit;
	double		 target;
	bool		 more_is_better;
	enum verdict	 verdict;
	char		*note;		/* why skipped or failed */
};

struct bench {
	struct conf	*conf;
	uint64_t	 size;
	double		 secs;
	struct result	*res;
	int		 nres;
	char		*rel;		/* the file's name on the tiers */
};

static volatile sig_atomic_t bench_stop;

static void
on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static struct result *
add_result(struct bench *b, const char *tier, const char *test,
    const char *unit, double target, bool more)
{
	struct result *r;

	b->res = xrealloc(b->res, sizeof(*r) * (size_t)(b->nres + 1));
	r = &b->res[b->nres++];
	memset(r, 0, sizeof(*r));
	r->tier = xstrdup(tier);
	r->test = test;
	r->unit = unit;
	r->target = target;
	r->more_is_better = more;
	r->verdict = V_SKIP;
	return r;
}

static void
judge(struct result *r, double value)
{
	r->value = value;
	r->verdict = (r->more_is_better ? value > r->target :
	    value < r->target) ? V_PASS : V_FAIL;
}

static void
fail_result(struct result *r, char *why)
{
	r->verdict = V_FAIL;
	free(r->note);
	r->note = why;
}

static void
skip_result(struct result *r, char *why)
{
	r->verdict = V_SKIP;
	free(r->note);
	r->note = why;
}

/* Incompressible bytes, so btrfs compression cannot flatter a figure. */
static void
fill_random(void *p, size_t n, uint64_t *seed)
{
	uint64_t *w = p, x = *seed;
	size_t i;

	for (i = 0; i < n / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
	*seed = x;
}

/* Write size random bytes to fd, then fsync; 0 or -errno. */
static int
write_random(int fd, uint64_t size, uint64_t *seed)
{
	const size_t chunk = 1 << 20;
	unsigned char *buf = xmalloc(chunk);
	uint64_t done = 0;
	size_t n;
	int r = 0;

	while (done < size && r == 0 && !bench_stop) {
		n = size - done < chunk ? (size_t)(size - done) : chunk;
		fill_random(buf, chunk, seed);
		r = jts_write_all(fd, buf, n);
		done += n;
	}
	free(buf);
	if (r == 0 && bench_stop)
		r = -EINTR;
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	return r;
}

/* Whether the tier has room for size bytes and the configured reserve. */
static char *
no_room(struct bench *b, const struct tier_conf *tc, uint64_t size)
{
	struct tier_space sp;
	char x[32], y[32];
	int r;

	if ((r = tier_space_conf(b->conf, (int)(tc - b->conf->tiers), &sp)) !=
	    0)
		return xasprintf("%s: %s", tc->root, strerror(-r));
	if (sp.avail < size + b->conf->reserve)
		return xasprintf("%s has %s free, needs %s and the reserve "
		    "(use --size)", tc->root, jts_fmt_bytes(sp.avail, x,
		    sizeof(x)), jts_fmt_bytes(size, y, sizeof(y)));
	return NULL;
}

/* An unnamed file in dir, removed by the kernel whatever happens. */
static int
tmpfile_in(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

/* A test file in the tier's root, or -1 with r skipped or failed. */
static int
bench_file(struct bench *b, const struct tier_conf *tc, struct result *r)
{
	char *why;
	int fd;

	if ((why = no_room(b, tc, b->size)) != NULL) {
		skip_result(r, why);
		return -1;
	}
	if ((fd = tmpfile_in(tc->root)) < 0) {
		fail_result(r, xasprintf("%s: cannot make a file: %s", tc->root,
		    strerror(-fd)));
		return -1;
	}
	return fd;
}

#define QD	32
#define BS	4096

static void
randread(struct bench *b, const struct tier_conf *tc)
{
	struct result *r = add_result(b, tc->name, "randread_iops", "IOPS",
	    b->conf->bench_iops, true);
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct iovec iov[QD];
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid(), blocks;
	uint64_t done = 0, x;
	int64_t t0, now, end;
	int fd, i, ret, inflight = 0;
	void *mem;

	r->what = xasprintf("4 KiB random reads (O_DIRECT, QD %d)", QD);
	if ((fd = bench_file(b, tc, r)) < 0)
		return;
	if ((ret = write_random(fd, b->size, &seed)) != 0) {
		fail_result(r, xasprintf("%s: cannot write the test file: %s",
		    tc->root, strerror(-ret)));
		close(fd);
		return;
	}
	if (fcntl(fd, F_SETFL, O_DIRECT) != 0) {
		fail_result(r, xasprintf("%s: O_DIRECT: %s", tc->root,
		    strerror(errno)));
		close(fd);
		return;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if ((ret = io_uring_queue_init(QD, &ring, 0)) != 0) {
		fail_result(r, xasprintf("io_uring: %s", strerror(-ret)));
		close(fd);
		return;
	}
	if (posix_memalign(&mem, BS, (size_t)QD * BS) != 0)
		abort();
	for (i = 0; i < QD; i++) {
		iov[i].iov_base = (char *)mem + (size_t)i * BS;
		iov[i].iov_len = BS;
	}
	(void)io_uring_register_buffers(&ring, iov, QD);
	blocks = b->size / BS;
	t0 = jts_mono_ns();
	end = t0 + (int64_t)(b->secs * 1e9);
	for (i = 0; i < QD; i++) {
		x = seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read_fixed(sqe, fd, iov[i].iov_base, BS,
		    (x % blocks) * BS, i);
		sqe->user_data = (uint64_t)i;
		inflight++;
	}
	io_uring_submit(&ring);
	now = t0;
	ret = 0;
	while (inflight > 0) {
		/*
		 * Requests queued but not yet submitted (batched below) are
		 * in flight for the count: submit them before a wait, or the
		 * drain at the end waits for answers never asked.
		 */
		if (io_uring_sq_ready(&ring) > 0 &&
		    io_uring_cq_ready(&ring) == 0)
			io_uring_submit(&ring);
		if ((ret = io_uring_wait_cqe(&ring, &cqe)) != 0) {
			if (ret == -EINTR && !bench_stop)
				continue;
			break;
		}
		i = (int)cqe->user_data;
		ret = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		inflight--;
		if (ret != BS) {
			ret = ret < 0 ? ret : -EIO;
			break;
		}
		ret = 0;
		done++;
		now = jts_mono_ns();
		if (now >= end || bench_stop)
			continue;	/* drain */
		x = seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read_fixed(sqe, fd, iov[i].iov_base, BS,
		    (x % blocks) * BS, i);
		sqe->user_data = (uint64_t)i;
		inflight++;
		if (io_uring_sq_ready(&ring) >= 8 || inflight < QD / 2)
			io_uring_submit(&ring);
		else if (io_uring_cq_ready(&ring) == 0)
			io_uring_submit(&ring);
	}
	io_uring_queue_exit(&ring);
	free(mem);
	close(fd);
	if (ret != 0)
		fail_result(r, xasprintf("%s: read: %s", tc->root,
		    strerror(-ret)));
	else if (bench_stop)
		skip_result(r, xstrdup("interrupted"));
	else
		judge(r, (double)done / ((double)(now - t0) / 1e9));
}

static void
seqwrite(struct bench *b, const struct tier_conf *tc)
{
	struct result *r = add_result(b, tc->name, "seqwrite_mbps", "MB/s",
	    b->conf->bench_write_mbps, true);
	uint64_t seed = 0x2545f4914f6cdd1dULL ^ (uint64_t)getpid();
	int64_t t0;
	int fd, ret;

	r->what = xstrdup("sequential writes of 1 MiB, then fsync");
	if ((fd = bench_file(b, tc, r)) < 0)
		return;
	t0 = jts_mono_ns();
	ret = write_random(fd, b->size, &seed);
	if (ret == 0)
		judge(r, (double)b->size / 1e6 / ((double)(jts_mono_ns() - t0) /
		    1e9));
	else
		fail_result(r, xasprintf("%s: write: %s", tc->root,
		    strerror(-ret)));
	close(fd);
}

/*
 * A tier no local path reaches (a NAS): write the file through its
 * backend, durably, and read it back afresh, compared.
 */
static void
remote_rw(struct bench *b, struct conf *c, int idx)
{
	const struct tier_conf *tc = &c->tiers[idx];
	uint64_t seed = 0x853c49e6748fea9bULL ^ (uint64_t)getpid();
	struct result *w, *rd;
	struct tier_space sp;
	struct tier t;
	int64_t wns = 0, rns = 0;
	char why[1024] = "";
	const char *u, *where = tc->url ? tc->url : tc->endpoint ?
	    tc->endpoint : tc->name;
	int fd, ret;

	(void)add_result(b, tc->name, tc->kind == TIER_S3 ? "s3_write_mbps" :
	    "nfs_write_mbps", "MB/s", b->conf->bench_nfs_mbps, true);
	(void)add_result(b, tc->name, tc->kind == TIER_S3 ? "s3_read_mbps" :
	    "nfs_read_mbps", "MB/s", b->conf->bench_nfs_mbps, true);
	w = &b->res[b->nres - 2];	/* both made: the array stays put */
	rd = &b->res[b->nres - 1];
	w->what = xstrdup(tier_ops_of(tc->kind)->probe_write);
	rd->what = xstrdup(tier_ops_of(tc->kind)->probe_read);
	tier_init(&t, c, idx);
	if ((u = tier_unreachable(&t)) != NULL) {
		fail_result(w, xstrdup(u));
		fail_result(rd, xstrdup("no connection"));
		goto out;
	}
	if (tier_space(&t, &sp) == 0 && sp.avail < b->size +
	    b->conf->reserve) {
		skip_result(w, xasprintf("%s: not enough free space (use "
		    "--size)", where));
		skip_result(rd, xstrdup("nothing written"));
		goto out;
	}
	if ((fd = memfd_create("jts-tier-bench", MFD_CLOEXEC)) < 0 ||
	    (ret = write_random(fd, b->size, &seed)) != 0) {
		fail_result(w, xasprintf("cannot make the data in memory: %s",
		    strerror(errno)));
		skip_result(rd, xstrdup("nothing written"));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	ret = t.ops->probe(&t, fd, b->size, b->rel, &wns, &rns, why,
	    sizeof(why));
	close(fd);
	if (ret != 0 && rns == 0) {
		fail_result(w, xasprintf("%s: %s", where, why));
		skip_result(rd, xstrdup("nothing written"));
		goto out;
	}
	judge(w, (double)b->size / 1e6 / ((double)wns / 1e9));
	if (ret != 0)
		fail_result(rd, xasprintf("%s: %s", where, why));
	else
		judge(rd, (double)b->size / 1e6 / ((double)rns / 1e9));
out:
	tier_fini(&t);
}

/* Remove the benchmark file everywhere it may be, and its catalog row. */
static void
migrate_cleanup(struct bench *b, struct engine *e, const int *ti, int n)
{
	int i, t;

	for (i = 0; i < n; i++) {
		t = ti[i];
		if (e->tiers[t].ops->drop != NULL)
			(void)e->tiers[t].ops->drop(&e->tiers[t], b->rel);
	}
	(void)catalog_file_delete(&e->cat, b->rel);
}

/* One move of the benchmark file, timed; 0 or -1 with r failed. */
static int
migrate_one(struct engine *e, const char *path, enum move_op op, int to,
    struct result *r)
{
	struct move_plan plan;
	struct move_opts mo;
	struct move_stats st;
	int64_t t0;
	int ret;

	memset(&plan, 0, sizeof(plan));
	memset(&mo, 0, sizeof(mo));
	memset(&st, 0, sizeof(st));
	mo.leave = LEAVE_SYMLINK;
	mo.quiet = true;
	t0 = jts_mono_ns();
	move_plan_path(e, &plan, path, op, to);
	if (plan.n != 1 || plan.errors) {
		move_plan_free(&plan);
		fail_result(r, xasprintf("%s: could not be planned", path));
		return -1;
	}
	ret = move_run(e, &plan, &mo, &st);
	if (ret != 0 || st.done != 1) {
		fail_result(r, xasprintf("%s: %s", path, plan.items[0].why ?
		    plan.items[0].why : "not moved"));
		move_plan_free(&plan);
		return -1;
	}
	move_plan_free(&plan);
	judge(r, (double)(jts_mono_ns() - t0) / 1e9);
	return 0;
}

static void
migrations(struct bench *b, const int *ti, int n)
{
	struct engine e;
	struct result *r;
	char err[1024], *path, *why;
	uint64_t seed = 0x1d8e4e27c47d124fULL ^ (uint64_t)getpid();
	int i, fd, ret;

	if (n < 2 || !(tier_ops_of(b->conf->tiers[ti[0]].kind)->caps &
	    TIER_CAP_LOCAL))
		return;
	if (engine_open(&e, b->conf, err, sizeof(err)) != 0) {
		r = add_result(b, b->conf->tiers[ti[0]].name,
		    "migrate_seconds", "s", b->conf->bench_migrate_s, false);
		r->what = xstrdup("migrate");
		skip_result(r, xasprintf("%s", err));
		return;
	}
	if (move_recover(&e, false) < 0)
		jts_warn("catalog %s: cannot read the journal",
		    b->conf->catalog);
	if ((why = no_room(b, &b->conf->tiers[ti[0]], b->size)) != NULL) {
		r = add_result(b, b->conf->tiers[ti[0]].name,
		    "migrate_seconds", "s", b->conf->bench_migrate_s, false);
		r->what = xstrdup("migrate");
		skip_result(r, why);
		engine_close(&e);
		return;
	}
	fd = openat(e.tiers[ti[0]].rootfd, b->rel, O_WRONLY | O_CREAT |
	    O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	ret = fd < 0 ? -errno : write_random(fd, b->size, &seed);
	if (fd >= 0)
		close(fd);
	if (ret != 0) {
		r = add_result(b, b->conf->tiers[ti[0]].name,
		    "migrate_seconds", "s", b->conf->bench_migrate_s, false);
		r->what = xstrdup("migrate");
		fail_result(r, xasprintf("%s/%s: %s", b->conf->tiers[ti[0]].root,
		    b->rel, strerror(-ret)));
		migrate_cleanup(b, &e, ti, n);
		engine_close(&e);
		return;
	}
	/* Down the tiers, one hop at a time, then back home in one. */
	for (i = 0; i + 1 < n && !bench_stop; i++) {
		r = add_result(b, b->conf->tiers[ti[i]].name, "migrate_seconds",
		    "s", b->conf->bench_migrate_s, false);
		r->what = xasprintf("migrate to %s", b->conf->tiers[ti[i +
		    1]].name);
		path = jts_path_join(b->conf->tiers[ti[i]].root, b->rel);
		ret = migrate_one(&e, path, OP_MIGRATE, ti[i + 1], r);
		free(path);
		if (ret != 0)
			break;
	}
	if (i + 1 == n && !bench_stop) {
		r = add_result(b, b->conf->tiers[ti[n - 1]].name,
		    "recall_seconds", "s", b->conf->bench_migrate_s, false);
		r->what = xasprintf("recall to %s", b->conf->tiers[ti[0]].name);
		path = jts_path_join(b->conf->tiers[ti[0]].root, b->rel);
		(void)migrate_one(&e, path, OP_RECALL, ti[0], r);
		free(path);
	}
	migrate_cleanup(b, &e, ti, n);
	engine_close(&e);
}

static void
print_results(struct bench *b, bool json)
{
	json_object *root, *arr, *o;
	const char *v[] = { "PASS", "FAIL", "SKIP" };
	char val[32], tgt[48];
	bool pass = true;
	int i;

	for (i = 0; i < b->nres; i++)
		pass = pass && b->res[i].verdict != V_FAIL;
	if (json) {
		root = json_object_new_object();
		arr = json_object_new_array();
		for (i = 0; i < b->nres; i++) {
			struct result *r = &b->res[i];
			o = json_object_new_object();
			json_object_object_add(o, "tier",
			    json_object_new_string(r->tier));
			json_object_object_add(o, "test",
			    json_object_new_string(r->test));
			json_object_object_add(o, "what",
			    json_object_new_string(r->what));
			json_object_object_add(o, "value", r->verdict == V_SKIP ||
			    r->note ? NULL : json_object_new_double(r->value));
			json_object_object_add(o, "unit",
			    json_object_new_string(r->unit));
			json_object_object_add(o, "target",
			    json_object_new_double(r->target));
			json_object_object_add(o, "better", json_object_new_string(
			    r->more_is_better ? "higher" : "lower"));
			json_object_object_add(o, "result",
			    json_object_new_string(v[r->verdict]));
			if (r->note != NULL)
				json_object_object_add(o, "note",
				    json_object_new_string(r->note));
			json_object_array_add(arr, o);
		}
		json_object_object_add(root, "size",
		    json_object_new_int64((int64_t)b->size));
		json_object_object_add(root, "results", arr);
		json_object_object_add(root, "pass",
		    json_object_new_boolean(pass));
		printf("%s\n", json_object_to_json_string_ext(root,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
		return;
	}
	printf("%-8s %-40s %14s %16s  %s\n", "tier", "measure", "result",
	    "target", "");
	for (i = 0; i < b->nres; i++) {
		struct result *r = &b->res[i];
		if (r->verdict == V_SKIP || r->note != NULL)
			snprintf(val, sizeof(val), "-");
		else if (strcmp(r->unit, "s") == 0)
			snprintf(val, sizeof(val), "%.2f %s", r->value, r->unit);
		else
			snprintf(val, sizeof(val), "%.0f %s", r->value, r->unit);
		snprintf(tgt, sizeof(tgt), "%s %g %s", r->more_is_better ?
		    ">" : "<", r->target, r->unit);
		printf("%-8s %-40s %14s %16s  %s\n", r->tier, r->what, val, tgt,
		    v[r->verdict]);
		if (r->note != NULL)
			printf("%-8s %s\n", "", r->note);
	}
}

static int
cmd_bench_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size",	required_argument,	NULL, 's' },
		{ "time",	required_argument,	NULL, 't' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "config",	required_argument,	NULL, 'c' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct sigaction sa;
	struct bench b;
	bool json = false;
	int ch, i, j, ti[JTS_MAX_TIERS], n = 0, r = EXIT_OK;
	char *end;

	memset(&b, 0, sizeof(b));
	b.size = 1ULL << 30;
	b.secs = 10;
	while ((ch = getopt_long(argc, argv, "s:t:jc:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (jts_parse_size(optarg, &b.size) != 0 ||
			    b.size < (1 << 20) || b.size > (1ULL << 40)) {
				jts_err("--size %s: a size from 1M to 1T",
				    optarg);
				return EXIT_USAGE;
			}
			b.size &= ~((uint64_t)(1 << 20) - 1);
			break;
		case 't':
			b.secs = strtod(optarg, &end);
			if (*end != '\0' || !(b.secs >= 1) || b.secs > 3600) {
				jts_err("--time %s: seconds from 1 to 3600",
				    optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'c':
			ctx->conf_path = optarg;
			break;
		case 'h':
			return cmd_help(&cmd_bench_entry, bench_options);
		default:
			return cmd_usage(&cmd_bench_entry);
		}
	}
	if (cmd_load_conf(ctx) != 0)
		return EXIT_USAGE;
	b.conf = &ctx->conf;
	/* The tiers asked for, in the configuration's order. */
	for (i = 0; i < ctx->conf.ntiers; i++) {
		bool want = optind == argc;
		for (j = optind; j < argc; j++)
			want = want || strcmp(argv[j], ctx->conf.tiers[i].name) ==
			    0;
		if (want)
			ti[n++] = i;
	}
	for (j = optind; j < argc; j++)
		if (conf_tier_index(&ctx->conf, argv[j]) < 0) {
			char tl[256];

			jts_err("%s: no such tier in %s (tiers: %s)",
			    jts_quote(argv[j]), ctx->conf.path,
			    conf_tier_list(&ctx->conf, false, tl, sizeof(tl)));
			return EXIT_USAGE;
		}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	b.rel = xasprintf(JTS_TMP_PREFIX "bench.%d", (int)getpid());
	for (i = 0; i < n && !bench_stop; i++) {
		const struct tier_conf *tc = &ctx->conf.tiers[ti[i]];

		if (tier_ops_of(tc->kind)->probe != NULL)
			remote_rw(&b, &ctx->conf, ti[i]);
		else if (ti[i] == 0)
			randread(&b, tc);
		else
			seqwrite(&b, tc);
	}
	if (!bench_stop)
		migrations(&b, ti, n);
	print_results(&b, json);
	for (i = 0; i < b.nres; i++) {
		if (b.res[i].verdict == V_FAIL)
			r = EXIT_FAILED;
		free(b.res[i].tier);
		free(b.res[i].what);
		free(b.res[i].note);
	}
	free(b.res);
	free(b.rel);
	if (bench_stop) {
		jts_err("interrupted: the benchmark's files were removed");
		return 128 + SIGINT;
	}
	return r;
}

const struct cmd_entry cmd_bench_entry = {
	.name = "bench",
	.usage = "[-j] [-s size] [-t seconds] [tier ...]",
	.summary = "Measure the tiers against their targets: random-read IOPS "
	    "of the first tier,\nsequential writes of the other local ones, "
	    "network throughput of nfs and s3\ntiers, and the time to migrate a file "
	    "between each pair; PASS or FAIL per line.\nIts files are "
	    "temporary and always removed.",
	.exec = cmd_bench_exec,
};
