/* stages/runtime/stage.c — the worker runtime every stage runs inside.
 *
 * One libuv loop on the main thread: a uv_poll on the DEALER socket's
 * ZMQ_FD (edge-triggered: drained while ZMQ_EVENTS says POLLIN, in batches
 * bounded by count and time so signals are seen between documents, with a
 * uv_idle to come back for the rest), uv_signal for SIGTERM/SIGINT. A
 * second thread sends heartbeats on its own socket, so a long document
 * never looks like a dead worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>
#include <zmq.h>

#include "nlpd/alloc.h"
#include "nlpd/log.h"
#include "nlpd/stage.h"
#include "nlpd_internal.h"

#define BATCH_MAX_DOCS 64
#define BATCH_MAX_US 5000
#define DEFAULT_HEARTBEAT_MS 1000
#define DEFAULT_WINDOW 16

struct nlpd_stage_ctx {
    const nlpd_stage_def *def;
    char stage[64];
    char version[64];
    char worker_id[160];
    char endpoint[512];
    char control[512];
    int heartbeat_ms;
    unsigned window;
    /* CurveZMQ on tcp:// endpoints: the daemon's public key and our pair. */
    int curve;
    char curve_server[NLPD_CURVE_Z85_LEN + 1];
    char curve_public[NLPD_CURVE_Z85_LEN + 1];
    char curve_secret[NLPD_CURVE_Z85_LEN + 1];
    void *state;
    int state_ready;

    void *zctx;
    void *sock;
    uv_loop_t loop;
    int loop_inited;
    uv_poll_t poll;
    uv_idle_t more;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    int stopping;
    int exit_code;

    nlpd_doc *doc;
    uint64_t now_us;
    int failed;
    int rewrite;
    int fail_fatal;
    char fail_code[64];
    char fail_msg[512];

    /* Shared with the heartbeat thread under `mu`. */
    uv_mutex_t mu;
    uv_cond_t cond;
    int hb_stop;
    uint64_t processed;
    uint64_t errors;
    char current_key[96];
    uv_thread_t hb_thread;
    int hb_started;
};

/* SIGTERM/SIGINT are handled with uv_signal, whose callback runs in the
 * loop's poll phase: after any document already taken from the socket in
 * that turn. So that a stop never starts one more document, a handler
 * chained in front of libuv's sets this flag the moment the signal
 * arrives; the drain checks it before taking a document. One runtime per
 * process: the flag is the process's. */
static volatile sig_atomic_t term_requested;
static struct sigaction uv_term_action, uv_int_action;

static void
chained_handler(int signum, siginfo_t *info, void *uc)
{
    term_requested = 1;
    const struct sigaction *next = signum == SIGTERM ? &uv_term_action : &uv_int_action;
    if (next->sa_flags & SA_SIGINFO) {
        if (next->sa_sigaction != NULL)
            next->sa_sigaction(signum, info, uc);
    } else if (next->sa_handler != SIG_DFL && next->sa_handler != SIG_IGN) {
        next->sa_handler(signum);
    }
}

static void
chain_signal(int signum, struct sigaction *saved)
{
    struct sigaction sa;
    if (sigaction(signum, NULL, saved) != 0)
        return;
    sa = *saved;
    sa.sa_flags |= SA_SIGINFO;
    sa.sa_sigaction = chained_handler;
    sigaction(signum, &sa, NULL);
}

/* --- Context accessors for stage code ------------------------------------- */

void
nlpd_stage_fail(nlpd_stage_ctx *ctx, const char *code, int fatal, const char *fmt, ...)
{
    if (ctx == NULL)
        return;
    ctx->failed = 1;
    ctx->fail_fatal = fatal != 0;
    snprintf(ctx->fail_code, sizeof(ctx->fail_code), "%s", code != NULL ? code : "stage_error");
    ctx->fail_msg[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->fail_msg, sizeof(ctx->fail_msg), fmt, ap);
        va_end(ap);
    }
}

const char *
nlpd_stage_name(const nlpd_stage_ctx *ctx)
{
    return ctx->stage;
}

const char *
nlpd_stage_worker_id(const nlpd_stage_ctx *ctx)
{
    return ctx->worker_id;
}

uint64_t
nlpd_stage_now_us(const nlpd_stage_ctx *ctx)
{
    return ctx->now_us;
}

void
nlpd__stage_rewrite(nlpd_stage_ctx *ctx)
{
    ctx->rewrite = 1;
}

/* --- CurveZMQ keys -------------------------------------------------------- */

#define KEY_FILE_MAX 65536

/* 1 when the `len` bytes at `s` are a Z85-encoded 32-byte key. */
static int
z85_key_valid(const char *s, size_t len)
{
    if (len != NLPD_CURVE_Z85_LEN)
        return 0;
    char text[NLPD_CURVE_Z85_LEN + 1];
    uint8_t bin[32];
    memcpy(text, s, len);
    text[len] = '\0';
    int ok = zmq_z85_decode(bin, text) != NULL;
    explicit_bzero(bin, sizeof(bin));
    explicit_bzero(text, sizeof(text));
    return ok;
}

/* A `name = "Z85"` line (quotes optional): 1 with the key in `out`, 0 when
 * the line is about something else, -1 when its value is not a key. */
