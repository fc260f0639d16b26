/* tests/unit/split_test.c — nlpd_split: tokens (what stays together, what is
 * split off), shapes and flags, sentence boundaries (the pySBD golden rules
 * and our own news cases in fixtures/split/cases.jsonl), regions, length
 * limits, bad input, models, allocation failures, threads and reuse.
 *
 * Everything is checked against include/nlpd/split.h and the behaviour of
 * issue 3, never against the library's internals. Every run also goes
 * through check_run(), which asserts the invariants any output must keep:
 * spans in order, inside text regions, on code point boundaries, no
 * whitespace inside a token, nothing but whitespace and invisible
 * characters left out, every token in exactly one sentence.
 */
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/split.h"
#include "nlpd/types.h"
#include "test_support.h"
/* One group of tests below compares the tokenizer's own paths (the byte
 * masks made with AVX2, SSE2, byte by byte, and the general code alone)
 * and the boundary pass with and without the tokenizer's plain bits:
 * those are internals, reached through the stage's private header. */
#include "../../stages/split/split_internal.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The group state: the built-in English model and one splitter over it
 * with the default options. */
typedef struct fixture {
    nlpd_split_model *model;
    nlpd_split *sp;
} fixture;

/* ---- helpers: UTF-8, independent of the library ------------------------ */

/* Decodes the code point at s[i] strictly (Unicode table 3-7). An invalid
 * byte reads as one U+FFFD, as the header says the library reads it.
 * Returns the length in bytes (>= 1). */
static size_t
utf8_next(const unsigned char *s, size_t n, size_t i, uint32_t *cp)
{
    unsigned c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t k;
    uint32_t v;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (i + k > n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t j = 1; j < k; j++) {
        unsigned b = s[i + j];
        if (b < lo || b > hi) {
            *cp = 0xFFFD;
            return 1;
        }
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return k;
}

/* Unicode Z* (Zs, Zl, Zp) and \t \n \r: never inside a token. */
static int
is_space(uint32_t c)
{
    return c == '\t' || c == '\n' || c == '\r' || c == ' ' || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* What a tokenizer may leave out: whitespace, control characters (Cc) and
 * invisible format characters (Cf). Everything else is covered by a token. */
static int
may_be_dropped(uint32_t c)
{
    return is_space(c) || c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0xAD || c == 0x61C ||
           c == 0x180E || (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2060 && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB);
}

static const char *
shape_name(unsigned s)
{
    static const char *names[] = {"OTHER",  "LOWER",  "CAPITALIZED", "UPPER",  "MIXED",
                                  "NUMBER", "ALNUM",  "PUNCT",       "SYMBOL", "URL",
                                  "EMAIL",  "HANDLE", "HASHTAG",     "EMOJI"};
    return s < N_ELEMS(names) ? names[s] : "?";
}

/* ---- helpers: running and checking ------------------------------------- */

/* Limits check_run() asserts; 0 skips the check. */
typedef struct limits {
    uint32_t tokens;
    uint32_t bytes;
} limits;

static const limits default_limits = {NLPD_SPLIT_MAX_SENTENCE_TOKENS,
                                      NLPD_SPLIT_MAX_SENTENCE_BYTES};

/* Index of the region holding [s, e), or -1; with regions NULL the whole
 * text is region 0. */
static long
region_of(const nlpd_region *r, size_t nr, size_t len, size_t s, size_t e)
{
    if (r == NULL)
        return e <= len ? 0 : -1;
    for (size_t i = 0; i < nr; i++) {
        if (r[i].start <= s && e <= r[i].end)
            return (long)i;
    }
    return -1;
}

static int
region_is_text(const nlpd_region *r, long i)
{
    return r == NULL || nlpd_region_is_text(r[i].kind);
}

/* A paragraph break: a line break, blanks, a line break. */
static int
has_paragraph_break(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\n')
            continue;
        size_t j = i + 1;
        while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r'))
            j++;
        if (j < n && s[j] == '\n')
            return 1;
    }
    return 0;
}

/* check_run()'s work arrays, grown as needed and kept, so that a failing
 * check (which leaves the function by longjmp) leaks nothing. */
static unsigned char *check_starts, *check_covered;
static size_t check_cap;

/* A run's input as check_run() looks at it. */
typedef struct run_view {
    const char *text;
    const unsigned char *s;
    size_t len;
    const nlpd_region *reg; /* NULL: the whole text is one body region */
    size_t nr;
} run_view;

/* The bounds of the i-th region the library reads (0 when it reads none:
 * layout). */
static int
text_region(const run_view *v, size_t i, size_t *rs, size_t *re)
{
    if (v->reg == NULL) {
        *rs = 0;
        *re = v->len;
        return 1;
    }
    if (!nlpd_region_is_text(v->reg[i].kind) || v->reg[i].end > v->len)
        return 0;
    *rs = v->reg[i].start;
    *re = v->reg[i].end;
    return 1;
}

/* Marks code point starts as the library reads them: each text region is a
 * text of its own (a region that ends inside a sequence cuts it), and an
 * invalid byte is one code point. */
static void
mark_code_points(const run_view *v, unsigned char *starts)
{
    size_t n_read = v->reg != NULL ? v->nr : 1, rs, re;
    for (size_t r = 0; r < n_read; r++) {
        if (!text_region(v, r, &rs, &re))
            continue;
        for (size_t i = rs; i < re;) {
            uint32_t cp;
            starts[i] = 1;
            i += utf8_next(v->s, re, i, &cp);
        }
        starts[re] = 1;
    }
}

/* Tokens: in order, not empty, inside a text region, on code points, no
 * whitespace inside, a known shape. Marks the bytes they cover. */
static void
check_tokens(const run_view *v, const nlpd_split_token *tok, size_t nt, const unsigned char *starts,
             unsigned char *covered)
{
    const char *text = v->text;
    size_t prev_end = 0;
    for (size_t t = 0; t < nt; t++) {
        size_t a = tok[t].start, b = tok[t].end;
        if (!(a < b && b <= v->len && a >= prev_end)) {
            fail_msg("token %zu [%zu,%zu) is empty, out of order or outside the text (len %zu, "
                     "previous end %zu)",
                     t, a, b, v->len, prev_end);
        }
        long r = region_of(v->reg, v->nr, v->len, a, b);
        if (r < 0 || !region_is_text(v->reg, r)) {
            fail_msg("token %zu [%zu,%zu) \"%.*s\" is not inside a text region", t, a, b,
                     (int)(b - a), text + a);
        }
        if (!starts[a] || !starts[b]) {
            fail_msg("token %zu [%zu,%zu) \"%.*s\" does not start or end on a code point", t, a, b,
                     (int)(b - a), text + a);
        }
        size_t re = v->reg != NULL ? v->reg[r].end : v->len;
        for (size_t i = a; i < b;) {
            uint32_t cp;
            size_t k = utf8_next(v->s, re, i, &cp);
            if (is_space(cp)) {
                fail_msg("token %zu [%zu,%zu) \"%.*s\" holds whitespace U+%04X at %zu", t, a, b,
                         (int)(b - a), text + a, (unsigned)cp, i);
            }
            i += k;
        }
        memset(covered + a, 1, b - a);
        if (tok[t].shape > NLPD_SHAPE_EMOJI)
            fail_msg("token %zu has an unknown shape %u", t, (unsigned)tok[t].shape);
        prev_end = b;
    }
}

/* Nothing but whitespace and invisible characters is left out of the
 * tokens inside text regions. */
static void
check_coverage(const run_view *v, const unsigned char *covered)
{
    size_t n_read = v->reg != NULL ? v->nr : 1, rs, re;
    for (size_t r = 0; r < n_read; r++) {
        if (!text_region(v, r, &rs, &re))
            continue;
        for (size_t i = rs; i < re;) {
            uint32_t cp;
            size_t k = utf8_next(v->s, re, i, &cp);
            if (!covered[i] && !may_be_dropped(cp)) {
                fail_msg("U+%04X at byte %zu (\"%.*s\") is in no token", (unsigned)cp, i, (int)k,
                         v->text + i);
            }
            i += k;
        }
    }
}

/* Sentences: they partition the tokens in order, span them, stay in one
 * region and one paragraph, and keep the limits. */
static void
check_sentences(const run_view *v, const nlpd_split_token *tok, size_t nt,
                const nlpd_split_sentence *sen, size_t ns, const limits *lim)
{
    size_t next = 0;
    for (size_t i = 0; i < ns; i++) {
        const nlpd_split_sentence *x = &sen[i];
        if (x->n_tokens == 0 || x->first_token != next || x->first_token + x->n_tokens > nt) {
            fail_msg("sentence %zu (tokens %u+%u) does not follow on token %zu of %zu", i,
                     x->first_token, x->n_tokens, next, nt);
        }
        const nlpd_split_token *f = &tok[x->first_token];
        const nlpd_split_token *l = &tok[x->first_token + x->n_tokens - 1];
        if (x->start != f->start || x->end != l->end) {
            fail_msg("sentence %zu [%u,%u) is not its tokens' span [%u,%u)", i, x->start, x->end,
                     f->start, l->end);
        }
        if (region_of(v->reg, v->nr, v->len, x->start, x->end) < 0)
            fail_msg("sentence %zu [%u,%u) crosses a region end", i, x->start, x->end);
        if (has_paragraph_break(v->text + x->start, x->end - x->start))
            fail_msg("sentence %zu [%u,%u) crosses a paragraph break", i, x->start, x->end);
        if (x->flags & ~(uint32_t)NLPD_SENTENCE_TRUNCATED)
            fail_msg("sentence %zu has unknown flags %#x", i, x->flags);
        if (lim != NULL && lim->tokens != 0 && x->n_tokens > lim->tokens)
            fail_msg("sentence %zu has %u tokens, more than %u", i, x->n_tokens, lim->tokens);
        /* A single token longer than the limit cannot be cut between tokens. */
        if (lim != NULL && lim->bytes != 0 && x->n_tokens > 1 && x->end - x->start > lim->bytes)
            fail_msg("sentence %zu has %u bytes, more than %u", i, x->end - x->start, lim->bytes);
        next += x->n_tokens;
    }
    if (next != nt)
        fail_msg("sentences hold %zu of %zu tokens", next, nt);
}

/* Asserts the invariants of the splitter's last run over text[0, len). */
static void
check_run(const nlpd_split *sp, const char *text, size_t len, const nlpd_region *reg, size_t nr,
          const limits *lim)
{
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t ns = nlpd_split_sentences(sp, &sen);
    if (nt > 0)
        assert_non_null(tok);
    if (ns > 0)
        assert_non_null(sen);
    if (len + 1 > check_cap) {
        free(check_starts);
        free(check_covered);
        check_starts = malloc(len + 1);
        check_covered = malloc(len + 1);
        check_cap = len + 1;
        assert_non_null(check_starts);
        assert_non_null(check_covered);
    }
    memset(check_starts, 0, len + 1);
    memset(check_covered, 0, len + 1);
    run_view v = {text, (const unsigned char *)text, len, reg, nr};
    mark_code_points(&v, check_starts);
    check_tokens(&v, tok, nt, check_starts, check_covered);
    check_coverage(&v, check_covered);
    check_sentences(&v, tok, nt, sen, ns, lim);
}

/* Runs `len` bytes, asserts success and the invariants. */
static void
run_len(nlpd_split *sp, const char *text, size_t len, const nlpd_region *reg, size_t nr)
{
    int rc = nlpd_split_run(sp, text, len, reg, nr);
    if (rc != 0)
        fail_msg("run failed: %s", nlpd_err_name(rc));
    check_run(sp, text, len, reg, nr, &default_limits);
}

static void
run_str(nlpd_split *sp, const char *text)
{
    run_len(sp, text, strlen(text), NULL, 0);
}

/* The tokens of the last run as "a | b | c" into buf (for messages). */
static const char *
token_list(const nlpd_split *sp, const char *text, char *buf, size_t cap)
{
    const nlpd_split_token *tok;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nt && o + 1 < cap; i++) {
        int w = snprintf(buf + o, cap - o, "%s%.*s", i ? " | " : "",
                         (int)(tok[i].end - tok[i].start), text + tok[i].start);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    return buf;
}

/* The sentences of the last run, one per line, into buf (for messages). */
static const char *
sentence_list(const nlpd_split *sp, const char *text, char *buf, size_t cap)
{
    const nlpd_split_sentence *sen;
    size_t ns = nlpd_split_sentences(sp, &sen);
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ns && o + 1 < cap; i++) {
        int w = snprintf(buf + o, cap - o, "    [%u,%u) \"%.*s\"%s\n", sen[i].start, sen[i].end,
                         (int)(sen[i].end - sen[i].start), text + sen[i].start,
                         sen[i].flags & NLPD_SENTENCE_TRUNCATED ? " (truncated)" : "");
        if (w < 0)
            break;
        o += (size_t)w;
    }
    return buf;
}

