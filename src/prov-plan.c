/* prov-plan.c - the plan of a manifest: its steps, each with a check, a
 * do and an undo, in order */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "prov-int.h"
#include "util.h"

void
refuse(struct step *s, char *why)
{
	s->state = S_REFUSED;
	free(s->why);
	s->why = why;
}

/* A step that writes a whole device: refuse a busy or signed one. */
static int
device_writable(struct prov *p, struct step *s, const char *ok_type)
{
	struct sig sg;
	char *why;
	int r;

	if ((why = dev_busy(s->dev)) != NULL) {
		refuse(s, why);
		return -1;
	}
	if ((r = dev_signature(s->dev, &sg)) != 0) {
		refuse(s, xasprintf("%s: cannot probe for signatures: %s",
		    s->dev, strerror(-r)));
		return -1;
	}
	if ((sg.type != NULL || sg.pttype != NULL) && !p->o->force &&
	    (ok_type == NULL || sg.type == NULL || sg.pttype != NULL ||
	    strcmp(sg.type, ok_type) != 0)) {
		why = sig_str(s->dev, &sg);
		refuse(s, xasprintf("%s: it may hold data; wipe it yourself "
		    "or use --force to overwrite it", why));
		free(why);
		sig_free(&sg);
		return -1;
	}
	sig_free(&sg);
	return 0;
}

/* Whether the journal holds a step undone by "cmd ... arg". */
static bool
journal_undoes(const struct prov *p, const char *cmd, const char *arg)
{
	json_object *u;
	size_t n;
	int i;

	for (i = 0; i < p->njrecs; i++) {
		if (!json_object_object_get_ex(p->jrecs[i], "undo", &u) ||
		    !json_object_is_type(u, json_type_array) ||
		    (n = json_object_array_length(u)) < 2)
			continue;
		if (strcmp(json_object_get_string(json_object_array_get_idx(u,
		    0)), cmd) == 0 && strcmp(json_object_get_string(
		    json_object_array_get_idx(u, n - 1)), arg) == 0)
			return true;
	}
	return false;
}

/*
 * A PV or file system already there counts as done only if this
 * provisioning made it (its journal says so): anything else on the
 * device may be someone's data.
 */
static int
chk_pv(struct prov *p, struct step *s)
{
	char *a[] = { "pvs", "--noheadings", "-o", "pv_name", s->dev, NULL };

	if (access(s->dev, F_OK) == 0 && journal_undoes(p, "pvremove",
	    s->dev) && run_ok(a))
		return S_DONE;
	return device_writable(p, s, NULL) == 0 ? S_TODO : S_REFUSED;
}

static int
chk_vg(struct prov *p, struct step *s)
{
	char *a[] = { "vgs", "--noheadings", "-o", "vg_name", p->m->vg, NULL };

	return run_ok(a) ? S_DONE : S_TODO;
}

static int
chk_lv(struct prov *p, struct step *s)
{
	char *a[] = { "lvs", "--noheadings", "-o", "lv_name", s->path, NULL };

	return run_ok(a) ? S_DONE : S_TODO;
}

static int
chk_mkfs(struct prov *p, struct step *s)
{
	struct sig sg;

	if (access(s->dev, F_OK) != 0) {
		if (s->dev_made)
			return S_TODO;
		refuse(s, xasprintf("%s: %s", s->dev, strerror(errno)));
		return S_REFUSED;
	}
	if (dev_signature(s->dev, &sg) == 0 && sg.type != NULL &&
	    strcmp(sg.type, s->fstype) == 0 && sg.pttype == NULL &&
	    journal_undoes(p, "wipefs", s->dev)) {
		sig_free(&sg);
		return S_DONE;
	}
	sig_free(&sg);
	return device_writable(p, s, NULL) == 0 ? S_TODO : S_REFUSED;
}

