/* tests/unit/runtime_test.c — the stage runtime (nlpd_stage_main) as a
 * daemon sees it.
 *
 * Each test forks a worker running a tiny stage defined here and plays the
 * daemon itself: a ROUTER on the stage endpoint and a PULL on the heartbeat
 * endpoint, both ipc:// in a fresh temporary directory. The child is forked
 * before the parent creates its ZeroMQ context, so it inherits no sockets
 * or threads; it exits through exit() so LeakSanitizer checks the runtime.
 * Every receive is bounded by zmq_poll, every wait for the child by a
 * deadline, and the teardown kills a child a failed test left behind.
 */
#include "nlpd/doc.h"
#include "nlpd/error.h"
#include "nlpd/stage.h"
#include "nlpd_internal.h"
#include "test_support.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

/* A test of a reported, still open bug starts with KNOWN_BUG(): it skips, so
 * the suite stays green, unless NLPD_TEST_KNOWN_BUGS is set in the
 * environment, which shows the failure. */
#define KNOWN_BUG()                                 \
    do {                                            \
        if (getenv("NLPD_TEST_KNOWN_BUGS") == NULL) \
            skip();                                 \
    } while (0)

#define WORKER_ID  "rtest-worker-1"
#define TIMEOUT_MS 10000

/* --- The stage under test (runs in the child) ------------------------------------- */

static int rt_state_token = 7;

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L}, rem;
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem; /* a signal (SIGTERM) does not cut the document short */
}

static int
has(const char *text, size_t len, const char *marker)
{
    return memmem(text, len, marker, strlen(marker)) != NULL;
}

static int
rt_init(void **state, int argc, char **argv)
{
    /* The runtime took its own options and left the stage's. */
    if (argc != 2 || strcmp(argv[1], "--own-option") != 0 || argv[2] != NULL)
        return NLPD_EINVAL;
    *state = &rt_state_token;
    return 0;
}

static int
rt_init_fails(void **state, int argc, char **argv)
{
    (void)state;
    (void)argc;
    (void)argv;
    return NLPD_EMODEL;
}

/* Marks the run's directory so the test can see fini ran. */
static void
rt_fini(void *state)
{
    const char *dir = getenv("NLPD_RT_TEST_DIR");
    if (state != &rt_state_token || dir == NULL)
        return;
    char path[4200];
    snprintf(path, sizeof(path), "%s/fini-ran", dir);
    FILE *f = fopen(path, "w");
    if (f != NULL)
        fclose(f);
}

/* Annotates every document; the text's markers make it sleep or fail. */
static int
rt_process(void *state, nlpd_doc *doc, nlpd_stage_ctx *ctx)
{
    if (state != &rt_state_token)
        return NLPD_EINVAL;
    size_t len;
    const char *text = nlpd_doc_text(doc, &len);
    nlpd_span all = {0, (uint32_t)len};
    int rc = nlpd_doc_add_annotation(doc, "seen", &all, nlpd_stage_worker_id(ctx), 1.0);
    if (rc != 0)
        return rc;
    if (has(text, len, "SLEEP"))
        sleep_ms(300);
    if (has(text, len, "FATAL")) {
        nlpd_stage_fail(ctx, "broken", 1, "fatal marker");
        return NLPD_EINVAL;
    }
    if (has(text, len, "FAIL")) {
        nlpd_stage_fail(ctx, "bad_input", 0, "marker %s found", "FAIL");
        return NLPD_EINVAL;
    }
    if (has(text, len, "ERRNO"))
        return NLPD_EMODEL; /* no nlpd_stage_fail: the runtime words it */
    return 0;
}

static const nlpd_stage_def stage_ok = {
    .abi = NLPD_STAGE_ABI,
    .name = "rtest",
    .version = "1.2.3",
    .init = rt_init,
    .process = rt_process,
    .fini = rt_fini,
};

static const nlpd_stage_def stage_init_fails = {
    .abi = NLPD_STAGE_ABI,
    .name = "rtest",
    .version = "1.2.3",
    .init = rt_init_fails,
    .process = rt_process,
    .fini = rt_fini,
};

static const nlpd_stage_def stage_wrong_abi = {
    .abi = NLPD_STAGE_ABI + 41,
    .name = "rtest",
    .process = rt_process,
};

static const nlpd_stage_def stage_no_process = {
    .abi = NLPD_STAGE_ABI,
    .name = "rtest",
};

/* --- The daemon's side (runs in the test) ------------------------------------------- */

typedef struct spawn_opts {
    const nlpd_stage_def *def;
    const char *window;       /* NLPD_WINDOW, NULL: unset */
    const char *heartbeat_ms; /* NULL: "50" */
    int no_endpoint;          /* leave NLPD_STAGE_ENDPOINT unset */
    const char *arg;          /* NULL: "--own-option" */
    int orphan;               /* start the worker re-parented: its parent gone */
    const char *spawned;      /* NLPD_SPAWNED; "parent": the pid of its first parent;
                               * NULL: unset */
} spawn_opts;

typedef struct rt {
    char *dir;
    char ep[4200];
    char hb[4200];
    void *zctx;
    void *router;
    void *pull;
    pid_t pid;
    int reaped;
    int status;
    int orphan_fd; /* an orphaned worker's exit code comes here (-1: none) */
    /* Buffers and decoded messages the test made, freed by the teardown even
     * when an assertion cuts the test short: a forked worker would otherwise
     * inherit the leak and its LeakSanitizer would fail a later test. */
    void *bufs[64];
    int n_bufs;
    Nlpd__V1__Document *msgs[16];
    int n_msgs;
    /* What the test sent, by key: an ADDED answer is appended to it, as the
     * daemon does. */
    struct {
        char key[256];
        const void *doc;
        size_t len;
    } sent[32];
    int n_sent;
} rt;