/* Runs `text` and asserts its tokens are exactly the NULL-terminated list. */
static void
assert_tokens(nlpd_split *sp, const char *text, ...)
{
    run_str(sp, text);
    const nlpd_split_token *tok;
    size_t nt = nlpd_split_tokens(sp, &tok);
    char expect[4096], got[4096];
    size_t o = 0, n = 0;
    int same = 1;
    va_list ap;
    va_start(ap, text);
    for (const char *e; (e = va_arg(ap, const char *)) != NULL; n++) {
        int w = snprintf(expect + o, sizeof(expect) - o, "%s%s", n ? " | " : "", e);
        if (w > 0 && (size_t)w < sizeof(expect) - o)
            o += (size_t)w;
        if (n >= nt || tok[n].end - tok[n].start != strlen(e) ||
            memcmp(text + tok[n].start, e, strlen(e)) != 0)
            same = 0;
    }
    va_end(ap);
    if (!same || n != nt) {
        fail_msg("tokens of \"%s\":\n  got:      %s\n  expected: %s", text,
                 token_list(sp, text, got, sizeof(got)), expect);
    }
}

/* The first token of the last run whose text is `word`; fails when none. */
static const nlpd_split_token *
find_token(const nlpd_split *sp, const char *text, const char *word)
{
    const nlpd_split_token *tok;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t wl = strlen(word);
    for (size_t i = 0; i < nt; i++) {
        if (tok[i].end - tok[i].start == wl && memcmp(text + tok[i].start, word, wl) == 0)
            return &tok[i];
    }
    char got[4096];
    fail_msg("no token \"%s\" in \"%s\": %s", word, text, token_list(sp, text, got, sizeof(got)));
    return NULL;
}

/* The sentences of the last run as text, compared with the NULL-terminated
 * list of expected sentences. */
static void
assert_sentences(nlpd_split *sp, const char *text, size_t len, const nlpd_region *reg, size_t nr,
                 ...)
{
    run_len(sp, text, len, reg, nr);
    const nlpd_split_sentence *sen;
    size_t ns = nlpd_split_sentences(sp, &sen);
    size_t n = 0;
    int same = 1;
    char expect[4096];
    size_t o = 0;
    va_list ap;
    va_start(ap, nr);
    for (const char *e; (e = va_arg(ap, const char *)) != NULL; n++) {
        int w = snprintf(expect + o, sizeof(expect) - o, "    \"%s\"\n", e);
        if (w > 0 && (size_t)w < sizeof(expect) - o)
            o += (size_t)w;
        if (n >= ns || sen[n].end - sen[n].start != strlen(e) ||
            memcmp(text + sen[n].start, e, strlen(e)) != 0)
            same = 0;
    }
    va_end(ap);
    if (!same || n != ns) {
        char got[8192];
        fail_msg("sentences of \"%.*s\":\n  got:\n%s  expected:\n%s", (int)len, text,
                 sentence_list(sp, text, got, sizeof(got)), expect);
    }
}

/* A copy of a run's results, to compare runs. */
typedef struct result {
    nlpd_split_token *tok;
    size_t nt;
    nlpd_split_sentence *sen;
    size_t ns;
} result;

static result
result_take(const nlpd_split *sp)
{
    result r = {0};
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    r.nt = nlpd_split_tokens(sp, &tok);
    r.ns = nlpd_split_sentences(sp, &sen);
    r.tok = malloc((r.nt + 1) * sizeof(*r.tok));
    r.sen = malloc((r.ns + 1) * sizeof(*r.sen));
    assert_non_null(r.tok);
    assert_non_null(r.sen);
    if (r.nt > 0)
        memcpy(r.tok, tok, r.nt * sizeof(*tok));
    if (r.ns > 0)
        memcpy(r.sen, sen, r.ns * sizeof(*sen));
    return r;
}

/* 1 when the splitter's last run gave exactly `r` (no cmocka calls: used
 * from threads). */
static int
result_same(const nlpd_split *sp, const result *r)
{
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t ns = nlpd_split_sentences(sp, &sen);
    if (nt != r->nt || ns != r->ns)
        return 0;
    for (size_t i = 0; i < nt; i++) {
        if (tok[i].start != r->tok[i].start || tok[i].end != r->tok[i].end ||
            tok[i].shape != r->tok[i].shape || tok[i].flags != r->tok[i].flags)
            return 0;
    }
    for (size_t i = 0; i < ns; i++) {
        if (sen[i].start != r->sen[i].start || sen[i].end != r->sen[i].end ||
            sen[i].first_token != r->sen[i].first_token || sen[i].n_tokens != r->sen[i].n_tokens ||
            sen[i].flags != r->sen[i].flags)
            return 0;
    }
    return 1;
}

static void
result_free(result *r)
{
    free(r->tok);
    free(r->sen);
    memset(r, 0, sizeof(*r));
}

/* This thread's CPU time: other processes on a loaded machine do not
 * count against the ladder below. */
static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A deterministic generator (64-bit LCG, high bits). */
static uint32_t
rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* Pseudo news text of about `bytes` bytes (malloc'd, NUL-terminated): a
 * mix of titles, initials, acronyms, numbers, quotes, clitics and
 * paragraphs, so that a run exercises most of the library. */
static char *
make_news(uint64_t seed, size_t bytes, size_t *len)
{
    static const char *starts[] = {
        "The",    "Officials", "Mr. Ivanov", "Dr. Okafor",    "Gen. J. R. Smith", "\"We",
        "Shares", "It",        "In Moscow,", "The U.S. Navy", "Russia's army",    "Police"};
    static const char *words[] = {"said",
                                  "the",
                                  "talks",
                                  "would",
                                  "resume",
                                  "in",
                                  "Geneva",
                                  "on",
                                  "Monday",
                                  "after",
                                  "a",
                                  "long",
                                  "pause",
                                  "at 9 a.m.",
                                  "$4.2 billion",
                                  "3.5%",
                                  "1,250.75",
                                  "don't",
                                  "Kim Jong-un",
                                  "(reportedly)",
                                  "the U.N.",
                                  "e.g.",
                                  "10:30",
                                  "5th",
                                  "https://example.com/a",
                                  "#news",
                                  "@nlpd",
                                  "F-16",
                                  "vs.",
                                  "officials'",
                                  "caf\xC3\xA9",
                                  "\xE2\x80\x9Cready,\xE2\x80\x9D",
                                  "Pitt & Co."};
    static const char *ends[] = {".", ".", ".", "?", "!", "...", ".\"", "?!", " (AP)."};
    size_t cap = bytes + 2048;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    size_t o = 0;
    while (o < bytes) {
        const char *w = starts[rnd(&seed) % N_ELEMS(starts)];
        size_t wl = strlen(w);
        if (o + 1024 > cap) /* room for the longest sentence */
            break;
        memcpy(buf + o, w, wl);
        o += wl;
        unsigned n = 3 + rnd(&seed) % 20;
        for (unsigned i = 0; i < n; i++) {
            w = words[rnd(&seed) % N_ELEMS(words)];
            wl = strlen(w);
            buf[o++] = ' ';
            memcpy(buf + o, w, wl);
            o += wl;
            if (rnd(&seed) % 9 == 0)
                buf[o++] = ',';
        }
        w = ends[rnd(&seed) % N_ELEMS(ends)];
        wl = strlen(w);
        memcpy(buf + o, w, wl);
        o += wl;
        w = rnd(&seed) % 6 == 0 ? "\n\n" : " ";
        wl = strlen(w);
        memcpy(buf + o, w, wl);
        o += wl;
    }
    buf[o] = '\0';
    *len = o;
    return buf;
}

/* ---- helpers: JSONL cases (../shared/FORMAT.md) ------------------------ */

static uint32_t
region_kind_by_name(const char *name)
{
    for (uint32_t k = 0; k <= NLPD_REGION_SOURCE_LINE; k++) {
        if (strcmp(nlpd_region_kind_name(k), name) == 0)
            return k;
    }
    fail_msg("unknown region kind \"%s\"", name);
    return 0;
}

/* Reads [s, e) pairs of a JSON array; trims whitespace off each span. */
static size_t
read_spans(json_t *arr, const char *text, size_t len, nlpd_span *out, size_t cap)
{
    size_t n = json_array_size(arr);
    if (n > cap)
        fail_msg("too many sentences in a case (%zu)", n);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(arr, i);
        json_int_t s = json_integer_value(json_array_get(p, 0));
        json_int_t e = json_integer_value(json_array_get(p, 1));
        if (!json_is_array(p) || s < 0 || e < s || (size_t)e > len)
            fail_msg("bad gold span %zu", i);
        const unsigned char *u = (const unsigned char *)text;
        size_t a = (size_t)s, b = (size_t)e;
        while (a < b) {
            uint32_t cp;
            size_t k = utf8_next(u, len, a, &cp);
            if (!is_space(cp))
                break;
            a += k;
        }
        while (b > a) {
            size_t q = b - 1;
            while (q > a && (u[q] & 0xC0) == 0x80)
                q--;
            uint32_t cp;
            utf8_next(u, len, q, &cp);
            if (!is_space(cp))
                break;
            b = q;
        }
        out[i].start = (uint32_t)a;
        out[i].end = (uint32_t)b;
    }
    return n;
}

/* Runs one case object ({"id", "text", "sentences", optional "regions"})
 * and compares its sentences with the gold ones. Returns 1 when every
 * sentence is exactly right, else prints the case and returns 0. */
static int
run_case(nlpd_split *sp, json_t *c)
{
    const char *id = json_string_value(json_object_get(c, "id"));
    json_t *jt = json_object_get(c, "text");
    json_t *js = json_object_get(c, "sentences");
    if (id == NULL || !json_is_string(jt) || !json_is_array(js))
        fail_msg("a case without id, text or sentences");
    const char *text = json_string_value(jt);
    size_t len = json_string_length(jt);

    nlpd_region reg[16];
    size_t nr = 0;
    json_t *jr = json_object_get(c, "regions");
    if (jr != NULL) {
        nr = json_array_size(jr);
        if (nr > N_ELEMS(reg))
            fail_msg("case %s: too many regions", id);
        for (size_t i = 0; i < nr; i++) {
            json_t *r = json_array_get(jr, i);
            reg[i].kind = region_kind_by_name(json_string_value(json_object_get(r, "kind")));
            reg[i].start = (uint32_t)json_integer_value(json_object_get(r, "start"));
            reg[i].end = (uint32_t)json_integer_value(json_object_get(r, "end"));
        }
    }

    nlpd_span gold[128];
    size_t ng = read_spans(js, text, len, gold, N_ELEMS(gold));
    run_len(sp, text, len, jr != NULL ? reg : NULL, nr);
    const nlpd_split_sentence *sen;
    size_t ns = nlpd_split_sentences(sp, &sen);
    int ok = ns == ng;
    for (size_t i = 0; ok && i < ns; i++)
        ok = sen[i].start == gold[i].start && sen[i].end == gold[i].end;
    if (!ok) {
        char got[8192];
        print_message("FAIL %s: \"%s\"\n  expected:\n", id, text);
        for (size_t i = 0; i < ng; i++) {
            print_message("    [%u,%u) \"%.*s\"\n", gold[i].start, gold[i].end,
                          (int)(gold[i].end - gold[i].start), text + gold[i].start);
        }
        print_message("  got:\n%s", sentence_list(sp, text, got, sizeof(got)));
    }
    return ok;
}

/* Runs every case of a JSONL file; sets *total. Returns the number passed. */
static size_t
run_case_file(nlpd_split *sp, const char *buf, size_t len, size_t *total)
{
    size_t passed = 0, n = 0, line = 0;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl != NULL ? (size_t)(nl - buf) : len;
        line++;
        if (e > p) {
            json_error_t err;
            json_t *c = json_loadb(buf + p, e - p, 0, &err);
            if (c == NULL)
                fail_msg("line %zu: %s", line, err.text);
            n++;
            passed += (size_t)run_case(sp, c);
            json_decref(c);
        }
        p = e + 1;
    }
    *total = n;
    return passed;
}

/* ---- the fast paths agree with the general code ----------------------- */

