/* daemon/client.h — the client side of the nlpd wire protocol (docs/protocol.md).
 *
 * An nlpd_client is one DEALER socket connected to the daemon's front door,
 * with its own ZeroMQ context: submit documents, ping, and receive the
 * answers (ACCEPTED, REFUSED, RESULT, PONG), each tagged with the caller's
 * correlation number. nlpd_control_call() is one request/reply on the
 * control socket. nlpd_client_annotate() is the engine behind
 * `nlpctl annotate`: JSON Lines in, annotated JSON Lines out in input order,
 * with a bounded window of documents in flight.
 *
 * Internal to nlpd (nlpctl, end-to-end tests, the benchmark); not installed.
 * Not thread-safe: one nlpd_client per thread, as ZeroMQ sockets are.
 */
#ifndef NLPD_CLIENT_H
#define NLPD_CLIENT_H

#include "nlpd/doc.h"
#include "nlpd/error.h"
#include "nlpd/json.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nlpd_client nlpd_client;

typedef enum {
    NLPD_REPLY_ACCEPTED = 1,
    NLPD_REPLY_REFUSED,
    NLPD_REPLY_RESULT,
    NLPD_REPLY_PONG
} nlpd_reply_kind;

/* One answer from the front door. Strings are NUL-terminated copies; a
 * REFUSED message longer than the buffer is truncated. */
typedef struct nlpd_reply {
    nlpd_reply_kind kind;
    uint64_t corr;       /* the client's correlation number (sent as 8 bytes big-endian) */
    char key[64];        /* ACCEPTED, RESULT */
    char code[32];       /* REFUSED: busy, too_large, malformed, bad_request, stopping,
                          * journal (the document could not be recorded) */
    char message[512];   /* REFUSED: the reason; PONG: the daemon's version;
                          * after NLPD_EPROTO: what was wrong with the reply */
    int error;           /* RESULT: status was "error" */
    const void *payload; /* RESULT: encoded Document (or JSON when asked); valid until the
                          * next recv/close */
    size_t payload_len;
} nlpd_reply;

/* CurveZMQ keys for tcp:// endpoints (docs/protocol.md, "Security"): the
 * daemon's public key file and the client's own key pair file (`nlpctl
 * keygen`). A NULL field, or a NULL nlpd_client_keys pointer, takes the
 * file from $NLPD_CURVE_SERVER_KEY_FILE / $NLPD_CURVE_KEY_FILE. ipc://
 * endpoints never use keys (file permissions guard them). */
typedef struct nlpd_client_keys {
    const char *server_key_file;
    const char *key_file;
} nlpd_client_keys;

/* Makes `sock` (before its zmq_connect to `endpoint`) a Curve client when
 * `endpoint` is tcp:// and keys are given (or in the environment). Returns
 * 0 (also when nothing was to be done), NLPD_EINVAL when only one of the
 * two files is given, or the error of nlpd_curve_key_load(), with a
 * sentence in `why` (may be NULL). */
int nlpd_client_curve_setup(void *sock, const char *endpoint, const nlpd_client_keys *keys,
                            char *why, size_t why_len);

/* As nlpd_client_open(), with Curve keys for a tcp:// endpoint (`keys` may
 * be NULL: the environment's). A key file that cannot be used returns its
 * error (NLPD_ENOENT, -EACCES, NLPD_EFORMAT, NLPD_EINVAL). */
int nlpd_client_open_keys(nlpd_client **out, const char *runtime_dir, const char *endpoint,
                          const nlpd_client_keys *keys);

