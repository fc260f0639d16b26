/* tests/e2e/summarize_e2e_test.c — the summarize stage through the daemon.
 *
 * Each test starts the real daemon with the pipeline ingest, split,
 * summarize (until the lead puts summarize in the default pipeline, a
 * config names it) and sends documents through its front door. What is
 * asserted is what a client sees: a summary of body sentences in document
 * order, its text, a score for every sentence; the budgets of the
 * document's options; a bad budget as an error record of the summarize
 * stage while the document goes on with its sentences; and for hostile
 * documents (empty, one sentence, 100,000 sentences, one sentence repeated)
 * a sane result, no error from the stage and no worker restart.
 */
#include "e2e.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
start(nlpd_e2e *e)
{
    char c[2048];
    snprintf(c, sizeof(c),
             "[daemon]\nrestart_backoff_min_ms = 20\nrestart_backoff_max_ms = 2s\n"
             "[pipeline]\nstages = ingest split summarize\n"
             "[stage summarize]\ncommand = %s\n",
             nlpd_e2e_bin("nlpd-summarize"));
    nlpd_e2e_start(e, c);
}

static size_t
span_at(json_t *arr, size_t i, size_t *end)
{
    json_t *p = json_array_get(arr, i);
    *end = (size_t)json_integer_value(json_array_get(p, 1));
    return (size_t)json_integer_value(json_array_get(p, 0));
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

/* No error record from the summarize stage. */
static void
assert_no_summarize_error(json_t *r)
{
    size_t i;
    json_t *er;
    json_array_foreach(json_object_get(r, "errors"), i, er)
    {
        const char *stage = json_string_value(json_object_get(er, "stage"));
        if (stage != NULL && strcmp(stage, "summarize") == 0)
            fail_msg("the summarize stage reported %s: %s",
                     json_string_value(json_object_get(er, "code")),
                     json_string_value(json_object_get(er, "message")));
    }
}

/* The summary's invariants: indices in document order into the
 * sentences, summary_text their text joined by a space, a score for every
 * sentence. Returns the number selected. */
static size_t
assert_summary(json_t *r, const char *text, size_t len)
{
    assert_non_null(r);
    assert_no_summarize_error(r);
    json_t *sents = json_object_get(r, "sentences");
    json_t *sum = json_object_get(r, "summary");
    size_t ns = json_array_size(sents);
    if (ns == 0)
        return json_array_size(sum);
    assert_true(json_is_array(sum));
    json_t *scores = json_object_get(r, "summary_scores");
    assert_int_equal(json_array_size(scores), ns);
    size_t k = json_array_size(sum);
    size_t cap = len + k + 1, used = 0;
    char *want = malloc(cap);
    assert_non_null(want);
    long prev = -1;
    for (size_t q = 0; q < k; q++) {
        long i = (long)json_integer_value(json_array_get(sum, q));
        assert_true(i > prev);
        assert_true((size_t)i < ns);
        prev = i;
        size_t e, s = span_at(sents, (size_t)i, &e);
        assert_true(s <= e && e <= len);
        if (q > 0)
            want[used++] = ' ';
        memcpy(want + used, text + s, e - s);
        used += e - s;
    }
    want[used] = '\0';
    const char *got = json_string_value(json_object_get(r, "summary_text"));
    assert_non_null(got);
    assert_string_equal(got, want);
    free(want);
    return k;
}

static void
assert_worker_unharmed(nlpd_e2e *e, int pid)
{
    json_t *s = nlpd_e2e_status(e);
    assert_non_null(s);
    json_t *st = nlpd_e2e_stage(s, "summarize");
    assert_non_null(st);
    assert_int_equal(json_integer_value(json_object_get(st, "restarts")), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "crashes")), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "timeouts")), 0);
    json_decref(s);
    assert_int_equal(nlpd_e2e_worker_pid(e, "summarize", 0), pid);
}

/* A JSON input line for `text` with `options` (a JSON object's text). */
static char *
line_for(const char *id, const char *text, const char *options)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "text", json_string(text));
    if (options != NULL)
        json_object_set_new(o, "options", json_loads(options, 0, NULL));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_non_null(s);
    return s;
}

