#!/bin/bash
# provision-lvm-volumes.sh - logical volumes made, formatted, mounted and
# rolled back: needs device-mapper in the kernel (tests/provision-lvm.sh
# covers the PV and VG steps and the failure without it).
. "${JTS_SRCDIR:-.}/tests/lib.sh"
need_root
grep -qw device-mapper /proc/misc ||
    skip "the kernel has no device-mapper: lvcreate cannot make logical volumes here"
# With device-mapper present, provision-lvm.sh runs the full cycle.
JTS_SRCDIR=${JTS_SRCDIR:-.} exec bash "${JTS_SRCDIR:-.}/tests/provision-lvm.sh"
