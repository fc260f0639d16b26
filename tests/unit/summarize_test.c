/* tests/unit/summarize_test.c — nlpd_summarize: the term statistics, each
 * feature of the score (one weight at a time), redundancy control, budgets
 * (sentences, words as ../shared/FORMAT.md meets them, ratio, default,
 * bad budgets), candidates and evidence by region, and the bad input of
 * issue 5 (no sentences, one, fewer than the budget, 100,000, identical
 * sentences repeated, sentences without ASCII words), allocation failures
 * and reuse.
 *
 * Every run goes through check_result(), which asserts what any output
 * must keep: selected indices unique, in document order, candidates only,
 * within the budget as FORMAT.md defines it; a finite score per sentence
 * and 0 for a sentence that is not a candidate.
 */
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/summarize.h"
#include "nlpd/types.h"
#include "test_support.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A document made of sentences joined by one space (or a paragraph break),
 * with its spans. */
typedef struct tdoc {
    char *text;
    size_t len;
    uint32_t *starts, *ends;
    size_t n;
} tdoc;

static void
tdoc_make(tdoc *d, const char *const *sents, size_t n)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(sents[i]) + 2;
    d->text = malloc(total);
    d->starts = malloc((n + 1) * sizeof(uint32_t));
    d->ends = malloc((n + 1) * sizeof(uint32_t));
    assert_non_null(d->text);
    d->len = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            d->text[d->len++] = ' ';
        d->starts[i] = (uint32_t)d->len;
        memcpy(d->text + d->len, sents[i], strlen(sents[i]));
        d->len += strlen(sents[i]);
        d->ends[i] = (uint32_t)d->len;
    }
    d->text[d->len] = '\0';
    d->n = n;
}

static void
tdoc_free(tdoc *d)
{
    free(d->text);
    free(d->starts);
    free(d->ends);
    memset(d, 0, sizeof(*d));
}

static nlpd_summarize_input
tdoc_input(const tdoc *d)
{
    nlpd_summarize_input in = {
        .text = d->text, .len = d->len, .starts = d->starts, .ends = d->ends, .n_sentences = d->n};
    return in;
}

static size_t
words_in(const char *p, size_t n)
{
    size_t w = 0;
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        int sp = p[i] == ' ' || p[i] == '\n' || p[i] == '\t' || p[i] == '\r';
        w += !sp && !in;
        in = !sp;
    }
    return w;
}

/* The invariants of any result; is_cand NULL: every sentence a candidate. */
static void
check_result(nlpd_summarizer *sz, const nlpd_summarize_input *in, const nlpd_summarize_budget *b,
             const int *is_cand)
{
    const uint32_t *sel;
    size_t k = nlpd_summarize_selected(sz, &sel);
    const float *sc;
    size_t n = nlpd_summarize_scores(sz, &sc);
    assert_int_equal(n, in->n_sentences);
    size_t n_cand = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(isfinite(sc[i]));
        int c = is_cand == NULL || is_cand[i];
        n_cand += (size_t)c;
        if (!c)
            assert_true(sc[i] == 0.0f);
    }
    double used = 0;
    for (size_t q = 0; q < k; q++) {
        assert_true(sel[q] < n);
        if (q > 0)
            assert_true(sel[q] > sel[q - 1]);
        assert_true(is_cand == NULL || is_cand[sel[q]]);
        used +=
            (double)words_in(in->text + in->starts[sel[q]], in->ends[sel[q]] - in->starts[sel[q]]);
    }
    assert_true(k <= n_cand);
    if (b == NULL || (b->sentences == 0 && b->words == 0 && b->ratio == 0.0)) {
        assert_true(k <= NLPD_SUMMARIZE_DEFAULT_SENTENCES);
    } else if (b->sentences != 0) {
        assert_true(k <= b->sentences);
    } else {
        double budget =
            b->words != 0 ? (double)b->words : b->ratio * (double)words_in(in->text, in->len);
        /* Met the way FORMAT.md says: the crossing sentence counts, so
         * without the last one chosen... we cannot tell which was chosen
         * last here; at least the words used minus the longest chosen
         * sentence are under the budget. */
        double longest = 0;
        for (size_t q = 0; q < k; q++) {
            double w = (double)words_in(in->text + in->starts[sel[q]],
                                        in->ends[sel[q]] - in->starts[sel[q]]);
            longest = w > longest ? w : longest;
        }
        assert_true(k == 0 || used - longest < budget); /* an empty text's ratio: 0 */
    }
}

/* Weights with one feature on (the others 0), no redundancy. */
static nlpd_summarize_weights
only(float *(*pick)(nlpd_summarize_weights *))
{
    nlpd_summarize_weights w;
    memset(&w, 0, sizeof(w));
    w.position_scale = 1.0f;
    *pick(&w) = 1.0f;
    return w;
}

static float *
w_centrality(nlpd_summarize_weights *w)
{
    return &w->centrality;
}

