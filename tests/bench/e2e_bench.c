/* tests/bench/e2e_bench.c — articles/s and latency through the real daemon
 * with its full default pipeline (ingest split tag summarize) and the
 * journal on, beside what the stage libraries alone allow, and where the
 * time per article goes.
 *
 * A program that prints figures, not a test: it asserts nothing about speed
 * and exits 0 whatever the figures are, nonzero only when something broke
 * (a process that would not start, a pipeline that stalled, a wrong result).
 *
 * What it does, in one run:
 *
 *  1. Articles: news articles of about 4 KB (the "text" and "title" of
 *     ../shared/data/bbc-news-summary/dev.jsonl, read at run time and kept
 *     nowhere, consecutive articles joined when that brings one closer to
 *     4,096 bytes, as nlpd-bench-summarize does; without ../shared, the
 *     project's fixture tests/fixtures/ingest/feed-article.txt joined to
 *     4 KB). Evaluation data used as benchmark input only.
 *  2. The stage libraries alone: every article goes through nlpd_ingest,
 *     nlpd_split, nlpd_tag and nlpd_summarize in this process, as the
 *     workers call them, one warm-up pass and --lib-passes passes timed with
 *     the thread's CPU clock (time the shared machine gives to others does
 *     not count); the best pass per stage. "Predicted for 2 cores" is 2 s
 *     of CPU divided by the sum of the four: what the stages' work alone
 *     allows spread over both cores.
 *  3. The daemon: nlpd with a generated config (the default pipeline, the
 *     journal at its default durability in the benchmark's temp dir,
 *     --replicas per stage; --append FILE adds a snippet, --config FILE
 *     replaces it), fed the articles as "pb wait" submissions cycling
 *     through the set. After a warm-up of --warmup articles, --articles
 *     flat out with --window in flight (articles/s over the steady part),
 *     then paced at half that rate (latency p50/p99 measured from the time
 *     each article was due to be sent, so a client that falls behind shows
 *     up instead of hiding).
 *  4. Where the time goes: the CPU time of every thread of the daemon, of
 *     each worker and of this process, from /proc/PID/task/TID/schedstat
 *     (nanoseconds), per article, split into each process's main thread,
 *     its ZeroMQ I/O threads (the transport) and the rest (heartbeats);
 *     beside it the time each stage's process() took by the documents'
 *     own trace entries (every 8th result decoded). A worker's main thread
 *     minus its process() is the runtime's share: decoding the document,
 *     encoding the additions, the socket calls.
 *
 * The machine is shared: beside each figure the load average and the CPUs
 * that other processes kept busy are printed. CPU per article moves much
 * less with the neighbours than the rates do.
 *
 * --endpoint EP makes the client submit to EP (say tcp://127.0.0.1:PORT,
 * with the front door and its keys configured in an --append snippet), so
 * the same run measures another transport against ipc://.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "client.h"
#include "nlpd/alloc.h"
#include "nlpd/export.h"
#include "nlpd/ingest.h"
#include "nlpd/json.h"
#include "nlpd/nlpd.pb-c.h"
#include "nlpd/split.h"
#include "nlpd/summarize.h"
#include "nlpd/tag.h"
#include "test_support.h"

#ifndef NLPD_BENCH_BUILD_TYPE
#define NLPD_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef NLPD_BENCH_SANITIZE
#define NLPD_BENCH_SANITIZE ""
#endif

#define TARGET_RATE       1000.0
#define TARGET_SHARE      0.70
#define TARGET_P99_MS     50.0
#define WARMUP_FRACTION   0.05
#define STALL_MS          30000
#define MAX_CHILDREN      4
#define MAX_WINDOW        1000 /* the daemon refuses past max_in_flight (1024) */
#define PACED_MAX_SECONDS 15.0
#define TRACE_SAMPLE      8 /* one result in this many is decoded for its trace */
#define N_STAGES          4
#define MAX_PROCS         64
#define MAX_THREADS       16

static const char *const stage_names[N_STAGES] = {"ingest", "split", "tag", "summarize"};

/* --- Options -------------------------------------------------------------- */

typedef struct opts {
    uint64_t articles;
    uint64_t warmup;
    unsigned window;
    unsigned replicas[N_STAGES]; /* 0: the daemon's default */
    int lib_passes;
    int no_journal;
    int no_paced;
    int smoke;
    const char *config;   /* a config used as it is */
    const char *append;   /* a snippet appended to the generated config */
    const char *endpoint; /* the front door to submit to (default: ipc in the run dir) */
} opts;

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: nlpd-bench-e2e [options]\n"
            "\n"
            "Articles/s and latency through nlpd's default pipeline (ingest split tag\n"
            "summarize) with the journal on, beside what the stage libraries alone allow on\n"
            "2 cores, and the CPU time per article of every process and thread.\n"
            "\n"
            "  --articles N       articles measured flat out (default 20000)\n"
            "  --warmup N         articles sent first, not measured (default 1000)\n"
            "  --window W         articles in flight when flat out (default 64, max %d)\n"
            "  --replicas SPEC    workers per stage, e.g. tag=2 or split=1,tag=2\n"
            "                     (repeatable; default: the daemon's)\n"
            "  --no-journal       journal = off (to compare)\n"
            "  --config FILE      run the daemon with this config instead of the generated one\n"
            "  --append FILE      append this INI snippet to the generated config (another\n"
            "                     front door, keys, stage options)\n"
            "  --endpoint EP      submit to EP instead of ipc://RUNDIR/front\n"
            "  --lib-passes N     timed passes of the stage libraries (default 3)\n"
            "  --no-paced         no run at half rate (flat out only: for profiling)\n"
            "  --smoke            a few hundred articles, no paced run (CI: it still runs)\n"
            "\n"
            "Executables are taken from $NLPD_BUILD_DIR/bin, else beside this one.\n",
            MAX_WINDOW);
}

static int
parse_num(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] == '\0' || s[0] == '-' || *end != '\0' || errno != 0 || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* "split=1,tag=2". Returns 0 or -1 after a message. */
static int
parse_replicas(opts *o, const char *spec)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", spec);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        unsigned long long n;
        int k = -1;
        if (eq != NULL) {
            *eq = '\0';
            for (int i = 0; i < N_STAGES; i++) {
                if (strcmp(item, stage_names[i]) == 0)
                    k = i;
            }
        }
        if (k < 0 || parse_num(eq + 1, 1, 64, &n) != 0) {
            fprintf(stderr,
                    "nlpd-bench-e2e: --replicas takes STAGE=N[,STAGE=N...], STAGE one of "
                    "ingest split tag summarize and N 1..64, not '%s'\n",
                    spec);
            return -1;
        }
        o->replicas[k] = (unsigned)n;
    }
    return 0;
}

