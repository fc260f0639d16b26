/* tests/unit/client_test.c — the client library against a fake front door.
 *
 * A thread of the test plays the daemon: a ROUTER on ipc://TMP/front and
 * one on ipc://TMP/control, in a ZeroMQ context of its own, answering the
 * way each test's mode says. The fake allocates only with malloc, never
 * through nlpd_malloc, so the failing allocator counts the client alone.
 */
#include "client.h"
#include "nlpd/alloc.h"
#include "nlpd/doc.h"
#include "nlpd/error.h"
#include "nlpd/json.h"
#include "nlpd_internal.h"
#include "test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

/* --- The fake daemon ----------------------------------------------------- */

typedef enum {
    FAKE_ECHO,      /* ACCEPTED, then RESULT with the payload sent */
    FAKE_REVERSE,   /* ACCEPTED; RESULTs held and sent newest first */
    FAKE_BUSY,      /* REFUSED busy for the first `busy_times` sends of each document */
    FAKE_REFUSE_ID, /* REFUSED too_large when the payload holds "refuse-me", else ECHO */
    FAKE_SILENT,    /* reads everything, answers nothing */
    FAKE_MALFORMED, /* answers a PING with malformed replies, then a good PONG */
} fake_mode;

enum { HOLD_MAX = 512, CORR_MAX = 4096 };

typedef struct held {
    uint8_t id[256];
    size_t id_len;
    uint8_t corr[8];
    uint8_t *payload;
    size_t len;
} held;

typedef struct fake {
    char *dir;
    char front_ep[600];
    char control_ep[600];
    fake_mode mode;
    int busy_times;
    int hold_n; /* REVERSE: answer once this many are held (or on a pause) */
    void *zctx;
    void *front;
    void *control;
    pthread_t thread;
    atomic_int stop;
    /* Read after the thread is joined. */
    int submits;
    int in_flight;
    int max_in_flight;
    int refusals[CORR_MAX];
    held hold[HOLD_MAX];
    int n_held;
    uint64_t last_msg_us;
} fake;

