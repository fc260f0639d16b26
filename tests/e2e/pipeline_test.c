/* tests/e2e/pipeline_test.c — the daemon end to end: real processes, real sockets.
 *
 * Each test starts nlpd in a temp dir with a pipeline of the built-in
 * ingest stage and pass-through stages (which can be told to sleep, crash
 * or fail on a marker word), sends documents over the front door and
 * asserts on what comes back, on STATUS, and on a clean exit.
 */
#include "e2e.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nlpd/alloc.h"
#include "nlpd/json.h"
#include "nlpd/nlpd.pb-c.h"

#include <zmq.h>

extern char **environ;

static void
start_with(nlpd_e2e *e, const char *pt_args, const char *extra_daemon, const char *extra_stage)
{
    char *c = nlpd_e2e_pt_config(pt_args, extra_daemon, extra_stage);
    nlpd_e2e_start(e, c);
    free(c);
}

static void
stop_clean(nlpd_e2e *e)
{
    assert_int_equal(nlpd_e2e_stop(e), 0);
}

/* --- The happy path ------------------------------------------------------- */

static void
test_pipeline_annotates_a_feed_article_with_offsets_into_the_text_as_sent(void **state)
{
    (void)state;
    nlpd_e2e e;
    nlpd_e2e_start(&e, NULL); /* the built-in default pipeline */
    size_t len;
    char *article = nlpd_test_fixture("ingest/feed-article.txt", &len);
    char refused[32] = "";
    json_t *r = nlpd_e2e_annotate_bytes(&e, article, len, refused);
    assert_non_null(r);
    /* The text comes back exactly as sent. */
    const char *text = json_string_value(json_object_get(r, "text"));
    assert_non_null(text);
    assert_int_equal(json_string_length(json_object_get(r, "text")), len);
    assert_memory_equal(text, article, len);
    assert_string_equal(json_string_value(json_object_get(r, "format")), "feed");
    /* Regions index the text as sent: the headline region holds the title. */
    const char *title = json_string_value(json_object_get(r, "title"));
    assert_non_null(title);
    json_t *regions = json_object_get(r, "regions");
    assert_true(json_array_size(regions) >= 5);
    size_t i;
    json_t *reg;
    int headlines = 0, separators = 0, sources = 0;
    json_array_foreach(regions, i, reg)
    {
        const char *kind = json_string_value(json_object_get(reg, "kind"));
        size_t s = (size_t)json_integer_value(json_object_get(reg, "start"));
        size_t en = (size_t)json_integer_value(json_object_get(reg, "end"));
        assert_true(s <= en && en <= len);
        if (strcmp(kind, "headline") == 0) {
            headlines++;
            assert_int_equal(en - s, strlen(title));
            assert_memory_equal(article + s, title, en - s);
        } else if (strcmp(kind, "separator") == 0) {
            separators++;
            assert_non_null(memchr(article + s, '|', en - s));
        } else if (strcmp(kind, "source_line") == 0) {
            sources++;
        }
    }
    assert_int_equal(headlines, 2);
    assert_int_equal(separators, 1);
    assert_int_equal(sources, 1);
    /* The default pipeline is the standard one (split_e2e_test checks
     * what the split stage adds). */
    assert_string_equal(nlpd_e2e_trace(r), "ingest split tag summarize");
    assert_null(json_object_get(r, "errors"));
    json_decref(r);
    free(article);
    stop_clean(&e);
}

static void
test_pipeline_carries_options_and_metadata_to_the_stages(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, NULL, NULL, NULL);
    const char *line = "{\"id\":\"opt-1\",\"title\":\"T\",\"text\":\"One. Two. Three.\","
                       "\"options\":{\"summary_sentences\":2,\"my_option\":{\"a\":[1,2]}},"
                       "\"metadata\":{\"feed\":\"wire\"}}";
    nlpd_reply ack;
    size_t len;
    int err;
    char *res = nlpd_e2e_submit(&e, "json wait", line, strlen(line), &ack, &len, &err, 30000);
    assert_int_equal(ack.kind, NLPD_REPLY_ACCEPTED);
    assert_int_equal(strlen(ack.key), 26);
    assert_non_null(res);
    Nlpd__V1__Document *d = nlpd__v1__document__unpack(NULL, len, (uint8_t *)res);
    assert_non_null(d);
    assert_string_equal(d->key, ack.key);
    assert_string_equal(d->id, "opt-1");
    assert_non_null(d->options);
    assert_int_equal(d->options->summary_sentences, 2);
    assert_int_equal(d->options->n_extra, 1);
    assert_string_equal(d->options->extra[0]->key, "my_option");
    assert_string_equal(d->options->extra[0]->value, "{\"a\":[1,2]}");
    assert_int_equal(d->n_metadata, 1);
    assert_string_equal(d->metadata[0]->value, "wire");
    assert_true(d->received_unix_us > 0);
    assert_int_equal(d->n_trace, 2);
    assert_string_equal(d->trace[0]->stage, "ingest");
    assert_string_equal(d->trace[1]->stage, "pt");
    nlpd__v1__document__free_unpacked(d, NULL);
    free(res);
    stop_clean(&e);
}

/* An encoded field 999 (length-delimited "future") appended to a Document:
 * no stage knows it, all must pass it on. */