static int
key_line(const char *line, size_t line_len, const char *name, char *out)
{
    size_t n = strlen(name);
    if (line_len < n || memcmp(line, name, n) != 0)
        return 0;
    const char *p = line + n, *end = line + line_len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end || *p != '=')
        return 0;
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    char quote = 0;
    if (p < end && (*p == '"' || *p == '\''))
        quote = *p++;
    const char *v = p;
    while (p < end && (quote ? *p != quote : (*p != ' ' && *p != '\t' && *p != '\r')))
        p++;
    if (quote != 0 && (p >= end || *p != quote))
        return -1;
    if (!z85_key_valid(v, (size_t)(p - v)))
        return -1;
    memcpy(out, v, NLPD_CURVE_Z85_LEN);
    out[NLPD_CURVE_Z85_LEN] = '\0';
    return 1;
}

static void
say_why(char *why, size_t why_len, const char *fmt, ...) NLPD_PRINTF(3, 4);

static void
say_why(char *why, size_t why_len, const char *fmt, ...)
{
    if (why == NULL || why_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

/* Reads the whole (small) file at `fd` into `buf` (NUL-terminated).
 * Returns its length or -errno. */
static ssize_t
read_small(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

int
nlpd_curve_key_load(const char *path, char *public_z85, char *secret_z85, char *why,
                    size_t why_len)
{
    if (path == NULL || public_z85 == NULL) {
        say_why(why, why_len, "no key file given");
        return NLPD_EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        say_why(why, why_len, "%s: cannot open: %s", path, strerror(err));
        return err == ENOENT ? NLPD_ENOENT : -err;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size >= KEY_FILE_MAX) {
        close(fd);
        say_why(why, why_len, "%s: not a key file (a regular file under 64 KiB)", path);
        return NLPD_EFORMAT;
    }
    if (secret_z85 != NULL && (sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        say_why(why, why_len,
                "%s: a secret key file must be readable by its owner only (mode %03o; "
                "chmod 600 it)",
                path, (unsigned)(sb.st_mode & 0777));
        return -EACCES;
    }
    char *text = nlpd_malloc(KEY_FILE_MAX);
    if (text == NULL) {
        close(fd);
        return NLPD_ENOMEM;
    }
    ssize_t len = read_small(fd, text, KEY_FILE_MAX);
    close(fd);
    if (len < 0) {
        nlpd_free(text);
        say_why(why, why_len, "%s: cannot read: %s", path, strerror((int)-len));
        return (int)len;
    }
    char pub[NLPD_CURVE_Z85_LEN + 1] = "", sec[NLPD_CURVE_Z85_LEN + 1] = "";
    int bad = 0;
    for (const char *line = text; *line != '\0' && !bad;) {
        size_t n = strcspn(line, "\n");
        const char *next = line + n + (line[n] == '\n');
        while (n > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            n--;
        }
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
            n--;
        if (n > 0 && line[0] != '#') {
            int r = key_line(line, n, "public-key", pub);
            if (r == 0)
                r = key_line(line, n, "secret-key", sec);
            if (r < 0)
                bad = 1;
            else if (r == 0 && pub[0] == '\0' && z85_key_valid(line, n)) {
                memcpy(pub, line, NLPD_CURVE_Z85_LEN); /* a bare public key */
                pub[NLPD_CURVE_Z85_LEN] = '\0';
            }
        }
        line = next;
    }
    explicit_bzero(text, (size_t)len);
    nlpd_free(text);
    int rc = 0;
    if (bad) {
        say_why(why, why_len, "%s: a public-key or secret-key line does not hold a Z85 key", path);
        rc = NLPD_EFORMAT;
    } else if (secret_z85 != NULL && sec[0] == '\0') {
        say_why(why, why_len, "%s: no secret-key in it (is it the .pub file?)", path);
        rc = NLPD_EFORMAT;
    } else if (secret_z85 != NULL) {
        char derived[NLPD_CURVE_Z85_LEN + 1];
        if (zmq_curve_public(derived, sec) != 0) {
            say_why(why, why_len, "%s: the secret key is not usable", path);
            rc = NLPD_EFORMAT;
        } else if (pub[0] != '\0' && strcmp(pub, derived) != 0) {
            say_why(why, why_len, "%s: its public-key does not belong to its secret-key", path);
            rc = NLPD_EFORMAT;
        } else {
            memcpy(pub, derived, sizeof(pub));
            memcpy(secret_z85, sec, sizeof(sec));
        }
    } else if (pub[0] == '\0') {
        say_why(why, why_len, "%s: no public key in it", path);
        rc = NLPD_EFORMAT;
    }
    if (rc == 0)
        memcpy(public_z85, pub, sizeof(pub));
    explicit_bzero(sec, sizeof(sec));
    return rc;
}

/* Sets the Curve client options from keys already loaded. */
static int
curve_client_keys(void *zsock, const char *server, const char *pub, const char *sec)
{
    if (zmq_setsockopt(zsock, ZMQ_CURVE_SERVERKEY, server, NLPD_CURVE_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(zsock, ZMQ_CURVE_PUBLICKEY, pub, NLPD_CURVE_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(zsock, ZMQ_CURVE_SECRETKEY, sec, NLPD_CURVE_Z85_LEN + 1) != 0)
        return -zmq_errno();
    return 0;
}

int
nlpd_curve_client_setup(void *zsock, const char *server_key_file, const char *key_file, char *why,
                        size_t why_len)
{
    char server[NLPD_CURVE_Z85_LEN + 1], pub[NLPD_CURVE_Z85_LEN + 1], sec[NLPD_CURVE_Z85_LEN + 1];
    int rc = nlpd_curve_key_load(server_key_file, server, NULL, why, why_len);
    if (rc == 0)
        rc = nlpd_curve_key_load(key_file, pub, sec, why, why_len);
    if (rc == 0) {
        rc = curve_client_keys(zsock, server, pub, sec);
        if (rc != 0)
            say_why(why, why_len, "cannot set the Curve keys: %s", zmq_strerror(-rc));
    }
    explicit_bzero(sec, sizeof(sec));
    return rc;
}

/* Curve for a socket about to connect to `endpoint` (tcp:// only: ipc://
 * endpoints are guarded by file permissions and take no keys). */
static int
curve_apply(const nlpd_stage_ctx *ctx, void *sock, const char *endpoint)
{
    if (!ctx->curve || strncmp(endpoint, "tcp://", 6) != 0)
        return 0;
    return curve_client_keys(sock, ctx->curve_server, ctx->curve_public, ctx->curve_secret);
}

/* --- Arguments ------------------------------------------------------------ */

static void
usage(const nlpd_stage_def *def, FILE *out)
{
    fprintf(out,
            "usage: nlpd-%s [runtime options] [stage options]\n"
            "\n"
            "A stage worker of nlpd. The daemon starts it with its endpoints in the\n"
            "environment; start it by hand to join a pipeline from another host.\n"
            "\n"
            "Runtime options (environment variable in brackets):\n"
            "  --endpoint EP      the daemon's socket for this stage [NLPD_STAGE_ENDPOINT]\n"
            "  --control EP       the daemon's heartbeat socket [NLPD_CONTROL_ENDPOINT]\n"
            "  --stage NAME       stage name (default %s) [NLPD_STAGE]\n"
            "  --worker-id ID     unique id of this worker [NLPD_WORKER_ID]\n"
            "  --window N         documents held at once (default %d) [NLPD_WINDOW]\n"
            "  --heartbeat-ms N   heartbeat interval (default %d) [NLPD_HEARTBEAT_MS]\n"
            "  --log-level LEVEL  err, warning, notice, info, debug [NLPD_LOG_LEVEL]\n"
            "  --server-key FILE  the daemon's public key: CurveZMQ on tcp:// endpoints\n"
            "                     [NLPD_CURVE_SERVER_KEY_FILE]\n"
            "  --key FILE         this worker's key pair (nlpctl keygen) [NLPD_CURVE_KEY_FILE]\n"
            "  --version, --help\n",
            def->name, def->name, DEFAULT_WINDOW, DEFAULT_HEARTBEAT_MS);
}

static const char *
env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : fallback;
}

static int
parse_uint(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || v < lo || v > hi)
        return NLPD_EINVAL;
    *out = v;
    return 0;
}

/* Takes the runtime's options out of argv (compacting it in place) and
 * leaves the stage's own. Returns 0, 1 for --help/--version (exit 0), or
 * NLPD_EINVAL. */
static int
parse_args(nlpd_stage_ctx *ctx, int *argc, char **argv, int *log_level)
{
    const char *endpoint = env_or(NLPD_ENV_ENDPOINT, NULL);
    const char *control = env_or(NLPD_ENV_CONTROL, NULL);
    const char *stage = env_or(NLPD_ENV_STAGE, ctx->def->name);
    const char *worker = env_or(NLPD_ENV_WORKER_ID, NULL);
    const char *window = env_or(NLPD_ENV_WINDOW, NULL);
    const char *hb = env_or(NLPD_ENV_HEARTBEAT_MS, NULL);
    const char *level = env_or(NLPD_ENV_LOG_LEVEL, "info");
    const char *server_key = env_or(NLPD_ENV_CURVE_SERVER_KEY_FILE, NULL);
    const char *key = env_or(NLPD_ENV_CURVE_KEY_FILE, NULL);
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(ctx->def, stdout);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("nlpd-%s %s\n", ctx->def->name, ctx->def->version ? ctx->def->version : "");
            return 1;
        }
        if (strcmp(a, "--endpoint") == 0)
            slot = &endpoint;
        else if (strcmp(a, "--control") == 0)
            slot = &control;
        else if (strcmp(a, "--stage") == 0)
            slot = &stage;
        else if (strcmp(a, "--worker-id") == 0)
            slot = &worker;
        else if (strcmp(a, "--window") == 0)
            slot = &window;
        else if (strcmp(a, "--heartbeat-ms") == 0)
            slot = &hb;
        else if (strcmp(a, "--log-level") == 0)
            slot = &level;
        else if (strcmp(a, "--server-key") == 0)
            slot = &server_key;
        else if (strcmp(a, "--key") == 0)
            slot = &key;
        if (slot == NULL) {
            argv[out++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            fprintf(stderr, "nlpd-%s: %s needs a value\n", ctx->def->name, a);
            return NLPD_EINVAL;
        }
        *slot = argv[++i];
    }
    argv[out] = NULL;
    *argc = out;

    if (endpoint == NULL) {
        fprintf(stderr,
                "nlpd-%s: no endpoint: the daemon passes %s; by hand, give --endpoint\n",
                ctx->def->name, NLPD_ENV_ENDPOINT);
        return NLPD_EINVAL;
    }
    long v;
    ctx->window = DEFAULT_WINDOW;
    if (window != NULL) {
        if (parse_uint(window, 1, 1024, &v) != 0) {
            fprintf(stderr, "nlpd-%s: window must be 1..1024\n", ctx->def->name);
            return NLPD_EINVAL;
        }
        ctx->window = (unsigned)v;
    }
    ctx->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
    if (hb != NULL) {
        if (parse_uint(hb, 10, 600000, &v) != 0) {
            fprintf(stderr, "nlpd-%s: heartbeat-ms must be 10..600000\n", ctx->def->name);
            return NLPD_EINVAL;
        }
        ctx->heartbeat_ms = (int)v;
    }
    *log_level = nlpd_log_level_parse(level);
    if (*log_level < 0) {
        fprintf(stderr, "nlpd-%s: unknown log level '%s'\n", ctx->def->name, level);
        return NLPD_EINVAL;
    }
    /* Keys serve tcp:// endpoints only: a worker on ipc ignores them (and
     * a key file it cannot read does not stop it). */
    int tcp = strncmp(endpoint, "tcp://", 6) == 0 ||
              (control != NULL && strncmp(control, "tcp://", 6) == 0);
    if (tcp && (server_key == NULL) != (key == NULL)) {
        fprintf(stderr,
                "nlpd-%s: CurveZMQ needs both the daemon's public key (--server-key, %s) and "
                "this worker's key pair (--key, %s)\n",
                ctx->def->name, NLPD_ENV_CURVE_SERVER_KEY_FILE, NLPD_ENV_CURVE_KEY_FILE);
        return NLPD_EINVAL;
    }
    if (server_key != NULL && tcp) {
        char why[600];
        int rc = nlpd_curve_key_load(server_key, ctx->curve_server, NULL, why, sizeof(why));
        if (rc == 0)
            rc = nlpd_curve_key_load(key, ctx->curve_public, ctx->curve_secret, why, sizeof(why));
        if (rc != 0) {
            fprintf(stderr, "nlpd-%s: %s\n", ctx->def->name, why);
            return NLPD_EINVAL;
        }
        ctx->curve = 1;
    }
    snprintf(ctx->stage, sizeof(ctx->stage), "%s", stage);
    snprintf(ctx->endpoint, sizeof(ctx->endpoint), "%s", endpoint);
    snprintf(ctx->control, sizeof(ctx->control), "%s", control != NULL ? control : "");
    if (worker != NULL) {
        snprintf(ctx->worker_id, sizeof(ctx->worker_id), "%s", worker);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof(host) - 1);
        snprintf(ctx->worker_id, sizeof(ctx->worker_id), "%s@%s:%d", ctx->stage, host,
                 (int)getpid());
    }
    return 0;
}

/* --- Heartbeats ----------------------------------------------------------- */

static uint64_t
rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size = 0, res = 0;
    int n = fscanf(f, "%lu %lu", &size, &res);
    fclose(f);
    if (n != 2)
        return 0;
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE) / 1024u;
}

