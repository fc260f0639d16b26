/* tests/bench/split_bench.c — how fast the split library tokenizes and
 * splits news-like text on one core, whether its memory stays flat, and
 * what share of the pipeline's time per document the split stage takes.
 *
 * A program that prints figures, not a test: it asserts nothing about speed
 * and exits 0 whatever the figures are, nonzero only when something broke.
 *
 * Modes (one per run):
 *
 *  - default: throughput. Every document of the corpus is run on its own,
 *    as the worker runs them (nlpd_split_run per document, regions NULL),
 *    by one splitter, in passes over the corpus until a run has processed
 *    at least --mb MB (default 100); --runs runs (default 5) after one
 *    warm-up pass. Prints MB/s, tokens/s and sentences/s of each run and
 *    their median, one shorter run per corpus file, and the heap
 *    allocations counted through nlpd_set_allocator(): those of the
 *    warm-up (buffers growing to the largest document) and those of the
 *    measured runs, which should be none at all.
 *  - --stream-gb N: streams N GB (default 1) of documents through one
 *    splitter and prints VmRSS/VmHWM (/proc/self/status) and the live heap
 *    bytes at the start, every 100 MB and at the end.
 *  - --pipeline: starts the daemon with the pipeline "ingest split" in a
 *    temp dir, submits --docs documents (default 300) one at a time and
 *    prints each stage's mean time from the documents' trace beside the
 *    end-to-end latency, and split's share of both.
 *  - --smoke: a few MB of each of the above but the pipeline (CI: it runs).
 *
 * The corpus: the "text" of every ../shared/data/{name}/{train,dev}.jsonl
 * next to the source tree ($NLPD_SOURCE_DIR, else the tree this was built
 * from), else the project's own fixtures (tests/fixtures/ingest/
 * feed-article.txt, tests/fixtures/split/ *); or the files given with
 * --corpus FILE.jsonl and --text FILE (one document per file).
 * MB here is 10^6 bytes of UTF-8 text.
 */
#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/split.h"
#include "test_support.h"
/* nlpd__tokenize_path(): which fast path the figures come from. */
#include "../../stages/split/split_internal.h"

#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef NLPD_BENCH_E2E
#include "e2e.h"
#include "nlpd/json.h"
#include "nlpd/nlpd.pb-c.h"
#endif

#ifndef NLPD_BENCH_BUILD_TYPE
#define NLPD_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef NLPD_BENCH_SANITIZE
#define NLPD_BENCH_SANITIZE ""
#endif

#define MB          1e6
#define MAX_SOURCES 64
#define MAX_RUNS    50

/* --- Options -------------------------------------------------------------- */

typedef enum mode {
    MODE_THROUGHPUT,
    MODE_STREAM,
    MODE_PIPELINE,
    MODE_SMOKE,
} mode;

typedef struct opts {
    mode mode;
    int runs;
    double mb;        /* per throughput run, at least */
    double stream_gb; /* --stream-gb */
    int docs;         /* --pipeline */
    const char *model;
    const char *lang;
    const char *corpus[MAX_SOURCES]; /* --corpus FILE.jsonl */
    int n_corpus;
    const char *text[MAX_SOURCES]; /* --text FILE */
    int n_text;
} opts;

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: nlpd-bench-split [options]\n"
            "\n"
            "Tokenization + sentence splitting throughput of the split library on one core\n"
            "(MB/s, tokens/s, sentences/s; median of several runs) and its heap allocations.\n"
            "\n"
            "  --runs N          measured runs (default 5)\n"
            "  --mb N            MB of text per run, at least (default 100)\n"
            "  --stream-gb N     instead: stream N GB (default 1) through one splitter and\n"
            "                    print VmRSS/VmHWM every 100 MB\n"
            "  --pipeline        instead: the split stage's share of the time per document\n"
            "                    through a real daemon (ingest, split)\n"
            "  --docs N          documents for --pipeline (default 300)\n"
            "  --smoke           a few MB of throughput and stream (CI: it still runs)\n"
            "  --corpus FILE     a JSONL file whose lines' \"text\" are documents (repeatable)\n"
            "  --text FILE       a file that is one document (repeatable)\n"
            "  --model FILE      a model file instead of the built-in one\n"
            "  --lang LANG       the built-in model's language (default en)\n"
            "\n"
            "Default corpus: ../shared/data/*/{train,dev}.jsonl beside $NLPD_SOURCE_DIR (else\n"
            "the source tree this was built from), else tests/fixtures. MB = 10^6 bytes.\n");
}

