/* prov-steps.c - each kind of provisioning step: its check, what doing
 * it is, and its undo from the journal record; one step_ops entry each */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prov-int.h"
#include "tier-btrfs.h"
#include "util.h"

/* The value in a sysfs attribute's text: the bracketed one of a list. */
static char *
sysfs_pick(const char *text)
{
	const char *b = strchr(text, '['), *e;

	if (b != NULL && (e = strchr(b, ']')) != NULL)
		return xasprintf("%.*s", (int)(e - b - 1), b + 1);
	return xasprintf("%.*s", (int)strcspn(text, "\n"), text);
}

/* The value a sysfs attribute holds. */
char *
sysfs_value(const char *path)
{
	char *buf = jts_read_file(path, NULL), *v;

	if (buf == NULL)
		return NULL;
	v = sysfs_pick(buf);
	free(buf);
	return v;
}

/* Whether word is one of the blank-separated words of list ([x] too). */
static bool
word_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || strchr(" [", p[-1]) != NULL) &&
		    strchr(" ]", p[n]) != NULL)
			return true;
	return false;
}

static int
check_cmd(struct prov *p, struct step *s)
{
	return s->check(p, s);
}

static int
check_mkdir(struct prov *p, struct step *s)
{
	struct stat st;

	(void)p;
	if (lstat(s->path, &st) != 0)
		return S_TODO;
	if (S_ISDIR(st.st_mode))
		return S_DONE;
	refuse(s, xasprintf("%s exists and is not a directory",
	    jts_quote(s->path)));
	return S_REFUSED;
}

static int
check_file(struct prov *p, struct step *s)
{
	char *want, *cur;
	int r;

	r = file_check(p, s, &want, &cur);
	free(want);
	free(cur);
	return r;
}

static int
check_owner(struct prov *p, struct step *s)
{
	struct stat st;
	char *why = NULL;

	(void)p;
	if (s->set_owner && resolve_owner(s->own, &s->uid, &s->gid, &why) !=
	    0) {
		refuse(s, why);
		return S_REFUSED;
	}
	if (lstat(s->path, &st) != 0)
		return S_TODO;
	if (!S_ISDIR(st.st_mode)) {
		refuse(s, xasprintf("%s is not a directory",
		    jts_quote(s->path)));
		return S_REFUSED;
	}
	if ((!s->set_owner || (st.st_uid == s->uid && st.st_gid == s->gid)) &&
	    (!s->set_mode || (st.st_mode & 07777) == s->mode))
		return S_DONE;
	return S_TODO;
}

static int
check_subvol(struct prov *p, struct step *s)
{
	struct stat st;

	(void)p;
	if (lstat(s->path, &st) != 0)
		return S_TODO;
	if (btrfs_is_subvolume(s->path))
		return S_DONE;
	refuse(s, xasprintf("%s exists and is not a btrfs subvolume: move it "
	    "away first", jts_quote(s->path)));
	return S_REFUSED;
}

static int
check_sysfs(struct prov *p, struct step *s)
{
	char *v, *list;
	int r;

	(void)p;
	free(s->what);
	s->what = xasprintf("echo %s > %s", s->value, s->path ? s->path :
	    "/sys/block/?/queue/...");
	if (s->path == NULL) {
		refuse(s, xasprintf("%s: not a block device with a queue in "
		    "sysfs", s->dev));
		return S_REFUSED;
	}
	/* One read: the value, and for a scheduler its choices. */
	if ((list = jts_read_file(s->path, NULL)) == NULL) {
		refuse(s, xasprintf("%s: %s", s->path, strerror(errno)));
		return S_REFUSED;
	}
	list[strcspn(list, "\n")] = '\0';
	v = sysfs_pick(list);
	r = strcmp(v, s->value) == 0 ? S_DONE : S_TODO;
	free(v);
	if (r == S_TODO && strstr(s->path, "/scheduler") != NULL &&
	    !word_in(list, s->value)) {
		refuse(s, xasprintf("I/O scheduler %s is not offered for %s "
		    "(offered: %s)", s->value, s->dev, list));
		r = S_REFUSED;
	}
	free(list);
	return r;
}