static void
heartbeat_send(nlpd_stage_ctx *ctx, void *push)
{
    Nlpd__V1__Heartbeat hb = NLPD__V1__HEARTBEAT__INIT;
    char key[sizeof(ctx->current_key)];
    uv_mutex_lock(&ctx->mu);
    hb.processed = ctx->processed;
    hb.errors = ctx->errors;
    memcpy(key, ctx->current_key, sizeof(key));
    uv_mutex_unlock(&ctx->mu);
    hb.stage = ctx->stage;
    hb.worker = ctx->worker_id;
    hb.pid = (int32_t)getpid();
    hb.current_key = key;
    hb.rss_kb = rss_kb();
    uint8_t buf[512];
    size_t n = nlpd__v1__heartbeat__get_packed_size(&hb);
    if (n > sizeof(buf))
        return;
    nlpd__v1__heartbeat__pack(&hb, buf);
    /* Never block: with the daemon gone a heartbeat is worth nothing. */
    if (nlpd__send_str(push, NLPD_W_HEARTBEAT, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0)
        nlpd__send_bytes(push, buf, n, ZMQ_DONTWAIT);
}

static void
heartbeat_main(void *arg)
{
    nlpd_stage_ctx *ctx = arg;
    void *push = zmq_socket(ctx->zctx, ZMQ_PUSH);
    if (push == NULL)
        return;
    int linger = 0, hwm = 4;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    if (curve_apply(ctx, push, ctx->control) != 0 || zmq_connect(push, ctx->control) != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=%s worker=%s msg=\"cannot connect heartbeats to %s: %s\"",
                 ctx->stage, ctx->worker_id, ctx->control, zmq_strerror(zmq_errno()));
        zmq_close(push);
        return;
    }
    uv_mutex_lock(&ctx->mu);
    while (!ctx->hb_stop) {
        uv_mutex_unlock(&ctx->mu);
        heartbeat_send(ctx, push);
        uv_mutex_lock(&ctx->mu);
        if (!ctx->hb_stop)
            uv_cond_timedwait(&ctx->cond, &ctx->mu, (uint64_t)ctx->heartbeat_ms * 1000000u);
    }
    uv_mutex_unlock(&ctx->mu);
    zmq_close(push);
}

