/* tests/fuzz/tag_fuzz.c — libFuzzer target for the tag library.
 *
 * Splits the input with the built-in split model, tags it with the
 * built-in tag model, and aborts when a result breaks one of the library's
 * promises (include/nlpd/tag.h). Build and run it with clang
 * (tests/fuzz/README.md has more):
 *
 *     cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DNLPD_FUZZ=ON \
 *           -DCMAKE_BUILD_TYPE=RelWithDebInfo
 *     cmake --build build/fuzz --target tag_fuzz
 *     mkdir -p build/fuzz/corpus-tag
 *     build/fuzz/bin/tag_fuzz -max_total_time=600 -timeout=10 \
 *         build/fuzz/corpus-tag tests/fuzz/corpus/tag
 *
 * and replay a crash (or the seed corpus) with either binary:
 *
 *     build/fuzz/bin/tag_fuzz crash-<sha1>
 *     build/fuzz/bin/tag_fuzz_replay tests/fuzz/corpus/tag crash-<sha1>
 *
 * The input. When its first byte is 0xF8-0xFF (never in UTF-8) it is a
 * control byte: bit 0 asks for tokens and sentences made from the next
 * bytes instead of the splitter's (1 byte n, then n times 4 bytes: two
 * token cut points and two flags bytes, all scaled to the text): they may
 * be out of order, empty or outside the text, and the run must then fail
 * with NLPD_EINVAL and nothing else; bit 1 asks for the numbers option;
 * bit 2 for a failing allocator (at call 1 + the next byte): the run must
 * fail with NLPD_ENOMEM and then recover. The rest is the text. Any other
 * input is all text, default options.
 *
 * What is checked on every successful run: entities are in text order,
 * do not overlap, have a known label (numbers only when asked for), a
 * score in (0, 1], n_tokens >= 1, start and end equal to their first and
 * last token's, and lie inside one sentence; the same run twice, and a
 * fresh tagger, give the same result.
 */
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/split.h"
#include "nlpd/tag.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_OWN 255

#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "tag_fuzz: invariant broken at %s:%d: %s\n  ", __FILE__, __LINE__,   \
                    #cond);                                                                      \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fprintf(stderr, "\n");                                                               \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

/* The models are loaded once: loading is not what this target fuzzes. */
static nlpd_split_model *split_model;
static nlpd_tag_model *tag_model;

/* The failing allocator: calls left before failure (-1: never fails). */
static long alloc_left = -1;

static int
alloc_fails(void)
{
    if (alloc_left < 0)
        return 0;
    if (alloc_left == 0)
        return 1;
    alloc_left--;
    return 0;
}

static void *
f_malloc(size_t n)
{
    return alloc_fails() ? NULL : malloc(n);
}

static void *
f_realloc(void *p, size_t n)
{
    return alloc_fails() ? NULL : realloc(p, n);
}

static void *
f_calloc(size_t c, size_t n)
{
    return alloc_fails() ? NULL : calloc(c, n);
}

static void
setup(void)
{
    if (tag_model != NULL)
        return;
    nlpd_set_allocator(f_malloc, f_realloc, f_calloc, free);
    if (nlpd_split_model_load_builtin(&split_model, "en") != 0 ||
        nlpd_tag_model_load_builtin(&tag_model, "en") != 0) {
        fprintf(stderr, "tag_fuzz: cannot load the built-in models\n");
        abort();
    }
}

/* libFuzzer calls this once before the first input, outside -timeout:
 * loading the models takes seconds under the sanitizers (replay_main.c
 * calls it too). */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setup();
    return 0;
}

/* Whether own-made tokens and sentences are what the API accepts: tokens
 * in order, not overlapping, inside the text; sentences in order, each a
 * run of at least one token, not overlapping. */
