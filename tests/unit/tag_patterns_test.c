/* tests/unit/tag_patterns_test.c — the date, time, money, percent and
 * number patterns of the tag stage (stages/tag/patterns.h) over the tokens
 * of nlpd_split.
 *
 * - Our own news cases (fixtures/tag/patterns.jsonl, written for this
 *   test): every expected span and label exactly, and nothing else. A case
 *   marked "xfail" is a known miss and must still miss (so that fixing it
 *   updates the file).
 * - Unit cases for each kind of expression and its hard negatives.
 * - The numbers flag changes nothing but CARDINAL and ORDINAL.
 * - The per-token view.
 * - Bad input: 100,000-token sentences in linear time, invalid UTF-8,
 *   1,000-digit numbers, all caps, no letters, tokens whose shapes and
 *   flags lie, and random token soup; every output keeps the invariants
 *   (in order, no overlap, inside the sentence, at most n matches).
 */
#include "nlpd/split.h"
#include "nlpd/tag.h"
#include "patterns.h"
#include "test_support.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

typedef struct fixture {
    nlpd_split_model *model;
    nlpd_split *sp;    /* sentences, as the tagger gets them */
    nlpd_split *whole; /* tokens only: a paragraph is one "sentence" */
} fixture;

static const char *const label_names[NLPD_ENT_COUNT_] = {
    "", "PER", "ORG", "LOC", "MISC", "DATE", "TIME", "MONEY", "PERCENT", "CARDINAL", "ORDINAL"};

static int
label_of(const char *name)
{
    for (int k = 1; k < NLPD_ENT_COUNT_; k++) {
        if (strcmp(label_names[k], name) == 0)
            return k;
    }
    return 0;
}

/* ---- invariants ---------------------------------------------------------- */

/* Asserts what any output must keep. */
static void
check_matches(const nlpd_split_token *tok, size_t n, int numbers, const nlpd__pattern_match *m,
              size_t nm)
{
    assert_true(nm <= n);
    size_t next = 0;
    for (size_t k = 0; k < nm; k++) {
        assert_true(m[k].n_tokens >= 1);
        assert_true(m[k].first_token >= next);
        assert_true((size_t)m[k].first_token + m[k].n_tokens <= n);
        next = (size_t)m[k].first_token + m[k].n_tokens;
        assert_true(m[k].label >= NLPD_ENT_DATE && m[k].label <= NLPD_ENT_ORDINAL);
        if (!numbers)
            assert_true(m[k].label <= NLPD_ENT_PERCENT);
        /* a clitic ("'s") never ends a match */
        if (m[k].n_tokens > 1)
            assert_true((tok[next - 1].flags & NLPD_TOKEN_CLITIC) == 0);
    }
}

/* ---- running over text ---------------------------------------------------- */

typedef struct ent {
    size_t start, end;
    int label;
} ent;

/* Splits `text` with `sp` and runs the patterns on every sentence; returns
 * the entities as byte spans (malloc'd, *n of them), checking the
 * invariants on the way. */
static ent *
run_text(nlpd_split *sp, const char *text, int numbers, size_t *n)
{
    size_t len = strlen(text);
    assert_int_equal(nlpd_split_run(sp, text, len, NULL, 0), 0);
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    size_t nt = nlpd_split_tokens(sp, &tok);
    size_t ns = nlpd_split_sentences(sp, &sen);
    ent *out = calloc(nt + 1, sizeof(*out));
    nlpd__pattern_match *m = calloc(nt + 1, sizeof(*m));
    assert_non_null(out);
    assert_non_null(m);
    *n = 0;
    for (size_t k = 0; k < ns; k++) {
        const nlpd_split_token *st = tok + sen[k].first_token;
        size_t nm = nlpd__patterns_match(text, st, sen[k].n_tokens, numbers, m);
        check_matches(st, sen[k].n_tokens, numbers, m, nm);
        for (size_t q = 0; q < nm; q++) {
            out[*n].start = st[m[q].first_token].start;
            out[*n].end = st[m[q].first_token + m[q].n_tokens - 1].end;
            out[*n].label = m[q].label;
            (*n)++;
        }
    }
    free(m);
    return out;
}