/* --- Documents ------------------------------------------------------------ */

static int
send_hello(nlpd_stage_ctx *ctx)
{
    Nlpd__V1__WorkerHello h = NLPD__V1__WORKER_HELLO__INIT;
    char host[64] = "";
    gethostname(host, sizeof(host) - 1);
    h.stage = ctx->stage;
    h.version = ctx->version;
    h.worker = ctx->worker_id;
    h.pid = (int32_t)getpid();
    h.host = host;
    h.window = ctx->window;
    uint8_t buf[1024];
    size_t n = nlpd__v1__worker_hello__get_packed_size(&h);
    if (n > sizeof(buf))
        return NLPD_EINVAL;
    nlpd__v1__worker_hello__pack(&h, buf);
    int rc = nlpd__send_str(ctx->sock, NLPD_W_HELLO, ZMQ_SNDMORE);
    if (rc == 0)
        rc = nlpd__send_bytes(ctx->sock, buf, n, 0);
    return rc;
}

static void
set_current(nlpd_stage_ctx *ctx, const char *key, int done)
{
    uv_mutex_lock(&ctx->mu);
    snprintf(ctx->current_key, sizeof(ctx->current_key), "%s", key);
    if (done == 1)
        ctx->processed++;
    else if (done == 2) {
        ctx->processed++;
        ctx->errors++;
    }
    uv_mutex_unlock(&ctx->mu);
}

