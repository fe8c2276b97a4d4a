/* jts-tierd.c - the daemon: tracks files and ages them down by policy
 *
 * One libev loop, one thread.  Its sources: the control socket and its
 * connections, signals, timers (policy schedules, fill checks, rescans,
 * the systemd watchdog), fanotify, and libnfs' socket for the cold tier.
 * Work (scans, policy runs, requests) is queued as jobs and done in
 * bounded steps by an idle watcher, so between steps the loop answers the
 * socket and signals.  Callbacks that may run while a step waits on the
 * NAS (libnfs runs the same loop) only queue work or read state.
 * The control socket, its clients and the request handlers are in
 * daemon-conn.c; what the two share is in daemon.h.
 */
#include "config.h"

#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "ctl.h"
#include "engine.h"
#include "move.h"
#include "policy.h"
#include "scan.h"
#include "stub.h"
#include "stubd.h"
#include "track.h"
#include "daemon.h"
#include "util.h"

struct daemon D;

/* ---- logging ---------------------------------------------------------- */

static void
log_hook(int prio, const char *msg)
{
	if (D.use_syslog) {
		syslog(prio, "%s", msg);
		/* Until it runs, whoever started it reads why it did not. */
		if (!D.ready && prio <= LOG_WARNING)
			fprintf(stderr, "%s: %s\n", JTS_PROG_D, msg);
	} else if (D.under_systemd)
		fprintf(stderr, "<%d>%s\n", prio, msg);
	else
		fprintf(stderr, "%s: %s\n", JTS_PROG_D, msg);
	if (D.echo != NULL && !D.echo->dead && prio <= LOG_WARNING)
		send_progress(D.echo, "error", msg);
}

/* A pace for the moves, one for the recalls from each tier. */
_Static_assert(JTS_PACE_K_RECALL(JTS_MAX_TIERS - 1) < JTS_PACES,
    "a pace per tier");

/* ---- jobs ------------------------------------------------------------- */

void
queue(struct job *j)
{
	j->id = ++D.job_seq;
	j->queued_ns = jts_now_ns();
	if (j->conn != NULL)
		j->pid = j->conn->pid;
	j->next = NULL;
	if (D.qtail)
		D.qtail->next = j;
	else
		D.q = j;
	D.qtail = j;
	/* A step in progress restarts the watcher when it ends. */
	if (!D.stopping && !D.busy)
		ev_idle_start(D.loop, &D.work);
}

bool
policy_queued(const char *name)
{
	struct job *j;

	for (j = D.q; j; j = j->next)
		if (j->kind == JOB_POLICY && strcmp(j->policy, name) == 0)
			return true;
	return false;
}

static bool
scan_queued(void)
{
	struct job *j;

	for (j = D.q; j; j = j->next)
		if (j->kind == JOB_SCAN)
			return true;
	return false;
}

static void job_free(struct job *j);

static const char *
job_what(const struct job *j)
{
	switch (j->kind) {
	case JOB_SCAN:
		return "scan";
	case JOB_POLICY:
		return "policy";
	case JOB_REQUEST:
		return j->rq.name;
	case JOB_PIN:
		return j->rq.name;
	case JOB_RECOVER:
		return "recover";
	}
	return "?";
}

struct job *
job_find(uint64_t id)
{
	struct job *j;

	for (j = D.q; j != NULL; j = j->next)
		if (j->id == id)
			return j;
	return NULL;
}

json_object *
jobs_json(void)
{
	json_object *a = json_object_new_array();
	struct job *j;

	for (j = D.q; j != NULL; j = j->next) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_int64(
		    (int64_t)j->id));
		json_object_object_add(o, "what",
		    json_object_new_string(job_what(j)));
		if (j->kind == JOB_POLICY) {
			json_object_object_add(o, "policy",
			    json_object_new_string(j->policy));
			json_object_object_add(o, "reason",
			    json_object_new_string(policy_reason_name(
			    j->reason)));
		}
		json_object_object_add(o, "state", json_object_new_string(
		    j == D.cur || (j == D.q && j->selected) ? "running" :
		    "queued"));
		json_object_object_add(o, "pid", json_object_new_int(
		    (int)j->pid));
		json_object_object_add(o, "age_s", json_object_new_double(
		    (double)(jts_now_ns() - j->queued_ns) / 1e9));
		json_object_object_add(o, "cancellable",
		    json_object_new_boolean(j->kind == JOB_REQUEST ||
		    j->kind == JOB_POLICY));
		json_object_array_add(a, o);
	}
	return a;
}

bool
job_cancel(struct job *j, const char *why)
{
	struct job **pp, *prev;

	if (j->kind != JOB_REQUEST && j->kind != JOB_POLICY)
		return false;
	if (j->cancelled != NULL)
		return true;
	j->cancelled = xstrdup(why);
	jts_notice("job %" PRIu64 " (%s%s%s) cancelled: %s", j->id,
	    job_what(j), j->policy ? " " : "", j->policy ? j->policy : "",
	    why);
	if (j == D.cur) {
		move_cancel();		/* the step ends it */
		return true;
	}
	if (j == D.q && j->selected) {
		/* A policy run between its steps: its next step ends it. */
		j->resume_at = 0;
		ev_timer_stop(D.loop, &D.wake);
		if (!D.busy && !D.stopping)
			ev_idle_start(D.loop, &D.work);
		return true;
	}
	for (prev = NULL, pp = &D.q; *pp != NULL; prev = *pp,
	    pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			if (D.qtail == j)
				D.qtail = prev;
			break;
		}
	{
		char *e = xasprintf("cancelled before it started: %s", why);

		send_result(j->conn, EXIT_FAILED_D, NULL, e);
		free(e);
	}
	/*
	 * Its client is not closed here even if that write failed (the
	 * clients may be being served, in a loop over them): the sweep
	 * closes a dead one.
	 */
	if (j->conn != NULL) {
		j->conn->job = NULL;
		j->conn = NULL;
	}
	job_free(j);
	return true;
}