static float *
w_centroid(nlpd_summarize_weights *w)
{
    return &w->centroid;
}

static float *
w_position(nlpd_summarize_weights *w)
{
    return &w->position;
}

static float *
w_title(nlpd_summarize_weights *w)
{
    return &w->title;
}

static float *
w_lede(nlpd_summarize_weights *w)
{
    return &w->lede;
}

static float *
w_entity(nlpd_summarize_weights *w)
{
    return &w->entity;
}

static float *
w_length(nlpd_summarize_weights *w)
{
    return &w->length;
}

typedef struct fixture {
    nlpd_summarize_model *model;
} fixture;

static int
group_setup(void **state)
{
    static fixture f;
    nlpd_test_alloc_install();
    if (nlpd_summarize_model_load_builtin(&f.model) != 0)
        return -1;
    *state = &f;
    return 0;
}

static int
group_teardown(void **state)
{
    fixture *f = *state;
    nlpd_summarize_model_free(&f->model);
    return 0;
}

/* Runs with weights w and budget b; returns the selection count and sets
 * *sel to a copy of it (valid until the next call). */
static size_t
run(fixture *f, const nlpd_summarize_weights *w, const nlpd_summarize_input *in,
    const nlpd_summarize_budget *b, const uint32_t **sel, nlpd_summarizer **keep)
{
    nlpd_summarizer *sz;
    assert_int_equal(nlpd_summarizer_new(&sz, f->model, w), 0);
    assert_int_equal(nlpd_summarize_run(sz, in, b), 0);
    check_result(sz, in, b, NULL);
    const uint32_t *got;
    size_t k = nlpd_summarize_selected(sz, &got);
    /* A copy: the summarizer's array goes with it. */
    static uint32_t copy[64];
    assert_true(k <= N_ELEMS(copy));
    memcpy(copy, got, k * sizeof(*got));
    *sel = copy;
    if (keep != NULL)
        *keep = sz; /* the caller frees it */
    else
        nlpd_summarizer_free(&sz);
    return k;
}

/* ---- the term statistics --------------------------------------------------------- */

static void
test_model_builtin(void **state)
{
    fixture *f = *state;
    const char *v = nlpd_summarize_model_version(f->model);
    assert_non_null(strstr(v, "units"));
    float the = nlpd_summarize_model_idf(f->model, "the", 3);
    float THE = nlpd_summarize_model_idf(f->model, "THE", 3);
    float river = nlpd_summarize_model_idf(f->model, "river", 5);
    float unseen = nlpd_summarize_model_idf(f->model, "qzxqzxqzx", 9);
    assert_true(the == THE);
    assert_true(the > 0.0f);
    assert_true(the < river);
    assert_true(river < unseen);
}

static void
test_model_bad_files(void **state)
{
    (void)state;
    nlpd_summarize_model *m = (void *)1;
    const char *bad[] = {
        "",                            /* no units line */
        "the\t5\n",                    /* a term before units */
        "units\t10\nthe\t11\n",        /* df > units */
        "units\t10\nthe 5\n",          /* no tab */
        "units\t10\nThe\t5\n",         /* not lower case */
        "units\t10\nthe\t-1\n",        /* not a count */
        "units\t0\n",                  /* no units */
        "units\t10\ncaf\xc3\xa9\t5\n", /* not a term */
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        assert_int_equal(nlpd_summarize_model_load_buffer(&m, bad[i], strlen(bad[i])), NLPD_EMODEL);
        assert_null(m);
    }
    const char *good = "# a comment\nunits\t100\nthe\t90\nriver\t3\r\n";
    assert_int_equal(nlpd_summarize_model_load_buffer(&m, good, strlen(good)), 0);
    assert_true(nlpd_summarize_model_idf(m, "the", 3) < nlpd_summarize_model_idf(m, "river", 5));
    nlpd_summarize_model_free(&m);
    assert_null(m);
    assert_int_equal(nlpd_summarize_model_load(&m, "/nonexistent/df.txt"), -ENOENT);
    nlpd_summarize_model_free(&m); /* NULL is fine */
}

/* ---- budgets and weights ------------------------------------------------------------- */

static void
test_check_budget(void **state)
{
    (void)state;
    char why[128];
    const nlpd_summarize_budget ok[] = {{0, 0, 0.0},  {3, 0, 0.0},
                                        {0, 50, 0.0}, {0, 0, 0.4},
                                        {0, 0, 1.0},  {NLPD_SUMMARIZE_MAX_SENTENCES, 0, 0.0}};
    for (size_t i = 0; i < N_ELEMS(ok); i++)
        assert_int_equal(nlpd_summarize_check_budget(&ok[i], why, sizeof(why)), 0);
    assert_int_equal(nlpd_summarize_check_budget(NULL, NULL, 0), 0);
    const nlpd_summarize_budget bad[] = {
        {0, 0, -0.5},        {0, 0, 1.5}, {0, 0, NAN},  {0, 0, INFINITY},
        {3, 50, 0.0},        {3, 0, 0.4}, {0, 50, 0.4}, {NLPD_SUMMARIZE_MAX_SENTENCES + 1, 0, 0.0},
        {0, UINT32_MAX, 0.0}};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        why[0] = '\0';
        assert_int_equal(nlpd_summarize_check_budget(&bad[i], why, sizeof(why)), NLPD_EINVAL);
        assert_true(strstr(why, "summary_") != NULL);
    }
}

