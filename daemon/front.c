/* daemon/front.c — the front door (submissions), the sink (results) and the feed. */
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "nlpd/alloc.h"
#include "nlpd/json.h"
#include "nlpd/log.h"
#include "security.h"

static void on_front_msg(nlpd__zwatch *w, nlpd__frames *fr);

/* Binds `sock` to ipc://DIR/NAME and opens the socket file to the daemon's
 * group (mode 0660), so local clients need no root. */
static int
bind_group_ipc(nlpd_daemon *d, void *sock, const char *name)
{
    char ep[400];
    int n = snprintf(ep, sizeof(ep), "ipc://%s/%s", d->runtime_dir, name);
    if (n < 0 || (size_t)n >= sizeof(ep) || n - 6 > 107) {
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"socket path too long: %s\"", ep);
        return NLPD_EINVAL;
    }
    if (zmq_bind(sock, ep) != 0) {
        int err = zmq_errno();
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot bind %s: %s\"", ep, zmq_strerror(err));
        return -err;
    }
    const char *path = ep + 6;
    if (daemon_share_with_group(d, path, 0660) != 0)
        NLPD_LOG(NLPD_LOG_WARNING, "msg=\"cannot open %s to group %u: %s\"", path,
                 (unsigned)d->gid, strerror(errno));
    return 0;
}

int
front_open(nlpd_daemon *d)
{
    d->front = zmq_socket(d->zctx, ZMQ_ROUTER);
    d->pub = zmq_socket(d->zctx, ZMQ_PUB);
    if (d->front == NULL || d->pub == NULL)
        return -zmq_errno();
    int one = 1, linger = 0;
    int64_t maxmsg = (int64_t)d->cfg.max_message_bytes;
    int rcvhwm = 256, sndhwm = 100000;
    zmq_setsockopt(d->front, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    /* Past this a client's connection is dropped without reading: the hard
     * cap. Documents between max_document_bytes and it get a clear refusal. */
    zmq_setsockopt(d->front, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    zmq_setsockopt(d->front, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm));
    zmq_setsockopt(d->front, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm));
    zmq_setsockopt(d->front, ZMQ_LINGER, &linger, sizeof(linger));
    int pubhwm = 10000;
    zmq_setsockopt(d->pub, ZMQ_SNDHWM, &pubhwm, sizeof(pubhwm));
    zmq_setsockopt(d->pub, ZMQ_LINGER, &linger, sizeof(linger));
    int rc = bind_group_ipc(d, d->front, NLPD_SOCK_FRONT);
    /* A tcp:// front is bound with CurveZMQ once the ipc ones are
     * (listen_tcp in main.c). */
    if (rc == 0 && d->cfg.front_extra[0] != '\0' && strncmp(d->cfg.front_extra, "tcp://", 6) != 0 &&
        zmq_bind(d->front, d->cfg.front_extra) != 0) {
        rc = -zmq_errno();
        NLPD_LOG(NLPD_LOG_ERR, "msg=\"cannot bind %s: %s\"", d->cfg.front_extra,
                 zmq_strerror(-rc));
    }
    if (rc == 0)
        rc = bind_group_ipc(d, d->pub, NLPD_SOCK_RESULTS);
    if (rc == 0)
        rc = nlpd__zwatch_start(&d->front_w, d->loop, d->front, on_front_msg, d);
    return rc;
}

void
front_close(nlpd_daemon *d)
{
    if (d->front != NULL) {
        nlpd__zwatch_close(&d->front_w, NULL);
        nlpd_security_forget(d->sec, d->front);
        zmq_close(d->front);
        d->front = NULL;
    }
    if (d->pub != NULL) {
        nlpd_security_forget(d->sec, d->pub);
        zmq_close(d->pub);
        d->pub = NULL;
    }
}

/* --- Replies -------------------------------------------------------------- */

