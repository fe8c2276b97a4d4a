#!/bin/bash
# Set up a fresh Debian machine and run the whole test suite:
# install packages, build warning-clean, run every test, check the
# distribution tarball, and print "N passed, N failed, N skipped".
# Run as root: integration tests need loop devices, mounts and leases
# (without root they are reported as skipped, never as passed).
set -u
cd "$(dirname "$0")/.."
top=$(pwd)

if [ "$(id -u)" -eq 0 ]; then
	./scripts/setup-deps.sh || { echo "setup-deps failed"; echo "0 passed, 1 failed"; exit 1; }
fi

build() {
	autoreconf -fi >/dev/null 2>&1 &&
	./configure -q --enable-werror &&
	make -j"$(nproc)" >/dev/null
}
if ! build; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

make -k check >/dev/null 2>&1
# Show what failed, with its log, so CI output explains itself.
for log in tests/*.log; do
	trs=${log%.log}.trs
	[ -f "$trs" ] || continue
	res=$(sed -n 's/^:test-result: //p' "$trs")
	echo "$res: $(basename "${log%.log}")"
	if [ "$res" = FAIL ] || [ "$res" = ERROR ]; then
		sed 's/^/    /' "$log" | tail -40
	fi
	if [ "$res" = SKIP ]; then
		grep -m1 '^SKIP' "$log" | sed 's/^/    /'
	fi
done

count() {
	sed -n "s/^# $1: *//p" test-suite.log | head -1
}
pass=$(count PASS); fail=$(count FAIL); skip=$(count SKIP)
err=$(count ERROR); xpass=$(count XPASS)
fail=$((${fail:-0} + ${err:-0} + ${xpass:-0}))
pass=${pass:-0}
skip=${skip:-0}

# The distribution tarball builds and passes its unit tests.
if make distcheck TESTS="tests/unit-conf tests/unit-catalog tests/unit-copy tests/unit-util" \
    >distcheck.log 2>&1; then
	echo "PASS: distcheck"
	pass=$((pass + 1))
else
	echo "FAIL: distcheck"
	tail -30 distcheck.log | sed 's/^/    /'
	fail=$((fail + 1))
fi

cd "$top"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
