#!/usr/bin/env bash
# stages/summarize/eval.sh — the summarize stage's quality, measured as a
# user would (issue 5's table).
#
# Starts the build's nlpd with the pipeline ingest, split[, tag], summarize
# in a temporary runtime directory (tag when the build has nlpd-tag, unless
# --no-tag), sends each gold set through `nlpctl annotate` with the row's
# budget in each line's "options", and scores the summaries with
# ../shared/tools/score.py (ROUGE-1/2/L F1). For each row it prints our
# system, Lead on our own sentences in the same run (tools/lead.py for a
# ratio; the first N sentences for a budget of N sentences) and the
# published baselines of the issue:
#
#   bbc-news-summary dev  summary_ratio 0.4     > centroid on R1, R2, RL, and > lead.py
#   bbc-news-summary dev  summary_sentences 3   > Lead-3, LexRank, TextRank, centroid
#   ud-gum dev            summary_sentences 1   R1 > Lead-1 and centroid
#   samples/article-shoigu summary_sentences 2  R1 reported (Lead-2 of the body too)
#
# usage: stages/summarize/eval.sh [--gate] [--no-tag] [--tag-model FILE] [--keep] [BUILD_DIR]
#
#   BUILD_DIR  default $NLPD_BUILD_DIR, else build/release (it builds nothing)
#   --gate     exit 1 when a row misses its target (the CTest
#              summarize_quality_gate), a document fails, or a worker
#              restarts
#   --no-tag   leave the tag stage out even when it is built
#   --tag-model FILE  run nlpd-tag with this model (nlpd-tag --model FILE)
#   --keep     keep the annotated output (its directory is printed)
#
# ../shared is found beside the repository ($NLPD_SHARED_DIR overrides).
# Exit status: 0, 1 (gate failed), 2 (could not run), 77 (no data: skipped).
set -euo pipefail

gate=0
keep=0
use_tag=1
tag_model=""
build=""
want_model=0
for arg in "$@"; do
  if [ "$want_model" = 1 ]; then
    tag_model=$arg
    want_model=0
    continue
  fi
  case "$arg" in
  --tag-model) want_model=1 ;;
  --gate) gate=1 ;;
  --keep) keep=1 ;;
  --no-tag) use_tag=0 ;;
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

eval_name=summarize
# shellcheck source=../../tests/support/eval_daemon.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../tests/support/eval_daemon.sh"

bbc=$shared/data/bbc-news-summary/dev.jsonl
gum=$shared/data/ud-gum/dev.jsonl
shoigu=$shared/samples/article-shoigu.gold.jsonl
lead=$shared/tools/lead.py
eval_need_files "$bbc" "$gum" "$shoigu" "$lead"
eval_need_programs nlpd nlpctl nlpd-ingest nlpd-split nlpd-summarize
conf=$(mktemp "${TMPDIR:-/tmp}/nlpd-summarize-eval.XXXXXX.conf")
write_conf() {
  # No journal: an evaluation keeps nothing, and the default journal
  # (/var/lib/nlpd) may belong to another daemon on this machine.
  printf '[daemon]\njournal = off\n\n[pipeline]\nstages = %s\n\n[stage summarize]\ncommand = %s\n' \
    "$1" "$build/bin/nlpd-summarize" >"$conf"
  if [ -n "$tag_model" ]; then
    printf '\n[stage tag]\ncommand = %s --model %s\n' "$build/bin/nlpd-tag" "$tag_model" >>"$conf"
  fi
}
stages="ingest split summarize"
note=""
if [ "$use_tag" = 1 ] && [ -x "$build/bin/nlpd-tag" ]; then
  # With tag when its worker comes up (a probe daemon, stopped at once).
  write_conf "ingest split tag summarize"
  if (eval_start_daemon --config "$conf") >/dev/null 2>&1; then
    stages="ingest split tag summarize"
  else
    note=" (nlpd-tag is built but did not start: evaluated without it)"
  fi
fi
write_conf "$stages"
eval_start_daemon --config "$conf"
rm -f "$conf"
version=$(eval_stage_version summarize)

echo "summarize stage evaluation: $build (pipeline: $stages$note; summarize ${version:-?})"
echo "ROUGE F1 R1 / R2 / RL (score.py); 'lead (same run)' is Lead on this run's sentences"
below=0
# name|gold|options JSON|row id
rows=(
  "bbc-news-summary dev|$bbc|{\"summary_ratio\": 0.4}|bbc-ratio"
  "bbc-news-summary dev|$bbc|{\"summary_sentences\": 3}|bbc-3"
  "ud-gum dev|$gum|{\"summary_sentences\": 1}|gum-1"
  "article-shoigu|$shoigu|{\"summary_sentences\": 2}|shoigu-2"
)
for r in "${rows[@]}"; do
  IFS='|' read -r name gold opts row <<<"$r"
  in=$tmp/$row.in.jsonl
  out=$tmp/$row.out.jsonl
  # The input: id, title and text of the gold set, and the row's budget.
  "$python" -c '
import json, sys
opts = json.loads(sys.argv[2])
for line in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(line)
    o = {"id": d["id"], "text": d["text"], "options": opts}
    if d.get("title"):
        o["title"] = d["title"]
    print(json.dumps(o, ensure_ascii=False))
