/* daemon/control.c — the control socket: status and reload for nlpctl. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "nlpd/alloc.h"
#include "nlpd/json.h"
#include "nlpd/log.h"
#include "security.h"

static void on_control_msg(nlpd__zwatch *w, nlpd__frames *fr);

int
control_open(nlpd_daemon *d)
{
    d->control = zmq_socket(d->zctx, ZMQ_ROUTER);
    d->hb = zmq_socket(d->zctx, ZMQ_PULL);
    if (d->control == NULL || d->hb == NULL)
        return -zmq_errno();
    int linger = 0;
    int64_t maxmsg = 65536;
    zmq_setsockopt(d->control, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(d->control, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    zmq_setsockopt(d->hb, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(d->hb, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    char ep[400];
    snprintf(ep, sizeof(ep), "ipc://%s/%s", d->runtime_dir, NLPD_SOCK_CONTROL);
    if (zmq_bind(d->control, ep) != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot bind %s: %s\"", ep, zmq_strerror(zmq_errno()));
        return NLPD_EINVAL;
    }
    if (daemon_share_with_group(d, ep + 6, 0660) != 0)
        NLPD_LOG(NLPD_LOG_WARNING, "msg=\"cannot open %s to the group\"", ep + 6);
    snprintf(ep, sizeof(ep), "ipc://%s/%s/%s", d->runtime_dir, NLPD_HOPS_DIR,
             NLPD_SOCK_HEARTBEAT);
    if (zmq_bind(d->hb, ep) != 0) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot bind %s: %s\"", ep, zmq_strerror(zmq_errno()));
        return NLPD_EINVAL;
    }
    chmod(ep + 6, 0600);
    int rc = nlpd__zwatch_start(&d->control_w, d->loop, d->control, on_control_msg, d);
    if (rc == 0)
        rc = nlpd__zwatch_start(&d->hb_w, d->loop, d->hb, broker_on_heartbeat, d);
    return rc;
}

void
control_close(nlpd_daemon *d)
{
    if (d->control != NULL) {
        nlpd__zwatch_close(&d->control_w, NULL);
        zmq_close(d->control);
        d->control = NULL;
    }
    if (d->hb != NULL) {
        nlpd__zwatch_close(&d->hb_w, NULL);
        zmq_close(d->hb);
        d->hb = NULL;
    }
}

/* Quantiles in ms over the last NLPD_LAT_WINDOW_S seconds: {} without
 * samples in that window. */
static json_t *
latency_json(const nlpd_lat *l, uint64_t now)
{
    uint32_t *scratch = nlpd_malloc(NLPD_LAT_SAMPLES * sizeof(*scratch));
    if (scratch == NULL)
        return NULL;
    double ms[NLPD_Q_N];
    size_t n = nlpd_lat_quantiles(l, now, NLPD_LAT_WINDOW_S, nlpd_stats_q, NLPD_Q_N, ms, scratch);
    nlpd_free(scratch);
    if (n == 0)
        return json_object();
    return json_pack("{s:f,s:f,s:f,s:I}", "p50", ms[0], "p90", ms[1], "p99", ms[2], "samples",
                     (json_int_t)n);
}

static const char *
worker_state_name(worker_state s)
{
    switch (s) {
    case W_STARTING:
        return "starting";
    case W_READY:
        return "ready";
    case W_STOPPING:
        return "stopping";
    case W_EXITED:
        return "exited";
    }
    return "unknown";
}

const char *
daemon_state_name(daemon_state s)
{
    switch (s) {
    case D_STARTING:
        return "starting";
    case D_RUNNING:
        return "running";
    case D_RELOADING:
        return "reloading";
    case D_STOPPING:
        return "stopping";
    }
    return "unknown";
}

