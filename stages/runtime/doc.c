/* stages/runtime/doc.c — a decoded Document plus one stage's additions.
 *
 * This file and the other codec files of the runtime are where the
 * generated Nlpd__V1__* names appear; stage libraries never see them.
 */
#include <math.h>
#include <string.h>

#include "nlpd/alloc.h"
#include "nlpd/doc.h"
#include "nlpd/error.h"
#include "nlpd_internal.h"

/* Parallel growable uint32 arrays (sentences, tokens). */
typedef struct u32cols {
    uint32_t *col[3];
    size_t n;
    size_t cap;
} u32cols;

typedef struct pending_entity {
    uint32_t start, end;
    size_t label; /* offset in the string pool */
    float score;
} pending_entity;

typedef struct pending_annotation {
    size_t kind, value; /* pool offsets; value SIZE_MAX when absent */
    int has_span;
    uint32_t start, end;
    double score;
} pending_annotation;

typedef struct pending_error {
    size_t stage, code, message;
    int fatal;
} pending_error;

typedef struct pending_trace {
    size_t stage, version, worker;
    uint64_t elapsed_us, started_unix_us;
} pending_trace;

/* A growable array of fixed-size records. */
typedef struct vec {
    void *data;
    size_t n;
    size_t cap;
} vec;

struct nlpd_doc {
    nlpd__arena *arena;
    Nlpd__V1__Document *pb; /* NULL until a parse succeeds */

    /* Views of the parsed document. */
    const char *text;
    size_t text_len;
    const char *sent;
    size_t sent_len;
    nlpd_offmap map;
    nlpd_region *regions;
    size_t n_regions, cap_regions;

    /* This stage's additions. */
    u32cols sentences; /* start, end, flags */
    u32cols tokens;    /* start, end, shape */
    vec entities;      /* pending_entity */
    vec annotations;   /* pending_annotation */
    vec errors;        /* pending_error */
    vec traces;        /* pending_trace */
    uint32_t *summary_sel;
    size_t summary_n, summary_cap;
    float *summary_scores;
    size_t summary_scores_n, summary_scores_cap;
    int has_summary;
    nlpd__buf pool; /* strings of the additions, NUL-terminated */
    /* Encoding: the packed runs' sizes of the added sentences and tokens,
     * valid while add_gen (bumped by every change to the additions) is the
     * value they were computed at. */
    uint64_t add_gen;
    uint64_t sz_sen_gen, sz_tok_gen;
    size_t sz_sen[3], sz_tok[3];
    nlpd__buf stripped; /* parse: the message without the fields decoded by hand */
    vec spans;          /* parse: field_span, the occurrences of those fields */

    /* Scratch for packing: message structs pointing into the above. */
    vec pk_entities, pk_entity_ptrs;
    vec pk_annotations, pk_annotation_ptrs;
    vec pk_errors, pk_error_ptrs;
    vec pk_traces, pk_trace_ptrs;
    vec pk_flags, pk_shapes; /* a third column padded for what came without one */
};

static const char empty[] = "";

static int
vec_reserve(vec *v, size_t size, size_t want)
{
    if (want <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 8;
    while (cap < want)
        cap *= 2;
    void *p = nlpd_realloc(v->data, cap * size);
    if (p == NULL)
        return NLPD_ENOMEM;
    v->data = p;
    v->cap = cap;
    return 0;
}

static void
vec_release(vec *v)
{
    nlpd_free(v->data);
    v->data = NULL;
    v->n = v->cap = 0;
}

static int
cols_push(u32cols *c, uint32_t a, uint32_t b, uint32_t d)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        for (int k = 0; k < 3; k++) {
            uint32_t *p = nlpd_realloc(c->col[k], cap * sizeof(uint32_t));
            if (p == NULL)
                return NLPD_ENOMEM; /* earlier columns grew: harmless */
            c->col[k] = p;
        }
        c->cap = cap;
    }
    c->col[0][c->n] = a;
    c->col[1][c->n] = b;
    c->col[2][c->n] = d;
    c->n++;
    return 0;
}

static void
cols_release(u32cols *c)
{
    for (int k = 0; k < 3; k++)
        nlpd_free(c->col[k]);
    memset(c, 0, sizeof(*c));
}

/* Copies a string into the pool; *off gets its offset. */
static int
pool_add(nlpd__buf *pool, const char *s, size_t *off)
{
    size_t len = strlen(s);
    int rc = nlpd__buf_reserve(pool, len + 1);
    if (rc != 0)
        return rc;
    *off = pool->len;
    memcpy(pool->data + pool->len, s, len + 1);
    pool->len += len + 1;
    return 0;
}

static char *
pool_str(const nlpd_doc *d, size_t off)
{
    return (char *)d->pool.data + off;
}

int
nlpd_doc_new(nlpd_doc **out)
{
    if (out == NULL)
        return NLPD_EINVAL;
    nlpd_doc *d = nlpd_calloc(1, sizeof(*d));
    if (d == NULL)
        return NLPD_ENOMEM;
    int rc = nlpd__arena_new(&d->arena);
    if (rc != 0) {
        nlpd_free(d);
        return rc;
    }
    d->text = d->sent = empty;
    d->add_gen = 1; /* the caches start invalid (generation 0) */
    *out = d;
    return 0;
}

void
nlpd_doc_free(nlpd_doc **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    nlpd_doc *d = *self_p;
    nlpd__arena_free(&d->arena);
    nlpd_free(d->regions);
    cols_release(&d->sentences);
    cols_release(&d->tokens);
    vec_release(&d->entities);
    vec_release(&d->annotations);
    vec_release(&d->errors);
    vec_release(&d->traces);
    nlpd_free(d->summary_sel);
    nlpd_free(d->summary_scores);
    nlpd__buf_release(&d->pool);
    nlpd__buf_release(&d->stripped);
    vec_release(&d->spans);
    vec_release(&d->pk_entities);
    vec_release(&d->pk_entity_ptrs);
    vec_release(&d->pk_annotations);
    vec_release(&d->pk_annotation_ptrs);
    vec_release(&d->pk_errors);
    vec_release(&d->pk_error_ptrs);
    vec_release(&d->pk_traces);
    vec_release(&d->pk_trace_ptrs);
    vec_release(&d->pk_flags);
    vec_release(&d->pk_shapes);
    nlpd_free(d);
    *self_p = NULL;
}

