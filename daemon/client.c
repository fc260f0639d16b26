/* daemon/client.c — the client side of the wire protocol, and the engine of
 * `nlpctl annotate` (see client.h).
 *
 * Everything here is plain zmq_poll: a client is a short-lived command or a
 * test, with one socket and at most one input descriptor, so an event loop
 * would add nothing. Every wait has a deadline or returns on EINTR, which
 * is how a caller's SIGINT handler gets control back.
 */
#include "client.h"

#include "nlpd/alloc.h"
#include "nlpd/doc.h"
#include "nlpd/error.h"
#include "nlpd/json.h"
#include "nlpd/stage.h"
#include "nlpd_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

struct nlpd_client {
    void *zctx;
    void *sock;
    nlpd__frames fr; /* the last reply; nlpd_reply.payload points into it */
    int have_frames;
};

/* --- Time ---------------------------------------------------------------- */

/* Milliseconds left until `deadline_us` for zmq_poll, rounded up so a poll
 * never returns just before the deadline; 0 when it has passed. */
static long
ms_until(uint64_t deadline_us, uint64_t now_us)
{
    if (now_us >= deadline_us)
        return 0;
    uint64_t ms = (deadline_us - now_us + 999) / 1000;
    return ms > (uint64_t)INT_MAX ? INT_MAX : (long)ms;
}

static uint64_t
deadline_after(int timeout_ms)
{
    return timeout_ms < 0 ? UINT64_MAX : nlpd__mono_us() + (uint64_t)timeout_ms * 1000u;
}

/* Waits until `sock` has one of `events` or the deadline passes. Returns 0
 * when ready, NLPD_ETIMEDOUT, or -errno (-EINTR on a signal). */
static int
wait_socket(void *sock, short events, uint64_t deadline_us)
{
    zmq_pollitem_t it = {.socket = sock, .fd = 0, .events = events, .revents = 0};
    long wait = deadline_us == UINT64_MAX ? -1 : ms_until(deadline_us, nlpd__mono_us());
    if (wait == 0)
        return NLPD_ETIMEDOUT;
    int n = zmq_poll(&it, 1, wait);
    if (n < 0)
        return -zmq_errno();
    return n > 0 ? 0 : NLPD_ETIMEDOUT;
}

/* --- Opening and closing ------------------------------------------------- */

int
nlpd_client_endpoint(const char *runtime_dir, const char *name, char *out, size_t out_len)
{
    char dir[512];
    int rc = nlpd__runtime_dir(runtime_dir, dir, sizeof(dir));
    if (rc != 0)
        return rc;
    int n = snprintf(out, out_len, "ipc://%s/%s", dir, name);
    return n < 0 || (size_t)n >= out_len ? NLPD_EINVAL : 0;
}

int
nlpd_client_curve_setup(void *sock, const char *endpoint, const nlpd_client_keys *keys, char *why,
                        size_t why_len)
{
    if (endpoint == NULL || strncmp(endpoint, "tcp://", 6) != 0)
        return 0;
    const char *server = keys != NULL ? keys->server_key_file : NULL;
    const char *own = keys != NULL ? keys->key_file : NULL;
    if (server == NULL || server[0] == '\0')
        server = getenv(NLPD_ENV_CURVE_SERVER_KEY_FILE);
    if (own == NULL || own[0] == '\0')
        own = getenv(NLPD_ENV_CURVE_KEY_FILE);
    int have_server = server != NULL && server[0] != '\0';
    int have_own = own != NULL && own[0] != '\0';
    if (!have_server && !have_own)
        return 0; /* plain tcp: the daemon refuses it, and logs so */
    if (!have_server || !have_own) {
        if (why != NULL)
            snprintf(why, why_len,
                     "CurveZMQ needs both the daemon's public key file and this client's key "
                     "pair file");
        return NLPD_EINVAL;
    }
    return nlpd_curve_client_setup(sock, server, own, why, why_len);
}

/* Makes a context and a DEALER connected to `endpoint`, without linger (a
 * client never needs to wait at exit for what the daemon did not take). */
static int
open_dealer(const char *endpoint, const nlpd_client_keys *keys, void **zctx_out, void **sock_out)
{
    void *zctx = zmq_ctx_new();
    if (zctx == NULL)
        return NLPD_ENOMEM;
    void *sock = zmq_socket(zctx, ZMQ_DEALER);
    if (sock == NULL) {
        int err = zmq_errno();
        zmq_ctx_term(zctx);
        return err == EMFILE ? -EMFILE : NLPD_ENOMEM;
    }
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    int rc = nlpd_client_curve_setup(sock, endpoint, keys, NULL, 0);
    if (rc != 0) {
        zmq_close(sock);
        zmq_ctx_term(zctx);
        return rc;
    }
    if (zmq_connect(sock, endpoint) != 0) {
        int err = zmq_errno();
        zmq_close(sock);
        zmq_ctx_term(zctx);
        /* A bad transport or address is the caller's mistake, said once. */
        return err == EINVAL || err == EPROTONOSUPPORT || err == ENAMETOOLONG ? NLPD_EINVAL : -err;
    }
    *zctx_out = zctx;
    *sock_out = sock;
    return 0;
}

int
nlpd_client_open(nlpd_client **out, const char *runtime_dir, const char *endpoint)
{
    return nlpd_client_open_keys(out, runtime_dir, endpoint, NULL);
}