static json_t *
stage_json(nlpd_daemon *d, stage *st, uint64_t now)
{
    json_t *workers = json_array();
    int crash_loop = 0;
    for (int i = 0; i < st->n_slots; i++)
        crash_loop |= st->slots[i].crash_loop;
    for (worker *w = st->workers; w != NULL; w = w->next_in_stage) {
        /* Restarts of the replica slot this worker fills (remote: none). */
        unsigned restarts = 0;
        if (w->slot >= 0 && w->slot < st->n_slots && st->slots[w->slot].w == w)
            restarts = st->slots[w->slot].restarts;
        json_array_append_new(
            workers,
            json_pack("{s:s,s:i,s:i,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:b,s:s}", "id", w->id, "pid",
                      w->pid, "slot", w->slot, "state", worker_state_name(w->state), "generation",
                      (json_int_t)w->gen, "held", (json_int_t)w->held.n, "processed",
                      (json_int_t)w->processed, "errors", (json_int_t)w->errors, "restarts",
                      (json_int_t)restarts, "rss_kb", (json_int_t)w->rss_kb, "uptime_s",
                      (double)(now - w->spawned_us) / 1e6, "remote", w->remote, "version",
                      w->version));
    }
    json_t *cmd = json_string("");
    if (st->cfg.argc > 0) {
        char buf[1024];
        size_t n = 0;
        buf[0] = '\0';
        for (int i = 0; i < st->cfg.argc && n < sizeof(buf); i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "", st->cfg.argv[i]);
        json_decref(cmd);
        cmd = json_string(buf);
    }
    (void)d;
    json_t *o = json_pack("{s:s,s:o,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o,s:o}", "name",
                     st->name, "command", cmd, "replicas", st->n_slots, "timeout_ms",
                     (json_int_t)st->cfg.timeout_ms, "window", (json_int_t)st->cfg.window,
                     "queued", (json_int_t)st->queue.n, "processed", (json_int_t)st->processed,
                     "errors", (json_int_t)st->errors, "restarts", (json_int_t)st->restarts,
                     "timeouts", (json_int_t)st->timeouts, "crashes", (json_int_t)st->crashes,
                     "crash_loop", crash_loop, "latency_ms", latency_json(&st->lat_proc, now),
                     "workers", workers);
    if (o != NULL) {
        json_object_set_new(o, "configured_replicas", json_integer(st->cfg.replicas));
        json_object_set_new(o, "dead_letters", json_integer((json_int_t)st->dead_letters));
    }
    return o;
}

/* One tcp endpoint a socket listens on: the last one it bound, which is
 * its tcp one (every socket binds its ipc:// endpoint first). */
static void
tcp_endpoint_json(json_t *a, const char *what, void *sock)
{
    char ep[300];
    size_t len = sizeof(ep);
    if (sock == NULL || zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &len) != 0 ||
        strncmp(ep, "tcp://", 6) != 0)
        return;
    json_array_append_new(a, json_pack("{s:s,s:s}", "socket", what, "endpoint", ep));
}

/* The `security` object of STATUS, present when tcp endpoints are on
 * (docs/protocol.md): the daemon's Curve public key, the keys let in, the
 * connections refused since start, and every tcp endpoint bound. */
static json_t *
security_json(nlpd_daemon *d)
{
    json_t *eps = json_array();
    if (strncmp(d->cfg.front_extra, "tcp://", 6) == 0 && eps != NULL)
        json_array_append_new(eps, json_pack("{s:s,s:s}", "socket", "front", "endpoint",
                                             d->cfg.front_extra));
    if (nlpd_security_listening(d->sec) && eps != NULL) {
        tcp_endpoint_json(eps, "front", d->front);
        tcp_endpoint_json(eps, "control", d->control);
        tcp_endpoint_json(eps, "results", d->pub);
        tcp_endpoint_json(eps, "heartbeat", d->hb);
        for (stage *st = d->stages; st != NULL; st = st->next) {
            char what[64];
            snprintf(what, sizeof(what), "hop/%s", st->name);
            tcp_endpoint_json(eps, what, st->sock);
        }
    }
    return json_pack("{s:s,s:I,s:I,s:o}", "public_key",
                     nlpd_security_public_key(d->sec), "authorized_keys",
                     (json_int_t)nlpd_security_authorized(d->sec), "refused",
                     (json_int_t)nlpd_security_refused(d->sec), "tcp_endpoints", eps);
}