void
nlpd_doc_drop_additions(nlpd_doc *self)
{
    self->add_gen++;
    self->sentences.n = 0;
    self->tokens.n = 0;
    self->entities.n = 0;
    self->annotations.n = 0;
    self->summary_n = 0;
    self->summary_scores_n = 0;
    self->has_summary = 0;
    /* Errors and the trace are the runtime's, recorded after the stage ran;
     * the pool keeps their strings, so it is only reset when they go too. */
    if (self->errors.n == 0 && self->traces.n == 0)
        self->pool.len = 0;
}

static void
clear_all(nlpd_doc *self)
{
    self->errors.n = 0;
    self->traces.n = 0;
    nlpd_doc_drop_additions(self);
    self->pool.len = 0;
    self->pb = NULL;
    self->text = self->sent = empty;
    self->text_len = self->sent_len = 0;
    memset(&self->map, 0, sizeof(self->map));
    self->n_regions = 0;
}

void
nlpd__doc_refresh(nlpd_doc *self)
{
    Nlpd__V1__Document *pb = self->pb;
    self->sent = pb->text.len ? (const char *)pb->text.data : empty;
    self->sent_len = pb->text.len;
    memset(&self->map, 0, sizeof(self->map));
    if (pb->norm_map != NULL && pb->norm_map->n_norm == pb->norm_map->n_orig) {
        self->map.norm = pb->norm_map->norm;
        self->map.orig = pb->norm_map->orig;
        self->map.n = pb->norm_map->n_norm;
    }
    /* An empty norm with an empty map means "identical to text"; with a map
     * it really is empty (a text of nothing but whitespace). */
    if (pb->norm.len > 0 || self->map.n > 0) {
        self->text = pb->norm.len ? (const char *)pb->norm.data : empty;
        self->text_len = pb->norm.len;
    } else {
        self->text = self->sent;
        self->text_len = self->sent_len;
    }
}

static int
load_regions(nlpd_doc *self)
{
    const Nlpd__V1__Document *pb = self->pb;
    self->n_regions = 0;
    if (pb->n_regions == 0)
        return 0;
    if (pb->n_regions > self->cap_regions) {
        nlpd_region *r = nlpd_realloc(self->regions, pb->n_regions * sizeof(*r));
        if (r == NULL)
            return NLPD_ENOMEM;
        self->regions = r;
        self->cap_regions = pb->n_regions;
    }
    for (size_t i = 0; i < pb->n_regions; i++) {
        const Nlpd__V1__Region *src = pb->regions[i];
        self->regions[i].kind = (uint32_t)src->kind;
        self->regions[i].start = src->start;
        self->regions[i].end = src->end;
    }
    self->n_regions = pb->n_regions;
    return 0;
}

/* --- The span columns, decoded and encoded by hand ------------------------
 *
 * Sentences and Tokens are parallel packed uint32 arrays: ~2,500 varints in a
 * 4 KB article, most of what protobuf-c spends decoding a document for
 * tag or summarize, and encoding split's additions (nlpd-bench-e2e under
 * callgrind: half the summarize worker's instructions went to
 * protobuf_c_message_unpack). protobuf-c walks them element by element
 * through its generic member code; these loops read and write them
 * directly. Everything else stays with protobuf-c. */

#define FIELD_SENTENCES 20
#define FIELD_TOKENS    21
#define FIELD_ENTITIES  22

/* Reads a varint at *p (< end) of at most 10 bytes; its low 32 bits go to
 * *v (the uint32 reading protobuf-c does too), 64 to *v64 when not NULL.
 * Returns the position after it, or NULL when it is truncated or too long. */
static const uint8_t *
get_varint(const uint8_t *p, const uint8_t *end, uint32_t *v, uint64_t *v64)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70 && p < end; shift += 7) {
        uint8_t b = *p++;
        if (shift < 64)
            r |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = (uint32_t)r;
            if (v64 != NULL)
                *v64 = r;
            return p;
        }
    }
    return NULL;
}

/* Skips one value of wire type `wt` at p; NULL when malformed or a group
 * (which protobuf-c does not take either). */
static const uint8_t *
skip_value(const uint8_t *p, const uint8_t *end, unsigned wt)
{
    uint32_t v;
    uint64_t n;
    switch (wt) {
    case 0:
        return get_varint(p, end, &v, NULL);
    case 1:
        return end - p >= 8 ? p + 8 : NULL;
    case 5:
        return end - p >= 4 ? p + 4 : NULL;
    case 2:
        p = get_varint(p, end, &v, &n);
        return p != NULL && n <= (uint64_t)(end - p) ? p + n : NULL;
    default:
        return NULL;
    }
}

/* Reads a varint of a packed run at q (< qe); the one- and two-byte cases
 * inline. Returns the position after it or NULL when truncated. */
static inline const uint8_t *
get_packed(const uint8_t *q, const uint8_t *qe, uint32_t *out)
{
    uint32_t v = q[0];
    if (v < 0x80) {
        *out = v;
        return q + 1;
    }
    if (qe - q >= 2 && q[1] < 0x80) {
        *out = (v & 0x7f) | ((uint32_t)q[1] << 7);
        return q + 2;
    }
    return get_varint(q, qe, out, NULL);
}

/* A field this decoder does not know (a newer producer's): protobuf-c
 * keeps it among the message's unknown fields, so the whole document goes
 * to protobuf-c instead. */
#define UNKNOWN_FIELD 1

/* Walks the fields of one Sentences/Tokens message body. With `cols` NULL
 * it adds to bound[] an upper bound of the values of fields 1..3 (a packed
 * run of n bytes holds at most n); else it appends them to cols[k] at
 * counts[k]. Returns 0, UNKNOWN_FIELD or NLPD_EPROTO (where protobuf-c
 * refuses too: a truncated value, a wire type other than varint or packed
 * for fields 1..3). */