static void
test_pipeline_keeps_fields_no_stage_knows(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, NULL, NULL, NULL);
    nlpd_submission s;
    memset(&s, 0, sizeof(s));
    s.text = "Unknown fields must survive.";
    s.text_len = strlen(s.text);
    uint8_t *pb;
    size_t pb_len;
    assert_int_equal(nlpd_submission_encode(&s, &pb, &pb_len), 0);
    const uint8_t future[] = {0xba, 0x3e, 0x06, 'f', 'u', 't', 'u', 'r', 'e'}; /* 999, LEN */
    uint8_t *buf = malloc(pb_len + sizeof(future));
    memcpy(buf, pb, pb_len);
    memcpy(buf + pb_len, future, sizeof(future));
    nlpd_reply ack;
    size_t len;
    int err;
    char *res =
        nlpd_e2e_submit(&e, "pb wait", buf, pb_len + sizeof(future), &ack, &len, &err, 30000);
    assert_non_null(res);
    assert_non_null(memmem(res, len, future, sizeof(future)));
    Nlpd__V1__Document *d = nlpd__v1__document__unpack(NULL, len, (uint8_t *)res);
    assert_non_null(d);
    assert_int_equal(d->base.n_unknown_fields, 1);
    assert_int_equal(d->n_trace, 2); /* it really went through both stages */
    nlpd__v1__document__free_unpacked(d, NULL);
    free(res);
    free(buf);
    nlpd_free(pb);
    stop_clean(&e);
}

static int
stage_names(json_t *s, void *arg)
{
    (void)arg;
    return nlpd_e2e_stage(s, "ingest") != NULL && nlpd_e2e_stage(s, "pt") != NULL;
}

static void
test_pipeline_runs_only_the_stages_a_document_asks_for(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, NULL, NULL, NULL);
    assert_true(nlpd_e2e_wait_status(&e, stage_names, NULL, 1000));
    json_t *r = nlpd_e2e_annotate(
        &e, "{\"id\":\"s\",\"text\":\"Only ingest.\",\"options\":{\"stages\":[\"ingest\"]}}", NULL);
    assert_non_null(r);
    assert_string_equal(nlpd_e2e_trace(r), "ingest");
    json_decref(r);
    /* Ingest always runs: asking for pt alone still ingests. */
    r = nlpd_e2e_annotate(&e, "{\"id\":\"s\",\"text\":\"Pt.\",\"options\":{\"stages\":[\"pt\"]}}",
                          NULL);
    assert_non_null(r);
    assert_string_equal(nlpd_e2e_trace(r), "ingest pt");
    json_decref(r);
    char refused[32] = "";
    r = nlpd_e2e_annotate(&e, "{\"id\":\"s\",\"text\":\"x\",\"options\":{\"stages\":[\"nope\"]}}",
                          refused);
    assert_null(r);
    assert_string_equal(refused, "bad_request");
    stop_clean(&e);
}

/* --- Bad input ------------------------------------------------------------ */

static void
test_pipeline_answers_bad_submissions_with_clear_refusals(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, NULL, "max_document_bytes = 64K", NULL);
    char refused[32] = "";
    /* Not JSON, not an object, no text. */
    assert_null(nlpd_e2e_annotate(&e, "{\"id\": 1, \"text\": ", refused));
    assert_string_equal(refused, "malformed");
    assert_null(nlpd_e2e_annotate(&e, "[1,2,3]", refused));
    assert_string_equal(refused, "malformed");
    assert_null(nlpd_e2e_annotate(&e, "{\"id\":\"x\"}", refused));
    assert_string_equal(refused, "malformed");
    /* Not a protobuf Document; a truncated one. */
    nlpd_reply ack;
    const char junk[] = "\xff\xff\xff\xff\x0f garbage";
    assert_null(nlpd_e2e_submit(&e, "pb wait", junk, sizeof(junk), &ack, NULL, NULL, 10000));
    assert_int_equal(ack.kind, NLPD_REPLY_REFUSED);
    assert_string_equal(ack.code, "malformed");
    nlpd_submission s;
    memset(&s, 0, sizeof(s));
    s.text = "A perfectly good document.";
    s.text_len = strlen(s.text);
    uint8_t *pb;
    size_t pb_len;
    assert_int_equal(nlpd_submission_encode(&s, &pb, &pb_len), 0);
    assert_null(nlpd_e2e_submit(&e, "pb wait", pb, pb_len - 3, &ack, NULL, NULL, 10000));
    assert_string_equal(ack.code, "malformed");
    /* A title that is not UTF-8 (protobuf-c would pass it; Python would not). */
    Nlpd__V1__Document d = NLPD__V1__DOCUMENT__INIT;
    d.title = (char *)"bad \xc3\x28 title";
    uint8_t buf[128];
    size_t n = nlpd__v1__document__pack(&d, buf);
    assert_null(nlpd_e2e_submit(&e, "pb wait", buf, n, &ack, NULL, NULL, 10000));
    assert_string_equal(ack.code, "malformed");
    /* Unknown flag. */
    assert_null(nlpd_e2e_submit(&e, "pb sideways", pb, pb_len, &ack, NULL, NULL, 10000));
    assert_string_equal(ack.code, "bad_request");
    /* Over the configured limit. */
    size_t big = 100 * 1024;
    char *text = malloc(big);
    memset(text, 'a', big);
    s.text = text;
    s.text_len = big;
    uint8_t *bigpb;
    size_t bigpb_len;
    assert_int_equal(nlpd_submission_encode(&s, &bigpb, &bigpb_len), 0);
    assert_null(nlpd_e2e_submit(&e, "pb wait", bigpb, bigpb_len, &ack, NULL, NULL, 10000));
    assert_string_equal(ack.code, "too_large");
    assert_non_null(strstr(ack.message, "max_document_bytes"));
    /* After all that, a good document still goes through. */
    size_t len;
    int err;
    char *res = nlpd_e2e_submit(&e, "pb wait", pb, pb_len, &ack, &len, &err, 30000);
    assert_non_null(res);
    assert_int_equal(err, 0);
    free(res);
    nlpd_free(bigpb);
    nlpd_free(pb);
    free(text);
    json_t *st = nlpd_e2e_status(&e);
    assert_int_equal(json_integer_value(json_object_get(st, "refused")), 8);
    json_decref(st);
    stop_clean(&e);
}

