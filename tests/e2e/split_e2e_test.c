/* tests/e2e/split_e2e_test.c — the split stage in the default pipeline, end to end.
 *
 * Each test starts the real daemon (bin/nlpd, with no config: the default
 * pipeline ingest -> split, or with a config naming the split worker's
 * options) in a temp dir and sends documents through its front door. What
 * is asserted is what a client sees: the sentences and tokens of our feed
 * fixture, as spans of the text as sent; and, for hostile input (empty,
 * blank, punctuation only, a 10 MB paragraph without punctuation, invalid
 * UTF-8, emoji and combining marks), a result with sane spans, no error
 * from the split stage and no worker restart.
 */
#include "e2e.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlpd/alloc.h"
#include "nlpd/nlpd.pb-c.h"
#include "nlpd/split.h"

/* --- Helpers ---------------------------------------------------------------- */

static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Trims ASCII whitespace off both ends of a span, as score.py trims (with
 * Python's bytes.isspace). */
static void
trim(const char *text, size_t *s, size_t *e)
{
    while (*s < *e && is_space((unsigned char)text[*s]))
        (*s)++;
    while (*e > *s && is_space((unsigned char)text[*e - 1]))
        (*e)--;
}

static size_t
span_at(json_t *arr, size_t i, size_t *end)
{
    json_t *p = json_array_get(arr, i);
    *end = (size_t)json_integer_value(json_array_get(p, 1));
    return (size_t)json_integer_value(json_array_get(p, 0));
}

static void
dump_sentences(json_t *r, const char *text, size_t len)
{
    json_t *sents = json_object_get(r, "sentences");
    fprintf(stderr, "# %zu sentences:\n", json_array_size(sents));
    for (size_t i = 0; i < json_array_size(sents); i++) {
        size_t e, s = span_at(sents, i, &e);
        if (s <= e && e <= len)
            fprintf(stderr, "#   [%zu, %zu) \"%.*s\"\n", s, e, (int)(e - s), text + s);
        else
            fprintf(stderr, "#   [%zu, %zu) out of the text\n", s, e);
    }
}

/* Asserts that the result's sentences are exactly `want` (after trimming),
 * in order, found in `text` (the text as sent) one after the other. */
static void
assert_sentences(json_t *r, const char *text, size_t len, const char *const *want, size_t n_want)
{
    json_t *sents = json_object_get(r, "sentences");
    int ok = json_is_array(sents) && json_array_size(sents) == n_want;
    size_t cursor = 0;
    for (size_t i = 0; ok && i < n_want; i++) {
        const char *at = memmem(text + cursor, len - cursor, want[i], strlen(want[i]));
        assert_non_null(at); /* the expectation itself is wrong otherwise */
        size_t ws = (size_t)(at - text), we = ws + strlen(want[i]);
        size_t e, s = span_at(sents, i, &e);
        if (e > len || s > e) {
            ok = 0;
            break;
        }
        trim(text, &s, &e);
        if (s != ws || e != we) {
            fprintf(stderr, "# sentence %zu: want [%zu, %zu) \"%s\"\n", i, ws, we, want[i]);
            ok = 0;
        }
        cursor = we;
    }
    if (!ok) {
        dump_sentences(r, text, len);
        fail_msg("the sentences differ from the %zu expected", n_want);
    }
}

/* Checks that every span of `arr` (sentences or tokens) lies in the text,
 * is not empty, and that they come in order without overlapping. */
static void
assert_spans_ordered(json_t *arr, size_t len, const char *what)
{
    size_t prev_end = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        size_t e, s = span_at(arr, i, &e);
        if (!(s < e && e <= len && s >= prev_end))
            fail_msg("%s %zu is [%zu, %zu) after one ending at %zu, text of %zu bytes", what, i, s,
                     e, prev_end, len);
        prev_end = e;
    }
}

/* Returns 1 when `off` is inside a UTF-8 sequence of `text` (at a
 * continuation byte); the end of the text is a boundary. */
