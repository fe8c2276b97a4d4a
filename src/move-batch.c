/* move-batch.c - batches: a plan cut into batches, two at a time between
 * local tiers (the second in a worker thread), progress and reports */
#include "config.h"

#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "move-int.h"
#include "util.h"

static void
progress_draw(struct progress *pg, bool final)
{
	char a[32], b[32], c[32];
	int64_t now = jts_mono_ns(), el;
	double rate, eta;

	if (!pg->on || (!final && now - pg->last < 200000000))
		return;
	pg->last = now;
	el = now - pg->start;
	rate = el > 0 ? (double)pg->done / ((double)el / 1e9) : 0;
	eta = rate > 0 ? (double)(pg->total - pg->done) / rate : 0;
	fprintf(stderr, "\r%10s / %-10s %10s/s  ETA %2d:%02d  files %d/%d ",
	    jts_fmt_bytes(pg->done, a, sizeof(a)),
	    jts_fmt_bytes(pg->total, b, sizeof(b)),
	    jts_fmt_bytes((uint64_t)rate, c, sizeof(c)),
	    (int)(eta / 60), (int)eta % 60, pg->files, pg->nfiles);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

void
progress_bytes(void *arg, uint64_t n)
{
	struct progress *pg = arg;

	pg->done += n;
	progress_draw(pg, false);
	if (pg->tick != NULL)
		pg->tick();
}

static void
report_item(struct engine *e, struct move_item *it,
    const struct move_opts *o)
{
	char *where = it->src >= 0 ? engine_data_path(e, it->src, it->rel) :
	    xstrdup(it->rel);

	if (o->report != NULL) {
		o->report(e, it, where, o->report_arg);
		free(where);
		return;
	}
	switch (it->state) {
	case IT_DONE:
		if (!o->quiet && jts_verbose > 0)
			printf("moved %s: %s -> %s\n", jts_quote(where),
			    tier_name(e, it->src), tier_name(e, it->dst));
		break;
	case IT_SKIPPED:
		if (jts_verbose > 0 || !o->quiet)
			fprintf(stderr, "%s: skipped %s: %s\n", jts_progname,
			    jts_quote(where), it->why ? it->why : "?");
		break;
	case IT_FAILED:
		jts_err("%s: %s", jts_quote(where), it->why ? it->why : "?");
		break;
	case IT_CONFLICT:
		jts_err("%s: conflict: %s", jts_quote(where),
		    it->why ? it->why : "?");
		break;
	case IT_PENDING:
		break;
	}
	free(where);
}

/*
 * Two batches between local tiers move at once, one in a worker thread
 * with its own engine: the per-file system calls of one overlap the
 * waits (sync, read-back) of the other.  Each batch keeps the whole
 * protocol; only their order relative to each other is free.
 */
static bool
batch_beside_ok(struct engine *e, struct move_item **v, int n)
{
	return n > 1 && tier_has(&e->tiers[v[0]->src], TIER_CAP_WORKERS) &&
	    tier_has(&e->tiers[v[0]->dst], TIER_CAP_WORKERS);
}

/* The worker's engine, opened on first use; false if it cannot be. */
static bool
worker_ready(struct move_runstate *rs, struct engine *e)
{
	char err[1024];

	if (rs->worker_state == 0) {
		rs->worker_state = engine_open_worker(&rs->worker, e, err,
		    sizeof(err)) == 0 ? 1 : -1;
		if (rs->worker_state < 0)
			jts_debug("one batch at a time: %s", err);
	}
	return rs->worker_state == 1;
}

/* Lease breaks and stop requests are taken by the main thread: this
 * one starts with every signal blocked (jts_thread_start). */
static void *
batch_thread(void *arg)
{
	run_batch(arg);
	return NULL;
}

/* Wait for the batch beside, the caller's tick called meanwhile. */
static void
join_ticking(pthread_t th, const struct move_opts *o)
{
	struct timespec ts;

	if (o->tick == NULL) {
		pthread_join(th, NULL);
		return;
	}
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_timedjoin_np(th, NULL, &ts) != ETIMEDOUT)
			return;
		o->tick();
	}
}

/*
 * The next batch of p from *at: same tiers, bounded, a set of hard links
 * never cut (a set alone may pass max); returns its size.
 */
static int
batch_form(struct move_plan *p, int *at, struct move_item **v, int max,
    uint64_t *bytesp)
{
	uint64_t bytes = 0;
	int j, k, m, n = 0;

	for (j = *at; j < p->n && n < max; j += m) {
		struct move_item *it = &p->items[j];

		m = it->links > 1 && it->set_pos == 0 && j + it->links <= p->n ?
		    it->links : 1;
		if (!pending(it))
			continue;
		if (n > 0 && (it->dst != v[0]->dst || it->src != v[0]->src ||
		    bytes + it->psize > BATCH_BYTES || n + m > max))
			break;
		for (k = 0; k < m; k++)
			if (pending(&p->items[j + k]))
				v[n++] = &p->items[j + k];
		bytes += it->psize;
	}
	*at = j;
	*bytesp = bytes;
	return n;
}

