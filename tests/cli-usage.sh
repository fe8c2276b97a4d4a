#!/bin/bash
# cli-usage.sh - --help on every command, usage errors exit 2 with the usage
# line, command prefixes, and the man page documents every command/option.
. "${JTS_SRCDIR:-.}/tests/lib.sh"

MAN=${JTS_SRCDIR:-.}/man/jts-tierctl.8
out=$("$CTL" --help); rc=$?
eq "jts-tierctl --help exits 0" "$rc" 0
contains "--help lists migrate" "$out" "migrate"
cmds=$(printf '%s\n' "$out" | sed -n 's/^  \([a-z]*\) .*/\1/p; s/^  \([a-z]*\)$/\1/p')
eq "--help lists every command" "$(echo $cmds)" \
    "migrate recall cancel status check recover scan policy explain pin unpin reload metrics report provision bench claim"
for cmd in $cmds; do
	out=$("$CTL" "$cmd" --help 2>&1); rc=$?
	eq "$cmd --help exits 0" "$rc" 0
	contains "$cmd --help shows usage" "$out" "usage: jts-tierctl $cmd"
	contains "man page has $cmd" "$(cat "$MAN")" ".It Cm $cmd"
	# Every long option in --help is in the man page.
	for opt in $(printf '%s\n' "$out" | grep -o -- '--[a-z-]*' | sort -u); do
		[ "$opt" = "--help" ] && continue
		contains "man page documents $cmd $opt" "$(cat "$MAN")" \
		    "Fl ${opt#-}"
	done
done

# jts-tierd: --help and its man page agree.
DMAN=${JTS_SRCDIR:-.}/man/jts-tierd.8
out=$("$TIERD" --help); rc=$?
eq "jts-tierd --help exits 0" "$rc" 0
for opt in $(printf '%s\n' "$out" | grep -o -- '--[a-z-]*' | sort -u); do
	contains "jts-tierd.8 documents $opt" "$(cat "$DMAN")" "Fl ${opt#-}"
done
out=$("$TIERD" --bogus 2>&1); rc=$?
eq "jts-tierd: unknown option exits 2" "$rc" 2
out=$("$TIERD" extra 2>&1); rc=$?
eq "jts-tierd: an operand exits 2" "$rc" 2
out=$("$TIERD" -c /nonexistent/x.conf 2>&1); rc=$?
eq "jts-tierd: missing config exits 2" "$rc" 2
contains "jts-tierd: missing config named" "$out" "/nonexistent/x.conf: cannot open"
contains "missing config: what to do" "$out" "name another file with -c"
# Every policy key the parser knows is in jts-tier.policy(5).
PMAN=${JTS_SRCDIR:-.}/man/jts-tier.policy.5
for key in $(grep -o '!strcmp(key, "[a-z_]*")' "${JTS_SRCDIR:-.}/src/policy.c" |
    sed 's/.*"\(.*\)".*/\1/' | sort -u); do
	contains "jts-tier.policy.5 documents $key" "$(cat "$PMAN")" "It Cm $key"
done
# Every configuration key the parser knows is in jts-tier.conf(5).
CMAN=${JTS_SRCDIR:-.}/man/jts-tier.conf.5
for key in $(sed -n 's/^	{ "[a-z]*",	*"\([a-z_]*\)",	*k_.*/\1/p' \
    "${JTS_SRCDIR:-.}/src/conf.c" | sort -u); do
	contains "jts-tier.conf.5 documents $key" "$(cat "$CMAN")" "It Cm $key"
done
# Every manifest key the parser knows is in jts-tier.manifest(5).
MMAN=${JTS_SRCDIR:-.}/man/jts-tier.manifest.5
for key in $(sed -n 's/^	{ "[a-z]*",	*"\([a-z_]*\)",.*k_.*/\1/p' \
    "${JTS_SRCDIR:-.}/src/manifest.c" | sort -u); do
	contains "jts-tier.manifest.5 documents $key" "$(cat "$MMAN")" "It Cm $key"
done
# The example manifest (the storage plan's layout) parses.
out=$("$CTL" provision plan -m "${JTS_SRCDIR:-.}/jts-tier.manifest.example" 2>&1); rc=$?
ok "the example manifest parses" [ "$rc" -ne 2 ]
contains "the example declares the plan's volumes" "$out" "lvcreate --yes -Wy -n lv_local_backup"
if command -v mandoc >/dev/null; then
	for m in "${JTS_SRCDIR:-.}"/man/*.[58]; do
		out=$(mandoc -Tlint -Wwarning "$m" 2>&1); rc=$?
		eq "mandoc -Tlint $(basename "$m") is clean" "$rc$out" 0
	done
fi

out=$("$CTL" migrate --bogus 2>&1); rc=$?
eq "unknown option exits 2" "$rc" 2
contains "unknown option prints usage" "$out" "usage: jts-tierctl migrate"
out=$("$CTL" migrate 2>&1); rc=$?
eq "migrate without a path exits 2" "$rc" 2
out=$("$CTL" frobnicate 2>&1); rc=$?
eq "unknown command exits 2" "$rc" 2
contains "unknown command named" "$out" "unknown command: frobnicate"
out=$("$CTL" re 2>&1); rc=$?
eq "ambiguous prefix exits 2" "$rc" 2
contains "ambiguous prefix lists choices" "$out" "could be: recall, recover"
out=$("$CTL" mig --help 2>&1); rc=$?
eq "unique prefix works" "$rc" 0
contains "unique prefix runs migrate" "$out" "usage: jts-tierctl migrate"
out=$("$CTL" 2>&1); rc=$?
eq "no command exits 2" "$rc" 2
out=$("$CTL" -c /nonexistent/x.conf status 2>&1); rc=$?
eq "missing config exits 2" "$rc" 2
contains "missing config named" "$out" "/nonexistent/x.conf: cannot open"
out=$("$CTL" -c /nonexistent/x.conf check 2>&1); rc=$?
eq "check with a missing config is UNKNOWN" "$rc" 3
finish
