/* manifest.c - parse and validate a provisioning manifest with libinih */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "manifest.h"
#include "util.h"

struct mparse {
	struct ini_lines il;		/* first: inih's stream */
	struct manifest	*m;
	int		 section_line;	/* where the section being read starts */
	char		 seen[64][64];	/* its keys already set */
	int		 nseen;
	struct mf_volume *vol;		/* [volume NAME] or [warm] */
	struct mf_subvol *sub;
	struct mf_tune	*tune;
	struct mf_owner	*own;
};

#define fail(mp, ...)	ini_lines_fail(&(mp)->il, __VA_ARGS__)

static int
valid_name(const char *s, size_t max)
{
	const char *p;

	if (*s == '\0' || strlen(s) > max)
		return 0;
	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' &&
		    *p != '.' && *p != '+')
			return 0;
	return *s != '-' && *s != '.';
}

static int
set_str(struct mparse *mp, char **dst, const char *v)
{
	if (*v == '\0')
		return fail(mp, "empty value");
	free(*dst);
	*dst = xstrdup(v);
	return 1;
}

static int
set_abs(struct mparse *mp, char **dst, const char *v, const char *what)
{
	char *p;

	if (v[0] != '/')
		return fail(mp, "%s '%s' is not an absolute path", what,
		    jts_quote(v));
	if (strchr(v, '\n') != NULL || strchr(v, ' ') != NULL ||
	    strchr(v, '\t') != NULL || strchr(v, '\\') != NULL)
		return fail(mp, "%s '%s': blanks and backslashes cannot be "
		    "written to /etc/fstab", what, jts_quote(v));
	for (p = strstr(v, ".."); p != NULL; p = strstr(p + 2, ".."))
		if (p[-1] == '/' && (p[2] == '\0' || p[2] == '/'))
			return fail(mp, "%s '%s' contains '..'", what,
			    jts_quote(v));
	p = jts_path_abs(v);
	free(*dst);
	*dst = p;
	return 1;
}

static int
set_bool(struct mparse *mp, bool *dst, const char *v)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*dst = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*dst = false;
	else
		return fail(mp, "'%s' is not yes or no", v);
	return 1;
}

static int
k_device(struct mparse *mp, const char *v)
{
	char **dst;

	if (mp->vol == NULL)
		dst = &mp->m->hot_device;
	else
		dst = &mp->vol->device;
	if (strncmp(v, "/dev/", 5) != 0)
		return fail(mp, "device '%s' is not under /dev", jts_quote(v));
	return set_abs(mp, dst, v, "device");
}

static int
k_vg(struct mparse *mp, const char *v)
{
	if (!valid_name(v, 64))
		return fail(mp, "bad volume group name '%s' (letters, digits, "
		    "_ - . +)", jts_quote(v));
	return set_str(mp, &mp->m->vg, v);
}

static int
k_lv(struct mparse *mp, const char *v)
{
	if (!valid_name(v, 64))
		return fail(mp, "bad logical volume name '%s' (letters, "
		    "digits, _ - . +)", jts_quote(v));
	return set_str(mp, &mp->vol->lv, v);
}

static int
k_size(struct mparse *mp, const char *v)
{
	if (jts_parse_size(v, &mp->vol->size) != 0 || mp->vol->size == 0)
		return fail(mp, "bad size '%s' (a number with K, M, G or T)",
		    jts_quote(v));
	return 1;
}

static int
k_fs(struct mparse *mp, const char *v)
{
	if (strcmp(v, "ext4") && strcmp(v, "xfs") && strcmp(v, "btrfs"))
		return fail(mp, "file system '%s' is not ext4, xfs or btrfs",
		    jts_quote(v));
	return set_str(mp, &mp->vol->fs, v);
}

static int
k_label(struct mparse *mp, const char *v)
{
	if (!valid_name(v, 255))
		return fail(mp, "bad label '%s' (letters, digits, _ - . +)",
		    jts_quote(v));
	return set_str(mp, &mp->vol->label, v);
}

static int
k_mount(struct mparse *mp, const char *v)
{
	if (mp->vol == NULL)
		return set_abs(mp, &mp->m->cold_mount, v, "mount point");
	return set_abs(mp, &mp->vol->mount, v, "mount point");
}