static void *
track(rt *r, void *p)
{
    assert_non_null(p);
    assert_true(r->n_bufs < 64);
    r->bufs[r->n_bufs++] = p;
    return p;
}

static int
setup(void **state)
{
    rt *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -1;
    r->dir = nlpd_test_tmpdir("nlpd-rt-test");
    r->orphan_fd = -1;
    snprintf(r->ep, sizeof(r->ep), "ipc://%s/stage", r->dir);
    snprintf(r->hb, sizeof(r->hb), "ipc://%s/heartbeat", r->dir);
    *state = r;
    return 0;
}

static int
teardown(void **state)
{
    rt *r = *state;
    if (r->pid > 0 && !r->reaped) {
        kill(r->pid, SIGKILL);
        if (r->orphan_fd < 0)
            waitpid(r->pid, NULL, 0);
    }
    if (r->orphan_fd >= 0)
        close(r->orphan_fd);
    if (r->router != NULL)
        zmq_close(r->router);
    if (r->pull != NULL)
        zmq_close(r->pull);
    if (r->zctx != NULL)
        zmq_ctx_term(r->zctx);
    for (int i = 0; i < r->n_bufs; i++)
        free(r->bufs[i]);
    for (int i = 0; i < r->n_msgs; i++)
        nlpd__v1__document__free_unpacked(r->msgs[i], NULL);
    nlpd_test_rmtree(r->dir);
    free(r->dir);
    free(r);
    return 0;
}

static void
set_int(void *sock, int opt, int v)
{
    assert_int_equal(zmq_setsockopt(sock, opt, &v, sizeof(v)), 0);
}

/* In the child: forks again and lets the first child exit, so that the
 * worker is re-parented (to PID 1, or to a subreaper); returns in the
 * grandchild once its first parent is gone and reaped, with that parent's
 * pid in *first_parent. The grandchild's pid, then its exit code, go to
 * `fd` (see wait_exit). */
static void
orphan_self(int fd, pid_t *first_parent)
{
    pid_t mid = getpid();
    pid_t pid = fork();
    if (pid < 0)
        _exit(99);
    if (pid > 0)
        _exit(0); /* the test reaps it */
    *first_parent = mid;
    for (int i = 0; i < 2000 && (getppid() == mid || kill(mid, 0) == 0); i++)
        usleep(5000);
    if (getppid() == mid || kill(mid, 0) == 0)
        _exit(98);
    pid_t self = getpid();
    if (write(fd, &self, sizeof(self)) != (ssize_t)sizeof(self))
        _exit(97);
}

/* Forks the worker, then binds the daemon's sockets. */
static void
spawn(rt *r, const spawn_opts *o)
{
    fflush(stdout); /* the child must not flush the parent's buffers again */
    fflush(stderr);
    int fds[2] = {-1, -1};
    if (o->orphan)
        assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pid_t first_parent = getppid();
        if (o->orphan) {
            close(fds[0]);
            orphan_self(fds[1], &first_parent);
        }
        if (o->spawned == NULL) {
            unsetenv(NLPD_ENV_SPAWNED);
        } else if (strcmp(o->spawned, "parent") == 0) {
            char num[32];
            snprintf(num, sizeof(num), "%d", (int)first_parent);
            setenv(NLPD_ENV_SPAWNED, num, 1);
        } else {
            setenv(NLPD_ENV_SPAWNED, o->spawned, 1);
        }
        /* --help and --version print there; the test's TAP output is there. */
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(99);
        if (o->no_endpoint)
            unsetenv(NLPD_ENV_ENDPOINT);
        else
            setenv(NLPD_ENV_ENDPOINT, r->ep, 1);
        setenv(NLPD_ENV_CONTROL, r->hb, 1);
        setenv(NLPD_ENV_WORKER_ID, WORKER_ID, 1);
        setenv(NLPD_ENV_HEARTBEAT_MS, o->heartbeat_ms != NULL ? o->heartbeat_ms : "50", 1);
        setenv(NLPD_ENV_LOG_LEVEL, "err", 1);
        unsetenv(NLPD_ENV_STAGE);
        if (o->window != NULL)
            setenv(NLPD_ENV_WINDOW, o->window, 1);
        else
            unsetenv(NLPD_ENV_WINDOW);
        setenv("NLPD_RT_TEST_DIR", r->dir, 1);
        char prog[] = "nlpd-rtest";
        char arg[64];
        snprintf(arg, sizeof(arg), "%s", o->arg != NULL ? o->arg : "--own-option");
        char *argv[] = {prog, arg, NULL};
        int code = nlpd_stage_main(o->def, 2, argv);
        if (o->orphan && write(fds[1], &code, sizeof(code)) != (ssize_t)sizeof(code))
            code = 96;
        exit(code);
    }
    r->pid = pid;
    if (o->orphan) {
        close(fds[1]);
        r->orphan_fd = fds[0];
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* The grandchild says its pid once it is re-parented. */
        struct pollfd pf = {r->orphan_fd, POLLIN, 0};
        assert_int_equal(poll(&pf, 1, TIMEOUT_MS), 1);
        assert_int_equal(read(r->orphan_fd, &r->pid, sizeof(r->pid)), (ssize_t)sizeof(r->pid));
    }
    r->zctx = zmq_ctx_new();
    assert_non_null(r->zctx);
    r->router = zmq_socket(r->zctx, ZMQ_ROUTER);
    r->pull = zmq_socket(r->zctx, ZMQ_PULL);
    set_int(r->router, ZMQ_LINGER, 0);
    set_int(r->pull, ZMQ_LINGER, 0);
    assert_int_equal(zmq_bind(r->router, r->ep), 0);
    assert_int_equal(zmq_bind(r->pull, r->hb), 0);
}