/* Sends [client, verb, corr, rest...]; the client frame and corr are copied. */
static int
reply(nlpd_daemon *d, zmq_msg_t *client, zmq_msg_t *corr, const char *verb, const char *a,
      const char *b)
{
    zmq_msg_t c1, c2;
    zmq_msg_init(&c1);
    zmq_msg_init(&c2);
    zmq_msg_copy(&c1, client);
    zmq_msg_copy(&c2, corr);
    int last = ZMQ_DONTWAIT;
    int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    int rc = nlpd__send_msg(d->front, &c1, more);
    if (rc == 0)
        rc = nlpd__send_str(d->front, verb, more);
    if (rc == 0)
        rc = nlpd__send_msg(d->front, &c2, a != NULL ? more : last);
    if (rc == 0 && a != NULL)
        rc = nlpd__send_str(d->front, a, b != NULL ? more : last);
    if (rc == 0 && b != NULL)
        rc = nlpd__send_str(d->front, b, last);
    zmq_msg_close(&c1);
    zmq_msg_close(&c2);
    return rc;
}

static void
refuse(nlpd_daemon *d, nlpd__frames *fr, const char *code, const char *message)
{
    d->refused++;
    NLPD_LOG(NLPD_LOG_INFO, "refused=%s msg=\"%s\"", code, message);
    zmq_msg_t empty;
    zmq_msg_init(&empty);
    reply(d, &fr->f[0], fr->n > 2 ? &fr->f[2] : &empty, NLPD_C_REFUSED, code, message);
    zmq_msg_close(&empty);
    nlpd__zwatch_mark(&d->front_w);
}

/* --- Submissions ---------------------------------------------------------- */

typedef struct submit_flags {
    int json, wait, reply_json;
} submit_flags;

static int
parse_flags(const nlpd__frames *fr, submit_flags *fl, char *bad, size_t bad_len)
{
    char text[256];
    memset(fl, 0, sizeof(*fl));
    if (nlpd__frame_str(fr, 3, text, sizeof(text)) >= (int)sizeof(text)) {
        snprintf(bad, bad_len, "flags frame too long");
        return -1;
    }
    char *save = NULL;
    for (char *w = strtok_r(text, " ,", &save); w != NULL; w = strtok_r(NULL, " ,", &save)) {
        if (strcmp(w, "pb") == 0)
            fl->json = 0;
        else if (strcmp(w, "json") == 0)
            fl->json = 1;
        else if (strcmp(w, "wait") == 0)
            fl->wait = 1;
        else if (strcmp(w, "reply=json") == 0)
            fl->reply_json = 1;
        else if (strcmp(w, "reply=pb") == 0)
            fl->reply_json = 0;
        else {
            snprintf(bad, bad_len, "unknown flag '%.64s' (known: pb json wait reply=json reply=pb)",
                     w);
            return -1;
        }
    }
    return 0;
}

/* Which pipeline stages the client asked to skip. Returns 0, or -1 with a
 * message naming an unknown stage. */
static int
skip_mask(nlpd_daemon *d, const Nlpd__V1__Options *o, uint64_t *mask, char *why, size_t why_len,
          int lenient)
{
    *mask = 0;
    if (o == NULL || o->n_stages == 0)
        return 0;
    pipeline *pl = d->pl;
    uint64_t want = 0;
    for (size_t i = 0; i < o->n_stages; i++) {
        int found = -1;
        for (int k = 0; k < pl->n; k++) {
            if (strcmp(pl->st[k]->name, o->stages[i]) == 0)
                found = k;
        }
        if (found < 0 && lenient)
            continue; /* a stage gone since the document was accepted */
        if (found < 0) {
            int n = snprintf(why, why_len, "unknown stage '%.48s' in options.stages (pipeline:",
                             o->stages[i]);
            for (int k = 0; k < pl->n && n > 0 && (size_t)n < why_len; k++)
                n += snprintf(why + n, why_len - (size_t)n, " %s", pl->st[k]->name);
            if (n > 0 && (size_t)n < why_len)
                snprintf(why + n, why_len - (size_t)n, ")");
            return -1;
        }
        want |= 1ull << found;
    }
    /* Ingestion makes the text every other stage reads: it always runs. */
    for (int k = 0; k < pl->n; k++) {
        if (strcmp(pl->st[k]->name, "ingest") == 0)
            want |= 1ull << k;
    }
    *mask = ~want;
    return 0;
}