/* Texts that sit on what the byte-mask fast path decides: words, a mark
 * or two after them, clitics, hyphens, numbers, openers, abbreviations,
 * whitespace other than one space, UTF-8 (valid or not) and NUL, and
 * chunks near and across the 64-byte windows. */
static const char *const path_frags[] = {
    "the",
    "The",
    "THE",
    "iPhone",
    "a",
    "I",
    "x",
    "of",
    "It",
    "am",
    "pm",
    "said",
    "words,",
    "word.",
    "Word.",
    "end!",
    "why?",
    "(a)",
    "(1)",
    "[2]",
    "\"Over",
    "\"It's",
    "(Foundation",
    "limited,\"",
    "prosecuted.\"",
    "expansion\".",
    "83),",
    "said:",
    "Ebbers'",
    "country's",
    "IT'S",
    "don't",
    "can't",
    "DON'T",
    "Isn't.",
    "won't,\"",
    "N'T",
    "x-n't",
    "'n't",
    "don'tx",
    "don't3",
    "hadn't've",
    "o'clock",
    "rock'n'roll",
    "well-known",
    "US-UK",
    "a-",
    "-b",
    "x-y-z",
    "-",
    "--",
    "---",
    "2003",
    "2003.",
    "2,500",
    "55.3",
    "1.2.3",
    "1,,2",
    "2,500,",
    "5.5%,",
    "9.9.",
    "(0.30)",
    "1.5bn",
    "3,",
    "2.9bn.",
    "21st,",
    "1960s.",
    "0530GMT",
    "(V8)",
    "V8N'T",
    "V8don't",
    "ITV1's",
    "4x4-drive",
    "V8,5",
    "9a9.9",
    "3%",
    "0.25%",
    "21st",
    "V8",
    "1990s",
    "No.",
    "No. 5",
    "Mr.",
    "Dr.",
    "U.S.",
    "e.g.",
    "etc...",
    "p.m.",
    "A.",
    "J. R. R.",
    "approx.",
    "Inc.",
    "www.bbc.co.uk",
    "http://x.com/a(b).",
    "a@b.com",
    "@handle",
    "#tag",
    ".",
    ",",
    ";",
    ":",
    "!",
    "?",
    "...",
    "'",
    "\"",
    "(",
    ")",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\r\n",
    "\x7f",
    "\x01",
    "\0",
    "\xC3\xA9t\xC3\xA9",
    "caf\xC3\xA9",
    "\xE2\x80\x9CQuote\xE2\x80\x9D",
    "Russia\xE2\x80\x99s",
    "\xE2\x80\x94",
    "\xE2\x80\xA6",
    "\xF0\x9F\x98\x80",
    "\xCC\x81",
    "\xC2\xA0",
    "\xE2\x80\xA8",
    "\xFF",
    "\xC3",
    "\xE2\x80",
    "\xEF\xBF\xBD",
    "\xE3\x80\x82",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmn,",
    "Abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopq",
    "abcdefghijklmnopqrstuvwxyzabcdef.",
    "abcdefghijklmnopqrstuvwxyzabcdefg,",
};

/* A text of random path_frags, single spaces between most of them. */
static size_t
path_text(uint64_t *seed, char *text, size_t cap, unsigned frags)
{
    size_t n = 0;
    for (unsigned i = 0; i < frags; i++) {
        const char *x = path_frags[rnd(seed) % N_ELEMS(path_frags)];
        size_t xl = x[0] == '\0' ? 1 : strlen(x);
        if (n + xl + 1 > cap)
            break;
        memcpy(text + n, x, xl);
        n += xl;
        if (rnd(seed) % 4 != 0)
            text[n++] = ' ';
    }
    return n;
}

static void
assert_same_tokens(const nlpd__toks *a, const nlpd__toks *b, size_t shift, const char *what)
{
    if (a->n != b->n)
        fail_msg("%s: %zu tokens, not %zu", what, b->n, a->n);
    for (size_t i = 0; i < a->n; i++) {
        const nlpd_split_token *x = &a->v[i], *y = &b->v[i];
        if (x->start + shift != y->start || x->end + shift != y->end || x->shape != y->shape ||
            x->flags != y->flags)
            fail_msg(
                "%s: token %zu is [%u, %u) shape %u flags %u, not [%zu, %zu) shape %u flags %u",
                what, i, y->start, y->end, y->shape, y->flags, x->start + shift, x->end + shift,
                x->shape, x->flags);
    }
}

static void
assert_same_sentences(const nlpd__sents *a, const nlpd__sents *b, const char *what)
{
    if (a->n != b->n)
        fail_msg("%s: %zu sentences, not %zu", what, b->n, a->n);
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(&a->v[i], &b->v[i], sizeof(a->v[i])) != 0)
            fail_msg("%s: sentence %zu differs", what, i);
}

/* Tokenizes text[0, n) (an exact-size heap copy, so that a read past its
 * end shows under AddressSanitizer) by every path and splits it with and
 * without the plain bits: all must agree. */
static void
check_paths(const nlpd_split_model *m, const char *text, size_t n)
{
    char *t = malloc(n > 0 ? n : 1);
    assert_non_null(t);
    memcpy(t, text, n);
    nlpd__toks tk[4] = {{0}};
    for (int mode = 0; mode < 4; mode++)
        assert_int_equal(nlpd__tokenize_mode(m, t, 0, n, &tk[mode], mode), 0);
    assert_same_tokens(&tk[0], &tk[1], 0, "masks made byte by byte");
    assert_same_tokens(&tk[0], &tk[2], 0, "masks made with SSE2");
    assert_same_tokens(&tk[0], &tk[3], 0, "masks made with AVX2");
    if (tk[3].n > 0) {
        static const nlpd_split_opts opts[2] = {NLPD_SPLIT_OPTS_INIT, {7, 60, 1}};
        for (int k = 0; k < 2; k++) {
            nlpd__sents with = {0}, without = {0};
            assert_int_equal(
                nlpd__split_region(m, &opts[k], t, tk[3].v, tk[3].plain, 0, tk[3].n, &with), 0);
            assert_int_equal(
                nlpd__split_region(m, &opts[k], t, tk[3].v, NULL, 0, tk[3].n, &without), 0);
            assert_same_sentences(&without, &with, "sentences with the plain bits");
            nlpd_free(with.v);
            nlpd_free(without.v);
        }
    }
    for (int mode = 0; mode < 4; mode++) {
        nlpd_free(tk[mode].v);
        nlpd_free(tk[mode].plain);
    }
    free(t);
}

static void
test_split_fast_paths_give_the_tokens_and_sentences_of_the_general_code(void **state)
{
    fixture *f = *state;
    uint64_t seed = 7;
    char text[2048];
    for (int round = 0; round < 1500; round++) {
        size_t n =
            path_text(&seed, text, sizeof(text), 1 + rnd(&seed) % (round % 10 == 0 ? 300 : 40));
        check_paths(f->model, text, n);
        /* every length near a window's end and the text's own end */
        if (round % 50 == 0)
            for (size_t cut = 0; cut <= n && cut < 140; cut++)
                check_paths(f->model, text, cut);
    }
}

/* The same text after 0 to 70 bytes of whitespace: the same tokens, moved
 * (the fast path reads the text in windows of 64 bytes from where a chunk
 * starts, and near the end from a copy). */
static void
test_split_gives_the_same_tokens_wherever_the_text_starts(void **state)
{
    fixture *f = *state;
    uint64_t seed = 11;
    char text[1024], moved[1200];
    for (int round = 0; round < 200; round++) {
        size_t n = path_text(&seed, text, sizeof(text), 1 + rnd(&seed) % 30);
        assert_int_equal(nlpd_split_run(f->sp, text, n, NULL, 0), 0);
        const nlpd_split_token *tok;
        size_t nt = nlpd_split_tokens(f->sp, &tok);
        nlpd__toks first = {0};
        first.v = malloc((nt > 0 ? nt : 1) * sizeof(*tok));
        assert_non_null(first.v);
        memcpy(first.v, tok, nt * sizeof(*tok));
        first.n = nt;
        for (size_t k = 1; k <= 70; k++) {
            memset(moved, ' ', k);
            memcpy(moved + k, text, n);
            assert_int_equal(nlpd_split_run(f->sp, moved, k + n, NULL, 0), 0);
            nlpd__toks again = {0};
            again.n = nlpd_split_tokens(f->sp, &tok);
            again.v = (nlpd_split_token *)(uintptr_t)tok;
            assert_same_tokens(&first, &again, k, "the text moved");
            /* and as a body region inside other text */
            nlpd_region reg = {NLPD_REGION_BODY, (uint32_t)k, (uint32_t)(k + n)};
            memset(moved, 'x', k);
            moved[k - 1] = ' ';
            assert_int_equal(nlpd_split_run(f->sp, moved, k + n, &reg, 1), 0);
            again.n = nlpd_split_tokens(f->sp, &tok);
            again.v = (nlpd_split_token *)(uintptr_t)tok;
            assert_same_tokens(&first, &again, k, "the text as a region");
        }
        free(first.v);
    }
}

/* ---- group setup -------------------------------------------------------- */

static int
group_setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    if (nlpd_split_model_load_builtin(&f->model, "en") != 0 ||
        nlpd_split_new(&f->sp, f->model, NULL) != 0) {
        nlpd_split_free(&f->sp);
        nlpd_split_model_free(&f->model);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
group_teardown(void **state)
{
    fixture *f = *state;
    nlpd_split_free(&f->sp);
    nlpd_split_model_free(&f->model);
    free(f);
    free(check_starts);
    free(check_covered);
    return 0;
}

/* ---- tokens ------------------------------------------------------------- */

static void
test_split_keeps_hyphenated_words_as_one_token(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "Kim Jong-un watched an F-16-launched missile", "Kim", "Jong-un",
                  "watched", "an", "F-16-launched", "missile", NULL);
    assert_tokens(f->sp, "a well-known, long-running state-owned firm", "a", "well-known", ",",
                  "long-running", "state-owned", "firm", NULL);
}

static void
test_split_keeps_numbers_with_separators_and_percent_as_one_token(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "It rose 3.5% to 1,250.75 at 1026.253.553 and 42", "It", "rose", "3.5%",
                  "to", "1,250.75", "at", "1026.253.553", "and", "42", NULL);
    assert_tokens(f->sp, "Turnout was 67%, up from 0.5 in 2019", "Turnout", "was", "67%", ",", "up",
                  "from", "0.5", "in", "2019", NULL);
}

static void
test_split_makes_currency_sign_its_own_token(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp,
                  "She has $100.00 and \xE2\x82\xAC"
                  "5 left",
                  "She", "has", "$", "100.00", "and", "\xE2\x82\xAC", "5", "left", NULL);
    assert_tokens(f->sp,
                  "a fine of \xC2\xA3"
                  "1,500,000",
                  "a", "fine", "of", "\xC2\xA3", "1,500,000", NULL);
}

static void
test_split_keeps_times_and_ordinals_as_one_token(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "at 10:30 on the 5th and 21st floors", "at", "10:30", "on", "the", "5th",
                  "and", "21st", "floors", NULL);
    assert_tokens(f->sp, "the 2nd and 3rd rounds at 23:59", "the", "2nd", "and", "3rd", "rounds",
                  "at", "23:59", NULL);
}

static void
test_split_keeps_urls_emails_handles_and_hashtags_whole(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp,
                  "See https://www.example.org/a/b_c.html?d=1&e=2 and "
                  "www.example.com/news or "
                  "mail press@example.com, @nlpd_news #Breaking",
                  "See", "https://www.example.org/a/b_c.html?d=1&e=2", "and",
                  "www.example.com/news", "or", "mail", "press@example.com", ",", "@nlpd_news",
                  "#Breaking", NULL);
}

static void
test_split_splits_sentence_punctuation_off_urls_and_emails(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp,
                  "Read https://example.com. Then www.example.org! Or write to "
                  "Jane.Doe@example.com.",
                  "Read", "https://example.com", ".", "Then", "www.example.org", "!", "Or", "write",
                  "to", "Jane.Doe@example.com", ".", NULL);
    assert_tokens(f->sp, "Is it https://example.com/a?", "Is", "it", "https://example.com/a", "?",
                  NULL);
    assert_tokens(f->sp, "Follow @nlpd_news. Use #Election2024, please", "Follow", "@nlpd_news",
                  ".", "Use", "#Election2024", ",", "please", NULL);
}

