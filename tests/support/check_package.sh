#!/usr/bin/env bash
# tests/support/check_package.sh [--trainer NAME]... BUILD_DIR VERSION CONFFILE PATH...
# (CTest package_deb): makes the Debian package of the build in BUILD_DIR
# with `cpack -G DEB` into a temporary directory and checks it:
#   - every PATH (absolute, as installed) is in it, and no test program;
#   - every --trainer NAME (nlpd-tag-train, nlpd-split-train) is in its bin
#     directory, executable, with its manual NAME.1 when the package has
#     manuals, and works from the extracted package: it trains a model on
#     a small fixture (tests/fixtures) and tags or splits with that model;
#   - its control fields: Package, Version, Architecture, Depends from
#     dpkg-shlibdeps (libzmq, libuv) and the sysusers alternative;
#   - CONFFILE is its conffile; postinst runs systemd-sysusers, and
#     daemon-reload only when systemd runs;
#   - no binary carries an RPATH into the build tree;
#   - its copyright file holds the code's licence and the built-in data's
#     licences and attributions (docs/DATA-LICENSES);
#   - the stage SDK in it works: a small stage compiles against its headers
#     with its pkg-config file, links its libnlpd.so, and runs.
# Exit 77 (skipped) without cpack, dpkg-deb or dpkg-shlibdeps.
set -euo pipefail
usage="usage: check_package.sh [--trainer NAME]... BUILD_DIR VERSION CONFFILE PATH..."
fixtures=$(realpath "$(dirname "$0")/../fixtures")
trainers=()
while [ $# -gt 0 ] && [ "$1" = --trainer ]; do
  [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
  case $2 in
    nlpd-tag-train | nlpd-split-train) trainers+=("$2") ;;
    *) echo "check_package.sh: no check for the trainer '$2'" >&2; exit 2 ;;
  esac
  shift 2
done
build=$(realpath "${1:?$usage}")
version=${2:?$usage}
conffile=${3:?$usage}
shift 3
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  if ! command -v $tool >/dev/null 2>&1; then
    echo "skipped: $tool not found (apt-get install cmake dpkg-dev)"
    exit 77
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
  echo "FAIL: $*"
  fail=1
}

if ! cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"
  echo "FAIL: cpack -G DEB"
  exit 1