static void
job_free(struct job *j)
{
	if (j->conn) {
		j->conn->job = NULL;
		/* Its client went away during the job: nothing more to say. */
		if (j->conn->dead)
			conn_close(j->conn);
	}
	policy_sel_free(&j->sel);
	free(j->policy);
	free(j->cancelled);
	if (j->req)
		json_object_put(j->req);
	free(j);
}

void
queue_policy(const char *name, enum policy_reason reason, struct conn *c)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->kind = JOB_POLICY;
	j->policy = xstrdup(name);
	j->reason = reason;
	j->conn = c;
	if (c)
		c->job = j;
	queue(j);
}

void
queue_recover(struct conn *c)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->kind = JOB_RECOVER;
	j->conn = c;
	c->job = j;
	queue(j);
}

void
queue_scan(struct conn *c)
{
	struct job *j;

	if (c == NULL && scan_queued())
		return;
	j = xcalloc(1, sizeof(*j));
	j->kind = JOB_SCAN;
	j->conn = c;
	if (c)
		c->job = j;
	queue(j);
}

/* ---- steps ------------------------------------------------------------ */

/* Finish or undo what the journal has open; settled conflicts closed. */
static int	stubs_ensure(void);

static void
step_recover(struct job *j)
{
	char *text;
	int left;

	(void)engine_tiers_reset(&D.e);
	D.echo = j->conn;
	left = move_recover(&D.e, true);
	left = catalog_journal_unsettled(&D.e.cat) +
	    catalog_journal_conflicts(&D.e.cat);
	D.echo = NULL;
	if (left < 0) {
		text = xasprintf("catalog %s: cannot read the journal",
		    D.conf.catalog);
		send_result(j->conn, EXIT_FAILED_D, NULL, text);
	} else if (left > 0) {
		text = xasprintf("recover: %d move(s) still need attention: "
		    "see 'jts-tierctl check'\n", left);
		send_result(j->conn, EXIT_FAILED_D, text, NULL);
	} else {
		text = xstrdup("recover: nothing left unfinished\n");
		send_result(j->conn, 0, text, NULL);
	}
	free(text);
}

/* Scan every local tier; each tier's figures logged (and sent back). */
static void
step_scan(struct job *j)
{
	struct scan_stats st;
	char err[1024], *line;
	int t, failed = 0;

	D.echo = j->conn;
	for (t = 0; t < D.e.ntiers; t++) {
		if (D.e.tiers[t].rootfd < 0)
			continue;
		if (scan_tier(&D.e, t, &st, err, sizeof(err)) != 0) {
			jts_err("scan of tier %s failed: %s",
			    D.conf.tiers[t].name, err);
			failed++;
			continue;
		}
		line = scan_line(D.conf.tiers[t].name, &st);
		jts_notice("%s", line);
		if (j->conn != NULL)
			send_progress(j->conn, "text", line);
		free(line);
	}
	D.echo = NULL;
	/* Conflicts that need no person settle at each scan. */
	if (catalog_journal_conflicts(&D.e.cat) > 0 &&
	    (t = move_recover(&D.e, true)) > 0)
		jts_warn("%d move(s) in conflict need attention: 'jts-tierctl "
		    "check' says what each needs", t);
	send_result(j->conn, failed ? EXIT_FAILED_D : 0, NULL, NULL);
}

/*
 * Between two files of a step: the clients get a turn (a cancel, a
 * status, a client gone), at most every 20 ms.
 */
static void
serve_between(void)
{
	static int64_t last;
	int64_t now = jts_mono_ns();

	if (now - last < 20000000)
		return;
	last = now;
	serve_clients_now();
}

/* One line per move, in the log; the requester sees the same. */
static void
report_move(struct engine *e, const struct move_item *it, const char *where,
    void *arg)
{
	struct job *j = arg;
	/* A policy leaves files in use for its next run: not a failure. */
	bool skip = it->state == IT_SKIPPED || (it->state == IT_FAILED &&
	    it->in_use && j->kind == JOB_POLICY);
	const char *res = it->state == IT_DONE ? "ok" : skip ? "skipped" :
	    it->state == IT_CONFLICT ? "conflict" : "failed";
	char *line;

	line = xasprintf("move path=%s from=%s to=%s bytes=%jd time=%.3fs "
	    "result=%s%s%s", jts_quote_field(where),
	    it->src >= 0 ? e->conf->tiers[it->src].name : "-",
	    it->dst >= 0 ? e->conf->tiers[it->dst].name : "-",
	    (intmax_t)(it->state == IT_DONE ? it->pre.st_size :
	    (off_t)it->psize), (double)it->ns / 1e9, res,
	    it->why ? " reason=" : "", it->why ? jts_quote_field(it->why) :
	    "");
	if (it->state == IT_DONE) {
		D.moves_done++;
		D.bytes_moved += (uint64_t)it->pre.st_size;
		j->moved++;
		j->bytes += (uint64_t)it->pre.st_size;
	} else if (skip)
		j->skipped++;
	else {
		D.moves_failed++;
		j->failed++;
	}
	/* Warnings reach the requester through the log hook (D.echo). */
	if (it->state == IT_DONE || skip) {
		jts_notice("%s", line);
		/* --quiet: the result says how many; failures still show. */
		if (j->conn != NULL && !j->rq.quiet)
			send_progress(j->conn, "text", line);
	} else
		jts_warn("%s", line);
	free(line);
	serve_between();
}