static void
test_split_keeps_period_in_abbreviations_and_initials(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "Dr. J. Smith of the U.S. Army left at 9 a.m. on Monday.", "Dr.", "J.",
                  "Smith", "of", "the", "U.S.", "Army", "left", "at", "9", "a.m.", "on", "Monday",
                  ".", NULL);
    assert_tokens(f->sp, "Mr. J. R. R. Tolkien met Gen. Gerasimov", "Mr.", "J.", "R.", "R.",
                  "Tolkien", "met", "Gen.", "Gerasimov", NULL);
}

static void
test_split_keeps_period_in_abbreviation_that_ends_a_sentence(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "Shares were sold to Pitt & Co. The deal closed on Friday.", "Shares",
                  "were", "sold", "to", "Pitt", "&", "Co.", "The", "deal", "closed", "on", "Friday",
                  ".", NULL);
    assert_tokens(f->sp, "He flew back to the U.S. They met him there.", "He", "flew", "back", "to",
                  "the", "U.S.", "They", "met", "him", "there", ".", NULL);
    assert_tokens(f->sp, "He lives in the U.S.", "He", "lives", "in", "the", "U.S.", NULL);
}

static void
test_split_splits_period_off_ordinary_word_at_sentence_end(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "He went to the bank. It was closed.", "He", "went", "to", "the", "bank",
                  ".", "It", "was", "closed", ".", NULL);
    /* A capitalized word too: "Moscow." is no abbreviation. */
    assert_tokens(f->sp, "They flew to Moscow. Talks began.", "They", "flew", "to", "Moscow", ".",
                  "Talks", "began", ".", NULL);
}

static void
test_split_splits_clitics_off_words(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "Russia's army doesn't say it can't win", "Russia", "'s", "army", "does",
                  "n't", "say", "it", "ca", "n't", "win", NULL);
    assert_tokens(f->sp, "I'm sure they're, we've, you'll and she'd go; don't", "I", "'m", "sure",
                  "they", "'re", ",", "we", "'ve", ",", "you", "'ll", "and", "she", "'d", "go", ";",
                  "do", "n't", NULL);
}

static void
test_split_splits_clitics_with_typographic_apostrophe(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "Russia\xE2\x80\x99s army don\xE2\x80\x99t, I\xE2\x80\x99m", "Russia",
                  "\xE2\x80\x99s", "army", "do", "n\xE2\x80\x99t", ",", "I", "\xE2\x80\x99m", NULL);
    assert_tokens(f->sp, "Shoigu\xE2\x80\x99s visit can\xE2\x80\x99t wait", "Shoigu",
                  "\xE2\x80\x99s", "visit", "ca", "n\xE2\x80\x99t", "wait", NULL);
}

static void
test_split_keeps_word_internal_apostrophe_that_is_not_a_clitic(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "O'Brien met D'Amato and O\xE2\x80\x99Neill", "O'Brien", "met", "D'Amato",
                  "and", "O\xE2\x80\x99Neill", NULL);
}

static void
test_split_makes_quotes_brackets_and_punctuation_separate_tokens(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "\"Yes,\" he said (quietly) [sic] \xE2\x80\x94 then left; done: ok?", "\"",
                  "Yes", ",", "\"", "he", "said", "(", "quietly", ")", "[", "sic", "]",
                  "\xE2\x80\x94", "then", "left", ";", "done", ":", "ok", "?", NULL);
    assert_tokens(f->sp,
                  "\xE2\x80\x9CReady,\xE2\x80\x9D he said, \xE2\x80\x98not "
                  "yet\xE2\x80\x99.",
                  "\xE2\x80\x9C", "Ready", ",", "\xE2\x80\x9D", "he", "said", ",", "\xE2\x80\x98",
                  "not", "yet", "\xE2\x80\x99", ".", NULL);
}

static void
test_split_keeps_runs_of_terminal_punctuation_together(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "What?! No!! Wait... Then.... Really???", "What", "?!", "No", "!!", "Wait",
                  "...", "Then", "....", "Really", "???", NULL);
}

static void
test_split_makes_three_tokens_of_spaced_ellipsis(void **state)
{
    fixture *f = *state;
    assert_tokens(f->sp, "We regret . . . the loss", "We", "regret", ".", ".", ".", "the", "loss",
                  NULL);
}

static void
test_split_makes_one_token_per_emoji_sequence(void **state)
{
    fixture *f = *state;
    /* thumbs up + skin tone, heart + VS16, family (ZWJ), two thumbs up. */
    assert_tokens(f->sp,
                  "Great \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xE2\x9D\xA4\xEF\xB8\x8F "
                  "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"
                  " news "
                  "\xF0\x9F\x91\x8D\xF0\x9F\x91\x8D",
                  "Great", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "\xE2\x9D\xA4\xEF\xB8\x8F",
                  "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91"
                  "\xA7",
                  "news", "\xF0\x9F\x91\x8D", "\xF0\x9F\x91\x8D", NULL);
    /* An emoji right after a word is its own token. */
    assert_tokens(f->sp, "We won\xF0\x9F\x8E\x89!", "We", "won", "\xF0\x9F\x8E\x89", "!", NULL);
    /* Two flags (regional indicator pairs) side by side. */
    assert_tokens(f->sp, "\xF0\x9F\x87\xB0\xF0\x9F\x87\xB7\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5 talks",
                  "\xF0\x9F\x87\xB0\xF0\x9F\x87\xB7", "\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5", "talks",
                  NULL);
}

static void
test_split_keeps_combining_marks_with_their_base(void **state)
{
    fixture *f = *state;
    /* e + U+0301, i + U+0308, A + U+030A, Cyrillic with U+0301 (stress). */
    assert_tokens(f->sp,
                  "cafe\xCC\x81 nai\xCC\x88ve A\xCC\x8A"
                  "ngstro\xCC\x88m "
                  "\xD0\xBC\xD0\xB8\xCC\x81\xD1\x80",
                  "cafe\xCC\x81", "nai\xCC\x88ve", "A\xCC\x8Angstro\xCC\x88m",
                  "\xD0\xBC\xD0\xB8\xCC\x81\xD1\x80", NULL);
    /* A mark on the last letter before a period stays on the letter. */
    assert_tokens(f->sp, "He said olle\xCC\x81. Then", "He", "said", "olle\xCC\x81", ".", "Then",
                  NULL);
}

static void
test_split_never_puts_whitespace_inside_a_token(void **state)
{
    fixture *f = *state;
    /* NBSP, thin space, ideographic space, tab, CR LF, line separator,
     * ogham space mark, narrow NBSP, medium math space. */
    assert_tokens(f->sp,
                  "a\xC2\xA0"
                  "b\xE2\x80\x89"
                  "c\xE3\x80\x80"
                  "d\te\r\nf\xE2\x80\xA8g\xE1\x9A\x80h\xE2\x80\xAFi\xE2\x81\x9Fj",
                  "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", NULL);
    /* Between digits a space still splits: "1 000" is two tokens. */
    assert_tokens(f->sp,
                  "1\xC2\xA0"
                  "000 and 3\xE2\x80\xAF%",
                  "1", "000", "and", "3", "%", NULL);
}