static uint64_t
now_ms(void)
{
    return nlpd__mono_us() / 1000u;
}

/* Receives one message within `ms`; returns 0 or NLPD_ETIMEDOUT. */
static int
recv_within(void *sock, nlpd__frames *fr, long ms)
{
    uint64_t deadline = now_ms() + (uint64_t)ms;
    for (;;) {
        uint64_t t = now_ms();
        long left = t >= deadline ? 0 : (long)(deadline - t);
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&it, 1, left);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n <= 0)
            return NLPD_ETIMEDOUT;
        int rc = nlpd__recv_frames(sock, fr, ZMQ_DONTWAIT);
        if (rc != NLPD_EAGAIN)
            return rc;
    }
}

/* Receives the worker's next message, which must be `verb`:
 * fr = [routing id, verb, ...]. */
static void
expect(rt *r, const char *verb, nlpd__frames *fr)
{
    int rc = recv_within(r->router, fr, TIMEOUT_MS);
    if (rc != 0)
        fail_msg("waiting for %s: %s", verb, nlpd_strerror(rc));
    if (!nlpd__frame_is(fr, 1, verb)) {
        char got[32] = "";
        nlpd__frame_str(fr, 1, got, sizeof(got));
        nlpd__frames_close(fr);
        fail_msg("expected %s, got %s", verb, got);
    }
    assert_true(nlpd__frame_is(fr, 0, WORKER_ID));
}

/* An answer to a document: DONE (the whole document) or ADDED (only the
 * additions, which the daemon appends to the document it sent). */
static int
is_answer(const nlpd__frames *fr)
{
    return nlpd__frame_is(fr, 1, NLPD_W_DONE) || nlpd__frame_is(fr, 1, NLPD_W_ADDED);
}

/* Receives the answer to a document: DONE or ADDED. */
static void
expect_answer(rt *r, nlpd__frames *fr)
{
    int rc = recv_within(r->router, fr, TIMEOUT_MS);
    if (rc != 0)
        fail_msg("waiting for DONE/ADDED: %s", nlpd_strerror(rc));
    if (!is_answer(fr)) {
        char got[32] = "";
        nlpd__frame_str(fr, 1, got, sizeof(got));
        nlpd__frames_close(fr);
        fail_msg("expected DONE or ADDED, got %s", got);
    }
    assert_true(nlpd__frame_is(fr, 0, WORKER_ID));
}

/* Asserts nothing comes from the worker within `ms`. */
static void
expect_silence(rt *r, long ms)
{
    nlpd__frames fr;
    if (recv_within(r->router, &fr, ms) == 0) {
        char got[32] = "";
        nlpd__frame_str(&fr, 1, got, sizeof(got));
        nlpd__frames_close(&fr);
        fail_msg("expected nothing, got %s", got);
    }
}

/* Waits for HELLO and checks it; returns the window it announced. */
static uint32_t
expect_hello(rt *r)
{
    nlpd__frames fr;
    expect(r, NLPD_W_HELLO, &fr);
    assert_int_equal(fr.n, 3);
    Nlpd__V1__WorkerHello *h =
        nlpd__v1__worker_hello__unpack(NULL, nlpd__frame_size(&fr, 2), nlpd__frame_data(&fr, 2));
    assert_non_null(h);
    assert_string_equal(h->stage, "rtest");
    assert_string_equal(h->version, "1.2.3");
    assert_string_equal(h->worker, WORKER_ID);
    assert_int_equal(h->pid, r->pid);
    assert_true(h->host != NULL && h->host[0] != '\0');
    uint32_t window = h->window;
    nlpd__v1__worker_hello__free_unpacked(h, NULL);
    nlpd__frames_close(&fr);
    return window;
}