static void
handle_submit(nlpd_daemon *d, nlpd__frames *fr)
{
    char why[512];
    submit_flags fl;
    if (fr->n != 5 || fr->extra > 0) {
        refuse(d, fr, "bad_request", "SUBMIT takes corr, flags and payload frames");
        return;
    }
    if (parse_flags(fr, &fl, why, sizeof(why)) != 0) {
        refuse(d, fr, "bad_request", why);
        return;
    }
    if (d->state == D_STOPPING) {
        refuse(d, fr, "stopping", "the daemon is shutting down");
        return;
    }
    if (d->cfg.journal && d->journal == NULL) {
        snprintf(why, sizeof(why), "the journal is not open, so nothing can be accepted: %.400s",
                 d->journal_why[0] ? d->journal_why : "not opened yet");
        refuse(d, fr, "journal", why);
        return;
    }
    size_t len = nlpd__frame_size(fr, 4);
    if (len > d->cfg.max_document_bytes) {
        snprintf(why, sizeof(why), "the document is %zu bytes; the limit is %llu (max_document_bytes)",
                 len, (unsigned long long)d->cfg.max_document_bytes);
        refuse(d, fr, "too_large", why);
        return;
    }
    if (d->n_flight >= d->cfg.max_in_flight ||
        d->flight_bytes + len > d->cfg.max_in_flight_bytes) {
        refuse(d, fr, "busy", "too many documents in flight; retry later");
        return;
    }

    /* The payload as an encoded Document. */
    uint8_t *json_pb = NULL;
    const uint8_t *pb = nlpd__frame_data(fr, 4);
    size_t pb_len = len;
    if (fl.json) {
        int rc = nlpd_submission_from_json((const char *)pb, len, &json_pb, &pb_len, why,
                                           sizeof(why));
        if (rc != 0) {
            refuse(d, fr, "malformed", rc == NLPD_ENOMEM ? "out of memory" : why);
            return;
        }
        pb = json_pb;
    }
    if (nlpd__wire_validate(pb, pb_len, why, sizeof(why)) != 0) {
        nlpd_free(json_pb);
        refuse(d, fr, "malformed", why);
        return;
    }
    nlpd__arena *arena = d->front_arena;
    nlpd__arena_reset(arena);
    Nlpd__V1__Document *doc =
        nlpd__v1__document__unpack(nlpd__arena_allocator(arena), pb_len, pb);
    if (doc == NULL) {
        nlpd_free(json_pb);
        refuse(d, fr, "malformed", "the payload is not an nlpd.v1.Document");
        return;
    }
    /* Strings were checked on the wire above; the spans are left. */
    if (nlpd__doc_spans_valid(doc, why, sizeof(why)) != 0) {
        nlpd_free(json_pb);
        refuse(d, fr, "malformed", why);
        return;
    }
    uint64_t mask;
    if (skip_mask(d, doc->options, &mask, why, sizeof(why), 0) != 0) {
        nlpd_free(json_pb);
        refuse(d, fr, "bad_request", why);
        return;
    }

    flight *f = flight_new(d);
    if (f == NULL) {
        nlpd_free(json_pb);
        refuse(d, fr, "busy", "out of memory");
        return;
    }
    nlpd__key_new(d, f->key);
    /* The key and the receive time, appended: the later value of a scalar
     * field wins when protobuf merges, whatever the client put there. */
    Nlpd__V1__Document delta = NLPD__V1__DOCUMENT__INIT;
    delta.version = 1;
    delta.key = f->key;
    delta.received_unix_us = nlpd__now_us();
    size_t dlen = nlpd__v1__document__get_packed_size(&delta);
    if (zmq_msg_init_size(&f->doc, pb_len + dlen) != 0) {
        nlpd_free(json_pb);
        flight_free(d, f);
        refuse(d, fr, "busy", "out of memory");
        return;
    }
    uint8_t *p = zmq_msg_data(&f->doc);
    memcpy(p, pb, pb_len);
    nlpd__v1__document__pack(&delta, p + pb_len);
    nlpd_free(json_pb);

    f->wait = fl.wait != 0;
    f->reply_json = fl.reply_json != 0;
    zmq_msg_copy(&f->client, &fr->f[0]);
    zmq_msg_copy(&f->corr, &fr->f[2]);
    f->skip_mask = mask;
    f->pl = d->pl;
    pipeline_ref(f->pl);
    f->accepted_us = nlpd__mono_us();
    f->bytes = pb_len + dlen;
    HASH_ADD_STR(d->flights, key, f);
    d->n_flight++;
    d->flight_bytes += f->bytes;

    if (d->cfg.journal) {
        /* Recorded first; answered when the record is committed. */
        char flags[256];
        nlpd__frame_str(fr, 3, flags, sizeof(flags));
        int rc = durable_accept(d, f, flags);
        if (rc != 0) {
            snprintf(why, sizeof(why), "cannot record the document: %.440s",
                     d->journal != NULL ? nlpd_journal_why(d->journal) : d->journal_why);
            flight_free(d, f);
            refuse(d, fr, "journal", why);
        }
        return;
    }
    front_commit_done(d, f, 0, NULL);
}

