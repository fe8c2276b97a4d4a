/* unit-util.c - path, size and quoting helpers */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "unit.h"
#include "util.h"

int
main(void)
{
	char buf[64], *p;
	uint64_t v;

	p = jts_path_abs("/a/./b//c/../d/");
	CHECK_STR(p, "/a/b/d");
	free(p);
	p = jts_path_abs("/../..");
	CHECK_STR(p, "/");
	free(p);
	p = jts_path_abs("/x/y/../../../z");
	CHECK_STR(p, "/z");
	free(p);
	if (chdir("/tmp") == 0) {
		p = jts_path_abs("q/../r");
		CHECK_STR(p, "/tmp/r");
		free(p);
	}

	CHECK_STR(jts_path_beneath("/data/hot", "/data/hot/a/b"), "a/b");
	CHECK_STR(jts_path_beneath("/data/hot/", "/data/hot/a"), "a");
	CHECK_STR(jts_path_beneath("/data/hot", "/data/hot"), "");
	CHECK(jts_path_beneath("/data/hot", "/data/hotter/a") == NULL);
	CHECK(jts_path_beneath("/data/hot", "/data") == NULL);
	CHECK_STR(jts_path_beneath("/", "/etc/x"), "etc/x");

	CHECK(jts_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(jts_parse_size("64M", &v) == 0 && v == 64ULL << 20);
	CHECK(jts_parse_size("1GiB", &v) == 0 && v == 1ULL << 30);
	CHECK(jts_parse_size("2t", &v) == 0 && v == 2ULL << 40);
	CHECK(jts_parse_size("", &v) == -EINVAL);
	CHECK(jts_parse_size("-1", &v) == -EINVAL);
	CHECK(jts_parse_size("12Q", &v) == -EINVAL);
	CHECK(jts_parse_size("99999999999999999999", &v) != 0);
	CHECK(jts_parse_size("20000000T", &v) == -ERANGE);

	CHECK_STR(jts_quote("a\nb\tc\001"), "a\\nb\\tc\\001");
	/* C1 controls, bidi overrides and invalid bytes are escaped too. */
	CHECK_STR(jts_quote("x\xc2\x9b" "31m"), "x\\u009b31m");
	CHECK_STR(jts_quote("a\xe2\x80\xae" "b"), "a\\u202eb");
	CHECK_STR(jts_quote("r\xff\xfe"), "r\\377\\376");
	CHECK_STR(jts_quote("caf\xc3\xa9"), "caf\xc3\xa9");
	CHECK_STR(jts_quote("a b=c"), "a b=c");
	/* A field: quoted when a blank, '=' or a quote could forge one. */
	CHECK_STR(jts_quote_field("plain"), "plain");
	CHECK_STR(jts_quote_field("x result=failed"),
	    "\"x result=failed\"");
	CHECK_STR(jts_quote_field("q\"uote"), "\"q\\\"uote\"");
	CHECK_STR(jts_quote_field(""), "\"\"");
	{
		char *t = jts_text_safe("ok\nline\t\033[2J\xc2\x9b\xff");

		CHECK_STR(t, "ok\nline\t\\u001b[2J\\u009b\\377");
		free(t);
	}
	errno = 0;
	CHECK(jts_path_abs("") == NULL && errno == ENOENT);
	CHECK_STR(jts_fmt_bytes(1536, buf, sizeof(buf)), "1.5 KiB");
	CHECK_STR(jts_fmt_bytes(12, buf, sizeof(buf)), "12 B");
	{
		unsigned char h[JTS_HASH_LEN];
		char hex[33];
		int i;

		for (i = 0; i < JTS_HASH_LEN; i++)
			h[i] = (unsigned char)(i * 17);
		jts_hash_hex(h, hex);
		CHECK_STR(hex, "00112233445566778899aabbccddeeff");
	}
	/* The identity set: each (dev, ino) added once, across growth. */
	{
		struct jts_idset ids = { 0 };
		unsigned i, fresh = 0, again = 0;

		for (i = 0; i < 5000; i++)
			fresh += jts_idset_add(&ids, i % 3, i);
		for (i = 0; i < 5000; i++)
			again += jts_idset_add(&ids, i % 3, i);
		CHECK(fresh == 5000);
		CHECK(again == 0);
		CHECK(ids.n == 5000);
		CHECK(jts_idset_add(&ids, 1, 0));	/* inode 0 is kept too */
		CHECK(!jts_idset_add(&ids, 1, 0));
		CHECK(jts_idset_add(&ids, 2, 3));	/* 3 is on device 0 */
		jts_idset_clear(&ids);
		CHECK(ids.n == 0);
		CHECK(jts_idset_add(&ids, 0, 3));
		jts_idset_free(&ids);
	}
	return unit_done("unit-util");
}