int
nlpd_client_open_keys(nlpd_client **out, const char *runtime_dir, const char *endpoint,
                      const nlpd_client_keys *keys)
{
    if (out == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    char ep[600];
    if (endpoint == NULL) {
        int rc = nlpd_client_endpoint(runtime_dir, NLPD_SOCK_FRONT, ep, sizeof(ep));
        if (rc != 0)
            return rc;
        endpoint = ep;
    }
    nlpd_client *c = nlpd_calloc(1, sizeof(*c));
    if (c == NULL)
        return NLPD_ENOMEM;
    int rc = open_dealer(endpoint, keys, &c->zctx, &c->sock);
    if (rc != 0) {
        nlpd_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void
release_frames(nlpd_client *c)
{
    if (c->have_frames) {
        nlpd__frames_close(&c->fr);
        c->have_frames = 0;
    }
}

void
nlpd_client_close(nlpd_client **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_client *c = *self_p;
    release_frames(c);
    zmq_close(c->sock);
    zmq_ctx_term(c->zctx);
    nlpd_free(c);
    *self_p = NULL;
}

void *
nlpd_client_socket(nlpd_client *c)
{
    return c != NULL ? c->sock : NULL;
}

/* --- Sending ------------------------------------------------------------- */

static void
put_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xFF);
        v >>= 8;
    }
}

static uint64_t
get_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

/* Sends `n` frames as one message, waiting until the deadline for room.
 * Once the first frame is queued the rest cannot be refused (ZeroMQ counts
 * a multipart message against the high-water mark as one), so a message
 * goes out whole or not at all. */
