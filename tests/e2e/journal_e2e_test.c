/* tests/e2e/journal_e2e_test.c — no document lost: the journal end to end.
 *
 * The daemon is killed with SIGKILL while documents stream through it and
 * started again on the same state dir: every document the client heard
 * "accepted" for comes out of the result store, none twice. A journal that
 * cannot write (a file size limit standing in for a full disk, a state dir
 * that cannot hold it) makes the front door refuse with code "journal"
 * instead of accepting what it cannot record.
 */
#include "e2e.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nlpd/alloc.h"

/* --- Keys ------------------------------------------------------------------ */

/* Keys, as many as a run needs (the soak run streams 100,000). */
typedef struct keyset {
    char (*keys)[32];
    int n, cap;
    int sorted;
} keyset;

static keyset *
keyset_new(void)
{
    return calloc(1, sizeof(keyset));
}

static void
keyset_free(keyset *k)
{
    free(k->keys);
    free(k);
}

static void
keyset_add(keyset *k, const char *key)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 1024;
        k->keys = realloc(k->keys, (size_t)k->cap * sizeof(*k->keys));
        assert_non_null(k->keys);
    }
    snprintf(k->keys[k->n++], sizeof(k->keys[0]), "%.31s", key);
    k->sorted = 0;
}

static int
cmp_key(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void
keyset_sort(keyset *k)
{
    if (!k->sorted && k->n > 0)
        qsort(k->keys, (size_t)k->n, sizeof(k->keys[0]), cmp_key);
    k->sorted = 1;
}

/* Keys that appear more than once (each extra appearance counts). */
static int
keyset_dups(keyset *k)
{
    keyset_sort(k);
    int d = 0;
    for (int i = 1; i < k->n; i++)
        d += strcmp(k->keys[i - 1], k->keys[i]) == 0;
    return d;
}

static int
keyset_has(keyset *k, const char *key)
{
    keyset_sort(k);
    return k->n > 0 && bsearch(key, k->keys, (size_t)k->n, sizeof(k->keys[0]), cmp_key) != NULL;
}

/* --- Chaos ------------------------------------------------------------------ */

/* While on, every CHAOS_EVERY_MS a random worker of ingest or pt dies by
 * SIGKILL, as the kernel or an operator would do it. */
#define CHAOS_EVERY_MS 250
static int chaos_on;
static int chaos_kills;
static uint64_t chaos_next;

static void
chaos_tick(nlpd_e2e *e, uint64_t now)
{
    if (!chaos_on || now < chaos_next)
        return;
    chaos_next = now + CHAOS_EVERY_MS;
    const char *stage = rand() % 3 == 0 ? "ingest" : "pt";
    int pid = nlpd_e2e_worker_pid(e, stage, rand() % 2);
    if (pid > 0 && kill(pid, SIGKILL) == 0)
        chaos_kills++;
}

/* --- Streaming --------------------------------------------------------------- */

/* Sends documents doc-0.. without waiting for results, resending what is
 * refused as busy, until `stop_after` of them are accepted; their keys go
 * to `accepted`. Returns how many were sent. */
static int
stream(nlpd_e2e *e, int n_docs, int stop_after, keyset *accepted)
{
    char line[256];
    int sent = 0, answered = 0;
    /* The soak run takes longer: the pipeline takes some 500 documents/s
     * with the chaos, and the front door holds max_in_flight of them. */
    uint64_t deadline = nlpd_e2e_now_ms() + 30000 + (uint64_t)n_docs * 5u;
    /* corr i+1 is document i; one refused as busy is sent again. */
    int *resend = calloc((size_t)n_docs, sizeof(int));
    int n_resend = 0;
    while (accepted->n < stop_after && nlpd_e2e_now_ms() < deadline) {
        chaos_tick(e, nlpd_e2e_now_ms());
        /* Keep up to 64 unanswered submissions. */
        while (sent < n_docs && sent - answered < 64) {
            snprintf(line, sizeof(line),
                     "{\"id\":\"doc-%d\",\"text\":\"Document number %d. It has two sentences.\"}",
                     sent, sent);
            assert_int_equal(nlpd_client_submit(e->client, (uint64_t)sent + 1, "json", line,
                                                strlen(line), 5000),
                             0);
            sent++;
        }
        while (n_resend > 0) {
            int i = resend[--n_resend];
            snprintf(line, sizeof(line),
                     "{\"id\":\"doc-%d\",\"text\":\"Document number %d. It has two sentences.\"}",
                     i, i);
            assert_int_equal(nlpd_client_submit(e->client, (uint64_t)i + 1, "json", line,
                                                strlen(line), 5000),
                             0);
            answered--;
        }
        nlpd_reply r;
        int rc = nlpd_client_recv(e->client, &r, 200);
        if (rc == NLPD_ETIMEDOUT)
            continue;
        assert_int_equal(rc, 0);
        if (r.kind == NLPD_REPLY_ACCEPTED) {
            answered++;
            keyset_add(accepted, r.key);
        } else if (r.kind == NLPD_REPLY_REFUSED) {
            answered++;
            if (strcmp(r.code, "busy") != 0)
                fail_msg("refused: %s %s", r.code, r.message);
            assert_true(r.corr >= 1 && r.corr <= (uint64_t)n_docs && n_resend < n_docs);
            resend[n_resend++] = (int)(r.corr - 1);
            nlpd_e2e_sleep_ms(2); /* the daemon is full: give it a moment */
        }
    }
    free(resend);
    assert_true(accepted->n >= stop_after);
    return sent;
}

static int read_store_errors(nlpd_e2e *e, keyset *out, int *dups, int *errors);

/* Reads the whole result store from cursor 0: each key it hands out goes
 * to `out`, the extra appearances of a key are counted in *dups and the
 * results whose status is not "ok" in *errors (may be NULL). Returns the
 * number of results read. */
static int
read_store(nlpd_e2e *e, keyset *out, int *dups)
{
    return read_store_errors(e, out, dups, NULL);
}

static int
read_store_errors(nlpd_e2e *e, keyset *out, int *dups, int *errors)
{
    unsigned long long after = 0;
    int total = 0;
    for (;;) {
        char req[64], *reply = NULL;
        snprintf(req, sizeof(req), "RESULTS %llu 500", after);
        int rc = nlpd_control_call(e->rundir, NULL, req, 5000, &reply);
        if (rc != 0) {
            nlpd_e2e_dump_log(e);
            fail_msg("RESULTS: %s %s", nlpd_strerror(rc), reply ? reply : "");
        }
        int got = 0;
        for (char *line = reply, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
            *nl = '\0';
            json_error_t jerr;
            json_t *o = json_loads(line, 0, &jerr);
            assert_non_null(o);
            unsigned long long c = (unsigned long long)json_integer_value(json_object_get(o, "cursor"));
            const char *key = json_string_value(json_object_get(o, "key"));
            json_t *doc = json_object_get(o, "document");
            assert_true(c > after);
            assert_non_null(key);
            assert_non_null(doc);
            assert_string_equal(json_string_value(json_object_get(doc, "key")), key);
            after = c;
            keyset_add(out, key);
            if (errors != NULL && strcmp(json_string_value(json_object_get(o, "status")), "ok") != 0)
                (*errors)++;
            json_decref(o);
            got++;
        }
        nlpd_free(reply);
        total += got;
        if (got == 0) {
            *dups = keyset_dups(out);
            return total;
        }
    }
}

static int
journal_replayed(nlpd_e2e *e)
{
    json_t *st = nlpd_e2e_status(e);
    assert_non_null(st);
    int n = (int)json_integer_value(json_object_get(json_object_get(st, "journal"), "replayed"));
    json_decref(st);
    return n;
}

static int
journal_pending(nlpd_e2e *e)
{
    json_t *st = nlpd_e2e_status(e);
    assert_non_null(st);
    int n = (int)json_integer_value(json_object_get(json_object_get(st, "journal"), "pending"));
    json_decref(st);
    return n;
}

/* SIGKILL mid-stream, restart on the same state dir: every accepted
 * document comes out, none twice. */
static void
crash_and_recover(const char *sync)
{
    nlpd_e2e e;
    char daemon_keys[128];
    snprintf(daemon_keys, sizeof(daemon_keys), "journal_sync = %s\ngroup_commit_ms = 5", sync);
    /* 2 workers x 20 ms a document: 400 documents take 4 s; the kill comes
     * once 300 are accepted, a fraction of a second in. */
    char *conf = nlpd_e2e_pt_config("--sleep-ms 20", daemon_keys, "replicas = 2");
    nlpd_e2e_start(&e, conf);
    free(conf);

    keyset *accepted = keyset_new();
    int sent = stream(&e, 400, 300, accepted);
    nlpd_e2e_crash(&e);

    nlpd_e2e_restart(&e);
    /* The documents not done before the kill run again. */
    assert_true(journal_replayed(&e) > 0);
    uint64_t deadline = nlpd_e2e_now_ms() + 40000;
    while (journal_pending(&e) > 0 && nlpd_e2e_now_ms() < deadline)
        nlpd_e2e_sleep_ms(100);
    assert_int_equal(journal_pending(&e), 0);

    keyset *store = keyset_new();
    int dups = 0;
    int results = read_store(&e, store, &dups);
    int missing = 0;
    for (int i = 0; i < accepted->n; i++) {
        if (!keyset_has(store, accepted->keys[i])) {
            fprintf(stderr, "# missing: %s\n", accepted->keys[i]);
            missing++;
        }
    }
    fprintf(stderr,
            "# sync=%s sent=%d accepted=%d stored=%d replayed=%d duplicated=%d lost=%d\n", sync,
            sent, accepted->n, results, journal_replayed(&e), dups, missing);
    assert_int_equal(missing, 0);
    assert_int_equal(dups, 0);
    /* What was sent and not yet answered may have been recorded too, but
     * nothing else. */
    assert_true(results >= accepted->n && results <= sent);
    keyset_free(accepted);
    keyset_free(store);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_journal_e2e_sigkill_loses_nothing_group_commit(void **state)
{
    (void)state;
    crash_and_recover("group");
}

static void
test_journal_e2e_sigkill_loses_nothing_full_sync(void **state)
{
    (void)state;
    crash_and_recover("full");
}

/* A clean stop (SIGTERM, or the control socket's DRAIN as `nlpctl drain`
 * sends it) with documents still in the pipeline leaves them pending; the
 * next start stores their results, and `get` finds each. */
static void
drain_and_recover(int by_request)
{
    nlpd_e2e e;
    char *conf = nlpd_e2e_pt_config("--sleep-ms 400", "drain_timeout_ms = 100", "replicas = 2");
    nlpd_e2e_start(&e, conf);
    free(conf);
    keyset *accepted = keyset_new();
    stream(&e, 20, 20, accepted);
    /* The drain gives up after 100 ms with most still in hand. */
    if (by_request) {
        char *reply = NULL;
        int rc = nlpd_control_call(e.rundir, NULL, "DRAIN", 5000, &reply);
        if (rc != 0)
            fail_msg("DRAIN: %s", reply ? reply : nlpd_strerror(rc));
        assert_non_null(strstr(reply, "\"drain\":\"started\""));
        nlpd_free(reply);
    } else {
        nlpd_e2e_signal(&e, SIGTERM);
    }
    int status = 0;
    uint64_t deadline = nlpd_e2e_now_ms() + 30000;
    pid_t r;
    while ((r = waitpid(e.pid, &status, WNOHANG)) == 0 && nlpd_e2e_now_ms() < deadline)
        nlpd_e2e_sleep_ms(20);
    assert_int_equal(r, e.pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    nlpd_client_close(&e.client);
    e.pid = 0;
    nlpd_e2e_restart(&e);
    assert_true(journal_replayed(&e) > 0);
    deadline = nlpd_e2e_now_ms() + 30000;
    while (journal_pending(&e) > 0 && nlpd_e2e_now_ms() < deadline)
        nlpd_e2e_sleep_ms(100);
    for (int i = 0; i < accepted->n; i++) {
        char req[64], *reply = NULL;
        snprintf(req, sizeof(req), "GET %.40s", accepted->keys[i]);
        int rc = nlpd_control_call(e.rundir, NULL, req, 5000, &reply);
        if (rc != 0)
            fail_msg("GET %s: %s", accepted->keys[i], reply ? reply : nlpd_strerror(rc));
        json_t *doc = json_loads(reply, 0, NULL);
        assert_non_null(doc);
        /* The stored result is the finished one, not the shutdown notice. */
        assert_int_equal(nlpd_e2e_error_count(doc, "shutdown"), 0);
        assert_string_equal(json_string_value(json_object_get(doc, "key")), accepted->keys[i]);
        json_decref(doc);
        nlpd_free(reply);
    }
    keyset_free(accepted);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_journal_e2e_drain_deadline_leaves_documents_for_the_next_start(void **state)
{
    (void)state;
    drain_and_recover(0);
}

static void
test_journal_e2e_drain_request_leaves_documents_for_the_next_start(void **state)
{
    (void)state;
    drain_and_recover(1);
}

/* Submits one JSON line; returns the refusal code ("" when accepted). */
static void
submit_expect(nlpd_e2e *e, const char *payload, size_t len, char code[32], char msg[512])
{
    nlpd_reply ack;
    char *res = nlpd_e2e_submit(e, "json", payload, len, &ack, NULL, NULL, 20000);
    free(res);
    if (ack.kind == NLPD_REPLY_ACCEPTED) {
        code[0] = '\0';
        msg[0] = '\0';
    } else {
        snprintf(code, 32, "%s", ack.code);
        snprintf(msg, 512, "%s", ack.message);
    }
}

/* The journal's file may not grow past 1 MiB: a 3 MB document cannot be
 * recorded, so it is refused (code "journal", the reason given); a small
 * one still goes through, and the daemon lives on. */
static void
test_journal_e2e_full_disk_refuses_instead_of_accepting(void **state)
{
    (void)state;
    nlpd_e2e e;
    char *conf = nlpd_e2e_pt_config("", NULL, "replicas = 2");
    nlpd_e2e_start_limited(&e, conf, 1l << 20);
    free(conf);
    size_t big_len = 3u << 20;
    char *big = malloc(big_len + 64);
    int n = snprintf(big, 64, "{\"id\":\"big\",\"text\":\"");
    memset(big + n, 'a', big_len);
    memcpy(big + n + big_len, "\"}", 3);
    char code[32], msg[512];
    submit_expect(&e, big, (size_t)n + big_len + 2, code, msg);
    free(big);
    assert_string_equal(code, "journal");
    assert_non_null(strstr(msg, "File too large"));

    const char *small = "{\"id\":\"small\",\"text\":\"A small one. It fits.\"}";
    json_t *res = nlpd_e2e_annotate(&e, small, code);
    if (res == NULL) {
        nlpd_e2e_dump_log(&e);
        fail_msg("the small document was refused: %s", code);
    }
    assert_string_equal(json_string_value(json_object_get(res, "id")), "small");
    json_decref(res);
    json_t *st = nlpd_e2e_status(&e);
    assert_true(json_integer_value(json_object_get(json_object_get(st, "journal"), "errors")) >=
                1);
    json_decref(st);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* A state dir where no journal can be made: the daemon runs and refuses
 * every document with the reason, instead of accepting it unrecorded. */
static void
test_journal_e2e_unusable_state_dir_refuses_with_the_reason(void **state)
{
    (void)state;
    nlpd_e2e e;
    char *conf = nlpd_e2e_pt_config("", NULL, "replicas = 2");
    nlpd_e2e_start(&e, conf);
    free(conf);
    nlpd_e2e_crash(&e);
    nlpd_test_rmtree(e.statedir);
    if (geteuid() == 0) {
        /* root writes through mode bits: a file where the dir should be. */
        FILE *f = fopen(e.statedir, "w");
        assert_non_null(f);
        fclose(f);
    } else {
        assert_int_equal(mkdir(e.statedir, 0500), 0);
    }
    nlpd_e2e_restart(&e);
    char code[32], msg[512];
    const char *doc = "{\"id\":\"x\",\"text\":\"Not to be lost.\"}";
    submit_expect(&e, doc, strlen(doc), code, msg);
    assert_string_equal(code, "journal");
    assert_non_null(strstr(msg, "journal is not open"));
    assert_non_null(strstr(msg, e.statedir));
    json_t *st = nlpd_e2e_status(&e);
    assert_string_not_equal(
        json_string_value(json_object_get(json_object_get(st, "journal"), "error")), "");
    json_decref(st);
    chmod(e.statedir, 0700);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static json_int_t
stage_count(nlpd_e2e *e, const char *stage, const char *what)
{
    json_t *st = nlpd_e2e_status(e);
    assert_non_null(st);
    json_int_t n = json_integer_value(json_object_get(nlpd_e2e_stage(st, stage), what));
    json_decref(st);
    return n;
}

/* Waits until the journal's dead letters hold `n` and pt crashed `crashes`
 * times. */
static int
wait_dead(nlpd_e2e *e, json_int_t n, json_int_t crashes)
{
    uint64_t deadline = nlpd_e2e_now_ms() + 20000;
    while (nlpd_e2e_now_ms() < deadline) {
        if (nlpd_e2e_journal_count(e, "dead_letters") == n &&
            stage_count(e, "pt", "crashes") == crashes)
            return 1;
        nlpd_e2e_sleep_ms(50);
    }
    return 0;
}

/* A document that crashes its stage every time: tried max_attempts times,
 * then a dead letter; the stream goes on; retry puts it back. */
static void
test_journal_e2e_poison_document_becomes_a_dead_letter(void **state)
{
    (void)state;
    nlpd_e2e e;
    char *conf = nlpd_e2e_pt_config("--crash-on POISON",
                                    "max_attempts = 3\n"
                                    "restart_backoff_min_ms = 20ms\n"
                                    "restart_backoff_max_ms = 200ms",
                                    "replicas = 2");
    nlpd_e2e_start(&e, conf);
    free(conf);
    json_t *r = nlpd_e2e_annotate(&e, "{\"id\":\"p\",\"text\":\"This is POISON.\"}", NULL);
    assert_non_null(r);
    assert_int_equal(nlpd_e2e_error_count(r, "crashed"), 1);
    const char *key = json_string_value(json_object_get(r, "key"));
    assert_non_null(key);
    char pkey[64];
    snprintf(pkey, sizeof(pkey), "%s", key);
    json_t *err = json_array_get(json_object_get(r, "errors"), 0);
    assert_non_null(strstr(json_string_value(json_object_get(err, "message")), "dead letter"));
    assert_true(json_is_true(json_object_get(err, "fatal")));
    json_decref(r);
    assert_int_equal(stage_count(&e, "pt", "crashes"), 3);
    assert_true(wait_dead(&e, 1, 3));

    /* The rest of the stream flows. */
    for (int i = 0; i < 20; i++) {
        r = nlpd_e2e_annotate(&e, "{\"id\":\"ok\",\"text\":\"Fine. Really.\"}", NULL);
        assert_non_null(r);
        assert_null(json_object_get(r, "errors"));
        json_decref(r);
    }

    char *reply = NULL;
    assert_int_equal(nlpd_control_call(e.rundir, NULL, "DEADLETTERS", 5000, &reply), 0);
    json_t *dl = json_loads(reply, 0, NULL);
    nlpd_free(reply);
    assert_int_equal(json_array_size(dl), 1);
    json_t *d0 = json_array_get(dl, 0);
    assert_string_equal(json_string_value(json_object_get(d0, "key")), pkey);
    assert_string_equal(json_string_value(json_object_get(d0, "stage")), "pt");
    assert_int_equal(json_integer_value(json_object_get(d0, "attempts")), 3);
    assert_true(strncmp(json_string_value(json_object_get(d0, "error")), "crashed:", 8) == 0);
    json_int_t id = json_integer_value(json_object_get(d0, "id"));
    json_decref(dl);

    char req[64];
    snprintf(req, sizeof(req), "GET %.40s", pkey);
    assert_int_equal(nlpd_control_call(e.rundir, NULL, req, 5000, &reply), NLPD_EINVAL);
    assert_non_null(strstr(reply, "dead letters"));
    nlpd_free(reply);

    /* Retried: it runs again (three more crashes) and is a dead letter
     * again, under a new id. */
    snprintf(req, sizeof(req), "RETRY %lld", (long long)id);
    assert_int_equal(nlpd_control_call(e.rundir, NULL, req, 5000, &reply), 0);
    assert_non_null(strstr(reply, pkey));
    nlpd_free(reply);
    assert_true(wait_dead(&e, 1, 6));
    assert_int_equal(nlpd_control_call(e.rundir, NULL, "DEADLETTERS", 5000, &reply), 0);
    dl = json_loads(reply, 0, NULL);
    nlpd_free(reply);
    assert_int_not_equal(json_integer_value(json_object_get(json_array_get(dl, 0), "id")), id);
    json_decref(dl);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* A worker killed from outside is not the document's fault: the document
 * in its hands runs again and comes out clean. */
static void
test_journal_e2e_worker_killed_from_outside_costs_the_document_nothing(void **state)
{
    (void)state;
    nlpd_e2e e;
    char *conf = nlpd_e2e_pt_config("--sleep-ms 1500", "max_attempts = 3", "replicas = 2");
    nlpd_e2e_start(&e, conf);
    free(conf);
    const char *l1 = "{\"id\":\"in-hand\",\"text\":\"First.\"}";
    assert_int_equal(nlpd_client_submit(e.client, 7, "json wait reply=json", l1, strlen(l1), 5000),
                     0);
    /* Find the worker holding it. */
    int pid = 0;
    uint64_t deadline = nlpd_e2e_now_ms() + 5000;
    while (pid == 0 && nlpd_e2e_now_ms() < deadline) {
        json_t *st = nlpd_e2e_status(&e);
        json_t *ws = json_object_get(nlpd_e2e_stage(st, "pt"), "workers");
        for (size_t i = 0; i < json_array_size(ws); i++) {
            json_t *w = json_array_get(ws, i);
            if (json_integer_value(json_object_get(w, "held")) > 0)
                pid = (int)json_integer_value(json_object_get(w, "pid"));
        }
        json_decref(st);
        if (pid == 0)
            nlpd_e2e_sleep_ms(20);
    }
    assert_true(pid > 0);
    nlpd_e2e_sleep_ms(300);
    kill(pid, SIGKILL);
    nlpd_reply r;
    do {
        assert_int_equal(nlpd_client_recv(e.client, &r, 30000), 0);
    } while (r.kind != NLPD_REPLY_RESULT);
    assert_int_equal(r.error, 0);
    json_t *j = json_loadb(r.payload, r.payload_len, 0, NULL);
    assert_int_equal(nlpd_e2e_error_count(j, "crashed"), 0);
    assert_string_equal(nlpd_e2e_trace(j), "ingest pt");
    json_decref(j);
    assert_int_equal(nlpd_e2e_journal_count(&e, "dead_letters"), 0);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

/* 2,000 documents stream in while a random worker is SIGKILLed every
 * 250 ms: each accepted document's result is stored exactly once, clean,
 * and none is a dead letter. NLPD_CHAOS_DOCS=100000 makes it the soak run
 * (README: Durability). */
static void
test_journal_e2e_chaos_every_document_exactly_once(void **state)
{
    (void)state;
    nlpd_e2e e;
    char *conf = nlpd_e2e_pt_config("--sleep-ms 2",
                                    "max_attempts = 3\n"
                                    "restart_backoff_min_ms = 20ms\n"
                                    "restart_backoff_max_ms = 200ms\n"
                                    "[stage ingest]\nreplicas = 2",
                                    "replicas = 2");
    nlpd_e2e_start(&e, conf);
    free(conf);
    srand(6);
    chaos_on = 1;
    chaos_kills = 0;
    chaos_next = nlpd_e2e_now_ms() + CHAOS_EVERY_MS;
    int n_docs = 2000;
    const char *env = getenv("NLPD_CHAOS_DOCS");
    if (env != NULL && atoi(env) > 0)
        n_docs = atoi(env);
    keyset *accepted = keyset_new();
    int sent = stream(&e, n_docs, n_docs, accepted);
    uint64_t deadline = nlpd_e2e_now_ms() + 50000 + (uint64_t)n_docs * 10u;
    while (journal_pending(&e) > 0 && nlpd_e2e_now_ms() < deadline) {
        chaos_tick(&e, nlpd_e2e_now_ms());
        nlpd_e2e_sleep_ms(20);
    }
    chaos_on = 0;
    assert_int_equal(journal_pending(&e), 0);
    keyset *store = keyset_new();
    int dups = 0, errors = 0;
    int results = read_store_errors(&e, store, &dups, &errors);
    int missing = 0;
    for (int i = 0; i < accepted->n; i++) {
        if (!keyset_has(store, accepted->keys[i]))
            missing++;
    }
    json_int_t dead = nlpd_e2e_journal_count(&e, "dead_letters");
    fprintf(stderr,
            "# chaos: kills=%d sent=%d accepted=%d delivered=%d duplicated=%d lost=%d "
            "with_errors=%d dead_letters=%lld\n",
            chaos_kills, sent, accepted->n, results, dups, missing, errors, (long long)dead);
    assert_true(chaos_kills >= 4);
    assert_int_equal(accepted->n, n_docs);
    assert_int_equal(results, n_docs);
    assert_int_equal(missing, 0);
    assert_int_equal(dups, 0);
    assert_int_equal(errors, 0);
    assert_int_equal(dead, 0);
    keyset_free(accepted);
    keyset_free(store);
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_journal_e2e_sigkill_loses_nothing_group_commit,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_journal_e2e_sigkill_loses_nothing_full_sync,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(
            test_journal_e2e_drain_deadline_leaves_documents_for_the_next_start,
            nlpd_e2e_teardown),
        cmocka_unit_test_teardown(
            test_journal_e2e_drain_request_leaves_documents_for_the_next_start,
            nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_journal_e2e_full_disk_refuses_instead_of_accepting,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_journal_e2e_unusable_state_dir_refuses_with_the_reason,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_journal_e2e_poison_document_becomes_a_dead_letter,
                                  nlpd_e2e_teardown),
        cmocka_unit_test_teardown(
            test_journal_e2e_worker_killed_from_outside_costs_the_document_nothing,
            nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_journal_e2e_chaos_every_document_exactly_once,
                                  nlpd_e2e_teardown),
    };
    return cmocka_run_group_tests_name("journal_e2e", tests, NULL, NULL);
}
