/* tests/bench/summarize_bench.c — how fast the summarize library runs on
 * one core, whether its hot path allocates, and how its time grows with
 * the length of a document.
 *
 * A program that prints figures, not a test: it asserts nothing about speed
 * and exits 0 whatever the figures are, nonzero only when something broke.
 *
 *  - Throughput: news articles of about 4 KB (the "text" of
 *    ../shared/data/bbc-news-summary/dev.jsonl beside $NLPD_SOURCE_DIR,
 *    consecutive articles joined when that brings one closer to 4,096
 *    bytes, so they are 4 KB on average; read
 *    at run time, nothing of it is kept; without ../shared, the project's
 *    feed fixture repeated to 4 KB). Each article is split into sentences
 *    once by nlpd_split (the split stage's library, timed too, for the
 *    share; and tagged by nlpd_tag, timed, when the build has it), then
 *    summarized by one summarizer, as the worker does, in
 *    passes of at least --seconds S (default 1) of the thread's CPU time
 *    (CLOCK_THREAD_CPUTIME_ID: time the shared machine gives to others does
 *    not count) per run; --runs runs
 *    (default 5) after a warm-up pass. Prints articles/s of each run, the
 *    best and the median (the machine is shared: the best is the least
 *    disturbed), for a budget of 3 sentences and for a ratio of 0.4; the
 *    heap allocations of the measured runs (should be none); and split's
 *    and tag's time per article beside summarize's: the stage's share of
 *    the default pipeline's library time (ingest and the daemon's own
 *    work not counted).
 *  - Long documents: 1,250 to 100,000 sentences, time per document and
 *    per sentence (flat per sentence: linear, not quadratic).
 *  - --smoke: one short run of each (CI: it runs). --runs 1 --seconds 0
 *    --no-long runs each article exactly twice per budget (warm-up and
 *    one pass): for instruction counts under callgrind, which the shared
 *    machine's noise does not touch; --budget sentences|ratio|entities
 *    runs one row only. The third row ("3 sentences, entities") gives the
 *    summarizer the tagger's entities too, as the default pipeline does.
 */
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/split.h"
#include "nlpd/summarize.h"
#ifdef NLPD_BENCH_HAVE_TAG
#include "nlpd/tag.h"
#endif
#include "test_support.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct article {
    char *text;
    size_t len;
    char *title;
    uint32_t *starts, *ends;
    size_t ns;
    nlpd_split_token *toks; /* for the tagger */
    nlpd_split_sentence *sents;
    size_t nt;
    nlpd_span *ents; /* the tagger's entities (NULL without nlpd_tag) */
    size_t ne;
} article;

/* The thread's CPU time: on a shared machine, the time another process
 * holds the core does not count against us (wall time would). */
static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char *
source_dir(void)
{
    const char *s = getenv("NLPD_SOURCE_DIR");
    if (s != NULL)
        return s;
#ifdef NLPD_SOURCE_DIR
    return NLPD_SOURCE_DIR;
#else
    return ".";
#endif
}

/* Appends a text, joined to the previous article when that brings it
 * closer to 4,096 bytes (so articles are 4 KB on average). */
static void
add_text(article **arts, size_t *n, size_t *cap, const char *text, const char *title)
{
    size_t l = strlen(text);
    if (*n > 0 &&
        labs((long)((*arts)[*n - 1].len + 2 + l) - 4096) < labs((long)(*arts)[*n - 1].len - 4096)) {
        article *a = &(*arts)[*n - 1];
        char *p = realloc(a->text, a->len + 2 + l + 1);
        if (p == NULL)
            exit(2);
        memcpy(p + a->len, "\n\n", 2);
        memcpy(p + a->len + 2, text, l + 1);
        a->text = p;
        a->len += 2 + l;
        return;
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        article *p = realloc(*arts, *cap * sizeof(*p));
        if (p == NULL)
            exit(2);
        *arts = p;
    }
    article *a = &(*arts)[(*n)++];
    memset(a, 0, sizeof(*a));
    a->text = strdup(text);
    a->len = strlen(text);
    a->title = title != NULL ? strdup(title) : NULL;
}

