# bash completion for jts-tierctl and jts-tierd            -*- shell-script -*-
# Commands and their options; tier names and policy names are read from
# the configuration (-c FILE, $JTS_TIER_CONF, or /etc/jts-tier/jts-tier.conf).

_jts_tier_conf()
{
	local i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		case ${COMP_WORDS[i]} in
		-c|--config) echo "${COMP_WORDS[i+1]}"; return ;;
		--config=*) echo "${COMP_WORDS[i]#--config=}"; return ;;
		esac
	done
	echo "${JTS_TIER_CONF:-/etc/jts-tier/jts-tier.conf}"
}

_jts_tier_tiers()
{
	sed -n 's/^[[:space:]]*\[tier[[:space:]]\{1,\}\([a-z0-9_-]*\)\][[:space:]]*$/\1/p' \
	    "$(_jts_tier_conf)" 2>/dev/null
}

_jts_tier_policies()
{
	local conf dir
	conf=$(_jts_tier_conf)
	dir=$(sed -n 's/^[[:space:]]*policies[[:space:]]*=[[:space:]]*//p' "$conf" 2>/dev/null | tail -1)
	dir=${dir:-/etc/jts-tier/policies}
	local f
	for f in "$dir"/*.policy; do
		[ -e "$f" ] || continue
		f=${f##*/}
		echo "${f%.policy}"
	done
}

_jts_tierctl()
{
	local cur prev words cword cmd i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	local commands="migrate recall cancel status check recover scan policy explain pin unpin reload metrics report provision bench claim"

	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c|--config) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $prev in
	-c|--config)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-t|--to)
		COMPREPLY=($(compgen -W "$(_jts_tier_tiers)" -- "$cur")); return ;;
	esac
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-c --config -v --verbose -h --help -V --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi
	case $cmd in
	migrate)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-t --to -n --dry-run --remove-source --leave -q --quiet --no-progress -v --verbose -c --config -h --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi ;;
	recall)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-t --to -n --dry-run -q --quiet --no-progress -v --verbose -c --config -h --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi ;;
	cancel)
		COMPREPLY=($(compgen -W "-j --json -c --config -h --help" -- "$cur")) ;;
	status)
		COMPREPLY=($(compgen -W "-j --json -c --config -h --help" -- "$cur")) ;;
	check)
		COMPREPLY=($(compgen -W "--verify -j --json -c --config -h --help" -- "$cur")) ;;
	policy)
		local sub= j
		for ((j = i + 1; j < COMP_CWORD; j++)); do
			case ${COMP_WORDS[j]} in
			list|test|run) sub=${COMP_WORDS[j]}; break ;;
			esac
		done
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-j --json --fill -c --config -h --help" -- "$cur"))
		elif [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "list test run" -- "$cur"))
		elif [ "$sub" != list ] && [ "$prev" = "$sub" ]; then
			COMPREPLY=($(compgen -W "$(_jts_tier_policies)" -- "$cur"))
		fi ;;
	explain|pin|unpin)
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	metrics)
		if [[ $prev == -o || $prev == --output ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		else
			COMPREPLY=($(compgen -W "-o --output -c --config -h --help" -- "$cur"))
		fi ;;
	report)
		if [[ $prev == --svg ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		else
			COMPREPLY=($(compgen -W "-j --json --svg -n --top -c --config -h --help" -- "$cur"))
		fi ;;
	provision)
		local act= j
		for ((j = i + 1; j < COMP_CWORD; j++)); do
			case ${COMP_WORDS[j]} in
			plan|apply|verify|rollback) act=${COMP_WORDS[j]}; break ;;
			esac
		done
		case $prev in
		-m|--manifest|--fstab|--journal)
			COMPREPLY=($(compgen -f -- "$cur")); return ;;
		--root)
			COMPREPLY=($(compgen -d -- "$cur")); return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-m --manifest --root --fstab --journal -f --force -h --help" -- "$cur"))
		elif [ -z "$act" ]; then
			COMPREPLY=($(compgen -W "plan apply verify rollback" -- "$cur"))
		fi ;;
	bench)
		case $prev in
		-s|--size|-t|--time) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-s --size -t --time -j --json -c --config -h --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_jts_tier_tiers)" -- "$cur"))
		fi ;;
	claim)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--take-over -c --config -h --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_jts_tier_tiers)" -- "$cur"))
		fi ;;
	recover|reload|scan)
		COMPREPLY=($(compgen -W "-h --help" -- "$cur")) ;;
	esac
}
complete -o filenames -F _jts_tierctl jts-tierctl

_jts_tierd()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	-c|--config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	COMPREPLY=($(compgen -W "-c --config -v --verbose -h --help -V --version" -- "$cur"))
}
complete -o filenames -F _jts_tierd jts-tierd