static void
test_split_classifies_token_shapes(void **state)
{
    fixture *f = *state;

    static const struct {
        const char *text;
        const char *token;
        unsigned shape;
    } cases[] = {
        {"the news from Seoul", "news", NLPD_SHAPE_LOWER},
        {"the news from Seoul", "Seoul", NLPD_SHAPE_CAPITALIZED},
        {"and I said", "I", NLPD_SHAPE_CAPITALIZED},
        {"met Kim Jong-un there", "Jong-un", NLPD_SHAPE_CAPITALIZED},
        {"My name is Jonas E. Smith", "E.", NLPD_SHAPE_CAPITALIZED},
        {"met Dr. Smith", "Dr.", NLPD_SHAPE_CAPITALIZED},
        {"a plan A for them", "A", NLPD_SHAPE_CAPITALIZED},
        {"\xD0\x92 \xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB5 today",
         "\xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB5", NLPD_SHAPE_CAPITALIZED},
        {"according to TASS today", "TASS", NLPD_SHAPE_UPPER},
        {"the U.S. Army", "U.S.", NLPD_SHAPE_UPPER},
        {"the NATO-led force", "NATO-led", NLPD_SHAPE_MIXED},
        {"said \xD0\x9F\xD0\xA3\xD0\xA2\xD0\x98\xD0\x9D today",
         "\xD0\x9F\xD0\xA3\xD0\xA2\xD0\x98\xD0\x9D", NLPD_SHAPE_UPPER},
        {"a new iPhone today", "iPhone", NLPD_SHAPE_MIXED},
        {"ate at McDonald today", "McDonald", NLPD_SHAPE_MIXED},
        {"at 9 a.m. today", "a.m.", NLPD_SHAPE_LOWER},
        {"Russia's army", "'s", NLPD_SHAPE_LOWER},
        {"it is 42 now", "42", NLPD_SHAPE_NUMBER},
        {"it is 1,250.75 now", "1,250.75", NLPD_SHAPE_NUMBER},
        {"up 3.5% now", "3.5%", NLPD_SHAPE_NUMBER},
        {"the G7 summit", "G7", NLPD_SHAPE_ALNUM},
        {"the 5th time", "5th", NLPD_SHAPE_ALNUM},
        {"at 10:30 today", "10:30", NLPD_SHAPE_ALNUM},
        {"an F-16 jet", "F-16", NLPD_SHAPE_ALNUM},
        {"It ended.", ".", NLPD_SHAPE_PUNCT},
        {"a (b) c", "(", NLPD_SHAPE_PUNCT},
        {"He said \xE2\x80\x9Cno\xE2\x80\x9D", "\xE2\x80\x9C", NLPD_SHAPE_PUNCT},
        {"Why?! Now", "?!", NLPD_SHAPE_PUNCT},
        {"it costs $5", "$", NLPD_SHAPE_SYMBOL},
        {"a + b", "+", NLPD_SHAPE_SYMBOL},
        {"it costs \xE2\x82\xAC\x35", "\xE2\x82\xAC", NLPD_SHAPE_SYMBOL},
        {"see https://example.com/a now", "https://example.com/a", NLPD_SHAPE_URL},
        {"see www.example.com now", "www.example.com", NLPD_SHAPE_URL},
        {"mail press@example.com now", "press@example.com", NLPD_SHAPE_EMAIL},
        {"follow @nlpd_news now", "@nlpd_news", NLPD_SHAPE_HANDLE},
        {"tag #Breaking now", "#Breaking", NLPD_SHAPE_HASHTAG},
        {"great \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD news", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
         NLPD_SHAPE_EMOJI},
    };

    int bad = 0;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        run_str(f->sp, cases[i].text);
        const nlpd_split_token *t = find_token(f->sp, cases[i].text, cases[i].token);
        if (t->shape != cases[i].shape) {
            print_message("shape of \"%s\" in \"%s\" is %s, expected %s\n", cases[i].token,
                          cases[i].text, shape_name(t->shape), shape_name(cases[i].shape));
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void
test_split_sets_space_newline_clitic_and_abbrev_flags(void **state)
{
    fixture *f = *state;
    const char *text = "Hello, world\nRussia's Dr. Smith went to the bank.";
    run_str(f->sp, text);
    const nlpd_split_token *t = find_token(f->sp, text, "Hello");
    assert_int_equal(t->flags, 0);
    t = find_token(f->sp, text, ",");
    assert_int_equal(t->flags, NLPD_TOKEN_SPACE_AFTER);
    t = find_token(f->sp, text, "world");
    assert_int_equal(t->flags, NLPD_TOKEN_SPACE_AFTER | NLPD_TOKEN_NEWLINE_AFTER);
    t = find_token(f->sp, text, "Russia");
    assert_int_equal(t->flags, 0);
    t = find_token(f->sp, text, "'s");
    assert_int_equal(t->flags, NLPD_TOKEN_CLITIC | NLPD_TOKEN_SPACE_AFTER);
    t = find_token(f->sp, text, "Dr.");
    assert_int_equal(t->flags, NLPD_TOKEN_ABBREV | NLPD_TOKEN_SPACE_AFTER);
    t = find_token(f->sp, text, "bank");
    assert_int_equal(t->flags, 0);
    t = find_token(f->sp, text, ".");
    assert_int_equal(t->flags, 0); /* the end of the text: nothing follows */

    text = "He doesn't live in the U.S. anymore";
    run_str(f->sp, text);
    t = find_token(f->sp, text, "does");
    assert_int_equal(t->flags & NLPD_TOKEN_CLITIC, 0);
    t = find_token(f->sp, text, "n't");
    assert_int_equal(t->flags, NLPD_TOKEN_CLITIC | NLPD_TOKEN_SPACE_AFTER);
    t = find_token(f->sp, text, "U.S.");
    assert_int_equal(t->flags, NLPD_TOKEN_ABBREV | NLPD_TOKEN_SPACE_AFTER);
}

/* ---- sentences ---------------------------------------------------------- */

static void
test_split_passes_pysbd_golden_rules(void **state)
{
    fixture *f = *state;
    const char *path = nlpd_test_shared_data("pysbd-golden-rules/golden_rules_en.jsonl");
    if (path == NULL) {
        print_message("skipped: ../shared/data not found\n");
        skip();
    }
    size_t len;
    char *buf = nlpd_test_read_file(path, &len);
    assert_non_null(buf);
    size_t total;
    size_t passed = run_case_file(f->sp, buf, len, &total);
    free(buf);
    print_message("pySBD golden rules: %zu of %zu cases fully correct\n", passed, total);
    assert_int_equal(total, 48);
    assert_true(passed >= 47);
}

static void
test_split_passes_own_news_cases(void **state)
{
    fixture *f = *state;
    size_t len;
    char *buf = nlpd_test_fixture("split/cases.jsonl", &len);
    size_t total;
    size_t passed = run_case_file(f->sp, buf, len, &total);
    free(buf);
    print_message("split/cases.jsonl: %zu of %zu cases fully correct\n", passed, total);
    assert_true(total >= 60);
    assert_int_equal(passed, total);
}

static void
test_split_includes_closing_quotes_and_brackets_in_sentence(void **state)
{
    fixture *f = *state;
    const char *t1 = "He said: \"The war is over.\" Crowds cheered.";
    assert_sentences(f->sp, t1, strlen(t1), NULL, 0, "He said: \"The war is over.\"",
                     "Crowds cheered.", NULL);
    const char *t2 = "(The vote was close.) Turnout was low.";
    assert_sentences(f->sp, t2, strlen(t2), NULL, 0, "(The vote was close.)", "Turnout was low.",
                     NULL);
    const char *t3 = "\xE2\x80\x9CWe are ready.\xE2\x80\x9D) The army agreed.";
    assert_sentences(f->sp, t3, strlen(t3), NULL, 0, "\xE2\x80\x9CWe are ready.\xE2\x80\x9D)",
                     "The army agreed.", NULL);
}

static void
test_split_breaks_sentences_at_paragraph_breaks_and_region_ends(void **state)
{
    fixture *f = *state;
    /* A blank line, with or without blanks on it, ends a sentence. */
    const char *t1 = "Putin replaces Shoigu\n\nThe Kremlin said on Sunday\n "
                     "\t\nthat talks go on";
    assert_sentences(f->sp, t1, strlen(t1), NULL, 0, "Putin replaces Shoigu",
                     "The Kremlin said on Sunday", "that talks go on", NULL);
    /* A region end too, even in the middle of a sentence. */
    const char *t2 = "The minister said the talks would resume on Monday.";
    uint32_t cut = (uint32_t)(strstr(t2, " would") - t2);
    nlpd_region r2[] = {{NLPD_REGION_BODY, 0, cut},
                        {NLPD_REGION_BODY, cut + 1, (uint32_t)strlen(t2)}};
    assert_sentences(f->sp, t2, strlen(t2), r2, 2, "The minister said the talks",
                     "would resume on Monday.", NULL);
    /* The line breaks of text wrapped at 72 columns are no boundaries. */
    const char *t3 = "The defence minister said on Sunday that the talks with the delegation\n"
                     "would resume in Geneva on Monday. Both sides have agreed to a ceasefire\n"
                     "along the whole front line until then.";
    assert_sentences(
        f->sp, t3, strlen(t3), NULL, 0,
        "The defence minister said on Sunday that the talks with the delegation\n"
        "would resume in Geneva on Monday.",
        "Both sides have agreed to a ceasefire\nalong the whole front line until then.", NULL);
}

static void
test_split_gives_no_tokens_to_separator_and_source_line_regions(void **state)
{
    fixture *f = *state;
    const char *text = "Putin replaces Shoigu\n * * * \nHe said so. Fine.\nNews Hub\nleft out";
    size_t len = strlen(text);
    const char *sep = strstr(text, "* * *");
    const char *body = strstr(text, "He said");
    const char *src = strstr(text, "News Hub");
    nlpd_region r[] = {
        {NLPD_REGION_HEADLINE, 0, 21},
        {NLPD_REGION_SEPARATOR, (uint32_t)(sep - text), (uint32_t)(sep - text + 5)},
        {NLPD_REGION_BODY, (uint32_t)(body - text), (uint32_t)(body - text + 17)},
        {NLPD_REGION_SOURCE_LINE, (uint32_t)(src - text), (uint32_t)(src - text + 8)},
        /* "left out" is in no region at all */
    };
    assert_sentences(f->sp, text, len, r, N_ELEMS(r), "Putin replaces Shoigu", "He said so.",
                     "Fine.", NULL);
    const nlpd_split_token *tok;
    size_t nt = nlpd_split_tokens(f->sp, &tok);
    assert_int_equal(nt, 3 + 6); /* He said so . Fine . */

    /* Only layout: no tokens, no sentences. */
    nlpd_region only[] = {{NLPD_REGION_SEPARATOR, 0, 21}, {NLPD_REGION_SOURCE_LINE, 22, 27}};
    run_len(f->sp, text, len, only, 2);
    const nlpd_split_sentence *sen;
    assert_int_equal(nlpd_split_tokens(f->sp, &tok), 0);
    assert_int_equal(nlpd_split_sentences(f->sp, &sen), 0);
}

static void
test_split_makes_one_sentence_per_paragraph_when_sentences_are_off(void **state)
{
    fixture *f = *state;
    nlpd_split_opts o = NLPD_SPLIT_OPTS_INIT;
    o.sentences = 0;
    nlpd_split *sp = NULL;
    assert_int_equal(nlpd_split_new(&sp, f->model, &o), 0);
    const char *text = "One thing. Two things!\n\nThree. Four?";
    assert_sentences(sp, text, strlen(text), NULL, 0, "One thing. Two things!", "Three. Four?",
                     NULL);
    /* The tokens are the same as with sentences on. */
    result off = result_take(sp);
    run_str(f->sp, text);
    const nlpd_split_token *tok;
    assert_int_equal(nlpd_split_tokens(f->sp, &tok), off.nt);
    for (size_t i = 0; i < off.nt; i++) {
        assert_int_equal(tok[i].start, off.tok[i].start);
        assert_int_equal(tok[i].end, off.tok[i].end);
        assert_int_equal(tok[i].shape, off.tok[i].shape);
    }
    result_free(&off);
    nlpd_split_free(&sp);
    assert_null(sp);
}

/* ---- limits ------------------------------------------------------------- */

/* Lower-case words without punctuation, about `bytes` long; *words gets
 * their number. */
static char *
make_run_on(uint64_t seed, size_t bytes, size_t word_len, size_t *len, size_t *words)
{
    static const char *w[] = {"the",    "minister",  "said",  "talks", "would", "resume",
                              "in",     "geneva",    "after", "a",     "long",  "pause",
                              "and",    "officials", "added", "that",  "both",  "sides",
                              "agreed", "to",        "meet",  "again", "next",  "week"};
    char *buf = malloc(bytes + 64);
    assert_non_null(buf);
    size_t o = 0, n = 0;
    while (o + 40 < bytes) {
        if (n > 0)
            buf[o++] = ' ';
        if (word_len > 0) {
            for (size_t i = 0; i < word_len; i++)
                buf[o++] = (char)('a' + rnd(&seed) % 26);
        } else {
            const char *x = w[rnd(&seed) % N_ELEMS(w)];
            size_t xl = strlen(x);
            memcpy(buf + o, x, xl);
            o += xl;
        }
        n++;
    }
    buf[o] = '\0';
    *len = o;
    *words = n;
    return buf;
}

/* All sentences but the last flagged truncated, the last not. */
static void
assert_truncated_but_last(const nlpd_split *sp)
{
    const nlpd_split_sentence *sen;
    size_t ns = nlpd_split_sentences(sp, &sen);
    assert_true(ns > 0);
    for (size_t i = 0; i + 1 < ns; i++) {
        if (!(sen[i].flags & NLPD_SENTENCE_TRUNCATED)) {
            fail_msg("sentence %zu of %zu [%u,%u) is not flagged truncated", i, ns, sen[i].start,
                     sen[i].end);
        }
    }
    if (sen[ns - 1].flags & NLPD_SENTENCE_TRUNCATED)
        fail_msg("the last sentence is flagged truncated");
}

static void
test_split_cuts_10mb_paragraph_without_punctuation_at_the_limits(void **state)
{
    fixture *f = *state;
    size_t len, words;
    char *text = make_run_on(7, 10u << 20, 0, &len, &words);
    double t0 = now_s();
    int rc = nlpd_split_run(f->sp, text, len, NULL, 0);
    double dt = now_s() - t0;
    assert_int_equal(rc, 0);
    print_message("10 MB paragraph: %.2f s\n", dt);
    check_run(f->sp, text, len, NULL, 0, &default_limits);
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    assert_int_equal(nlpd_split_tokens(f->sp, &tok), words);
    size_t ns = nlpd_split_sentences(f->sp, &sen);
    assert_true(ns >= words / NLPD_SPLIT_MAX_SENTENCE_TOKENS);
    assert_truncated_but_last(f->sp);
    /* No comma, semicolon, colon or dash: every cut is at the limit. */
    for (size_t i = 0; i + 1 < ns; i++) {
        if (sen[i].n_tokens != NLPD_SPLIT_MAX_SENTENCE_TOKENS) {
            fail_msg("sentence %zu has %u tokens, expected a cut at %u", i, sen[i].n_tokens,
                     NLPD_SPLIT_MAX_SENTENCE_TOKENS);
        }
    }
    assert_true(dt < 30.0);
    free(text);
}

static void
test_split_cuts_sentence_at_the_byte_limit(void **state)
{
    fixture *f = *state;
    nlpd_split_opts o = NLPD_SPLIT_OPTS_INIT;
    o.max_sentence_bytes = 200;
    nlpd_split *sp = NULL;
    assert_int_equal(nlpd_split_new(&sp, f->model, &o), 0);
    size_t len, words;
    char *text = make_run_on(11, 20000, 9, &len, &words); /* words of 9 letters */
    assert_int_equal(nlpd_split_run(sp, text, len, NULL, 0), 0);
    limits lim = {NLPD_SPLIT_MAX_SENTENCE_TOKENS, 200};
    check_run(sp, text, len, NULL, 0, &lim);
    assert_truncated_but_last(sp);
    const nlpd_split_sentence *sen;
    size_t ns = nlpd_split_sentences(sp, &sen);
    /* Cut at the limit: the next word would not have fitted. */
    for (size_t i = 0; i + 1 < ns; i++) {
        if (sen[i].end - sen[i].start + 10 <= 200) {
            fail_msg("sentence %zu has only %u bytes, the next word fits in 200", i,
                     sen[i].end - sen[i].start);
        }
    }
    free(text);
    nlpd_split_free(&sp);
}

static void
test_split_cuts_run_on_sentence_after_comma_in_last_quarter(void **state)
{
    fixture *f = *state;
    nlpd_split_opts o = NLPD_SPLIT_OPTS_INIT;
    o.max_sentence_tokens = 20;
    nlpd_split *sp = NULL;
    assert_int_equal(nlpd_split_new(&sp, f->model, &o), 0);

    /* 100 words; a comma after word 3 (token 4: not in the last quarter of
     * the first window of 20) and after word 16 (token 18: in it). */
    char text[2048];
    size_t o2 = 0;
    size_t late_comma = 0;
    for (int i = 1; i <= 100; i++) {
        o2 += (size_t)snprintf(text + o2, sizeof(text) - o2, "%sword%d", i > 1 ? " " : "", i);
        if (i == 3)
            text[o2++] = ',';
        if (i == 16) {
            late_comma = o2;
            text[o2++] = ',';
        }
    }
    text[o2++] = '.';
    text[o2] = '\0';
    assert_int_equal(nlpd_split_run(sp, text, o2, NULL, 0), 0);
    limits lim = {20, NLPD_SPLIT_MAX_SENTENCE_BYTES};
    check_run(sp, text, o2, NULL, 0, &lim);
    assert_truncated_but_last(sp);
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t ns = nlpd_split_sentences(sp, &sen);
    char got[8192];
    assert_int_equal(nt, 100 + 2 + 1);
    if (sen[0].end != late_comma + 1 || sen[0].n_tokens != 18) {
        fail_msg("the first cut is not after the comma of word16:\n%s",
                 sentence_list(sp, text, got, sizeof(got)));
    }
    /* The rest has no comma: cuts at the limit. */
    for (size_t i = 1; i + 1 < ns; i++) {
        if (sen[i].n_tokens != 20) {
            fail_msg("sentence %zu has %u tokens, expected 20:\n%s", i, sen[i].n_tokens,
                     sentence_list(sp, text, got, sizeof(got)));
        }
    }
    assert_int_equal(ns, 1 + (103 - 18 + 19) / 20);
    nlpd_split_free(&sp);
}

static void
test_split_runs_in_linear_time_on_pathological_input(void **state)
{
    fixture *f = *state;
    static const char *units[] = {
        ".",        "!?",     "a.",   "U.S. ",        "(",
        "\"",       "word, ", "x",    "\xCC\x81",     "\xF0\x9F\x91\xA8\xE2\x80\x8D",
        "1,",       "'s",     "Dr. ", "e.g.",         ". ",
        "? ",       "! ",     "... ", "A. ",          "a. ",
        "1. ",      "(a) ",   "\" ",  "\xE2\x80\xA6", "-",
        "http://a", "a/",     "@",    "#a",           "\xEF\xBF\xBD",
        "\xFF",     "a\n",
    };
    size_t max = 2u << 20;
    char *text = malloc(max + 16);
    assert_non_null(text);
    for (size_t u = 0; u < N_ELEMS(units); u++) {
        size_t ul = strlen(units[u]), n = 0;
        while (n + ul <= max) {
            memcpy(text + n, units[u], ul);
            n += ul;
        }
        if (strcmp(units[u], "a/") == 0)
            memcpy(text, "https://", 8); /* one URL of 2 MB */
        /* Sizes growing fourfold: a linear run takes about four times as
         * long as the one before, a quadratic one sixteen times. A step
         * that takes more than eight times as long (the best of three
         * tries, against the noise of a loaded machine) is superlinear,
         * and stops the ladder before it hangs. */
        double prev = 0;
        for (size_t size = 32768; size <= max; size *= 4) {
            size_t len = size - size % ul;
            double dt = 0;
            for (int attempt = 0; attempt < 3; attempt++) {
                double t0 = now_s();
                int rc = nlpd_split_run(f->sp, text, len, NULL, 0);
                double d = now_s() - t0;
                if (rc != 0) {
                    fail_msg("run of %zu bytes of \"%s\" failed: %s", len, units[u],
                             nlpd_err_name(rc));
                }
                dt = attempt == 0 || d < dt ? d : dt;
                if (!(dt > 0.5 && dt > 8.0 * prev))
                    break;
            }
            if (dt > 0.5 && dt > 8.0 * prev) {
                fail_msg("superlinear: %zu bytes of \"%s\" took %.2f s, a quarter as many %.3f s",
                         len, units[u], dt, prev);
            }
            if (dt > 20.0)
                fail_msg("%zu bytes of \"%s\" took %.2f s", len, units[u], dt);
            if (size * 4 > max)
                check_run(f->sp, text, len, NULL, 0, &default_limits);
            prev = dt;
        }
    }
    free(text);
}

/* ---- bad input ---------------------------------------------------------- */

static void
test_split_gives_nothing_for_empty_or_whitespace_only_text(void **state)
{
    fixture *f = *state;
    static const char *texts[] = {
        "",
        " ",
        "\n\n\n",
        " \t\r\n \xC2\xA0\xE2\x80\x83\xE3\x80\x80\xE2\x80\xA8\xE2\x80\xA9",
    };
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    for (size_t i = 0; i < N_ELEMS(texts); i++) {
        run_str(f->sp, "Something first.");
        run_str(f->sp, texts[i]);
        assert_int_equal(nlpd_split_tokens(f->sp, &tok), 0);
        assert_int_equal(nlpd_split_sentences(f->sp, &sen), 0);
    }
    /* An empty text needs no pointer. */
    assert_int_equal(nlpd_split_run(f->sp, NULL, 0, NULL, 0), 0);
    assert_int_equal(nlpd_split_tokens(f->sp, &tok), 0);
}

static void
test_split_handles_punctuation_only_text(void **state)
{
    fixture *f = *state;
    static const char *texts[] = {
        ".",
        "...",
        "!!! ??? ...",
        ". . . . .",
        "\"\"\"",
        "( ) [ ] { }",
        "-- -- --",
        ",,,;;;:::",
        "\xE2\x80\xA6\xE2\x80\xA6 \xE2\x80\x94",
        "?!.\n\n!?.",
        "'' ' ' \xE2\x80\x99",
    };
    for (size_t i = 0; i < N_ELEMS(texts); i++) {
        run_str(f->sp, texts[i]);
        const nlpd_split_token *tok;
        const nlpd_split_sentence *sen;
        assert_true(nlpd_split_tokens(f->sp, &tok) > 0);
        assert_true(nlpd_split_sentences(f->sp, &sen) > 0);
    }
}

static void
test_split_handles_mixed_scripts(void **state)
{
    fixture *f = *state;
    /* Latin, Cyrillic, Han (with its full stop), Arabic, Devanagari, Thai. */
    const char *text = "Shoigu met Kim. \xD0\xA8\xD0\xBE\xD0\xB9\xD0\xB3\xD1\x83 "
                       "\xD0\xB2\xD1\x81\xD1\x82\xD1\x80\xD0\xB5\xD1\x82\xD0\xB8"
                       "\xD0\xBB\xD1\x81\xD1\x8F "
                       "\xD1\x81 \xD0\x9A\xD0\xB8\xD0\xBC\xD0\xBE\xD0\xBC. "
                       "\xE7\xBB\xB4\xE5\x92\x8C\xE5\xB9\xB3\xE3\x80\x82\xE5\x8C"
                       "\x97\xE4\xBA\xAC "
                       "\xD9\x85\xD9\x88\xD8\xB3\xD9\x83\xD9\x88 "
                       "\xD8\xA7\xD9\x84\xD9\x8A\xD9\x88\xD9\x85. "
                       "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4"
                       "\xA4\xE0\xA5\x87 "
                       "\xE0\xB8\xAA\xE0\xB8\xA7\xE0\xB8\xB1\xE0\xB8\xAA\xE0\xB8"
                       "\x94\xE0\xB8\xB5";
    run_str(f->sp, text);
    /* Words of one script stay whole. */
    find_token(f->sp, text, "\xD0\xA8\xD0\xBE\xD0\xB9\xD0\xB3\xD1\x83");
    find_token(f->sp, text, "\xD0\x9A\xD0\xB8\xD0\xBC\xD0\xBE\xD0\xBC");
    find_token(f->sp, text, "\xD9\x85\xD9\x88\xD8\xB3\xD9\x83\xD9\x88");
    find_token(f->sp, text,
               "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0"
               "\xA5\x87");
    const char *t2 = "Shoigu met Kim. \xD0\xA8\xD0\xBE\xD0\xB9\xD0\xB3\xD1\x83 "
                     "\xD0\xB2\xD1\x81\xD1\x82\xD1\x80\xD0\xB5\xD1\x82\xD0\xB8"
                     "\xD0\xBB\xD1\x81\xD1\x8F.";
    assert_sentences(f->sp, t2, strlen(t2), NULL, 0, "Shoigu met Kim.",
                     "\xD0\xA8\xD0\xBE\xD0\xB9\xD0\xB3\xD1\x83 "
                     "\xD0\xB2\xD1\x81\xD1\x82\xD1\x80\xD0\xB5\xD1\x82\xD0\xB8"
                     "\xD0\xBB\xD1\x81\xD1\x8F.",
                     NULL);
}

static void
test_split_handles_emoji_and_stray_marks(void **state)
{
    fixture *f = *state;
    static const char *texts[] = {
        "\xCC\x81\xCC\x81 at the start",       /* marks with no base */
        "after a space \xCC\x88 here",         /* a mark after whitespace */
        "\xE2\x80\x8D\xE2\x80\x8D lone ZWJ",   /* ZWJs alone */
        "\xF0\x9F\x8F\xBD lone skin tone",     /* a modifier alone */
        "\xEF\xB8\x8F lone VS16 \xEF\xB8\x8F", /* variation selectors alone */
        "\xF0\x9F\x91\xA8\xE2\x80\x8D",        /* a ZWJ at the very end */
        "\xF0\x9F\x87\xB0\xF0\x9F\x87\xB7\xF0\x9F\x87\xAF odd indicators",
        ".\xCC\x81 a mark on a period. Then \"\xCC\x81 on a quote",
        "1\xEF\xB8\x8F\xE2\x83\xA3 keycap",
    };
    for (size_t i = 0; i < N_ELEMS(texts); i++)
        run_str(f->sp, texts[i]);
}

static void
test_split_handles_replacement_characters_invalid_utf8_and_nul(void **state)
{
    fixture *f = *state;

    static const struct {
        const char *text;
        size_t len;
    } texts[] = {

#define T(s) {s, sizeof(s) - 1}
        T("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD runs of "
          "U+FFFD\xEF\xBF\xBD."),
        T("bad \xFF\xFE bytes \x80 and \xC3 truncated \xE2\x82 and \xF0\x9F\x91"),
        T("overlong \xC0\xAF \xE0\x80\xAF surrogate \xED\xA0\x80 too big "
          "\xF4\x90\x80\x80."),
        T("The\0minister said. \0\0 It\0was late."),
        T("\0"),
        T("word\xFFword. Next\xC3"),
        T("\xE2\x80\xA6\xFF\xE2\x80\xA6\xF0"),
#undef T
    };
    for (size_t i = 0; i < N_ELEMS(texts); i++)
        run_len(f->sp, texts[i].text, texts[i].len, NULL, 0);
}

static void
test_split_keeps_spans_consistent_on_random_junk(void **state)
{
    fixture *f = *state;
    static const char *frags[] = {
        "a",
        "Z",
        "1",
        ".",
        "!",
        "?",
        "\"",
        "'",
        "\xE2\x80\x99",
        "(",
        ")",
        " ",
        "\n",
        "\n\n",
        "\t",
        "Dr.",
        "U.S.",
        "e.g.",
        "...",
        "\xE2\x80\xA6",
        "http://x.y/",
        "@h",
        "#t",
        "\xF0\x9F\x91\x8D",
        "\xF0\x9F\x8F\xBD",
        "\xE2\x80\x8D",
        "\xCC\x81",
        "\xFF",
        "\xC3",
        "\0",
        "$",
        "%",
        ",",
        ":",
        "-",
        "\xC3\xA9",
        "\xD0\x96",
        "\xE4\xB8\xAD",
        "\xD8\xB9",
        "\xC2\xA0",
        "n't",
        "'s",
        "10:30",
        "5th",
        "www.",
        "@",
        "#",
        "Inc.",
        "p.m.",
        "\xEF\xBF\xBD",
        "\xE3\x80\x82",
        "The",
        "said",
    };
    uint64_t seed = 42;
    char text[4096];
    for (int round = 0; round < 3000; round++) {
        size_t n = 0;
        unsigned k = rnd(&seed) % 120;
        for (unsigned i = 0; i < k; i++) {
            const char *x = frags[rnd(&seed) % N_ELEMS(frags)];
            size_t xl = x[0] == '\0' ? 1 : strlen(x);
            memcpy(text + n, x, xl);
            n += xl;
        }
        /* Some rounds over random regions in order, text and layout. */
        nlpd_region reg[8];
        size_t nr = 0;
        if (round % 3 == 0 && n > 0) {
            uint32_t at = 0;
            while (nr < N_ELEMS(reg) && at < n) {
                uint32_t s = at + rnd(&seed) % (uint32_t)(n - at + 1);
                uint32_t e = s + rnd(&seed) % (uint32_t)(n - s + 1);
                static const uint32_t kinds[] = {NLPD_REGION_HEADLINE, NLPD_REGION_BODY,
                                                 NLPD_REGION_SEPARATOR, NLPD_REGION_SOURCE_LINE,
                                                 NLPD_REGION_LEDE};
                reg[nr++] = (nlpd_region){kinds[rnd(&seed) % 5], s, e};
                at = e + 1;
            }
        }
        run_len(f->sp, text, n, nr > 0 ? reg : NULL, nr);
    }
}

static void
test_split_refuses_regions_out_of_order_or_outside_the_text(void **state)
{
    fixture *f = *state;
    const char *text = "One sentence here. Another one there.";
    uint32_t len = (uint32_t)strlen(text);
    nlpd_region order[] = {{NLPD_REGION_BODY, 19, len}, {NLPD_REGION_BODY, 0, 18}};
    assert_int_equal(nlpd_split_run(f->sp, text, len, order, 2), NLPD_EINVAL);
    nlpd_region overlap[] = {{NLPD_REGION_BODY, 0, 20}, {NLPD_REGION_BODY, 19, len}};
    assert_int_equal(nlpd_split_run(f->sp, text, len, overlap, 2), NLPD_EINVAL);
    nlpd_region outside[] = {{NLPD_REGION_BODY, 0, len + 1}};
    assert_int_equal(nlpd_split_run(f->sp, text, len, outside, 1), NLPD_EINVAL);
    nlpd_region beyond[] = {{NLPD_REGION_BODY, len + 5, len + 10}};
    assert_int_equal(nlpd_split_run(f->sp, text, len, beyond, 1), NLPD_EINVAL);
    nlpd_region reversed[] = {{NLPD_REGION_BODY, 10, 5}};
    assert_int_equal(nlpd_split_run(f->sp, text, len, reversed, 1), NLPD_EINVAL);
    /* A layout region out of order is refused as well. */
    nlpd_region layout[] = {{NLPD_REGION_BODY, 19, len}, {NLPD_REGION_SEPARATOR, 0, 5}};
    assert_int_equal(nlpd_split_run(f->sp, text, len, layout, 2), NLPD_EINVAL);
    /* Regions that touch are fine. */
    nlpd_region touch[] = {{NLPD_REGION_BODY, 0, 19}, {NLPD_REGION_BODY, 19, len}};
    assert_sentences(f->sp, text, len, touch, 2, "One sentence here.", "Another one there.", NULL);
}

static void
test_split_refuses_text_of_4_gib_or_more(void **state)
{
    fixture *f = *state;
    if (sizeof(size_t) <= 4)
        skip();
    /* The length is refused before anything is read. */
    assert_int_equal(nlpd_split_run(f->sp, "x", (size_t)1 << 32, NULL, 0), NLPD_EINVAL);
}

/* ---- models ------------------------------------------------------------- */

static void
test_split_model_load_returns_enoent_for_a_missing_file(void **state)
{
    (void)state;
    static char sentinel;
    nlpd_split_model *m = (nlpd_split_model *)(void *)&sentinel; /* must become NULL */
    assert_int_equal(nlpd_split_model_load(&m, "/nonexistent/nlpd/split-model.txt"), -ENOENT);
    assert_null(m);
}

/* Writes `s` to a file in `dir`; returns its path (static buffer). */
static const char *
write_tmp(const char *dir, const char *name, const char *s, size_t len)
{
    static char path[4096];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(s, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return path;
}

static void
test_split_model_load_returns_emodel_for_a_malformed_file(void **state)
{
    (void)state;
    char *dir = nlpd_test_tmpdir("nlpd-split-test");

    static const struct {
        const char *s;
        size_t len;
    } bad[] = {

#define T(s) {s, sizeof(s) - 1}
        T("[meta]\nlang en\n[no such section]\n"),
        T("dr title\n"),            /* an entry before any section */
        T("[starters]\nthe 1.5\n"), /* a share above 1 */
        T("[weights]\np=and not-a-number\n"),
        T("[abbreviations]\ndr nonsense-class\n"),
        T("[meta]\nlang en\n\0\0\0binary"),
        T("\x7F\x45LF\x02\x01\x01\0\0\0\0\0\0\0\0\0"),
#undef T
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        const char *path = write_tmp(dir, "model.txt", bad[i].s, bad[i].len);
        nlpd_split_model *m = NULL;
        int rc = nlpd_split_model_load(&m, path);
        if (rc != NLPD_EMODEL) {
            fail_msg("malformed model %zu loaded with %s, expected NLPD_EMODEL", i,
                     nlpd_err_name(rc));
        }
        assert_null(m);
        assert_int_equal(nlpd_split_model_load_buffer(&m, bad[i].s, bad[i].len), NLPD_EMODEL);
        assert_null(m);
    }
    nlpd_test_rmtree(dir);
    free(dir);
}

static void
test_split_model_load_builtin_refuses_an_unknown_language(void **state)
{
    (void)state;
    nlpd_split_model *m = NULL;
    assert_int_equal(nlpd_split_model_load_builtin(&m, "xx"), NLPD_EINVAL);
    assert_null(m);
    assert_int_equal(nlpd_split_model_load_builtin(&m, "en"), 0);
    const char *v = nlpd_split_model_version(m);
    assert_non_null(v);
    assert_true(strncmp(v, "en", 2) == 0);
    nlpd_split_model_free(&m);
    assert_null(m);
    nlpd_split_model_free(&m); /* NULL is fine */
    nlpd_split_model_free(NULL);
}

static void
test_split_model_loads_a_tiny_model_from_a_buffer(void **state)
{
    (void)state;
    static const char tiny[] = "# a hand-made model\n"
                               "[meta]\n"
                               "lang xx\n"
                               "[abbreviations]\n"
                               "dr title\n"
                               "inc.\n"
                               "[starters]\n"
                               "the 0.9\n";
    nlpd_split_model *m = NULL;
    assert_int_equal(nlpd_split_model_load_buffer(&m, tiny, sizeof(tiny) - 1), 0);
    assert_true(strncmp(nlpd_split_model_version(m), "xx", 2) == 0);
    nlpd_split *sp = NULL;
    assert_int_equal(nlpd_split_new(&sp, m, NULL), 0);
    const char *text = "Dr. Smith works at Acme Inc. in Ohio. The firm grew.";
    run_str(sp, text);
    find_token(sp, text, "Dr.");
    find_token(sp, text, "Inc.");
    nlpd_split_free(&sp);
    nlpd_split_model_free(&m);
}

static void
test_split_model_add_abbreviations_changes_a_split(void **state)
{
    fixture *f = *state;
    /* "zorv" is an ordinary word to the built-in model: its period ends the
     * sentence. Declared an abbreviation, the period stays on it and the
     * capitalized name after it (no sentence starter) continues. */
    const char *text = "The permit was signed by the zorv. Hartley approved it on Monday.";
    assert_sentences(f->sp, text, strlen(text), NULL, 0, "The permit was signed by the zorv.",
                     "Hartley approved it on Monday.", NULL);
    find_token(f->sp, text, "zorv");

    char *dir = nlpd_test_tmpdir("nlpd-split-test");
    const char *list = "# local abbreviations\nzorv.\n";
    const char *path = write_tmp(dir, "abbreviations.txt", list, strlen(list));
    nlpd_split_model *m = NULL;
    assert_int_equal(nlpd_split_model_load_builtin(&m, "en"), 0);
    assert_int_equal(nlpd_split_model_add_abbreviations(m, path), 0);
    nlpd_split *sp = NULL;
    assert_int_equal(nlpd_split_new(&sp, m, NULL), 0);
    assert_sentences(sp, text, strlen(text), NULL, 0, text, NULL);
    const nlpd_split_token *t = find_token(sp, text, "zorv.");
    assert_true(t->flags & NLPD_TOKEN_ABBREV);

    nlpd_split_free(&sp);

    /* A missing list and a malformed one are refused. */
    assert_int_equal(nlpd_split_model_add_abbreviations(m, "/nonexistent/abbrev.txt"), -ENOENT);
    const char *bad = "zorv no-such-class\n";
    path = write_tmp(dir, "bad.txt", bad, strlen(bad));
    assert_int_equal(nlpd_split_model_add_abbreviations(m, path), NLPD_EMODEL);
    nlpd_split_model_free(&m);
    nlpd_test_rmtree(dir);
    free(dir);
}

static void
test_split_new_refuses_limits_of_zero(void **state)
{
    fixture *f = *state;
    static char sentinel;
    nlpd_split *sp = (nlpd_split *)(void *)&sentinel; /* must become NULL */
    nlpd_split_opts o = NLPD_SPLIT_OPTS_INIT;
    o.max_sentence_tokens = 0;
    assert_int_equal(nlpd_split_new(&sp, f->model, &o), NLPD_EINVAL);
    assert_null(sp);
    o = (nlpd_split_opts)NLPD_SPLIT_OPTS_INIT;
    o.max_sentence_bytes = 0;
    assert_int_equal(nlpd_split_new(&sp, f->model, &o), NLPD_EINVAL);
    assert_null(sp);
    nlpd_split_free(&sp);
    nlpd_split_free(NULL);
}

/* ---- allocation failures ------------------------------------------------ */

/* The built-in model's file in the source tree (what load(path) reads). */
static const char *
model_file_path(void)
{
    static char path[4096];
    const char *src = getenv("NLPD_SOURCE_DIR");
    (void)snprintf(path, sizeof(path), "%s/stages/split/data/en/model.txt",
                   src != NULL ? src : ".");
    return path;
}

enum load_how { LOAD_BUILTIN, LOAD_FILE, LOAD_BUILTIN_ADD };

/* Loads a model (as `how` says), makes a splitter and runs `text`;
 * returns the first error. *m and *sp get what was made. */
static int
load_new_run(enum load_how how, const char *abbrev_path, const char *text, size_t len,
             const nlpd_region *reg, size_t nr, nlpd_split_model **m, nlpd_split **sp)
{
    int rc = how == LOAD_FILE ? nlpd_split_model_load(m, model_file_path())
                              : nlpd_split_model_load_builtin(m, "en");
    if (rc == 0 && how == LOAD_BUILTIN_ADD)
        rc = nlpd_split_model_add_abbreviations(*m, abbrev_path);
    if (rc == 0)
        rc = nlpd_split_new(sp, *m, NULL);
    if (rc == 0)
        rc = nlpd_split_run(*sp, text, len, reg, nr);
    return rc;
}

/* After a failure: NLPD_ENOMEM, no splitter without a model, and a
 * splitter whose run failed holds no results. */
static void
check_failure(int rc, long n, const nlpd_split_model *m, const nlpd_split *sp)
{
    if (rc != NLPD_ENOMEM)
        fail_msg("allocation %ld failed: %s, expected NLPD_ENOMEM", n + 1, nlpd_err_name(rc));
    if (m == NULL)
        assert_null(sp);
    if (sp != NULL) {
        const nlpd_split_token *tok;
        const nlpd_split_sentence *sen;
        assert_int_equal(nlpd_split_tokens(sp, &tok), 0);
        assert_int_equal(nlpd_split_sentences(sp, &sen), 0);
    }
}

/* Walks the failing allocator over load + new + run from the first
 * allocation to the last: every failure returns NLPD_ENOMEM, leaves no
 * object behind and leaks nothing; a run that succeeds gives `ref`. */
static void
walk_allocation_failures(enum load_how how, const char *abbrev_path, const char *text, size_t len,
                         const nlpd_region *reg, size_t nr)
{
    long live0 = nlpd_test_alloc_live();
    result ref = {0};
    int have_ref = 0;
    long failures = 0;
    for (long n = 0;; n++) {
        nlpd_test_alloc_fail_after(n);
        nlpd_split_model *m = NULL;
        nlpd_split *sp = NULL;
        int rc = load_new_run(how, abbrev_path, text, len, reg, nr, &m, &sp);
        long used = nlpd_test_alloc_count();
        nlpd_test_alloc_reset();
        if (rc != 0) {
            check_failure(rc, n, m, sp);
            failures++;
        } else {
            check_run(sp, text, len, reg, nr, &default_limits);
            if (!have_ref) {
                ref = result_take(sp);
                have_ref = 1;
            } else if (!result_same(sp, &ref)) {
                fail_msg("with allocation %ld failing, the run succeeded with other results",
                         n + 1);
            }
        }
        nlpd_split_free(&sp);
        nlpd_split_model_free(&m);
        if (nlpd_test_alloc_live() != live0) {
            fail_msg("allocation %ld failing leaks %ld blocks", n + 1,
                     nlpd_test_alloc_live() - live0);
        }
        if (rc == 0 && used <= n)
            break; /* no allocation failed: every point has been walked */
        if (n > 100000)
            fail_msg("more than 100000 allocations");
    }
    print_message("%ld allocation failure points, each NLPD_ENOMEM without leaks\n", failures);
    assert_true(failures > 0);
    result_free(&ref);
}

static const char oom_text[] = "Putin replaces Shoigu\n\nMOSCOW (Reuters) - "
                               "Gen. Valery Gerasimov met Dr. J. Smith of the "
                               "U.S. Army at 9 a.m. on Monday. \"We don't "
                               "know,\" he said. Russia's army rose 3.5% to "
                               "$1,250.75 (https://example.com/a). Really?! "
                               "Yes... \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD\n"
                               "Reporting by Jane Doe";

static void
test_split_reports_enomem_and_leaks_nothing_when_allocation_fails(void **state)
{
    (void)state;
    size_t len = sizeof(oom_text) - 1;
    const char *src = strstr(oom_text, "Reporting");
    nlpd_region reg[] = {{NLPD_REGION_HEADLINE, 0, 21},
                         {NLPD_REGION_BODY, 23, (uint32_t)(src - oom_text - 1)},
                         {NLPD_REGION_SOURCE_LINE, (uint32_t)(src - oom_text), (uint32_t)len}};
    walk_allocation_failures(LOAD_BUILTIN, NULL, oom_text, len, reg, N_ELEMS(reg));
    walk_allocation_failures(LOAD_BUILTIN, NULL, oom_text, len, NULL, 0);

    char *dir = nlpd_test_tmpdir("nlpd-split-test");
    const char *list = "zorv.\nblvd title\nfig number\n";
    const char *path = write_tmp(dir, "abbreviations.txt", list, strlen(list));
    char apath[4096];
    (void)snprintf(apath, sizeof(apath), "%s", path);
    walk_allocation_failures(LOAD_BUILTIN_ADD, apath, oom_text, len, NULL, 0);
    nlpd_test_rmtree(dir);
    free(dir);

    if (access(model_file_path(), R_OK) == 0) {
        walk_allocation_failures(LOAD_FILE, NULL, oom_text, len, NULL, 0);
    } else {
        print_message("no %s: load(path) not walked\n", model_file_path());
    }
}

static void
test_split_reports_enomem_when_growing_for_a_bigger_text_and_recovers(void **state)
{
    fixture *f = *state;
    long live0 = nlpd_test_alloc_live();
    nlpd_split *sp = NULL;
    assert_int_equal(nlpd_split_new(&sp, f->model, NULL), 0);
    run_str(sp, "A small text first.");
    size_t len;
    char *big = make_news(3, 200000, &len);
    int failed = 0;
    for (long n = 0; n < 64; n++) {
        nlpd_test_alloc_fail_after(n);
        int rc = nlpd_split_run(sp, big, len, NULL, 0);
        long used = nlpd_test_alloc_count();
        nlpd_test_alloc_reset();
        if (rc == 0 && used <= n)
            break;
        assert_int_equal(rc, NLPD_ENOMEM);
        failed++;
        const nlpd_split_token *tok;
        const nlpd_split_sentence *sen;
        assert_int_equal(nlpd_split_tokens(sp, &tok), 0);
        assert_int_equal(nlpd_split_sentences(sp, &sen), 0);
        /* The splitter still works for a text that fits what it has. */
        run_str(sp, "A small text again. It fits.");
    }
    assert_true(failed > 0);
    run_len(sp, big, len, NULL, 0);
    result after = result_take(sp);
    run_len(f->sp, big, len, NULL, 0);
    assert_true(result_same(f->sp, &after));
    result_free(&after);
    nlpd_split_free(&sp);
    assert_int_equal(nlpd_test_alloc_live(), live0);
    free(big);
}

static void
test_split_allocates_nothing_per_run_once_arrays_have_grown(void **state)
{
    fixture *f = *state;
    size_t blen, slen;
    char *big = make_news(5, 300000, &blen);
    char *small = make_news(6, 2000, &slen);
    run_len(f->sp, big, blen, NULL, 0);
    nlpd_test_alloc_reset();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(nlpd_split_run(f->sp, small, slen, NULL, 0), 0);
        assert_int_equal(nlpd_split_run(f->sp, big, blen, NULL, 0), 0);
    }
    if (nlpd_test_alloc_count() != 0)
        fail_msg("%ld allocations in warm runs", nlpd_test_alloc_count());
    free(big);
    free(small);
}

/* ---- threads and reuse -------------------------------------------------- */

typedef struct thread_job {
    nlpd_split *sp;
    const char *text;
    size_t len;
    const result *ref;
    int rounds;
    int mismatches;
    int failures;
} thread_job;

static void *
thread_main(void *arg)
{
    thread_job *j = arg;
    for (int i = 0; i < j->rounds; i++) {
        if (nlpd_split_run(j->sp, j->text, j->len, NULL, 0) != 0) {
            j->failures++;
        } else if (!result_same(j->sp, j->ref)) {
            j->mismatches++;
        }
    }
    return NULL;
}

static void
test_split_gives_same_results_with_two_threads_sharing_a_model(void **state)
{
    fixture *f = *state;
    size_t la, lb;
    char *a = nlpd_test_fixture("split/cases.jsonl", &la); /* JSON text: odd input too */
    char *b = make_news(9, 400000, &lb);

    /* Sequential references from the group's splitter. */
    run_len(f->sp, a, la, NULL, 0);
    result ra = result_take(f->sp);
    run_len(f->sp, b, lb, NULL, 0);
    result rb = result_take(f->sp);
    assert_true(ra.ns > 10 && rb.ns > 1000);

    /* Two splitters over the one model, grown before the threads start so
     * the threads do not allocate (the test allocator is not thread-safe). */
    nlpd_split *sa = NULL, *sb = NULL;
    assert_int_equal(nlpd_split_new(&sa, f->model, NULL), 0);
    assert_int_equal(nlpd_split_new(&sb, f->model, NULL), 0);
    assert_int_equal(nlpd_split_run(sa, b, lb, NULL, 0), 0);
    assert_int_equal(nlpd_split_run(sb, b, lb, NULL, 0), 0);

    thread_job ja = {sa, a, la, &ra, 40, 0, 0};
    thread_job jb = {sb, b, lb, &rb, 8, 0, 0};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, thread_main, &ja), 0);
    assert_int_equal(pthread_create(&tb, NULL, thread_main, &jb), 0);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tb, NULL), 0);
    assert_int_equal(ja.failures + jb.failures, 0);
    assert_int_equal(ja.mismatches + jb.mismatches, 0);

    nlpd_split_free(&sa);
    nlpd_split_free(&sb);
    result_free(&ra);
    result_free(&rb);
    free(a);
    free(b);
}