static void
test_bad_weights(void **state)
{
    fixture *f = *state;
    nlpd_summarizer *sz = (void *)1;
    nlpd_summarize_weights w = nlpd_summarize_weights_default();
    w.centroid = NAN;
    assert_int_equal(nlpd_summarizer_new(&sz, f->model, &w), NLPD_EINVAL);
    assert_null(sz);
    w = nlpd_summarize_weights_default();
    w.position_scale = 0.0f;
    assert_int_equal(nlpd_summarizer_new(&sz, f->model, &w), NLPD_EINVAL);
    assert_int_equal(nlpd_summarizer_new(&sz, NULL, NULL), NLPD_EINVAL);
    assert_int_equal(nlpd_summarizer_new(NULL, f->model, NULL), NLPD_EINVAL);
    nlpd_summarizer_free(NULL);
}

/* ---- each feature alone ------------------------------------------------------------ */

/* Four sentences on a flood and one off topic; the second states the whole
 * story and repeats the others' words. */
static const char *const flood[] = {
    "Officials in the town met on Monday.",
    "Heavy rain flooded the river valley, and the river flood forced families from homes "
    "near the swollen river.",
    "The river rose two metres overnight.",
    "Families left homes as the flood spread.",
    "A cake stall raised money for the school choir.",
};

static void
test_centrality_and_centroid(void **state)
{
    fixture *f = *state;
    tdoc d;
    tdoc_make(&d, flood, N_ELEMS(flood));
    nlpd_summarize_input in = tdoc_input(&d);
    nlpd_summarize_budget one = {.sentences = 1};
    const uint32_t *sel;
    nlpd_summarize_weights w = only(w_centrality);
    nlpd_summarizer *sz;
    assert_int_equal(run(f, &w, &in, &one, &sel, &sz), 1);
    assert_int_equal(sel[0], 1);
    /* The off-topic sentence is the least central. */
    const float *sc;
    nlpd_summarize_scores(sz, &sc);
    for (size_t i = 0; i < 4; i++)
        assert_true(sc[4] < sc[i]);
    nlpd_summarizer_free(&sz);
    w = only(w_centroid);
    assert_int_equal(run(f, &w, &in, &one, &sel, NULL), 1);
    assert_int_equal(sel[0], 1);
    tdoc_free(&d);
}

static void
test_position(void **state)
{
    fixture *f = *state;
    tdoc d;
    tdoc_make(&d, flood, N_ELEMS(flood));
    nlpd_summarize_input in = tdoc_input(&d);
    nlpd_summarize_budget two = {.sentences = 2};
    const uint32_t *sel;
    nlpd_summarize_weights w = only(w_position);
    assert_int_equal(run(f, &w, &in, &two, &sel, NULL), 2);
    assert_int_equal(sel[0], 0);
    assert_int_equal(sel[1], 1);
    tdoc_free(&d);
}

static void
test_title_and_lede(void **state)
{
    fixture *f = *state;
    tdoc d;
    tdoc_make(&d, flood, N_ELEMS(flood));
    nlpd_summarize_input in = tdoc_input(&d);
    nlpd_summarize_budget one = {.sentences = 1};
    const uint32_t *sel;
    in.title = "School choir cake stall";
    in.title_len = strlen(in.title);
    nlpd_summarize_weights w = only(w_title);
    assert_int_equal(run(f, &w, &in, &one, &sel, NULL), 1);
    assert_int_equal(sel[0], 4);
    in.title = NULL;
    in.title_len = 0;
    in.lede = "Town officials met.";
    in.lede_len = strlen(in.lede);
    w = only(w_lede);
    assert_int_equal(run(f, &w, &in, &one, &sel, NULL), 1);
    assert_int_equal(sel[0], 0);
    tdoc_free(&d);
}