static int
inside_char(const char *text, size_t len, size_t off)
{
    return off < len && ((unsigned char)text[off] & 0xC0) == 0x80;
}

/* Returns 1 when a combining diacritical mark (U+0300..U+036F) starts at `off`. */
static int
combining_mark_at(const char *text, size_t len, size_t off)
{
    const unsigned char *p = (const unsigned char *)text + off;
    return off + 1 < len && ((p[0] == 0xCC && p[1] >= 0x80) || (p[0] == 0xCD && p[1] <= 0xAF));
}

/* What every result of the split stage satisfies, whatever the input:
 * tokens and sentences in order inside the text as sent, every token inside
 * one sentence, and no error record from the split stage. With `utf8` the
 * text is valid UTF-8, and no span starts or ends inside a character or
 * before a combining mark. */
static void
assert_sane(json_t *r, const char *text, size_t len, int utf8)
{
    assert_non_null(r);
    /* The default pipeline, or ingest and split alone. */
    assert_int_equal(strncmp(nlpd_e2e_trace(r), "ingest split", 12), 0);
    json_t *toks = json_object_get(r, "tokens");
    json_t *sents = json_object_get(r, "sentences");
    assert_spans_ordered(toks, len, "token");
    assert_spans_ordered(sents, len, "sentence");
    size_t si = 0;
    for (size_t i = 0; i < json_array_size(toks); i++) {
        size_t te, ts = span_at(toks, i, &te);
        size_t se = 0, ss = 0;
        while (si < json_array_size(sents) && (ss = span_at(sents, si, &se), se <= ts))
            si++;
        if (si == json_array_size(sents) || ts < ss || te > se)
            fail_msg("token %zu [%zu, %zu) is in no sentence", i, ts, te);
    }
    json_t *arrs[2] = {toks, sents};
    for (int k = 0; utf8 && k < 2; k++) {
        for (size_t i = 0; i < json_array_size(arrs[k]); i++) {
            size_t e, s = span_at(arrs[k], i, &e);
            if (inside_char(text, len, s) || inside_char(text, len, e))
                fail_msg("span [%zu, %zu) cuts a UTF-8 sequence", s, e);
            if (combining_mark_at(text, len, s) || combining_mark_at(text, len, e))
                fail_msg("span [%zu, %zu) parts a combining mark from its base", s, e);
        }
    }
    size_t i;
    json_t *er;
    json_array_foreach(json_object_get(r, "errors"), i, er)
    {
        const char *stage = json_string_value(json_object_get(er, "stage"));
        if (stage != NULL && strcmp(stage, "split") == 0)
            fail_msg("the split stage reported %s: %s",
                     json_string_value(json_object_get(er, "code")),
                     json_string_value(json_object_get(er, "message")));
    }
}

/* The split stage's STATUS entry: no restart, no crash, the same worker. */
static void
assert_split_worker_unharmed(nlpd_e2e *e, int pid)
{
    json_t *s = nlpd_e2e_status(e);
    assert_non_null(s);
    json_t *st = nlpd_e2e_stage(s, "split");
    assert_non_null(st);
    assert_int_equal(json_integer_value(json_object_get(st, "restarts")), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "crashes")), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "timeouts")), 0);
    json_decref(s);
    assert_int_equal(nlpd_e2e_worker_pid(e, "split", 0), pid);
}

/* Finds the token that starts where `word` first occurs in `text` after
 * `from`; asserts its length (`n` bytes) and, unless NULL, its shape. */
