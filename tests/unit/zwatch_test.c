/* tests/unit/zwatch_test.c — a ZeroMQ socket in a libuv loop (nlpd__zwatch)
 * and the multipart helpers under it, over inproc:// with a real loop.
 *
 * ZMQ_FD is edge-triggered: it signals that the socket has commands to
 * process, not that messages wait, and any call that processes commands
 * (a send, ZMQ_EVENTS) consumes the edge. The tests consume it on purpose
 * with ZMQ_EVENTS to reach the states the watcher must handle, and every
 * loop run is bounded by a timer.
 */
#include "nlpd/error.h"
#include "nlpd_internal.h"
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>
#include <zmq.h>

/* A test of a reported, still open bug starts with KNOWN_BUG(): it skips, so
 * the suite stays green, unless NLPD_TEST_KNOWN_BUGS is set in the
 * environment, which shows the failure. */
#define KNOWN_BUG()                                 \
    do {                                            \
        if (getenv("NLPD_TEST_KNOWN_BUGS") == NULL) \
            skip();                                 \
    } while (0)

#define MAX_KEEP 64

typedef struct fixture {
    void *zctx;
    void *a; /* watched */
    void *b; /* the peer */
    uv_loop_t loop;
    nlpd__zwatch w;
    int started;
    uv_timer_t timer;  /* bounds each run */
    uv_prepare_t prep; /* counts loop iterations */
    uv_check_t check;  /* ends each iteration: per-iteration counts */
    unsigned long iterations;
    int timed_out;

    /* What on_msg saw. */
    int received;
    int stop_at;    /* uv_stop when received reaches it (0: never) */
    int pause_at;   /* pause from inside on_msg at this count (0: never) */
    int close_at;   /* close from inside on_msg at this count (0: never) */
    int in_iter;    /* messages in the current loop iteration */
    int max_iter;   /* most in one iteration */
    int busy_iters; /* iterations that delivered something */
    int order_ok;
    int closed_calls;
    int frames[MAX_KEEP];
    int extra[MAX_KEEP];
    char first[MAX_KEEP][32];
    char routing_id[64];
} fixture;

static void
on_timeout(uv_timer_t *t)
{
    fixture *f = t->data;
    f->timed_out = 1;
    uv_stop(&f->loop);
}

static void
on_prepare(uv_prepare_t *p)
{
    fixture *f = p->data;
    f->iterations++;
}

static void
on_check(uv_check_t *c)
{
    fixture *f = c->data;
    if (f->in_iter > f->max_iter)
        f->max_iter = f->in_iter;
    if (f->in_iter > 0)
        f->busy_iters++;
    f->in_iter = 0;
}

static void
on_closed(nlpd__zwatch *w)
{
    fixture *f = w->data;
    f->closed_calls++;
}

static void
on_msg(nlpd__zwatch *w, nlpd__frames *fr)
{
    fixture *f = w->data;
    int i = f->received;
    if (i < MAX_KEEP) {
        f->frames[i] = fr->n;
        f->extra[i] = fr->extra;
        nlpd__frame_str(fr, fr->n > 1 ? 1 : 0, f->first[i], sizeof(f->first[i]));
        if (fr->n > 1 && f->routing_id[0] == '\0')
            nlpd__frame_str(fr, 0, f->routing_id, sizeof(f->routing_id));
    }
    /* Burst messages carry their index as 4 bytes. */
    if (fr->n == 1 && nlpd__frame_size(fr, 0) == 4) {
        uint32_t idx;
        memcpy(&idx, nlpd__frame_data(fr, 0), 4);
        if (idx != (uint32_t)i)
            f->order_ok = 0;
    }
    f->received++;
    f->in_iter++;
    if (f->pause_at != 0 && f->received == f->pause_at)
        nlpd__zwatch_pause(w);
    if (f->close_at != 0 && f->received == f->close_at)
        nlpd__zwatch_close(w, on_closed);
    if (f->stop_at != 0 && f->received >= f->stop_at)
        uv_stop(&f->loop);
}

static void
set_int(void *sock, int opt, int v)
{
    assert_int_equal(zmq_setsockopt(sock, opt, &v, sizeof(v)), 0);
}

/* Makes the pair: `a` binds (watched), `b` connects. */
static void
make_pair(fixture *f, int type_a, int type_b, int hwm)
{
    static int seq;
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://zwatch-%d", ++seq);
    f->a = zmq_socket(f->zctx, type_a);
    f->b = zmq_socket(f->zctx, type_b);
    assert_non_null(f->a);
    assert_non_null(f->b);
    set_int(f->a, ZMQ_LINGER, 0);
    set_int(f->b, ZMQ_LINGER, 0);
    if (hwm >= 0) {
        set_int(f->a, ZMQ_RCVHWM, hwm);
        set_int(f->a, ZMQ_SNDHWM, hwm);
        set_int(f->b, ZMQ_RCVHWM, hwm);
        set_int(f->b, ZMQ_SNDHWM, hwm);
    }
    if (type_b == ZMQ_DEALER)
        assert_int_equal(zmq_setsockopt(f->b, ZMQ_ROUTING_ID, "peer", 4), 0);
    assert_int_equal(zmq_bind(f->a, ep), 0);
    assert_int_equal(zmq_connect(f->b, ep), 0);
}