/*
 * Each kind of step: its name in the journal, its check (S_TODO, S_DONE
 * or S_REFUSED with s->why), what doing it is (the record gets what undo
 * needs) and its undo from that record (0 done, 1 nothing left, -1).
 */
struct step_ops {
	const char	*name;
	int		(*check)(struct prov *, struct step *);
	int		(*run)(struct prov *, struct step *, json_object *rec,
			    char **err);
	int		(*undo)(struct prov *, json_object *rec, char **err);
};
#define ST_NKINDS	(ST_SYSFS + 1)
static const struct step_ops step_ops[ST_NKINDS];

int
step_check(struct prov *p, struct step *s)
{
	int r;

	s->state = S_TODO;
	free(s->why);
	s->why = NULL;
	r = (unsigned)s->kind < ST_NKINDS ? step_ops[s->kind].check(p, s) :
	    S_REFUSED;
	if (r == S_REFUSED && s->why == NULL)
		s->why = xstrdup("refused");
	s->state = r;
	return r;
}

/* ---- doing a step --------------------------------------------------- */

/* Whether the kernel has device-mapper (a misc device once loaded). */
static bool
have_device_mapper(void)
{
	char *misc = jts_read_file("/proc/misc", NULL);
	bool r = misc == NULL || strstr(misc, " device-mapper\n") != NULL;

	free(misc);
	return r;
}

/* A hint for a command's failure, where the cause is known. */
static const char *
cmd_hint(char *const argv[], const char *out)
{
	if (out != NULL && strstr(out, "device-mapper") != NULL &&
	    !have_device_mapper())
		return "this kernel has no device-mapper support (no "
		    "device-mapper in /proc/misc), which logical volumes "
		    "need: load it (modprobe dm_mod) or use a kernel built "
		    "with CONFIG_BLK_DEV_DM";
	if (strcmp(argv[0], "mount") == 0 && out != NULL &&
	    strstr(out, "unknown filesystem type") != NULL)
		return "the kernel lacks this file system: load its module "
		    "(for nfs, install nfs-common and modprobe nfs)";
	return NULL;
}