static void
send_to_worker(rt *r, const char *verb, const char *key, const void *doc, size_t len)
{
    assert_int_equal(nlpd__send_str(r->router, WORKER_ID, ZMQ_SNDMORE), 0);
    if (key == NULL) {
        assert_int_equal(nlpd__send_str(r->router, verb, 0), 0);
        return;
    }
    assert_int_equal(nlpd__send_str(r->router, verb, ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_str(r->router, key, ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_bytes(r->router, doc, len, 0), 0);
    assert_true(r->n_sent < 32);
    snprintf(r->sent[r->n_sent].key, sizeof(r->sent[0].key), "%s", key);
    r->sent[r->n_sent].doc = doc;
    r->sent[r->n_sent].len = len;
    r->n_sent++;
}


static void
expect_started(rt *r, const char *key)
{
    nlpd__frames fr;
    expect(r, NLPD_W_STARTED, &fr);
    assert_int_equal(fr.n, 3);
    char got[256];
    nlpd__frame_str(&fr, 2, got, sizeof(got));
    assert_string_equal(got, key);
    nlpd__frames_close(&fr);
}

/* Waits for DONE of `key` with `status`; returns the document (the
 * fixture's). */
static uint8_t *
expect_done(rt *r, const char *key, const char *status, size_t *len)
{
    nlpd__frames fr;
    expect_answer(r, &fr);
    assert_int_equal(fr.n, 5);
    char got[256];
    nlpd__frame_str(&fr, 2, got, sizeof(got));
    assert_string_equal(got, key);
    nlpd__frame_str(&fr, 3, got, sizeof(got));
    assert_string_equal(got, status);
    const void *base = NULL;
    size_t base_len = 0;
    if (nlpd__frame_is(&fr, 1, NLPD_W_ADDED)) {
        int found = 0;
        for (int i = r->n_sent - 1; i >= 0 && !found; i--) {
            if (strcmp(r->sent[i].key, key) == 0) {
                base = r->sent[i].doc;
                base_len = r->sent[i].len;
                found = 1;
            }
        }
        assert_true(found);
    }
    size_t add = nlpd__frame_size(&fr, 4);
    *len = base_len + add;
    uint8_t *out = track(r, malloc(*len + 1));
    if (base_len > 0)
        memcpy(out, base, base_len);
    if (add > 0)
        memcpy(out + base_len, nlpd__frame_data(&fr, 4), add);
    nlpd__frames_close(&fr);
    return out;
}

static void
expect_bye(rt *r)
{
    nlpd__frames fr;
    expect(r, NLPD_W_BYE, &fr);
    assert_int_equal(fr.n, 2);
    nlpd__frames_close(&fr);
}

/* Waits for the child to exit; returns its exit status (fails on a signal
 * or the deadline). */
static int
wait_exit(rt *r)
{
    if (r->orphan_fd >= 0) {
        /* Not our child: it writes its exit code before exiting. */
        struct pollfd pf = {r->orphan_fd, POLLIN, 0};
        if (poll(&pf, 1, TIMEOUT_MS) != 1)
            fail_msg("the worker did not exit within %d ms", TIMEOUT_MS);
        int code = -1;
        if (read(r->orphan_fd, &code, sizeof(code)) != (ssize_t)sizeof(code))
            fail_msg("the worker died without an exit code");
        r->reaped = 1;
        return code;
    }
    uint64_t deadline = now_ms() + TIMEOUT_MS;
    for (;;) {
        pid_t p = waitpid(r->pid, &r->status, WNOHANG);
        if (p == r->pid)
            break;
        if (now_ms() > deadline)
            fail_msg("the worker did not exit within %d ms", TIMEOUT_MS);
        sleep_ms(5);
    }
    r->reaped = 1;
    if (!WIFEXITED(r->status))
        fail_msg("the worker died of signal %d", WTERMSIG(r->status));
    return WEXITSTATUS(r->status);
}

static int
fini_ran(rt *r)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/fini-ran", r->dir);
    struct stat st;
    return stat(path, &st) == 0;
}

/* An ingested document: text, key, an unknown field at the end (as a newer
 * producer would add), optionally an earlier stage's fatal error. The
 * buffer is the fixture's. */
static uint8_t *
make_doc(rt *r, const char *key, const char *text, int fatal, size_t *len)
{
    Nlpd__V1__Document d = NLPD__V1__DOCUMENT__INIT;
    Nlpd__V1__Error e = NLPD__V1__ERROR__INIT, *ep = &e;
    d.version = 1;
    d.key = (char *)key;
    d.text.data = (uint8_t *)text;
    d.text.len = strlen(text);
    if (fatal) {
        e.stage = "earlier";
        e.code = "broken";
        e.message = "gave up";
        e.fatal = 1;
        d.n_errors = 1;
        d.errors = &ep;
    }
    static const uint8_t unknown[] = {0x98, 0x06, 0x2a}; /* field 99 = 42 */
    size_t n = nlpd__v1__document__get_packed_size(&d);
    uint8_t *buf = track(r, malloc(n + sizeof(unknown)));
    nlpd__v1__document__pack(&d, buf);
    memcpy(buf + n, unknown, sizeof(unknown));
    *len = n + sizeof(unknown);
    return buf;
}

/* Decodes an answer (the fixture's) and checks it starts with the bytes
 * sent. */
static Nlpd__V1__Document *
decode_answer(rt *r, const uint8_t *in, size_t in_len, const uint8_t *out, size_t out_len)
{
    assert_true(out_len >= in_len);
    assert_memory_equal(out, in, in_len);
    Nlpd__V1__Document *d = nlpd__v1__document__unpack(NULL, out_len, out);
    assert_non_null(d);
    assert_true(r->n_msgs < 16);
    r->msgs[r->n_msgs++] = d;
    return d;
}

static void
stop_worker(rt *r)
{
    send_to_worker(r, NLPD_W_STOP, NULL, NULL, 0);
    expect_bye(r);
    assert_int_equal(wait_exit(r), 0);
}

/* --- Tests -------------------------------------------------------------------------- */

static void
test_runtime_says_hello_with_window_stage_and_pid_when_it_starts(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    assert_int_equal(expect_hello(r), 16); /* the default window */
    expect_silence(r, 100);               /* nothing else until it has work */
    stop_worker(r);
    assert_true(fini_ran(r));
}

static void
test_runtime_answers_a_document_with_the_bytes_received_followed_by_its_additions(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    expect_hello(r);
    size_t in_len, out_len;
    uint8_t *in = make_doc(r, "K-ok", "Plain text.", 0, &in_len);
    uint64_t t0 = nlpd__now_us();
    send_to_worker(r, NLPD_W_DOC, "K-ok", in, in_len);
    expect_started(r, "K-ok");
    uint8_t *out = expect_done(r, "K-ok", "ok", &out_len);
    Nlpd__V1__Document *d = decode_answer(r, in, in_len, out, out_len);
    assert_string_equal(d->key, "K-ok");
    assert_int_equal(d->n_annotations, 1);
    Nlpd__V1__Annotation *a = d->annotations[0];
    assert_string_equal(a->kind, "seen");
    assert_string_equal(a->value, WORKER_ID);
    assert_string_equal(a->stage, "rtest");
    assert_int_equal(a->has_span, 1);
    assert_int_equal(a->start, 0);
    assert_int_equal(a->end, 11);
    assert_int_equal(d->n_trace, 1);
    Nlpd__V1__Trace *t = d->trace[0];
    assert_string_equal(t->stage, "rtest");
    assert_string_equal(t->version, "1.2.3");
    assert_string_equal(t->worker, WORKER_ID);
    assert_true(t->started_unix_us >= t0 - 1000000u && t->started_unix_us <= nlpd__now_us());
    assert_true(t->elapsed_us < 10000000u);
    assert_int_equal(d->n_errors, 0);
    assert_int_equal(d->base.n_unknown_fields, 1); /* passed through, once */
    stop_worker(r);
}

static void
test_runtime_records_an_error_without_the_partial_additions_when_process_fails(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    expect_hello(r);
    size_t in_len, out_len;

    /* The stage explains itself with nlpd_stage_fail. */
    uint8_t *in = make_doc(r, "K-fail", "Please FAIL here.", 0, &in_len);
    send_to_worker(r, NLPD_W_DOC, "K-fail", in, in_len);
    expect_started(r, "K-fail");
    uint8_t *out = expect_done(r, "K-fail", "error", &out_len);
    Nlpd__V1__Document *d = decode_answer(r, in, in_len, out, out_len);
    assert_int_equal(d->n_errors, 1);
    assert_string_equal(d->errors[0]->stage, "rtest");
    assert_string_equal(d->errors[0]->code, "bad_input");
    assert_string_equal(d->errors[0]->message, "marker FAIL found");
    assert_int_equal(d->errors[0]->fatal, 0);
    assert_int_equal(d->n_annotations, 0); /* the half-done work is dropped */
    assert_int_equal(d->n_trace, 1);

    /* The stage only returns an error: the runtime words the record. */
    in = make_doc(r, "K-errno", "ERRNO", 0, &in_len);
    send_to_worker(r, NLPD_W_DOC, "K-errno", in, in_len);
    expect_started(r, "K-errno");
    out = expect_done(r, "K-errno", "error", &out_len);
    d = decode_answer(r, in, in_len, out, out_len);
    assert_int_equal(d->n_errors, 1);
    assert_string_equal(d->errors[0]->code, "stage_error");
    assert_string_equal(d->errors[0]->message, nlpd_strerror(NLPD_EMODEL));
    assert_int_equal(d->n_annotations, 0);

    /* The worker goes on, and the next document carries no trace of those. */
    in = make_doc(r, "K-next", "fine", 0, &in_len);
    send_to_worker(r, NLPD_W_DOC, "K-next", in, in_len);
    expect_started(r, "K-next");
    out = expect_done(r, "K-next", "ok", &out_len);
    d = decode_answer(r, in, in_len, out, out_len);
    assert_int_equal(d->n_errors, 0);
    assert_int_equal(d->n_annotations, 1);
    assert_int_equal(d->n_trace, 1);
    stop_worker(r);
}

static void
test_runtime_answers_fatal_when_the_stage_fails_fatally(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    expect_hello(r);
    size_t in_len, out_len;
    uint8_t *in = make_doc(r, "K-fatal", "FATAL input", 0, &in_len);
    send_to_worker(r, NLPD_W_DOC, "K-fatal", in, in_len);
    expect_started(r, "K-fatal");
    uint8_t *out = expect_done(r, "K-fatal", "fatal", &out_len);
    Nlpd__V1__Document *d = decode_answer(r, in, in_len, out, out_len);
    assert_int_equal(d->n_errors, 1);
    assert_string_equal(d->errors[0]->code, "broken");
    assert_string_equal(d->errors[0]->message, "fatal marker");
    assert_int_equal(d->errors[0]->fatal, 1);
    assert_int_equal(d->n_annotations, 0);
    stop_worker(r);
}

static void
test_runtime_passes_a_document_an_earlier_stage_marked_fatal_through_untouched(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    expect_hello(r);
    size_t in_len, out_len;
    uint8_t *in = make_doc(r, "K-dead", "would be annotated", 1, &in_len);
    send_to_worker(r, NLPD_W_DOC, "K-dead", in, in_len);
    expect_started(r, "K-dead");
    uint8_t *out = expect_done(r, "K-dead", "fatal", &out_len);
    /* Byte for byte what was sent: process() did not run, no trace. */
    assert_int_equal(out_len, in_len);
    assert_memory_equal(out, in, in_len);
    stop_worker(r);
}

static void
test_runtime_answers_malformed_when_the_document_cannot_be_decoded(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    expect_hello(r);
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x07};
    size_t out_len;
    send_to_worker(r, NLPD_W_DOC, "K-junk", junk, sizeof(junk));
    expect_started(r, "K-junk");
    uint8_t *out = expect_done(r, "K-junk", "malformed", &out_len);
    assert_int_equal(out_len, sizeof(junk)); /* returned as it came */
    assert_memory_equal(out, junk, sizeof(junk));

    /* An empty document is a valid (empty) Document. */
    send_to_worker(r, NLPD_W_DOC, "K-empty", "", 0);
    expect_started(r, "K-empty");
    out = expect_done(r, "K-empty", "ok", &out_len);
    Nlpd__V1__Document *d = decode_answer(r, (const uint8_t *)"", 0, out, out_len);
    assert_int_equal(d->n_annotations, 1);
    stop_worker(r);
}