static int
valid_options(const char *v)
{
	const char *p;

	if (*v == ',' || v[strlen(v) - 1] == ',' || strstr(v, ",,"))
		return 0;
	for (p = v; *p; p++)
		if (isspace((unsigned char)*p) || !isprint((unsigned char)*p) ||
		    *p == '\\' || *p == '#')
			return 0;
	return 1;
}

static int
k_options(struct mparse *mp, const char *v)
{
	if (!valid_options(v))
		return fail(mp, "bad mount options '%s' (comma-separated, no "
		    "blanks)", jts_quote(v));
	if (mp->vol == NULL)
		return set_str(mp, &mp->m->cold_options, v);
	return set_str(mp, &mp->vol->options, v);
}

static int
k_compression(struct mparse *mp, const char *v)
{
	const char *algs[] = { "zstd", "lzo", "zlib", "no" };
	size_t i, n;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		n = strlen(algs[i]);
		if (strncmp(v, algs[i], n) == 0 && (v[n] == '\0' ||
		    (v[n] == ':' && isdigit((unsigned char)v[n + 1]) &&
		    strspn(v + n + 1, "0123456789") == strlen(v + n + 1))))
			return set_str(mp, &mp->vol->compression, v);
	}
	return fail(mp, "compression '%s' is not zstd, lzo, zlib or no "
	    "(a level may follow, as zstd:3)", jts_quote(v));
}

static int
k_autodefrag(struct mparse *mp, const char *v)
{
	return set_bool(mp, &mp->vol->autodefrag, v);
}

static int
k_owner(struct mparse *mp, const char *v)
{
	char *s = xstrdup(v), *c = strchr(s, ':');

	if (c != NULL)
		*c++ = '\0';
	if (!valid_name(s, 32) || (c != NULL && !valid_name(c, 32))) {
		free(s);
		return fail(mp, "bad owner '%s' (user or user:group)",
		    jts_quote(v));
	}
	free(mp->own->user);
	free(mp->own->group);
	mp->own->user = xstrdup(s);
	mp->own->group = c != NULL ? xstrdup(c) : NULL;
	free(s);
	return 1;
}

static int
k_mode(struct mparse *mp, const char *v)
{
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(v, &end, 8);
	if (*v == '\0' || *end != '\0' || errno != 0 || m > 07777 ||
	    !isdigit((unsigned char)*v))
		return fail(mp, "bad mode '%s' (octal, as 0750)", jts_quote(v));
	mp->own->mode = (mode_t)m;
	mp->own->has_mode = true;
	return 1;
}

static int
k_scheduler(struct mparse *mp, const char *v)
{
	if (!valid_name(v, 32))
		return fail(mp, "bad I/O scheduler '%s' (as none, mq-deadline, "
		    "bfq, kyber)", jts_quote(v));
	return set_str(mp, &mp->tune->scheduler, v);
}

static int
k_read_ahead(struct mparse *mp, const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < 0 || n > 65536)
		return fail(mp, "bad read_ahead_kb '%s' (0 to 65536)",
		    jts_quote(v));
	mp->tune->read_ahead_kb = (int)n;
	return 1;
}

static int
k_fstrim_timer(struct mparse *mp, const char *v)
{
	return set_bool(mp, &mp->m->fstrim_timer, v);
}

static int
k_path(struct mparse *mp, const char *v)
{
	const char *p = v;

	if (*v == '/' || strstr(v, "//") != NULL || v[strlen(v) - 1] == '/')
		return fail(mp, "subvolume path '%s' must be relative to the "
		    "warm mount point, without empty parts", jts_quote(v));
	while (*p) {
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)))
			return fail(mp, "subvolume path '%s' contains '.' or "
			    "'..'", jts_quote(v));
		p += n + (p[n] == '/');
	}
	if (strpbrk(v, " \t\n\\") != NULL)
		return fail(mp, "subvolume path '%s': no blanks or backslashes",
		    jts_quote(v));
	return set_str(mp, &mp->sub->path, v);
}

