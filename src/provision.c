/* provision.c - set the tiers up from a manifest: plan, apply, verify and
 * rollback, each step a check, a do and an undo */
#include "config.h"

#include <blkid/blkid.h>
#include <btrfsutil.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "provision.h"
#include "tier-nfs.h"
#include "util.h"

extern char **environ;

enum step_kind {
	ST_CMD,		/* a command with an undo command */
	ST_MKDIR,	/* a mount point and its missing parents */
	ST_FILE,	/* fstab block or a whole file we own */
	ST_OWNER,	/* owner and mode of a directory */
	ST_SUBVOL,	/* a btrfs subvolume (libbtrfsutil) */
	ST_SYSFS,	/* a queue attribute of a disk */
};

enum step_state { S_TODO, S_DONE, S_REFUSED };

/* What must hold before an undo command may run. */
enum guard { G_NONE, G_MOUNT_EMPTY, G_FS_EMPTY, G_VG_EMPTY };

struct prov;
struct step {
	enum step_kind	 kind;
	const char	*tier;
	char		*what;		/* the command or change, for people */
	char		**argv, **undo;	/* ST_CMD */
	enum guard	 guard;
	int		(*check)(struct prov *, struct step *);
	char		*dev;		/* the device the step writes or mounts */
	char		*fstype;
	char		*path;		/* mount point, directory, file, attr */
	char		*value;		/* sysfs value */
	const char	*block;		/* ST_FILE: the fstab block's tier */
	bool		 dev_made;	/* dev is made by an earlier step */
	uid_t		 uid;
	gid_t		 gid;
	mode_t		 mode;
	bool		 set_owner, set_mode;
	const struct mf_owner *own;	/* ST_OWNER: as the manifest says */
	enum step_state	 state;
	char		*why;		/* why refused */
};

struct prov {
	const struct manifest *m;
	const struct prov_opts *o;
	FILE		*out;
	const char	*root;		/* "" for the real system */
	char		*fstab, *journal, *udev;
	struct step	*steps;
	int		 nsteps;
	json_object	**jrecs;	/* the journal when the run began */
	int		 njrecs;
	bool		 journal_skip;	/* this step's undo is in it already */
	json_object	*jdir;		/* journal directories made, to record */
};

static int	journal_append(struct prov *, json_object *);

/*
 * Write-ahead: the step's record, with everything its undo needs, goes
 * to the journal (synced) before the step changes anything, so a crash
 * anywhere leaves a journal that rollback can act on.  Every undo copes
 * with a step that never ran.
 */
static int
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

/* ---- small helpers ------------------------------------------------- */

static char **
argv_new(const char *first, ...)
{
	va_list ap;
	const char *a;
	char **v = NULL;
	int n = 0;

	va_start(ap, first);
	for (a = first; a != NULL; a = va_arg(ap, const char *)) {
		v = xrealloc(v, sizeof(*v) * (size_t)(n + 2));
		v[n++] = xstrdup(a);
	}
	va_end(ap);
	v = xrealloc(v, sizeof(*v) * (size_t)(n + 1));
	v[n] = NULL;
	return v;
}

static void
argv_free(char **v)
{
	char **p;

	if (v == NULL)
		return;
	for (p = v; *p; p++)
		free(*p);
	free(v);
}

static bool
shell_safe(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-_./=:,+@%", *s)))
			return false;
	return true;
}

char *
prov_argv_str(char *const argv[])
{
	size_t len = 1, i;
	char *s, *p;
	const char *c;

	for (i = 0; argv[i]; i++)
		len += strlen(argv[i]) * 4 + 3;
	s = p = xmalloc(len);
	for (i = 0; argv[i]; i++) {
		if (i > 0)
			*p++ = ' ';
		if (shell_safe(argv[i])) {
			p = stpcpy(p, argv[i]);
			continue;
		}
		*p++ = '\'';
		for (c = argv[i]; *c; c++) {
			if (*c == '\'')
				p = stpcpy(p, "'\\''");
			else
				*p++ = *c;
		}
		*p++ = '\'';
	}
	*p = '\0';
	return s;
}

