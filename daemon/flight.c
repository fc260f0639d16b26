/* daemon/flight.c — documents in flight and their keys. */
#include <string.h>
#include <sys/random.h>

#include "daemon.h"
#include "nlpd/alloc.h"
#include "nlpd/log.h"

/* Keys are ULIDs: 48 bits of milliseconds then 80 random bits, in
 * Crockford's base32, 26 characters. They sort by acceptance time and are
 * unique across restarts without coordination; within one millisecond the
 * random part is incremented, so keys stay monotonic. */
void
nlpd__key_new(nlpd_daemon *d, char out[27])
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint64_t ms = nlpd__now_us() / 1000u;
    if (ms > d->key_last_ms || d->key_last_ms == 0) {
        if (getrandom(d->key_rand, sizeof(d->key_rand), 0) != (ssize_t)sizeof(d->key_rand)) {
            /* No entropy: a counter from the clock still keeps keys unique
             * within this process. */
            uint64_t t = nlpd__mono_us();
            memcpy(d->key_rand, &t, sizeof(t));
        }
        d->key_rand[0] &= 0x7f; /* room to increment without overflow */
        d->key_last_ms = ms;
    } else {
        ms = d->key_last_ms; /* the clock went back: stay monotonic */
        for (int i = 9; i >= 0; i--) {
            if (++d->key_rand[i] != 0)
                break;
        }
    }
    uint8_t b[16];
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    memcpy(b + 6, d->key_rand, 10);
    /* 128 bits -> 26 base32 digits (the first holds 3 bits). */
    int bit = -2; /* the encoding is 130 bits: two leading zero bits */
    for (int k = 0; k < 26; k++) {
        unsigned v = 0;
        for (int j = 0; j < 5; j++, bit++) {
            v <<= 1;
            if (bit >= 0)
                v |= (b[bit / 8] >> (7 - bit % 8)) & 1u;
        }
        out[k] = alphabet[v];
    }
    out[26] = '\0';
}

flight *
flight_new(nlpd_daemon *d)
{
    (void)d;
    flight *f = nlpd_calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    zmq_msg_init(&f->doc);
    zmq_msg_init(&f->client);
    zmq_msg_init(&f->corr);
    return f;
}

void
flight_free(nlpd_daemon *d, flight *f)
{
    if (f == NULL)
        return;
    if (f->key[0] != '\0') {
        flight *found = NULL;
        HASH_FIND_STR(d->flights, f->key, found);
        if (found == f) {
            HASH_DEL(d->flights, f);
            d->n_flight--;
            d->flight_bytes -= f->bytes;
        }
    }
    zmq_msg_close(&f->doc);
    zmq_msg_close(&f->client);
    zmq_msg_close(&f->corr);
    if (f->pl != NULL)
        pipeline_unref(d, f->pl);
    nlpd_free(f);
}

flight *
flight_find(nlpd_daemon *d, const char *key, size_t len)
{
    char k[32];
    if (len == 0 || len >= sizeof(k))
        return NULL;
    memcpy(k, key, len);
    k[len] = '\0';
    flight *f = NULL;
    HASH_FIND_STR(d->flights, k, f);
    return f;
}

int
flight_add_error(nlpd_daemon *d, flight *f, const char *stage_name, const char *code,
                 const char *message, int fatal)
{
    /* An encoded Document holding only the error record, appended: the
     * merge adds it to the document's errors without decoding it. */
    Nlpd__V1__Error err = NLPD__V1__ERROR__INIT;
    Nlpd__V1__Error *errp = &err;
    Nlpd__V1__Document delta = NLPD__V1__DOCUMENT__INIT;
    err.stage = (char *)stage_name;
    err.code = (char *)code;
    err.message = (char *)message;
    err.fatal = fatal != 0;
    delta.n_errors = 1;
    delta.errors = &errp;
    size_t dlen = nlpd__v1__document__get_packed_size(&delta);
    size_t old = zmq_msg_size(&f->doc);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, old + dlen) != 0)
        return NLPD_ENOMEM;
    uint8_t *p = zmq_msg_data(&m);
    if (old > 0)
        memcpy(p, zmq_msg_data(&f->doc), old);
    nlpd__v1__document__pack(&delta, p + old);
    zmq_msg_move(&f->doc, &m); /* releases the old content */
    zmq_msg_close(&m);
    f->had_error = 1;
    d->flight_bytes += dlen;
    f->bytes += dlen;
    return 0;
}

void
pipeline_ref(pipeline *p)
{
    p->refs++;
}

void
pipeline_unref(nlpd_daemon *d, pipeline *p)
{
    if (--p->refs > 0)
        return;
    for (int i = 0; i < p->n; i++)
        p->st[i]->refs--;
    nlpd_free(p);
    (void)d;
}

void
flight_list_push_back(flight_list *l, flight *f)
{
    f->nxt = NULL;
    f->prev = l->tail;
    if (l->tail != NULL)
        l->tail->nxt = f;
    else
        l->head = f;
    l->tail = f;
    l->n++;
}

void
flight_list_push_front(flight_list *l, flight *f)
{
    f->prev = NULL;
    f->nxt = l->head;
    if (l->head != NULL)
        l->head->prev = f;
    else
        l->tail = f;
    l->head = f;
    l->n++;
}

void
flight_list_remove(flight_list *l, flight *f)
{
    if (f->prev != NULL)
        f->prev->nxt = f->nxt;
    else
        l->head = f->nxt;
    if (f->nxt != NULL)
        f->nxt->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->nxt = NULL;
    l->n--;
}

flight *
flight_list_pop_front(flight_list *l)
{
    flight *f = l->head;
    if (f != NULL)
        flight_list_remove(l, f);
    return f;
}