static int
k_url(struct mparse *mp, const char *v)
{
	if (strncmp(v, "nfs://", 6) != 0 || v[6] == '\0' || v[6] == '/')
		return fail(mp, "url '%s' is not nfs://server/export[/path]",
		    jts_quote(v));
	if (strpbrk(v, " \t\n\\") != NULL)
		return fail(mp, "url '%s' has blanks or backslashes",
		    jts_quote(v));
	return set_str(mp, &mp->m->cold_url, v);
}

static int
k_source(struct mparse *mp, const char *v)
{
	if (strchr(v, ':') == NULL || strpbrk(v, " \t\n\\#") != NULL)
		return fail(mp, "source '%s' is not server:/export[/path]",
		    jts_quote(v));
	return set_str(mp, &mp->m->cold_source, v);
}

static int
k_timeout(struct mparse *mp, const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < 1 || n > 3600)
		return fail(mp, "bad timeout '%s' (seconds, 1 to 3600)",
		    jts_quote(v));
	mp->m->cold_timeout = (int)n;
	return 1;
}

typedef int (*mkeyfn)(struct mparse *, const char *);
static const struct {
	const char	*section;
	const char	*key;
	mkeyfn		 fn;
} mkeywords[] = {
	{ "hot",	"device",	k_device },
	{ "hot",	"vg",		k_vg },
	{ "hot",	"scheduler",	k_scheduler },
	{ "hot",	"read_ahead_kb", k_read_ahead },
	{ "hot",	"fstrim_timer",	k_fstrim_timer },
	{ "volume",	"lv",		k_lv },
	{ "volume",	"size",		k_size },
	{ "volume",	"device",	k_device },
	{ "volume",	"fs",		k_fs },
	{ "volume",	"label",	k_label },
	{ "volume",	"mount",	k_mount },
	{ "volume",	"options",	k_options },
	{ "volume",	"owner",	k_owner },
	{ "volume",	"mode",		k_mode },
	{ "warm",	"device",	k_device },
	{ "warm",	"label",	k_label },
	{ "warm",	"mount",	k_mount },
	{ "warm",	"options",	k_options },
	{ "warm",	"compression",	k_compression },
	{ "warm",	"autodefrag",	k_autodefrag },
	{ "warm",	"owner",	k_owner },
	{ "warm",	"mode",		k_mode },
	{ "warm",	"scheduler",	k_scheduler },
	{ "warm",	"read_ahead_kb", k_read_ahead },
	{ "subvolume",	"path",		k_path },
	{ "subvolume",	"owner",	k_owner },
	{ "subvolume",	"mode",		k_mode },
	{ "cold",	"url",		k_url },
	{ "cold",	"mount",	k_mount },
	{ "cold",	"source",	k_source },
	{ "cold",	"options",	k_options },
	{ "cold",	"timeout",	k_timeout },
};

/* A section may appear once: its keys are not spread over the file. */
static int
repeated(struct mparse *mp, const char *section, int first)
{
	if (first == mp->il.section_line)
		return 0;
	fail(mp, "[%s] appears again (first at line %d): keep a section's "
	    "keys together", jts_quote(section), first);
	return 1;
}

