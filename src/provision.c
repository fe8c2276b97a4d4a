/* provision.c - set the tiers up from a manifest: plan, apply, verify and
 * rollback, each step a check, a do and an undo */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prov-int.h"
#include "util.h"

static int	journal_append(struct prov *, json_object *);

/*
 * Write-ahead: the step's record, with everything its undo needs, goes
 * to the journal (synced) before the step changes anything, so a crash
 * anywhere leaves a journal that rollback can act on.  Every undo copes
 * with a step that never ran.
 */
int
intent(struct prov *p, json_object *rec, char **err)
{
	json_object *d;
	int r;

	if (p->jdir != NULL && json_object_array_length(p->jdir) > 0) {
		/* Rollback removes the journal's directory last. */
		d = json_object_new_object();
		json_object_object_add(d, "kind",
		    json_object_new_string("journal-dir"));
		json_object_object_add(d, "what", json_object_new_string(
		    "mkdir -p (the journal's directory)"));
		json_object_object_add(d, "made", json_object_get(p->jdir));
		r = journal_append(p, d);
		json_object_put(d);
		if (r != 0) {
			*err = xasprintf("%s: cannot journal: %s", p->journal,
			    strerror(-r));
			return -1;
		}
		json_object_put(p->jdir);
		p->jdir = NULL;
	}
	if (p->journal_skip)
		return 0;
	if ((r = journal_append(p, rec)) != 0) {
		*err = xasprintf("%s: cannot journal the step: %s; nothing was "
		    "done", p->journal, strerror(-r));
		return -1;
	}
	jts_fault_point("provision-journaled");
	return 0;
}

/* ---- the journal ---------------------------------------------------- */

/*
 * Lock the journal's directory: one provisioning run at a time.  With
 * made, the directory is made if missing and the ones made are added;
 * without, a missing directory returns -2 (nothing journalled).
 */
static int
journal_lock(struct prov *p, json_object *made, char **err)
{
	char *dir = xstrdup(p->journal), *s = strrchr(dir, '/');
	int fd;

	if (s != NULL)
		*s = '\0';
	if (*dir == '\0') {
		free(dir);
		dir = xstrdup("/");
	}
	if (made != NULL && mkdirs(dir, made, err) != 0) {
		free(dir);
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT && made == NULL) {
			free(dir);
			return -2;
		}
		*err = xasprintf("%s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		*err = xasprintf("%s: another jts-tierctl provision is running "
		    "(its directory is locked)", dir);
		free(dir);
		close(fd);
		return -1;
	}
	free(dir);
	return fd;
}

