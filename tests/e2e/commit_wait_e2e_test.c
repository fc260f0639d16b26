/* tests/e2e/commit_wait_e2e_test.c — the journal's waiting_commit count.
 *
 * With journal_sync = group the front door answers "accepted" only once
 * the document's commit is on disk; until then it waits in the daemon and
 * STATUS journal.waiting_commit (also `nlpctl status --json`, STATS and the
 * gauge nlpd_journal_waiting_commit of /metrics) counts it. Against a real
 * daemon (ingest and a pass-through stage), with commits that come only
 * when the test makes them:
 *  - a group: group_commit_docs = 3 and a 10-minute group_commit_ms; two
 *    documents wait (exactly 2 everywhere, no answer, accepted 0), the
 *    third fills the group: all three are accepted and complete, and the
 *    count is 0;
 *  - the timer: group_commit_ms = 5 s; the document waits (count 1) until
 *    the timer commits it, not before, then the count is 0 and it
 *    completes;
 *  - a reader: a GET on the control socket commits what is open before it
 *    reads (docs/protocol.md), so the waiting document is accepted at once.
 * Nothing depends on speed: every wait polls up to a generous deadline,
 * and the only interval the test relies on (the 5 s timer) is checked from
 * below only.
 */
#include "e2e.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "nlpd/alloc.h"
#include "nlpd/error.h"

/* Deadlines: far above what an idle machine needs, so that a loaded one
 * (2 cores, sanitizers, other builds) does not fail the test. */
#define DEADLINE_MS 60000
#define GROUP_TIMER_MS 5000

/* --- Reading the count --------------------------------------------------------- */

static json_int_t
jpath(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(json_object_get(o, a), b);
    if (!json_is_integer(v))
        fail_msg("%s.%s is not an integer", a, b);
    return json_integer_value(v);
}

/* STATUS journal.waiting_commit, and STATUS accepted in *accepted. */
static json_int_t
status_waiting(nlpd_e2e *e, json_int_t *accepted)
{
    json_t *s = nlpd_e2e_status(e);
    if (s == NULL) {
        nlpd_e2e_dump_log(e);
        fail_msg("no STATUS");
    }
    if (strcmp(json_string_value(json_object_get(json_object_get(s, "journal"), "sync")),
               "group") != 0)
        fail_msg("journal.sync is not group");
    json_int_t n = jpath(s, "journal", "waiting_commit");
    if (accepted != NULL) {
        json_t *a = json_object_get(s, "accepted");
        assert_true(json_is_integer(a));
        *accepted = json_integer_value(a);
    }
    json_decref(s);
    return n;
}

/* STATS journal.waiting_commit. */
static json_int_t
stats_waiting(nlpd_e2e *e)
{
    char *reply = NULL;
    int rc = nlpd_control_call(e->rundir, NULL, "STATS", 5000, &reply);
    if (rc != 0)
        fail_msg("STATS: %s", nlpd_strerror(rc));
    json_t *s = json_loads(reply, 0, NULL);
    nlpd_free(reply);
    assert_non_null(s);
    json_int_t n = jpath(s, "journal", "waiting_commit");
    json_decref(s);
    return n;
}

/* `nlpctl status --json` journal.waiting_commit: what an operator reads. */
static json_int_t
nlpctl_waiting(nlpd_e2e *e)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s --runtime-dir %s status --json", nlpd_e2e_bin("nlpctl"),
             e->rundir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_error_t err;
    json_t *s = json_loadf(p, JSON_DISABLE_EOF_CHECK, &err);
    int st = pclose(p);
    if (s == NULL || st != 0)
        fail_msg("nlpctl status --json: exit %d, %s", st, s == NULL ? err.text : "");
    json_int_t n = jpath(s, "journal", "waiting_commit");
    json_decref(s);
    return n;
}

/* The gauge nlpd_journal_waiting_commit from GET /metrics (-1: absent). */
static long
metrics_waiting(int port)
{
    char *body;
    long v = -1;
    static const char name[] = "\nnlpd_journal_waiting_commit ";
    int code = nlpd_e2e_http(port, "GET", "/metrics", &body);
    const char *at = strstr(body, name);
    if (code == 200 && at != NULL)
        v = strtol(at + sizeof(name) - 1, NULL, 10);
    free(body);
    return v;
}

/* Waits until the gauge reads `want` (the figures are rendered on the
 * daemon's tick, so the gauge may lag STATUS by a tick). */