static void
send_frames(void *sock, const void *const *data, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(nlpd__send_bytes(sock, data[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0), 0);
}

/* Sends [identity, verb, corr, rest...] with strings for the rest. */
static void
reply(fake *f, const nlpd__frames *fr, const char *verb, const char *a, const char *b)
{
    const void *data[] = {nlpd__frame_data(fr, 0), verb, nlpd__frame_data(fr, 2), a, b};
    size_t lens[] = {nlpd__frame_size(fr, 0), strlen(verb), nlpd__frame_size(fr, 2),
                     a ? strlen(a) : 0, b ? strlen(b) : 0};
    send_frames(f->front, data, lens, a == NULL ? 3 : b == NULL ? 4 : 5);
}

static void
send_result(fake *f, const void *id, size_t id_len, const void *corr, const void *payload,
            size_t len)
{
    const void *data[] = {id, NLPD_C_RESULT, corr, "K1", "ok", payload};
    size_t lens[] = {id_len, 6, 8, 2, 2, len};
    send_frames(f->front, data, lens, 6);
    f->in_flight--;
}

static void
flush_held(fake *f)
{
    while (f->n_held > 0) {
        held *h = &f->hold[--f->n_held];
        send_result(f, h->id, h->id_len, h->corr, h->payload, h->len);
        free(h->payload);
    }
}

static void
fake_malformed(fake *f, const nlpd__frames *fr)
{
    const void *id = nlpd__frame_data(fr, 0);
    size_t id_len = nlpd__frame_size(fr, 0);
    const void *corr = nlpd__frame_data(fr, 2);
    char longkey[100];
    memset(longkey, 'k', sizeof(longkey));
    {
        const void *d[] = {id, "PONG"};
        size_t l[] = {id_len, 4};
        send_frames(f->front, d, l, 2); /* one frame */
    }
    {
        const void *d[] = {id, "PONG", "abc", "1"};
        size_t l[] = {id_len, 4, 3, 1};
        send_frames(f->front, d, l, 4); /* corr of 3 bytes */
    }
    {
        const void *d[] = {id, "ACCEPTED", corr};
        size_t l[] = {id_len, 8, 8};
        send_frames(f->front, d, l, 3); /* no key */
    }
    {
        const void *d[] = {id, "RESULT", corr, "K", "maybe", "x"};
        size_t l[] = {id_len, 6, 8, 1, 5, 1};
        send_frames(f->front, d, l, 6); /* unknown status */
    }
    {
        const void *d[] = {id, "WHAT", corr};
        size_t l[] = {id_len, 4, 8};
        send_frames(f->front, d, l, 3); /* unknown verb */
    }
    {
        const void *d[] = {id, "ACCEPTED", corr, longkey};
        size_t l[] = {id_len, 8, 8, sizeof(longkey)};
        send_frames(f->front, d, l, 4); /* key too long */
    }
    {
        const void *d[] = {id, "PONG", corr, "a", "b", "c", "d", "e", "f", "g", "h"};
        size_t l[] = {id_len, 4, 8, 1, 1, 1, 1, 1, 1, 1, 1};
        send_frames(f->front, d, l, 11); /* too many frames */
    }
    reply(f, fr, NLPD_C_PONG, "9.9.9", NULL);
}

/* Accepts a submission, then answers it now or holds it (REVERSE). */
static void
fake_accept(fake *f, const nlpd__frames *fr, const void *payload, size_t len)
{
    reply(f, fr, NLPD_C_ACCEPTED, "K1", NULL);
    if (++f->in_flight > f->max_in_flight)
        f->max_in_flight = f->in_flight;
    if (f->mode != FAKE_REVERSE || f->n_held >= HOLD_MAX ||
        nlpd__frame_size(fr, 0) > sizeof(f->hold[0].id)) {
        send_result(f, nlpd__frame_data(fr, 0), nlpd__frame_size(fr, 0), nlpd__frame_data(fr, 2),
                    payload, len);
        return;
    }
    held *h = &f->hold[f->n_held++];
    h->id_len = nlpd__frame_size(fr, 0);
    memcpy(h->id, nlpd__frame_data(fr, 0), h->id_len);
    memcpy(h->corr, nlpd__frame_data(fr, 2), 8);
    h->payload = malloc(len > 0 ? len : 1);
    assert_non_null(h->payload);
    memcpy(h->payload, payload, len);
    h->len = len;
    if (f->n_held >= f->hold_n)
        flush_held(f);
}

static void
fake_submit(fake *f, const nlpd__frames *fr, uint64_t corr)
{
    f->submits++;
    const void *payload = nlpd__frame_data(fr, 4);
    size_t len = nlpd__frame_size(fr, 4);
    if (f->mode == FAKE_SILENT)
        return;
    if (f->mode == FAKE_BUSY && corr < CORR_MAX && f->refusals[corr] < f->busy_times) {
        f->refusals[corr]++;
        reply(f, fr, NLPD_C_REFUSED, "busy", "try later");
    } else if (f->mode == FAKE_REFUSE_ID && memmem(payload, len, "refuse-me", 9)) {
        reply(f, fr, NLPD_C_REFUSED, "too_large", "over max_document_bytes");
    } else {
        fake_accept(f, fr, payload, len);
    }
}

static void
fake_front(fake *f)
{
    nlpd__frames fr;
    while (nlpd__recv_frames(f->front, &fr, ZMQ_DONTWAIT) == 0) {
        f->last_msg_us = nlpd__mono_us();
        uint64_t corr = 0;
        for (int i = 0; fr.n >= 3 && i < 8 && nlpd__frame_size(&fr, 2) == 8; i++)
            corr = (corr << 8) | ((const uint8_t *)nlpd__frame_data(&fr, 2))[i];
        if (fr.n != 3 && fr.n != 5) {
            /* not ours to answer */
        } else if (nlpd__frame_is(&fr, 1, NLPD_C_PING) && f->mode == FAKE_MALFORMED) {
            fake_malformed(f, &fr);
        } else if (nlpd__frame_is(&fr, 1, NLPD_C_PING) && f->mode != FAKE_SILENT) {
            reply(f, &fr, NLPD_C_PONG, "9.9.9", NULL);
        } else if (nlpd__frame_is(&fr, 1, NLPD_C_SUBMIT) && fr.n == 5) {
            fake_submit(f, &fr, corr);
        }
        nlpd__frames_close(&fr);
    }
}

static void
fake_control(fake *f)
{
    nlpd__frames fr;
    while (nlpd__recv_frames(f->control, &fr, ZMQ_DONTWAIT) == 0) {
        const void *id = nlpd__frame_data(&fr, 0);
        size_t id_len = nlpd__frame_size(&fr, 0);
        if (nlpd__frame_is(&fr, 1, "STATUS")) {
            const void *d[] = {id, "OK", "{\"state\":\"running\"}"};
            size_t l[] = {id_len, 2, 19};
            send_frames(f->control, d, l, 3);
        } else if (nlpd__frame_is(&fr, 1, "RELOAD")) {
            const void *d[] = {id, "ERROR", "not now"};
            size_t l[] = {id_len, 5, 7};
            send_frames(f->control, d, l, 3);
        } else if (nlpd__frame_is(&fr, 1, "DELIM")) {
            const void *d[] = {id, "", "OK", "{}"};
            size_t l[] = {id_len, 0, 2, 2};
            send_frames(f->control, d, l, 4);
        } else if (nlpd__frame_is(&fr, 1, "BAD")) {
            const void *d[] = {id, "MAYBE", "x"};
            size_t l[] = {id_len, 5, 1};
            send_frames(f->control, d, l, 3);
        } /* anything else: no answer */
        nlpd__frames_close(&fr);
    }
}

static void *
fake_main(void *arg)
{
    fake *f = arg;
    while (!atomic_load(&f->stop)) {
        zmq_pollitem_t items[2] = {{f->front, 0, ZMQ_POLLIN, 0}, {f->control, 0, ZMQ_POLLIN, 0}};
        zmq_poll(items, 2, 5);
        if (items[0].revents & ZMQ_POLLIN)
            fake_front(f);
        if (items[1].revents & ZMQ_POLLIN)
            fake_control(f);
        /* REVERSE: a pause in the input means no more are coming for now. */
        if (f->n_held > 0 && nlpd__mono_us() - f->last_msg_us > 30000)
            flush_held(f);
    }
    return NULL;
}

static int
setup(void **state)
{
    fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = nlpd_test_tmpdir("nlpd-client");
    snprintf(f->front_ep, sizeof(f->front_ep), "ipc://%s/front", f->dir);
    snprintf(f->control_ep, sizeof(f->control_ep), "ipc://%s/control", f->dir);
    f->hold_n = HOLD_MAX;
    *state = f;
    return 0;
}

/* Starts the fake in `mode`; tests call it after setting their knobs. */
static fake *
fake_start(void **state, fake_mode mode)
{
    fake *f = *state;
    f->mode = mode;
    f->zctx = zmq_ctx_new();
    f->front = zmq_socket(f->zctx, ZMQ_ROUTER);
    f->control = zmq_socket(f->zctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(f->front, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(f->control, ZMQ_LINGER, &linger, sizeof(linger));
    assert_int_equal(zmq_bind(f->front, f->front_ep), 0);
    assert_int_equal(zmq_bind(f->control, f->control_ep), 0);
    atomic_store(&f->stop, 0);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    return f;
}

static void
fake_stop(fake *f)
{
    if (f->zctx == NULL)
        return;
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    for (int i = 0; i < f->n_held; i++)
        free(f->hold[i].payload);
    f->n_held = 0;
    zmq_close(f->front);
    zmq_close(f->control);
    zmq_ctx_term(f->zctx);
    f->zctx = NULL;
}

static int
teardown(void **state)
{
    fake *f = *state;
    fake_stop(f);
    nlpd_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    nlpd_test_alloc_reset();
    return 0;
}

/* An encoded Document for `text`. Free with nlpd_free. */
static uint8_t *
encode(const char *id, const char *text, size_t *len)
{
    nlpd_submission s = {.id = id, .text = text, .text_len = strlen(text)};
    uint8_t *out = NULL;
    assert_int_equal(nlpd_submission_encode(&s, &out, len), 0);
    return out;
}

/* --- Requests and replies ------------------------------------------------ */

static void
test_client_submit_gets_accepted_then_result(void **state)
{
    fake *f = fake_start(state, FAKE_ECHO);
    nlpd_client *c = NULL;
    assert_int_equal(nlpd_client_open(&c, NULL, f->front_ep), 0);
    assert_non_null(nlpd_client_socket(c));
    size_t len;
    uint8_t *doc = encode("a", "Hello.", &len);
    assert_int_equal(nlpd_client_submit(c, 0x0102030405060708ull, "pb wait", doc, len, 1000), 0);
    nlpd_reply r;
    assert_int_equal(nlpd_client_recv(c, &r, 5000), 0);
    assert_int_equal(r.kind, NLPD_REPLY_ACCEPTED);
    assert_true(r.corr == 0x0102030405060708ull);
    assert_string_equal(r.key, "K1");
    assert_int_equal(nlpd_client_recv(c, &r, 5000), 0);
    assert_int_equal(r.kind, NLPD_REPLY_RESULT);
    assert_true(r.corr == 0x0102030405060708ull);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.payload_len, len);
    assert_memory_equal(r.payload, doc, len);
    nlpd_free(doc);
    nlpd_client_close(&c);
    assert_null(c);
    nlpd_client_close(&c); /* NULL is fine */
}

static void
test_client_ping_gets_pong_with_version(void **state)
{
    fake *f = fake_start(state, FAKE_ECHO);
    nlpd_client *c = NULL;
    assert_int_equal(nlpd_client_open(&c, NULL, f->front_ep), 0);
    assert_int_equal(nlpd_client_ping(c, 77), 0);
    nlpd_reply r;
    assert_int_equal(nlpd_client_recv(c, &r, 5000), 0);
    assert_int_equal(r.kind, NLPD_REPLY_PONG);
    assert_true(r.corr == 77);
    assert_string_equal(r.message, "9.9.9");
    nlpd_client_close(&c);
}

static void
test_client_finds_the_front_door_in_the_runtime_dir(void **state)
{
    fake *f = fake_start(state, FAKE_ECHO);
    char ep[600];
    assert_int_equal(nlpd_client_endpoint(f->dir, NLPD_SOCK_FRONT, ep, sizeof(ep)), 0);
    assert_string_equal(ep, f->front_ep);
    char small[8];
    assert_int_equal(nlpd_client_endpoint(f->dir, NLPD_SOCK_FRONT, small, sizeof(small)),
                     NLPD_EINVAL);
    nlpd_client *c = NULL;
    assert_int_equal(nlpd_client_open(&c, f->dir, NULL), 0);
    assert_int_equal(nlpd_client_ping(c, 1), 0);
    nlpd_reply r;
    assert_int_equal(nlpd_client_recv(c, &r, 5000), 0);
    assert_int_equal(r.kind, NLPD_REPLY_PONG);
    nlpd_client_close(&c);
}

static void
test_client_open_refuses_a_bad_endpoint(void **state)
{
    (void)state;
    nlpd_client *c = NULL;
    assert_int_equal(nlpd_client_open(&c, NULL, "nonsense://x"), NLPD_EINVAL);
    assert_null(c);
}

static void
test_client_recv_times_out_when_nothing_comes(void **state)
{
    fake *f = fake_start(state, FAKE_SILENT);
    nlpd_client *c = NULL;
    assert_int_equal(nlpd_client_open(&c, NULL, f->front_ep), 0);
    assert_int_equal(nlpd_client_ping(c, 1), 0);
    nlpd_reply r;
    assert_int_equal(nlpd_client_recv(c, &r, 0), NLPD_ETIMEDOUT);
    uint64_t t0 = nlpd__mono_us();
    assert_int_equal(nlpd_client_recv(c, &r, 60), NLPD_ETIMEDOUT);
    assert_true(nlpd__mono_us() - t0 >= 55000);
    nlpd_client_close(&c);
}

static void
test_client_recv_reports_malformed_replies_as_eproto(void **state)
{
    fake *f = fake_start(state, FAKE_MALFORMED);
    nlpd_client *c = NULL;
    assert_int_equal(nlpd_client_open(&c, NULL, f->front_ep), 0);
    assert_int_equal(nlpd_client_ping(c, 7), 0);
    nlpd_reply r;
    /* One frame; a 3-byte corr: the corr is unknown. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(nlpd_client_recv(c, &r, 5000), NLPD_EPROTO);
        assert_int_equal(r.kind, 0);
        assert_true(r.corr == 0);
        assert_true(r.message[0] != '\0');
    }
    /* ACCEPTED without key, unknown status, unknown verb, long key, extra
     * frames: the corr is known. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(nlpd_client_recv(c, &r, 5000), NLPD_EPROTO);
        assert_int_equal(r.kind, 0);
        assert_true(r.corr == 7);
        assert_null(r.payload);
    }
    assert_int_equal(nlpd_client_recv(c, &r, 5000), 0);
    assert_int_equal(r.kind, NLPD_REPLY_PONG);
    assert_true(r.corr == 7);
    nlpd_client_close(&c);
}

static void
test_client_submit_to_refusing_daemon_gets_refused(void **state)
{
    fake *f = fake_start(state, FAKE_REFUSE_ID);
    nlpd_client *c = NULL;
    assert_int_equal(nlpd_client_open(&c, NULL, f->front_ep), 0);
    size_t len;
    uint8_t *doc = encode("refuse-me", "text", &len);
    assert_int_equal(nlpd_client_submit(c, 5, NULL, doc, len, -1), 0);
    nlpd_reply r;
    assert_int_equal(nlpd_client_recv(c, &r, -1), 0);
    assert_int_equal(r.kind, NLPD_REPLY_REFUSED);
    assert_true(r.corr == 5);
    assert_string_equal(r.code, "too_large");
    assert_string_equal(r.message, "over max_document_bytes");
    nlpd_free(doc);
    nlpd_client_close(&c);
}

/* --- Control ------------------------------------------------------------- */

static void
test_control_call_returns_the_json_of_ok(void **state)
{
    fake *f = fake_start(state, FAKE_ECHO);
    char *reply = NULL;
    assert_int_equal(nlpd_control_call(NULL, f->control_ep, "STATUS", 5000, &reply), 0);
    assert_string_equal(reply, "{\"state\":\"running\"}");
    nlpd_free(reply);
    /* Found through the runtime directory as well. */
    assert_int_equal(nlpd_control_call(f->dir, NULL, "STATUS", 5000, &reply), 0);
    nlpd_free(reply);
    /* A REQ-style empty delimiter in front is tolerated. */
    assert_int_equal(nlpd_control_call(NULL, f->control_ep, "DELIM", 5000, &reply), 0);
    assert_string_equal(reply, "{}");
    nlpd_free(reply);
}

static void
test_control_call_returns_einval_with_the_message_of_error(void **state)
{
    fake *f = fake_start(state, FAKE_ECHO);
    char *reply = NULL;
    assert_int_equal(nlpd_control_call(NULL, f->control_ep, "RELOAD", 5000, &reply), NLPD_EINVAL);
    assert_string_equal(reply, "not now");
    nlpd_free(reply);
    assert_int_equal(nlpd_control_call(NULL, f->control_ep, "BAD", 5000, &reply), NLPD_EPROTO);
    assert_null(reply);
}

static void
test_control_call_times_out_when_nobody_answers(void **state)
{
    fake *f = fake_start(state, FAKE_ECHO);
    char *reply = (char *)"x";
    assert_int_equal(nlpd_control_call(NULL, f->control_ep, "HANG", 50, &reply), NLPD_ETIMEDOUT);
    assert_null(reply);
    fake_stop(f); /* no daemon at all */
    uint64_t t0 = nlpd__mono_us();
    assert_int_equal(nlpd_control_call(f->dir, NULL, "STATUS", 50, &reply), NLPD_ETIMEDOUT);
    assert_true(nlpd__mono_us() - t0 < 2000000);
    assert_null(reply);
}

/* --- Backoff and rendering helpers --------------------------------------- */

static void
test_client_backoff_doubles_from_5_ms_to_1_s_with_jitter(void **state)
{
    (void)state;
    unsigned base = 5;
    for (unsigned attempt = 0; attempt < 40; attempt++) {
        unsigned lo = base - base / 2;
        assert_int_equal(nlpd_client_backoff_ms(attempt, 0), lo);
        assert_int_equal(nlpd_client_backoff_ms(attempt, base / 2), base);
        for (uint32_t rnd = 1; rnd < 100000; rnd = rnd * 7 + 3) {
            unsigned ms = nlpd_client_backoff_ms(attempt, rnd);
            assert_true(ms >= lo && ms <= base);
        }
        base = base * 2 > 1000 ? 1000 : base * 2;
    }
    assert_int_equal(nlpd_client_backoff_ms(UINT32_MAX, UINT32_MAX) <= 1000, 1);
}

static void
test_client_minimal_json_keeps_only_evaluation_fields(void **state)
{
    (void)state;
    const char *in = "{\"id\":\"a\",\"key\":\"K\",\"title\":\"T\",\"text\":\"Hi.\","
                     "\"sentences\":[[0,3]],\"tokens\":[[0,2,\"cap\"]],\"entities\":[],"
                     "\"summary\":[0],\"trace\":[],\"errors\":[{\"stage\":\"x\"}]}";
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(nlpd_client_minimal_json(in, strlen(in), &out, &len), 0);
    assert_string_equal(out, "{\"id\":\"a\",\"text\":\"Hi.\",\"sentences\":[[0,3]],"
                             "\"entities\":[],\"summary\":[0],\"errors\":[{\"stage\":\"x\"}]}");
    assert_int_equal(len, strlen(out));
    nlpd_free(out);
    /* A text with a NUL (escaped in JSON) is kept, not refused. */
    const char *nul = "{\"id\":\"b\",\"text\":\"a\\u0000b\",\"trace\":[]}";
    assert_int_equal(nlpd_client_minimal_json(nul, strlen(nul), &out, &len), 0);
    assert_string_equal(out, "{\"id\":\"b\",\"text\":\"a\\u0000b\"}");
    nlpd_free(out);
    assert_int_equal(nlpd_client_minimal_json("[1]", 3, &out, &len), NLPD_EPROTO);
    assert_int_equal(nlpd_client_minimal_json("{", 1, &out, &len), NLPD_EPROTO);
}

static void
test_client_error_line_has_id_line_and_errors(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(nlpd_client_error_line(NULL, 3, "timeout", "bad \xff byte", &out, NULL), 0);
    assert_string_equal(out, "{\"id\":null,\"line\":3,\"errors\":[{\"stage\":\"nlpctl\",\"code\":"
                             "\"timeout\",\"message\":\"bad \xef\xbf\xbd byte\"}]}");
    nlpd_free(out);
    assert_int_equal(nlpd_client_error_line("d1", 10, "busy", "m", &out, NULL), 0);
    assert_non_null(strstr(out, "\"id\":\"d1\""));
    nlpd_free(out);
}

/* Decodes what nlpd_client_submission_encode() made into `d`. */
static void
encode_with_options(nlpd_doc *d, nlpd_format format, const char *options)
{
    nlpd_submission s = {.id = "x", .text = "Bo\0dy\xff", .text_len = 6, .format = format};
    uint8_t *opts = NULL, *doc = NULL;
    size_t opts_len, doc_len;
    char why[128] = "";
    assert_int_equal(nlpd_client_options_encode(options, &opts, &opts_len, why, sizeof(why)), 0);
    assert_int_equal(nlpd_client_submission_encode(&s, opts, opts_len, &doc, &doc_len), 0);
    assert_int_equal(nlpd_doc_parse(d, doc, doc_len), 0);
    assert_string_equal(nlpd_doc_id(d), "x");
    size_t in_len;
    const char *input = nlpd_doc_input(d, &in_len);
    assert_int_equal(in_len, 6);
    assert_memory_equal(input, "Bo\0dy\xff", 6);
    nlpd_free(doc);
    nlpd_free(opts);
}

static void
test_client_options_go_into_a_submission(void **state)
{
    (void)state;
    nlpd_doc *d = NULL;
    assert_int_equal(nlpd_doc_new(&d), 0);
    encode_with_options(d, NLPD_FORMAT_TEXT,
                        "{\"summary_sentences\": 2, \"stages\": [\"split\"], \"custom\": [1],"
                        " \"format\": \"html\"}");
    assert_int_equal(nlpd_doc_summary_budget(d).sentences, 2);
    assert_int_equal(nlpd_doc_format_option(d), NLPD_FORMAT_TEXT); /* the explicit one wins */
    assert_int_equal(nlpd_doc_wants_stage(d, "split"), 1);
    assert_int_equal(nlpd_doc_wants_stage(d, "tag"), 0);
    assert_string_equal(nlpd_doc_option(d, "custom"), "[1]");
    encode_with_options(d, NLPD_FORMAT_DETECT, "{\"summary_ratio\": 0.5, \"format\": \"html\"}");
    assert_true(nlpd_doc_summary_budget(d).ratio == 0.5);
    assert_int_equal(nlpd_doc_summary_budget(d).sentences, 0);
    assert_int_equal(nlpd_doc_format_option(d), NLPD_FORMAT_HTML);
    assert_int_equal(nlpd_doc_wants_stage(d, "tag"), 1);
    nlpd_doc_free(&d);
    uint8_t *opts = NULL;
    size_t opts_len;
    char why[128] = "";
    assert_int_equal(nlpd_client_options_encode("[]", &opts, &opts_len, why, sizeof(why)),
                     NLPD_EFORMAT);
    assert_true(why[0] != '\0');
    assert_int_equal(
        nlpd_client_options_encode("{\"format\": \"pdf\"}", &opts, &opts_len, why, sizeof(why)),
        NLPD_EFORMAT);
    assert_null(opts);
    /* A budget that is no valid budget goes on as text: the summarize
     * stage reports it on the document. */
    assert_int_equal(nlpd_doc_new(&d), 0);
    encode_with_options(d, NLPD_FORMAT_DETECT, "{\"summary_ratio\": 7}");
    assert_true(nlpd_doc_summary_budget(d).ratio == 0.0);
    assert_string_equal(nlpd_doc_option(d, "summary_ratio"), "7");
    nlpd_doc_free(&d);
}

static void
test_client_render_refuses_bytes_that_are_not_a_document(void **state)
{
    (void)state;
    nlpd_doc *d = NULL;
    assert_int_equal(nlpd_doc_new(&d), 0);
    char *out = NULL;
    char why[128] = "";
    /* Field 2 (key) of length 5 with only 2 bytes: truncated. */
    assert_int_equal(nlpd_client_render(d,
                                        "\x12\x05"
                                        "ab",
                                        4, 0, 0, &out, NULL, why, sizeof(why)),
                     NLPD_EPROTO);
    assert_null(out);
    assert_true(why[0] != '\0');
    /* A key that is not UTF-8 is refused, not rendered as out of memory. */
    assert_int_equal(
        nlpd_client_render(d, "\x12\x02\xff\xfe", 4, 0, 0, &out, NULL, why, sizeof(why)),
        NLPD_EPROTO);
    size_t len;
    uint8_t *doc = encode("z", "Text.", &len);
    size_t n = 0;
    assert_int_equal(nlpd_client_render(d, doc, len, NLPD_JSON_DEFAULT, 1, &out, &n, NULL, 0), 0);
    assert_string_equal(out, "{\"id\":\"z\",\"text\":\"Text.\"}");
    assert_int_equal(n, strlen(out));
    nlpd_free(out);
    nlpd_free(doc);
    nlpd_doc_free(&d);
}

/* --- annotate ------------------------------------------------------------ */

typedef struct run {
    char *out;
    size_t out_len;
    nlpd_client_annotate_stats st;
    int rc;
    int diags;
} run;

static void
count_diag(void *arg, const char *msg)
{
    (void)msg;
    ((run *)arg)->diags++;
}

/* Runs annotate over `input` against the fake with `o` (window etc.). */
static void
annotate_text(fake *f, const char *input, nlpd_client_annotate_opts *o, run *r)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/in.jsonl", f->dir);
    FILE *in = fopen(path, "wb");
    assert_non_null(in);
    fwrite(input, 1, strlen(input), in);
    fclose(in);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    FILE *out = open_memstream(&r->out, &r->out_len);
    assert_non_null(out);
    nlpd_client *c = NULL;
    o->diag = count_diag;
    if (o->arg == NULL)
        o->arg = r;
    r->rc = nlpd_client_open(&c, NULL, f->front_ep); /* fails only under the failing allocator */
    if (r->rc == 0)
        r->rc = nlpd_client_annotate(c, fd, out, o, &r->st);
    nlpd_client_close(&c);
    fclose(out);
    close(fd);
}

/* The output's lines parsed, checked to be `n`. Free with json_decref. */
static json_t *
output_lines(const run *r, size_t n)
{
    json_t *arr = json_array();
    const char *p = r->out;
    while (p < r->out + r->out_len) {
        const char *nl = memchr(p, '\n', (size_t)(r->out + r->out_len - p));
        assert_non_null(nl);
        json_error_t jerr;
        json_t *v = json_loadb(p, (size_t)(nl - p), 0, &jerr);
        assert_non_null(v);
        json_array_append_new(arr, v);
        p = nl + 1;
    }
    assert_int_equal(json_array_size(arr), n);
    return arr;
}

static char *
numbered_input(int n)
{
    size_t cap = (size_t)n * 96 + 1;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(s + len, cap - len,
                                "{\"id\": \"d%d\", \"text\": \"Document %d is here.\"}\n", i, i);
    }
    return s;
}

static void
test_client_annotate_writes_results_in_input_order(void **state)
{
    fake *f = *state;
    f->hold_n = 16; /* the fake answers each batch of 16 newest first */
    fake_start(state, FAKE_REVERSE);
    char *input = numbered_input(200);
    nlpd_client_annotate_opts o = NLPD_CLIENT_ANNOTATE_OPTS_INIT;
    o.window = 16;
    run r = {0};
    annotate_text(f, input, &o, &r);
    fake_stop(f);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.st.read, 200);
    assert_int_equal(r.st.written, 200);
    assert_int_equal(r.st.failed, 0);
    assert_int_equal(r.st.unanswered, 0);
    assert_true(f->max_in_flight <= 16);
    assert_int_equal(f->max_in_flight, 16); /* the window was used */
    json_t *lines = output_lines(&r, 200);
    for (size_t i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof(id), "d%zu", i);
        json_t *v = json_array_get(lines, i);
        assert_string_equal(json_string_value(json_object_get(v, "id")), id);
        assert_non_null(json_object_get(v, "text"));
    }
    json_decref(lines);
    free(r.out);
    free(input);
}