static void
run_moves(struct job *j, struct move_plan *plan, enum leave_mode leave,
    bool forced)
{
	struct move_opts mo;
	struct move_stats st;

	memset(&mo, 0, sizeof(mo));
	memset(&st, 0, sizeof(st));
	mo.leave = leave;
	mo.leave_forced = forced;
	mo.quiet = true;
	mo.paced = true;
	mo.report = report_move;
	mo.report_arg = j;
	mo.tick = serve_between;
	D.echo = j->conn;
	move_begin(&D.e, &mo, &st);
	(void)move_chunk(&D.e, plan, &mo, &st);
	(void)move_end(&D.e, &st);
	D.echo = NULL;
	if (st.interrupted && !D.stopping) {
		jts_notice("stop requested: finishing");
		D.stopping = true;
	}
}

static void
policy_run_row(struct job *j, bool end)
{
	if (!end)
		j->run_id = catalog_run_start(&D.e.cat, j->policy,
		    policy_reason_name(j->reason), jts_now_ns());
	else
		/*
		 * A run cut short by a stop keeps no end: the next start sees
		 * it unfinished and runs the policy again.
		 */
		catalog_run_end(&D.e.cat, j->run_id, j->at == j->sel.n &&
		    !D.stopping ? jts_now_ns() : 0, j->moved, j->bytes,
		    j->failed);
}

static void
fill_levels(struct tier_fill *fill)
{
	policy_fill(D.e.tiers, D.e.ntiers, fill);
}

/* A policy run: select once, then move STEP_FILES at a time. */
static bool
step_policy(struct job *j)
{
	struct tier_fill fill[JTS_MAX_TIERS];
	struct move_plan plan;
	struct policy *p = policy_find(&D.ps, j->policy);
	char err[1024], b[32];
	uint64_t bytes = 0, step_bytes;
	int64_t t0;
	int n = 0;

	if (p == NULL) {
		jts_warn("policy %s: gone after a reload; run dropped",
		    j->policy);
		send_result(j->conn, 1, NULL, "the policy is gone");
		return true;
	}
	if (j->cancelled != NULL)
		goto end;
	if (!j->selected) {
		j->selected = true;
		j->t0 = jts_mono_ns();
		fill_levels(fill);
		policy_fill_apply(p, &D.conf, fill);
		if (policy_select(p, D.e.cat.db, jts_now_ns(),
		    j->reason == RUN_REQUEST ? RUN_SCHEDULE : j->reason, fill,
		    &j->sel, err, sizeof(err)) != 0) {
			jts_err("%s", err);
			send_result(j->conn, 1, NULL, err);
			return true;
		}
		policy_run_row(j, false);
		jts_notice("policy %s run=%s selected=%d bytes=%" PRIu64
		    "%s%s%s", p->name, policy_reason_name(j->reason),
		    j->sel.n, j->sel.bytes, j->sel.stopped ? " stop=" : "",
		    j->sel.stopped ? j->sel.stopped : "", j->sel.too_big ?
		    " passed_over=too_big" : "");
	}
	if (j->at == j->sel.n && j->selected && j->sel.n > 0)
		goto end;	/* the cap's last pause is over */
	memset(&plan, 0, sizeof(plan));
	/* A set of hard links moves when the step selected all its names. */
	plan.hold_links = true;
	t0 = jts_mono_ns();
	/* Under a cap, a step is about a second's worth (one file at least). */
	step_bytes = p->bandwidth > 0 && p->bandwidth < STEP_BYTES ?
	    p->bandwidth : STEP_BYTES;
	while (j->at < j->sel.n && n < STEP_FILES && (n == 0 ||
	    bytes + (uint64_t)j->sel.c[j->at].size <= step_bytes)) {
		struct policy_cand *c = &j->sel.c[j->at++];
		/* Up, the verified recall: found by its path in the catalog. */
		char *abs = jts_path_join(D.conf.tiers[p->up ? p->to :
		    p->from].root, c->rel);

		(void)move_plan_path(&D.e, &plan, abs, p->up ? OP_RECALL :
		    OP_MIGRATE, p->to);
		free(abs);
		bytes += (uint64_t)c->size;
		n++;
	}
	move_plan_links(&plan);
	/* Cancelled while it selected (clients are served meanwhile). */
	if (plan.n > 0 && j->cancelled == NULL)
		run_moves(j, &plan, p->leave, p->leave_set);
	plan.errors = 0;
	move_plan_free(&plan);
	if (j->cancelled != NULL)
		goto end;
	if (p->bandwidth > 0 && bytes > 0) {
		/* Pause until these bytes fit under the cap. */
		double need = (double)bytes / (double)p->bandwidth;
		double took = (double)(jts_mono_ns() - t0) / 1e9;

		if (need > took)
			j->resume_at = ev_now(D.loop) + (need - took);
	}
	if (j->at < j->sel.n && !D.stopping)
		return false;
	/* The run is not over before its bytes fit under the cap. */
	if (j->resume_at > ev_now(D.loop) && !D.stopping)
		return false;
end:
	if (j->selected)
		policy_run_row(j, true);
	if (j->reason == RUN_FILL)
		p->fill_done = ev_now(D.loop);
	jts_notice("policy %s run=%s moved=%" PRIu64 " bytes=%" PRIu64
	    " skipped=%" PRIu64 " failed=%" PRIu64 " time=%.2fs%s", p->name,
	    policy_reason_name(j->reason), j->moved, j->bytes, j->skipped,
	    j->failed, (double)(jts_mono_ns() - j->t0) / 1e9,
	    j->cancelled ? " (cancelled)" : j->at < j->sel.n ?
	    " (stopped early: daemon stopping)" : "");
	if (j->conn) {
		char *t = xasprintf("policy %s: %" PRIu64 " moved (%s), %"
		    PRIu64 " skipped, %" PRIu64 " failed%s%s%s\n", p->name,
		    j->moved, jts_fmt_bytes(j->bytes, b, sizeof(b)),
		    j->skipped, j->failed, j->cancelled ? "; cancelled (" :
		    "", j->cancelled ? j->cancelled : "", j->cancelled ?
		    "): the files in flight left in place" : "");

		send_result(j->conn, j->failed || j->cancelled ? 1 : 0, t,
		    NULL);
		free(t);
	}
	return true;
}

