/* tests/fuzz/summarize_fuzz.c — libFuzzer target for the summarize library
 * (include/nlpd/summarize.h) on arbitrary text, sentences, regions,
 * entities and budgets. Build and run it with clang (tests/fuzz/README.md
 * has more):
 *
 *     cmake --build build/fuzz --target summarize_fuzz
 *     build/fuzz/bin/summarize_fuzz -max_total_time=600 -timeout=10 \
 *         build/fuzz/corpus-summarize tests/fuzz/corpus/summarize
 *
 * The input. When its first byte is 0xF8-0xFF (never in UTF-8) a flags
 * byte follows, then a header whose parts the flags ask for, in this order:
 *
 *   bits 0-1  the budget, from the next byte b: 0 none (the default),
 *             1 sentences = b (0 is "not set"), 2 words = 4 b, 3 a ratio
 *             b / 200 (above 1 when b > 200: refused)
 *   bit 2     regions: 1 byte (1 + n % 6 regions), then per region 3 bytes
 *             (kind % 7, two cut points scaled to the text), sorted into
 *             order unless bit 5 is set
 *   bit 3     entities: 1 byte (n % 16), then per entity 2 cut points
 *   bit 4     a title and a lede: 2 bytes, lengths scaled to the text
 *             (taken from its start and its end)
 *   bit 5     raw spans: sentences from the next byte (n % 32) and n pairs
 *             of cut points, and regions, as given, possibly out of order,
 *             overlapping or past the end: the run must fail with
 *             NLPD_EINVAL exactly when they are not valid
 *   bit 6     a second budget field set too (refused: one budget only) when
 *             the budget is not none; a failing allocator (at call 1 + the
 *             next byte) when it is none
 *
 * and the rest is the text; otherwise everything is text with the default
 * budget. Sentences (unless raw) end after '.', '!', '?' or a line break.
 *
 * What is checked: the run fails with NLPD_EINVAL exactly when the input or
 * budget is invalid (the documented rules), with NLPD_ENOMEM only under
 * the failing allocator (and then recovers); on success the selected
 * indices are in range and in strictly increasing order, no more than a
 * sentence budget (3 by default) and within a word budget (the words chosen
 * before the last sentence are fewer than the budget), no two selected
 * sentences are the same bytes (SUMMARIZE_FUZZ_SKIP=dup turns that off),
 * there is one finite score per sentence, every feature is finite and in [0, 1], and the same run
 * again and on a fresh summarizer gives the same result.
 */
#define FUZZ_NAME "summarize_fuzz"
#include "fuzz_common.h"

#include "nlpd/error.h"
#include "nlpd/summarize.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SENT 4096
#define MAX_REG 8
#define MAX_ENT 16

static nlpd_summarize_model *model;

typedef struct header {
    const uint8_t *p;
    size_t n;
} header;

static uint8_t
next(header *h)
{
    if (h->n == 0)
        return 0;
    h->n--;
    return *h->p++;
}

static uint32_t
scale(uint8_t b, size_t len, size_t extra)
{
    return (uint32_t)((size_t)b * (len + extra) / 255);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t
count_words(const char *s, size_t n)
{
    uint32_t w = 0;
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int blank = c == ' ' || (c >= 9 && c <= 13);
        if (!blank && !in)
            w++;
        in = !blank;
    }
    return w;
}

typedef struct result {
    uint32_t sel[MAX_SENT];
    size_t n_sel;
    float score[MAX_SENT];
    size_t n_score;
} result;

static void
take(const nlpd_summarizer *sz, result *r)
{
    const uint32_t *sel;
    const float *sc;
    r->n_sel = nlpd_summarize_selected(sz, &sel);
    r->n_score = nlpd_summarize_scores(sz, &sc);
    CHECK(r->n_sel <= MAX_SENT && r->n_score <= MAX_SENT, "%zu selected, %zu scores", r->n_sel,
          r->n_score);
    if (r->n_sel)
        memcpy(r->sel, sel, r->n_sel * sizeof(*sel));
    if (r->n_score)
        memcpy(r->score, sc, r->n_score * sizeof(*sc));
}