static void
test_client_annotate_resends_documents_refused_as_busy(void **state)
{
    fake *f = *state;
    f->busy_times = 3;
    fake_start(state, FAKE_BUSY);
    char *input = numbered_input(20);
    nlpd_client_annotate_opts o = NLPD_CLIENT_ANNOTATE_OPTS_INIT;
    o.window = 8;
    run r = {0};
    annotate_text(f, input, &o, &r);
    fake_stop(f);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.st.written, 20);
    assert_int_equal(r.st.failed, 0);
    assert_int_equal(r.st.busy, 60);
    assert_int_equal(f->submits, 80);
    json_t *lines = output_lines(&r, 20);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 19), "id")), "d19");
    json_decref(lines);
    free(r.out);
    free(input);
}

static void
test_client_annotate_puts_error_lines_in_place_of_failures(void **state)
{
    fake *f = fake_start(state, FAKE_REFUSE_ID);
    char longline[400];
    memset(longline, 'x', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    char input[1024];
    snprintf(input, sizeof(input),
             "{\"id\": \"ok1\", \"text\": \"One.\"}\n"       /* line 1 */
             "not json\n"                                    /* line 2 */
             "\n"                                            /* line 3: skipped */
             "  \r\n"                                        /* line 4: skipped */
             "{\"id\": 5, \"title\": \"no text\"}\n"         /* line 5 */
             "{\"id\": \"refuse-me\", \"text\": \"Two.\"}\n" /* line 6 */
             "%s\n"                                          /* line 7: too long */
             "{\"id\": \"ok2\", \"text\": \"Three.\", \"options\": {\"summary_sentences\": 1}}",
             longline); /* line 8, no newline at the end */
    nlpd_client_annotate_opts o = NLPD_CLIENT_ANNOTATE_OPTS_INIT;
    o.max_line = 300;
    o.minimal = 1;
    run r = {0};
    annotate_text(f, input, &o, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.st.lines, 8);
    assert_int_equal(r.st.read, 6);
    assert_int_equal(r.st.failed, 4);
    assert_int_equal(r.diags, 4);
    json_t *lines = output_lines(&r, 6);
    const char *ids[] = {"ok1", NULL, "5", "refuse-me", NULL, "ok2"};
    const int line_no[] = {0, 2, 5, 6, 7, 0};
    const char *codes[] = {NULL, "invalid_input", "invalid_input", "too_large", "too_large", NULL};
    for (size_t i = 0; i < 6; i++) {
        json_t *v = json_array_get(lines, i);
        json_t *id = json_object_get(v, "id");
        if (ids[i] == NULL) {
            assert_true(json_is_null(id));
        } else {
            assert_string_equal(json_string_value(id), ids[i]);
        }
        if (codes[i] == NULL) {
            assert_null(json_object_get(v, "errors"));
            assert_null(json_object_get(v, "key")); /* --minimal */
            continue;
        }
        assert_int_equal(json_integer_value(json_object_get(v, "line")), line_no[i]);
        json_t *e = json_array_get(json_object_get(v, "errors"), 0);
        assert_string_equal(json_string_value(json_object_get(e, "stage")), "nlpctl");
        assert_string_equal(json_string_value(json_object_get(e, "code")), codes[i]);
        assert_non_null(json_string_value(json_object_get(e, "message")));
    }
    json_decref(lines);
    free(r.out);
}

static void
test_client_annotate_gives_up_on_documents_after_the_timeout(void **state)
{
    fake *f = fake_start(state, FAKE_SILENT);
    char *input = numbered_input(5);
    nlpd_client_annotate_opts o = NLPD_CLIENT_ANNOTATE_OPTS_INIT;
    o.timeout_ms = 100;
    run r = {0};
    uint64_t t0 = nlpd__mono_us();
    annotate_text(f, input, &o, &r);
    assert_true(nlpd__mono_us() - t0 < 3000000);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.st.failed, 5);
    json_t *lines = output_lines(&r, 5);
    json_t *e = json_array_get(json_object_get(json_array_get(lines, 4), "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "timeout");
    json_decref(lines);
    free(r.out);
    free(input);
}

typedef struct stopper {
    volatile sig_atomic_t stop;
    int calls;
} stopper;

static void
stop_after_a_while(void *arg, const nlpd_client_annotate_stats *st, int final)
{
    stopper *s = arg;
    s->calls++;
    if (!final && st->elapsed_s > 0.1)
        s->stop = 1;
}

static void
test_client_annotate_stops_when_asked_and_counts_the_unanswered(void **state)
{
    fake *f = fake_start(state, FAKE_SILENT);
    char *input = numbered_input(30);
    stopper s = {0};
    nlpd_client_annotate_opts o = NLPD_CLIENT_ANNOTATE_OPTS_INIT;
    o.window = 10;
    o.stop = &s.stop;
    o.progress = stop_after_a_while;
    o.progress_ms = 10;
    o.arg = &s;
    run r = {0};
    annotate_text(f, input, &o, &r);
    assert_int_equal(r.rc, -EINTR);
    assert_int_equal(r.st.read, 10); /* the window was full: no more was read */
    assert_int_equal(r.st.unanswered, 10);
    assert_int_equal(r.st.written, 0);
    assert_true(s.calls >= 2);
    free(r.out);
    free(input);
}

static void
test_client_annotate_handles_10k_lines_in_bounded_memory(void **state)
{
    fake *f = *state;
    f->hold_n = 32;
    fake_start(state, FAKE_REVERSE);
    char *input = numbered_input(10000);
    nlpd_client_annotate_opts o = NLPD_CLIENT_ANNOTATE_OPTS_INIT;
    o.window = 32;
    o.json_flags = NLPD_JSON_DEFAULT & ~(unsigned)NLPD_JSON_TOKENS;
    run r = {0};
    nlpd_test_alloc_reset();
    long live0 = nlpd_test_alloc_live();
    annotate_text(f, input, &o, &r);
    fake_stop(f);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.st.written, 10000);
    assert_int_equal(f->max_in_flight, 32);
    assert_int_equal(nlpd_test_alloc_live(), live0); /* nothing kept per document */
    json_t *lines = output_lines(&r, 10000);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 9999), "id")),
                        "d9999");
    json_decref(lines);
    free(r.out);
    free(input);
}