static void
test_entities(void **state)
{
    fixture *f = *state;
    static const char *const s[] = {
        "Anna Berg spoke first.",
        "The mayor, Karl Ode, opened the meeting.",
        "Karl Ode said the bridge would reopen.",
        "Later Karl Ode and Anna Berg left.",
        "Rain fell all day.",
    };
    tdoc d;
    tdoc_make(&d, s, N_ELEMS(s));
    nlpd_span ents[] = {{0, 9}, {0, 0}, {0, 0}, {0, 0}, {0, 0}};
    /* Karl Ode in sentences 1, 2 and 3; Anna Berg in 0 and 3. */
    size_t ne = 1;
    for (size_t i = 1; i < 4; i++) {
        const char *p = strstr(d.text + d.starts[i], "Karl Ode");
        ents[ne++] = (nlpd_span){(uint32_t)(p - d.text), (uint32_t)(p - d.text + 8)};
    }
    const char *p = strstr(d.text + d.starts[3], "Anna Berg");
    ents[ne++] = (nlpd_span){(uint32_t)(p - d.text), (uint32_t)(p - d.text + 9)};
    nlpd_summarize_input in = tdoc_input(&d);
    in.entities = ents;
    in.n_entities = ne;
    nlpd_summarize_budget one = {.sentences = 1};
    const uint32_t *sel;
    nlpd_summarize_weights w = only(w_entity);
    assert_int_equal(run(f, &w, &in, &one, &sel, NULL), 1);
    assert_int_equal(sel[0], 3); /* both entities, the most named among them */
    /* Without entities the feature is 0: the first sentence wins the tie. */
    in.entities = NULL;
    in.n_entities = 0;
    assert_int_equal(run(f, &w, &in, &one, &sel, NULL), 1);
    assert_int_equal(sel[0], 0);
    /* Bad spans are ignored, not trusted. */
    nlpd_span bad[] = {{5, 2}, {0, (uint32_t)d.len + 10}, {(uint32_t)d.len, (uint32_t)d.len}};
    in.entities = bad;
    in.n_entities = N_ELEMS(bad);
    assert_int_equal(run(f, &w, &in, &one, &sel, NULL), 1);
    tdoc_free(&d);
}

static void
test_length(void **state)
{
    fixture *f = *state;
    tdoc d;
    tdoc_make(&d, flood, N_ELEMS(flood));
    nlpd_summarize_input in = tdoc_input(&d);
    nlpd_summarize_budget one = {.sentences = 1};
    const uint32_t *sel;
    nlpd_summarize_weights w = only(w_length);
    assert_int_equal(run(f, &w, &in, &one, &sel, NULL), 1);
    assert_int_equal(sel[0], 1);
    /* Under a word budget the length weight is length_words (0 here). */
    nlpd_summarize_budget words = {.words = 1};
    assert_int_equal(run(f, &w, &in, &words, &sel, NULL), 1);
    assert_int_equal(sel[0], 0);
    tdoc_free(&d);
}

/* ---- redundancy --------------------------------------------------------------------- */

static void
test_redundancy(void **state)
{
    fixture *f = *state;
    static const char *const s[] = {
        "The central bank raised interest rates to curb inflation.",
        "The central bank raised interest rates again to curb inflation.",
        "Shares fell as investors feared slower growth.",
    };
    tdoc d;
    tdoc_make(&d, s, N_ELEMS(s));
    nlpd_summarize_input in = tdoc_input(&d);
    nlpd_summarize_budget two = {.sentences = 2};
    const uint32_t *sel;
    nlpd_summarize_weights w = only(w_position);
    w.position_scale = 5.0f;
    /* Position alone takes the first two, near repeats of each other. */
    assert_int_equal(run(f, &w, &in, &two, &sel, NULL), 2);
    assert_int_equal(sel[0], 0);
    assert_int_equal(sel[1], 1);
    /* With redundancy control the repeat gives way. */
    w.redundancy = 1.0f;
    assert_int_equal(run(f, &w, &in, &two, &sel, NULL), 2);
    assert_int_equal(sel[0], 0);
    assert_int_equal(sel[1], 2);
    tdoc_free(&d);
}

static void
test_identical_repeated(void **state)
{
    fixture *f = *state;

    enum { N = 10000 };

    const char **s = malloc(N * sizeof(*s));
    for (size_t i = 0; i < N; i++)
        s[i] = i % 1000 == 999 ? "Something else happened." : "The same sentence again.";
    tdoc d;
    tdoc_make(&d, s, N);
    nlpd_summarize_input in = tdoc_input(&d);
    const uint32_t *sel;
    nlpd_summarize_weights w = nlpd_summarize_weights_default();
    w.redundancy = 0.0f; /* repeats are refused even without MMR */
    nlpd_summarize_budget three = {.sentences = 3};
    assert_int_equal(run(f, &w, &in, &three, &sel, NULL), 2);
    assert_true(strncmp(d.text + d.starts[sel[0]], d.text + d.starts[sel[1]], 10) != 0);
    assert_int_equal(run(f, NULL, &in, &three, &sel, NULL), 2);
    /* Case and punctuation do not make a new sentence. */
    static const char *const t[] = {"Rates rose.", "RATES ROSE!", "rates, rose"};
    tdoc e;
    tdoc_make(&e, t, 3);
    in = tdoc_input(&e);
    assert_int_equal(run(f, &w, &in, &three, &sel, NULL), 1);
    tdoc_free(&e);
    tdoc_free(&d);
    free(s);
}

/* ---- budgets ------------------------------------------------------------------------ */