static void
refuse_flight(nlpd_daemon *d, flight *f, const char *code, const char *message)
{
    d->refused++;
    NLPD_LOG(NLPD_LOG_INFO, "refused=%s msg=\"%s\"", code, message);
    reply(d, &f->client, &f->corr, NLPD_C_REFUSED, code, message);
    nlpd__zwatch_mark(&d->front_w);
}

void
front_commit_done(nlpd_daemon *d, flight *f, int rc, const char *why)
{
    if (rc != 0) {
        refuse_flight(d, f, "journal", why != NULL && why[0] ? why : nlpd_strerror(rc));
        flight_free(d, f);
        return;
    }
    d->accepted++;
    if (d->front == NULL || reply(d, &f->client, &f->corr, NLPD_C_ACCEPTED, f->key, NULL) != 0)
        f->wait = 0; /* the client is gone; the document still goes through */
    NLPD_LOG(NLPD_LOG_DEBUG, "doc=%s size=%zu msg=accepted", f->key, f->bytes);
    nlpd__zwatch_mark(&d->front_w);
    broker_route(d, f);
}

int
front_replay(nlpd_daemon *d, const nlpd_journal_doc *jd, flight_list *out)
{
    if (flight_find(d, jd->key, strlen(jd->key)) != NULL)
        return NLPD_EBUSY;
    char why[256];
    uint64_t mask = 0;
    nlpd__arena *arena = d->front_arena;
    nlpd__arena_reset(arena);
    Nlpd__V1__Document *doc = nlpd__v1__document__unpack(nlpd__arena_allocator(arena), jd->len,
                                                         jd->doc);
    if (doc != NULL)
        skip_mask(d, doc->options, &mask, why, sizeof(why), 1);
    flight *f = flight_new(d);
    if (f == NULL)
        return NLPD_ENOMEM;
    snprintf(f->key, sizeof(f->key), "%s", jd->key);
    if (zmq_msg_init_size(&f->doc, jd->len) != 0) {
        flight_free(d, f);
        return NLPD_ENOMEM;
    }
    if (jd->len > 0)
        memcpy(zmq_msg_data(&f->doc), jd->doc, jd->len);
    f->skip_mask = mask;
    f->pl = d->pl;
    pipeline_ref(f->pl);
    f->accepted_us = nlpd__mono_us();
    f->bytes = jd->len;
    f->attempts = jd->attempts;
    HASH_ADD_STR(d->flights, key, f);
    d->n_flight++;
    d->flight_bytes += f->bytes;
    d->replayed++;
    if (doc == NULL) {
        /* It was checked when accepted; a journal that changed under us
         * gets a clear record rather than a stage's confusion. */
        flight_add_error(d, f, "daemon", "malformed",
                         "the journaled document is not an nlpd.v1.Document", 1);
        f->next = f->pl->n;
    }
    flight_list_push_back(out, f);
    return 0;
}

