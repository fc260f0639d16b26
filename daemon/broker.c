/* daemon/broker.c — stage sockets: credit-based dispatch and the worker protocol. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "nlpd/alloc.h"
#include "nlpd/log.h"
#include "security.h"

static void on_stage_msg(nlpd__zwatch *w, nlpd__frames *fr);
static void dispatch_now(nlpd_daemon *d, stage *st);

/* The stage's tcp endpoint: its own port, or listen's port + 10 + its
 * position in the pipeline being set up (docs/protocol.md). */
static int
stage_tcp_endpoint(nlpd_daemon *d, const stage *st, char *out, size_t out_len)
{
    if (st->cfg.port != 0)
        return nlpd_security_endpoint_port(d->sec, st->cfg.port, out, out_len);
    const nlpd_config *c = d->reload_gen != 0 ? &d->reload_cfg : &d->cfg;
    for (int i = 0; i < c->n_pipeline; i++) {
        if (strcmp(c->pipeline[i], st->name) == 0)
            return nlpd_security_endpoint(d->sec, NLPD_TCP_HOPS + (unsigned)i, out, out_len);
    }
    return NLPD_EINVAL;
}

int
broker_open_stage(nlpd_daemon *d, stage *st)
{
    st->d = d;
    st->watch.data = st; /* also for stage_freed, should opening fail */
    int n = snprintf(st->endpoint, sizeof(st->endpoint), "ipc://%s/%s/%s", d->runtime_dir,
                     NLPD_HOPS_DIR, st->name);
    if (n < 0 || (size_t)n >= sizeof(st->endpoint) || n - 6 > 107) {
        NLPD_LOG(NLPD_LOG_ERR, "stage=%s msg=\"socket path too long: %s\"", st->name,
                 st->endpoint);
        return NLPD_EINVAL;
    }
    st->sock = zmq_socket(d->zctx, ZMQ_ROUTER);
    if (st->sock == NULL)
        return -zmq_errno();
    int one = 1, zero = 0, linger = 0;
    /* Sends to a worker that is gone fail instead of vanishing. */
    zmq_setsockopt(st->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    /* A worker that reconnects under its id (a remote one restarted) takes
     * over its old connection. */
    zmq_setsockopt(st->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
    /* Credit bounds what is queued toward a worker; the daemon's own queue
     * holds the rest. */
    zmq_setsockopt(st->sock, ZMQ_SNDHWM, &zero, sizeof(zero));
    zmq_setsockopt(st->sock, ZMQ_RCVHWM, &zero, sizeof(zero));
    zmq_setsockopt(st->sock, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(st->sock, st->endpoint) != 0) {
        int err = zmq_errno();
        NLPD_LOG(NLPD_LOG_ERR, "stage=%s msg=\"cannot bind %s: %s\"", st->name, st->endpoint,
                 zmq_strerror(err));
        zmq_close(st->sock);
        st->sock = NULL;
        return -err;
    }
    chmod(st->endpoint + 6, 0600);
    if (nlpd_security_listening(d->sec)) {
        /* Remote workers: the same socket on tcp, with CurveZMQ. */
        char tcp[300], what[64];
        int rc = stage_tcp_endpoint(d, st, tcp, sizeof(tcp));
        snprintf(what, sizeof(what), "hop/%s", st->name);
        if (rc == 0)
            rc = nlpd_security_bind(d->sec, st->sock, tcp, what);
        else
            NLPD_LOG(NLPD_LOG_ERR, "stage=%s msg=\"no tcp port for its hop (listen's port + %d + "
                                   "its position past 65535)\"",
                     st->name, NLPD_TCP_HOPS);
        if (rc != 0)
            return rc;
    }
    int rc = nlpd__zwatch_start(&st->watch, d->loop, st->sock, on_stage_msg, st);
    if (rc != 0)
        return rc;
    st->watch_open = 1;
    return 0;
}

void
broker_close_stage(nlpd_daemon *d, stage *st, nlpd__zwatch_close_fn on_closed)
{
    if (st->sock != NULL) {
        nlpd_security_forget(d->sec, st->sock);
        zmq_close(st->sock);
        st->sock = NULL;
    }
    /* The watcher's handles close asynchronously; on_closed runs after
     * (at once when they were never opened). */
    st->watch_open = 0;
    nlpd__zwatch_close(&st->watch, on_closed);
}

/* --- Queues --------------------------------------------------------------- */

void
broker_stage_enqueue_front(stage *st, flight *f)
{
    flight_list_push_front(&st->queue, f);
}

static void
held_append(worker *w, flight *f)
{
    f->holder = w;
    flight_list_push_back(&w->held, f);
}

static void
held_remove(worker *w, flight *f)
{
    flight_list_remove(&w->held, f);
    f->holder = NULL;
}

void
broker_requeue_held(nlpd_daemon *d, worker *w)
{
    stage *st = w->st;
    /* From the tail, so the queue keeps their order at its front. */
    while (w->held.tail != NULL) {
        flight *f = w->held.tail;
        held_remove(w, f);
        f->started_us = 0;
        f->started_reported = 0;
        broker_stage_enqueue_front(st, f);
    }
    broker_dispatch(d, st);
}

/* --- Routing and dispatch -------------------------------------------------- */

void
broker_route(nlpd_daemon *d, flight *f)
{
    pipeline *pl = f->pl;
    while (f->next < pl->n && (f->skip_mask & (1ull << f->next)))
        f->next++;
    if (f->next >= pl->n) {
        front_sink(d, f);
        return;
    }
    stage *st = pl->st[f->next];
    f->queued_us = nlpd__mono_us();
    flight_list_push_back(&st->queue, f);
    broker_dispatch(d, st);
}

static int
worker_takes_work(const stage *st, const worker *w)
{
    return w->state == W_READY && w->gen == st->gen && w->held.n < w->window;
}

static int
send_doc(nlpd_daemon *d, stage *st, worker *w, flight *f)
{
    (void)d;
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    /* A copy shares the buffer (reference-counted), so the daemon keeps
     * the document without copying its bytes. */
    zmq_msg_copy(&copy, &f->doc);
    int rc = nlpd__send_bytes(st->sock, w->id, strlen(w->id), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc == 0)
        rc = nlpd__send_str(st->sock, NLPD_W_DOC, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc == 0)
        rc = nlpd__send_str(st->sock, f->key, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc == 0)
        rc = nlpd__send_msg(st->sock, &copy, ZMQ_DONTWAIT);
    zmq_msg_close(&copy);
    return rc;
}

/* Dispatching waits for the end of the loop turn (broker_flush, from the
 * daemon's uv_prepare): every DONE of a drained batch frees credit first,
 * then the documents go out back to back, which ZeroMQ's I/O thread writes
 * in one wakeup instead of one each. */
void
broker_dispatch(nlpd_daemon *d, stage *st)
{
    (void)d;
    st->dispatch_pending = 1;
}

void
broker_flush(nlpd_daemon *d)
{
    for (stage *st = d->stages; st != NULL; st = st->next) {
        if (st->dispatch_pending) {
            st->dispatch_pending = 0;
            dispatch_now(d, st);
        }
    }
}

static void
dispatch_now(nlpd_daemon *d, stage *st)
{
    int sent = 0;
    while (st->queue.head != NULL) {
        /* The ready worker of the current generation with the most free
         * credit. Each document sent lowers its holder's, so equal workers
         * take turns. */
        worker *best = NULL;
        size_t best_free = 0;
        for (worker *w = st->workers; w != NULL; w = w->next_in_stage) {
            if (!worker_takes_work(st, w))
                continue;
            size_t free_credit = w->window - w->held.n;
            if (best == NULL || free_credit > best_free) {
                best = w;
                best_free = free_credit;
            }
        }
        if (best == NULL)
            break;
        flight *f = flight_list_pop_front(&st->queue);
        int rc = send_doc(d, st, best, f);
        if (rc != 0) {
            /* The worker vanished (EHOSTUNREACH) or its pipe is full: put the
             * document back and stop using that worker until it speaks. */
            broker_stage_enqueue_front(st, f);
            NLPD_LOG(NLPD_LOG_WARNING, "stage=%s worker=%s msg=\"cannot send: %s\"", st->name,
                     best->id, nlpd_strerror(rc));
            best->state = W_STOPPING;
            best->stop_us = nlpd__mono_us();
            if (best->remote)
                worker_forget(d, best, "unreachable");
            continue;
        }
        f->dispatched_us = nlpd__mono_us();
        /* The first document a worker holds starts now; later ones start
         * when the one before is done (STARTED, when it comes, is exact). */
        f->started_us = best->held.n == 0 ? f->dispatched_us : 0;
        f->started_reported = 0;
        held_append(best, f);
        sent++;
    }
    if (sent > 0)
        nlpd__zwatch_mark(&st->watch);
}

/* --- Worker messages ------------------------------------------------------ */

static void
send_reset(stage *st, const void *id, size_t id_len)
{
    if (nlpd__send_bytes(st->sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0)
        nlpd__send_str(st->sock, NLPD_W_RESET, ZMQ_DONTWAIT);
}

void
broker_send_stop(nlpd_daemon *d, worker *w)
{
    (void)d;
    stage *st = w->st;
    if (st->sock == NULL)
        return;
    if (nlpd__send_bytes(st->sock, w->id, strlen(w->id), ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0)
        nlpd__send_str(st->sock, NLPD_W_STOP, ZMQ_DONTWAIT);
    nlpd__zwatch_mark(&st->watch);
}

/* DONE carries the whole document; ADDED (`added`) only what the stage
 * added, to be appended to the document the daemon sent. */
static void
handle_done(nlpd_daemon *d, stage *st, worker *w, nlpd__frames *fr, int added)
{
    flight *f = flight_find(d, nlpd__frame_data(fr, 2), nlpd__frame_size(fr, 2));
    if (f == NULL || f->holder != w) {
        /* Taken back already (the worker was given up on): the document is
         * elsewhere now, this answer is stale. */
        NLPD_LOG(NLPD_LOG_DEBUG, "stage=%s worker=%s msg=\"stale DONE ignored\"", st->name,
                 w->id);
        return;
    }
    uint64_t now = nlpd__mono_us();
    held_remove(w, f);
    if (w->held.head != NULL && w->held.head->started_us == 0)
        w->held.head->started_us = now; /* the next one starts now */
    stats_stage_done(st, f, now);
    st->processed++;
    w->processed++;

    char status[16];
    nlpd__frame_str(fr, 3, status, sizeof(status));
    if (strcmp(status, "malformed") == 0) {
        /* The stage could not decode what it was sent: the previous stage
         * wrote garbage. Nothing can be appended to garbage, so the sink
         * gets a fresh document that says so. */
        st->errors++;
        w->errors++;
        zmq_msg_close(&f->doc);
        zmq_msg_init(&f->doc);
        char msg[256];
        snprintf(msg, sizeof(msg), "stage %s could not decode the document it was given",
                 st->name);
        Nlpd__V1__Document nd = NLPD__V1__DOCUMENT__INIT;
        nd.version = 1;
        nd.key = f->key;
        zmq_msg_t m;
        size_t n = nlpd__v1__document__get_packed_size(&nd);
        if (zmq_msg_init_size(&m, n) == 0) {
            nlpd__v1__document__pack(&nd, zmq_msg_data(&m));
            zmq_msg_move(&f->doc, &m);
            zmq_msg_close(&m);
        }
        flight_add_error(d, f, st->name, "malformed", msg, 1);
        f->next = f->pl->n;
    } else {
        zmq_msg_t *doc = &fr->f[4];
        size_t old = f->bytes;
        if (!added) {
            zmq_msg_move(&f->doc, doc); /* the whole document */
        } else if (zmq_msg_size(doc) > 0) {
            /* The additions alone: appended to the document as sent. */
            size_t n = zmq_msg_size(&f->doc), a = zmq_msg_size(doc);
            zmq_msg_t m;
            if (zmq_msg_init_size(&m, n + a) != 0) {
                NLPD_LOG(NLPD_LOG_ERR, "doc=%s msg=\"out of memory; %s's additions lost\"",
                         f->key, st->name);
                flight_add_error(d, f, st->name, "out_of_memory",
                                 "the daemon could not store this stage's additions", 0);
            } else {
                memcpy(zmq_msg_data(&m), zmq_msg_data(&f->doc), n);
                memcpy((uint8_t *)zmq_msg_data(&m) + n, zmq_msg_data(doc), a);
                zmq_msg_move(&f->doc, &m);
                zmq_msg_close(&m);
            }
        }
        size_t nb = zmq_msg_size(&f->doc);
        d->flight_bytes = d->flight_bytes - old + nb;
        f->bytes = nb;
        if (strcmp(status, "ok") != 0) {
            f->had_error = 1;
            st->errors++;
            w->errors++;
        }
        f->next++;
        if (strcmp(status, "fatal") == 0)
            f->next = f->pl->n; /* nothing later can use it */
    }
    broker_route(d, f);
    broker_dispatch(d, st);
}

static void
handle_hello(nlpd_daemon *d, stage *st, worker *w, const void *id, size_t id_len,
             nlpd__frames *fr)
{
    Nlpd__V1__WorkerHello *h =
        nlpd__v1__worker_hello__unpack(NULL, nlpd__frame_size(fr, 2), nlpd__frame_data(fr, 2));
    if (h == NULL) {
        NLPD_LOG(NLPD_LOG_WARNING, "stage=%s msg=\"malformed HELLO ignored\"", st->name);
        return;
    }
    if (w == NULL) {
        /* A worker the daemon did not start: one on another host, or one
         * started by hand. It joins the stage as it is. */
        if (d->state == D_STOPPING) {
            nlpd__v1__worker_hello__free_unpacked(h, NULL);
            return;
        }
        w = nlpd_calloc(1, sizeof(*w));
        if (w == NULL) {
            nlpd__v1__worker_hello__free_unpacked(h, NULL);
            return;
        }
        snprintf(w->id, sizeof(w->id), "%.*s", (int)id_len, (const char *)id);
        w->st = st;
        w->slot = -1;
        w->remote = 1;
        w->gen = st->gen;
        w->pid = h->pid;
        w->spawned_us = nlpd__mono_us();
        w->next_in_stage = st->workers;
        st->workers = w;
        HASH_ADD_STR(d->workers, id, w);
        NLPD_LOG(NLPD_LOG_NOTICE, "stage=%s worker=%s host=%s pid=%d msg=\"remote worker joined\"",
                 st->name, w->id, h->host ? h->host : "", h->pid);
    } else if (w->state == W_READY && w->held.n > 0) {
        /* It said hello again (after RESET): what it held is forgotten. */
        broker_requeue_held(d, w);
    }
    snprintf(w->version, sizeof(w->version), "%s", h->version ? h->version : "");
    unsigned window = h->window;
    if (window == 0)
        window = 1;
    if (window > 1024)
        window = 1024;
    w->window = window;
    nlpd__v1__worker_hello__free_unpacked(h, NULL);
    if (w->state == W_STARTING || w->remote) {
        w->state = W_READY;
        w->ready_us = w->last_hb_us = nlpd__mono_us();
        supervisor_on_hello(d, w);
    }
    broker_dispatch(d, st);
}

static void
on_stage_msg(nlpd__zwatch *zw, nlpd__frames *fr)
{
    stage *st = zw->data;
    nlpd_daemon *d = st->d;
    if (fr->n < 2 || fr->extra > 0) {
        NLPD_LOG(NLPD_LOG_WARNING, "stage=%s msg=\"malformed message from a worker\"", st->name);
        return;
    }
    const char *id = nlpd__frame_data(fr, 0);
    size_t id_len = nlpd__frame_size(fr, 0);
    worker *w = NULL;
    if (id_len > 0 && id_len < sizeof(w->id)) {
        char key[sizeof(w->id)];
        memcpy(key, id, id_len);
        key[id_len] = '\0';
        HASH_FIND_STR(d->workers, key, w);
    }
    if (w != NULL && w->st != st)
        w = NULL; /* same id on another stage: a different worker */

    if (nlpd__frame_is(fr, 1, NLPD_W_HELLO) && fr->n == 3) {
        handle_hello(d, st, w, id, id_len, fr);
        return;
    }
    if (w == NULL || w->state == W_EXITED) {
        /* Not known (the daemon restarted under it): ask for a HELLO. */
        if (!nlpd__frame_is(fr, 1, NLPD_W_BYE))
            send_reset(st, id, id_len);
        return;
    }
    if (w->remote)
        w->last_hb_us = nlpd__mono_us(); /* any message shows it is alive */
    if (nlpd__frame_is(fr, 1, NLPD_W_ADDED) && fr->n == 5) {
        handle_done(d, st, w, fr, 1);
    } else if (nlpd__frame_is(fr, 1, NLPD_W_DONE) && fr->n == 5) {
        handle_done(d, st, w, fr, 0);
    } else if (nlpd__frame_is(fr, 1, NLPD_W_STARTED) && fr->n == 3) {
        flight *f = flight_find(d, nlpd__frame_data(fr, 2), nlpd__frame_size(fr, 2));
        if (f != NULL && f->holder == w) {
            f->started_us = nlpd__mono_us();
            f->started_reported = 1;
        }
    } else if (nlpd__frame_is(fr, 1, NLPD_W_BYE)) {
        NLPD_LOG(NLPD_LOG_INFO, "stage=%s worker=%s held=%zu msg=\"worker said goodbye\"",
                 st->name, w->id, w->held.n);
        if (w->state != W_STOPPING) {
            w->state = W_STOPPING;
            w->stop_us = nlpd__mono_us();
        }
        broker_requeue_held(d, w);
        if (w->remote)
            worker_forget(d, w, "said goodbye");
    } else {
        NLPD_LOG(NLPD_LOG_WARNING, "stage=%s worker=%s msg=\"unknown message ignored\"",
                 st->name, w->id);
    }
}

void
broker_on_heartbeat(nlpd__zwatch *zw, nlpd__frames *fr)
{
    nlpd_daemon *d = zw->data;
    if (fr->n != 2 || !nlpd__frame_is(fr, 0, NLPD_W_HEARTBEAT))
        return;
    Nlpd__V1__Heartbeat *hb =
        nlpd__v1__heartbeat__unpack(NULL, nlpd__frame_size(fr, 1), nlpd__frame_data(fr, 1));
    if (hb == NULL)
        return;
    worker *w = NULL;
    if (hb->worker != NULL)
        HASH_FIND_STR(d->workers, hb->worker, w);
    if (w != NULL) {
        w->last_hb_us = nlpd__mono_us();
        w->rss_kb = hb->rss_kb;
        if (hb->processed > w->processed)
            w->processed = hb->processed;
        if (hb->errors > w->errors)
            w->errors = hb->errors;
    } else if (hb->stage != NULL && hb->worker != NULL && d->state != D_STOPPING) {
        stage *st = stage_find(d, hb->stage);
        if (st != NULL && st->sock != NULL)
            send_reset(st, hb->worker, strlen(hb->worker));
    }
    nlpd__v1__heartbeat__free_unpacked(hb, NULL);
}

void
broker_detach(nlpd_daemon *d, flight *f)
{
    if (f->ack_wait)
        durable_detach(d, f);
    else if (f->holder != NULL)
        held_remove(f->holder, f);
    else if (f->next < f->pl->n)
        /* Not held and not done: it waits in its next stage's queue. */
        flight_list_remove(&f->pl->st[f->next]->queue, f);
}
