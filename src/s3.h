/*
 * s3.h - the requests of an S3 object store (path-style, signed with
 * AWS Signature Version 4), made with libcurl's multi interface: many in
 * flight, each part of a large upload checked by the server against its
 * Content-MD5, every object carrying the XXH3-128 of its data and the
 * journal row that wrote it as metadata.
 *
 * Why libcurl and not libs3: the libs3 Debian ships (2.0) signs with
 * Signature Version 2 only and has no multipart upload; libcurl (7.75
 * and later) signs Version 4 itself (CURLOPT_AWS_SIGV4), is maintained
 * with the system's TLS, and its multi interface keeps requests in
 * flight as libnfs does for the NAS.
 */
#ifndef JTS_S3_H
#define JTS_S3_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct copy_opts;

/*
 * Who writes: the catalog whose objects these are.  Every object carries
 * its id, and nothing is deleted that does not (or one of those it took
 * over); a prefix is claimed by one catalog (see s3_claim).
 */
struct s3_owner {
	const char	*catalog;	/* the catalog's UUID */
	const char	*adopted;	/* UUIDs taken over, space-separated */
	const char	*host;		/* for people: who holds a claim */
	const char	*machine;	/* /etc/machine-id, or "" */
};

struct s3_conf {
	const char	*endpoint;	/* http://host:port or https://host */
	const char	*bucket;
	const char	*prefix;	/* beneath which this host's keys lie */
	const char	*region;	/* for the signature */
	const char	*access, *secret;
	bool		 verify_tls;	/* on unless said otherwise */
	const char	*ca_file;	/* NULL: the system's */
	int		 timeout;	/* seconds without progress */
	int		 inflight;	/* requests at once */
	uint64_t	 part_size;	/* a multipart upload's parts */
	struct s3_owner	 owner;		/* catalog NULL: reads only */
};

/*
 * What an object says of the file it holds (its metadata), written at
 * upload: enough to adopt it without the catalog.
 */
struct s3_meta {
	int64_t		 id;		/* the journal row that wrote it */
	int64_t		 mtime_ns;	/* the file's */
	uint32_t	 mode, uid, gid;
	const char	*home;		/* the file's home tier */
	const char	*holes;		/* its data extents ("off+len,..."),
					   or NULL: none, or too many */
};

/* What a HEAD of an object says. */
struct s3_obj {
	uint64_t	 size;
	int64_t		 mtime_ns;	/* Last-Modified */
	bool		 has_hash;	/* x-amz-meta-jts-xxh3 */
	unsigned char	 hash[JTS_HASH_LEN];
	int64_t		 id;		/* x-amz-meta-jts-id, 0 if none */
	bool		 has_file_mtime;	/* x-amz-meta-jts-mtime: */
	int64_t		 file_mtime_ns;	/* the file's, as it was moved */
	char		 catalog[40];	/* x-amz-meta-jts-catalog, or "" */
	bool		 has_owner;	/* x-amz-meta-jts-mode, -uid, -gid */
	uint32_t	 mode, uid, gid;
	char		 claim_host[72];	/* a claim's x-amz-meta-jts-host */
	char		 claim_machine[40];	/* and -machine */
	char		 etag[80];
};

/* The longest map of holes an object's metadata keeps (S3 allows 2 KiB
 * of user metadata in all). */
#define S3_HOLES_MAX	1024

struct s3;

/* A client of the store c names (copied); NULL if out of memory. */
struct s3 *s3_new(const struct s3_conf *c);
void	s3_free(struct s3 *);
/* Has the server refused the credentials (InvalidAccessKeyId,
 * SignatureDoesNotMatch)?  A client that was is made anew, the
 * credentials read again. */
bool	s3_refused(const struct s3 *);
/* The last error in words (the server's code and message, or curl's). */
const char *s3_error(const struct s3 *);
/*
 * The key of rel: the prefix, a '/', then rel.  A rel beginning with '/'
 * names one of jts-tier's own objects (claims, probes) beneath the
 * bucket's ".jts-tier" instead: no file's key can be one (a prefix may
 * not begin with ".jts-tier").
 */
char	*s3_key(const struct s3 *, const char *rel);
/*
 * Can rel's key exist?  S3 keys are UTF-8, at most 1,024 bytes: 0, or
 * -EILSEQ or -ENAMETOOLONG with s3_error saying which rule.
 */
int	s3_key_check(struct s3 *, const char *rel);
/* Is o one of ours: written by this catalog or one it took over; one
 * written before catalogs had identities counts as ours (see s3_claim). */
