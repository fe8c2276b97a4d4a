#!/bin/bash
# fuzz.sh - replay each fuzz target's corpus, and every input that ever
# crashed one (regress-*), through the parsers and the control protocol
# with this build (the sanitizer build in CI): none may crash, leak or
# trip UBSan.  The libFuzzer runs themselves are make fuzz.
. "${JTS_SRCDIR:-.}/tests/lib.sh"

dir=$(dirname "$CTL")/tests/fuzz
for t in conf manifest policy ctl; do
	corpus=${JTS_SRCDIR:-.}/tests/fuzz/corpus/$t
	out=$("$dir/replay-$t" "$corpus" 2>&1); rc=$?
	eq "replay-$t exits 0" "$rc" 0
	n=$(ls "$corpus" | wc -l)
	contains "replay-$t ran its corpus" "$out" "$n inputs replayed"
done
# The regressions are there and kept in the corpus.
ok "a NUL inside a path is a regression input" \
    test -s "${JTS_SRCDIR:-.}/tests/fuzz/corpus/ctl/regress-nul-path.json"
finish