void
move_begin(struct engine *e, const struct move_opts *o, struct move_stats *st)
{
	struct move_runstate *rs = xcalloc(1, sizeof(*rs));
	struct sigaction sa;
	struct rlimit rl;

	(void)e;
	st->run = rs;
	rs->t0 = jts_mono_ns();
	rs->max_batch = BATCH_FILES;
	/* Test knob: small batches, so that small trees move in several. */
	if (jts_test_knob("JTS_TIER_BATCH_FILES") != NULL &&
	    atoi(jts_test_knob("JTS_TIER_BATCH_FILES")) > 0)
		rs->max_batch = atoi(jts_test_knob("JTS_TIER_BATCH_FILES"));
	lease_setup();
	stop_requested = 0;
	stop_signalled = 0;
	run_active = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &rs->old_int);
	sigaction(SIGTERM, &sa, &rs->old_term);
	/*
	 * A batch holds one descriptor per source (its lease), and two
	 * batches may move at once: allow it.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < 2 * (rlim_t)BATCH_FILES + 512)
			rs->max_batch = rl.rlim_cur > 1024 ?
			    (int)(rl.rlim_cur - 512) / 2 : 256;
	}
	rs->pg.on = o->progress;
	rs->pg.tick = o->tick;
	rs->pg.start = rs->pg.last = rs->t0;
}

int
move_chunk(struct engine *e, struct move_plan *p, const struct move_opts *o,
    struct move_stats *st)
{
	struct move_runstate *rs = st->run;
	struct move_item **v, **v2;
	struct batch b, b2;
	struct progress pg2;
	pthread_t th;
	uint64_t bytes, bytes2;
	int64_t t0;
	int i, j, n, n2, at, failed = 0;
	bool threaded;

	rs->pg.total += p->bytes;
	v = xcalloc((size_t)(p->n ? p->n : 1), sizeof(*v));
	v2 = xcalloc((size_t)(p->n ? p->n : 1), sizeof(*v2));
	for (i = 0; i < p->n; i++)
		if (pending(&p->items[i]))
			rs->pg.nfiles++;
	memset(&b, 0, sizeof(b));
	b.e = e;
	b.o = o;
	b.pg = &rs->pg;
	b.it = v;
	for (i = 0; i < p->n;) {
		/*
		 * A batch: same source and destination, bounded size; the
		 * last two share what is left, so that neither waits long
		 * for the other.
		 */
		for (j = i, n = 0; j < p->n && n <= 2 * rs->max_batch; j++)
			n += pending(&p->items[j]);
		n = n > rs->max_batch && n <= 2 * rs->max_batch ?
		    (n + 1) / 2 : rs->max_batch;
		n = batch_form(p, &i, v, n, &bytes);
		if (n == 0)
			continue;
		if (stop_requested) {
			for (j = 0; j < n; j++)
				item_fail(v[j], IT_SKIPPED, "interrupted; not "
				    "started");
			continue;
		}
		/* And one beside it, when both are between local tiers. */
		n2 = 0;
		bytes2 = 0;
		if (i < p->n && batch_beside_ok(e, v, n)) {
			at = i;
			n2 = batch_form(p, &at, v2, rs->max_batch, &bytes2);
			if (batch_beside_ok(e, v2, n2) && worker_ready(rs, e))
				i = at;
			else
				n2 = 0;
		}
		b.n = n;
		b.avail_known = false;
		b.beside = bytes2;
		threaded = false;
		if (n2 > 0) {
			memset(&pg2, 0, sizeof(pg2));
			memset(&b2, 0, sizeof(b2));
			b2.e = &rs->worker;
			b2.o = o;
			b2.it = v2;
			b2.n = n2;
			b2.pg = &pg2;
			b2.beside = bytes;
			threaded = jts_thread_start(&th, batch_thread,
			    &b2) == 0;
			if (!threaded)
				b.beside = 0;	/* b2 runs after b */
		}
		t0 = jts_mono_ns();
		run_batch(&b);
		if (threaded)
			join_ticking(th, o);
		else if (n2 > 0)
			run_batch(&b2);	/* no thread: after the first */
		t0 = jts_mono_ns() - t0;
		if (n2 > 0) {
			rs->pg.done += pg2.done;
			rs->pg.files += pg2.files;
		}
		for (j = 0; j < n + n2; j++) {
			struct move_item *it = j < n ? v[j] : v2[j - n];

			it->ns = t0;
			/* A set's other names copied nothing. */
			if (it->state == IT_DONE && it->set_pos == 0)
				st->bytes += (uint64_t)it->pre.st_size;
		}
	}
	if (rs->pg.on)
		fputs("\r\033[K", stderr);	/* reports go above the bar */
	for (i = 0; i < p->n; i++) {
		struct move_item *it = &p->items[i];

		report_item(e, it, o);
		switch (it->state) {
		case IT_DONE:
			st->done++;
			break;
		case IT_SKIPPED:
			st->skipped++;
			break;
		case IT_CONFLICT:
			st->conflicts++;
			failed++;
			break;
		default:
			st->failed++;
			failed++;
			break;
		}
	}
	free(v);
	free(v2);
	engine_dir_forget(e);
	engine_dir_forget(&rs->worker);
	move_plan_clear(p);
	return failed ? -1 : 0;
}

int
move_end(struct engine *e, struct move_stats *st)
{
	struct move_runstate *rs = st->run;

	(void)e;
	if (rs == NULL)
		return -1;
	progress_draw(&rs->pg, true);
	if (rs->worker_state == 1)
		engine_close_worker(&rs->worker);
	sigaction(SIGINT, &rs->old_int, NULL);
	sigaction(SIGTERM, &rs->old_term, NULL);
	st->interrupted = stop_signalled != 0;
	run_active = 0;
	st->elapsed_ns = jts_mono_ns() - rs->t0;
	free(rs);
	st->run = NULL;
	return st->failed || st->conflicts ? -1 : 0;
}

int
move_run(struct engine *e, struct move_plan *p, const struct move_opts *o,
    struct move_stats *st)
{
	move_begin(e, o, st);
	(void)move_chunk(e, p, o, st);
	return move_end(e, st);
}
