/* tests/fuzz/split_fuzz.c — libFuzzer target for the split library.
 *
 * Runs nlpd_split_run on the input and aborts when a result breaks one of
 * the library's promises (include/nlpd/split.h). Build and run it with clang
 * (tests/fuzz/README.md has more):
 *
 *     cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DNLPD_FUZZ=ON \
 *           -DCMAKE_BUILD_TYPE=RelWithDebInfo
 *     cmake --build build/fuzz --target split_fuzz
 *     mkdir -p build/fuzz/corpus-split
 *     build/fuzz/bin/split_fuzz -max_total_time=600 -timeout=10 \
 *         build/fuzz/corpus-split tests/fuzz/corpus/split
 *
 * and replay a crash (or the seed corpus) with either binary:
 *
 *     build/fuzz/bin/split_fuzz crash-<sha1>
 *     build/fuzz/bin/split_fuzz_replay tests/fuzz/corpus/split crash-<sha1>
 *
 * The input. When its first byte is 0xF8-0xFF (never in UTF-8) it is a
 * control byte and its low three bits ask for, in this order of the bytes
 * after it:
 *
 *   bit 0  regions: 1 byte n (1 + n % 8 regions), then n times 3 bytes
 *          (kind % 7, and two cut points scaled to the text); the cut points
 *          are sorted, paired and moved back to code point starts, so the
 *          regions are in order and do not overlap (ingestion's regions)
 *   bit 1  small limits: 1 byte (max_sentence_tokens = 1 + b % 64) and
 *          1 byte (max_sentence_bytes = 1 + b)
 *   bit 2  a variant byte v: v % 4 == 0 tokens only (opts.sentences = 0);
 *          1: the regions are taken unsorted, possibly out of order or
 *          past the end, and the run must fail with NLPD_EINVAL exactly when
 *          they are not valid; 2: the allocator fails at call 1 + v / 4
 *          (the run must fail with NLPD_ENOMEM, hold no results, and then
 *          recover); 3: tokens only and the failing allocator
 *
 * and the rest is the text. A first byte 0xF5, 0xF6 or 0xF7 (never in
 * UTF-8 either) asks for the rest repeated to 64 kB, 256 kB or 1 MB of
 * text, default options: with -timeout, time that is not linear in the
 * length of the text shows. Any other input is all text, default options.
 * To keep fuzzing past a known bug, name its checks in SPLIT_FUZZ_SKIP
 * (limits, space, flags, paragraph, reuse; e.g. SPLIT_FUZZ_SKIP=limits).
 *
 * What is checked on every successful run:
 *  - tokens are non-empty, at most NLPD_SPLIT_MAX_TOKEN_BYTES long, in
 *    order, do not overlap, lie within the text, start and end on code
 *    point boundaries (invalid bytes are one code point each), neither
 *    start nor end with white space, lie inside one text region (never in
 *    a separator or source line); SPACE_AFTER means
 *    white space (or a control or format character) follows, NEWLINE_AFTER
 *    and PARAGRAPH_AFTER that a line break is in it, ABBREV that the token
 *    ends in '.';
 *  - sentences partition the tokens in order (each token in exactly one),
 *    have n_tokens >= 1, start/end equal to their first/last token's, lie
 *    inside one region, hold no paragraph break (a blank line), and, when
 *    sentences are split (opts.sentences), keep to max_sentence_tokens and
 *    max_sentence_bytes (a sentence of a single longer token excepted);
 *  - a splitter that ran other text before gives the same result as a
 *    fresh one, and the same run twice gives the same result.
 */
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/split.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REGIONS 8

/* An invariant that must hold: on violation, say which and abort, so that
 * libFuzzer (or the replay driver under ASan) reports the input. */
#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "split_fuzz: invariant broken at %s:%d: %s\n  ", __FILE__, __LINE__, \
                    #cond);                                                                      \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

/* Checks named in $SPLIT_FUZZ_SKIP (e.g. "limits,flags") are not made, to
 * keep fuzzing past a known bug: limits, space, flags, paragraph, reuse. */
static const char *skip_env; /* read once */

static int
skipped(const char *check)
{
    return skip_env != NULL && strstr(skip_env, check) != NULL;
}