/* Start a section the first time it is seen; 0 on error. */
static int
m_section(struct mparse *mp, const char *section, const char **kind)
{
	struct manifest *m = mp->m;
	const char *name;
	int i;

	mp->vol = NULL;
	mp->sub = NULL;
	mp->tune = NULL;
	mp->own = NULL;
	if (strcmp(section, "hot") == 0) {
		*kind = "hot";
		if (m->has_hot && repeated(mp, section, m->hot_line))
			return 0;
		if (!m->has_hot)
			m->hot_line = mp->il.section_line;
		m->has_hot = true;
		mp->tune = &m->hot_tune;
		return 1;
	}
	if (strcmp(section, "warm") == 0) {
		*kind = "warm";
		if (m->has_warm && repeated(mp, section, m->warm.line))
			return 0;
		if (!m->has_warm) {
			m->warm.line = mp->il.section_line;
			m->warm.name = xstrdup("warm");
			m->warm.fs = xstrdup("btrfs");
		}
		m->has_warm = true;
		mp->vol = &m->warm;
		mp->own = &m->warm.own;
		mp->tune = &m->warm_tune;
		return 1;
	}
	if (strcmp(section, "cold") == 0) {
		*kind = "cold";
		if (m->has_cold && repeated(mp, section, m->cold_line))
			return 0;
		if (!m->has_cold)
			m->cold_line = mp->il.section_line;
		m->has_cold = true;
		return 1;
	}
	if (strncmp(section, "volume ", 7) == 0) {
		*kind = "volume";
		name = section + 7;
		for (i = 0; i < m->nvols; i++)
			if (strcmp(m->vols[i].name, name) == 0) {
				if (repeated(mp, section, m->vols[i].line))
					return 0;
				mp->vol = &m->vols[i];
				mp->own = &mp->vol->own;
				return 1;
			}
		if (!valid_name(name, 64))
			return fail(mp, "bad volume name '%s' (letters, digits, "
			    "_ - . +)", jts_quote(name));
		if (m->nvols == MF_MAX_VOLUMES)
			return fail(mp, "too many volumes (at most %d)",
			    MF_MAX_VOLUMES);
		mp->vol = &m->vols[m->nvols++];
		mp->vol->name = xstrdup(name);
		mp->vol->line = mp->il.section_line;
		mp->own = &mp->vol->own;
		return 1;
	}
	if (strncmp(section, "subvolume ", 10) == 0) {
		*kind = "subvolume";
		name = section + 10;
		for (i = 0; i < m->nsubvols; i++)
			if (strcmp(m->subvols[i].name, name) == 0) {
				if (repeated(mp, section, m->subvols[i].line))
					return 0;
				mp->sub = &m->subvols[i];
				mp->own = &mp->sub->own;
				return 1;
			}
		if (!valid_name(name, 255))
			return fail(mp, "bad subvolume name '%s' (letters, "
			    "digits, _ - . +)", jts_quote(name));
		if (m->nsubvols == MF_MAX_SUBVOLS)
			return fail(mp, "too many subvolumes (at most %d)",
			    MF_MAX_SUBVOLS);
		mp->sub = &m->subvols[m->nsubvols++];
		mp->sub->name = xstrdup(name);
		mp->sub->line = mp->il.section_line;
		mp->own = &mp->sub->own;
		return 1;
	}
	return fail(mp, "unknown section [%s] (expected [hot], [volume NAME], "
	    "[warm], [subvolume NAME] or [cold])", jts_quote(section));
}

static int
m_handler(void *user, const char *section, const char *key,
    const char *value)
{
	struct mparse *mp = user;
	const char *kind = NULL;
	char seen[64];
	size_t i;
	int j;

	if (mp->il.err_line != 0)
		return 0;
	if (mp->il.continued)
		return fail(mp, "a value cannot continue on an indented line "
		    "here");
	if (*key == '\0')
		return fail(mp, "syntax error (expected [section] or key = "
		    "value)");
	if (mp->section_line != mp->il.section_line) {
		mp->section_line = mp->il.section_line;
		mp->nseen = 0;
	}
	if (!m_section(mp, section, &kind))
		return 0;
	snprintf(seen, sizeof(seen), "%.63s", key);
	for (j = 0; j < mp->nseen; j++)
		if (strcmp(mp->seen[j], seen) == 0)
			return fail(mp, "duplicate key '%s' in [%s]", key,
			    jts_quote(section));
	if (mp->nseen < 64)
		strcpy(mp->seen[mp->nseen++], seen);
	for (i = 0; i < sizeof(mkeywords) / sizeof(mkeywords[0]); i++)
		if (strcmp(mkeywords[i].section, kind) == 0 &&
		    strcmp(mkeywords[i].key, key) == 0)
			return mkeywords[i].fn(mp, value);
	return fail(mp, "unknown key '%s' in [%s]", jts_quote(key),
	    jts_quote(section));
}