static int
walk_columns(const uint8_t *p, const uint8_t *end, size_t counts[3], uint32_t **cols)
{
    while (p < end) {
        uint32_t tag;
        uint64_t tag64;
        p = get_varint(p, end, &tag, &tag64);
        if (p == NULL || tag64 > UINT32_MAX || (tag >> 3) == 0)
            return NLPD_EPROTO;
        unsigned field = tag >> 3, wt = tag & 7;
        if (field < 1 || field > 3)
            return UNKNOWN_FIELD;
        size_t k = field - 1;
        if (wt == 0) {
            uint32_t v;
            p = get_varint(p, end, &v, NULL);
            if (p == NULL)
                return NLPD_EPROTO;
            if (cols != NULL)
                cols[k][counts[k]] = v;
            counts[k]++;
        } else if (wt == 2) {
            uint32_t l;
            uint64_t l64;
            p = get_varint(p, end, &l, &l64);
            if (p == NULL || l64 > (uint64_t)(end - p))
                return NLPD_EPROTO;
            const uint8_t *q = p, *qe = p + l64;
            if (cols == NULL) {
                counts[k] += (size_t)l64;
            } else {
                uint32_t *out = cols[k] + counts[k];
                size_t n = 0;
                while (q < qe) {
                    q = get_packed(q, qe, &out[n]);
                    if (q == NULL)
                        return NLPD_EPROTO;
                    n++;
                }
                counts[k] += n;
            }
            p = qe;
        } else {
            return NLPD_EPROTO;
        }
    }
    return 0;
}

/* One length-delimited occurrence of a top-level field. */
typedef struct field_span {
    unsigned field;
    const uint8_t *p, *end;
} field_span;

/* Decodes the occurrences of columns field `field` among `occ` (several
 * merge: their values are appended, as protobuf does for a message field
 * seen more than once) into arena arrays. Returns 0, UNKNOWN_FIELD,
 * NLPD_EPROTO or NLPD_ENOMEM. */
static int
decode_columns(nlpd__arena *a, const field_span *occ, size_t n_occ, unsigned field,
               uint32_t *out[3], size_t counts[3])
{
    size_t bound[3] = {0, 0, 0};
    for (size_t i = 0; i < n_occ; i++) {
        if (occ[i].field != field)
            continue;
        int rc = walk_columns(occ[i].p, occ[i].end, bound, NULL);
        if (rc != 0)
            return rc;
    }
    for (int k = 0; k < 3; k++) {
        out[k] = NULL;
        counts[k] = 0;
        if (bound[k] > 0) {
            if (bound[k] > SIZE_MAX / sizeof(uint32_t))
                return NLPD_ENOMEM;
            out[k] = nlpd__arena_alloc(a, bound[k] * sizeof(uint32_t));
            if (out[k] == NULL)
                return NLPD_ENOMEM;
        }
    }
    for (size_t i = 0; i < n_occ; i++) {
        if (occ[i].field != field)
            continue;
        int rc = walk_columns(occ[i].p, occ[i].end, counts, out);
        if (rc != 0)
            return rc;
    }
    for (int k = 0; k < 3; k++) {
        if (counts[k] == 0)
            out[k] = NULL; /* as protobuf-c leaves an absent repeated field */
    }
    return 0;
}

/* Decodes one Entity message body into `e` (initialised), the label copied
 * into the arena. Fields seen twice: the last wins, as in protobuf-c.
 * Returns 0, UNKNOWN_FIELD, NLPD_EPROTO or NLPD_ENOMEM. */
static int
decode_entity(nlpd__arena *a, const uint8_t *p, const uint8_t *end, Nlpd__V1__Entity *e)
{
    while (p < end) {
        uint32_t tag, v;
        uint64_t tag64, l64;
        p = get_varint(p, end, &tag, &tag64);
        if (p == NULL || tag64 > UINT32_MAX || (tag >> 3) == 0)
            return NLPD_EPROTO;
        unsigned field = tag >> 3, wt = tag & 7;
        if ((field == 1 || field == 2) && wt == 0) {
            p = get_varint(p, end, &v, NULL);
            if (p == NULL)
                return NLPD_EPROTO;
            if (field == 1)
                e->start = v;
            else
                e->end = v;
        } else if (field == 3 && wt == 2) {
            p = get_varint(p, end, &v, &l64);
            if (p == NULL || l64 > (uint64_t)(end - p))
                return NLPD_EPROTO;
            char *label = nlpd__arena_strndup(a, (const char *)p, (size_t)l64);
            if (label == NULL)
                return NLPD_ENOMEM;
            e->label = label;
            p += l64;
        } else if (field == 4 && wt == 5) {
            if (end - p < 4)
                return NLPD_EPROTO;
            uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                            (uint32_t)p[3] << 24;
            memcpy(&e->score, &bits, sizeof(bits));
            p += 4;
        } else if (field >= 1 && field <= 4) {
            return NLPD_EPROTO; /* a known field with the wrong wire type */
        } else {
            return UNKNOWN_FIELD;
        }
    }
    return 0;
}

/* The top-level fields decoded by hand: Sentences, Tokens, Entity. */
static int
hand_field(unsigned field)
{
    return field == FIELD_SENTENCES || field == FIELD_TOKENS || field == FIELD_ENTITIES;
}

/* Scans the top-level fields of `buf`, recording the length-delimited
 * occurrences of the hand-decoded fields in self->spans and copying
 * everything else to self->stripped. Returns 1 when it found some, 0 when
 * there are none or the message is one to leave whole to protobuf-c (it
 * decides on anything malformed), or NLPD_ENOMEM. */
static int
split_fields(nlpd_doc *self, const uint8_t *buf, size_t len)
{
    const uint8_t *p = buf, *end = buf + len, *keep = buf;
    self->spans.n = 0;
    self->stripped.len = 0;
    while (p < end) {
        const uint8_t *field_start = p;
        uint32_t tag;
        uint64_t tag64;
        p = get_varint(p, end, &tag, &tag64);
        if (p == NULL || tag64 > UINT32_MAX)
            return 0;
        unsigned field = tag >> 3, wt = tag & 7;
        if (wt != 2 || !hand_field(field)) {
            p = skip_value(p, end, wt);
            if (p == NULL)
                return 0;
            continue;
        }
        uint32_t l;
        uint64_t l64;
        const uint8_t *q = get_varint(p, end, &l, &l64);
        if (q == NULL || l64 > (uint64_t)(end - q))
            return 0;
        if (vec_reserve(&self->spans, sizeof(field_span), self->spans.n + 1) != 0 ||
            nlpd__buf_reserve(&self->stripped, (size_t)(field_start - keep)) != 0)
            return NLPD_ENOMEM;
        field_span *fs = (field_span *)self->spans.data + self->spans.n++;
        fs->field = field;
        fs->p = q;
        fs->end = q + l64;
        memcpy(self->stripped.data + self->stripped.len, keep, (size_t)(field_start - keep));
        self->stripped.len += (size_t)(field_start - keep);
        p = keep = q + l64;
    }
    if (self->spans.n == 0)
        return 0;
    if (nlpd__buf_append(&self->stripped, keep, (size_t)(end - keep)) != 0)
        return NLPD_ENOMEM;
    return 1;
}