static void
on_front_msg(nlpd__zwatch *zw, nlpd__frames *fr)
{
    nlpd_daemon *d = zw->data;
    if (fr->n < 2) {
        return; /* nothing to answer to */
    }
    if (nlpd__frame_is(fr, 1, NLPD_C_SUBMIT)) {
        handle_submit(d, fr);
    } else if (nlpd__frame_is(fr, 1, NLPD_C_PING) && fr->n == 3) {
        reply(d, &fr->f[0], &fr->f[2], NLPD_C_PONG, NLPD_VERSION_STRING, NULL);
        nlpd__zwatch_mark(&d->front_w);
    } else {
        zmq_msg_t empty;
        zmq_msg_init(&empty);
        reply(d, &fr->f[0], fr->n > 2 ? &fr->f[2] : &empty, NLPD_C_REFUSED, "bad_request",
              "unknown request (SUBMIT and PING are known)");
        zmq_msg_close(&empty);
        d->refused++;
        nlpd__zwatch_mark(&d->front_w);
    }
}

/* --- The sink ------------------------------------------------------------- */

static int
send_result(nlpd_daemon *d, flight *f)
{
    zmq_msg_t payload;
    zmq_msg_init(&payload);
    if (f->reply_json) {
        char *json = NULL;
        size_t jlen = 0;
        int rc = nlpd_doc_parse(d->scratch, zmq_msg_data(&f->doc), zmq_msg_size(&f->doc));
        if (rc == 0)
            rc = nlpd_doc_to_json(d->scratch, NLPD_JSON_DEFAULT, &json, &jlen);
        if (rc != 0)
            return rc;
        rc = zmq_msg_init_size(&payload, jlen);
        if (rc == 0)
            memcpy(zmq_msg_data(&payload), json, jlen);
        nlpd_free(json);
        if (rc != 0)
            return NLPD_ENOMEM;
    } else {
        zmq_msg_copy(&payload, &f->doc);
    }
    zmq_msg_t c1, c2;
    zmq_msg_init(&c1);
    zmq_msg_init(&c2);
    zmq_msg_copy(&c1, &f->client);
    zmq_msg_copy(&c2, &f->corr);
    int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    int rc = nlpd__send_msg(d->front, &c1, more);
    if (rc == 0)
        rc = nlpd__send_str(d->front, NLPD_C_RESULT, more);
    if (rc == 0)
        rc = nlpd__send_msg(d->front, &c2, more);
    if (rc == 0)
        rc = nlpd__send_str(d->front, f->key, more);
    if (rc == 0)
        rc = nlpd__send_str(d->front, f->had_error ? "error" : "ok", more);
    if (rc == 0)
        rc = nlpd__send_msg(d->front, &payload, ZMQ_DONTWAIT);
    zmq_msg_close(&c1);
    zmq_msg_close(&c2);
    zmq_msg_close(&payload);
    return rc;
}

void
front_sink(nlpd_daemon *d, flight *f)
{
    if (durable_store(d, f) == 1) {
        /* This key's result is stored already: the user saw it once. */
        flight_free(d, f);
        return;
    }
    d->completed++;
    stats_doc_done(d, f);
    if (f->had_error)
        d->failed_docs++;
    if (f->wait && d->front != NULL) {
        int rc = send_result(d, f);
        if (rc != 0)
            NLPD_LOG(NLPD_LOG_WARNING, "doc=%s msg=\"result not delivered to its client: %s\"",
                     f->key, nlpd_strerror(rc));
        nlpd__zwatch_mark(&d->front_w);
    }
    if (d->pub != NULL) {
        /* Best effort: a slow subscriber misses results rather than slowing
         * the pipeline. */
        zmq_msg_t copy;
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, &f->doc);
        if (nlpd__send_str(d->pub, f->had_error ? "result.error" : "result.ok",
                           ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0 &&
            nlpd__send_str(d->pub, f->key, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0)
            nlpd__send_msg(d->pub, &copy, ZMQ_DONTWAIT);
        zmq_msg_close(&copy);
    }
    NLPD_LOG(NLPD_LOG_DEBUG, "doc=%s ms=%.3f msg=done", f->key,
             (double)(nlpd__mono_us() - f->accepted_us) / 1000.0);
    flight_free(d, f);
}