/* Formats entities as "[June 4]DATE [12%]PERCENT" into buf. */
static void
format_ents(const char *text, const ent *e, size_t n, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && used + 1 < cap; k++) {
        int w = snprintf(buf + used, cap - used, "%s[%.*s]%s", k ? " " : "",
                         (int)(e[k].end - e[k].start), text + e[k].start, label_names[e[k].label]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Runs `text` (numbers on or off) through `sp` and compares with the
 * expected list "[June 4]DATE [12%]PERCENT" (the same format). */
static void
expect_with(nlpd_split *sp, int numbers, const char *text, const char *want)
{
    size_t n;
    ent *e = run_text(sp, text, numbers, &n);
    char got[2048];
    format_ents(text, e, n, got, sizeof(got));
    free(e);
    if (strcmp(got, want) != 0)
        fail_msg("\"%s\"\n  expected: %s\n  got:      %s", text, want, got);
}

#define expect(f, numbers, text, want) expect_with((f)->sp, numbers, text, want)

/* ---- group setup ---------------------------------------------------------- */

static int
group_setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    nlpd_split_opts whole = NLPD_SPLIT_OPTS_INIT;
    whole.sentences = 0;
    if (nlpd_split_model_load_builtin(&f->model, "en") != 0 ||
        nlpd_split_new(&f->sp, f->model, NULL) != 0 ||
        nlpd_split_new(&f->whole, f->model, &whole) != 0) {
        nlpd_split_free(&f->sp);
        nlpd_split_free(&f->whole);
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
    nlpd_split_free(&f->whole);
    nlpd_split_model_free(&f->model);
    free(f);
    return 0;
}

/* ---- our own cases ---------------------------------------------------------- */

/* Expected spans of one case: [surface, label, (skip)] in text order; the
 * optional skip passes over that many earlier occurrences. */
static ent *
case_expected(json_t *c, const char *text, size_t *n)
{
    json_t *exp = json_object_get(c, "expect");
    assert_true(json_is_array(exp));
    size_t ne = json_array_size(exp), from = 0;
    ent *out = calloc(ne + 1, sizeof(*out));
    assert_non_null(out);
    for (size_t k = 0; k < ne; k++) {
        json_t *e = json_array_get(exp, k);
        const char *surf = json_string_value(json_array_get(e, 0));
        const char *lab = json_string_value(json_array_get(e, 1));
        json_int_t skip = json_integer_value(json_array_get(e, 2));
        assert_non_null(surf);
        assert_non_null(lab);
        const char *at = strstr(text + from, surf);
        while (at != NULL && skip-- > 0)
            at = strstr(at + 1, surf);
        if (at == NULL || label_of(lab) < NLPD_ENT_DATE)
            fail_msg("case %s: \"%s\" %s not found in order",
                     json_string_value(json_object_get(c, "id")), surf, lab);
        out[k].start = (size_t)(at - text);
        out[k].end = out[k].start + strlen(surf);
        out[k].label = label_of(lab);
        from = out[k].end;
    }
    *n = ne;
    return out;
}

static void
test_patterns_fixture_cases(void **state)
{
    fixture *f = *state;
    size_t len;
    char *buf = nlpd_test_fixture("tag/patterns.jsonl", &len);
    size_t cases = 0, passed = 0, xfail = 0, line = 0;
    char want[2048], got[2048];
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl != NULL ? (size_t)(nl - buf) : len;
        line++;
        if (e > p) {
            json_error_t err;
            json_t *c = json_loadb(buf + p, e - p, 0, &err);
            if (c == NULL)
                fail_msg("line %zu: %s", line, err.text);
            const char *text = json_string_value(json_object_get(c, "text"));
            assert_non_null(text);
            size_t ng, ns;
            ent *gold = case_expected(c, text, &ng);
            ent *sys = run_text(f->sp, text, 1, &ns);
            format_ents(text, gold, ng, want, sizeof(want));
            format_ents(text, sys, ns, got, sizeof(got));
            int ok = strcmp(want, got) == 0;
            int known_miss = json_object_get(c, "xfail") != NULL;
            cases++;
            if (known_miss) {
                xfail++;
                if (ok)
                    printf("# case %s passes now: drop its \"xfail\"\n",
                           json_string_value(json_object_get(c, "id")));
                ok = !ok;
            }
            if (ok)
                passed++;
            else if (!known_miss)
                printf("# case %s: \"%s\"\n#   expected: %s\n#   got:      %s\n",
                       json_string_value(json_object_get(c, "id")), text, want, got);
            free(gold);
            free(sys);
            json_decref(c);
        }
        p = e + 1;
    }
    free(buf);
    printf("# %zu of %zu cases as expected (%zu known misses)\n", passed, cases, xfail);
    assert_true(cases >= 150);
    assert_int_equal(passed, cases);
}

/* Turning numbers on adds CARDINAL and ORDINAL and changes nothing else. */
static void
test_patterns_numbers_flag_adds_only_numbers(void **state)
{
    fixture *f = *state;
    size_t len;
    char *buf = nlpd_test_fixture("tag/patterns.jsonl", &len);
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl != NULL ? (size_t)(nl - buf) : len;
        json_t *c = e > p ? json_loadb(buf + p, e - p, 0, NULL) : NULL;
        if (c != NULL) {
            const char *text = json_string_value(json_object_get(c, "text"));
            size_t n0, n1, k0 = 0;
            ent *a = run_text(f->sp, text, 0, &n0);
            ent *b = run_text(f->sp, text, 1, &n1);
            for (size_t k = 0; k < n1; k++) {
                if (b[k].label >= NLPD_ENT_CARDINAL)
                    continue;
                assert_true(k0 < n0);
                assert_int_equal(a[k0].start, b[k].start);
                assert_int_equal(a[k0].end, b[k].end);
                assert_int_equal(a[k0].label, b[k].label);
                k0++;
            }
            assert_int_equal(k0, n0);
            free(a);
            free(b);
            json_decref(c);
        }
        p = e + 1;
    }
    free(buf);
}

