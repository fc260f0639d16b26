/* daemon/control.c — the control socket: status and reload for nlpctl. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "nlpd/alloc.h"
#include "nlpd/log.h"

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
    if (chmod(ep + 6, 0660) != 0 || chown(ep + 6, (uid_t)-1, d->gid) != 0)
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

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static json_t *
latency_json(const stage *st)
{
    size_t n = st->n_lat < NLPD_LATENCY_SAMPLES ? st->n_lat : NLPD_LATENCY_SAMPLES;
    if (n == 0)
        return json_object();
    uint32_t *v = nlpd_malloc(n * sizeof(*v));
    if (v == NULL)
        return NULL;
    memcpy(v, st->lat_us, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_u32);
    json_t *o = json_pack("{s:f,s:f,s:f,s:I}", "p50", v[n * 50 / 100] / 1000.0, "p90",
                          v[n * 90 / 100] / 1000.0, "p99", v[n * 99 / 100] / 1000.0, "samples",
                          (json_int_t)n);
    nlpd_free(v);
    return o;
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

static const char *
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
    return json_pack("{s:s,s:o,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o,s:o}", "name",
                     st->name, "command", cmd, "replicas", st->cfg.replicas, "timeout_ms",
                     (json_int_t)st->cfg.timeout_ms, "window", (json_int_t)st->cfg.window,
                     "queued", (json_int_t)st->queue.n, "processed", (json_int_t)st->processed,
                     "errors", (json_int_t)st->errors, "restarts", (json_int_t)st->restarts,
                     "timeouts", (json_int_t)st->timeouts, "crashes", (json_int_t)st->crashes,
                     "crash_loop", crash_loop, "latency_ms", latency_json(st), "workers",
                     workers);
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
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (s == NULL)
        return NULL;
    char *out = nlpd_strdup(s);
    free(s);
    return out;
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
    } else if (nlpd__frame_is(fr, at, "RELOAD")) {
        supervisor_reload(d);
        body = nlpd_strdup("{\"reload\":\"started\"}");
    } else {
        verb = "ERROR";
        body = nlpd_strdup("unknown request (STATUS and RELOAD are known)");
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