static void
start_watch(fixture *f, unsigned batch)
{
    memset(&f->w, 0, sizeof(f->w));
    f->w.batch = batch;
    assert_int_equal(nlpd__zwatch_start(&f->w, &f->loop, f->a, on_msg, f), 0);
    assert_ptr_equal(f->w.data, f);
    f->started = 1;
}

/* Runs the loop until on_msg stops it or `ms` pass; returns 1 on timeout. */
static int
run_for(fixture *f, uint64_t ms)
{
    f->timed_out = 0;
    assert_int_equal(uv_timer_start(&f->timer, on_timeout, ms, 0), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&f->timer);
    return f->timed_out;
}

/* Makes the socket process its pending commands, as a send on it would:
 * the ZMQ_FD edge is gone, whatever still waits. */
static void
eat_edge(void *sock)
{
    (void)nlpd__zmq_events(sock);
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->order_ok = 1;
    f->zctx = zmq_ctx_new();
    if (f->zctx == NULL || uv_loop_init(&f->loop) != 0)
        return -1;
    uv_timer_init(&f->loop, &f->timer);
    uv_prepare_init(&f->loop, &f->prep);
    uv_check_init(&f->loop, &f->check);
    f->timer.data = f->prep.data = f->check.data = f;
    uv_prepare_start(&f->prep, on_prepare);
    uv_check_start(&f->check, on_check);
    /* The helpers must not keep the loop alive on their own. */
    uv_unref((uv_handle_t *)&f->prep);
    uv_unref((uv_handle_t *)&f->check);
    *state = f;
    return 0;
}

static void
close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int
teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    if (f->started && f->w.open > 0)
        nlpd__zwatch_close(&f->w, NULL);
    uv_walk(&f->loop, close_any, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    /* libuv's MAKE_VALGRIND_HAPPY: nothing may be left open. */
    if (uv_loop_close(&f->loop) != 0)
        rc = -1;
    if (f->a != NULL)
        zmq_close(f->a);
    if (f->b != NULL)
        zmq_close(f->b);
    zmq_ctx_term(f->zctx);
    free(f);
    return rc;
}

/* --- Tests ---------------------------------------------------------------------- */

static void
test_zwatch_delivers_messages_sent_before_the_watch_starts(void **state)
{
    fixture *f = *state;
    make_pair(f, ZMQ_PULL, ZMQ_PUSH, -1);
    for (int i = 0; i < 3; i++) {
        char m[16];
        snprintf(m, sizeof(m), "early-%d", i);
        assert_int_equal(nlpd__send_str(f->b, m, 0), 0);
    }
    /* The edge came and went before the watch: only a look at ZMQ_EVENTS
     * when starting finds the messages. */
    eat_edge(f->a);
    assert_true(nlpd__zmq_events(f->a) & ZMQ_POLLIN);
    f->stop_at = 3;
    start_watch(f, 0);
    assert_int_equal(run_for(f, 5000), 0);
    assert_int_equal(f->received, 3);
    assert_string_equal(f->first[0], "early-0");
    assert_string_equal(f->first[2], "early-2");
}

static void
test_zwatch_delivers_a_burst_of_ten_thousand_messages_in_batches(void **state)
{
    fixture *f = *state;

    enum { N = 10000, BATCH = 100 };

    make_pair(f, ZMQ_PULL, ZMQ_PUSH, 0);
    start_watch(f, BATCH);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(nlpd__send_bytes(f->b, &i, sizeof(i), 0), 0);
    f->stop_at = N;
    assert_int_equal(run_for(f, 20000), 0);
    assert_int_equal(f->received, N);
    assert_true(f->order_ok);
    /* In batches: the idle and the poll callback may each take one batch
     * in an iteration, never more, and the burst spans many iterations. */
    assert_true(f->max_iter <= 2 * BATCH);
    assert_true(f->busy_iters >= N / (2 * BATCH));
    /* Nothing is left behind, and nothing more comes. */
    f->stop_at = 0;
    assert_int_equal(run_for(f, 50), 1);
    assert_int_equal(f->received, N);
}