char *
control_status_json(nlpd_daemon *d)
{
    uint64_t now = nlpd__mono_us();
    json_t *stages = json_array();
    for (int i = 0; i < d->pl->n; i++)
        json_array_append_new(stages, stage_json(d, d->pl->st[i], now));
    for (stage *st = d->stages; st != NULL; st = st->next) {
        if (st->retiring)
            json_array_append_new(stages, stage_json(d, st, now));
    }
    json_t *root = json_pack(
        "{s:s,s:i,s:f,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "version",
        NLPD_VERSION_STRING, "pid", (int)getpid(), "uptime_s",
        (double)(now - d->started_us) / 1e6, "runtime_dir", d->runtime_dir, "state",
        daemon_state_name(d->state), "in_flight", (json_int_t)d->n_flight, "in_flight_bytes",
        (json_int_t)d->flight_bytes, "accepted", (json_int_t)d->accepted, "completed",
        (json_int_t)d->completed, "completed_with_errors", (json_int_t)d->failed_docs, "refused",
        (json_int_t)d->refused, "max_in_flight", (json_int_t)d->cfg.max_in_flight, "generation",
        (json_int_t)d->gen, "stages", stages);
    if (root == NULL)
        return NULL;
    json_t *jn = json_pack("{s:b,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:b}", "enabled", d->cfg.journal,
                           "state_dir", d->state_dir, "sync",
                           d->cfg.journal_sync_full ? "full" : "group", "error",
                           d->cfg.journal && d->journal == NULL ? d->journal_why : "",
                           "waiting_commit",
                           (json_int_t)(d->ack_wait.n + d->sync_wait.n + d->syncing.n), "commits",
                           (json_int_t)d->commits, "replayed", (json_int_t)d->replayed,
                           "duplicates_dropped", (json_int_t)d->duplicates, "errors",
                           (json_int_t)d->journal_errors, "replaying",
                           d->journal != NULL && d->replay_after < d->replay_upto);
    if (jn != NULL && d->journal != NULL) {
        uint64_t pending = 0, results = 0, bytes = 0, dead = 0, cursor = 0;
        if (nlpd_journal_stats(d->journal, &pending, &results, &bytes, &dead, &cursor) == 0) {
            json_object_set_new(jn, "pending", json_integer((json_int_t)pending));
            json_object_set_new(jn, "results", json_integer((json_int_t)results));
            json_object_set_new(jn, "result_bytes", json_integer((json_int_t)bytes));
            json_object_set_new(jn, "dead_letters", json_integer((json_int_t)dead));
            json_object_set_new(jn, "last_cursor", json_integer((json_int_t)cursor));
        }
    }
    if (jn != NULL)
        json_object_set_new(root, "journal", jn);
    char why[256];
    int ready = stats_ready(d, why, sizeof(why));
    json_object_set_new(root, "ready", json_boolean(ready));
    json_object_set_new(root, "not_ready", json_string(ready ? "" : why));
    json_object_set_new(root, "metrics_listen", json_string(metrics_address(d)));
    if (d->sec != NULL)
        json_object_set_new(root, "security", security_json(d));
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (s == NULL)
        return NULL;
    char *out = nlpd_strdup(s);
    free(s);
    return out;
}

/* --- STATS ------------------------------------------------------------------- */

static json_t *
lat_snap_json(const nlpd_lat_snap *l)
{
    json_t *o = json_pack("{s:I,s:I,s:f}", "samples", (json_int_t)l->samples, "count",
                          (json_int_t)l->count, "sum_s", l->sum_s);
    if (o == NULL)
        return NULL;
    static const char *const names[NLPD_Q_N] = {"p50", "p90", "p99"};
    for (int i = 0; i < NLPD_Q_N; i++)
        json_object_set_new(o, names[i], l->samples ? json_real(l->ms[i]) : json_null());
    return o;
}

static json_t *
history_json(const double *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n && a != NULL; i++)
        json_array_append_new(a, json_real(h[i]));
    return a;
}

static json_t *
stage_stats_json(const nlpd_stage_snap *st)
{
    json_t *o = json_pack(
        "{s:s,s:i,s:i,s:{s:i,s:i,s:i,s:i},s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:o,s:o,"
        "s:o,s:b,s:b}",
        "name", st->name, "replicas", st->replicas, "configured_replicas",
        st->configured_replicas, "workers", "ready", st->workers_ready, "starting",
        st->workers_starting, "stopping", st->workers_stopping, "remote", st->workers_remote,
        "queued", (json_int_t)st->queued, "in_hand", (json_int_t)st->in_hand, "oldest_queued_ms",
        (double)st->oldest_queued_us / 1000.0, "processed", (json_int_t)st->processed, "errors",
        (json_int_t)st->errors, "timeouts", (json_int_t)st->timeouts, "crashes",
        (json_int_t)st->crashes, "restarts", (json_int_t)st->restarts, "dead_letters",
        (json_int_t)st->dead_letters, "rate", st->rate, "rate_since_start", st->rate_since_start,
        "history", history_json(st->history, NLPD_RATE_HISTORY), "latency_ms",
        lat_snap_json(&st->processing), "stage_ms", lat_snap_json(&st->in_stage), "crash_loop",
        st->crash_loop, "retiring", st->retiring);
    return o;
}

