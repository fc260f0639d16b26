/* tests/e2e/backpressure_e2e_test.c — a slow consumer: the front door
 * pushes back and the daemon's memory stays bounded.
 *
 * The pipeline's one stage sleeps on every document, and max_in_flight is
 * small. A client offers far more than the bound, without waiting: past
 * the bound the front door answers "busy", the daemon's peak resident set
 * (VmHWM) grows by far less than what was offered, and every document it
 * accepted comes out of the result store once. Then nlpctl annotate sends
 * a batch bigger than the bound: it is refused "busy" on the way, resends
 * with backoff, and writes every result, clean, while the daemon's memory
 * stays under the same bound. The assertions are on counts and bounds,
 * never on speeds.
 */
#include "e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nlpd/alloc.h"

/* Documents in flight at most. */
#define MAX_IN_FLIGHT 8
/* Each document's text. */
#define DOC_BYTES (64 * 1024)
/* Offered without waiting: 2,000 x 64 KB = 125 MB, 250 x the bound. */
#define OFFERED 2000
/* The daemon's peak resident set may grow at most this much over its
 * warmed-up size while the backlog is offered (what is in flight, the
 * front door's receive queue of 256 messages, SQLite's page cache and the
 * allocator's slack: a few MB each). */
#define RSS_GROWTH_MAX_KB (40 * 1024)
/* What nlpctl annotate sends: 30 x the bound, to a stage slow enough
 * (25 ms a document) that even a client slowed down by a sanitizer
 * outruns it. */
#define ANNOTATED 240

/* A line "NAME:  1234 kB" of /proc/PID/status, in kB; -1 if absent. */
static long
proc_kb(pid_t pid, const char *name)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long kb = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            kb = atol(line + n + 1);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* Resets the daemon's VmHWM to its current RSS (clear_refs 5, Linux 4.0+);
 * 0 on success. Without it VmHWM also holds the start-up peak, which only
 * makes the bound stricter. */
static int
reset_peak(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Under AddressSanitizer freed memory waits in a quarantine (256 MB by
 * default) before it is reused, so a daemon that frees everything it is
 * done with still grows by what passed through it. The daemon started
 * next keeps a small one (4 MB), which leaves the bound meaningful there
 * too; the test process is not affected (its options were read at its
 * start). */
static void
small_asan_quarantine(void)
{
#ifdef UNDER_ASAN
    const char *old = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=4", old != NULL ? old : "",
             old != NULL && old[0] != '\0' ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
#endif
}

static char *
config(int sleep_ms)
{
    small_asan_quarantine();
    char *c = malloc(4096);
    snprintf(c, 4096,
             "[daemon]\n"
             "log_level = notice\n"
             "heartbeat_ms = 200\n"
             "heartbeat_timeout_ms = 5000\n"
             "max_in_flight = %d\n"
             "[pipeline]\n"
             "stages = ingest pt\n"
             "[stage pt]\n"
             "command = %s --sleep-ms %d\n"
             "replicas = 1\n",
             MAX_IN_FLIGHT, nlpd_e2e_bin("nlpd-passthrough"), sleep_ms);
    return c;
}

/* One JSON line {"id":"ID","text":"..."} with DOC_BYTES of text, varied
 * by `seed`, and no newline. */
static char *
doc_line(const char *id, unsigned seed, size_t *len)
{
    static const char *const words[] = {"The", "slow", "consumer", "reads", "every",
                                        "line", "of", "this", "long", "report."};
    char *s = malloc(DOC_BYTES + 256);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, 256, "{\"id\":\"%s\",\"text\":\"", id);
    size_t end = n + DOC_BYTES;
    for (unsigned i = seed; n < end; i++) {
        const char *w = words[i % 10];
        size_t wl = strlen(w);
        if (n + wl + 1 > end)
            break;
        memcpy(s + n, w, wl);
        n += wl;
        s[n++] = ' ';
    }
    n += (size_t)snprintf(s + n, 256, "\"}");
    *len = n;
    return s;
}

/* The keys of every result in the store, in cursor order, and how many
 * were not "ok". */
typedef struct store {
    char (*keys)[32];
    int n;
    int errors;
} store;