static void
test_pipeline_processes_hostile_text_without_losing_a_worker(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, NULL, NULL, NULL);
    int pid = nlpd_e2e_worker_pid(&e, "ingest", 0);
    assert_true(pid > 0);
    char refused[32];

    /* Empty text: processed, with a clear "empty" record. */
    json_t *r = nlpd_e2e_annotate_bytes(&e, "", 0, refused);
    assert_non_null(r);
    assert_int_equal(nlpd_e2e_error_count(r, "empty"), 1);
    json_decref(r);

    /* Invalid UTF-8 and NUL bytes: replaced and counted; offsets still
     * index the bytes as sent. */
    const char bad[] = "Caf\xc3 au lait.\x00 Done \xff\xfe.";
    r = nlpd_e2e_annotate_bytes(&e, bad, sizeof(bad) - 1, refused);
    assert_non_null(r);
    json_t *ing = json_object_get(r, "ingest");
    assert_true(json_integer_value(json_object_get(ing, "invalid_utf8")) >= 2);
    assert_int_equal(json_integer_value(json_object_get(ing, "controls_removed")), 1);
    assert_true(json_is_true(json_object_get(r, "text_lossy")));
    json_decref(r);

    /* Binary junk. */
    unsigned seed = 12345;
    for (int k = 0; k < 20; k++) {
        char junk[2048];
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (char)(rand_r(&seed) & 0xff);
        r = nlpd_e2e_annotate_bytes(&e, junk, sizeof(junk), refused);
        assert_non_null(r);
        assert_string_equal(nlpd_e2e_trace(r), "ingest pt");
        json_decref(r);
    }
    /* The same worker did all of it. */
    assert_int_equal(nlpd_e2e_worker_pid(&e, "ingest", 0), pid);
    stop_clean(&e);
}

static void
test_pipeline_refuses_50MB_over_the_limit_and_processes_it_under(void **state)
{
    (void)state;
    size_t big = 50u * 1024 * 1024;
    char *text = malloc(big);
    /* Paragraphs of words: a realistic large text, not one run. */
    for (size_t i = 0; i < big; i++)
        text[i] = (i % 1000 >= 998) ? '\n' : (i % 7 == 6 ? ' ' : (char)('a' + i % 26));
    nlpd_submission s;
    memset(&s, 0, sizeof(s));
    s.text = text;
    s.text_len = big;
    uint8_t *pb;
    size_t pb_len;
    assert_int_equal(nlpd_submission_encode(&s, &pb, &pb_len), 0);
    nlpd_reply ack;
    size_t len;
    int err;

    nlpd_e2e e;
    start_with(&e, NULL, "max_document_bytes = 32M", NULL);
    assert_null(nlpd_e2e_submit(&e, "pb wait", pb, pb_len, &ack, NULL, NULL, 60000));
    assert_int_equal(ack.kind, NLPD_REPLY_REFUSED);
    assert_string_equal(ack.code, "too_large");
    stop_clean(&e);

    start_with(&e, NULL, "max_document_bytes = 64M", NULL);
    char *res = nlpd_e2e_submit(&e, "pb wait", pb, pb_len, &ack, &len, &err, 120000);
    assert_non_null(res);
    Nlpd__V1__Document *d = nlpd__v1__document__unpack(NULL, len, (uint8_t *)res);
    assert_non_null(d);
    assert_int_equal(d->text.len, big);
    assert_true(d->n_regions > 1000);
    nlpd__v1__document__free_unpacked(d, NULL);
    free(res);
    stop_clean(&e);
    nlpd_free(pb);
    free(text);
}

