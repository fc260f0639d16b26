/* daemon/security.c — CurveZMQ keys, the ZAP handler and refusal logs (security.h). */
#include "security.h"

#include "nlpd/alloc.h"
#include "nlpd/error.h"
#include "nlpd/log.h"
#include "nlpd/stage.h"
#include "nlpd_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN   "nlpd"
/* Refusal lines: at most REFUSAL_BURST per REFUSAL_WINDOW_US, then one line
 * saying how many were held back. */
#define REFUSAL_BURST     10
#define REFUSAL_WINDOW_US 10000000u
#define MONITOR_EVENTS                                                            \
    (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

/* --- Authorized keys ------------------------------------------------------ */

typedef struct keyset_entry {
    uint8_t key[32];
    char name[64];
} keyset_entry;

struct nlpd_keyset {
    keyset_entry *e;
    size_t n, cap;
};

static int
keyset_add(nlpd_keyset *ks, const uint8_t key[32], const char *name, size_t name_len)
{
    if (ks->n == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 16;
        keyset_entry *e = nlpd_realloc(ks->e, cap * sizeof(*e));
        if (e == NULL)
            return NLPD_ENOMEM;
        ks->e = e;
        ks->cap = cap;
    }
    keyset_entry *x = &ks->e[ks->n++];
    memcpy(x->key, key, 32);
    snprintf(x->name, sizeof(x->name), "%.*s", (int)name_len, name);
    return 0;
}

static int
ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len > n && memcmp(s + len - n, suffix, n) == 0;
}

int
nlpd_keyset_load_dir(nlpd_keyset **out, const char *dir, nlpd_keyset_warn_fn warn, void *arg,
                     size_t *skipped, char *why, size_t why_len)
{
    *out = NULL;
    if (skipped != NULL)
        *skipped = 0;
    DIR *dh = opendir(dir);
    if (dh == NULL) {
        int err = errno;
        snprintf(why, why_len, "authorized keys directory %s: %s", dir, strerror(err));
        return err == ENOENT ? NLPD_ENOENT : -err;
    }
    nlpd_keyset *ks = nlpd_calloc(1, sizeof(*ks));
    if (ks == NULL) {
        closedir(dh);
        return NLPD_ENOMEM;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024], msg[700];
        struct stat sb;
        int n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        char pub[NLPD_CURVE_Z85_LEN + 1];
        uint8_t key[32];
        if (nlpd_curve_key_load(path, pub, NULL, msg, sizeof(msg)) != 0 ||
            zmq_z85_decode(key, pub) == NULL) {
            if (skipped != NULL)
                (*skipped)++;
            if (warn != NULL)
                warn(arg, msg);
            continue;
        }
        size_t len = strlen(de->d_name);
        if (ends_with(de->d_name, len, ".pub") || ends_with(de->d_name, len, ".key"))
            len -= 4;
        rc = keyset_add(ks, key, de->d_name, len);
    }
    closedir(dh);
    if (rc != 0) {
        nlpd_keyset_free(&ks);
        snprintf(why, why_len, "out of memory");
        return rc;
    }
    *out = ks;
    return 0;
}

size_t
nlpd_keyset_count(const nlpd_keyset *ks)
{
    return ks != NULL ? ks->n : 0;
}

const char *
nlpd_keyset_find(const nlpd_keyset *ks, const uint8_t key[32])
{
    if (ks == NULL)
        return NULL;
    for (size_t i = 0; i < ks->n; i++) {
        if (memcmp(ks->e[i].key, key, 32) == 0)
            return ks->e[i].name;
    }
    return NULL;
}

void
nlpd_keyset_free(nlpd_keyset **ks_p)
{
    if (ks_p == NULL || *ks_p == NULL)
        return;
    nlpd_free((*ks_p)->e);
    nlpd_free(*ks_p);
    *ks_p = NULL;
}

/* --- The ZAP decision ----------------------------------------------------- */

int
nlpd_zap_decide(const nlpd_keyset *ks, const char *mechanism, const void *cred, size_t cred_len,
                const char **user, const char **why)
{
    *user = "";
    *why = "OK";
    if (mechanism == NULL || strcmp(mechanism, "CURVE") != 0) {
        *why = "CurveZMQ is required on tcp endpoints";
        return 400;
    }
    if (cred == NULL || cred_len != 32) {
        *why = "malformed Curve credentials";
        return 400;
    }
    const char *name = nlpd_keyset_find(ks, cred);
    if (name == NULL) {
        *why = "unknown key (not in the authorized keys directory)";
        return 400;
    }
    *user = name;
    return 200;
}