static int
chk_mount(struct prov *p, struct step *s)
{
	struct mnt *mv;
	struct stat st, dst;
	char first[256];
	int n, i, e, r = S_TODO;

	if ((n = mounts_load(&mv)) < 0) {
		refuse(s, xasprintf("/proc/self/mountinfo: %s",
		    strerror(errno)));
		return S_REFUSED;
	}
	i = mount_at(mv, n, s->path);
	if (i >= 0) {
		bool same;
		if (strcmp(s->fstype, "nfs") == 0)
			same = strncmp(mv[i].fstype, "nfs", 3) == 0 &&
			    strcmp(mv[i].source, s->dev) == 0;
		else
			same = stat(s->dev, &dst) == 0 &&
			    mount_of_dev(&mv[i], dst.st_rdev, false);
		if (same)
			r = S_DONE;
		else {
			refuse(s, xasprintf("%s is already a mount point of %s "
			    "(%s)", jts_quote(s->path),
			    jts_quote(mv[i].source), mv[i].fstype));
			r = S_REFUSED;
		}
	}
	mounts_free(mv, n);
	if (r != S_TODO)
		return r;
	if (lstat(s->path, &st) == 0 && S_ISDIR(st.st_mode) && !p->o->force &&
	    (e = dir_entries(s->path, first, sizeof(first))) > 0) {
		refuse(s, xasprintf("%s holds %d entr%s (%s): mounting over it "
		    "would hide them; move them away or use --force",
		    jts_quote(s->path), e, e == 1 ? "y" : "ies",
		    jts_quote(first)));
		return S_REFUSED;
	}
	return S_TODO;
}

int
chk_systemctl(struct prov *p, struct step *s)
{
	char *out = NULL;
	int r;
	char *a[] = { "systemctl", NULL, "is-enabled", "fstrim.timer", NULL };
	char *rootarg = *p->root ? xasprintf("--root=%s", p->root) : NULL;

	if (rootarg != NULL)
		a[1] = rootarg;
	else
		memmove(&a[1], &a[2], sizeof(a[0]) * 3);
	r = prov_run(a, &out);
	free(rootarg);
	r = (r == 0 && out != NULL && strncmp(out, "enabled", 7) == 0) ?
	    S_DONE : S_TODO;
	free(out);
	return r;
}

static void
add_cmd(struct prov *p, const char *tier, char **argv, char **undo,
    enum guard g, int (*check)(struct prov *, struct step *),
    const char *dev, const char *fstype, const char *path, bool dev_made)
{
	struct step *s = step_add(p, ST_CMD, tier);

	s->argv = argv;
	s->undo = undo;
	s->guard = g;
	s->check = check;
	s->dev = dev ? xstrdup(dev) : NULL;
	s->fstype = fstype ? xstrdup(fstype) : NULL;
	s->path = path ? xstrdup(path) : NULL;
	s->dev_made = dev_made;
	s->what = prov_argv_str(argv);
}

static void
add_mkfs(struct prov *p, const char *tier, const struct mf_volume *v,
    const char *dev, bool dev_made)
{
	char *mk = xasprintf("mkfs.%s", v->fs);
	const char *force = strcmp(v->fs, "ext4") == 0 ? "-F" : "-f";
	char **a;

	if (v->label != NULL && p->o->force)
		a = argv_new(mk, "-q", force, "-L", v->label, dev, NULL);
	else if (v->label != NULL)
		a = argv_new(mk, "-q", "-L", v->label, dev, NULL);
	else if (p->o->force)
		a = argv_new(mk, "-q", force, dev, NULL);
	else
		a = argv_new(mk, "-q", dev, NULL);
	add_cmd(p, tier, a, argv_new("wipefs", "-a", dev, NULL), G_FS_EMPTY,
	    chk_mkfs, dev, v->fs, NULL, dev_made);
	free(mk);
}

static void
add_mkdir(struct prov *p, const char *tier, const char *mount)
{
	struct step *s = step_add(p, ST_MKDIR, tier);

	s->path = rooted(p, mount);
	s->what = xasprintf("mkdir -p %s", jts_quote(s->path));
}

static void
add_fstab(struct prov *p, const char *tier)
{
	struct step *s = step_add(p, ST_FILE, tier);

	s->path = xstrdup(p->fstab);
	s->block = tier;
}

static void
add_mount(struct prov *p, const char *tier, const char *src,
    const char *fstype, const char *opts, const char *mount)
{
	char *t = rooted(p, mount);

	add_cmd(p, tier, argv_new("mount", "-t", fstype, "-o", opts, src, t,
	    NULL), argv_new("umount", t, NULL), strcmp(fstype, "nfs") ?
	    G_MOUNT_EMPTY : G_NONE, chk_mount, src, fstype, t, false);
	free(t);
}

