/* tests/e2e/metrics_e2e_test.c — operations and monitoring (issue 7).
 *
 * Against a real daemon (ingest and a pass-through stage):
 *  - `nlpctl stats --json` adds up: every stage processed what was sent,
 *    accepted = completed = sent, nothing in flight, queued or in hand,
 *    the latency counts match; the human table names the stages;
 *  - /metrics (metrics_listen = 127.0.0.1:0: the system picks the port,
 *    STATUS tells it) is valid text format 0.0.4 (prom_check.h, over a
 *    plain socket) whose counters match what was sent; /healthz and
 *    /readyz answer 200; an unknown path 404, a POST 405;
 *  - /readyz is 503 while the daemon starts (and names why), and while a
 *    stage has no worker (its only worker killed, the restart held back),
 *    then 200 again;
 *  - `nlpctl workers add/remove` changes a stage's workers in the running
 *    daemon while documents flow, and not one is lost or fails; clear
 *    refusals (unknown stage, a bad count, the last worker); a reload
 *    returns to the configured count;
 *  - `nlpctl top --once` and `-n 2` print frames (plain lines: not a tty).
 * Assertions are on counts and states, never on speed.
 */
#include "e2e.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prom_check.h"

/* --- Helpers ------------------------------------------------------------------ */

/* Runs a shell command; returns its exit status and its output (stdout and
 * stderr) in *out (free()). */
static int
run(char **out, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `nlpctl --runtime-dir DIR ARGS`; returns the exit status, output in *out. */
static int
nlpctl(nlpd_e2e *e, char **out, const char *args)
{
    return run(out, "%s --runtime-dir %s %s", nlpd_e2e_bin("nlpctl"), e->rundir, args);
}

/* STATS as JSON, through nlpctl. */
static json_t *
stats_json(nlpd_e2e *e)
{
    char *out = NULL;
    int rc = nlpctl(e, &out, "stats --json");
    if (rc != 0) {
        nlpd_e2e_dump_log(e);
        fail_msg("nlpctl stats --json exited %d: %s", rc, out);
    }
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    if (root == NULL)
        fail_msg("nlpctl stats --json printed no JSON (%s): %s", jerr.text, out);
    free(out);
    return root;
}

static json_t *
stats_stage(json_t *stats, const char *name)
{
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(stats, "stages"), i, st)
    {
        if (strcmp(json_string_value(json_object_get(st, "name")), name) == 0)
            return st;
    }
    fail_msg("no stage %s in STATS", name);
    return NULL;
}

static json_int_t
jint(json_t *o, const char *path)
{
    /* "a.b.c" */
    char key[128];
    const char *p = path;
    json_t *v = o;
    while (*p != '\0' && v != NULL) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, p);
        v = json_object_get(v, key);
        p += n + (p[n] == '.');
    }
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    return json_integer_value(v);
}

static void
send_docs(nlpd_e2e *e, int n)
{
    for (int i = 0; i < n; i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 "{\"id\":\"d%d\",\"text\":\"Document number %d. It has two sentences.\"}", i, i);
        char refused[32] = "";
        json_t *r = nlpd_e2e_annotate(e, line, refused);
        if (r == NULL)
            fail_msg("document %d refused: %s", i, refused);
        assert_int_equal(nlpd_e2e_error_count(r, "timeout") + nlpd_e2e_error_count(r, "crashed"),
                         0);
        json_decref(r);
    }
}

/* --- stats --json adds up ---------------------------------------------------------- */

#define SENT 40

