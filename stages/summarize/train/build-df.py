#!/usr/bin/python3
"""Builds stages/summarize/data/en/df.txt, the summarizer's background term
statistics, from openly licensed sets of ../shared/data.

usage: build-df.py SHARED_DATA_DIR > stages/summarize/data/en/df.txt

A unit is one sentence of the UD English-EWT train documents (CC BY-SA 4.0)
or one post of WNUT17 train or the Broad Twitter Corpus train (CC BY 4.0).
UNER English-EWT (CC BY-SA 4.0) holds the same EWT text as ud-ewt, so it is
not counted again. Terms are runs of ASCII letters and digits, lower-cased,
as the library reads them (stages/summarize/summarize.c); a term's df is the
number of units it occurs in. Terms seen in fewer than MIN_DF units are left
out (the library gives an unseen term the idf of df 0). Only these counts
ship, no text. Standard library only; the output is deterministic.
"""
import json
import os
import re
import sys

MIN_DF = 2
SOURCES = [
    ("ud-ewt/train.jsonl", "sentences", "UD English-EWT train, CC BY-SA 4.0"),
    ("wnut17/train.jsonl", "document", "WNUT17 train, CC BY 4.0"),
    ("btc/train.jsonl", "document", "Broad Twitter Corpus train, CC BY 4.0"),
]
WORD = re.compile(rb"[a-z0-9]+")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    root = sys.argv[1]
    df = {}
    units = 0
    counts = []
    for rel, unit, _ in SOURCES:
        n = 0
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                b = d["text"].encode("utf-8")
                spans = d["sentences"] if unit == "sentences" else [[0, len(b)]]
                for s, e in spans:
                    terms = set(WORD.findall(b[s:e].lower()))
                    if not terms:
                        continue
                    n += 1
                    for t in terms:
                        df[t] = df.get(t, 0) + 1
        units += n
        counts.append(n)
    kept = sorted((t, c) for t, c in df.items() if c >= MIN_DF)
    out = sys.stdout
    out.write("# nlpd summarize background term statistics (stages/summarize/data/README.md)\n")
    out.write("# made by stages/summarize/train/build-df.py from ../shared/data:\n")
    for (rel, unit, lic), n in zip(SOURCES, counts):
        out.write(f"#   {rel}: {n} units ({'sentences' if unit == 'sentences' else 'posts'}), {lic}\n")
    out.write(f"# terms with df >= {MIN_DF}: term TAB df\n")
    out.write(f"units\t{units}\n")
    for t, c in kept:
        out.write(f"{t.decode('ascii')}\t{c}\n")


if __name__ == "__main__":
    main()