/* --- Rate limit ----------------------------------------------------------- */

int
nlpd_ratelimit_allow(nlpd_ratelimit *rl, uint64_t now_us, unsigned *suppressed_before)
{
    if (suppressed_before != NULL)
        *suppressed_before = 0;
    if (rl->start_us == 0 || now_us < rl->start_us || now_us - rl->start_us >= rl->window_us) {
        if (suppressed_before != NULL)
            *suppressed_before = rl->suppressed;
        rl->start_us = now_us == 0 ? 1 : now_us;
        rl->used = 0;
        rl->suppressed = 0;
    }
    if (rl->used < rl->burst) {
        rl->used++;
        return 1;
    }
    rl->suppressed++;
    return 0;
}

/* --- The daemon's side ---------------------------------------------------- */

typedef struct monitor monitor;

struct monitor {
    nlpd__zwatch w; /* the socket watcher; its data is the monitor */
    nlpd_security *sec;
    void *target; /* the socket watched */
    void *pair;   /* receives its events */
    char what[48];
    monitor *next;
};

struct nlpd_security {
    void *zctx;
    uv_loop_t *loop;
    char host[200];
    unsigned port;
    char public_z85[NLPD_CURVE_Z85_LEN + 1];
    char secret_z85[NLPD_CURVE_Z85_LEN + 1];
    char authorized_dir[512];
    nlpd_keyset *keys;
    void *zap;
    nlpd__zwatch zap_w;
    monitor *monitors;
    unsigned mon_seq;
    nlpd_ratelimit rl;
    uint64_t refused;
    int open_watches; /* zwatch handles not closed yet: freed at 0 once closing */
    int closing;
};

static void
security_maybe_free(nlpd_security *sec)
{
    if (sec->closing && sec->open_watches == 0) {
        explicit_bzero(sec->secret_z85, sizeof(sec->secret_z85));
        nlpd_keyset_free(&sec->keys);
        nlpd_free(sec);
    }
}

/* Logs a refusal, unless too many were logged lately. */
static void refusal(nlpd_security *sec, const char *fmt, ...) NLPD_PRINTF(2, 3);

static void
refusal(nlpd_security *sec, const char *fmt, ...)
{
    sec->refused++;
    unsigned before = 0;
    int allow = nlpd_ratelimit_allow(&sec->rl, nlpd__mono_us(), &before);
    if (before > 0)
        NLPD_LOG(NLPD_LOG_WARNING, "refusals=%u msg=\"more connections refused and not logged\"",
                 before);
    if (!allow)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    NLPD_LOG(NLPD_LOG_WARNING, "%s", msg);
}

static void
on_zap(nlpd__zwatch *zw, nlpd__frames *fr)
{
    nlpd_security *sec = zw->data;
    /* [version, request id, domain, address, routing id, mechanism, credentials...] */
    int ok = fr->n >= 6 && fr->extra == 0 && nlpd__frame_is(fr, 0, "1.0");
    char address[64] = "", mechanism[32] = "";
    const char *user = "", *why = "malformed ZAP request";
    int status = 500;
    if (ok) {
        nlpd__frame_str(fr, 3, address, sizeof(address));
        nlpd__frame_str(fr, 5, mechanism, sizeof(mechanism));
        const void *cred = fr->n > 6 ? nlpd__frame_data(fr, 6) : NULL;
        size_t cred_len = fr->n > 6 ? nlpd__frame_size(fr, 6) : 0;
        status = nlpd_zap_decide(sec->keys, mechanism, cred, cred_len, &user, &why);
        if (status == 200) {
            NLPD_LOG(NLPD_LOG_DEBUG, "peer=%s client=%s msg=\"authenticated\"", address, user);
        } else {
            char key[NLPD_CURVE_Z85_LEN + 1] = "-";
            if (cred_len == 32)
                zmq_z85_encode(key, cred, 32);
            refusal(sec, "peer=%s mechanism=%s key=%s msg=\"connection refused: %s\"", address,
                    mechanism, key, why);
        }
    }
    /* A REP socket must answer every request, even a malformed one. */
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    int rc = nlpd__send_str(sec->zap, "1.0", more);
    if (rc == 0)
        rc = fr->n > 1 ? nlpd__send_bytes(sec->zap, nlpd__frame_data(fr, 1),
                                          nlpd__frame_size(fr, 1), more)
                       : nlpd__send_str(sec->zap, "", more);
    if (rc == 0)
        rc = nlpd__send_str(sec->zap, code, more);
    if (rc == 0)
        rc = nlpd__send_str(sec->zap, why, more);
    if (rc == 0)
        rc = nlpd__send_str(sec->zap, user, more);
    if (rc == 0)
        rc = nlpd__send_str(sec->zap, "", ZMQ_DONTWAIT);
    if (rc != 0)
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot answer a ZAP request: %s\"", nlpd_strerror(rc));
}

