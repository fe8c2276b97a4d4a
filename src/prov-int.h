/*
 * prov-int.h - what provisioning's files share: the plan and its steps
 * (provision.c plan, apply and rollback; prov-plan.c building the plan;
 * prov-steps.c each kind of step; prov-sys.c the system; prov-verify.c
 * verify).  Not for other modules.
 */
#ifndef JTS_PROV_INT_H
#define JTS_PROV_INT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "provision.h"

/* The marks of a tier's block in /etc/fstab. */
#define BLOCK_BEGIN	"# BEGIN jts-tier "
#define BLOCK_END	"# END jts-tier "

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

struct mnt {
	char		*target, *fstype, *source, *opts, *superopts;
	dev_t		 dev;
};
struct sig {
	char		*type;		/* file system or PV; NULL if none */
	char		*pttype;	/* partition table; NULL if none */
	char		*uuid, *label;
};
struct vrep {
	FILE		*out;
	int		 n[4];
	int		 status;
};

/* prov-sys.c: commands, mounts, devices, owners, fstab blocks */
char **argv_new(const char *first, ...);
void	argv_free(char **v);
char *prov_argv_str(char *const argv[]);
int	prov_run(char *const argv[], char **out);
bool	run_ok(char *const argv[]);
char *tail_lines(const char *out, int max);
const char *base_name(const char *path);
char *rooted(const struct prov *p, const char *path);
int	write_atomic(const char *path, const char *data, size_t len, mode_t mode);
void	hash_hex(const void *data, size_t len, char out[33]);
int	mounts_load(struct mnt **out);
void	mounts_free(struct mnt *v, int n);
dev_t	whole_disk(dev_t d);
bool	mount_of_dev(const struct mnt *mt, dev_t rdev, bool partitions);
char *dev_busy(const char *dev);
void	sig_free(struct sig *s);
int	dev_signature(const char *dev, struct sig *s);
char *sig_str(const char *dev, const struct sig *s);
int	mount_at(struct mnt *mv, int n, const char *target);
int	dir_entries(const char *path, char *first, size_t firstlen);
int	resolve_owner(const struct mf_owner *o, uid_t *uid, gid_t *gid, char **why);
char *fstab_block(const struct prov *p, const char *tier, bool *known);
bool	block_find(const char *text, const char *tier, size_t *start, size_t *end);
char *block_text(const struct prov *p, const char *tier, const char *lines);
char *block_put(const char *text, const char *tier, const char *block);
struct step *step_add(struct prov *p, enum step_kind kind, const char *tier);

/* prov-plan.c: the steps of a manifest */
void	refuse(struct step *s, char *why);
int	chk_systemctl(struct prov *p, struct step *s);
char *queue_dir(const char *dev);
void	prov_build(struct prov *p);
int	file_check(struct prov *p, struct step *s, char **want, char **cur);

/* prov-steps.c: each kind of step */
char *sysfs_value(const char *path);
int	step_check(struct prov *p, struct step *s);
int	mkdirs(const char *dir, json_object *made, char **err);
int	step_do(struct prov *p, struct step *s, json_object *rec, char **err);
int	undo_mkdir(struct prov *p, json_object *rec, char **err);
int	step_undo(struct prov *p, json_object *rec, char **err);
void	prov_init(struct prov *p, const struct manifest *m, const struct prov_opts *o);

/* provision.c: the journal, plan, apply, rollback */
int	intent(struct prov *p, json_object *rec, char **err);
int64_t	jint(json_object *o, const char *key, int64_t dflt);
void	prov_free(struct prov *p);

#endif
