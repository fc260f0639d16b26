/* daemon/metrics.c — the figures' snapshot, readiness, and Prometheus
 * metrics over HTTP (libmicrohttpd).
 *
 * The HTTP server runs in libmicrohttpd's own thread
 * (MHD_USE_INTERNAL_POLLING_THREAD) and never touches the daemon's state:
 * the loop's timer hands it, under a mutex, the exposition text rendered
 * once a second, the readiness (every tick) and the time of the last tick
 * (an atomic), which is all /metrics, /readyz and /healthz answer from.
 *
 *   /metrics  text format 0.0.4 (stats.c renders it)
 *   /healthz  200 while the loop ticked within HEALTH_STALL_US; else 503
 *   /readyz   200 when every stage has a ready worker, the journal (if on)
 *             is open and the daemon is neither starting nor stopping;
 *             else 503 with the reason
 * GET and HEAD only (405 otherwise), other paths 404.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon.h"
#include "nlpd/alloc.h"
#include "nlpd/log.h"

/* The loop ticks every 50 ms: this much silence means it is wedged. */
#define HEALTH_STALL_US (5u * 1000000u)
/* The journal's table counts are SQL count queries: not every second. */
#define JOURNAL_COUNTS_EVERY_US (10u * 1000000u)

struct nlpd_metrics {
    struct MHD_Daemon *mhd;
    int fd;
    char listen[128]; /* the address bound, port resolved */

    /* Shared with the HTTP thread, under mu. */
    pthread_mutex_t mu;
    char *text;
    size_t text_len;
    int ready;
    char why[256];
    _Atomic uint64_t last_tick_us;

    /* The loop's own. */
    nlpd_stats_snap *snap;
    nlpd__buf buf;
    uint64_t last_render_s;
    uint64_t last_counts_us;
    int have_counts;
    uint64_t counts[4]; /* pending, results, result bytes, dead letters */
};

/* --- The snapshot ---------------------------------------------------------------- */

static void
lat_snap(const nlpd_lat *l, uint64_t now, nlpd_lat_snap *out, uint32_t *scratch)
{
    memset(out, 0, sizeof(*out));
    out->samples = nlpd_lat_quantiles(l, now, NLPD_LAT_WINDOW_S, nlpd_stats_q, NLPD_Q_N, out->ms,
                                      scratch);
    out->count = l->n;
    out->sum_s = (double)l->sum_us / 1e6;
}

static void
stage_snap(stage *st, uint64_t now, nlpd_stage_snap *o, uint32_t *scratch)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->name, sizeof(o->name), "%s", st->name);
    o->replicas = st->n_slots;
    o->configured_replicas = st->cfg.replicas;
    for (worker *w = st->workers; w != NULL; w = w->next_in_stage) {
        o->in_hand += w->held.n;
        o->workers_remote += w->remote;
        if (w->state == W_READY)
            o->workers_ready++;
        else if (w->state == W_STARTING)
            o->workers_starting++;
        else if (w->state == W_STOPPING)
            o->workers_stopping++;
    }
    for (int i = 0; i < st->n_slots; i++)
        o->crash_loop |= st->slots[i].crash_loop;
    o->queued = st->queue.n;
    if (st->queue.head != NULL && st->queue.head->queued_us != 0 &&
        now > st->queue.head->queued_us)
        o->oldest_queued_us = now - st->queue.head->queued_us;
    o->processed = st->processed;
    o->errors = st->errors;
    o->timeouts = st->timeouts;
    o->crashes = st->crashes;
    o->restarts = st->restarts;
    o->dead_letters = st->dead_letters;
    o->rate = nlpd_rate_over(&st->rate, now, st->processed, 10);
    o->rate_since_start = nlpd_rate_since_start(&st->rate, now, st->processed);
    nlpd_rate_history(&st->rate, o->history, NLPD_RATE_HISTORY);
    lat_snap(&st->lat_proc, now, &o->processing, scratch);
    lat_snap(&st->lat_stage, now, &o->in_stage, scratch);
    o->retiring = st->retiring;
}

int
stats_ready(nlpd_daemon *d, char *why, size_t why_len)
{
    if (d->state == D_STARTING) {
        unsigned want, ready = supervisor_ready_count(d, &want);
        snprintf(why, why_len, "starting: %u/%u workers ready", ready, want);
        return 0;
    }
    if (d->state == D_STOPPING) {
        snprintf(why, why_len, "stopping");
        return 0;
    }
    if (d->cfg.journal && d->journal == NULL) {
        snprintf(why, why_len, "the journal is not open: %.200s",
                 d->journal_why[0] ? d->journal_why : "not opened yet");
        return 0;
    }
    for (int i = 0; d->pl != NULL && i < d->pl->n; i++) {
        stage *st = d->pl->st[i];
        int ready = 0;
        for (worker *w = st->workers; w != NULL && !ready; w = w->next_in_stage)
            ready = w->state == W_READY;
        if (!ready) {
            snprintf(why, why_len, "stage %s has no ready worker", st->name);
            return 0;
        }
    }
    snprintf(why, why_len, "ready");
    return 1;
}

