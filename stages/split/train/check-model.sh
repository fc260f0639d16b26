#!/usr/bin/env bash
# Retrains the split model from ../shared/data and checks that the result
# equals the committed stages/split/data/en/model.txt (the model in the
# repository is exactly what its documented command makes).
# usage: check-model.sh TRAINER SOURCE_DIR   (exit 77: no training data)
set -euo pipefail
trainer=$1
src=$2
shared=${NLPD_SHARED_DIR:-$src/../shared}
gold=$shared/data/ud-ewt/train.jsonl
if [ ! -r "$gold" ]; then
  echo "skipped: ../shared/data not found ($gold)"
  exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$trainer" train --base "$src/stages/split/data/en/abbreviations.txt" "$gold" >"$out"
if ! cmp -s "$out" "$src/stages/split/data/en/model.txt"; then
  echo "stages/split/data/en/model.txt differs from a fresh training run:" >&2
  diff "$src/stages/split/data/en/model.txt" "$out" | head -20 >&2
  exit 1
fi
echo "model.txt is reproducible ($(wc -l <"$out") lines)"
