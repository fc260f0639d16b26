#!/usr/bin/python3
"""Joins `nlpctl annotate` output with a gold set's reference summaries,
for nlpd-summarize-tune.

usage: prep.py GOLD.jsonl ANNOTATED.jsonl > TUNE.jsonl

Keeps text, title, lede, sentences, entities and regions (as [kind, start,
end] with the numbers of include/nlpd/types.h) of the annotated document
and summary_text of the gold one. The output stays in the build tree: it
holds the set's text and is never committed.
"""
import json
import sys

KINDS = {"unspecified": 0, "headline": 1, "lede": 2, "separator": 3, "body": 4,
         "subheading": 5, "source_line": 6}


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    gold = {}
    for line in open(sys.argv[1], encoding="utf-8"):
        d = json.loads(line)
        gold[str(d["id"])] = d
    for line in open(sys.argv[2], encoding="utf-8"):
        a = json.loads(line)
        g = gold.get(str(a.get("id")))
        if g is None or "sentences" not in a:
            continue
        ref = g.get("summary_text")
        if ref is None:
            continue
        out = {"id": a["id"], "text": a["text"], "sentences": a["sentences"],
               "summary_text": ref}
        for k in ("title", "lede", "entities"):
            if a.get(k):
                out[k] = a[k]
        out["regions"] = [[KINDS.get(r["kind"], 0), r["start"], r["end"]]
                          for r in a.get("regions", [])]
        print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
