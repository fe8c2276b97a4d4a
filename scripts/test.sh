#!/bin/bash
# Set up a fresh Debian machine and run the whole test suite:
# install packages, build warning-clean, run every test, check the
# distribution tarball, run every test again built with AddressSanitizer
# and UndefinedBehaviorSanitizer, run the libFuzzer targets for a bounded
# time, and print "N passed, N failed, N skipped".
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
	./configure -q --enable-werror --enable-test-hooks &&
	make -j"$(nproc)" >/dev/null
}
if ! build; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

# show_results [PREFIX]: one line per test; the log of a failure and the
# reason of a skip, so CI output explains itself.
show_results() {
	local log trs res
	for log in tests/*.log; do
		trs=${log%.log}.trs
		[ -f "$trs" ] || continue
		res=$(sed -n 's/^:test-result: //p' "$trs")
		# How long it took, as the test said at its end.
		took=$(grep -a -o 'checks [a-z]* ([0-9]* s)$' "$log" | grep -o '[0-9]* s')
		echo "$res: ${1:-}$(basename "${log%.log}")${took:+ ($took)}"
		if [ "$res" = FAIL ] || [ "$res" = ERROR ]; then
			sed 's/^/    /' "$log" | tail -40
		fi
		if [ "$res" = SKIP ]; then
			grep -m1 '^SKIP' "$log" | sed 's/^/    /'
		fi
	done
}

# The rest works from the distribution tarball (the files a user gets).
# While the tests run, the sanitizer build is made beside them, and make
# distcheck and the libFuzzer pass run: they want the CPU the tests leave
# idle.  Then the whole suite again with the sanitizers.
asan=$(mktemp -d /tmp/jts-asan.XXXXXX)
fuzz=$(mktemp -d /tmp/jts-fuzz.XXXXXX)
make dist >/dev/null 2>&1 &&
    tar -xzf jts-tier-*.tar.gz -C "$asan" &&
    tar -xzf jts-tier-*.tar.gz -C "$fuzz" || echo "make dist failed"

(cd "$asan"/jts-tier-* && ./configure -q --enable-sanitizers --enable-test-hooks >/dev/null &&
    make -j"$(nproc)" >/dev/null 2>&1 &&
    make -j"$(nproc)" check TESTS= >/dev/null 2>&1) &
asan_build=$!

# The distribution tarball builds and passes its unit tests.
make distcheck TESTS="tests/unit-conf tests/unit-catalog tests/unit-copy tests/unit-util" \
    >distcheck.log 2>&1 &
distcheck_pid=$!

# The parsers and the control protocol under libFuzzer (clang, ASan and
# UBSan), a bounded run each from the corpus in tests/fuzz/corpus.
(if cd "$fuzz"/jts-tier-* &&
    CC=clang ./configure -q --enable-fuzzing >/dev/null 2>&1 &&
    make -j"$(nproc)" >/dev/null 2>&1; then
	make -s fuzz FUZZ_TIME="${JTS_FUZZ_TIME:-20}" 2>&1 |
	    grep -v -E '^  (CC|CCLD|AR|GEN) ' > "$fuzz/fuzz.out"
else
	echo "FAIL: fuzz build (CC=clang --enable-fuzzing)" > "$fuzz/fuzz.out"
fi) &
fuzz_pid=$!

# Three tests at a time: most wait on disks, syncs and timers rather than
# the CPU (JTS_TEST_JOBS to change it).
JOBS=${JTS_TEST_JOBS:-3}
make -k -j"$JOBS" check >/dev/null 2>&1
show_results

# count FIELD LOG
count() {
	sed -n "s/^# $1: *//p" "$2" | head -1
}
tally() {	# LOG: add its results to the totals
	local p f s e x
	p=$(count PASS "$1"); f=$(count FAIL "$1"); s=$(count SKIP "$1")
	e=$(count ERROR "$1"); x=$(count XPASS "$1")
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0} + ${e:-0} + ${x:-0}))
	skip=$((skip + ${s:-0}))
}
pass=0 fail=0 skip=0
tally test-suite.log

# The whole suite again, built with AddressSanitizer and UBSan.  The
# fault sweep and the crash torture run half as many faults here, from
# their own random offset and seed, and the longest tests half their
# rounds (JTS_TEST_SHARE): the plain pass has judged the behaviour; this
# one looks for memory errors on the same paths.
if wait "$asan_build" && cd "$asan"/jts-tier-*; then
	JTS_SWEEP_SHARE=2 JTS_TORTURE_ITER=100 JTS_TEST_SHARE=2 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	LSAN_OPTIONS=suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    make -k -j"$JOBS" check >/dev/null 2>&1
	show_results asan/
	tally test-suite.log
else
	echo "FAIL: asan build"
	fail=$((fail + 1))
fi
cd "$top"
rm -rf "$asan"

if wait "$distcheck_pid"; then
	echo "PASS: distcheck"
	pass=$((pass + 1))
else
	echo "FAIL: distcheck"
	tail -30 distcheck.log | sed 's/^/    /'
	fail=$((fail + 1))
fi

wait "$fuzz_pid"
cat "$fuzz/fuzz.out"
pass=$((pass + $(grep -c '^PASS: ' "$fuzz/fuzz.out")))
fail=$((fail + $(grep -c '^FAIL: ' "$fuzz/fuzz.out")))
rm -rf "$fuzz"

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
