/* tests/fuzz/quotes_fuzz.c — libFuzzer target for the example custom
 * stage's library (stages/example-quotes/quotes.h). Build and run it with
 * clang (tests/fuzz/README.md has more):
 *
 *     cmake --build build/fuzz --target quotes_fuzz
 *     build/fuzz/bin/quotes_fuzz -max_total_time=600 -timeout=10 \
 *         build/fuzz/corpus-quotes tests/fuzz/corpus/quotes
 *
 * The input. When its first byte is 0xF8-0xFF (never in UTF-8) its bits
 * 0-2 ask for: bit 0 min_words from the next byte (% 6), bit 1 no
 * speakers, bit 2 a failing allocator at call 1 + the next byte (the run
 * must fail with NLPD_ENOMEM or succeed, and then recover); the rest is the
 * text. Any other input is all text, default options.
 *
 * What is checked: quotations come in text order and do not overlap (only
 * the outermost is reported); each has open <= start <= end <= close inside
 * the text, an opening mark at open and its matching closing mark ending at
 * close (“ ”, ‘ ’, « », " "), no paragraph break (a blank line) between
 * them, a passage that neither starts nor ends with white space and holds
 * a word; a speaker, when found, lies inside the text outside the marks and
 * starts with no lower-case ASCII letter, and there is none without
 * speakers; a non-zero return of the callback stops the search and is
 * returned; the same run again, and on a fresh finder, gives the same
 * quotations.
 */
#define FUZZ_NAME "quotes_fuzz"
#include "fuzz_common.h"

#include "nlpd/error.h"
#include "quotes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_Q 4096

typedef struct collect {
    nlpd_quote q[MAX_Q];
    size_t n;
    size_t stop_after; /* return 7 from the callback on this quotation; 0: never */
} collect;

static int
emit(void *arg, const nlpd_quote *q)
{
    collect *c = arg;
    if (c->n < MAX_Q)
        c->q[c->n] = *q;
    c->n++;
    return c->stop_after != 0 && c->n == c->stop_after ? 7 : 0;
}

static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The closing mark that matches the opening mark at text[open], or NULL. */
static const char *
closing_for(const char *text, size_t len, size_t open)
{
    static const char *const pairs[][2] = {{"\xE2\x80\x9C", "\xE2\x80\x9D"},
                                           {"\xE2\x80\x98", "\xE2\x80\x99"},
                                           {"\xC2\xAB", "\xC2\xBB"},
                                           {"\"", "\""}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        size_t n = strlen(pairs[i][0]);
        if (open + n <= len && memcmp(text + open, pairs[i][0], n) == 0)
            return pairs[i][1];
    }
    return NULL;
}

static void
check(const char *text, size_t len, const collect *c, int speakers)
{
    for (size_t i = 0; i < c->n && i < MAX_Q; i++) {
        const nlpd_quote *q = &c->q[i];
        CHECK(q->open <= q->start && q->start <= q->end && q->end <= q->close && q->close <= len,
              "quotation %zu: open %zu start %zu end %zu close %zu, text %zu bytes", i, q->open,
              q->start, q->end, q->close, len);
        CHECK(i == 0 || q->open >= c->q[i - 1].close, "quotation %zu overlaps the one before", i);
        const char *close = closing_for(text, len, q->open);
        CHECK(close != NULL, "quotation %zu: no opening mark at %zu", i, q->open);
        size_t cn = strlen(close);
        CHECK(q->close >= q->open + cn && memcmp(text + q->close - cn, close, cn) == 0,
              "quotation %zu: no matching closing mark before %zu", i, q->close);
        for (size_t p = q->open; p + 1 < q->close; p++) {
            if (text[p] != '\n')
                continue;
            size_t r = p + 1;
            while (r < q->close && (text[r] == ' ' || text[r] == '\t' || text[r] == '\r'))
                r++;
            CHECK(r >= q->close || text[r] != '\n', "quotation %zu spans a paragraph break at %zu",
                  i, p);
        }
        CHECK(q->end > q->start, "quotation %zu: an empty passage", i);
        CHECK(!is_space((unsigned char)text[q->start]) && !is_space((unsigned char)text[q->end - 1]),
              "quotation %zu: the passage [%zu, %zu) has white space at an edge", i, q->start,
              q->end);
        CHECK(q->speaker_start <= q->speaker_end && q->speaker_end <= len,
              "quotation %zu: speaker [%zu, %zu)", i, q->speaker_start, q->speaker_end);
        if (q->speaker_end > q->speaker_start) {
            CHECK(speakers, "quotation %zu: a speaker without speakers", i);
            CHECK(q->speaker_end <= q->open || q->speaker_start >= q->close,
                  "quotation %zu: the speaker [%zu, %zu) is inside the marks", i, q->speaker_start,
                  q->speaker_end);
            unsigned char f = (unsigned char)text[q->speaker_start];
            CHECK(!(f >= 'a' && f <= 'z') && !is_space(f),
                  "quotation %zu: the speaker starts with '%c'", i, f);
        }
    }
}

