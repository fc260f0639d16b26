#!/usr/bin/env bash
# stages/split/eval.sh — the split stage's quality, measured as a user would.
#
# Starts the build's nlpd with its default pipeline (ingest, split) in a
# temporary runtime directory, sends each gold set through `nlpctl annotate`
# and scores the output with ../shared/tools/score.py:
#
#   pysbd-golden-rules/golden_rules_en.jsonl  documents exactly right (of 48)
#   ud-gum/dev.jsonl, ud-ewt/dev.jsonl        sentence exact F1
#   samples/article-shoigu.gold.jsonl         exactly right, and sentences right of gold
#
# usage: stages/split/eval.sh [--gate] [--keep] [BUILD_DIR]
#
#   BUILD_DIR  default $NLPD_BUILD_DIR, else build/release (it builds nothing)
#   --gate     exit 1 when a figure is below its threshold (the CTest
#              split_quality_gate): golden >= 46 of 48, GUM F1 >= 0.95,
#              EWT F1 >= 0.87, the sample article exactly right
#   --keep     keep the annotated output (its directory is printed)
#
# ../shared is found beside the repository ($NLPD_SHARED_DIR overrides).
# Exit status: 0, 1 (gate failed), 2 (could not run), 77 (no data: skipped).
set -euo pipefail

gate=0
keep=0
build=""
for arg in "$@"; do
  case "$arg" in
  --gate) gate=1 ;;
  --keep) keep=1 ;;
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

eval_name=split
# shellcheck source=../../tests/support/eval_daemon.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../tests/support/eval_daemon.sh"

sets=(
  "pysbd-golden-rules|$shared/data/pysbd-golden-rules/golden_rules_en.jsonl"
  "ud-gum dev|$shared/data/ud-gum/dev.jsonl"
  "ud-ewt dev|$shared/data/ud-ewt/dev.jsonl"
  "article-shoigu|$shared/samples/article-shoigu.gold.jsonl"
)
eval_need_files "${sets[@]#*|}"
eval_need_programs nlpd nlpctl nlpd-ingest nlpd-split
eval_start_daemon
version=$(eval_stage_version split)

# One row per set from score.py's JSON.
row() {
  local name=$1 gold=$2 out=$3 failed=$4
  "$python" "$score" "$gold" "$out" --json >"$out.score"
  "$python" - "$name" "$gold" "$out.score" "$failed" "$gate" <<'EOF'
import json, sys
name, gold_path, score_path, failed, gate = sys.argv[1:6]
res = json.load(open(score_path))
ndocs = res["docs"]
ok, _ = res.get("sentence_docs_exact", [0, 0])
se = res.get("sentence_exact", {"p": 0.0, "r": 0.0, "f": 0.0})
ngold = 0
for line in open(gold_path, encoding="utf-8"):
    if line.strip():
        g = json.loads(line)
        b = g["text"].encode("utf-8")
        for s, e in g.get("sentences", []):
            while s < e and b[s:s + 1].isspace():
                s += 1
            while e > s and b[e - 1:e].isspace():
                e -= 1
            ngold += s < e
tp = round(se["r"] * ngold)
if name == "pysbd-golden-rules":
    figure, need, passed = f"{ok} of {ndocs} documents exactly right", ">= 46 of 48", ok >= 46
elif name == "ud-gum dev":
    figure, need, passed = f"sentence exact F1 {se['f']:.4f}", ">= 0.95", se["f"] >= 0.95
elif name == "ud-ewt dev":
    figure, need, passed = f"sentence exact F1 {se['f']:.4f}", ">= 0.87", se["f"] >= 0.87
else:
    figure = f"{ok} of {ndocs} exactly right, {tp} of {ngold} sentences"
    need, passed = "1 of 1", ok == ndocs == 1
detail = f"P {se['p']:.4f} R {se['r']:.4f} F1 {se['f']:.4f}"
if failed != "0":
    detail += f", {failed} failed"
mark = ("ok" if passed else "BELOW") if gate == "1" else ""
print(f"{name:20} {figure:46} {need:12} {mark:5} {detail}")
sys.exit(0 if passed else 1)
EOF
}

echo "split stage evaluation: $build (split ${version:-?})"
printf '%-20s %-46s %-12s %-5s %s\n' "set" "figure" "gate" "" "sentence exact"
below=0
for s in "${sets[@]}"; do
  name=${s%%|*}
  gold=${s#*|}
  out=$tmp/${name// /-}.out.jsonl
  failed=$(eval_annotate "$gold" "$out" sentences)
  row "$name" "$gold" "$out" "$failed" || below=1
  if [ "$failed" != 0 ]; then
    below=1
  fi
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