bool	s3_obj_ours(const struct s3 *, const struct s3_obj *o);
/*
 * The claim of the prefix, at ".jts-tier/claims/PREFIX" (one listing
 * sees every claim of the bucket): 0 if it is this catalog's (made if
 * there was none and make is set); -EEXIST if another catalog holds it,
 * or a prefix nested in it or around it is claimed (s3_error says which
 * and by whom: host, machine, catalog); or -errno.  take_over: replace
 * another catalog's claim of exactly this prefix (on purpose only: a
 * rebuilt catalog, a host reinstalled); its UUID into taken (40 bytes)
 * for the caller to keep as adopted before it calls again to write it.
 */
int	s3_claim(struct s3 *, bool make, bool take_over, char *taken);

/* Is the bucket there and ours?  0, or -errno with s3_error set. */
int	s3_bucket_check(struct s3 *);
/* HEAD of rel's object: 0, -ENOENT, or -errno. */
int	s3_head(struct s3 *, const char *rel, struct s3_obj *);
/*
 * Upload size bytes of the local fd as rel's object, never replacing
 * one (If-None-Match where the server honours it; the caller checked
 * before), with the catalog's id, meta and the stream's XXH3-128 (into
 * hash) as metadata (S3 keeps no times of its own but the upload's);
 * one PUT up to the part size, else a multipart upload, its parts in
 * flight, each with its Content-MD5; an upload that fails is aborted.
 * co (NULL: none): its progress hears of each part sent, its pace is
 * kept, and its abort and stop flags end the upload (-ECANCELED, the
 * upload aborted).  0, -EEXIST (an object is there), -ESTALE (the file
 * changed while it was read), or -errno.
 */
int	s3_put(struct s3 *, const char *rel, int fd, uint64_t size,
	    const struct s3_meta *meta, unsigned char hash[JTS_HASH_LEN],
	    const struct copy_opts *co);
/*
 * Would an upload of size bytes be refused by the server where an object
 * is (a single PUT, If-None-Match kept: asked once)?  If not, look first.
 */
bool	s3_put_refuses_existing(struct s3 *, uint64_t size);
/*
 * GET rel's object afresh, size bytes, hashed into hash, written to wfd
 * from offset 0 (wfd < 0: only hashed); co as for s3_put.  The holes its
 * metadata names are left holes in wfd (where they read as zeros).  0,
 * -ESTALE (another size), -ENOENT, -ECANCELED, or -errno.
 */
int	s3_get(struct s3 *, const char *rel, uint64_t size, int wfd,
	    unsigned char hash[JTS_HASH_LEN], const struct copy_opts *co);
/* One object of many moved at once. */
struct s3_many {
	const char	*rel;
	int		 fd;		/* put: read; get: written (or -1) */
	uint64_t	 size;
	const struct s3_meta *meta;	/* put: its metadata */
	const struct copy_opts *co;	/* as for s3_put and s3_get */
	unsigned char	 hash[JTS_HASH_LEN];	/* of what was sent, or got */
	int		 err;		/* as s3_put's or s3_get's */
	char		 why[1024];	/* err in words */
};
/*
 * Each of n uploads as s3_put, in order, up to inflight requests at once;
 * one larger than a part alone (its parts in flight).  How many succeeded;
 * each item's err and why say how it went.
 */
int	s3_put_many(struct s3 *, struct s3_many *v, int n);
/* Each of n GETs as s3_get, up to inflight at once; as s3_put_many
 * (point: the fault point each one passes, for the tests). */
int	s3_get_many(struct s3 *, struct s3_many *v, int n, const char *point);
/* The bytes and objects beneath the prefix (a listing): 0 or -errno. */
int	s3_usage(struct s3 *, uint64_t *bytes, uint64_t *objects);
/* DELETE rel's object: 0 (also if it was not there), or -errno.  The
 * caller made sure it is ours (s3_obj_ours). */
int	s3_delete(struct s3 *, const char *rel);
/* HEADs of n objects, up to inflight at once: res[i] 0 with o[i] set,
 * or -errno (-ENOENT: none). */
void	s3_head_many(struct s3 *, const char *const *rel, struct s3_obj *o,
	    int *res, int n);
/* DELETE of n objects in requests of up to 1,000 (S3's multi-object
 * delete): res[i] 0 (gone, or was not there) or -errno. */
void	s3_delete_many(struct s3 *, const char *const *rel, int *res, int n);
/* Abort every unfinished multipart upload of rel: their number, or
 * -errno. */
int	s3_abort_uploads(struct s3 *, const char *rel);

#endif