/* Returns 0, 1 for --help, or -1 after a message on a bad command line. */
static int
parse_opts(opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    unsigned long long articles = 0, warmup = 1000000000ull, window = 64, passes = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--smoke") == 0) {
            o->smoke = 1;
        } else if (strcmp(a, "--no-journal") == 0) {
            o->no_journal = 1;
        } else if (strcmp(a, "--no-paced") == 0) {
            o->no_paced = 1;
        } else if (strcmp(a, "--articles") == 0 && v != NULL &&
                   parse_num(v, 20, 100000000, &articles) == 0) {
            i++;
        } else if (strcmp(a, "--warmup") == 0 && v != NULL &&
                   parse_num(v, 0, 10000000, &warmup) == 0) {
            i++;
        } else if (strcmp(a, "--window") == 0 && v != NULL &&
                   parse_num(v, 1, MAX_WINDOW, &window) == 0) {
            i++;
        } else if (strcmp(a, "--lib-passes") == 0 && v != NULL &&
                   parse_num(v, 1, 100, &passes) == 0) {
            i++;
        } else if (strcmp(a, "--replicas") == 0 && v != NULL) {
            if (parse_replicas(o, v) != 0)
                return -1;
            i++;
        } else if (strcmp(a, "--config") == 0 && v != NULL) {
            o->config = v;
            i++;
        } else if (strcmp(a, "--append") == 0 && v != NULL) {
            o->append = v;
            i++;
        } else if (strcmp(a, "--endpoint") == 0 && v != NULL) {
            o->endpoint = v;
            i++;
        } else {
            fprintf(stderr, "nlpd-bench-e2e: unknown, incomplete or out-of-range option '%s'\n",
                    a);
            usage(stderr);
            return -1;
        }
    }
    if (o->config != NULL && (o->append != NULL || o->no_journal)) {
        fprintf(stderr, "nlpd-bench-e2e: --config is used as it is: no --append or "
                        "--no-journal with it\n");
        return -1;
    }
    o->articles = articles != 0 ? articles : o->smoke ? 200 : 20000;
    o->warmup = warmup != 1000000000ull ? warmup : o->smoke ? 50 : 1000;
    o->window = (unsigned)window;
    o->lib_passes = o->smoke ? 1 : (int)passes;
    return 0;
}

/* --- Time, messages --------------------------------------------------------- */

static uint64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The thread's CPU time in ns: what the neighbours take does not count. */
static uint64_t
thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void NLPD_PRINTF(1, 2) progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("  .. ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void NLPD_PRINTF(1, 2) die_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nlpd-bench-e2e: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void
load_avg(char *out, size_t len)
{
    snprintf(out, len, "?");
    FILE *f = fopen("/proc/loadavg", "r");
    if (f == NULL)
        return;
    double a, b, c;
    /* NOLINTNEXTLINE(cert-err34-c): written by the kernel */
    if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf(out, len, "%.2f %.2f %.2f", a, b, c);
    fclose(f);
}

/* --- Articles --------------------------------------------------------------- */

typedef struct article {
    char *text;
    size_t len;
    char *title;
    uint8_t *pb; /* the submission, encoded */
    size_t pb_len;
} article;

typedef struct articles {
    article *v;
    size_t n, cap;
    const char *from;
} articles;

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

/* Appends a text, joined to the previous article when that brings it
 * closer to 4,096 bytes (so articles are 4 KB on average). Returns 0 or -1. */
static int
add_text(articles *as, const char *text, const char *title)
{
    size_t l = strlen(text);
    if (as->n > 0) {
        article *a = &as->v[as->n - 1];
        if (labs((long)(a->len + 2 + l) - 4096) < labs((long)a->len - 4096)) {
            char *p = realloc(a->text, a->len + 2 + l + 1);
            if (p == NULL)
                return -1;
            memcpy(p + a->len, "\n\n", 2);
            memcpy(p + a->len + 2, text, l + 1);
            a->text = p;
            a->len += 2 + l;
            return 0;
        }
    }
    if (as->n == as->cap) {
        size_t cap = as->cap ? as->cap * 2 : 64;
        article *p = realloc(as->v, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        as->v = p;
        as->cap = cap;
    }
    article *a = &as->v[as->n];
    memset(a, 0, sizeof(*a));
    a->text = strdup(text);
    a->title = title != NULL ? strdup(title) : NULL;
    if (a->text == NULL || (title != NULL && a->title == NULL)) {
        free(a->text);
        free(a->title);
        return -1;
    }
    a->len = l;
    as->n++;
    return 0;
}

static int
load_articles(articles *as)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/../shared/data/bbc-news-summary/dev.jsonl", source_dir());
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        char *line = NULL;
        size_t lcap = 0;
        int rc = 0;
        while (rc == 0 && getline(&line, &lcap, f) > 0) {
            json_t *j = json_loads(line, 0, NULL);
            if (j == NULL)
                continue;
            const char *t = json_string_value(json_object_get(j, "text"));
            if (t != NULL)
                rc = add_text(as, t, json_string_value(json_object_get(j, "title")));
            json_decref(j);
        }
        free(line);
        fclose(f);
        if (rc != 0)
            return -1;
        as->from = "bbc-news-summary dev.jsonl (../shared/data, read at run time; evaluation "
                   "data, used here as input only)";
    }
    if (as->n == 0) {
        size_t len;
        char *t = nlpd_test_read_file(nlpd_test_fixture_path("ingest/feed-article.txt"), &len);
        if (t == NULL) {
            die_msg("no articles: neither ../shared/data/bbc-news-summary nor the fixture "
                    "tests/fixtures/ingest/feed-article.txt (set NLPD_SOURCE_DIR)");
            return -1;
        }
        for (int i = 0; i < 64; i++) {
            if (add_text(as, t, NULL) != 0) {
                free(t);
                return -1;
            }
        }
        free(t);
        as->from = "tests/fixtures/ingest/feed-article.txt, joined to 4 KB";
    }
    for (size_t i = 0; i < as->n; i++) {
        nlpd_submission s;
        memset(&s, 0, sizeof(s));
        s.text = as->v[i].text;
        s.text_len = as->v[i].len;
        s.title = as->v[i].title;
        s.format = NLPD_FORMAT_DETECT;
        if (nlpd_submission_encode(&s, &as->v[i].pb, &as->v[i].pb_len) != 0) {
            die_msg("cannot encode article %zu", i);
            return -1;
        }
    }
    return 0;
}

static void
free_articles(articles *as)
{
    for (size_t i = 0; i < as->n; i++) {
        free(as->v[i].text);
        free(as->v[i].title);
        nlpd_free(as->v[i].pb);
    }
    free(as->v);
    memset(as, 0, sizeof(*as));
}

/* --- The stage libraries alone ------------------------------------------------ */

typedef struct lib_figures {
    double us[N_STAGES]; /* CPU per article, best pass */
    double total_us;
    double bytes, tokens, sentences, entities; /* per article */
    double predicted_2; /* articles/s the stages' work allows on 2 cores */
    double one_each;    /* ... with one worker per stage: the slowest stage's rate */
} lib_figures;

typedef struct libs {
    nlpd_ingest *ing;
    nlpd_split_model *sm;
    nlpd_split *sp;
    nlpd_tag_model *tm;
    nlpd_tagger *tg;
    nlpd_summarize_model *zm;
    nlpd_summarizer *sz;
    uint32_t *starts, *ends;
    nlpd_span *ents;
    size_t cap_starts, cap_ends, cap_ents;
} libs;

static void
libs_free(libs *l)
{
    nlpd_ingest_free(&l->ing);
    nlpd_split_free(&l->sp);
    nlpd_split_model_free(&l->sm);
    nlpd_tagger_free(&l->tg);
    nlpd_tag_model_free(&l->tm);
    nlpd_summarizer_free(&l->sz);
    nlpd_summarize_model_free(&l->zm);
    free(l->starts);
    free(l->ends);
    free(l->ents);
}