static void
same(const collect *a, const collect *b, const char *what)
{
    CHECK(a->n == b->n, "%s found %zu quotations, not %zu", what, b->n, a->n);
    for (size_t i = 0; i < a->n && i < MAX_Q; i++)
        CHECK(memcmp(&a->q[i], &b->q[i], sizeof(a->q[i])) == 0, "%s: quotation %zu differs",
              what, i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_alloc_setup();
    nlpd_quotes_opts opts = NLPD_QUOTES_OPTS_INIT;
    long fail_at = 0;
    if (size > 0 && data[0] >= 0xF8) {
        uint8_t ctl = data[0];
        data++, size--;
        if ((ctl & 1) && size > 0) {
            opts.min_words = data[0] % 6u;
            data++, size--;
        }
        if (ctl & 2)
            opts.speakers = 0;
        if ((ctl & 4) && size > 0) {
            fail_at = 1 + data[0];
            data++, size--;
        }
    }
    char *text = malloc(size ? size : 1);
    if (text == NULL)
        abort();
    if (size)
        memcpy(text, data, size);

    static collect a, b;
    nlpd_quotes *qf = NULL;
    if (nlpd_quotes_new(&qf, &opts) != 0)
        abort();
    a.n = 0, a.stop_after = 0;
    fuzz_fail_at(fail_at);
    int rc = nlpd_quotes_find(qf, text, size, emit, &a);
    fuzz_fail_at(0);
    if (rc == NLPD_ENOMEM && fail_at > 0) {
        a.n = 0;
        rc = nlpd_quotes_find(qf, text, size, emit, &a);
    }
    CHECK(rc == 0, "nlpd_quotes_find: %s", nlpd_err_name(rc));
    check(text, size, &a, opts.speakers);

    b.n = 0, b.stop_after = 0;
    CHECK(nlpd_quotes_find(qf, text, size, emit, &b) == 0, "the second run failed");
    same(&a, &b, "the same run again");
    nlpd_quotes *fresh = NULL;
    if (nlpd_quotes_new(&fresh, &opts) != 0)
        abort();
    b.n = 0;
    CHECK(nlpd_quotes_find(fresh, text, size, emit, &b) == 0, "the fresh run failed");
    same(&a, &b, "a fresh finder");
    if (a.n > 0) {
        /* Stopping at the first quotation returns the callback's value. */
        b.n = 0, b.stop_after = 1;
        rc = nlpd_quotes_find(fresh, text, size, emit, &b);
        CHECK(rc == 7 && b.n == 1, "stopping returned %d after %zu quotations", rc, b.n);
    }
    nlpd_quotes_free(&fresh);
    nlpd_quotes_free(&qf);
    free(text);
    return 0;
}