static int
parse_double(const char *s, double lo, double hi, double *out)
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
    o->mode = MODE_THROUGHPUT;
    o->runs = 5;
    o->mb = 100;
    o->stream_gb = 1;
    o->docs = 300;
    o->lang = "en";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        double v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--smoke") == 0) {
            o->mode = MODE_SMOKE;
        } else if (strcmp(a, "--pipeline") == 0) {
            o->mode = MODE_PIPELINE;
        } else if (strcmp(a, "--stream-gb") == 0) {
            o->mode = MODE_STREAM;
            if (val != NULL && parse_double(val, 0.001, 1000, &v) == 0) {
                o->stream_gb = v;
                i++;
            }
        } else if (strcmp(a, "--runs") == 0 && val != NULL &&
                   parse_double(val, 1, MAX_RUNS, &v) == 0) {
            o->runs = (int)v;
            i++;
        } else if (strcmp(a, "--mb") == 0 && val != NULL &&
                   parse_double(val, 0.001, 1e6, &v) == 0) {
            o->mb = v;
            i++;
        } else if (strcmp(a, "--docs") == 0 && val != NULL && parse_double(val, 1, 1e6, &v) == 0) {
            o->docs = (int)v;
            i++;
        } else if (strcmp(a, "--corpus") == 0 && val != NULL && o->n_corpus < MAX_SOURCES) {
            o->corpus[o->n_corpus++] = val;
            i++;
        } else if (strcmp(a, "--text") == 0 && val != NULL && o->n_text < MAX_SOURCES) {
            o->text[o->n_text++] = val;
            i++;
        } else if (strcmp(a, "--model") == 0 && val != NULL) {
            o->model = val;
            i++;
        } else if (strcmp(a, "--lang") == 0 && val != NULL) {
            o->lang = val;
            i++;
        } else {
            fprintf(stderr, "nlpd-bench-split: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

/* --- Counting allocator ----------------------------------------------------
 *
 * Installed before any other nlpd call, so every allocation of the library
 * (and of the runtime under it) is seen: calls are counted whether they
 * succeed or not, live bytes are tracked with malloc_usable_size(). */

static struct heap_stats {
    uint64_t calls; /* malloc + calloc + realloc */
    uint64_t frees;
    int64_t live; /* bytes */
    int64_t peak;
} heap;

static void
heap_add(void *p)
{
    if (p == NULL)
        return;
    heap.live += (int64_t)malloc_usable_size(p);
    if (heap.live > heap.peak)
        heap.peak = heap.live;
}

static void *
count_malloc(size_t size)
{
    heap.calls++;
    void *p = malloc(size);
    heap_add(p);
    return p;
}

static void *
count_calloc(size_t count, size_t size)
{
    heap.calls++;
    void *p = calloc(count, size);
    heap_add(p);
    return p;
}

static void *
count_realloc(void *ptr, size_t size)
{
    heap.calls++;
    int64_t old = ptr != NULL ? (int64_t)malloc_usable_size(ptr) : 0;
    void *p = realloc(ptr, size);
    if (p != NULL || size == 0) {
        heap.live -= old;
        heap_add(p);
    }
    return p;
}

static void
count_free(void *ptr)
{
    if (ptr == NULL)
        return;
    heap.frees++;
    heap.live -= (int64_t)malloc_usable_size(ptr);
    free(ptr);
}

/* --- Time and memory ---------------------------------------------------------- */

static double
clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

/* VmRSS and VmHWM of this process in kB, from /proc/self/status. */
static void
read_rss(long *rss_kb, long *hwm_kb)
{
    *rss_kb = *hwm_kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss_kb = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm_kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median(const double *v, int n)
{
    double s[MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof(*v));
    qsort(s, (size_t)n, sizeof(*s), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* --- The corpus ---------------------------------------------------------------- */

typedef struct doc {
    size_t off; /* into corpus.buf */
    uint32_t len;
    int src;
} doc;

typedef struct source {
    char name[64];
    size_t docs;
    size_t bytes;
} source;

typedef struct corpus {
    char *buf;
    size_t len, cap;
    doc *docs;
    size_t n, n_cap;
    source src[MAX_SOURCES];
    int n_src;
    size_t max_doc;
    char where[PATH_MAX + 64]; /* what it was read from, for the report */
} corpus;

static int
corpus_add(corpus *c, const char *text, size_t len)
{
    if (len == 0 || len > UINT32_MAX)
        return 0;
    if (c->len + len > c->cap) {
        size_t cap = c->cap ? c->cap : 1 << 20;
        while (cap < c->len + len)
            cap *= 2;
        char *nb = realloc(c->buf, cap);
        if (nb == NULL)
            return -1;
        c->buf = nb;
        c->cap = cap;
    }
    if (c->n == c->n_cap) {
        size_t cap = c->n_cap ? c->n_cap * 2 : 4096;
        doc *nd = realloc(c->docs, cap * sizeof(*nd));
        if (nd == NULL)
            return -1;
        c->docs = nd;
        c->n_cap = cap;
    }
    memcpy(c->buf + c->len, text, len);
    c->docs[c->n++] = (doc){c->len, (uint32_t)len, c->n_src - 1};
    c->len += len;
    c->src[c->n_src - 1].docs++;
    c->src[c->n_src - 1].bytes += len;
    if (len > c->max_doc)
        c->max_doc = len;
    return 0;
}

/* A source's name: "ud-ewt/train" for .../ud-ewt/train.jsonl. */
static int
corpus_source(corpus *c, const char *path)
{
    if (c->n_src == MAX_SOURCES) {
        fprintf(stderr, "nlpd-bench-split: more than %d corpus files\n", MAX_SOURCES);
        return -1;
    }
    source *s = &c->src[c->n_src++];
    memset(s, 0, sizeof(*s));
    const char *base = strrchr(path, '/');
    const char *dir = base;
    while (dir != NULL && dir > path && dir[-1] != '/')
        dir--;
    const char *name = dir != NULL && dir < base ? dir : (base ? base + 1 : path);
    snprintf(s->name, sizeof(s->name), "%s", name);
    char *dot = strrchr(s->name, '.');
    if (dot != NULL && strchr(dot, '/') == NULL)
        *dot = '\0';
    return 0;
}

/* Reads a corpus file and names it as the next source; NULL (said on
 * stderr) when it cannot be read. Free with free(). */
static char *
corpus_read(corpus *c, const char *path, size_t *len)
{
    char *t = nlpd_test_read_file(path, len);
    if (t == NULL) {
        fprintf(stderr, "nlpd-bench-split: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (corpus_source(c, path) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

static int
corpus_load_text(corpus *c, const char *path)
{
    size_t len;
    char *t = corpus_read(c, path, &len);
    if (t == NULL)
        return -1;
    int rc = corpus_add(c, t, len);
    free(t);
    return rc;
}

/* Every line's "text" (lines without one are skipped). */
static int
corpus_load_jsonl(corpus *c, const char *path)
{
    size_t len;
    char *t = corpus_read(c, path, &len);
    if (t == NULL)
        return -1;
    int rc = 0;
    for (size_t pos = 0; rc == 0 && pos < len;) {
        char *nl = memchr(t + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - t) : len;
        json_t *j = end > pos ? json_loadb(t + pos, end - pos, JSON_ALLOW_NUL, NULL) : NULL;
        json_t *text = json_object_get(j, "text");
        if (json_is_string(text))
            rc = corpus_add(c, json_string_value(text), json_string_length(text));
        json_decref(j);
        pos = end + 1;
    }
    free(t);
    return rc;
}

static int
is_jsonl(const char *path)
{
    size_t n = strlen(path);
    return n > 6 && strcmp(path + n - 6, ".jsonl") == 0;
}

static int
corpus_load_glob(corpus *c, const char *pattern, int *found)
{
    glob_t g;
    int rc = 0;
    if (glob(pattern, 0, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        rc = is_jsonl(g.gl_pathv[i]) ? corpus_load_jsonl(c, g.gl_pathv[i])
                                     : corpus_load_text(c, g.gl_pathv[i]);
        (*found)++;
    }
    globfree(&g);
    return rc;
}

static const char *
source_dir(void)
{
    const char *s = getenv("NLPD_SOURCE_DIR");
    if (s != NULL && s[0] != '\0')
        return s;
#ifdef NLPD_SOURCE_DIR
    return NLPD_SOURCE_DIR;
#else
    return ".";
#endif
}

static int
corpus_load(corpus *c, const opts *o)
{
    memset(c, 0, sizeof(*c));
    int rc = 0, found = 0;
    for (int i = 0; rc == 0 && i < o->n_corpus; i++, found++)
        rc = corpus_load_jsonl(c, o->corpus[i]);
    for (int i = 0; rc == 0 && i < o->n_text; i++, found++)
        rc = corpus_load_text(c, o->text[i]);
    if (rc == 0 && found > 0) {
        snprintf(c->where, sizeof(c->where), "the command line");
    } else if (rc == 0) {
        char pat[1024];
        const char *src = source_dir();
        const char *splits[] = {"train", "dev"};
        for (int k = 0; rc == 0 && k < 2; k++) {
            snprintf(pat, sizeof(pat), "%s/../shared/data/*/%s.jsonl", src, splits[k]);
            rc = corpus_load_glob(c, pat, &found);
        }
        char data[PATH_MAX];
        snprintf(pat, sizeof(pat), "%s/../shared/data", src);
        if (realpath(pat, data) == NULL)
            snprintf(data, sizeof(data), "%s", pat);
        snprintf(c->where, sizeof(c->where), "%s/*/{train,dev}.jsonl", data);
        if (rc == 0 && c->n == 0) {
            snprintf(pat, sizeof(pat), "%s/tests/fixtures/ingest/feed-article.txt", src);
            rc = corpus_load_glob(c, pat, &found);
            snprintf(pat, sizeof(pat), "%s/tests/fixtures/split/*", src);
            if (rc == 0)
                rc = corpus_load_glob(c, pat, &found);
            snprintf(c->where, sizeof(c->where), "%s/tests/fixtures (no ../shared/data)", src);
        }
    }
    if (rc == 0 && c->n == 0) {
        fprintf(stderr, "nlpd-bench-split: no documents (set NLPD_SOURCE_DIR or use --corpus)\n");
        rc = -1;
    }
    return rc;
}

static void
corpus_free(corpus *c)
{
    free(c->buf);
    free(c->docs);
    memset(c, 0, sizeof(*c));
}

/* --- Throughput ------------------------------------------------------------------ */

typedef struct run_result {
    double secs, cpu_secs;
    uint64_t bytes, tokens, sentences, docs, allocs;
} run_result;

/* Runs the documents of source `src` (-1: all) in passes until at least
 * `min_bytes` went through. Returns 0 or the first error of the library. */
static int
run_docs(nlpd_split *sp, const corpus *c, int src, double min_bytes, run_result *r)
{
    memset(r, 0, sizeof(*r));
    uint64_t calls0 = heap.calls;
    double t0 = now_s(), c0 = cpu_s();
    do {
        for (size_t i = 0; i < c->n; i++) {
            const doc *d = &c->docs[i];
            if (src >= 0 && d->src != src)
                continue;
            int rc = nlpd_split_run(sp, c->buf + d->off, d->len, NULL, 0);
            if (rc != 0) {
                fprintf(stderr, "nlpd-bench-split: nlpd_split_run failed on document %zu: %s\n", i,
                        nlpd_strerror(rc));
                return rc;
            }
            const nlpd_split_token *tok;
            const nlpd_split_sentence *sen;
            r->tokens += nlpd_split_tokens(sp, &tok);
            r->sentences += nlpd_split_sentences(sp, &sen);
            r->bytes += d->len;
            r->docs++;
        }
    } while ((double)r->bytes < min_bytes && r->docs > 0);
    r->secs = now_s() - t0;
    r->cpu_secs = cpu_s() - c0;
    r->allocs = heap.calls - calls0;
    return 0;
}

static void
print_run(const char *label, const run_result *r)
{
    printf("  %-34s %6.1f MB %5.2f s %6.1f MB/s %6.2f M tokens/s %6.3f M sentences/s"
           " (cpu %.1f MB/s)\n",
           label, (double)r->bytes / MB, r->secs, (double)r->bytes / MB / r->secs,
           (double)r->tokens / 1e6 / r->secs, (double)r->sentences / 1e6 / r->secs,
           (double)r->bytes / MB / r->cpu_secs);
}

static void
print_header(const corpus *c, const char *model_version)
{
    printf("nlpd-bench-split: %s build%s%s, model \"%s\"\n", NLPD_BENCH_BUILD_TYPE,
           NLPD_BENCH_SANITIZE[0] ? ", sanitizers " : "", NLPD_BENCH_SANITIZE, model_version);
    if (strcmp(NLPD_BENCH_BUILD_TYPE, "Release") != 0 || NLPD_BENCH_SANITIZE[0] != '\0')
        printf("  (not a plain Release build: the figures are not representative)\n");
    printf("tokenizer: %s\n", nlpd__tokenize_path());
    printf("corpus: %zu documents, %.2f MB (mean %.0f B, largest %zu B) from %s\n", c->n,
           (double)c->len / MB, (double)c->len / (double)c->n, c->max_doc, c->where);
}

static int
bench_throughput(nlpd_split *sp, const corpus *c, const opts *o, uint64_t setup_allocs)
{
    run_result warm;
    int rc = run_docs(sp, c, -1, 0, &warm);
    if (rc != 0)
        return rc;
    printf("\nthroughput: one core, one splitter, documents one at a time (nlpd_split_run,\n"
           "regions NULL); %d runs of at least %.0f MB after a warm-up pass\n",
           o->runs, o->mb);
    double mbs[MAX_RUNS], toks[MAX_RUNS], sens[MAX_RUNS], cpu_mbs[MAX_RUNS];
    uint64_t allocs = 0, docs = 0, tokens = 0;
    for (int i = 0; i < o->runs; i++) {
        run_result r;
        rc = run_docs(sp, c, -1, o->mb * MB, &r);
        if (rc != 0)
            return rc;
        char label[32];
        snprintf(label, sizeof(label), "run %d", i + 1);
        print_run(label, &r);
        mbs[i] = (double)r.bytes / MB / r.secs;
        cpu_mbs[i] = (double)r.bytes / MB / r.cpu_secs;
        toks[i] = (double)r.tokens / r.secs;
        sens[i] = (double)r.sentences / r.secs;
        allocs += r.allocs;
        docs += r.docs;
        tokens += r.tokens;
    }
    printf("  median: %.1f MB/s, %.2f M tokens/s, %.3f M sentences/s (cpu time: %.1f MB/s)\n",
           median(mbs, o->runs), median(toks, o->runs) / 1e6, median(sens, o->runs) / 1e6,
           median(cpu_mbs, o->runs));
    printf("  (mean %.1f tokens and %.2f sentences per document of the corpus)\n",
           (double)warm.tokens / (double)warm.docs, (double)warm.sentences / (double)warm.docs);

    if (c->n_src > 1) {
        double per = o->mb / 5 > 1 ? o->mb / 5 : 1;
        printf("\nper corpus file (one run of at least %.0f MB each):\n", per);
        for (int s = 0; s < c->n_src; s++) {
            if (c->src[s].docs == 0)
                continue;
            run_result r;
            rc = run_docs(sp, c, s, per * MB, &r);
            if (rc != 0)
                return rc;
            char label[sizeof(c->src[s].name) + 32];
            snprintf(label, sizeof(label), "%s (%.0f B/doc)", c->src[s].name,
                     (double)c->src[s].bytes / (double)c->src[s].docs);
            print_run(label, &r);
            allocs += r.allocs;
            docs += r.docs;
            tokens += r.tokens;
        }
    }

    printf("\nheap (every nlpd_malloc/calloc/realloc counted):\n"
           "  new splitter and model: %" PRIu64 " allocations; warm-up pass: %" PRIu64
           " in %" PRIu64 " documents (buffers growing to the largest)\n"
           "  after warm-up: %" PRIu64 " allocations in %" PRIu64 " documents, %" PRIu64
           " tokens: %.6f per document, %.9f per token\n"
           "  live heap %.1f kB, peak %.1f kB\n",
           setup_allocs, warm.allocs, warm.docs, allocs, docs, tokens,
           (double)allocs / (double)docs, (double)allocs / (double)tokens, (double)heap.live / 1e3,
           (double)heap.peak / 1e3);
    return 0;
}

/* --- Stream: RSS over N GB -------------------------------------------------------- */

static void
print_mem(double mb_done, uint64_t calls0)
{
    long rss, hwm;
    read_rss(&rss, &hwm);
    printf("  %8.0f MB   VmRSS %7ld kB   VmHWM %7ld kB   heap live %8.1f kB   allocations %" PRIu64
           "\n",
           mb_done, rss, hwm, (double)heap.live / 1e3, heap.calls - calls0);
    fflush(stdout);
}

static int
bench_stream(nlpd_split *sp, const corpus *c, double gb, double step_mb)
{
    double total = gb * 1e9, next = step_mb * MB, done = 0;
    uint64_t calls0 = heap.calls, tokens = 0, docs = 0;
    printf("\nstream: %.2f GB through one splitter, the corpus's documents in turn;\n"
           "memory at the start, every %.0f MB and at the end (allocations since the start)\n",
           gb, step_mb);
    print_mem(0, calls0);
    double t0 = now_s();
    for (size_t i = 0; done < total; i = (i + 1) % c->n) {
        const doc *d = &c->docs[i];
        int rc = nlpd_split_run(sp, c->buf + d->off, d->len, NULL, 0);
        if (rc != 0) {
            fprintf(stderr, "nlpd-bench-split: nlpd_split_run failed: %s\n", nlpd_strerror(rc));
            return rc;
        }
        const nlpd_split_token *tok;
        tokens += nlpd_split_tokens(sp, &tok);
        docs++;
        done += d->len;
        if (done >= next && done < total) {
            print_mem(done / MB, calls0);
            next += step_mb * MB;
        }
    }
    double secs = now_s() - t0;
    print_mem(done / MB, calls0);
    printf("  %" PRIu64 " documents, %" PRIu64 " tokens in %.1f s (%.1f MB/s)\n", docs, tokens,
           secs, done / MB / secs);
    return 0;
}

/* --- Pipeline: the stage's share of the time per document -------------------------- */

#ifdef NLPD_BENCH_E2E

#define MAX_STAGES 8

typedef struct stage_time {
    char name[32];
    double sum_us;
    uint64_t n;
} stage_time;

static void
teardown_at_exit(void)
{
    nlpd_e2e_teardown(NULL);
}

/* Points NLPD_BUILD_DIR at the build tree this runs from (bin/..) unless set. */
static void
set_build_dir(void)
{
    const char *b = getenv("NLPD_BUILD_DIR");
    if (b != NULL && b[0] != '\0')
        return;
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return;
    self[n] = '\0';
    for (int k = 0; k < 2; k++) {
        char *slash = strrchr(self, '/');
        if (slash != NULL)
            *slash = '\0';
    }
    setenv("NLPD_BUILD_DIR", self, 1);
}

static stage_time *
stage_slot(stage_time *st, int *n, const char *name)
{
    for (int i = 0; i < *n; i++) {
        if (strcmp(st[i].name, name) == 0)
            return &st[i];
    }
    if (*n == MAX_STAGES)
        return NULL;
    stage_time *s = &st[(*n)++];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    return s;
}

/* Runs the library in this process on what the split stage saw (the
 * normalized text and the regions of the result), for comparison with
 * the stage's own time. Returns microseconds. */
static double
library_time_us(nlpd_split *sp, const Nlpd__V1__Document *d)
{
    const ProtobufCBinaryData *t = d->norm.len > 0 ? &d->norm : &d->text;
    nlpd_region regions[256];
    size_t n = d->n_regions < 256 ? d->n_regions : 0;
    for (size_t i = 0; i < n; i++)
        regions[i] =
            (nlpd_region){(uint32_t)d->regions[i]->kind, d->regions[i]->start, d->regions[i]->end};
    double t0 = now_s();
    int rc = nlpd_split_run(sp, (const char *)t->data, t->len, n ? regions : NULL, n);
    double us = (now_s() - t0) * 1e6;
    return rc == 0 ? us : -1;
}

static int
bench_pipeline(nlpd_split *sp, const corpus *c, const opts *o)
{
    set_build_dir();
    const char *need[] = {"nlpd", "nlpd-ingest", "nlpd-split"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (access(nlpd_e2e_bin(need[i]), X_OK) != 0) {
            fprintf(stderr, "nlpd-bench-split: %s is not there: build it first\n",
                    nlpd_e2e_bin(need[i]));
            return -1;
        }
    }
    atexit(teardown_at_exit);
    static const char config[] = "[daemon]\n"
                                 "log_level = warning\n"
                                 "[pipeline]\n"
                                 "stages = ingest split\n";
    nlpd_e2e e;
    nlpd_e2e_start(&e, config);

    int warm = o->docs / 10 > 0 ? o->docs / 10 : 1;
    int total = o->docs + warm;
    size_t step = c->n / (size_t)total > 0 ? c->n / (size_t)total : 1;
    stage_time st[MAX_STAGES];
    int n_st = 0;
    double sum_latency_us = 0, sum_lib_us = 0, bytes = 0;
    uint64_t n = 0, n_lib = 0, tokens = 0, sentences = 0;
    int rc = 0;
    for (int k = 0; rc == 0 && k < total; k++) {
        const doc *dd = &c->docs[((size_t)k * step) % c->n];
        nlpd_submission s;
        memset(&s, 0, sizeof(s));
        s.text = c->buf + dd->off;
        s.text_len = dd->len;
        s.format = NLPD_FORMAT_TEXT;
        uint8_t *pb;
        size_t pb_len;
        rc = nlpd_submission_encode(&s, &pb, &pb_len);
        if (rc != 0) {
            /* e.g. a text that is not UTF-8: the daemon would refuse it too. */
            rc = 0;
            continue;
        }
        nlpd_reply ack;
        size_t res_len;
        int res_err;
        double t0 = now_s();
        char *res = nlpd_e2e_submit(&e, "pb wait", pb, pb_len, &ack, &res_len, &res_err, 60000);
        double latency_us = (now_s() - t0) * 1e6;
        nlpd_free(pb);
        if (res == NULL) {
            fprintf(stderr, "nlpd-bench-split: document refused: %s\n", ack.code);
            rc = -1;
            break;
        }
        Nlpd__V1__Document *d = nlpd__v1__document__unpack(NULL, res_len, (uint8_t *)res);
        free(res);
        if (d == NULL) {
            fprintf(stderr, "nlpd-bench-split: a result is not a Document\n");
            rc = -1;
            break;
        }
        int split_ran = 0;
        for (size_t i = 0; i < d->n_trace; i++)
            split_ran |= strcmp(d->trace[i]->stage, "split") == 0;
        if (!split_ran || d->n_errors > 0) {
            fprintf(stderr, "nlpd-bench-split: document %d: %s\n", k,
                    d->n_errors > 0 ? d->errors[0]->message : "no split in its trace");
            nlpd__v1__document__free_unpacked(d, NULL);
            rc = -1;
            break;
        }
        double lib_us = library_time_us(sp, d);
        if (k >= warm) {
            for (size_t i = 0; i < d->n_trace; i++) {
                stage_time *slot = stage_slot(st, &n_st, d->trace[i]->stage);
                if (slot != NULL) {
                    slot->sum_us += (double)d->trace[i]->elapsed_us;
                    slot->n++;
                }
            }
            sum_latency_us += latency_us;
            bytes += dd->len;
            tokens += d->tokens != NULL ? d->tokens->n_start : 0;
            sentences += d->sentences != NULL ? d->sentences->n_start : 0;
            n++;
            if (lib_us >= 0) {
                sum_lib_us += lib_us;
                n_lib++;
            }
        }
        nlpd__v1__document__free_unpacked(d, NULL);
    }
    int stop = nlpd_e2e_stop(&e);
    if (rc != 0 || n == 0)
        return -1;
    if (stop != 0)
        fprintf(stderr, "nlpd-bench-split: the daemon exited with status %d\n", stop);

    double split_us = 0, stages_us = 0;
    printf("\npipeline: nlpd with \"ingest split\", %" PRIu64
           " documents submitted one at a time (pb wait)\n"
           "after %d warm-up ones; mean %.0f B, %.1f tokens, %.1f sentences per document\n",
           n, warm, bytes / (double)n, (double)tokens / (double)n, (double)sentences / (double)n);
    for (int i = 0; i < n_st; i++) {
        double mean = st[i].sum_us / (double)st[i].n;
        stages_us += mean;
        if (strcmp(st[i].name, "split") == 0)
            split_us = mean;
        printf("  stage %-14s mean %8.1f us per document (trace elapsed_us)\n", st[i].name, mean);
    }
    double latency = sum_latency_us / (double)n;
    printf("  end to end           mean %8.1f us per document (submit to result, at the client)\n",
           latency);
    if (n_lib > 0)
        printf("  split library here   mean %8.1f us per document (nlpd_split_run on the same text "
               "and "
               "regions)\n",
               sum_lib_us / (double)n_lib);
    printf("  split's share: %.1f%% of the stages' time, %.1f%% of the end-to-end time\n",
           stages_us > 0 ? 100 * split_us / stages_us : 0, 100 * split_us / latency);
    return 0;
}

#else

static int
bench_pipeline(nlpd_split *sp, const corpus *c, const opts *o)
{
    (void)sp;
    (void)c;
    (void)o;
    fprintf(stderr, "nlpd-bench-split: built without the end-to-end support (nlpd_client)\n");
    return -1;
}

#endif

/* --- main -------------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
    opts o;
    int rc = parse_opts(&o, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    /* Before any other nlpd call, so that every allocation is seen. */
    if (nlpd_set_allocator(count_malloc, count_realloc, count_calloc, count_free) != 0) {
        fprintf(stderr, "nlpd-bench-split: cannot install the counting allocator\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    corpus c;
    if (corpus_load(&c, &o) != 0)
        return 1;
    uint64_t calls0 = heap.calls;
    nlpd_split_model *model = NULL;
    nlpd_split *sp = NULL;
    rc = o.model != NULL ? nlpd_split_model_load(&model, o.model)
                         : nlpd_split_model_load_builtin(&model, o.lang);
    if (rc != 0) {
        fprintf(stderr, "nlpd-bench-split: cannot load the model %s: %s\n",
                o.model ? o.model : o.lang, nlpd_strerror(rc));
        corpus_free(&c);
        return 1;
    }
    rc = nlpd_split_new(&sp, model, NULL);
    if (rc != 0) {
        fprintf(stderr, "nlpd-bench-split: nlpd_split_new: %s\n", nlpd_strerror(rc));
        goto out;
    }
    uint64_t setup_allocs = heap.calls - calls0;
    print_header(&c, nlpd_split_model_version(model));
    if (o.n_corpus == 0 && o.n_text == 0) {
        for (int s = 0; s < c.n_src; s++)
            printf("  %-20s %7zu documents %8.2f MB\n", c.src[s].name, c.src[s].docs,
                   (double)c.src[s].bytes / MB);
    }

    switch (o.mode) {
    case MODE_THROUGHPUT:
        rc = bench_throughput(sp, &c, &o, setup_allocs);
        break;
    case MODE_STREAM:
        rc = bench_stream(sp, &c, o.stream_gb, 100);
        break;
    case MODE_PIPELINE:
        rc = bench_pipeline(sp, &c, &o);
        break;
    case MODE_SMOKE:
        o.runs = 3;
        o.mb = 2;
        rc = bench_throughput(sp, &c, &o, setup_allocs);
        if (rc == 0)
            rc = bench_stream(sp, &c, 0.008, 2);
        break;
    }

out:
    nlpd_split_free(&sp);
    nlpd_split_model_free(&model);
    corpus_free(&c);
    return rc == 0 ? 0 : 1;
}
