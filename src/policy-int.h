/* policy-int.h - what policy.c and policy-sql.c share.  Not for other
 * modules. */
#ifndef JTS_POLICY_INT_H
#define JTS_POLICY_INT_H

#include <sqlite3.h>
#include <stddef.h>

#include "policy.h"

/* Read the pins table (before each evaluation); 0 or -1. */
int	pins_load(sqlite3 *db);
/* The pin that covers path (itself or a directory above), or NULL. */
const char *pin_of(const char *path, size_t n);

#endif