/* Decodes the hand-decoded fields' occurrences into `pb`. Returns 0,
 * UNKNOWN_FIELD, NLPD_EPROTO or NLPD_ENOMEM. */
static int
attach_columns(nlpd_doc *self, Nlpd__V1__Document *pb, const field_span *occ, size_t n_occ)
{
    int has_sen = 0, has_tok = 0;
    size_t n_ent = 0;
    for (size_t i = 0; i < n_occ; i++) {
        has_sen |= occ[i].field == FIELD_SENTENCES;
        has_tok |= occ[i].field == FIELD_TOKENS;
        n_ent += occ[i].field == FIELD_ENTITIES;
    }
    uint32_t *cols[3];
    size_t counts[3];
    if (has_sen) {
        int rc = decode_columns(self->arena, occ, n_occ, FIELD_SENTENCES, cols, counts);
        if (rc != 0)
            return rc;
        Nlpd__V1__Sentences *s = nlpd__arena_alloc(self->arena, sizeof(*s));
        if (s == NULL)
            return NLPD_ENOMEM;
        nlpd__v1__sentences__init(s);
        s->start = cols[0];
        s->n_start = counts[0];
        s->end = cols[1];
        s->n_end = counts[1];
        s->flags = cols[2];
        s->n_flags = counts[2];
        pb->sentences = s;
    }
    if (has_tok) {
        int rc = decode_columns(self->arena, occ, n_occ, FIELD_TOKENS, cols, counts);
        if (rc != 0)
            return rc;
        Nlpd__V1__Tokens *t = nlpd__arena_alloc(self->arena, sizeof(*t));
        if (t == NULL)
            return NLPD_ENOMEM;
        nlpd__v1__tokens__init(t);
        t->start = cols[0];
        t->n_start = counts[0];
        t->end = cols[1];
        t->n_end = counts[1];
        t->shape = cols[2];
        t->n_shape = counts[2];
        pb->tokens = t;
    }
    if (n_ent > 0) {
        Nlpd__V1__Entity *ev = nlpd__arena_alloc(self->arena, n_ent * sizeof(*ev));
        Nlpd__V1__Entity **ep = nlpd__arena_alloc(self->arena, n_ent * sizeof(*ep));
        if (ev == NULL || ep == NULL)
            return NLPD_ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < n_occ; i++) {
            if (occ[i].field != FIELD_ENTITIES)
                continue;
            nlpd__v1__entity__init(&ev[k]);
            int rc = decode_entity(self->arena, occ[i].p, occ[i].end, &ev[k]);
            if (rc != 0)
                return rc;
            ep[k] = &ev[k];
            k++;
        }
        pb->entities = ep;
        pb->n_entities = n_ent;
    }
    return 0;
}

/* Unpacks a Document: protobuf-c for most of it, the span columns and the
 * entities by hand. Returns the message (in the arena) or NULL with *err
 * set (0: protobuf-c refused it). */
static Nlpd__V1__Document *
unpack_document(nlpd_doc *self, const uint8_t *buf, size_t len, int *err)
{
    ProtobufCAllocator *alloc = nlpd__arena_allocator(self->arena);
    *err = 0;
    int found = split_fields(self, buf, len);
    if (found < 0) {
        *err = found;
        return NULL;
    }
    if (found == 0)
        return nlpd__v1__document__unpack(alloc, len, buf);
    Nlpd__V1__Document *pb =
        nlpd__v1__document__unpack(alloc, self->stripped.len, self->stripped.data);
    if (pb == NULL)
        return NULL;
    int rc = attach_columns(self, pb, self->spans.data, self->spans.n);
    if (rc == UNKNOWN_FIELD)
        return nlpd__v1__document__unpack(alloc, len, buf);
    if (rc != 0) {
        *err = rc;
        return NULL;
    }
    return pb;
}

int
nlpd_doc_parse(nlpd_doc *self, const void *buf, size_t len)
{
    if (self == NULL || (buf == NULL && len > 0))
        return NLPD_EINVAL;
    clear_all(self);
    nlpd__arena_reset(self->arena);
    int err = 0;
    Nlpd__V1__Document *pb = unpack_document(self, buf, len, &err);
    if (pb == NULL && err != 0)
        return err;
    if (pb == NULL)
        return nlpd__arena_failed(self->arena) ? NLPD_ENOMEM : NLPD_EPROTO;
    /* A span past the end of the text would have a stage read out of
     * bounds: such a document is malformed, whoever wrote it. */
    if (nlpd__doc_spans_valid(pb, NULL, 0) != 0)
        return NLPD_EPROTO;
    self->pb = pb;
    nlpd__doc_refresh(self);
    return load_regions(self);
}

Nlpd__V1__Document *
nlpd__doc_pb(nlpd_doc *self)
{
    return self->pb;
}

nlpd__arena *
nlpd__doc_arena(nlpd_doc *self)
{
    return self->arena;
}

/* --- Reading ------------------------------------------------------------- */

static const char *
str_or_empty(const char *s)
{
    return s != NULL ? s : empty;
}

#define PB_STR(self, field) ((self)->pb != NULL ? str_or_empty((self)->pb->field) : empty)

const char *
nlpd_doc_key(const nlpd_doc *self)
{
    return PB_STR(self, key);
}

const char *
nlpd_doc_id(const nlpd_doc *self)
{
    return PB_STR(self, id);
}

const char *
nlpd_doc_title(const nlpd_doc *self)
{
    return PB_STR(self, title);
}

const char *
nlpd_doc_lede(const nlpd_doc *self)
{
    return PB_STR(self, lede);
}