static void
wait_metrics(nlpd_e2e *e, int port, long want)
{
    long v = -1;
    for (uint64_t end = nlpd_e2e_now_ms() + DEADLINE_MS; nlpd_e2e_now_ms() < end;) {
        v = metrics_waiting(port);
        if (v == want)
            return;
        nlpd_e2e_sleep_ms(50);
    }
    nlpd_e2e_dump_log(e);
    fail_msg("nlpd_journal_waiting_commit is %ld, not %ld", v, want);
}

/* --- Documents ------------------------------------------------------------------ */

typedef struct docs {
    int n;            /* submitted */
    int accepted;     /* ACCEPTED received */
    int results;      /* RESULT received */
    uint64_t corr0;   /* corr of the first */
} docs;

/* Submits document `i` without waiting for its answer. */
static void
submit(nlpd_e2e *e, docs *d)
{
    char line[256];
    snprintf(line, sizeof(line),
             "{\"id\":\"cw-%d\",\"text\":\"Document %d waits for its commit. Then it runs.\"}",
             d->n, d->n);
    uint64_t corr = ++e->corr;
    if (d->n == 0)
        d->corr0 = corr;
    int rc = nlpd_client_submit(e->client, corr, "json wait reply=json", line, strlen(line), 10000);
    if (rc != 0)
        fail_msg("submit: %s", nlpd_strerror(rc));
    d->n++;
}

/* Reads one answer (waiting at most `timeout_ms`) and counts it; returns 0
 * when none came. A refusal or a failed result fails the test. */
static int
take_answer(nlpd_e2e *e, docs *d, int timeout_ms)
{
    nlpd_reply r;
    int rc = nlpd_client_recv(e->client, &r, timeout_ms);
    if (rc == NLPD_ETIMEDOUT)
        return 0;
    if (rc != 0)
        fail_msg("recv: %s", nlpd_strerror(rc));
    if (r.corr < d->corr0 || r.corr >= d->corr0 + (uint64_t)d->n)
        fail_msg("an answer to an unknown request (corr %llu)", (unsigned long long)r.corr);
    switch (r.kind) {
    case NLPD_REPLY_ACCEPTED:
        d->accepted++;
        break;
    case NLPD_REPLY_RESULT: {
        if (r.error)
            fail_msg("a document completed with an error: %.*s", (int)r.payload_len,
                     (const char *)r.payload);
        json_t *j = json_loadb(r.payload, r.payload_len, 0, NULL);
        assert_non_null(j);
        const char *id = json_string_value(json_object_get(j, "id"));
        assert_non_null(id);
        assert_int_equal(strncmp(id, "cw-", 3), 0);
        json_decref(j);
        d->results++;
        break;
    }
    case NLPD_REPLY_REFUSED:
        nlpd_e2e_dump_log(e);
        fail_msg("refused: %s %s", r.code, r.message);
        break;
    default:
        fail_msg("unexpected reply kind %d", (int)r.kind);
    }
    return 1;
}

/* Reads answers until `accepted` ACCEPTED and `results` RESULT have come. */
static void
wait_answers(nlpd_e2e *e, docs *d, int accepted, int results)
{
    uint64_t end = nlpd_e2e_now_ms() + DEADLINE_MS;
    while (d->accepted < accepted || d->results < results) {
        uint64_t now = nlpd_e2e_now_ms();
        if (now >= end || !take_answer(e, d, (int)(end - now))) {
            nlpd_e2e_dump_log(e);
            fail_msg("%d of %d accepted, %d of %d results after %d s", d->accepted, accepted,
                     d->results, results, DEADLINE_MS / 1000);
        }
    }
}

/* Polls STATUS until waiting_commit is `want` (never above it), asserting
 * meanwhile that nothing was answered: the documents wait. */
static void
wait_waiting(nlpd_e2e *e, docs *d, json_int_t want)
{
    json_int_t n = -1, accepted = -1;
    for (uint64_t end = nlpd_e2e_now_ms() + DEADLINE_MS; nlpd_e2e_now_ms() < end;) {
        n = status_waiting(e, &accepted);
        if (n > want)
            fail_msg("waiting_commit %lld, more than the %lld documents sent", (long long)n,
                     (long long)want);
        if (n == want)
            break;
        if (take_answer(e, d, 0))
            fail_msg("an answer came before the commit (%d accepted)", d->accepted);
        nlpd_e2e_sleep_ms(20);
    }
    if (n != want) {
        nlpd_e2e_dump_log(e);
        fail_msg("waiting_commit stayed %lld, never %lld", (long long)n, (long long)want);
    }
    assert_int_equal(accepted, 0); /* "accepted" counts answered documents */
}

