#!/bin/bash
# lib-selftest.sh - the test library can fail: a failing ok, eq or
# contains fails its test; ok returns what it judged; the helpers judge
# what they say; manifest skips no name; and no test anywhere writes an
# assertion whose second half escapes it ('ok D [ A ] && [ B ]').
SRC=${JTS_SRCDIR:-.}
. "$SRC/tests/lib.sh"
need_cmd python3 xxh128sum
W=$(mktemp -d /tmp/jts-selftest.XXXXXX)

# child BODY: run a test made of BODY after sourcing lib.sh; prints its
# output, returns its exit status.
child() {
	printf '. "%s/tests/lib.sh"\n%s\nfinish\n' "$SRC" "$1" > "$W/child.sh"
	bash "$W/child.sh" 2>&1
}

out=$(child 'ok "passes" true'); rc=$?
eq "a passing ok: exit 0" "$rc" 0
contains "a passing ok: counted" "$out" "all 1 checks passed"
out=$(child 'ok "fails on purpose" false'); rc=$?
eq "a failing ok fails the test" "$rc" 1
contains "a failing ok says so" "$out" "FAIL: fails on purpose"
out=$(child 'eq "differ" a b'); rc=$?
eq "a failing eq fails the test" "$rc" 1
contains "a failing eq says what it got" "$out" "FAIL: differ: got [a], want [b]"
out=$(child 'contains "absent" "haystack" needle'); rc=$?
eq "a failing contains fails the test" "$rc" 1
out=$(child 'ok "one" true; ok "two" false; ok "three" true'); rc=$?
eq "one failure among passes fails the test" "$rc" 1
contains "the count of failures" "$out" "1 of 3 checks failed"
out=$(child ':'); rc=$?
eq "a test that asserts nothing fails" "$rc" 1
out=$(child 'ok "f" false; echo "ok returned $?"; eq "e" 1 2; echo "eq returned $?"')
contains "ok returns 1 when it fails" "$out" "ok returned 1"
contains "eq returns 1 when it fails" "$out" "eq returned 1"

# The helpers, each made to pass and to fail.
echo x > "$W/file"
ln -s "$W/file" "$W/link"
mkdir "$W/dir"
ln -s "$W/dir" "$W/dirlink"
out=$(child "regular r \"$W/file\"; absent a \"$W/nothing\"; no_data n \"$W/link\"
a_dir d \"$W/dir\"; failed_in_time t 1"); rc=$?
eq "helpers pass on what they describe" "$rc" 0
for body in "regular r \"$W/link\"" "regular r \"$W/nothing\"" \
    "absent a \"$W/link\"" "no_data n \"$W/file\"" "a_dir d \"$W/dirlink\"" \
    "failed_in_time t 124" "failed_in_time t 0"; do
	out=$(child "$body"); rc=$?
	eq "helper fails: $body" "$rc" 1
done

# manifest and hash_manifest keep every name: a newline, a blank, a
# backslash, a leading dash.
mkdir "$W/m"
for n in "$(printf 'new\nline')" "with blank" 'back\slash' "-dash" plain; do
	echo "$n" > "$W/m/$n"
done
eq "manifest: one record per file" "$(manifest "$W/m" | wc -l)" 5
contains "manifest: the newline name is there" "$(manifest "$W/m")" "\$'./new\\nline'"
eq "hash_manifest: one record per file" \
    "$(hash_manifest "$W/m" | tr -cd '\0' | wc -c)" 5
n=0
while IFS=' ' read -r -d '' h f; do
	[ "$(xxh128sum < "$W/m/$f" | cut -d' ' -f1)" = "$h" ] && n=$((n + 1))
done < <(hash_manifest "$W/m")
eq "hash_manifest: every record reads back to its file" "$n" 5

# No assertion in any test ends early at && || | ; or &.
out=$(python3 "$SRC/tests/oklint.py" "$SRC"/tests/*.sh); rc=$?
eq "every test's assertions are whole" "$rc" 0
[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/    /'
printf 'ok "half" [ -f x ] && [ ! -L x ]\nok "whole" [ -f x ]\n' > "$W/bad.sh"
out=$(python3 "$SRC/tests/oklint.py" "$W/bad.sh"); rc=$?
eq "the lint finds a half-checked assertion" "$rc" 1
contains "the lint names its line" "$out" "bad.sh:1:"
finish