static int
send_parts(void *sock, const void *const *data, const size_t *lens, int n, uint64_t deadline_us)
{
    for (;;) {
        int rc = nlpd__send_bytes(sock, data[0], lens[0], ZMQ_DONTWAIT | (n > 1 ? ZMQ_SNDMORE : 0));
        if (rc == 0)
            break;
        if (rc != NLPD_EAGAIN)
            return rc;
        rc = wait_socket(sock, ZMQ_POLLOUT, deadline_us);
        if (rc != 0)
            return rc;
    }
    for (int i = 1; i < n; i++) {
        int rc = nlpd__send_bytes(sock, data[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
nlpd_client_submit(nlpd_client *c, uint64_t corr, const char *flags, const void *payload,
                   size_t len, int timeout_ms)
{
    if (c == NULL || (payload == NULL && len > 0))
        return NLPD_EINVAL;
    uint8_t be[8];
    put_be64(be, corr);
    if (flags == NULL)
        flags = "";
    const void *data[] = {NLPD_C_SUBMIT, be, flags, payload != NULL ? payload : ""};
    const size_t lens[] = {strlen(NLPD_C_SUBMIT), sizeof(be), strlen(flags), len};
    return send_parts(c->sock, data, lens, 4, timeout_ms == 0 ? 0 : deadline_after(timeout_ms));
}

int
nlpd_client_ping(nlpd_client *c, uint64_t corr)
{
    if (c == NULL)
        return NLPD_EINVAL;
    uint8_t be[8];
    put_be64(be, corr);
    const void *data[] = {NLPD_C_PING, be};
    const size_t lens[] = {strlen(NLPD_C_PING), sizeof(be)};
    int rc = send_parts(c->sock, data, lens, 2, 0);
    return rc == NLPD_ETIMEDOUT ? NLPD_EAGAIN : rc;
}

/* --- Receiving ----------------------------------------------------------- */

static int malformed(nlpd_reply *r, const char *fmt, ...) NLPD_PRINTF(2, 3);

static int
malformed(nlpd_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    r->kind = 0;
    r->payload = NULL;
    r->payload_len = 0;
    return NLPD_EPROTO;
}

/* Copies frame i into out[out_len] when it fits whole and holds no NUL. */
static int
copy_exact(const nlpd__frames *fr, int i, char *out, size_t out_len)
{
    size_t n = nlpd__frame_size(fr, i);
    if (n == 0) {
        out[0] = '\0';
        return 0;
    }
    if (n >= out_len || memchr(nlpd__frame_data(fr, i), '\0', n) != NULL)
        return -1;
    memcpy(out, nlpd__frame_data(fr, i), n);
    out[n] = '\0';
    return 0;
}

/* Frames a reply of `verb` must have: verb, corr and the rest. */
static int
expect_frames(const nlpd__frames *fr, nlpd_reply *r, const char *verb, int n)
{
    if (fr->n == n && fr->extra == 0)
        return 0;
    return malformed(r, "%s with %d frames, expected %d", verb, fr->n + fr->extra, n);
}

/* ACCEPTED | corr | key, or RESULT | corr | key | status | payload. */
static int
parse_keyed(const nlpd__frames *fr, nlpd_reply *r, int result)
{
    const char *verb = result ? NLPD_C_RESULT : NLPD_C_ACCEPTED;
    if (expect_frames(fr, r, verb, result ? 5 : 3) != 0)
        return NLPD_EPROTO;
    if (nlpd__frame_size(fr, 2) == 0 || copy_exact(fr, 2, r->key, sizeof(r->key)) != 0)
        return malformed(r, "%s with a key of %zu bytes", verb, nlpd__frame_size(fr, 2));
    if (!result) {
        r->kind = NLPD_REPLY_ACCEPTED;
        return 0;
    }
    r->error = nlpd__frame_is(fr, 3, "error");
    if (!r->error && !nlpd__frame_is(fr, 3, "ok"))
        return malformed(r, "RESULT with an unknown status");
    r->payload = nlpd__frame_data(fr, 4);
    r->payload_len = nlpd__frame_size(fr, 4);
    r->kind = NLPD_REPLY_RESULT;
    return 0;
}

static int
parse_reply(const nlpd__frames *fr, nlpd_reply *r)
{
    if (fr->n < 2)
        return malformed(r, "a reply of %d frame%s", fr->n, fr->n == 1 ? "" : "s");
    if (nlpd__frame_size(fr, 1) != 8) {
        return malformed(r, "a correlation frame of %zu bytes, expected 8",
                         nlpd__frame_size(fr, 1));
    }
    r->corr = get_be64(nlpd__frame_data(fr, 1));
    if (nlpd__frame_is(fr, 0, NLPD_C_ACCEPTED))
        return parse_keyed(fr, r, 0);
    if (nlpd__frame_is(fr, 0, NLPD_C_RESULT))
        return parse_keyed(fr, r, 1);
    if (nlpd__frame_is(fr, 0, NLPD_C_REFUSED)) {
        if (expect_frames(fr, r, NLPD_C_REFUSED, 4) != 0)
            return NLPD_EPROTO;
        if (nlpd__frame_size(fr, 2) == 0)
            return malformed(r, "REFUSED without a code");
        nlpd__frame_str(fr, 2, r->code, sizeof(r->code));
        nlpd__frame_str(fr, 3, r->message, sizeof(r->message));
        r->kind = NLPD_REPLY_REFUSED;
        return 0;
    }
    if (nlpd__frame_is(fr, 0, NLPD_C_PONG)) {
        if (expect_frames(fr, r, NLPD_C_PONG, 3) != 0)
            return NLPD_EPROTO;
        nlpd__frame_str(fr, 2, r->message, sizeof(r->message));
        r->kind = NLPD_REPLY_PONG;
        return 0;
    }
    return malformed(r, "an unknown reply verb (%zu bytes)", nlpd__frame_size(fr, 0));
}

int
nlpd_client_recv(nlpd_client *c, nlpd_reply *r, int timeout_ms)
{
    if (c == NULL || r == NULL)
        return NLPD_EINVAL;
    release_frames(c);
    memset(r, 0, sizeof(*r));
    uint64_t deadline = timeout_ms == 0 ? 0 : deadline_after(timeout_ms);
    for (;;) {
        int rc = nlpd__recv_frames(c->sock, &c->fr, ZMQ_DONTWAIT);
        if (rc == 0) {
            c->have_frames = 1;
            return parse_reply(&c->fr, r);
        }
        if (rc != NLPD_EAGAIN)
            return rc;
        rc = wait_socket(c->sock, ZMQ_POLLIN, deadline);
        if (rc != 0)
            return rc;
    }
}

/* --- Control ------------------------------------------------------------- */

/* Sends `request` on `sock` and reads the answer into *reply (see
 * nlpd_control_call()). */
static int
control_exchange(void *sock, const char *request, uint64_t deadline, char **reply)
{
    const void *data[] = {request};
    const size_t lens[] = {strlen(request)};
    int rc = send_parts(sock, data, lens, 1, deadline);
    nlpd__frames fr;
    for (;;) {
        if (rc != 0)
            return rc;
        rc = nlpd__recv_frames(sock, &fr, ZMQ_DONTWAIT);
        if (rc == 0)
            break;
        if (rc == NLPD_EAGAIN)
            rc = wait_socket(sock, ZMQ_POLLIN, deadline);
    }
    /* A daemon that answers as if to REQ puts an empty delimiter first. */
    int i = fr.n > 0 && nlpd__frame_size(&fr, 0) == 0 ? 1 : 0;
    int ok = nlpd__frame_is(&fr, i, "OK");
    if (fr.extra != 0 || fr.n != i + 2 || (!ok && !nlpd__frame_is(&fr, i, "ERROR"))) {
        rc = NLPD_EPROTO;
    } else {
        *reply = nlpd_strndup(nlpd__frame_data(&fr, i + 1), nlpd__frame_size(&fr, i + 1));
        rc = *reply == NULL ? NLPD_ENOMEM : ok ? 0 : NLPD_EINVAL;
    }
    nlpd__frames_close(&fr);
    return rc;
}

int
nlpd_control_call(const char *runtime_dir, const char *endpoint, const char *request,
                  int timeout_ms, char **reply)
{
    return nlpd_control_call_keys(runtime_dir, endpoint, NULL, request, timeout_ms, reply);
}

int
nlpd_control_call_keys(const char *runtime_dir, const char *endpoint,
                       const nlpd_client_keys *keys, const char *request, int timeout_ms,
                       char **reply)
{
    if (request == NULL || reply == NULL)
        return NLPD_EINVAL;
    *reply = NULL;
    char ep[600];
    if (endpoint == NULL) {
        int rc = nlpd_client_endpoint(runtime_dir, NLPD_SOCK_CONTROL, ep, sizeof(ep));
        if (rc != 0)
            return rc;
        endpoint = ep;
    }
    void *zctx = NULL, *sock = NULL;
    int rc = open_dealer(endpoint, keys, &zctx, &sock);
    if (rc != 0)
        return rc;
    rc = control_exchange(sock, request, deadline_after(timeout_ms), reply);
    zmq_close(sock);
    zmq_ctx_term(zctx);
    return rc;
}

/* --- Backoff ------------------------------------------------------------- */

unsigned
nlpd_client_backoff_ms(unsigned attempt, uint32_t rnd)
{
    unsigned base = 1000;
    if (attempt < 8)
        base = 5u << attempt; /* 5, 10, 20, ... 640 */
    if (base > 1000)
        base = 1000;
    unsigned half = base / 2;
    return base - half + rnd % (half + 1);
}

/* --- JSON helpers -------------------------------------------------------- */

/* A JSON string of `s`, each invalid UTF-8 sequence written as U+FFFD. */
static json_t *
lossy_json_string(const char *s, size_t len)
{
    if (nlpd__utf8_valid(s, len))
        return json_stringn(s, len);
    nlpd__buf b = {0};
    json_t *out = NULL;
    size_t i = 0;
    while (i < len) {
        size_t ok = 0;
        for (size_t n = 1; n <= 4 && i + n <= len; n++) {
            if (nlpd__utf8_valid(s + i, n)) {
                ok = n;
                break;
            }
        }
        int rc = ok > 0 ? nlpd__buf_append(&b, s + i, ok) : nlpd__buf_append(&b, "\xEF\xBF\xBD", 3);
        if (rc != 0)
            goto out;
        i += ok > 0 ? ok : 1;
    }
    out = json_stringn(b.len > 0 ? (const char *)b.data : "", b.len);
out:
    nlpd__buf_release(&b);
    return out;
}

/* Dumps `root` compact into an nlpd_malloc'd string. */
static int
dump_json(const json_t *root, char **out, size_t *out_len)
{
    char *s = json_dumps(root, JSON_COMPACT);
    if (s == NULL)
        return NLPD_ENOMEM;
    size_t n = strlen(s);
    *out = nlpd_strndup(s, n);
    free(s); /* jansson allocates with the C library */
    if (*out == NULL)
        return NLPD_ENOMEM;
    if (out_len != NULL)
        *out_len = n;
    return 0;
}

int
nlpd_client_error_line(const char *id, uint64_t line, const char *code, const char *message,
                       char **out, size_t *out_len)
{
    if (code == NULL || message == NULL || out == NULL)
        return NLPD_EINVAL;
    int rc = NLPD_ENOMEM;
    json_t *root = json_object();
    json_t *errors = json_array();
    json_t *err = json_object();
    if (root == NULL || errors == NULL || err == NULL)
        goto out;
    json_t *idv = id != NULL ? lossy_json_string(id, strlen(id)) : json_null();
    if (json_object_set_new(root, "id", idv) != 0 ||
        json_object_set_new(root, "line", json_integer((json_int_t)line)) != 0 ||
        json_object_set_new(err, "stage", json_string("nlpctl")) != 0 ||
        json_object_set_new(err, "code", lossy_json_string(code, strlen(code))) != 0 ||
        json_object_set_new(err, "message", lossy_json_string(message, strlen(message))) != 0)
        goto out;
    if (json_array_append(errors, err) != 0 || json_object_set(root, "errors", errors) != 0)
        goto out;
    rc = dump_json(root, out, out_len);
out:
    json_decref(err);
    json_decref(errors);
    json_decref(root);
    return rc;
}

int
nlpd_client_minimal_json(const char *json, size_t len, char **out, size_t *out_len)
{
    static const char *const keep[] = {"id",      "text",         "sentences", "entities",
                                       "summary", "summary_text", "errors"};
    if (json == NULL || out == NULL)
        return NLPD_EINVAL;
    json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return NLPD_EPROTO;
    }
    json_t *min = json_object();
    int rc = min != NULL ? 0 : NLPD_ENOMEM;
    for (size_t i = 0; rc == 0 && i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(root, keep[i]);
        if (v != NULL && json_object_set(min, keep[i], v) != 0)
            rc = NLPD_ENOMEM;
    }
    if (rc == 0)
        rc = dump_json(min, out, out_len);
    json_decref(min);
    json_decref(root);
    return rc;
}

int
nlpd_client_render(nlpd_doc *doc, const void *payload, size_t len, unsigned flags, int minimal,
                   char **out, size_t *out_len, char *why, size_t why_len)
{
    if (doc == NULL || out == NULL)
        return NLPD_EINVAL;
    *out = NULL;
    int rc = nlpd_doc_parse(doc, payload, len);
    if (rc == NLPD_EPROTO) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "the result is not a valid Document");
        return rc;
    }
    if (rc != 0)
        return rc;
    /* jansson refuses strings that are not UTF-8: say which field, rather
     * than fail as if out of memory. */
    rc = nlpd__doc_validate(nlpd__doc_pb(doc), why, why_len);
    if (rc != 0)
        return rc;
    if (minimal)
        flags &= ~(unsigned)NLPD_JSON_PRETTY;
    char *json = NULL;
    size_t n = 0;
    rc = nlpd_doc_to_json(doc, minimal ? 0 : flags, &json, &n);
    if (rc != 0)
        return rc;
    if (!minimal) {
        *out = json;
        if (out_len != NULL)
            *out_len = n;
        return 0;
    }
    rc = nlpd_client_minimal_json(json, n, out, out_len);
    nlpd_free(json);
    return rc;
}

int
nlpd_client_options_encode(const char *options_json, uint8_t **out, size_t *len, char *why,
                           size_t why_len)
{
    if (options_json == NULL || out == NULL || len == NULL)
        return NLPD_EINVAL;
    json_error_t jerr;
    json_t *opts = json_loads(options_json, 0, &jerr);
    if (!json_is_object(opts)) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "%s", opts == NULL ? jerr.text : "must be a JSON object");
        json_decref(opts);
        return NLPD_EFORMAT;
    }
    /* The same reader as annotate's input lines, so both know the same
     * options; "text" is empty and so absent from the encoding. */
    json_t *doc = json_pack("{s:s,s:o}", "text", "", "options", opts);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL)
        return NLPD_ENOMEM;
    int rc = nlpd_submission_from_json(text, strlen(text), out, len, why, why_len);
    free(text);
    return rc;
}