/* --- A failing allocator ------------------------------------------------------ */

static long fail_countdown = -1; /* > 0: calls left before failing; 0: failing; < 0: never */

static int
alloc_fails(void)
{
    if (fail_countdown < 0)
        return 0;
    if (fail_countdown == 0)
        return 1;
    return --fail_countdown == 0;
}

static void *
fuzz_malloc(size_t size)
{
    return alloc_fails() ? NULL : malloc(size);
}

static void *
fuzz_calloc(size_t count, size_t size)
{
    return alloc_fails() ? NULL : calloc(count, size);
}

static void *
fuzz_realloc(void *ptr, size_t size)
{
    return alloc_fails() ? NULL : realloc(ptr, size);
}

/* --- The input ------------------------------------------------------------------ */

typedef struct input {
    const uint8_t *hdr;
    size_t hdr_len, hdr_pos;
    const char *text;
    size_t len;
    nlpd_split_opts opts;
    int default_opts;
    int has_regions;
    int raw_regions; /* unsorted: may be invalid */
    long fail_at;    /* 0: no failing allocator */
    nlpd_region regions[MAX_REGIONS];
    size_t n_regions;
    char *repeated; /* owned: the text of a repeat input */
} input;

static uint8_t
next_byte(input *in)
{
    return in->hdr_pos < in->hdr_len ? in->hdr[in->hdr_pos++] : 0;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Moves a cut point back to the start of a code point. */
static uint32_t
snap(const input *in, uint32_t p)
{
    while (p > 0 && p < in->len && ((unsigned char)in->text[p] & 0xC0) == 0x80)
        p--;
    return p;
}

static void
parse_input(input *in, const uint8_t *data, size_t size)
{
    memset(in, 0, sizeof(*in));
    nlpd_split_opts defaults = NLPD_SPLIT_OPTS_INIT;
    in->opts = defaults;
    in->default_opts = 1;
    if (size >= 2 && data[0] >= 0xF5 && data[0] <= 0xF7) {
        /* The rest repeated to 64 kB, 256 kB or 1 MB: time that grows
         * faster than the text shows up as a libFuzzer timeout. */
        size_t want = (size_t)65536 << (2 * (data[0] - 0xF5)), n = size - 1;
        size_t len = (want + n - 1) / n * n;
        in->repeated = malloc(len);
        if (in->repeated == NULL)
            abort();
        for (size_t p = 0; p < len; p += n)
            memcpy(in->repeated + p, data + 1, n);
        in->text = in->repeated;
        in->len = len;
        return;
    }
    if (size == 0 || data[0] < 0xF8) {
        in->text = (const char *)data;
        in->len = size;
        return;
    }
    unsigned ctl = data[0] & 7u;
    /* The header is read from the bytes after the control byte; how long
     * it is depends on what it asks for, so the text starts after it. */
    in->hdr = data + 1;
    in->hdr_len = size - 1;
    uint8_t cuts[MAX_REGIONS][3];
    if (ctl & 1u) {
        in->has_regions = 1;
        in->n_regions = 1 + next_byte(in) % MAX_REGIONS;
        for (size_t i = 0; i < in->n_regions; i++) {
            for (int k = 0; k < 3; k++)
                cuts[i][k] = next_byte(in);
        }
    }
    if (ctl & 2u) {
        in->opts.max_sentence_tokens = 1 + next_byte(in) % 64u;
        in->opts.max_sentence_bytes = 1 + (uint32_t)next_byte(in);
        in->default_opts = 0;
    }
    if (ctl & 4u) {
        uint8_t v = next_byte(in);
        if (v % 4 == 0 || v % 4 == 3) {
            in->opts.sentences = 0;
            in->default_opts = 0;
        }
        in->raw_regions = v % 4 == 1 && in->has_regions;
        if (v % 4 >= 2)
            in->fail_at = 1 + v / 4;
    }
    in->text = (const char *)in->hdr + in->hdr_pos;
    in->len = in->hdr_len - in->hdr_pos;

    /* Regions from the cut points, scaled to the text's length. */
    uint32_t len = (uint32_t)in->len;
    if (in->raw_regions) {
        for (size_t i = 0; i < in->n_regions; i++) {
            uint32_t s = (uint32_t)((uint64_t)cuts[i][1] * len / 255);
            uint32_t e = (uint32_t)((uint64_t)cuts[i][2] * len / 255);
            /* The kind byte's high bit pushes the end on, maybe past the text. */
            if (cuts[i][0] & 0x80)
                e += 1 + (cuts[i][0] & 0x0Fu);
            in->regions[i] = (nlpd_region){cuts[i][0] % 7u, snap(in, s), snap(in, e)};
        }
        return;
    }
    uint32_t pts[2 * MAX_REGIONS];
    for (size_t i = 0; i < in->n_regions; i++) {
        pts[2 * i] = (uint32_t)((uint64_t)cuts[i][1] * len / 255);
        pts[2 * i + 1] = (uint32_t)((uint64_t)cuts[i][2] * len / 255);
    }
    qsort(pts, 2 * in->n_regions, sizeof(pts[0]), cmp_u32);
    for (size_t i = 0; i < in->n_regions; i++)
        in->regions[i] =
            (nlpd_region){cuts[i][0] % 7u, snap(in, pts[2 * i]), snap(in, pts[2 * i + 1])};
}

/* Regions are valid when each lies in the text and starts at or after the
 * end of the one before. */
static int
regions_valid(const input *in)
{
    uint32_t prev_end = 0;
    for (size_t i = 0; i < in->n_regions; i++) {
        const nlpd_region *r = &in->regions[i];
        if (r->start > r->end || r->end > in->len || r->start < prev_end)
            return 0;
        prev_end = r->end;
    }
    return 1;
}

/* --- Checking a result --------------------------------------------------------------- */

/* unit[i] is 1 when a code point starts at byte i (and at len): a valid
 * UTF-8 sequence is one code point, an invalid byte is one on its own. */
static uint8_t *
code_point_starts(const char *text, size_t len)
{
    uint8_t *unit = calloc(len + 1, 1);
    if (unit == NULL)
        abort();
    for (size_t p = 0; p < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)text + p, (utf8proc_ssize_t)(len - p), &cp);
        unit[p] = 1;
        p += n > 0 ? (size_t)n : 1;
    }
    unit[len] = 1;
    return unit;
}

