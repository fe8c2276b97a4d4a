/* fuzz-conf.c - the configuration parser (jts-tier.conf(5)) */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct conf c;
	char err[1024];
	const char *rel;
	int i;

	if (conf_parse("fuzz.conf", (const char *)data, len, &c, err,
	    sizeof(err)) != 0)
		return 0;
	/* What a valid configuration is used for first. */
	for (i = 0; i < c.ntiers; i++) {
		(void)conf_tier(&c, c.tiers[i].name);
		if (c.tiers[i].root != NULL)
			(void)conf_locate(&c, c.tiers[i].root, &rel);
	}
	conf_free(&c);
	return 0;
}