static void
test_pipeline_survives_clients_that_vanish_and_junk_on_every_socket(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, "--sleep-ms 200", NULL, NULL);
    void *ctx = zmq_ctx_new();
    char ep[700];
    /* A client that submits, asks to wait, and disappears. */
    for (int k = 0; k < 5; k++) {
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        snprintf(ep, sizeof(ep), "ipc://%s/front", e.rundir);
        zmq_connect(s, ep);
        const char *line = "{\"text\":\"Gone before the answer.\"}";
        zmq_send(s, "SUBMIT", 6, ZMQ_SNDMORE);
        zmq_send(s, "corr", 4, ZMQ_SNDMORE);
        zmq_send(s, "json wait", 9, ZMQ_SNDMORE);
        zmq_send(s, line, strlen(line), 0);
        /* Junk frames too. */
        zmq_send(s, "\x00\x01\x02", 3, ZMQ_SNDMORE);
        zmq_send(s, "", 0, 0);
        zmq_send(s, "SUBMIT", 6, 0);
        int linger = 100;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_close(s);
    }
    /* Junk on the stage socket and the heartbeat socket (as a worker). */
    void *w = zmq_socket(ctx, ZMQ_DEALER);
    snprintf(ep, sizeof(ep), "ipc://%s/hops/pt", e.rundir);
    zmq_connect(w, ep);
    zmq_send(w, "DONE", 4, ZMQ_SNDMORE);
    zmq_send(w, "nokey", 5, ZMQ_SNDMORE);
    zmq_send(w, "ok", 2, ZMQ_SNDMORE);
    zmq_send(w, "zzz", 3, 0);
    zmq_send(w, "HELLO", 5, ZMQ_SNDMORE);
    zmq_send(w, "\xff\xff\xff", 3, 0);
    zmq_send(w, "\x01", 1, 0);
    void *hb = zmq_socket(ctx, ZMQ_PUSH);
    snprintf(ep, sizeof(ep), "ipc://%s/hops/heartbeat", e.rundir);
    zmq_connect(hb, ep);
    zmq_send(hb, "HEARTBEAT", 9, ZMQ_SNDMORE);
    zmq_send(hb, "\xff\x01\x02", 3, 0);
    zmq_send(hb, "garbage", 7, 0);
    /* The control socket. */
    void *c = zmq_socket(ctx, ZMQ_DEALER);
    snprintf(ep, sizeof(ep), "ipc://%s/control", e.rundir);
    zmq_connect(c, ep);
    zmq_send(c, "FLY", 3, 0);
    char reply[256];
    int n = zmq_recv(c, reply, sizeof(reply), 0);
    assert_true(n >= 5);
    assert_memory_equal(reply, "ERROR", 5);
    nlpd_e2e_sleep_ms(300);
    int linger = 0;
    zmq_setsockopt(w, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(hb, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(w);
    zmq_close(hb);
    zmq_close(c);
    zmq_ctx_term(ctx);
    /* All of the abandoned documents were still processed, and the
     * pipeline still works. */
    json_t *r = nlpd_e2e_annotate(&e, "{\"id\":\"after\",\"text\":\"Still here.\"}", NULL);
    assert_non_null(r);
    assert_string_equal(nlpd_e2e_trace(r), "ingest pt");
    json_decref(r);
    json_t *st = nlpd_e2e_status(&e);
    assert_int_equal(json_integer_value(json_object_get(st, "completed")), 6);
    json_decref(st);
    stop_clean(&e);
}

/* --- Faults --------------------------------------------------------------- */

/* Waits up to 10 s for STATUS journal.dead_letters to be `n`. */
static int
wait_dead_letters(nlpd_e2e *e, json_int_t n)
{
    uint64_t deadline = nlpd_e2e_now_ms() + 10000;
    while (nlpd_e2e_now_ms() < deadline) {
        if (nlpd_e2e_journal_count(e, "dead_letters") == n)
            return 1;
        nlpd_e2e_sleep_ms(50);
    }
    return 0;
}

/* The daemon's DEADLETTERS list (a JSON array). */
static json_t *
dead_letters(nlpd_e2e *e)
{
    char *reply = NULL;
    assert_int_equal(nlpd_control_call(e->rundir, NULL, "DEADLETTERS", 5000, &reply), 0);
    json_t *dl = json_loads(reply, 0, NULL);
    nlpd_free(reply);
    assert_true(json_is_array(dl));
    return dl;
}

/* The one error record of a result that was given up on: `code`, fatal,
 * its message naming the dead letters. */
static void
assert_dead_letter_error(json_t *r, const char *code)
{
    assert_int_equal(nlpd_e2e_error_count(r, code), 1);
    json_t *err = json_array_get(json_object_get(r, "errors"), 0);
    assert_non_null(err);
    assert_true(json_is_true(json_object_get(err, "fatal")));
    assert_string_equal(json_string_value(json_object_get(err, "stage")), "pt");
    assert_non_null(strstr(json_string_value(json_object_get(err, "message")), "dead letter"));
}

/* A worker SIGKILLed from outside (an operator, the OOM killer) is not the
 * document's fault: with the default max_attempts the document in its
 * hands is run again by the replacement and comes out clean, and so does
 * the one queued behind it. */
static void
test_pipeline_restarts_a_killed_worker_and_redelivers_what_it_held(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, "--sleep-ms 1500", NULL, NULL);
    int pid = nlpd_e2e_worker_pid(&e, "pt", 0);
    assert_true(pid > 0);
    /* One document in the worker's hands, another waiting behind it. */
    const char *l1 = "{\"id\":\"in-hand\",\"text\":\"First.\"}";
    const char *l2 = "{\"id\":\"queued\",\"text\":\"Second.\"}";
    assert_int_equal(nlpd_client_submit(e.client, 101, "json wait reply=json", l1, strlen(l1), 5000), 0);
    assert_int_equal(nlpd_client_submit(e.client, 102, "json wait reply=json", l2, strlen(l2), 5000), 0);
    nlpd_e2e_sleep_ms(600);
    kill(pid, SIGKILL);
    int got = 0, clean = 0;
    char in_hand_key[32] = "";
    while (got < 2) {
        nlpd_reply r;
        assert_int_equal(nlpd_client_recv(e.client, &r, 30000), 0);
        if (r.kind != NLPD_REPLY_RESULT)
            continue;
        got++;
        json_t *j = json_loadb(r.payload, r.payload_len, 0, NULL);
        assert_non_null(j);
        assert_true(r.corr == 101 || r.corr == 102);
        /* Both come out whole, the one in hand included: no error record. */
        assert_int_equal(r.error, 0);
        assert_null(json_object_get(j, "errors"));
        assert_string_equal(nlpd_e2e_trace(j), "ingest pt");
        if (r.corr == 101)
            snprintf(in_hand_key, sizeof(in_hand_key), "%s",
                     json_string_value(json_object_get(j, "key")));
        clean++;
        json_decref(j);
    }
    assert_int_equal(clean, 2);
    assert_int_equal(strlen(in_hand_key), 26);
    /* The document in hand was run again, the kill not counted against it. */
    char needle[96];
    snprintf(needle, sizeof(needle), "doc=%s attempts=0 outside_kills=1 msg=\"retrying\"",
             in_hand_key);
    assert_int_equal(nlpd_e2e_log_count(&e, needle), 1);
    int pid2 = nlpd_e2e_worker_pid(&e, "pt", 0);
    assert_true(pid2 > 0 && pid2 != pid);
    json_t *st = nlpd_e2e_status(&e);
    json_t *pt = nlpd_e2e_stage(st, "pt");
    assert_int_equal(json_integer_value(json_object_get(pt, "restarts")), 1);
    assert_int_equal(json_integer_value(json_object_get(pt, "timeouts")), 0);
    json_t *w0 = json_array_get(json_object_get(pt, "workers"), 0);
    assert_int_equal(json_integer_value(json_object_get(w0, "restarts")), 1);
    assert_int_equal(json_integer_value(json_object_get(w0, "slot")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "journal"), "dead_letters")), 0);
    json_decref(st);
    stop_clean(&e);
}