static int
is_space_cp(utf8proc_int32_t cp)
{
    if (cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85)
        return 1;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

/* What may separate tokens as white space does: white space, control and
 * format characters (NUL, the byte order mark, U+200B...). Invalid bytes
 * are not separators. */
static int
is_separator_cp(utf8proc_int32_t cp)
{
    if (cp < 0)
        return 0;
    utf8proc_category_t c = utf8proc_category(cp);
    return is_space_cp(cp) || c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF;
}

static int
is_line_break_cp(utf8proc_int32_t cp)
{
    return (cp >= '\n' && cp <= '\r') || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

/* The code point at byte p (a unit start), -1 for an invalid byte. */
static utf8proc_int32_t
cp_at(const char *text, size_t len, size_t p)
{
    utf8proc_int32_t cp = -1;
    if (utf8proc_iterate((const utf8proc_uint8_t *)text + p, (utf8proc_ssize_t)(len - p), &cp) <= 0)
        return -1;
    return cp;
}

/* The start of the code point that ends at byte `end` (> 0, a unit start). */
static size_t
last_unit(const uint8_t *unit, size_t end)
{
    size_t p = end - 1;
    while (p > 0 && !unit[p])
        p--;
    return p;
}

/* Index of the text region holding [start, end), -1 if none. */
static long
region_of(const input *in, uint32_t start, uint32_t end)
{
    if (!in->has_regions)
        return end <= in->len ? 0 : -1;
    for (size_t i = 0; i < in->n_regions; i++) {
        const nlpd_region *r = &in->regions[i];
        if (nlpd_region_is_text(r->kind) && start >= r->start && end <= r->end)
            return (long)i;
    }
    return -1;
}

/* A blank line: '\n', then only spaces, tabs and CRs, then '\n'. */
static int
has_blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\n')
            continue;
        size_t k = i + 1;
        while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
            k++;
        if (k < n && s[k] == '\n')
            return 1;
    }
    return 0;
}