static int
journal_append(struct prov *p, json_object *rec)
{
	const char *line = json_object_to_json_string_ext(rec,
	    JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	char *buf = xasprintf("%s\n", line);
	size_t len = strlen(buf);
	int fd, r = 0;

	if ((fd = open(p->journal, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0) {
		free(buf);
		return -errno;
	}
	r = jts_write_all(fd, buf, len);
	if (r == 0 && fdatasync(fd) != 0)
		r = -errno;
	close(fd);
	free(buf);
	return r;
}

/* The journal's records, oldest first; -1 with err if it is damaged. */
static int
journal_read(struct prov *p, json_object ***recs, int *n, char **err)
{
	char *text = jts_read_file(p->journal, NULL), *line, *save = NULL;
	json_object *o;
	int lineno = 0;

	*recs = NULL;
	*n = 0;
	if (text == NULL) {
		if (errno == ENOENT)
			return 0;
		*err = xasprintf("%s: %s", p->journal, strerror(errno));
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		o = json_tokener_parse(line);
		if (o == NULL || !json_object_is_type(o, json_type_object)) {
			/* A torn last line: its step's result is unknown. */
			*err = xasprintf("%s:%d: not a journal record: "
			    "repair or remove that line", p->journal, lineno);
			json_object_put(o);
			free(text);
			return -1;
		}
		*recs = xrealloc(*recs, sizeof(**recs) * (size_t)(*n + 1));
		(*recs)[(*n)++] = o;
	}
	free(text);
	return 0;
}

static int
journal_write(struct prov *p, json_object **recs, int n)
{
	char *buf, *t;
	int i, r;

	if (n == 0)
		return unlink(p->journal) == 0 || errno == ENOENT ? 0 : -errno;
	buf = xstrdup("");
	for (i = 0; i < n; i++) {
		t = xasprintf("%s%s\n", buf, json_object_to_json_string_ext(
		    recs[i], JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
		free(buf);
		buf = t;
	}
	r = write_atomic(p->journal, buf, strlen(buf), 0600);
	free(buf);
	return r;
}

int64_t
jint(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return dflt;
	return json_object_get_int64(v);
}

/* Read the journal into p (the steps' checks consult it); -1 if damaged. */
static int
prov_journal(struct prov *p)
{
	char *err = NULL;

	if (journal_read(p, &p->jrecs, &p->njrecs, &err) == 0)
		return 0;
	jts_err("%s", err);
	free(err);
	return -1;
}

void
prov_free(struct prov *p)
{
	struct step *s;
	int i;

	for (i = 0; i < p->nsteps; i++) {
		s = &p->steps[i];
		free(s->what);
		argv_free(s->argv);
		argv_free(s->undo);
		free(s->dev);
		free(s->fstype);
		free(s->path);
		free(s->value);
		free(s->why);
	}
	for (i = 0; i < p->njrecs; i++)
		json_object_put(p->jrecs[i]);
	free(p->jrecs);
	free(p->steps);
	free(p->fstab);
	free(p->journal);
	free(p->udev);
}

/* One step's line (and its continuation lines) in a report. */
static void
step_print(struct prov *p, int i, const char *state, const char *note)
{
	const struct step *s = &p->steps[i];
	const char *w = s->what ? s->what : "?", *nl;

	fprintf(p->out, "%3d. %-10s %-5s ", i + 1, state, s->tier);
	while ((nl = strchr(w, '\n')) != NULL && nl[1] != '\0') {
		fprintf(p->out, "%.*s\n%24s", (int)(nl - w), w, "");
		w = nl + 1;
	}
	fprintf(p->out, "%.*s\n", (int)strcspn(w, "\n"), w);
	if (note != NULL)
		fprintf(p->out, "%24s%s\n", "", note);
}

int
prov_plan(const struct manifest *m, const struct prov_opts *o)
{
	struct prov p;
	int i, todo = 0, done = 0, refused = 0;

	prov_init(&p, m, o);
	if (prov_journal(&p) != 0) {
		prov_free(&p);
		return 1;
	}
	fprintf(p.out, "plan for %s (fstab %s, journal %s):\n", m->path,
	    p.fstab, p.journal);
	for (i = 0; i < p.nsteps; i++) {
		switch (step_check(&p, &p.steps[i])) {
		case S_DONE:
			done++;
			step_print(&p, i, "[done]", NULL);
			break;
		case S_TODO:
			todo++;
			step_print(&p, i, "[to do]", NULL);
			break;
		default:
			refused++;
			step_print(&p, i, "[REFUSED]", p.steps[i].why);
		}
	}
	fprintf(p.out, "%d steps: %d to do, %d done, %d refused\n", p.nsteps,
	    todo, done, refused);
	prov_free(&p);
	return refused > 0 ? 1 : 0;
}

int
prov_apply(const struct manifest *m, const struct prov_opts *o)
{
	struct prov p;
	json_object *rec, *made;
	char *err = NULL;
	int i, k, lfd, r = 0, refused = 0, did = 0, had = 0;

	prov_init(&p, m, o);
	made = json_object_new_array();
	if ((lfd = journal_lock(&p, made, &err)) < 0) {
		jts_err("%s", err);
		free(err);
		json_object_put(made);
		prov_free(&p);
		return 1;
	}
	/* Then every refusal, before anything is changed. */
	if (prov_journal(&p) != 0)
		refused = -1;
	for (i = 0; refused >= 0 && i < p.nsteps; i++)
		if (step_check(&p, &p.steps[i]) == S_REFUSED) {
			refused++;
			jts_err("step %d (%s): refused: %s", i + 1,
			    p.steps[i].what, p.steps[i].why);
		}
	if (refused != 0) {
		if (refused > 0)
			jts_err("%d step%s refused: nothing was changed",
			    refused, refused == 1 ? "" : "s");
		/* Nothing journalled: take back the journal's directory. */
		rec = json_object_new_object();
		json_object_object_add(rec, "made", made);
		(void)undo_mkdir(&p, rec, &err);
		free(err);
		json_object_put(rec);
		close(lfd);
		prov_free(&p);
		return 1;
	}
	fprintf(p.out, "apply %s (fstab %s, journal %s):\n", m->path, p.fstab,
	    p.journal);
	for (i = 0; i < p.nsteps; i++) {
		struct step *s = &p.steps[i];
		r = step_check(&p, s);
		if (r == S_DONE) {
			had++;
			step_print(&p, i, "[done]", NULL);
			r = 0;
			continue;
		}
		if (r == S_REFUSED) {
			step_print(&p, i, "[REFUSED]", s->why);
			jts_err("step %d (%s) refused: %s; stopped there",
			    i + 1, s->what, s->why);
			r = 1;
			break;
		}
		/*
		 * Done again (undone by hand since): the first record's undo
		 * goes back to the state before apply, and keeps its place
		 * in the order.  A file's record is its own: it chains the
		 * backups.
		 */
		for (k = 0; s->kind != ST_FILE && k < p.njrecs; k++)
			if (jts_json_str(p.jrecs[k], "what") != NULL &&
			    strcmp(jts_json_str(p.jrecs[k], "what"), s->what) ==
			    0)
				break;
		p.journal_skip = s->kind != ST_FILE && k < p.njrecs;
		p.jdir = made;
		made = NULL;
		rec = json_object_new_object();
		jts_fault_point("provision-step");
		r = step_do(&p, s, rec, &err);
		made = p.jdir;		/* still there if nothing was journalled */
		p.jdir = NULL;
		if (r != 0) {
			step_print(&p, i, "[FAILED]", err);
			jts_err("step %d (%s) failed: %s", i + 1, s->what, err);
			free(err);
			err = NULL;
			json_object_put(rec);
			r = 1;
			break;
		}
		jts_fault_point("provision-done");
		json_object_put(rec);
		did++;
		step_print(&p, i, "[ok]", p.journal_skip ? "(done again: its "
		    "undo is already in the journal)" : NULL);
		r = 0;
	}
	if (r == 0 && did == 0)
		fprintf(p.out, "nothing to do: all %d steps were already "
		    "done\n", had);
	else if (r == 0)
		fprintf(p.out, "applied: %d step%s done now, %d already done\n",
		    did, did == 1 ? "" : "s", had);
	else
		fprintf(p.out, "apply stopped at step %d: %d step%s done "
		    "before it are in the journal; fix the cause and apply "
		    "again, or undo them with: jts-tierctl provision rollback "
		    "-m %s\n", i + 1, did, did == 1 ? "" : "s", m->path);
	if (made != NULL) {
		/* Nothing journalled: take back the journal's directory. */
		json_object *rm = json_object_new_object();
		json_object_object_add(rm, "made", made);
		(void)undo_mkdir(&p, rm, &err);
		free(err);
		json_object_put(rm);
	}
	close(lfd);
	prov_free(&p);
	return r == 0 ? 0 : 1;
}

int
prov_rollback(const struct manifest *m, const struct prov_opts *o)
{
	struct prov p;
	json_object **recs = NULL;
	char *err = NULL;
	int n = 0, i, lfd, r = 0, undone = 0;

	prov_init(&p, m, o);
	if ((lfd = journal_lock(&p, NULL, &err)) == -2) {
		fprintf(p.out, "nothing to roll back: no journal at %s\n",
		    p.journal);
		prov_free(&p);
		return 0;
	}
	if (lfd < 0 || journal_read(&p, &recs, &n, &err) != 0) {
		jts_err("%s", err);
		free(err);
		if (lfd >= 0)
			close(lfd);
		prov_free(&p);
		return 1;
	}
	if (n == 0) {
		fprintf(p.out, "nothing to roll back: no journal at %s\n",
		    p.journal);
		close(lfd);
		prov_free(&p);
		return 0;
	}
	fprintf(p.out, "rollback of %d step%s (journal %s):\n", n,
	    n == 1 ? "" : "s", p.journal);
	for (i = n - 1; i >= 0; i--) {
		const char *what = jts_json_str(recs[i], "what");
		const char *kind = jts_json_str(recs[i], "kind");
		bool jdir = kind != NULL && strcmp(kind, "journal-dir") == 0;
		jts_fault_point("provision-undo");
		if (jdir) {
			/* The journal goes first, then its directory. */
			if ((r = journal_write(&p, recs, i)) == 0)
				r = undo_mkdir(&p, recs[i], &err);
			else
				err = xasprintf("%s: %s", p.journal,
				    strerror(-r));
		} else
			r = step_undo(&p, recs[i], &err);
		if (r < 0) {
			fprintf(p.out, "%3d. %-10s %s\n%24s%s\n", i + 1,
			    "[FAILED]", what ? what : "?", "", err);
			jts_err("undo of step %d (%s) failed: %s; %d step%s "
			    "left in the journal: remove the cause and run "
			    "'provision rollback' again", i + 1,
			    what ? what : "?", err, i + 1, i == 0 ? "" : "s");
			free(err);
			json_object_put(recs[i]);
			break;
		}
		fprintf(p.out, "%3d. %-10s %.*s\n", i + 1, r == 1 ?
		    "[gone]" : "[undone]", what ? (int)strcspn(what, "\n") :
		    1, what ? what : "?");
		json_object_put(recs[i]);
		if (!jdir && (r = journal_write(&p, recs, i)) != 0) {
			jts_err("%s: cannot rewrite: %s", p.journal,
			    strerror(-r));
			r = -1;
			break;
		}
		undone++;
		r = 0;
	}
	for (; i > 0; i--)
		json_object_put(recs[i - 1]);
	free(recs);
	if (r == 0)
		fprintf(p.out, "rolled back: %d step%s undone\n", undone,
		    undone == 1 ? "" : "s");
	close(lfd);
	prov_free(&p);
	return r == 0 ? 0 : 1;
}

