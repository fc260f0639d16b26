#!/bin/bash
# stages/tag/gazetteer/check-build.sh TOOL SOURCE_DIR — the builder end to
# end on tests/fixtures/tag/gazetteer-list.txt: two builds give the same
# bytes, the result passes `check`, matching the fixture text gives the
# expected tokens and classes, and a list with an undeclared class fails.
set -euo pipefail
tool=$1
fx=$2/tests/fixtures/tag
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$tool" build < "$fx/gazetteer-list.txt" > "$tmp/a.txt" 2>/dev/null
"$tool" build < "$fx/gazetteer-list.txt" > "$tmp/b.txt" 2>/dev/null
cmp "$tmp/a.txt" "$tmp/b.txt"
grep -q '^entries 8$' "$tmp/a.txt" # nine names, one duplicate
"$tool" check "$tmp/a.txt"
"$tool" match --gaz "$tmp/a.txt" < "$fx/gazetteer-text.txt" > "$tmp/match.txt"
diff -u "$fx/gazetteer-match.expected" "$tmp/match.txt"
printf '@class city\nplanet\tMars\n' > "$tmp/bad.txt"
if "$tool" build < "$tmp/bad.txt" > /dev/null 2>&1; then
  echo "an undeclared class was accepted" >&2
  exit 1
fi
echo "gazetteer builder: reproducible, tokenized as text, matches as expected"