static int
grow(void **p, size_t *cap, size_t want, size_t size)
{
    if (want <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < want)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* One article through the four libraries as the workers call them; adds
 * each stage's CPU time to ns[] and the counts to `counts`. Returns 0 or
 * -1 after a message. */
static int
lib_article(libs *l, const article *a, uint64_t ns[N_STAGES], double counts[4])
{
    uint64_t t0 = thread_cpu_ns();
    nlpd_ingest_result r;
    nlpd_ingest_meta meta = {NULL, NULL, a->title};
    int rc = nlpd_ingest_run(l->ing, a->text, a->len, NLPD_FORMAT_DETECT, &meta, 0, &r);
    uint64_t t1 = thread_cpu_ns();
    if (rc != 0) {
        die_msg("ingest: %s", nlpd_ingest_last_error(l->ing));
        return -1;
    }
    rc = nlpd_split_run(l->sp, r.norm, r.norm_len, r.n_regions > 0 ? r.regions : NULL,
                        r.n_regions);
    const nlpd_split_token *tok = NULL;
    const nlpd_split_sentence *sen = NULL;
    size_t nt = rc == 0 ? nlpd_split_tokens(l->sp, &tok) : 0;
    size_t ns_ = rc == 0 ? nlpd_split_sentences(l->sp, &sen) : 0;
    uint64_t t2 = thread_cpu_ns();
    if (rc == 0)
        rc = nlpd_tagger_run(l->tg, r.norm, r.norm_len, tok, nt, sen, ns_);
    const nlpd_tag_entity *ent = NULL;
    size_t ne = rc == 0 ? nlpd_tagger_entities(l->tg, &ent) : 0;
    uint64_t t3 = thread_cpu_ns();
    if (rc != 0) {
        die_msg("split or tag: %s", nlpd_strerror(rc));
        return -1;
    }
    /* The summarize worker's input: sentence columns, entity spans. */
    if (grow((void **)&l->starts, &l->cap_starts, ns_ + 1, sizeof(uint32_t)) != 0 ||
        grow((void **)&l->ends, &l->cap_ends, ns_ + 1, sizeof(uint32_t)) != 0 ||
        grow((void **)&l->ents, &l->cap_ents, ne + 1, sizeof(nlpd_span)) != 0) {
        die_msg("out of memory");
        return -1;
    }
    for (size_t i = 0; i < ns_; i++) {
        l->starts[i] = sen[i].start;
        l->ends[i] = sen[i].end;
    }
    for (size_t i = 0; i < ne; i++)
        l->ents[i] = (nlpd_span){ent[i].start, ent[i].end};
    nlpd_summarize_input in = {
        .text = r.norm,
        .len = r.norm_len,
        .starts = l->starts,
        .ends = l->ends,
        .n_sentences = ns_,
        .regions = r.n_regions > 0 ? r.regions : NULL,
        .n_regions = r.n_regions,
        .title = r.title,
        .title_len = r.title != NULL ? strlen(r.title) : 0,
        .lede = r.lede,
        .lede_len = r.lede != NULL ? strlen(r.lede) : 0,
        .entities = ne > 0 ? l->ents : NULL,
        .n_entities = ne,
    };
    uint64_t t4 = thread_cpu_ns();
    rc = nlpd_summarize_run(l->sz, &in, NULL);
    uint64_t t5 = thread_cpu_ns();
    if (rc != 0) {
        die_msg("summarize: %s", nlpd_strerror(rc));
        return -1;
    }
    ns[0] += t1 - t0;
    ns[1] += t2 - t1;
    ns[2] += t3 - t2;
    ns[3] += t5 - t4;
    counts[0] += (double)a->len;
    counts[1] += (double)nt;
    counts[2] += (double)ns_;
    counts[3] += (double)ne;
    return 0;
}

/* Measures the libraries; with `again`, keeps the better of these passes
 * and those already in *lf (the machine is shared: measured before and
 * after the daemon's run, the least disturbed passes count). */
static int
measure_libs(const opts *o, const articles *as, lib_figures *lf, int again)
{
    if (!again)
        memset(lf, 0, sizeof(*lf));
    libs l;
    memset(&l, 0, sizeof(l));
    int rc = -1;
    if (nlpd_ingest_new(&l.ing, NULL) != 0 || nlpd_split_model_load_builtin(&l.sm, "en") != 0 ||
        nlpd_split_new(&l.sp, l.sm, NULL) != 0 || nlpd_tag_model_load_builtin(&l.tm, "en") != 0 ||
        nlpd_tagger_new(&l.tg, l.tm, NULL) != 0 || nlpd_summarize_model_load_builtin(&l.zm) != 0 ||
        nlpd_summarizer_new(&l.sz, l.zm, NULL) != 0) {
        die_msg("cannot set up the stage libraries");
        goto out;
    }
    for (int s = 0; s < N_STAGES && !again; s++)
        lf->us[s] = 1e18;
    for (int pass = 0; pass <= o->lib_passes; pass++) { /* pass 0: warm-up */
        uint64_t ns[N_STAGES] = {0};
        double counts[4] = {0};
        for (size_t i = 0; i < as->n; i++) {
            if (lib_article(&l, &as->v[i], ns, counts) != 0)
                goto out;
        }
        if (pass == 0) {
            lf->bytes = counts[0] / (double)as->n;
            lf->tokens = counts[1] / (double)as->n;
            lf->sentences = counts[2] / (double)as->n;
            lf->entities = counts[3] / (double)as->n;
            continue;
        }
        for (int s = 0; s < N_STAGES; s++) {
            double us = (double)ns[s] / 1e3 / (double)as->n;
            if (us < lf->us[s])
                lf->us[s] = us;
        }
    }
    double max = 0;
    lf->total_us = 0;
    for (int s = 0; s < N_STAGES; s++) {
        lf->total_us += lf->us[s];
        if (lf->us[s] > max)
            max = lf->us[s];
    }
    lf->predicted_2 = lf->total_us > 0 ? 2e6 / lf->total_us : 0;
    lf->one_each = max > 0 ? 1e6 / max : 0;
    rc = 0;
out:
    libs_free(&l);
    return rc;
}

/* --- Child process (the daemon) ------------------------------------------------ */

typedef struct child {
    pid_t pid;
    int status;
    int reaped;
} child;

static child the_daemon;
static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Starts argv[0] with stdin and stdout on /dev/null and stderr appended to
 * `log_path`; the child gets SIGTERM when this process dies. */
static int
spawn(child *c, char *const argv[], const char *log_path)
{
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        die_msg("cannot open %s: %s", log_path, strerror(errno));
        if (logfd >= 0)
            close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return -1;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(127);
        dup2(nullfd, 0);
        dup2(nullfd, 1);
        dup2(logfd, 2);
        execv(argv[0], argv);
        static const char msg[] = "nlpd-bench-e2e: exec failed\n";
        ssize_t w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        _exit(127);
    }
    int err = errno;
    close(logfd);
    close(nullfd);
    if (pid < 0) {
        die_msg("fork: %s", strerror(err));
        return -1;
    }
    memset(c, 0, sizeof(*c));
    c->pid = pid;
    return 0;
}