static void
test_budgets(void **state)
{
    fixture *f = *state;
    tdoc d;
    tdoc_make(&d, flood, N_ELEMS(flood));
    nlpd_summarize_input in = tdoc_input(&d);
    const uint32_t *sel;
    nlpd_summarize_weights w = only(w_position); /* Lead, to know the choice */
    /* Default: 3 sentences (NULL or all 0). */
    assert_int_equal(run(f, &w, &in, NULL, &sel, NULL), 3);
    nlpd_summarize_budget zero = {0, 0, 0.0};
    assert_int_equal(run(f, &w, &in, &zero, &sel, NULL), 3);
    /* Fewer sentences than the budget: all of them. */
    nlpd_summarize_budget many = {.sentences = 50};
    assert_int_equal(run(f, &w, &in, &many, &sel, NULL), 5);
    /* Words, as lead.py meets them: sentence 0 has 7 words, 1 has 17. */
    nlpd_summarize_budget words = {.words = 7};
    assert_int_equal(run(f, &w, &in, &words, &sel, NULL), 1);
    words.words = 8; /* 7 < 8: one more, the crossing one counts */
    assert_int_equal(run(f, &w, &in, &words, &sel, NULL), 2);
    /* A ratio of the whole text's words (39). */
    size_t total = words_in(d.text, d.len);
    nlpd_summarize_budget ratio = {.ratio = 7.0 / (double)total};
    assert_int_equal(run(f, &w, &in, &ratio, &sel, NULL), 1);
    ratio.ratio = 1.0;
    assert_int_equal(run(f, &w, &in, &ratio, &sel, NULL), 5);
    ratio.ratio = 1e-9; /* under one word: the first sentence still */
    assert_int_equal(run(f, &w, &in, &ratio, &sel, NULL), 1);
    /* A bad budget is refused and leaves no result. */
    nlpd_summarizer *sz;
    assert_int_equal(nlpd_summarizer_new(&sz, f->model, NULL), 0);
    nlpd_summarize_budget bad = {.ratio = -1.0};
    assert_int_equal(nlpd_summarize_run(sz, &in, &bad), NLPD_EINVAL);
    assert_int_equal(nlpd_summarize_selected(sz, &sel), 0);
    bad = (nlpd_summarize_budget){.sentences = 2, .words = 10};
    assert_int_equal(nlpd_summarize_run(sz, &in, &bad), NLPD_EINVAL);
    nlpd_summarizer_free(&sz);
    tdoc_free(&d);
}

/* ---- regions ------------------------------------------------------------------------ */

static void
test_regions(void **state)
{
    fixture *f = *state;
    static const char *const s[] = {
        "River flood forces families out",                /* headline */
        "Heavy rain flooded the river valley on Monday.", /* lede */
        "Flood news",                                     /* subheading */
        "The river rose two metres overnight.",           /* body */
        "Families left their homes as the flood spread.", /* body */
        "A cake stall raised money for the choir.",       /* body */
    };
    tdoc d;
    tdoc_make(&d, s, N_ELEMS(s));
    nlpd_region reg[] = {
        {NLPD_REGION_HEADLINE, d.starts[0], d.ends[0]},
        {NLPD_REGION_LEDE, d.starts[1], d.ends[1]},
        {NLPD_REGION_SUBHEADING, d.starts[2], d.ends[2]},
        {NLPD_REGION_BODY, d.starts[3], d.ends[5]},
    };
    nlpd_summarize_input in = tdoc_input(&d);
    in.regions = reg;
    in.n_regions = N_ELEMS(reg);
    static const int cand[] = {0, 0, 0, 1, 1, 1};
    nlpd_summarizer *sz;
    nlpd_summarize_weights w = only(w_title);
    assert_int_equal(nlpd_summarizer_new(&sz, f->model, &w), 0);
    nlpd_summarize_budget one = {.sentences = 1};
    assert_int_equal(nlpd_summarize_run(sz, &in, &one), 0);
    check_result(sz, &in, &one, cand);
    const uint32_t *sel;
    assert_int_equal(nlpd_summarize_selected(sz, &sel), 1);
    assert_int_equal(sel[0], 4); /* "families", "flood" of the headline */
    /* Lede evidence: the lede's words. */
    w = only(w_lede);
    nlpd_summarizer_free(&sz);
    assert_int_equal(nlpd_summarizer_new(&sz, f->model, &w), 0);
    assert_int_equal(nlpd_summarize_run(sz, &in, &one), 0);
    check_result(sz, &in, &one, cand);
    assert_int_equal(nlpd_summarize_selected(sz, &sel), 1);
    assert_int_equal(sel[0], 3);
    /* Even a budget of every sentence takes only the body. */
    nlpd_summarize_budget all = {.ratio = 1.0};
    assert_int_equal(nlpd_summarize_run(sz, &in, &all), 0);
    check_result(sz, &in, &all, cand);
    assert_int_equal(nlpd_summarize_selected(sz, &sel), 3);
    /* Regions out of order are refused. */
    nlpd_region swapped[] = {reg[1], reg[0]};
    in.regions = swapped;
    in.n_regions = 2;
    assert_int_equal(nlpd_summarize_run(sz, &in, &one), NLPD_EINVAL);
    nlpd_summarizer_free(&sz);
    tdoc_free(&d);
}