int
prov_run(char *const argv[], char **out)
{
	posix_spawn_file_actions_t fa;
	char *buf = NULL, **env;
	size_t len = 0, cap = 0;
	int pfd[2], st, r, n = 0, i;
	pid_t pid;
	ssize_t k;

	if (out != NULL)
		*out = NULL;
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -errno;
	for (i = 0; environ[i]; i++)
		;
	env = xcalloc((size_t)i + 3, sizeof(*env));
	for (i = 0; environ[i]; i++)
		if (strncmp(environ[i], "LC_ALL=", 7) != 0 &&
		    strncmp(environ[i], "LVM_SUPPRESS_FD_WARNINGS=", 25) != 0)
			env[n++] = environ[i];
	env[n++] = (char *)"LC_ALL=C";
	env[n++] = (char *)"LVM_SUPPRESS_FD_WARNINGS=1";
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(pfd[1]);
	if (r != 0) {
		close(pfd[0]);
		return -r;
	}
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap);
		}
		k = read(pfd[0], buf + len, cap - len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (len + (size_t)k < (1u << 20))
			len += (size_t)k;
	}
	close(pfd[0]);
	buf[len] = '\0';
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* Run argv; 0 if it exited 0. */
static bool
run_ok(char *const argv[])
{
	return prov_run(argv, NULL) == 0;
}

/* The last non-empty lines of a command's output, joined for a message. */
static char *
tail_lines(const char *out, int max)
{
	const char *p, *start;
	char *s, *q;
	int n = 0;

	if (out == NULL || *out == '\0')
		return xstrdup("(no output)");
	p = out + strlen(out);
	while (p > out && (p[-1] == '\n' || p[-1] == ' '))
		p--;
	start = p;
	while (start > out && n < max) {
		start--;
		if (*start == '\n' && ++n == max) {
			start++;
			break;
		}
	}
	s = xmalloc((size_t)(p - start) * 2 + 1);
	for (q = s; start < p; start++) {
		if (*start != '\n') {
			*q++ = *start;
			continue;
		}
		*q++ = ';';
		*q++ = ' ';
		while (start + 1 < p && (start[1] == ' ' || start[1] == '\t'))
			start++;
	}
	*q = '\0';
	for (q = s; *q == ' '; q++)
		;
	memmove(s, q, strlen(q) + 1);
	return s;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

static char *
rooted(const struct prov *p, const char *path)
{
	if (*p->root == '\0')
		return xstrdup(path);
	return xasprintf("%s%s", p->root, path);
}

/* Write path atomically: a new file beside it (jts_outfile: no planted
 * name or link is followed), fsync, rename, fsync the dir; mode and owner
 * those of path if it exists. */
static int
write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	struct jts_outfile of;
	struct stat st;
	int r;

	if ((r = jts_outfile_open(&of, path, mode)) != 0)
		return r;
	if (fstatat(of.dfd, of.base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode)) {
		(void)fchown(fileno(of.fp), st.st_uid, st.st_gid);
		(void)fchmod(fileno(of.fp), st.st_mode & 07777);
	}
	if (len > 0 && fwrite(data, 1, len, of.fp) != len) {
		r = -(errno ? errno : EIO);
		jts_outfile_abort(&of);
		return r;
	}
	return jts_outfile_commit(&of);
}

static void
hash_hex(const void *data, size_t len, char out[33])
{
	XXH128_hash_t h = XXH3_128bits(data, len);
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	jts_hash_hex(c.digest, out);
}

/* ---- devices, signatures, mounts ------------------------------------- */

struct mnt {
	char		*target, *fstype, *source, *opts, *superopts;
	dev_t		 dev;
};

/* Undo mountinfo's octal escapes (\040 for a blank). */
static char *
unescape(const char *s)
{
	char *o = xmalloc(strlen(s) + 1), *q = o;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*q++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
			    (s[3] - '0'));
			s += 4;
		} else
			*q++ = *s++;
	}
	*q = '\0';
	return o;
}