/* Runs the stage on one document and records the outcome among the
 * additions. Returns the status word for the DONE message. */
static const char *
run_stage(nlpd_stage_ctx *ctx, const void *in, size_t in_len)
{
    ctx->failed = 0;
    ctx->rewrite = 0;
    ctx->fail_code[0] = ctx->fail_msg[0] = '\0';
    ctx->now_us = nlpd__now_us();
    int rc = nlpd_doc_parse(ctx->doc, in, in_len);
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_WARNING, "stage=%s msg=\"undecodable document: %s\"", ctx->stage,
                 nlpd_strerror(rc));
        return "malformed";
    }
    if (nlpd_doc_has_fatal_error(ctx->doc) && !ctx->def->wants_failed_documents)
        return "fatal"; /* passed through untouched */
    uint64_t t0 = nlpd__mono_us();
    rc = ctx->def->process(ctx->state, ctx->doc, ctx);
    uint64_t elapsed = nlpd__mono_us() - t0;
    const char *status = "ok";
    if (rc != 0 || ctx->failed) {
        nlpd_doc_drop_additions(ctx->doc);
        ctx->rewrite = 0; /* a failed rewrite is not sent either */
        const char *code = ctx->failed ? ctx->fail_code
                           : rc == NLPD_ENOMEM ? "out_of_memory"
                                               : "stage_error";
        const char *msg = ctx->fail_msg[0] != '\0' ? ctx->fail_msg
                          : rc != 0                ? nlpd_strerror(rc)
                                                   : "stage failed";
        int fatal = ctx->failed && ctx->fail_fatal;
        nlpd__doc_add_error(ctx->doc, ctx->stage, code, msg, fatal);
        status = fatal ? "fatal" : "error";
        NLPD_LOG(NLPD_LOG_INFO, "stage=%s doc=%s code=%s msg=\"%s\"", ctx->stage,
                 nlpd_doc_key(ctx->doc), code, msg);
    } else if (nlpd__doc_added_errors(ctx->doc) > 0) {
        status = "error"; /* a stage that recorded a problem and went on */
    }
    nlpd__doc_add_trace(ctx->doc, ctx->stage, ctx->version, ctx->worker_id, elapsed,
                        ctx->now_us);
    return status;
}

/* Encodes the outcome into `out`: the additions alone (sent as ADDED: the
 * daemon appends them to the document it sent, so the document does not
 * travel back), or the whole rewritten message (DONE, for ingest). On
 * failure (out of memory) `out` holds no additions and the result is
 * nonzero. *verb gets the verb to send. */
static int
build_output(nlpd_stage_ctx *ctx, zmq_msg_t *out, const char **verb)
{
    *verb = NLPD_W_ADDED;
    if (nlpd__doc_pb(ctx->doc) == NULL) {
        zmq_msg_init(out); /* undecodable: nothing added */
        return 0;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        ssize_t n = ctx->rewrite ? nlpd__doc_full_size(ctx->doc) : nlpd_doc_delta_size(ctx->doc);
        if (n >= 0 && zmq_msg_init_size(out, (size_t)n) == 0) {
            uint8_t *p = zmq_msg_data(out);
            ssize_t w = ctx->rewrite ? nlpd__doc_full_pack(ctx->doc, p)
                                     : nlpd_doc_delta_pack(ctx->doc, p);
            if (w == n) {
                if (ctx->rewrite)
                    *verb = NLPD_W_DONE;
                return 0;
            }
            zmq_msg_close(out);
        }
        /* Out of memory: try once more with nothing but the trace. */
        nlpd_doc_drop_additions(ctx->doc);
        ctx->rewrite = 0;
    }
    zmq_msg_init(out);
    return NLPD_ENOMEM;
}

