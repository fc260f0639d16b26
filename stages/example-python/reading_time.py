#!/usr/bin/python3
"""reading_time -- an example nlpd stage in Python: word count and reading time.

Adds two annotations about the whole document (no span), computed from the
normalized text:

    word_count    value "412"    score 412.0
    reading_time  value "2 min"  score 1.73  (minutes, at 238 words a minute)

A word is a run between whitespace that holds a letter or a digit. The
reading time is rounded to whole minutes, at least 1 for a text with words.
A client changes the speed for one document with the option reading_wpm:
{"id": ..., "text": ..., "options": {"reading_wpm": 300}}.

Chain it into a pipeline by config alone:

    [stage reading]
    command = /usr/bin/python3 /path/to/reading_time.py
    env.PYTHONPATH = /path/to/build/python:/path/to/stages/example-python
"""

import math

import nlpd_stage

DEFAULT_WPM = 238

USAGE = """\
  --wpm N           default reading speed in words a minute (default 238)
  --fail-on WORD    raise on a document whose text holds WORD (for tests)
"""


def count_words(text):
    """Whitespace-separated runs of `text` (str) that hold a letter or digit."""
    return sum(1 for w in text.split() if any(c.isalnum() for c in w))


def reading_time(words, wpm):
    """(value, minutes): "N min" rounded, at least 1 when there are words."""
    minutes = words / wpm
    shown = max(1, int(math.floor(minutes + 0.5))) if words > 0 else 0
    return "%d min" % shown, minutes


def parse_args(worker):
    wpm, fail_on = DEFAULT_WPM, None
    args = list(worker.args)
    while args:
        a = args.pop(0)
        if a in ("--wpm", "--fail-on") and args:
            v = args.pop(0)
            if a == "--fail-on":
                fail_on = v
                continue
            try:
                wpm = float(v)
            except ValueError:
                wpm = 0
            if not 0 < wpm < 100000:
                worker.log(nlpd_stage.LOG_ERR, "--wpm must be a positive number")
                raise SystemExit(2)
        else:
            worker.log(nlpd_stage.LOG_ERR, "unknown argument %s" % a)
            raise SystemExit(2)
    return wpm, fail_on


def make_process(default_wpm, fail_on):
    marker = fail_on.encode("utf-8") if fail_on else None

    def process(doc, out):
        raw = nlpd_stage.doc_text(doc)
        if marker is not None and marker in raw:
            raise RuntimeError("document contains the marker word %s" % fail_on)
        wpm = nlpd_stage.option(doc, "reading_wpm", default_wpm)
        if isinstance(wpm, bool) or not isinstance(wpm, (int, float)) or not 0 < wpm < 100000:
            raise nlpd_stage.StageError("bad_option", "reading_wpm must be a positive number")
        words = count_words(raw.decode("utf-8", "replace"))
        value, minutes = reading_time(words, wpm)
        nlpd_stage.annotate(out, "word_count", value=words, score=words)
        nlpd_stage.annotate(out, "reading_time", value=value, score=minutes)

    return process


def main():
    worker = nlpd_stage.Worker("reading", "1.0", usage=USAGE)
    wpm, fail_on = parse_args(worker)
    return worker.run(make_process(wpm, fail_on))


if __name__ == "__main__":
    raise SystemExit(main())