static void
on_monitor(nlpd__zwatch *zw, nlpd__frames *fr)
{
    monitor *m = zw->data;
    if (fr->n < 2 || nlpd__frame_size(fr, 0) < 6)
        return;
    const uint8_t *p = nlpd__frame_data(fr, 0);
    uint16_t event;
    uint32_t value;
    memcpy(&event, p, 2);
    memcpy(&value, p + 2, 4);
    if (event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL &&
        event != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        return; /* AUTH: refused by the ZAP handler, which said so */
    char ep[128];
    nlpd__frame_str(fr, 1, ep, sizeof(ep));
    const char *what = "a handshake failed (a peer without Curve, or with a wrong server key?)";
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            what = "a peer without CurveZMQ (security mechanism mismatch)";
        else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC ||
                 value == ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE)
            what = "a Curve handshake that failed (the peer has a wrong server key?)";
        else
            what = "a peer that broke the handshake protocol";
    }
    refusal(m->sec, "socket=%s endpoint=%s code=0x%x msg=\"connection refused: %s\"", m->what, ep,
            (unsigned)value, what);
}

static void
watch_closed(nlpd__zwatch *w)
{
    nlpd_security *sec = w->data;
    sec->open_watches--;
    security_maybe_free(sec);
}

static void
monitor_closed(nlpd__zwatch *w)
{
    monitor *m = w->data;
    nlpd_security *sec = m->sec;
    nlpd_free(m);
    sec->open_watches--;
    security_maybe_free(sec);
}

/* Parses tcp://HOST:PORT. */
static int
parse_listen(nlpd_security *sec, const char *listen)
{
    if (listen == NULL || strncmp(listen, "tcp://", 6) != 0)
        return NLPD_EINVAL;
    const char *host = listen + 6;
    const char *colon = strrchr(host, ':');
    if (colon == NULL || colon == host || (size_t)(colon - host) >= sizeof(sec->host))
        return NLPD_EINVAL;
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port == 0 || port > 65535)
        return NLPD_EINVAL;
    snprintf(sec->host, sizeof(sec->host), "%.*s", (int)(colon - host), host);
    sec->port = (unsigned)port;
    return 0;
}

static void
warn_key(void *arg, const char *msg)
{
    (void)arg;
    NLPD_LOG(NLPD_LOG_WARNING, "msg=\"authorized keys: skipped: %s\"", msg);
}

