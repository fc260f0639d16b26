# tests/support/eval_daemon.sh — shared by the stages' evaluation scripts
# (stages/*/eval.sh): finds ../shared and the build, runs the build's nlpd
# with its default pipeline in a temporary runtime directory, sends gold
# sets through `nlpctl annotate`, and stops the daemon on exit.
#
# Source it from bash after `set -euo pipefail`, with these set:
#   eval_name   the script's name in messages ("split", "tag")
#   keep        1: keep the annotated output (its directory is printed)
#   build       the build directory ("" for $NLPD_BUILD_DIR or build/release)
# It sets: top, shared, build, python, score, tmp, ctl (the nlpctl command
# as an array), pid.

here_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(git -C "$here_lib" rev-parse --show-toplevel 2>/dev/null || (cd "$here_lib/../.." && pwd))
shared=${NLPD_SHARED_DIR:-$top/../shared}
build=${build:-${NLPD_BUILD_DIR:-$top/build/release}}
python=/usr/bin/python3
score=$shared/tools/score.py
tmp=""
pid=""
ctl=()

# eval_need_files FILE... : exits 77 (skipped) when one is missing.
eval_need_files() {
  if [ ! -d "$shared/data" ]; then
    echo "skipped: ../shared/data not found (looked in $shared/data; set NLPD_SHARED_DIR)"
    exit 77
  fi
  local f
  for f in "$score" "$@"; do
    if [ ! -f "$f" ]; then
      echo "skipped: $f not found"
      exit 77
    fi
  done
}

# eval_need_programs NAME... : exits 2 when the build lacks one.
eval_need_programs() {
  local b
  for b in "$@"; do
    if [ ! -x "$build/bin/$b" ]; then
      echo "$eval_name eval: no $build/bin/$b (build first, or give the build directory)" >&2
      exit 2
    fi
  done
}

# shellcheck disable=SC2317 # (run by the trap)
eval_cleanup() {
  local rc=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    # The daemon drains for up to its drain timeout (10 s) and then stops
    # its workers; past 30 s something is wrong.
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ -n "$tmp" ]; then
    if [ "$keep" = 1 ]; then
      echo "annotated output kept in $tmp" >&2
    else
      rm -rf "$tmp"
    fi
  fi
  exit "$rc"
}

# eval_start_daemon [NLPD ARGS...] : starts nlpd and waits until it runs.
eval_start_daemon() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/nlpd-$eval_name-eval.XXXXXX")
  trap eval_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  "$build/bin/nlpd" --runtime-dir "$tmp/run" "$@" 2>"$tmp/nlpd.log" &
  pid=$!
  ctl=("$build/bin/nlpctl" --runtime-dir "$tmp/run")
  local ready=0
  for _ in $(seq 1 300); do
    if "${ctl[@]}" status --json 2>/dev/null | grep -q '"state":"running"'; then
      ready=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    echo "$eval_name eval: nlpd did not become ready; its log:" >&2
    cat "$tmp/nlpd.log" >&2
    exit 2
  fi
}

# eval_stage_version STAGE : prints the version its first worker reports.
eval_stage_version() {
  "${ctl[@]}" status --json | "$python" -c '
import json, sys
for st in json.load(sys.stdin)["stages"]:
    if st["name"] == sys.argv[1] and st["workers"]:
        print(st["workers"][0].get("version", ""))
' "$1" || true
}

# eval_annotate GOLD OUT FIELD : annotates GOLD into OUT and prints how many
# documents came back with an error instead of FIELD ("sentences",
# "entities"). Such a document is given an empty FIELD in OUT, so that it
# counts against the figures (score.py skips a document a system did not
# annotate). Exits 2 when nlpctl itself fails.
eval_annotate() {
  local gold=$1 out=$2 field=$3 status=0
  "${ctl[@]}" --timeout 120 annotate --minimal --quiet <"$gold" >"$out.raw" 2>"$out.err" || status=$?
  if [ "$status" -gt 1 ]; then
    echo "$eval_name eval: nlpctl annotate failed ($status) on $gold:" >&2
    cat "$out.err" >&2
    exit 2
  fi
  # Exit status 1: some lines carry an error instead of a result.
  "$python" -c '
import json, sys
raw, out, field = sys.argv[1:4]
failed = 0
with open(out, "w", encoding="utf-8") as f:
    for line in open(raw, encoding="utf-8"):
        d = json.loads(line)
        if "errors" in d and field not in d:
            failed += 1
        d.setdefault(field, [])
        print(json.dumps(d, ensure_ascii=False), file=f)
print(failed)
' "$out.raw" "$out" "$field"
}

# eval_check_daemon : returns 1 when the daemon died or a worker restarted.
eval_check_daemon() {
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$eval_name eval: nlpd died during the evaluation; its log:" >&2
    cat "$tmp/nlpd.log" >&2
    exit 2
  fi
  local restarts
  restarts=$("${ctl[@]}" status --json | "$python" -c '
import json, sys
print(sum(st["restarts"] for st in json.load(sys.stdin)["stages"]))
')
  if [ "$restarts" != 0 ]; then
    echo "$eval_name eval: $restarts worker restarts during the evaluation" >&2
    return 1
  fi
  return 0
}