/* Checks one received heartbeat; counts it in *with_key when it names
 * `key`, and gives its processed count. */
static void
check_heartbeat(rt *r, nlpd__frames *fr, const char *key, int *with_key, uint64_t *processed)
{
    assert_true(nlpd__frame_is(fr, 0, NLPD_W_HEARTBEAT));
    Nlpd__V1__Heartbeat *hb =
        nlpd__v1__heartbeat__unpack(NULL, nlpd__frame_size(fr, 1), nlpd__frame_data(fr, 1));
    nlpd__frames_close(fr);
    assert_non_null(hb);
    int ok = strcmp(hb->stage, "rtest") == 0 && strcmp(hb->worker, WORKER_ID) == 0 &&
             hb->pid == r->pid && hb->rss_kb > 0;
    if (key != NULL && strcmp(hb->current_key, key) == 0)
        (*with_key)++;
    if (processed != NULL)
        *processed = hb->processed;
    nlpd__v1__heartbeat__free_unpacked(hb, NULL);
    assert_true(ok);
}

/* Receives heartbeats for `ms`; returns their number. */
static int
count_heartbeats(rt *r, long ms, const char *key, int *with_key, uint64_t *processed)
{
    int n = 0;
    uint64_t deadline = now_ms() + (uint64_t)ms;
    for (;;) {
        uint64_t t = now_ms();
        if (t >= deadline)
            break;
        nlpd__frames fr;
        if (recv_within(r->pull, &fr, (long)(deadline - t)) != 0)
            break;
        check_heartbeat(r, &fr, key, with_key, processed);
        n++;
    }
    return n;
}

