#!/usr/bin/python3
"""Joins `nlpctl annotate` output with a gold set's reference summaries,
for nlpd-summarize-tune.

usage: prep.py [--gold-entities] GOLD.jsonl ANNOTATED.jsonl > TUNE.jsonl

Keeps text, title, lede, sentences, entities and regions (as [kind, start,
end] with the numbers of include/nlpd/types.h) of the annotated document
and summary_text of the gold one (with --gold-entities, the gold set's
entities instead of the annotated ones: an upper bound of what entity
salience adds once the tag stage runs). The output stays in the build tree: it
holds the set's text and is never committed.
"""
import json
import sys

KINDS = {"unspecified": 0, "headline": 1, "lede": 2, "separator": 3, "body": 4,
         "subheading": 5, "source_line": 6}


def main():
    args = [a for a in sys.argv[1:] if a != "--gold-entities"]
    gold_ents = len(args) != len(sys.argv) - 1
    if len(args) != 2:
        raise SystemExit(__doc__)
    gold = {}
    for line in open(args[0], encoding="utf-8"):
        d = json.loads(line)
        gold[str(d["id"])] = d
    for line in open(args[1], encoding="utf-8"):
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
        if gold_ents:
            out["entities"] = g.get("entities", [])
        out["regions"] = [[KINDS.get(r["kind"], 0), r["start"], r["end"]]
                          for r in a.get("regions", [])]
        print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