static void
test_client_annotate_returns_enomem_without_leaks(void **state)
{
    fake *f = fake_start(state, FAKE_ECHO);
    const char *input =
        "{\"id\": \"a\", \"text\": \"One.\"}\n{\"id\": \"b\", \"text\": \"Two.\"}\n";
    nlpd_test_alloc_reset();
    long live0 = nlpd_test_alloc_live();
    run r = {0};
    nlpd_client_annotate_opts o = NLPD_CLIENT_ANNOTATE_OPTS_INIT;
    annotate_text(f, input, &o, &r);
    assert_int_equal(r.rc, 0);
    free(r.out);
    long n = nlpd_test_alloc_count();
    assert_true(n > 0);
    for (long i = 0; i < n; i++) {
        run fr = {0};
        nlpd_client_annotate_opts fo = NLPD_CLIENT_ANNOTATE_OPTS_INIT;
        nlpd_test_alloc_fail_after(i);
        annotate_text(f, input, &fo, &fr);
        nlpd_test_alloc_reset();
        assert_true(fr.rc == NLPD_ENOMEM || fr.rc == 0);
        assert_int_equal(nlpd_test_alloc_live(), live0);
        free(fr.out);
    }
}

/* Calls every allocating helper once; returns how many failed with ENOMEM. */
static int
call_helpers(const char *front_ep)
{
    int failed = 0;
    nlpd_client *c = NULL;
    int rc = nlpd_client_open(&c, NULL, front_ep);
    failed += rc == NLPD_ENOMEM;
    assert_true(rc == 0 || rc == NLPD_ENOMEM);
    nlpd_client_close(&c);
    char *out = NULL;
    rc = nlpd_client_error_line("id", 1, "c", "m", &out, NULL);
    failed += rc == NLPD_ENOMEM;
    assert_true(rc == 0 || rc == NLPD_ENOMEM);
    nlpd_free(out);
    out = NULL;
    const char *json = "{\"id\":\"a\",\"key\":\"k\"}";
    rc = nlpd_client_minimal_json(json, strlen(json), &out, NULL);
    failed += rc == NLPD_ENOMEM;
    assert_true(rc == 0 || rc == NLPD_ENOMEM);
    nlpd_free(out);
    uint8_t *opts = NULL, *doc = NULL;
    size_t opts_len = 0, doc_len = 0;
    rc = nlpd_client_options_encode("{\"summary_words\": 9, \"x\": 1}", &opts, &opts_len, NULL, 0);
    failed += rc == NLPD_ENOMEM;
    assert_true(rc == 0 || rc == NLPD_ENOMEM);
    if (rc == 0) {
        nlpd_submission s = {.id = "i", .text = "t", .text_len = 1};
        rc = nlpd_client_submission_encode(&s, opts, opts_len, &doc, &doc_len);
        failed += rc == NLPD_ENOMEM;
        assert_true(rc == 0 || rc == NLPD_ENOMEM);
    }
    nlpd_free(doc);
    nlpd_free(opts);
    return failed;
}