struct req_run {
	struct job	*j;
	struct move_opts mo;
	struct move_stats st;
	bool		 dry;
	uint64_t	 planned, planned_bytes;
};

/* Print (dry run) or move a chunk of a request's plan, then forget it. */
static void
req_flush(struct move_plan *p, void *arg)
{
	struct req_run *rr = arg;
	int i;

	catalog_read_end(&D.e.cat);
	if (rr->dry) {
		for (i = 0; i < p->n; i++) {
			struct move_item *it = &p->items[i];
			char *path = engine_data_path(&D.e, it->src >= 0 ?
			    it->src : 0, it->rel), *line;

			if (it->state == IT_PENDING) {
				line = xasprintf("would move %s: %s -> %s",
				    jts_quote(path),
				    D.conf.tiers[it->src].name,
				    D.conf.tiers[it->dst].name);
				rr->planned++;
			} else
				line = xasprintf("would not move %s: %s",
				    jts_quote(path), it->why ? it->why : "?");
			send_progress(rr->j->conn, "text", line);
			free(line);
			free(path);
		}
		rr->planned_bytes += p->bytes;
		move_plan_clear(p);
	} else
		(void)move_chunk(&D.e, p, &rr->mo, &rr->st);
	catalog_read_begin(&D.e.cat);
}

/* migrate or recall asked by jts-tierctl: the same engine, here. */
static void
step_request(struct job *j)
{
	const char *cmd = j->rq.name, *to = j->rq.to;
	enum move_op op = j->rq.cmd == CTL_RECALL ? OP_RECALL : OP_MIGRATE;
	json_object *paths = j->rq.paths, *v;
	struct move_plan plan;
	struct req_run rr;
	char b[32], *t;
	size_t i, n;
	int toi = -1;

	if (to != NULL && (toi = conf_tier_index(&D.conf, to)) < 0) {
		char tl[256];

		t = xasprintf("--to %s: no such tier in %s (tiers: %s)", to,
		    D.conf.path, conf_tier_list(&D.conf, false, tl,
		    sizeof(tl)));
		send_result(j->conn, EXIT_USAGE_D, NULL, t);
		free(t);
		return;
	}
	memset(&plan, 0, sizeof(plan));
	memset(&rr, 0, sizeof(rr));
	rr.j = j;
	rr.dry = j->rq.dry_run;
	rr.mo.leave = j->rq.remove_source ? LEAVE_REMOVE :
	    j->rq.leave != NULL ? (enum leave_mode)leave_parse(j->rq.leave) :
	    D.conf.leave;
	rr.mo.leave_forced = j->rq.remove_source || j->rq.leave != NULL;
	if ((rr.mo.leave == LEAVE_STUB || (!rr.mo.leave_forced &&
	    conf_wants_stubs(&D.conf))) && !rr.dry && stubs_ensure() != 0) {
		t = xasprintf("leave = stub: %s; nothing moved",
		    stubd_unavailable());
		send_result(j->conn, 1, NULL, t);
		free(t);
		return;
	}
	rr.mo.quiet = true;
	rr.mo.paced = true;
	rr.mo.report = report_move;
	rr.mo.report_arg = j;
	rr.mo.tick = serve_between;
	plan.flush = req_flush;
	plan.flush_arg = &rr;
	plan.flush_at = 4096;
	plan.hold_links = true;
	D.echo = j->conn;
	j->t0 = jts_mono_ns();
	if (!rr.dry)
		move_begin(&D.e, &rr.mo, &rr.st);
	n = json_object_array_length(paths);
	catalog_read_begin(&D.e.cat);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(paths, i);
		if (json_object_is_type(v, json_type_string))
			move_plan_path(&D.e, &plan, json_object_get_string(v),
			    op, toi);
	}
	move_plan_links(&plan);
	req_flush(&plan, &rr);
	catalog_read_end(&D.e.cat);
	if (rr.dry)
		t = xasprintf("%" PRIu64 " file(s), %s would move\n",
		    rr.planned, jts_fmt_bytes(rr.planned_bytes, b,
		    sizeof(b)));
	else {
		(void)move_end(&D.e, &rr.st);
		if (rr.st.interrupted && !D.stopping) {
			jts_notice("stop requested: finishing");
			D.stopping = true;
		}
		if (j->cancelled != NULL) {
			t = xasprintf("%s cancelled (%s): %" PRIu64 " moved "
			    "before (%s), the files in flight left in place; "
			    "nothing is half done", cmd, j->cancelled,
			    j->moved, jts_fmt_bytes(j->bytes, b, sizeof(b)));
			D.echo = NULL;
			send_result(j->conn, EXIT_FAILED_D, NULL, t);
			free(t);
			move_plan_free(&plan);
			return;
		}
		t = xasprintf("%s: %" PRIu64 " moved (%s in %.2f s), %" PRIu64
		    " skipped, %" PRIu64 " failed\n", cmd, j->moved,
		    jts_fmt_bytes(j->bytes, b, sizeof(b)),
		    (double)(jts_mono_ns() - j->t0) / 1e9, j->skipped,
		    j->failed + (uint64_t)plan.errors);
	}
	D.echo = NULL;
	send_result(j->conn, j->failed || plan.errors ? 1 : 0, t, NULL);
	free(t);
	move_plan_free(&plan);
}