/* ---- unit cases ------------------------------------------------------------- */

static void
test_patterns_dates(void **state)
{
    fixture *f = *state;
    expect(f, 0, "It happened on June 4.", "[June 4]DATE");
    expect(f, 0, "It happened on 4 June 2024 and June 5, 2024.",
           "[4 June 2024]DATE [June 5, 2024]DATE");
    expect(f, 0, "They met on Tuesday, June 4, 2024, in Seoul.", "[Tuesday, June 4, 2024]DATE");
    expect(f, 0, "It was agreed in June of the previous year.", "[June of the previous year]DATE");
    expect(f, 0, "Sales fell last year and this month.", "[last year]DATE [this month]DATE");
    expect(f, 0, "It closed two years ago, in the 1990s.", "[two years ago]DATE [the 1990s]DATE");
    expect(f, 0, "Files dated 2024-06-04 and 06/04/2024 leaked.",
           "[2024-06-04]DATE [06/04/2024]DATE");
    expect(f, 0, "The deal closes in the third quarter of 2025.",
           "[the third quarter of 2025]DATE");
    expect(f, 0, "Growth returned in mid-2023 and early 2024.", "[mid-2023]DATE [early 2024]DATE");
    expect(f, 0, "Tuesday's vote was delayed.", "[Tuesday]DATE");
    expect(f, 0, "The 62-year-old was 40 years old in 2002.",
           "[62-year-old]DATE [40 years old]DATE [2002]DATE");
}

