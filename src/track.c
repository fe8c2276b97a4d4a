/* track.c - live tracking of reads and writes on local tiers (fanotify)
 *
 * One fanotify group reporting directory handle and name
 * (FAN_REPORT_DFID_NAME), a FAN_MARK_FILESYSTEM mark per local tier's
 * file system.  Each event names a directory (by handle) and an entry;
 * the directory is opened by handle to learn its path, which places the
 * entry beneath a tier root, or nowhere we care about.  Events are
 * coalesced per path and written every TRACK_FLUSH seconds in one
 * transaction: a read raises the file's heat and access time once per
 * window; a write, creation, deletion or rename re-reads the file's
 * status.  The daemon's own I/O is not counted.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "stub.h"
#include "track.h"
#include "util.h"

#define TRACK_FLUSH	2.0		/* seconds between catalog writes */
#define TRACK_MAX	100000		/* paths held before a rescan instead */
#define TRACK_FS_MAX	64		/* file systems watched */
#define EV_READ_F	1
#define EV_WRITE_F	2		/* re-read status */

struct tpath {
	char		*rel;
	int		 tier;
	int		 flags;
};

struct tfs {
	fsid_t		 fsid;
	int		 mountfd;	/* for open_by_handle_at */
};

struct track {
	struct engine	*e;
	struct ev_loop	*loop;
	const bool	*busy;
	void		(*lost)(void);
	int		 fd;
	ev_io		 io;
	ev_timer	 flush;
	struct tfs	 fs[TRACK_FS_MAX];
	int		 nfs;
	/* pending paths: open addressing, rel+tier hashed */
	struct tpath	*tab;
	size_t		 cap, n;
	bool		 overflow;
	size_t		 max;		/* paths held; JTS_TIER_TRACK_MAX */
	pid_t		 self;
	char		 mode[64];
	uint64_t	 events;
};

static uint64_t
hash_of(const char *s, int tier)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)tier;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void
tab_grow(struct track *t)
{
	struct tpath *old = t->tab;
	size_t oc = t->cap, i;

	t->cap = t->cap ? t->cap * 2 : 1024;
	t->tab = xcalloc(t->cap, sizeof(*t->tab));
	for (i = 0; i < oc; i++) {
		size_t k;

		if (old[i].rel == NULL)
			continue;
		k = hash_of(old[i].rel, old[i].tier) & (t->cap - 1);
		while (t->tab[k].rel != NULL)
			k = (k + 1) & (t->cap - 1);
		t->tab[k] = old[i];
	}
	free(old);
}

static void
note(struct track *t, int tier, const char *rel, int flags)
{
	size_t k;

	if (t->overflow)
		return;
	if (t->n >= t->max) {
		t->overflow = true;
		return;
	}
	if ((t->n + 1) * 2 > t->cap)
		tab_grow(t);
	k = hash_of(rel, tier) & (t->cap - 1);
	while (t->tab[k].rel != NULL) {
		if (t->tab[k].tier == tier && strcmp(t->tab[k].rel, rel) == 0) {
			t->tab[k].flags |= flags;
			return;
		}
		k = (k + 1) & (t->cap - 1);
	}
	t->tab[k].rel = xstrdup(rel);
	t->tab[k].tier = tier;
	t->tab[k].flags = flags;
	t->n++;
}