static size_t
load_articles(article **arts, const char **from)
{
    size_t n = 0, cap = 0;
    char path[4096];
    snprintf(path, sizeof(path), "%s/../shared/data/bbc-news-summary/dev.jsonl", source_dir());
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        char *line = NULL;
        size_t lcap = 0;
        while (getline(&line, &lcap, f) > 0) {
            json_t *j = json_loads(line, 0, NULL);
            if (j == NULL)
                continue;
            const char *t = json_string_value(json_object_get(j, "text"));
            if (t != NULL)
                add_text(arts, &n, &cap, t, json_string_value(json_object_get(j, "title")));
            json_decref(j);
        }
        free(line);
        fclose(f);
        *from = "bbc-news-summary dev (../shared, read at run time)";
    }
    if (n == 0) {
        size_t len;
        char *t = nlpd_test_read_file(nlpd_test_fixture_path("ingest/feed-article.txt"), &len);
        if (t == NULL)
            return 0;
        for (int i = 0; i < 64; i++)
            add_text(arts, &n, &cap, t, NULL);
        free(t);
        *from = "tests/fixtures/ingest/feed-article.txt, repeated";
    }
    return n;
}

/* Splits every article once; returns the seconds per article. */
static double
split_all(article *arts, size_t n)
{
    nlpd_split_model *m;
    nlpd_split *sp;
    if (nlpd_split_model_load_builtin(&m, "en") != 0 || nlpd_split_new(&sp, m, NULL) != 0)
        exit(2);
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++) {
            article *a = &arts[i];
            if (nlpd_split_run(sp, a->text, a->len, NULL, 0) != 0)
                exit(2);
            if (rep > 0)
                continue;
            const nlpd_split_sentence *s;
            const nlpd_split_token *t;
            a->ns = nlpd_split_sentences(sp, &s);
            a->nt = nlpd_split_tokens(sp, &t);
            a->starts = malloc((a->ns + 1) * sizeof(uint32_t));
            a->ends = malloc((a->ns + 1) * sizeof(uint32_t));
            a->sents = malloc((a->ns + 1) * sizeof(*a->sents));
            a->toks = malloc((a->nt + 1) * sizeof(*a->toks));
            if (a->starts == NULL || a->ends == NULL || a->sents == NULL || a->toks == NULL)
                exit(2);
            for (size_t k = 0; k < a->ns; k++) {
                a->starts[k] = s[k].start;
                a->ends[k] = s[k].end;
            }
            memcpy(a->sents, s, a->ns * sizeof(*s));
            memcpy(a->toks, t, a->nt * sizeof(*t));
        }
        double t = (now() - t0) / (double)n;
        best = t < best ? t : best;
    }
    nlpd_split_free(&sp);
    nlpd_split_model_free(&m);
    return best;
}

/* Tags every article (the tag stage's library over split's tokens), best
 * of 3 passes; returns the seconds per article, or 0 without nlpd_tag. */
static double
tag_all(article *arts, size_t n)
{
#ifdef NLPD_BENCH_HAVE_TAG
    nlpd_tag_model *m;
    nlpd_tagger *tg;
    if (nlpd_tag_model_load_builtin(&m, "en") != 0 || nlpd_tagger_new(&tg, m, NULL) != 0)
        exit(2);
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++) {
            if (nlpd_tagger_run(tg, arts[i].text, arts[i].len, arts[i].toks, arts[i].nt,
                                arts[i].sents, arts[i].ns) != 0)
                exit(2);
            if (rep > 0)
                continue;
            const nlpd_tag_entity *e;
            arts[i].ne = nlpd_tagger_entities(tg, &e);
            arts[i].ents = malloc((arts[i].ne + 1) * sizeof(*arts[i].ents));
            if (arts[i].ents == NULL)
                exit(2);
            for (size_t k = 0; k < arts[i].ne; k++)
                arts[i].ents[k] = (nlpd_span){e[k].start, e[k].end};
        }
        double t = (now() - t0) / (double)n;
        best = t < best ? t : best;
    }
    nlpd_tagger_free(&tg);
    nlpd_tag_model_free(&m);
    return best;
