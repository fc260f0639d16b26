/* stages/runtime/nlpd_internal.h — internals shared by the runtime, the
 * daemon, nlpctl and the built-in workers. Not installed, not part of the
 * SDK's ABI: names start with nlpd__ (libuv, Mosquitto).
 */
#ifndef NLPD_INTERNAL_H
#define NLPD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nlpd/doc.h"
#include "nlpd/nlpd.pb-c.h"

/* A growable byte buffer; zero-initialise. */
typedef struct nlpd__buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} nlpd__buf;

/* Makes room for `extra` more bytes. Returns 0 or NLPD_ENOMEM. */
int nlpd__buf_reserve(nlpd__buf *b, size_t extra);
int nlpd__buf_append(nlpd__buf *b, const void *data, size_t len);
void nlpd__buf_release(nlpd__buf *b);

/* A bump allocator for protobuf-c decoding: one reset per message instead of
 * a free per field. Chunks are kept for reuse; nlpd__arena_release frees them. */
typedef struct nlpd__arena nlpd__arena;
int nlpd__arena_new(nlpd__arena **out);
void nlpd__arena_reset(nlpd__arena *a);
void nlpd__arena_free(nlpd__arena **a);
ProtobufCAllocator *nlpd__arena_allocator(nlpd__arena *a);
/* Allocates from the arena (NULL when out of memory); freed by reset. */
void *nlpd__arena_alloc(nlpd__arena *a, size_t size);
char *nlpd__arena_strndup(nlpd__arena *a, const char *s, size_t len);
/* 1 when an allocation failed since the last reset (tells ENOMEM from EPROTO). */
int nlpd__arena_failed(const nlpd__arena *a);

/* The decoded message behind a document. Fields may be pointed at memory
 * from nlpd__doc_arena() (or any memory that outlives the next pack), which
 * is how the ingest worker sets the texts; then nlpd__doc_pack_full()
 * encodes the whole message. NULL before a successful parse. */
Nlpd__V1__Document *nlpd__doc_pb(nlpd_doc *self);
nlpd__arena *nlpd__doc_arena(nlpd_doc *self);

/* Records the runtime's trace entry and an error record among this stage's
 * additions. Strings are copied. Return 0 or NLPD_ENOMEM. */
int nlpd__doc_add_trace(nlpd_doc *self, const char *stage, const char *version,
                        const char *worker, uint64_t elapsed_us, uint64_t started_unix_us);
int nlpd__doc_add_error(nlpd_doc *self, const char *stage, const char *code, const char *message,
                        int fatal);

/* Error records among this stage's additions. */
size_t nlpd__doc_added_errors(const nlpd_doc *self);

/* Size and encoding of the whole (possibly modified) message plus this
 * stage's additions, for stages that rewrite (ingest). */
ssize_t nlpd__doc_full_size(nlpd_doc *self);
ssize_t nlpd__doc_full_pack(nlpd_doc *self, uint8_t *out);

/* Within a stage's process(): the stage rewrote the document through
 * nlpd__doc_pb() (ingest sets the texts), so the runtime encodes the whole
 * message instead of appending a delta to the bytes received. */
struct nlpd_stage_ctx;
void nlpd__stage_rewrite(struct nlpd_stage_ctx *ctx);

/* Refreshes the document's views (text, regions, ...) after its message was
 * modified through nlpd__doc_pb(). */
void nlpd__doc_refresh(nlpd_doc *self);

/* 1 when the `len` bytes at `s` are valid UTF-8 (no surrogates, no
 * overlongs, nothing above U+10FFFF). */
int nlpd__utf8_valid(const char *s, size_t len);

/* Checks the strings of a decoded Document (which protobuf-c does not
 * validate) are valid UTF-8 up to their first NUL, and its spans lie
 * inside the text they index; on failure returns NLPD_EPROTO and writes a
 * reason into `why`. */
int nlpd__doc_validate(const Nlpd__V1__Document *d, char *why, size_t why_len);

/* The span part of nlpd__doc_validate: regions, sentences, tokens,
 * entities and annotations inside the text they index, a well-formed map. */
