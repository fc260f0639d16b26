#!/usr/bin/python3
"""tests/fuzz/make_seeds.py - writes the hand-made seed corpora of the ingest,
doc, json, summarize and quotes fuzz targets (tests/fuzz/corpus/<name>/seed-*).

    /usr/bin/python3 tests/fuzz/make_seeds.py

Standard library only. The doc seeds are encoded nlpd.v1.Document messages
(proto/nlpd.proto), written with the small protobuf encoder below. The texts
are made up for the purpose. Files named regress-* are inputs
that found a fixed bug (kept as regression seeds), bug-* one not fixed yet;
those written here are hand-made, the others are libFuzzer's and not
touched.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(num, wire):
    return varint(num << 3 | wire)


def u(num, n):
    return key(num, 0) + varint(n)


def s(num, data):
    if isinstance(data, str):
        data = data.encode()
    return key(num, 2) + varint(len(data)) + data


def packed(num, values):
    body = b"".join(varint(v) for v in values)
    return key(num, 2) + varint(len(body)) + body


def f32(num, x):
    return key(num, 5) + struct.pack("<f", x)


def f64(num, x):
    return key(num, 1) + struct.pack("<d", x)


# --- Document fields (proto/nlpd.proto) ------------------------------------


def region(kind, start, end):
    return s(13, u(1, kind) + u(2, start) + u(3, end))


def sentences(spans, flags=None):
    body = packed(1, [a for a, _ in spans]) + packed(2, [b for _, b in spans])
    if flags is not None:
        body += packed(3, flags)
    return s(20, body)


def tokens(spans, shapes=None):
    body = packed(1, [a for a, _ in spans]) + packed(2, [b for _, b in spans])
    if shapes is not None:
        body += packed(3, shapes)
    return s(21, body)


def entity(start, end, label, score):
    return s(22, u(1, start) + u(2, end) + s(3, label) + f32(4, score))


def offmap(norm, orig):
    return s(12, packed(1, norm) + packed(2, orig))


def words(text):
    out, i = [], 0
    b = text.encode()
    while i < len(b):
        if b[i:i + 1].isspace():
            i += 1
            continue
        j = i
        while j < len(b) and not b[j:j + 1].isspace():
            j += 1
        out.append((i, j))
        i = j
    return out


def doc_seeds():
    text = "Harbor Town Opens New Bridge\n\nThe council said on Monday the bridge cost $4 million. Work starts soon."
    tb = text.encode()
    head_end = tb.index(b"\n")
    body_start = head_end + 2
    sent2 = tb.index(b"million.") + len(b"million.")
    ingested = (
        u(1, 1) + s(2, "k-0001") + s(3, "doc-1") + s(6, "Harbor Town Opens New Bridge") +
        s(10, text) +
        region(1, 0, head_end) + region(4, body_start, len(tb)) +
        s(17, u(1, 1) + u(2, 1) + s(5, "0" * 32)) +
        sentences([(0, head_end), (body_start, sent2), (sent2 + 1, len(tb))], [0, 0, 0]) +
        tokens(words(text), [2] * len(words(text))) +
        entity(0, 11, "LOC", 0.9) + entity(body_start + 4, body_start + 11, "ORG", 0.7) +
        s(23, packed(1, [1]) + s(2, struct.pack("<fff", 0.1, 0.9, 0.4))) +
        s(24, s(1, "quote") + u(2, 1) + u(3, 0) + u(4, 6) + s(5, "v") + f64(6, 0.5) + s(7, "q")) +
        s(30, s(1, "split") + s(2, "1.0") + s(3, "w1") + u(4, 120) + u(5, 1)) +
        s(31, s(1, "tag") + s(2, "empty") + s(3, "no text") + u(4, 0))
    )
    # Normalized text with a map: "a  b\r\nc" -> "a b\nc".
    sent_text = b"a  b\r\nc"
    norm = b"a b\nc"
    mapped = (u(1, 1) + s(10, sent_text) + s(11, norm) + offmap([0, 1, 2, 3, 4, 5], [0, 1, 3, 4, 6, 7]) +
              sentences([(0, 5)]) + tokens([(0, 1), (2, 3), (4, 5)]) + entity(2, 5, "MISC", 1.0))
    submission = (u(1, 1) + s(3, "sub-7") + s(6, "A title") + s(9, "Plain text as sent. Two sentences.") +
                  s(14, u(1, 2) + s(4, "ingest") + s(4, "split") + u(5, 1) + s(6, s(1, "lang") + s(2, '"en"'))) +
                  s(16, s(1, "feed") + s(2, "wire")))
    seeds = {
        "seed-ingested.pb": ingested,
        "seed-normmap.pb": mapped,
        "seed-submission.pb": submission,
        "seed-empty.pb": b"",
        "seed-version-only.pb": u(1, 1),
        # Invalid UTF-8 in a string field and in the text.
        "seed-bad-utf8.pb": u(1, 1) + s(3, b"id\xff") + s(10, b"ok \xc3\x28 text"),
        # Spans past the end of the text (refused by validation).
        "seed-span-past-end.pb": s(10, "short") + sentences([(0, 9)]),
        "seed-entity-past-end.pb": s(10, "short") + entity(2, 40, "PER", 0.5),
        "seed-region-reversed.pb": s(10, "short text") + region(4, 6, 2),
        # Arrays of different lengths.
        "seed-token-arrays.pb": s(10, "one two") + s(21, packed(1, [0, 4]) + packed(2, [3])),
        # A map whose anchors run backwards, and one that does not end at the texts' ends.
        "seed-map-backwards.pb": s(10, "abcdef") + s(11, "abc") + offmap([0, 2, 1], [0, 3, 6]),
        "regress-map-short.pb": s(10, "ab") + s(11, "abcdefgh") + offmap([0, 2], [0, 1]) + sentences([(0, 8)]),
        # Summary indices past the sentences.
        "seed-summary-range.pb": s(10, "One. Two.") + sentences([(0, 4), (5, 9)]) + s(23, packed(1, [0, 5, 1000])),
        # Truncated message and unknown fields.
        "seed-truncated.pb": ingested[: len(ingested) // 2],
        "seed-unknown-fields.pb": u(1, 1) + s(10, "text") + u(99, 7) + s(100, b"\x01\x02"),
        # A control byte: three additions (sentence, token, entity), in and past the text.
        "seed-ctl-additions.bin": bytes([0xFB, 0, 0, 0, 120, 1, 30, 60, 2, 10, 255]) + ingested,
        "seed-ctl-additions-map.bin": bytes([0xFC, 0, 0, 0, 255, 3, 0, 100, 4, 200, 0, 2, 50, 60]) + mapped,
        "seed-ctl-alloc.bin": bytes([0xF9, 1, 7, 0, 0, 255]) + ingested,
        # Found by doc_fuzz: sentences and tokens received without flags and
        # shapes, then one of each added with a flag / shape: the document
        # and its delta differed in array lengths and did not decode.
        # Open bug (daemon/client.c): nlpctl --minimal refuses a result whose
        # text holds a NUL byte (the JSON has \u0000).
        "bug-client-minimal-nul.pb": s(10, b"a\x00b"),
        "regress-delta-no-flags.bin": (bytes([0xFA, 0, 10, 0, 40, 11, 0, 40]) + s(10, "One. Two.") +
                                       s(20, packed(1, [0]) + packed(2, [4])) +
                                       s(21, packed(1, [0]) + packed(2, [3]))),
    }
    return seeds


def ingest_seeds():
    feed = ("Regional Rail Line Reopens After Storm Repairs\n\n"
            "Engineers finished work two days early, the operator said.\n\n"
            "|\n\n"
            "Regional Rail Line Reopens After Storm Repairs\n\n"
            "Trains ran again on Tuesday after crews replaced a damaged embankment. "
            "The operator thanked passengers for their patience.\n\n"
            "A spokesperson said timetables return to normal next week.\n\n"
            "Example Wire\n")
    html = ("<!DOCTYPE html><html><head><title>Library Extends Hours</title>"
            "<style>p{color:red}</style><script>var x = '<p>no</p>';</script></head>"
            "<body><h1>Library Extends Hours</h1><p>The city library will stay open until 9&nbsp;pm &amp; "
            "later on weekends.</p><h2>Funding</h2><p>A grant of &euro;20,000 pays for it.<br>Staff agreed.</p>"
            "<ul><li>Mon&ndash;Fri</li><li>Sat</li></ul></body></html>")
    article = ('{"id": "a-17", "title": "Port  Traffic Rises", "lede": "Shipping grew.", '
               '"text": "Port traffic rose 5% in May.\\n\\nOfficials expect more.", '
               '"url": "https://example.org/p", "source": "Example News", "published": "2026-05-01"}')
    seeds = {
        "seed-text.txt": "Officials met on Friday. They agreed on a plan.\n\nA second paragraph follows here.\n",
        "seed-feed.txt": feed,
        "seed-html.html": html,
        "seed-article.json": article,
        "seed-article-body.json": '{"body": "Body text only.", "id": 42, "standfirst": "Lede here"}',
        "seed-json-array.json": '[1, 2, {"text": "not an object"}]',
        "seed-json-no-text.json": '{"title": "No text field"}',
        "seed-json-nul.json": '{"text": "a\\u0000b", "id": "x\\u0000y"}',
        "seed-crlf.txt": b"Line one\r\nline two\r\rthree\r\n\r\n\r\nnew paragraph \t end",
        "seed-controls.bin": b"Bell\x07 and NUL\x00 and ESC\x1b[0m and C1 \xc2\x85 next\x0cpage",
        "seed-invisible.txt": "zero\u200bwidth soft\u00adhyphen \ufeffbom\u2028line\u2029para\u00a0nbsp\u3000ideo",
        "seed-nfc.txt": "Cafe\u0301 n\u0303 A\u030a \u212b \u212a o\u0308\u0304 \u1e9b\u0323 e\u200b\u0301 \u0344",
        "seed-bom.txt": b"\xef\xbb\xbf  leading BOM and spaces",
        "seed-invalid-utf8.bin": b"bad \xff\xfe bytes \xc3 and \xe2\x82 cut \xed\xa0\x80 surrogate \xf4\x90\x80\x80 big",
        "seed-only-space.txt": " \n\t\r\n  \u00a0 ",
        "seed-lists.txt": "Items:\n- first item\n- second item\n\n1. one\n2. two\n",
        "seed-subheads.txt": ("A Headline Here\n\nOpening paragraph of the story, long enough to be body text.\n\n"
                              "Short Heading\n\nAnother paragraph of body text follows the heading here.\n"),
        # Control byte, then header: format / reject / max_regions / failing allocator / meta.
        "seed-ctl-feed.bin": bytes([0xF8, 3]) + feed.encode(),
        "seed-ctl-html.bin": bytes([0xF8, 4]) + html.encode(),
        "seed-ctl-json.bin": bytes([0xF8, 2]) + article.encode(),
        "seed-ctl-json-bad.bin": bytes([0xF8, 2]) + b'{"text": 5}',
        "seed-ctl-text-reject.bin": bytes([0xF8, 1 | 8]) + b"ok then \xff bad",
        "seed-ctl-feed-reject.bin": bytes([0xF8, 3 | 8]) + feed.encode(),
        "seed-ctl-maxregions.bin": bytes([0xF8, 16, 1]) + feed.encode(),
        "seed-ctl-alloc.bin": bytes([0xF8, 32, 5]) + feed.encode(),
        "seed-ctl-alloc-html.bin": bytes([0xF8, 4 | 32, 9]) + html.encode(),
        "seed-ctl-meta.bin": bytes([0xF8, 64]) + article.encode(),
        "seed-ctl-html-invalid.bin": bytes([0xF8, 4]) + b"<p>bad \xff byte &amp; <b>bold</b></p>",
    }
    return seeds


def json_seeds():
    return {
        "seed-basic.jsonl": '{"id": "n1", "title": "Title", "text": "Some text here. More text."}',
        "seed-options.jsonl": ('{"id": 7, "text": "x", "options": {"summary_sentences": 2, "format": "feed", '
                               '"stages": ["ingest", "split"], "custom": {"a": [1, 2]}}, '
                               '"metadata": {"k": "v", "e": ""}}'),
        "seed-body.jsonl": '{"body": "Body instead of text", "lede": "L", "url": "u", "source": "s", "published": "p"}',
        "seed-bad-budget.jsonl": '{"text": "t", "options": {"summary_sentences": 0, "summary_ratio": 2.5, "summary_words": -1}}',
        "seed-ratio.jsonl": '{"text": "t", "options": {"summary_ratio": 0.25}}',
        "seed-bad-format.jsonl": '{"text": "t", "options": {"format": "pdf"}}',
        "seed-bad-stages.jsonl": '{"text": "t", "options": {"stages": ["a", 3]}}',
        "seed-bad-id.jsonl": '{"text": "t", "id": [1]}',
        "seed-bad-meta.jsonl": '{"text": "t", "metadata": {"a": 1}}',
        "seed-dup-key.jsonl": '{"text": "a", "text": "b"}',
        "seed-no-text.jsonl": '{"title": "only"}',
        "seed-not-object.jsonl": '["text"]',
        "seed-nul.jsonl": '{"id": "a\\u0000b", "text": "x\\u0000y", "metadata": {"k\\u0000z": "v"}}',
        "seed-unicode.jsonl": '{"text": "caf\\u00e9 \\ud83d\\ude00 \\u2028", "title": "\\u00c5"}',
        "seed-null-fields.jsonl": '{"text": "t", "id": null, "options": null, "metadata": null}',
        "seed-invalid.jsonl": b'{"text": "bad \xff"}',
        "seed-ctl-alloc.bin": bytes([0xF8, 3]) + b'{"id": 7, "text": "x", "options": {"custom": 1, "stages": ["a"]}, "metadata": {"k": "v"}}',
    }


def summarize_seeds():
    story = ("Harbor Town opened its new bridge on Monday. The bridge cost four million. "
             "Officials said traffic would ease. Traffic eased within a week, officials said. "
             "Residents welcomed the bridge. The bridge cost four million.\n"
             "Critics said the money was wasted. A review is due next year!\n")
    head = "Harbor Town Opens Bridge\nA new crossing eases traffic.\n"
    full = head + story
    return {
        "seed-story.txt": story,
        "seed-one.txt": "Only one sentence",
        "seed-empty-sentences.txt": "...\n\n!!?",
        "seed-symbols.txt": "$$$ %%% ### 123 456. \u00e9\u00e8 \u4e2d\u6587. emoji \U0001f600.",
        # Budgets: sentences, words, ratio, invalid ratio, two budgets.
        "seed-ctl-sentences.bin": bytes([0xF8, 1, 2]) + story.encode(),
        "seed-ctl-words.bin": bytes([0xF8, 2, 5]) + story.encode(),
        "seed-ctl-ratio.bin": bytes([0xF8, 3, 60]) + story.encode(),
        "seed-ctl-ratio-bad.bin": bytes([0xF8, 3, 255]) + story.encode(),
        "seed-ctl-two-budgets.bin": bytes([0xF8, 1 | 64, 3]) + story.encode(),
        # Regions (headline, lede, body), entities, title and lede.
        "seed-ctl-regions.bin": bytes([0xF8, 4 | 8 | 16, 2, 1, 0, 25, 2, 26, 55, 4, 56, 255, 3, 60, 80, 100, 110, 200, 220, 30, 20]) + full.encode(),
        # Raw sentences, some out of order or past the end.
        "seed-ctl-raw.bin": bytes([0xF8, 0 | 32, 4, 0, 40, 40, 90, 80, 120, 200, 255]) + story.encode(),
        "seed-ctl-raw-regions.bin": bytes([0xF8, 0 | 4 | 32, 1, 4, 200, 100, 4, 0, 100, 2, 100, 90]) + story.encode(),
        "seed-ctl-alloc.bin": bytes([0xF8, 0 | 64, 40]) + story.encode(),
    }


def quotes_seeds():
    return {
        "seed-curly.txt": "\u201cWe will build it,\u201d said Mayor Ana Ruiz. She added: \u201cSoon.\u201d\n",
        "seed-before.txt": "Ruiz said: \u201cThe bridge opens in May and traffic will ease.\u201d",
        "seed-straight.txt": 'The chief told reporters "we are ready for the storm," and left.',
        "seed-nested.txt": "\u201cHe told me \u2018never again\u2019 twice,\u201d the coach said.",
        "seed-guillemets.txt": "\u00abC\u2019est fini, vraiment,\u00bb dit-il.",
        "seed-apostrophes.txt": "The players\u2019 union said \u2018it\u2019s the \u201990s again,\u2019 officials added.",
        "seed-paragraphs.txt": "\u201cA quote that runs on\n\nover a blank line\u201d said Tom Lee.",
        "seed-unbalanced.txt": "\u201c\u201c\u201d \u2018 \u00bb \" odd \" marks \u201dend",
        "seed-invalid.bin": b"\xe2\x80 \xe2\x80\x9cok then\xff\xe2\x80\x9d said Bo Li",
        "seed-ctl-min-words.bin": bytes([0xF9, 5]) + "\u201cone two three\u201d, said Al Ng.".encode(),
        "seed-ctl-no-speakers.bin": bytes([0xFA]) + "\u201cNo one said it,\u201d said Jo Kim.".encode(),
        "seed-ctl-alloc.bin": bytes([0xFC, 3]) + "\u201cFirst quote here,\u201d he said. \u201cSecond one too.\u201d".encode(),
    }


def write(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for fname, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, fname), "wb") as f:
            f.write(data)


def main():
    write("ingest", ingest_seeds())
    write("doc", doc_seeds())
    write("json", json_seeds())
    write("summarize", summarize_seeds())
    write("quotes", quotes_seeds())


if __name__ == "__main__":
    main()