/* The STATS JSON (nlpd_malloc'd), or NULL when out of memory. */
static char *
stats_json(nlpd_daemon *d)
{
    nlpd_stats_snap *s = nlpd_malloc(sizeof(*s));
    if (s == NULL)
        return NULL;
    stats_collect(d, s, 1);
    json_t *stages = json_array(), *hops = json_array();
    int n_pipeline = d->pl != NULL ? d->pl->n : 0;
    for (int i = 0; i < s->n_stages; i++) {
        json_array_append_new(stages, stage_stats_json(&s->st[i]));
        if (i < n_pipeline)
            json_array_append_new(hops,
                                  json_pack("{s:s,s:s,s:I,s:f}", "from",
                                            i == 0 ? "front" : s->st[i - 1].name, "to",
                                            s->st[i].name, "backlog", (json_int_t)s->st[i].queued,
                                            "oldest_ms", (double)s->st[i].oldest_queued_us / 1000.0));
    }
    json_t *docs = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:o,s:o}", "accepted", (json_int_t)s->accepted,
        "completed", (json_int_t)s->completed, "completed_with_errors",
        (json_int_t)s->completed_with_errors, "refused", (json_int_t)s->refused, "in_flight",
        (json_int_t)s->in_flight, "in_flight_bytes", (json_int_t)s->in_flight_bytes,
        "max_in_flight", (json_int_t)s->max_in_flight, "max_in_flight_bytes",
        (json_int_t)s->max_in_flight_bytes, "rate", s->rate, "rate_since_start",
        s->rate_since_start, "history", history_json(s->history, NLPD_RATE_HISTORY), "latency_ms",
        lat_snap_json(&s->latency));
    json_t *jn = json_pack("{s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "enabled", s->journal_enabled,
                           "open", s->journal_open, "waiting_commit",
                           (json_int_t)s->journal_waiting_commit, "commits",
                           (json_int_t)s->journal_commits, "errors", (json_int_t)s->journal_errors,
                           "replayed", (json_int_t)s->journal_replayed, "duplicates_dropped",
                           (json_int_t)s->journal_duplicates, "dead_letters_since_start",
                           (json_int_t)s->dead_letters);
    if (jn != NULL && s->journal_have_counts) {
        json_object_set_new(jn, "pending", json_integer((json_int_t)s->journal_pending));
        json_object_set_new(jn, "results", json_integer((json_int_t)s->journal_results));
        json_object_set_new(jn, "result_bytes", json_integer((json_int_t)s->journal_result_bytes));
        json_object_set_new(jn, "dead_letters", json_integer((json_int_t)s->journal_dead_letters));
    }
    json_t *root = json_pack("{s:s,s:s,s:f,s:b,s:s,s:s,s:o,s:o,s:o,s:o}", "version", s->version,
                             "state", s->state, "uptime_s", s->uptime_s, "ready", s->ready,
                             "not_ready", s->ready ? "" : s->not_ready_why, "metrics_listen",
                             s->metrics_listen, "documents", docs, "journal", jn, "stages",
                             stages, "hops", hops);
    nlpd_free(s);
    if (root == NULL)
        return NULL;
    char *txt = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (txt == NULL)
        return NULL;
    char *out = nlpd_strdup(txt);
    free(txt);
    return out;
}

/* WORKERS ADD|REMOVE STAGE N. Returns the body; *verb "OK" or "ERROR". */
static char *
workers_request(nlpd_daemon *d, const char *req, const char **verb)
{
    char op[16], name[64], tail;
    long n = 0;
    *verb = "ERROR";
    if (sscanf(req, "WORKERS %15s %63s %ld%c", op, name, &n, &tail) != 3 ||
        (strcmp(op, "ADD") != 0 && strcmp(op, "REMOVE") != 0))
        return nlpd_strdup("WORKERS takes ADD or REMOVE, a stage name and a count");
    if (n < 1 || n > 256)
        return nlpd_strdup("the count must be 1 to 256");
    char msg[400];
    int rc = supervisor_scale(d, name, strcmp(op, "ADD") == 0 ? (int)n : -(int)n, msg,
                              sizeof(msg));
    if (rc == 0)
        *verb = "OK";
    return nlpd_strdup(msg);
}

/* --- The result store -------------------------------------------------------- */

/* Bodies of replies stop growing past this (at least one result goes). */
#define RESULTS_MAX_BYTES (8u << 20)