static int
child_exited(child *c)
{
    if (c->reaped || c->pid <= 0)
        return 1;
    int st;
    pid_t r = waitpid(c->pid, &st, WNOHANG);
    if (r == c->pid || (r < 0 && errno == ECHILD)) {
        c->status = r == c->pid ? st : 0;
        c->reaped = 1;
        return 1;
    }
    return 0;
}

/* SIGTERM, up to timeout_ms, then SIGKILL. Returns 0 on a clean exit 0. */
static int
child_stop(child *c, int timeout_ms)
{
    if (c->pid <= 0)
        return 0;
    if (!c->reaped) {
        kill(c->pid, SIGTERM);
        for (int waited = 0; !child_exited(c) && waited < timeout_ms; waited += 10)
            sleep_ms(10);
        if (!c->reaped) {
            die_msg("nlpd (pid %d) did not stop within %d ms of SIGTERM; killed", (int)c->pid,
                    timeout_ms);
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &c->status, 0);
            c->reaped = 1;
            return -1;
        }
    }
    if (WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0)
        return 0;
    die_msg("nlpd (pid %d) ended with status %d", (int)c->pid, c->status);
    return -1;
}

static void
kill_daemon(void)
{
    if (the_daemon.pid > 0 && !the_daemon.reaped) {
        kill(the_daemon.pid, SIGKILL);
        waitpid(the_daemon.pid, &the_daemon.status, 0);
        the_daemon.reaped = 1;
    }
}

static char bin_dir[PATH_MAX];

static int
find_bin_dir(void)
{
    const char *b = getenv("NLPD_BUILD_DIR");
    if (b != NULL && b[0] != '\0') {
        snprintf(bin_dir, sizeof(bin_dir), "%s/bin", b);
        return 0;
    }
    ssize_t n = readlink("/proc/self/exe", bin_dir, sizeof(bin_dir) - 1);
    if (n <= 0) {
        die_msg("cannot find my own executable: %s", strerror(errno));
        return -1;
    }
    bin_dir[n] = '\0';
    char *slash = strrchr(bin_dir, '/');
    if (slash != NULL)
        *slash = '\0';
    return 0;
}

static char *
make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    char tmpl[256];
    /* ipc:// paths are limited to 107 bytes: keep the prefix short. */
    int n = snprintf(tmpl, sizeof(tmpl), "%s/nlpd-e2e.XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof(tmpl) || n > 60) {
        die_msg("TMPDIR is too long for ipc:// endpoints: %s", base);
        return NULL;
    }
    if (mkdtemp(tmpl) == NULL) {
        die_msg("mkdtemp %s: %s", tmpl, strerror(errno));
        return NULL;
    }
    return strdup(tmpl);
}

static void
print_log_tail(const char *path)
{
    size_t n;
    char *log = nlpd_test_read_file(path, &n);
    if (log == NULL)
        return;
    const char *start = n > 4000 ? log + n - 4000 : log;
    fprintf(stderr, "----- %s (end) -----\n%s----- end of log -----\n", path, start);
    free(log);
}

/* --- CPU accounting per thread --------------------------------------------------
 *
 * /proc/PID/task/TID/schedstat: nanoseconds on a CPU, per thread. Threads
 * are sorted into the main thread (the loop: routing, the journal, the
 * stage's work and the runtime's codec), ZeroMQ's background threads
 * ("ZMQbg/...": the transport) and the rest (heartbeats). */

enum { T_MAIN, T_ZMQ, T_OTHER, T_KINDS };

typedef struct proc_cpu {
    int pid;
    int role; /* 0..N_STAGES-1: a stage's worker; N_STAGES: the daemon; N_STAGES + 1: us */
    uint64_t ns[T_KINDS];
} proc_cpu;

typedef struct cpu_snap {
    proc_cpu p[MAX_PROCS];
    int n;
    uint64_t machine_busy; /* jiffies of all CPUs */
    uint64_t t;            /* monotonic ns */
} cpu_snap;

static uint64_t
machine_busy_jiffies(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return 0;
    unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                       steal = 0;
    /* NOLINTNEXTLINE(cert-err34-c): written by the kernel */
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
                   &iowait, &irq, &softirq, &steal);
    fclose(f);
    return n == 8 ? user + nice + sys + irq + softirq + steal : 0;
}

static int
read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

static void
proc_read(proc_cpu *pc)
{
    memset(pc->ns, 0, sizeof(pc->ns));
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task", pc->pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        int tid = (int)strtol(e->d_name, NULL, 10);
        char buf[128], comm[64];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", pc->pid, tid);
        if (read_small(path, buf, sizeof(buf)) != 0)
            continue;
        uint64_t ns = strtoull(buf, NULL, 10);
        snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pc->pid, tid);
        if (read_small(path, comm, sizeof(comm)) != 0)
            comm[0] = '\0';
        int kind = tid == pc->pid                   ? T_MAIN
                   : strncmp(comm, "ZMQbg", 5) == 0 ? T_ZMQ
                                                    : T_OTHER;
        pc->ns[kind] += ns;
    }
    closedir(d);
}

static void
cpu_snapshot(cpu_snap *s)
{
    for (int i = 0; i < s->n; i++)
        proc_read(&s->p[i]);
    s->machine_busy = machine_busy_jiffies();
    s->t = mono_ns();
}

/* Fills `s` with the daemon, its workers (by STATUS: stage name -> role)
 * and this process. Returns 0 or -1 after a message. */
static int
cpu_discover(cpu_snap *s, const char *rundir, int daemon_pid)
{
    memset(s, 0, sizeof(*s));
    s->p[s->n++] = (proc_cpu){.pid = daemon_pid, .role = N_STAGES};
    s->p[s->n++] = (proc_cpu){.pid = (int)getpid(), .role = N_STAGES + 1};
    char *reply = NULL;
    if (nlpd_control_call(rundir, NULL, "STATUS", 5000, &reply) != 0) {
        nlpd_free(reply);
        die_msg("STATUS did not answer");
        return -1;
    }
    json_t *j = json_loads(reply, 0, NULL);
    nlpd_free(reply);
    json_t *stages = json_object_get(j, "stages");
    size_t i;
    json_t *st;
    json_array_foreach(stages, i, st)
    {
        const char *name = json_string_value(json_object_get(st, "name"));
        int role = -1;
        for (int k = 0; name != NULL && k < N_STAGES; k++) {
            if (strcmp(name, stage_names[k]) == 0)
                role = k;
        }
        size_t wi;
        json_t *w;
        json_array_foreach(json_object_get(st, "workers"), wi, w)
        {
            int pid = (int)json_integer_value(json_object_get(w, "pid"));
            if (pid > 0 && role >= 0 && s->n < MAX_PROCS)
                s->p[s->n++] = (proc_cpu){.pid = pid, .role = role};
        }
    }
    json_decref(j);
    return 0;
}

/* --- Measurements ------------------------------------------------------------ */

typedef struct driver {
    nlpd_client *c;
    void *sock;
    const articles *as;
    uint64_t *stamps; /* by corr */
    uint64_t n_stamps;
    uint64_t checked;
    uint64_t trace_n;
    double trace_us[N_STAGES]; /* summed process() times of the sampled results */
    int expect_stages;
} driver;