static void
assert_token(json_t *toks, const char *text, size_t len, const char *from, const char *word,
             size_t n, const char *shape)
{
    const char *base = strstr(text, from);
    assert_non_null(base);
    const char *at = memmem(base, len - (size_t)(base - text), word, strlen(word));
    assert_non_null(at);
    size_t off = (size_t)(at - text);
    for (size_t i = 0; i < json_array_size(toks); i++) {
        size_t e, s = span_at(toks, i, &e);
        if (s != off)
            continue;
        const char *sh = json_string_value(json_array_get(json_array_get(toks, i), 2));
        if (e - s != n || (shape != NULL && strcmp(sh, shape) != 0))
            fail_msg("token \"%.*s\" (%s) at %zu: want \"%.*s\" (%s)", (int)(e - s), text + s, sh,
                     s, (int)n, at, shape != NULL ? shape : "any shape");
        return;
    }
    fail_msg("no token starts at \"%s\" (offset %zu)", word, off);
}

/* --- The feed article -------------------------------------------------------- */

/* tests/fixtures/ingest/feed-article.txt, sentence by sentence: the headline,
 * the standfirst's three sentences, the headline again (after the `|`
 * separator line, which is layout), the subheading, the body's paragraphs
 * (one sentence each); not the source line. */
static const char *const article_sentences[] = {
    "Why Is Port Elwick\xE2\x80\x99s Lighthouse Going Dark After 140 Years?",
    "The lighthouse at Port Elwick, a fishing town on the northern coast, will switch off its "
    "lamp at the end of the season.",
    "The harbour board says satellite navigation has made the beam redundant, but residents argue "
    "the tower is part of the town's identity.",
    "A campaign to keep the light burning has gathered more than two thousand signatures.",
    "Why Is Port Elwick\xE2\x80\x99s Lighthouse Going Dark After 140 Years?",
    "A Beacon\xE2\x80\x99s Long Goodbye",
    "Port Elwick: On Monday evening, the harbour board voted five to two to decommission the lamp, "
    "ending a nightly routine that began when the tower was lit for the first time in the spring "
    "of 1885.",
    "Board chair Miriam Achterberg said the decision was \xE2\x80\x9Cpainful but "
    "unavoidable\xE2\x80\x9D, pointing to repair bills that have tripled over the past decade "
    "and to a shrinking number of vessels that rely on the light.",
    "Keeper Tomas Rudd, who has climbed the 117 steps of the tower every evening for twenty-two "
    "years, said he would stay on as caretaker until the building\xE2\x80\x99s future is settled.",
    "The campaign group Friends of the Elwick Light plans to ask the regional council to list the "
    "tower as a protected monument, which would oblige the board to maintain it \xE2\x80\x94 "
    "lamp or no lamp.",
};

#define N_ARTICLE_SENTENCES (sizeof(article_sentences) / sizeof(article_sentences[0]))