static void
test_patterns_ambiguous_words_follow_context(void **state)
{
    fixture *f = *state;
    expect(f, 0, "May said prices may rise in May.", "[May]DATE");
    expect(f, 0, "Theresa May met Brian May on May 4.", "[May 4]DATE");
    expect(f, 0, "Thousands joined a March on Washington in March.", "[March]DATE");
    expect(f, 0, "Sun Microsystems reported on Sunday.", "[Sunday]DATE");
    expect(f, 1, "The 2000 people voted in the 2000 election.", "[2000]CARDINAL [2000]DATE");
    expect(f, 1, "In 2000, 2,000 people came.", "[2000]DATE [2,000]CARDINAL");
    expect(f, 0, "June Carter sang in June.", "[June]DATE");
    expect(f, 0, "Refugees reached Christmas Island before Christmas.", "[Christmas]DATE");
}

static void
test_patterns_times(void **state)
{
    fixture *f = *state;
    expect(f, 0, "Doors open at 10:30 a.m. and close at 3 p.m. GMT.",
           "[10:30 a.m.]TIME [3 p.m. GMT]TIME");
    expect(f, 0, "At noon, at midnight and at 1500 GMT.",
           "[noon]TIME [midnight]TIME [1500 GMT]TIME");
    expect(f, 0, "We spoke this morning, on Tuesday evening and tonight.",
           "[this morning]TIME [Tuesday evening]TIME [tonight]TIME");
    expect(f, 0, "The siege lasted two hours.", "[two hours]TIME");
    expect(f, 0, "It was his second visit in a second week.", "");
}

static void
test_patterns_money_and_percent(void **state)
{
    fixture *f = *state;
    expect(f, 0, "It raised $3.5 billion and US$ 20 and £20m.",
           "[$3.5 billion]MONEY [US$ 20]MONEY [£20m]MONEY");
    expect(f, 0, "It cost 20 euros, 5 million dollars, €5 and $1,250.75.",
           "[20 euros]MONEY [5 million dollars]MONEY [€5]MONEY [$1,250.75]MONEY");
    expect(f, 0, "It cost Rs 500, 3 cents, 1.2 trillion won and ¥100.",
           "[Rs 500]MONEY [3 cents]MONEY [1.2 trillion won]MONEY [¥100]MONEY");
    expect(f, 0, "Up 12%, 3.5 per cent, 12 percent and 12 percentage points.",
           "[12%]PERCENT [3.5 per cent]PERCENT [12 percent]PERCENT [12 percentage points]PERCENT");
    expect(f, 0, "He weighs 200 pounds.", "");
    expect(f, 1, "It is worth more than $5 million to about 12% of 200 firms.",
           "[more than $5 million]MONEY [about 12%]PERCENT [200]CARDINAL");
}

static void
test_patterns_numbers(void **state)
{
    fixture *f = *state;
    expect(f, 1, "Three of the 1,250 ships came for the 5th time, the third this year.",
           "[Three]CARDINAL [1,250]CARDINAL [5th]ORDINAL [third]ORDINAL [this year]DATE");
    expect(f, 1, "One of them said no one would come, two million more.",
           "[One]CARDINAL [two million]CARDINAL");
    expect(f, 0, "Three of the 1,250 ships came for the 5th time.", "");
    expect(f, 1, "See Page 5 at 10 Downing Street or call 555-1234, +44 20 7946 0958.", "");
    expect(f, 1, "They won 3-1 with version 2.0 of the Boeing 747.", "");
    expect(f, 1, "The Second World War ended 5 km away.", "");
}

/* Upper-case text, as one sentence: the splitter's sentence breaks in
 * all-caps text ("JUNE. 4") are not the patterns' business. */