static void
test_zwatch_holds_messages_while_paused_and_delivers_them_on_resume(void **state)
{
    fixture *f = *state;
    make_pair(f, ZMQ_PULL, ZMQ_PUSH, -1);
    start_watch(f, 0);
    nlpd__zwatch_pause(&f->w);
    for (int i = 0; i < 5; i++)
        assert_int_equal(nlpd__send_str(f->b, "m", 0), 0);
    assert_int_equal(run_for(f, 100), 1);
    assert_int_equal(f->received, 0);
    nlpd__zwatch_resume(&f->w);
    f->stop_at = 5;
    assert_int_equal(run_for(f, 5000), 0);
    assert_int_equal(f->received, 5);

    /* Paused from inside the callback: the batch stops there. */
    f->pause_at = 7;
    f->stop_at = 7;
    for (int i = 0; i < 5; i++)
        assert_int_equal(nlpd__send_str(f->b, "n", 0), 0);
    assert_int_equal(run_for(f, 5000), 0);
    assert_int_equal(f->received, 7);
    f->stop_at = 0;
    assert_int_equal(run_for(f, 100), 1);
    assert_int_equal(f->received, 7);
    f->stop_at = 10;
    nlpd__zwatch_resume(&f->w);
    assert_int_equal(run_for(f, 5000), 0);
    assert_int_equal(f->received, 10);
}

/* BUG: while paused, zwatch_drain (zwatch.c:13) returns without touching
 * the socket, so the ZMQ_FD edge of a message that arrives is never
 * consumed and the still-running uv_poll (level-triggered) fires on every
 * loop iteration: a paused watcher spins the loop at 100% CPU. */
static void
test_zwatch_does_not_spin_the_loop_while_paused_with_a_message_waiting(void **state)
{
    fixture *f = *state;
    make_pair(f, ZMQ_PULL, ZMQ_PUSH, -1);
    start_watch(f, 0);
    nlpd__zwatch_pause(&f->w);
    assert_int_equal(nlpd__send_str(f->b, "waits", 0), 0);
    f->iterations = 0;
    assert_int_equal(run_for(f, 200), 1);
    assert_int_equal(f->received, 0);
    /* An idle loop turns a handful of times in 200 ms, not thousands. */
    if (f->iterations > 50)
        fail_msg("the loop turned %lu times in 200 ms while paused", f->iterations);
}

static void
test_zwatch_kick_delivers_a_message_whose_edge_a_send_consumed(void **state)
{
    fixture *f = *state;
    make_pair(f, ZMQ_ROUTER, ZMQ_DEALER, -1);
    start_watch(f, 0);
    assert_int_equal(nlpd__send_str(f->b, "ping-1", 0), 0);
    f->stop_at = 1;
    assert_int_equal(run_for(f, 5000), 0);
    assert_string_equal(f->routing_id, "peer");
    assert_string_equal(f->first[0], "ping-1");

    /* The peer sends again; the watched socket sends before the loop looks,
     * and the send processes the socket's commands: the edge is eaten. */
    assert_int_equal(nlpd__send_str(f->b, "ping-2", 0), 0);
    assert_int_equal(nlpd__send_str(f->a, "peer", ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_str(f->a, "pong", 0), 0);
    eat_edge(f->a);
    f->stop_at = 2;
    assert_int_equal(run_for(f, 100), 1); /* the pitfall: nothing wakes the loop */
    assert_int_equal(f->received, 1);
    nlpd__zwatch_kick(&f->w); /* what the owner must do after sending */
    assert_int_equal(run_for(f, 5000), 0);
    assert_int_equal(f->received, 2);
    assert_string_equal(f->first[1], "ping-2");

    /* The peer got the reply. */
    zmq_pollitem_t it = {f->b, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, 5000), 1);
    char buf[16] = "";
    assert_int_equal(zmq_recv(f->b, buf, sizeof(buf) - 1, 0), 4);
    assert_string_equal(buf, "pong");
}

static void
test_zwatch_close_runs_on_closed_once_when_both_handles_are_closed(void **state)
{
    fixture *f = *state;
    make_pair(f, ZMQ_PULL, ZMQ_PUSH, -1);
    start_watch(f, 0);
    assert_int_equal(f->w.open, 2);
    nlpd__zwatch_close(&f->w, on_closed);
    nlpd__zwatch_close(&f->w, on_closed); /* a second close changes nothing */
    assert_int_equal(f->closed_calls, 0); /* not before the handles are */
    /* A message arriving now is not delivered. */
    assert_int_equal(nlpd__send_str(f->b, "late", 0), 0);
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* returns once nothing is active */
    assert_int_equal(f->closed_calls, 1);
    assert_int_equal(f->w.open, 0);
    assert_int_equal(f->received, 0);
    uv_walk(&f->loop, close_any, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0); /* for the teardown */
    f->started = 0;

    /* A watcher that never opened a handle reports closed at once. */
    nlpd__zwatch never;
    memset(&never, 0, sizeof(never));
    never.data = f;
    nlpd__zwatch_close(&never, on_closed);
    assert_int_equal(f->closed_calls, 2);
}