static void
handle_doc(nlpd_stage_ctx *ctx, nlpd__frames *fr)
{
    char key[96]; /* for logs and heartbeats; the frame itself goes back whole */
    nlpd__frame_str(fr, 1, key, sizeof(key));
    zmq_msg_t key_frame;
    zmq_msg_init(&key_frame);
    zmq_msg_copy(&key_frame, &fr->f[1]);
    /* The time limit runs from here, not from when the document was queued. */
    nlpd__send_str(ctx->sock, NLPD_W_STARTED, ZMQ_SNDMORE);
    nlpd__send_msg(ctx->sock, &fr->f[1], 0); /* the key frame, moved */
    set_current(ctx, key, 0);

    const char *status = run_stage(ctx, nlpd__frame_data(fr, 2), nlpd__frame_size(fr, 2));

    zmq_msg_t out;
    const char *verb;
    if (build_output(ctx, &out, &verb) != 0)
        status = "error";
    int rc = nlpd__send_str(ctx->sock, verb, ZMQ_SNDMORE);
    if (rc == 0)
        rc = nlpd__send_msg(ctx->sock, &key_frame, ZMQ_SNDMORE);
    if (rc == 0)
        rc = nlpd__send_str(ctx->sock, status, ZMQ_SNDMORE);
    if (rc == 0)
        rc = nlpd__send_msg(ctx->sock, &out, 0);
    zmq_msg_close(&out);
    zmq_msg_close(&key_frame);
    if (rc != 0)
        NLPD_LOG(NLPD_LOG_ERR, "stage=%s doc=%s msg=\"cannot send result: %s\"", ctx->stage, key,
                 nlpd_strerror(rc));
    set_current(ctx, "", strcmp(status, "ok") == 0 ? 1 : 2);
}

static void begin_stop(nlpd_stage_ctx *ctx, const char *why);

static void
handle_message(nlpd_stage_ctx *ctx, nlpd__frames *fr)
{
    if (nlpd__frame_is(fr, 0, NLPD_W_DOC) && fr->n == 3 && fr->extra == 0) {
        if (term_requested && !ctx->stopping)
            begin_stop(ctx, "signal");
        if (ctx->stopping)
            return; /* the daemon takes it back when it reads BYE */
        handle_doc(ctx, fr);
    } else if (nlpd__frame_is(fr, 0, NLPD_W_STOP)) {
        begin_stop(ctx, "the daemon asked");
    } else if (nlpd__frame_is(fr, 0, NLPD_W_RESET)) {
        /* The daemon does not know us (it restarted): introduce again. */
        NLPD_LOG(NLPD_LOG_NOTICE, "stage=%s worker=%s msg=\"daemon reset; saying hello again\"",
                 ctx->stage, ctx->worker_id);
        if (!ctx->stopping)
            send_hello(ctx);
    } else {
        NLPD_LOG(NLPD_LOG_WARNING, "stage=%s msg=\"ignoring a malformed message (%d frames)\"",
                 ctx->stage, fr->n + fr->extra);
    }
}

static void on_more(uv_idle_t *h);

static void
drain(nlpd_stage_ctx *ctx)
{
    uint64_t t0 = nlpd__mono_us();
    int drained = 0;
    for (int i = 0; i < BATCH_MAX_DOCS && !ctx->stopping; i++) {
        nlpd__frames fr;
        int rc = nlpd__recv_frames(ctx->sock, &fr, ZMQ_DONTWAIT);
        if (rc == NLPD_EAGAIN) {
            drained = 1;
            break;
        }
        if (rc != 0) {
            NLPD_LOG(NLPD_LOG_ERR, "stage=%s msg=\"receive failed: %s\"", ctx->stage,
                     nlpd_strerror(rc));
            break;
        }
        handle_message(ctx, &fr);
        nlpd__frames_close(&fr);
        if (nlpd__mono_us() - t0 > BATCH_MAX_US)
            break;
    }
    if (ctx->stopping)
        return;
    /* ZMQ_FD is edge-triggered. A receive that found nothing re-armed it
     * (after this batch's sends); otherwise messages may remain, and the
     * idle handle brings us back on the next turn, after signals. */
    if (!drained && (nlpd__zmq_events(ctx->sock) & ZMQ_POLLIN))
        uv_idle_start(&ctx->more, on_more);
    else
        uv_idle_stop(&ctx->more);
}

static void
on_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    drain(h->data);
}

static void
on_more(uv_idle_t *h)
{
    drain(h->data);
}

static void
on_close(uv_handle_t *h)
{
    (void)h;
}

