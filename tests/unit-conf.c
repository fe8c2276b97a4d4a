/* unit-conf.c - configuration parsing and its errors (file:line) */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "conf.h"
#include "unit.h"
#include "util.h"

static char path[] = "/tmp/jts-unit-conf.XXXXXX";

static int
load(const char *text, struct conf *c, char *err, size_t len)
{
	FILE *fp = fopen(path, "w");

	fputs(text, fp);
	fclose(fp);
	return conf_load(path, c, err, len);
}

/* The config must fail with an error at line, containing what. */
static void
bad(const char *text, int line, const char *what)
{
	struct conf c;
	char err[1024], want[1100];

	unit_checks++;
	if (load(text, &c, err, sizeof(err)) == 0) {
		unit_fails++;
		fprintf(stderr, "FAIL: accepted config that should fail "
		    "(%s)\n", what);
		conf_free(&c);
		return;
	}
	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what)) {
		unit_fails++;
		fprintf(stderr, "FAIL: error [%s], want prefix [%s] and [%s]\n",
		    err, want, what);
	}
}

int
main(void)
{
	struct conf c;
	char err[1024];
	int fd = mkstemp(path);

	close(fd);
	CHECK(load("[catalog]\npath = /var/x/cat.db\n[defaults]\n"
	    "reserve = 1G\nleave = remove\nhome = hot\n"
	    "[tier hot]\nkind = posix\nroot = /data/hot/\n"
	    "high_watermark = 80\nlow_watermark = 60%\n"
	    "[tier warm]\nkind = btrfs\nroot = /data/warm\n"
	    "[tier cold]\nkind = nfs\nurl = nfs://nas/vol/jts?version=3\n"
	    "mountpoint = /mnt/nas\n", &c, err, sizeof(err)) == 0);
	CHECK(c.ntiers == 3);
	CHECK_STR(c.catalog, "/var/x/cat.db");
	CHECK(c.reserve == 1ULL << 30);
	CHECK(c.leave == LEAVE_REMOVE);
	CHECK_STR(c.tiers[0].root, "/data/hot");
	CHECK(c.tiers[0].high == 80 && c.tiers[0].low == 60);
	CHECK(c.tiers[1].kind == TIER_BTRFS);
	CHECK(c.tiers[2].kind == TIER_NFS);
	CHECK_STR(c.tiers[2].mountpoint, "/mnt/nas");
	CHECK(conf_tier_index(&c, "warm") == 1);
	conf_free(&c);

	/* Defaults. */
	CHECK(load("[tier a]\nroot = /a\n", &c, err, sizeof(err)) == 0);
	CHECK_STR(c.home, "a");
	CHECK(c.leave == LEAVE_SYMLINK);
	CHECK(c.tiers[0].kind == TIER_POSIX);
	conf_free(&c);

	bad("[tier a]\nroot = /a\nsize = 3\n", 3, "unknown key 'size'");
	bad("# c\n[tiers]\nroot = /a\n", 3, "unknown section [tiers]");
	bad("[tier a]\nkind = zfs\nroot = /a\n", 2, "bad tier kind: zfs");
	bad("[tier a]\nroot = a/b\n", 2, "absolute");
	bad("[tier a]\nroot = /a\nroot = /b\n", 3, "duplicate key 'root'");
	bad("[tier a]\nroot = /a\n[tier b]\nroot = /a/x\n", 3, "overlaps");
	bad("[tier a]\nroot = /a\n[tier b]\nroot = /a/\n", 3, "same root");
	bad("[tier a]\nroot = /a\nhigh_watermark = 50\nlow_watermark = 60\n",
	    1, "above high_watermark");
	bad("[tier a]\nroot = /a\nhigh_watermark = 150\n", 3,
	    "bad high_watermark");
	bad("\n[tier c]\nkind = nfs\n", 2, "needs url");
	bad("[tier a]\nroot = /a\nthis is not ini\n", 3, "syntax error");
	bad("[defaults]\nreserve = lots\n", 2, "bad size for reserve");
	bad("[defaults]\nleave = maybe\n", 2, "bad value for leave");
	bad("[catalog]\npath = /x\n", 2, "no [tier NAME] section");
	bad("[tier A B]\nroot = /a\n", 2, "bad tier name");
	bad("[defaults]\nhome = nowhere\n[tier a]\nroot = /a\n", 1,
	    "unknown tier 'nowhere'");
	{
		char big[600];

		memset(big, 'x', sizeof(big));
		big[sizeof(big) - 1] = '\0';
		snprintf(err, sizeof(err), "[tier a]\nroot = /a\n# %s\n", big);
		bad(err, 3, "line longer than");
	}

	CHECK(conf_load("/nonexistent/jts.conf", &c, err, sizeof(err)) != 0);
	CHECK(strstr(err, "/nonexistent/jts.conf: cannot open") != NULL);
	unlink(path);
	return unit_done("unit-conf");
}