static int
valid(size_t len, const nlpd_split_token *tok, size_t nt, const nlpd_split_sentence *sen,
      size_t ns)
{
    for (size_t i = 0; i < nt; i++)
        if (tok[i].start > tok[i].end || tok[i].end > len ||
            (i > 0 && tok[i].start < tok[i - 1].end))
            return 0;
    for (size_t j = 0; j < ns; j++)
        if (sen[j].n_tokens == 0 || sen[j].first_token > nt ||
            sen[j].n_tokens > nt - sen[j].first_token ||
            (j > 0 && sen[j].first_token < sen[j - 1].first_token + sen[j - 1].n_tokens))
            return 0;
    return 1;
}

static void
check_entities(const nlpd_tagger *tg, const nlpd_split_token *tok, size_t nt,
               const nlpd_split_sentence *sen, size_t ns, int numbers)
{
    const nlpd_tag_entity *e;
    size_t ne = nlpd_tagger_entities(tg, &e);
    uint32_t prev_end = 0;
    size_t j = 0;
    for (size_t i = 0; i < ne; i++) {
        CHECK(e[i].label > NLPD_ENT_NONE && e[i].label < NLPD_ENT_COUNT_, "entity %zu label %u",
              i, e[i].label);
        CHECK(numbers || (e[i].label != NLPD_ENT_CARDINAL && e[i].label != NLPD_ENT_ORDINAL),
              "entity %zu is a number without the option", i);
        CHECK(e[i].score > 0 && e[i].score <= 1, "entity %zu score %f", i, (double)e[i].score);
        CHECK(e[i].n_tokens >= 1 && e[i].first_token < nt &&
                  e[i].n_tokens <= nt - e[i].first_token,
              "entity %zu tokens %u+%u of %zu", i, e[i].first_token, e[i].n_tokens, nt);
        CHECK(e[i].start == tok[e[i].first_token].start &&
                  e[i].end == tok[e[i].first_token + e[i].n_tokens - 1].end,
              "entity %zu span [%u, %u) is not its tokens'", i, e[i].start, e[i].end);
        CHECK(i == 0 || e[i].start >= prev_end, "entity %zu overlaps the one before", i);
        while (j < ns && sen[j].first_token + sen[j].n_tokens <= e[i].first_token)
            j++;
        CHECK(j < ns && e[i].first_token >= sen[j].first_token &&
                  e[i].first_token + e[i].n_tokens <= sen[j].first_token + sen[j].n_tokens,
              "entity %zu crosses a sentence boundary", i);
        prev_end = e[i].end;
    }
}

/* Copies the entities of a run, to compare with another. */
static nlpd_tag_entity *
snapshot(const nlpd_tagger *tg, size_t *n)
{
    const nlpd_tag_entity *e;
    *n = nlpd_tagger_entities(tg, &e);
    nlpd_tag_entity *copy = malloc(*n * sizeof(*e) + 1);
    if (copy == NULL)
        abort();
    if (*n > 0)
        memcpy(copy, e, *n * sizeof(*e));
    return copy;
}

