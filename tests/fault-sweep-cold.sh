#!/bin/bash
# fault-sweep-cold.sh - tests/fault-sweep.sh to and from the NAS: warm ->
# cold (migrate --to cold) and cold -> hot (recall), every libnfs call
# failing in turn beside the local and SQLite ones.
SWEEP_COLD=1
. "${JTS_SRCDIR:-.}/tests/fault-sweep.sh"