const char *
nlpd_doc_source(const nlpd_doc *self)
{
    return PB_STR(self, source);
}

const char *
nlpd_doc_url(const nlpd_doc *self)
{
    return PB_STR(self, url);
}

const char *
nlpd_doc_meta(const nlpd_doc *self, const char *key)
{
    if (self->pb == NULL || key == NULL)
        return NULL;
    /* Later entries win, as protobuf maps merge. */
    for (size_t i = self->pb->n_metadata; i > 0; i--) {
        const Nlpd__V1__Document__MetadataEntry *e = self->pb->metadata[i - 1];
        if (e->key != NULL && strcmp(e->key, key) == 0)
            return str_or_empty(e->value);
    }
    return NULL;
}

const char *
nlpd_doc_text(const nlpd_doc *self, size_t *len)
{
    if (len != NULL)
        *len = self->text_len;
    return self->text;
}

const char *
nlpd_doc_sent_text(const nlpd_doc *self, size_t *len)
{
    if (len != NULL)
        *len = self->sent_len;
    return self->sent;
}

const char *
nlpd_doc_input(const nlpd_doc *self, size_t *len)
{
    if (self->pb == NULL || self->pb->input.len == 0) {
        if (len != NULL)
            *len = 0;
        return empty;
    }
    if (len != NULL)
        *len = self->pb->input.len;
    return (const char *)self->pb->input.data;
}

nlpd_offmap
nlpd_doc_offmap(const nlpd_doc *self)
{
    return self->map;
}

nlpd_span
nlpd_doc_map_span(const nlpd_doc *self, nlpd_span span)
{
    nlpd_span out = {nlpd_offmap_start(&self->map, span.start),
                     nlpd_offmap_end(&self->map, span.end)};
    if (out.end < out.start)
        out.end = out.start;
    return out;
}

size_t
nlpd_doc_regions(const nlpd_doc *self, const nlpd_region **out)
{
    if (out != NULL)
        *out = self->regions;
    return self->n_regions;
}

size_t
nlpd_doc_sentences(const nlpd_doc *self, const uint32_t **starts, const uint32_t **ends,
                   const uint32_t **flags)
{
    const Nlpd__V1__Sentences *s = self->pb != NULL ? self->pb->sentences : NULL;
    size_t n = 0;
    if (s != NULL && s->n_start == s->n_end)
        n = s->n_start;
    if (starts != NULL)
        *starts = n ? s->start : NULL;
    if (ends != NULL)
        *ends = n ? s->end : NULL;
    if (flags != NULL)
        *flags = (n && s->n_flags == n) ? s->flags : NULL;
    return n;
}

size_t
nlpd_doc_tokens(const nlpd_doc *self, const uint32_t **starts, const uint32_t **ends,
                const uint32_t **shapes)
{
    const Nlpd__V1__Tokens *t = self->pb != NULL ? self->pb->tokens : NULL;
    size_t n = 0;
    if (t != NULL && t->n_start == t->n_end)
        n = t->n_start;
    if (starts != NULL)
        *starts = n ? t->start : NULL;
    if (ends != NULL)
        *ends = n ? t->end : NULL;
    if (shapes != NULL)
        *shapes = (n && t->n_shape == n) ? t->shape : NULL;
    return n;
}

size_t
nlpd_doc_entity_count(const nlpd_doc *self)
{
    return self->pb != NULL ? self->pb->n_entities : 0;
}

int
nlpd_doc_entity(const nlpd_doc *self, size_t i, nlpd_entity *out)
{
    if (out == NULL || i >= nlpd_doc_entity_count(self))
        return NLPD_EINVAL;
    const Nlpd__V1__Entity *e = self->pb->entities[i];
    out->start = e->start;
    out->end = e->end;
    out->label = str_or_empty(e->label);
    out->score = e->score;
    return 0;
}

const uint32_t *
nlpd_doc_summary(const nlpd_doc *self, size_t *n)
{
    const Nlpd__V1__Summary *s = self->pb != NULL ? self->pb->summary : NULL;
    if (s == NULL || s->n_selected == 0) {
        if (n != NULL)
            *n = 0;
        return NULL;
    }
    if (n != NULL)
        *n = s->n_selected;
    return s->selected;
}

nlpd_summary_budget
nlpd_doc_summary_budget(const nlpd_doc *self)
{
    nlpd_summary_budget b = {0, 0.0, 0};
    const Nlpd__V1__Options *o = self->pb != NULL ? self->pb->options : NULL;
    if (o != NULL) {
        b.sentences = o->summary_sentences;
        b.ratio = o->summary_ratio;
        b.words = o->summary_words;
    }
    return b;
}

nlpd_format
nlpd_doc_format_option(const nlpd_doc *self)
{
    const Nlpd__V1__Options *o = self->pb != NULL ? self->pb->options : NULL;
    if (o == NULL || o->format < 0 || o->format > NLPD__V1__FORMAT__FORMAT_HTML)
        return NLPD_FORMAT_DETECT;
    return (nlpd_format)o->format;
}

int
nlpd_doc_wants_stage(const nlpd_doc *self, const char *name)
{
    const Nlpd__V1__Options *o = self->pb != NULL ? self->pb->options : NULL;
    if (o == NULL || o->n_stages == 0)
        return 1;
    for (size_t i = 0; i < o->n_stages; i++) {
        if (o->stages[i] != NULL && strcmp(o->stages[i], name) == 0)
            return 1;
    }
    return 0;
}

const char *
nlpd_doc_option(const nlpd_doc *self, const char *key)
{
    const Nlpd__V1__Options *o = self->pb != NULL ? self->pb->options : NULL;
    if (o == NULL || key == NULL)
        return NULL;
    for (size_t i = o->n_extra; i > 0; i--) {
        const Nlpd__V1__Options__ExtraEntry *e = o->extra[i - 1];
        if (e->key != NULL && strcmp(e->key, key) == 0)
            return str_or_empty(e->value);
    }
    return NULL;
}

size_t
nlpd_doc_error_count(const nlpd_doc *self)
{
    return self->pb != NULL ? self->pb->n_errors : 0;
}