/* The path of the directory behind a handle, or NULL. */
static char *
dir_path(struct track *t, const fsid_t *fsid, struct file_handle *fh)
{
	char proc[64], buf[PATH_MAX];
	ssize_t n;
	int i, fd = -1;

	for (i = 0; i < t->nfs && fd < 0; i++)
		if (memcmp(&t->fs[i].fsid, fsid, sizeof(*fsid)) == 0)
			fd = open_by_handle_at(t->fs[i].mountfd, fh,
			    O_PATH | O_CLOEXEC);
	/* A btrfs subvolume reports its own fsid: try each file system. */
	for (i = 0; i < t->nfs && fd < 0; i++)
		fd = open_by_handle_at(t->fs[i].mountfd, fh, O_PATH |
		    O_CLOEXEC);
	if (fd < 0)
		return NULL;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

/*
 * One event of ev_len bytes at ev.  Records follow each other at their
 * lengths, which need not keep 8-byte alignment: every field is copied
 * out before it is read.
 */
static void
one_event(struct track *t, const unsigned char *ev, size_t ev_len)
{
	struct fanotify_event_metadata m;
	struct fanotify_event_info_header hdr;
	union {
		struct file_handle fh;
		unsigned char	 b[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	const unsigned char *info, *handle;
	unsigned int hbytes;
	fsid_t fsid;
	const char *name, *rel;
	char *dir, *full;
	int tier, flags;

	memcpy(&m, ev, sizeof(m));
	if (m.mask & FAN_Q_OVERFLOW) {
		t->overflow = true;
		return;
	}
	if (m.pid == t->self || m.event_len <= m.metadata_len ||
	    ev_len < (size_t)m.metadata_len + sizeof(hdr) + sizeof(fsid) +
	    sizeof(struct file_handle))
		return;
	info = ev + m.metadata_len;
	memcpy(&hdr, info, sizeof(hdr));
	if (hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME)
		return;
	memcpy(&fsid, info + sizeof(hdr), sizeof(fsid));
	handle = info + sizeof(hdr) + sizeof(fsid);
	memcpy(&h.fh, handle, sizeof(h.fh));
	hbytes = h.fh.handle_bytes;
	if (hbytes > MAX_HANDLE_SZ || (size_t)(handle - ev) +
	    sizeof(struct file_handle) + hbytes >= ev_len)
		return;
	memcpy(h.fh.f_handle, handle + sizeof(struct file_handle), hbytes);
	name = (const char *)handle + sizeof(struct file_handle) + hbytes;
	if (memchr(name, '\0', ev_len - (size_t)((const unsigned char *)name -
	    ev)) == NULL)
		return;
	if (strcmp(name, ".") == 0 || jts_is_tmp_name(name))
		return;
	if ((dir = dir_path(t, &fsid, &h.fh)) == NULL) {
		jts_debug("fanotify: cannot open the directory of %s: %s",
		    jts_quote(name), strerror(errno));
		return;
	}
	full = jts_path_join(dir, name);
	free(dir);
	tier = engine_locate(t->e, full, &rel);
	if (tier >= 0 && *rel != '\0' && t->e->tiers[tier].rootfd >= 0) {
		flags = (m.mask & FAN_ACCESS) ? EV_READ_F : 0;
		if (m.mask & (FAN_MODIFY | FAN_CLOSE_WRITE | FAN_CREATE |
		    FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB))
			flags |= EV_WRITE_F;
		if (flags)
			note(t, tier, rel, flags);
	}
	free(full);
}

static void
on_events(struct ev_loop *loop, ev_io *w, int revents)
{
	struct track *t = w->data;
	unsigned char buf[65536] __attribute__((aligned(8)));
	struct fanotify_event_metadata m;
	ssize_t n;
	size_t off;

	(void)loop;
	(void)revents;
	for (;;) {
		n = read(t->fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (off = 0; off + sizeof(m) <= (size_t)n; off += m.event_len) {
			memcpy(&m, buf + off, sizeof(m));
			if (m.event_len < sizeof(m) ||
			    off + m.event_len > (size_t)n)
				break;
			t->events++;
			one_event(t, buf + off, m.event_len);
		}
	}
}

/* Re-read one path's status and bring its row in line. */
static void
restat(struct track *t, sqlite3_stmt *get, sqlite3_stmt *ins,
    sqlite3_stmt *upd, sqlite3_stmt *del, struct tpath *p)
{
	struct engine *e = t->e;
	const char *tier = e->tiers[p->tier].tc->name;
	int dfd = tier_open_parent(&e->tiers[p->tier], p->rel);
	struct stat sb;
	bool exists = false, have = false, same_tier = false, born = false;
	bool stub = false;
	int64_t osize = 0, omtime = 0;

	if (dfd >= 0) {
		exists = fstatat(dfd, rel_base(p->rel), &sb,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
		/* A stub (a copy of one, marked after it was made) holds no
		 * data of this tier: never catalogued, as a scan does. */
		stub = exists && stub_is(dfd, rel_base(p->rel),
		    (int64_t)sb.st_size, (int64_t)sb.st_blocks);
		close(dfd);
	}
	sqlite3_bind_blob(get, 1, p->rel, (int)strlen(p->rel), SQLITE_STATIC);
	if (sqlite3_step(get) == SQLITE_ROW) {
		have = true;
		same_tier = strcmp((const char *)sqlite3_column_text(get, 0),
		    tier) == 0;
		born = strcmp((const char *)sqlite3_column_text(get, 1),
		    tier) == 0;
		osize = sqlite3_column_int64(get, 2);
		omtime = sqlite3_column_int64(get, 3);
	}
	sqlite3_reset(get);
	if (stub) {
		if (have && same_tier) {
			sqlite3_bind_blob(del, 1, p->rel, (int)strlen(p->rel),
			    SQLITE_STATIC);
			(void)sqlite3_step(del);
			sqlite3_reset(del);
		}
	} else if (exists && (!have || same_tier)) {
		sqlite3_stmt *st = have ? upd : ins;
		int64_t mt = jts_ts_ns(&sb.st_mtim);

		sqlite3_bind_blob(st, 1, p->rel, (int)strlen(p->rel),
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 2, tier, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (int64_t)sb.st_size);
		sqlite3_bind_int64(st, 4, mt);
		sqlite3_bind_int64(st, 5, jts_ts_ns(&sb.st_ctim));
		sqlite3_bind_int64(st, 6, (int64_t)sb.st_ino);
		sqlite3_bind_int64(st, 7, sb.st_mode);
		sqlite3_bind_int64(st, 8, sb.st_uid);
		sqlite3_bind_int64(st, 9, sb.st_gid);
		sqlite3_bind_int64(st, 11, (int64_t)sb.st_blocks);
		sqlite3_bind_int(st, 10, have && osize == sb.st_size &&
		    omtime == mt);
		(void)sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else if (!exists && have && same_tier && born) {
		/* Deleted where it was born: its users removed it. */
		sqlite3_bind_blob(del, 1, p->rel, (int)strlen(p->rel),
		    SQLITE_STATIC);
		(void)sqlite3_step(del);
		sqlite3_reset(del);
	}
}

static void
on_flush(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct track *t = w->data;
	sqlite3 *db = t->e->cat.db;
	sqlite3_stmt *rd = NULL, *get = NULL, *ins = NULL, *upd = NULL,
	    *del = NULL;
	int64_t now = jts_now_ns();
	size_t i;

	(void)loop;
	(void)revents;
	if (*t->busy || (t->n == 0 && !t->overflow))
		return;
	jts_debug("fanotify: %" PRIu64 " events, %zu paths to write",
	    t->events, t->n);
	if (t->overflow) {
		jts_warn("fanotify: events were lost (more changes than "
		    "tracked at once); a rescan reconciles them");
		if (t->lost != NULL)
			t->lost();
	}
	if (sqlite3_prepare_v2(db, "UPDATE files SET heat = heat * "
	    "pow(0.5, (?2 - coalesce(atime_ns, ?2)) / 86400e9) + 1, "
	    "atime_ns = ?2 WHERE path = ?1 AND tier = ?3", -1, &rd, NULL)
	    != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT tier, home, size, mtime_ns FROM "
	    "files WHERE path = ?", -1, &get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO files (path, tier, home, "
	    "size, mtime_ns, ctime_ns, ino, mode, uid, gid, blocks) VALUES "
	    "(?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11) ON CONFLICT DO "
	    "NOTHING", -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE files SET size = ?3, mtime_ns = ?4, "
	    "ctime_ns = ?5, ino = ?6, mode = ?7, uid = ?8, gid = ?9, "
	    "blocks = ?11, "
	    "hash = CASE WHEN ?10 THEN hash END, verified_ns = CASE WHEN ?10 "
	    "THEN verified_ns END WHERE path = ?1 AND tier = ?2", -1, &upd,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM files WHERE path = ?", -1,
	    &del, NULL) != SQLITE_OK ||
	    catalog_begin(&t->e->cat) != 0) {
		jts_warn("fanotify: catalog %s: %s; changes kept for the next "
		    "flush", t->e->conf->catalog, sqlite3_errmsg(db));
		goto out;
	}
	for (i = 0; i < t->cap; i++) {
		struct tpath *p = &t->tab[i];

		if (p->rel == NULL)
			continue;
		if (p->flags & EV_WRITE_F)
			restat(t, get, ins, upd, del, p);
		if (p->flags & EV_READ_F) {
			sqlite3_bind_blob(rd, 1, p->rel, (int)strlen(p->rel),
			    SQLITE_STATIC);
			sqlite3_bind_int64(rd, 2, now);
			sqlite3_bind_text(rd, 3, t->e->tiers[p->tier].tc->name,
			    -1, SQLITE_STATIC);
			(void)sqlite3_step(rd);
			sqlite3_reset(rd);
		}
	}
	if (catalog_commit(&t->e->cat) != 0) {
		catalog_rollback(&t->e->cat);
		jts_warn("fanotify: catalog %s: %s", t->e->conf->catalog,
		    sqlite3_errmsg(db));
		goto out;
	}
	for (i = 0; i < t->cap; i++)
		free(t->tab[i].rel);
	memset(t->tab, 0, t->cap * sizeof(*t->tab));
	t->n = 0;
	t->overflow = false;
out:
	sqlite3_finalize(rd);
	sqlite3_finalize(get);
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	sqlite3_finalize(del);
}

struct mnt {
	char		*path;
	int		 tier;
};

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void
unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0'));
			s += 3;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

/* Each local tier root, then each mount point beneath one. */
static struct mnt *
mounts_beneath(struct engine *e, int *n)
{
	struct mnt *v = NULL;
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;
	int i, k = 0;

	for (i = 0; i < e->ntiers; i++) {
		if (e->tiers[i].rootfd < 0)
			continue;
		v = xrealloc(v, (size_t)(k + 1) * sizeof(*v));
		v[k].path = xstrdup(e->tiers[i].tc->root);
		v[k++].tier = i;
	}
	if ((fp = fopen("/proc/self/mountinfo", "r")) != NULL) {
		while (getline(&line, &cap, fp) > 0) {
			char *f[6], *save = NULL, *p = line;
			const char *rel;
			int nf = 0, t;

			while (nf < 6 && (f[nf] = strtok_r(p, " ", &save)))
				p = NULL, nf++;
			if (nf < 5)
				continue;
			unescape(f[4]);
			t = engine_locate(e, f[4], &rel);
			if (t < 0 || *rel == '\0' ||
			    e->tiers[t].rootfd < 0)
				continue;
			v = xrealloc(v, (size_t)(k + 1) * sizeof(*v));
			v[k].path = xstrdup(f[4]);
			v[k++].tier = t;
		}
		fclose(fp);
	}
	free(line);
	*n = k;
	return v;
}

struct track *
track_start(struct engine *e, struct ev_loop *loop, const bool *busy,
    void (*lost)(void))
{
	const uint64_t mask = FAN_ACCESS | FAN_MODIFY | FAN_CLOSE_WRITE |
	    FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO;
	struct track *t;
	struct statfs sf;
	struct mnt *mounts;
	double every = TRACK_FLUSH;
	const char *s;
	int i, k, marked = 0, nmounts;

	t = xcalloc(1, sizeof(*t));
	t->e = e;
	t->loop = loop;
	t->busy = busy;
	t->lost = lost;
	t->max = TRACK_MAX;
	if ((s = jts_test_knob("JTS_TIER_TRACK_MAX")) != NULL && atoi(s) > 0)
		t->max = (size_t)atoi(s);
	t->self = getpid();
	t->fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
	    FAN_REPORT_DFID_NAME, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (t->fd < 0) {
		jts_warn("fanotify unavailable (%s%s): reads are not tracked "
		    "live; rescans keep the catalog current", strerror(errno),
		    errno == EPERM ? ", needs root" : "");
		free(t);
		return NULL;
	}
	/* Each tier's root, and every file system mounted beneath one. */
	mounts = mounts_beneath(e, &nmounts);
	for (i = 0; i < nmounts; i++) {
		const char *dir = mounts[i].path;

		if (t->nfs == TRACK_FS_MAX || statfs(dir, &sf) != 0)
			continue;
		for (k = 0; k < t->nfs; k++)
			if (memcmp(&t->fs[k].fsid, &sf.f_fsid,
			    sizeof(sf.f_fsid)) == 0)
				break;
		if (k < t->nfs)
			continue;	/* that file system is marked */
		if (fanotify_mark(t->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
		    mask, AT_FDCWD, dir) != 0) {
			jts_warn("fanotify: cannot watch %s (tier %s): %s; its "
			    "reads are not tracked live", dir,
			    e->tiers[mounts[i].tier].tc->name,
			    strerror(errno));
			continue;
		}
		t->fs[t->nfs].fsid = sf.f_fsid;
		/* open_by_handle_at wants a real descriptor, not O_PATH. */
		t->fs[t->nfs].mountfd = open(dir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		t->nfs++;
		marked++;
	}
	for (i = 0; i < nmounts; i++)
		free(mounts[i].path);
	free(mounts);
	if (marked == 0) {
		close(t->fd);
		free(t);
		return NULL;
	}
	snprintf(t->mode, sizeof(t->mode), "fanotify on %d file system%s",
	    marked, marked > 1 ? "s" : "");
	ev_io_init(&t->io, on_events, t->fd, EV_READ);
	t->io.data = t;
	ev_io_start(loop, &t->io);
	if ((s = jts_test_knob("JTS_TIER_TRACK_FLUSH")) != NULL && atof(s) > 0)
		every = atof(s);
	ev_timer_init(&t->flush, on_flush, every, every);
	t->flush.data = t;
	ev_timer_start(loop, &t->flush);
	return t;
}

void
track_stop(struct track *t)
{
	size_t i;
	int k;

	if (t == NULL)
		return;
	on_events(t->loop, &t->io, 0);
	on_flush(t->loop, &t->flush, 0);
	ev_io_stop(t->loop, &t->io);
	ev_timer_stop(t->loop, &t->flush);
	close(t->fd);
	for (k = 0; k < t->nfs; k++)
		close(t->fs[k].mountfd);
	for (i = 0; i < t->cap; i++)
		free(t->tab[i].rel);
	free(t->tab);
	free(t);
}

int
track_fd(struct track *t)
{
	return t->fd;
}

const char *
track_mode(struct track *t)
{
	return t->mode;
}