static void
read_store(nlpd_e2e *e, store *st)
{
    st->keys = calloc(OFFERED + ANNOTATED + 16, sizeof(*st->keys));
    assert_non_null(st->keys);
    unsigned long long after = 0;
    for (;;) {
        char req[64], *reply = NULL;
        snprintf(req, sizeof(req), "RESULTS %llu 500", after);
        assert_int_equal(nlpd_control_call(e->rundir, NULL, req, 10000, &reply), 0);
        int lines = 0;
        char *save = NULL;
        for (char *l = strtok_r(reply, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
            json_t *j = json_loads(l, 0, NULL);
            assert_non_null(j);
            after = (unsigned long long)json_integer_value(json_object_get(j, "cursor"));
            assert_true(st->n < OFFERED + ANNOTATED + 16);
            snprintf(st->keys[st->n++], sizeof(st->keys[0]), "%.31s",
                     json_string_value(json_object_get(j, "key")));
            st->errors += strcmp(json_string_value(json_object_get(j, "status")), "ok") != 0;
            json_decref(j);
            lines++;
        }
        nlpd_free(reply);
        if (lines == 0)
            break;
    }
}

static int
cmp_key(const void *a, const void *b)
{
    return strcmp(a, b);
}

static json_int_t
status_int(nlpd_e2e *e, const char *what)
{
    json_t *st = nlpd_e2e_status(e);
    assert_non_null(st);
    json_int_t n = json_integer_value(json_object_get(st, what));
    json_decref(st);
    return n;
}

/* Waits (up to 60 s) until nothing is in flight and nothing is pending in
 * the journal. */
static int
wait_idle(nlpd_e2e *e)
{
    uint64_t deadline = nlpd_e2e_now_ms() + 60000;
    while (nlpd_e2e_now_ms() < deadline) {
        json_t *st = nlpd_e2e_status(e);
        int idle = st != NULL && json_integer_value(json_object_get(st, "in_flight")) == 0 &&
                   json_integer_value(json_object_get(json_object_get(st, "journal"), "pending")) ==
                       0;
        json_decref(st);
        if (idle)
            return 1;
        nlpd_e2e_sleep_ms(50);
    }
    return 0;
}

/* Warms the daemon up (a few documents through, so the allocator, the
 * worker's buffers and SQLite's cache have their working size) and resets
 * its peak; returns its resident set then, in kB. */
static long
warm_up(nlpd_e2e *e)
{
    for (int i = 0; i < 2 * MAX_IN_FLIGHT; i++) {
        size_t len;
        char *l = doc_line("warm", (unsigned)i, &len);
        char refused[32] = "";
        json_t *r = nlpd_e2e_annotate(e, l, refused);
        assert_non_null(r);
        json_decref(r);
        free(l);
    }
    long rss = proc_kb(e->pid, "VmRSS");
    assert_true(rss > 0);
    if (reset_peak(e->pid) != 0)
        fprintf(stderr, "# VmHWM not reset (clear_refs refused): the bound is stricter\n");
    return rss;
}

static void
test_backpressure_busy_past_the_bound_memory_bounded_every_accepted_document_out(void **state)
{
    (void)state;
    nlpd_e2e e;
    char *conf = config(5);
    nlpd_e2e_start(&e, conf);
    free(conf);
    long base_kb = warm_up(&e);
    json_int_t refused0 = status_int(&e, "refused");

    /* The backlog: OFFERED documents, sent without waiting for anything;
     * the answers are read as they come (a client that does not read them
     * would only lose its own answers). */
    int accepted = 0, busy = 0, other = 0, answered = 0;
    char(*keys)[32] = calloc(OFFERED, sizeof(*keys));
    assert_non_null(keys);
    long peak_rss_seen = 0;
    for (int i = 0; i < OFFERED || answered < OFFERED;) {
        if (i < OFFERED) {
            char id[32];
            snprintf(id, sizeof(id), "offer-%d", i);
            size_t len;
            char *l = doc_line(id, (unsigned)i, &len);
            assert_int_equal(nlpd_client_submit(e.client, (uint64_t)i + 1, "json", l, len, 10000),
                             0);
            free(l);
            i++;
        }
        nlpd_reply r;
        int wait = i < OFFERED ? 0 : 10000;
        while (answered < OFFERED && nlpd_client_recv(e.client, &r, wait) == 0) {
            answered++;
            if (r.kind == NLPD_REPLY_ACCEPTED)
                snprintf(keys[accepted++], sizeof(keys[0]), "%.31s", r.key);
            else if (r.kind == NLPD_REPLY_REFUSED && strcmp(r.code, "busy") == 0)
                busy++;
            else
                other++;
        }
        if (i % 100 == 0) {
            long rss = proc_kb(e.pid, "VmRSS");
            if (rss > peak_rss_seen)
                peak_rss_seen = rss;
        }
    }
    assert_true(wait_idle(&e));
    long peak_kb = proc_kb(e.pid, "VmHWM");
    fprintf(stderr,
            "# backlog: offered=%d (%d MB) accepted=%d busy=%d other=%d; daemon rss warm=%ld kB "
            "peak=%ld kB (growth %ld kB, bound %d kB; sampled max %ld kB)\n",
            OFFERED, OFFERED * (DOC_BYTES >> 10) >> 10, accepted, busy, other, base_kb, peak_kb,
            peak_kb - base_kb, RSS_GROWTH_MAX_KB, peak_rss_seen);
    assert_int_equal(answered, OFFERED);
    assert_int_equal(other, 0);
    assert_int_equal(accepted + busy, OFFERED);
    /* The front door pushed back, and still took what it had room for. */
    assert_true(busy > 0);
    assert_true(accepted >= MAX_IN_FLIGHT);
    assert_int_equal(status_int(&e, "refused") - refused0, busy);
    /* Memory stayed bounded: far below what was offered. */
    assert_true(peak_kb > 0);
    assert_true(peak_kb - base_kb < RSS_GROWTH_MAX_KB);

    /* Every accepted document came out, once, clean. */
    store st = {0};
    read_store(&e, &st);
    qsort(st.keys, (size_t)st.n, sizeof(st.keys[0]), cmp_key);
    for (int k = 1; k < st.n; k++)
        assert_string_not_equal(st.keys[k - 1], st.keys[k]);
    assert_int_equal(st.errors, 0);
    for (int k = 0; k < accepted; k++) {
        if (bsearch(keys[k], st.keys, (size_t)st.n, sizeof(st.keys[0]), cmp_key) == NULL)
            fail_msg("accepted document %s is not in the result store", keys[k]);
    }
    /* The warm-up's documents and the accepted ones: nothing else. */
    assert_int_equal(st.n, accepted + 2 * MAX_IN_FLIGHT);
    free(st.keys);
    free(keys);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* nlpctl annotate over a batch 30 times the bound: refused "busy" on the
 * way, it resends with backoff and writes every result, in order, clean;
 * the daemon's memory stays under the same bound. */
static void
test_backpressure_nlpctl_annotate_resends_busy_documents_until_all_are_done(void **state)
{
    (void)state;
    nlpd_e2e e;
    char *conf = config(25);
    nlpd_e2e_start(&e, conf);
    free(conf);
    long base_kb = warm_up(&e);
    json_int_t refused0 = status_int(&e, "refused");

    char in_path[600];
    snprintf(in_path, sizeof(in_path), "%s/in.jsonl", e.dir);
    FILE *in = fopen(in_path, "w");
    assert_non_null(in);
    for (int i = 0; i < ANNOTATED; i++) {
        char id[32];
        snprintf(id, sizeof(id), "batch-%d", i);
        size_t len;
        char *l = doc_line(id, (unsigned)i, &len);
        assert_int_equal(fwrite(l, 1, len, in), len);
        fputc('\n', in);
        free(l);
    }
    assert_int_equal(fclose(in), 0);
    char cmd[2048];
    /* A window well past the bound, so that the daemon says busy. */
    snprintf(cmd, sizeof(cmd), "%s --runtime-dir %s annotate --quiet --window 64 < %s",
             nlpd_e2e_bin("nlpctl"), e.rundir, in_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4u << 20;
    char *line = malloc(cap);
    assert_non_null(line);
    int lines = 0, clean = 0, in_order = 1;
    while (fgets(line, (int)cap, p) != NULL) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        char want[32];
        snprintf(want, sizeof(want), "batch-%d", lines);
        const char *id = json_string_value(json_object_get(j, "id"));
        in_order &= id != NULL && strcmp(id, want) == 0;
        clean += json_object_get(j, "errors") == NULL &&
                 strcmp(nlpd_e2e_trace(j), "ingest pt") == 0;
        json_decref(j);
        lines++;
    }
    free(line);
    int status = pclose(p);
    assert_true(wait_idle(&e));
    long peak_kb = proc_kb(e.pid, "VmHWM");
    json_int_t refused = status_int(&e, "refused") - refused0;
    fprintf(stderr,
            "# nlpctl annotate: sent=%d written=%d clean=%d busy_refusals=%lld; daemon rss "
            "warm=%ld kB peak=%ld kB (growth %ld kB, bound %d kB)\n",
            ANNOTATED, lines, clean, (long long)refused, base_kb, peak_kb, peak_kb - base_kb,
            RSS_GROWTH_MAX_KB);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(lines, ANNOTATED);
    assert_int_equal(clean, ANNOTATED);
    assert_true(in_order);
    /* It was pushed back, and resent what was refused. */
    assert_true(refused > 0);
    assert_true(peak_kb - base_kb < RSS_GROWTH_MAX_KB);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_backpressure_busy_past_the_bound_memory_bounded_every_accepted_document_out,
            nlpd_e2e_teardown),
        cmocka_unit_test_teardown(
            test_backpressure_nlpctl_annotate_resends_busy_documents_until_all_are_done,
            nlpd_e2e_teardown),
    };
    return cmocka_run_group_tests_name("backpressure_e2e", tests, NULL, NULL);
}
