#!/usr/bin/env bash
# tests/support/verify_units.sh: checks of the configured systemd units.
#
#   verify_units.sh verify NLPD_BIN MAN_DIR UNIT...
#       `systemd-analyze verify` on each unit (CTest systemd_units_verify).
#       A unit names the installed binary, which a build tree does not have:
#       nlpd.service is verified as a copy whose ExecStart= is NLPD_BIN
#       (every other line as shipped). A template (NAME@.service) is
#       verified as its instance NAME@tag.service. MAN_DIR holds the built
#       manuals, so that verify finds the man: pages the units name; "-"
#       when there are none (the man: check is then left out).
#   verify_units.sh security THRESHOLD UNIT...
#       `systemd-analyze security --offline=yes --threshold=THRESHOLD` on
#       each unit (CTest systemd_units_security): fails when the overall
#       exposure is above THRESHOLD/10 (20: 2.0). Prints the score and what
#       is left exposed.
#
# Exit 77 (skipped) when systemd-analyze is not installed, or is too old
# for --offline (systemd 250).
set -euo pipefail
usage="usage: verify_units.sh verify NLPD_BIN MAN_DIR UNIT... | security THRESHOLD UNIT..."
mode=${1:?$usage}
shift
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "skipped: systemd-analyze not found (apt-get install systemd)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The unit's name as verified: a template becomes its instance "tag".
instance_name() {
  local name
  name=$(basename "$1")
  case $name in
    *@.service) echo "${name%@.service}@tag.service" ;;
    *) echo "$name" ;;
  esac
}

case $mode in
verify)
  bin=$(realpath "${1:?$usage}")
  man_dir=${2:?$usage}
  shift 2
  [ $# -gt 0 ] || { echo "$usage"; exit 2; }
  man_opt=()
  if [ "$man_dir" = - ]; then
    man_opt=(--man=no)
  else
    # verify runs man(1) for each man: page; the build's pages first.
    MANPATH="$man_dir:$(manpath 2>/dev/null || true)"
    export MANPATH
  fi
  failed=0
  for unit in "$@"; do
    name=$(instance_name "$unit")
    if [ "$(basename "$unit")" = nlpd.service ]; then
      sed "s#^ExecStart=[^ ]*#ExecStart=$bin#" "$unit" >"$tmp/$name"
      grep -q "^ExecStart=$bin " "$tmp/$name" || { echo "no ExecStart= line in $unit"; exit 1; }
    else
      cp "$unit" "$tmp/$name"
    fi
    # verify prints its findings and exits non-zero on errors; warnings
    # count too.
    if ! out=$(cd "$tmp" && systemd-analyze verify "${man_opt[@]}" "./$name" 2>&1) ||
       [ -n "$out" ]; then
      echo "systemd-analyze verify $name:"
      echo "$out"
      failed=1
    else
      echo "systemd-analyze verify $name: clean"
    fi
  done
  exit $failed
  ;;
security)
  threshold=${1:?$usage}
  shift
  [ $# -gt 0 ] || { echo "$usage"; exit 2; }
  if ! systemd-analyze --help 2>/dev/null | grep -q -- '--offline'; then
    echo "skipped: this systemd-analyze has no --offline (systemd 250 or later)"
    exit 77
  fi
  failed=0
  for unit in "$@"; do
    name=$(instance_name "$unit")
    cp "$unit" "$tmp/$name"
    rc=0
    out=$(cd "$tmp" && systemd-analyze security --offline=yes --threshold="$threshold" \
            --no-pager "./$name" 2>&1) || rc=$?
    # The table's failed checks, then the overall line.
    echo "$out" | grep -E '^✗' || true
    overall=$(echo "$out" | grep -E 'Overall exposure level' || true)
    if [ -z "$overall" ]; then
      echo "systemd-analyze security $name gave no score:"
      echo "$out"
      failed=1
    elif [ $rc -ne 0 ]; then
      echo "$overall"
      echo "FAIL: $name is above the threshold $threshold (exposure x 10)"
      failed=1
    else
      echo "$overall (threshold $threshold)"
    fi
  done
  exit $failed
  ;;
*)
  echo "$usage"
  exit 2
  ;;
esac