static void
test_stats_json_counts_add_up_to_the_documents_sent(void **state)
{
    (void)state;
    char *config = nlpd_e2e_pt_config("", NULL, "replicas = 2");
    nlpd_e2e e;
    nlpd_e2e_start(&e, config);
    free(config);
    send_docs(&e, SENT);

    json_t *s = stats_json(&e);
    assert_int_equal(jint(s, "documents.accepted"), SENT);
    assert_int_equal(jint(s, "documents.completed"), SENT);
    assert_int_equal(jint(s, "documents.completed_with_errors"), 0);
    assert_int_equal(jint(s, "documents.refused"), 0);
    assert_int_equal(jint(s, "documents.in_flight"), 0);
    assert_int_equal(jint(s, "documents.latency_ms.count"), SENT);
    assert_int_equal(jint(s, "documents.latency_ms.samples"), SENT);
    assert_true(json_is_number(json_object_get(json_object_get(json_object_get(s, "documents"),
                                                                "latency_ms"),
                                               "p99")));
    assert_true(json_is_true(json_object_get(s, "ready")));
    assert_true(json_is_true(json_object_get(json_object_get(s, "journal"), "open")));
    assert_int_equal(jint(s, "journal.pending"), 0);
    assert_int_equal(jint(s, "journal.results"), SENT);
    const char *names[] = {"ingest", "pt"};
    int replicas[] = {1, 2};
    for (int i = 0; i < 2; i++) {
        json_t *st = stats_stage(s, names[i]);
        assert_int_equal(jint(st, "processed"), SENT);
        assert_int_equal(jint(st, "errors"), 0);
        assert_int_equal(jint(st, "queued"), 0);
        assert_int_equal(jint(st, "in_hand"), 0);
        assert_int_equal(jint(st, "dead_letters"), 0);
        assert_int_equal(jint(st, "latency_ms.count"), SENT);
        assert_int_equal(jint(st, "stage_ms.count"), SENT);
        assert_int_equal(jint(st, "replicas"), replicas[i]);
        assert_int_equal(jint(st, "workers.ready"), replicas[i]);
        assert_int_equal(json_array_size(json_object_get(st, "history")), 30);
        /* Time in the stage includes its processing. */
        assert_true(json_real_value(json_object_get(json_object_get(st, "stage_ms"), "sum_s")) >=
                    json_real_value(json_object_get(json_object_get(st, "latency_ms"), "sum_s")));
    }
    /* Hops: front -> ingest -> pt, nothing waiting. */
    json_t *hops = json_object_get(s, "hops");
    assert_int_equal(json_array_size(hops), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hops, 0), "from")),
                        "front");
    assert_string_equal(json_string_value(json_object_get(json_array_get(hops, 1), "to")), "pt");
    assert_int_equal(jint(json_array_get(hops, 1), "backlog"), 0);
    json_decref(s);

    /* The table, for people. */
    char *out = NULL;
    assert_int_equal(nlpctl(&e, &out, "stats"), 0);
    assert_non_null(strstr(out, "STAGE"));
    assert_non_null(strstr(out, "\npt "));
    assert_non_null(strstr(out, "ingest -> pt"));
    free(out);
    /* status --json carries the runtime and configured replicas. */
    assert_int_equal(nlpctl(&e, &out, "status --json"), 0);
    assert_non_null(strstr(out, "\"configured_replicas\":2"));
    free(out);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* --- /metrics, /healthz, /readyz -------------------------------------------------- */

static int
metrics_show(const char *body, const char *name, const char *stage, double want)
{
    double v = -1;
    if (prom_value(body, name, stage ? "stage" : NULL, stage, &v) != 0)
        return 0;
    return v == want;
}