int
nlpd_client_submission_encode(const nlpd_submission *s, const uint8_t *options_pb,
                              size_t options_len, uint8_t **out, size_t *len)
{
    if (s == NULL || out == NULL || len == NULL || (options_pb == NULL && options_len > 0))
        return NLPD_EINVAL;
    if (options_pb == NULL)
        return nlpd_submission_encode(s, out, len);
    /* The options Document goes first and the submission second, and the
     * submission repeats the options' scalar values. Standard protobuf
     * merging keeps an earlier scalar the later message leaves unset, but
     * protobuf-c 1.4.1 resets it to zero when it merges a submessage that
     * appears twice; with equal values in both, either way gives the same
     * result. Repeated fields (stages, custom options) concatenate, so they
     * are left to the options part alone. */
    nlpd_doc *doc = NULL;
    int rc = nlpd_doc_new(&doc);
    if (rc == 0)
        rc = nlpd_doc_parse(doc, options_pb, options_len);
    if (rc != 0) {
        nlpd_doc_free(&doc);
        return rc == NLPD_EPROTO ? NLPD_EINVAL : rc;
    }
    nlpd_submission sub = *s;
    nlpd_summary_budget b = nlpd_doc_summary_budget(doc);
    if (b.sentences != 0 || b.ratio != 0 || b.words != 0)
        sub.budget = b;
    if (sub.format == NLPD_FORMAT_DETECT)
        sub.format = nlpd_doc_format_option(doc);
    nlpd_doc_free(&doc);
    uint8_t *tail = NULL;
    size_t tail_len = 0;
    rc = nlpd_submission_encode(&sub, &tail, &tail_len);
    if (rc != 0)
        return rc;
    uint8_t *buf = nlpd_malloc(options_len + tail_len);
    if (buf == NULL) {
        nlpd_free(tail);
        return NLPD_ENOMEM;
    }
    memcpy(buf, options_pb, options_len);
    memcpy(buf + options_len, tail, tail_len);
    nlpd_free(tail);
    *out = buf;
    *len = options_len + tail_len;
    return 0;
}