int
nlpd_doc_error(const nlpd_doc *self, size_t i, nlpd_error_record *out)
{
    if (out == NULL || i >= nlpd_doc_error_count(self))
        return NLPD_EINVAL;
    const Nlpd__V1__Error *e = self->pb->errors[i];
    out->stage = str_or_empty(e->stage);
    out->code = str_or_empty(e->code);
    out->message = str_or_empty(e->message);
    out->fatal = e->fatal;
    return 0;
}

int
nlpd_doc_has_fatal_error(const nlpd_doc *self)
{
    for (size_t i = 0; i < nlpd_doc_error_count(self); i++) {
        if (self->pb->errors[i]->fatal)
            return 1;
    }
    return 0;
}

/* --- Appending ----------------------------------------------------------- */

static int
span_ok(const nlpd_doc *self, uint32_t start, uint32_t end)
{
    return start <= end && end <= self->text_len;
}

int
nlpd_doc_add_sentence(nlpd_doc *self, uint32_t start, uint32_t end, uint32_t flags)
{
    if (!span_ok(self, start, end))
        return NLPD_EINVAL;
    self->add_gen++;
    return cols_push(&self->sentences, start, end, flags);
}

int
nlpd_doc_add_token(nlpd_doc *self, uint32_t start, uint32_t end, uint32_t shape)
{
    if (!span_ok(self, start, end))
        return NLPD_EINVAL;
    self->add_gen++;
    return cols_push(&self->tokens, start, end, shape);
}

int
nlpd_doc_add_entity(nlpd_doc *self, uint32_t start, uint32_t end, const char *label, float score)
{
    if (label == NULL || !span_ok(self, start, end) || !isfinite(score))
        return NLPD_EINVAL;
    int rc = vec_reserve(&self->entities, sizeof(pending_entity), self->entities.n + 1);
    if (rc != 0)
        return rc;
    pending_entity *e = (pending_entity *)self->entities.data + self->entities.n;
    rc = pool_add(&self->pool, label, &e->label);
    if (rc != 0)
        return rc;
    e->start = start;
    e->end = end;
    e->score = score;
    self->entities.n++;
    return 0;
}

int
nlpd_doc_set_summary(nlpd_doc *self, const uint32_t *selected, size_t n, const float *scores,
                     size_t n_scores)
{
    if ((selected == NULL && n > 0) || (scores == NULL && n_scores > 0))
        return NLPD_EINVAL;
    if (n > self->summary_cap) {
        uint32_t *p = nlpd_realloc(self->summary_sel, n * sizeof(*p));
        if (p == NULL)
            return NLPD_ENOMEM;
        self->summary_sel = p;
        self->summary_cap = n;
    }
    if (n_scores > self->summary_scores_cap) {
        float *p = nlpd_realloc(self->summary_scores, n_scores * sizeof(*p));
        if (p == NULL)
            return NLPD_ENOMEM;
        self->summary_scores = p;
        self->summary_scores_cap = n_scores;
    }
    if (n > 0)
        memcpy(self->summary_sel, selected, n * sizeof(*selected));
    if (n_scores > 0)
        memcpy(self->summary_scores, scores, n_scores * sizeof(*scores));
    self->summary_n = n;
    self->summary_scores_n = n_scores;
    self->has_summary = 1;
    return 0;
}

int
nlpd_doc_add_annotation(nlpd_doc *self, const char *kind, const nlpd_span *span, const char *value,
                        double score)
{
    if (kind == NULL || (span != NULL && !span_ok(self, span->start, span->end)) ||
        !isfinite(score))
        return NLPD_EINVAL;
    int rc = vec_reserve(&self->annotations, sizeof(pending_annotation), self->annotations.n + 1);
    if (rc != 0)
        return rc;
    pending_annotation *a = (pending_annotation *)self->annotations.data + self->annotations.n;
    rc = pool_add(&self->pool, kind, &a->kind);
    if (rc != 0)
        return rc;
    a->value = SIZE_MAX;
    if (value != NULL) {
        rc = pool_add(&self->pool, value, &a->value);
        if (rc != 0)
            return rc;
    }
    a->has_span = span != NULL;
    a->start = span != NULL ? span->start : 0;
    a->end = span != NULL ? span->end : 0;
    a->score = score;
    self->annotations.n++;
    return 0;
}

int
nlpd__doc_add_trace(nlpd_doc *self, const char *stage, const char *version, const char *worker,
                    uint64_t elapsed_us, uint64_t started_unix_us)
{
    int rc = vec_reserve(&self->traces, sizeof(pending_trace), self->traces.n + 1);
    if (rc != 0)
        return rc;
    pending_trace *t = (pending_trace *)self->traces.data + self->traces.n;
    rc = pool_add(&self->pool, str_or_empty(stage), &t->stage);
    if (rc == 0)
        rc = pool_add(&self->pool, str_or_empty(version), &t->version);
    if (rc == 0)
        rc = pool_add(&self->pool, str_or_empty(worker), &t->worker);
    if (rc != 0)
        return rc;
    t->elapsed_us = elapsed_us;
    t->started_unix_us = started_unix_us;
    self->traces.n++;
    return 0;
}

int
nlpd__doc_add_error(nlpd_doc *self, const char *stage, const char *code, const char *message,
                    int fatal)
{
    int rc = vec_reserve(&self->errors, sizeof(pending_error), self->errors.n + 1);
    if (rc != 0)
        return rc;
    pending_error *e = (pending_error *)self->errors.data + self->errors.n;
    rc = pool_add(&self->pool, str_or_empty(stage), &e->stage);
    if (rc == 0)
        rc = pool_add(&self->pool, str_or_empty(code), &e->code);
    if (rc == 0)
        rc = pool_add(&self->pool, str_or_empty(message), &e->message);
    if (rc != 0)
        return rc;
    e->fatal = fatal != 0;
    self->errors.n++;
    return 0;
}

size_t
nlpd__doc_added_errors(const nlpd_doc *self)
{
    return self->errors.n;
}

int
nlpd_doc_has_additions(const nlpd_doc *self)
{
    return self->sentences.n || self->tokens.n || self->entities.n || self->annotations.n ||
           self->has_summary || self->errors.n || self->traces.n;
}

/* --- Encoding ------------------------------------------------------------ */

/* The delta: a Document holding only the additions. The message structs
 * live on the caller's stack; their arrays point into the doc. */