int
nlpd_security_open(nlpd_security **out, void *zctx, uv_loop_t *loop, const char *listen,
                   const char *secret_key_file, const char *authorized_dir, char *why,
                   size_t why_len)
{
    *out = NULL;
    if (!zmq_has("curve")) {
        snprintf(why, why_len, "this libzmq was built without CurveZMQ");
        return NLPD_EINVAL;
    }
    if (secret_key_file == NULL || secret_key_file[0] == '\0') {
        snprintf(why, why_len,
                 "a tcp endpoint is configured but no curve_secret_key: every tcp endpoint "
                 "uses CurveZMQ (make a key pair with nlpctl keygen)");
        return NLPD_ECONFIG;
    }
    if (authorized_dir == NULL || authorized_dir[0] == '\0') {
        snprintf(why, why_len,
                 "a tcp endpoint is configured but no authorized_keys directory: nobody could "
                 "connect");
        return NLPD_ECONFIG;
    }
    nlpd_security *sec = nlpd_calloc(1, sizeof(*sec));
    if (sec == NULL)
        return NLPD_ENOMEM;
    sec->zctx = zctx;
    sec->loop = loop;
    sec->rl.burst = REFUSAL_BURST;
    sec->rl.window_us = REFUSAL_WINDOW_US;
    snprintf(sec->authorized_dir, sizeof(sec->authorized_dir), "%s", authorized_dir);
    int rc = 0;
    if (listen != NULL && listen[0] != '\0' && parse_listen(sec, listen) != 0) {
        snprintf(why, why_len, "listen must be tcp://HOST:PORT, not '%s'", listen);
        rc = NLPD_ECONFIG;
    }
    struct stat sb;
    if (rc == 0) {
        rc = nlpd_curve_key_load(secret_key_file, sec->public_z85, sec->secret_z85, why, why_len);
        if (rc == 0 && stat(secret_key_file, &sb) == 0 && sb.st_uid != geteuid()) {
            snprintf(why, why_len,
                     "%s: the daemon's secret key file must belong to its user (uid %u)",
                     secret_key_file, (unsigned)geteuid());
            rc = -EACCES;
        }
    }
    size_t skipped = 0;
    if (rc == 0)
        rc = nlpd_keyset_load_dir(&sec->keys, authorized_dir, warn_key, NULL, &skipped, why,
                                  why_len);
    if (rc == 0) {
        sec->zap = zmq_socket(zctx, ZMQ_REP);
        int linger = 0;
        if (sec->zap == NULL)
            rc = -zmq_errno();
        else
            zmq_setsockopt(sec->zap, ZMQ_LINGER, &linger, sizeof(linger));
        if (rc == 0 && zmq_bind(sec->zap, ZAP_ENDPOINT) != 0) {
            rc = -zmq_errno();
            snprintf(why, why_len, "cannot bind the ZAP handler: %s", zmq_strerror(-rc));
        }
    }
    if (rc == 0) {
        sec->open_watches++;
        sec->zap_w.data = sec; /* for watch_closed, should the start fail */
        rc = nlpd__zwatch_start(&sec->zap_w, loop, sec->zap, on_zap, sec);
        if (rc != 0)
            snprintf(why, why_len, "cannot watch the ZAP handler: %s", nlpd_strerror(rc));
    }
    if (rc != 0) {
        nlpd_security_close(&sec);
        return rc;
    }
    NLPD_LOG(NLPD_LOG_NOTICE,
             "key=%s authorized=%zu skipped=%zu dir=%s msg=\"CurveZMQ on tcp "
             "endpoints\"",
             sec->public_z85, nlpd_keyset_count(sec->keys), skipped, authorized_dir);
    *out = sec;
    return 0;
}

int
nlpd_security_listening(const nlpd_security *sec)
{
    return sec != NULL && sec->port != 0;
}

int
nlpd_security_endpoint(const nlpd_security *sec, unsigned offset, char *out, size_t out_len)
{
    if (sec == NULL || sec->port == 0)
        return NLPD_EINVAL;
    return nlpd_security_endpoint_port(sec, sec->port + offset, out, out_len);
}

int
nlpd_security_endpoint_port(const nlpd_security *sec, unsigned port, char *out, size_t out_len)
{
    if (sec == NULL || sec->port == 0 || port == 0 || port > 65535)
        return NLPD_EINVAL;
    int n = snprintf(out, out_len, "tcp://%s:%u", sec->host, port);
    return n < 0 || (size_t)n >= out_len ? NLPD_EINVAL : 0;
}

static monitor *
monitor_find(nlpd_security *sec, void *sock)
{
    for (monitor *m = sec->monitors; m != NULL; m = m->next) {
        if (m->target == sock)
            return m;
    }
    return NULL;
}

static int
monitor_start(nlpd_security *sec, void *sock, const char *what)
{
    monitor *m = nlpd_calloc(1, sizeof(*m));
    if (m == NULL)
        return NLPD_ENOMEM;
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://nlpd-monitor-%u", ++sec->mon_seq);
    if (zmq_socket_monitor(sock, ep, MONITOR_EVENTS) != 0) {
        int err = zmq_errno();
        nlpd_free(m);
        return -err;
    }
    m->pair = zmq_socket(sec->zctx, ZMQ_PAIR);
    int linger = 0;
    if (m->pair == NULL || zmq_setsockopt(m->pair, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_connect(m->pair, ep) != 0) {
        int err = zmq_errno();
        zmq_socket_monitor(sock, NULL, 0);
        if (m->pair != NULL)
            zmq_close(m->pair);
        nlpd_free(m);
        return -err;
    }
    m->sec = sec;
    m->target = sock;
    snprintf(m->what, sizeof(m->what), "%s", what);
    sec->open_watches++;
    m->w.data = m; /* for monitor_closed, should the start fail */
    int rc = nlpd__zwatch_start(&m->w, sec->loop, m->pair, on_monitor, m);
    m->next = sec->monitors;
    sec->monitors = m;
    return rc;
}

int
nlpd_security_bind(nlpd_security *sec, void *sock, const char *endpoint, const char *what)
{
    if (monitor_find(sec, sock) == NULL) {
        /* From here on every bind of this socket is a Curve server; its
         * ipc:// endpoints were bound before, with the options of then. */
        int one = 1;
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec->secret_z85, NLPD_CURVE_Z85_LEN + 1) !=
                0 ||
            zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0) {
            int err = zmq_errno();
            NLPD_LOG(NLPD_LOG_ERR, "socket=%s msg=\"cannot make it a Curve server: %s\"", what,
                     zmq_strerror(err));
            return -err;
        }
        int rc = monitor_start(sec, sock, what);
        if (rc != 0) {
            NLPD_LOG(NLPD_LOG_ERR, "socket=%s msg=\"cannot monitor it: %s\"", what,
                     nlpd_strerror(rc));
            return rc;
        }
    }
    if (zmq_bind(sock, endpoint) != 0) {
        int err = zmq_errno();
        NLPD_LOG(NLPD_LOG_ERR, "socket=%s msg=\"cannot bind %s: %s\"", what, endpoint,
                 zmq_strerror(err));
        return -err;
    }
    NLPD_LOG(NLPD_LOG_INFO, "socket=%s endpoint=%s msg=\"listening (CurveZMQ)\"", what, endpoint);
    return 0;
}