static void
test_split_gives_identical_results_when_reused_big_small_big(void **state)
{
    fixture *f = *state;
    size_t lb, ls;
    char *big = make_news(12, 500000, &lb);
    char *small = make_news(13, 300, &ls);
    /* A fresh splitter, so the first big run is also the first growth. */
    nlpd_split *sp = NULL;
    assert_int_equal(nlpd_split_new(&sp, f->model, NULL), 0);
    run_len(sp, big, lb, NULL, 0);
    result r1 = result_take(sp);
    run_len(sp, small, ls, NULL, 0);
    result rs = result_take(sp);
    run_len(sp, big, lb, NULL, 0);
    assert_true(result_same(sp, &r1));
    run_len(sp, small, ls, NULL, 0);
    assert_true(result_same(sp, &rs));
    /* And the same as another splitter that only saw the small text. */
    nlpd_split *sp2 = NULL;
    assert_int_equal(nlpd_split_new(&sp2, f->model, NULL), 0);
    run_len(sp2, small, ls, NULL, 0);
    assert_true(result_same(sp2, &rs));
    nlpd_split_free(&sp2);
    nlpd_split_free(&sp);
    result_free(&r1);
    result_free(&rs);
    free(big);
    free(small);
}

int
main(void)
{
    nlpd_test_alloc_install();
    const struct CMUnitTest tests[] = {
        /* tokens */
        cmocka_unit_test(test_split_keeps_hyphenated_words_as_one_token),
        cmocka_unit_test(test_split_keeps_numbers_with_separators_and_percent_as_one_token),
        cmocka_unit_test(test_split_makes_currency_sign_its_own_token),
        cmocka_unit_test(test_split_keeps_times_and_ordinals_as_one_token),
        cmocka_unit_test(test_split_keeps_urls_emails_handles_and_hashtags_whole),
        cmocka_unit_test(test_split_splits_sentence_punctuation_off_urls_and_emails),
        cmocka_unit_test(test_split_keeps_period_in_abbreviations_and_initials),
        cmocka_unit_test(test_split_keeps_period_in_abbreviation_that_ends_a_sentence),
        cmocka_unit_test(test_split_splits_period_off_ordinary_word_at_sentence_end),
        cmocka_unit_test(test_split_splits_clitics_off_words),
        cmocka_unit_test(test_split_splits_clitics_with_typographic_apostrophe),
        cmocka_unit_test(test_split_keeps_word_internal_apostrophe_that_is_not_a_clitic),
        cmocka_unit_test(test_split_makes_quotes_brackets_and_punctuation_separate_tokens),
        cmocka_unit_test(test_split_keeps_runs_of_terminal_punctuation_together),
        cmocka_unit_test(test_split_makes_three_tokens_of_spaced_ellipsis),
        cmocka_unit_test(test_split_makes_one_token_per_emoji_sequence),
        cmocka_unit_test(test_split_keeps_combining_marks_with_their_base),
        cmocka_unit_test(test_split_never_puts_whitespace_inside_a_token),
        cmocka_unit_test(test_split_classifies_token_shapes),
        cmocka_unit_test(test_split_sets_space_newline_clitic_and_abbrev_flags),
        /* sentences */
        cmocka_unit_test(test_split_passes_pysbd_golden_rules),
        cmocka_unit_test(test_split_passes_own_news_cases),
        cmocka_unit_test(test_split_includes_closing_quotes_and_brackets_in_sentence),
        cmocka_unit_test(test_split_breaks_sentences_at_paragraph_breaks_and_region_ends),
        cmocka_unit_test(test_split_gives_no_tokens_to_separator_and_source_line_regions),
        cmocka_unit_test(test_split_makes_one_sentence_per_paragraph_when_sentences_are_off),
        /* limits */
        cmocka_unit_test(test_split_cuts_10mb_paragraph_without_punctuation_at_the_limits),
        cmocka_unit_test(test_split_cuts_sentence_at_the_byte_limit),
        cmocka_unit_test(test_split_cuts_run_on_sentence_after_comma_in_last_quarter),
        cmocka_unit_test(test_split_runs_in_linear_time_on_pathological_input),
        /* bad input */
        cmocka_unit_test(test_split_gives_nothing_for_empty_or_whitespace_only_text),
        cmocka_unit_test(test_split_handles_punctuation_only_text),
        cmocka_unit_test(test_split_handles_mixed_scripts),
        cmocka_unit_test(test_split_handles_emoji_and_stray_marks),
        cmocka_unit_test(test_split_handles_replacement_characters_invalid_utf8_and_nul),
        cmocka_unit_test(test_split_keeps_spans_consistent_on_random_junk),
        /* fast paths */
        cmocka_unit_test(test_split_fast_paths_give_the_tokens_and_sentences_of_the_general_code),
        cmocka_unit_test(test_split_gives_the_same_tokens_wherever_the_text_starts),
        cmocka_unit_test(test_split_refuses_regions_out_of_order_or_outside_the_text),
        cmocka_unit_test(test_split_refuses_text_of_4_gib_or_more),
        /* models */
        cmocka_unit_test(test_split_model_load_returns_enoent_for_a_missing_file),
        cmocka_unit_test(test_split_model_load_returns_emodel_for_a_malformed_file),
        cmocka_unit_test(test_split_model_load_builtin_refuses_an_unknown_language),
        cmocka_unit_test(test_split_model_loads_a_tiny_model_from_a_buffer),
        cmocka_unit_test(test_split_model_add_abbreviations_changes_a_split),
        cmocka_unit_test(test_split_new_refuses_limits_of_zero),
        /* allocation failures */
        cmocka_unit_test(test_split_reports_enomem_and_leaks_nothing_when_allocation_fails),
        cmocka_unit_test(test_split_reports_enomem_when_growing_for_a_bigger_text_and_recovers),
        cmocka_unit_test(test_split_allocates_nothing_per_run_once_arrays_have_grown),
        /* threads and reuse */
        cmocka_unit_test(test_split_gives_same_results_with_two_threads_sharing_a_model),
        cmocka_unit_test(test_split_gives_identical_results_when_reused_big_small_big),
    };
    return cmocka_run_group_tests_name("split", tests, group_setup, group_teardown);
}