/* Sends a SLEEP document and reads its DONE and the heartbeats, whichever
 * comes; returns how many heartbeats named it. Those were sent while it was
 * in hand: the worker names the document from STARTED until DONE is sent. */
static int
heartbeats_while_busy(rt *r, const char *key)
{
    size_t in_len, out_len = 0;
    uint8_t *in = make_doc(r, key, "SLEEP a while", 0, &in_len);
    send_to_worker(r, NLPD_W_DOC, key, in, in_len);
    expect_started(r, key);
    int with_key = 0;
    uint8_t *out = NULL;
    uint64_t deadline = now_ms() + TIMEOUT_MS;
    while (out == NULL) {
        uint64_t t = now_ms();
        if (t >= deadline)
            fail_msg("no DONE within %d ms", TIMEOUT_MS);
        zmq_pollitem_t its[2] = {{r->router, 0, ZMQ_POLLIN, 0}, {r->pull, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(its, 2, (long)(deadline - t)) <= 0)
            continue;
        nlpd__frames fr;
        if ((its[1].revents & ZMQ_POLLIN) && nlpd__recv_frames(r->pull, &fr, ZMQ_DONTWAIT) == 0)
            check_heartbeat(r, &fr, key, &with_key, NULL);
        if (its[0].revents & ZMQ_POLLIN)
            out = expect_done(r, key, "ok", &out_len);
    }
    count_heartbeats(r, 200, key, &with_key, NULL); /* those still on their way */
    return with_key;
}

/* The heartbeat interval is 50 ms. Timing is measured up to a few times and
 * must hold once: on a machine loaded enough to starve a thread for a while
 * one window can come up short, but a runtime whose heartbeats stop while
 * process() runs gets no heartbeat naming the document in any attempt. */
static void
test_runtime_sends_heartbeats_even_while_process_is_busy(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    expect_hello(r);
    /* The first heartbeat may wait for ZeroMQ to reconnect (the worker can
     * start before the daemon's socket is bound). */
    nlpd__frames first;
    int with_key = 0;
    assert_int_equal(recv_within(r->pull, &first, TIMEOUT_MS), 0);
    check_heartbeat(r, &first, NULL, &with_key, NULL);
    int best = 0;
    for (int attempt = 0; attempt < 4 && best < 3; attempt++) {
        int n = count_heartbeats(r, 500, NULL, &with_key, NULL);
        best = n > best ? n : best;
    }
    if (best < 3)
        fail_msg("at most %d heartbeats in 500 ms at a 50 ms interval", best);

    /* process() sleeps 300 ms on the loop thread; heartbeats go on. */
    best = 0;
    int docs = 0;
    for (int attempt = 0; attempt < 3 && best < 3; attempt++) {
        char key[32];
        snprintf(key, sizeof(key), "K-slow-%d", attempt);
        int n = heartbeats_while_busy(r, key);
        docs++;
        best = n > best ? n : best;
    }
    if (best < 3)
        fail_msg("at most %d heartbeats named a document during 300 ms of processing", best);

    /* Afterwards they count the documents and name none. */
    uint64_t processed = 0;
    int idle = 0;
    uint64_t deadline = now_ms() + TIMEOUT_MS;
    while (idle == 0 || processed != (uint64_t)docs) {
        nlpd__frames fr;
        if (now_ms() >= deadline || recv_within(r->pull, &fr, TIMEOUT_MS) != 0)
            fail_msg("no idle heartbeat counting %d documents (last: %llu)", docs,
                     (unsigned long long)processed);
        idle = 0;
        check_heartbeat(r, &fr, "", &idle, &processed);
    }
    stop_worker(r);
}

/* Under systemd (nlpd-worker@.service) a worker's parent is PID 1 and
 * NLPD_WORKER_ID may be in its environment: without the daemon's
 * NLPD_SPAWNED mark it stays and joins. */
static void
test_runtime_orphaned_worker_with_worker_id_and_no_spawn_mark_joins(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok, .orphan = 1};
    spawn(r, &o);
    expect_hello(r);
    stop_worker(r);
}