static void
step_pin(struct job *j)
{
	bool pin = j->rq.cmd == CTL_PIN;
	int r;

	r = catalog_pin_set(&D.e.cat, j->rq.path, pin, jts_now_ns());
	if (r < 0) {
		send_result(j->conn, 1, NULL, catalog_errmsg(&D.e.cat));
		return;
	}
	jts_notice("%s path=%s", j->rq.name, jts_quote_field(j->rq.path));
	if (!pin && r == 0)
		send_progress(j->conn, "error", "it was not pinned");
	send_result(j->conn, 0, NULL, NULL);
}

/*
 * Before a step that moves data: a NAS connection that broke is tried
 * afresh, and moves left unfinished (a temporary the NAS could not take
 * back while it was away) are finished or undone first.
 */
static void
before_moves(void)
{
	int left;

	if (engine_tiers_reset(&D.e) > 0)
		jts_notice("reconnecting to the NAS that stopped answering");
	/* Conflicts wait for the operator: not looked at before each step. */
	if (catalog_journal_unsettled(&D.e.cat) == 0)
		return;
	(void)move_recover(&D.e, false);
	if ((left = catalog_journal_unsettled(&D.e.cat)) > 0)
		jts_warn("%d unfinished move(s) wait for their tier: "
		    "'jts-tierctl check' says what each needs", left);
}

/*
 * The watch over stubs, started when stubs are first needed (configured,
 * asked for, or found in the catalog); 0, or -1 with the reason logged.
 */