static void
test_patterns_all_caps(void **state)
{
    fixture *f = *state;
    expect_with(f->whole, 0,
                "STOCKS FELL ON JUNE 4 AFTER MAY WARNED THAT PRICES MAY FALL 12% BY MAY.",
                "[JUNE 4]DATE [12%]PERCENT [MAY]DATE");
    expect_with(f->whole, 0, "PROFIT ROSE LAST YEAR TO $3.5 BILLION.",
                "[LAST YEAR]DATE [$3.5 BILLION]MONEY");
}

/* ---- the per-token view ----------------------------------------------------- */

/* The hash index of the keyword table is generated from it: a stale one
 * loses keywords (regenerate with nlpd-tag-patterns-eval --keyword-slots). */
static void
test_patterns_keyword_index_is_current(void **state)
{
    (void)state;
    size_t missing = nlpd__patterns_check_keywords();
    if (missing != 0)
        fail_msg("keyword %zu is not found through kw_slots: regenerate it", missing - 1);
    uint16_t slots[2048];
    assert_int_equal(nlpd__patterns_keyword_slots(slots, 2048), 0);
    assert_int_equal(nlpd__patterns_keyword_slots(slots, 1024), -1);
}

static void
test_patterns_token_labels(void **state)
{
    (void)state;
    nlpd__pattern_match m[3] = {
        {1, 2, NLPD_ENT_DATE}, {4, 1, NLPD_ENT_MONEY}, {7, 5, NLPD_ENT_PERCENT}};
    uint8_t labels[9];
    memset(labels, 0xAA, sizeof(labels));
    nlpd__patterns_token_labels(m, 3, 9, labels);
    static const uint8_t want[9] = {0, NLPD_ENT_DATE,    NLPD_ENT_DATE,   0, NLPD_ENT_MONEY, 0,
                                    0, NLPD_ENT_PERCENT, NLPD_ENT_PERCENT};
    assert_memory_equal(labels, want, sizeof(want));
    nlpd__patterns_token_labels(NULL, 0, 9, labels);
    for (size_t k = 0; k < 9; k++)
        assert_int_equal(labels[k], 0);
    nlpd__patterns_token_labels(m, 3, 0, labels); /* nothing written */
}

/* ---- bad input ---------------------------------------------------------------- */

static void
test_patterns_empty_input(void **state)
{
    (void)state;
    nlpd__pattern_match m[1];
    nlpd_split_token t = {0, 0, NLPD_SHAPE_OTHER, 0, 0};
    assert_int_equal(nlpd__patterns_match("", &t, 0, 1, m), 0);
    assert_int_equal(nlpd__patterns_match(NULL, &t, 1, 1, m), 0);
    assert_int_equal(nlpd__patterns_match("", NULL, 1, 1, m), 0);
    assert_int_equal(nlpd__patterns_match("", &t, 1, 1, NULL), 0);
    /* one empty token */
    assert_int_equal(nlpd__patterns_match("", &t, 1, 1, m), 0);
}

/* Tokens over arbitrary bytes, with shapes and flags that need not match
 * them: the patterns must not trust either. */
static void
test_patterns_lying_tokens_and_invalid_utf8(void **state)
{
    (void)state;
    static const char text[] = "\xFF\xFE"
                               "1,2,3"
                               "\xC3"
                               "12:"
                               "99:99"
                               "$"
                               "\xE2\x82"
                               "May"
                               "1e9999"
                               "2024-"
                               "-2024"
                               "mid-"
                               "0x10"
                               "%%%"
                               "'s"
                               "4-"
                               "\xE2\x82\xAC"
                               "1"
                               "\xC2\xA3"
                               "five-"
                               "-year-old"
                               "1990s-"
                               "Q9"
                               "FY"
                               "a.m"
                               "12/"
                               "/12";
    size_t len = sizeof(text) - 1;
    nlpd_split_token tok[64];
    nlpd__pattern_match m[64];
    unsigned seed = 7;
    for (int round = 0; round < 2000; round++) {
        size_t n = 0, pos = 0;
        while (n < 64 && pos < len) {
            seed = seed * 1103515245u + 12345u;
            size_t l = 1 + (seed >> 16) % 7;
            if (pos + l > len)
                l = len - pos;
            tok[n].start = (uint32_t)pos;
            tok[n].end = (uint32_t)(pos + l);
            tok[n].shape = (uint8_t)((seed >> 8) % 16);
            tok[n].flags = (uint8_t)((seed >> 4) & 0x1F);
            tok[n].reserved = 0;
            pos += l + ((seed >> 24) & 1);
            n++;
        }
        size_t nm = nlpd__patterns_match(text, tok, n, round & 1, m);
        check_matches(tok, n, round & 1, m, nm);
    }
}