/* Connects a DEALER to the front door: `endpoint` if not NULL, else
 * ipc://<runtime dir>/front, the directory resolved by nlpd__runtime_dir()
 * from `runtime_dir` (may be NULL). Connecting does not wait for the
 * daemon: messages sent before it is there are queued and delivered when it
 * binds, so a caller learns that nobody answers only from a recv timeout
 * (the same for a tcp:// daemon that refuses the client's key). On a
 * tcp:// endpoint the Curve keys of the environment are used
 * (nlpd_client_open_keys).
 * The socket has no linger: closing never blocks.
 * On success returns 0 and sets *out (free with nlpd_client_close()).
 * Errors: NLPD_EINVAL (endpoint too long or not a valid ZeroMQ endpoint),
 * NLPD_ENOMEM, another -errno from ZeroMQ. */
int nlpd_client_open(nlpd_client **out, const char *runtime_dir, const char *endpoint);

/* Closes the socket and its context and frees the client, including the
 * last reply's payload. Sets *self_p to NULL; accepts NULL. */
void nlpd_client_close(nlpd_client **self_p);

/* Sends SUBMIT | corr | flags | payload, corr as an 8-byte big-endian frame
 * and `flags` the protocol's space-separated words (e.g. "pb wait"; NULL
 * is sent as an empty frame, the daemon's default "pb"). `payload` is
 * borrowed (copied before return). Waits up to timeout_ms (-1: forever,
 * 0: not at all) for room to send. Returns 0, NLPD_ETIMEDOUT when the
 * socket stayed full, -EINTR when a signal interrupted the wait, or another
 * -errno. */
int nlpd_client_submit(nlpd_client *c, uint64_t corr, const char *flags, const void *payload,
                       size_t len, int timeout_ms);

/* Sends PING | corr without waiting; the answer is a NLPD_REPLY_PONG with
 * the version in reply.message. Returns 0, NLPD_EAGAIN when the socket is
 * full, or another -errno. */
int nlpd_client_ping(nlpd_client *c, uint64_t corr);

/* Waits up to timeout_ms (-1 forever, 0 poll) for one reply and fills *r.
 * Returns 0, NLPD_ETIMEDOUT, NLPD_EPROTO, -EINTR when a signal interrupted
 * the wait, or another -errno. A malformed reply (unknown verb, wrong
 * number of frames, a corr frame that is not 8 bytes, a key that does not
 * fit, an unknown status) is consumed and reported as NLPD_EPROTO with
 * r->kind 0, r->message saying what was wrong and r->corr set when the
 * corr frame could be read (else 0); the next call reads the next reply.
 * r->payload points into the client and stays valid until the next
 * nlpd_client_recv() or nlpd_client_close(). */
int nlpd_client_recv(nlpd_client *c, nlpd_reply *r, int timeout_ms);

/* The socket, for zmq_poll by callers that multiplex; borrowed, owned by
 * the client. Receive only through nlpd_client_recv(). */
void *nlpd_client_socket(nlpd_client *c);

/* One request/reply on the control socket (ipc://<dir>/control, or
 * `endpoint` when not NULL): sends the one-frame `request` ("STATUS",
 * "RELOAD") from a DEALER of its own and waits up to timeout_ms (-1:
 * forever) for the answer. On "OK" returns 0 with *reply a NUL-terminated
 * copy of the JSON; on "ERROR" returns NLPD_EINVAL with the daemon's
 * message in *reply (both free with nlpd_free; *reply is NULL on every
 * other return). NLPD_ETIMEDOUT when the daemon does not answer, NLPD_EPROTO
 * when the answer is not OK|json or ERROR|message, -EINTR when a signal
 * interrupted the wait, NLPD_ENOMEM, or another -errno. Thread-safe (no
 * shared state). */
int nlpd_control_call(const char *runtime_dir, const char *endpoint, const char *request,
                      int timeout_ms, char **reply);

/* As nlpd_control_call(), with Curve keys for a tcp:// endpoint (`keys`
 * may be NULL: the environment's; see nlpd_client_open_keys). */
int nlpd_control_call_keys(const char *runtime_dir, const char *endpoint,
                           const nlpd_client_keys *keys, const char *request, int timeout_ms,
                           char **reply);