/* Appends the result's document as JSON. */
static int
append_doc_json(nlpd_daemon *d, nlpd__buf *b, const void *doc, size_t len)
{
    char *json = NULL;
    size_t jlen = 0;
    int rc = nlpd_doc_parse(d->scratch, doc, len);
    if (rc == 0)
        rc = nlpd_doc_to_json(d->scratch, NLPD_JSON_DEFAULT, &json, &jlen);
    if (rc == 0)
        rc = nlpd__buf_append(b, json, jlen);
    nlpd_free(json);
    return rc;
}

typedef struct results_ctx {
    nlpd_daemon *d;
    nlpd__buf b;
    int rc;
} results_ctx;

static int
on_get(void *arg, const nlpd_journal_result *r)
{
    results_ctx *c = arg;
    c->rc = append_doc_json(c->d, &c->b, r->doc, r->len);
    return c->rc != 0;
}

/* One line per result: {"cursor":N,"key":K,"status":S,"done_unix_us":T,"document":{...}}. */
static int
on_result_line(void *arg, const nlpd_journal_result *r)
{
    results_ctx *c = arg;
    if (c->b.len >= RESULTS_MAX_BYTES)
        return 1;
    char head[200];
    int n = snprintf(head, sizeof(head),
                     "{\"cursor\":%llu,\"key\":\"%s\",\"status\":\"%s\",\"done_unix_us\":%llu,"
                     "\"document\":",
                     (unsigned long long)r->cursor, r->key, r->error ? "error" : "ok",
                     (unsigned long long)r->done_unix_us);
    size_t mark = c->b.len;
    c->rc = nlpd__buf_append(&c->b, head, (size_t)n);
    if (c->rc == 0)
        c->rc = append_doc_json(c->d, &c->b, r->doc, r->len);
    if (c->rc == 0)
        c->rc = nlpd__buf_append(&c->b, "}\n", 2);
    if (c->rc == NLPD_EPROTO || c->rc == NLPD_EUTF8) {
        /* A stored result that no longer decodes: say so in its place. */
        c->b.len = mark;
        n = snprintf(head, sizeof(head),
                     "{\"cursor\":%llu,\"key\":\"%s\",\"status\":\"unreadable\"}\n",
                     (unsigned long long)r->cursor, r->key);
        c->rc = nlpd__buf_append(&c->b, head, (size_t)n);
    }
    return c->rc != 0;
}

static int
on_dead_json(void *arg, const nlpd_journal_dead *dl)
{
    json_t *arr = arg;
    json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s,s:I,s:I}", "id", (json_int_t)dl->id,
                                         "key", dl->key, "stage", dl->stage, "error", dl->error,
                                         "attempts", (json_int_t)dl->attempts, "dead_unix_us",
                                         (json_int_t)dl->dead_unix_us));
    return 0;
}

static char *
buf_take(nlpd__buf *b)
{
    char *out = nlpd_malloc(b->len + 1);
    if (out != NULL) {
        if (b->len > 0)
            memcpy(out, b->data, b->len);
        out[b->len] = '\0';
    }
    nlpd__buf_release(b);
    return out;
}

static int
valid_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'A' && k[i] <= 'Z') ||
              (k[i] >= 'a' && k[i] <= 'z')))
            return 0;
    }
    return 1;
}

/* GET KEY, RESULTS AFTER LIMIT, DEADLETTERS, RETRY ID. Returns the body
 * (nlpd_malloc'd) and sets *verb. */
