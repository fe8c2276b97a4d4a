/* prov-sys.c - what provisioning asks of the system: commands run with
 * their argv, mounts, devices and their signatures, owners, fstab blocks */
#include "config.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "prov-int.h"
#include "util.h"

extern char **environ;

/* ---- small helpers ------------------------------------------------- */

char **
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

void
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
bool
run_ok(char *const argv[])
{
	return prov_run(argv, NULL) == 0;
}

/* The last non-empty lines of a command's output, joined for a message. */
char *
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

const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

char *
rooted(const struct prov *p, const char *path)
{
	if (*p->root == '\0')
		return xstrdup(path);
	return xasprintf("%s%s", p->root, path);
}

/* Write path atomically: a new file beside it (jts_outfile: no planted
 * name or link is followed), fsync, rename, fsync the dir; mode and owner
 * those of path if it exists. */
int
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

void
hash_hex(const void *data, size_t len, char out[33])
{
	XXH128_hash_t h = XXH3_128bits(data, len);
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	jts_hash_hex(c.digest, out);
}

/* ---- devices, signatures, mounts ------------------------------------- */

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

int
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

void
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
dev_t
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
bool
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
char *
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

void
sig_free(struct sig *s)
{
	free(s->type);
	free(s->pttype);
	free(s->uuid);
	free(s->label);
	memset(s, 0, sizeof(*s));
}

/* What libblkid finds on dev; -errno if it cannot be read. */
int
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

char *
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
int
mount_at(struct mnt *mv, int n, const char *target)
{
	int i;

	for (i = n - 1; i >= 0; i--)
		if (strcmp(mv[i].target, target) == 0)
			return i;
	return -1;
}

/* Entries of a directory other than lost+found; -1 if it cannot be read. */
int
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

int
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
char *
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

/*
 * Find tier's block in text: [*start, *end) covers its BEGIN to END lines
 * inclusive.  Returns false if there is none.
 */
bool
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

char *
block_text(const struct prov *p, const char *tier, const char *lines)
{
	char *m = jts_path_abs(p->m->path), *b;

	b = xasprintf(BLOCK_BEGIN "%s (jts-tierctl provision -m %s)\n%s"
	    BLOCK_END "%s\n", tier, m ? m : p->m->path, lines, tier);
	free(m);
	return b;
}

/* text with tier's block replaced by (or, if absent, ending in) block. */
char *
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

struct step *
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