/* A worker the daemon spawned (NLPD_SPAWNED) whose daemon is gone before it
 * starts exits 1 without joining. */
static void
test_runtime_spawned_worker_whose_daemon_is_gone_exits_one(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok, .orphan = 1, .spawned = "parent"};
    spawn(r, &o);
    assert_int_equal(wait_exit(r), 1);
    expect_silence(r, 50);
}

/* A spawned worker whose daemon is there joins: the daemon its parent, or
 * its grandparent behind a wrapper that runs the worker as its child (here
 * the test is the wrapper, and the test's parent the daemon). */
static void
test_runtime_spawned_worker_whose_daemon_lives_joins(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok, .spawned = "parent"};
    spawn(r, &o);
    expect_hello(r);
    stop_worker(r);
    zmq_close(r->router);
    zmq_close(r->pull);
    zmq_ctx_term(r->zctx);
    r->router = r->pull = r->zctx = NULL;
    r->reaped = 0;
    char grandparent[32];
    snprintf(grandparent, sizeof(grandparent), "%d", (int)getppid());
    o.spawned = grandparent;
    spawn(r, &o);
    expect_hello(r);
    stop_worker(r);
}

static void
test_runtime_says_bye_and_exits_zero_when_the_daemon_sends_stop(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    expect_hello(r);
    send_to_worker(r, NLPD_W_STOP, NULL, NULL, 0);
    expect_bye(r);
    assert_int_equal(wait_exit(r), 0);
    assert_true(fini_ran(r));
    expect_silence(r, 50);
}

static void
test_runtime_finishes_the_document_in_hand_on_sigterm_then_says_bye(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    expect_hello(r);
    size_t in_len, out_len;
    uint8_t *in = make_doc(r, "K-term", "SLEEP then stop", 0, &in_len);
    send_to_worker(r, NLPD_W_DOC, "K-term", in, in_len);
    expect_started(r, "K-term");
    assert_int_equal(kill(r->pid, SIGTERM), 0);
    uint8_t *out = expect_done(r, "K-term", "ok", &out_len);
    Nlpd__V1__Document *d = decode_answer(r, in, in_len, out, out_len);
    assert_int_equal(d->n_annotations, 1); /* finished, not cut short */
    expect_bye(r);
    assert_int_equal(wait_exit(r), 0);
    assert_true(fini_ran(r));
}

/* BUG: stage.c drains from a uv_idle callback (stage.c:518, :532), and
 * libuv runs idle callbacks BEFORE the poll phase that reads the signal
 * pipe. A SIGTERM that arrives while a document is processed is therefore
 * seen only after the NEXT queued document is processed too, instead of
 * that one being handed back: shutdown takes one document longer than
 * promised (stage.h: "the document in hand is finished, the rest handed
 * back"). */
static void
test_runtime_hands_back_queued_documents_when_sigterm_comes_mid_document(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    assert_int_equal(expect_hello(r), 16);
    size_t len1, len2, out_len;
    uint8_t *d1 = make_doc(r, "K-1", "SLEEP one", 0, &len1);
    uint8_t *d2 = make_doc(r, "K-2", "SLEEP two", 0, &len2);
    send_to_worker(r, NLPD_W_DOC, "K-1", d1, len1); /* a window of 2: both may go */
    send_to_worker(r, NLPD_W_DOC, "K-2", d2, len2);
    expect_started(r, "K-1");
    assert_int_equal(kill(r->pid, SIGTERM), 0);
    expect_done(r, "K-1", "ok", &out_len);
    expect_bye(r); /* K-2 is the daemon's to give to another worker */
    assert_int_equal(wait_exit(r), 0);
}

static void
test_runtime_says_hello_again_on_reset(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok, .window = "5"};
    spawn(r, &o);
    assert_int_equal(expect_hello(r), 5);
    send_to_worker(r, NLPD_W_RESET, NULL, NULL, 0);
    assert_int_equal(expect_hello(r), 5);
    size_t in_len, out_len;
    uint8_t *in = make_doc(r, "K-after-reset", "text", 0, &in_len);
    send_to_worker(r, NLPD_W_DOC, "K-after-reset", in, in_len);
    expect_started(r, "K-after-reset");
    expect_done(r, "K-after-reset", "ok", &out_len);
    stop_worker(r);
}

static void
test_runtime_exits_one_without_hello_when_init_fails(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_init_fails};
    spawn(r, &o);
    assert_int_equal(wait_exit(r), 1);
    expect_silence(r, 300);
    assert_false(fini_ran(r)); /* no state, no fini */

    /* The same when init refuses the stage's own arguments. */
    nlpd_test_rmtree(r->dir); /* fresh sockets for a second worker */
    free(r->dir);
    zmq_close(r->router);
    zmq_close(r->pull);
    zmq_ctx_term(r->zctx);
    r->router = r->pull = r->zctx = NULL;
    r->reaped = 0;
    r->dir = nlpd_test_tmpdir("nlpd-rt-test");
    snprintf(r->ep, sizeof(r->ep), "ipc://%s/stage", r->dir);
    snprintf(r->hb, sizeof(r->hb), "ipc://%s/heartbeat", r->dir);
    spawn_opts o2 = {.def = &stage_ok, .arg = "--unknown"};
    spawn(r, &o2);
    assert_int_equal(wait_exit(r), 1);
    expect_silence(r, 300);
}