static void
same(const result *a, const result *b, const char *what)
{
    CHECK(a->n_sel == b->n_sel && memcmp(a->sel, b->sel, a->n_sel * sizeof(a->sel[0])) == 0,
          "%s selected other sentences", what);
    CHECK(a->n_score == b->n_score &&
              memcmp(a->score, b->score, a->n_score * sizeof(a->score[0])) == 0,
          "%s gave other scores", what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_alloc_setup();
    if (model == NULL && nlpd_summarize_model_load_builtin(&model) != 0)
        abort();
    static uint32_t starts[MAX_SENT], ends[MAX_SENT];
    nlpd_region regions[MAX_REG];
    nlpd_span ents[MAX_ENT];
    size_t n_reg = 0, n_ent = 0, n_sent = 0;
    nlpd_summarize_budget budget = {0, 0, 0.0};
    int has_budget = 0, raw = 0, titles = 0;
    long fail_at = 0;
    uint8_t reg_b[MAX_REG][3], ent_b[MAX_ENT][2], raw_b[32][2], tl_b[2] = {0, 0};
    size_t n_raw = 0;
    header h = {NULL, 0};
    if (size >= 2 && data[0] >= 0xF8) {
        uint8_t ctl = data[1];
        h = (header){data + 2, size - 2};
        unsigned kind = ctl & 3u;
        if (kind != 0) {
            uint8_t b = next(&h);
            has_budget = 1;
            if (kind == 1)
                budget.sentences = b;
            else if (kind == 2)
                budget.words = 4u * b;
            else
                budget.ratio = b / 200.0;
        }
        raw = (ctl & 32) != 0;
        if (ctl & 4) {
            n_reg = 1 + next(&h) % 6u;
            for (size_t i = 0; i < n_reg; i++)
                for (int k = 0; k < 3; k++)
                    reg_b[i][k] = next(&h);
        }
        if (ctl & 8) {
            n_ent = next(&h) % MAX_ENT;
            for (size_t i = 0; i < n_ent; i++)
                ent_b[i][0] = next(&h), ent_b[i][1] = next(&h);
        }
        if (ctl & 16) {
            titles = 1;
            tl_b[0] = next(&h), tl_b[1] = next(&h);
        }
        if (raw) {
            n_raw = next(&h) % 32u;
            for (size_t i = 0; i < n_raw; i++)
                raw_b[i][0] = next(&h), raw_b[i][1] = next(&h);
        }
        if (ctl & 64) {
            if (kind == 1)
                budget.words = 7;
            else if (kind != 0)
                budget.sentences = 2;
            else
                fail_at = 1 + next(&h);
        }
        data = h.p, size = h.n;
    }
    /* An exact copy, so that ASan sees a read past the end. */
    char *text = malloc(size ? size : 1);
    if (text == NULL)
        abort();
    if (size)
        memcpy(text, data, size);
    size_t len = size;

    /* Sentences: after '.', '!', '?' or '\n', or raw cut points. */
    int valid = 1;
    if (raw) {
        for (size_t i = 0; i < n_raw; i++) {
            starts[i] = scale(raw_b[i][0], len, 3);
            ends[i] = scale(raw_b[i][1], len, 3);
            if (starts[i] > ends[i] || ends[i] > len || (i > 0 && starts[i] < ends[i - 1]))
                valid = 0;
        }
        n_sent = n_raw;
    } else {
        size_t s = 0;
        for (size_t i = 0; i < len && n_sent < MAX_SENT; i++) {
            char c = text[i];
            if (c == '.' || c == '!' || c == '?' || c == '\n' || i + 1 == len) {
                starts[n_sent] = (uint32_t)s;
                ends[n_sent] = (uint32_t)(i + 1);
                n_sent++;
                s = i + 1;
            }
        }
    }
    for (size_t i = 0; i < n_reg; i++) {
        regions[i].kind = reg_b[i][0] % 7u;
        regions[i].start = scale(reg_b[i][1], len, raw ? 3 : 0);
        regions[i].end = scale(reg_b[i][2], len, raw ? 3 : 0);
    }
    if (!raw && n_reg > 0) {
        /* Sorted cut points paired up: in order, not overlapping. */
        uint32_t cuts[2 * MAX_REG];
        for (size_t i = 0; i < n_reg; i++)
            cuts[2 * i] = regions[i].start, cuts[2 * i + 1] = regions[i].end;
        qsort(cuts, 2 * n_reg, sizeof(cuts[0]), cmp_u32);
        for (size_t i = 0; i < n_reg; i++)
            regions[i].start = cuts[2 * i], regions[i].end = cuts[2 * i + 1];
    }
    for (size_t i = 0; i < n_reg; i++) {
        if (regions[i].start > regions[i].end || regions[i].end > len ||
            (i > 0 && regions[i].start < regions[i - 1].end))
            valid = 0;
    }
    for (size_t i = 0; i < n_ent; i++)
        ents[i] = (nlpd_span){scale(ent_b[i][0], len, 2), scale(ent_b[i][1], len, 2)};
    int set = (budget.sentences != 0) + (budget.words != 0) + (budget.ratio != 0.0);
    if (set > 1 || budget.ratio > 1.0)
        valid = 0;

    nlpd_summarize_input in = {
        .text = text,
        .len = len,
        .starts = starts,
        .ends = ends,
        .n_sentences = n_sent,
        .regions = n_reg ? regions : NULL,
        .n_regions = n_reg,
        .entities = n_ent ? ents : NULL,
        .n_entities = n_ent,
    };
    if (titles) {
        in.title = text;
        in.title_len = scale(tl_b[0], len, 0);
        in.lede = text + len - scale(tl_b[1], len, 0);
        in.lede_len = scale(tl_b[1], len, 0);
    }
    const nlpd_summarize_budget *bp = has_budget ? &budget : NULL;

    nlpd_summarizer *sz = NULL;
    if (nlpd_summarizer_new(&sz, model, NULL) != 0)
        abort();
    fuzz_fail_at(fail_at);
    int rc = nlpd_summarize_run(sz, &in, bp);
    fuzz_fail_at(0);
    if (rc == NLPD_ENOMEM && fail_at > 0) {
        CHECK(nlpd_summarize_selected(sz, NULL) == 0, "results after NLPD_ENOMEM");
        rc = nlpd_summarize_run(sz, &in, bp);
    }
    CHECK(rc == (valid ? 0 : NLPD_EINVAL), "run gave %s on %s input", nlpd_err_name(rc),
          valid ? "valid" : "invalid");
    if (rc != 0) {
        CHECK(nlpd_summarize_selected(sz, NULL) == 0, "selected sentences after a failure");
        nlpd_summarizer_free(&sz);
        free(text);
        return 0;
    }

    static result r1, r2;
    take(sz, &r1);
    CHECK(r1.n_score == n_sent, "%zu scores for %zu sentences", r1.n_score, n_sent);
    for (size_t i = 0; i < n_sent; i++) {
        CHECK(isfinite(r1.score[i]), "score %zu is %g", i, (double)r1.score[i]);
        const float *f = nlpd_summarize_features(sz, i);
        CHECK(f != NULL, "no features of sentence %zu", i);
        for (int k = 0; k < NLPD_SUMMARIZE_N_FEATURES; k++)
            CHECK(isfinite(f[k]) && f[k] >= 0.0f && f[k] <= 1.0f, "feature %d of sentence %zu: %g",
                  k, i, (double)f[k]);
    }
    CHECK(nlpd_summarize_features(sz, n_sent) == NULL, "features past the last sentence");
    size_t k = budget.sentences ? budget.sentences
               : (budget.words || budget.ratio != 0.0) ? SIZE_MAX
                                                      : NLPD_SUMMARIZE_DEFAULT_SENTENCES;
    CHECK(r1.n_sel <= n_sent && r1.n_sel <= k, "%zu selected of %zu sentences, budget %zu",
          r1.n_sel, n_sent, k);
    uint32_t total = 0, longest = 0;
    for (size_t i = 0; i < r1.n_sel; i++) {
        uint32_t j = r1.sel[i];
        CHECK(j < n_sent, "selected %u of %zu sentences", j, n_sent);
        CHECK(i == 0 || j > r1.sel[i - 1], "selected out of order at %zu", i);
        uint32_t w = count_words(text + starts[j], ends[j] - starts[j]);
        total += w;
        longest = w > longest ? w : longest;
        if (!fuzz_skipped("SUMMARIZE_FUZZ_SKIP", "dup")) {
            for (size_t q = 0; q < i; q++) {
                uint32_t o = r1.sel[q];
                CHECK(ends[o] - starts[o] != ends[j] - starts[j] ||
                          memcmp(text + starts[o], text + starts[j], ends[j] - starts[j]) != 0,
                      "sentences %u and %u, the same bytes, both selected", o, j);
            }
        }
    }
    double words = budget.words      ? budget.words
                   : budget.ratio != 0.0 ? budget.ratio * count_words(text, len)
                                         : -1.0;
    if (words >= 0.0 && r1.n_sel > 0)
        CHECK((double)(total - longest) < words,
              "%u words selected (the longest sentence %u), budget %g words", total, longest,
              words);

    /* The same again, and on a fresh summarizer. */
    CHECK(nlpd_summarize_run(sz, &in, bp) == 0, "the second run failed");
    take(sz, &r2);
    same(&r1, &r2, "the same run again");
    nlpd_summarizer *fresh = NULL;
    if (nlpd_summarizer_new(&fresh, model, NULL) != 0)
        abort();
    CHECK(nlpd_summarize_run(fresh, &in, bp) == 0, "the fresh run failed");
    take(fresh, &r2);
    same(&r1, &r2, "a fresh summarizer");
    nlpd_summarizer_free(&fresh);
    nlpd_summarizer_free(&sz);
    free(text);
    return 0;
}