/* A document that overruns its stage's time limit every time: its worker
 * is killed and replaced each time, the document tried max_attempts (the
 * default, 3) times, then given up on as a dead letter naming the stage
 * and the error; the stream goes on. */
static void
test_pipeline_kills_a_worker_over_its_time_limit_and_gives_up_after_max_attempts(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, "--sleep-ms 3000", NULL, "timeout_ms = 400\n");
    json_t *r = nlpd_e2e_annotate(&e, "{\"id\":\"slow\",\"text\":\"Takes too long.\"}", NULL);
    assert_non_null(r);
    assert_dead_letter_error(r, "timeout");
    char key[32];
    snprintf(key, sizeof(key), "%s", json_string_value(json_object_get(r, "key")));
    json_decref(r);
    json_t *st = nlpd_e2e_status(&e);
    json_t *pt = nlpd_e2e_stage(st, "pt");
    assert_int_equal(json_integer_value(json_object_get(pt, "timeouts")), 3);
    assert_int_equal(json_integer_value(json_object_get(pt, "restarts")), 3);
    json_decref(st);
    assert_true(wait_dead_letters(&e, 1));
    json_t *dl = dead_letters(&e);
    assert_int_equal(json_array_size(dl), 1);
    json_t *d0 = json_array_get(dl, 0);
    assert_string_equal(json_string_value(json_object_get(d0, "key")), key);
    assert_string_equal(json_string_value(json_object_get(d0, "stage")), "pt");
    assert_int_equal(json_integer_value(json_object_get(d0, "attempts")), 3);
    const char *error = json_string_value(json_object_get(d0, "error"));
    assert_non_null(error);
    assert_true(strncmp(error, "timeout: ", 9) == 0);
    assert_non_null(strstr(error, "400 ms"));
    json_decref(dl);
    stop_clean(&e);
}

/* max_attempts = 1: the first failure (an overrun, a crash) gives the
 * document an error record and it goes on; nothing is a dead letter. */
static void
test_pipeline_with_max_attempts_1_gives_the_first_failure_an_error_record(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, "--sleep-ms 3000 --crash-on POISON", "max_attempts = 1", "timeout_ms = 400\n");
    json_t *r = nlpd_e2e_annotate(&e, "{\"id\":\"slow\",\"text\":\"Takes too long.\"}", NULL);
    assert_non_null(r);
    assert_int_equal(nlpd_e2e_error_count(r, "timeout"), 1);
    json_t *err = json_array_get(json_object_get(r, "errors"), 0);
    assert_false(json_is_true(json_object_get(err, "fatal")));
    assert_null(strstr(json_string_value(json_object_get(err, "message")), "dead letter"));
    json_decref(r);
    r = nlpd_e2e_annotate(&e, "{\"id\":\"p\",\"text\":\"This is POISON.\"}", NULL);
    assert_non_null(r);
    assert_int_equal(nlpd_e2e_error_count(r, "crashed"), 1);
    json_decref(r);
    json_t *st = nlpd_e2e_status(&e);
    json_t *pt = nlpd_e2e_stage(st, "pt");
    assert_int_equal(json_integer_value(json_object_get(pt, "timeouts")), 1);
    assert_int_equal(json_integer_value(json_object_get(pt, "crashes")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "journal"), "dead_letters")), 0);
    json_decref(st);
    json_t *dl = dead_letters(&e);
    assert_int_equal(json_array_size(dl), 0);
    json_decref(dl);
    stop_clean(&e);
}

/* A document that crashes its stage every time is tried max_attempts (3)
 * times and given up on; one the stage refuses with an error of its own
 * goes on with that error; the stream flows. */
