#!/usr/bin/env bash
# The one command that makes the shipped tag model, stages/tag/data/en/model.bin:
#   stages/tag/train/make-model.sh build/release/bin/nlpd-tag-train . stages/tag/data/en/model.bin
# usage: make-model.sh TRAINER SOURCE_DIR OUT
# Training data from ../shared/data (NLPD_SHARED_DIR overrides ../shared):
# uner-ewt train, uner-pud (CC BY-SA), wnut17 and btc train (CC BY, Twitter,
# at a quarter weight: the users feed news). Never ud-gum or bbc-news-summary.
# The word clusters (data/en/clusters.txt) and the word vector classes
# (data/en/wordclasses.txt) are embedded when the files are there. Deterministic: the same inputs give the same bytes (check-model.sh).
set -euo pipefail
trainer=$1
src=$2
out=$3
data=${NLPD_SHARED_DIR:-$src/../shared}/data
clusters=()
if [ -r "$src/stages/tag/data/en/clusters.txt" ]; then
  clusters=(--clusters "$src/stages/tag/data/en/clusters.txt")
fi
if [ -r "$src/stages/tag/data/en/wordclasses.txt" ]; then
  clusters+=(--word-classes "$src/stages/tag/data/en/wordclasses.txt")
fi
exec "$trainer" train --bits 20 --l2 1 --iter 100 --desc "en 2026-11-28b" "${clusters[@]}" \
  -o "$out" \
  "$data/uner-ewt/train.jsonl" \
  "$data/uner-pud/test.jsonl" \
  "$data/wnut17/train.jsonl:w=0.25" \
  "$data/btc/train.jsonl:w=0.25"