static void
monitor_close(nlpd_security *sec, monitor *m, int stop)
{
    if (stop && m->target != NULL)
        zmq_socket_monitor(m->target, NULL, 0);
    m->target = NULL;
    zmq_close(m->pair);
    m->pair = NULL;
    (void)sec;
    nlpd__zwatch_close(&m->w, monitor_closed);
}

void
nlpd_security_forget(nlpd_security *sec, void *sock)
{
    if (sec == NULL)
        return;
    for (monitor **pp = &sec->monitors; *pp != NULL; pp = &(*pp)->next) {
        monitor *m = *pp;
        if (m->target == sock) {
            *pp = m->next;
            monitor_close(sec, m, 1);
            return;
        }
    }
}

int
nlpd_security_reload(nlpd_security *sec)
{
    if (sec == NULL)
        return 0;
    char why[600];
    nlpd_keyset *ks = NULL;
    size_t skipped = 0;
    int rc =
        nlpd_keyset_load_dir(&ks, sec->authorized_dir, warn_key, NULL, &skipped, why, sizeof(why));
    if (rc != 0) {
        NLPD_LOG(NLPD_LOG_ERR,
                 "msg=\"cannot read the authorized keys again: %s; the %zu keys "
                 "loaded before stay\"",
                 why, nlpd_keyset_count(sec->keys));
        return rc;
    }
    nlpd_keyset_free(&sec->keys);
    sec->keys = ks;
    NLPD_LOG(NLPD_LOG_NOTICE,
             "authorized=%zu skipped=%zu dir=%s msg=\"authorized keys read again\"",
             nlpd_keyset_count(ks), skipped, sec->authorized_dir);
    return 0;
}

void
nlpd_security_tick(nlpd_security *sec, uint64_t now_us)
{
    if (sec == NULL)
        return;
    nlpd__zwatch_kick(&sec->zap_w);
    for (monitor *m = sec->monitors; m != NULL; m = m->next)
        nlpd__zwatch_kick(&m->w);
    nlpd_ratelimit *rl = &sec->rl;
    if (rl->suppressed > 0 && now_us - rl->start_us >= rl->window_us) {
        NLPD_LOG(NLPD_LOG_WARNING, "refusals=%u msg=\"more connections refused and not logged\"",
                 rl->suppressed);
        rl->suppressed = 0;
        rl->start_us = 0;
    }
}

uint64_t
nlpd_security_refused(const nlpd_security *sec)
{
    return sec != NULL ? sec->refused : 0;
}

size_t
nlpd_security_authorized(const nlpd_security *sec)
{
    return sec != NULL ? nlpd_keyset_count(sec->keys) : 0;
}

const char *
nlpd_security_public_key(const nlpd_security *sec)
{
    return sec != NULL ? sec->public_z85 : "";
}

void
nlpd_security_close(nlpd_security **sec_p)
{
    if (sec_p == NULL || *sec_p == NULL)
        return;
    nlpd_security *sec = *sec_p;
    *sec_p = NULL;
    /* The monitored sockets may be closed already: only our ends close. */
    while (sec->monitors != NULL) {
        monitor *m = sec->monitors;
        sec->monitors = m->next;
        monitor_close(sec, m, 0);
    }
    if (sec->zap != NULL) {
        zmq_close(sec->zap);
        sec->zap = NULL;
    }
    sec->closing = 1;
    if (sec->zap_w.data == sec)
        nlpd__zwatch_close(&sec->zap_w, watch_closed);
    else
        security_maybe_free(sec);
}