static void
begin_stop(nlpd_stage_ctx *ctx, const char *why)
{
    if (ctx->stopping)
        return;
    ctx->stopping = 1;
    NLPD_LOG(NLPD_LOG_INFO, "stage=%s worker=%s msg=\"stopping: %s\"", ctx->stage,
             ctx->worker_id, why);
    /* BYE tells the daemon to take back what it sent and we did not do. */
    nlpd__send_str(ctx->sock, NLPD_W_BYE, 0);
    uv_close((uv_handle_t *)&ctx->poll, on_close);
    uv_close((uv_handle_t *)&ctx->more, on_close);
    uv_close((uv_handle_t *)&ctx->sigterm, on_close);
    uv_close((uv_handle_t *)&ctx->sigint, on_close);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    begin_stop(h->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* --- Main ----------------------------------------------------------------- */

static int
open_socket(nlpd_stage_ctx *ctx)
{
    ctx->zctx = zmq_ctx_new();
    if (ctx->zctx == NULL)
        return NLPD_ENOMEM;
    ctx->sock = zmq_socket(ctx->zctx, ZMQ_DEALER);
    if (ctx->sock == NULL)
        return -zmq_errno();
    int linger = 2000, zero = 0;
    zmq_setsockopt(ctx->sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(ctx->sock, ZMQ_SNDHWM, &zero, sizeof(zero)); /* credit bounds it */
    zmq_setsockopt(ctx->sock, ZMQ_ROUTING_ID, ctx->worker_id, strlen(ctx->worker_id));
    int rc = curve_apply(ctx, ctx->sock, ctx->endpoint);
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=%s msg=\"cannot set the Curve keys: %s\"", ctx->stage,
                 zmq_strerror(-rc));
        return rc;
    }
    if (ctx->curve && strncmp(ctx->endpoint, "tcp://", 6) == 0)
        NLPD_LOG(NLPD_LOG_INFO, "stage=%s msg=\"CurveZMQ to %s\"", ctx->stage, ctx->endpoint);
    else if (strncmp(ctx->endpoint, "tcp://", 6) == 0)
        NLPD_LOG(NLPD_LOG_WARNING,
                 "stage=%s msg=\"no Curve keys (%s, %s): the daemon refuses plain tcp\"",
                 ctx->stage, NLPD_ENV_CURVE_SERVER_KEY_FILE, NLPD_ENV_CURVE_KEY_FILE);
    if (zmq_connect(ctx->sock, ctx->endpoint) != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=%s msg=\"cannot connect to %s: %s\"", ctx->stage,
                 ctx->endpoint, zmq_strerror(zmq_errno()));
        return NLPD_EINVAL;
    }
    return 0;
}

static int
start_loop(nlpd_stage_ctx *ctx)
{
    int rc = uv_loop_init(&ctx->loop);
    if (rc != 0)
        return rc;
    ctx->loop_inited = 1;
    uv_os_sock_t fd;
    size_t fdlen = sizeof(fd);
    if (zmq_getsockopt(ctx->sock, ZMQ_FD, &fd, &fdlen) != 0)
        return -zmq_errno();
    ctx->poll.data = ctx->more.data = ctx->sigterm.data = ctx->sigint.data = ctx;
    rc = uv_poll_init_socket(&ctx->loop, &ctx->poll, fd);
    if (rc == 0)
        rc = uv_poll_start(&ctx->poll, UV_READABLE, on_readable);
    if (rc == 0)
        rc = uv_idle_init(&ctx->loop, &ctx->more);
    if (rc == 0)
        rc = uv_signal_init(&ctx->loop, &ctx->sigterm);
    if (rc == 0)
        rc = uv_signal_start(&ctx->sigterm, on_signal, SIGTERM);
    if (rc == 0)
        rc = uv_signal_init(&ctx->loop, &ctx->sigint);
    if (rc == 0)
        rc = uv_signal_start(&ctx->sigint, on_signal, SIGINT);
    if (rc == 0) {
        chain_signal(SIGTERM, &uv_term_action);
        chain_signal(SIGINT, &uv_int_action);
    }
    return rc;
}

static void
walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, on_close);
}

/* A worker the daemon spawned goes when the daemon goes: the daemon marks
 * its workers with NLPD_SPAWNED=its pid, and only those are tied to it. A
 * worker started otherwise (by hand, by systemd's nlpd-worker@.service,
 * in a container) stays whatever its parent, NLPD_WORKER_ID or not. A
 * spawned worker asks the kernel for SIGTERM when its parent dies, then
 * checks that the daemon did not die before that (the worker was
 * re-parented, or the daemon's pid is gone). The daemon may be PID 1 (in
 * a container), and a stage command may be a wrapper that runs the worker
 * as its child, so "my parent is PID 1" alone decides nothing. Returns 1
 * when the worker must exit now (logged), else 0. */