/* ---- bad input ---------------------------------------------------------------------- */

static void
test_no_and_one_sentence(void **state)
{
    fixture *f = *state;
    nlpd_summarizer *sz;
    assert_int_equal(nlpd_summarizer_new(&sz, f->model, NULL), 0);
    nlpd_summarize_input in = {.text = "", .len = 0};
    assert_int_equal(nlpd_summarize_run(sz, &in, NULL), 0);
    const uint32_t *sel;
    const float *sc;
    assert_int_equal(nlpd_summarize_selected(sz, &sel), 0);
    assert_int_equal(nlpd_summarize_scores(sz, &sc), 0);
    in.text = NULL;
    assert_int_equal(nlpd_summarize_run(sz, &in, NULL), 0);
    /* Text without sentences (the split stage did not run). */
    in.text = "Some text.";
    in.len = 10;
    assert_int_equal(nlpd_summarize_run(sz, &in, NULL), 0);
    assert_int_equal(nlpd_summarize_selected(sz, &sel), 0);
    /* One sentence. */
    static const char *const one[] = {"Only this."};
    tdoc d;
    tdoc_make(&d, one, 1);
    in = tdoc_input(&d);
    nlpd_summarize_budget b = {.sentences = 3};
    assert_int_equal(nlpd_summarize_run(sz, &in, &b), 0);
    check_result(sz, &in, &b, NULL);
    assert_int_equal(nlpd_summarize_selected(sz, &sel), 1);
    assert_int_equal(sel[0], 0);
    /* An empty sentence and one of symbols only. */
    static const char *const odd[] = {"", "--- *** ---", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2"};
    tdoc e;
    tdoc_make(&e, odd, 3);
    in = tdoc_input(&e);
    assert_int_equal(nlpd_summarize_run(sz, &in, &b), 0);
    check_result(sz, &in, &b, NULL);
    assert_true(nlpd_summarize_selected(sz, &sel) >= 2);
    tdoc_free(&e);
    tdoc_free(&d);
    nlpd_summarizer_free(&sz);
}

static void
test_bad_spans(void **state)
{
    fixture *f = *state;
    nlpd_summarizer *sz;
    assert_int_equal(nlpd_summarizer_new(&sz, f->model, NULL), 0);
    const char *text = "One two. Three four.";
    uint32_t st[] = {0, 9}, en[] = {8, 20};
    nlpd_summarize_input in = {
        .text = text, .len = strlen(text), .starts = st, .ends = en, .n_sentences = 2};
    assert_int_equal(nlpd_summarize_run(sz, &in, NULL), 0);
    en[1] = 21; /* past the end */
    assert_int_equal(nlpd_summarize_run(sz, &in, NULL), NLPD_EINVAL);
    en[1] = 20;
    st[1] = 5; /* overlaps the first */
    assert_int_equal(nlpd_summarize_run(sz, &in, NULL), NLPD_EINVAL);
    st[1] = 9;
    st[0] = 9; /* start after end */
    assert_int_equal(nlpd_summarize_run(sz, &in, NULL), NLPD_EINVAL);
    in.starts = NULL;
    assert_int_equal(nlpd_summarize_run(sz, &in, NULL), NLPD_EINVAL);
    assert_int_equal(nlpd_summarize_run(sz, NULL, NULL), NLPD_EINVAL);
    assert_int_equal(nlpd_summarize_run(NULL, &in, NULL), NLPD_EINVAL);
    nlpd_summarizer_free(&sz);
}

static double
seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 100,000 distinct sentences in bounded time, any budget; and the time
 * grows about linearly (10x the sentences: far less than 100x the time). */
static void
test_many_sentences(void **state)
{
    fixture *f = *state;
    static const char *const words[] = {"river",  "bank",   "rates", "flood", "school", "mayor",
                                        "bridge", "growth", "rain",  "choir", "market", "court"};
    double t_small = 0, t_big = 0;
    for (int big = 0; big < 2; big++) {
        size_t n = big ? 100000 : 10000;
        char *text = malloc(n * 64);
        uint32_t *st = malloc(n * sizeof(*st)), *en = malloc(n * sizeof(*en));
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
            st[i] = (uint32_t)len;
            len += (size_t)sprintf(text + len, "The %s and the %s met %zu times.", words[i % 12],
                                   words[(i / 12) % 12], i);
            en[i] = (uint32_t)len;
            text[len++] = ' ';
        }
        nlpd_summarize_input in = {
            .text = text, .len = len, .starts = st, .ends = en, .n_sentences = n};
        nlpd_summarizer *sz;
        assert_int_equal(nlpd_summarizer_new(&sz, f->model, NULL), 0);
        const nlpd_summarize_budget budgets[] = {
            {.sentences = 3}, {.ratio = 0.4}, {.sentences = 100000}};
        double t0 = seconds();
        for (size_t b = 0; b < N_ELEMS(budgets); b++) {
            assert_int_equal(nlpd_summarize_run(sz, &in, &budgets[b]), 0);
            check_result(sz, &in, &budgets[b], NULL);
        }
        double t = seconds() - t0;
        if (big)
            t_big = t;
        else
            t_small = t;
        const uint32_t *sel;
        assert_int_equal(nlpd_summarize_selected(sz, &sel), n);
        nlpd_summarizer_free(&sz);
        free(text);
        free(st);
        free(en);
    }
    print_message("# 10,000 sentences %.3f s, 100,000 sentences %.3f s (3 budgets each)\n", t_small,
                  t_big);
    assert_true(t_big < 30.0 * (t_small + 0.001));
    assert_true(t_big < 20.0); /* generous for sanitizer builds */
}