static void
add_owner(struct prov *p, const char *tier, const char *path,
    const struct mf_owner *o)
{
	struct step *s;

	if (o->user == NULL && !o->has_mode)
		return;
	s = step_add(p, ST_OWNER, tier);
	s->path = xstrdup(path);
	s->set_owner = o->user != NULL;
	s->set_mode = o->has_mode;
	s->mode = o->mode;
	s->own = o;
	if (s->set_owner && s->set_mode)
		s->what = xasprintf("chown %s%s%s %s; chmod %04o %s", o->user,
		    o->group ? ":" : "", o->group ? o->group : "",
		    jts_quote(path), (unsigned)o->mode, jts_quote(path));
	else if (s->set_owner)
		s->what = xasprintf("chown %s%s%s %s", o->user,
		    o->group ? ":" : "", o->group ? o->group : "",
		    jts_quote(path));
	else
		s->what = xasprintf("chmod %04o %s", (unsigned)o->mode,
		    jts_quote(path));
}

/* The sysfs queue directory of the disk dev is on. */
char *
queue_dir(const char *dev)
{
	struct stat st;
	char path[128];
	dev_t d;

	if (stat(dev, &st) != 0 || !S_ISBLK(st.st_mode))
		return NULL;
	d = whole_disk(st.st_rdev);
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue", major(d),
	    minor(d));
	return realpath(path, NULL);
}

static void
add_tune(struct prov *p, const char *tier, const char *dev,
    const struct mf_tune *t)
{
	char *q = queue_dir(dev);
	struct step *s;

	if (t->scheduler != NULL) {
		s = step_add(p, ST_SYSFS, tier);
		s->dev = xstrdup(dev);
		s->path = q ? xasprintf("%s/scheduler", q) : NULL;
		s->value = xstrdup(t->scheduler);
	}
	if (t->read_ahead_kb >= 0) {
		s = step_add(p, ST_SYSFS, tier);
		s->dev = xstrdup(dev);
		s->path = q ? xasprintf("%s/read_ahead_kb", q) : NULL;
		s->value = xasprintf("%d", t->read_ahead_kb);
	}
	free(q);
}

/* The udev rule that keeps the tuning across reboots. */
static char *
udev_rules(const struct prov *p)
{
	const struct manifest *m = p->m;
	const struct { const char *dev; const struct mf_tune *t; } d[] = {
		{ m->hot_device, &m->hot_tune },
		{ m->has_warm ? m->warm.device : NULL, &m->warm_tune },
	};
	char *mp = jts_path_abs(m->path);
	char *buf = xasprintf("# I/O tuning of the tiers' disks, written by "
	    "jts-tierctl provision from\n# %s; rollback removes it.\n",
	    mp ? mp : m->path), *n, *real, attrs[128];
	size_t i;

	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		if (d[i].dev == NULL || (d[i].t->scheduler == NULL &&
		    d[i].t->read_ahead_kb < 0))
			continue;
		real = realpath(d[i].dev, NULL);
		attrs[0] = '\0';
		if (d[i].t->scheduler != NULL)
			snprintf(attrs, sizeof(attrs),
			    ", ATTR{queue/scheduler}=\"%s\"", d[i].t->scheduler);
		if (d[i].t->read_ahead_kb >= 0)
			snprintf(attrs + strlen(attrs), sizeof(attrs) -
			    strlen(attrs), ", ATTR{queue/read_ahead_kb}=\"%d\"",
			    d[i].t->read_ahead_kb);
		n = xasprintf("%sACTION==\"add|change\", SUBSYSTEM==\"block\", "
		    "KERNEL==\"%s\"%s\n", buf, base_name(real ? real :
		    d[i].dev), attrs);
		free(real);
		free(buf);
		buf = n;
	}
	free(mp);
	return buf;
}