void
stats_collect(nlpd_daemon *d, nlpd_stats_snap *s, int journal_counts)
{
    uint32_t scratch[NLPD_LAT_SAMPLES];
    uint64_t now = nlpd__mono_us();
    memset(s, 0, sizeof(*s));
    s->version = NLPD_VERSION_STRING;
    s->state = daemon_state_name(d->state);
    s->uptime_s = (double)(now - d->started_us) / 1e6;
    s->accepted = d->accepted;
    s->completed = d->completed;
    s->completed_with_errors = d->failed_docs;
    s->refused = d->refused;
    s->in_flight = d->n_flight;
    s->in_flight_bytes = d->flight_bytes;
    s->max_in_flight = d->cfg.max_in_flight;
    s->max_in_flight_bytes = d->cfg.max_in_flight_bytes;
    s->rate = nlpd_rate_over(&d->rate_done, now, d->completed, 10);
    s->rate_since_start = nlpd_rate_since_start(&d->rate_done, now, d->completed);
    nlpd_rate_history(&d->rate_done, s->history, NLPD_RATE_HISTORY);
    lat_snap(&d->lat_e2e, now, &s->latency, scratch);
    s->dead_letters = d->dead_letters;
    s->journal_enabled = d->cfg.journal;
    s->journal_open = d->journal != NULL;
    /* Waiting for the commit, then for the log's fsync (journal_sync = group). */
    s->journal_waiting_commit = d->ack_wait.n + d->sync_wait.n + d->syncing.n;
    s->journal_commits = d->commits;
    s->journal_errors = d->journal_errors;
    s->journal_replayed = d->replayed;
    s->journal_duplicates = d->duplicates;
    if (journal_counts && d->journal != NULL &&
        nlpd_journal_stats(d->journal, &s->journal_pending, &s->journal_results,
                           &s->journal_result_bytes, &s->journal_dead_letters, NULL) == 0)
        s->journal_have_counts = 1;
    s->ready = stats_ready(d, s->not_ready_why, sizeof(s->not_ready_why));
    snprintf(s->metrics_listen, sizeof(s->metrics_listen), "%s", metrics_address(d));
    int n = 0;
    for (int i = 0; d->pl != NULL && i < d->pl->n; i++)
        stage_snap(d->pl->st[i], now, &s->st[n++], scratch);
    for (stage *st = d->stages; st != NULL && n < NLPD_MAX_STAGES * 2; st = st->next) {
        if (st->retiring)
            stage_snap(st, now, &s->st[n++], scratch);
    }
    s->n_stages = n;
}

/* --- The HTTP side (libmicrohttpd's thread) ------------------------------------------ */

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned code, const char *type, const char *body, size_t len);

static enum MHD_Result
respond_str(struct MHD_Connection *c, unsigned code, const char *body)
{
    return respond(c, code, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned code, const char *type, const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **req)
{
    (void)version;
    (void)upload_data;
    (void)req;
    nlpd_metrics *m = cls;
    static const char text[] = "text/plain; charset=utf-8";
    int known = strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0 ||
                strcmp(url, "/readyz") == 0;
    if (!known)
        return respond_str(c, MHD_HTTP_NOT_FOUND, "not found (/metrics, /healthz, /readyz)\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        *upload_data_size = 0; /* a body, if any, is not read */
        return respond_str(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed (GET, HEAD)\n");
    }
    char msg[300];
    if (strcmp(url, "/healthz") == 0) {
        uint64_t last = atomic_load(&m->last_tick_us), now = nlpd__mono_us();
        if (now > last && now - last > HEALTH_STALL_US) {
            int n = snprintf(msg, sizeof(msg), "the daemon's loop has not run for %.1f s\n",
                             (double)(now - last) / 1e6);
            return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, text, msg, (size_t)n);
        }
        return respond_str(c, MHD_HTTP_OK, "ok\n");
    }
    pthread_mutex_lock(&m->mu);
    enum MHD_Result ret;
    if (strcmp(url, "/readyz") == 0) {
        int n = snprintf(msg, sizeof(msg), "%s\n", m->why);
        ret = respond(c, m->ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text, msg,
                      (size_t)n);
    } else if (m->text == NULL) {
        ret = respond_str(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no figures yet\n");
    } else {
        ret = respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", m->text,
                      m->text_len);
    }
    pthread_mutex_unlock(&m->mu);
    return ret;
}

/* --- The loop's side ---------------------------------------------------------------- */

/* Binds and listens on metrics_listen. Returns the socket or a negative
 * error after logging why. */
static int
listen_on(const char *value, char *actual, size_t actual_len)
{
    char host[64], why[200];
    unsigned port;
    int family;
    if (nlpd_config_parse_listen(value, host, sizeof(host), &port, &family, why, sizeof(why)) !=
        0) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"metrics_listen: %s\"", why);
        return NLPD_EINVAL;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &a->sin_addr);
        sl = sizeof(*a);
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"metrics: cannot make a socket: %s\"", strerror(err));
        return -err;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 32) != 0) {
        int err = errno;
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot listen for metrics on %s (metrics_listen): %s\"",
                 value, strerror(err));
        close(fd);
        return -err;
    }
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    unsigned bound = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    snprintf(actual, actual_len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, bound);
    return fd;
}