static void
check_tokens(const input *in, const uint8_t *unit, const nlpd_split_token *tok, size_t nt)
{
    const char *text = in->text;
    size_t len = in->len;
    uint32_t prev_end = 0;
    for (size_t i = 0; i < nt; i++) {
        const nlpd_split_token *t = &tok[i];
        CHECK(t->start < t->end, "token %zu [%u, %u) is empty", i, t->start, t->end);
        CHECK(t->end <= len, "token %zu [%u, %u) ends past the text (%zu bytes)", i, t->start,
              t->end, len);
        CHECK(t->start >= prev_end,
              "token %zu [%u, %u) overlaps or precedes the one before (end %u)", i, t->start,
              t->end, prev_end);
        prev_end = t->end;
#ifdef NLPD_SPLIT_MAX_TOKEN_BYTES
        CHECK(t->end - t->start <= NLPD_SPLIT_MAX_TOKEN_BYTES,
              "token %zu [%u, %u) is longer than NLPD_SPLIT_MAX_TOKEN_BYTES", i, t->start, t->end);
#endif
        CHECK(unit[t->start] && unit[t->end], "token %zu [%u, %u) splits a code point", i, t->start,
              t->end);
        utf8proc_int32_t first = cp_at(text, len, t->start);
        utf8proc_int32_t last = cp_at(text, len, last_unit(unit, t->end));
        CHECK(skipped("space") || (!is_space_cp(first) && !is_space_cp(last)),
              "token %zu [%u, %u) starts or ends with white space (U+%04X ... U+%04X)", i, t->start,
              t->end, (unsigned)first, (unsigned)last);
        CHECK(region_of(in, t->start, t->end) >= 0,
              "token %zu [%u, %u) is not inside one text region", i, t->start, t->end);
        if (t->flags &
            (NLPD_TOKEN_SPACE_AFTER | NLPD_TOKEN_NEWLINE_AFTER | NLPD_TOKEN_PARAGRAPH_AFTER)) {
            /* The separators after the token, and whether a line break is
             * among them. */
            size_t p = t->end;
            int line_break = 0;
            while (p < len) {
                utf8proc_int32_t cp = cp_at(text, len, p);
                if (!is_separator_cp(cp))
                    break;
                line_break |= is_line_break_cp(cp);
                p++;
                while (p < len && !unit[p])
                    p++;
            }
            CHECK(p > t->end, "token %zu [%u, %u) has flags %u but no white space follows", i,
                  t->start, t->end, t->flags);
            CHECK(line_break ||
                      !(t->flags & (NLPD_TOKEN_NEWLINE_AFTER | NLPD_TOKEN_PARAGRAPH_AFTER)),
                  "token %zu [%u, %u) has flags %u but no line break follows", i, t->start, t->end,
                  t->flags);
        }
        if (t->flags & NLPD_TOKEN_ABBREV) {
            CHECK(text[t->end - 1] == '.', "token %zu [%u, %u) has ABBREV but does not end in '.'",
                  i, t->start, t->end);
        }
    }
}

static void
check_sentences(const input *in, const nlpd_split_token *tok, size_t nt,
                const nlpd_split_sentence *sen, size_t ns)
{
    uint32_t next_token = 0;
    for (size_t i = 0; i < ns; i++) {
        const nlpd_split_sentence *s = &sen[i];
        CHECK(s->n_tokens >= 1, "sentence %zu has no tokens", i);
        CHECK(s->first_token == next_token,
              "sentence %zu starts at token %u, not %u: the sentences do not partition the tokens",
              i, s->first_token, next_token);
        CHECK((size_t)s->first_token + s->n_tokens <= nt,
              "sentence %zu (tokens %u + %u) runs past the %zu tokens", i, s->first_token,
              s->n_tokens, nt);
        next_token = s->first_token + s->n_tokens;
        const nlpd_split_token *first = &tok[s->first_token];
        const nlpd_split_token *last = &tok[next_token - 1];
        CHECK(s->start == first->start && s->end == last->end,
              "sentence %zu [%u, %u) is not [%u, %u) of its first and last tokens", i, s->start,
              s->end, first->start, last->end);
        long r = region_of(in, s->start, s->end);
        CHECK(r >= 0, "sentence %zu [%u, %u) crosses a region boundary", i, s->start, s->end);
        CHECK(skipped("paragraph") || !has_blank_line(in->text + s->start, s->end - s->start),
              "sentence %zu [%u, %u) holds a paragraph break", i, s->start, s->end);
        /* With opts.sentences 0 a "sentence" is a whole paragraph: the
         * limits apply to sentences only. */
        if (!in->opts.sentences || skipped("limits"))
            continue;
        CHECK(s->n_tokens <= in->opts.max_sentence_tokens,
              "sentence %zu has %u tokens, over max_sentence_tokens %u", i, s->n_tokens,
              in->opts.max_sentence_tokens);
        CHECK(s->end - s->start <= in->opts.max_sentence_bytes || s->n_tokens == 1,
              "sentence %zu [%u, %u) is %u bytes of %u tokens, over max_sentence_bytes %u", i,
              s->start, s->end, s->end - s->start, s->n_tokens, in->opts.max_sentence_bytes);
    }
    CHECK(next_token == nt, "the sentences hold %u of the %zu tokens", next_token, nt);
}

