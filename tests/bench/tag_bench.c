/* tests/bench/tag_bench.c — how fast the tag library tags tokenized text
 * on one core, how long its model takes to load, and whether its memory
 * stays flat.
 *
 * A program that prints figures, not a test: it asserts nothing about speed
 * and exits 0 whatever the figures are, nonzero only when something broke.
 *
 *  - Model load: the built-in model (or --model FILE) loaded --loads times
 *    (default 20); the median and the worst time.
 *  - Throughput: every document of the corpus is split first (not timed),
 *    then tagged on its own as the worker does (nlpd_tagger_run per
 *    document), by one tagger, in passes until a run has tagged at least
 *    --mtokens million tokens (default 20); --runs runs (default 5) after
 *    one warm-up pass. Prints tokens/s, MB/s, documents/s and 4 KB
 *    articles/s (the MB/s over 4096-byte articles) of each run and their
 *    median, and the heap allocations of the measured runs (through
 *    nlpd_set_allocator(): there should be none).
 *  - Memory: VmRSS and VmHWM (/proc/self/status) before the model, after
 *    it, and after every run: flat after the warm-up.
 *  - --smoke: a few runs of a few thousand tokens (CI: it still runs).
 *
 * The corpus: the "text" of ../shared/data/bbc-news-summary/dev.jsonl
 * (news) beside the source tree when it is there, else the project's own
 * fixture article; or the files given with --corpus FILE.jsonl.
 */
#include "nlpd/error.h"
#include "nlpd/split.h"
#include "nlpd/tag.h"
#include "test_support.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SOURCES 16
#define MAX_RUNS    50

typedef struct opts {
    int runs;
    int loads;
    double mtokens;
    int smoke;
    int sentences_only;
    const char *model;
    const char *corpus[MAX_SOURCES];
    int n_corpus;
} opts;

/* One document, split once before the timing. */
typedef struct bdoc {
    char *text;
    size_t len;
    nlpd_split_token *tok;
    size_t n_tok;
    nlpd_split_sentence *sen;
    size_t n_sen;
} bdoc;

typedef struct corpus {
    bdoc *v;
    size_t n, cap;
    size_t bytes, tokens;
} corpus;

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: nlpd-bench-tag [options]\n"
            "\n"
            "Entity tagging throughput of the tag library on one core (tokens/s, MB/s,\n"
            "documents/s; median of several runs), model load time, heap allocations and RSS.\n"
            "\n"
            "  --runs N        measured runs (default 5)\n"
            "  --mtokens N     million tokens per run, at least (default 20)\n"
            "  --loads N       model loads timed (default 20)\n"
            "  --model FILE    a model file instead of the built-in one\n"
            "  --corpus FILE   a JSONL file whose lines' \"text\" are documents (repeatable)\n"
            "  --sentences-only  tag without the document pass (its cost is the difference)\n"
            "  --smoke         a few thousand tokens (CI: it still runs)\n"
            "\n"
            "Default corpus: ../shared/data/bbc-news-summary/dev.jsonl beside the source\n"
            "tree, else tests/fixtures/ingest/feed-article.txt. MB = 10^6 bytes.\n");
}

static double
clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wall-clock time, and this thread's CPU time: on a machine that runs
 * other work the CPU time shows what one core of ours does. */