static void
test_metrics_http_serves_valid_text_health_and_readiness(void **state)
{
    (void)state;
    char *config = nlpd_e2e_pt_config("", "metrics_listen = 127.0.0.1:0", NULL);
    nlpd_e2e e;
    nlpd_e2e_start(&e, config);
    free(config);
    int port = nlpd_e2e_metrics_port(&e);
    send_docs(&e, 10);

    /* The figures are rendered once a second: wait for the count. */
    char *body = NULL;
    uint64_t end = nlpd_e2e_now_ms() + 15000;
    int code = 0;
    for (;;) {
        free(body);
        code = nlpd_e2e_http(port, "GET", "/metrics", &body);
        if (code == 200 && metrics_show(body, "nlpd_documents_completed_total", NULL, 10))
            break;
        if (nlpd_e2e_now_ms() > end)
            fail_msg("/metrics never showed 10 completed (HTTP %d):\n%s", code, body);
        nlpd_e2e_sleep_ms(100);
    }
    char why[300] = "";
    int samples = prom_check(body, why, sizeof(why));
    if (samples < 0)
        fail_msg("/metrics is not valid text format 0.0.4: %s\n%s", why, body);
    assert_true(samples > 40);
    assert_true(metrics_show(body, "nlpd_documents_accepted_total", NULL, 10));
    assert_true(metrics_show(body, "nlpd_stage_processed_total", "pt", 10));
    assert_true(metrics_show(body, "nlpd_stage_processed_total", "ingest", 10));
    assert_true(metrics_show(body, "nlpd_stage_queue_depth", "pt", 0));
    assert_true(metrics_show(body, "nlpd_ready", NULL, 1));
    assert_true(metrics_show(body, "nlpd_document_seconds_count", NULL, 10));
    assert_non_null(strstr(body, "nlpd_stage_processing_seconds{stage=\"pt\",quantile=\"0.99\"} "));
    free(body);

    assert_int_equal(nlpd_e2e_http(port, "GET", "/healthz", &body), 200);
    assert_string_equal(body, "ok\n");
    free(body);
    assert_int_equal(nlpd_e2e_http(port, "GET", "/readyz", &body), 200);
    free(body);
    assert_int_equal(nlpd_e2e_http(port, "HEAD", "/metrics", &body), 200);
    free(body);
    assert_int_equal(nlpd_e2e_http(port, "GET", "/nope", &body), 404);
    free(body);
    assert_int_equal(nlpd_e2e_http(port, "POST", "/metrics", &body), 405);
    free(body);
    assert_int_equal(nlpd_e2e_http(port, "DELETE", "/readyz", &body), 405);
    free(body);

    /* STATS names the address too. */
    json_t *s = stats_json(&e);
    assert_non_null(strstr(json_string_value(json_object_get(s, "metrics_listen")), "127.0.0.1:"));
    json_decref(s);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* Polls /readyz until it answers `want`; returns the last body (free()). */
static char *
wait_readyz(int port, int want, int timeout_ms)
{
    uint64_t end = nlpd_e2e_now_ms() + (uint64_t)timeout_ms;
    char *body = NULL;
    for (;;) {
        free(body);
        int code = nlpd_e2e_http(port, "GET", "/readyz", &body);
        if (code == want)
            return body;
        if (nlpd_e2e_now_ms() > end)
            fail_msg("/readyz stayed %d (wanted %d): %s", code, want, body);
        nlpd_e2e_sleep_ms(20);
    }
}

static void
test_metrics_readyz_is_503_while_a_stage_has_no_worker(void **state)
{
    (void)state;
    /* A worker that is killed comes back only after 5 s: meanwhile the
     * stage has none. */
    char *config = nlpd_e2e_pt_config("",
                                      "metrics_listen = 127.0.0.1:0\n"
                                      "restart_backoff_min_ms = 5s\n"
                                      "restart_backoff_max_ms = 5s",
                                      NULL);
    nlpd_e2e e;
    nlpd_e2e_start(&e, config);
    free(config);
    int port = nlpd_e2e_metrics_port(&e);
    free(wait_readyz(port, 200, 10000));
    int pid = nlpd_e2e_worker_pid(&e, "pt", 0);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    char *body = wait_readyz(port, 503, 4000);
    assert_non_null(strstr(body, "stage pt has no ready worker"));
    free(body);
    /* Liveness is another matter: the loop runs. */
    assert_int_equal(nlpd_e2e_http(port, "GET", "/healthz", &body), 200);
    free(body);
    free(wait_readyz(port, 200, 30000));
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_metrics_readyz_is_503_while_starting(void **state)
{
    (void)state;
    /* A worker that refuses its options never reports in. */
    char *config = nlpd_e2e_pt_config("--no-such-option", "metrics_listen = 127.0.0.1:0", NULL);
    nlpd_e2e e;
    nlpd_e2e_start_unready(&e, config);
    free(config);
    int port = nlpd_e2e_metrics_port(&e);
    char *body = NULL;
    assert_int_equal(nlpd_e2e_http(port, "GET", "/readyz", &body), 503);
    assert_non_null(strstr(body, "starting"));
    free(body);
    assert_int_equal(nlpd_e2e_http(port, "GET", "/healthz", &body), 200);
    free(body);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_metrics_port_in_use_is_a_clear_start_error(void **state)
{
    (void)state;
    /* Take a port, then ask the daemon for it. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t sl = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &sl);
    char extra[64];
    snprintf(extra, sizeof(extra), "metrics_listen = 127.0.0.1:%d", ntohs(a.sin_port));
    char *config = nlpd_e2e_pt_config("", extra, NULL);
    char *dir = nlpd_test_tmpdir("nlpd-metrics-busy");
    char path[600];
    snprintf(path, sizeof(path), "%s/nlpd.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(config, f);
    fclose(f);
    free(config);
    char *out = NULL;
    int rc = run(&out, "%s --config %s --runtime-dir %s/run --state-dir %s/state",
                 nlpd_e2e_bin("nlpd"), path, dir, dir);
    assert_int_equal(rc, 1);
    if (strstr(out, "cannot listen for metrics on 127.0.0.1:") == NULL ||
        strstr(out, "Address already in use") == NULL)
        fail_msg("no clear message: %s", out);
    free(out);
    close(fd);
    /* A bad address is refused at load, with the file and line. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[daemon]\nmetrics_listen = 127.0.0.1:99999\n", f);
    fclose(f);
    rc = run(&out, "%s --config %s --check-config", nlpd_e2e_bin("nlpd"), path);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "nlpd.conf:2: metrics_listen:"));
    free(out);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[daemon]\nmetrics_listen = example.com:9464\n", f);
    fclose(f);
    rc = run(&out, "%s --config %s --check-config", nlpd_e2e_bin("nlpd"), path);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "not a numeric IPv4 address"));
    free(out);
    run(&out, "rm -rf '%s'", dir);
    free(out);
    free(dir);
}

/* --- workers add / remove ----------------------------------------------------------- */

#define FLOWING 400

static int
pt_workers(nlpd_e2e *e, int *ready)
{
    json_t *s = nlpd_e2e_status(e);
    assert_non_null(s);
    json_t *st = nlpd_e2e_stage(s, "pt");
    json_t *ws = json_object_get(st, "workers");
    int n = (int)json_array_size(ws), r = 0;
    size_t i;
    json_t *w;
    json_array_foreach(ws, i, w)
    {
        r += strcmp(json_string_value(json_object_get(w, "state")), "ready") == 0;
    }
    if (ready != NULL)
        *ready = r;
    json_decref(s);
    return n;
}

typedef struct flow {
    int accepted, results, clean;
    char *seen; /* per corr: result received */
} flow;

/* Receives what came until `until` results are in (or the time is up). */
static void
receive(nlpd_e2e *e, flow *fl, int until, int timeout_ms)
{
    uint64_t end = nlpd_e2e_now_ms() + (uint64_t)timeout_ms;
    while (fl->results < until) {
        nlpd_reply r;
        int rc = nlpd_client_recv(e->client, &r, 200);
        if (rc == NLPD_ETIMEDOUT) {
            if (nlpd_e2e_now_ms() > end) {
                nlpd_e2e_dump_log(e);
                fail_msg("only %d of %d results within %d ms", fl->results, until, timeout_ms);
            }
            continue;
        }
        assert_int_equal(rc, 0);
        if (r.kind == NLPD_REPLY_REFUSED)
            fail_msg("document %llu refused: %s %s", (unsigned long long)r.corr, r.code,
                     r.message);
        if (r.kind == NLPD_REPLY_ACCEPTED) {
            fl->accepted++;
        } else if (r.kind == NLPD_REPLY_RESULT) {
            assert_true(r.corr >= 1 && r.corr <= FLOWING);
            if (fl->seen[r.corr])
                fail_msg("document %llu came back twice", (unsigned long long)r.corr);
            fl->seen[r.corr] = 1;
            fl->results++;
            fl->clean += !r.error;
        }
    }
}

static void
wait_pt_workers(nlpd_e2e *e, flow *fl, int want)
{
    uint64_t end = nlpd_e2e_now_ms() + 30000;
    int ready = 0, n = 0;
    while ((n = pt_workers(e, &ready)) != want || ready != want) {
        if (nlpd_e2e_now_ms() > end) {
            nlpd_e2e_dump_log(e);
            fail_msg("pt has %d workers (%d ready), not %d", n, ready, want);
        }
        /* Keep reading results meanwhile (none may be lost). */
        receive(e, fl, fl->results < FLOWING ? fl->results + 1 : FLOWING, 60000);
        nlpd_e2e_sleep_ms(20);
    }
}

static void
test_workers_add_and_remove_while_documents_flow_lose_nothing(void **state)
{
    (void)state;
    /* 10 ms a document: one worker takes 4 s for all; credit 4 each, so
     * removed workers hold documents that go back to the queue. */
    char *config = nlpd_e2e_pt_config("--sleep-ms 10", NULL, "window = 4");
    nlpd_e2e e;
    nlpd_e2e_start(&e, config);
    free(config);
    flow fl = {0};
    fl.seen = calloc(FLOWING + 1, 1);
    assert_non_null(fl.seen);
    for (int i = 1; i <= FLOWING; i++) {
        char line[200];
        int n = snprintf(line, sizeof(line), "{\"id\":\"f%d\",\"text\":\"Flowing document %d.\"}",
                         i, i);
        assert_int_equal(nlpd_client_submit(e.client, (uint64_t)i, "json wait", line, (size_t)n,
                                            10000),
                         0);
    }
    receive(&e, &fl, 30, 60000);

    char *out = NULL;
    int rc = nlpctl(&e, &out, "workers add pt 3");
    if (rc != 0)
        fail_msg("workers add exited %d: %s", rc, out);
    assert_non_null(strstr(out, "4 workers"));
    free(out);
    wait_pt_workers(&e, &fl, 4);
    json_t *s = nlpd_e2e_status(&e);
    assert_int_equal(json_integer_value(json_object_get(nlpd_e2e_stage(s, "pt"), "replicas")), 4);
    assert_int_equal(
        json_integer_value(json_object_get(nlpd_e2e_stage(s, "pt"), "configured_replicas")), 1);
    json_decref(s);

    receive(&e, &fl, fl.results + 40 < FLOWING ? fl.results + 40 : FLOWING, 60000);
    rc = nlpctl(&e, &out, "workers remove pt 3 --json");
    if (rc != 0)
        fail_msg("workers remove exited %d: %s", rc, out);
    assert_non_null(strstr(out, "\"replicas\":1"));
    free(out);
    wait_pt_workers(&e, &fl, 1);

    /* Refusals, and nothing changes. */
    assert_int_equal(nlpctl(&e, &out, "workers remove pt 1"), 1);
    assert_non_null(strstr(out, "at least 1 stays"));
    free(out);
    assert_int_equal(nlpctl(&e, &out, "workers add nosuchstage 1"), 1);
    assert_non_null(strstr(out, "no stage 'nosuchstage'"));
    free(out);
    assert_int_equal(nlpctl(&e, &out, "workers add pt 0"), 2);
    free(out);
    assert_int_equal(nlpctl(&e, &out, "workers add pt 300"), 2);
    free(out);
    assert_int_equal(nlpctl(&e, &out, "workers grow pt 1"), 2);
    free(out);

    receive(&e, &fl, FLOWING, 120000);
    assert_int_equal(fl.accepted, FLOWING);
    assert_int_equal(fl.results, FLOWING);
    assert_int_equal(fl.clean, FLOWING);
    /* Each document went through pt once: nothing processed twice, none
     * lost; the removed workers left as asked (STOP), not killed. */
    json_t *st = stats_json(&e);
    assert_int_equal(jint(stats_stage(st, "pt"), "processed"), FLOWING);
    assert_int_equal(jint(stats_stage(st, "pt"), "crashes"), 0);
    assert_int_equal(jint(st, "documents.completed"), FLOWING);
    json_decref(st);
    /* (Their BYE may be read after their exit: not counted.) */
    assert_int_equal(nlpd_e2e_log_count(&e, "stopping: the daemon asked"), 3);
    assert_int_equal(nlpd_e2e_log_count(&e, "code=crashed"), 0);

    /* A reload goes back to the configured count. */
    rc = nlpctl(&e, &out, "workers add pt 1");
    assert_int_equal(rc, 0);
    free(out);
    wait_pt_workers(&e, &fl, 2);
    nlpd_e2e_signal(&e, SIGHUP);
    assert_true(nlpd_e2e_wait_log(&e, "reload complete", 1, 30000));
    wait_pt_workers(&e, &fl, 1);
    free(fl.seen);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* --- top ------------------------------------------------------------------------------ */

static int
count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void
test_top_once_prints_one_frame_and_count_prints_that_many(void **state)
{
    (void)state;
    char *config = nlpd_e2e_pt_config("", NULL, NULL);
    nlpd_e2e e;
    nlpd_e2e_start(&e, config);
    free(config);
    send_docs(&e, 5);
    char *out = NULL;
    assert_int_equal(nlpctl(&e, &out, "top --once --ascii"), 0);
    assert_int_equal(count_of(out, "STAGE"), 1);
    assert_non_null(strstr(out, "\ningest "));
    assert_non_null(strstr(out, "\npt "));
    assert_non_null(strstr(out, "completed 5"));
    assert_null(strchr(out, '\033')); /* not a terminal: plain lines */
    free(out);
    assert_int_equal(nlpctl(&e, &out, "top -n 2 --interval 0.2"), 0);
    assert_int_equal(count_of(out, "STAGE"), 2);
    free(out);
    assert_int_equal(nlpctl(&e, &out, "top --count 0"), 2);
    free(out);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
    /* No daemon: a clear error, not a hang. */
    assert_int_equal(nlpctl(&e, &out, "top --once"), 1);
    assert_non_null(strstr(out, "no daemon socket"));
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_stats_json_counts_add_up_to_the_documents_sent,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_metrics_http_serves_valid_text_health_and_readiness,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_metrics_readyz_is_503_while_a_stage_has_no_worker,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_metrics_readyz_is_503_while_starting, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_metrics_port_in_use_is_a_clear_start_error,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_workers_add_and_remove_while_documents_flow_lose_nothing,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_top_once_prints_one_frame_and_count_prints_that_many,
                                  nlpd_e2e_teardown),
    };
    return cmocka_run_group_tests_name("metrics_e2e", tests, NULL, NULL);
}