void
prov_build(struct prov *p)
{
	const struct manifest *m = p->m;
	const struct mf_volume *v;
	struct step *s;
	char *dev, *opts, *t, *lv, size[32];
	bool tune = false;
	int i;

	if (m->vg != NULL) {
		add_cmd(p, "hot", argv_new("pvcreate", m->hot_device, NULL),
		    argv_new("pvremove", "-y", m->hot_device, NULL), G_NONE,
		    chk_pv, m->hot_device, NULL, NULL, false);
		add_cmd(p, "hot", argv_new("vgcreate", m->vg, m->hot_device,
		    NULL), argv_new("vgremove", m->vg, NULL), G_VG_EMPTY,
		    chk_vg, NULL, NULL, m->vg, false);
		for (i = 0; i < m->nvols; i++) {
			v = &m->vols[i];
			if (v->lv == NULL)
				continue;
			lv = xasprintf("%s/%s", m->vg, v->lv);
			snprintf(size, sizeof(size), "%" PRIu64 "b", v->size);
			add_cmd(p, "hot", argv_new("lvcreate", "--yes", "-Wy",
			    "-n", v->lv, "-L", size, m->vg, NULL),
			    argv_new("lvremove", "-y", lv, NULL), G_NONE,
			    chk_lv, NULL, NULL, lv, false);
			free(lv);
		}
	}
	for (i = 0; i < m->nvols; i++) {
		dev = manifest_volume_dev(m, &m->vols[i]);
		add_mkfs(p, "hot", &m->vols[i], dev, m->vols[i].lv != NULL);
		free(dev);
	}
	for (i = 0; i < m->nvols; i++)
		add_mkdir(p, "hot", m->vols[i].mount);
	if (m->nvols > 0)
		add_fstab(p, "hot");
	for (i = 0; i < m->nvols; i++) {
		v = &m->vols[i];
		dev = manifest_volume_dev(m, v);
		opts = manifest_volume_options(v);
		add_mount(p, "hot", dev, v->fs, opts, v->mount);
		t = rooted(p, v->mount);
		add_owner(p, "hot", t, &v->own);
		free(t);
		free(opts);
		free(dev);
	}
	if (m->hot_device != NULL) {
		add_tune(p, "hot", m->hot_device, &m->hot_tune);
		tune = tune || m->hot_tune.scheduler != NULL ||
		    m->hot_tune.read_ahead_kb >= 0;
	}
	if (m->fstrim_timer) {
		char **a, **u;
		if (*p->root) {
			t = xasprintf("--root=%s", p->root);
			a = argv_new("systemctl", t, "enable", "fstrim.timer",
			    NULL);
			u = argv_new("systemctl", t, "disable", "fstrim.timer",
			    NULL);
			free(t);
		} else {
			a = argv_new("systemctl", "enable", "--now",
			    "fstrim.timer", NULL);
			u = argv_new("systemctl", "disable", "--now",
			    "fstrim.timer", NULL);
		}
		add_cmd(p, "hot", a, u, G_NONE, chk_systemctl, NULL, NULL,
		    NULL, false);
	}
	if (m->has_warm) {
		v = &m->warm;
		add_mkfs(p, "warm", v, v->device, false);
		add_mkdir(p, "warm", v->mount);
		add_fstab(p, "warm");
		opts = manifest_volume_options(v);
		add_mount(p, "warm", v->device, "btrfs", opts, v->mount);
		free(opts);
		t = rooted(p, v->mount);
		add_owner(p, "warm", t, &v->own);
		for (i = 0; i < m->nsubvols; i++) {
			s = step_add(p, ST_SUBVOL, "warm");
			s->path = xasprintf("%s/%s", t, m->subvols[i].path);
			s->what = xasprintf("btrfs subvolume create %s",
			    jts_quote(s->path));
			add_owner(p, "warm", s->path, &m->subvols[i].own);
		}
		free(t);
		add_tune(p, "warm", v->device, &m->warm_tune);
		tune = tune || m->warm_tune.scheduler != NULL ||
		    m->warm_tune.read_ahead_kb >= 0;
	}
	if (m->has_cold && m->cold_mount != NULL) {
		add_mkdir(p, "cold", m->cold_mount);
		add_fstab(p, "cold");
		add_mount(p, "cold", m->cold_source, "nfs", m->cold_options,
		    m->cold_mount);
	}
	if (tune) {
		s = step_add(p, ST_FILE, m->hot_device ? "hot" : "warm");
		s->path = xstrdup(p->udev);
	}
}

int
file_check(struct prov *p, struct step *s, char **want, char **cur)
{
	char *lines, *blk;
	bool known = true;

	*want = *cur = NULL;
	if ((*cur = jts_read_file(s->path, NULL)) == NULL) {
		if (s->block != NULL || errno != ENOENT) {
			refuse(s, xasprintf("%s: %s", s->path,
			    strerror(errno)));
			return S_REFUSED;
		}
		*cur = NULL;
	}
	if (s->block != NULL) {
		lines = fstab_block(p, s->block, &known);
		blk = block_text(p, s->block, lines);
		*want = block_put(*cur, s->block, blk);
		free(s->what);
		s->what = xasprintf("%s: %s block \"%s\":\n%s", s->path,
		    *cur && strstr(*cur, BLOCK_BEGIN) && strstr(*cur,
		    s->block) ? "replace the" : "add the", s->block, blk);
		free(lines);
		free(blk);
	} else {
		*want = udev_rules(p);
		free(s->what);
		s->what = xasprintf("write %s:\n%s", s->path, *want);
	}
	if (known && *cur != NULL && strcmp(*cur, *want) == 0)
		return S_DONE;
	return S_TODO;
}