/* Random soup of the words the patterns care about, split for real. */
static void
test_patterns_random_word_soup(void **state)
{
    fixture *f = *state;
    static const char *words[] = {
        "the",      "a",     "of",       "in",         "last",      "next",    "this",
        "early",    "May",   "June",     "Tuesday",    "year",      "years",   "ago",
        "2024",     "1990s", "4",        "4th",        "$",         "US",      "3.5",
        "billion",  "%",     "12%",      "per",        "cent",      "percent", "10:30",
        "a.m.",     "p.m.",  "GMT",      "noon",       "two",       "hundred", "and",
        "half",     "more",  "than",     "at",         "least",     "between", "to",
        "-",        ",",     "'s",       "first",      "second",    "quarter", "end",
        "fiscal",   "Q3",    "mid-2023", "5-year-old", "Christmas", "Day",     "New",
        "Year",     "every", "week",     "morning",    "£",         "euros",   "pounds",
        "won",      "one",   "no",       "Page",       "10",        "Downing", "Street",
        "555-1234",
    };
    char text[4096];
    unsigned seed = 11;
    for (int round = 0; round < 3000; round++) {
        size_t used = 0;
        seed = seed * 1103515245u + 12345u;
        size_t nw = 1 + (seed >> 16) % 40;
        for (size_t k = 0; k < nw; k++) {
            seed = seed * 1103515245u + 12345u;
            const char *w = words[(seed >> 16) % N_ELEMS(words)];
            size_t wl = strlen(w);
            if (used + wl + 2 >= sizeof(text))
                break;
            if (used > 0 && ((seed >> 8) & 3) != 0)
                text[used++] = ' ';
            memcpy(text + used, w, wl);
            used += wl;
        }
        text[used] = '\0';
        size_t n;
        free(run_text(f->sp, text, (int)(round & 1), &n));
        free(run_text(f->whole, text, (int)(round & 1), &n));
    }
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sentences of up to 100,000 tokens (one paragraph, tokens-only split)
 * made of one repeated unit: the time per token must not grow. */
static void
test_patterns_long_sentences_in_linear_time(void **state)
{
    fixture *f = *state;
    static const char *units[] = {
        "the end of the ",
        "June 4, ",
        "between 1 and ",
        "1 ",
        "the past ",
        "more than ",
        "last ",
        "May ",
        "$ ",
        "a ",
        "two hundred and ",
        "tens of ",
        "early ",
        "JUNE 4 ",
        "12% - ",
        "Tuesday , ",
        "of the previous ",
        "the first half of ",
        "\xFF\xFE ",
        "... ",
    };
    size_t max_tokens = 100000;
    char *text = malloc(max_tokens * 24 + 16);
    nlpd__pattern_match *m = malloc((max_tokens + 1) * sizeof(*m));
    assert_non_null(text);
    assert_non_null(m);
    for (size_t u = 0; u < N_ELEMS(units); u++) {
        double prev = 0;
        for (size_t target = 6250; target <= max_tokens; target *= 4) {
            /* grow the text until the splitter gives `target` tokens or more */
            size_t ul = strlen(units[u]), len = 0;
            size_t per_unit = 1;
            for (const char *c = units[u]; *c; c++)
                per_unit += *c == ' ';
            while (len + ul < max_tokens * 24 && (len / ul) * (per_unit - 1) < target) {
                memcpy(text + len, units[u], ul);
                len += ul;
            }
            text[len] = '\0';
            assert_int_equal(nlpd_split_run(f->whole, text, len, NULL, 0), 0);
            const nlpd_split_token *tok;
            size_t nt = nlpd_split_tokens(f->whole, &tok);
            double dt = 0;
            for (int attempt = 0; attempt < 3; attempt++) {
                double t0 = now_s();
                size_t nm = nlpd__patterns_match(text, tok, nt, 1, m);
                double d = now_s() - t0;
                check_matches(tok, nt, 1, m, nm);
                dt = attempt == 0 || d < dt ? d : dt;
                if (!(dt > 0.05 && dt > 8.0 * prev))
                    break;
            }
            if (dt > 0.05 && dt > 8.0 * prev)
                fail_msg("superlinear: %zu tokens of \"%s\" took %.3f s, a quarter as many %.3f s",
                         nt, units[u], dt, prev);
            if (dt > 2.0)
                fail_msg("%zu tokens of \"%s\" took %.2f s", nt, units[u], dt);
            prev = dt;
        }
    }
    free(m);
    free(text);
}

/* Numbers of 1,000 digits, text without letters, 100,000 tokens of one
 * sentence made of numbers. */
static void
test_patterns_huge_numbers_and_no_letters(void **state)
{
    fixture *f = *state;
    char *text = malloc(8192);
    assert_non_null(text);
    size_t len = 0;
    len += (size_t)sprintf(text + len, "It cost $");
    for (int k = 0; k < 1000; k++)
        text[len++] = (char)('1' + k % 9);
    len += (size_t)sprintf(text + len, " billion on June ");
    for (int k = 0; k < 1000; k++)
        text[len++] = '9';
    len += (size_t)sprintf(text + len, ", up ");
    for (int k = 0; k < 1000; k++)
        text[len++] = '5';
    len += (size_t)sprintf(text + len, "%% in ");
    for (int k = 0; k < 999; k++)
        len += (size_t)sprintf(text + len, "%s", k % 2 ? "1," : "000");
    text[len] = '\0';
    size_t n;
    ent *e = run_text(f->sp, text, 1, &n);
    /* the money is still money: a token of 1,000 digits is a number */
    assert_true(n >= 1);
    assert_int_equal(e[0].label, NLPD_ENT_MONEY);
    free(e);
    /* no letters at all */
    free(run_text(f->sp, "1 2 3 ... 4,5 6:7 8-9 10/11 12% $ $ $ 1:00 12:00 -- ++ 99.9.9.9", 1, &n));
    free(run_text(f->sp, ". , ; : ! ? ( ) [ ] { } ' \" % $ \xE2\x82\xAC # @", 1, &n));
    assert_int_equal(n, 0);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patterns_fixture_cases),
        cmocka_unit_test(test_patterns_numbers_flag_adds_only_numbers),
        cmocka_unit_test(test_patterns_dates),
        cmocka_unit_test(test_patterns_ambiguous_words_follow_context),
        cmocka_unit_test(test_patterns_times),
        cmocka_unit_test(test_patterns_money_and_percent),
        cmocka_unit_test(test_patterns_numbers),
        cmocka_unit_test(test_patterns_all_caps),
        cmocka_unit_test(test_patterns_keyword_index_is_current),
        cmocka_unit_test(test_patterns_token_labels),
        cmocka_unit_test(test_patterns_empty_input),
        cmocka_unit_test(test_patterns_lying_tokens_and_invalid_utf8),
        cmocka_unit_test(test_patterns_random_word_soup),
        cmocka_unit_test(test_patterns_long_sentences_in_linear_time),
        cmocka_unit_test(test_patterns_huge_numbers_and_no_letters),
    };
    return cmocka_run_group_tests_name("tag_patterns", tests, group_setup, group_teardown);
}