static void
test_runtime_exits_with_a_status_when_misconfigured(void **state)
{
    rt *r = *state;

    static const struct {
        spawn_opts o;
        int status;
    } cases[] = {
        {{.def = &stage_ok, .no_endpoint = 1}, 2},
        {{.def = &stage_ok, .heartbeat_ms = "5"}, 2},
        {{.def = &stage_ok, .heartbeat_ms = "600001"}, 2},
        {{.def = &stage_ok, .window = "0"}, 2},
        {{.def = &stage_ok, .window = "2x"}, 2},
        {{.def = &stage_ok, .arg = "--window"}, 2}, /* an option without its value */
        {{.def = &stage_wrong_abi}, 1},
        {{.def = &stage_no_process}, 1},
        {{.def = &stage_ok, .arg = "--help"}, 0},
        {{.def = &stage_ok, .arg = "--version"}, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r->reaped = 0;
        spawn(r, &cases[i].o);
        int st = wait_exit(r);
        if (st != cases[i].status)
            fail_msg("case %zu: exit status %d, expected %d", i, st, cases[i].status);
        expect_silence(r, 20);
        zmq_close(r->router);
        zmq_close(r->pull);
        zmq_ctx_term(r->zctx);
        r->router = r->pull = r->zctx = NULL;
    }
}

static void
test_runtime_ignores_malformed_messages_and_answers_documents_in_order(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    expect_hello(r);
    /* DOC without its document, an unknown verb, DOC with a frame too many. */
    assert_int_equal(nlpd__send_str(r->router, WORKER_ID, ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_str(r->router, NLPD_W_DOC, ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_str(r->router, "K-short", 0), 0);
    send_to_worker(r, "WHAT", NULL, NULL, 0);
    assert_int_equal(nlpd__send_str(r->router, WORKER_ID, ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_str(r->router, NLPD_W_DOC, ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_str(r->router, "K-long", ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_bytes(r->router, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal(nlpd__send_str(r->router, "extra", 0), 0);

    const char *keys[] = {"K-a", "K-b", "K-c"};
    uint8_t *docs[3];
    size_t lens[3];
    for (int i = 0; i < 3; i++) {
        docs[i] = make_doc(r, keys[i], "in order", 0, &lens[i]);
        send_to_worker(r, NLPD_W_DOC, keys[i], docs[i], lens[i]);
    }
    for (int i = 0; i < 3; i++) {
        size_t out_len;
        expect_started(r, keys[i]);
        uint8_t *out = expect_done(r, keys[i], "ok", &out_len);
        Nlpd__V1__Document *d = decode_answer(r, docs[i], lens[i], out, out_len);
        assert_string_equal(d->key, keys[i]);
    }
    stop_worker(r);
}

/* BUG: handle_doc copies the key into a 96-byte buffer (stage.c:441-442)
 * and sends that copy in DONE while STARTED gets the original frame: a key
 * longer than 95 bytes comes back cut in DONE, and the daemon cannot match
 * the answer to its document. */
static void
test_runtime_answers_with_the_whole_key_however_long(void **state)
{
    rt *r = *state;
    spawn_opts o = {.def = &stage_ok};
    spawn(r, &o);
    expect_hello(r);
    char key[161];
    memset(key, 'k', 160);
    key[160] = '\0';
    size_t in_len, out_len;
    uint8_t *in = make_doc(r, key, "text", 0, &in_len);
    send_to_worker(r, NLPD_W_DOC, key, in, in_len);
    expect_started(r, key);
    expect_done(r, key, "ok", &out_len);
    stop_worker(r);
}

int
main(void)
{
    if (getenv("NLPD_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("NLPD_TEST_FILTER"));
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_runtime_says_hello_with_window_stage_and_pid_when_it_starts),
        T(test_runtime_answers_a_document_with_the_bytes_received_followed_by_its_additions),
        T(test_runtime_records_an_error_without_the_partial_additions_when_process_fails),
        T(test_runtime_answers_fatal_when_the_stage_fails_fatally),
        T(test_runtime_passes_a_document_an_earlier_stage_marked_fatal_through_untouched),
        T(test_runtime_answers_malformed_when_the_document_cannot_be_decoded),
        T(test_runtime_sends_heartbeats_even_while_process_is_busy),
        T(test_runtime_orphaned_worker_with_worker_id_and_no_spawn_mark_joins),
        T(test_runtime_spawned_worker_whose_daemon_is_gone_exits_one),
        T(test_runtime_spawned_worker_whose_daemon_lives_joins),
        T(test_runtime_says_bye_and_exits_zero_when_the_daemon_sends_stop),
        T(test_runtime_finishes_the_document_in_hand_on_sigterm_then_says_bye),
        T(test_runtime_hands_back_queued_documents_when_sigterm_comes_mid_document),
        T(test_runtime_says_hello_again_on_reset),
        T(test_runtime_exits_one_without_hello_when_init_fails),
        T(test_runtime_exits_with_a_status_when_misconfigured),
        T(test_runtime_ignores_malformed_messages_and_answers_documents_in_order),
        T(test_runtime_answers_with_the_whole_key_however_long),
    };
#undef T
    return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