static int
mounts_load(struct mnt **out)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *f[12], *sp, *dash;
	size_t cap = 0;
	struct mnt *v = NULL;
	unsigned maj, min;
	int n = 0, i;

	if (fp == NULL)
		return -1;
	while (getline(&line, &cap, fp) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if ((dash = strstr(line, " - ")) == NULL)
			continue;
		*dash = '\0';
		for (i = 0, sp = strtok(line, " "); sp && i < 6;
		    sp = strtok(NULL, " "))
			f[i++] = sp;
		if (i < 6)
			continue;
		f[6] = strtok(dash + 3, " ");
		f[7] = strtok(NULL, " ");
		f[8] = strtok(NULL, " ");
		if (f[6] == NULL || f[7] == NULL)
			continue;
		if (sscanf(f[2], "%u:%u", &maj, &min) != 2)
			continue;
		v = xrealloc(v, sizeof(*v) * (size_t)(n + 1));
		v[n].target = unescape(f[4]);
		v[n].opts = xstrdup(f[5]);
		v[n].fstype = xstrdup(f[6]);
		v[n].source = unescape(f[7]);
		v[n].superopts = xstrdup(f[8] ? f[8] : "");
		v[n].dev = makedev(maj, min);
		n++;
	}
	free(line);
	fclose(fp);
	*out = v;
	return n;
}

static void
mounts_free(struct mnt *v, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(v[i].target);
		free(v[i].opts);
		free(v[i].fstype);
		free(v[i].source);
		free(v[i].superopts);
	}
	free(v);
}

/* The whole disk a block device belongs to (itself if not a partition). */
static dev_t
whole_disk(dev_t d)
{
	char path[128], buf[32];
	unsigned maj, min;
	FILE *fp;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition",
	    major(d), minor(d));
	if (access(path, F_OK) != 0)
		return d;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../dev",
	    major(d), minor(d));
	if ((fp = fopen(path, "re")) == NULL)
		return d;
	if (fgets(buf, sizeof(buf), fp) == NULL ||
	    sscanf(buf, "%u:%u", &maj, &min) != 2) {
		fclose(fp);
		return d;
	}
	fclose(fp);
	return makedev(maj, min);
}

/* Whether the mount's source is dev (or a partition of it). */
static bool
mount_of_dev(const struct mnt *mt, dev_t rdev, bool partitions)
{
	struct stat st;

	if (mt->dev == rdev)
		return true;
	if (strncmp(mt->source, "/dev/", 5) != 0 || stat(mt->source, &st) != 0 ||
	    !S_ISBLK(st.st_mode))
		return false;
	if (st.st_rdev == rdev)
		return true;
	return partitions && whole_disk(st.st_rdev) == rdev;
}

/*
 * Why dev may not be written: it does not exist, is not a block device,
 * is mounted or held.  NULL if none of these.
 */
static char *
dev_busy(const char *dev)
{
	struct stat st;
	struct mnt *mv;
	char path[128];
	DIR *d;
	struct dirent *de;
	char *why = NULL;
	int n, i;

	if (stat(dev, &st) != 0)
		return xasprintf("%s: %s", dev, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return xasprintf("%s is not a block device", dev);
	if ((n = mounts_load(&mv)) >= 0) {
		for (i = 0; i < n && why == NULL; i++)
			if (mount_of_dev(&mv[i], st.st_rdev, true))
				why = xasprintf("%s is mounted on %s (%s): "
				    "unmount it first", dev,
				    jts_quote(mv[i].target), mv[i].fstype);
		mounts_free(mv, n);
	}
	if (why != NULL)
		return why;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/holders",
	    major(st.st_rdev), minor(st.st_rdev));
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL && why == NULL)
			if (de->d_name[0] != '.')
				why = xasprintf("%s is in use by %s "
				    "(device-mapper or md)", dev, de->d_name);
		closedir(d);
	}
	return why;
}

struct sig {
	char		*type;		/* file system or PV; NULL if none */
	char		*pttype;	/* partition table; NULL if none */
	char		*uuid, *label;
};

static void
sig_free(struct sig *s)
{
	free(s->type);
	free(s->pttype);
	free(s->uuid);
	free(s->label);
	memset(s, 0, sizeof(*s));
}