static void
test_pipeline_gives_a_poison_document_an_error_and_keeps_the_stream_flowing(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, "--crash-on POISON --fail-on BADWORD",
               "restart_backoff_min_ms = 20ms\nrestart_backoff_max_ms = 200ms", NULL);
    json_t *r = nlpd_e2e_annotate(&e, "{\"id\":\"p\",\"text\":\"This is POISON.\"}", NULL);
    assert_non_null(r);
    assert_dead_letter_error(r, "crashed");
    json_decref(r);
    json_t *st = nlpd_e2e_status(&e);
    assert_int_equal(json_integer_value(json_object_get(nlpd_e2e_stage(st, "pt"), "crashes")), 3);
    json_decref(st);
    r = nlpd_e2e_annotate(&e, "{\"id\":\"f\",\"text\":\"A BADWORD here.\"}", NULL);
    assert_non_null(r);
    assert_int_equal(nlpd_e2e_error_count(r, "test_failure"), 1);
    json_decref(r);
    for (int i = 0; i < 10; i++) {
        r = nlpd_e2e_annotate(&e, "{\"id\":\"ok\",\"text\":\"Fine.\"}", NULL);
        assert_non_null(r);
        assert_null(json_object_get(r, "errors"));
        json_decref(r);
    }
    assert_true(wait_dead_letters(&e, 1));
    stop_clean(&e);
}

static void
test_pipeline_pushes_back_with_busy_past_the_in_flight_bound(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, "--sleep-ms 500", "max_in_flight = 2", NULL);
    const char *l = "{\"text\":\"Slow.\"}";
    nlpd_reply r;
    for (uint64_t k = 1; k <= 3; k++)
        assert_int_equal(nlpd_client_submit(e.client, k, "json", l, strlen(l), 5000), 0);
    int accepted = 0, busy = 0;
    for (int k = 0; k < 3; k++) {
        assert_int_equal(nlpd_client_recv(e.client, &r, 10000), 0);
        if (r.kind == NLPD_REPLY_ACCEPTED)
            accepted++;
        else if (r.kind == NLPD_REPLY_REFUSED && strcmp(r.code, "busy") == 0)
            busy++;
    }
    assert_int_equal(accepted, 2);
    assert_int_equal(busy, 1);
    stop_clean(&e);
}

/* --- Reload and stop ------------------------------------------------------ */

static int
gen2_with_two_pt_workers(json_t *s, void *arg)
{
    (void)arg;
    json_t *pt = nlpd_e2e_stage(s, "pt");
    if (json_integer_value(json_object_get(s, "generation")) != 2 || pt == NULL)
        return 0;
    size_t i, ready = 0;
    json_t *w;
    json_array_foreach(json_object_get(pt, "workers"), i, w)
    {
        if (strcmp(json_string_value(json_object_get(w, "state")), "ready") == 0 &&
            json_integer_value(json_object_get(w, "generation")) == 2)
            ready++;
    }
    return ready == 2 && json_array_size(json_object_get(pt, "workers")) == 2;
}

/* --- --log-level wins over the files, at start and on reload ------------ */

static pid_t loglevel_pid; /* the daemon of the test below, for its teardown */

static int
teardown_loglevel(void **state)
{
    if (loglevel_pid > 0) {
        kill(loglevel_pid, SIGKILL);
        waitpid(loglevel_pid, NULL, 0);
        loglevel_pid = 0;
    }
    return nlpd_e2e_teardown(state);
}

static int
running_at_generation(json_t *s, void *arg)
{
    const char *st = json_string_value(json_object_get(s, "state"));
    return st != NULL && strcmp(st, "running") == 0 &&
           json_integer_value(json_object_get(s, "generation")) == *(int *)arg;
}