static double
now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static double
cpu_s(void)
{
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static int
parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* Returns 0, 1 for --help, or -1 after a message on a bad command line. */
static int
parse_opts(opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    o->runs = 5;
    o->loads = 20;
    o->mtokens = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        double v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--smoke") == 0) {
            o->smoke = 1;
        } else if (strcmp(a, "--sentences-only") == 0) {
            o->sentences_only = 1;
        } else if (strcmp(a, "--runs") == 0 && val != NULL &&
                   parse_num(val, 1, MAX_RUNS, &v) == 0) {
            o->runs = (int)v;
            i++;
        } else if (strcmp(a, "--loads") == 0 && val != NULL && parse_num(val, 1, 1000, &v) == 0) {
            o->loads = (int)v;
            i++;
        } else if (strcmp(a, "--mtokens") == 0 && val != NULL &&
                   parse_num(val, 0.001, 1e5, &v) == 0) {
            o->mtokens = v;
            i++;
        } else if (strcmp(a, "--model") == 0 && val != NULL) {
            o->model = val;
            i++;
        } else if (strcmp(a, "--corpus") == 0 && val != NULL && o->n_corpus < MAX_SOURCES) {
            o->corpus[o->n_corpus++] = val;
            i++;
        } else {
            fprintf(stderr, "nlpd-bench-tag: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (o->smoke) {
        o->runs = 2;
        o->loads = 2;
        o->mtokens = 0.005;
    }
    return 0;
}

/* Splits `text` (taken over) and adds it to the corpus. Returns 0 or -1. */
static int
add_doc(corpus *c, nlpd_split *sp, char *text, size_t len)
{
    if (nlpd_split_run(sp, text, len, NULL, 0) != 0) {
        free(text);
        return -1;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        bdoc *v = realloc(c->v, cap * sizeof(*v));
        if (v == NULL) {
            free(text);
            return -1;
        }
        c->v = v;
        c->cap = cap;
    }
    bdoc *d = &c->v[c->n];
    const nlpd_split_token *tok;
    const nlpd_split_sentence *sen;
    d->text = text;
    d->len = len;
    d->n_tok = nlpd_split_tokens(sp, &tok);
    d->n_sen = nlpd_split_sentences(sp, &sen);
    d->tok = malloc((d->n_tok + 1) * sizeof(*tok));
    d->sen = malloc((d->n_sen + 1) * sizeof(*sen));
    if (d->tok == NULL || d->sen == NULL) {
        free(d->tok);
        free(d->sen);
        free(text);
        return -1;
    }
    memcpy(d->tok, tok, d->n_tok * sizeof(*tok));
    memcpy(d->sen, sen, d->n_sen * sizeof(*sen));
    c->n++;
    c->bytes += len;
    c->tokens += d->n_tok;
    return 0;
}

/* Adds the "text" of every line of a JSONL file. Returns 0 or -1. */
static int
load_jsonl(corpus *c, nlpd_split *sp, const char *path)
{
    size_t len;
    char *buf = nlpd_test_read_file(path, &len);
    if (buf == NULL) {
        fprintf(stderr, "nlpd-bench-tag: cannot read %s\n", path);
        return -1;
    }
    int rc = 0;
    for (char *line = buf, *nl; rc == 0 && line < buf + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(buf + len - line));
        if (nl == NULL)
            nl = buf + len;
        json_error_t err;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &err);
        const char *text = j != NULL ? json_string_value(json_object_get(j, "text")) : NULL;
        if (text != NULL) {
            size_t tl = json_string_length(json_object_get(j, "text"));
            char *copy = malloc(tl + 1);
            rc = copy != NULL ? (memcpy(copy, text, tl + 1), add_doc(c, sp, copy, tl)) : -1;
        }
        json_decref(j);
    }
    free(buf);
    return rc;
}

/* Prints VmRSS and VmHWM from /proc/self/status after `what`. */
static void
print_rss(const char *what)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256], rss[64] = "?", hwm[64] = "?";
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            sscanf(line + 6, " %63[^\n]", rss);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            sscanf(line + 6, " %63[^\n]", hwm);
    }
    fclose(f);
    printf("  memory %-28s VmRSS %-12s VmHWM %s\n", what, rss, hwm);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times model loads. Returns 0 or -1. */
static int
bench_load(const opts *o)
{
    double t[1000], c[1000];
    for (int i = 0; i < o->loads; i++) {
        nlpd_tag_model *m = NULL;
        double t0 = now_s(), c0 = cpu_s();
        int rc = o->model ? nlpd_tag_model_load(&m, o->model)
                          : nlpd_tag_model_load_builtin(&m, "en");
        t[i] = now_s() - t0;
        c[i] = cpu_s() - c0;
        if (rc != 0) {
            fprintf(stderr, "nlpd-bench-tag: cannot load the model: %s\n", nlpd_strerror(rc));
            return -1;
        }
        nlpd_tag_model_free(&m);
    }
    qsort(t, (size_t)o->loads, sizeof(t[0]), cmp_double);
    qsort(c, (size_t)o->loads, sizeof(c[0]), cmp_double);
    printf("model load (%s): median %.1f ms (cpu %.1f ms), worst %.1f ms (cpu %.1f ms) over %d "
           "loads\n",
           o->model ? o->model : "built-in en", t[o->loads / 2] * 1e3, c[o->loads / 2] * 1e3,
           t[o->loads - 1] * 1e3, c[o->loads - 1] * 1e3, o->loads);
    return 0;
}

/* One pass over the corpus. Returns the entities found, or -1. */
static long
tag_pass(nlpd_tagger *tg, const corpus *c)
{
    long ents = 0;
    for (size_t i = 0; i < c->n; i++) {
        const bdoc *d = &c->v[i];
        int rc = nlpd_tagger_run(tg, d->text, d->len, d->tok, d->n_tok, d->sen, d->n_sen);
        if (rc != 0) {
            fprintf(stderr, "nlpd-bench-tag: document %zu: %s\n", i, nlpd_strerror(rc));
            return -1;
        }
        const nlpd_tag_entity *e;
        ents += (long)nlpd_tagger_entities(tg, &e);
    }
    return ents;
}