static char *
store_request(nlpd_daemon *d, const char *req, const char **verb)
{
    char msg[300];
    *verb = "ERROR";
    if (d->journal == NULL) {
        snprintf(msg, sizeof(msg), "%s", d->cfg.journal ? "the journal is not open"
                                                        : "the journal is off (journal = off)");
        return nlpd_strdup(msg);
    }
    /* Readers see only what is committed, so a cursor handed out is never
     * taken back by a crash. */
    durable_commit(d);
    results_ctx c = {.d = d};
    if (strncmp(req, "GET ", 4) == 0) {
        const char *key = req + 4;
        if (!valid_key(key))
            return nlpd_strdup("GET takes a document key");
        int rc = nlpd_journal_get(d->journal, key, on_get, &c);
        if (rc == 0 && c.rc == 0) {
            *verb = "OK";
            return buf_take(&c.b);
        }
        nlpd__buf_release(&c.b);
        if (rc == NLPD_ENOENT) {
            int st = nlpd_journal_state(d->journal, key);
            snprintf(msg, sizeof(msg), "%s: %s", key,
                     st == NLPD_JOURNAL_PENDING ? "accepted and not finished yet"
                     : st == NLPD_JOURNAL_DEAD  ? "in the dead letters (nlpctl deadletters)"
                                                : "no such result (unknown key, or pruned)");
        } else {
            snprintf(msg, sizeof(msg), "%s", nlpd_strerror(c.rc != 0 ? c.rc : rc));
        }
        return nlpd_strdup(msg);
    }
    unsigned long long after = 0, limit = 0;
    char tail;
    if (sscanf(req, "RESULTS %llu %llu%c", &after, &limit, &tail) == 2) {
        if (limit == 0 || limit > 100000)
            limit = 100000;
        int rc = nlpd_journal_results(d->journal, after, (size_t)limit, on_result_line, &c);
        if (rc >= 0 && c.rc == 0) {
            *verb = "OK";
            return buf_take(&c.b);
        }
        nlpd__buf_release(&c.b);
        return nlpd_strdup(nlpd_strerror(rc < 0 ? rc : c.rc));
    }
    if (strcmp(req, "DEADLETTERS") == 0) {
        json_t *arr = json_array();
        int rc = nlpd_journal_dead_letters(d->journal, on_dead_json, arr);
        char *s = rc == 0 ? json_dumps(arr, JSON_COMPACT) : NULL;
        json_decref(arr);
        if (s == NULL)
            return nlpd_strdup(rc != 0 ? nlpd_journal_why(d->journal) : "out of memory");
        char *out = nlpd_strdup(s);
        free(s);
        *verb = "OK";
        return out;
    }
    long long id = 0;
    if (sscanf(req, "RETRY %lld%c", &id, &tail) == 1) {
        int rc = durable_retry(d, id, msg, sizeof(msg));
        if (rc == 0)
            *verb = "OK";
        return nlpd_strdup(msg);
    }
    return nlpd_strdup("unknown request (STATUS, STATS, RELOAD, DRAIN, WORKERS ADD|REMOVE STAGE N, "
                       "GET KEY, RESULTS AFTER LIMIT, DEADLETTERS, RETRY ID are known)");
}

static void
on_control_msg(nlpd__zwatch *zw, nlpd__frames *fr)
{
    nlpd_daemon *d = zw->data;
    /* [id, (empty delimiter from REQ), request]: echo the envelope. */
    int req = fr->n >= 3 && nlpd__frame_size(fr, 1) == 0;
    int at = req ? 2 : 1;
    if (fr->n != at + 1 || fr->extra > 0)
        return;
    char *body = NULL;
    const char *verb = "OK";
    if (nlpd__frame_is(fr, at, "STATUS")) {
        body = control_status_json(d);
        if (body == NULL)
            verb = "ERROR";
    } else if (nlpd__frame_is(fr, at, "STATS")) {
        body = stats_json(d);
        if (body == NULL)
            verb = "ERROR";
    } else if (nlpd__frame_is(fr, at, "RELOAD")) {
        supervisor_reload(d);
        body = nlpd_strdup("{\"reload\":\"started\"}");
    } else if (nlpd__frame_is(fr, at, "DRAIN")) {
        /* As SIGTERM: no new documents, those in flight finish up to
         * drain_timeout_ms (what is left stays journaled), then exit 0. */
        char text[96];
        snprintf(text, sizeof(text), "{\"drain\":\"started\",\"in_flight\":%zu}", d->n_flight);
        daemon_begin_stop(d, "nlpctl drain");
        body = nlpd_strdup(text);
    } else {
        char text[256];
        if (nlpd__frame_str(fr, at, text, sizeof(text)) >= (int)sizeof(text)) {
            verb = "ERROR";
            body = nlpd_strdup("request too long");
        } else if (strncmp(text, "WORKERS ", 8) == 0) {
            body = workers_request(d, text, &verb);
        } else {
            body = store_request(d, text, &verb);
        }
    }
    zmq_msg_t id;
    zmq_msg_init(&id);
    zmq_msg_copy(&id, &fr->f[0]);
    int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    int rc = nlpd__send_msg(d->control, &id, more);
    if (rc == 0 && req)
        rc = nlpd__send_bytes(d->control, "", 0, more);
    if (rc == 0)
        rc = nlpd__send_str(d->control, verb, more);
    if (rc == 0)
        rc = nlpd__send_str(d->control, body != NULL ? body : "out of memory", ZMQ_DONTWAIT);
    zmq_msg_close(&id);
    nlpd_free(body);
    nlpd__zwatch_mark(&d->control_w);
}