typedef struct phase_result {
    uint64_t n;
    double rate;                     /* arrivals/s after the warm-up */
    double p50_ms, p99_ms, max_ms;   /* from the time each was due (paced) or sent */
    double sent_p50_ms, sent_p99_ms; /* from the time each was actually sent */
    double target_rate;
    double late_ms;
    double seconds;
    char load[64];
    double cpus_others;
    cpu_snap c0, c1;
    uint64_t trace_n;
    double trace_us[N_STAGES];
} phase_result;

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double
percentile_ms(const uint64_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    double rank = p * (double)n;
    size_t i = (size_t)rank;
    if ((double)i < rank)
        i++;
    if (i > 0)
        i--;
    if (i >= n)
        i = n - 1;
    return (double)sorted[i] / 1e6;
}

/* Sends article `seq` (of the cycle) stamped `stamp`. 0, 1 when full, -1. */
static int
drv_send(driver *x, uint64_t seq, uint64_t stamp)
{
    const article *a = &x->as->v[seq % x->as->n];
    int rc = nlpd_client_submit(x->c, seq, "pb wait", a->pb, a->pb_len, 0);
    if (rc == NLPD_ETIMEDOUT || rc == -EINTR)
        return 1;
    if (rc != 0) {
        die_msg("submit: %s", nlpd_strerror(rc));
        return -1;
    }
    x->stamps[seq] = stamp;
    return 0;
}

/* Decodes a result: one trace entry per stage, no error; adds each stage's
 * process() time. */
static int
check_result(driver *x, const nlpd_reply *r)
{
    Nlpd__V1__Document *doc = nlpd__v1__document__unpack(NULL, r->payload_len, r->payload);
    if (doc == NULL) {
        die_msg("result %" PRIu64 " is not a Document", r->corr);
        return -1;
    }
    int ok = doc->n_errors == 0 && (x->expect_stages == 0 || doc->n_trace == (size_t)x->expect_stages);
    size_t n_trace = doc->n_trace, n_errors = doc->n_errors;
    for (size_t i = 0; ok && i < doc->n_trace; i++) {
        const char *name = doc->trace[i]->stage != NULL ? doc->trace[i]->stage : "";
        for (int k = 0; k < N_STAGES; k++) {
            if (strcmp(name, stage_names[k]) == 0)
                x->trace_us[k] += (double)doc->trace[i]->elapsed_us;
        }
    }
    if (ok)
        x->trace_n++;
    if (!ok && n_errors > 0) {
        die_msg("result %" PRIu64 ": %s: %s: %s", r->corr,
                doc->errors[0]->stage ? doc->errors[0]->stage : "",
                doc->errors[0]->code ? doc->errors[0]->code : "",
                doc->errors[0]->message ? doc->errors[0]->message : "");
    }
    nlpd__v1__document__free_unpacked(doc, NULL);
    if (!ok) {
        die_msg("result %" PRIu64 " has %zu trace entries (expected %d) and %zu errors", r->corr,
                n_trace, x->expect_stages, n_errors);
        return -1;
    }
    return 0;
}

/* One arrival: 0 with *seq, *stamp; 1 nothing waiting; 2 not an arrival
 * (read again); -1 after a message. */
static int
drv_recv(driver *x, uint64_t *seq, uint64_t *stamp)
{
    nlpd_reply r;
    int rc = nlpd_client_recv(x->c, &r, 0);
    if (rc == NLPD_ETIMEDOUT || rc == -EINTR)
        return 1;
    if (rc != 0) {
        die_msg("receive: %s%s%s", nlpd_strerror(rc), r.message[0] ? ": " : "", r.message);
        return -1;
    }
    switch (r.kind) {
    case NLPD_REPLY_ACCEPTED:
        return 2;
    case NLPD_REPLY_REFUSED:
        die_msg("article %" PRIu64 " refused: %s: %s", r.corr, r.code, r.message);
        return -1;
    case NLPD_REPLY_RESULT:
        break;
    default:
        die_msg("an unexpected reply (kind %d)", (int)r.kind);
        return -1;
    }
    if (r.corr >= x->n_stamps) {
        die_msg("a result for an unknown article %" PRIu64, r.corr);
        return -1;
    }
    if (r.error) {
        check_result(x, &r); /* says what went wrong */
        die_msg("result %" PRIu64 " has status error", r.corr);
        return -1;
    }
    if ((x->checked++ % TRACE_SAMPLE) == 0 && check_result(x, &r) != 0)
        return -1;
    *seq = r.corr;
    *stamp = x->stamps[r.corr];
    return 0;
}

typedef struct phase {
    driver *d;
    uint64_t first, n; /* corr numbers first .. first + n - 1 */
    uint64_t cap;
    uint64_t warm;
    double rate;
    uint64_t interval, due, worst_late;
    uint64_t sent, got, n_lat;
    uint64_t t0, t_warm, t_last;
    uint64_t *lat, *lat_sent, *sent_at;
    int tfd;
    int blocked;
} phase;

static int
phase_send(phase *ph)
{
    uint64_t now = mono_ns();
    ph->blocked = 0;
    while (ph->sent < ph->n && (ph->cap == 0 || ph->sent - ph->got < ph->cap)) {
        uint64_t stamp = now;
        if (ph->rate > 0) {
            if (ph->due > now)
                break;
            stamp = ph->due;
            if (now - ph->due > ph->worst_late)
                ph->worst_late = now - ph->due;
        }
        int r = drv_send(ph->d, ph->first + ph->sent, stamp);
        if (r < 0)
            return -1;
        if (r == 1) {
            ph->blocked = 1;
            break;
        }
        ph->sent_at[ph->sent++] = now;
        ph->due += ph->interval;
        now = mono_ns();
    }
    return 0;
}

static int
phase_take(phase *ph)
{
    for (;;) {
        uint64_t seq, stamp;
        int r = drv_recv(ph->d, &seq, &stamp);
        if (r < 0)
            return -1;
        if (r == 1)
            return 0;
        if (r == 2)
            continue;
        uint64_t t = mono_ns();
        if (seq < ph->first || seq - ph->first >= ph->sent) {
            die_msg("an arrival for article %" PRIu64 " that was not sent in this phase", seq);
            return -1;
        }
        ph->got++;
        ph->t_last = t;
        if (ph->got == ph->warm)
            ph->t_warm = t;
        if (ph->got > ph->warm) {
            ph->lat_sent[ph->n_lat] = t - ph->sent_at[seq - ph->first];
            ph->lat[ph->n_lat++] = t > stamp ? t - stamp : 0;
        }
    }
}

