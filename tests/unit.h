/* unit.h - a minimal harness for the C unit tests (exit 0, 1, or 77) */
#ifndef JTS_UNIT_H
#define JTS_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_checks, unit_fails;

#define CHECK(cond) do {						\
	unit_checks++;							\
	if (!(cond)) {							\
		unit_fails++;						\
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__,	\
		    #cond);						\
	}								\
} while (0)

#define CHECK_STR(got, want) do {					\
	const char *g_ = (got), *w_ = (want);				\
	unit_checks++;							\
	if (g_ == NULL || strcmp(g_, w_) != 0) {			\
		unit_fails++;						\
		fprintf(stderr, "FAIL %s:%d: %s: got [%s], want [%s]\n",\
		    __FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_);	\
	}								\
} while (0)

static inline int
unit_done(const char *name)
{
	if (unit_checks == 0) {
		fprintf(stderr, "%s: asserted nothing\n", name);
		return 1;
	}
	printf("%s: %d checks, %d failed\n", name, unit_checks, unit_fails);
	return unit_fails ? 1 : 0;
}

#endif