/* What libblkid finds on dev; -errno if it cannot be read. */
static int
dev_signature(const char *dev, struct sig *s)
{
	blkid_probe pr;
	const char *v;
	int r;

	memset(s, 0, sizeof(*s));
	if ((pr = blkid_new_probe_from_filename(dev)) == NULL)
		return errno ? -errno : -EIO;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE |
	    BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	r = blkid_do_safeprobe(pr);
	if (r == -2) {
		s->type = xstrdup("(several: ambivalent)");
		r = 0;
	} else if (r == 0) {
		if (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0)
			s->type = xstrdup(v);
		if (blkid_probe_lookup_value(pr, "PTTYPE", &v, NULL) == 0)
			s->pttype = xstrdup(v);
		if (blkid_probe_lookup_value(pr, "UUID", &v, NULL) == 0)
			s->uuid = xstrdup(v);
		if (blkid_probe_lookup_value(pr, "LABEL", &v, NULL) == 0)
			s->label = xstrdup(v);
	}
	blkid_free_probe(pr);
	return r < 0 ? -EIO : 0;
}

static char *
sig_str(const char *dev, const struct sig *s)
{
	if (s->pttype != NULL)
		return xasprintf("%s carries a %s partition table", dev,
		    s->pttype);
	if (strcmp(s->type, "LVM2_member") == 0)
		return xasprintf("%s is an LVM physical volume%s%s", dev,
		    s->uuid ? " " : "", s->uuid ? s->uuid : "");
	return xasprintf("%s carries a%s %s signature%s%s%s%s%s%s", dev,
	    strchr("aeiou", s->type[0]) ? "n" : "", s->type,
	    s->uuid || s->label ? " (" : "",
	    s->uuid ? "UUID " : "", s->uuid ? s->uuid : "",
	    s->label ? (s->uuid ? ", label " : "label ") : "",
	    s->label ? s->label : "", s->uuid || s->label ? ")" : "");
}

/* The mount at exactly target, or -1. */
static int
mount_at(struct mnt *mv, int n, const char *target)
{
	int i;

	for (i = n - 1; i >= 0; i--)
		if (strcmp(mv[i].target, target) == 0)
			return i;
	return -1;
}