' "$gold" "$opts" >"$in"
  "${ctl[@]}" --timeout 120 annotate --quiet <"$in" >"$out.full" 2>"$out.err" || true
  failed=$(eval_annotate "$in" "$out" summary)
  # Lead on the same sentences: lead.py for a ratio, the first N otherwise,
  # and the first N body sentences (regions of the full output).
  "$python" - "$out" "$out.full" "$opts" "$lead" "$tmp/$row" <<'PY'
import json, subprocess, sys
out, full, opts, lead, base = sys.argv[1:6]
opts = json.loads(opts)
docs = [json.loads(l) for l in open(out, encoding="utf-8")]
regions = {}
for l in open(full, encoding="utf-8"):
    d = json.loads(l)
    regions[str(d.get("id"))] = d.get("regions", [])
if "summary_ratio" in opts:
    src = "".join(json.dumps(d) + "\n" for d in docs)
    res = subprocess.run([sys.executable, lead, str(opts["summary_ratio"])], input=src,
                         capture_output=True, text=True, check=True).stdout
    open(base + ".lead.jsonl", "w").write(res)
else:
    n = opts["summary_sentences"]
    with open(base + ".lead.jsonl", "w") as f, open(base + ".leadbody.jsonl", "w") as g:
        for d in docs:
            sents = d.get("sentences", [])
            f.write(json.dumps(dict(d, summary=list(range(min(n, len(sents)))))) + "\n")
            body = [(r["start"], r["end"]) for r in regions.get(str(d["id"]), [])
                    if r["kind"] == "body"]
            pick = [i for i, (s, e) in enumerate(sents)
                    if any(a <= s < b for a, b in body)] if body else list(range(len(sents)))
            g.write(json.dumps(dict(d, summary=pick[:n])) + "\n")
PY
  "$python" "$score" "$gold" "$out" --json >"$out.score"
  "$python" "$score" "$gold" "$tmp/$row.lead.jsonl" --json >"$out.lead.score"
  if [ -f "$tmp/$row.leadbody.jsonl" ]; then
    "$python" "$score" "$gold" "$tmp/$row.leadbody.jsonl" --json >"$out.leadbody.score"
  fi
  "$python" - "$name" "$row" "$opts" "$out.score" "$out.lead.score" "$out.leadbody.score" \
    "$failed" "$gate" <<'PY' || below=1
import json, os, sys
name, row, opts, sys_path, lead_path, body_path, failed, gate = sys.argv[1:9]
def rouge(p):
    r = json.load(open(p)).get("rouge", {"r1": 0.0, "r2": 0.0, "rl": 0.0, "docs": 0})
    return r
def fmt(r):
    return f"{r['r1']:.3f} / {r['r2']:.3f} / {r['rl']:.3f}"
me, ld = rouge(sys_path), rouge(lead_path)
# The published baselines of issue 5 (measured on dev with score.py);
# None where a figure was not published.
published = {
    "bbc-ratio": [("Lead at 40% (simple splitter)", (0.635, 0.505, 0.400)),
                  ("TF-IDF centroid", (0.779, 0.707, 0.496))],
    "bbc-3": [("Lead-3", (0.425, 0.341, 0.330)), ("LexRank (npm lexrank)", (0.520, 0.433, 0.385)),
              ("TextRank (npm node-summarizer)", (0.541, 0.490, 0.416)),
              ("TF-IDF centroid", (0.572, 0.529, 0.448))],
    "gum-1": [("Lead-1", (0.152, 0.054, 0.132)), ("TF-IDF centroid", (0.220, None, None))],
    "shoigu-2": [],
}[row]
ok = True
mine = (me["r1"], me["r2"], me["rl"])
if row == "bbc-ratio":
    ok = all(m > b for m, b in zip(mine, published[1][1])) and \
         all(m > b for m, b in zip(mine, (ld["r1"], ld["r2"], ld["rl"])))
elif row == "bbc-3":
    ok = all(all(m > b for m, b in zip(mine, p)) for _, p in published) and \
         all(m > b for m, b in zip(mine, (ld["r1"], ld["r2"], ld["rl"])))
elif row == "gum-1":
    ok = me["r1"] > 0.152 and me["r1"] > 0.220 and me["r1"] > ld["r1"]
if failed != "0":
    ok = False
mark = ("ok" if ok else "BELOW") if gate == "1" else ""
print(f"\n{name}, options {opts} ({me.get('docs', 0)} docs{', ' + failed + ' failed' if failed != '0' else ''})  {mark}")
print(f"  {'nlpd summarize':40} {fmt(me)}")
label = "lead.py (same run)" if row == "bbc-ratio" else "Lead-N (same run, all sentences)"
print(f"  {label:40} {fmt(ld)}")
if os.path.exists(body_path):
    print(f"  {'Lead-N (same run, body only)':40} {fmt(rouge(body_path))}")
for pname, p in published:
    s = " / ".join("  -  " if v is None else f"{v:.3f}" for v in p)
    print(f"  {pname + ' (published)':40} {s}")
sys.exit(0 if ok or gate != "1" else 1)
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