/* A copy of a run's results, to compare runs. */
typedef struct result {
    nlpd_split_token *tok;
    size_t nt;
    nlpd_split_sentence *sen;
    size_t ns;
} result;

static void
result_take(result *r, const nlpd_split *sp)
{
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    r->nt = nlpd_split_tokens(sp, &tok);
    r->ns = nlpd_split_sentences(sp, &sen);
    r->tok = malloc(r->nt * sizeof(*tok) + 1);
    r->sen = malloc(r->ns * sizeof(*sen) + 1);
    if (r->tok == NULL || r->sen == NULL)
        abort();
    if (r->nt > 0)
        memcpy(r->tok, tok, r->nt * sizeof(*tok));
    if (r->ns > 0)
        memcpy(r->sen, sen, r->ns * sizeof(*sen));
}

static void
result_free(result *r)
{
    free(r->tok);
    free(r->sen);
}

static void
check_same(const result *want, const nlpd_split *sp, const char *what)
{
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t ns = nlpd_split_sentences(sp, &sen);
    CHECK(nt == want->nt && ns == want->ns,
          "%s: %zu tokens and %zu sentences instead of %zu and %zu", what, nt, ns, want->nt,
          want->ns);
    for (size_t i = 0; i < nt; i++) {
        const nlpd_split_token *a = &want->tok[i], *b = &tok[i];
        CHECK(a->start == b->start && a->end == b->end && a->shape == b->shape &&
                  a->flags == b->flags,
              "%s: token %zu is [%u, %u) shape %u flags %u instead of [%u, %u) shape %u flags %u",
              what, i, b->start, b->end, b->shape, b->flags, a->start, a->end, a->shape, a->flags);
    }
    for (size_t i = 0; i < ns; i++) {
        const nlpd_split_sentence *a = &want->sen[i], *b = &sen[i];
        CHECK(a->start == b->start && a->end == b->end && a->first_token == b->first_token &&
                  a->n_tokens == b->n_tokens && a->flags == b->flags,
              "%s: sentence %zu is [%u, %u) tokens %u+%u flags %u instead of [%u, %u) tokens "
              "%u+%u flags %u",
              what, i, b->start, b->end, b->first_token, b->n_tokens, b->flags, a->start, a->end,
              a->first_token, a->n_tokens, a->flags);
    }
}

/* --- The target --------------------------------------------------------------------- */

static nlpd_split_model *model;
static nlpd_split *reused; /* default options, kept from input to input */

/* Text run between two runs of the input, to leave other state behind. */
static const char other_text[] =
    "Dr. J. R. R. Smith (b. 1950) met the U.S. envoy at 10:30 a.m. on Jan. 5. \"Why?\" he "
    "asked... Prices rose 3.5% to $1,250.75 - see https://example.com/a?b=c or mail "
    "news@example.com.\n\nA new paragraph \xE2\x80\x94 with \xF0\x9F\x98\x80 emoji, caf\xC3\xA9 "
    "and a\xCC\x81 too! Kim Jong-un didn't say it's Russia's. #tag @handle\n";