/* --- annotate ------------------------------------------------------------ */

/* A document between the line it came from and the line written for it.
 * Slots live in a ring indexed by the document's sequence number; the ring
 * is written out from its oldest slot as slots become DONE, which is the
 * reorder buffer. */
enum { SLOT_FREE = 0, SLOT_WAIT, SLOT_SENT, SLOT_ACCEPTED, SLOT_DONE };

typedef struct slot {
    int state;
    uint64_t seq;     /* document number from 0; its corr is seq + 1 */
    uint64_t line;    /* input line, from 1 */
    char *id;         /* the document's id, NULL when it has none */
    uint8_t *payload; /* the encoded document, kept until accepted (busy: resent) */
    size_t payload_len;
    char *out; /* DONE: the output line */
    size_t out_len;
    uint64_t first_us;    /* first sent at */
    uint64_t deadline_us; /* give up at */
    uint64_t retry_us;    /* WAIT: send at */
    unsigned attempts;    /* busy refusals so far */
    char key[64];
} slot;

typedef struct annotate {
    nlpd_client *c;
    const nlpd_client_annotate_opts *o;
    nlpd_client_annotate_stats st;
    nlpd_doc *doc;
    FILE *out;
    slot *ring;
    size_t cap;
    uint64_t head; /* oldest document not yet written */
    uint64_t next; /* next document to read */
    size_t in_flight;
    size_t n_busy;         /* slots waiting after a busy refusal */
    uint64_t next_scan_us; /* earliest retry or deadline among the slots */
    uint64_t start_us;
    uint64_t progress_us;
    uint32_t rng;
    unsigned diag_malformed;
    /* Input: a buffer of what was read and not yet taken as lines. */
    int fd;
    int eof;
    int skipping; /* discarding the rest of an over-long line */
    nlpd__buf in;
    size_t in_pos;  /* start of the unconsumed input */
    size_t in_scan; /* bytes after in_pos already known to hold no newline */
} annotate;

enum { IN_CHUNK = 64 * 1024, MAX_WAIT_MS = 200, DIAG_MALFORMED_MAX = 10 };

static uint32_t
next_rand(annotate *a)
{
    /* xorshift32: jitter needs spread, not quality. */
    uint32_t x = a->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    a->rng = x;
    return x;
}

static void diag(annotate *a, const char *fmt, ...) NLPD_PRINTF(2, 3);

static void
diag(annotate *a, const char *fmt, ...)
{
    if (a->o->diag == NULL)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->o->diag(a->o->arg, msg);
}

static slot *
slot_of(annotate *a, uint64_t seq)
{
    return &a->ring[seq % a->cap];
}

static int
in_flight_state(int state)
{
    return state == SLOT_WAIT || state == SLOT_SENT || state == SLOT_ACCEPTED;
}

static void
slot_clear(slot *s)
{
    nlpd_free(s->id);
    nlpd_free(s->payload);
    nlpd_free(s->out);
    memset(s, 0, sizeof(*s));
}

/* Makes slot `s` DONE with the output line `*line` (ownership passes). */
static void
slot_finish(annotate *a, slot *s, char **line, size_t len)
{
    if (in_flight_state(s->state))
        a->in_flight--;
    if (s->state == SLOT_WAIT && s->attempts > 0)
        a->n_busy--;
    nlpd_free(s->payload);
    s->payload = NULL;
    s->out = *line;
    s->out_len = len;
    *line = NULL;
    s->state = SLOT_DONE;
}

/* Finishes `s` with an error line, and says so. */
static int
slot_fail(annotate *a, slot *s, const char *code, const char *message)
{
    char *line = NULL;
    size_t len = 0;
    int rc = nlpd_client_error_line(s->id, s->line, code, message, &line, &len);
    if (rc != 0)
        return rc;
    if (s->id != NULL) {
        diag(a, "line %" PRIu64 " (id %s): %s: %s", s->line, s->id, code, message);
    } else {
        diag(a, "line %" PRIu64 ": %s: %s", s->line, code, message);
    }
    slot_finish(a, s, &line, len);
    a->st.failed++;
    return 0;
}

/* Reads a varint at p[*i]; returns -1 when it runs past `len`. */
static int
pb_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*i >= len)
            return -1;
        uint8_t b = p[(*i)++];
        *v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* Finds top-level string field `field` of an encoded message. Returns 0
 * and points *s at its bytes, or -1 when it is absent or the bytes are not
 * a message. Cheaper than decoding: the id comes third. */