static void
test_summarize_a_feed_article(void **state)
{
    (void)state;
    nlpd_e2e e;
    start(&e);
    size_t len;
    char *article = nlpd_test_fixture("ingest/feed-article.txt", &len);
    json_t *r = nlpd_e2e_annotate_bytes(&e, article, len, NULL);
    assert_non_null(r);
    assert_null(json_object_get(r, "errors"));
    assert_non_null(strstr(nlpd_e2e_trace(r), "summarize"));
    assert_int_equal(assert_summary(r, article, len), 3); /* the default budget */
    /* Every chosen sentence lies in a body region; headline and lede are
     * evidence, not candidates. */
    json_t *sents = json_object_get(r, "sentences");
    json_t *regions = json_object_get(r, "regions");
    assert_true(json_array_size(regions) > 0);
    json_t *sum = json_object_get(r, "summary");
    json_t *scores = json_object_get(r, "summary_scores");
    for (size_t q = 0; q < json_array_size(sum); q++) {
        size_t i = (size_t)json_integer_value(json_array_get(sum, q));
        size_t se, ss = span_at(sents, i, &se);
        int in_body = 0;
        size_t k;
        json_t *rg;
        json_array_foreach(regions, k, rg)
        {
            const char *kind = json_string_value(json_object_get(rg, "kind"));
            size_t a = (size_t)json_integer_value(json_object_get(rg, "start"));
            size_t b = (size_t)json_integer_value(json_object_get(rg, "end"));
            if (kind != NULL && strcmp(kind, "body") == 0 && a <= ss && se <= b)
                in_body = 1;
        }
        assert_true(in_body);
        assert_true(json_real_value(json_array_get(scores, i)) > 0.0 ||
                    json_integer_value(json_array_get(scores, i)) > 0);
    }
    /* The first sentence is the headline: not a candidate, score 0. */
    assert_true(json_number_value(json_array_get(scores, 0)) == 0.0);
    json_decref(r);
    free(article);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static const char *const story =
    "The central bank raised interest rates on Tuesday to curb inflation. "
    "Rates rose by a quarter point to 5.5 percent, the highest in four years. "
    "Shares fell as investors feared that higher rates would slow growth. "
    "The bank said inflation was still too high. "
    "Analysts expect one more rise before the end of the year. "
    "Mortgage lenders are likely to pass the rise on to borrowers.";

static void
test_summarize_budgets_from_options(void **state)
{
    (void)state;
    nlpd_e2e e;
    start(&e);
    size_t len = strlen(story);

    struct {
        const char *opts;
        size_t want; /* 0: check the word rule */
        size_t words;
    } cases[] = {
        {"{\"summary_sentences\": 1}", 1, 0},  {"{\"summary_sentences\": 2}", 2, 0},
        {"{\"summary_sentences\": 50}", 6, 0}, /* fewer sentences than the budget */
        {"{\"summary_words\": 20}", 0, 20},    {"{\"summary_ratio\": 0.5}", 0, 0},
        {"{\"summary_ratio\": 1.0}", 6, 0},
    };

    size_t total = words_in(story, len);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char *line = line_for("b", story, cases[c].opts);
        json_t *r = nlpd_e2e_annotate(&e, line, NULL);
        size_t k = assert_summary(r, story, len);
        if (cases[c].want != 0) {
            assert_int_equal(k, cases[c].want);
        } else {
            /* FORMAT.md: sentences are added while the words chosen are
             * fewer than the budget: the budget is reached, and without the
             * last one added the words were under it (so also without the
             * longest one). */
            double budget = cases[c].words ? (double)cases[c].words : 0.5 * (double)total;
            json_t *sents = json_object_get(r, "sentences");
            json_t *sum = json_object_get(r, "summary");
            size_t used = 0, longest = 0;
            for (size_t q = 0; q < k; q++) {
                size_t e2,
                    s = span_at(sents, (size_t)json_integer_value(json_array_get(sum, q)), &e2);
                size_t w = words_in(story + s, e2 - s);
                used += w;
                longest = w > longest ? w : longest;
            }
            assert_true((double)used >= budget);
            assert_true((double)(used - longest) < budget);
        }
        json_decref(r);
        free(line);
    }
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_summarize_bad_budget_is_an_error_record_and_the_document_goes_on(void **state)
{
    (void)state;
    nlpd_e2e e;
    start(&e);
    int pid = nlpd_e2e_worker_pid(&e, "summarize", 0);
    size_t len = strlen(story);
    /* Several budgets at once: which one? An error, not a guess. */
    char *line = line_for("bad", story, "{\"summary_sentences\": 2, \"summary_ratio\": 0.3}");
    json_t *r = nlpd_e2e_annotate(&e, line, NULL);
    assert_non_null(r);
    assert_int_equal(nlpd_e2e_error_count(r, "bad_budget"), 1);
    size_t i;
    json_t *er;
    json_array_foreach(json_object_get(r, "errors"), i, er)
    {
        assert_string_equal(json_string_value(json_object_get(er, "stage")), "summarize");
        assert_non_null(strstr(json_string_value(json_object_get(er, "message")), "summary_"));
        assert_false(json_is_true(json_object_get(er, "fatal")));
    }
    /* The document went on: the split stage's sentences are there. */
    assert_int_equal(json_array_size(json_object_get(r, "sentences")), 6);
    assert_null(json_object_get(r, "summary"));
    json_decref(r);
    free(line);
    /* A budget of 0, a negative, absurd or non-numeric one: the same error
     * record, and the document goes on without a summary. */
    static const char *const bad[] = {
        "{\"summary_sentences\": -3}", "{\"summary_sentences\": 0}",
        "{\"summary_words\": 1000000000}", "{\"summary_ratio\": 1.5}",
        "{\"summary_ratio\": \"half\"}",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        line = line_for("neg", story, bad[k]);
        r = nlpd_e2e_annotate(&e, line, NULL);
        assert_non_null(r);
        if (nlpd_e2e_error_count(r, "bad_budget") != 1)
            fail_msg("options %s: no bad_budget error record", bad[k]);
        assert_int_equal(json_array_size(json_object_get(r, "sentences")), 6);
        assert_null(json_object_get(r, "summary"));
        json_decref(r);
        free(line);
    }
    /* The next document is summarized by the same worker. */
    line = line_for("good", story, NULL);
    r = nlpd_e2e_annotate(&e, line, NULL);
    assert_int_equal(assert_summary(r, story, len), 3);
    json_decref(r);
    free(line);
    assert_worker_unharmed(&e, pid);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static double
seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_summarize_hostile_documents(void **state)
{
    (void)state;
    nlpd_e2e e;
    start(&e);
    int pid = nlpd_e2e_worker_pid(&e, "summarize", 0);
    /* Empty and blank text, one sentence, symbols only. */
    static const char *const small[] = {"",
                                        "   \n\n  ",
                                        "Only one sentence here.",
                                        "--- *** ---",
                                        "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2.",
                                        "A. B. C."};
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        char *line = line_for("s", small[i], "{\"summary_sentences\": 3}");
        json_t *r = nlpd_e2e_annotate(&e, line, NULL);
        size_t k = assert_summary(r, small[i], strlen(small[i]));
        assert_true(k <= json_array_size(json_object_get(r, "sentences")));
        json_decref(r);
        free(line);
    }
    /* 100,000 sentences, and one sentence repeated 20,000 times. */
    for (int kind = 0; kind < 2; kind++) {
        size_t n = kind == 0 ? 100000 : 20000;
        char *text = malloc(n * 48);
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            len += (size_t)sprintf(
                text + len,
                kind == 0 ? "Item %zu of the list moved. " : "The same thing happened again. ", i);
        text[len] = '\0';
        const char *budgets[] = {"{\"summary_sentences\": 3}", "{\"summary_ratio\": 0.4}"};
        for (size_t b = 0; b < 2; b++) {
            char *line = line_for("big", text, budgets[b]);
            double t0 = seconds();
            json_t *r = nlpd_e2e_annotate(&e, line, NULL);
            double t = seconds() - t0;
            size_t k = assert_summary(r, text, len);
            if (kind == 1)
                assert_int_equal(k, 1); /* a repeat is never chosen twice */
            else
                assert_true(k >= 3);
            print_message("# %s, %s: %zu sentences chosen in %.2f s through the daemon\n",
                          kind == 0 ? "100,000 sentences" : "one sentence x 20,000", budgets[b], k,
                          t);
            assert_true(t < 60.0);
            json_decref(r);
            free(line);
        }
        free(text);
    }
    assert_worker_unharmed(&e, pid);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_summarize_a_feed_article, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_summarize_budgets_from_options, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(
            test_summarize_bad_budget_is_an_error_record_and_the_document_goes_on,
            nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_summarize_hostile_documents, nlpd_e2e_teardown),
    };
    return cmocka_run_group_tests_name("summarize_e2e", tests, NULL, NULL);
}