static int
spawned_daemon_gone(const nlpd_stage_ctx *ctx)
{
    const char *mark = getenv(NLPD_ENV_SPAWNED);
    if (mark == NULL || mark[0] == '\0') {
        if (getenv(NLPD_ENV_WORKER_ID) != NULL)
            NLPD_LOG(NLPD_LOG_DEBUG,
                     "stage=%s worker=%s msg=\"not spawned by nlpd (no %s): stays when its "
                     "parent goes\"",
                     ctx->stage, ctx->worker_id, NLPD_ENV_SPAWNED);
        return 0;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    long daemon_pid = 0;
    int known = parse_uint(mark, 1, 0x7fffffffL, &daemon_pid) == 0;
    pid_t parent = getppid();
    int gone = 0;
    if (known && (pid_t)daemon_pid != parent) {
        /* A wrapper between the daemon and us, or the daemon died. */
        gone = kill((pid_t)daemon_pid, 0) != 0 && errno == ESRCH;
        gone |= parent == 1;
    } else if (!known) {
        gone = parent == 1;
    }
    if (gone) {
        NLPD_LOG(NLPD_LOG_ERR,
                 "stage=%s worker=%s msg=\"the nlpd that spawned this worker (%s=%s) is gone "
                 "(parent now pid %d): exiting. A worker started by other means must not "
                 "have %s in its environment\"",
                 ctx->stage, ctx->worker_id, NLPD_ENV_SPAWNED, mark, (int)parent,
                 NLPD_ENV_SPAWNED);
        return 1;
    }
    NLPD_LOG(NLPD_LOG_DEBUG, "stage=%s worker=%s msg=\"spawned by nlpd pid %s: exits with it\"",
             ctx->stage, ctx->worker_id, mark);
    return 0;
}

int
nlpd_stage_main(const nlpd_stage_def *def, int argc, char **argv)
{
    if (def == NULL || def->process == NULL || def->name == NULL) {
        fprintf(stderr, "nlpd_stage_main: a stage needs a name and a process callback\n");
        return 1;
    }
    if (def->abi != NLPD_STAGE_ABI) {
        fprintf(stderr, "nlpd_stage_main: stage built for ABI %u, runtime has %d\n", def->abi,
                NLPD_STAGE_ABI);
        return 1;
    }
    nlpd_stage_ctx *ctx = nlpd_calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return 1;
    ctx->def = def;
    ctx->exit_code = 1;
    int log_level = NLPD_LOG_INFO;
    int rc = parse_args(ctx, &argc, argv, &log_level);
    if (rc != 0) {
        nlpd_free(ctx);
        return rc == 1 ? 0 : 2;
    }
    nlpd_log_set_sink(nlpd_log_stderr, NULL, log_level);
    if (spawned_daemon_gone(ctx))
        goto out_nothing;
    signal(SIGPIPE, SIG_IGN);
    uv_mutex_init(&ctx->mu);
    uv_cond_init(&ctx->cond);

    rc = nlpd_doc_new(&ctx->doc);
    if (rc == 0 && def->init != NULL) {
        rc = def->init(&ctx->state, argc, argv);
        if (rc != 0)
            NLPD_LOG(NLPD_LOG_ERR, "stage=%s msg=\"initialisation failed: %s\"", ctx->stage,
                     nlpd_strerror(rc));
    }
    if (rc == 0) {
        ctx->state_ready = 1;
        /* Read after init(), which may have written what it loaded into
         * the string def->version points at. */
        snprintf(ctx->version, sizeof(ctx->version), "%s",
                 def->version != NULL ? def->version : "");
    }
    if (rc == 0)
        rc = open_socket(ctx);
    if (rc == 0)
        rc = start_loop(ctx);
    if (rc == 0 && ctx->control[0] != '\0') {
        rc = uv_thread_create(&ctx->hb_thread, heartbeat_main, ctx);
        ctx->hb_started = rc == 0;
    }
    if (rc == 0)
        rc = send_hello(ctx);
    if (rc == 0) {
        /* ZeroMQ raises ZMQ_FD only after a read found nothing: look once
         * now, or the first document could wait for an edge that never
         * comes. */
        drain(ctx);
        NLPD_LOG(NLPD_LOG_INFO, "stage=%s worker=%s version=%s endpoint=%s msg=ready", ctx->stage,
                 ctx->worker_id, ctx->version, ctx->endpoint);
        uv_run(&ctx->loop, UV_RUN_DEFAULT);
        ctx->exit_code = 0;
    } else {
        NLPD_LOG(NLPD_LOG_ERR, "stage=%s msg=\"cannot start: %s\"", ctx->stage,
                 nlpd_strerror(rc));
    }

    if (ctx->hb_started) {
        uv_mutex_lock(&ctx->mu);
        ctx->hb_stop = 1;
        uv_cond_signal(&ctx->cond);
        uv_mutex_unlock(&ctx->mu);
        uv_thread_join(&ctx->hb_thread);
    }
    if (ctx->loop_inited) {
        uv_walk(&ctx->loop, walk_close, NULL);
        uv_run(&ctx->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&ctx->loop) != 0) {
            NLPD_LOG(NLPD_LOG_ERR, "stage=%s msg=\"leaked a loop handle\"", ctx->stage);
            ctx->exit_code = 1;
        }
    }
    if (ctx->sock != NULL)
        zmq_close(ctx->sock);
    if (ctx->zctx != NULL)
        zmq_ctx_term(ctx->zctx);
    if (ctx->state_ready && def->fini != NULL)
        def->fini(ctx->state);
    nlpd_doc_free(&ctx->doc);
    explicit_bzero(ctx->curve_secret, sizeof(ctx->curve_secret));
    uv_cond_destroy(&ctx->cond);
    uv_mutex_destroy(&ctx->mu);
out_nothing:;
    int code = ctx->exit_code;
    nlpd_free(ctx);
    return code;
}