static void
init_once(void)
{
    if (model != NULL)
        return;
    skip_env = getenv("SPLIT_FUZZ_SKIP");
    if (nlpd_set_allocator(fuzz_malloc, fuzz_realloc, fuzz_calloc, free) != 0)
        abort();
    int rc = nlpd_split_model_load_builtin(&model, "en");
    if (rc == 0)
        rc = nlpd_split_new(&reused, model, NULL);
    if (rc != 0) {
        fprintf(stderr, "split_fuzz: cannot set up: %s\n", nlpd_strerror(rc));
        abort();
    }
}

static int
run(nlpd_split *sp, const input *in)
{
    return nlpd_split_run(sp, in->text, in->len, in->has_regions ? in->regions : NULL,
                          in->has_regions ? in->n_regions : 0);
}

/* Runs the input with the failing allocator on a fresh splitter: any
 * failure must be NLPD_ENOMEM with no results held, and once allocation
 * works again the same splitter must give the result `want`. */
static void
check_out_of_memory(const input *in, const result *want)
{
    nlpd_split *sp = NULL;
    fail_countdown = in->fail_at;
    int rc = nlpd_split_new(&sp, model, &in->opts);
    if (rc == 0)
        rc = run(sp, in);
    fail_countdown = -1;
    CHECK(rc == 0 || rc == NLPD_ENOMEM, "with allocation failing at call %ld: %s", in->fail_at,
          nlpd_err_name(rc));
    if (sp == NULL) {
        CHECK(rc == NLPD_ENOMEM, "nlpd_split_new returned 0 and no splitter");
        return;
    }
    if (rc == NLPD_ENOMEM) {
        const nlpd_split_token *tok;
        const nlpd_split_sentence *sen;
        CHECK(nlpd_split_tokens(sp, &tok) == 0 && nlpd_split_sentences(sp, &sen) == 0,
              "a run that failed with NLPD_ENOMEM still holds results");
        rc = run(sp, in);
        CHECK(rc == 0, "the run after an NLPD_ENOMEM failed: %s", nlpd_err_name(rc));
    }
    check_same(want, sp, "after an allocation failure");
    nlpd_split_free(&sp);
    CHECK(sp == NULL, "nlpd_split_free left the pointer set");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    input in;
    parse_input(&in, data, size);

    nlpd_split *sp = NULL;
    int rc = nlpd_split_new(&sp, model, &in.opts);
    CHECK(rc == 0, "nlpd_split_new: %s", nlpd_err_name(rc));
    rc = run(sp, &in);
    if (in.raw_regions && !regions_valid(&in)) {
        CHECK(rc == NLPD_EINVAL, "invalid regions: the run returned %s, not NLPD_EINVAL",
              nlpd_err_name(rc));
        nlpd_split_free(&sp);
        free(in.repeated);
        return 0;
    }
    CHECK(rc == 0, "nlpd_split_run: %s", nlpd_err_name(rc));

    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t ns = nlpd_split_sentences(sp, &sen);
    uint8_t *unit = code_point_starts(in.text, in.len);
    check_tokens(&in, unit, tok, nt);
    check_sentences(&in, tok, nt, sen, ns);
    free(unit);

    result want;
    result_take(&want, sp);

    /* The same splitter after other text, then the same text again. */
    rc = nlpd_split_run(sp, other_text, sizeof(other_text) - 1, NULL, 0);
    CHECK(rc == 0, "nlpd_split_run on the other text: %s", nlpd_err_name(rc));
    rc = run(sp, &in);
    CHECK(rc == 0, "the second run: %s", nlpd_err_name(rc));
    if (!skipped("reuse"))
        check_same(&want, sp, "a second run");
    nlpd_split_free(&sp);
    CHECK(sp == NULL, "nlpd_split_free left the pointer set");

    /* A splitter that has seen every input before this one. */
    if (in.default_opts) {
        rc = run(reused, &in);
        CHECK(rc == 0, "nlpd_split_run on the reused splitter: %s", nlpd_err_name(rc));
        if (!skipped("reuse"))
            check_same(&want, reused, "the splitter reused across inputs");
    }

    if (in.fail_at > 0)
        check_out_of_memory(&in, &want);
    result_free(&want);
    free(in.repeated);
    return 0;
}