/* ---- random input ---------------------------------------------------------------------- */

static uint32_t
rnd(uint64_t *st)
{
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*st >> 33);
}

/* Random bytes (words, spaces, punctuation, bytes >= 0x80), random
 * sentence spans, regions, entities and budgets: any valid input gives a
 * result that keeps the invariants, and nothing reads outside the text
 * (the sanitizer build checks that). */
static void
test_random_input(void **state)
{
    fixture *f = *state;
    nlpd_summarizer *sz;
    assert_int_equal(nlpd_summarizer_new(&sz, f->model, NULL), 0);
    uint64_t st = 42;
    static const char alphabet[] = "aeiou rtnsl KZ09 .,;\n\t\x80\xc3\xa9\xff-'";
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = rnd(&st) % 3000;
        char *text = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            text[i] = alphabet[rnd(&st) % (sizeof(alphabet) - 1)];
        text[len] = '\0';
        size_t cap = len / 4 + 1, n = 0;
        uint32_t *starts = malloc(cap * sizeof(uint32_t)), *ends = malloc(cap * sizeof(uint32_t));
        uint32_t pos = 0;
        while (n < cap && pos < len) {
            uint32_t a = pos + rnd(&st) % 8, b = a + rnd(&st) % 200;
            if (a > len)
                break;
            if (b > len)
                b = (uint32_t)len;
            starts[n] = a;
            ends[n] = b;
            n++;
            pos = b + (rnd(&st) % 3);
        }
        nlpd_region reg[4];
        size_t nr = rnd(&st) % 4;
        uint32_t rp = 0;
        for (size_t r = 0; r < nr; r++) {
            uint32_t a = rp + (len ? rnd(&st) % (uint32_t)(len / 4 + 1) : 0);
            uint32_t b = a + (len ? rnd(&st) % (uint32_t)(len / 2 + 1) : 0);
            if (a > len)
                a = (uint32_t)len;
            if (b > len)
                b = (uint32_t)len;
            reg[r] = (nlpd_region){1 + rnd(&st) % 6, a, b};
            rp = b;
        }
        nlpd_span ents[8];
        size_t ne = rnd(&st) % 8;
        for (size_t k = 0; k < ne; k++) {
            uint32_t a = (uint32_t)(rnd(&st) % (len + 2)), b = a + rnd(&st) % 20;
            ents[k] = (nlpd_span){a, b}; /* some outside the text: ignored */
        }
        nlpd_summarize_input in = {.text = text,
                                   .len = len,
                                   .starts = starts,
                                   .ends = ends,
                                   .n_sentences = n,
                                   .regions = nr ? reg : NULL,
                                   .n_regions = nr,
                                   .title = text,
                                   .title_len = len < 40 ? len : 40,
                                   .entities = ne ? ents : NULL,
                                   .n_entities = ne};
        nlpd_summarize_budget b = {0, 0, 0.0};
        switch (rnd(&st) % 4) {
        case 0:
            b.sentences = 1 + rnd(&st) % 10;
            break;
        case 1:
            b.words = 1 + rnd(&st) % 300;
            break;
        case 2:
            b.ratio = (double)(1 + rnd(&st) % 100) / 100.0;
            break;
        default:
            break;
        }
        assert_int_equal(nlpd_summarize_run(sz, &in, &b), 0);
        int *cand = NULL;
        if (nr > 0) {
            /* Candidates: sentences starting in a body region, or in none. */
            cand = malloc((n + 1) * sizeof(int));
            for (size_t i = 0; i < n; i++) {
                cand[i] = 1;
                for (size_t r = 0; r < nr; r++)
                    if (reg[r].start <= starts[i] && starts[i] < reg[r].end)
                        cand[i] = reg[r].kind == NLPD_REGION_BODY;
            }
        }
        check_result(sz, &in, &b, cand);
        /* A ratio is a share of the whole text's words (counted by the
         * summarizer from its sentences and the gaps between them): a
         * ratio of (W + 0.5) / T of T words is met as a budget of W + 1
         * words. */
        size_t total = words_in(text, len);
        if (total > 0) {
            size_t wb = rnd(&st) % total;
            nlpd_summarize_budget br = {.ratio = ((double)wb + 0.5) / (double)total};
            nlpd_summarize_budget bw = {.words = (uint32_t)wb + 1};
            const uint32_t *sel;
            assert_int_equal(nlpd_summarize_run(sz, &in, &br), 0);
            size_t kr = nlpd_summarize_selected(sz, &sel);
            uint32_t *by_ratio = malloc((kr + 1) * sizeof(*by_ratio));
            memcpy(by_ratio, sel, kr * sizeof(*sel));
            assert_int_equal(nlpd_summarize_run(sz, &in, &bw), 0);
            assert_int_equal(nlpd_summarize_selected(sz, &sel), kr);
            assert_memory_equal(by_ratio, sel, kr * sizeof(*sel));
            free(by_ratio);
        }
        free(cand);
        free(text);
        free(starts);
        free(ends);
    }
    nlpd_summarizer_free(&sz);
}