typedef struct delta {
    Nlpd__V1__Document doc;
    Nlpd__V1__Sentences sentences;
    Nlpd__V1__Tokens tokens;
    Nlpd__V1__Summary summary;
    int has_sentences, has_tokens; /* not in doc: packed by columns_pack */
} delta;

/* Bytes of the varint encoding of v. */
static inline size_t
varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Bytes of a packed run of uint32 values (the varints alone): a value of
 * b significant bits takes (9b + 64) / 64 bytes, 1 to 5. */
static size_t
packed_size(const uint32_t *v, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned bits = 32u - (unsigned)__builtin_clz(v[i] | 1u);
        bytes += (bits * 9u + 64u) >> 6;
    }
    return bytes;
}

/* The runs' sizes of a Sentences or Tokens message: fields 1..3 packed,
 * as protobuf-c writes them (an empty repeated field is left out), in
 * sz[3]; returns the body's size. The sizes are kept (`cache`, valid while
 * self->add_gen is `*gen`): a delta's size and then its encoding, asked one
 * after the other, scan the values once. */
static size_t
columns_body_size(nlpd_doc *self, size_t cache[3], uint64_t *gen, const uint32_t *const col[3],
                  const size_t n[3], size_t sz[3])
{
    size_t body = 0;
    int hit = *gen == self->add_gen;
    for (int k = 0; k < 3; k++) {
        sz[k] = n[k] == 0 ? 0 : hit ? cache[k] : packed_size(col[k], n[k]);
        cache[k] = sz[k];
        if (n[k] > 0)
            body += 1 + varint_size(sz[k]) + sz[k];
    }
    *gen = self->add_gen;
    return body;
}

static uint8_t *
columns_pack(nlpd_doc *self, size_t cache[3], uint64_t *gen, uint8_t *p, unsigned field,
             const uint32_t *const col[3], const size_t n[3])
{
    size_t sz[3];
    size_t body = columns_body_size(self, cache, gen, col, n, sz);
    p = put_varint(p, (uint64_t)field << 3 | 2);
    p = put_varint(p, body);
    for (int k = 0; k < 3; k++) {
        if (n[k] == 0)
            continue;
        *p++ = (uint8_t)((k + 1) << 3 | 2);
        p = put_varint(p, sz[k]);
        const uint32_t *v = col[k];
        for (size_t i = 0; i < n[k]; i++) {
            uint32_t x = v[i];
            if (x < 0x80) {
                *p++ = (uint8_t)x;
            } else if (x < 0x4000) {
                p[0] = (uint8_t)(x | 0x80);
                p[1] = (uint8_t)(x >> 7);
                p += 2;
            } else {
                p = put_varint(p, x);
            }
        }
    }
    return p;
}

static size_t
columns_size(nlpd_doc *self, size_t cache[3], uint64_t *gen, unsigned field,
             const uint32_t *const col[3], const size_t n[3])
{
    size_t sz[3];
    size_t body = columns_body_size(self, cache, gen, col, n, sz);
    return varint_size((uint64_t)field << 3 | 2) + varint_size(body) + body;
}

/* The delta's Sentences and Tokens, hand-encoded: their size, or (with out
 * not NULL) written at out, returning the bytes written. */
static size_t
delta_columns(nlpd_doc *self, const delta *dl, uint8_t *out)
{
    size_t total = 0;
    uint8_t *p = out;
    if (dl->has_sentences) {
        const uint32_t *col[3] = {dl->sentences.start, dl->sentences.end, dl->sentences.flags};
        size_t n[3] = {dl->sentences.n_start, dl->sentences.n_end, dl->sentences.n_flags};
        if (out != NULL)
            p = columns_pack(self, self->sz_sen, &self->sz_sen_gen, p, FIELD_SENTENCES, col, n);
        else
            total += columns_size(self, self->sz_sen, &self->sz_sen_gen, FIELD_SENTENCES, col, n);
    }
    if (dl->has_tokens) {
        const uint32_t *col[3] = {dl->tokens.start, dl->tokens.end, dl->tokens.shape};
        size_t n[3] = {dl->tokens.n_start, dl->tokens.n_end, dl->tokens.n_shape};
        if (out != NULL)
            p = columns_pack(self, self->sz_tok, &self->sz_tok_gen, p, FIELD_TOKENS, col, n);
        else
            total += columns_size(self, self->sz_tok, &self->sz_tok_gen, FIELD_TOKENS, col, n);
    }
    return out != NULL ? (size_t)(p - out) : total;
}

/* Points the packing scratch at the pending records. Fails only when the
 * scratch cannot grow (NLPD_ENOMEM). */
#define PREPARE_MSGS(self, src, src_t, pk, pk_ptrs, msg_t, init, fill)                             \
    do {                                                                                           \
        size_t n_ = (self)->src.n;                                                                 \
        if (vec_reserve(&(self)->pk, sizeof(msg_t), n_) != 0 ||                                    \
            vec_reserve(&(self)->pk_ptrs, sizeof(msg_t *), n_) != 0)                               \
            return NLPD_ENOMEM;                                                                    \
        for (size_t i_ = 0; i_ < n_; i_++) {                                                       \
            const src_t *s = (const src_t *)(self)->src.data + i_;                                 \
            msg_t *m = (msg_t *)(self)->pk.data + i_;                                              \
            msg_t init_ = init;                                                                    \
            *m = init_;                                                                            \
            fill;                                                                                  \
            ((msg_t **)(self)->pk_ptrs.data)[i_] = m;                                              \
        }                                                                                          \
    } while (0)

/* The third column (sentence flags, token shapes) of the additions, as the
 * delta must carry it. Repeated fields append when protobuf merges, so when
 * the document's own spans came without that column (a producer that wrote
 * none: `had` spans, `had_col` 0) the merged arrays would differ in length
 * and the document be refused as malformed. Then the column is left out
 * when the additions' values are all 0, or else written for every span,
 * zeros first for those received. Sets *col and *n; NLPD_ENOMEM when the
 * scratch cannot grow. */