int nlpd__doc_spans_valid(const Nlpd__V1__Document *d, char *why, size_t why_len);

/* Walks an encoded Document on the wire and checks every string field it
 * knows is valid UTF-8 over its whole length (an embedded NUL hides
 * nothing) and the encoding is well-formed. Returns 0 or NLPD_EPROTO with
 * a reason in `why`. */
int nlpd__wire_validate(const void *buf, size_t len, char *why, size_t why_len);

/* Microseconds since the Unix epoch, and a monotonic clock in microseconds. */
uint64_t nlpd__now_us(void);
uint64_t nlpd__mono_us(void);

/* --- Wire protocol verbs (docs/protocol.md) ------------------------------- */

/* Worker <-> daemon, on the stage socket (DEALER -> ROUTER). */
#define NLPD_W_HELLO "HELLO"
#define NLPD_W_STARTED "STARTED"
#define NLPD_W_DONE "DONE"
#define NLPD_W_ADDED "ADDED"
#define NLPD_W_BYE "BYE"
#define NLPD_W_DOC "DOC"
#define NLPD_W_STOP "STOP"
#define NLPD_W_RESET "RESET"
#define NLPD_W_HEARTBEAT "HEARTBEAT"

/* Client <-> daemon, on the front door (DEALER -> ROUTER). */
#define NLPD_C_SUBMIT "SUBMIT"
#define NLPD_C_PING "PING"
#define NLPD_C_ACCEPTED "ACCEPTED"
#define NLPD_C_REFUSED "REFUSED"
#define NLPD_C_RESULT "RESULT"
#define NLPD_C_PONG "PONG"

/* Environment the daemon gives the workers it spawns. */
#define NLPD_ENV_STAGE "NLPD_STAGE"
#define NLPD_ENV_WORKER_ID "NLPD_WORKER_ID"
#define NLPD_ENV_ENDPOINT "NLPD_STAGE_ENDPOINT"
#define NLPD_ENV_CONTROL "NLPD_CONTROL_ENDPOINT"
#define NLPD_ENV_HEARTBEAT_MS "NLPD_HEARTBEAT_MS"
#define NLPD_ENV_WINDOW "NLPD_WINDOW"
#define NLPD_ENV_LOG_LEVEL "NLPD_LOG_LEVEL"
/* The spawning daemon's pid: set for the workers the daemon starts (and
 * for no other), which leave when that daemon is gone. */
#define NLPD_ENV_SPAWNED "NLPD_SPAWNED"

/* Names of the sockets in the runtime directory. */
#define NLPD_SOCK_FRONT "front"
#define NLPD_SOCK_CONTROL "control"
#define NLPD_SOCK_RESULTS "results"
#define NLPD_HOPS_DIR "hops"
#define NLPD_SOCK_HEARTBEAT "heartbeat"

/* Resolves the runtime directory the daemon and its clients share:
 * `given` if not NULL, else $NLPD_RUNTIME_DIR, else $RUNTIME_DIRECTORY
 * (systemd), else /run/nlpd for root, else $XDG_RUNTIME_DIR/nlpd, else
 * /tmp/nlpd-UID. Writes it to `out`. Returns 0 or NLPD_EINVAL (too long). */
int nlpd__runtime_dir(const char *given, char *out, size_t out_len);

/* Makes directory `path` with `mode` and any missing parents (0755), as
 * mkdir -p. Returns 0 (also when it exists), -ENAMETOOLONG or -errno. */
int nlpd__mkdir_p(const char *path, unsigned mode);

/* --- ZeroMQ helpers (zmsg.c) ---------------------------------------------- */

#include <zmq.h>

#define NLPD__MAX_FRAMES 8

/* One multipart message, up to NLPD__MAX_FRAMES frames; frames beyond that
 * are read and dropped, and `extra` counts them (a malformed message). */
typedef struct nlpd__frames {
    zmq_msg_t f[NLPD__MAX_FRAMES];
    int n;
    int extra;
} nlpd__frames;

