#!/usr/bin/env bash
# tests/support/check_package.sh BUILD_DIR VERSION CONFFILE PATH... (CTest
# package_deb): makes the Debian package of the build in BUILD_DIR with
# `cpack -G DEB` into a temporary directory and checks it:
#   - every PATH (absolute, as installed) is in it, and no test program;
#   - its control fields: Package, Version, Architecture, Depends from
#     dpkg-shlibdeps (libzmq, libuv) and the sysusers alternative;
#   - CONFFILE is its conffile; postinst runs systemd-sysusers, and
#     daemon-reload only when systemd runs;
#   - no binary carries an RPATH into the build tree;
#   - the stage SDK in it works: a small stage compiles against its headers
#     with its pkg-config file, links its libnlpd.so, and runs.
# Exit 77 (skipped) without cpack, dpkg-deb or dpkg-shlibdeps.
set -euo pipefail
usage="usage: check_package.sh BUILD_DIR VERSION CONFFILE PATH..."
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

if [ $fail -ne 0 ]; then
  echo "package check failed"
  exit 1
fi
echo "package check passed"