static int
bench_throughput(const opts *o, const corpus *c)
{
    nlpd_tag_model *m = NULL;
    nlpd_tagger *tg = NULL;
    int rc = o->model ? nlpd_tag_model_load(&m, o->model) : nlpd_tag_model_load_builtin(&m, "en");
    nlpd_tag_opts to = NLPD_TAG_OPTS_INIT;
    to.document = !o->sentences_only;
    if (rc == 0)
        rc = nlpd_tagger_new(&tg, m, &to);
    if (rc != 0) {
        fprintf(stderr, "nlpd-bench-tag: %s\n", nlpd_strerror(rc));
        nlpd_tag_model_free(&m);
        return -1;
    }
    print_rss("after the model load");
    printf("model: %s\n", nlpd_tag_model_version(m));
    long ents = tag_pass(tg, c); /* warm-up: the tagger's arrays grow */
    if (ents < 0)
        goto fail;
    print_rss("after the warm-up");
    size_t passes = (size_t)(o->mtokens * 1e6 / (double)c->tokens) + 1;
    double tps[MAX_RUNS], cps[MAX_RUNS];
    nlpd_test_alloc_reset();
    for (int r = 0; r < o->runs; r++) {
        double t0 = now_s(), c0 = cpu_s();
        for (size_t p = 0; p < passes; p++)
            if (tag_pass(tg, c) < 0)
                goto fail;
        double dt = now_s() - t0, dc = cpu_s() - c0;
        double toks = (double)c->tokens * (double)passes;
        double bytes = (double)c->bytes * (double)passes;
        tps[r] = toks / dt;
        cps[r] = toks / dc;
        printf("  run %d: %.2f M tokens in %.3f s (cpu %.3f s): %.0f tokens/s (cpu %.0f), "
               "%.1f MB/s, %.0f documents/s, %.0f 4 KB articles/s (cpu %.0f)\n",
               r + 1, toks / 1e6, dt, dc, tps[r], cps[r], bytes / dt / 1e6,
               (double)(c->n * passes) / dt, bytes / dt / 4096, bytes / dc / 4096);
        print_rss("after the run");
    }
    long allocs = nlpd_test_alloc_count();
    qsort(tps, (size_t)o->runs, sizeof(tps[0]), cmp_double);
    qsort(cps, (size_t)o->runs, sizeof(cps[0]), cmp_double);
    double bpt = (double)c->bytes / (double)c->tokens;
    printf("tagging: median %.0f tokens/s (%.1f MB/s, %.0f 4 KB articles/s); by cpu time "
           "median %.0f tokens/s, best %.0f (%.0f 4 KB articles/s); %d runs; %ld entities per "
           "pass; %ld heap allocations in the measured runs\n",
           tps[o->runs / 2], tps[o->runs / 2] * bpt / 1e6, tps[o->runs / 2] * bpt / 4096,
           cps[o->runs / 2], cps[o->runs - 1], cps[o->runs / 2] * bpt / 4096, o->runs, ents,
           allocs);
    nlpd_tagger_free(&tg);
    nlpd_tag_model_free(&m);
    return 0;
fail:
    nlpd_tagger_free(&tg);
    nlpd_tag_model_free(&m);
    return -1;
}

int
main(int argc, char **argv)
{
    opts o;
    int prc = parse_opts(&o, argc, argv);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
#ifdef NLPD_SOURCE_DIR
    setenv("NLPD_SOURCE_DIR", NLPD_SOURCE_DIR, 0); /* the fixtures and ../shared */
#endif
    nlpd_test_alloc_install(); /* counts; never fails */
    print_rss("at start");

    nlpd_split_model *sm = NULL;
    nlpd_split *sp = NULL;
    if (nlpd_split_model_load_builtin(&sm, "en") != 0 || nlpd_split_new(&sp, sm, NULL) != 0) {
        fprintf(stderr, "nlpd-bench-tag: cannot make a splitter\n");
        return 1;
    }
    corpus c = {0};
    int rc = 0;
    if (o.n_corpus == 0) {
        const char *bbc = nlpd_test_shared_data("bbc-news-summary/dev.jsonl");
        if (bbc != NULL) {
            o.corpus[o.n_corpus++] = bbc;
        } else {
            size_t len;
            char *text = nlpd_test_read_file(nlpd_test_fixture_path("ingest/feed-article.txt"),
                                             &len);
            rc = text != NULL ? add_doc(&c, sp, text, len) : -1;
            printf("corpus: tests/fixtures/ingest/feed-article.txt (../shared is absent)\n");
        }
    }
    for (int i = 0; rc == 0 && i < o.n_corpus; i++) {
        rc = load_jsonl(&c, sp, o.corpus[i]);
        printf("corpus: %s\n", o.corpus[i]);
    }
    nlpd_split_free(&sp);
    nlpd_split_model_free(&sm);
    if (rc != 0 || c.tokens == 0) {
        fprintf(stderr, "nlpd-bench-tag: no corpus\n");
        return 1;
    }
    printf("corpus: %zu documents, %.2f MB, %zu tokens (%.0f bytes per document)\n", c.n,
           (double)c.bytes / 1e6, c.tokens, (double)c.bytes / (double)c.n);
    print_rss("with the corpus split");
    rc = bench_load(&o);
    if (rc == 0)
        rc = bench_throughput(&o, &c);
    for (size_t i = 0; i < c.n; i++) {
        free(c.v[i].text);
        free(c.v[i].tok);
        free(c.v[i].sen);
    }
    free(c.v);
    return rc == 0 ? 0 : 1;
}