/* Set err to "reason" at line and return -1. */
static int
m_error(struct mparse *mp, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
m_error(struct mparse *mp, int line, const char *fmt, ...)
{
	va_list ap;

	mp->il.err_line = line > 0 ? line : 1;
	va_start(ap, fmt);
	vsnprintf(mp->il.err, sizeof(mp->il.err), fmt, ap);
	va_end(ap);
	return -1;
}

static int
nested(const char *a, const char *b)
{
	return jts_path_beneath(a, b) != NULL || jts_path_beneath(b, a) != NULL;
}

static int
check_label(struct mparse *mp, const struct mf_volume *v)
{
	size_t max = 255;

	if (v->label == NULL)
		return 0;
	if (strcmp(v->fs, "ext4") == 0)
		max = 16;
	else if (strcmp(v->fs, "xfs") == 0)
		max = 12;
	if (strlen(v->label) > max)
		return m_error(mp, v->line, "[%s%s]: label '%s' is longer "
		    "than %s allows (%zu characters)", v == &mp->m->warm ? "" :
		    "volume ", v->name, v->label, v->fs, max);
	return 0;
}

/* Checks that need the whole file: each error names its section's line. */
static int
m_validate(struct mparse *mp)
{
	struct manifest *m = mp->m;
	const char *mounts[MF_MAX_VOLUMES + 2], *devs[MF_MAX_VOLUMES + 2];
	int mlines[MF_MAX_VOLUMES + 2], dlines[MF_MAX_VOLUMES + 2];
	int nm = 0, nd = 0, i, j;
	struct mf_volume *v;

	if (!m->has_hot && !m->has_warm && !m->has_cold && m->nvols == 0 &&
	    m->nsubvols == 0)
		return m_error(mp, 1, "nothing to provision: no [hot], "
		    "[volume NAME], [warm] or [cold] section");
	if (m->has_hot && m->vg != NULL && m->hot_device == NULL)
		return m_error(mp, m->hot_line, "[hot]: vg = needs device = "
		    "(the disk to make the volume group on)");
	if (m->hot_device != NULL && m->vg != NULL) {
		devs[nd] = m->hot_device;
		dlines[nd++] = m->hot_line;
	}
	for (i = 0; i < m->nvols; i++) {
		v = &m->vols[i];
		if (v->fs == NULL)
			return m_error(mp, v->line, "[volume %s]: missing fs = "
			    "(ext4, xfs or btrfs)", v->name);
		if (v->mount == NULL)
			return m_error(mp, v->line, "[volume %s]: missing "
			    "mount =", v->name);
		if ((v->device != NULL) == (v->size != 0))
			return m_error(mp, v->line, "[volume %s]: give either "
			    "size = (a logical volume in [hot] vg) or device "
			    "= (a whole device), not %s", v->name,
			    v->device != NULL ? "both" : "neither");
		if (v->size != 0 && m->vg == NULL)
			return m_error(mp, v->line, "[volume %s]: size = needs "
			    "a volume group: vg = in [hot]", v->name);
		if (v->device == NULL && v->lv == NULL)
			v->lv = xstrdup(v->name);
		if (v->device != NULL && v->lv != NULL)
			return m_error(mp, v->line, "[volume %s]: lv = is for "
			    "logical volumes (size =), not device =", v->name);
		for (j = 0; j < i; j++)
			if (v->lv != NULL && m->vols[j].lv != NULL &&
			    strcmp(v->lv, m->vols[j].lv) == 0)
				return m_error(mp, v->line, "[volume %s]: "
				    "logical volume %s also declared by "
				    "[volume %s] (line %d)", v->name, v->lv,
				    m->vols[j].name, m->vols[j].line);
		if (v->compression != NULL || v->autodefrag)
			return m_error(mp, v->line, "[volume %s]: compression "
			    "and autodefrag are for [warm]", v->name);
		if (check_label(mp, v) != 0)
			return -1;
		mounts[nm] = v->mount;
		mlines[nm++] = v->line;
		if (v->device != NULL) {
			devs[nd] = v->device;
			dlines[nd++] = v->line;
		}
	}
	if (m->has_hot && m->nvols == 0 && m->vg != NULL)
		return m_error(mp, m->hot_line, "[hot]: a volume group without "
		    "volumes: add [volume NAME] sections");
	if (m->has_warm) {
		v = &m->warm;
		if (v->device == NULL)
			return m_error(mp, v->line, "[warm]: missing device =");
		if (v->mount == NULL)
			return m_error(mp, v->line, "[warm]: missing mount =");
		if (check_label(mp, v) != 0)
			return -1;
		mounts[nm] = v->mount;
		mlines[nm++] = v->line;
		devs[nd] = v->device;
		dlines[nd++] = v->line;
	}
	if (m->nsubvols > 0 && !m->has_warm)
		return m_error(mp, m->subvols[0].line, "[subvolume %s] needs a "
		    "[warm] section (subvolumes are made on the warm btrfs "
		    "disk)", m->subvols[0].name);
	for (i = 0; i < m->nsubvols; i++) {
		if (m->subvols[i].path == NULL)
			m->subvols[i].path = xstrdup(m->subvols[i].name);
		for (j = 0; j < i; j++)
			if (nested(m->subvols[i].path, m->subvols[j].path) ||
			    strcmp(m->subvols[i].path, m->subvols[j].path) == 0)
				return m_error(mp, m->subvols[i].line,
				    "[subvolume %s]: path %s overlaps "
				    "[subvolume %s] (line %d)",
				    m->subvols[i].name, m->subvols[i].path,
				    m->subvols[j].name, m->subvols[j].line);
	}
	if (m->has_cold) {
		if (m->cold_url == NULL)
			return m_error(mp, m->cold_line, "[cold]: missing url = "
			    "(nfs://server/export/path)");
		if (m->cold_mount == NULL && (m->cold_source != NULL ||
		    m->cold_options != NULL))
			return m_error(mp, m->cold_line, "[cold]: source and "
			    "options are for mount =");
		if (m->cold_mount != NULL) {
			mounts[nm] = m->cold_mount;
			mlines[nm++] = m->cold_line;
		}
	}
	for (i = 0; i < nm; i++)
		for (j = 0; j < i; j++) {
			if (strcmp(mounts[i], mounts[j]) == 0)
				return m_error(mp, mlines[i], "mount point %s "
				    "is also declared at line %d", mounts[i],
				    mlines[j]);
			if (nested(mounts[i], mounts[j]))
				return m_error(mp, mlines[i], "mount point %s "
				    "overlaps %s (line %d): one would hide or "
				    "hold the other", mounts[i], mounts[j],
				    mlines[j]);
		}
	for (i = 0; i < nd; i++)
		for (j = 0; j < i; j++)
			if (strcmp(devs[i], devs[j]) == 0)
				return m_error(mp, dlines[i], "device %s is "
				    "also used at line %d", devs[i], dlines[j]);
	return 0;
}

static void
prescan_sections(struct mparse *mp, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl, *s, *e;
	const char *kind;
	char *name;

	while (p < end && mp->il.err_line == 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		mp->il.line++;
		for (s = p; s < nl && (*s == ' ' || *s == '\t'); s++)
			;
		if (s < nl && *s == '[' && (e = memchr(s, ']', (size_t)(nl -
		    s))) != NULL) {
			name = xmalloc((size_t)(e - s));
			memcpy(name, s + 1, (size_t)(e - s - 1));
			name[e - s - 1] = '\0';
			mp->il.section_line = mp->il.line;
			(void)m_section(mp, name, &kind);
			free(name);
		}
		p = nl + 1;
	}
}

int
manifest_parse(const char *path, const char *text, size_t len,
    struct manifest *m, char *err, size_t errlen)
{
	struct mparse mp;
	FILE *fp;
	int r;

	memset(m, 0, sizeof(*m));
	memset(&mp, 0, sizeof(mp));
	m->path = xstrdup(path);
	m->hot_tune.read_ahead_kb = -1;
	m->warm_tune.read_ahead_kb = -1;
	mp.m = m;
	if (len == 0)
		text = "\n", len = 1;	/* fmemopen wants a buffer */
	if ((fp = fmemopen((void *)text, len, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		manifest_free(m);
		return -ENOMEM;
	}
	/*
	 * A section without keys is meaningful ([subvolume NAME] with the
	 * defaults), but inih reports sections only with a key: find every
	 * header first.
	 */
	prescan_sections(&mp, text, len);
	mp.il.line = 0;
	mp.il.section_line = 0;
	mp.il.fp = fp;
	r = mp.il.err_line != 0 ? 0 :
	    ini_parse_stream(ini_lines_reader, &mp, m_handler, &mp);
	fclose(fp);
	if (mp.il.err_line == 0 && r > 0) {
		mp.il.err_line = r;
		snprintf(mp.il.err, sizeof(mp.il.err),
		    "syntax error (expected [section] or key = value)");
	} else if (r < 0 && mp.il.err_line == 0) {
		snprintf(err, errlen, "%s: cannot parse (error %d)", path, r);
		manifest_free(m);
		return -EINVAL;
	}
	if (mp.il.err_line == 0)
		m_validate(&mp);
	if (mp.il.err_line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, mp.il.err_line,
		    mp.il.err);
		manifest_free(m);
		return -EINVAL;
	}
	if (m->cold_timeout == 0)
		m->cold_timeout = 30;
	if (m->cold_mount != NULL && m->cold_options == NULL)
		m->cold_options = xstrdup("nfsvers=3,hard,noatime,_netdev");
	if (m->cold_mount != NULL && m->cold_source == NULL) {
		/* nfs://server/export/path?args -> server:/export/path */
		const char *h = m->cold_url + 6, *s = strchr(h, '/');
		size_t plen = s != NULL ? strcspn(s, "?") : 0;
		m->cold_source = s != NULL ?
		    xasprintf("%.*s:%.*s", (int)(s - h), h, (int)plen, s) :
		    xasprintf("%s:/", h);
	}
	return 0;
}

int
manifest_load(const char *path, struct manifest *m, char *err,
    size_t errlen)
{
	struct stat st;
	char *buf;
	size_t len;
	int r;

	memset(m, 0, sizeof(*m));
	if (stat(path, &st) == 0 && st.st_size > (16 << 20)) {
		snprintf(err, errlen, "%s: larger than 16 MiB: not a manifest",
		    path);
		return -EFBIG;
	}
	if ((buf = jts_read_file(path, &len)) == NULL) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return r;
	}
	r = manifest_parse(path, buf, len, m, err, errlen);
	free(buf);
	return r;
}

static void
owner_free(struct mf_owner *o)
{
	free(o->user);
	free(o->group);
}

static void
volume_free(struct mf_volume *v)
{
	free(v->name);
	free(v->lv);
	free(v->device);
	free(v->fs);
	free(v->label);
	free(v->mount);
	free(v->options);
	free(v->compression);
	owner_free(&v->own);
}

void
manifest_free(struct manifest *m)
{
	int i;

	free(m->path);
	free(m->hot_device);
	free(m->vg);
	free(m->hot_tune.scheduler);
	free(m->warm_tune.scheduler);
	for (i = 0; i < m->nvols; i++)
		volume_free(&m->vols[i]);
	volume_free(&m->warm);
	for (i = 0; i < m->nsubvols; i++) {
		free(m->subvols[i].name);
		free(m->subvols[i].path);
		owner_free(&m->subvols[i].own);
	}
	free(m->cold_url);
	free(m->cold_mount);
	free(m->cold_source);
	free(m->cold_options);
	memset(m, 0, sizeof(*m));
}

char *
manifest_volume_dev(const struct manifest *m, const struct mf_volume *v)
{
	if (v->device != NULL)
		return xstrdup(v->device);
	return xasprintf("/dev/%s/%s", m->vg, v->lv);
}

char *
manifest_volume_options(const struct mf_volume *v)
{
	char *o = xstrdup(v->options != NULL ? v->options : "defaults"), *n;

	if (v->compression != NULL && strstr(o, "compress") == NULL) {
		n = xasprintf("%s,compress=%s", o, v->compression);
		free(o);
		o = n;
	}
	if (v->autodefrag && strstr(o, "autodefrag") == NULL) {
		n = xasprintf("%s,autodefrag", o);
		free(o);
		o = n;
	}
	if (strncmp(o, "defaults,", 9) == 0) {
		n = xstrdup(o + 9);
		free(o);
		o = n;
	}
	return o;
}