/* Are stubs configured, or are there stubs a previous run left? */
static bool
stubs_wanted(void)
{
	sqlite3_stmt *st;
	bool found = false;
	int i;

	if (conf_wants_stubs(&D.conf))
		return true;
	for (i = 0; i < D.ps.n; i++)
		if (D.ps.p[i].leave == LEAVE_STUB)
			return true;
	if (sqlite3_prepare_v2(D.e.cat.db, "SELECT 1 FROM journal WHERE "
	    "leave = 'stub' LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	return found;
}

static int
stubs_ensure(void)
{
	char why[512];

	if (D.stubs_on)
		return 0;
	if (D.stubs_failed)
		return -1;
	if (stubd_start(&D.e, why, sizeof(why)) != 0) {
		jts_err("stubs cannot be left or recalled here: %s", why);
		D.stubs_failed = true;
		return -1;
	}
	D.stubs_on = true;
	move_busy_hook = stubd_busy;
	if (D.track != NULL)
		stubd_keep(track_fd(D.track));
	return 0;
}

static void
on_work(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct job *j;
	bool done = true;

	(void)revents;
	if (D.busy)
		return;
	if (D.reload_asked) {
		D.reload_asked = false;
		reload(NULL);
	}
	if ((j = D.q) == NULL || D.stopping) {
		ev_idle_stop(loop, w);
		if (D.stopping)
			ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (j->resume_at > ev_now(loop)) {
		/* Under a bandwidth cap: wait without spinning. */
		ev_idle_stop(loop, w);
		ev_timer_set(&D.wake, j->resume_at - ev_now(loop), 0);
		ev_timer_start(loop, &D.wake);
		return;
	}
	j->resume_at = 0;
	/* No idle watcher while a step waits on the NAS (it would spin). */
	ev_idle_stop(loop, w);
	D.busy = true;
	D.cur = j;
	if (j->kind != JOB_SCAN && j->kind != JOB_PIN &&
	    j->kind != JOB_RECOVER)
		before_moves();
	switch (j->kind) {
	case JOB_SCAN:
		sd_notify(0, "STATUS=scanning");
		step_scan(j);
		break;
	case JOB_POLICY:
		sd_notifyf(0, "STATUS=policy %s", j->policy);
		done = step_policy(j);
		break;
	case JOB_REQUEST:
		sd_notifyf(0, "STATUS=%s", j->rq.name);
		step_request(j);
		break;
	case JOB_PIN:
		step_pin(j);
		break;
	case JOB_RECOVER:
		sd_notify(0, "STATUS=recovering");
		step_recover(j);
		break;
	}
	D.cur = NULL;
	D.busy = false;
	if (done) {
		D.q = j->next;
		if (D.q == NULL)
			D.qtail = NULL;
		job_free(j);
		if (D.q == NULL)
			sd_notify(0, "STATUS=idle");
	}
	if (D.stopping)
		ev_break(loop, EVBREAK_ALL);
	else if (D.q != NULL || D.reload_asked)
		ev_idle_start(loop, w);
}

static void
on_wake(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	if (!D.stopping)
		ev_idle_start(loop, &D.work);
}

/* ---- timers and policies ---------------------------------------------- */

static void
on_policy_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	const char *name = w->data;

	(void)loop;
	(void)revents;
	if (!policy_queued(name))
		queue_policy(name, RUN_SCHEDULE, NULL);
}

/*
 * When policy name's last scheduled or fill run started; 0 if it never
 * ran, or if that run never finished (the daemon died in it): due now.
 */

static void
disarm_policies(void)
{
	int i;

	for (i = 0; i < D.nptimer; i++) {
		ev_timer_stop(D.loop, &D.ptimer[i]);
		free(D.ptimer[i].data);
	}
	free(D.ptimer);
	D.ptimer = NULL;
	D.nptimer = 0;
}

/* Arm one timer per scheduled policy, due by its last run. */
static void
arm_policies(void)
{
	int i;

	disarm_policies();
	D.ptimer = xcalloc((size_t)(D.ps.n ? D.ps.n : 1), sizeof(ev_timer));
	D.nptimer = D.ps.n;
	for (i = 0; i < D.ps.n; i++) {
		struct policy *p = &D.ps.p[i];
		double every = (double)p->schedule_s, first;
		int64_t last;

		ev_timer_init(&D.ptimer[i], on_policy_timer, 1, 0);
		D.ptimer[i].data = xstrdup(p->name);
		if (!p->enabled || p->schedule_s == 0)
			continue;
		last = catalog_run_last(&D.e.cat, p->name);
		first = last == 0 ? 0.5 : every - (double)(jts_now_ns() -
		    last) / 1e9;
		if (first < 0.5)
			first = 0.5;	/* overdue: after the queued scan */
		ev_timer_set(&D.ptimer[i], first, every);
		ev_timer_start(D.loop, &D.ptimer[i]);
	}
}

static double fill_cooldown = 120;

static void
on_fill(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tier_fill fill[JTS_MAX_TIERS], pf[JTS_MAX_TIERS];
	bool got = false;
	int i;

	(void)loop;
	(void)w;
	(void)revents;
	if (D.busy)
		return;
	for (i = 0; i < D.ps.n; i++) {
		struct policy *p = &D.ps.p[i];
		struct tier_fill *f;

		if (!p->enabled || !p->on_fill || policy_queued(p->name))
			continue;
		/*
		 * Space freed by a run shows in statfs only once the file
		 * system commits (ext4 5 s, btrfs 30 s): do not run again on
		 * a level that is not yet true.
		 */
		if (p->fill_done > 0 && ev_now(loop) - p->fill_done <
		    fill_cooldown)
			continue;
		if (!got) {
			fill_levels(fill);
			got = true;
		}
		memcpy(pf, fill, sizeof(pf));
		policy_fill_apply(p, &D.conf, pf);
		f = &pf[p->from];
		if (f->known && f->size && 100.0 * (double)f->used /
		    (double)f->size >= p->high) {
			jts_notice("tier %s%s%s is %.1f%% full, above %d%%: "
			    "running policy %s", D.conf.tiers[p->from].name,
			    p->fill_path ? "/" : "",
			    p->fill_path ? p->fill_path : "",
			    100.0 * (double)f->used / (double)f->size, p->high,
			    p->name);
			queue_policy(p->name, RUN_FILL, NULL);
		}
	}
}

/* Live tracking lost events: walk the tiers again. */
static void
rescan_soon(void)
{
	queue_scan(NULL);
}

static void
on_rescan(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	queue_scan(NULL);
}

static void
on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	sd_notify(0, "WATCHDOG=1");
}

/* Two settings both unset, or equal. */
static bool
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
same_tiers(const struct conf *a, const struct conf *b)
{
	int i;

	if (a->ntiers != b->ntiers || strcmp(a->catalog, b->catalog) != 0)
		return false;
	for (i = 0; i < a->ntiers; i++) {
		const struct tier_conf *x = &a->tiers[i], *y = &b->tiers[i];

		if (strcmp(x->name, y->name) != 0 || x->kind != y->kind ||
		    (x->root && (!y->root || strcmp(x->root, y->root))) ||
		    (x->url && (!y->url || strcmp(x->url, y->url))) ||
		    (!x->root != !y->root) || (!x->url != !y->url) ||
		    !same_str(x->endpoint, y->endpoint) ||
		    !same_str(x->bucket, y->bucket) ||
		    !same_str(x->prefix, y->prefix))
			return false;
	}
	return true;
}

/*
 * Re-read configuration and policies.  Anything broken is reported with
 * its file and line, and the set in force stays.
 */
void
reload(struct conn *c)
{
	struct policy_set ps;
	struct conf nc;
	char err[1024];
	int i;

	sd_notify(0, "RELOADING=1");
	/* A set that fails to load is left as it was: freed only if set. */
	memset(&ps, 0, sizeof(ps));
	if (conf_load(D.conf_path, &nc, err, sizeof(err)) != 0) {
		jts_err("reload: %s; the previous configuration stays in "
		    "force", err);
		send_result(c, 1, NULL, err);
		sd_notify(0, "READY=1");
		return;
	}
	if (!same_tiers(&D.conf, &nc)) {
		snprintf(err, sizeof(err), "%s: tiers or catalog changed; "
		    "that needs a restart of the daemon", nc.path);
		jts_err("reload: %s; the previous configuration stays in "
		    "force", err);
		send_result(c, 1, NULL, err);
		conf_free(&nc);
		sd_notify(0, "READY=1");
		return;
	}
	if (policy_load_dir(nc.policies, &nc, &ps, err, sizeof(err)) != 0 ||
	    policy_set_compile(&ps, D.e.cat.db, err, sizeof(err)) != 0) {
		if (ps.p != NULL && ps.dir != NULL)
			policy_set_free(&ps);
		jts_err("reload: %s; the previous policies stay in force",
		    err);
		send_result(c, 1, NULL, err);
		conf_free(&nc);
		sd_notify(0, "READY=1");
		return;
	}
	policy_set_free(&D.ps);
	D.ps = ps;
	/* Settings that need no restart. */
	D.conf.scan_interval = nc.scan_interval;
	D.conf.leave = nc.leave;
	D.conf.reserve = nc.reserve;
	D.conf.policy_timeout = nc.policy_timeout;
	if (nc.io_priority != D.conf.io_priority &&
	    jts_ioprio_set(nc.io_priority) == 0)
		D.conf.io_priority = nc.io_priority;
	if (nc.move_rate != D.conf.move_rate) {
		D.conf.move_rate = nc.move_rate;
		jts_pace_set(JTS_PACE_K_MOVES, D.conf.move_rate);
	}
	policy_set_limits(D.conf.policy_timeout, serve_clients_now);
	for (i = 0; i < nc.ntiers; i++) {
		if (nc.tiers[i].recall_rate != D.conf.tiers[i].recall_rate) {
			D.conf.tiers[i].recall_rate = nc.tiers[i].recall_rate;
			jts_pace_set(JTS_PACE_K_RECALL(i),
			    D.conf.tiers[i].recall_rate);
		}
		D.conf.tiers[i].high = nc.tiers[i].high;
		D.conf.tiers[i].low = nc.tiers[i].low;
		D.conf.tiers[i].leave = nc.tiers[i].leave;
	}
	free(D.conf.policies);
	D.conf.policies = xstrdup(nc.policies);
	conf_free(&nc);
	/* Connections are made anew: a rotated key is read again. */
	engine_tiers_close_remote(&D.e);
	arm_policies();
	jts_notice("reloaded: %d policies from %s", D.ps.n, D.ps.dir);
	if (c != NULL) {
		char *t = xasprintf("reloaded: %d policies from %s\n", D.ps.n,
		    D.ps.dir);

		send_result(c, 0, t, NULL);
		free(t);
	}
	sd_notify(0, "READY=1");
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	if (w->signum == SIGHUP) {
		if (D.busy)
			D.reload_asked = true;	/* on_work does it next */
		else
			reload(NULL);
		return;
	}
	jts_notice("%s: stopping", strsignal(w->signum));
	D.stopping = true;
	sd_notify(0, "STOPPING=1");
	/* A step in progress stops at its next file (move.c's handler took
	 * this signal too); an idle daemon leaves at once. */
	if (!D.busy)
		ev_break(loop, EVBREAK_ALL);
}

/* ---- main ------------------------------------------------------------- */

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-v] [-c config]\n\n"
	    "The jts-tier daemon: tracks the files of every tier in the "
	    "catalog and moves\nthem down the tiers as the policies say.  "
	    "Runs in the foreground (systemd\nType=notify); see "
	    "jts-tierd(8).\n\n"
	    "options:\n"
	    "  -c, --config FILE    configuration file (default %s)\n"
	    "  -v, --verbose        log more\n"
	    "  -h, --help           this help\n"
	    "  -V, --version        print the version\n", JTS_PROG_D,
	    JTS_CONF_DEFAULT);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	char err[1024], rate[48], num[32];
	uint64_t wd_usec = 0;
	int i;
	double fill_every = 60;
	const char *s;
	int ch, left, r, code = 0;

	jts_progname = JTS_PROG_D;
	if (argc == 4 && strcmp(argv[1], "--stub-holder") == 0) {
		jts_progname = "jts-tierd (stub holder)";
		return stub_holder_main(argv[2], atoi(argv[3]) > 0 ?
		    atoi(argv[3]) : 60);
	}
	memset(&D, 0, sizeof(D));
	D.main_thread = pthread_self();
	pthread_mutex_init(&D.out_lock, NULL);
	D.conf_path = getenv("JTS_TIER_CONF");
	if (D.conf_path == NULL)
		D.conf_path = JTS_CONF_DEFAULT;
	while ((ch = getopt_long(argc, argv, "c:vhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			D.conf_path = optarg;
			break;
		case 'v':
			jts_verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s%s\n", JTS_PROG_D, PACKAGE_VERSION, JTS_BUILD_NOTE);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	D.under_systemd = getenv("JOURNAL_STREAM") != NULL ||
	    getenv("NOTIFY_SOCKET") != NULL;
	D.use_syslog = !D.under_systemd && !isatty(STDERR_FILENO) &&
	    getenv("JTS_TIER_LOG_STDERR") == NULL;
	if (D.use_syslog)
		openlog(JTS_PROG_D, LOG_PID, LOG_DAEMON);
	jts_log_hook = log_hook;
	if (conf_load(D.conf_path, &D.conf, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		return 2;
	}
	if (policy_load_dir(D.conf.policies, &D.conf, &D.ps, err,
	    sizeof(err)) != 0) {
		jts_err("%s", err);
		conf_free(&D.conf);
		return 2;
	}
	D.loop = EV_DEFAULT;
	policy_set_limits(D.conf.policy_timeout, serve_clients_now);
	if (engine_open_loop(&D.e, &D.conf, D.loop, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		code = 1;
		goto out;
	}
	D.engine_open = true;
	if (policy_db_init(D.e.cat.db) != 0 ||
	    policy_set_compile(&D.ps, D.e.cat.db, err, sizeof(err)) != 0) {
		jts_err("%s", err);
		code = 2;
		goto out;
	}
	if (stubs_wanted()) {
		if (stubs_ensure() != 0) {
			jts_err("leave = stub is set (in %s or a policy), and "
			    "cannot be honoured: %s; leave = symlink works "
			    "here", D.conf.path, stubd_unavailable());
			code = 2;
			goto out;
		}
	}
	left = move_recover(&D.e, true);
	if (D.stubs_on && (ch = stubd_watch_all(&D.e)) > 0)
		jts_notice("watching %d stub(s)", ch);
	if (left > 0)
		jts_warn("%d interrupted move(s) need attention: "
		    "'jts-tierctl check' says what each needs", left);
	if (listen_socket() != 0) {
		code = 1;
		goto out;
	}
	D.started = jts_mono_ns();
	ev_signal_init(&D.sig_term, on_signal, SIGTERM);
	ev_signal_init(&D.sig_int, on_signal, SIGINT);
	ev_signal_init(&D.sig_hup, on_signal, SIGHUP);
	ev_signal_start(D.loop, &D.sig_term);
	ev_signal_start(D.loop, &D.sig_int);
	ev_signal_start(D.loop, &D.sig_hup);
	signal(SIGPIPE, SIG_IGN);
	ev_timer_init(&D.accept_again, on_accept_again, 1, 0);
	ev_timer_init(&D.conn_sweep, on_conn_sweep, 5, 5);
	ev_timer_start(D.loop, &D.conn_sweep);
	ev_idle_init(&D.work, on_work);
	ev_timer_init(&D.wake, on_wake, 1, 0);
	if ((s = jts_test_knob("JTS_TIER_FILL_CHECK")) != NULL && atof(s) > 0)
		fill_every = atof(s);
	fill_cooldown = fill_every * 2 > 60 ? fill_every * 2 : 60;
	if ((s = jts_test_knob("JTS_TIER_FILL_COOLDOWN")) != NULL && atof(s) >= 0)
		fill_cooldown = atof(s);
	ev_timer_init(&D.fill, on_fill, fill_every, fill_every);
	ev_timer_start(D.loop, &D.fill);
	if (D.conf.scan_interval > 0) {
		ev_timer_init(&D.rescan, on_rescan,
		    (double)D.conf.scan_interval,
		    (double)D.conf.scan_interval);
		ev_timer_start(D.loop, &D.rescan);
	}
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		ev_timer_init(&D.watchdog, on_watchdog, (double)wd_usec / 2e6,
		    (double)wd_usec / 2e6);
		ev_timer_start(D.loop, &D.watchdog);
	}
	if (D.conf.fanotify)
		D.track = track_start(&D.e, D.loop, &D.busy, rescan_soon);
	if (D.track != NULL && D.stubs_on)
		stubd_keep(track_fd(D.track));
	/* The moves' I/O yields to the tiers' own users (recalls for
	 * readers of stubs keep the normal priority: stubd's workers). */
	if ((r = jts_ioprio_set(D.conf.io_priority)) != 0)
		jts_warn("cannot set the I/O priority %s: %s",
		    jts_ioprio_name(D.conf.io_priority), strerror(-r));
	/*
	 * And they keep to move_rate, a recall also to its source's
	 * recall_rate (a reader's recall of a stub does not).
	 */
	jts_pace_set(JTS_PACE_K_MOVES, D.conf.move_rate);
	for (i = 0; i < D.conf.ntiers; i++)
		jts_pace_set(JTS_PACE_K_RECALL(i),
		    D.conf.tiers[i].recall_rate);
	if (D.conf.move_rate == 0)
		snprintf(rate, sizeof(rate), "unlimited");
	else
		snprintf(rate, sizeof(rate), "%s/s",
		    jts_fmt_bytes(D.conf.move_rate, num, sizeof(num)));
	queue_scan(NULL);
	arm_policies();
	jts_notice("started: pid %d, %d tiers, %d policies, socket %s, "
	    "tracking: %s, I/O priority %s, move rate %s", getpid(),
	    D.conf.ntiers, D.ps.n, D.conf.socket, D.track ?
	    track_mode(D.track) : "scans only",
	    jts_ioprio_name(D.conf.io_priority), rate);
	sd_notify(0, "READY=1\nSTATUS=started");
	D.ready = true;
	ev_run(D.loop, 0);
	jts_notice("stopped");
out:
	while (D.q) {
		struct job *j = D.q;

		D.q = j->next;
		send_result(j->conn, 1, NULL, "the daemon stopped before this "
		    "was done");
		job_free(j);
	}
	/* The last answers, as far as each socket takes them now. */
	while (D.conns) {
		pthread_mutex_lock(&D.out_lock);
		conn_flush_locked(D.conns);
		pthread_mutex_unlock(&D.out_lock);
		conn_close(D.conns);
	}
	if (D.lfd > 0) {
		close(D.lfd);
		(void)unlink(D.conf.socket);
	}
	if (D.track)
		track_stop(D.track);
	if (D.stubs_on) {
		move_busy_hook = NULL;
		stubd_stop();
	}
	policy_set_free(&D.ps);
	if (D.engine_open)
		engine_close(&D.e);
	disarm_policies();
	conf_free(&D.conf);
	return code;
}

