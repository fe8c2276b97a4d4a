/* fuzz-manifest.c - the provisioning manifest parser
 * (jts-tier.manifest(5)) and what a plan derives from it */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "manifest.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct manifest m;
	char err[1024], *s;
	int i;

	if (manifest_parse("fuzz.manifest", (const char *)data, len, &m, err,
	    sizeof(err)) != 0)
		return 0;
	for (i = 0; i < m.nvols; i++) {
		s = manifest_volume_dev(&m, &m.vols[i]);
		free(s);
		s = manifest_volume_options(&m.vols[i]);
		free(s);
	}
	if (m.has_warm) {
		s = manifest_volume_options(&m.warm);
		free(s);
	}
	manifest_free(&m);
	return 0;
}
