#!/usr/bin/env bash
# Retrains the tag model from ../shared/data with make-model.sh and checks
# that the result equals the committed stages/tag/data/en/model.bin (the
# model in the repository is exactly what its documented command makes,
# with the committed gazetteer, clusters and tokenizer).
# usage: check-model.sh TRAINER SOURCE_DIR   (exit 77: no training data)
set -euo pipefail
trainer=$1
src=$2
shared=${NLPD_SHARED_DIR:-$src/../shared}
if [ ! -r "$shared/data/uner-ewt/train.jsonl" ]; then
  echo "skipped: ../shared/data not found ($shared/data)"
  exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
NLPD_SHARED_DIR=$shared bash "$src/stages/tag/train/make-model.sh" "$trainer" "$src" "$out"
if ! cmp -s "$out" "$src/stages/tag/data/en/model.bin"; then
  echo "stages/tag/data/en/model.bin differs from a fresh training run" \
       "($(stat -c %s "$out") bytes against $(stat -c %s "$src/stages/tag/data/en/model.bin"))" >&2
  exit 1
fi
echo "model.bin is reproducible ($(stat -c %s "$out") bytes)"
