#!/usr/bin/env bash
# Rebuilds data/en/df.txt from ../shared/data and compares it with the
# committed file. usage: check-df.sh REPO_DIR. Exit 77 without ../shared.
set -euo pipefail
top=$1
shared=${NLPD_SHARED_DIR:-$top/../shared}
if [ ! -d "$shared/data/ud-ewt" ]; then
  echo "skipped: $shared/data not found"
  exit 77
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
/usr/bin/python3 "$top/stages/summarize/train/build-df.py" "$shared/data" >"$tmp"
if ! cmp -s "$tmp" "$top/stages/summarize/data/en/df.txt"; then
  echo "data/en/df.txt differs from what build-df.py makes now:" >&2
  diff "$tmp" "$top/stages/summarize/data/en/df.txt" | head -20 >&2
  exit 1
fi
echo "data/en/df.txt is reproducible"
