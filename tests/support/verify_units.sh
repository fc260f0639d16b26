#!/usr/bin/env bash
# tests/support/verify_units.sh UNIT NLPD_BIN — `systemd-analyze verify` on
# the configured unit (the CTest systemd_units_verify). The unit names the
# installed binary, which a build tree does not have: a copy with ExecStart
# pointing at the build's nlpd is verified instead (every other line as
# shipped). Exit 77 (skipped) when systemd-analyze is not installed.
set -euo pipefail
unit=${1:?usage: verify_units.sh UNIT NLPD_BIN}
bin=${2:?usage: verify_units.sh UNIT NLPD_BIN}
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "skipped: systemd-analyze not found (apt-get install systemd)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name=$(basename "$unit")
sed "s#^ExecStart=[^ ]*#ExecStart=$bin#" "$unit" >"$tmp/$name"
grep -q "^ExecStart=$bin " "$tmp/$name" || { echo "no ExecStart= line in $unit"; exit 1; }
# verify prints its findings and exits non-zero on errors; warnings count too.
out=$(systemd-analyze verify "$tmp/$name" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
  echo "$out"
  exit 1
fi
echo "systemd-analyze verify $name: clean"