/* Entries of a directory other than lost+found; -1 if it cannot be read. */
static int
dir_entries(const char *path, char *first, size_t firstlen)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "lost+found"))
			continue;
		if (n++ == 0 && first != NULL)
			snprintf(first, firstlen, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static int
resolve_owner(const struct mf_owner *o, uid_t *uid, gid_t *gid, char **why)
{
	struct passwd *pw;
	struct group *gr;
	char *end;

	pw = getpwnam(o->user);
	if (pw == NULL) {
		unsigned long u = strtoul(o->user, &end, 10);
		if (*end != '\0') {
			*why = xasprintf("user %s does not exist on this host: "
			    "create it first (the service's package does, or "
			    "useradd --system %s)", o->user, o->user);
			return -1;
		}
		*uid = (uid_t)u;
		*gid = (gid_t)u;
	} else {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
	if (o->group != NULL) {
		if ((gr = getgrnam(o->group)) != NULL)
			*gid = gr->gr_gid;
		else {
			unsigned long g = strtoul(o->group, &end, 10);
			if (*end != '\0') {
				*why = xasprintf("group %s does not exist on "
				    "this host: create it first (groupadd "
				    "--system %s)", o->group, o->group);
				return -1;
			}
			*gid = (gid_t)g;
		}
	}
	return 0;
}

/* ---- fstab blocks --------------------------------------------------- */

static const char *
fs_pass(const char *fstype)
{
	return strcmp(fstype, "ext4") == 0 ? "2" : "0";
}

/* The source a volume is mounted from in fstab: the LV path, or UUID=. */
static char *
fstab_spec(const struct manifest *m, const struct mf_volume *v, bool *known)
{
	struct sig s;
	char *dev, *r;

	*known = true;
	if (v->device == NULL)
		return manifest_volume_dev(m, v);
	if (dev_signature(v->device, &s) == 0 && s.type != NULL &&
	    strcmp(s.type, v->fs) == 0 && s.uuid != NULL) {
		r = xasprintf("UUID=%s", s.uuid);
		sig_free(&s);
		return r;
	}
	sig_free(&s);
	*known = false;
	dev = xasprintf("UUID=<of the %s made on %s>", v->fs, v->device);
	return dev;
}

static void
fstab_line(const struct prov *p, char **buf, const char *spec,
    const char *mount, const char *fstype, const char *opts,
    const char *pass)
{
	char *t = rooted(p, mount), *n;

	n = xasprintf("%s%s\t%s\t%s\t%s\t0\t%s\n", *buf ? *buf : "", spec, t,
	    fstype, opts, pass);
	free(*buf);
	free(t);
	*buf = n;
}

/* The lines of a tier's fstab block; *known false if a UUID is to come. */
static char *
fstab_block(const struct prov *p, const char *tier, bool *known)
{
	const struct manifest *m = p->m;
	char *buf = NULL, *spec, *opts;
	bool k;
	int i;

	*known = true;
	if (strcmp(tier, "hot") == 0) {
		for (i = 0; i < m->nvols; i++) {
			spec = fstab_spec(m, &m->vols[i], &k);
			*known = *known && k;
			opts = manifest_volume_options(&m->vols[i]);
			fstab_line(p, &buf, spec, m->vols[i].mount,
			    m->vols[i].fs, opts, fs_pass(m->vols[i].fs));
			free(spec);
			free(opts);
		}
	} else if (strcmp(tier, "warm") == 0) {
		spec = fstab_spec(m, &m->warm, &k);
		*known = k;
		opts = manifest_volume_options(&m->warm);
		fstab_line(p, &buf, spec, m->warm.mount, "btrfs", opts, "0");
		free(spec);
		free(opts);
	} else
		fstab_line(p, &buf, m->cold_source, m->cold_mount, "nfs",
		    m->cold_options, "0");
	return buf;
}

#define BLOCK_BEGIN	"# BEGIN jts-tier "
#define BLOCK_END	"# END jts-tier "

/*
 * Find tier's block in text: [*start, *end) covers its BEGIN to END lines
 * inclusive.  Returns false if there is none.
 */
static bool
block_find(const char *text, const char *tier, size_t *start, size_t *end)
{
	char *b = xasprintf(BLOCK_BEGIN "%s\n", tier);
	char *e = xasprintf(BLOCK_END "%s\n", tier);
	const char *p, *q;
	bool found = false;

	for (p = text; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p +
	    strlen(p)) {
		if (strncmp(p, b, strlen(b)) == 0 ||
		    (strncmp(p, b, strlen(b) - 1) == 0 &&
		    p[strlen(b) - 1] == ' ')) {
			for (q = p; *q; q = strchr(q, '\n') ? strchr(q, '\n') +
			    1 : q + strlen(q))
				if (strncmp(q, e, strlen(e)) == 0) {
					*start = (size_t)(p - text);
					*end = (size_t)(q - text) + strlen(e);
					found = true;
					break;
				}
			break;
		}
	}
	free(b);
	free(e);
	return found;
}

static char *
block_text(const struct prov *p, const char *tier, const char *lines)
{
	char *m = jts_path_abs(p->m->path), *b;

	b = xasprintf(BLOCK_BEGIN "%s (jts-tierctl provision -m %s)\n%s"
	    BLOCK_END "%s\n", tier, m ? m : p->m->path, lines, tier);
	free(m);
	return b;
}

/* text with tier's block replaced by (or, if absent, ending in) block. */
static char *
block_put(const char *text, const char *tier, const char *block)
{
	size_t s, e, n = strlen(text);

	if (block_find(text, tier, &s, &e))
		return xasprintf("%.*s%s%s", (int)s, text, block ? block : "",
		    text + e);
	if (block == NULL)
		return xstrdup(text);
	return xasprintf("%s%s%s", text, n > 0 && text[n - 1] != '\n' ?
	    "\n" : "", block);
}

/* ---- building the plan ----------------------------------------------- */

static struct step *
step_add(struct prov *p, enum step_kind kind, const char *tier)
{
	struct step *s;

	p->steps = xrealloc(p->steps, sizeof(*s) * (size_t)(p->nsteps + 1));
	s = &p->steps[p->nsteps++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->tier = tier;
	return s;
}

static void
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

static int
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
static char *
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

static void
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

static int
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
static char *
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
	if (btrfs_util_is_subvolume(s->path) == BTRFS_UTIL_OK)
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

static int
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
static int
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
	enum btrfs_util_error e;

	json_object_object_add(rec, "path", json_object_new_string(s->path));
	if (intent(p, rec, err) != 0)
		return -1;
	if ((e = btrfs_util_create_subvolume(s->path, 0, NULL, NULL)) !=
	    BTRFS_UTIL_OK) {
		*err = xasprintf("%s: cannot create the subvolume: %s (%s)",
		    jts_quote(s->path), btrfs_util_strerror(e),
		    strerror(errno));
		return -1;
	}
	return 0;
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

static int
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

static int64_t
jint(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return dflt;
	return json_object_get_int64(v);
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

static int
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
	enum btrfs_util_error e;
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
	if ((e = btrfs_util_delete_subvolume(path, 0)) != BTRFS_UTIL_OK) {
		*err = xasprintf("%s: cannot delete the subvolume: %s (%s)",
		    jts_quote(path), btrfs_util_strerror(e), strerror(errno));
		return -1;
	}
	return 0;
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
static int
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

static void
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

static void
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

/* ---- verify --------------------------------------------------------- */

enum { V_OK, V_WARNING, V_CRITICAL, V_UNKNOWN };
static const char *const v_names[] = { "OK", "WARNING", "CRITICAL",
	"UNKNOWN" };

struct vrep {
	FILE		*out;
	int		 n[4];
	int		 status;
};

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

/* The NAS: mount the export with libnfs, write, COMMIT, read back. */
static void
verify_nas(struct vrep *v, const char *url, int timeout)
{
	struct nfs_tier t;
	struct nfsfh *fh = NULL;
	struct copy_opts co;
	unsigned char h1[JTS_HASH_LEN], h2[JTS_HASH_LEN];
	char *rel = xasprintf(".jts-tier-verify.%d", (int)getpid());
	const uint64_t size = 4u << 20;
	int64_t t0;
	unsigned char *buf;
	int fd, r;
	uint64_t i;

	memset(&t, 0, sizeof(t));
	memset(&co, 0, sizeof(co));
	if (nfst_connect(&t, url, timeout, NULL) != 0) {
		vline(v, V_CRITICAL, "cold", "%s", t.err);
		nfst_close(&t);
		free(rel);
		return;
	}
	vline(v, V_OK, "cold", "%s: reachable (libnfs, NFSv3)", url);
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
	t0 = jts_mono_ns();
	if (r == 0)
		r = nfst_create(&t, rel, 0600, &fh);
	if (r == 0)
		r = nfst_put(&t, fh, fd, size, h1, &co);
	if (r == 0)
		r = nfst_commit(&t, fh);
	if (fh != NULL)
		nfst_close_fh(&t, fh);
	fh = NULL;
	if (r == 0)
		r = nfst_open_read(&t, rel, &fh);
	if (r == 0)
		r = nfst_get(&t, fh, -1, size, h2, &co);
	if (fh != NULL)
		nfst_close_fh(&t, fh);
	close(fd);
	if (r != 0)
		vline(v, V_CRITICAL, "cold", "%s: cannot write, COMMIT and read "
		    "back a file: %s", url, t.err[0] ? t.err : strerror(-r));
	else if (memcmp(h1, h2, sizeof(h1)) != 0)
		vline(v, V_CRITICAL, "cold", "%s: a file written and committed "
		    "read back different", url);
	else
		vline(v, V_OK, "cold", "%s: writable (4 MiB written, committed "
		    "and read back identical in %.0f ms)", url,
		    (double)(jts_mono_ns() - t0) / 1e6);
	(void)nfst_unlink(&t, rel);
out:
	nfst_close(&t);
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
			if (btrfs_util_is_subvolume(path) == BTRFS_UTIL_OK) {
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