#else
    (void)arts;
    (void)n;
    return 0.0;
#endif
}

static int with_entities; /* the throughput rows give the tagger's entities */

static nlpd_summarize_input
input_of(const article *a)
{
    nlpd_summarize_input in = {.text = a->text,
                               .len = a->len,
                               .starts = a->starts,
                               .ends = a->ends,
                               .n_sentences = a->ns,
                               .title = a->title,
                               .title_len = a->title ? strlen(a->title) : 0};
    if (with_entities) {
        in.entities = a->ents;
        in.n_entities = a->ne;
    }
    return in;
}

static void
throughput(nlpd_summarizer *sz, const article *arts, size_t n, const nlpd_summarize_budget *b,
           const char *name, int runs, double min_s, double split_s, double tag_s)
{
    for (size_t i = 0; i < n; i++) { /* warm-up: buffers grow to the largest */
        nlpd_summarize_input in = input_of(&arts[i]);
        if (nlpd_summarize_run(sz, &in, b) != 0)
            exit(2);
    }
    nlpd_test_alloc_reset();
    double rates[32];
    printf("%-22s", name);
    for (int r = 0; r < runs; r++) {
        size_t done = 0;
        double t0 = now(), t;
        do {
            for (size_t i = 0; i < n; i++) {
                nlpd_summarize_input in = input_of(&arts[i]);
                if (nlpd_summarize_run(sz, &in, b) != 0)
                    exit(2);
            }
            done += n;
            t = now() - t0;
        } while (t < min_s);
        rates[r] = (double)done / t;
        printf(" %8.0f", rates[r]);
    }
    long allocs = nlpd_test_alloc_count();
    qsort(rates, (size_t)runs, sizeof(rates[0]), cmp_double);
    double best = rates[runs - 1], median = rates[runs / 2];
    printf("  articles/s; best %.0f, median %.0f (%.1f us/article); heap allocations in the "
           "runs: %ld\n",
           best, median, 1e6 / median, allocs);
    double sum_s = 1.0 / median;
    if (tag_s > 0.0)
        printf("%-22s per article: split %.1f us, tag %.1f us, summarize %.1f us (median): "
               "summarize is %.0f%% of split + tag + summarize, %.0f%% of split + summarize\n",
               "", split_s * 1e6, tag_s * 1e6, sum_s * 1e6,
               100.0 * sum_s / (split_s + tag_s + sum_s), 100.0 * sum_s / (split_s + sum_s));
    else
        printf("%-22s per article: split %.1f us, summarize %.1f us (median): summarize is "
               "%.0f%% of split + summarize (no tag library in this build)\n",
               "", split_s * 1e6, sum_s * 1e6, 100.0 * sum_s / (split_s + sum_s));
}

static void
long_documents(nlpd_summarizer *sz, int smoke)
{
    static const char *const words[] = {"river",  "bank",   "rates", "flood", "school", "mayor",
                                        "bridge", "growth", "rain",  "choir", "market", "court",
                                        "power",  "train",  "storm", "vote"};
    printf("\nlong documents (distinct sentences of ~9 words; best of 3):\n");
    static const size_t sizes[] = {1250, 2500, 5000, 10000, 20000, 50000, 100000};
    size_t max = smoke ? 20000 : 100000;
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]) && sizes[si] <= max; si++) {
        size_t n = sizes[si];
        char *text = malloc(n * 80);
        uint32_t *st = malloc(n * sizeof(*st)), *en = malloc(n * sizeof(*en));
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
            st[i] = (uint32_t)len;
            len += (size_t)sprintf(text + len, "The %s and the %s met the %s %zu times.",
                                   words[i % 16], words[(i / 16) % 16], words[(i / 256) % 16], i);
            en[i] = (uint32_t)len;
            text[len++] = ' ';
        }
        nlpd_summarize_input in = {
            .text = text, .len = len, .starts = st, .ends = en, .n_sentences = n};
        const nlpd_summarize_budget b3 = {.sentences = 3}, br = {.ratio = 0.4};
        double best3 = 1e9, bestr = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now();
            if (nlpd_summarize_run(sz, &in, &b3) != 0)
                exit(2);
            double t1 = now();
            if (nlpd_summarize_run(sz, &in, &br) != 0)
                exit(2);
            double t2 = now();
            best3 = t1 - t0 < best3 ? t1 - t0 : best3;
            bestr = t2 - t1 < bestr ? t2 - t1 : bestr;
        }
        printf("  %7zu sentences: 3 sentences %8.2f ms (%.2f us/sentence), ratio 0.4 %8.2f ms "
               "(%.2f us/sentence)\n",
               n, best3 * 1e3, best3 * 1e6 / (double)n, bestr * 1e3, bestr * 1e6 / (double)n);
        free(text);
        free(st);
        free(en);
    }
}