static void
test_client_helpers_return_enomem_without_leaks(void **state)
{
    fake *f = *state;
    long live0 = nlpd_test_alloc_live();
    nlpd_test_alloc_reset();
    assert_int_equal(call_helpers(f->front_ep), 0);
    long n = nlpd_test_alloc_count();
    assert_int_equal(nlpd_test_alloc_live(), live0);
    for (long i = 0; i < n; i++) {
        nlpd_test_alloc_fail_after(i);
        assert_true(call_helpers(f->front_ep) > 0);
        nlpd_test_alloc_reset();
        assert_int_equal(nlpd_test_alloc_live(), live0);
    }
}

int
main(void)
{
    /* Before any allocation, so every block is freed by the allocator that
     * made it; the tests that walk failures use its counters. */
    nlpd_test_alloc_install();
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_client_submit_gets_accepted_then_result),
        T(test_client_ping_gets_pong_with_version),
        T(test_client_finds_the_front_door_in_the_runtime_dir),
        T(test_client_open_refuses_a_bad_endpoint),
        T(test_client_recv_times_out_when_nothing_comes),
        T(test_client_recv_reports_malformed_replies_as_eproto),
        T(test_client_submit_to_refusing_daemon_gets_refused),
        T(test_control_call_returns_the_json_of_ok),
        T(test_control_call_returns_einval_with_the_message_of_error),
        T(test_control_call_times_out_when_nobody_answers),
        T(test_client_backoff_doubles_from_5_ms_to_1_s_with_jitter),
        T(test_client_minimal_json_keeps_only_evaluation_fields),
        T(test_client_error_line_has_id_line_and_errors),
        T(test_client_options_go_into_a_submission),
        T(test_client_render_refuses_bytes_that_are_not_a_document),
        T(test_client_annotate_writes_results_in_input_order),
        T(test_client_annotate_resends_documents_refused_as_busy),
        T(test_client_annotate_puts_error_lines_in_place_of_failures),
        T(test_client_annotate_gives_up_on_documents_after_the_timeout),
        T(test_client_annotate_stops_when_asked_and_counts_the_unanswered),
        T(test_client_annotate_handles_10k_lines_in_bounded_memory),
        T(test_client_annotate_returns_enomem_without_leaks),
        T(test_client_helpers_return_enomem_without_leaks),
    };
#undef T
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