fi
debs=("$tmp"/out/*.deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then
  cat "$tmp/cpack.log"
  echo "FAIL: cpack made ${#debs[@]} packages, not one"
  exit 1
fi
deb=${debs[0]}
echo "package: $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# --- Contents --------------------------------------------------------------
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's#^\./#/#' >"$tmp/files"
for p in "$@"; do
  grep -qxF "$p" "$tmp/files" || bad "$p is not in the package"
done
if grep -E '_test$|/bin/(nlpd-bench|.*_test)' "$tmp/files"; then
  bad "test or benchmark programs are in the package"
fi
echo "contents: $(grep -vc '/$' "$tmp/files") files, the $# expected ones checked"

# --- Control fields and maintainer scripts ---------------------------------
field() {
  dpkg-deb -f "$deb" "$1"
}
[ "$(field Package)" = nlpd ] || bad "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || bad "Version: $(field Version), not $version"
arch=$(dpkg --print-architecture)
[ "$(field Architecture)" = "$arch" ] || bad "Architecture: $(field Architecture), not $arch"
depends=$(field Depends)
echo "Depends: $depends"
for lib in libc6 libzmq5 libuv1; do
  echo "$depends" | grep -qE "(^|, )$lib( |,|$)" || bad "Depends has no $lib (dpkg-shlibdeps?)"
done
echo "$depends" | grep -qF "systemd | systemd-standalone-sysusers" ||
  bad "Depends has no systemd | systemd-standalone-sysusers"
dpkg-deb -e "$deb" "$tmp/control"
grep -qxF "$conffile" "$tmp/control/conffiles" 2>/dev/null || bad "$conffile is not a conffile"
for script in postinst postrm; do
  [ -x "$tmp/control/$script" ] || bad "no executable $script"
done
grep -q 'systemd-sysusers' "$tmp/control/postinst" || bad "postinst does not run systemd-sysusers"
grep -q '\[ -d /run/systemd/system \]' "$tmp/control/postinst" ||
  bad "postinst does not check that systemd runs before daemon-reload"
sh -n "$tmp/control/postinst" && sh -n "$tmp/control/postrm" || bad "a maintainer script does not parse"

# --- Binaries and the SDK --------------------------------------------------
root=$tmp/root
dpkg-deb -x "$deb" "$root"
while read -r f; do
  [ -f "$root$f" ] && [ ! -L "$root$f" ] || continue
  head -c 4 "$root$f" | grep -q 'ELF' || continue
  if readelf -d "$root$f" 2>/dev/null | grep -E 'R(UN)?PATH' | grep -qF "$build"; then
    bad "$f has an RPATH into the build tree"
  fi
done <"$tmp/files"
pc=$(grep -E '/pkgconfig/nlpd\.pc$' "$tmp/files" | head -1)
if [ -z "$pc" ]; then
  bad "no pkgconfig/nlpd.pc"
elif command -v pkg-config >/dev/null && command -v cc >/dev/null; then
  cat >"$tmp/opening.c" <<'EOF'
#include <nlpd/stage.h>

static int
process(void *state, nlpd_doc *doc, nlpd_stage_ctx *ctx)
{
    (void)state;
    (void)ctx;
    size_t len;
    const char *text = nlpd_doc_text(doc, &len);
    uint32_t end = 0;
    while (end < len && text[end] != ' ')
        end++;
    nlpd_span span = {0, end};
    return nlpd_doc_add_annotation(doc, "first_word", &span, NULL, 1.0);
}

int
main(int argc, char **argv)
{
    static const nlpd_stage_def def = {
        .abi = NLPD_STAGE_ABI, .name = "opening", .version = "1.0", .process = process,
    };
    return nlpd_stage_main(&def, argc, argv);
}
EOF
  flags=$(PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root$(dirname "$pc") \
          pkg-config --cflags --libs nlpd)
  # NLPD_SDK_CFLAGS: a sanitizer build's libnlpd.so needs its runtime
  # loaded first, so the stage is built with the same -fsanitize=.
  # shellcheck disable=SC2086
  if ! cc -std=c11 -Wall -Werror ${NLPD_SDK_CFLAGS:-} -o "$tmp/opening" "$tmp/opening.c" $flags \
       2>"$tmp/cc.log"; then
    cat "$tmp/cc.log"
    bad "a stage does not build with pkg-config nlpd ($flags)"
  else
    libdir=$(dirname "$(dirname "$pc")")
    out=$(LD_LIBRARY_PATH=$root$libdir "$tmp/opening" --version 2>&1) || true
    [ "$out" = "nlpd-opening 1.0" ] || bad "the SDK stage does not run: $out"
    echo "SDK: a stage built with pkg-config nlpd ($flags) runs: $out"
  fi
fi

# --- The copyright file ----------------------------------------------------
# The code's licence and the licences and credits of the data built into the
# programs: the CC BY-SA models, the GeoNames attribution (CC BY 4.0 asks
# for it with every copy) and the WordNet notice (the same).
copyright=$({ grep -E '/doc/[^/]+/copyright$' "$tmp/files" || true; } | head -1)
if [ -z "$copyright" ]; then
  bad "no doc/*/copyright in the package"
else
  for want in "MIT License" "CC BY-SA 4.0" "Universal NER English EWT" \
              "Contains data from GeoNames" "WordNet 3.0 Copyright 2006 by Princeton University" \
              "Public Domain Dedication and License"; do
    grep -qF "$want" "$root$copyright" || bad "$copyright does not say '$want'"
  done
  echo "copyright: $copyright has the code's licence and the data's ($(wc -l <"$root$copyright") lines)"
fi

# --- The model trainers ----------------------------------------------------
# Each one is run as installed (LD_LIBRARY_PATH: the package's lib dirs, in
# case it links libnlpd.so) on a fixture small enough to train in a moment.
pkg_libs=$({ grep -E '/lib(/[^/]+)?/libnlpd\.so' "$tmp/files" || true; } | sed 's#/[^/]*$##' |
           sort -u | sed "s#^#$root#" | paste -sd: -)
have_man1=$(grep -cE '/man/man1/nlpctl\.1$' "$tmp/files" || true)
run_pkg() {
  LD_LIBRARY_PATH=$pkg_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$@"
}
for t in ${trainers[@]+"${trainers[@]}"}; do
  path=$({ grep -E "/bin/$t\$" "$tmp/files" || true; } | head -1)
  if [ -z "$path" ]; then
    bad "the trainer $t is not in the package's bin directory"
    continue
  fi
  [ -x "$root$path" ] || bad "$path is not executable"
  if [ "$have_man1" -gt 0 ] && ! grep -qE "/man/man1/$t\.1$" "$tmp/files"; then
    bad "the manual $t(1) is not in the package"
  fi
  work=$tmp/$t
  mkdir -p "$work"
  case $t in
    nlpd-tag-train)
      # Deterministic training on ten sentences; the model it writes must
      # load and find a name it was trained on, and a file that is not a
      # model must be refused (annotate does read --model).
      if ! run_pkg "$root$path" train --bits 12 --iter 30 --desc "package check" \
           -o "$work/model.bin" "$fixtures/tag/crf-train.jsonl" >"$work/train.log" 2>&1; then
        cat "$work/train.log"
        bad "$path train failed"
        continue
      fi
      [ -s "$work/model.bin" ] || { bad "$path train wrote no model"; continue; }
      echo '{"id":"p1","text":"Maria Lopez flew to Lisbon on Monday."}' >"$work/in.jsonl"
      if ! run_pkg "$root$path" annotate --model "$work/model.bin" <"$work/in.jsonl" \
           >"$work/out.jsonl" 2>"$work/annotate.log"; then
        cat "$work/annotate.log"
        bad "$path annotate with the model it trained failed"
        continue
      fi
      grep -qF '"label":"PER","text":"Maria Lopez"' "$work/out.jsonl" ||
        bad "$path annotate: no PER 'Maria Lopez' with its own model: $(cat "$work/out.jsonl")"
      bench=$(run_pkg "$root$path" bench --model "$work/model.bin" --repeat 1 "$work/in.jsonl" 2>&1) ||
        bad "$path bench failed: $bench"
      echo "$bench" | grep -q '^model: package check ' ||
        bad "$path bench does not report the trained model: $bench"
      printf 'not a model\n' >"$work/junk.bin"
      if run_pkg "$root$path" annotate --model "$work/junk.bin" <"$work/in.jsonl" >/dev/null 2>&1; then
        bad "$path annotate accepted a file that is not a model"
      fi
      echo "trainer: $path trained a model ($(stat -c %s "$work/model.bin") bytes) and tagged with it"
      ;;
    nlpd-split-train)
      # Trained on the split fixtures on top of the package's abbreviation
      # list, then split with the list and the learned part together.
      base=$({ grep -E '/nlpd/split/en/abbreviations\.txt$' "$tmp/files" || true; } | head -1)
      if [ -z "$base" ]; then
        bad "no nlpd/split/en/abbreviations.txt for $t --base"
        continue
      fi
      if ! run_pkg "$root$path" train --base "$root$base" --name fixtures \
           --licence "CC0 1.0 (test fixtures)" "$fixtures/split/cases.jsonl" \
           >"$work/model.txt" 2>"$work/train.log"; then
        cat "$work/train.log"
        bad "$path train failed"
        continue
      fi
      grep -qx '\[meta\]' "$work/model.txt" || { bad "$path train wrote no model"; continue; }
      # The model names the user's data, not the built-in model's.
      grep -qE '^version fixtures-[0-9]+-[0-9]+$' "$work/model.txt" ||
        bad "$path train --name: no 'version fixtures-...' line"
      grep -qxF '# Licence: CC0 1.0 (test fixtures)' "$work/model.txt" ||
        bad "$path train --licence: no licence line"
      if run_pkg "$root$path" train --name 'two words' "$fixtures/split/cases.jsonl" \
         >/dev/null 2>&1; then
        bad "$path train took a --name with a space"
      fi
      cat "$root$base" "$work/model.txt" >"$work/full.txt"
      echo '{"id":"p1","text":"Dr. Smith came. He left."}' >"$work/in.jsonl"
      out=$(run_pkg "$root$path" annotate --model "$work/full.txt" <"$work/in.jsonl" 2>&1) ||
        bad "$path annotate with the model it trained failed: $out"
      echo "$out" | grep -qF '"sentences":[[0,15],[16,24]]' ||
        bad "$path annotate: not two sentences after 'Dr.' with its own model: $out"
      echo "trainer: $path trained a model ($(grep -vc '^#' "$work/model.txt") lines) and split with it"
      ;;
  esac
done

if [ $fail -ne 0 ]; then
  echo "package check failed"
  exit 1
fi
echo "package check passed"