static int
third_column(const u32cols *c, size_t had, size_t had_col, vec *pad, uint32_t **col, size_t *n)
{
    *col = c->col[2];
    *n = c->n;
    if (had == 0 || had_col == had)
        return 0;
    int any = 0;
    for (size_t i = 0; i < c->n && !any; i++)
        any = c->col[2][i] != 0;
    if (!any) {
        *col = NULL;
        *n = 0;
        return 0;
    }
    if (vec_reserve(pad, sizeof(uint32_t), had + c->n) != 0)
        return NLPD_ENOMEM;
    uint32_t *p = pad->data;
    memset(p, 0, had * sizeof(*p));
    memcpy(p + had, c->col[2], c->n * sizeof(*p));
    *col = p;
    *n = had + c->n;
    return 0;
}

static int
delta_build(nlpd_doc *self, delta *dl)
{
    nlpd__v1__document__init(&dl->doc);
    dl->has_sentences = dl->has_tokens = 0;
    const Nlpd__V1__Sentences *ps = self->pb != NULL ? self->pb->sentences : NULL;
    const Nlpd__V1__Tokens *pt = self->pb != NULL ? self->pb->tokens : NULL;
    if (self->sentences.n > 0) {
        nlpd__v1__sentences__init(&dl->sentences);
        dl->sentences.n_start = dl->sentences.n_end = self->sentences.n;
        dl->sentences.start = self->sentences.col[0];
        dl->sentences.end = self->sentences.col[1];
        if (third_column(&self->sentences, ps != NULL ? ps->n_start : 0,
                         ps != NULL ? ps->n_flags : 0, &self->pk_flags, &dl->sentences.flags,
                         &dl->sentences.n_flags) != 0)
            return NLPD_ENOMEM;
        dl->has_sentences = 1; /* encoded by hand, after the rest */
    }
    if (self->tokens.n > 0) {
        nlpd__v1__tokens__init(&dl->tokens);
        dl->tokens.n_start = dl->tokens.n_end = self->tokens.n;
        dl->tokens.start = self->tokens.col[0];
        dl->tokens.end = self->tokens.col[1];
        if (third_column(&self->tokens, pt != NULL ? pt->n_start : 0, pt != NULL ? pt->n_shape : 0,
                         &self->pk_shapes, &dl->tokens.shape, &dl->tokens.n_shape) != 0)
            return NLPD_ENOMEM;
        dl->has_tokens = 1;
    }
    if (self->has_summary) {
        nlpd__v1__summary__init(&dl->summary);
        dl->summary.n_selected = self->summary_n;
        dl->summary.selected = self->summary_sel;
        dl->summary.n_scores = self->summary_scores_n;
        dl->summary.scores = self->summary_scores;
        dl->doc.summary = &dl->summary;
    }
    PREPARE_MSGS(self, entities, pending_entity, pk_entities, pk_entity_ptrs, Nlpd__V1__Entity,
                 NLPD__V1__ENTITY__INIT, {
                     m->start = s->start;
                     m->end = s->end;
                     m->label = pool_str(self, s->label);
                     m->score = s->score;
                 });
    dl->doc.n_entities = self->entities.n;
    dl->doc.entities = self->pk_entity_ptrs.data;
    PREPARE_MSGS(self, annotations, pending_annotation, pk_annotations, pk_annotation_ptrs,
                 Nlpd__V1__Annotation, NLPD__V1__ANNOTATION__INIT, {
                     m->kind = pool_str(self, s->kind);
                     m->has_span = s->has_span;
                     m->start = s->start;
                     m->end = s->end;
                     m->value = s->value != SIZE_MAX ? pool_str(self, s->value) : (char *)empty;
                     m->score = s->score;
                 });
    dl->doc.n_annotations = self->annotations.n;
    dl->doc.annotations = self->pk_annotation_ptrs.data;
    PREPARE_MSGS(self, traces, pending_trace, pk_traces, pk_trace_ptrs, Nlpd__V1__Trace,
                 NLPD__V1__TRACE__INIT, {
                     m->stage = pool_str(self, s->stage);
                     m->version = pool_str(self, s->version);
                     m->worker = pool_str(self, s->worker);
                     m->elapsed_us = s->elapsed_us;
                     m->started_unix_us = s->started_unix_us;
                 });
    dl->doc.n_trace = self->traces.n;
    dl->doc.trace = self->pk_trace_ptrs.data;
    PREPARE_MSGS(self, errors, pending_error, pk_errors, pk_error_ptrs, Nlpd__V1__Error,
                 NLPD__V1__ERROR__INIT, {
                     m->stage = pool_str(self, s->stage);
                     m->code = pool_str(self, s->code);
                     m->message = pool_str(self, s->message);
                     m->fatal = s->fatal;
                 });
    dl->doc.n_errors = self->errors.n;
    dl->doc.errors = self->pk_error_ptrs.data;
    /* Annotations of this stage carry the stage name the runtime traced. */
    if (self->traces.n > 0) {
        const pending_trace *t = (const pending_trace *)self->traces.data;
        for (size_t i = 0; i < self->annotations.n; i++)
            ((Nlpd__V1__Annotation *)self->pk_annotations.data)[i].stage = pool_str(self, t->stage);
    }
    return 0;
}

ssize_t
nlpd_doc_delta_size(nlpd_doc *self)
{
    delta dl;
    int rc = delta_build(self, &dl);
    if (rc != 0)
        return rc;
    return (ssize_t)(nlpd__v1__document__get_packed_size(&dl.doc) + delta_columns(self, &dl, NULL));
}

ssize_t
nlpd_doc_delta_pack(nlpd_doc *self, uint8_t *out)
{
    delta dl;
    int rc = delta_build(self, &dl);
    if (rc != 0)
        return rc;
    size_t n = nlpd__v1__document__pack(&dl.doc, out);
    return (ssize_t)(n + delta_columns(self, &dl, out + n));
}

ssize_t
nlpd__doc_full_size(nlpd_doc *self)
{
    size_t n = self->pb != NULL ? nlpd__v1__document__get_packed_size(self->pb) : 0;
    ssize_t d = nlpd_doc_delta_size(self);
    return d < 0 ? d : (ssize_t)n + d;
}

ssize_t
nlpd__doc_full_pack(nlpd_doc *self, uint8_t *out)
{
    size_t n = self->pb != NULL ? nlpd__v1__document__pack(self->pb, out) : 0;
    ssize_t d = nlpd_doc_delta_pack(self, out + n);
    return d < 0 ? d : (ssize_t)n + d;
}