static void
same_as(const nlpd_tagger *tg, const nlpd_tag_entity *want, size_t n, const char *what)
{
    const nlpd_tag_entity *e;
    size_t ne = nlpd_tagger_entities(tg, &e);
    CHECK(ne == n, "%s: %zu entities, want %zu", what, ne, n);
    for (size_t i = 0; i < n; i++)
        CHECK(e[i].start == want[i].start && e[i].end == want[i].end &&
                  e[i].label == want[i].label && e[i].score == want[i].score,
              "%s: entity %zu differs", what, i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    int own = 0, fail_alloc = 0;
    long fail_at = 0;
    nlpd_tag_opts opts = NLPD_TAG_OPTS_INIT;
    nlpd_split_token own_tok[MAX_OWN];
    nlpd_split_sentence own_sen[MAX_OWN];
    size_t own_n = 0;
    const uint8_t *own_bytes = NULL;
    if (size > 0 && data[0] >= 0xF8) {
        uint8_t ctl = data[0];
        data++, size--;
        own = ctl & 1;
        opts.numbers = (ctl >> 1) & 1;
        if (own && size > 0) {
            own_n = data[0] % MAX_OWN;
            data++, size--;
            if (own_n * 4 > size)
                own_n = size / 4;
            own_bytes = data;
            data += own_n * 4;
            size -= own_n * 4;
        }
        if ((ctl >> 2) & 1 && size > 0) {
            fail_alloc = 1;
            fail_at = 1 + data[0];
            data++, size--;
        }
    }
    const char *text = (const char *)data;
    size_t len = size;

    nlpd_split *sp = NULL;
    nlpd_tagger *tg = NULL;
    if (nlpd_split_new(&sp, split_model, NULL) != 0 || nlpd_tagger_new(&tg, tag_model, &opts) != 0)
        abort();
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt, ns;
    if (own) {
        /* Tokens from pairs of cut points, sentences of one to four tokens. */
        size_t k = 0;
        for (size_t i = 0; i < own_n; i++) {
            const uint8_t *b = own_bytes + 4 * i;
            uint32_t s = len ? (uint32_t)((size_t)b[0] * (len + 8) / 256) : b[0] % 4;
            uint32_t e = len ? (uint32_t)((size_t)b[1] * (len + 8) / 256) : b[1] % 4;
            own_tok[i] = (nlpd_split_token){s, e, (uint8_t)(b[2] % 16), (uint8_t)(b[3] & 0x1F), 0};
        }
        for (size_t i = 0; i < own_n; k++) {
            uint32_t n = 1 + own_bytes[4 * i + 3] % 4;
            if (n > own_n - i)
                n = (uint32_t)(own_n - i);
            own_sen[k] = (nlpd_split_sentence){own_tok[i].start, own_tok[i + n - 1].end,
                                               (uint32_t)i, n, 0};
            i += n;
        }
        tok = own_tok, nt = own_n, sen = own_sen, ns = k;
    } else {
        if (nlpd_split_run(sp, text, len, NULL, 0) != 0)
            abort();
        nt = nlpd_split_tokens(sp, &tok);
        ns = nlpd_split_sentences(sp, &sen);
    }

    if (fail_alloc) {
        alloc_left = fail_at;
        int rc = nlpd_tagger_run(tg, text, len, tok, nt, sen, ns);
        alloc_left = -1;
        CHECK(rc == 0 || rc == NLPD_ENOMEM || rc == NLPD_EINVAL, "rc %d under allocation failure",
              rc);
        if (rc == NLPD_ENOMEM) {
            const nlpd_tag_entity *e;
            CHECK(nlpd_tagger_entities(tg, &e) == 0, "results after NLPD_ENOMEM");
        }
    }
    int rc = nlpd_tagger_run(tg, text, len, tok, nt, sen, ns);
    if (own) {
        int ok = valid(len, tok, nt, sen, ns);
        CHECK(rc == (ok ? 0 : NLPD_EINVAL), "own tokens: rc %d for %s input", rc,
              ok ? "valid" : "invalid");
    } else {
        CHECK(rc == 0, "rc %d on the splitter's tokens", rc);
    }
    if (rc == 0) {
        check_entities(tg, tok, nt, sen, ns, opts.numbers);
        size_t n;
        nlpd_tag_entity *first = snapshot(tg, &n);
        CHECK(nlpd_tagger_run(tg, text, len, tok, nt, sen, ns) == 0, "second run failed");
        same_as(tg, first, n, "the same run twice");
        nlpd_tagger *fresh = NULL;
        if (nlpd_tagger_new(&fresh, tag_model, &opts) != 0)
            abort();
        CHECK(nlpd_tagger_run(fresh, text, len, tok, nt, sen, ns) == 0, "fresh run failed");
        same_as(fresh, first, n, "a fresh tagger");
        nlpd_tagger_free(&fresh);
        free(first);
    }
    nlpd_tagger_free(&tg);
    nlpd_split_free(&sp);
    return 0;
}
