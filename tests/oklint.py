# oklint.py - finds assertions (ok DESC CMD) whose command ends early at
# &&, ||, |, ; or &: the shell runs the rest outside ok and drops its result.
# Used by tests/lib-selftest.sh; exit 1 with one line per place found.
import shlex, sys, re
bad = 0
for path in sys.argv[1:]:
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        i += 1
        s = line.strip()
        if not re.match(r"ok\s", s):
            continue
        try:
            lex = shlex.shlex(s, posix=True, punctuation_chars=True)
            lex.whitespace_split = True
            toks = list(lex)
        except ValueError:
            continue
        for t in toks[2:]:
            if t in ("&&", "||", "|", ";", "&"):
                print("%s:%d: the assertion ends at '%s': what follows is not checked" % (path, start + 1, t))
                bad += 1
                break
sys.exit(1 if bad else 0)