static void
test_zwatch_stops_delivering_when_closed_from_inside_on_msg(void **state)
{
    fixture *f = *state;
    make_pair(f, ZMQ_PULL, ZMQ_PUSH, -1);
    for (int i = 0; i < 10; i++)
        assert_int_equal(nlpd__send_str(f->b, "x", 0), 0);
    f->close_at = 3;
    f->stop_at = 3;
    start_watch(f, 0);
    assert_int_equal(run_for(f, 5000), 0);
    f->stop_at = 0;
    assert_int_equal(run_for(f, 100), 1); /* nothing after the close */
    assert_int_equal(f->received, 3);
    assert_int_equal(f->closed_calls, 1);
    assert_int_equal(f->w.open, 0);
}

static void
test_zwatch_passes_whole_multipart_messages_and_counts_frames_beyond_the_limit(void **state)
{
    fixture *f = *state;
    make_pair(f, ZMQ_PULL, ZMQ_PUSH, -1);
    assert_int_equal(nlpd__send_str(f->b, "one", ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_str(f->b, "two", ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_bytes(f->b, "", 0, 0), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(nlpd__send_str(f->b, "f", i < 9 ? ZMQ_SNDMORE : 0), 0);
    assert_int_equal(nlpd__send_str(f->b, "after", 0), 0);
    f->stop_at = 3;
    start_watch(f, 0);
    assert_int_equal(run_for(f, 5000), 0);
    assert_int_equal(f->frames[0], 3);
    assert_int_equal(f->extra[0], 0);
    assert_string_equal(f->first[0], "two");
    assert_int_equal(f->frames[1], NLPD__MAX_FRAMES);
    assert_int_equal(f->extra[1], 10 - NLPD__MAX_FRAMES);
    /* The frames beyond the limit were read, not left to start the next
     * message. */
    assert_int_equal(f->frames[2], 1);
    assert_string_equal(f->first[2], "after");
}

static void
test_frames_helpers_read_compare_and_bound_frames(void **state)
{
    fixture *f = *state;
    make_pair(f, ZMQ_PULL, ZMQ_PUSH, -1);
    nlpd__frames fr;
    assert_int_equal(nlpd__recv_frames(f->a, &fr, ZMQ_DONTWAIT), NLPD_EAGAIN);
    assert_int_equal(nlpd__send_str(f->b, "VERB", ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_bytes(f->b, "a\0b", 3, ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_str(f->b, "a long frame", 0), 0);
    zmq_pollitem_t it = {f->a, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, 5000), 1);
    assert_int_equal(nlpd__recv_frames(f->a, &fr, ZMQ_DONTWAIT), 0);
    assert_int_equal(fr.n, 3);
    assert_true(nlpd__frame_is(&fr, 0, "VERB"));
    assert_false(nlpd__frame_is(&fr, 0, "VERBS"));
    assert_false(nlpd__frame_is(&fr, 0, "VER"));
    assert_false(nlpd__frame_is(&fr, 3, "VERB"));
    assert_int_equal(nlpd__frame_size(&fr, 1), 3);
    assert_memory_equal(nlpd__frame_data(&fr, 1), "a\0b", 3);
    assert_int_equal(nlpd__frame_size(&fr, 5), 0);
    assert_null(nlpd__frame_data(&fr, 5));
    char small[6];
    assert_int_equal(nlpd__frame_str(&fr, 2, small, sizeof(small)), 12); /* full length */
    assert_string_equal(small, "a lon");
    char buf[16];
    assert_int_equal(nlpd__frame_str(&fr, 1, buf, sizeof(buf)), 3);
    assert_string_equal(buf, "a"); /* cut at the NUL */
    assert_int_equal(nlpd__frame_str(&fr, 3, buf, sizeof(buf)), -1);
    nlpd__frames_close(&fr);
    assert_int_equal(fr.n, 0);
}

int
main(void)
{
    if (getenv("NLPD_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("NLPD_TEST_FILTER"));
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_zwatch_delivers_messages_sent_before_the_watch_starts),
        T(test_zwatch_delivers_a_burst_of_ten_thousand_messages_in_batches),
        T(test_zwatch_holds_messages_while_paused_and_delivers_them_on_resume),
        T(test_zwatch_does_not_spin_the_loop_while_paused_with_a_message_waiting),
        T(test_zwatch_kick_delivers_a_message_whose_edge_a_send_consumed),
        T(test_zwatch_close_runs_on_closed_once_when_both_handles_are_closed),
        T(test_zwatch_stops_delivering_when_closed_from_inside_on_msg),
        T(test_zwatch_passes_whole_multipart_messages_and_counts_frames_beyond_the_limit),
        T(test_frames_helpers_read_compare_and_bound_frames),
    };
#undef T
    return cmocka_run_group_tests_name("zwatch", tests, NULL, NULL);
}