static char *
config(const char *ms, const char *docs_per_commit)
{
    char extra[512];
    snprintf(extra, sizeof(extra),
             "journal_sync = group\ngroup_commit_ms = %s\ngroup_commit_docs = %s\n"
             "metrics_listen = 127.0.0.1:0",
             ms, docs_per_commit);
    return nlpd_e2e_pt_config(NULL, extra, NULL);
}

/* --- Tests ------------------------------------------------------------------------ */

static void
test_commit_wait_counts_a_group_until_it_is_full(void **state)
{
    (void)state;
    nlpd_e2e e;
    char *c = config("10min", "3");
    nlpd_e2e_start(&e, c);
    free(c);
    int port = nlpd_e2e_metrics_port(&e);
    assert_int_equal(status_waiting(&e, NULL), 0);
    json_int_t commits0 = nlpd_e2e_journal_count(&e, "commits");

    docs d = {0};
    submit(&e, &d);
    submit(&e, &d);
    wait_waiting(&e, &d, 2);
    /* The same count everywhere an operator looks. */
    assert_int_equal(stats_waiting(&e), 2);
    assert_int_equal(nlpctl_waiting(&e), 2);
    wait_metrics(&e, port, 2);
    /* Still nothing answered: no commit came on its own. */
    assert_int_equal(take_answer(&e, &d, 300), 0);
    assert_int_equal(status_waiting(&e, NULL), 2);
    assert_int_equal(nlpd_e2e_journal_count(&e, "commits"), commits0);

    /* The third fills the group: one commit for all three. */
    submit(&e, &d);
    wait_answers(&e, &d, 3, 3);
    json_int_t accepted = -1;
    assert_int_equal(status_waiting(&e, &accepted), 0);
    assert_int_equal(accepted, 3);
    assert_true(nlpd_e2e_journal_count(&e, "commits") > commits0);
    assert_int_equal(stats_waiting(&e), 0);
    assert_int_equal(nlpctl_waiting(&e), 0);
    wait_metrics(&e, port, 0);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_commit_wait_counts_until_the_timer_commits(void **state)
{
    (void)state;
    nlpd_e2e e;
    char ms[32];
    snprintf(ms, sizeof(ms), "%d", GROUP_TIMER_MS);
    char *c = config(ms, "256");
    nlpd_e2e_start(&e, c);
    free(c);
    assert_int_equal(status_waiting(&e, NULL), 0);

    docs d = {0};
    uint64_t t0 = nlpd_e2e_now_ms();
    submit(&e, &d);
    /* It waits for the timer: STATUS says 1 while no answer has come. */
    wait_waiting(&e, &d, 1);
    wait_answers(&e, &d, 1, 0);
    uint64_t waited = nlpd_e2e_now_ms() - t0;
    /* Not before the timer (a little slack for the loop's cached clock). */
    if (waited + 250 < GROUP_TIMER_MS)
        fail_msg("accepted after %llu ms, before group_commit_ms = %d",
                 (unsigned long long)waited, GROUP_TIMER_MS);
    assert_int_equal(status_waiting(&e, NULL), 0);
    wait_answers(&e, &d, 1, 1);
    assert_int_equal(status_waiting(&e, NULL), 0);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_commit_wait_a_reader_commits_what_waits(void **state)
{
    (void)state;
    nlpd_e2e e;
    char *c = config("10min", "256");
    nlpd_e2e_start(&e, c);
    free(c);

    docs d = {0};
    submit(&e, &d);
    wait_waiting(&e, &d, 1);
    assert_int_equal(take_answer(&e, &d, 300), 0);
    /* GET commits (and syncs) before it reads; the key is unknown. */
    char *reply = NULL;
    int rc = nlpd_control_call(e.rundir, NULL, "GET 0123456789abcdef", 10000, &reply);
    assert_int_equal(rc, NLPD_EINVAL);
    assert_non_null(reply);
    assert_non_null(strstr(reply, "no such result"));
    nlpd_free(reply);
    /* Answered by that commit, before the GET's reply was sent. */
    assert_int_equal(status_waiting(&e, NULL), 0);
    wait_answers(&e, &d, 1, 1);
    assert_int_equal(status_waiting(&e, NULL), 0);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_commit_wait_counts_a_group_until_it_is_full,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_commit_wait_counts_until_the_timer_commits,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_commit_wait_a_reader_commits_what_waits,
                                  nlpd_e2e_teardown),
    };
    return cmocka_run_group_tests_name("commit_wait_e2e", tests, NULL, NULL);
}