/* Writes the endpoint of socket `name` (NLPD_SOCK_FRONT, ...) in the runtime
 * directory resolved from `runtime_dir` (may be NULL) to `out`, as
 * "ipc://DIR/NAME". Returns 0 or NLPD_EINVAL (does not fit). */
int nlpd_client_endpoint(const char *runtime_dir, const char *name, char *out, size_t out_len);

/* Decodes the encoded Document `payload` (`len` bytes, borrowed) into
 * `doc` (reused from call to call) and renders it as one JSON object with
 * nlpd_doc_to_json(`flags`); with `minimal`, with flags 0 and only the
 * fields nlpd_client_minimal_json() keeps. On success returns 0 and sets
 * *out (free with nlpd_free) and *out_len (may be NULL). NLPD_EPROTO when
 * the bytes are not a valid Document (also one whose strings are not
 * UTF-8), with the reason in `why` (may be NULL); NLPD_ENOMEM. */
int nlpd_client_render(nlpd_doc *doc, const void *payload, size_t len, unsigned flags, int minimal,
                       char **out, size_t *out_len, char *why, size_t why_len);

/* Encodes an options object in the JSON of the evaluation format's input
 * ("summary_sentences", "stages", "format", custom keys...) as an
 * nlpd.v1.Document holding only those options, for
 * nlpd_client_submission_encode(). On success returns 0 and sets *out
 * (free with nlpd_free) and *len. NLPD_EFORMAT with the reason in `why`
 * (may be NULL) when `options_json` is not such an object; NLPD_ENOMEM. */
int nlpd_client_options_encode(const char *options_json, uint8_t **out, size_t *len, char *why,
                               size_t why_len);

/* Encodes a submission as nlpd_submission_encode() does, with the options
 * of `options_pb` (from nlpd_client_options_encode(), `options_len` bytes;
 * NULL for none) added: its summary budget replaces s->budget when it sets
 * one, its format is used when s->format is NLPD_FORMAT_DETECT, its stages
 * are added to s->stages and its custom options kept. On success returns 0
 * and sets *out (free with nlpd_free) and *len. Errors: NLPD_EINVAL (a
 * string of `s` that is not UTF-8, or options_pb not a Document),
 * NLPD_ENOMEM. */
int nlpd_client_submission_encode(const nlpd_submission *s, const uint8_t *options_pb,
                                  size_t options_len, uint8_t **out, size_t *len);

/* --- Retrying refused documents ------------------------------------------- */

/* The delay before retry number `attempt` (0 for the first) of a document
 * the daemon refused as busy: 5 ms doubling to at most 1 s, of which the
 * lower half is fixed and the upper half drawn from `rnd` ("equal jitter"),
 * so that many clients refused at once do not come back at once. Pure. */
unsigned nlpd_client_backoff_ms(unsigned attempt, uint32_t rnd);

/* --- nlpctl annotate --------------------------------------------------------- */

/* Counters of one nlpd_client_annotate() run, also passed to the progress
 * callback. */
typedef struct nlpd_client_annotate_stats {
    uint64_t lines;        /* input lines seen, blank ones included */
    uint64_t read;         /* documents read (non-blank lines) */
    uint64_t written;      /* output lines written */
    uint64_t failed;       /* of those, error lines written by the client */
    uint64_t stage_errors; /* results that came back with status "error" */
    uint64_t busy;         /* busy refusals (each resent later) */
    uint64_t malformed;    /* malformed or unexpected replies ignored */
    uint64_t in_flight;    /* documents submitted and not yet answered */
    uint64_t unanswered;   /* at the end: documents read but never written */
    double elapsed_s;      /* since the run started */
    uint64_t oldest_line;  /* line of the oldest document not yet answered (0: none) */
    double oldest_wait_s;  /* how long it has been waiting */
    int stalled;           /* the reorder buffer is full: input waits for the oldest */
} nlpd_client_annotate_stats;