static void
test_pipeline_keeps_the_command_line_log_level_across_a_reload(void **state)
{
    (void)state;
    nlpd_e2e e;
    memset(&e, 0, sizeof(e));
    e.dir = nlpd_test_tmpdir("nlpd-e2e");
    assert_non_null(e.dir);
    snprintf(e.rundir, sizeof(e.rundir), "%s/run", e.dir);
    snprintf(e.conf, sizeof(e.conf), "%s/nlpd.conf", e.dir);
    snprintf(e.log, sizeof(e.log), "%s/nlpd.log", e.dir);
    snprintf(e.statedir, sizeof(e.statedir), "%s/state", e.dir);
    /* The file says err; the command line notice, which must win. */
    nlpd_e2e_write_config(&e, "[daemon]\nlog_level = err\n[pipeline]\nstages = ingest\n");
    char *argv[] = {(char *)nlpd_e2e_bin("nlpd"), "--runtime-dir", e.rundir, "--state-dir",
                    e.statedir, "--config", e.conf, "--log-level", "notice", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, e.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    assert_int_equal(posix_spawn(&e.pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    loglevel_pid = e.pid;
    int gen = 1;
    if (!nlpd_e2e_wait_status(&e, running_at_generation, &gen, 60000)) {
        nlpd_e2e_dump_log(&e);
        fail_msg("the daemon did not start");
    }
    /* Notice lines: at start... */
    assert_int_equal(nlpd_e2e_log_count(&e, "msg=\"nlpd started\""), 1);
    /* ... and after a reload, whose lines come before its generation. */
    nlpd_e2e_signal(&e, SIGHUP);
    gen = 2;
    if (!nlpd_e2e_wait_status(&e, running_at_generation, &gen, 60000)) {
        nlpd_e2e_dump_log(&e);
        fail_msg("the reload did not finish");
    }
    if (nlpd_e2e_log_count(&e, "reloading: starting new workers") != 1) {
        nlpd_e2e_dump_log(&e);
        fail_msg("the reload's notice line is missing: the file's log_level = err won");
    }
    loglevel_pid = 0;
    assert_int_equal(nlpd_e2e_stop(&e), 0);
}

static void
test_pipeline_reloads_on_sighup_without_dropping_documents_in_flight(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, "--sleep-ms 100", NULL, NULL);
    /* Documents in flight across the reload. */
    const char *l = "{\"text\":\"Across a reload.\"}";
    for (uint64_t k = 1; k <= 10; k++)
        assert_int_equal(
            nlpd_client_submit(e.client, k, "json wait", l, strlen(l), 5000), 0);
    char *c = nlpd_e2e_pt_config("--sleep-ms 100", NULL, "replicas = 2\n");
    nlpd_e2e_write_config(&e, c);
    free(c);
    nlpd_e2e_signal(&e, SIGHUP);
    int results = 0;
    while (results < 10) {
        nlpd_reply r;
        assert_int_equal(nlpd_client_recv(e.client, &r, 30000), 0);
        if (r.kind == NLPD_REPLY_RESULT) {
            assert_int_equal(r.error, 0);
            results++;
        }
    }
    assert_true(nlpd_e2e_wait_status(&e, gen2_with_two_pt_workers, NULL, 20000));

    /* A reload to a broken command keeps what runs. */
    char bad[2048];
    snprintf(bad, sizeof(bad),
             "[pipeline]\nstages = ingest pt\n[stage pt]\ncommand = %s --no-such-option\n",
             nlpd_e2e_bin("nlpd-passthrough"));
    nlpd_e2e_write_config(&e, bad);
    nlpd_e2e_signal(&e, SIGHUP);
    nlpd_e2e_wait_log(&e, "reload failed", 1, 20000);
    assert_int_equal(nlpd_e2e_log_count(&e, "reload failed"), 1);
    json_t *st = nlpd_e2e_status(&e);
    assert_int_equal(json_integer_value(json_object_get(st, "generation")), 2);
    json_decref(st);
    json_t *r = nlpd_e2e_annotate(&e, "{\"text\":\"After a failed reload.\"}", NULL);
    assert_non_null(r);
    assert_string_equal(nlpd_e2e_trace(r), "ingest pt");
    json_decref(r);
    stop_clean(&e);
}

static void
test_pipeline_drains_documents_in_flight_on_sigterm(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, "--sleep-ms 100", NULL, NULL);
    const char *l = "{\"text\":\"Finish me before you go.\"}";
    for (uint64_t k = 1; k <= 8; k++)
        assert_int_equal(nlpd_client_submit(e.client, k, "json wait", l, strlen(l), 5000), 0);
    int accepted = 0;
    nlpd_reply r;
    while (accepted < 8) {
        assert_int_equal(nlpd_client_recv(e.client, &r, 10000), 0);
        accepted += r.kind == NLPD_REPLY_ACCEPTED;
    }
    nlpd_e2e_signal(&e, SIGTERM);
    /* New work is refused while draining; what was accepted comes back. */
    int results = 0;
    while (results < 8) {
        assert_int_equal(nlpd_client_recv(e.client, &r, 20000), 0);
        if (r.kind == NLPD_REPLY_RESULT) {
            assert_int_equal(r.error, 0);
            results++;
        }
    }
    stop_clean(&e);
}

/* Runs `cmd` with `input` on stdin; returns its exit status and stdout. */
static int
run_with_input(const char *cmd, const char *input, char **out)
{
    char path[256];
    snprintf(path, sizeof(path), "/tmp/nlpd-e2e-in.%d", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(input, f);
    fclose(f);
    char full[2048];
    snprintf(full, sizeof(full), "%s < %s", cmd, path);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[n] = '\0';
    int status = pclose(p);
    unlink(path);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_nlpctl_annotate_writes_one_line_per_input_line_in_order(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, NULL, NULL, NULL);
    const char *input =
        "{\"id\":\"a\",\"text\":\"First  document.\"}\n"
        "\n"
        "{\"id\":\"b\",\"text\":\"Not closed\"\n"
        "{\"id\":\"c\",\"text\":\"Caf\\u00e9 au lait.\",\"options\":{\"summary_sentences\":1}}\n"
        "{\"id\":\"d\",\"text\":\"\"}\n";
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "%s --runtime-dir %s annotate --quiet 2>/dev/null",
             nlpd_e2e_bin("nlpctl"), e.rundir);
    char *out;
    int rc = run_with_input(cmd, input, &out);
    assert_int_equal(rc, 1); /* one line could not be sent */
    const char *want_ids[] = {"a", NULL, "c", "d"};
    const char *want_text[] = {"First  document.", NULL, "Caf\xc3\xa9 au lait.", ""};
    char *save = NULL;
    int k = 0;
    for (char *line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        assert_true(k < 4);
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        if (want_ids[k] == NULL) {
            /* The malformed line keeps its place, with an error. */
            assert_int_equal(json_integer_value(json_object_get(j, "line")), 3);
            assert_true(json_array_size(json_object_get(j, "errors")) == 1);
        } else {
            assert_string_equal(json_string_value(json_object_get(j, "id")), want_ids[k]);
            assert_string_equal(json_string_value(json_object_get(j, "text")), want_text[k]);
            assert_string_equal(nlpd_e2e_trace(j), "ingest pt");
        }
        json_decref(j);
        k++;
    }
    assert_int_equal(k, 4);
    free(out);

    /* submit and status, as a user types them. */
    snprintf(cmd, sizeof(cmd), "%s --runtime-dir %s submit %s", nlpd_e2e_bin("nlpctl"), e.rundir,
             nlpd_test_fixture_path("ingest/feed-article.txt"));
    rc = run_with_input(cmd, "", &out);
    assert_int_equal(rc, 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "format")), "feed");
    json_decref(j);
    free(out);
    snprintf(cmd, sizeof(cmd), "%s --runtime-dir %s status --json", nlpd_e2e_bin("nlpctl"),
             e.rundir);
    rc = run_with_input(cmd, "", &out);
    assert_int_equal(rc, 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "completed")), 4);
    json_decref(j);
    free(out);
    stop_clean(&e);
}

