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

int
nlpd_doc_parse(nlpd_doc *self, const void *buf, size_t len)
{
    if (self == NULL || (buf == NULL && len > 0))
        return NLPD_EINVAL;
    clear_all(self);
    nlpd__arena_reset(self->arena);
    Nlpd__V1__Document *pb =
        nlpd__v1__document__unpack(nlpd__arena_allocator(self->arena), len, buf);
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
    return cols_push(&self->sentences, start, end, flags);
}

int
nlpd_doc_add_token(nlpd_doc *self, uint32_t start, uint32_t end, uint32_t shape)
{
    if (!span_ok(self, start, end))
        return NLPD_EINVAL;
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
} delta;

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
        dl->doc.sentences = &dl->sentences;
    }
    if (self->tokens.n > 0) {
        nlpd__v1__tokens__init(&dl->tokens);
        dl->tokens.n_start = dl->tokens.n_end = self->tokens.n;
        dl->tokens.start = self->tokens.col[0];
        dl->tokens.end = self->tokens.col[1];
        if (third_column(&self->tokens, pt != NULL ? pt->n_start : 0, pt != NULL ? pt->n_shape : 0,
                         &self->pk_shapes, &dl->tokens.shape, &dl->tokens.n_shape) != 0)
            return NLPD_ENOMEM;
        dl->doc.tokens = &dl->tokens;
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
    return (ssize_t)nlpd__v1__document__get_packed_size(&dl.doc);
}

ssize_t
nlpd_doc_delta_pack(nlpd_doc *self, uint8_t *out)
{
    delta dl;
    int rc = delta_build(self, &dl);
    if (rc != 0)
        return rc;
    return (ssize_t)nlpd__v1__document__pack(&dl.doc, out);
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