/* Receives one diagnostic line (no trailing newline), e.g. for stderr. */
typedef void (*nlpd_client_diag_fn)(void *arg, const char *msg);

/* Receives the counters, at most every progress_ms and once at the end. */
typedef void (*nlpd_client_progress_fn)(void *arg, const nlpd_client_annotate_stats *st, int final);

typedef struct nlpd_client_annotate_opts {
    size_t window;       /* documents in flight at most; the reorder buffer holds 4x */
    int timeout_ms;      /* per document, from its first send to its result */
    unsigned json_flags; /* nlpd_doc_to_json() flags for each result */
    int minimal;         /* keep only the evaluation fields (and "errors") */
    size_t max_line;     /* a longer input line gets a too_large error line */
    const volatile sig_atomic_t *stop; /* when it becomes non-zero: stop (may be NULL) */
    nlpd_client_diag_fn diag;          /* may be NULL */
    nlpd_client_progress_fn progress;  /* may be NULL */
    int progress_ms;                   /* how often progress is called, at most */
    void *arg;                         /* passed to diag and progress */
} nlpd_client_annotate_opts;

#define NLPD_CLIENT_ANNOTATE_OPTS_INIT                                                            \
    {                                                                                             \
        .window = 64, .timeout_ms = 300000, .json_flags = 0, .minimal = 0, .max_line = 64u << 20, \
        .stop = NULL, .diag = NULL, .progress = NULL, .progress_ms = 200, .arg = NULL             \
    }

/* Reads JSON Lines (the input of the evaluation format) from `in_fd`,
 * submits each document with flags "pb wait", keeping up to o->window in
 * flight, and writes one annotated JSON line to `out` per non-blank input
 * line, in input order. A line that is not valid input, a refusal other
 * than busy, a result that cannot be decoded or one that does not come
 * within o->timeout_ms gets an error line at its place,
 *   {"id": ID or null, "line": N, "errors": [{"stage": "nlpctl", "code", "message"}]}
 * and a diagnostic. A document refused as busy is resent after
 * nlpd_client_backoff_ms(), or sooner: each result that comes back lets
 * the oldest such document go at once, since the daemon has room again.
 * Input is read only while fewer than o->window documents are in flight and
 * the reorder buffer has room, so memory stays bounded by the window.
 * Results for documents already given up on are ignored.
 * Returns 0 when every line was answered (st->failed counts error lines),
 * -EINTR when *o->stop became non-zero (lines answered in order so far are
 * written; st->unanswered counts the rest), NLPD_ENOMEM, or another -errno
 * (reading `in_fd`, writing `out`, the socket). `c` must not be used by
 * anyone else meanwhile; `st` may be NULL. */
int nlpd_client_annotate(nlpd_client *c, int in_fd, FILE *out, const nlpd_client_annotate_opts *o,
                         nlpd_client_annotate_stats *st);

/* Keeps only the keys of the evaluation format's output ("id", "text",
 * "sentences", "entities", "summary", "summary_text") and "errors" of the
 * JSON object `json` (`len` bytes). On success returns 0 and sets *out
 * (NUL-terminated, compact; free with nlpd_free) and *out_len (may be NULL).
 * Errors: NLPD_EPROTO (not a JSON object), NLPD_ENOMEM. */
int nlpd_client_minimal_json(const char *json, size_t len, char **out, size_t *out_len);

/* Renders a client-side error line: {"id": id or null, "line": N, "errors":
 * [{"stage": "nlpctl", "code": code, "message": message}]}, compact, no
 * newline. `id` may be NULL; strings that are not valid UTF-8 are written
 * with U+FFFD. On success returns 0 and sets *out (free with nlpd_free) and
 * *out_len (may be NULL). Errors: NLPD_ENOMEM. */
int nlpd_client_error_line(const char *id, uint64_t line, const char *code, const char *message,
                           char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* NLPD_CLIENT_H */