static int
pb_string_field(const uint8_t *p, size_t len, uint64_t field, const uint8_t **s, size_t *slen)
{
    size_t i = 0;
    while (i < len) {
        uint64_t key, v;
        if (pb_varint(p, len, &i, &key) != 0)
            return -1;
        switch (key & 7) {
        case 0:
            if (pb_varint(p, len, &i, &v) != 0)
                return -1;
            break;
        case 1:
            i += 8;
            break;
        case 2:
            if (pb_varint(p, len, &i, &v) != 0 || v > len - i)
                return -1;
            if (key >> 3 == field) {
                *s = p + i;
                *slen = (size_t)v;
                return 0;
            }
            i += (size_t)v;
            break;
        case 5:
            i += 4;
            break;
        default:
            return -1;
        }
    }
    return -1;
}

/* The id of a line that could not be read as input, when it is at least a
 * JSON object with one (else NULL). */
static char *
id_of_bad_line(const char *line, size_t len)
{
    json_t *root = json_loadb(line, len, 0, NULL);
    json_t *id = json_object_get(root, "id");
    char *out = NULL;
    if (json_is_string(id)) {
        out = nlpd_strndup(json_string_value(id), json_string_length(id));
    } else if (json_is_integer(id)) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        out = nlpd_strdup(buf);
    }
    json_decref(root);
    return out;
}

static void
note_due(annotate *a, uint64_t t)
{
    if (t < a->next_scan_us)
        a->next_scan_us = t;
}

/* Submits slot `s` now. A full socket is not an error: the slot waits a
 * moment and is tried again. */
static int
slot_send(annotate *a, slot *s, uint64_t now)
{
    int rc = nlpd_client_submit(a->c, s->seq + 1, "pb wait", s->payload, s->payload_len, 0);
    if (rc == 0) {
        if (s->attempts > 0)
            a->n_busy--;
        s->state = SLOT_SENT;
        return 0;
    }
    s->state = SLOT_WAIT;
    if (rc == NLPD_ETIMEDOUT || rc == -EINTR) {
        s->retry_us = now + 1000;
        note_due(a, s->retry_us);
        return 0;
    }
    return rc;
}

/* Takes one input line into a new slot. `too_long` says the line was over
 * max_line and `line` holds only nothing useful. */
static int
take_document(annotate *a, const char *line, size_t len, int too_long, uint64_t now)
{
    slot *s = slot_of(a, a->next);
    memset(s, 0, sizeof(*s));
    s->seq = a->next++;
    s->line = a->st.lines;
    s->state = SLOT_WAIT;
    a->in_flight++;
    a->st.read++;
    if (too_long) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the line is longer than %zu bytes", a->o->max_line);
        return slot_fail(a, s, "too_large", msg);
    }
    char why[256] = "";
    int rc = nlpd_submission_from_json(line, len, &s->payload, &s->payload_len, why, sizeof(why));
    if (rc == NLPD_EFORMAT || rc == NLPD_EINVAL) {
        s->id = id_of_bad_line(line, len);
        return slot_fail(a, s, "invalid_input", why[0] != '\0' ? why : nlpd_strerror(rc));
    }
    if (rc != 0)
        return rc;
    const uint8_t *id;
    size_t id_len;
    if (pb_string_field(s->payload, s->payload_len, 3, &id, &id_len) == 0) {
        s->id = nlpd_strndup((const char *)id, id_len);
        if (s->id == NULL)
            return NLPD_ENOMEM;
    }
    s->first_us = now;
    s->deadline_us = now + (uint64_t)a->o->timeout_ms * 1000u;
    note_due(a, s->deadline_us);
    return slot_send(a, s, now);
}

/* Next line of input: 1 with a line (pointing into the buffer until the
 * next fill), 2 for a line over max_line (consumed), 0 when more input is
 * needed, -1 at the end of the input. */
static int
take_line(annotate *a, const char **line, size_t *len)
{
    for (;;) {
        char *start = (char *)a->in.data + a->in_pos;
        size_t avail = a->in.len - a->in_pos;
        char *nl = avail > a->in_scan ? memchr(start + a->in_scan, '\n', avail - a->in_scan) : NULL;
        if (a->skipping) {
            if (nl == NULL) {
                a->in_pos = a->in.len;
                a->in_scan = 0;
                return a->eof ? -1 : 0;
            }
            a->in_pos += (size_t)(nl - start) + 1;
            a->in_scan = 0;
            a->skipping = 0;
            continue;
        }
        size_t n = nl != NULL ? (size_t)(nl - start) : avail;
        if (n > a->o->max_line) {
            a->st.lines++;
            a->skipping = 1;
            a->in_scan = 0;
            return 2;
        }
        if (nl == NULL && !a->eof) {
            a->in_scan = avail;
            return 0;
        }
        if (nl == NULL && avail == 0)
            return -1;
        *line = start;
        *len = n;
        a->in_pos += n + (nl != NULL ? 1 : 0);
        a->in_scan = 0;
        a->st.lines++;
        return 1;
    }
}

/* Reads what is there into the input buffer. Returns 0 or -errno. */
static int
fill_input(annotate *a)
{
    if (a->in_pos > 0) {
        size_t rest = a->in.len - a->in_pos;
        memmove(a->in.data, a->in.data + a->in_pos, rest);
        a->in.len = rest;
        a->in_pos = 0;
    }
    int rc = nlpd__buf_reserve(&a->in, IN_CHUNK);
    if (rc != 0)
        return rc;
    ssize_t n = read(a->fd, a->in.data + a->in.len, a->in.cap - a->in.len);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -errno;
    if (n == 0)
        a->eof = 1;
    a->in.len += (size_t)n;
    return 0;
}

static int
blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    }
    return 1;
}

/* Takes lines while the window and the reorder buffer have room. Sets
 * *want_input when it stopped for lack of input. */