static json_object *
jstr_array(char **v)
{
	json_object *a = json_object_new_array();

	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

static int
do_cmd(struct prov *p, struct step *s, json_object *rec, char **err)
{
	char *out = NULL, *t;
	const char *hint;
	int r;

	json_object_object_add(rec, "undo", jstr_array(s->undo));
	json_object_object_add(rec, "guard", json_object_new_int(s->guard));
	if (s->dev != NULL)
		json_object_object_add(rec, "dev",
		    json_object_new_string(s->dev));
	if (s->fstype != NULL)
		json_object_object_add(rec, "fstype",
		    json_object_new_string(s->fstype));
	if (s->path != NULL)
		json_object_object_add(rec, "path",
		    json_object_new_string(s->path));
	if (intent(p, rec, err) != 0)
		return -1;
	r = prov_run(s->argv, &out);
	if (r != 0) {
		t = tail_lines(out, 4);
		hint = cmd_hint(s->argv, out);
		if (r < 0)
			*err = xasprintf("%s: cannot run: %s", s->argv[0],
			    strerror(-r));
		else
			*err = xasprintf("%s exited %d: %s%s%s", s->argv[0], r,
			    t, hint ? "\n  " : "", hint ? hint : "");
		free(t);
		free(out);
		return -1;
	}
	free(out);
	return 0;
}

/* The directories mkdir -p dir would make, outermost first, into made. */
static int
missing_dirs(const char *dir, json_object *made, char **err)
{
	char *path = xstrdup(dir), *c, save;
	struct stat st;
	bool gone = false;

	for (c = path + 1;; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		save = *c;
		*c = '\0';
		if (gone || lstat(path, &st) != 0) {
			gone = true;
			json_object_array_add(made,
			    json_object_new_string(path));
		} else if (!S_ISDIR(st.st_mode)) {
			*err = xasprintf("%s is not a directory",
			    jts_quote(path));
			free(path);
			return -1;
		}
		*c = save;
		if (save == '\0')
			break;
	}
	free(path);
	return 0;
}

static int
make_dirs(json_object *made, char **err)
{
	const char *d;
	size_t i;

	for (i = 0; i < json_object_array_length(made); i++) {
		d = json_object_get_string(json_object_array_get_idx(made, i));
		if (mkdir(d, 0755) != 0 && errno != EEXIST) {
			*err = xasprintf("mkdir %s: %s", jts_quote(d),
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* mkdir -p path, naming each directory made in made. */
int
mkdirs(const char *dir, json_object *made, char **err)
{
	if (missing_dirs(dir, made, err) != 0)
		return -1;
	return make_dirs(made, err);
}

static int
do_mkdir(struct prov *p, struct step *s, json_object *rec, char **err)
{
	json_object *made = json_object_new_array();

	json_object_object_add(rec, "made", made);
	if (missing_dirs(s->path, made, err) != 0 || intent(p, rec, err) != 0)
		return -1;
	return make_dirs(made, err);
}

/* findmnt --verify on a candidate fstab; NULL if it passes. */
static char *
fstab_verify(const char *path)
{
	char *a[] = { "findmnt", "--verify", "--tab-file", (char *)path,
	    NULL };
	char *out = NULL, *why = NULL;
	int r;

	r = prov_run(a, &out);
	if (r != 0)
		why = r < 0 ? xasprintf("findmnt: cannot run: %s",
		    strerror(-r)) : tail_lines(out, 6);
	free(out);
	return why;
}

static int
do_file(struct prov *p, struct step *s, json_object *rec, char **err)
{
	char *want = NULL, *cur = NULL, *bak = NULL, *cand, *why, *old;
	json_object *made;
	char hex[33];
	int r;

	if (file_check(p, s, &want, &cur) == S_REFUSED) {
		*err = xstrdup(s->why);
		goto fail;
	}
	if (s->block != NULL && strstr(want, "UUID=<") != NULL) {
		*err = xasprintf("%s: the new file system's UUID cannot be "
		    "read (blkid)", s->path);
		goto fail;
	}
	if (cur != NULL) {
		bak = xasprintf("%s.%" PRId64 ".bak", p->journal, jts_now_ns());
		if ((r = write_atomic(bak, cur, strlen(cur), 0600)) != 0) {
			*err = xasprintf("%s: cannot back up %s: %s", bak,
			    s->path, strerror(-r));
			goto fail;
		}
	}
	if (s->block != NULL) {
		cand = xasprintf("%s.jts-tier.verify", s->path);
		r = write_atomic(cand, want, strlen(want), 0644);
		why = r != 0 ? xasprintf("%s: %s", cand, strerror(-r)) :
		    fstab_verify(cand);
		unlink(cand);
		free(cand);
		if (why != NULL) {
			old = fstab_verify(s->path);
			*err = xasprintf("findmnt --verify rejects %s with the "
			    "\"%s\" block, so it was left as it was: %s%s",
			    s->path, s->block, why, old ? " (it rejects the "
			    "current file too: fix that first)" : "");
			free(old);
			free(why);
			goto fail;
		}
	}
	hash_hex(want, strlen(want), hex);
	json_object_object_add(rec, "path", json_object_new_string(s->path));
	json_object_object_add(rec, "backup", bak ?
	    json_object_new_string(bak) : NULL);
	json_object_object_add(rec, "hash", json_object_new_string(hex));
	json_object_object_add(rec, "block", s->block ?
	    json_object_new_string(s->block) : NULL);
	made = json_object_new_array();
	json_object_object_add(rec, "made", made);
	if (s->block == NULL) {
		char *dir = xstrdup(s->path);
		*strrchr(dir, '/') = '\0';
		r = missing_dirs(dir, made, err);
		free(dir);
		if (r != 0)
			goto fail;
	}
	if (intent(p, rec, err) != 0)
		goto fail;
	/* From here the journal holds the backup: it stays. */
	free(bak);
	bak = NULL;
	if (make_dirs(made, err) != 0)
		return -1;
	if ((r = write_atomic(s->path, want, strlen(want), 0644)) != 0) {
		*err = xasprintf("%s: cannot write: %s", s->path,
		    strerror(-r));
		free(want);
		free(cur);
		return -1;
	}
	free(bak);
	free(want);
	free(cur);
	return 0;
fail:
	if (bak != NULL)
		unlink(bak);
	free(bak);
	free(want);
	free(cur);
	return -1;
}

static int
do_owner(struct prov *p, struct step *s, json_object *rec, char **err)
{
	struct stat st;
	int fd;

	if ((fd = open(s->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		*err = xasprintf("%s: %s", jts_quote(s->path),
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	json_object_object_add(rec, "path", json_object_new_string(s->path));
	json_object_object_add(rec, "uid", json_object_new_int64(st.st_uid));
	json_object_object_add(rec, "gid", json_object_new_int64(st.st_gid));
	json_object_object_add(rec, "mode",
	    json_object_new_int(st.st_mode & 07777));
	if (intent(p, rec, err) != 0) {
		close(fd);
		return -1;
	}
	if ((s->set_owner && fchown(fd, s->uid, s->gid) != 0) ||
	    (s->set_mode && fchmod(fd, s->mode) != 0)) {
		*err = xasprintf("%s: %s: %s", jts_quote(s->path),
		    s->set_owner ? "chown" : "chmod", strerror(errno));
		/* Put back what may have changed. */
		(void)fchown(fd, st.st_uid, st.st_gid);
		(void)fchmod(fd, st.st_mode & 07777);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
do_subvol(struct prov *p, struct step *s, json_object *rec, char **err)
{
	json_object_object_add(rec, "path", json_object_new_string(s->path));
	if (intent(p, rec, err) != 0)
		return -1;
	return btrfs_subvolume_create(s->path, err);
}

static int
sysfs_write(const char *path, const char *value)
{
	int fd, r = 0;
	ssize_t n;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	if (n != (ssize_t)strlen(value))
		r = n < 0 ? -errno : -EIO;
	close(fd);
	return r;
}

static int
do_sysfs(struct prov *p, struct step *s, json_object *rec, char **err)
{
	char *old = sysfs_value(s->path);
	int r;

	if (old == NULL) {
		*err = xasprintf("%s: %s", s->path, strerror(errno));
		return -1;
	}
	json_object_object_add(rec, "path", json_object_new_string(s->path));
	json_object_object_add(rec, "old", json_object_new_string(old));
	free(old);
	if (intent(p, rec, err) != 0)
		return -1;
	if ((r = sysfs_write(s->path, s->value)) != 0) {
		*err = xasprintf("echo %s > %s: %s", s->value, s->path,
		    strerror(-r));
		return -1;
	}
	return 0;
}

int
step_do(struct prov *p, struct step *s, json_object *rec, char **err)
{
	json_object_object_add(rec, "kind",
	    json_object_new_string(step_ops[s->kind].name));
	json_object_object_add(rec, "tier", json_object_new_string(s->tier));
	json_object_object_add(rec, "what", json_object_new_string(s->what));
	json_object_object_add(rec, "at",
	    json_object_new_int64(jts_now_ns() / 1000000000));
	return step_ops[s->kind].run(p, s, rec, err);
}

/* ---- undoing a step ------------------------------------------------- */

/* Mount dev read-only on a private directory and count what it holds. */
static int
fs_entries(const char *dev, const char *fstype, char *first, size_t len,
    char **err)
{
	char tmpl[] = "/run/jts-tier-provision.XXXXXX";
	char tmpl2[] = "/tmp/jts-tier-provision.XXXXXX";
	char *dir, *out = NULL, *t;
	int n, r;

	if ((dir = mkdtemp(tmpl)) == NULL && (dir = mkdtemp(tmpl2)) == NULL) {
		*err = xasprintf("cannot make a directory to look into %s: %s",
		    dev, strerror(errno));
		return -1;
	}
	char *a[] = { "mount", "-o", "ro", "-t", (char *)fstype, (char *)dev,
	    dir, NULL };
	if ((r = prov_run(a, &out)) != 0) {
		t = tail_lines(out, 2);
		*err = xasprintf("cannot mount %s read-only to see whether it "
		    "holds data: %s", dev, t);
		free(t);
		free(out);
		rmdir(dir);
		return -1;
	}
	free(out);
	n = dir_entries(dir, first, len);
	char *u[] = { "umount", dir, NULL };
	(void)prov_run(u, NULL);
	rmdir(dir);
	return n;
}

static int
undo_cmd(struct prov *p, json_object *rec, char **err)
{
	json_object *ja;
	char **argv, *out = NULL, *t, first[256];
	const char *dev = jts_json_str(rec, "dev"), *path = jts_json_str(rec, "path");
	const char *fstype = jts_json_str(rec, "fstype");
	struct mnt *mv;
	struct sig sg;
	int guard = (int)jint(rec, "guard", G_NONE), n, i, r, e;
	size_t k, len;

	if (!json_object_object_get_ex(rec, "undo", &ja) ||
	    !json_object_is_type(ja, json_type_array) ||
	    (len = json_object_array_length(ja)) == 0) {
		*err = xstrdup("journal record without an undo command");
		return -1;
	}
	argv = xcalloc(len + 1, sizeof(*argv));
	for (k = 0; k < len; k++)
		argv[k] = xstrdup(json_object_get_string(
		    json_object_array_get_idx(ja, k)));
	r = 0;
	/* Already undone (by hand, or by a rollback cut short)? */
	if (strcmp(argv[0], "umount") == 0 && path != NULL) {
		if ((n = mounts_load(&mv)) >= 0) {
			i = mount_at(mv, n, path);
			mounts_free(mv, n);
			if (i < 0)
				goto skip;
		}
		if (guard == G_MOUNT_EMPTY && !p->o->force &&
		    (e = dir_entries(path, first, sizeof(first))) > 0) {
			*err = xasprintf("%s holds %d entr%s written since apply "
			    "(%s): copy the data away and remove it, or use "
			    "--force to unmount it anyway", jts_quote(path), e,
			    e == 1 ? "y" : "ies", jts_quote(first));
			r = -1;
			goto done;
		}
	} else if (strcmp(argv[0], "wipefs") == 0 && dev != NULL) {
		if (access(dev, F_OK) != 0)
			goto skip;
		if (dev_signature(dev, &sg) == 0 && (sg.type == NULL ||
		    (fstype && strcmp(sg.type, fstype) != 0))) {
			sig_free(&sg);
			goto skip;
		}
		sig_free(&sg);
		if ((t = dev_busy(dev)) != NULL) {
			*err = xasprintf("%s: unmount it first", t);
			free(t);
			r = -1;
			goto done;
		}
		if (guard == G_FS_EMPTY && !p->o->force && fstype != NULL) {
			e = fs_entries(dev, fstype, first, sizeof(first), err);
			if (e > 0) {
				*err = xasprintf("%s holds %d entr%s (%s) "
				    "written since apply: copy the data away, "
				    "or use --force to wipe it anyway", dev, e,
				    e == 1 ? "y" : "ies", jts_quote(first));
			}
			if (e != 0) {
				r = -1;
				goto done;
			}
		}
	} else if (strcmp(argv[0], "lvremove") == 0 ||
	    strcmp(argv[0], "vgremove") == 0 ||
	    strcmp(argv[0], "pvremove") == 0) {
		const char *what = argv[len - 1];
		char *q[] = { strcmp(argv[0], "lvremove") == 0 ? "lvs" :
		    strcmp(argv[0], "vgremove") == 0 ? "vgs" : "pvs",
		    "--noheadings", (char *)what, NULL };
		if (!run_ok(q))
			goto skip;
		if (guard == G_VG_EMPTY) {
			char *l[] = { "lvs", "--noheadings", "-o", "lv_name",
			    (char *)what, NULL };
			if (prov_run(l, &out) == 0 && out != NULL &&
			    out[strspn(out, " \n")] != '\0') {
				t = tail_lines(out, 8);
				*err = xasprintf("volume group %s still holds "
				    "logical volumes (%s): remove them first",
				    what, t);
				free(t);
				r = -1;
				goto done;
			}
			free(out);
			out = NULL;
		}
	}
	if ((r = prov_run(argv, &out)) != 0) {
		t = tail_lines(out, 4);
		*err = r < 0 ? xasprintf("%s: cannot run: %s", argv[0],
		    strerror(-r)) : xasprintf("%s exited %d: %s", argv[0], r, t);
		free(t);
		r = -1;
	}
	goto done;
skip:
	r = 1;
done:
	free(out);
	argv_free(argv);
	return r;
}

int
undo_mkdir(struct prov *p, json_object *rec, char **err)
{
	json_object *made;
	const char *d;
	char first[256];
	int i, e;

	if (!json_object_object_get_ex(rec, "made", &made))
		return 0;
	for (i = (int)json_object_array_length(made) - 1; i >= 0; i--) {
		d = json_object_get_string(json_object_array_get_idx(made,
		    (size_t)i));
		if (rmdir(d) == 0 || errno == ENOENT)
			continue;
		e = errno;
		if (e == ENOTEMPTY || e == EEXIST) {
			dir_entries(d, first, sizeof(first));
			*err = xasprintf("%s is not empty (%s): it was made by "
			    "apply, but holds data now; move that away first",
			    jts_quote(d), jts_quote(first));
		} else
			*err = xasprintf("rmdir %s: %s", jts_quote(d),
			    strerror(e));
		return -1;
	}
	return 0;
}

static int
undo_file(struct prov *p, json_object *rec, char **err)
{
	const char *path = jts_json_str(rec, "path"), *bak = jts_json_str(rec, "backup");
	const char *hash = jts_json_str(rec, "hash"), *block = jts_json_str(rec, "block");
	char *cur, *old = NULL, *n, hex[33];
	size_t len, blen = 0;
	int r;

	if (path == NULL || hash == NULL) {
		*err = xstrdup("journal record without path or hash");
		return -1;
	}
	cur = jts_read_file(path, &len);
	if (cur != NULL)
		hash_hex(cur, len, hex);
	if (bak != NULL)
		old = jts_read_file(bak, &blen);
	if ((cur == NULL && bak == NULL) || (cur != NULL && old != NULL &&
	    len == blen && memcmp(cur, old, len) == 0 &&
	    strcmp(hex, hash) != 0)) {
		/* Journalled, then stopped before it was written. */
		free(cur);
		free(old);
		if (bak != NULL)
			unlink(bak);
		return undo_mkdir(p, rec, err) == 0 ? 1 : -1;
	}
	free(old);
	old = NULL;
	if (cur != NULL && strcmp(hex, hash) == 0) {
		/* Unchanged since apply: back to what it was, byte for byte. */
		if (bak == NULL)
			r = unlink(path) == 0 ? 0 : -errno;
		else if ((old = jts_read_file(bak, &blen)) == NULL)
			r = -errno;
		else
			r = write_atomic(path, old, blen, 0644);
		if (r != 0) {
			*err = xasprintf("%s: cannot restore %s: %s", path,
			    bak ? bak : "(remove)", strerror(-r));
			free(cur);
			free(old);
			return -1;
		}
	} else if (cur != NULL && block != NULL) {
		/* Edited since: take out only our block. */
		n = block_put(cur, block, NULL);
		r = write_atomic(path, n, strlen(n), 0644);
		free(n);
		if (r != 0) {
			*err = xasprintf("%s: cannot write: %s", path,
			    strerror(-r));
			free(cur);
			return -1;
		}
		jts_warn("%s changed since apply: only the jts-tier %s block "
		    "was removed%s%s", path, block, bak ? "; as it was before "
		    "apply: " : "", bak ? bak : "");
		bak = NULL;	/* keep it for the operator */
	} else if (cur != NULL) {
		jts_warn("%s changed since apply: left as it is", path);
		bak = NULL;
	}
	free(cur);
	free(old);
	if (bak != NULL)
		unlink(bak);
	return undo_mkdir(p, rec, err);
}

static int
undo_owner(struct prov *p, json_object *rec, char **err)
{
	const char *path = jts_json_str(rec, "path");
	int fd;

	if (path == NULL)
		return 0;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return errno == ENOENT ? 1 : (*err = xasprintf("%s: %s",
		    jts_quote(path), strerror(errno)), -1);
	if (fchown(fd, (uid_t)jint(rec, "uid", 0), (gid_t)jint(rec, "gid",
	    0)) != 0 || fchmod(fd, (mode_t)jint(rec, "mode", 0755)) != 0) {
		*err = xasprintf("%s: %s", jts_quote(path), strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
undo_subvol(struct prov *p, json_object *rec, char **err)
{
	const char *path = jts_json_str(rec, "path");
	char first[256];
	int n;

	if (path == NULL || access(path, F_OK) != 0)
		return 1;
	if (!p->o->force && (n = dir_entries(path, first,
	    sizeof(first))) != 0) {
		*err = n < 0 ? xasprintf("%s: %s", jts_quote(path),
		    strerror(errno)) : xasprintf("subvolume %s holds %d "
		    "entr%s (%s): copy the data away first, or use --force "
		    "to delete it anyway", jts_quote(path), n, n == 1 ? "y" :
		    "ies", jts_quote(first));
		return -1;
	}
	return btrfs_subvolume_delete(path, err);
}

static int
undo_sysfs(struct prov *p, json_object *rec, char **err)
{
	const char *path = jts_json_str(rec, "path"), *old = jts_json_str(rec, "old");
	int r;

	if (path == NULL || old == NULL)
		return 0;
	if ((r = sysfs_write(path, old)) != 0) {
		*err = xasprintf("echo %s > %s: %s", old, path, strerror(-r));
		return -1;
	}
	return 0;
}

static const struct step_ops step_ops[ST_NKINDS] = {
	[ST_CMD] =	{ "cmd",	check_cmd,	do_cmd,		undo_cmd },
	[ST_MKDIR] =	{ "mkdir",	check_mkdir,	do_mkdir,	undo_mkdir },
	[ST_FILE] =	{ "file",	check_file,	do_file,	undo_file },
	[ST_OWNER] =	{ "owner",	check_owner,	do_owner,	undo_owner },
	[ST_SUBVOL] =	{ "subvol",	check_subvol,	do_subvol,	undo_subvol },
	[ST_SYSFS] =	{ "sysfs",	check_sysfs,	do_sysfs,	undo_sysfs },
};

/* Undo one journal record: 0 done, 1 nothing left to undo, -1 error. */
int
step_undo(struct prov *p, json_object *rec, char **err)
{
	const char *kind = jts_json_str(rec, "kind");
	int k;

	if (kind == NULL) {
		*err = xstrdup("journal record without a kind");
		return -1;
	}
	for (k = 0; k < ST_NKINDS; k++)
		if (strcmp(kind, step_ops[k].name) == 0)
			return step_ops[k].undo(p, rec, err);
	*err = xasprintf("journal record of unknown kind '%s'", kind);
	return -1;
}

/* ---- plan, apply, rollback ------------------------------------------ */

void
prov_init(struct prov *p, const struct manifest *m,
    const struct prov_opts *o)
{
	memset(p, 0, sizeof(*p));
	p->m = m;
	p->o = o;
	p->out = o->out != NULL ? o->out : stdout;
	p->root = o->root != NULL && strcmp(o->root, "/") != 0 ? o->root : "";
	p->fstab = o->fstab != NULL ? xstrdup(o->fstab) :
	    rooted(p, "/etc/fstab");
	p->journal = o->journal != NULL ? xstrdup(o->journal) :
	    rooted(p, PROV_JOURNAL_DEFAULT);
	p->udev = rooted(p, PROV_UDEV_RULES);
	prov_build(p);
}
