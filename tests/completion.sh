#!/bin/bash
# completion.sh - bash completion offers the commands, each command's
# options as its --help lists them, tier names from the configuration and
# policy names from its policies directory.
. "${JTS_SRCDIR:-.}/tests/lib.sh"
COMP=${JTS_SRCDIR:-.}/completion/jts-tierctl.bash
W=$(mktemp -d /tmp/jts-test.XXXXXX)
mkdir -p "$W/policies"
touch "$W/policies/wal.policy" "$W/policies/kafka-old.policy" "$W/policies/README"
cat > "$W/c.conf" <<CONF
[daemon]
policies = $W/policies
[tier hot]
root = /x
[tier  warm]
root = /y
[tier cold-nas]
kind = nfs
CONF
. "$COMP"
# complete WORD...: what completing the last word offers, sorted, one line.
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	case $1 in
	jts-tierd) _jts_tierd ;;
	*) _jts_tierctl ;;
	esac
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
eq "commands" "$(complete_words jts-tierctl '')" \
    "bench cancel check claim explain metrics migrate pin policy provision recall recover reload report scan status unpin "
eq "a prefix" "$(complete_words jts-tierctl re)" "recall recover reload report "
eq "tier names after --to" "$(complete_words jts-tierctl -c "$W/c.conf" migrate --to '')" \
    "cold-nas hot warm "
eq "policy subcommands" "$(complete_words jts-tierctl -c "$W/c.conf" policy '')" "list run test "
eq "bench: tier names" "$(complete_words jts-tierctl -c "$W/c.conf" bench '')" "cold-nas hot warm "
eq "provision actions" "$(complete_words jts-tierctl provision '')" "apply plan rollback verify "
eq "provision: no second action" "$(complete_words jts-tierctl provision plan '')" " "
eq "policy names" "$(complete_words jts-tierctl -c "$W/c.conf" policy test '')" "kafka-old wal "
eq "policy names, JTS_TIER_CONF" "$(JTS_TIER_CONF=$W/c.conf; complete_words jts-tierctl policy run w)" "wal "
# Every option --help lists is offered.
for cmd in migrate recall cancel status check policy metrics report provision bench claim; do
	offered=$(complete_words jts-tierctl "$cmd" -)
	for opt in $("$CTL" "$cmd" --help | grep -o -- '--[a-z-]*' | sort -u); do
		contains "$cmd completes $opt" "$offered" "$opt "
	done
done
offered=$(complete_words jts-tierd -)
for opt in $("$TIERD" --help | grep -o -- '--[a-z-]*' | sort -u); do
	contains "jts-tierd completes $opt" "$offered" "$opt "
done
finish
