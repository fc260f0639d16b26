#!/usr/bin/env bash
# stages/tag/eval.sh — the tag stage's quality, measured as a user would.
#
# Starts the build's nlpd with its default pipeline (ingest, split, tag) in
# a temporary runtime directory, sends each gold set through `nlpctl
# annotate` and scores the entities with ../shared/tools/score.py (exact
# span and label, micro P/R/F1):
#
#   uner-ewt/dev.jsonl                 PER, ORG, LOC (what it annotates)
#   ud-gum/dev.jsonl                   --labels PER,ORG,LOC
#   samples/article-shoigu.gold.jsonl  PER, ORG, LOC, MISC
#
# usage: stages/tag/eval.sh [--gate] [--extra] [--keep] [BUILD_DIR]
#
#   BUILD_DIR  default $NLPD_BUILD_DIR, else build/release (it builds nothing)
#   --gate     exit 1 when a figure is below its threshold (the CTest
#              tag_quality_gate): uner-ewt F1 >= 0.74, GUM F1 >= 0.64,
#              the sample article F1 >= 0.93. These guard against
#              regressions of today's tagger (0.754, 0.655, 0.955); the
#              targets of issue 4 are 0.75, 0.65 and 0.90
#   --extra    also score btc dev, wnut17 dev and uner-pud (no threshold;
#              a set the shipped model was trained on is not held out:
#              see stages/tag/README.md)
#   --keep     keep the annotated output (its directory is printed)
#
# ../shared is found beside the repository ($NLPD_SHARED_DIR overrides).
# Exit status: 0, 1 (gate failed), 2 (could not run), 77 (no data: skipped).
set -euo pipefail

gate=0
keep=0
extra=0
build=""
for arg in "$@"; do
  case "$arg" in
  --gate) gate=1 ;;
  --keep) keep=1 ;;
  --extra) extra=1 ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 0
    ;;
  -*)
    echo "eval.sh: unknown option $arg" >&2
    exit 2
    ;;
  *) build="$arg" ;;
  esac
done

eval_name=tag
# shellcheck source=../../tests/support/eval_daemon.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../tests/support/eval_daemon.sh"

# name|gold|score.py arguments|gate threshold (empty: none)
sets=(
  "uner-ewt dev|$shared/data/uner-ewt/dev.jsonl||0.74"
  "ud-gum dev|$shared/data/ud-gum/dev.jsonl|--labels PER,ORG,LOC|0.64"
  "article-shoigu|$shared/samples/article-shoigu.gold.jsonl||0.93"
)
if [ "$extra" = 1 ]; then
  sets+=(
    "btc dev|$shared/data/btc/dev.jsonl||"
    "wnut17 dev|$shared/data/wnut17/dev.jsonl||"
    "uner-pud|$shared/data/uner-pud/test.jsonl||"
  )
fi
golds=()
for s in "${sets[@]}"; do
  IFS='|' read -r _ g _ _ <<<"$s"
  golds+=("$g")
done
eval_need_files "${golds[@]}"
eval_need_programs nlpd nlpctl nlpd-ingest nlpd-split nlpd-tag
eval_start_daemon
version=$(eval_stage_version tag)

echo "tag stage evaluation: $build (tag ${version:-?})"
printf '%-16s %-8s %-8s %-5s %-32s %s\n' "set" "F1" "gate" "" "P / R" "F1 by label"
below=0
for s in "${sets[@]}"; do
  IFS='|' read -r name gold args need <<<"$s"
  out=$tmp/${name// /-}.out.jsonl
  failed=$(eval_annotate "$gold" "$out" entities)
  # shellcheck disable=SC2086 # (args is a list of options)
  "$python" "$score" "$gold" "$out" --json $args >"$out.score"
  "$python" - "$name" "$out.score" "$failed" "$gate" "$need" <<'PY' || below=1
import json, sys
name, score_path, failed, gate, need = sys.argv[1:6]
res = json.load(open(score_path))
e = res.get("entity", {"p": 0.0, "r": 0.0, "f": 0.0})
by = res.get("entity_by_label", {})
labels = " ".join(f"{k} {v['f']:.3f}" for k, v in sorted(by.items()))
passed = not need or e["f"] >= float(need)
detail = f"P {e['p']:.4f} R {e['r']:.4f}"
if failed != "0":
    detail += f", {failed} failed"
    passed = False
mark = ("ok" if passed else "BELOW") if gate == "1" and need else ""
print(f"{name:16} {e['f']:<8.4f} {('>= ' + need) if need else '-':8} {mark:5} {detail:32} {labels}")
sys.exit(0 if passed else 1)
PY
done

eval_check_daemon || below=1

if [ "$gate" = 1 ]; then
  if [ "$below" != 0 ]; then
    echo "quality gate: FAILED"
    exit 1
  fi
  echo "quality gate: passed"
fi
exit 0
