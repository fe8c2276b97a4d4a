/* prov-verify.c - provision verify: the storage plan's validation, with
 * the exit status of check */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prov-int.h"
#include "tier-btrfs.h"
#include "tier.h"
#include "util.h"

/* ---- verify --------------------------------------------------------- */

enum { V_OK, V_WARNING, V_CRITICAL, V_UNKNOWN };
static const char *const v_names[] = { "OK", "WARNING", "CRITICAL",
	"UNKNOWN" };

static void
vline(struct vrep *v, int level, const char *tier, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
vline(struct vrep *v, int level, const char *tier, const char *fmt, ...)
{
	va_list ap;

	fprintf(v->out, "%-9s %-5s ", v_names[level], tier);
	va_start(ap, fmt);
	vfprintf(v->out, fmt, ap);
	va_end(ap);
	fputc('\n', v->out);
	v->n[level]++;
	if (level > v->status)
		v->status = level;
}

/* Run argv for verify: its exit status, the tail of its output in *t. */
static int
vrun(char *const argv[], char **t)
{
	char *out = NULL;
	int r = prov_run(argv, &out);

	*t = r < 0 ? xasprintf("cannot run %s: %s", argv[0], strerror(-r)) :
	    tail_lines(out, 3);
	free(out);
	return r;
}

/* Read-only file system check; mounted file systems by what they report. */
static void
verify_clean(struct vrep *v, const char *tier, const char *dev,
    const char *fs, const char *target)
{
	char *t = NULL, *out = NULL, *st;
	int r;

	if (target != NULL && strcmp(fs, "ext4") == 0) {
		char *a[] = { "dumpe2fs", "-h", (char *)dev, NULL };
		r = prov_run(a, &out);
		st = out ? strstr(out, "Filesystem state:") : NULL;
		if (r != 0 || st == NULL)
			vline(v, V_UNKNOWN, tier, "%s: dumpe2fs -h exited %d: "
			    "cannot read its state", dev, r);
		else {
			st += strlen("Filesystem state:");
			st += strspn(st, " ");
			st[strcspn(st, "\n")] = '\0';
			vline(v, strcmp(st, "clean") == 0 ? V_OK : V_CRITICAL,
			    tier, "%s: ext4 %s (superblock state; mounted, so "
			    "no e2fsck)", dev, st);
		}
		free(out);
		return;
	}
	if (target != NULL && strcmp(fs, "btrfs") == 0) {
		char *a[] = { "btrfs", "device", "stats", "-c", (char *)target,
		    NULL };
		r = vrun(a, &t);
		vline(v, r == 0 ? V_OK : r == 64 ? V_CRITICAL : V_UNKNOWN, tier,
		    "%s: btrfs %s (device error counters; mounted, so no btrfs "
		    "check)", dev, r == 0 ? "clean" : t);
		free(t);
		return;
	}
	if (target != NULL) {
		vline(v, V_OK, tier, "%s: %s mounted: xfs_repair -n needs it "
		    "unmounted, not checked", dev, fs);
		return;
	}
	if (strcmp(fs, "ext4") == 0) {
		char *a[] = { "e2fsck", "-n", (char *)dev, NULL };
		r = vrun(a, &t);
	} else if (strcmp(fs, "xfs") == 0) {
		char *a[] = { "xfs_repair", "-n", (char *)dev, NULL };
		r = vrun(a, &t);
	} else {
		char *a[] = { "btrfs", "check", "--readonly", (char *)dev,
		    NULL };
		r = vrun(a, &t);
	}
	vline(v, r == 0 ? V_OK : r < 0 ? V_UNKNOWN : V_CRITICAL, tier,
	    "%s: %s %s (read-only check)", dev, fs, r == 0 ? "clean" : t);
	free(t);
}

/* Whether every declared option shows in the mount's options. */
static void
verify_options(struct vrep *v, const char *tier, const struct mnt *mt,
    const char *declared)
{
	static const char *const fstab_only[] = { "defaults", "auto",
	    "noauto", "nofail", "_netdev", "user", "users", "nouser",
	    "owner", "group", NULL };
	char *d = xstrdup(declared), *o, *save = NULL, *have, *missing;
	size_t i;
	bool skip;

	have = xasprintf(",%s,%s,", mt->opts, mt->superopts);
	missing = xstrdup("");
	for (o = strtok_r(d, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		char *key = xasprintf(",%s,", o), *n;
		skip = strncmp(o, "x-", 2) == 0 || strncmp(o, "comment=", 8) ==
		    0;
		for (i = 0; fstab_only[i] && !skip; i++)
			skip = strcmp(o, fstab_only[i]) == 0;
		if (strncmp(o, "nfsvers=", 8) == 0) {
			free(key);
			key = xasprintf(",vers=%s,", o + 8);
		}
		if (!skip && strstr(have, key) == NULL) {
			n = xasprintf("%s%s%s", missing, *missing ? "," : "",
			    o);
			free(missing);
			missing = n;
		}
		free(key);
	}
	if (*missing)
		vline(v, V_WARNING, tier, "%s: mounted without %s (has %s)",
		    jts_quote(mt->target), missing, mt->opts);
	else
		vline(v, V_OK, tier, "%s: options %s", jts_quote(mt->target),
		    declared);
	free(missing);
	free(have);
	free(d);
}

/* Whether user can create and remove a file in dir. */
static int
try_write(const char *dir, uid_t uid, gid_t gid)
{
	pid_t pid;
	int st;

	if ((pid = fork()) < 0)
		return -errno;
	if (pid == 0) {
		char *f = xasprintf("%s/.jts-tier-verify.%d", dir,
		    (int)getpid());
		int fd;
		if (setgroups(0, NULL) != 0 || setgid(gid) != 0 ||
		    setuid(uid) != 0)
			_exit(EPERM);
		if ((fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) < 0)
			_exit(errno & 0xff);
		if (write(fd, "x", 1) != 1) {
			close(fd);
			unlink(f);
			_exit(EIO);
		}
		close(fd);
		_exit(unlink(f) == 0 ? 0 : (errno & 0xff));
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st))
		return -EINTR;
	return -WEXITSTATUS(st);
}

static void
verify_owner(struct vrep *v, const char *tier, const char *path,
    const struct mf_owner *o)
{
	struct stat st;
	uid_t uid = 0;
	gid_t gid = 0;
	char *why = NULL;
	int r;

	if (o->user == NULL && !o->has_mode)
		return;
	if (lstat(path, &st) != 0) {
		vline(v, V_CRITICAL, tier, "%s: %s", jts_quote(path),
		    strerror(errno));
		return;
	}
	if (o->user != NULL && resolve_owner(o, &uid, &gid, &why) != 0) {
		vline(v, V_CRITICAL, tier, "%s: %s", jts_quote(path), why);
		free(why);
		return;
	}
	if ((o->user != NULL && (st.st_uid != uid || st.st_gid != gid)) ||
	    (o->has_mode && (st.st_mode & 07777) != o->mode))
		vline(v, V_WARNING, tier, "%s: owner %u:%u mode %04o, declared "
		    "%s%s%s mode %04o", jts_quote(path), (unsigned)st.st_uid,
		    (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777),
		    o->user ? o->user : "-", o->group ? ":" : "",
		    o->group ? o->group : "", (unsigned)(o->has_mode ?
		    o->mode : (st.st_mode & 07777)));
	else
		vline(v, V_OK, tier, "%s: owner and mode as declared",
		    jts_quote(path));
	if (o->user == NULL)
		return;
	r = try_write(path, uid, gid);
	if (r == 0)
		vline(v, V_OK, tier, "%s: %s can write it", jts_quote(path),
		    o->user);
	else
		vline(v, V_CRITICAL, tier, "%s: %s cannot write it: %s",
		    jts_quote(path), o->user, strerror(-r));
}

/* One file system: present, its type, clean, mounted as declared. */
static void
verify_volume(struct prov *p, struct vrep *v, const char *tier,
    const struct mf_volume *vol, const char *fs)
{
	char *dev = manifest_volume_dev(p->m, vol), *target, *opts;
	struct mnt *mv = NULL;
	struct stat st;
	struct sig sg;
	int n, i;

	target = rooted(p, vol->mount);
	if (stat(dev, &st) != 0 || !S_ISBLK(st.st_mode)) {
		vline(v, V_CRITICAL, tier, "%s: missing (%s)", dev,
		    strerror(errno ? errno : ENOTBLK));
		goto out;
	}
	if (dev_signature(dev, &sg) != 0 || sg.type == NULL ||
	    strcmp(sg.type, fs) != 0) {
		vline(v, V_CRITICAL, tier, "%s: holds %s, declared %s", dev,
		    sg.type ? sg.type : "no file system", fs);
		sig_free(&sg);
		goto out;
	}
	vline(v, V_OK, tier, "%s: %s%s%s", dev, fs, sg.label ? " label " : "",
	    sg.label ? sg.label : "");
	if (vol->label != NULL && (sg.label == NULL || strcmp(sg.label,
	    vol->label) != 0))
		vline(v, V_WARNING, tier, "%s: label %s, declared %s", dev,
		    sg.label ? sg.label : "(none)", vol->label);
	sig_free(&sg);
	n = mounts_load(&mv);
	i = n >= 0 ? mount_at(mv, n, target) : -1;
	if (i >= 0 && !mount_of_dev(&mv[i], st.st_rdev, false))
		i = -1;
	verify_clean(v, tier, dev, fs, i >= 0 ? target : NULL);
	if (i < 0)
		vline(v, V_CRITICAL, tier, "%s: not mounted on %s", dev,
		    jts_quote(target));
	else {
		opts = manifest_volume_options(vol);
		verify_options(v, tier, &mv[i], opts);
		free(opts);
	}
	if (n >= 0)
		mounts_free(mv, n);
	if (i >= 0)
		verify_owner(v, tier, target, &vol->own);
out:
	free(target);
	free(dev);
}

static void
verify_fstab(struct prov *p, struct vrep *v, const char *tier)
{
	char *cur = jts_read_file(p->fstab, NULL), *lines, *blk;
	size_t s, e;
	bool known;

	if (cur == NULL) {
		vline(v, V_CRITICAL, tier, "%s: %s", p->fstab, strerror(errno));
		return;
	}
	lines = fstab_block(p, tier, &known);
	blk = block_text(p, tier, lines);
	if (!block_find(cur, tier, &s, &e))
		vline(v, V_WARNING, tier, "%s: no jts-tier %s block: the "
		    "mounts will not come back after a reboot", p->fstab, tier);
	else if (e - s != strlen(blk) || memcmp(cur + s, blk, e - s) != 0)
		vline(v, V_WARNING, tier, "%s: the jts-tier %s block differs "
		    "from the manifest (apply rewrites it)", p->fstab, tier);
	else
		vline(v, V_OK, tier, "%s: jts-tier %s block as declared",
		    p->fstab, tier);
	free(lines);
	free(blk);
	free(cur);
}

static void
verify_tune(struct vrep *v, const char *tier, const char *dev,
    const struct mf_tune *t)
{
	char *q = queue_dir(dev), *path, *val;
	const char *want[2] = { t->scheduler, NULL };
	const char *attr[2] = { "scheduler", "read_ahead_kb" };
	char ra[16];
	int i;

	if (t->read_ahead_kb >= 0) {
		snprintf(ra, sizeof(ra), "%d", t->read_ahead_kb);
		want[1] = ra;
	}
	for (i = 0; i < 2; i++) {
		if (want[i] == NULL)
			continue;
		if (q == NULL) {
			vline(v, V_CRITICAL, tier, "%s: no queue in sysfs",
			    dev);
			return;
		}
		path = xasprintf("%s/%s", q, attr[i]);
		val = sysfs_value(path);
		if (val != NULL && strcmp(val, want[i]) == 0)
			vline(v, V_OK, tier, "%s: %s %s", dev, attr[i], val);
		else
			vline(v, V_WARNING, tier, "%s: %s is %s, declared %s",
			    dev, attr[i], val ? val : "unreadable", want[i]);
		free(val);
		free(path);
	}
	free(q);
}

/* The NAS: reached through its tier's client, a file written durably
 * and read back. */
static void
verify_nas(struct vrep *v, const char *url, int timeout)
{
	struct tier_conf tc;
	struct tier t;
	char *rel = xasprintf(".jts-tier-verify.%d", (int)getpid());
	const uint64_t size = 4u << 20;
	int64_t wns = 0, rns = 0;
	char why[1024] = "";
	const char *u;
	unsigned char *buf;
	int fd, r;
	uint64_t i;

	memset(&tc, 0, sizeof(tc));
	tc.name = "cold";
	tc.kind = TIER_NFS;
	tc.url = (char *)url;
	tc.timeout = timeout;
	tc.inflight = 0;	/* the client's default */
	tier_init_tc(&t, &tc);
	if ((u = tier_unreachable(&t)) != NULL) {
		vline(v, V_CRITICAL, "cold", "%s", u);
		goto out;
	}
	vline(v, V_OK, "cold", "%s: reachable (%s tier, NFSv3)", url,
	    t.ops->name);
	if ((fd = memfd_create("jts-tier-verify", MFD_CLOEXEC)) < 0) {
		vline(v, V_UNKNOWN, "cold", "memfd_create: %s",
		    strerror(errno));
		goto out;
	}
	buf = xmalloc(size);
	for (i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 131 + (i >> 12));
	r = write(fd, buf, size) == (ssize_t)size ? 0 : -EIO;
	free(buf);
	if (r == 0)
		r = t.ops->probe(&t, fd, size, rel, &wns, &rns, why,
		    sizeof(why));
	else
		snprintf(why, sizeof(why), "cannot make the data in memory");
	close(fd);
	if (r != 0)
		vline(v, V_CRITICAL, "cold", "%s: cannot write, COMMIT and read "
		    "back a file: %s", url, why);
	else
		vline(v, V_OK, "cold", "%s: writable (4 MiB written, committed "
		    "and read back identical in %.0f ms)", url,
		    (double)(wns + rns) / 1e6);
out:
	tier_fini(&t);
	free(rel);
}

int
prov_verify(const struct manifest *m, const struct prov_opts *o)
{
	struct prov p;
	struct vrep v;
	char *t, *path;
	int i;

	prov_init(&p, m, o);
	memset(&v, 0, sizeof(v));
	v.out = p.out;
	fprintf(p.out, "verify %s (fstab %s):\n", m->path, p.fstab);
	if (m->vg != NULL) {
		char *a[] = { "pvs", "--noheadings", "-o", "vg_name",
		    m->hot_device, NULL };
		char *b[] = { "vgs", "--noheadings", "-o", "vg_name", m->vg,
		    NULL };
		i = vrun(a, &t);
		vline(&v, i == 0 ? V_OK : V_CRITICAL, "hot", "%s: %s",
		    m->hot_device, i == 0 ? "LVM physical volume" : t);
		free(t);
		i = vrun(b, &t);
		vline(&v, i == 0 ? V_OK : V_CRITICAL, "hot", "volume group "
		    "%s: %s", m->vg, i == 0 ? "present" : t);
		free(t);
		for (i = 0; i < m->nvols; i++) {
			if (m->vols[i].lv == NULL)
				continue;
			path = xasprintf("%s/%s", m->vg, m->vols[i].lv);
			char *c[] = { "lvs", "--noheadings", "-o", "lv_size",
			    path, NULL };
			int r = vrun(c, &t);
			vline(&v, r == 0 ? V_OK : V_CRITICAL, "hot", "logical "
			    "volume %s: %s", path, r == 0 ? "present" : t);
			free(t);
			free(path);
		}
	}
	for (i = 0; i < m->nvols; i++)
		verify_volume(&p, &v, "hot", &m->vols[i], m->vols[i].fs);
	if (m->nvols > 0)
		verify_fstab(&p, &v, "hot");
	if (m->hot_device != NULL)
		verify_tune(&v, "hot", m->hot_device, &m->hot_tune);
	if (m->has_warm) {
		verify_volume(&p, &v, "warm", &m->warm, "btrfs");
		verify_fstab(&p, &v, "warm");
		t = rooted(&p, m->warm.mount);
		for (i = 0; i < m->nsubvols; i++) {
			path = xasprintf("%s/%s", t, m->subvols[i].path);
			if (btrfs_is_subvolume(path)) {
				vline(&v, V_OK, "warm", "%s: btrfs subvolume",
				    jts_quote(path));
				verify_owner(&v, "warm", path,
				    &m->subvols[i].own);
			} else
				vline(&v, V_CRITICAL, "warm", "%s: not a btrfs "
				    "subvolume (%s)", jts_quote(path),
				    strerror(errno));
			free(path);
		}
		free(t);
		verify_tune(&v, "warm", m->warm.device, &m->warm_tune);
	}
	if (m->has_cold) {
		verify_nas(&v, m->cold_url, m->cold_timeout);
		if (m->cold_mount != NULL) {
			struct mnt *mv;
			int n = mounts_load(&mv);
			t = rooted(&p, m->cold_mount);
			i = n >= 0 ? mount_at(mv, n, t) : -1;
			if (i < 0 || strncmp(mv[i].fstype, "nfs", 3) != 0)
				vline(&v, V_CRITICAL, "cold", "%s: not an NFS "
				    "mount", jts_quote(t));
			else
				verify_options(&v, "cold", &mv[i],
				    m->cold_options);
			if (n >= 0)
				mounts_free(mv, n);
			free(t);
			verify_fstab(&p, &v, "cold");
		}
	}
	if (m->fstrim_timer) {
		struct step s;
		memset(&s, 0, sizeof(s));
		vline(&v, chk_systemctl(&p, &s) == S_DONE ? V_OK : V_WARNING,
		    "hot", "fstrim.timer %s", chk_systemctl(&p, &s) == S_DONE ?
		    "enabled" : "not enabled");
	}
	fprintf(p.out, "PROVISION %s - %d checks: %d ok, %d warning, %d "
	    "critical, %d unknown\n", v_names[v.status], v.n[0] + v.n[1] +
	    v.n[2] + v.n[3], v.n[0], v.n[1], v.n[2], v.n[3]);
	prov_free(&p);
	return v.status;
}