static int
crash_looping(json_t *s, void *arg)
{
    (void)arg;
    json_t *st = nlpd_e2e_stage(s, "broken");
    return st != NULL && json_is_true(json_object_get(st, "crash_loop")) &&
           json_integer_value(json_object_get(st, "restarts")) >= 4;
}

static void
test_pipeline_reports_a_crash_loop_instead_of_spinning(void **state)
{
    (void)state;
    char c[2048];
    /* A stage whose worker exits at once (an unknown option fails its init). */
    snprintf(c, sizeof(c),
             "[daemon]\nrestart_backoff_min_ms = 20\nrestart_backoff_max_ms = 2s\n"
             "[pipeline]\nstages = ingest broken\n"
             "[stage broken]\ncommand = %s --no-such-option\n",
             nlpd_e2e_bin("nlpd-passthrough"));
    nlpd_e2e e;
    /* This daemon never becomes ready, by design: do not wait for it. */
    nlpd_e2e_start_unready(&e, c);
    assert_true(nlpd_e2e_wait_status(&e, crash_looping, NULL, 20000));
    assert_int_equal(nlpd_e2e_log_count(&e, "crash loop"), 1);
    /* Backing off, not spinning: few restarts in the next second. */
    json_t *st = nlpd_e2e_status(&e);
    json_int_t before = json_integer_value(json_object_get(nlpd_e2e_stage(st, "broken"), "restarts"));
    json_decref(st);
    nlpd_e2e_sleep_ms(1000);
    st = nlpd_e2e_status(&e);
    json_int_t after = json_integer_value(json_object_get(nlpd_e2e_stage(st, "broken"), "restarts"));
    assert_string_equal(json_string_value(json_object_get(st, "state")), "starting");
    json_decref(st);
    assert_true(after - before <= 1);
    stop_clean(&e);
}

static void
test_pipeline_keeps_stage_sockets_private_and_opens_the_front_door_to_its_group(void **state)
{
    (void)state;
    nlpd_e2e e;
    start_with(&e, NULL, NULL, NULL);
    struct stat sb;
    char path[700];
    assert_int_equal(stat(e.rundir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0750);
    snprintf(path, sizeof(path), "%s/hops", e.rundir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/front", e.rundir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0660);
    snprintf(path, sizeof(path), "%s/control", e.rundir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0660);
    /* A second daemon on the same directory refuses to start. */
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "%s --runtime-dir %s 2>%s/second.log", nlpd_e2e_bin("nlpd"),
             e.rundir, e.dir);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    snprintf(path, sizeof(path), "%s/second.log", e.dir);
    size_t n;
    char *log = nlpd_test_read_file(path, &n);
    assert_non_null(log);
    assert_non_null(strstr(log, "another nlpd"));
    free(log);
    /* And the first one still works. */
    json_t *r = nlpd_e2e_annotate(&e, "{\"text\":\"Still mine.\"}", NULL);
    assert_non_null(r);
    json_decref(r);
    stop_clean(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pipeline_annotates_a_feed_article_with_offsets_into_the_text_as_sent, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_carries_options_and_metadata_to_the_stages, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_keeps_fields_no_stage_knows, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_runs_only_the_stages_a_document_asks_for, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_answers_bad_submissions_with_clear_refusals, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_processes_hostile_text_without_losing_a_worker, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_refuses_50MB_over_the_limit_and_processes_it_under, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_survives_clients_that_vanish_and_junk_on_every_socket, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_restarts_a_killed_worker_and_redelivers_what_it_held, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_kills_a_worker_over_its_time_limit_and_gives_up_after_max_attempts, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_with_max_attempts_1_gives_the_first_failure_an_error_record, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_gives_a_poison_document_an_error_and_keeps_the_stream_flowing, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_pushes_back_with_busy_past_the_in_flight_bound, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_reloads_on_sighup_without_dropping_documents_in_flight, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_keeps_the_command_line_log_level_across_a_reload, teardown_loglevel),
        cmocka_unit_test_teardown(test_pipeline_drains_documents_in_flight_on_sigterm, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_reports_a_crash_loop_instead_of_spinning, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_nlpctl_annotate_writes_one_line_per_input_line_in_order, nlpd_e2e_teardown),
        cmocka_unit_test_teardown(test_pipeline_keeps_stage_sockets_private_and_opens_the_front_door_to_its_group, nlpd_e2e_teardown),
    };
    return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