static void
test_split_default_pipeline_finds_every_sentence_of_a_feed_article(void **state)
{
    (void)state;
    nlpd_e2e e;
    nlpd_e2e_start(&e, NULL); /* the built-in default pipeline */
    size_t len;
    char *article = nlpd_test_fixture("ingest/feed-article.txt", &len);
    json_t *r = nlpd_e2e_annotate_bytes(&e, article, len, NULL);
    assert_sane(r, article, len, 1);
    assert_string_equal(json_string_value(json_object_get(r, "format")), "feed");
    assert_null(json_object_get(r, "errors"));
    /* Spans index the text as sent: the fixture has no-break spaces around
     * its `|` and runs of blank lines that normalization changes, so the
     * offsets after the separator only match through the offset map. */
    assert_sentences(r, article, len, article_sentences, N_ARTICLE_SENTENCES);
    /* The source line is layout: no token, no sentence. */
    const char *src = strstr(article, "Harbour Wire");
    assert_non_null(src);
    json_t *toks = json_object_get(r, "tokens");
    size_t te;
    span_at(toks, json_array_size(toks) - 1, &te);
    assert_true(te <= (size_t)(src - article));
    json_decref(r);
    free(article);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_split_default_pipeline_tokenizes_a_feed_article_as_a_reader_would(void **state)
{
    (void)state;
    nlpd_e2e e;
    nlpd_e2e_start(&e, NULL);
    size_t len;
    char *a = nlpd_test_fixture("ingest/feed-article.txt", &len);
    json_t *r = nlpd_e2e_annotate_bytes(&e, a, len, NULL);
    assert_sane(r, a, len, 1);
    json_t *toks = json_object_get(r, "tokens");
    json_t *sents = json_object_get(r, "sentences");

    /* Every character of every sentence but whitespace is in a token. */
    unsigned char *covered = calloc(len, 1);
    for (size_t i = 0; i < json_array_size(toks); i++) {
        size_t e2, s = span_at(toks, i, &e2);
        memset(covered + s, 1, e2 - s);
    }
    for (size_t i = 0; i < json_array_size(sents); i++) {
        size_t e2, s = span_at(sents, i, &e2);
        for (size_t k = s; k < e2; k++) {
            if (!covered[k] && !is_space((unsigned char)a[k]))
                fail_msg("byte %zu ('%c') of sentence %zu is in no token", k, a[k], i);
        }
    }
    free(covered);

    /* Words, numbers, punctuation; a possessive clitic comes off its word;
     * a hyphenated number word stays whole. */
    assert_token(toks, a, len, "A Beacon", "Beacon", 6, "cap");
    assert_token(toks, a, len, "A Beacon", "\xE2\x80\x99s", 4, NULL);
    assert_token(toks, a, len, "A Beacon", "Goodbye", 7, "cap");
    assert_token(toks, a, len, "Port Elwick: On", "Port", 4, "cap");
    assert_token(toks, a, len, "Port Elwick: On", ":", 1, "punct");
    assert_token(toks, a, len, "Port Elwick: On", "decommission", 12, "lower");
    assert_token(toks, a, len, "Port Elwick: On", "1885", 4, "number");
    assert_token(toks, a, len, "Port Elwick: On", ".", 1, "punct");
    assert_token(toks, a, len, "Board chair", "\xE2\x80\x9C", 3, "punct");
    assert_token(toks, a, len, "Board chair", "painful", 7, "lower");
    assert_token(toks, a, len, "Board chair", "unavoidable", 11, "lower");
    assert_token(toks, a, len, "Board chair", "\xE2\x80\x9D", 3, "punct");
    assert_token(toks, a, len, "Board chair", ",", 1, "punct");
    assert_token(toks, a, len, "Keeper Tomas", "117", 3, "number");
    assert_token(toks, a, len, "Keeper Tomas", "twenty-two", 10, "lower");
    assert_token(toks, a, len, "Keeper Tomas", "building", 8, "lower");
    assert_token(toks, a, len, "Keeper Tomas", "\xE2\x80\x99s", 4, NULL);
    assert_token(toks, a, len, "harbour board says", "town", 4, "lower");
    assert_token(toks, a, len, "harbour board says", "'s", 2, NULL);
    assert_token(toks, a, len, "maintain it", "\xE2\x80\x94", 3, NULL);

    /* The worker's version names its model. */
    json_t *s = nlpd_e2e_status(&e);
    json_t *w = json_array_get(json_object_get(nlpd_e2e_stage(s, "split"), "workers"), 0);
    const char *version = json_string_value(json_object_get(w, "version"));
    assert_non_null(version);
    assert_non_null(strstr(version, "model="));
    json_decref(s);
    json_decref(r);
    free(a);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* --- Bad input -------------------------------------------------------------- */

static void
test_split_answers_empty_blank_and_punctuation_only_text(void **state)
{
    (void)state;
    nlpd_e2e e;
    nlpd_e2e_start(&e, NULL);
    int pid = nlpd_e2e_worker_pid(&e, "split", 0);
    assert_true(pid > 0);

    /* Empty and whitespace only: no tokens, no sentences, no error from
     * split (ingest says "empty"). */
    static const char *const blank[] = {"", " ", "\n\n\n", " \t \r\n \xC2\xA0 \n\n  \t"};
    for (size_t i = 0; i < sizeof(blank) / sizeof(blank[0]); i++) {
        json_t *r = nlpd_e2e_annotate_bytes(&e, blank[i], strlen(blank[i]), NULL);
        assert_sane(r, blank[i], strlen(blank[i]), 1);
        assert_int_equal(json_array_size(json_object_get(r, "tokens")), 0);
        assert_int_equal(json_array_size(json_object_get(r, "sentences")), 0);
        json_decref(r);
    }

    /* Punctuation only: tokens, and spans that hold. */
    static const char *const punct[] = {
        ".",
        "?!... --- !!! ??? ,,, ;;; (( )) [ ] { } \xE2\x80\x9C\xE2\x80\x9D \xE2\x80\xA6 ...",
        "...\n\n!!!\n\n???",
        "\xE2\x80\x94\xE2\x80\x94\xE2\x80\x94 . . . . . . . . . . . . . . . . . . . . . . .",
    };
    for (size_t i = 0; i < sizeof(punct) / sizeof(punct[0]); i++) {
        size_t n = strlen(punct[i]);
        json_t *r = nlpd_e2e_annotate_bytes(&e, punct[i], n, NULL);
        assert_sane(r, punct[i], n, 1);
        assert_true(json_array_size(json_object_get(r, "tokens")) > 0);
        json_decref(r);
    }
    assert_split_worker_unharmed(&e, pid);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* Words of 2 to 9 lower-case letters and single spaces: no punctuation,
 * no line break. Deterministic (a fixed linear congruential sequence). */
static char *
run_on_paragraph(size_t size)
{
    char *t = malloc(size);
    uint32_t x = 12345;
    size_t i = 0;
    while (i < size) {
        x = x * 1103515245u + 12345u;
        size_t w = 2 + (x >> 16) % 8;
        for (size_t k = 0; k < w && i < size; k++) {
            x = x * 1103515245u + 12345u;
            t[i++] = (char)('a' + (x >> 16) % 26);
        }
        if (i < size - 1)
            t[i++] = ' ';
    }
    t[size - 1] = 'z'; /* no trailing space */
    return t;
}

static void
test_split_cuts_and_flags_a_10MB_paragraph_without_punctuation(void **state)
{
    (void)state;
    size_t size = 10u * 1024 * 1024;
    char *text = run_on_paragraph(size);
    nlpd_submission s;
    memset(&s, 0, sizeof(s));
    s.text = text;
    s.text_len = size;
    uint8_t *pb;
    size_t pb_len;
    assert_int_equal(nlpd_submission_encode(&s, &pb, &pb_len), 0);

    /* Ingest and split alone: this is about the split stage, and under the
     * sanitizers the later stages of the default pipeline could take longer
     * than the per-document time limit on 2 million tokens. */
    nlpd_e2e e;
    nlpd_e2e_start_stage(&e, "ingest split", "split", "nlpd-split", "", 1);
    int pid = nlpd_e2e_worker_pid(&e, "split", 0);
    nlpd_reply ack;
    size_t len;
    int err;
    char *res = nlpd_e2e_submit(&e, "pb wait", pb, pb_len, &ack, &len, &err, 120000);
    assert_int_equal(ack.kind, NLPD_REPLY_ACCEPTED);
    assert_non_null(res);
    Nlpd__V1__Document *d = nlpd__v1__document__unpack(NULL, len, (uint8_t *)res);
    assert_non_null(d);
    assert_int_equal(d->n_errors, 0);
    assert_int_equal(d->n_trace, 2);
    assert_string_equal(d->trace[1]->stage, "split");
    /* The text needs no normalization: spans index it directly. */
    assert_int_equal(d->text.len, size);
    assert_non_null(d->tokens);
    assert_non_null(d->sentences);
    const Nlpd__V1__Sentences *sn = d->sentences;
    const Nlpd__V1__Tokens *tk = d->tokens;
    size_t ns = sn->n_start;
    assert_int_equal(sn->n_end, ns);
    assert_int_equal(sn->n_flags, ns);
    assert_int_equal(tk->n_start, tk->n_end);
    /* No sentence over the default limits, so thousands of them. */
    assert_true(ns >= size / NLPD_SPLIT_MAX_SENTENCE_BYTES);
    size_t ti = 0, flagged = 0;
    for (size_t i = 0; i < ns; i++) {
        assert_true(sn->start[i] < sn->end[i] && sn->end[i] <= size);
        assert_true(i == 0 || sn->start[i] >= sn->end[i - 1]);
        assert_true(sn->end[i] - sn->start[i] <= NLPD_SPLIT_MAX_SENTENCE_BYTES);
        size_t n_tok = 0;
        while (ti < tk->n_start && tk->end[ti] <= sn->end[i]) {
            assert_true(tk->start[ti] >= sn->start[i]); /* every token in a sentence */
            n_tok++;
            ti++;
        }
        assert_true(n_tok >= 1 && n_tok <= NLPD_SPLIT_MAX_SENTENCE_TOKENS);
        flagged += (sn->flags[i] & NLPD_SENTENCE_TRUNCATED) != 0;
    }
    assert_int_equal(ti, tk->n_start);
    /* Every cut is flagged (the last piece ends at the paragraph's end). */
    assert_true(flagged >= ns - 1);
    /* Words are tokens: nothing is lost at the cuts. */
    size_t words = 1;
    for (size_t i = 0; i < size; i++)
        words += text[i] == ' ';
    assert_int_equal(tk->n_start, words);
    nlpd__v1__document__free_unpacked(d, NULL);
    free(res);

    /* A 1 MB run with no space at all gets a result too. */
    memset(text, 'x', 1u << 20);
    json_t *r = nlpd_e2e_annotate_bytes(&e, text, 1u << 20, NULL);
    assert_sane(r, text, 1u << 20, 1);
    json_decref(r);

    assert_split_worker_unharmed(&e, pid);
    nlpd_free(pb);
    free(text);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_split_reads_invalid_utf8_without_cutting_a_replacement(void **state)
{
    (void)state;
    nlpd_e2e e;
    nlpd_e2e_start(&e, NULL);
    int pid = nlpd_e2e_worker_pid(&e, "split", 0);
    /* Stray bytes become U+FFFD in the normalized text (3 bytes for 1):
     * spans come back in the bytes as sent. */
    static const char bad[] = "Caf\xE9 au lait. Next \xFF\xFE sentence here. The \xC3\x28 end.";
    static const char *const want[] = {"Caf\xE9 au lait.", "Next \xFF\xFE sentence here.",
                                       "The \xC3\x28 end."};
    json_t *r = nlpd_e2e_annotate_bytes(&e, bad, sizeof(bad) - 1, NULL);
    assert_sane(r, bad, sizeof(bad) - 1, 0);
    assert_true(json_is_true(json_object_get(r, "text_lossy")));
    assert_sentences(r, bad, sizeof(bad) - 1, want, 3);
    json_decref(r);

    /* Runs of U+FFFD, as sent and as made from bytes. */
    char run[3000 + 600];
    size_t n = 0;
    for (int i = 0; i < 1000; i++, n += 3)
        memcpy(run + n, "\xEF\xBF\xBD", 3);
    memset(run + n, 0xFF, 600);
    n += 600;
    r = nlpd_e2e_annotate_bytes(&e, run, n, NULL);
    assert_sane(r, run, n, 0);
    json_decref(r);
    assert_split_worker_unharmed(&e, pid);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_split_keeps_emoji_and_combining_marks_whole(void **state)
{
    (void)state;
    nlpd_e2e e;
    nlpd_e2e_start(&e, NULL);
    int pid = nlpd_e2e_worker_pid(&e, "split", 0);
    /* A thumbs-up with a skin tone, a family joined by ZWJ, an "e" with a
     * combining acute (NFC makes it one character: offsets shift), and a
     * word struck through with combining overlays that NFC keeps. */
    static const char text[] =
        "Emoji \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD and the family "
        "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 came home. "
        "The cafe\xCC\x81 is open. "
        "Z\xCC\xB6o\xCC\xB6r\xCC\xB6k text ends here.";
    static const char *const want[] = {
        ("Emoji \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD and the family "
         "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 came home."),
        "The cafe\xCC\x81 is open.",
        "Z\xCC\xB6o\xCC\xB6r\xCC\xB6k text ends here.",
    };
    size_t len = sizeof(text) - 1;
    json_t *r = nlpd_e2e_annotate_bytes(&e, text, len, NULL);
    assert_sane(r, text, len, 1);
    assert_sentences(r, text, len, want, 3);
    json_t *toks = json_object_get(r, "tokens");
    /* The accented word ends after its combining mark; the emoji with its
     * skin tone is one token. */
    assert_token(toks, text, len, "The cafe", "cafe\xCC\x81", 6, "lower");
    assert_token(toks, text, len, "Emoji", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", 8, "emoji");
    json_decref(r);

    /* Mixed scripts in one text. */
    static const char mixed[] = "\xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0 and "
                                "\xE6\x9D\xB1\xE4\xBA\xAC met in \xD8\xA7\xD9\x84\xD9\x82\xD8\xA7"
                                "\xD9\x87\xD8\xB1\xD8\xA9. Then they left.";
    r = nlpd_e2e_annotate_bytes(&e, mixed, sizeof(mixed) - 1, NULL);
    assert_sane(r, mixed, sizeof(mixed) - 1, 1);
    assert_int_equal(json_array_size(json_object_get(r, "sentences")), 2);
    json_decref(r);
    assert_split_worker_unharmed(&e, pid);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* --- Options ------------------------------------------------------------------ */

static void
test_split_worker_cuts_sentences_at_the_configured_limit(void **state)
{
    (void)state;
    nlpd_e2e e;
    nlpd_e2e_start_stage(&e, "ingest split", "split", "nlpd-split", "--max-sentence-tokens 5",
                         1);
    static const char text[] = "one two three four five six seven eight nine ten eleven twelve";
    json_t *r = nlpd_e2e_annotate_bytes(&e, text, sizeof(text) - 1, NULL);
    assert_sane(r, text, sizeof(text) - 1, 1);
    json_t *sents = json_object_get(r, "sentences");
    assert_int_equal(json_array_size(json_object_get(r, "tokens")), 12);
    assert_true(json_array_size(sents) >= 3);
    json_decref(r);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_split_worker_refuses_bad_options_with_a_clear_message(void **state)
{
    (void)state;

    static const struct {
        const char *args;
        const char *message;
    } cases[] = {
        {"--max-sentence-tokens 0", "--max-sentence-tokens must be 1.."},
        {"--max-sentence-bytes lots", "--max-sentence-bytes must be 1.."},
        {"--max-sentence-bytes -4", "--max-sentence-bytes must be 1.."},
        {"--no-such-option", "unknown argument --no-such-option"},
        {"--model /nonexistent/split-model.txt",
         "cannot load the model /nonexistent/split-model.txt"},
        {"--abbreviations /nonexistent/abbrev.txt",
         "cannot load --abbreviations /nonexistent/abbrev.txt"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        nlpd_e2e_expect_bad_option("ingest split", "split", "nlpd-split", cases[i].args,
                                   cases[i].message);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_split_default_pipeline_finds_every_sentence_of_a_feed_article, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(
            test_split_default_pipeline_tokenizes_a_feed_article_as_a_reader_would,
            nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_split_answers_empty_blank_and_punctuation_only_text,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_split_cuts_and_flags_a_10MB_paragraph_without_punctuation,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_split_reads_invalid_utf8_without_cutting_a_replacement,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_split_keeps_emoji_and_combining_marks_whole,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_split_worker_cuts_sentences_at_the_configured_limit,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_split_worker_refuses_bad_options_with_a_clear_message,
                                  nlpd_e2e_teardown),
    };
    return cmocka_run_group_tests_name("split_e2e", tests, NULL, NULL);
}