/* Receives one whole multipart message. `flags` is 0 or ZMQ_DONTWAIT.
 * Returns 0, NLPD_EAGAIN when nothing is waiting, or another -errno. On
 * success call nlpd__frames_close() when done. */
int nlpd__recv_frames(void *sock, nlpd__frames *fr, int flags);
void nlpd__frames_close(nlpd__frames *fr);

/* 1 when frame i exists and holds exactly the NUL-free string `s`. */
int nlpd__frame_is(const nlpd__frames *fr, int i, const char *s);
/* Copies frame i into `out` as a NUL-terminated string (truncating);
 * returns its full length, or -1 when the frame does not exist. */
int nlpd__frame_str(const nlpd__frames *fr, int i, char *out, size_t out_len);
size_t nlpd__frame_size(const nlpd__frames *fr, int i);
const void *nlpd__frame_data(const nlpd__frames *fr, int i);

/* Send one frame; `more` is ZMQ_SNDMORE or 0, plus ZMQ_DONTWAIT if wanted.
 * Return 0 or -errno. nlpd__send_msg moves the message (it is empty after). */
int nlpd__send_str(void *sock, const char *s, int flags);
int nlpd__send_bytes(void *sock, const void *data, size_t len, int flags);
int nlpd__send_msg(void *sock, zmq_msg_t *msg, int flags);

/* The socket's ZMQ_EVENTS (ZMQ_POLLIN | ZMQ_POLLOUT bits), 0 on error. */
int nlpd__zmq_events(void *sock);

/* --- libuv watcher for a ZeroMQ socket (zwatch.c) ------------------------- */

#include <uv.h>

typedef struct nlpd__zwatch nlpd__zwatch;

/* Called once per received message; the frames are closed after it
 * returns (move a frame out with zmq_msg_move to keep it). */
typedef void (*nlpd__zwatch_fn)(nlpd__zwatch *w, nlpd__frames *fr);
typedef void (*nlpd__zwatch_close_fn)(nlpd__zwatch *w);

/* Watches a socket's ZMQ_FD with uv_poll. ZMQ_FD is edge-triggered and
 * also "eaten" by sends on the same socket, so the watcher drains in
 * batches while ZMQ_EVENTS says POLLIN and keeps a uv_idle running while
 * messages remain; call nlpd__zwatch_kick() after sending on the socket.
 * Embed it; free the memory only in the close callback. */
struct nlpd__zwatch {
    uv_poll_t poll;  /* private */
    uv_idle_t idle;  /* private */
    void *sock;      /* read-only */
    nlpd__zwatch_fn on_msg;
    void *data;      /* public: the owner's pointer */
    unsigned batch;  /* messages per turn, 64 by default */
    int open;        /* private: handles not yet closed */
    int paused;      /* private */
    int dirty;       /* private: sent on since the last look (see _mark) */
    nlpd__zwatch_close_fn on_closed;
};

int nlpd__zwatch_start(nlpd__zwatch *w, uv_loop_t *loop, void *sock, nlpd__zwatch_fn fn,
                       void *data);
void nlpd__zwatch_kick(nlpd__zwatch *w);
/* Notes that the owner sent on the socket: a send can consume the edge of
 * ZMQ_FD while messages wait. nlpd__zwatch_flush() then kicks the watcher,
 * once per loop turn however many sends there were (call it from a
 * uv_prepare, which runs before the loop blocks). */
static inline void
nlpd__zwatch_mark(nlpd__zwatch *w)
{
    w->dirty = 1;
}
static inline void
nlpd__zwatch_flush(nlpd__zwatch *w)
{
    if (w->dirty) {
        w->dirty = 0;
        nlpd__zwatch_kick(w);
    }
}
/* Stops reading (messages wait in the socket) until resumed. */
void nlpd__zwatch_pause(nlpd__zwatch *w);
void nlpd__zwatch_resume(nlpd__zwatch *w);
/* Closes both handles; on_closed runs once they are closed (may be NULL).
 * The socket itself is the caller's to close. */
void nlpd__zwatch_close(nlpd__zwatch *w, nlpd__zwatch_close_fn on_closed);

#endif /* NLPD_INTERNAL_H */
