/* fuzz-policy.c - the policy parser (jts-tier.policy(5)) and the
 * compilation of its condition and order under the SQL sandbox, against
 * an in-memory catalog. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "catalog.h"
#include "conf.h"
#include "policy.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char fuzz_conf[] =
    "[catalog]\npath = /nonexistent/catalog.db\n"
    "[tier hot]\nkind = posix\nroot = /fuzz/hot\n"
    "[tier warm]\nkind = btrfs\nroot = /fuzz/warm\n"
    "[tier cold]\nkind = nfs\nurl = nfs://nas/export\n";

static struct conf conf;
static struct catalog cat;
static int ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct policy p;
	char err[1024], path[64];
	int fd;

	if (!ready) {
		if (conf_parse("fuzz.conf", fuzz_conf, sizeof(fuzz_conf) - 1,
		    &conf, err, sizeof(err)) != 0 ||
		    catalog_open(":memory:", false, &cat, err,
		    sizeof(err)) != 0 || policy_db_init(cat.db) != 0) {
			fprintf(stderr, "fuzz-policy: setup: %s\n", err);
			abort();
		}
		ready = 1;
	}
	/* The parser reads a file: give it one in memory. */
	if ((fd = memfd_create("fuzz.policy", MFD_CLOEXEC)) < 0)
		abort();
	if (len > 0 && jts_write_all(fd, data, len) != 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	memset(&p, 0, sizeof(p));
	if (policy_load_file(path, &conf, &p, err, sizeof(err)) == 0) {
		(void)policy_compile(&p, cat.db, err, sizeof(err));
		policy_free(&p);
	}
	close(fd);
	return 0;
}