int
main(int argc, char **argv)
{
    int smoke = 0, runs = 5, no_long = 0, only = 0; /* only: 1 sentences, 2 ratio, 3 entities */
    double min_s = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0) {
            smoke = 1;
        } else if (strcmp(argv[i], "--no-long") == 0) {
            no_long = 1;
        } else if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) {
            i++;
            only = strcmp(argv[i], "sentences") == 0  ? 1
                   : strcmp(argv[i], "ratio") == 0    ? 2
                   : strcmp(argv[i], "entities") == 0 ? 3
                                                      : -1;
            if (only < 0) {
                fprintf(stderr, "nlpd-bench-summarize: --budget sentences|ratio|entities\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            min_s = atof(argv[++i]);
        } else {
            fprintf(stderr,
                    "usage: nlpd-bench-summarize [--smoke] [--runs N] [--seconds S] [--no-long] "
                    "[--budget sentences|ratio|entities]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 32)
        runs = 5;
    if (smoke) {
        runs = 1;
        min_s = 0.05;
    }
    nlpd_test_alloc_install();
    article *arts = NULL;
    const char *from = "";
    size_t n = load_articles(&arts, &from);
    if (n == 0) {
        fprintf(stderr, "nlpd-bench-summarize: no articles\n");
        return 2;
    }
    double split_s = split_all(arts, n);
    double tag_s = tag_all(arts, n);
    size_t bytes = 0, sents = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += arts[i].len;
        sents += arts[i].ns;
    }
    nlpd_summarize_model *m;
    nlpd_summarizer *sz;
    if (nlpd_summarize_model_load_builtin(&m) != 0 || nlpd_summarizer_new(&sz, m, NULL) != 0)
        return 2;
#ifdef NLPD_BENCH_BUILD_TYPE
    printf("nlpd-bench-summarize (%s build)\n", NLPD_BENCH_BUILD_TYPE);
#endif
    printf("%zu articles from %s: %.0f bytes, %.1f sentences each on average\n", n, from,
           (double)bytes / (double)n, (double)sents / (double)n);
    printf("one core, %d runs of >= %.2f s of CPU time each (articles/s of CPU time per run):\n",
           runs, min_s);
    const nlpd_summarize_budget b3 = {.sentences = 3}, br = {.ratio = 0.4};
    if (only == 0 || only == 1)
        throughput(sz, arts, n, &b3, "summary_sentences 3", runs, min_s, split_s, tag_s);
    if (only == 0 || only == 2)
        throughput(sz, arts, n, &br, "summary_ratio 0.4", runs, min_s, split_s, tag_s);
    if ((only == 0 || only == 3) && tag_s > 0.0) { /* as in the default pipeline */
        with_entities = 1;
        throughput(sz, arts, n, &b3, "3 sentences, entities", runs, min_s, split_s, tag_s);
        with_entities = 0;
    }
    if (!no_long)
        long_documents(sz, smoke);
    nlpd_summarizer_free(&sz);
    nlpd_summarize_model_free(&m);
    for (size_t i = 0; i < n; i++) {
        free(arts[i].text);
        free(arts[i].title);
        free(arts[i].starts);
        free(arts[i].ends);
        free(arts[i].toks);
        free(arts[i].sents);
        free(arts[i].ents);
    }
    free(arts);
    return 0;
}