/* ---- allocation failures and reuse ---------------------------------------------------- */

static void
test_alloc_failures(void **state)
{
    fixture *f = *state;
    tdoc d;
    tdoc_make(&d, flood, N_ELEMS(flood));
    nlpd_summarize_input in = tdoc_input(&d);
    nlpd_span ents[] = {{d.starts[1], d.starts[1] + 5}};
    in.entities = ents;
    in.n_entities = 1;
    int ok = 0;
    for (long n = 0; n < 200 && !ok; n++) {
        nlpd_summarizer *sz = NULL;
        nlpd_test_alloc_fail_after(n);
        int rc = nlpd_summarizer_new(&sz, f->model, NULL);
        if (rc == 0) {
            rc = nlpd_summarize_run(sz, &in, NULL);
            assert_true(rc == 0 || rc == NLPD_ENOMEM);
            if (rc == NLPD_ENOMEM) {
                const uint32_t *sel;
                assert_int_equal(nlpd_summarize_selected(sz, &sel), 0);
            }
            ok = rc == 0;
        } else {
            assert_int_equal(rc, NLPD_ENOMEM);
        }
        nlpd_test_alloc_reset();
        if (sz != NULL) {
            /* After a failure the same summarizer works. */
            assert_int_equal(nlpd_summarize_run(sz, &in, NULL), 0);
            check_result(sz, &in, NULL, NULL);
        }
        nlpd_summarizer_free(&sz);
    }
    assert_true(ok);
    /* Model loading under failures. */
    for (long n = 0; n < 10; n++) {
        nlpd_summarize_model *m = NULL;
        nlpd_test_alloc_fail_after(n);
        int rc = nlpd_summarize_model_load_builtin(&m);
        nlpd_test_alloc_reset();
        assert_true(rc == 0 || rc == NLPD_ENOMEM);
        nlpd_summarize_model_free(&m);
    }
    tdoc_free(&d);
}

static void
test_reuse_allocates_nothing(void **state)
{
    fixture *f = *state;
    tdoc d;
    tdoc_make(&d, flood, N_ELEMS(flood));
    nlpd_summarize_input in = tdoc_input(&d);
    nlpd_summarizer *sz;
    assert_int_equal(nlpd_summarizer_new(&sz, f->model, NULL), 0);
    assert_int_equal(nlpd_summarize_run(sz, &in, NULL), 0);
    const uint32_t *a;
    size_t ka = nlpd_summarize_selected(sz, &a);
    uint32_t first[8];
    memcpy(first, a, ka * sizeof(*a));
    nlpd_test_alloc_reset();
    for (int i = 0; i < 100; i++)
        assert_int_equal(nlpd_summarize_run(sz, &in, NULL), 0);
    assert_int_equal(nlpd_test_alloc_count(), 0);
    /* The same input gives the same result. */
    assert_int_equal(nlpd_summarize_selected(sz, &a), ka);
    assert_memory_equal(a, first, ka * sizeof(*a));
    nlpd_summarizer_free(&sz);
    tdoc_free(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_builtin),
        cmocka_unit_test(test_model_bad_files),
        cmocka_unit_test(test_check_budget),
        cmocka_unit_test(test_bad_weights),
        cmocka_unit_test(test_centrality_and_centroid),
        cmocka_unit_test(test_position),
        cmocka_unit_test(test_title_and_lede),
        cmocka_unit_test(test_entities),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_redundancy),
        cmocka_unit_test(test_identical_repeated),
        cmocka_unit_test(test_budgets),
        cmocka_unit_test(test_regions),
        cmocka_unit_test(test_no_and_one_sentence),
        cmocka_unit_test(test_bad_spans),
        cmocka_unit_test(test_many_sentences),
        cmocka_unit_test(test_random_input),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_reuse_allocates_nothing),
    };
    return cmocka_run_group_tests_name("summarize", tests, group_setup, group_teardown);
}