static int
intake(annotate *a, uint64_t now, int *want_input, int *input_done)
{
    *want_input = 0;
    while (a->in_flight < a->o->window && a->next - a->head < a->cap) {
        if (a->o->stop != NULL && *a->o->stop)
            return 0;
        const char *line = NULL;
        size_t len = 0;
        int got = take_line(a, &line, &len);
        if (got == 0) {
            *want_input = 1;
            return 0;
        }
        if (got < 0) {
            *input_done = 1;
            return 0;
        }
        if (got == 1 && blank(line, len))
            continue;
        int rc = take_document(a, line, len, got == 2, now);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Resends documents whose backoff is over and gives up on those past their
 * deadline; recomputes the next time anything is due. */
static int
scan_due(annotate *a, uint64_t now)
{
    if (now < a->next_scan_us)
        return 0;
    uint64_t due = UINT64_MAX;
    double timeout_s = a->o->timeout_ms / 1000.0;
    for (uint64_t seq = a->head; seq < a->next; seq++) {
        slot *s = slot_of(a, seq);
        if (!in_flight_state(s->state))
            continue;
        int rc = 0;
        char msg[256];
        if (now >= s->deadline_us) {
            if (s->state == SLOT_WAIT && s->attempts > 0) {
                snprintf(msg, sizeof(msg), "nlpd was still busy after %u attempts in %g s",
                         s->attempts, timeout_s);
            } else if (s->state == SLOT_ACCEPTED) {
                snprintf(msg, sizeof(msg), "accepted as %s but no result within %g s", s->key,
                         timeout_s);
            } else {
                snprintf(msg, sizeof(msg), "no answer from nlpd within %g s", timeout_s);
            }
            rc = slot_fail(a, s, "timeout", msg);
        } else if (s->state == SLOT_WAIT && now >= s->retry_us) {
            rc = slot_send(a, s, now);
        }
        if (rc != 0)
            return rc;
        if (in_flight_state(s->state)) {
            if (s->deadline_us < due)
                due = s->deadline_us;
            if (s->state == SLOT_WAIT && s->retry_us < due)
                due = s->retry_us;
        }
    }
    a->next_scan_us = due;
    return 0;
}

static const char *
or_dash(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
}

/* A result means the daemon has one document less in flight: the oldest
 * document waiting after a busy refusal is sent now rather than when its
 * backoff ends, which keeps the daemon's capacity used when many of ours
 * wait; the backoff still spaces the rest. */
static void
nudge_busy(annotate *a, uint64_t now)
{
    for (uint64_t seq = a->head; a->n_busy > 0 && seq < a->next; seq++) {
        slot *s = slot_of(a, seq);
        if (s->state == SLOT_WAIT && s->attempts > 0) {
            if (s->retry_us > now) {
                s->retry_us = now;
                note_due(a, now);
            }
            return;
        }
    }
}

static int
on_result(annotate *a, slot *s, const nlpd_reply *r)
{
    char why[256] = "";
    char *line = NULL;
    size_t len = 0;
    int rc = nlpd_client_render(a->doc, r->payload, r->payload_len, a->o->json_flags, a->o->minimal,
                                &line, &len, why, sizeof(why));
    if (rc == NLPD_EPROTO)
        return slot_fail(a, s, "bad_result", why);
    if (rc != 0)
        return rc;
    if (r->error) {
        a->st.stage_errors++;
        nlpd_error_record e = {0};
        size_t n = nlpd_doc_error_count(a->doc);
        if (n > 0 && nlpd_doc_error(a->doc, 0, &e) == 0) {
            diag(a, "line %" PRIu64 " (id %s): stage %s: %s: %s%s", s->line,
                 s->id != NULL ? s->id : "-", or_dash(e.stage), or_dash(e.code), or_dash(e.message),
                 n > 1 ? " (and more)" : "");
        }
    }
    slot_finish(a, s, &line, len);
    return 0;
}

static int
on_reply(annotate *a, const nlpd_reply *r, uint64_t now)
{
    if (r->kind == NLPD_REPLY_PONG)
        return 0;
    /* Answers about documents given up on (or never ours) are ignored. */
    if (r->corr == 0 || r->corr - 1 < a->head || r->corr - 1 >= a->next)
        return 0;
    slot *s = slot_of(a, r->corr - 1);
    if (s->seq != r->corr - 1 || (s->state != SLOT_SENT && s->state != SLOT_ACCEPTED))
        return 0;
    switch (r->kind) {
    case NLPD_REPLY_ACCEPTED:
        if (s->state == SLOT_SENT) {
            s->state = SLOT_ACCEPTED;
            memcpy(s->key, r->key, sizeof(s->key));
            nlpd_free(s->payload); /* never sent again */
            s->payload = NULL;
        }
        return 0;
    case NLPD_REPLY_REFUSED:
        if (strcmp(r->code, "busy") == 0 && s->state == SLOT_SENT) {
            a->st.busy++;
            a->n_busy++;
            s->state = SLOT_WAIT;
            s->retry_us =
                now + 1000u * (uint64_t)nlpd_client_backoff_ms(s->attempts++, next_rand(a));
            note_due(a, s->retry_us);
            return 0;
        }
        char msg[600];
        snprintf(msg, sizeof(msg), "refused (%s): %s", r->code, r->message);
        return slot_fail(a, s, r->code, msg);
    case NLPD_REPLY_RESULT:
        nudge_busy(a, now);
        return on_result(a, s, r);
    default:
        return 0;
    }
}

/* Handles every reply waiting, without blocking. */
static int
drain_replies(annotate *a)
{
    for (;;) {
        nlpd_reply r;
        int rc = nlpd_client_recv(a->c, &r, 0);
        if (rc == NLPD_ETIMEDOUT || rc == -EINTR)
            return 0;
        if (rc == NLPD_EPROTO) {
            a->st.malformed++;
            if (a->diag_malformed < DIAG_MALFORMED_MAX) {
                diag(a, "ignoring a malformed reply from nlpd: %s%s", r.message,
                     a->diag_malformed + 1 == DIAG_MALFORMED_MAX ? " (further ones not shown)"
                                                                 : "");
            }
            a->diag_malformed++;
            continue;
        }
        if (rc != 0)
            return rc;
        rc = on_reply(a, &r, nlpd__mono_us());
        if (rc != 0)
            return rc;
    }
}

/* Writes the finished slots at the head of the ring, in order. */
static int
flush_done(annotate *a)
{
    while (a->head < a->next) {
        slot *s = slot_of(a, a->head);
        if (s->state != SLOT_DONE)
            break;
        errno = 0;
        if (fwrite(s->out, 1, s->out_len, a->out) != s->out_len || fputc('\n', a->out) == EOF)
            return errno != 0 ? -errno : -EIO;
        slot_clear(s);
        a->head++;
        a->st.written++;
    }
    return 0;
}

static void
report_progress(annotate *a, uint64_t now, int final)
{
    if (a->o->progress == NULL)
        return;
    if (!final && now - a->progress_us < (uint64_t)a->o->progress_ms * 1000u)
        return;
    a->progress_us = now;
    a->st.in_flight = a->in_flight;
    slot *oldest = a->head < a->next ? slot_of(a, a->head) : NULL;
    if (oldest != NULL && in_flight_state(oldest->state)) {
        a->st.oldest_line = oldest->line;
        a->st.oldest_wait_s = now > oldest->first_us ? (double)(now - oldest->first_us) / 1e6 : 0;
    } else {
        a->st.oldest_line = 0;
        a->st.oldest_wait_s = 0;
    }
    a->st.stalled = a->next - a->head >= a->cap;
    a->st.elapsed_s = (double)(now - a->start_us) / 1e6;
    a->o->progress(a->o->arg, &a->st, final);
}

/* One turn of the loop without waiting: replies, new lines, retries and
 * deadlines, then output. */
static int
annotate_turn(annotate *a, uint64_t now, int *want_input, int *input_done)
{
    *want_input = 0;
    int rc = drain_replies(a);
    if (rc == 0 && !*input_done)
        rc = intake(a, now, want_input, input_done);
    if (rc == 0)
        rc = scan_due(a, now);
    if (rc == 0)
        rc = flush_done(a);
    return rc;
}

/* Waits for a reply, for input when it is wanted, or until something is
 * due (at most MAX_WAIT_MS, so a stop request is seen promptly). */
static int
annotate_wait(annotate *a, uint64_t now, int want_input)
{
    long wait = MAX_WAIT_MS;
    if (a->next_scan_us != UINT64_MAX && ms_until(a->next_scan_us, now) < wait)
        wait = ms_until(a->next_scan_us, now);
    /* Whoever reads the output sees each line before we sleep. */
    if (fflush(a->out) != 0)
        return -errno;
    int poll_input = want_input && !a->eof;
    zmq_pollitem_t items[2] = {
        {.socket = nlpd_client_socket(a->c), .fd = 0, .events = ZMQ_POLLIN, .revents = 0},
        {.socket = NULL, .fd = a->fd, .events = ZMQ_POLLIN, .revents = 0},
    };
    if (zmq_poll(items, poll_input ? 2 : 1, wait) < 0)
        return zmq_errno() == EINTR ? 0 : -zmq_errno();
    if (poll_input && (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
        return fill_input(a);
    return 0;
}

static int
annotate_loop(annotate *a)
{
    int input_done = 0;
    for (;;) {
        if (a->o->stop != NULL && *a->o->stop)
            return -EINTR;
        uint64_t now = nlpd__mono_us();
        int want_input = 0;
        int rc = annotate_turn(a, now, &want_input, &input_done);
        if (rc != 0)
            return rc;
        report_progress(a, now, 0);
        if (input_done && a->head == a->next)
            return 0;
        rc = annotate_wait(a, now, want_input);
        if (rc != 0)
            return rc;
    }
}

int
nlpd_client_annotate(nlpd_client *c, int in_fd, FILE *out, const nlpd_client_annotate_opts *o,
                     nlpd_client_annotate_stats *st)
{
    if (c == NULL || out == NULL || o == NULL || o->window == 0 || o->timeout_ms <= 0 ||
        o->max_line == 0 || o->window > SIZE_MAX / 4 / sizeof(slot))
        return NLPD_EINVAL;
    annotate a = {.c = c, .o = o, .out = out, .fd = in_fd, .next_scan_us = UINT64_MAX};
    a.cap = o->window * 4;
    a.start_us = a.progress_us = nlpd__mono_us();
    a.rng = (uint32_t)(a.start_us ^ ((uint64_t)getpid() << 16)) | 1u;
    a.ring = nlpd_calloc(a.cap, sizeof(*a.ring));
    int rc = a.ring != NULL ? nlpd_doc_new(&a.doc) : NLPD_ENOMEM;
    if (rc == 0)
        rc = annotate_loop(&a);
    if (rc == -EINTR || rc == 0) {
        /* Whatever is answered in order still goes out. */
        int frc = flush_done(&a);
        if (frc == 0 && fflush(out) != 0)
            frc = -errno;
        if (frc != 0)
            rc = frc;
    }
    a.st.unanswered = a.next - a.head;
    report_progress(&a, nlpd__mono_us(), 1);
    for (size_t i = 0; a.ring != NULL && i < a.cap; i++)
        slot_clear(&a.ring[i]);
    nlpd_free(a.ring);
    nlpd_doc_free(&a.doc);
    nlpd__buf_release(&a.in);
    if (st != NULL)
        *st = a.st;
    return rc;
}