static int
phase_wait(phase *ph)
{
    zmq_pollitem_t items[2];
    int ni = 0;
    items[ni++] = (zmq_pollitem_t){.socket = ph->d->sock, .events = ZMQ_POLLIN};
    if (ph->blocked)
        items[0].events = (short)(items[0].events | ZMQ_POLLOUT);
    int can_send = ph->sent < ph->n && (ph->cap == 0 || ph->sent - ph->got < ph->cap);
    if (ph->rate > 0 && can_send && !ph->blocked) {
        if (ph->due <= mono_ns())
            return 1;
        struct itimerspec its;
        memset(&its, 0, sizeof(its));
        its.it_value.tv_sec = (time_t)(ph->due / 1000000000u);
        its.it_value.tv_nsec = (long)(ph->due % 1000000000u);
        if (timerfd_settime(ph->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
            items[ni++] = (zmq_pollitem_t){.socket = NULL, .fd = ph->tfd, .events = ZMQ_POLLIN};
    }
    int ready = zmq_poll(items, ni, 1000);
    if (ph->tfd >= 0) {
        uint64_t expirations;
        ssize_t r = read(ph->tfd, &expirations, sizeof(expirations));
        (void)r; /* EAGAIN when it had not expired */
    }
    if (ready < 0 && zmq_errno() != EINTR) {
        die_msg("zmq_poll: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    return ready != 0;
}

static int
phase_check(const phase *ph, int ready)
{
    if (ready < 0)
        return -1;
    if (interrupted) {
        die_msg("interrupted");
        return -1;
    }
    if (ready == 0 && child_exited(&the_daemon)) {
        die_msg("nlpd is gone (%" PRIu64 " sent, %" PRIu64 " arrived)", ph->sent, ph->got);
        return -1;
    }
    if ((mono_ns() - ph->t_last) / 1000000u > STALL_MS) {
        die_msg("stalled: %" PRIu64 " sent, %" PRIu64 " arrived, nothing for %d s", ph->sent,
                ph->got, STALL_MS / 1000);
        return -1;
    }
    return 0;
}

/* Moves articles first .. first + n - 1 through the daemon: flat out
 * within `window` (rate 0), or paced at `rate`. `cpu` (the processes to
 * watch) is snapshot before and after into res. Returns 0 or -1. */
static int
run_phase(driver *d, uint64_t first, uint64_t n, unsigned window, double rate,
          const cpu_snap *cpu, phase_result *res)
{
    memset(res, 0, sizeof(*res));
    res->n = n;
    res->target_rate = rate;
    phase ph;
    memset(&ph, 0, sizeof(ph));
    ph.d = d;
    ph.first = first;
    ph.n = n;
    ph.cap = rate > 0 ? MAX_WINDOW : window;
    ph.warm = (uint64_t)((double)n * WARMUP_FRACTION);
    ph.rate = rate;
    ph.interval = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
    ph.tfd = -1;
    int rc = -1;
    ph.lat = malloc(n * sizeof(*ph.lat));
    ph.lat_sent = malloc(n * sizeof(*ph.lat_sent));
    ph.sent_at = malloc(n * sizeof(*ph.sent_at));
    if (ph.lat == NULL || ph.lat_sent == NULL || ph.sent_at == NULL) {
        die_msg("out of memory");
        goto out;
    }
    if (rate > 0 && (ph.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0) {
        die_msg("timerfd_create: %s", strerror(errno));
        goto out;
    }
    d->trace_n = 0;
    memset(d->trace_us, 0, sizeof(d->trace_us));
    if (cpu != NULL)
        res->c0 = *cpu;
    cpu_snapshot(&res->c0);
    ph.t0 = ph.t_warm = ph.t_last = ph.due = mono_ns();
    while (ph.got < n) {
        if (phase_send(&ph) != 0 || phase_take(&ph) != 0)
            goto out;
        if (ph.got < n && phase_check(&ph, phase_wait(&ph)) != 0)
            goto out;
    }
    res->c1 = res->c0;
    cpu_snapshot(&res->c1);
    load_avg(res->load, sizeof(res->load));
    double secs = (double)(res->c1.t - res->c0.t) / 1e9;
    uint64_t ours = 0;
    for (int i = 0; i < res->c1.n; i++) {
        for (int k = 0; k < T_KINDS; k++)
            ours += res->c1.p[i].ns[k] - res->c0.p[i].ns[k];
    }
    double hz = (double)sysconf(_SC_CLK_TCK);
    double busy = (double)(res->c1.machine_busy - res->c0.machine_busy) / hz;
    double ours_s = (double)ours / 1e9;
    res->cpus_others = busy > ours_s && secs > 0 ? (busy - ours_s) / secs : 0.0;
    uint64_t span = ph.t_last > ph.t_warm ? ph.t_last - ph.t_warm : 1;
    res->rate = (double)(ph.got - ph.warm) * 1e9 / (double)span;
    res->seconds = (double)(ph.t_last - ph.t0) / 1e9;
    res->late_ms = (double)ph.worst_late / 1e6;
    size_t nl = ph.n_lat;
    qsort(ph.lat, nl, sizeof(*ph.lat), cmp_u64);
    res->p50_ms = percentile_ms(ph.lat, nl, 0.50);
    res->p99_ms = percentile_ms(ph.lat, nl, 0.99);
    res->max_ms = nl > 0 ? (double)ph.lat[nl - 1] / 1e6 : 0.0;
    qsort(ph.lat_sent, nl, sizeof(*ph.lat_sent), cmp_u64);
    res->sent_p50_ms = percentile_ms(ph.lat_sent, nl, 0.50);
    res->sent_p99_ms = percentile_ms(ph.lat_sent, nl, 0.99);
    res->trace_n = d->trace_n;
    memcpy(res->trace_us, d->trace_us, sizeof(res->trace_us));
    rc = 0;
out:
    if (ph.tfd >= 0)
        close(ph.tfd);
    free(ph.lat);
    free(ph.lat_sent);
    free(ph.sent_at);
    return rc;
}

/* --- The daemon -------------------------------------------------------------------- */

static int
daemon_running(const char *rundir)
{
    char *reply = NULL;
    int running = 0;
    if (nlpd_control_call(rundir, NULL, "STATUS", 1000, &reply) == 0) {
        json_t *j = json_loads(reply, 0, NULL);
        const char *st = json_string_value(json_object_get(j, "state"));
        running = st != NULL && strcmp(st, "running") == 0;
        json_decref(j);
    }
    nlpd_free(reply);
    return running;
}

static int
write_config(const opts *o, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        die_msg("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    /* Everything else is the daemon's default: the pipeline, the journal's
     * durability (group commit), windows, worker counts. */
    fprintf(f, "# written by nlpd-bench-e2e\n[daemon]\nlog_level = warning\n");
    if (o->no_journal)
        fprintf(f, "journal = off\n");
    for (int k = 0; k < N_STAGES; k++) {
        if (o->replicas[k] > 0)
            fprintf(f, "\n[stage %s]\nreplicas = %u\n", stage_names[k], o->replicas[k]);
    }
    int rc = 0;
    if (o->append != NULL) {
        size_t n;
        char *snippet = nlpd_test_read_file(o->append, &n);
        if (snippet == NULL) {
            die_msg("cannot read %s", o->append);
            rc = -1;
        } else {
            fprintf(f, "\n# --append %s\n", o->append);
            fwrite(snippet, 1, n, f);
            fputc('\n', f);
            free(snippet);
        }
    }
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

typedef struct run_figures {
    phase_result warm, flat, paced;
    int have_paced;
    int n_workers[N_STAGES];
    char config_text[4096];
} run_figures;

static int
run_daemon(const opts *o, const char *dir, const articles *as, run_figures *rf)
{
    int rc = -1;
    char nlpd[PATH_MAX + 16], conf[PATH_MAX], rundir[PATH_MAX], log[PATH_MAX], statedir[PATH_MAX];
    snprintf(nlpd, sizeof(nlpd), "%s/nlpd", bin_dir);
    if (access(nlpd, X_OK) != 0) {
        die_msg("%s is not there: build it first (cmake --build BUILD --target bench-e2e)", nlpd);
        return -1;
    }
    snprintf(conf, sizeof(conf), "%s/nlpd.conf", dir);
    snprintf(rundir, sizeof(rundir), "%s/run", dir);
    snprintf(statedir, sizeof(statedir), "%s/state", dir);
    snprintf(log, sizeof(log), "%s/nlpd.log", dir);
    const char *use_conf = o->config != NULL ? o->config : conf;
    if (o->config == NULL && write_config(o, conf) != 0)
        return -1;
    size_t clen;
    char *ctext = nlpd_test_read_file(use_conf, &clen);
    snprintf(rf->config_text, sizeof(rf->config_text), "%s", ctext != NULL ? ctext : "");
    free(ctext);

    driver x;
    memset(&x, 0, sizeof(x));
    cpu_snap procs;
    char *argv[] = {nlpd,     (char *)"--runtime-dir", rundir,   (char *)"--state-dir",
                    statedir, (char *)"--config",      (char *)use_conf, NULL};
    if (spawn(&the_daemon, argv, log) != 0)
        return -1;
    uint64_t start = mono_ns();
    while (!daemon_running(rundir)) {
        if (child_exited(&the_daemon)) {
            die_msg("nlpd exited before it was running");
            goto stop;
        }
        if (interrupted || mono_ns() - start > 60000000000u) {
            die_msg(interrupted ? "interrupted" : "nlpd did not report running within 60 s");
            goto stop;
        }
        sleep_ms(50);
    }
    if (cpu_discover(&procs, rundir, (int)the_daemon.pid) != 0)
        goto stop;
    for (int i = 0; i < procs.n; i++) {
        if (procs.p[i].role < N_STAGES)
            rf->n_workers[procs.p[i].role]++;
    }
    x.as = as;
    x.expect_stages = o->config == NULL ? N_STAGES : 0;
    uint64_t paced_max = o->smoke || o->no_paced ? 0 : o->articles;
    x.n_stamps = o->warmup + o->articles + paced_max;
    x.stamps = calloc(x.n_stamps, sizeof(*x.stamps));
    if (x.stamps == NULL) {
        die_msg("out of memory");
        goto stop;
    }
    int crc = nlpd_client_open(&x.c, rundir, o->endpoint);
    if (crc != 0) {
        die_msg("cannot open a client%s%s: %s", o->endpoint ? " to " : "",
                o->endpoint ? o->endpoint : "", nlpd_strerror(crc));
        goto stop;
    }
    x.sock = nlpd_client_socket(x.c);

    uint64_t next = 0;
    if (o->warmup > 0) {
        progress("warm-up: %" PRIu64 " articles", o->warmup);
        if (run_phase(&x, next, o->warmup, o->window, 0.0, &procs, &rf->warm) != 0)
            goto stop;
        next += o->warmup;
    }
    progress("%" PRIu64 " articles flat out, window %u", o->articles, o->window);
    if (run_phase(&x, next, o->articles, o->window, 0.0, &procs, &rf->flat) != 0)
        goto stop;
    next += o->articles;
    if (paced_max > 0) {
        double r = rf->flat.rate / 2;
        double fit = r * PACED_MAX_SECONDS;
        uint64_t m = fit < 1000.0 ? 1000 : (uint64_t)fit;
        if (m > paced_max)
            m = paced_max;
        progress("%" PRIu64 " articles paced at %.0f/s", m, r);
        if (run_phase(&x, next, m, 0, r, &procs, &rf->paced) != 0)
            goto stop;
        rf->have_paced = 1;
    }
    rc = 0;
stop:
    nlpd_client_close(&x.c);
    free(x.stamps);
    if (child_stop(&the_daemon, 60000) != 0)
        rc = -1;
    if (rc != 0 && !interrupted)
        print_log_tail(log);
    return rc;
}

/* --- Report ------------------------------------------------------------------------- */

static const char *
build_warning(void)
{
    static char w[256];
    w[0] = '\0';
    int n = 0;
#ifndef __OPTIMIZE__
    n += snprintf(w + n, sizeof(w) - (size_t)n, "compiled WITHOUT optimization; ");
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    n += snprintf(w + n, sizeof(w) - (size_t)n, "compiled WITH a sanitizer; ");
#else
    if (NLPD_BENCH_SANITIZE[0] != '\0')
        n += snprintf(w + n, sizeof(w) - (size_t)n, "compiled WITH -fsanitize=%s; ",
                      NLPD_BENCH_SANITIZE);
#endif
    if (n >= 2)
        w[n - 2] = '\0';
    return w;
}

static void
cpu_model(char *out, size_t len)
{
    snprintf(out, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon != NULL) {
                colon++;
                while (*colon == ' ' || *colon == '\t')
                    colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(out, len, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

/* CPU us per article of role `role`, thread kind `k` (-1: all kinds). */
static double
role_us(const phase_result *p, int role, int k)
{
    uint64_t ns = 0;
    for (int i = 0; i < p->c1.n; i++) {
        if (p->c1.p[i].role != role)
            continue;
        for (int t = 0; t < T_KINDS; t++) {
            if (k < 0 || k == t)
                ns += p->c1.p[i].ns[t] - p->c0.p[i].ns[t];
        }
    }
    return (double)ns / 1e3 / (double)p->n;
}

/* The CPU table of one phase; returns the total CPU us per article. */
static double
print_cpu(const char *title, const phase_result *p, const lib_figures *lf, const run_figures *rf)
{
    printf("\n  CPU time per article, %s (us; load %s; other processes kept %.2f CPUs busy):\n",
           title, p->load, p->cpus_others);
    printf("  %-22s %8s %8s %8s %8s %9s %10s %11s\n", "process", "total", "main", "ZeroMQ",
           "other", "library", "main-lib", "process()");
    double total = 0, lib_sum = 0, transport = 0, beside = 0, proc_sum = 0;
    static const char *const extra[] = {"nlpd (daemon)", "bench client"};
    for (int role = 0; role < N_STAGES + 2; role++) {
        double all = role_us(p, role, -1), main_us = role_us(p, role, T_MAIN);
        double zmq = role_us(p, role, T_ZMQ), other = role_us(p, role, T_OTHER);
        total += all;
        transport += zmq;
        char name[48];
        if (role < N_STAGES) {
            snprintf(name, sizeof(name), "%s (%d worker%s)", stage_names[role],
                     rf->n_workers[role], rf->n_workers[role] == 1 ? "" : "s");
            double proc_us = p->trace_n > 0 ? p->trace_us[role] / (double)p->trace_n : 0;
            lib_sum += lf->us[role];
            proc_sum += proc_us;
            beside += main_us - lf->us[role];
            printf("  %-22s %8.1f %8.1f %8.1f %8.1f %9.1f %10.1f %11.1f\n", name, all, main_us,
                   zmq, other, lf->us[role], main_us - lf->us[role], proc_us);
        } else {
            printf("  %-22s %8.1f %8.1f %8.1f %8.1f\n", extra[role - N_STAGES], all, main_us, zmq,
                   other);
        }
    }
    double daemon_main = role_us(p, N_STAGES, T_MAIN);
    double client_main = role_us(p, N_STAGES + 1, T_MAIN);
    printf("  %-22s %8.1f %8s %8.1f %8s %9.1f %10.1f %11.1f\n", "all", total, "", transport, "",
           lib_sum, beside, proc_sum);
    printf("  where it goes: the stage libraries' work %.1f us (%.0f%%); beside it in the workers'\n"
           "  main threads (runtime: decode, encode, sockets; the shells' own code) %.1f us "
           "(%.0f%%);\n"
           "  the daemon's loop (routing, journal, merging additions) %.1f us (%.0f%%); ZeroMQ's\n"
           "  I/O threads, everyone's (the transport) %.1f us (%.0f%%); the client %.1f us (%.0f%%)\n",
           lib_sum, 100 * lib_sum / total, beside, 100 * beside / total, daemon_main,
           100 * daemon_main / total, transport, 100 * transport / total, client_main,
           100 * client_main / total);
    printf("  (library: the same work measured alone above, CPU time; main-lib: the worker's\n"
           "  main thread beside it; process(): the stages' trace timings, wall time, which on a\n"
           "  busy machine includes time the thread waited for a CPU; %" PRIu64
           " results sampled)\n",
           p->trace_n);
    return total;
}

int
main(int argc, char **argv)
{
    opts o;
    int prc = parse_opts(&o, argc, argv);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: waits return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_daemon);
    prctl(PR_SET_TIMERSLACK, 1UL); /* paced sends wake on a timer */
    if (find_bin_dir() != 0)
        return 1;

    char cpu[256], load[64];
    cpu_model(cpu, sizeof(cpu));
    load_avg(load, sizeof(load));
    const char *warn = build_warning();
    printf("nlpd end-to-end benchmark: ingest split tag summarize\n");
    printf("  machine  : %ld CPUs, %s, load %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu, load);
    printf("  build    : %s%s%s\n", NLPD_BENCH_BUILD_TYPE, warn[0] ? "; WARNING: " : ", optimized",
           warn);
    articles as;
    memset(&as, 0, sizeof(as));
    if (load_articles(&as) != 0) {
        free_articles(&as);
        return 1;
    }
    lib_figures lf;
    progress("the stage libraries alone: %zu articles, %d passes", as.n, o.lib_passes);
    if (measure_libs(&o, &as, &lf, 0) != 0) {
        free_articles(&as);
        return 1;
    }
    printf("  articles : %zu from %s\n", as.n, as.from);
    printf("             %.0f bytes, %.0f tokens, %.1f sentences, %.1f entities each on average\n",
           lf.bytes, lf.tokens, lf.sentences, lf.entities);
    fflush(stdout);

    char *dir = make_tmpdir();
    if (dir == NULL) {
        free_articles(&as);
        return 1;
    }
    run_figures *rf = calloc(1, sizeof(*rf));
    int rc = rf != NULL ? run_daemon(&o, dir, &as, rf) : -1;
    kill_daemon();
    nlpd_test_rmtree(dir);
    free(dir);
    if (rc != 0) {
        free_articles(&as);
        die_msg("the benchmark did not complete; no figures");
        free(rf);
        return 1;
    }
    progress("the stage libraries alone, again");
    if (measure_libs(&o, &as, &lf, 1) != 0) {
        free_articles(&as);
        free(rf);
        return 1;
    }
    load_avg(load, sizeof(load));
    printf("\n  stage libraries alone, one core (CPU us per article, best of %d passes before\n"
           "  and %d after the daemon's run; load %s):\n",
           o.lib_passes, o.lib_passes, load);
    printf("   ");
    for (int s = 0; s < N_STAGES; s++)
        printf(" %s %.1f,", stage_names[s], lf.us[s]);
    printf(" total %.1f us\n", lf.total_us);
    printf("    predicted for 2 cores: %.0f articles/s (the stages' work spread over both);\n"
           "    one worker per stage: at most %.0f/s (the slowest stage on one core)\n",
           lf.predicted_2, lf.one_each);
    free_articles(&as);

    printf("\n  daemon   : %s; journal %s; window %u; client %s\n",
           o.config ? o.config : "generated config",
           o.config ? "as configured" : o.no_journal ? "off" : "on (the default: group commit)",
           o.window, o.endpoint ? o.endpoint : "ipc://RUNDIR/front");
    printf("  workers  :");
    for (int s = 0; s < N_STAGES; s++)
        printf(" %s %d", stage_names[s], rf->n_workers[s]);
    printf("\n");
    if (o.append != NULL)
        printf("  appended : %s\n", o.append);

    const phase_result *fl = &rf->flat;
    printf("\n  flat out : %.0f articles/s (%" PRIu64 " articles in %.1f s, after %" PRIu64
           " warm-up; load %s)\n",
           fl->rate, fl->n, fl->seconds, o.warmup, fl->load);
    printf("             latency p50 %.1f ms, p99 %.1f ms with %u in flight\n", fl->p50_ms,
           fl->p99_ms, o.window);
    if (rf->have_paced) {
        const phase_result *pc = &rf->paced;
        printf("  half rate: %.0f/s asked, %.0f/s measured (%" PRIu64
               " articles; load %s): latency from due time p50 %.2f ms, p99 %.2f ms, max "
               "%.2f ms\n",
               pc->target_rate, pc->rate, pc->n, pc->load, pc->p50_ms, pc->p99_ms, pc->max_ms);
        printf("             from the actual send p50 %.2f ms, p99 %.2f ms; the client fell behind "
               "by up to %.1f ms\n",
               pc->sent_p50_ms, pc->sent_p99_ms, pc->late_ms);
    }
    double total = print_cpu("flat out", fl, &lf, rf);
    if (rf->have_paced)
        print_cpu("at half rate", &rf->paced, &lf, rf);

    printf("\n  CPU-bound ceiling of this pipeline on 2 cores: %.0f articles/s (2 s / %.1f us)\n",
           2e6 / total, total);
    printf("  measured vs predicted for 2 cores: %.0f / %.0f = %.1f%%\n", fl->rate,
           lf.predicted_2, 100.0 * fl->rate / lf.predicted_2);
    int stages_can = lf.predicted_2 >= TARGET_RATE;
    double target = stages_can ? TARGET_RATE : TARGET_SHARE * lf.predicted_2;
    printf("  target: %s: %.0f articles/s   %s\n",
           stages_can ? "1,000 articles/s (the stages alone allow it)"
                      : "70% of the prediction (the stages alone cannot reach 1,000/s)",
           target, fl->rate >= target ? "PASS" : "FAIL");
    if (rf->have_paced)
        printf("  p99 at half rate < %.0f ms: %.2f ms   %s\n", TARGET_P99_MS, rf->paced.p99_ms,
               rf->paced.p99_ms < TARGET_P99_MS ? "PASS" : "FAIL");
    if (warn[0] != '\0')
        printf("  (WARNING: %s: the verdicts mean nothing)\n", warn);
    printf("  verdicts are informational: the exit status is 0 either way\n");
    free(rf);
    return 0;
}