int
metrics_open(nlpd_daemon *d)
{
    if (d->cfg.metrics_listen[0] == '\0')
        return 0;
    nlpd_metrics *m = nlpd_calloc(1, sizeof(*m));
    if (m == NULL)
        return NLPD_ENOMEM;
    m->snap = nlpd_malloc(sizeof(*m->snap));
    if (m->snap == NULL) {
        nlpd_free(m);
        return NLPD_ENOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    snprintf(m->why, sizeof(m->why), "starting");
    atomic_store(&m->last_tick_us, nlpd__mono_us());
    m->fd = listen_on(d->cfg.metrics_listen, m->listen, sizeof(m->listen));
    if (m->fd < 0) {
        int rc = m->fd;
        d->metrics = m;
        metrics_close(d);
        return rc;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (strchr(m->listen, '[') != NULL)
        flags |= MHD_USE_IPv6;
    m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET,
                              m->fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    d->metrics = m;
    if (m->mhd == NULL) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot start the metrics HTTP server on %s\"", m->listen);
        metrics_close(d);
        return NLPD_EINVAL;
    }
    NLPD_LOG(NLPD_LOG_NOTICE, "listen=%s msg=\"metrics on http://%s/metrics (also /healthz, "
                              "/readyz)\"",
             m->listen, m->listen);
    return 0;
}

const char *
metrics_address(const nlpd_daemon *d)
{
    return d->metrics != NULL ? d->metrics->listen : "";
}

void
metrics_close(nlpd_daemon *d)
{
    nlpd_metrics *m = d->metrics;
    if (m == NULL)
        return;
    if (m->mhd != NULL)
        MHD_stop_daemon(m->mhd); /* joins its thread */
    if (m->fd >= 0)
        close(m->fd);
    pthread_mutex_destroy(&m->mu);
    nlpd_free(m->text);
    nlpd__buf_release(&m->buf);
    nlpd_free(m->snap);
    nlpd_free(m);
    d->metrics = NULL;
}

static void
publish(nlpd_daemon *d, nlpd_metrics *m, uint64_t now)
{
    /* Once a second: the figures, rendered here so the HTTP thread copies
     * text and nothing else. */
    int counts = d->journal != NULL && (!m->have_counts || m->last_counts_us == 0 ||
                                        now - m->last_counts_us >= JOURNAL_COUNTS_EVERY_US);
    stats_collect(d, m->snap, counts);
    if (counts && m->snap->journal_have_counts) {
        m->have_counts = 1;
        m->last_counts_us = now;
        m->counts[0] = m->snap->journal_pending;
        m->counts[1] = m->snap->journal_results;
        m->counts[2] = m->snap->journal_result_bytes;
        m->counts[3] = m->snap->journal_dead_letters;
    } else if (m->have_counts && d->journal != NULL) {
        m->snap->journal_have_counts = 1;
        m->snap->journal_pending = m->counts[0];
        m->snap->journal_results = m->counts[1];
        m->snap->journal_result_bytes = m->counts[2];
        m->snap->journal_dead_letters = m->counts[3];
    }
    m->buf.len = 0;
    if (nlpd_prom_render(m->snap, &m->buf) != 0)
        return;
    char *text = nlpd_malloc(m->buf.len + 1);
    if (text == NULL)
        return;
    memcpy(text, m->buf.data, m->buf.len);
    text[m->buf.len] = '\0';
    pthread_mutex_lock(&m->mu);
    char *old = m->text;
    m->text = text;
    m->text_len = m->buf.len;
    pthread_mutex_unlock(&m->mu);
    nlpd_free(old);
}

void
metrics_tick(nlpd_daemon *d, uint64_t now)
{
    /* Rates: a reading per new second (nlpd_rate_sample ignores the rest). */
    nlpd_rate_sample(&d->rate_done, now, d->completed);
    for (stage *st = d->stages; st != NULL; st = st->next)
        nlpd_rate_sample(&st->rate, now, st->processed);

    nlpd_metrics *m = d->metrics;
    if (m == NULL)
        return;
    atomic_store(&m->last_tick_us, now);
    char why[256];
    int ready = stats_ready(d, why, sizeof(why));
    pthread_mutex_lock(&m->mu);
    m->ready = ready;
    memcpy(m->why, why, sizeof(why));
    pthread_mutex_unlock(&m->mu);
    uint64_t s = now / 1000000u;
    if (s != m->last_render_s) {
        m->last_render_s = s;
        publish(d, m, now);
    }
}
